#include "frontend/backend_factory.h"

#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"
#include "tiers/numa_tier.h"
#include "tiers/numa_topology.h"
#include "tiers/pmem_tier.h"

namespace tierswap {
namespace {

// Upcasts a Result<unique_ptr<Derived>>.
template <typename T>
Result<std::unique_ptr<Tier>> AsTier(Result<std::unique_ptr<T>> r) {
  if (!r) return r.take_error();
  return std::unique_ptr<Tier>(std::move(r).value());
}

Result<std::unique_ptr<Tier>> OpenCompressed(const TierConfig& tc) {
  CompressedTierOptions o;
  o.name = tc.name;
  o.codec = tc.codec == "zstd" ? Codec::kZstd : Codec::kLz4;
  o.level = tc.level;
  o.capacity_bytes = tc.capacity_bytes;
  o.max_compressed_fraction = tc.max_compressed_fraction;
  o.prefault = tc.prefault;
  if (tc.backing == "numa") {
    const int node = tc.node;
    o.backing_node = node;
    const std::string what = "tier '" + tc.name + "'";
    o.bind_backing = [node, what](FrameArena& arena) -> Result<void> {
      // The same checks a numa tier makes: the node exists and has room, or we say what exists.
      auto nodes = DiscoverNumaNodes();
      if (!nodes) return nodes.take_error();
      for (const NumaNode& n : *nodes) {
        if (n.id != node) continue;
        if (arena.bytes() > n.free_bytes) {
          return MakeError(Status::kNoMemory,
                           what + ": backing of " + std::to_string(arena.bytes()) +
                               " bytes exceeds the " + std::to_string(n.free_bytes) +
                               " bytes free on NUMA node " + std::to_string(node) + " (" +
                               DescribeNumaNodes(*nodes) + ")");
        }
        return BindToNode(arena.base(), arena.bytes(), node, what);
      }
      return MakeError(Status::kInvalidArgument, what + ": NUMA node " + std::to_string(node) +
                                                     " does not exist (" +
                                                     DescribeNumaNodes(*nodes) + ")");
    };
  }
  return AsTier(CompressedTier::Open(o));
}

}  // namespace

Result<std::unique_ptr<Tier>> OpenTier(const TierConfig& tc, const std::string& source) {
  Result<std::unique_ptr<Tier>> tier = MakeError(Status::kInvalidArgument, "");
  switch (tc.kind) {
    case TierKind::kDram:
      tier = AsTier(DramTier::Open(DramTierOptions{tc.name, tc.capacity_bytes, tc.prefault}));
      break;
    case TierKind::kNuma:
      tier = AsTier(NumaTier::Open(NumaTierOptions{tc.name, tc.node, tc.capacity_bytes}));
      break;
    case TierKind::kPmem: {
      PmemTierOptions o;
      o.name = tc.name;
      o.path = tc.path;
      o.capacity_bytes = tc.capacity_bytes;
      o.persist = tc.persist;
      o.prefault = tc.prefault;
      tier = AsTier(PmemTier::Open(o));
      break;
    }
    case TierKind::kCompressed:
      tier = OpenCompressed(tc);
      break;
  }
  if (!tier) {
    Error e = tier.take_error();
    // Point at the config line as well as the tier.
    if (tc.line > 0) e.message = source + ":" + std::to_string(tc.line) + ": " + e.message;
    return e;
  }
  (*tier)->SetEmulation(tc.emulation);
  if (tc.checksum) {
    if (Result<void> r = (*tier)->EnableChecksums(); !r) {
      Error e = r.take_error();
      if (tc.line > 0) e.message = source + ":" + std::to_string(tc.line) + ": " + e.message;
      return e;
    }
  }
  return tier;
}

Result<std::vector<std::unique_ptr<Tier>>> OpenTiers(const Config& config) {
  std::vector<std::unique_ptr<Tier>> tiers;
  for (const TierConfig& tc : config.tiers) {
    auto t = OpenTier(tc, config.source);
    if (!t) return t.take_error();
    tiers.push_back(std::move(t).value());
  }
  return tiers;
}

BackendOptions BackendOptionsOf(const Config& config) {
  BackendOptions options;
  options.exclusive_loads = config.exclusive_loads;
  options.placement = config.placement;
  options.quotas.assign(config.quotas.begin(), config.quotas.end());
  options.latency_histograms = config.stats.latency_histograms;
  options.scrub_on_free = config.scrub_on_free;
  return options;
}

Result<std::unique_ptr<Backend>> OpenBackend(const Config& config) {
  auto tiers = OpenTiers(config);
  if (!tiers) return tiers.take_error();
  return Backend::Open(std::move(tiers).value(), BackendOptionsOf(config));
}

}  // namespace tierswap
