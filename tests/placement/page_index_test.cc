#include "placement/page_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tierswap {
namespace {

TEST(PageIndexTest, FindReturnsNullUntilTheChunkExists) {
  PageIndex index;
  index.InitType(0, 0);
  EXPECT_EQ(index.Find(0, 5), nullptr);
  PageEntry* e = index.FindOrCreate(0, 5);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(index.Find(0, 5), e);
  EXPECT_EQ(Ctl::Kind(e->Peek()), EntryKind::kEmpty);
  // Same chunk, neighbouring slot; other types are separate.
  EXPECT_EQ(index.Find(0, 6), e + 1);
  EXPECT_EQ(index.Find(1, 5), nullptr);
}

TEST(PageIndexTest, TypeStateChangesEpochOnInitAndInvalidate) {
  PageIndex index;
  EXPECT_FALSE(PageIndex::Initialized(index.State(3)));
  index.InitType(3, 100);
  const uint64_t s1 = index.State(3);
  EXPECT_TRUE(PageIndex::Initialized(s1));
  EXPECT_EQ(index.NrPages(3), 100u);
  const uint64_t s2 = index.BeginInvalidateArea(3);
  EXPECT_FALSE(PageIndex::Initialized(s2));
  index.InitType(3, 100);
  const uint64_t s3 = index.State(3);
  EXPECT_TRUE(PageIndex::Initialized(s3));
  EXPECT_NE(s1, s3) << "a re-initialised type must not look like the old one";
}

TEST(PageIndexTest, ForEachEntryVisitsMappedChunksInOrder) {
  PageIndex index;
  index.InitType(2, 0);
  ASSERT_NE(index.FindOrCreate(2, 3 * PageIndex::kChunkEntries + 9), nullptr);
  ASSERT_NE(index.FindOrCreate(2, 1), nullptr);
  uint64_t visited = 0, last = 0;
  bool ordered = true;
  index.ForEachEntry(2, [&](uint64_t offset, PageEntry&) {
    if (visited > 0 && offset <= last) ordered = false;
    last = offset;
    ++visited;
  });
  EXPECT_EQ(visited, 2 * PageIndex::kChunkEntries);
  EXPECT_TRUE(ordered);
}

TEST(PageIndexTest, SweepVisitsEverySlotOnceInAnOrderUnlikeOffsets) {
  PageIndex index;
  index.InitType(1, 0);
  ASSERT_NE(index.FindOrCreate(1, 2 * PageIndex::kChunkEntries), nullptr);
  ASSERT_NE(index.FindOrCreate(1, 0), nullptr);
  std::vector<uint8_t> seen(3 * PageIndex::kChunkEntries, 0);
  uint64_t ascending = 0, last = 0, visited = 0;
  // Resume in small steps, as the mover does, to check the returned hand position.
  uint64_t hand = 0;
  for (int steps = 0; hand != PageIndex::kMaxPagesPerType; ++steps) {
    ASSERT_LT(steps, 100000);
    hand = index.Sweep(1, hand, 1000, [&](uint64_t offset, PageEntry& e) {
      EXPECT_EQ(&e, index.Find(1, offset));
      ++seen[offset];
      if (visited > 0 && offset == last + 1) ++ascending;
      last = offset;
      ++visited;
      return true;
    });
  }
  EXPECT_EQ(visited, 2 * PageIndex::kChunkEntries);
  for (uint64_t o = 0; o < seen.size(); ++o) {
    const bool mapped = o < PageIndex::kChunkEntries || o >= 2 * PageIndex::kChunkEntries;
    ASSERT_EQ(seen[o], mapped ? 1 : 0) << "offset " << o;
  }
  // A hand that walks offsets in order moves with a sequential swap-in, always just ahead of it.
  EXPECT_LT(ascending, visited / 100);
}

TEST(PageIndexTest, SweepResumesAtTheEntryWhereTheCallbackStopped) {
  PageIndex index;
  index.InitType(0, 0);
  ASSERT_NE(index.FindOrCreate(0, 0), nullptr);
  uint64_t first = UINT64_MAX, again = UINT64_MAX;
  const uint64_t hand = index.Sweep(0, 0, UINT64_MAX, [&](uint64_t offset, PageEntry&) {
    if (first == UINT64_MAX) first = offset;
    return offset == first;  // stop at the second entry
  });
  index.Sweep(0, hand, 1, [&](uint64_t offset, PageEntry&) {
    again = offset;
    return true;
  });
  EXPECT_NE(again, first);
  EXPECT_EQ(again, PageIndex::SweepSlot(hand & (PageIndex::kChunkEntries - 1)));
}

TEST(PageIndexTest, EntryLockIsExclusiveAndBumpsGenerationOnChange) {
  PageIndex index;
  index.InitType(0, 0);
  PageEntry* e = index.FindOrCreate(0, 0);
  uint32_t ctl = e->Lock();
  EXPECT_TRUE(Ctl::Locked(e->Peek()));
  const uint32_t gen = Ctl::Gen(ctl);
  ctl = Ctl::Next(ctl, EntryKind::kOnTier, 7);
  e->set_payload(0x123456789ull);
  e->Unlock(ctl);
  const uint32_t now = e->Peek();
  EXPECT_FALSE(Ctl::Locked(now));
  EXPECT_EQ(Ctl::Kind(now), EntryKind::kOnTier);
  EXPECT_EQ(Ctl::Tier(now), 7u);
  EXPECT_EQ(Ctl::Gen(now), gen + 1);
  e->Lock();
  EXPECT_EQ(e->payload(), 0x123456789ull);
  e->Unlock(now);
}

TEST(PageIndexTest, EntryLockSerialisesConcurrentWriters) {
  PageIndex index;
  index.InitType(0, 0);
  PageEntry* e = index.FindOrCreate(0, 42);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([e] {
      for (int i = 0; i < 10000; ++i) {
        uint32_t ctl = e->Lock();
        e->set_payload(e->payload() + 1);  // a non-atomic increment under the lock
        e->Unlock(ctl);
      }
    });
  }
  for (auto& th : threads) th.join();
  e->Lock();
  EXPECT_EQ(e->payload(), 40000u);
}

