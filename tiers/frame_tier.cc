#include "tiers/frame_tier.h"

#include <cstring>

#include "tiers/fault_injection.h"
#include "tiers/page_copy.h"

namespace tierswap {

FrameTier::FrameTier(std::string name, TierKind kind, FrameArena arena)
    : Tier(std::move(name), kind),
      arena_(std::move(arena)),
      alloc_(static_cast<uint32_t>(arena_.bytes() >> kPageShift)) {
  EnableHintPrefetch(arena_.base(), alloc_.frames());
  EnableOverwrite();
}

Status FrameTier::DoStore(const void* page, TierHandle* handle) {
  const uint32_t frame =
      TIERSWAP_INJECT_FAULT(FaultSite::kFrameAlloc) ? FrameAllocator::kNoFrame : alloc_.Allocate();
  if (frame == FrameAllocator::kNoFrame) return Status::kNoSpace;
  CopyPageToFrame(arena_.frame(frame), page);
  *handle = frame;
  return Status::kOk;
}

Status FrameTier::DoStoreHinted(const void* page, uint64_t hint, TierHandle* handle) {
  const uint32_t frame = TIERSWAP_INJECT_FAULT(FaultSite::kFrameAlloc)
                             ? FrameAllocator::kNoFrame
                             : alloc_.Allocate(HintFrame(hint, alloc_.frames()));
  if (frame == FrameAllocator::kNoFrame) return Status::kNoSpace;
  CopyPageToFrame(arena_.frame(frame), page);
  *handle = frame;
  return Status::kOk;
}

Status FrameTier::DoOverwrite(TierHandle handle, const void* page) {
  CopyPageToFrame(arena_.frame(FrameOf(handle)), page);
  return Status::kOk;
}

Status FrameTier::DoLoad(TierHandle handle, void* page) {
  std::memcpy(page, arena_.frame(FrameOf(handle)), kPageSize);
  return Status::kOk;
}

void FrameTier::DoFree(TierHandle handle) {
  // Before the free: once the allocator has the frame, another store may own it.
  if (scrub_on_free()) std::memset(arena_.frame(FrameOf(handle)), 0, kPageSize);
  alloc_.Free(FrameOf(handle));
}

}  // namespace tierswap
