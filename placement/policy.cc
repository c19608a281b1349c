#include "placement/policy.h"

namespace tierswap {

using namespace page_bits;  // NOLINT: the bit names are the vocabulary of this file

uint32_t PlacementPolicy::AfterStore(uint32_t bits) {
  // Stored again after a load: the page is in use (a refault). Loads since the store restart.
  const bool refault = (bits & kLoaded) != 0;
  bits &= ~(kLoaded | kLoadCountMask | kReferenced);
  if (refault) bits |= kRefault | kReferenced;
  return bits;
}

uint32_t PlacementPolicy::AfterLoad(uint32_t bits) {
  const uint32_t count = LoadCount(bits);
  bits = (bits & ~kLoadCountMask) | ((count < 3 ? count + 1 : 3) << kLoadCountShift);
  return bits | kReferenced | kLoaded;
}

namespace {

// Tiers in rank order that are online; `defer(t)` moves a tier to the end.
template <typename Defer>
size_t RankOrder(const TierView& view, unsigned* order, Defer defer) {
  size_t n = 0;
  unsigned ranked[TierRanking::kMax];
  const size_t count = view.rank.Fill(ranked);
  unsigned deferred[TierRanking::kMax];
  size_t d = 0;
  for (size_t i = 0; i < count; ++i) {
    const unsigned t = ranked[i];
    if (!view.online[t].load(std::memory_order_relaxed)) continue;
    if (defer(t)) {
      deferred[d++] = t;
    } else {
      order[n++] = t;
    }
  }
  for (size_t i = 0; i < d; ++i) order[n++] = deferred[i];
  return n;
}

class StaticPolicy final : public PlacementPolicy {
 public:
  const char* name() const override { return "static"; }
  bool Migrates() const override { return false; }
  size_t StoreOrder(uint32_t bits, const TierView& view, unsigned* order) const override {
    // The baseline: first tier in rank order with room. It still remembers that a page did not
    // compress, since offering it again costs a compression attempt and gains nothing.
    return RankOrder(view, order, [&](unsigned t) {
      return (bits & kIncompressible) != 0 && view.compressed[t];
    });
  }
};

class AdaptivePolicy final : public PlacementPolicy {
 public:
  const char* name() const override { return "adaptive"; }
  bool Migrates() const override { return true; }
  size_t StoreOrder(uint32_t bits, const TierView& view, unsigned* order) const override {
    // A page with a reuse signal goes to the fastest tier with room. A page without one (most
    // swap-outs are cold) is not allowed to crowd a tier past its high watermark while a
    // slower tier has room: it goes below directly, and the fast tier keeps its headroom for
    // pages that are being reused. Pages that did not compress skip compressed tiers.
    const bool reused = (bits & (kRefault | kLoadCountMask)) != 0;
    return RankOrder(view, order, [&](unsigned t) {
      if ((bits & kIncompressible) != 0 && view.compressed[t]) return true;
      return !reused && view.above_high[t].load(std::memory_order_relaxed);
    });
  }
};

}  // namespace

std::unique_ptr<PlacementPolicy> MakePolicy(const std::string& name) {
  if (name == "static") return std::make_unique<StaticPolicy>();
  if (name == "adaptive") return std::make_unique<AdaptivePolicy>();
  return nullptr;
}

}  // namespace tierswap
