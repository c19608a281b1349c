// StatsSink: the one way every component exports its statistics.
//
// Components describe their figures to a sink (CacheLib's CounterVisitor pattern); the JSON,
// Prometheus and CLI renderers are sinks. So a field is defined once, where it is kept, and
// every export shows the same set. Names are lower_snake, unit-suffixed (`_bytes`, `_ns`).
// Lists model repeated groups (one item per tier, per type).
#ifndef TIERSWAP_TIERS_STATS_SINK_H_
#define TIERSWAP_TIERS_STATS_SINK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tierswap {

// A latency distribution (tiers/latency_histogram.h), in nanoseconds.
struct HistogramData {
  std::vector<std::pair<double, uint64_t>> buckets;  // (upper bound, cumulative count), ascending
  uint64_t count = 0;
  double sum_ns = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // interpolated within buckets
};

// Whether a field counts events (monotonic) or states a level.
enum class StatKind : uint8_t { kCounter, kGauge };

class StatsSink {
 public:
  virtual ~StatsSink() = default;
  // The help text of the field that follows (a table row's; renderers that show help, such as
  // Prometheus' # HELP, use it). Sinks that do not show help ignore it.
  virtual void Help(std::string_view /*help*/) {}
  // A field with its help text, in one call: Help, then Counter or Gauge.
  void Stat(std::string_view name, StatKind kind, uint64_t value, std::string_view help) {
    Help(help);
    if (kind == StatKind::kCounter) {
      Counter(name, value);
    } else {
      Gauge(name, value);
    }
  }

  // A monotonically increasing count (events since open).
  virtual void Counter(std::string_view name, uint64_t value) = 0;
  // A value that goes up and down (bytes in use, pages held).
  virtual void Gauge(std::string_view name, uint64_t value) = 0;
  // A real-valued gauge (ratios, fractions, nanoseconds as a mean).
  virtual void Real(std::string_view name, double value) = 0;
  // A text attribute (a tier's name or kind). Renderers may use it as a label.
  virtual void Text(std::string_view name, std::string_view value) = 0;
  // A list of items, each a group of fields: BeginList, (BeginItem, fields..., EndItem)*, EndList.
  virtual void BeginList(std::string_view name) = 0;
  virtual void BeginItem() = 0;
  virtual void EndItem() = 0;
  virtual void EndList() = 0;
  // A latency histogram. Sinks that cannot show distributions get its summary as plain fields:
  // <name>_count, <name>_p50, _p90, _p99, _p999 and _max (nanoseconds).
  virtual void Histogram(std::string_view name, const HistogramData& h) {
    const std::string n(name);
    Counter(n + "_count", h.count);
    Real(n + "_p50", h.p50);
    Real(n + "_p90", h.p90);
    Real(n + "_p99", h.p99);
    Real(n + "_p999", h.p999);
    Real(n + "_max", h.max);
  }
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_STATS_SINK_H_
