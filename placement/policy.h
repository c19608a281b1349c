// PlacementPolicy: which tier a stored page should go to, and which pages are worth moving.
//
// Policies see a slot only through the 8 policy bits of its PageEntry (no per-page allocation,
// and the bits count toward the 12-byte metadata budget) and a TierView of the tiers. The
// signals come from the swap stream itself:
//   referenced   loaded since the mover last looked at it (CLOCK's reference bit)
//   loaded       loaded since it was last stored: if it is stored again, that is a refault
//   refault      it was loaded and then stored again, i.e. it is being reused
//   load count   loads since it was stored, saturating at 3
//   incompressible  a compressed tier declined it: do not offer it to one again
// The bits survive exclusive loads (so a refault is still seen) and are cleared when the slot
// is invalidated (the kernel freed the slot; the next page there is a different page).
//
// Two policies: `static` (first tier in rank order with room; no migration; the baseline) and
// `adaptive` (reuse-aware admission; the mover demotes cold pages past a tier's high watermark
// and promotes pages loaded from slower tiers).
//
// Thread-safety: policies are immutable; every method may be called from any thread.
#ifndef TIERSWAP_PLACEMENT_POLICY_H_
#define TIERSWAP_PLACEMENT_POLICY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tierswap {

namespace page_bits {
inline constexpr uint32_t kReferenced = 1u << 0;
inline constexpr uint32_t kLoaded = 1u << 1;
inline constexpr uint32_t kRefault = 1u << 2;
inline constexpr uint32_t kIncompressible = 1u << 3;
inline constexpr uint32_t kLoadCountShift = 4;
inline constexpr uint32_t kLoadCountMask = 3u << kLoadCountShift;
inline uint32_t LoadCount(uint32_t bits) { return (bits & kLoadCountMask) >> kLoadCountShift; }
}  // namespace page_bits

// What the policies know of the tiers: their order by measured cost and their state. The rank
// is fixed at open; the flags change at runtime (offline/online, watermarks) and are read
// relaxed on the store path: a stale flag only makes one store choose a slightly worse tier.
struct TierView {
  std::vector<unsigned> rank;  // tier indexes, fastest first
  std::unique_ptr<std::atomic<bool>[]> online;      // by tier index
  std::unique_ptr<std::atomic<bool>[]> above_high;  // used > high watermark (set by the mover)
  std::vector<bool> compressed;                     // by tier index

  explicit TierView(size_t tiers)
      : online(new std::atomic<bool>[tiers]),
        above_high(new std::atomic<bool>[tiers]),
        compressed(tiers, false) {
    for (size_t i = 0; i < tiers; ++i) {
      online[i].store(true, std::memory_order_relaxed);
      above_high[i].store(false, std::memory_order_relaxed);
      rank.push_back(static_cast<unsigned>(i));
    }
  }
  size_t size() const { return rank.size(); }
  // Position of tier `t` in the rank (0: fastest).
  unsigned RankOf(unsigned t) const {
    for (unsigned r = 0; r < rank.size(); ++r) {
      if (rank[r] == t) return r;
    }
    return static_cast<unsigned>(rank.size());
  }
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual const char* name() const = 0;

  // The tiers to offer a new page to, best first: writes at most view.size() indexes into
  // `order` and returns how many. `bits` are the slot's policy bits as the store found them.
  virtual size_t StoreOrder(uint32_t bits, const TierView& view, unsigned* order) const = 0;

  // Whether the mover runs at all (demotion, promotion).
  virtual bool Migrates() const = 0;

  // The slot's bits after a store that replaced (had_page) or filled it.
  static uint32_t AfterStore(uint32_t bits);
  // The slot's bits after a successful load.
  static uint32_t AfterLoad(uint32_t bits);
  // Whether a page just loaded from a tier of rank > 0 should be promoted.
  bool WantsPromotion(uint32_t bits_after_load) const {
    return Migrates() && page_bits::LoadCount(bits_after_load) >= promote_after_loads_;
  }

  void set_promote_after_loads(uint32_t n) { promote_after_loads_ = n; }

 private:
  uint32_t promote_after_loads_ = 1;
};

// Returns the policy named `name` ("static" or "adaptive"), or nullptr.
std::unique_ptr<PlacementPolicy> MakePolicy(const std::string& name);

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_POLICY_H_
