#include "placement/page_mover.h"

#include "placement/locked_slot.h"
#include "placement/policy.h"

namespace tierswap {

MoveOutcome CopyPageOut(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                        uint64_t offset, unsigned from, void* buf, uint32_t* gen,
                        TierHandle* handle) {
  PageEntry* e = index.Find(type, offset);
  if (e == nullptr) return MoveOutcome::kGone;
  LockedSlot slot(*e, tiers.data());
  if (!slot.OnTier(from)) return MoveOutcome::kGone;
  *gen = slot.gen();
  *handle = slot.payload();
  // Copy under the lock: a concurrent store or invalidate would free this handle.
  const Status s = tiers[from]->MoveOut(*handle, buf);
  return s == Status::kOk ? MoveOutcome::kMoved : MoveOutcome::kIoError;
}

MoveOutcome MovePage(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                     uint64_t offset, unsigned from, unsigned to, uint64_t hint, bool promotion,
                     void* buf) {
  PageEntry* e = index.Find(type, offset);
  if (e == nullptr) return MoveOutcome::kGone;
  uint32_t gen;
  TierHandle old_handle;
  {
    // 1. Copy the page out under the lock, so that its frame cannot be freed and reused mid-copy.
    LockedSlot slot(*e, tiers.data());
    if (!slot.OnTier(from)) return MoveOutcome::kGone;
    gen = slot.gen();
    old_handle = slot.payload();
    if (tiers[from]->MoveOut(old_handle, buf) != Status::kOk) {
      return MoveOutcome::kIoError;
    }
  }
  // 2. Store the copy on `to` without the lock; loads keep reading the old copy meanwhile.
  TierHandle new_handle;
  if (tiers[to]->MoveIn(buf, &new_handle, hint) != Status::kOk) {
    return MoveOutcome::kNoRoom;
  }
  // 3. Publish only if nothing changed the slot since step 1; otherwise the change wins.
  LockedSlot slot(*e, tiers.data());
  if (slot.gen() != gen || !slot.OnTier(from) || slot.payload() != old_handle) {
    slot.ReleaseAfterUnlock(SlotLocation{EntryKind::kOnTier, to, new_handle});
    return MoveOutcome::kRaced;
  }
  // A promoted page's load count restarts: the mover pins a promoted page only if it is loaded
  // again after moving up. Counting loads over the page's whole life pinned every page that had
  // ever been loaded twice, however long ago, and such pages kept new hot pages out.
  if (promotion) slot.set_policy(slot.policy() & ~page_bits::kLoadCountMask);
  slot.Publish(SlotLocation{EntryKind::kOnTier, to, new_handle});  // frees the old copy
  return MoveOutcome::kMoved;
}

}  // namespace tierswap
