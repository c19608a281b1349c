// LockedSlot: one swap slot's entry, held locked — the only way anything changes where a page
// lives. Every site that touches a slot (a store, a load, an invalidation, the mover's copy and
// publish, a writeback's drop) follows the same protocol through it:
//
//   LockedSlot slot(entry, tiers);          1. lock, and decode the control word
//   slot.kind(), slot.gen(), slot.payload() 2. read what the slot holds
//   slot.Publish(location) / slot.Drop()    3. change it: the next generation, same policy bits
//   slot.set_policy(bits)                      (policy bits change without a new generation)
//   slot.Unlock() or ~LockedSlot            4. publish the control word and unlock, then
//                                              5. release what the slot no longer holds
//
// Step 5 comes after the unlock on purpose: freeing a tier handle may take a tier's own locks,
// and no tier lock is ever taken under an entry lock. It is also the only safe moment: once the
// new control word is published no reader can reach the old location, and readers of the old
// one held the entry lock, so nobody is reading the frame being freed. A location that never
// became visible (a copy that lost a race) is released the same way (ReleaseAfterUnlock).
//
// The generation (bits 16-31 of the control word) changes with every Publish, Drop and
// MarkRewritten: a mover that copied a page without the lock checks it before publishing a new
// location, so a store, an invalidation or an area reset that ran meanwhile wins (zswap's
// writeback lesson, docs/design.md).
//
// Thread-safety: a LockedSlot is one thread's; it holds the slot's entry lock for its lifetime
// (or until Unlock). Never hold two at once: entry locks are not ordered.
#ifndef TIERSWAP_PLACEMENT_LOCKED_SLOT_H_
#define TIERSWAP_PLACEMENT_LOCKED_SLOT_H_

#include <cassert>
#include <cstdint>

#include "placement/page_entry.h"
#include "tiers/tier.h"

namespace tierswap {

// Where a slot's page lives.
struct SlotLocation {
  EntryKind kind = EntryKind::kEmpty;
  unsigned tier = 0;     // kind == kOnTier
  uint64_t payload = 0;  // the tier's handle, or the fill value of a same-filled page
  bool empty() const { return kind == EntryKind::kEmpty; }
};

class LockedSlot {
 public:
  // Locks `entry`. `tiers` (indexed like the control word's tier field) frees what the slot
  // stops holding.
  LockedSlot(PageEntry& entry, Tier* const* tiers)
      : entry_(entry), tiers_(tiers), ctl_(entry.Lock()) {}
  ~LockedSlot() {
    if (held_) Unlock();
  }
  LockedSlot(const LockedSlot&) = delete;
  LockedSlot& operator=(const LockedSlot&) = delete;

  EntryKind kind() const { return Ctl::Kind(ctl_); }
  unsigned tier() const { return Ctl::Tier(ctl_); }
  bool empty() const { return kind() == EntryKind::kEmpty; }
  // Whether the slot holds a page on tier `t`.
  bool OnTier(unsigned t) const { return kind() == EntryKind::kOnTier && tier() == t; }
  uint64_t payload() const { return empty() ? 0 : entry_.payload(); }
  uint32_t gen() const { return Ctl::Gen(ctl_); }
  uint32_t policy() const { return Ctl::Policy(ctl_); }
  SlotLocation location() const { return SlotLocation{kind(), tier(), payload()}; }

  // The placement policy's bits (placement/policy.h). Not a change of the page: no new
  // generation.
  void set_policy(uint32_t bits) { ctl_ = Ctl::WithPolicy(ctl_, bits); }

  // The slot now holds `loc` (a new generation). Returns what it held; that is released after
  // the unlock.
  SlotLocation Publish(const SlotLocation& loc) {
    const SlotLocation old = location();
    entry_.set_payload(loc.payload);
    ctl_ = Ctl::Next(ctl_, loc.kind, loc.tier);
    assert(release_.empty());
    release_ = old;
    return old;
  }
  // The slot holds nothing (a new generation, if it held a page). Returns what it held; that is
  // released after the unlock. `forget` also clears the policy bits: the slot was freed, and the
  // next page stored in it is another page.
  SlotLocation Drop(bool forget = false) {
    const SlotLocation old = location();
    if (!old.empty()) {
      entry_.set_payload(0);
      ctl_ = Ctl::Next(ctl_, EntryKind::kEmpty, 0);
      assert(release_.empty());
      release_ = old;
    }
    if (forget) ctl_ = Ctl::WithPolicy(ctl_, 0);
    return old;
  }
  // The page was replaced in place (same location, new bytes): a new generation, so a mover
  // that copied the old bytes does not publish them.
  void MarkRewritten() { ctl_ = Ctl::Next(ctl_, kind(), tier()); }
  // `loc`, which the slot never held, is released after the unlock (a copy that lost a race,
  // or a page placed for a store that is not published).
  void ReleaseAfterUnlock(const SlotLocation& loc) {
    assert(release_.empty());
    release_ = loc;
  }

  // Publishes the control word, unlocks, then releases what the slot stopped holding.
  void Unlock() {
    entry_.Unlock(ctl_);
    held_ = false;
    if (release_.kind == EntryKind::kOnTier) tiers_[release_.tier]->Free(release_.payload);
  }

 private:
  PageEntry& entry_;
  Tier* const* const tiers_;
  uint32_t ctl_;
  bool held_ = true;
  SlotLocation release_;  // freed after the unlock
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_LOCKED_SLOT_H_
