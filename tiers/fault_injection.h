// Fault injection: a test-only seam that makes one chosen allocation or I/O call fail.
//
// Every place where tierswap asks the system for memory or I/O and has to cope with a refusal
// (an mmap, a frame from a full allocator, a pmem2 mapping, a compression call, an mbind) is
// wrapped in TIERSWAP_INJECT_FAULT(site). In a build with -DTIERSWAP_FAULT_INJECTION=ON the hook
// counts a hit of its site and, when the test armed it for this hit, reports a failure, and the
// site then takes its real error path as if the system had refused. Without that option the macro
// is the constant `false`: release builds contain no hook, no counter and no branch.
//
// A test first runs a workload with nothing armed and reads Hits(site); then, for every hit
// number n of every site, it runs the same workload again with Arm(n, site) and checks what
// the failure did (tests/frontend/fault_injection_test.cc walks every site this way).
// Arm(n) with no site fails the n-th hit of any site: the same walk, numbered globally.
//
// Sites where the failure is simulated rather than real (pmem2's persist returns void; the
// guest's writeback is a callback the test installs) are listed as such below.
//
// Thread-safety: the hook and every control function may be called from any thread; state is
// kept in relaxed atomics (a hit count orders nothing, and exactly one hit wins the countdown
// because the decrement is one atomic RMW). Tests arm and read between workloads, not during.
#ifndef TIERSWAP_TIERS_FAULT_INJECTION_H_
#define TIERSWAP_TIERS_FAULT_INJECTION_H_

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "tiers/result.h"

namespace tierswap {

enum class FaultSite : uint8_t {
  kFrameAlloc,       // a frame for a page on a frame tier (dram, numa) or pmem: store, move-in
  kArenaMap,         // mmap of a tier's frame arena: open of dram, numa and compressed tiers
  kPmemMap,          // pmem pool: file create and allocate, pmem2 source, config and map: open
  kPmemPersist,      // the drain that makes a pmem store durable (persist = true); simulated:
                     // pmem2's drain returns void, so the seam alone can make it fail
  kCompress,         // the lz4/zstd compress call: store, move-in to a compressed tier
  kDecompress,       // the lz4/zstd decompress call: load, move-out of a compressed tier
  kCompressedSpace,  // compressed tier room: handle id, span id, span frame: store, move-in
  kNumaBind,         // mbind of a NUMA tier's arena and the move_pages placement check
  kIndexChunk,       // mmap of a page-index chunk: the first store into 65536 slots
  kMetadataAlloc,    // other metadata: index directories (open), compressed tables (open),
                     // per-thread compression scratch and zstd contexts (first store/load)
  kThreadStart,      // start of a background thread: the backend's mover, a compressed tier's
                     // compactor (open); simulated: std::thread's own failure is a throw
  kWriteback,        // the guest's writeback during a shrink or offline; simulated: hit only by
                     // writeback callbacks that tests install, never by library code
  kCount
};

inline constexpr size_t kFaultSiteCount = static_cast<size_t>(FaultSite::kCount);

// Stable lower_snake names, for messages and the walk's report.
constexpr const char* FaultSiteName(FaultSite s) {
  switch (s) {
    case FaultSite::kFrameAlloc:
      return "frame_alloc";
    case FaultSite::kArenaMap:
      return "arena_map";
    case FaultSite::kPmemMap:
      return "pmem_map";
    case FaultSite::kPmemPersist:
      return "pmem_persist";
    case FaultSite::kCompress:
      return "compress";
    case FaultSite::kDecompress:
      return "decompress";
    case FaultSite::kCompressedSpace:
      return "compressed_space";
    case FaultSite::kNumaBind:
      return "numa_bind";
    case FaultSite::kIndexChunk:
      return "index_chunk";
    case FaultSite::kMetadataAlloc:
      return "metadata_alloc";
    case FaultSite::kThreadStart:
      return "thread_start";
    case FaultSite::kWriteback:
      return "writeback";
    case FaultSite::kCount:
      break;
  }
  return "any";
}

// For a hook that stands in for a call failing with errno: sets errno, returns `value`.
template <typename T>
T FailWithErrno(T value, int err) {
  errno = err;
  return value;
}

// For a hook in front of a std::thread: throws what std::thread throws when it cannot start one.
[[noreturn]] inline void ThrowThreadStartFailure() {
  throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                          "injected fault at site thread_start");
}

// For a hook that stands in for a cold-path call returning Result: the error it returns.
inline Error InjectedError(FaultSite site, const std::string& what) {
  return MakeError(Status::kNoMemory, what + ": injected fault at site " + FaultSiteName(site));
}

#if defined(TIERSWAP_FAULT_INJECTION)

// The hook: counts a hit of `site`; true when this hit must fail.
bool InjectFault(FaultSite site);

namespace fault_injection {

// Fails the `nth` (1-based) hit of `site` counted from now, or of any site with kCount. With
// `sticky`, that hit and every later hit of the same filter fail (memory that stays exhausted).
// Replaces any earlier plan.
void Arm(uint64_t nth, FaultSite site = FaultSite::kCount, bool sticky = false);
// Stops failing; counts go on.
void Disarm();
// Zeroes the hit and injection counts (does not disarm).
void ResetCounts();
// Hits of `site` since ResetCounts; kCount: of all sites.
uint64_t Hits(FaultSite site);
// Failures injected since ResetCounts, and the site of the latest one (kCount: none yet).
uint64_t Injected();
FaultSite LastInjectedSite();

}  // namespace fault_injection

#define TIERSWAP_INJECT_FAULT(site) (::tierswap::InjectFault(site))

#else

// Release builds: no hook. The site is still named in a discarded expression, so a misspelt
// site fails to compile in every build, not only in fault-injection ones.
#define TIERSWAP_INJECT_FAULT(site) (static_cast<void>(site), false)

#endif  // TIERSWAP_FAULT_INJECTION

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_FAULT_INJECTION_H_
