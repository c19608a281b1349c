#include "tiers/numa_tier.h"

#include <numa.h>

#include "tiers/fault_injection.h"
#include "tiers/numa_topology.h"
#include "tiers/tier_capacity.h"

namespace tierswap {
namespace {

std::string MiB(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB (" + std::to_string(bytes) + " bytes)";
}

}  // namespace

NumaTier::NumaTier(std::string name, int node, FrameArena arena, uint64_t misplaced)
    : FrameTier(std::move(name), TierKind::kNuma, std::move(arena)),
      node_(node),
      verified_frames_(this->arena().bytes() / kPageSize),
      misplaced_frames_(misplaced) {}

Result<std::unique_ptr<NumaTier>> NumaTier::Open(const NumaTierOptions& options) {
  const std::string what = "tier '" + options.name + "'";
  auto bytes = CheckTierCapacity(TierKind::kNuma, options.capacity_bytes, what);
  if (!bytes) return bytes.take_error();
  auto nodes = DiscoverNumaNodes();
  if (!nodes) {
    return MakeError(nodes.error().code, what + ": cannot use NUMA node " +
                                             std::to_string(options.node) + ": " +
                                             nodes.error().message);
  }
  const NumaNode* node = nullptr;
  for (const NumaNode& n : *nodes) {
    if (n.id == options.node) node = &n;
  }
  if (node == nullptr) {
    return MakeError(Status::kInvalidArgument,
                     what + ": NUMA node " + std::to_string(options.node) + " does not exist (" +
                         DescribeNumaNodes(*nodes) + ")");
  }
  bitmask* allowed = numa_get_mems_allowed();
  const bool may_allocate = numa_bitmask_isbitset(allowed, options.node) != 0;
  numa_bitmask_free(allowed);
  if (!may_allocate) {
    return MakeError(Status::kInvalidArgument,
                     what + ": NUMA node " + std::to_string(options.node) +
                         " exists but this process may not allocate on it (its cpuset's "
                         "mems_allowed excludes the node; " +
                         DescribeNumaNodes(*nodes) + ")");
  }
  // The guard that matters: with MPOL_BIND, a fault the node cannot serve does not fail
  // gracefully (no SIGBUS, no error code). The kernel runs the OOM killer instead, which while
  // pre-faulting would most likely kill this process. So refuse before mapping anything. The
  // check is necessary, not sufficient: others may allocate on the node meanwhile.
  if (*bytes > node->free_bytes) {
    return MakeError(Status::kNoMemory, what + ": capacity " + MiB(*bytes) + " exceeds the " +
                                            MiB(node->free_bytes) + " free on NUMA node " +
                                            std::to_string(options.node) + " (" +
                                            DescribeNumaNodes(*nodes) + ")");
  }
  auto arena = FrameArena::Map(*bytes, /*prefault=*/false, what);
  if (!arena) return arena.take_error();
  // Bind before the first touch, so that no frame is ever faulted in on another node.
  if (auto bound = TIERSWAP_INJECT_FAULT(FaultSite::kNumaBind)
                       ? Result<void>(InjectedError(FaultSite::kNumaBind, what))
                       : BindToNode(arena->base(), arena->bytes(), options.node, what);
      !bound) {
    return bound.take_error();
  }
  // Always pre-fault: an untouched frame has no node yet, so placement could not be verified,
  // and first-touch cost must not land on the store path anyway.
  arena->Prefault();
  auto misplaced = TIERSWAP_INJECT_FAULT(FaultSite::kNumaBind)
                       ? Result<uint64_t>(InjectedError(FaultSite::kNumaBind, "move_pages"))
                       : CountMisplacedPages(arena->base(), arena->bytes(), options.node);
  if (!misplaced) return MakeError(misplaced.error().code, what + ": " + misplaced.error().message);
  return std::unique_ptr<NumaTier>(
      new NumaTier(options.name, options.node, std::move(arena).value(), *misplaced));
}

Result<uint64_t> NumaTier::Verify() {
  auto misplaced = TIERSWAP_INJECT_FAULT(FaultSite::kNumaBind)
                       ? Result<uint64_t>(InjectedError(FaultSite::kNumaBind, "move_pages"))
                       : CountMisplacedPages(arena().base(), arena().bytes(), node_);
  if (!misplaced) {
    return MakeError(misplaced.error().code, "tier '" + name() + "': " + misplaced.error().message);
  }
  misplaced_frames_.store(*misplaced, std::memory_order_relaxed);
  return *misplaced;
}

void NumaTier::DoExportStats(StatsSink& sink) const {
  sink.Gauge("node", static_cast<uint64_t>(node_));
  sink.Gauge("verified_frames", verified_frames_);
  sink.Gauge("misplaced_frames", misplaced_frames());
}

}  // namespace tierswap
