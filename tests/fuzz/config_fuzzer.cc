// config_fuzzer: feeds an input as TOML text to Config::FromString and, when it parses, opens a
// Backend from it, stores a page on it and loads it back.
//
// What must hold for every input: no crash, hang or leak (the sanitizers watch); a refusal is an
// Error whose message names the source ("fuzz.toml", with ":<line>" where there is one); a
// config that parses satisfies what the loader promises (1 to 31 tiers with unique, valid names,
// capacities of whole pages, watermarks in order, at most one quota per type); and opening it
// either succeeds, and then the backend keeps a page byte-exact, or fails naming the source.
//
// Opening is bounded so that one input costs milliseconds and touches nothing outside the
// process: capacities above kMaxOpenBytes are lowered to it, emulated latencies and bandwidth
// are clamped, the probe and the mover thread are off, and a pmem tier's path is replaced by "anon"
// (a fuzzer must not create or resize files at paths it makes up). The [stats] table is parsed but
// not started: Backend::Open does not read it.
//
// Reproduce a crash: `build-fuzz/tests/fuzz/config_fuzzer CRASH_FILE` (docs/reliability.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "frontend/backend_factory.h"
#include "placement/backend.h"
#include "frontend/config.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/test_pages.h"

namespace tierswap::fuzz {
namespace {

constexpr std::string_view kSource = "fuzz.toml";
constexpr uint64_t kMaxOpenBytes = 1 << 20;

bool NamesTheSource(const std::string& message) {
  return message.compare(0, kSource.size(), kSource) == 0 ||
         message.find(std::string(kSource) + ":") != std::string::npos;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// What Config::FromString promises about a config it returns.
void CheckParsed(const Config& c) {
  FUZZ_CHECK(!c.tiers.empty() && c.tiers.size() <= 31,
             "a parsed config has " + std::to_string(c.tiers.size()) + " tiers");
  std::set<std::string> names;
  for (const TierConfig& t : c.tiers) {
    FUZZ_CHECK(ValidName(t.name), "a parsed tier has the invalid name '" + t.name + "'");
    FUZZ_CHECK(names.insert(t.name).second, "two parsed tiers are named '" + t.name + "'");
    FUZZ_CHECK(t.capacity_bytes >= kPageSize && t.capacity_bytes % kPageSize == 0,
               "tier '" + t.name + "' has a capacity of " + std::to_string(t.capacity_bytes) +
                   " bytes, not a whole number of pages");
    FUZZ_CHECK(t.line > 0, "tier '" + t.name + "' has no line for messages");
    if (t.kind == TierKind::kNuma) {
      FUZZ_CHECK(t.node >= 0, "numa tier '" + t.name + "' has no node");
    }
    if (t.kind == TierKind::kPmem) {
      FUZZ_CHECK(!t.path.empty(), "pmem tier '" + t.name + "' has no path");
    }
    if (t.kind == TierKind::kCompressed) {
      FUZZ_CHECK(t.codec == "lz4" || t.codec == "zstd",
                 "compressed tier '" + t.name + "' has codec '" + t.codec + "'");
      FUZZ_CHECK(t.max_compressed_fraction > 0 && t.max_compressed_fraction <= 1,
                 "compressed tier '" + t.name + "' has an impossible max_compressed_fraction");
    }
  }
  const PlacementConfig& p = c.placement;
  FUZZ_CHECK(p.low_watermark >= 0 && p.low_watermark < p.high_watermark && p.high_watermark <= 1,
             "the parsed watermarks are " + std::to_string(p.low_watermark) + " and " +
                 std::to_string(p.high_watermark));
  FUZZ_CHECK(p.policy == "static" || p.policy == "adaptive",
             "the parsed policy is '" + p.policy + "'");
  std::set<unsigned> quota_types;
  for (const QuotaConfig& q : c.quotas) {
    FUZZ_CHECK(q.type < Backend::kMaxTypes && q.max_bytes >= kPageSize,
               "a parsed quota is for type " + std::to_string(q.type) + " with " +
                   std::to_string(q.max_bytes) + " bytes");
    FUZZ_CHECK(quota_types.insert(q.type).second,
               "two parsed quotas are for type " + std::to_string(q.type));
  }
}

// Makes a parsed config cheap and harmless to open (see the file comment).
void Bound(Config* c) {
  c->placement.probe_budget_ms = 0;
  c->placement.background = false;  // no mover thread per input: runs stay deterministic
  for (TierConfig& t : c->tiers) {
    if (t.capacity_bytes > kMaxOpenBytes) t.capacity_bytes = kMaxOpenBytes;
    if (t.kind == TierKind::kPmem) t.path = "anon";
    if (t.emulation.read_latency_ns > 1000) t.emulation.read_latency_ns = 1000;
    if (t.emulation.write_latency_ns > 1000) t.emulation.write_latency_ns = 1000;
    if (t.emulation.bandwidth_mbps != 0 && t.emulation.bandwidth_mbps < 1000) {
      t.emulation.bandwidth_mbps = 1000;
    }
  }
}

void OpenAndUse(const Config& config) {
  Result<std::unique_ptr<Backend>> opened = OpenBackend(config);
  if (!opened) {
    FUZZ_CHECK(
        NamesTheSource(opened.error().message),
        "Backend::Open refused a parsed config without naming it: " + opened.error().message);
    if (Verbose()) std::fprintf(stderr, "open refused: %s\n", opened.error().message.c_str());
    return;
  }
  Backend& b = **opened;
  FUZZ_CHECK(b.tier_count() == config.tiers.size(), std::string("a tier went missing at open"));
  FUZZ_CHECK(b.Init(0, 0) == Status::kOk, std::string("init of type 0 failed"));
  const testing::PageBuf page = testing::TextPage(7);
  const Status s = b.Store(0, 1, page.data());
  if (s != Status::kOk) {
    // A quota or a compressed-only config may reject it; that is a legal answer.
    FUZZ_CHECK(s == Status::kNoSpace || s == Status::kNoMemory,
               std::string("a store answered ") + StatusName(s));
    return;
  }
  testing::PageBuf out{};
  FUZZ_CHECK(b.Load(0, 1, out.data()) == Status::kOk && out == page,
             std::string("a page stored in a freshly opened backend did not load back"));
}

}  // namespace
}  // namespace tierswap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tierswap;
  using namespace tierswap::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Config> parsed = Config::FromString(text, kSource);
  if (!parsed) {
    const Error& e = parsed.error();
    if (Verbose()) std::fprintf(stderr, "refused: %s\n", e.message.c_str());
    FUZZ_CHECK(NamesTheSource(e.message), "a refusal does not name the source: " + e.message);
    FUZZ_CHECK(e.message.size() > kSource.size() + 2, "a refusal says nothing: " + e.message);
    return 0;
  }
  Config config = std::move(parsed).value();
  FUZZ_CHECK(config.source == kSource,
             "the parsed config names its source '" + config.source + "'");
  CheckParsed(config);
  Bound(&config);
  OpenAndUse(config);
  return 0;
}
