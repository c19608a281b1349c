#include "frontend/prometheus_sink.h"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>

namespace tierswap {
namespace {

// Field name suffixes that Prometheus spells differently: its linter refuses abbreviated units
// and wants base units (seconds, bytes).
// The value is multiplied by `multiply` and divided by `divide` (one of them 1): dividing by an
// exact power of ten rounds once, so 250 ns is written 2.5e-07, not 2.5000000000000004e-07.
struct UnitRule {
  std::string_view suffix;
  std::string_view unit;  // what replaces the suffix
  double multiply, divide;
};
constexpr std::array<UnitRule, 4> kUnitRules = {{
    {"_ns", "_seconds", 1, 1e9},
    {"_us", "_seconds", 1, 1e6},
    {"_ms", "_seconds", 1, 1e3},
    {"_mbps", "_bytes_per_second", 1e6, 1},
}};

// A field name split into its stem and the unit Prometheus sees.
struct Unit {
  std::string_view stem;  // the name without a converted suffix
  std::string_view unit;  // "_seconds", "_bytes_per_second", or "" (name kept whole)
  double multiply = 1, divide = 1;

  bool converts() const { return multiply != 1 || divide != 1; }
  double Scale(double v) const { return v * multiply / divide; }
};

Unit UnitOf(std::string_view name) {
  for (const UnitRule& r : kUnitRules) {
    if (name.size() > r.suffix.size() && name.substr(name.size() - r.suffix.size()) == r.suffix) {
      return {name.substr(0, name.size() - r.suffix.size()), r.unit, r.multiply, r.divide};
    }
  }
  return {name, "", 1, 1};
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string FormatUint(uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// Shortest text that reads back as the same double; Prometheus' spellings of the non-finite.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers as integers (2000000000, not 2e+09), while a double holds them exactly.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    return v < 0 ? "-" + FormatUint(uint64_t(-v)) : FormatUint(uint64_t(v));
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

bool IsPowerOfTwo(double v) {
  if (!(v >= 1 && v < 18446744073709551616.0) || v != std::trunc(v)) return false;
  return std::has_single_bit(static_cast<uint64_t>(v));
}

// The list `tiers` has items of kind `tier`.
std::string_view Singular(std::string_view list) {
  return list.size() > 1 && list.back() == 's' ? list.substr(0, list.size() - 1) : list;
}

void AppendLabelValue(std::string_view v, std::string* out) {
  for (const char c : v) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\n':
        *out += "\\n";
        break;
      default:
        *out += c;
    }
  }
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool HasLabel(const std::vector<std::string_view>& names, std::string_view name) {
  for (std::string_view n : names) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

PrometheusSink::PrometheusSink(std::string_view prefix)
    : prefix_(prefix.empty() ? std::string() : SanitizeMetricName(prefix) + "_") {
  frames_.emplace_back();
}

std::string PrometheusSink::SanitizeMetricName(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) out += '_';
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == ':';
    out += ok ? c : '_';
  }
  return out;
}

std::string PrometheusSink::SanitizeLabelName(std::string_view name) {
  std::string out = SanitizeMetricName(name);
  for (char& c : out) {
    if (c == ':') c = '_';
  }
  // "__" starts the names Prometheus reserves for itself.
  while (out.size() > 1 && out[0] == '_' && out[1] == '_') out.erase(0, 1);
  return out;
}

std::string PrometheusSink::HelpFor(const Frame& f, std::string_view field, std::string_view unit) {
  std::string help = pending_help_.empty() ? "tierswap statistic " + f.path + std::string(field)
                                           : std::move(pending_help_);
  pending_help_.clear();
  if (!unit.empty()) {
    std::string words(unit.substr(1));  // "_bytes_per_second" -> "bytes per second"
    for (char& c : words) c = c == '_' ? ' ' : c;
    help += ", in " + words;
  }
  help += " (docs/stats.md).";
  return help;
}

size_t PrometheusSink::FamilyFor(const std::string& name, std::string_view type, std::string help) {
  const auto [it, inserted] = family_index_.try_emplace(name, families_.size());
  if (inserted) {
    families_.push_back(Family{name, std::string(type), std::move(help), {}});
    return it->second;
  }
  return families_[it->second].type == type ? it->second : SIZE_MAX;
}

void PrometheusSink::AddNumber(std::string_view name, bool counter, uint64_t integer, double real,
                               bool is_real) {
  Frame& f = frames_.back();
  // The item's own number, e.g. `type` in an item of `types`: it identifies the item.
  if (!f.key.empty() && name == f.key) {
    f.labels.insert(f.labels.begin(),
                    Label{f.key, is_real ? FormatDouble(real) : FormatUint(integer)});
    return;
  }
  const Unit u = UnitOf(name);
  std::string family = prefix_ + f.scope + SanitizeMetricName(u.stem) + std::string(u.unit) +
                       (counter ? "_total" : "");
  const size_t index = FamilyFor(family, counter ? "counter" : "gauge", HelpFor(f, name, u.unit));
  if (index == SIZE_MAX) {
    ++dropped_;
    return;
  }
  std::string value;
  if (u.converts()) {
    value = FormatDouble(u.Scale(is_real ? real : double(integer)));
  } else {
    value = is_real ? FormatDouble(real) : FormatUint(integer);
  }
  f.own.push_back(Sample{index, std::string(name), "", {}, std::move(value)});
}

void PrometheusSink::Counter(std::string_view name, uint64_t value) {
  AddNumber(name, true, value, 0, false);
}

void PrometheusSink::Gauge(std::string_view name, uint64_t value) {
  AddNumber(name, false, value, 0, false);
}

void PrometheusSink::Real(std::string_view name, double value) {
  AddNumber(name, false, 0, value, true);
}

void PrometheusSink::Text(std::string_view name, std::string_view value) {
  pending_help_.clear();  // a label has no help of its own
  Frame& f = frames_.back();
  constexpr std::string_view kSource = "_source";
  if (name.size() > kSource.size() && EndsWith(name, kSource)) {
    f.sources.push_back(
        Label{std::string(name.substr(0, name.size() - kSource.size())), std::string(value)});
    return;
  }
  if (!f.key.empty() && name == "name") {
    f.labels.insert(f.labels.begin(), Label{f.key, std::string(value)});
    return;
  }
  f.labels.push_back(Label{SanitizeLabelName(name), std::string(value)});
}

void PrometheusSink::Histogram(std::string_view name, const HistogramData& h) {
  Frame& f = frames_.back();
  const Unit u = UnitOf(name);
  const std::string stem = prefix_ + f.scope + SanitizeMetricName(u.stem);
  const size_t index = FamilyFor(stem + std::string(u.unit), "histogram", HelpFor(f, name, u.unit));
  if (index == SIZE_MAX) {
    ++dropped_;
  } else {
    const std::string field(name);
    // Every bucket bound is a time series to Prometheus; the fine log-linear buckets (four per
    // power of two) would make hundreds per tier. The bounds at powers of two (the buckets of
    // Prometheus' native-histogram schema 0) keep the counts exact at a quarter of the series;
    // the quantile gauges below still come from the fine buckets.
    bool any_power_of_two = false;
    for (const auto& b : h.buckets) any_power_of_two |= IsPowerOfTwo(b.first);
    for (const auto& [upper, cumulative] : h.buckets) {
      if (any_power_of_two && !IsPowerOfTwo(upper)) continue;
      f.own.push_back(Sample{index,
                             field,
                             "_bucket",
                             {Label{"le", FormatDouble(u.Scale(upper))}},
                             FormatUint(cumulative)});
    }
    f.own.push_back(Sample{index, field, "_bucket", {Label{"le", "+Inf"}}, FormatUint(h.count)});
    f.own.push_back(Sample{index, field, "_sum", {}, FormatDouble(u.Scale(h.sum_ns))});
    f.own.push_back(Sample{index, field, "_count", {}, FormatUint(h.count)});
  }
  // The backend interpolates these within its fine buckets; a scraper would only have the
  // coarser le buckets to go by.
  const std::pair<const char*, double> quantiles[] = {
      {"_p50", h.p50}, {"_p90", h.p90}, {"_p99", h.p99}, {"_p999", h.p999}, {"_max", h.max}};
  for (const auto& [suffix, value] : quantiles) {
    const std::string field = std::string(u.stem) + suffix;
    const size_t q = FamilyFor(stem + suffix + std::string(u.unit), "gauge",
                               HelpFor(f, std::string(name) + "." + (suffix + 1), u.unit));
    if (q == SIZE_MAX) {
      ++dropped_;
      continue;
    }
    f.own.push_back(Sample{q, field, "", {}, FormatDouble(u.Scale(value))});
  }
}

void PrometheusSink::BeginList(std::string_view name) {
  const Frame& f = frames_.back();
  const std::string singular = SanitizeLabelName(Singular(name));
  lists_.push_back(List{f.scope + SanitizeMetricName(Singular(name)) + "_",
                        f.path + std::string(name) + "[].", singular});
}

void PrometheusSink::EndList() {
  if (!lists_.empty()) lists_.pop_back();
}

void PrometheusSink::BeginItem() {
  Frame f;
  if (!lists_.empty()) {
    f.scope = lists_.back().scope;
    f.path = lists_.back().path;
    f.key = lists_.back().key;
  }
  frames_.push_back(std::move(f));
}

void PrometheusSink::ResolveSources(Frame& f) {
  for (Label& source : f.sources) {
    bool attached = false;
    for (Sample& s : f.own) {
      if (s.field == source.name) {
        s.own.insert(s.own.begin(), Label{"source", source.value});
        attached = true;
      }
    }
    if (!attached) {
      f.labels.push_back(Label{SanitizeLabelName(source.name + "_source"), source.value});
    }
  }
  f.sources.clear();
}

void PrometheusSink::EndItem() {
  if (frames_.size() < 2) return;  // unbalanced: nothing to end
  Frame f = std::move(frames_.back());
  frames_.pop_back();
  ResolveSources(f);
  std::vector<Sample> done = std::move(f.nested);
  for (Sample& s : done) s.own.insert(s.own.begin(), f.labels.begin(), f.labels.end());
  for (Sample& s : f.own) {
    s.own.insert(s.own.begin(), f.labels.begin(), f.labels.end());
    done.push_back(std::move(s));
  }
  if (frames_.size() == 1) {
    for (const Sample& s : done) Emit(s, {});
  } else {
    Frame& parent = frames_.back();
    for (Sample& s : done) parent.nested.push_back(std::move(s));
  }
}

void PrometheusSink::Emit(const Sample& s, const std::vector<Label>& outer) {
  Family& fam = families_[s.family];
  std::string line = fam.name + s.suffix;
  std::vector<std::string_view> seen;
  bool first = true;
  auto add = [&](const Label& l) {
    if (HasLabel(seen, l.name)) return;  // the first spelling of a label wins
    seen.push_back(l.name);
    line += first ? '{' : ',';
    first = false;
    line += l.name;
    line += "=\"";
    AppendLabelValue(l.value, &line);
    line += '"';
  };
  for (const Label& l : outer) add(l);
  for (const Label& l : s.own) add(l);
  if (!first) line += '}';
  if (!series_.insert(line).second) {
    ++dropped_;
    return;
  }
  line += ' ';
  line += s.value;
  fam.lines.push_back(std::move(line));
}

std::string PrometheusSink::Finish() {
  frames_.resize(1);
  Frame& root = frames_[0];
  ResolveSources(root);
  for (const Sample& s : root.own) Emit(s, {});
  root.own.clear();

  std::string out;
  // Top-level text fields: one info metric, labels only, value 1.
  if (!root.labels.empty()) {
    const std::string name = prefix_ + "info";
    if (family_index_.count(name) == 0) {
      out += "# HELP " + name + " " +
             EscapeHelp("tierswap's text statistics (docs/stats.md) as labels; always 1.") + "\n";
      out += "# TYPE " + name + " gauge\n";
      std::string line = name;
      bool first = true;
      std::vector<std::string_view> seen;
      for (const Label& l : root.labels) {
        if (HasLabel(seen, l.name)) continue;
        seen.push_back(l.name);
        line += first ? '{' : ',';
        first = false;
        line += l.name + "=\"";
        AppendLabelValue(l.value, &line);
        line += '"';
      }
      out += line + "} 1\n";
    } else {
      ++dropped_;
    }
  }
  for (const Family& fam : families_) {
    if (fam.lines.empty()) continue;
    out += "# HELP " + fam.name + " " + EscapeHelp(fam.help) + "\n";
    out += "# TYPE " + fam.name + " " + fam.type + "\n";
    for (const std::string& line : fam.lines) {
      out += line;
      out += '\n';
    }
  }
  if (dropped_ != 0) {
    out += "# tierswap: " + FormatUint(dropped_) +
           " samples dropped (a family with two types, or a repeated series)\n";
  }
  return out;
}

}  // namespace tierswap
