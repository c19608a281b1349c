#include "tiers/dram_tier.h"

#include "tiers/tier_capacity.h"

namespace tierswap {

Result<std::unique_ptr<DramTier>> DramTier::Open(const DramTierOptions& options) {
  const std::string what = "tier '" + options.name + "'";
  auto bytes = CheckTierCapacity(TierKind::kDram, options.capacity_bytes, what);
  if (!bytes) return bytes.take_error();
  auto arena = FrameArena::Map(*bytes, options.prefault, what);
  if (!arena) return arena.take_error();
  return std::unique_ptr<DramTier>(new DramTier(options.name, std::move(arena).value()));
}

}  // namespace tierswap
