#include "tiers/fault_injection.h"

#if defined(TIERSWAP_FAULT_INJECTION)

#include <atomic>

namespace tierswap {
namespace {

constexpr size_t kAny = kFaultSiteCount;

// Relaxed throughout (see the header): counts order nothing, and the countdown needs only the
// atomicity of its decrement to pick exactly one hit.
std::atomic<uint64_t> g_hits[kFaultSiteCount];
std::atomic<bool> g_armed{false};
std::atomic<size_t> g_filter{kAny};
std::atomic<bool> g_sticky{false};
std::atomic<bool> g_tripped{false};  // sticky: the chosen hit has happened
std::atomic<uint64_t> g_countdown{0};
std::atomic<uint64_t> g_injected{0};
std::atomic<size_t> g_last_site{kAny};

bool Fire(FaultSite site) {
  g_injected.fetch_add(1, std::memory_order_relaxed);
  g_last_site.store(static_cast<size_t>(site), std::memory_order_relaxed);
  return true;
}

}  // namespace

bool InjectFault(FaultSite site) {
  const auto s = static_cast<size_t>(site);
  g_hits[s].fetch_add(1, std::memory_order_relaxed);
  if (!g_armed.load(std::memory_order_relaxed)) return false;
  const size_t filter = g_filter.load(std::memory_order_relaxed);
  if (filter != kAny && filter != s) return false;
  if (g_tripped.load(std::memory_order_relaxed)) return Fire(site);
  // Exactly one hit sees 1. Later decrements wrap past zero and never see 1 again in practice
  // (2^64 hits).
  if (g_countdown.fetch_sub(1, std::memory_order_relaxed) != 1) return false;
  if (g_sticky.load(std::memory_order_relaxed)) g_tripped.store(true, std::memory_order_relaxed);
  return Fire(site);
}

namespace fault_injection {

void Arm(uint64_t nth, FaultSite site, bool sticky) {
  g_armed.store(false, std::memory_order_relaxed);
  g_filter.store(static_cast<size_t>(site), std::memory_order_relaxed);
  g_sticky.store(sticky, std::memory_order_relaxed);
  g_tripped.store(false, std::memory_order_relaxed);
  g_countdown.store(nth, std::memory_order_relaxed);
  g_armed.store(nth != 0, std::memory_order_relaxed);
}

void Disarm() {
  g_armed.store(false, std::memory_order_relaxed);
  g_tripped.store(false, std::memory_order_relaxed);
}

void ResetCounts() {
  for (auto& h : g_hits) h.store(0, std::memory_order_relaxed);
  g_injected.store(0, std::memory_order_relaxed);
  g_last_site.store(kAny, std::memory_order_relaxed);
}

uint64_t Hits(FaultSite site) {
  if (site != FaultSite::kCount) {
    return g_hits[static_cast<size_t>(site)].load(std::memory_order_relaxed);
  }
  uint64_t total = 0;
  for (const auto& h : g_hits) total += h.load(std::memory_order_relaxed);
  return total;
}

uint64_t Injected() { return g_injected.load(std::memory_order_relaxed); }

FaultSite LastInjectedSite() {
  return static_cast<FaultSite>(g_last_site.load(std::memory_order_relaxed));
}

}  // namespace fault_injection
}  // namespace tierswap

#endif  // TIERSWAP_FAULT_INJECTION
