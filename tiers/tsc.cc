#include "tiers/tsc.h"

#include <time.h>

#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tierswap {
namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

double Calibrate() {
#if defined(__x86_64__) || defined(__i386__)
  // Three 7 ms windows; the median rejects one disturbed by preemption.
  double rates[3];
  for (double& rate : rates) {
    const uint64_t n0 = MonotonicNs();
    const uint64_t t0 = __rdtsc();
    uint64_t n1;
    do {
      n1 = MonotonicNs();
    } while (n1 - n0 < 7'000'000);
    const uint64_t t1 = __rdtsc();
    rate = double(t1 - t0) / double(n1 - n0);
  }
  if (rates[0] > rates[1]) std::swap(rates[0], rates[1]);
  if (rates[1] > rates[2]) std::swap(rates[1], rates[2]);
  if (rates[0] > rates[1]) std::swap(rates[0], rates[1]);
  return rates[1] > 0 ? rates[1] : 1.0;
#else
  return 1.0;
#endif
}

}  // namespace

double TscTicksPerNs() {
  static const double rate = Calibrate();
  return rate;
}

void SpinUntil(uint64_t deadline) {
  // pause costs up to ~140 cycles on recent cores: use it only while the deadline is further
  // away than that, then poll the counter tightly so the spin ends within a few cycles of it.
  for (uint64_t now = TscNow(); now < deadline; now = TscNow()) {
#if defined(__x86_64__) || defined(__i386__)
    if (deadline - now > 512) _mm_pause();
#endif
  }
}

}  // namespace tierswap
