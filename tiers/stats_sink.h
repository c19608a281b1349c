// StatsSink: the one way every component exports its statistics.
//
// Components describe their figures to a sink (CacheLib's CounterVisitor pattern); the JSON,
// Prometheus and CLI renderers are sinks. So a field is defined once, where it is kept, and
// every export shows the same set. Names are lower_snake, unit-suffixed (`_bytes`, `_ns`).
// Lists model repeated groups (one item per tier, per type).
#ifndef TIERSWAP_TIERS_STATS_SINK_H_
#define TIERSWAP_TIERS_STATS_SINK_H_

#include <cstdint>
#include <string_view>

namespace tierswap {

class StatsSink {
 public:
  virtual ~StatsSink() = default;
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
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_STATS_SINK_H_
