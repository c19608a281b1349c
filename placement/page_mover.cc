#include "placement/page_mover.h"

#include "placement/policy.h"

namespace tierswap {

MoveOutcome CopyPageOut(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                        uint64_t offset, unsigned from, void* buf, uint32_t* gen,
                        TierHandle* handle) {
  PageEntry* e = index.Find(type, offset);
  if (e == nullptr) return MoveOutcome::kGone;
  const uint32_t ctl = e->Lock();
  if (Ctl::Kind(ctl) != EntryKind::kOnTier || Ctl::Tier(ctl) != from) {
    e->Unlock(ctl);
    return MoveOutcome::kGone;
  }
  *gen = Ctl::Gen(ctl);
  *handle = e->payload();
  // Copy under the lock: a concurrent store or invalidate would free this handle.
  const Status s = tiers[from]->MoveOut(*handle, buf, /*promotion=*/false);
  e->Unlock(ctl);
  return s == Status::kOk ? MoveOutcome::kMoved : MoveOutcome::kIoError;
}

MoveOutcome MovePage(PageIndex& index, const std::vector<Tier*>& tiers, unsigned type,
                     uint64_t offset, unsigned from, unsigned to, uint64_t hint, bool promotion,
                     void* buf) {
  PageEntry* e = index.Find(type, offset);
  if (e == nullptr) return MoveOutcome::kGone;
  uint32_t ctl = e->Lock();
  if (Ctl::Kind(ctl) != EntryKind::kOnTier || Ctl::Tier(ctl) != from) {
    e->Unlock(ctl);
    return MoveOutcome::kGone;
  }
  const uint32_t gen = Ctl::Gen(ctl);
  const TierHandle old_handle = e->payload();
  const Status out = tiers[from]->MoveOut(old_handle, buf, promotion);
  e->Unlock(ctl);
  if (out != Status::kOk) return MoveOutcome::kIoError;

  TierHandle new_handle;
  if (tiers[to]->MoveIn(buf, &new_handle, hint, promotion) != Status::kOk) {
    return MoveOutcome::kNoRoom;
  }

  ctl = e->Lock();
  if (Ctl::Gen(ctl) != gen || Ctl::Kind(ctl) != EntryKind::kOnTier || Ctl::Tier(ctl) != from ||
      e->payload() != old_handle) {
    e->Unlock(ctl);
    tiers[to]->Free(new_handle);
    return MoveOutcome::kRaced;
  }
  e->set_payload(new_handle);
  uint32_t moved = Ctl::Next(ctl, EntryKind::kOnTier, to);
  // A promoted page's load count restarts: the mover pins a promoted page only if it is loaded
  // again after moving up. Counting loads over the page's whole life pinned every page that had
  // ever been loaded twice, however long ago, and such pages kept new hot pages out.
  if (promotion) {
    moved = Ctl::WithPolicy(moved, Ctl::Policy(moved) & ~page_bits::kLoadCountMask);
  }
  e->Unlock(moved);
  tiers[from]->Free(old_handle);
  return MoveOutcome::kMoved;
}

}  // namespace tierswap
