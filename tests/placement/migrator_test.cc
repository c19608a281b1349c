// Migrator (placement/migrator.h) on fake tiers, without a Backend: a tier going offline is
// evacuated to the others, or through the writeback when none has room (and a store that races
// the writeback wins); cold pages are demoted past the high watermark, pages loaded since the
// hand last passed get a second chance; queued promotions move up; every completed move is
// counted on both tiers.
#include "placement/migrator.h"

#include <gtest/gtest.h>

#include <vector>

#include "placement/locked_slot.h"
#include "placement/page_index.h"
#include "placement/policy.h"
#include "tests/support/fake_tier.h"
#include "tests/support/slots.h"
#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using testing::FakeTier;
using testing::PageBuf;
using testing::PatternPage;

// What a Backend provides the mover: hints, and dropping a page handed back to the guest.
class FakeHost final : public MigratorHost {
 public:
  FakeHost(PageIndex& index, std::vector<Tier*>& tiers) : index_(index), tiers_(tiers) {}
  uint64_t HintOf(unsigned, uint64_t offset) const override { return offset; }
  bool DropIfUnchanged(unsigned type, uint64_t offset, unsigned tier, uint32_t gen) override {
    LockedSlot slot(*index_.Find(type, offset), tiers_.data());
    if (slot.gen() != gen || !slot.OnTier(tier)) return false;
    slot.Drop();
    return true;
  }

 private:
  PageIndex& index_;
  std::vector<Tier*>& tiers_;
};

class MigratorTest : public ::testing::Test {
 protected:
  static constexpr unsigned kType = 0;

  void SetUp() override { index_.InitType(kType, 0); }

  Migrator& Make(MigratorOptions o = {}) {
    o.min_residency_ms = 0;
    migrator_ = std::make_unique<Migrator>(index_, tiers_, view_, o, host_);
    return *migrator_;
  }
  void Put(uint64_t offset, unsigned t, uint32_t bits = 0) {
    testing::PutPage(index_, tiers_, kType, offset, t, PatternPage(offset), bits);
  }
  SlotLocation Where(uint64_t offset) { return testing::SlotOf(index_, tiers_, kType, offset); }
  PageBuf Read(uint64_t offset) { return testing::ReadSlot(index_, tiers_, kType, offset); }

  PageIndex index_;
  FakeTier fast_{"fast", 4}, slow_{"slow", 8};
  std::vector<Tier*> tiers_{&fast_, &slow_};
  TierView view_{2};
  FakeHost host_{index_, tiers_};
  std::unique_ptr<Migrator> migrator_;
};

TEST_F(MigratorTest, ATierGoingOfflineIsEvacuatedToTheOthers) {
  Migrator& m = Make();
  for (uint64_t o = 0; o < 3; ++o) Put(o, 0);
  view_.online[0].store(false);
  fast_.SetLimit(0);
  const Migrator::EvacuateResult r = m.Evacuate(0, nullptr, nullptr);
  EXPECT_EQ(r.moved, 3u);
  EXPECT_EQ(r.remaining_pages, 0u);
  for (uint64_t o = 0; o < 3; ++o) {
    EXPECT_EQ(Where(o).tier, 1u);
    EXPECT_EQ(Read(o), PatternPage(o));
  }
  EXPECT_EQ(m.Moves(0).demotions_out, 3u);
  EXPECT_EQ(m.Moves(1).demotions_in, 3u);
  EXPECT_EQ(m.Stats().counter(kEvacuated), 3u);
}

struct Handed {
  std::vector<uint64_t> offsets;
  std::vector<PageBuf> pages;
  int result = 0;
  std::function<void(uint64_t)> during;  // runs inside the callback (a racing store)
};

int Writeback(void* ctx, unsigned, uint64_t offset, const void* page) {
  auto* h = static_cast<Handed*>(ctx);
  h->offsets.push_back(offset);
  PageBuf p;
  std::memcpy(p.data(), page, kPageSize);
  h->pages.push_back(p);
  if (h->during) h->during(offset);
  return h->result;
}

