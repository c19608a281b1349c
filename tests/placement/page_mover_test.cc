// MovePage and CopyPageOut (placement/page_mover.h) on fake tiers: a page moves whole and its
// old copy is freed; and whatever changes the slot while the copy is in flight wins: a store, an
// invalidation, an area reset (each injected from inside the destination's store, the moment
// the mover holds no lock). A racing change never loses the new page and never leaks a copy.
#include "placement/page_mover.h"

#include <gtest/gtest.h>

#include <memory>
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

class PageMoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index_.InitType(kType, 0);
    tiers_ = {&fast_, &slow_};
  }

  void Put(uint64_t offset, unsigned t, const PageBuf& page, uint32_t policy_bits = 0) {
    testing::PutPage(index_, tiers_, kType, offset, t, page, policy_bits);
  }
  SlotLocation Where(uint64_t offset) { return testing::SlotOf(index_, tiers_, kType, offset); }
  PageBuf Read(uint64_t offset) { return testing::ReadSlot(index_, tiers_, kType, offset); }

  MoveOutcome Move(uint64_t offset, unsigned from, unsigned to, bool promotion = false) {
    return MovePage(index_, tiers_, kType, offset, from, to, /*hint=*/offset, promotion, buf_);
  }

  static constexpr unsigned kType = 3;
  PageIndex index_;
  FakeTier fast_{"fast", 8}, slow_{"slow", 8};
  std::vector<Tier*> tiers_;
  unsigned char buf_[kPageSize];
};

TEST_F(PageMoverTest, MovesThePageWholeAndFreesTheOldCopy) {
  Put(5, 1, PatternPage(5));
  const uint32_t gen = [&] {
    LockedSlot slot(*index_.Find(kType, 5), tiers_.data());
    return slot.gen();
  }();
  EXPECT_EQ(Move(5, 1, 0, /*promotion=*/true), MoveOutcome::kMoved);
  EXPECT_EQ(Where(5).tier, 0u);
  EXPECT_EQ(Read(5), PatternPage(5));
  EXPECT_EQ(fast_.live(), 1u);
  EXPECT_EQ(slow_.live(), 0u);
  LockedSlot slot(*index_.Find(kType, 5), tiers_.data());
  EXPECT_NE(slot.gen(), gen) << "a move is a change of the slot: a new generation";
}

TEST_F(PageMoverTest, PromotionRestartsTheLoadCountButKeepsTheOtherBits) {
  const uint32_t bits = page_bits::kRefault | (2u << page_bits::kLoadCountShift);
  Put(1, 1, PatternPage(1), bits);
  ASSERT_EQ(Move(1, 1, 0, /*promotion=*/true), MoveOutcome::kMoved);
  LockedSlot slot(*index_.Find(kType, 1), tiers_.data());
  EXPECT_EQ(slot.policy(), page_bits::kRefault);
}

TEST_F(PageMoverTest, AStoreDuringTheCopyWins) {
  Put(7, 1, PatternPage(7));
  // While the mover copies onto `fast`, the guest stores a new page in the slot (on `slow`).
  bool raced = false;
  fast_.on_store = [&] {
    if (raced) return;
    raced = true;
    TierHandle h;
    ASSERT_EQ(slow_.Store(PatternPage(700).data(), &h), Status::kOk);
    LockedSlot slot(*index_.Find(kType, 7), tiers_.data());
    slot.Publish(SlotLocation{EntryKind::kOnTier, 1, h});  // frees the old copy after unlock
  };
  EXPECT_EQ(Move(7, 1, 0), MoveOutcome::kRaced);
  EXPECT_EQ(Read(7), PatternPage(700)) << "the store's page was lost to the move";
  EXPECT_EQ(fast_.live(), 0u) << "the mover's discarded copy leaked";
  EXPECT_EQ(slow_.live(), 1u) << "only the store's page may be left";
}

