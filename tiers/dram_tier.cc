#include "tiers/dram_tier.h"

#include <cstring>

namespace tierswap {

DramTier::DramTier(std::string name, FrameArena arena)
    : Tier(std::move(name), TierKind::kDram),
      arena_(std::move(arena)),
      alloc_(static_cast<uint32_t>(arena_.bytes() >> kPageShift)) {}

Result<std::unique_ptr<DramTier>> DramTier::Open(const DramTierOptions& options) {
  const uint64_t bytes = options.capacity_bytes / kPageSize * kPageSize;
  const std::string what = "tier '" + options.name + "'";
  if (bytes == 0) {
    return MakeError(Status::kInvalidArgument,
                     what + ": capacity " + std::to_string(options.capacity_bytes) +
                         " bytes holds no 4 KiB page");
  }
  if ((bytes >> kPageShift) >= FrameAllocator::kNoFrame) {
    return MakeError(Status::kInvalidArgument,
                     what + ": capacity " + std::to_string(bytes) + " bytes exceeds the 16 TiB limit");
  }
  auto arena = FrameArena::Map(bytes, options.prefault, what);
  if (!arena) return arena.take_error();
  return std::unique_ptr<DramTier>(new DramTier(options.name, std::move(arena).value()));
}

Status DramTier::DoStore(const void* page, TierHandle* handle) {
  const uint32_t frame = alloc_.Allocate();
  if (frame == FrameAllocator::kNoFrame) return Status::kNoSpace;
  std::memcpy(arena_.frame(frame), page, kPageSize);
  *handle = frame;
  return Status::kOk;
}

Status DramTier::DoLoad(TierHandle handle, void* page) {
  std::memcpy(page, arena_.frame(FrameOf(handle)), kPageSize);
  return Status::kOk;
}

void DramTier::DoFree(TierHandle handle) { alloc_.Free(FrameOf(handle)); }

}  // namespace tierswap
