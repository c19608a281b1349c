#include "tiers/tier_capacity.h"

#include "tiers/compressed_tier.h"
#include "tiers/frame_allocator.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

// "16 TiB - 4 KiB": the limits are a page short of a power of two, which is how people remember
// them; the minimums are whole units ("16 KiB").
std::string Approximately(uint64_t bytes) {
  static constexpr struct {
    const char* name;
    unsigned shift;
  } kUnits[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  for (const auto& u : kUnits) {
    const uint64_t unit = uint64_t{1} << u.shift;
    const uint64_t whole = bytes + kPageSize;
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + " " + u.name;
    if (u.shift > 12 && whole % unit == 0) {
      return std::to_string(whole / unit) + " " + u.name + " - 4 KiB";
    }
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace

uint64_t MinTierBytes(TierKind kind) {
  return kind == TierKind::kCompressed ? CompressedTier::kMinFrames * kPageSize : kPageSize;
}

uint64_t MaxTierBytes(TierKind kind) {
  if (kind == TierKind::kCompressed) return CompressedTier::kMaxFrames * kPageSize;
  // Frames 0 .. kNoFrame - 1: every one of them is a number other than kNoFrame.
  return uint64_t{FrameAllocator::kNoFrame} * kPageSize;
}

Result<uint64_t> CheckTierCapacity(TierKind kind, uint64_t bytes) {
  const uint64_t rounded = bytes / kPageSize * kPageSize;
  const uint64_t min = MinTierBytes(kind);
  const uint64_t max = MaxTierBytes(kind);
  if (rounded < min) {
    return MakeError(Status::kInvalidArgument, "a capacity of " + std::to_string(bytes) +
                                                   " bytes is less than a " + TierKindName(kind) +
                                                   " tier needs (at least " + std::to_string(min) +
                                                   " bytes, " + Approximately(min) + ")");
  }
  if (rounded > max) {
    return MakeError(Status::kInvalidArgument,
                     "a capacity of " + std::to_string(bytes) + " bytes is more than a " +
                         TierKindName(kind) + " tier can hold (at most " + std::to_string(max) +
                         " bytes, " + Approximately(max) + ")");
  }
  return rounded;
}

Result<uint64_t> CheckTierCapacity(TierKind kind, uint64_t bytes, std::string_view what) {
  Result<uint64_t> r = CheckTierCapacity(kind, bytes);
  if (!r) return MakeError(r.error().code, std::string(what) + ": " + r.error().message);
  return r;
}

}  // namespace tierswap
