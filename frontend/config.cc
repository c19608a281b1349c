// Config loading: TOML text -> Config, refusing anything it does not understand.
//
// toml++ builds a tree of nodes, each with the line it came from; this file walks that tree
// against a fixed schema (the key tables below) and turns the first problem it meets into one
// sentence of the form "<source>:<line>: <where>: key '<key>': <what is wrong>". toml++ reports
// syntax errors by throwing toml::parse_error; they are caught here, as is every other
// exception, so that none leaves the loader (cold paths return Result<T>).
//
// Thread-safety: stateless; every function may be called concurrently.

#include "frontend/config.h"

#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <limits>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "frontend/config_prescan.h"
#include "tiers/page.h"
#include "tiers/quoted.h"
#include "tiers/tier_capacity.h"

namespace tierswap {
namespace {

constexpr size_t kMaxTiers = 31;
constexpr size_t kMaxNameLength = 32;

// The tier kinds this version can open, in the order messages list them. Supporting a new kind
// in the config is one line here (the Backend must also know how to open it).
constexpr std::array kKnownTierKinds = {TierKind::kDram, TierKind::kNuma, TierKind::kPmem,
                                        TierKind::kCompressed};

// The keys each table accepts, in the order messages list them.
constexpr std::array<std::string_view, 5> kTopLevelKeys = {"backend", "tier", "placement", "quota",
                                                           "stats"};
constexpr std::array<std::string_view, 5> kStatsKeys = {"listen", "allow_remote", "dump_file",
                                                        "dump_interval_ms", "latency_histograms"};
constexpr std::array<std::string_view, 10> kPlacementKeys = {
    "policy",           "high_watermark",
    "low_watermark",    "max_migration_mbps",
    "min_residency_ms", "promote_after_loads",
    "background",       "mover_interval_ms",
    "probe_budget_ms",  "comment"};
constexpr std::array<std::string_view, 2> kQuotaKeys = {"type", "max"};
constexpr std::array<std::string_view, 3> kBackendKeys = {"exclusive_loads", "scrub_on_free",
                                                          "checksum"};
constexpr std::array<std::string_view, 15> kTierKeys = {"name",
                                                        "kind",
                                                        "capacity",
                                                        "prefault",
                                                        "node",
                                                        "path",
                                                        "persist",
                                                        "codec",
                                                        "level",
                                                        "backing",
                                                        "max_compressed_fraction",
                                                        "read_latency_ns",
                                                        "write_latency_ns",
                                                        "bandwidth_mbps",
                                                        "checksum"};

// Which kinds a kind-specific key applies to (keys not listed apply to every kind).
struct KeyKinds {
  std::string_view key;
  std::array<bool, 4> applies;  // indexed by TierKind: dram, numa, pmem, compressed
};
constexpr std::array<KeyKinds, 8> kKindSpecificKeys = {{
    {"prefault", {true, false, true, true}},
    {"node", {false, true, false, true}},
    {"path", {false, false, true, false}},
    {"persist", {false, false, true, false}},
    {"codec", {false, false, false, true}},
    {"level", {false, false, false, true}},
    {"backing", {false, false, false, true}},
    {"max_compressed_fraction", {false, false, false, true}},
}};

std::string KindsOf(const KeyKinds& k) {
  std::string out;
  for (size_t i = 0; i < k.applies.size(); ++i) {
    if (!k.applies[i]) continue;
    if (!out.empty()) out += ", ";
    out += TierKindName(static_cast<TierKind>(i));
  }
  return out;
}

struct SizeUnit {
  std::string_view suffix;
  unsigned shift;  // bytes = number << shift
};
constexpr std::array<SizeUnit, 5> kSizeUnits = {
    {{"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}}};
constexpr std::string_view kSizeUnitList = "B, KiB, MiB, GiB or TiB";

template <size_t N>
bool Contains(const std::array<std::string_view, N>& keys, std::string_view key) {
  for (std::string_view k : keys) {
    if (k == key) return true;
  }
  return false;
}

template <size_t N>
std::string JoinKeys(const std::array<std::string_view, N>& keys) {
  std::string out;
  for (std::string_view k : keys) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

std::string KnownKindList() {
  std::string out;
  for (TierKind k : kKnownTierKinds) {
    if (!out.empty()) out += ", ";
    out += TierKindName(k);
  }
  return out;
}

// What a node holds, for "expected X, got <this>" messages.
std::string Describe(const toml::node& node) {
  if (const auto* s = node.as_string()) return "the string " + Quoted(s->get());
  if (const auto* i = node.as_integer()) return "the integer " + std::to_string(i->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "the boolean true" : "the boolean false";
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return "the floating-point number " + os.str();
  }
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  return "a date or time";
}

int LineOf(const toml::node& node) { return static_cast<int>(node.source().begin.line); }
int LineOf(const toml::key& key) { return static_cast<int>(key.source().begin.line); }

// Builds messages that all start with "<source>:<line>: ".
class Reporter {
 public:
  // A source name with bytes a terminal would act on is shown escaped and quoted.
  explicit Reporter(std::string_view source) : source_(Shown(source)) {}

  Error At(int line, std::string_view what) const {
    std::string msg(source_);
    if (line > 0) {
      msg += ':';
      msg += std::to_string(line);
    }
    msg += ": ";
    msg += what;
    return MakeError(Status::kInvalidArgument, std::move(msg));
  }

 private:
  std::string source_;
};

struct UnknownKey {
  std::string shown;  // quoted for a message: 'name'
  std::string table;  // as a table header: [name]
  int line;
  bool is_table;
};

// The unknown key of `table` that comes first in the file, if any, so that the message points
// at the earliest mistake rather than the alphabetically first one.
template <size_t N>
std::optional<UnknownKey> FirstUnknownKey(const toml::table& table,
                                          const std::array<std::string_view, N>& known) {
  std::optional<UnknownKey> first;
  for (const auto& [key, node] : table) {
    if (Contains(known, key.str())) continue;
    const int line = LineOf(key) > 0 ? LineOf(key) : LineOf(node);
    if (!first || line < first->line) {
      first =
          UnknownKey{Quoted(key.str(), '\''), "[" + Shown(key.str()) + "]", line, node.is_table()};
    }
  }
  return first;
}

// Reads an optional boolean key of `table` into *out. `where` prefixes the message.
Result<void> ReadBool(const Reporter& report, const toml::table& table, std::string_view where,
                      std::string_view key, bool* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return {};
  if (const auto* b = node->as_boolean()) {
    *out = b->get();
    return {};
  }
  return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) +
                                      "': expected true or false, got " + Describe(*node) + ".");
}

// Reads an optional integer key in [min, max] into *out.
template <typename T>
Result<void> ReadInt(const Reporter& report, const toml::table& table, std::string_view where,
                     std::string_view key, int64_t min, int64_t max, T* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return {};
  const auto* i = node->as_integer();
  if (i == nullptr) {
    return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) +
                                        "': expected a whole number, got " + Describe(*node) + ".");
  }
  if (i->get() < min || i->get() > max) {
    return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) +
                                        "': " + std::to_string(i->get()) + " is out of range (" +
                                        std::to_string(min) + " to " + std::to_string(max) + ").");
  }
  *out = static_cast<T>(i->get());
  return {};
}

