// The placement policies' store order (placement/policy.h), on a TierView alone: which tiers a
// new page is offered to, in which order, for each policy and each kind of page; and the policy
// bits a store and a load leave behind.
#include "placement/policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace tierswap {
namespace {

using namespace page_bits;  // NOLINT: the bit names are this test's vocabulary

std::vector<unsigned> Order(const PlacementPolicy& p, uint32_t bits, const TierView& view) {
  unsigned out[TierRanking::kMax];
  const size_t n = p.StoreOrder(bits, view, out);
  return std::vector<unsigned>(out, out + n);
}

// Three tiers; rank (fastest first) 2, 0, 1; tier 1 is compressed.
struct ThreeTiers : TierView {
  ThreeTiers() : TierView(3) {
    rank.Set({2, 0, 1});
    compressed[1] = true;
  }
};

TEST(StaticPolicyTest, OffersEveryOnlineTierInRankOrder) {
  auto p = MakePolicy("static");
  ASSERT_NE(p, nullptr);
  ThreeTiers v;
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{2, 0, 1}));
  v.online[0].store(false);
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{2, 1}));
  // The static policy ignores watermarks: a full-ish fast tier is still offered first.
  v.above_high[2].store(true);
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{2, 1}));
  EXPECT_FALSE(p->Migrates());
}

TEST(StaticPolicyTest, PagesThatDidNotCompressTryCompressedTiersLast) {
  auto p = MakePolicy("static");
  ThreeTiers v;
  v.rank.Set({1, 2, 0});  // the compressed tier first
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{1, 2, 0}));
  EXPECT_EQ(Order(*p, kIncompressible, v), (std::vector<unsigned>{2, 0, 1}));
}

TEST(AdaptivePolicyTest, ColdPagesSkipTiersAboveTheirHighWatermark) {
  auto p = MakePolicy("adaptive");
  ASSERT_NE(p, nullptr);
  ThreeTiers v;
  v.above_high[2].store(true);
  // A page without a reuse signal goes below a crowded fast tier ...
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{0, 1, 2}));
  // ... a reused one (a refault, or loads since it was stored) still gets it first.
  EXPECT_EQ(Order(*p, kRefault, v), (std::vector<unsigned>{2, 0, 1}));
  EXPECT_EQ(Order(*p, 1u << kLoadCountShift, v), (std::vector<unsigned>{2, 0, 1}));
  EXPECT_TRUE(p->Migrates());
}

TEST(AdaptivePolicyTest, IncompressibleAndCrowdedRulesCombine) {
  auto p = MakePolicy("adaptive");
  ThreeTiers v;
  v.above_high[0].store(true);
  EXPECT_EQ(Order(*p, kIncompressible, v), (std::vector<unsigned>{2, 0, 1}));
  EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{2, 1, 0}));
}

TEST(PolicyTest, OfflineTiersAreNeverOfferedAndAMixedRankingStillOffersEachOnce) {
  for (const char* name : {"static", "adaptive"}) {
    auto p = MakePolicy(name);
    TierView v(3);
    // A reader racing a re-rank may see one tier twice and one missing: Fill repairs it.
    v.rank.Set({1, 1, 0});
    EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{1, 0, 2})) << name;
    v.online[1].store(false);
    EXPECT_EQ(Order(*p, 0, v), (std::vector<unsigned>{0, 2})) << name;
  }
}

TEST(PolicyTest, UnknownPoliciesAreRefused) {
  EXPECT_EQ(MakePolicy("lru"), nullptr);
  EXPECT_EQ(MakePolicy(""), nullptr);
}

TEST(PolicyBitsTest, AStoreAfterALoadIsARefaultAndRestartsTheLoadCount) {
  uint32_t bits = PlacementPolicy::AfterStore(0);
  EXPECT_EQ(bits, 0u);
  bits = PlacementPolicy::AfterLoad(bits);
  EXPECT_EQ(LoadCount(bits), 1u);
  EXPECT_NE(bits & kReferenced, 0u);
  bits = PlacementPolicy::AfterStore(bits);
  EXPECT_NE(bits & kRefault, 0u);
  EXPECT_EQ(LoadCount(bits), 0u);
  EXPECT_EQ(bits & kLoaded, 0u);
}

TEST(PolicyBitsTest, TheLoadCountSaturatesAtThree) {
  uint32_t bits = 0;
  for (int i = 0; i < 10; ++i) bits = PlacementPolicy::AfterLoad(bits);
  EXPECT_EQ(LoadCount(bits), 3u);
}

TEST(PolicyBitsTest, PromotionWaitsForTheConfiguredLoads) {
  auto p = MakePolicy("adaptive");
  p->set_promote_after_loads(2);
  uint32_t bits = PlacementPolicy::AfterLoad(0);
  EXPECT_FALSE(p->WantsPromotion(bits));
  bits = PlacementPolicy::AfterLoad(bits);
  EXPECT_TRUE(p->WantsPromotion(bits));
  auto s = MakePolicy("static");
  EXPECT_FALSE(s->WantsPromotion(bits)) << "the static policy never moves pages";
}

}  // namespace
}  // namespace tierswap
