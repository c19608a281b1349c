#include "tiers/sharded_counter.h"

namespace tierswap {

size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  // Assigned once per thread; relaxed because the value only needs to be unique-ish.
  thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kCounterShards;
  return shard;
}

}  // namespace tierswap