TEST_F(PageMoverTest, AStoreOfTheSameBytesDuringTheCopyStillWins) {
  // An in-place rewrite keeps the location and handle; only the generation says it changed.
  Put(2, 1, PatternPage(2));
  fast_.on_store = [&] {
    fast_.on_store = nullptr;
    LockedSlot slot(*index_.Find(kType, 2), tiers_.data());
    slot.MarkRewritten();
  };
  EXPECT_EQ(Move(2, 1, 0), MoveOutcome::kRaced);
  EXPECT_EQ(Where(2).tier, 1u);
  EXPECT_EQ(fast_.live(), 0u);
}

TEST_F(PageMoverTest, AnInvalidateDuringTheCopyWins) {
  Put(9, 1, PatternPage(9));
  fast_.on_store = [&] {
    fast_.on_store = nullptr;
    LockedSlot slot(*index_.Find(kType, 9), tiers_.data());
    slot.Drop(/*forget=*/true);
  };
  EXPECT_EQ(Move(9, 1, 0), MoveOutcome::kRaced);
  EXPECT_TRUE(Where(9).empty()) << "the invalidated page came back";
  EXPECT_EQ(fast_.live(), 0u);
  EXPECT_EQ(slow_.live(), 0u);
}

TEST_F(PageMoverTest, AnAreaResetDuringTheCopyWins) {
  for (uint64_t o = 0; o < 4; ++o) Put(o, 1, PatternPage(o));
  fast_.on_store = [&] {
    fast_.on_store = nullptr;
    // As Backend::InvalidateArea does: the type's state changes, then every slot is dropped.
    index_.BeginInvalidateArea(kType);
    index_.ForEachEntry(kType, [&](uint64_t, PageEntry& e) {
      LockedSlot slot(e, tiers_.data());
      slot.Drop(/*forget=*/true);
    });
  };
  EXPECT_EQ(Move(2, 1, 0), MoveOutcome::kRaced);
  for (uint64_t o = 0; o < 4; ++o) EXPECT_TRUE(Where(o).empty()) << o;
  EXPECT_EQ(fast_.live(), 0u);
  EXPECT_EQ(slow_.live(), 0u);
}

TEST_F(PageMoverTest, NothingToMoveWhenTheSlotIsEmptyOrElsewhere) {
  EXPECT_EQ(Move(40, 1, 0), MoveOutcome::kGone);  // never stored
  Put(4, 0, PatternPage(4));
  EXPECT_EQ(Move(4, 1, 0), MoveOutcome::kGone);  // on another tier
  EXPECT_EQ(fast_.live(), 1u);
}

TEST_F(PageMoverTest, AFullDestinationOrABrokenSourceLeavesThePage) {
  FakeTier tiny("tiny", 0);
  tiers_.push_back(&tiny);
  Put(6, 1, PatternPage(6));
  EXPECT_EQ(Move(6, 1, 2), MoveOutcome::kNoRoom);
  EXPECT_EQ(Read(6), PatternPage(6));
  slow_.fail_loads = true;
  EXPECT_EQ(Move(6, 1, 0), MoveOutcome::kIoError);
  slow_.fail_loads = false;
  EXPECT_EQ(Read(6), PatternPage(6));
  EXPECT_EQ(fast_.live(), 0u);
}

TEST_F(PageMoverTest, CopyPageOutCopiesWithoutChangingTheSlot) {
  Put(8, 1, PatternPage(8));
  uint32_t gen = 0;
  TierHandle handle = 0;
  ASSERT_EQ(CopyPageOut(index_, tiers_, kType, 8, 1, buf_, &gen, &handle), MoveOutcome::kMoved);
  EXPECT_EQ(std::memcmp(buf_, PatternPage(8).data(), kPageSize), 0);
  EXPECT_EQ(handle, Where(8).payload);
  LockedSlot slot(*index_.Find(kType, 8), tiers_.data());
  EXPECT_EQ(slot.gen(), gen);
}

}  // namespace
}  // namespace tierswap
