// ShardedCounters: statistics counters that the hot path can bump without sharing cache lines.
//
// A single atomic counter incremented by every CPU on every store becomes the bottleneck of a
// swap backend (every increment steals the line from the other cores). Each thread instead adds
// to the copy in its own shard, a cache-line-aligned block; readers sum the shards. Threads get a
// shard round-robin on first use, so up to kCounterShards threads never share one; beyond that
// two threads may share a shard, which stays correct because each add is an atomic RMW.
//
// Thread-safety: Add and Sum may be called from any thread at any time. Sum is not a snapshot
// across counters: each counter is summed independently, with relaxed loads.
#ifndef TIERSWAP_TIERS_SHARDED_COUNTER_H_
#define TIERSWAP_TIERS_SHARDED_COUNTER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tierswap {

inline constexpr size_t kCounterShards = 64;
inline constexpr size_t kCacheLine = 64;

// This thread's shard in [0, kCounterShards); also used to spread allocator hints.
size_t ThisThreadShard();

// A per-thread operation counter for sampling (e.g. timing one operation in 16).
uint32_t& ThisThreadSampleCounter();

// N independent 64-bit counters. Counters wrap modulo 2^64, so a gauge that goes up on one
// thread and down on another (stored pages) sums correctly as a signed value.
template <size_t N>
class ShardedCounters {
 public:
  ShardedCounters() : shards_(new Shard[kCounterShards]) {}
  ShardedCounters(const ShardedCounters&) = delete;
  ShardedCounters& operator=(const ShardedCounters&) = delete;

  void Add(size_t idx, uint64_t delta = 1) {
    // Relaxed: counters order nothing; readers only need an eventually consistent sum.
    shards_[ThisThreadShard()].v[idx].fetch_add(delta, std::memory_order_relaxed);
  }
  void Sub(size_t idx, uint64_t delta = 1) { Add(idx, ~delta + 1); }

  uint64_t Sum(size_t idx) const {
    uint64_t total = 0;
    for (size_t s = 0; s < kCounterShards; ++s) {
      total += shards_[s].v[idx].load(std::memory_order_relaxed);
    }
    return total;
  }
  int64_t SignedSum(size_t idx) const { return static_cast<int64_t>(Sum(idx)); }

  // Bytes of memory the counters occupy (for the metadata budget report).
  static constexpr size_t MemoryBytes() { return sizeof(Shard) * kCounterShards; }

 private:
  struct alignas(kCacheLine) Shard {
    std::atomic<uint64_t> v[N] = {};
  };
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_SHARDED_COUNTER_H_
