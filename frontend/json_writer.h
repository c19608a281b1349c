// JsonWriter: a small streaming JSON writer, and JsonStatsSink, the JSON rendering of stats.
//
// Enough JSON for statistics and reports: objects, arrays, strings (escaped), integers, finite
// doubles. The writer inserts commas itself; callers only say what comes next.
//
// Thread-safety: externally synchronised (one writer per thread).
#ifndef TIERSWAP_FRONTEND_JSON_WRITER_H_
#define TIERSWAP_FRONTEND_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tiers/stats_sink.h"

namespace tierswap {

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = false) : pretty_(pretty) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Double(double value);  // non-finite values are written as null
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts an already-serialised JSON value (e.g. a nested stats object).
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();
  void Newline();

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
  bool pretty_;
};

// Appends `s` to `out` with JSON string escaping (no surrounding quotes).
void JsonEscape(std::string_view s, std::string* out);

// Renders StatsSink calls as members of the JSON object the writer is currently inside.
class JsonStatsSink final : public StatsSink {
 public:
  explicit JsonStatsSink(JsonWriter& w) : w_(w) {}
  void Counter(std::string_view name, uint64_t value) override { w_.Key(name).Uint(value); }
  void Gauge(std::string_view name, uint64_t value) override { w_.Key(name).Uint(value); }
  void Real(std::string_view name, double value) override { w_.Key(name).Double(value); }
  void Text(std::string_view name, std::string_view value) override { w_.Key(name).String(value); }
  void BeginList(std::string_view name) override { w_.Key(name).BeginArray(); }
  void BeginItem() override { w_.BeginObject(); }
  void EndItem() override { w_.EndObject(); }
  void EndList() override { w_.EndArray(); }
  // {"count":..,"sum":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..,
  //  "buckets":[[upper_bound_ns, cumulative_count], ...]} (only buckets up to the last with data)
  void Histogram(std::string_view name, const HistogramData& h) override;

 private:
  JsonWriter& w_;
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_JSON_WRITER_H_
