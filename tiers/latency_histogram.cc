#include "tiers/latency_histogram.h"

namespace tierswap {

HistogramData ShardedLatencyHistogram::Snapshot() const {
  HistogramData h;
  uint64_t counts[kBuckets];
  for (size_t b = 0; b < kBuckets; ++b) {
    counts[b] = counters_.Sum(b);
    h.count += counts[b];
  }
  h.sum_ns = double(counters_.Sum(kSumIndex));
  uint64_t cumulative = 0;
  size_t last = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    cumulative += counts[b];
    if (counts[b] != 0) last = b;
    // Prometheus-style cumulative buckets, skipping empty stretches at the ends keeps the
    // exposition short; every bucket with data and its neighbours are kept.
    const uint64_t ub = UpperBound(b);
    if (ub != 0) h.buckets.emplace_back(double(ub), cumulative);
  }
  // A quantile: the bucket where the cumulative count crosses q, interpolated linearly inside it.
  auto quantile = [&](double q) {
    if (h.count == 0) return 0.0;
    const double rank = q * double(h.count);
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      if (counts[b] == 0) continue;
      if (double(seen + counts[b]) >= rank) {
        const double lo = b == 0 ? 0.0 : double(UpperBound(b - 1));
        const double hi = b == kBuckets - 1 ? lo * 2 : double(UpperBound(b));
        return lo + (hi - lo) * (rank - double(seen)) / double(counts[b]);
      }
      seen += counts[b];
    }
    return double(UpperBound(last));
  };
  h.p50 = quantile(0.50);
  h.p90 = quantile(0.90);
  h.p99 = quantile(0.99);
  h.p999 = quantile(0.999);
  h.max = h.count == 0 ? 0.0 : (last == kBuckets - 1 ? h.p999 : double(UpperBound(last)));
  return h;
}

}  // namespace tierswap