TEST(PageIndexTest, ConcurrentChunkCreationYieldsOneChunk) {
  PageIndex index;
  index.InitType(0, 0);
  std::vector<PageEntry*> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back(
        [&, t] { got[t] = index.FindOrCreate(0, 5 * PageIndex::kChunkEntries + 1); });
  }
  for (auto& th : threads) th.join();
  for (auto* p : got) EXPECT_EQ(p, got[0]);
}

TEST(PageIndexTest, MetadataIsTwelveBytesPerUsedSlot) {
  PageIndex index;
  index.InitType(0, 0);
  constexpr uint64_t kSlots = 4 * PageIndex::kChunkEntries;
  for (uint64_t o = 0; o < kSlots; ++o) {
    PageEntry* e = index.FindOrCreate(0, o);
    ASSERT_NE(e, nullptr);
    e->Unlock(Ctl::Next(e->Lock(), EntryKind::kSameFilled, 0));
  }
  const double per_slot = double(index.MetadataBytes()) / kSlots;
  EXPECT_GE(per_slot, 12.0);
  EXPECT_LT(per_slot, 12.1);
}

TEST(PageIndexTest, SparseSlotsCostOnlyTheirResidentPages) {
  PageIndex index;
  index.InitType(0, 0);
  // One slot in each of 8 chunks: 8 chunks are mapped (6 MiB) but only 8 pages are touched.
  for (uint64_t c = 0; c < 8; ++c) {
    PageEntry* e = index.FindOrCreate(0, c * PageIndex::kChunkEntries);
    e->Unlock(Ctl::Next(e->Lock(), EntryKind::kSameFilled, 0));
  }
  EXPECT_LE(index.MetadataBytes(), 8 * 4096u + 4096u);
}

}  // namespace
}  // namespace tierswap
