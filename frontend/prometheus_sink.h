// PrometheusSink: statistics in the Prometheus text exposition format (version 0.0.4).
//
// The sink turns one export (Backend::ExportStats) into metric families named after the fields,
// following Prometheus' conventions (docs/stats.md, "Exports", has the rules and an example):
//   Counter x            counter    tierswap_<scope>x_total
//   Gauge x, Real x      gauge      tierswap_<scope>x
//   Histogram x          histogram  tierswap_<scope>x (_bucket{le=...}, _sum, _count; only
//                                   the bounds at powers of two when there are such), and the
//                                   backend's own quantiles as gauges tierswap_<scope>x_p50,
//                                   _p90, _p99, _p999 and _max
//   Text at top level    a label of tierswap_info{placement_policy="adaptive"} 1
//   Text in a list item  a label on every metric of that item; `name` is spelled after the
//                        list (tier="dram"), and so is a number field named like that (type="3")
//   Text <x>_source      a label source="..." on the metric of field x of the same item
// <scope> is empty at top level and "tier_" inside items of the list `tiers` ("type_" for
// `types`). Prometheus wants base units without abbreviations, so a name ending in _ns, _us or
// _ms becomes _seconds and one ending in _mbps (10^6 bytes/s) _bytes_per_second, with the value
// scaled. Labels are only known once an item ends, so samples wait in their item; families are
// kept in the order they first appear and written by Finish, each HELP and TYPE once, before
// all of the family's samples.
//
// Thread-safety: externally synchronised; one sink renders one export.
#ifndef TIERSWAP_FRONTEND_PROMETHEUS_SINK_H_
#define TIERSWAP_FRONTEND_PROMETHEUS_SINK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tiers/stats_sink.h"

namespace tierswap {

class PrometheusSink final : public StatsSink {
 public:
  // The Content-Type of what Finish returns.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // `prefix` starts every metric name (followed by '_').
  explicit PrometheusSink(std::string_view prefix = "tierswap");

  void Counter(std::string_view name, uint64_t value) override;
  void Gauge(std::string_view name, uint64_t value) override;
  void Real(std::string_view name, double value) override;
  void Text(std::string_view name, std::string_view value) override;
  void BeginList(std::string_view name) override;
  void BeginItem() override;
  void EndItem() override;
  void EndList() override;
  void Histogram(std::string_view name, const HistogramData& h) override;
  void Help(std::string_view help) override { pending_help_ = help; }

  // The exposition text. Call once, after the export has returned. Items left open are
  // dropped; a sample whose family already has another type, or that repeats a series, is
  // dropped too and counted in a trailing comment (neither happens with Backend::ExportStats).
  std::string Finish();

  // [a-zA-Z_:][a-zA-Z0-9_:]*: other characters become '_', a leading digit gets a '_' before it.
  static std::string SanitizeMetricName(std::string_view name);
  // [a-zA-Z_][a-zA-Z0-9_]*, and not the reserved "__" start.
  static std::string SanitizeLabelName(std::string_view name);

 private:
  struct Label {
    std::string name;
    std::string value;
  };
  struct Sample {
    size_t family;           // index into families_
    std::string field;       // the exported field name, for <field>_source
    std::string suffix;      // "", or _bucket, _sum, _count of a histogram
    std::vector<Label> own;  // labels of the sample itself (source, le), written last
    std::string value;
  };
  // The top level (frames_[0]) or one list item being exported.
  struct Frame {
    std::string scope;  // metric name part after the prefix: "" or "tier_"
    std::string path;   // the JSON path of the fields, for HELP: "" or "tiers[]."
    std::string key;    // the label `name` becomes, and that a number field so named becomes
    std::vector<Label> labels;   // the item's text fields
    std::vector<Label> sources;  // <field>_source texts: {field, source}
    std::vector<Sample> own;     // samples of this frame's own fields
    std::vector<Sample> nested;  // samples of nested items, their labels complete below here
  };
  // A list begun in the current frame: what its items' frames start with.
  struct List {
    std::string scope, path, key;
  };
  struct Family {
    std::string name, type, help;
    std::vector<std::string> lines;
  };

  // Queues one number of field `name`; `counter` adds _total.
  void AddNumber(std::string_view name, bool counter, uint64_t integer, double real, bool is_real);
  // The family `name` of `type`, created on first use; SIZE_MAX when it exists with another type.
  size_t FamilyFor(const std::string& name, std::string_view type, std::string help);
  // The HELP text of a family: the field's own help (StatsSink::Help, from the exporting
  // component's table) when it gave one, else one made from the field's path; with the unit.
  // Consumes the pending help.
  std::string HelpFor(const Frame& f, std::string_view field, std::string_view unit);
  // Attaches the frame's <field>_source texts to the samples of those fields; a source whose
  // field has no sample becomes a label of the whole frame instead.
  static void ResolveSources(Frame& f);
  void Emit(const Sample& s, const std::vector<Label>& outer);

  std::string prefix_;
  std::vector<Frame> frames_;
  std::vector<List> lists_;
  std::vector<Family> families_;
  std::unordered_map<std::string, size_t> family_index_;
  std::unordered_set<std::string> series_;  // family+labels already written
  size_t dropped_ = 0;
  std::string pending_help_;  // the next field's help (StatsSink::Help)
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_PROMETHEUS_SINK_H_
