// Tsc: a calibrated cycle counter for timing and for injected latency.
//
// Emulated tiers add a configured latency to every page operation by spinning on the time-stamp
// counter: sleeping is far too coarse (tens of microseconds) and a syscall per page would cost
// more than the latencies being modelled (100 ns - 10 us). The counter's rate is calibrated once
// per process against CLOCK_MONOTONIC_RAW.
//
// Thread-safety: all functions are safe from any thread; calibration runs once, on first use.
#ifndef TIERSWAP_TIERS_TSC_H_
#define TIERSWAP_TIERS_TSC_H_

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#else
#include <time.h>
#endif

namespace tierswap {

// The current counter value (cycles on x86; nanoseconds elsewhere).
inline uint64_t TscNow() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
#endif
}

// TscNow after every earlier instruction has completed (lfence; rdtsc). A plain rdtsc may run
// while a preceding page copy is still waiting for memory, which would make the copy look
// shorter than it was; timing the end of an operation needs this one.
inline uint64_t TscNowAfter() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_lfence();
  return __rdtsc();
#else
  return TscNow();
#endif
}

// Counter ticks per nanosecond (calibrated on first call, about 20 ms).
double TscTicksPerNs();

inline uint64_t NsToTicks(double ns) { return static_cast<uint64_t>(ns * TscTicksPerNs() + 0.5); }
inline double TicksToNs(uint64_t ticks) { return double(ticks) / TscTicksPerNs(); }

// Busy-waits until TscNow() >= deadline.
void SpinUntil(uint64_t deadline);

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_TSC_H_