// Reads an optional string key into *out; `allowed` (when not empty) lists the valid values.
Result<void> ReadString(const Reporter& report, const toml::table& table, std::string_view where,
                        std::string_view key, std::initializer_list<std::string_view> allowed,
                        std::string* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return {};
  const auto* text = node->as_string();
  if (text == nullptr) {
    return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) +
                                        "': expected a string, got " + Describe(*node) + ".");
  }
  if (allowed.size() > 0) {
    bool ok = false;
    std::string list;
    for (std::string_view a : allowed) {
      ok = ok || a == text->get();
      if (!list.empty()) list += ", ";
      list += a;
    }
    if (!ok) {
      return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) + "': " +
                                          Quoted(text->get()) + " is not one of " + list + ".");
    }
  }
  *out = text->get();
  return {};
}

Result<void> ReadBackend(const Reporter& report, const toml::node& node, Config* config) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return report.At(LineOf(node),
                     "key 'backend': expected a [backend] table, got " + Describe(node) + ".");
  }
  constexpr std::string_view kWhere = "[backend]: ";
  if (auto unknown = FirstUnknownKey(*table, kBackendKeys)) {
    return report.At(unknown->line, std::string(kWhere) + "unknown key " + unknown->shown +
                                        " (known keys: " + JoinKeys(kBackendKeys) + ").");
  }
  for (const Result<void>& r : {
           ReadBool(report, *table, kWhere, "exclusive_loads", &config->exclusive_loads),
           ReadBool(report, *table, kWhere, "scrub_on_free", &config->scrub_on_free),
           ReadBool(report, *table, kWhere, "checksum", &config->checksum),
       }) {
    if (!r) return r.error();
  }
  return {};
}

