// FrameTier: a tier that keeps each page raw in one 4 KiB frame of a FrameArena.
//
// The common body of DramTier (local memory) and NumaTier (memory bound to one node): store is
// a lock-free frame allocation plus one streaming copy (tiers/page_copy.h), load is one memcpy.
// Pages go to the frame their slot's hint names when it is free, so that a load can prefetch
// the frame before it has read the index (Tier::Prefetch); a duplicate store overwrites the
// frame in place, which keeps the page where the hint says. Subclasses only decide where
// the arena's memory comes from (Open) and what extra statistics they report. A handle is the
// frame number, so checksums index by it; with scrub_on_free a frame is zeroed before it is
// returned to the allocator.
//
// Thread-safety: as Tier.
#ifndef TIERSWAP_TIERS_FRAME_TIER_H_
#define TIERSWAP_TIERS_FRAME_TIER_H_

#include <string>

#include "tiers/frame_allocator.h"
#include "tiers/frame_arena.h"
#include "tiers/tier.h"

namespace tierswap {

class FrameTier : public Tier {
 public:
  // The frame number a handle refers to.
  static uint32_t FrameOf(TierHandle h) { return static_cast<uint32_t>(h); }
  // Address of a frame: for tests that corrupt or inspect memory behind the tier's back.
  unsigned char* FrameAddress(TierHandle h) const { return arena_.frame(FrameOf(h)); }
  unsigned char* DirectAddress(TierHandle h) const override { return FrameAddress(h); }

 protected:
  FrameTier(std::string name, TierKind kind, FrameArena arena);

  Status DoStore(const void* page, TierHandle* handle) override;
  Status DoStoreHinted(const void* page, uint64_t hint, TierHandle* handle) override;
  Status DoOverwrite(TierHandle handle, const void* page) override;
  Status DoLoad(TierHandle handle, void* page) override;
  void DoFree(TierHandle handle) override;
  uint64_t DoCapacityBytes() const override { return arena_.bytes(); }
  uint64_t DoUsedBytes() const override { return uint64_t{alloc_.used()} * kPageSize; }
  size_t DoMetadataBytes() const override { return alloc_.MetadataBytes(); }
  uint64_t DoHandleSpace() const override { return alloc_.frames(); }

  const FrameArena& arena() const { return arena_; }

 private:
  FrameArena arena_;
  FrameAllocator alloc_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_FRAME_TIER_H_
