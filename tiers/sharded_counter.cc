#include "tiers/sharded_counter.h"

namespace tierswap {

size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  // Assigned once per thread; relaxed because the value only needs to be unique-ish.
  // initial-exec: a plain %fs-relative load instead of a __tls_get_addr call on every counter
  // add. The variable is 8 bytes, well within the static TLS glibc keeps for dlopen()ed code.
  [[gnu::tls_model("initial-exec")]] thread_local const size_t shard =
      next.fetch_add(1, std::memory_order_relaxed) % kCounterShards;
  return shard;
}

uint32_t& ThisThreadSampleCounter() {
  [[gnu::tls_model("initial-exec")]] thread_local uint32_t n = 0;
  return n;
}

}  // namespace tierswap
