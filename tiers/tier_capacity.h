// The capacities a tier can have, decided in one place.
//
// A frame tier (dram, numa, pmem) numbers its 4 KiB frames with 32 bits (FrameAllocator), one
// number of which means "no frame": it holds at most 2^32 - 1 frames, 16 TiB - 4 KiB
// (17592186040320 bytes). A compressed tier gives each 32 bytes of its capacity a 32-bit handle
// id (CompressedTier), so it holds at most 2^25 - 1 frames of 4 KiB, 128 GiB - 4 KiB
// (137438949376 bytes), and at least 4. The config loader refuses a capacity outside these at
// its line (docs/config.md states the same figures); each tier's Open checks again, with the same
// function, for callers that fill options in by hand.
//
// Thread-safety: pure functions.
#ifndef TIERSWAP_TIERS_TIER_CAPACITY_H_
#define TIERSWAP_TIERS_TIER_CAPACITY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "tiers/result.h"
#include "tiers/tier.h"

namespace tierswap {

// The least and the most bytes a tier of `kind` can hold (both whole pages).
uint64_t MinTierBytes(TierKind kind);
uint64_t MaxTierBytes(TierKind kind);

// `bytes` rounded down to whole 4 KiB pages, or kInvalidArgument with a sentence that says which
// limit it misses and by how much ("capacity 17592186044416 bytes is more than a dram tier can
// hold (at most 17592186040320 bytes, 16 TiB - 4 KiB)"). The sentence does not name the tier:
// callers prefix it with where the capacity came from.
Result<uint64_t> CheckTierCapacity(TierKind kind, uint64_t bytes);
// The same, with the sentence prefixed by "<what>: " (a tier's Open passes "tier 'x'").
Result<uint64_t> CheckTierCapacity(TierKind kind, uint64_t bytes, std::string_view what);

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_TIER_CAPACITY_H_