// Checks a tier name against [A-Za-z0-9_.-]{1,32}; returns what is wrong, or "" when valid.
std::string NameProblem(std::string_view name) {
  if (name.empty()) return "the name is empty";
  if (name.size() > kMaxNameLength) {
    return Quoted(name) + " is " + std::to_string(name.size()) +
           " characters long; a name has at most " + std::to_string(kMaxNameLength);
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return Quoted(name) + " contains " + Quoted(std::string_view(&c, 1), '\'') +
             "; a name uses only letters, digits, '_', '.' and '-'";
    }
  }
  return "";
}

// Reads a size (a string with a unit, or a number of bytes) from `node`, the value of `key`.
Result<uint64_t> ReadSize(const Reporter& report, const toml::node& node, const std::string& where,
                          std::string_view key) {
  const int line = LineOf(node);
  const std::string prefix = where + "key '" + std::string(key) + "': ";
  if (const auto* s = node.as_string()) {
    Result<uint64_t> parsed = ParseSize(s->get());
    if (!parsed) return report.At(line, prefix + parsed.error().message);
    return *parsed;
  }
  if (const auto* i = node.as_integer()) {
    if (i->get() < 0) {
      return report.At(
          line, prefix + std::to_string(i->get()) + " is negative; a size is a number of bytes.");
    }
    return static_cast<uint64_t>(i->get());
  }
  return report.At(line, prefix + "expected a size such as \"256MiB\" or a number of bytes, got " +
                             Describe(node) + ".");
}

Result<void> ReadTierCapacity(const Reporter& report, const toml::node& node,
                              const std::string& where, TierConfig* tier) {
  Result<uint64_t> bytes = ReadSize(report, node, where, "capacity");
  if (!bytes) return bytes.take_error();
  // Whole pages, within what a tier of this kind can hold (tiers/tier_capacity.h: the one place
  // these limits are decided, also checked by each tier's Open).
  Result<uint64_t> rounded = CheckTierCapacity(tier->kind, *bytes);
  if (!rounded) {
    return report.At(LineOf(node), where + "key 'capacity': " + rounded.error().message + ".");
  }
  tier->capacity_bytes = *rounded;
  return {};
}

