#include "placement/page_entry.h"

#include <sched.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TIERSWAP_CPU_RELAX() _mm_pause()
#else
#define TIERSWAP_CPU_RELAX() ((void)0)
#endif

namespace tierswap {

uint32_t PageEntry::WaitUnlocked() {
  // Holders keep the lock for one page copy (about a microsecond), so spin first; yield only
  // when the holder was descheduled, which on an oversubscribed machine can take a while.
  for (int spins = 0;; ++spins) {
    const uint32_t c = ctl_.load(std::memory_order_relaxed);
    if (!Ctl::Locked(c)) return c;
    if (spins < 256) {
      TIERSWAP_CPU_RELAX();
    } else {
      sched_yield();
    }
  }
}

}  // namespace tierswap
