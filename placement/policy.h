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

// The order of the tiers, fastest first. Set at open from the probe and changed by the mover
// when the live cost of the tiers says so; read on every store and load without a lock. A
// reader racing a change may see a mix of the two orders for one operation (a tier twice, one
// missing): Fill() repairs that, so every online tier is always offered.
class TierRanking {
 public:
  static constexpr size_t kMax = 32;
  explicit TierRanking(size_t n) : n_(n) {
    for (size_t i = 0; i < n; ++i)
      order_[i].store(static_cast<uint8_t>(i), std::memory_order_relaxed);
  }
  size_t size() const { return n_; }
  unsigned operator[](size_t r) const { return order_[r].load(std::memory_order_relaxed); }
  void Set(const std::vector<unsigned>& order) {
    for (size_t i = 0; i < n_ && i < order.size(); ++i) {
      order_[i].store(static_cast<uint8_t>(order[i]), std::memory_order_relaxed);
    }
  }
  std::vector<unsigned> Get() const {
    std::vector<unsigned> v;
    for (size_t i = 0; i < n_; ++i) v.push_back((*this)[i]);
    return v;
  }
  // Position of tier `t` (0: fastest); size() if a concurrent change hid it.
  unsigned RankOf(unsigned t) const {
    for (unsigned r = 0; r < n_; ++r) {
      if ((*this)[r] == t) return r;
    }
    return static_cast<unsigned>(n_);
  }
  // The order as one consistent list of distinct tiers: duplicates dropped, missing ones last.
  size_t Fill(unsigned* out) const {
    uint64_t seen = 0;
    size_t k = 0;
    for (size_t r = 0; r < n_; ++r) {
      const unsigned t = (*this)[r];
      if (t < n_ && (seen & (uint64_t{1} << t)) == 0) {
        seen |= uint64_t{1} << t;
        out[k++] = t;
      }
    }
    for (unsigned t = 0; t < n_; ++t) {
      if ((seen & (uint64_t{1} << t)) == 0) out[k++] = t;
    }
    return k;
  }

 private:
  size_t n_;
  std::atomic<uint8_t> order_[kMax];
};

// What the policies know of the tiers: their order by cost and their state. The flags change at
// runtime (offline/online, watermarks) and are read relaxed on the store path: a stale flag only
// makes one store choose a slightly worse tier.
struct TierView {
  TierRanking rank;
  std::unique_ptr<std::atomic<bool>[]> online;      // by tier index
  std::unique_ptr<std::atomic<bool>[]> above_high;  // used > high watermark (set by the mover)
  std::vector<bool> compressed;                     // by tier index

  explicit TierView(size_t tiers)
      : rank(tiers),
        online(new std::atomic<bool>[tiers]),
        above_high(new std::atomic<bool>[tiers]),
        compressed(tiers, false) {
    for (size_t i = 0; i < tiers; ++i) {
      online[i].store(true, std::memory_order_relaxed);
      above_high[i].store(false, std::memory_order_relaxed);
    }
  }
  size_t size() const { return rank.size(); }
  unsigned RankOf(unsigned t) const { return rank.RankOf(t); }
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