// Reads one [[tier]] table; `index` is its position (0-based) for messages before the name is
// known.
Result<TierConfig> ReadTier(const Reporter& report, const toml::node& node, size_t index) {
  const int tier_line = LineOf(node);
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return report.At(tier_line, "key 'tier': entry " + std::to_string(index + 1) +
                                    " is not a table: expected [[tier]] tables, got " +
                                    Describe(node) + ".");
  }
  TierConfig tier;
  tier.line = tier_line;
  // Messages name the tier once its name is known to be usable, and its position before.
  const toml::node* name = table->get("name");
  const bool name_usable =
      name != nullptr && name->is_string() && NameProblem(name->as_string()->get()).empty();
  const std::string where = name_usable ? "tier '" + name->as_string()->get() + "': "
                                        : "tier #" + std::to_string(index + 1) + ": ";

  if (auto unknown = FirstUnknownKey(*table, kTierKeys)) {
    return report.At(unknown->line, where + "unknown key " + unknown->shown +
                                        " (known keys: " + JoinKeys(kTierKeys) + ").");
  }

  if (name == nullptr) {
    return report.At(tier_line, where + "key 'name' is missing; every [[tier]] needs a name.");
  }
  const auto* name_text = name->as_string();
  if (name_text == nullptr) {
    return report.At(LineOf(*name),
                     where + "key 'name': expected a string, got " + Describe(*name) + ".");
  }
  if (const std::string problem = NameProblem(name_text->get()); !problem.empty()) {
    return report.At(LineOf(*name), where + "key 'name': " + problem + ".");
  }
  tier.name = name_text->get();

  const toml::node* kind = table->get("kind");
  if (kind == nullptr) {
    return report.At(tier_line,
                     where + "key 'kind' is missing (known kinds: " + KnownKindList() + ").");
  }
  const auto* kind_text = kind->as_string();
  if (kind_text == nullptr) {
    return report.At(LineOf(*kind),
                     where + "key 'kind': expected a string, got " + Describe(*kind) + ".");
  }
  bool kind_known = false;
  for (TierKind k : kKnownTierKinds) {
    if (kind_text->get() == TierKindName(k)) {
      tier.kind = k;
      kind_known = true;
    }
  }
  if (!kind_known) {
    return report.At(LineOf(*kind), where + "key 'kind': unknown tier kind " +
                                        Quoted(kind_text->get(), '\'') +
                                        " (known kinds: " + KnownKindList() + ").");
  }

  const toml::node* capacity = table->get("capacity");
  if (capacity == nullptr) {
    return report.At(tier_line,
                     where + "key 'capacity' is missing; give a size such as \"256MiB\".");
  }
  if (Result<void> r = ReadTierCapacity(report, *capacity, where, &tier); !r) {
    return r.take_error();
  }
  // Keys that belong to other kinds are mistakes, not options to ignore.
  for (const KeyKinds& k : kKindSpecificKeys) {
    const toml::node* n = table->get(k.key);
    if (n != nullptr && !k.applies[static_cast<size_t>(tier.kind)]) {
      return report.At(LineOf(*n), where + "key '" + std::string(k.key) +
                                       "' does not apply to kind '" + TierKindName(tier.kind) +
                                       "' (it applies to: " + KindsOf(k) + ").");
    }
  }

  for (const Result<void>& r : {
           ReadBool(report, *table, where, "prefault", &tier.prefault),
           ReadInt(report, *table, where, "node", 0, 1023, &tier.node),
           ReadString(report, *table, where, "path", {}, &tier.path),
           ReadBool(report, *table, where, "persist", &tier.persist),
           ReadBool(report, *table, where, "checksum", &tier.checksum),
           ReadString(report, *table, where, "codec", {"lz4", "zstd"}, &tier.codec),
           ReadString(report, *table, where, "backing", {"dram", "numa"}, &tier.backing),
           ReadInt(report, *table, where, "read_latency_ns", 0, 1'000'000'000,
                   &tier.emulation.read_latency_ns),
           ReadInt(report, *table, where, "write_latency_ns", 0, 1'000'000'000,
                   &tier.emulation.write_latency_ns),
           ReadInt(report, *table, where, "bandwidth_mbps", 0, int64_t{1} << 40,
                   &tier.emulation.bandwidth_mbps),
       }) {
    if (!r) return r.error();
  }
  // The level's range depends on the codec.
  const bool zstd = tier.codec == "zstd";
  if (Result<void> r = ReadInt(report, *table, where, "level", 1, zstd ? 19 : 65537, &tier.level);
      !r) {
    return r.take_error();
  }
  if (const toml::node* f = table->get("max_compressed_fraction")) {
    const std::string prefix = where + "key 'max_compressed_fraction': ";
    double v = 0;
    if (const auto* d = f->as_floating_point()) {
      v = d->get();
    } else if (const auto* i = f->as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      return report.At(LineOf(*f), prefix + "expected a number, got " + Describe(*f) + ".");
    }
    if (!(v > 0.0 && v <= 1.0)) {
      std::ostringstream os;
      os << v;
      return report.At(LineOf(*f), prefix + os.str() +
                                       " is out of range; it is a fraction of a page, above 0 "
                                       "and at most 1 (e.g. 0.75).");
    }
    tier.max_compressed_fraction = v;
  }

  // Keys a kind cannot do without.
  if (tier.kind == TierKind::kNuma && tier.node < 0) {
    return report.At(tier_line, where +
                                    "key 'node' is missing; a numa tier names its node "
                                    "(see `numactl --hardware`).");
  }
  if (tier.kind == TierKind::kPmem && tier.path.empty()) {
    return report.At(tier_line, where +
                                    "key 'path' is missing; give a file on a DAX "
                                    "filesystem, a device-DAX path, or \"anon\".");
  }
  if (tier.kind == TierKind::kCompressed && tier.backing == "numa" && tier.node < 0) {
    return report.At(tier_line, where +
                                    "key 'node' is missing; backing = \"numa\" needs the "
                                    "node to keep the compressed pages on.");
  }
  if (tier.kind == TierKind::kCompressed && tier.backing == "dram" && table->get("node")) {
    return report.At(LineOf(*table->get("node")),
                     where + "key 'node' needs backing = \"numa\" (backing is \"dram\").");
  }
  return tier;
}

