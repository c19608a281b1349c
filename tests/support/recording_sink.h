// Test support: a StatsSink that records every field an export names, where it stood (top
// level, or item i of list L) and its value, for tests that check an export's contents by name.
// Code that reads figures uses the typed snapshot (Backend::Stats) instead; tests of the export
// itself (names, kinds, lists) use this.
#ifndef TIERSWAP_TESTS_SUPPORT_RECORDING_SINK_H_
#define TIERSWAP_TESTS_SUPPORT_RECORDING_SINK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tiers/stats_sink.h"

namespace tierswap::testing {

class RecordingSink final : public StatsSink {
 public:
  struct Value {
    std::string kind;  // counter, gauge, real, text, histogram
    uint64_t number = 0;
    double real = 0;
    std::string text;
    HistogramData histogram;
  };
  // Fields by name: top-level ones, and each list's items in order.
  using Item = std::map<std::string, Value>;

  void Counter(std::string_view n, uint64_t v) override { Put(n, {"counter", v}); }
  void Gauge(std::string_view n, uint64_t v) override { Put(n, {"gauge", v}); }
  void Real(std::string_view n, double v) override { Put(n, {"real", 0, v}); }
  void Text(std::string_view n, std::string_view v) override {
    Put(n, {"text", 0, 0, std::string(v)});
  }
  void Histogram(std::string_view n, const HistogramData& h) override {
    Put(n, {"histogram", h.count, 0, "", h});
  }
  void BeginList(std::string_view n) override { open_.push_back(std::string(n)); }
  void BeginItem() override { lists_[open_.back()].emplace_back(); }
  void EndItem() override {}
  void EndList() override { open_.pop_back(); }

  const Item& top() const { return top_; }
  // Items of the list `name` (empty when it never appeared).
  const std::vector<Item>& list(const std::string& name) const {
    static const std::vector<Item> kNone;
    const auto it = lists_.find(name);
    return it == lists_.end() ? kNone : it->second;
  }
  // A number (counter, gauge) at top level, or of item `index` of list `in`.
  std::optional<uint64_t> Number(const std::string& name) const { return Find(top_, name); }
  std::optional<uint64_t> Number(const std::string& in, size_t index,
                                 const std::string& name) const {
    const auto& l = list(in);
    return index < l.size() ? Find(l[index], name) : std::nullopt;
  }
  // A text or real field at top level ("" or NaN-free 0 when absent).
  std::string TextOf(const std::string& name) const {
    const auto it = top_.find(name);
    return it == top_.end() ? std::string() : it->second.text;
  }
  double RealOf(const std::string& name) const {
    const auto it = top_.find(name);
    if (it == top_.end()) return 0;
    return it->second.kind == "real" ? it->second.real : double(it->second.number);
  }
  // Every list that appeared, by name.
  const std::map<std::string, std::vector<Item>>& lists() const { return lists_; }
  // The same, 0 when absent (for sums and comparisons).
  uint64_t Get(const std::string& name) const { return Number(name).value_or(0); }
  uint64_t Get(const std::string& in, size_t index, const std::string& name) const {
    return Number(in, index, name).value_or(0);
  }

 private:
  static std::optional<uint64_t> Find(const Item& item, const std::string& name) {
    const auto it = item.find(name);
    if (it == item.end() || (it->second.kind != "counter" && it->second.kind != "gauge")) {
      return std::nullopt;
    }
    return it->second.number;
  }
  void Put(std::string_view n, Value v) {
    Item& item = open_.empty() ? top_ : lists_[open_.back()].back();
    item[std::string(n)] = std::move(v);
  }

  Item top_;
  std::map<std::string, std::vector<Item>> lists_;
  std::vector<std::string> open_;
};

}  // namespace tierswap::testing

#endif  // TIERSWAP_TESTS_SUPPORT_RECORDING_SINK_H_
