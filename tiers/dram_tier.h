// DramTier: pages kept in local DRAM, one 4 KiB frame each.
//
// The fastest tier and the baseline every other tier is compared with. Capacity is fixed at
// open (the arena is mapped and, by default, pre-faulted then); store and load are one memcpy
// plus a lock-free bitmap allocation (FrameTier).
//
// Thread-safety: as Tier.
#ifndef TIERSWAP_TIERS_DRAM_TIER_H_
#define TIERSWAP_TIERS_DRAM_TIER_H_

#include <memory>
#include <string>

#include "tiers/frame_tier.h"
#include "tiers/result.h"

namespace tierswap {

struct DramTierOptions {
  std::string name = "dram";
  // Bytes of page frames; rounded down to a multiple of 4 KiB. Must hold at least one page.
  uint64_t capacity_bytes = 256ull << 20;
  // Touch every frame at open so the first stores do not pay for page faults.
  bool prefault = true;
};

class DramTier final : public FrameTier {
 public:
  static Result<std::unique_ptr<DramTier>> Open(const DramTierOptions& options);

 private:
  DramTier(std::string name, FrameArena arena)
      : FrameTier(std::move(name), TierKind::kDram, std::move(arena)) {}
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_DRAM_TIER_H_