Result<void> ReadTiers(const Reporter& report, const toml::node& node, Config* config) {
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return report.At(LineOf(node), "key 'tier': expected [[tier]] tables, got " + Describe(node) +
                                       " (write [[tier]], with two brackets).");
  }
  if (array->empty()) {
    return report.At(LineOf(node),
                     "key 'tier': the list of tiers is empty; the config defines no tier.");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (i == kMaxTiers) {
      return report.At(LineOf(element), "key 'tier': tier #" + std::to_string(i + 1) +
                                            " is one too many; a config has at most " +
                                            std::to_string(kMaxTiers) + " tiers.");
    }
    Result<TierConfig> tier = ReadTier(report, element, i);
    if (!tier) return tier.take_error();
    // [backend] checksum is the default of a tier that does not say ([backend] is read first).
    if (element.as_table()->get("checksum") == nullptr) tier->checksum = config->checksum;
    for (const TierConfig& earlier : config->tiers) {
      if (earlier.name == tier->name) {
        const toml::node& name = *element.as_table()->get("name");
        return report.At(LineOf(name), "tier '" + tier->name + "': key 'name': the name '" +
                                           tier->name + "' is already used by the tier at line " +
                                           std::to_string(earlier.line) + ".");
      }
    }
    config->tiers.push_back(std::move(tier).value());
  }
  return {};
}

// Reads an optional number (integer or floating point) key in [min, max] into *out.
Result<void> ReadNumber(const Reporter& report, const toml::table& table, std::string_view where,
                        std::string_view key, double min, double max, double* out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return {};
  double v = 0;
  if (const auto* d = node->as_floating_point()) {
    v = d->get();
  } else if (const auto* i = node->as_integer()) {
    v = static_cast<double>(i->get());
  } else {
    return report.At(LineOf(*node), std::string(where) + "key '" + std::string(key) +
                                        "': expected a number, got " + Describe(*node) + ".");
  }
  if (!(v >= min && v <= max)) {
    std::ostringstream os;
    os << v << " is out of range (" << min << " to " << max << ")";
    return report.At(LineOf(*node),
                     std::string(where) + "key '" + std::string(key) + "': " + os.str() + ".");
  }
  *out = v;
  return {};
}

