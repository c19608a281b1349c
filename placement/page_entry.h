// PageEntry: where one swap slot's page lives, and the lock that orders everything done to it.
//
// 12 bytes per slot (the whole per-page metadata budget, see docs/design.md):
//   ctl  (32 bits)  bit 0      lock
//                   bits 1-2   kind: empty, on a tier, same-filled (value kept in the payload)
//                   bits 3-7   tier index (kind == kOnTier)
//                   bits 8-15  policy state, owned by the placement policy (hotness, refault, ...)
//                   bits 16-31 generation: bumped on every change of kind/tier/payload, so a
//                              background mover can tell that the entry it copied has changed
//   payload (64 bits, two 32-bit halves): the tier's handle, or the fill value.
//
// Locking: a per-entry spin lock (bit 0 of ctl). The kernel never runs store, load and
// invalidate for the same slot concurrently, so the lock is uncontended unless a background
// mover or a misbehaving caller touches the slot; different slots never share a lock. The lock
// is held across the page copy of a load, which is what makes "old or new page, whole" hold
// when a load races a store to the same slot, and what keeps a frame from being freed while it
// is read.
//
// Memory order: Lock is a seq_cst CAS (on x86 the same instruction as acquire), Unlock a release
// store. The seq_cst matters to InvalidateArea, which must not miss a store racing with it
// (see PageIndex::BeginInvalidateArea).
#ifndef TIERSWAP_PLACEMENT_PAGE_ENTRY_H_
#define TIERSWAP_PLACEMENT_PAGE_ENTRY_H_

#include <atomic>
#include <cstdint>

namespace tierswap {

enum class EntryKind : uint32_t { kEmpty = 0, kOnTier = 1, kSameFilled = 2 };

// Decoded view of a control word.
struct Ctl {
  static constexpr uint32_t kLockBit = 1u;
  static constexpr uint32_t kKindShift = 1, kKindMask = 0x3u << kKindShift;
  static constexpr uint32_t kTierShift = 3, kTierMask = 0x1Fu << kTierShift;
  static constexpr uint32_t kPolicyShift = 8, kPolicyMask = 0xFFu << kPolicyShift;
  static constexpr uint32_t kGenShift = 16;
  static constexpr unsigned kMaxTiers = 32;

  static EntryKind Kind(uint32_t c) { return EntryKind((c & kKindMask) >> kKindShift); }
  static unsigned Tier(uint32_t c) { return (c & kTierMask) >> kTierShift; }
  static uint32_t Policy(uint32_t c) { return (c & kPolicyMask) >> kPolicyShift; }
  static uint32_t Gen(uint32_t c) { return c >> kGenShift; }
  static bool Locked(uint32_t c) { return (c & kLockBit) != 0; }

  // A new control word with the given location, the same policy bits, the next generation, and
  // the lock bit still set (the caller publishes it with Unlock).
  static uint32_t Next(uint32_t locked, EntryKind kind, unsigned tier) {
    return kLockBit | (static_cast<uint32_t>(kind) << kKindShift) | (tier << kTierShift) |
           (locked & kPolicyMask) | ((Gen(locked) + 1) << kGenShift);
  }
  static uint32_t WithPolicy(uint32_t c, uint32_t policy) {
    return (c & ~kPolicyMask) | ((policy << kPolicyShift) & kPolicyMask);
  }
};

class PageEntry {
 public:
  // Spins until this thread holds the entry; returns the control word (lock bit set).
  uint32_t Lock() {
    uint32_t c = ctl_.load(std::memory_order_relaxed);
    for (;;) {
      if (!Ctl::Locked(c) &&
          ctl_.compare_exchange_weak(c, c | Ctl::kLockBit, std::memory_order_seq_cst,
                                     std::memory_order_relaxed)) {
        return c | Ctl::kLockBit;
      }
      c = WaitUnlocked();
    }
  }
  // Publishes `ctl` (its lock bit is cleared) and releases the entry.
  void Unlock(uint32_t ctl) { ctl_.store(ctl & ~Ctl::kLockBit, std::memory_order_release); }

  // The current control word without locking; seq_cst (a plain load on x86) for the
  // InvalidateArea walk. Use only to skip work on entries that are empty and unlocked.
  uint32_t Peek() const { return ctl_.load(std::memory_order_seq_cst); }

  // Payload accessors; call only while holding the lock. The halves are relaxed atomics so that
  // lock-free readers (Peek) never race with them in the memory model.
  uint64_t payload() const {
    return uint64_t{lo_.load(std::memory_order_relaxed)} |
           uint64_t{hi_.load(std::memory_order_relaxed)} << 32;
  }
  void set_payload(uint64_t v) {
    lo_.store(static_cast<uint32_t>(v), std::memory_order_relaxed);
    hi_.store(static_cast<uint32_t>(v >> 32), std::memory_order_relaxed);
  }

 private:
  uint32_t WaitUnlocked();

  std::atomic<uint32_t> ctl_{0};
  std::atomic<uint32_t> lo_{0};
  std::atomic<uint32_t> hi_{0};
};

static_assert(sizeof(PageEntry) == 12, "the per-page metadata budget counts on 12-byte entries");

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_PAGE_ENTRY_H_
