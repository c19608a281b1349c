#include "tiers/latency_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tierswap {
namespace {

TEST(LatencyHistogramTest, BucketsAreOrderedAndCoverEveryValue) {
  uint64_t prev = 0;
  for (size_t b = 0; b + 1 < ShardedLatencyHistogram::kBuckets; ++b) {
    const uint64_t ub = ShardedLatencyHistogram::UpperBound(b);
    EXPECT_GT(ub, prev) << b;
    prev = ub;
  }
  for (uint64_t v : {0ull, 1ull, 63ull, 64ull, 100ull, 1000ull, 4095ull, 4096ull, 123456789ull}) {
    const size_t b = ShardedLatencyHistogram::BucketOf(v);
    EXPECT_LT(v, ShardedLatencyHistogram::UpperBound(b)) << v;
    if (b > 0) {
      EXPECT_GE(v, ShardedLatencyHistogram::UpperBound(b - 1)) << v;
    }
  }
}

TEST(LatencyHistogramTest, QuantilesFallInTheRightBuckets) {
  ShardedLatencyHistogram h;
  for (int i = 0; i < 900; ++i) h.Record(500);
  for (int i = 0; i < 100; ++i) h.Record(50000);
  const HistogramData d = h.Snapshot();
  EXPECT_EQ(d.count, 1000u);
  EXPECT_DOUBLE_EQ(d.sum_ns, 900 * 500.0 + 100 * 50000.0);
  // Buckets are at most 25% wide: quantiles land within that of the recorded values.
  EXPECT_GE(d.p50, 500 * 0.75);
  EXPECT_LE(d.p50, 500 * 1.25);
  EXPECT_GE(d.p99, 50000 * 0.75);
  EXPECT_LE(d.p99, 50000 * 1.25);
  EXPECT_GE(d.max, 50000.0);
  ASSERT_FALSE(d.buckets.empty());
  EXPECT_EQ(d.buckets.back().second, 1000u) << "cumulative counts end at the total";
}

TEST(LatencyHistogramTest, ConcurrentRecordsAllCount) {
  ShardedLatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h] {
      for (int i = 0; i < 10000; ++i) h.Record(100 + i % 1000);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.Snapshot().count, 40000u);
}

TEST(LatencyHistogramTest, EmptyHistogramHasZeroQuantiles) {
  ShardedLatencyHistogram h;
  const HistogramData d = h.Snapshot();
  EXPECT_EQ(d.count, 0u);
  EXPECT_EQ(d.p99, 0.0);
  EXPECT_EQ(d.max, 0.0);
}

}  // namespace
}  // namespace tierswap