Result<void> ReadPlacement(const Reporter& report, const toml::node& node, PlacementConfig* p) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return report.At(LineOf(node),
                     "key 'placement': expected a [placement] table, got " + Describe(node) + ".");
  }
  p->line = LineOf(node);
  constexpr std::string_view kWhere = "[placement]: ";
  if (auto unknown = FirstUnknownKey(*table, kPlacementKeys)) {
    return report.At(unknown->line, std::string(kWhere) + "unknown key " + unknown->shown +
                                        " (known keys: " + JoinKeys(kPlacementKeys) + ").");
  }
  std::string ignored;
  for (const Result<void>& r : {
           ReadString(report, *table, kWhere, "policy", {"static", "adaptive"}, &p->policy),
           ReadNumber(report, *table, kWhere, "high_watermark", 0.01, 1.0, &p->high_watermark),
           ReadNumber(report, *table, kWhere, "low_watermark", 0.0, 1.0, &p->low_watermark),
           ReadInt(report, *table, kWhere, "max_migration_mbps", 0, int64_t{1} << 40,
                   &p->max_migration_mbps),
           ReadInt(report, *table, kWhere, "min_residency_ms", 0, 86'400'000, &p->min_residency_ms),
           ReadInt(report, *table, kWhere, "promote_after_loads", 1, 3, &p->promote_after_loads),
           ReadBool(report, *table, kWhere, "background", &p->background),
           ReadInt(report, *table, kWhere, "mover_interval_ms", 1, 60'000, &p->mover_interval_ms),
           ReadNumber(report, *table, kWhere, "probe_budget_ms", 0.0, 10'000.0,
                      &p->probe_budget_ms),
           ReadString(report, *table, kWhere, "comment", {}, &ignored),
       }) {
    if (!r) return r.error();
  }
  if (p->low_watermark >= p->high_watermark) {
    std::ostringstream os;
    os << "low_watermark " << p->low_watermark << " must be below high_watermark "
       << p->high_watermark << " (the gap is the hysteresis that keeps a tier from flapping).";
    const toml::node* low = table->get("low_watermark");
    return report.At(LineOf(low != nullptr ? *low : node), std::string(kWhere) + os.str());
  }
  return {};
}

Result<void> ReadStats(const Reporter& report, const toml::node& node, StatsConfig* st) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return report.At(LineOf(node),
                     "key 'stats': expected a [stats] table, got " + Describe(node) + ".");
  }
  st->line = LineOf(node);
  constexpr std::string_view kWhere = "[stats]: ";
  if (auto unknown = FirstUnknownKey(*table, kStatsKeys)) {
    return report.At(unknown->line, std::string(kWhere) + "unknown key " + unknown->shown +
                                        " (known keys: " + JoinKeys(kStatsKeys) + ").");
  }
  for (const Result<void>& r : {
           ReadString(report, *table, kWhere, "listen", {}, &st->listen),
           ReadBool(report, *table, kWhere, "allow_remote", &st->allow_remote),
           ReadString(report, *table, kWhere, "dump_file", {}, &st->dump_file),
           ReadInt(report, *table, kWhere, "dump_interval_ms", 10, 86'400'000,
                   &st->dump_interval_ms),
           ReadBool(report, *table, kWhere, "latency_histograms", &st->latency_histograms),
       }) {
    if (!r) return r.error();
  }
  auto line_of = [table](std::string_view key) {
    const toml::node* n = table->get(key);
    return n != nullptr ? LineOf(*n) : 0;
  };
  st->listen_line = line_of("listen");
  st->dump_file_line = line_of("dump_file");
  st->dump_interval_line = line_of("dump_interval_ms");
  if (!st->listen.empty()) {
    // host:port, host an IPv4 address or "localhost", port 1-65535. Whether a non-loopback
    // host is allowed is decided where the listener opens (allow_remote).
    const size_t colon = st->listen.rfind(':');
    const std::string port = colon == std::string::npos ? "" : st->listen.substr(colon + 1);
    const bool digits = !port.empty() && port.size() <= 5 &&
                        port.find_first_not_of("0123456789") == std::string::npos;
    if (colon == 0 || !digits || std::stoul(port) == 0 || std::stoul(port) > 65535) {
      return report.At(LineOf(*table->get("listen")),
                       std::string(kWhere) + "key 'listen': " + Quoted(st->listen) +
                           " is not HOST:PORT (e.g. \"127.0.0.1:9464\").");
    }
  }
  return {};
}

