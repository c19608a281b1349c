#include "tiers/frame_allocator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace tierswap {
namespace {

TEST(FrameAllocatorTest, HandsOutEveryFrameExactlyOnceThenReportsFull) {
  // Not a multiple of 64 nor of a region, to exercise the tail bits.
  constexpr uint32_t kFrames = 2 * FrameAllocator::kFramesPerRegion + 77;
  FrameAllocator a(kFrames);
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < kFrames; ++i) {
    const uint32_t f = a.Allocate();
    ASSERT_NE(f, FrameAllocator::kNoFrame) << "after " << i;
    ASSERT_LT(f, kFrames);
    ASSERT_TRUE(seen.insert(f).second) << "frame " << f << " handed out twice";
  }
  EXPECT_EQ(a.Allocate(), FrameAllocator::kNoFrame);
  EXPECT_EQ(a.used(), kFrames);
}

TEST(FrameAllocatorTest, FreedFramesAreReused) {
  FrameAllocator a(8);
  std::vector<uint32_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(a.Allocate());
  ASSERT_EQ(a.Allocate(), FrameAllocator::kNoFrame);
  a.Free(got[3]);
  EXPECT_FALSE(a.IsAllocated(got[3]));
  EXPECT_EQ(a.used(), 7u);
  EXPECT_EQ(a.Allocate(), got[3]);
  EXPECT_TRUE(a.IsAllocated(got[3]));
}

TEST(FrameAllocatorTest, PreferredFrameIsReturnedWhenFree) {
  FrameAllocator a(10000);
  EXPECT_EQ(a.Allocate(1234), 1234u);
  EXPECT_EQ(a.Allocate(9999), 9999u);
  // Taken: another frame, still a valid one.
  const uint32_t other = a.Allocate(1234);
  EXPECT_NE(other, 1234u);
  EXPECT_LT(other, 10000u);
  EXPECT_EQ(a.used(), 3u);
  // Out of range preference: any frame.
  EXPECT_NE(a.Allocate(20000), FrameAllocator::kNoFrame);
}

TEST(FrameAllocatorTest, PreferredAllocationRespectsCapacity) {
  FrameAllocator a(3);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_NE(a.Allocate(1), FrameAllocator::kNoFrame);
  EXPECT_EQ(a.Allocate(1), FrameAllocator::kNoFrame);
  EXPECT_EQ(a.used(), 3u);
}

TEST(FrameAllocatorTest, ZeroFramesIsAlwaysFull) {
  FrameAllocator a(0);
  EXPECT_EQ(a.Allocate(), FrameAllocator::kNoFrame);
  EXPECT_EQ(a.used(), 0u);
}

TEST(FrameAllocatorTest, ConcurrentAllocateAndFreeNeverDoubleAllocate) {
  constexpr uint32_t kFrames = 3000;
  FrameAllocator a(kFrames);
  std::vector<std::atomic<int>> owner(kFrames);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint32_t> mine;
      for (int i = 0; i < 20000; ++i) {
        if (i % 3 != 2) {
          const uint32_t f = a.Allocate();
          if (f == FrameAllocator::kNoFrame) continue;
          int expected = 0;
          if (!owner[f].compare_exchange_strong(expected, t + 1)) ++errors;
          mine.push_back(f);
        } else if (!mine.empty()) {
          const uint32_t f = mine.back();
          mine.pop_back();
          owner[f].store(0);
          a.Free(f);
        }
      }
      for (uint32_t f : mine) {
        owner[f].store(0);
        a.Free(f);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(a.used(), 0u);
}

TEST(FrameAllocatorTest, MetadataIsAboutOneBitPerFrame) {
  FrameAllocator a(1u << 20);
  EXPECT_LT(double(a.MetadataBytes()) / (1u << 20), 0.2);
}

}  // namespace
}  // namespace tierswap
