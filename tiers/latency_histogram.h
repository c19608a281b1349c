// ShardedLatencyHistogram: per-tier load and store latency, cheap enough to keep on the hot path.
//
// Log-linear buckets over nanoseconds: below 64 ns one bucket, then four buckets per power of
// two up to ~2^40 ns (relative bucket width <= 25%), plus an overflow bucket. Each thread adds
// to its counter shard (tiers/sharded_counter.h), so recording is one relaxed add to a line no
// other thread writes, after converting ticks to ns with a multiply-shift. Readers sum the
// shards into a HistogramData (stats_sink.h): cumulative buckets for Prometheus, and p50, p90,
// p99, p99.9 and max interpolated inside their bucket.
//
// Thread-safety: Record from any thread; Snapshot from any thread (not a consistent cut).
#ifndef TIERSWAP_TIERS_LATENCY_HISTOGRAM_H_
#define TIERSWAP_TIERS_LATENCY_HISTOGRAM_H_

#include <atomic>
#include <bit>
#include <cstdint>
#include <utility>

#include "tiers/sharded_counter.h"
#include "tiers/stats_sink.h"

namespace tierswap {

class ShardedLatencyHistogram {
 public:
  static constexpr int kSub = 4;      // buckets per power of two
  static constexpr int kMinExp = 6;   // 64 ns
  static constexpr int kMaxExp = 40;  // ~1100 s
  static constexpr size_t kBuckets = 1 + (kMaxExp - kMinExp) * kSub + 1;

  static size_t BucketOf(uint64_t ns) {
    if (ns < (uint64_t{1} << kMinExp)) return 0;
    const int exp = 63 - std::countl_zero(ns);
    if (exp >= kMaxExp) return kBuckets - 1;
    const size_t sub = (ns >> (exp - 2)) & (kSub - 1);
    return 1 + size_t(exp - kMinExp) * kSub + sub;
  }
  // Exclusive upper bound of bucket b, in ns (infinity for the overflow bucket: 0 here).
  static uint64_t UpperBound(size_t b) {
    if (b == 0) return uint64_t{1} << kMinExp;
    if (b == kBuckets - 1) return 0;
    const size_t i = b - 1;
    const int exp = int(i / kSub) + kMinExp;
    const uint64_t sub = i % kSub;
    return (uint64_t{1} << exp) + ((sub + 1) << (exp - 2));
  }

  // Bytes of memory the histogram holds (its shards).
  static constexpr size_t MemoryBytes() { return decltype(counters_)::MemoryBytes(); }

  void Record(uint64_t ns) {
    counters_.Add(BucketOf(ns));
    counters_.Add(kSumIndex, ns);
  }

  // Sum of recorded ns and number of samples.
  std::pair<double, uint64_t> SumAndCount() const {
    uint64_t n = 0;
    for (size_t b = 0; b < kBuckets; ++b) n += counters_.Sum(b);
    return {double(counters_.Sum(kSumIndex)), n};
  }

  // Sums the shards; `max` is the upper bound of the highest non-empty bucket.
  HistogramData Snapshot() const;

 private:
  static constexpr size_t kSumIndex = kBuckets;
  ShardedCounters<kBuckets + 1> counters_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_LATENCY_HISTOGRAM_H_