Result<void> ReadQuotas(const Reporter& report, const toml::node& node, Config* config) {
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return report.At(LineOf(node), "key 'quota': expected [[quota]] tables, got " + Describe(node) +
                                       " (write [[quota]], with two brackets).");
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const toml::table* table = element.as_table();
    const std::string where = "quota #" + std::to_string(i + 1) + ": ";
    if (table == nullptr) {
      return report.At(LineOf(element), where + "expected a table, got " + Describe(element) + ".");
    }
    if (auto unknown = FirstUnknownKey(*table, kQuotaKeys)) {
      return report.At(unknown->line, where + "unknown key " + unknown->shown +
                                          " (known keys: " + JoinKeys(kQuotaKeys) + ").");
    }
    QuotaConfig q;
    q.line = LineOf(element);
    if (table->get("type") == nullptr) {
      return report.At(q.line,
                       where + "key 'type' is missing; a quota names its swap type (0-31).");
    }
    if (Result<void> r = ReadInt(report, *table, where, "type", 0, 31, &q.type); !r) {
      return r.take_error();
    }
    const toml::node* max = table->get("max");
    if (max == nullptr) {
      return report.At(q.line, where + "key 'max' is missing; give a size such as \"512MiB\".");
    }
    Result<uint64_t> bytes = ReadSize(report, *max, where, "max");
    if (!bytes) return bytes.take_error();
    // A quota counts whole pages; it must let at least one in.
    q.max_bytes = *bytes / kPageSize * kPageSize;
    if (q.max_bytes == 0) {
      return report.At(LineOf(*max), where + "key 'max': " + std::to_string(*bytes) +
                                         " bytes holds no 4 KiB page; the minimum is 4096 "
                                         "bytes (4KiB).");
    }
    for (const QuotaConfig& earlier : config->quotas) {
      if (earlier.type == q.type) {
        return report.At(q.line, where + "type " + std::to_string(q.type) +
                                     " already has a quota (line " + std::to_string(earlier.line) +
                                     ").");
      }
    }
    config->quotas.push_back(q);
  }
  return {};
}

Result<Config> FromTable(const Reporter& report, const toml::table& root,
                         std::string_view source_name) {
  if (auto unknown = FirstUnknownKey(root, kTopLevelKeys)) {
    const bool is_table = unknown->is_table;
    return report.At(
        unknown->line,
        (is_table ? "unknown table " + unknown->table : "unknown top-level key " + unknown->shown) +
            " (known: [backend], [placement], [stats], [[tier]], [[quota]]).");
  }
  Config config;
  config.source = std::string(source_name);
  if (const toml::node* backend = root.get("backend")) {
    if (Result<void> r = ReadBackend(report, *backend, &config); !r) return r.take_error();
  }
  if (const toml::node* placement = root.get("placement")) {
    if (Result<void> r = ReadPlacement(report, *placement, &config.placement); !r) {
      return r.take_error();
    }
  }
  if (const toml::node* stats = root.get("stats")) {
    if (Result<void> r = ReadStats(report, *stats, &config.stats); !r) return r.take_error();
    config.stats.source = std::string(source_name);
  }
  if (const toml::node* quotas = root.get("quota")) {
    if (Result<void> r = ReadQuotas(report, *quotas, &config); !r) return r.take_error();
  }
  const toml::node* tiers = root.get("tier");
  if (tiers == nullptr) {
    return report.At(0,
                     "the config defines no tier; add at least one [[tier]] table "
                     "(see docs/config.md).");
  }
  if (Result<void> r = ReadTiers(report, *tiers, &config); !r) return r.take_error();
  return config;
}

}  // namespace

Config Config::Default() {
  Config config;
  TierConfig dram;
  dram.name = "dram";
  dram.kind = TierKind::kDram;
  dram.capacity_bytes = kDefaultDramBytes;
  dram.prefault = true;
  config.tiers.push_back(std::move(dram));
  config.source = "<default>";
  return config;
}

