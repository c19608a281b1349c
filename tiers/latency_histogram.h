// Latency histograms: one bucket scheme (log-linear), kept two ways.
//
// LogLinearBuckets<kSubBits>: values below 2^(kSubBits+1) have a bucket each; above, every power
// of two is split into 2^kSubBits buckets, so a bucket is at most 1/2^kSubBits of its values
// wide. The index is a count-leading-zeros and two shifts.
//
// LatencyHistogram<kSubBits>: one thread's samples (a replay's loads, a benchmark's batches),
// fixed size, so recording never allocates or touches new memory inside a timed loop.
//
// ShardedLatencyHistogram: per-tier load and store latency, cheap enough for the hot path. Four
// buckets per power of two (LogLinearBuckets<2>, relative width <= 25%) from 64 ns to ~2^40 ns,
// one bucket below and an overflow bucket above. Each thread adds to its counter shard
// (tiers/sharded_counter.h), so recording is one relaxed add to a line no other thread writes.
// Readers sum the shards into a HistogramData (stats_sink.h): cumulative buckets for
// Prometheus, and p50, p90, p99, p99.9 and max interpolated inside their bucket.
//
// Thread-safety: LatencyHistogram is one thread's. ShardedLatencyHistogram: Record from any
// thread; Snapshot from any thread (not a consistent cut).
#ifndef TIERSWAP_TIERS_LATENCY_HISTOGRAM_H_
#define TIERSWAP_TIERS_LATENCY_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "tiers/sharded_counter.h"
#include "tiers/stats_sink.h"

namespace tierswap {

template <int kSubBits>
struct LogLinearBuckets {
  static constexpr uint64_t kLinear = uint64_t{2} << kSubBits;  // values with a bucket each
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;     // buckets per power of two
  static constexpr size_t kCount = kLinear + (64 - (kSubBits + 1)) * kSub;

  static size_t Of(uint64_t v) {
    if (v < kLinear) return size_t(v);
    const int exp = 63 - std::countl_zero(v);  // >= kSubBits + 1
    const uint64_t sub = (v >> (exp - kSubBits)) & (kSub - 1);
    return size_t(kLinear + uint64_t(exp - (kSubBits + 1)) * kSub + sub);
  }
  // The smallest value of bucket b.
  static uint64_t Lower(size_t b) {
    if (b < kLinear) return b;
    const uint64_t i = b - kLinear;
    const int exp = int(i >> kSubBits) + kSubBits + 1;
    return (uint64_t{1} << exp) | ((i & (kSub - 1)) << (exp - kSubBits));
  }
  // The largest value of bucket b.
  static uint64_t Upper(size_t b) {
    if (b < kLinear) return b;
    const int exp = int((b - kLinear) >> kSubBits) + kSubBits + 1;
    return Lower(b) + ((uint64_t{1} << (exp - kSubBits)) - 1);
  }
};

template <int kSubBits = 4>
class LatencyHistogram {
 public:
  using Buckets = LogLinearBuckets<kSubBits>;

  void Record(uint64_t v) {
    ++counts_[Buckets::Of(v)];
    ++count_;
    sum_ += v;
    max_ = std::max(max_, v);
  }
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : double(sum_) / double(count_); }
  // The value at quantile q (0 < q <= 1): the largest value of the bucket holding the
  // ceil(q * count)-th smallest sample, capped at the largest sample; exact below
  // 2^(kSubBits+1), within 1/2^kSubBits above. 0 when empty.
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    const double want = std::ceil(std::clamp(q, 0.0, 1.0) * double(count_));
    const uint64_t rank = std::max<uint64_t>(1, uint64_t(want));
    uint64_t seen = 0;
    for (size_t b = 0; b < Buckets::kCount; ++b) {
      seen += counts_[b];
      if (seen >= rank) return std::min(Buckets::Upper(b), max_);
    }
    return max_;
  }

 private:
  std::array<uint64_t, Buckets::kCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

class ShardedLatencyHistogram {
  using Fine = LogLinearBuckets<2>;

 public:
  static constexpr int kMinExp = 6;   // 64 ns: one bucket below
  static constexpr int kMaxExp = 40;  // ~1100 s: one overflow bucket from there
  static constexpr size_t kBuckets = 1 + (kMaxExp - kMinExp) * Fine::kSub + 1;

  static size_t BucketOf(uint64_t ns) {
    if (ns < (uint64_t{1} << kMinExp)) return 0;
    if (ns >= (uint64_t{1} << kMaxExp)) return kBuckets - 1;
    return 1 + Fine::Of(ns) - Fine::Of(uint64_t{1} << kMinExp);
  }
  // Exclusive upper bound of bucket b, in ns (infinity for the overflow bucket: 0 here).
  static uint64_t UpperBound(size_t b) {
    if (b == 0) return uint64_t{1} << kMinExp;
    if (b == kBuckets - 1) return 0;
    return Fine::Upper(b - 1 + Fine::Of(uint64_t{1} << kMinExp)) + 1;
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