TEST_F(MigratorTest, WithNoRoomElsewhereAnOfflineTierHandsItsPagesToTheGuest) {
  Migrator& m = Make();
  for (uint64_t o = 0; o < 3; ++o) Put(o, 1);
  view_.online[1].store(false);
  slow_.SetLimit(0);
  fast_.SetLimit(0);  // nowhere to go
  Handed handed;
  const Migrator::EvacuateResult r = m.Evacuate(1, Writeback, &handed);
  EXPECT_EQ(r.written_back, 3u);
  EXPECT_EQ(r.remaining_pages, 0u);
  ASSERT_EQ(handed.offsets.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(handed.pages[i], PatternPage(handed.offsets[i]));
  for (uint64_t o = 0; o < 3; ++o) EXPECT_TRUE(Where(o).empty()) << "a handed-back page stayed";
  EXPECT_EQ(slow_.live(), 0u);
  EXPECT_EQ(m.Moves(1).demotions_out, 3u);
}

TEST_F(MigratorTest, AStoreRacingTheWritebackKeepsItsNewPage) {
  Migrator& m = Make();
  Put(5, 1);
  view_.online[1].store(false);
  slow_.SetLimit(0);
  fast_.SetLimit(0);
  Handed handed;
  // While the guest writes the old page to its swap device, it stores a new one in the slot.
  handed.during = [&](uint64_t offset) {
    TierHandle h;
    slow_.SetLimit(slow_.capacity_bytes());
    ASSERT_EQ(slow_.Store(PatternPage(500).data(), &h), Status::kOk);
    slow_.SetLimit(0);
    LockedSlot slot(*index_.Find(kType, offset), tiers_.data());
    slot.Publish(SlotLocation{EntryKind::kOnTier, 1, h});
  };
  m.Evacuate(1, Writeback, &handed);
  ASSERT_EQ(handed.offsets.size(), 1u);
  EXPECT_EQ(Read(5), PatternPage(500)) << "the writeback dropped the newer page";
}

TEST_F(MigratorTest, RefusedWritebackLeavesThePageAndReportsIt) {
  Migrator& m = Make();
  Put(1, 1);
  view_.online[1].store(false);
  slow_.SetLimit(0);
  fast_.SetLimit(0);
  Handed handed;
  handed.result = -1;
  const Migrator::EvacuateResult r = m.Evacuate(1, Writeback, &handed);
  EXPECT_EQ(r.written_back, 0u);
  EXPECT_EQ(r.remaining_pages, 1u);
  EXPECT_EQ(Read(1), PatternPage(1));
  EXPECT_EQ(m.Stats().counter(kWritebackFailures), 1u);
}

TEST_F(MigratorTest, ColdPagesAreDemotedPastTheHighWatermarkAndLoadedOnesGetASecondChance) {
  MigratorOptions o;
  o.high_watermark = 0.7;  // of 4 frames: demote when more than 2.8 are used ...
  o.low_watermark = 0.5;   // ... until at most 2 are
  Migrator& m = Make(o);
  // One cold page; three loaded since the hand last passed.
  Put(0, 0, page_bits::kReferenced);
  Put(1, 0);
  Put(2, 0, page_bits::kReferenced);
  Put(3, 0, page_bits::kReferenced);
  // The hand's first pass over the slots demotes the cold page and spares the others, clearing
  // their bits.
  m.Step(/*now_ns=*/1);
  EXPECT_EQ(Where(1).tier, 1u) << "the cold page stayed while loaded ones were demoted";
  EXPECT_EQ(fast_.live(), 3u);
  EXPECT_EQ(m.Stats().counter(kSecondChances), 3u);
  // Still above the low watermark (hysteresis): once the hand comes round again (it walks every
  // type's slots, a share per step), it demotes one more, now cold.
  for (uint64_t now = 2; now < 100 && fast_.live() > 2; ++now) m.Step(now);
  EXPECT_EQ(fast_.live(), 2u);
  EXPECT_EQ(m.Stats().counter(kDemotions), 2u);
  EXPECT_EQ(m.Moves(0).demotions_out, 2u);
  EXPECT_EQ(m.Moves(1).demotions_in, 2u);
  for (uint64_t off = 0; off < 4; ++off) EXPECT_EQ(Read(off), PatternPage(off)) << off;
}

TEST_F(MigratorTest, QueuedPromotionsMoveUpAndCountOnBothTiers) {
  Migrator& m = Make();
  Put(3, 1);
  m.EnqueuePromotion(kType, 3, /*tier=*/1);
  m.Step(/*now_ns=*/1);
  EXPECT_EQ(Where(3).tier, 0u);
  EXPECT_EQ(Read(3), PatternPage(3));
  EXPECT_EQ(m.Moves(0).promotions_in, 1u);
  EXPECT_EQ(m.Moves(1).promotions_out, 1u);
  EXPECT_EQ(m.Moves(0).migrated_bytes(), kPageSize);
  EXPECT_EQ(m.Stats().counter(kPromotions), 1u);
}

TEST_F(MigratorTest, APromotionOfAPageThatWasInvalidatedIsDropped) {
  Migrator& m = Make();
  Put(4, 1);
  m.EnqueuePromotion(kType, 4, 1);
  {
    LockedSlot slot(*index_.Find(kType, 4), tiers_.data());
    slot.Drop(/*forget=*/true);
  }
  m.Step(/*now_ns=*/1);
  EXPECT_TRUE(Where(4).empty());
  EXPECT_EQ(fast_.live() + slow_.live(), 0u);
  EXPECT_EQ(m.Moves(0).promotions_in, 0u);
}

}  // namespace
}  // namespace tierswap
