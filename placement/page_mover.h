// MovePage: moves one page between tiers without ever exposing a torn or stale page.
//
// The protocol (zswap's writeback lesson: copy, then re-check the entry's identity, then act):
//   1. lock the slot's entry; if it no longer holds a page on `from`, stop; remember its
//      generation and handle; copy the page out of `from` while still holding the lock (so the
//      frame cannot be freed and reused mid-copy); unlock;
//   2. store the copy on `to` (no lock held: this is the slow part, and loads of the slot keep
//      reading the old copy meanwhile);
//   3. lock the entry again; publish the new location only if generation, tier and handle are
//      unchanged; otherwise a store, invalidate or invalidate_area won the race: free the new
//      copy and report kRaced. Then free the old copy.
// A racing load either ran before step 3 (it read the old copy, still valid) or after it (the
// new one). Nothing but the mover moves pages, and the mover is one thread (or a caller of an
// evacuation, serialised with it).
//
// Every step goes through the slot protocol (placement/locked_slot.h).
//
// Thread-safety: safe against concurrent store/load/invalidate of the same slot.
#ifndef TIERSWAP_PLACEMENT_PAGE_MOVER_H_
#define TIERSWAP_PLACEMENT_PAGE_MOVER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "placement/page_index.h"
#include "tiers/tier.h"

namespace tierswap {

enum class MoveOutcome : uint8_t {
  kMoved,    // the page now lives on `to`
  kGone,     // the slot holds no page on `from` (nothing to do)
  kRaced,    // the slot changed during the copy; the new copy was discarded
  kNoRoom,   // `to` refused the page (full, or it declined it)
  kIoError,  // `from` could not return the page
};

// Moves the page of (type, offset) from tier `from` to tier `to`. `buf` is a 4 KiB scratch
// buffer. `promotion` says which way it moves: a promoted page's load count restarts.
MoveOutcome MovePage(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                     uint64_t offset, unsigned from, unsigned to, uint64_t hint, bool promotion,
                     void* buf);

// Step 1 alone: copies the page of (type, offset) on tier `from` into `buf` and returns its
// generation and handle, for a writeback that hands the page to the guest. kGone, kIoError or
// kMoved (meaning: copied).
MoveOutcome CopyPageOut(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                        uint64_t offset, unsigned from, void* buf, uint32_t* gen,
                        TierHandle* handle);

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_PAGE_MOVER_H_