Result<Config> Config::FromString(std::string_view text, std::string_view source_name) {
  const Reporter report(source_name);
  // The parser recurses as deep as the text nests: the limits are checked before it runs.
  if (Result<void> r = PrescanConfig(text, source_name); !r) return r.take_error();
  // Nothing may escape: toml++ throws parse_error on bad syntax, and anything may throw
  // bad_alloc.
  try {
    const toml::table root = toml::parse(text, source_name);
    return FromTable(report, root, source_name);
  } catch (const toml::parse_error& e) {
    return report.At(static_cast<int>(e.source().begin.line),
                     "TOML syntax error: " + std::string(e.description()) + ".");
  } catch (const std::bad_alloc&) {
    return MakeError(Status::kNoMemory,
                     Shown(source_name) + ": out of memory while reading the config.");
  } catch (const std::exception& e) {
    return MakeError(Status::kInvalidArgument,
                     Shown(source_name) + ": the config could not be read: " + e.what() + ".");
  }
}

Result<Config> Config::FromFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    return MakeError(err == ENOENT ? Status::kNotFound : Status::kIoError,
                     "cannot open config file " + Quoted(path, '\'') + ": " +
                         std::generic_category().message(err) + ".");
  }
  std::string text;
  char buffer[4096];
  size_t n = 0;
  // One byte past the limit is enough to refuse the file (PrescanConfig says so): a config
  // named by mistake (a disk image, /dev/zero) is never read whole.
  while (text.size() <= kMaxConfigBytes && (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    text.append(buffer, n);
  }
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  const bool failed = std::ferror(file) != 0;
  const int err = errno;
  std::fclose(file);
  if (failed) {
    return MakeError(Status::kIoError, "cannot read config file " + Quoted(path, '\'') + ": " +
                                           std::generic_category().message(err) + ".");
  }
  return FromString(text, path);
}

Result<uint64_t> ParseSize(std::string_view text) {
  const std::string quoted = Quoted(text);
  const std::string units_hint = " (use " + std::string(kSizeUnitList) + ")";
  if (text.empty()) {
    return MakeError(Status::kInvalidArgument,
                     "the size is empty; write a whole number with an optional unit, such as "
                     "\"256MiB\" or \"4096\".");
  }
  if (text.front() == '-') {
    return MakeError(Status::kInvalidArgument, quoted + " is negative; a size is at least 0.");
  }
  size_t pos = 0;
  uint64_t number = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return MakeError(Status::kInvalidArgument,
                       quoted + " is too large; a size must fit in 64 bits.");
    }
    number = number * 10 + digit;
    ++pos;
  }
  if (pos == 0) {
    return MakeError(Status::kInvalidArgument,
                     quoted +
                         " is not a size: it must start with a whole number, such as "
                         "\"256MiB\".");
  }
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    return MakeError(Status::kInvalidArgument,
                     quoted +
                         " is not a size: fractions are not allowed; use a whole number of "
                         "a smaller unit (e.g. \"1536MiB\" rather than \"1.5GiB\").");
  }
  // One run of spaces may separate the number from its unit ("256 MiB"), but only before a unit.
  size_t unit_start = pos;
  while (unit_start < text.size() && text[unit_start] == ' ') ++unit_start;
  const std::string_view unit = text.substr(unit_start);
  if (unit.empty()) {
    if (unit_start != pos) {
      return MakeError(
          Status::kInvalidArgument,
          quoted + " is not a size: trailing spaces without a unit" + units_hint + ".");
    }
    return number;
  }
  for (const SizeUnit& u : kSizeUnits) {
    if (unit != u.suffix) continue;
    if (u.shift > 0 && number > (std::numeric_limits<uint64_t>::max() >> u.shift)) {
      return MakeError(Status::kInvalidArgument,
                       quoted + " is too large; a size must fit in 64 bits.");
    }
    return number << u.shift;
  }
  return MakeError(Status::kInvalidArgument, quoted + " is not a size" + units_hint + ".");
}

}  // namespace tierswap
