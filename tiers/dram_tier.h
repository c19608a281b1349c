// DramTier: pages kept in local DRAM, one 4 KiB frame each.
//
// The fastest tier and the baseline every other tier is compared with. Capacity is fixed at
// open (the arena is mapped and, by default, pre-faulted then); store and load are one memcpy
// plus a lock-free bitmap allocation.
//
// Thread-safety: as Tier.
#ifndef TIERSWAP_TIERS_DRAM_TIER_H_
#define TIERSWAP_TIERS_DRAM_TIER_H_

#include <memory>
#include <string>

#include "tiers/frame_allocator.h"
#include "tiers/frame_arena.h"
#include "tiers/result.h"
#include "tiers/tier.h"

namespace tierswap {

struct DramTierOptions {
  std::string name = "dram";
  // Bytes of page frames; rounded down to a multiple of 4 KiB. Must hold at least one page.
  uint64_t capacity_bytes = 256ull << 20;
  // Touch every frame at open so the first stores do not pay for page faults.
  bool prefault = true;
};

class DramTier final : public Tier {
 public:
  static Result<std::unique_ptr<DramTier>> Open(const DramTierOptions& options);

  // The frame number a handle refers to (tests and the conformance suite use it).
  static uint32_t FrameOf(TierHandle h) { return static_cast<uint32_t>(h); }
  // Address of a frame: for tests that corrupt or inspect memory behind the tier's back.
  unsigned char* FrameAddress(TierHandle h) const { return arena_.frame(FrameOf(h)); }

 protected:
  Status DoStore(const void* page, TierHandle* handle) override;
  Status DoLoad(TierHandle handle, void* page) override;
  void DoFree(TierHandle handle) override;
  uint64_t DoCapacityBytes() const override { return arena_.bytes(); }
  uint64_t DoUsedBytes() const override { return uint64_t{alloc_.used()} * kPageSize; }
  size_t DoMetadataBytes() const override { return alloc_.MetadataBytes(); }

 private:
  DramTier(std::string name, FrameArena arena);

  FrameArena arena_;
  FrameAllocator alloc_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_DRAM_TIER_H_
