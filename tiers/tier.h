// Tier: one kind of memory a page can live in (local DRAM, a far NUMA node, pmem, compressed).
//
// The interface is small on purpose: a tier stores a copy of a page and hands back a handle,
// loads a page by handle, and frees a handle. Which tier a page should live in is placement's
// business (placement/); which offset a handle belongs to is the page index's. A tier knows
// neither.
//
// Non-virtual interface: the public Store/Load/Free count every operation, then call the
// protected Do* hooks, so no tier can forget its accounting (CacheLib Device::write/writeImpl).
//
// Contract for implementations:
//  - DoStore copies the page synchronously; when it returns, the caller may reuse its buffer.
//  - A handle returned by DoStore stays valid, and DoLoad returns exactly the stored bytes, until
//    DoFree(handle). When DoLoad fails (kIoError), `page` may hold partial data: callers must not
//    use it (a compressed tier decompresses straight into it rather than paying another copy).
//  - DoStore returns kNoSpace when the tier has no room; it never exceeds its capacity. It returns
//    kRejected when it declines this particular page (a compressed tier, for a page that does
//    not compress), so placement can put the page on another tier.
//  - All Do* hooks are thread-safe for distinct handles. The caller (the page index's entry lock)
//    guarantees that a handle is never loaded and freed concurrently.
//  - No allocation, logging or system call in DoStore/DoLoad/DoFree's common case.
//
// Integrity and hygiene also live here, so every tier gets them the same way:
//  - checksums (EnableChecksums; config `checksum = true`, tiers/page_checksum.h): Store,
//    Overwrite and MoveIn record a checksum of the page per handle; Load and MoveOut verify what
//    they return. A mismatch is kIoError, counted as checksum_failures; the caller's buffer is
//    zeroed (never the corrupt bytes) and the page stays where it is.
//  - scrub on free (SetScrubOnFree; [backend] scrub_on_free): DoFree zeroes the memory the page
//    occupied before the room can be reused, so no later store, of any type, lands next to
//    or on top of a previous tenant's bytes, and no scan of the tier's memory finds them.
//
// Emulation of slower media (PCM, CXL, a loaded far node) works on any tier and lives here, so
// every tier gets it the same way: with a TierEmulation set at open, each successful Store/Load
// takes at least `latency + max(copy time, 4 KiB at bandwidth_mbps)`, enforced by a calibrated
// TSC spin after the real operation (tiers/tsc.h). Raw and injected time are counted separately.
#ifndef TIERSWAP_TIERS_TIER_H_
#define TIERSWAP_TIERS_TIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "tiers/latency_histogram.h"
#include "tiers/page_checksum.h"
#include "tiers/page_copy.h"
#include "tiers/result.h"
#include "tiers/sharded_counter.h"
#include "tiers/stats_sink.h"
#include "tiers/status.h"
#include "tiers/tsc.h"

namespace tierswap {

enum class TierKind : uint8_t { kDram, kNuma, kPmem, kCompressed };

constexpr const char* TierKindName(TierKind k) {
  switch (k) {
    case TierKind::kDram:
      return "dram";
    case TierKind::kNuma:
      return "numa";
    case TierKind::kPmem:
      return "pmem";
    case TierKind::kCompressed:
      return "compressed";
  }
  return "unknown";
}

// A tier-specific reference to one stored page (a frame number for frame-based tiers).
using TierHandle = uint64_t;

// Slower media emulated on top of any tier (config keys read_latency_ns, write_latency_ns,
// bandwidth_mbps). All zero: no emulation, and the hot path does not read the clock.
struct TierEmulation {
  uint32_t read_latency_ns = 0;   // added to every successful load
  uint32_t write_latency_ns = 0;  // added to every successful store
  uint64_t bandwidth_mbps = 0;    // MB/s (10^6 bytes): each page op takes >= 4096 B at this rate
  bool enabled() const {
    return read_latency_ns != 0 || write_latency_ns != 0 || bandwidth_mbps != 0;
  }
};

class Tier {
 public:
  virtual ~Tier() = default;
  Tier(const Tier&) = delete;
  Tier& operator=(const Tier&) = delete;

  const std::string& name() const { return name_; }
  TierKind kind() const { return kind_; }

  // Stores a copy of the 4 KiB `page`. kOk: *handle names the copy. kNoSpace: the tier is full.
  // `hint` is a placement hint (a hash of the slot): a tier that can put the page at a place
  // derived from it lets Prefetch start the page's fetch before the index is read.
  [[nodiscard]] Status Store(const void* page, TierHandle* handle, uint64_t hint = 0) {
    // A lowered capacity (SetLimit) costs a used_bytes() sum per store while it lasts; the
    // common case reads one flag.
    if (limited_.load(std::memory_order_relaxed) && !RoomUnderLimit()) {
      counters_.Add(kStoreRejects);
      return Status::kNoSpace;
    }
    const uint64_t start = Sampled() ? TscNow() : 0;
    if (emulated_) return EmulatedStore(page, handle, hint, start);
    const Status s = StoreChecked(page, hint, handle);
    counters_.Add(s == Status::kOk ? kStores : kStoreRejects);
    if (start != 0 && s == Status::kOk) store_latency_.Record(ElapsedNs(start));
    return s;
  }
  // Replaces the page behind `handle` in place, if the tier can (frame tiers): kOk, or kRejected
  // when it cannot (the caller then stores a new copy). The caller holds the slot's entry lock,
  // so no load of this handle runs meanwhile.
  [[nodiscard]] Status Overwrite(TierHandle handle, const void* page) {
    if (!overwritable_) return Status::kRejected;
    const bool sampled = Sampled();
    const uint64_t start = emulated_ || sampled ? TscNow() : 0;
    const Status s = DoOverwrite(handle, page);
    if (s == Status::kOk) {
      if (sums_ != nullptr) sums_->Record(handle, page);
      if (emulated_) Emulate(start, write_ticks_, kRawStoreTicks);
      counters_.Add(kOverwrites);
      if (sampled) store_latency_.Record(ElapsedNs(start));
    }
    return s;
  }
  // Starts fetching the page a Store with this hint would have placed at, if the tier places
  // by hint. Cheap (no virtual call): a load calls it before it reads the index, so the frame's
  // cache misses overlap the entry's.
  void Prefetch(uint64_t hint) const {
    if (hint_frames_ != 0) {
      PrefetchFrame(hint_base_ + (size_t{HintFrame(hint, hint_frames_)} << kPageShift));
    }
  }
  static uint32_t HintFrame(uint64_t hint, uint32_t frames) {
    return static_cast<uint32_t>(hint % frames);
  }
  // Copies the page named by `handle` into `page` (4 KiB). kIoError: the tier could not return
  // it (`page` may hold part of it), or, with checksums on, it failed its checksum (`page` is
  // zeroed); either way the page stays held.
  [[nodiscard]] Status Load(TierHandle handle, void* page) {
    const uint64_t start = Sampled() ? TscNow() : 0;
    if (emulated_) return EmulatedLoad(handle, page, start);
    const Status s = LoadChecked(handle, page);
    counters_.Add(s == Status::kOk ? kLoads : kLoadErrors);
    if (start != 0 && s == Status::kOk) load_latency_.Record(ElapsedNs(start));
    return s;
  }
  // Releases the page named by `handle`; the handle must not be used again.
  void Free(TierHandle handle) {
    DoFree(handle);
    counters_.Add(kFrees);
  }

  // Access for pages that change tier (a move between tiers is placement's business, and so are
  // its direction and its statistics): a page leaving this tier is read with MoveOut, and one
  // arriving is stored with MoveIn. They behave as Load and Store (emulation included, checksums
  // too: a page that fails its checksum is not moved, so a corrupt page never spreads) but are
  // not guest traffic: they count in neither `loads` nor `stores` (a page moved in counts in
  // `moved_in`, so that stored_pages stays right).
  [[nodiscard]] Status MoveOut(TierHandle handle, void* page) {
    const uint64_t start = emulated_ ? TscNow() : 0;
    const Status s = LoadChecked(handle, page);
    if (s == Status::kOk && emulated_) SpinUntilEmulated(start, read_ticks_);
    return s;
  }
  [[nodiscard]] Status MoveIn(const void* page, TierHandle* handle, uint64_t hint) {
    if (limited_.load(std::memory_order_relaxed) && !RoomUnderLimit()) return Status::kNoSpace;
    const uint64_t start = emulated_ ? TscNow() : 0;
    const Status s = StoreChecked(page, hint, handle);
    if (s == Status::kOk) {
      if (emulated_) SpinUntilEmulated(start, write_ticks_);
      counters_.Add(kMovedIn);
    }
    return s;
  }

  // Runtime capacity: a tier takes no new page that would bring used_bytes() above `bytes`
  // (at most its capacity). Pages already above the limit stay until the mover moves them or
  // they are freed. Cold path.
  void SetLimit(uint64_t bytes) {
    const uint64_t cap = capacity_bytes();
    limit_bytes_.store(bytes < cap ? bytes : cap, std::memory_order_relaxed);
    limited_.store(bytes < cap, std::memory_order_release);
  }
  uint64_t limit_bytes() const {
    return limited_.load(std::memory_order_acquire) ? limit_bytes_.load(std::memory_order_relaxed)
                                                    : capacity_bytes();
  }

  // The probe's access (placement/probe.h): the same path as Store/Load/Free, emulation
  // included, but not counted in the statistics, so measuring a tier does not look like use.
  // With checksums on, a probe load pays for the checksum but is not failed by it: the probe
  // owns its pages and overwrites them (its pointer chase) between loads.
  [[nodiscard]] Status ProbeStore(const void* page, TierHandle* handle) {
    const uint64_t start = emulated_ ? TscNow() : 0;
    const Status s = DoStore(page, handle);
    if (s == Status::kOk && sums_ != nullptr) sums_->Record(*handle, page);
    if (s == Status::kOk && emulated_) SpinUntilEmulated(start, write_ticks_);
    return s;
  }
  [[nodiscard]] Status ProbeLoad(TierHandle handle, void* page) {
    const uint64_t start = emulated_ ? TscNow() : 0;
    const Status s = DoLoad(handle, page);
    if (s == Status::kOk && sums_ != nullptr) (void)sums_->Matches(handle, page);
    if (s == Status::kOk && emulated_) SpinUntilEmulated(start, read_ticks_);
    return s;
  }
  void ProbeFree(TierHandle handle) { DoFree(handle); }
  // The address of a stored page's bytes, for tiers that keep pages raw in addressable memory
  // (frame tiers, pmem); nullptr otherwise (compressed). The probe chases pointers through it.
  virtual unsigned char* DirectAddress(TierHandle /*handle*/) const { return nullptr; }
  // The NUMA node the tier's memory is on, or -1 when not bound to one.
  virtual int BoundNode() const { return -1; }

  // Keeps a checksum of every page stored from now on and verifies it on every load (see the
  // file comment). Cold: reserves the side array. Call once, before the tier is shared and
  // before it holds pages. Fails for a tier whose handles are not dense (HandleSpace() == 0).
  Result<void> EnableChecksums();
  bool checksums() const { return sums_ != nullptr; }
  // Loads and moves refused because the page failed its checksum.
  uint64_t checksum_failures() const { return counters_.Sum(kChecksumFailures); }
  // Handles this tier gives out are below this (frame count, or the compressed tier's handle
  // ids); 0 when they are not dense, and checksums cannot be kept.
  uint64_t HandleSpace() const { return DoHandleSpace(); }
  // Whether the calling thread's last failed Load or MoveOut (of any tier) failed because the
  // page did not match its checksum, as opposed to the tier failing to read it. Like errno:
  // meaningful right after a kIoError.
  static bool LastFailureWasChecksum();

  // Zero the memory of every page freed from now on (see the file comment). Call before the
  // tier is shared.
  void SetScrubOnFree(bool on) { scrub_on_free_ = on; }
  bool scrub_on_free() const { return scrub_on_free_; }

  uint64_t capacity_bytes() const { return DoCapacityBytes(); }
  // Memory the tier holds for stored pages, fragmentation included.
  uint64_t used_bytes() const { return DoUsedBytes(); }
  uint64_t stored_pages() const {
    // Frees first: every free follows its store, so stores read later are never fewer.
    const uint64_t frees = counters_.Sum(kFrees);
    return counters_.Sum(kStores) + counters_.Sum(kMovedIn) - frees;
  }
  // Pages stored on the tier, in-place replacements of a stored page included.
  uint64_t stores() const { return counters_.Sum(kStores) + counters_.Sum(kOverwrites); }
  uint64_t loads() const { return counters_.Sum(kLoads); }
  // Bytes of DRAM the tier spends on bookkeeping (allocator bitmaps, counters, latency
  // histograms, checksums).
  size_t MetadataBytes() const {
    return DoMetadataBytes() + decltype(counters_)::MemoryBytes() +
           2 * ShardedLatencyHistogram::MemoryBytes() +
           (sums_ != nullptr ? sums_->ResidentBytes() : 0);
  }

  // name, kind, capacity_bytes, used_bytes, stored_pages, stores, loads, ... then DoExportStats.
  void ExportStats(StatsSink& sink) const;

  // Latency histograms of successful loads and stores (on by default). One operation in
  // kSampleEvery per thread is timed: reading the TSC twice and recording costs ~100 ns on a
  // VM, which on every 4 KiB load would be 20% of it; sampled, it is about 1%. Off, the hot
  // path reads no clock (unless the tier is emulated). Call before the tier is shared.
  static constexpr uint32_t kSampleEvery = 16;
  void EnableLatencyHistograms(bool on) { timed_ = on; }
  bool latency_histograms() const { return timed_; }
  HistogramData load_latency() const { return load_latency_.Snapshot(); }
  HistogramData store_latency() const { return store_latency_.Snapshot(); }
  // Mean load latency (ns) and count since the tier opened: the mover turns deltas of these
  // into the live cost estimate.
  std::pair<double, uint64_t> LoadLatencySum() const { return load_latency_.SumAndCount(); }

  // Sets the emulated media characteristics. Call once, before the tier is shared.
  void SetEmulation(const TierEmulation& emulation);
  const TierEmulation& emulation() const { return emulation_; }
  // Time spent in the real operations and in injected delay, in nanoseconds (emulated tiers).
  double raw_load_ns() const { return TicksToNs(counters_.Sum(kRawLoadTicks)); }
  double injected_load_ns() const { return TicksToNs(counters_.Sum(kInjectedLoadTicks)); }

 protected:
  Tier(std::string name, TierKind kind) : name_(std::move(name)), kind_(kind) {}

  virtual Status DoStore(const void* page, TierHandle* handle) = 0;
  // Store with a placement hint; tiers that ignore hints need not override it.
  virtual Status DoStoreHinted(const void* page, uint64_t /*hint*/, TierHandle* handle) {
    return DoStore(page, handle);
  }
  // In-place replacement (see Overwrite); only called when EnableOverwrite() was called.
  virtual Status DoOverwrite(TierHandle /*handle*/, const void* /*page*/) {
    return Status::kRejected;
  }
  // For tiers that keep page `i` at `base + i * 4 KiB` and honour hints: enables Prefetch.
  void EnableHintPrefetch(const unsigned char* base, uint32_t frames) {
    hint_base_ = base;
    hint_frames_ = frames;
  }
  void EnableOverwrite() { overwritable_ = true; }
  virtual Status DoLoad(TierHandle handle, void* page) = 0;
  virtual void DoFree(TierHandle handle) = 0;
  virtual uint64_t DoCapacityBytes() const = 0;
  virtual uint64_t DoUsedBytes() const = 0;
  virtual size_t DoMetadataBytes() const { return 0; }
  virtual void DoExportStats(StatsSink& /*sink*/) const {}
  // See HandleSpace(). Tiers whose handles are dense return their count.
  virtual uint64_t DoHandleSpace() const { return 0; }

 private:
  enum Counter : size_t {
    kStores,
    kStoreRejects,
    kLoads,
    kLoadErrors,
    kFrees,
    kOverwrites,
    kMovedIn,
    kRawStoreTicks,
    kInjectedStoreTicks,
    kRawLoadTicks,
    kInjectedLoadTicks,
    kChecksumFailures,
    kNumCounters
  };

  // DoStoreHinted, then the checksum of the stored page (when on).
  Status StoreChecked(const void* page, uint64_t hint, TierHandle* handle) {
    const Status s = DoStoreHinted(page, hint, handle);
    if (sums_ != nullptr && s == Status::kOk) sums_->Record(*handle, page);
    return s;
  }
  // DoLoad, then the check of what it returned (when on).
  Status LoadChecked(TierHandle handle, void* page) {
    const Status s = DoLoad(handle, page);
    if (s != Status::kOk) [[unlikely]] {
      return LoadFailed(s);
    }
    if (sums_ != nullptr && !sums_->Matches(handle, page)) [[unlikely]] {
      return ChecksumMismatch(page);
    }
    return s;
  }
  // The failure paths of LoadChecked: note why for LastFailureWasChecksum; a mismatch is
  // counted and zeroes `page`.
  [[gnu::cold]] static Status LoadFailed(Status s);
  [[gnu::cold]] Status ChecksumMismatch(void* page);

  Status EmulatedStore(const void* page, TierHandle* handle, uint64_t hint, uint64_t start);
  Status EmulatedLoad(TierHandle handle, void* page, uint64_t start);
  bool Sampled() const { return timed_ && (++ThisThreadSampleCounter() & (kSampleEvery - 1)) == 0; }
  uint64_t ElapsedNs(uint64_t start) const {
    return static_cast<uint64_t>(double(TscNow() - start) * ns_per_tick_);
  }
  // Spins until `start + latency + max(raw, transfer)`; counts raw and injected ticks.
  void Emulate(uint64_t start, uint64_t latency_ticks, size_t raw_counter);
  bool RoomUnderLimit() const {
    return used_bytes() + kPageSize <= limit_bytes_.load(std::memory_order_relaxed);
  }
  // The same spin without counting (probe operations).
  void SpinUntilEmulated(uint64_t start, uint64_t latency_ticks) const;

  const std::string name_;
  const TierKind kind_;
  bool emulated_ = false;
  bool timed_ = true;
  double ns_per_tick_ = 1.0 / TscTicksPerNs();
  bool overwritable_ = false;
  bool scrub_on_free_ = false;
  std::unique_ptr<PageChecksums> sums_;  // null: checksums off
  std::atomic<bool> limited_{false};
  std::atomic<uint64_t> limit_bytes_{0};
  const unsigned char* hint_base_ = nullptr;
  uint32_t hint_frames_ = 0;
  TierEmulation emulation_;
  uint64_t read_ticks_ = 0, write_ticks_ = 0, transfer_ticks_ = 0;
  ShardedCounters<kNumCounters> counters_;
  ShardedLatencyHistogram load_latency_;
  ShardedLatencyHistogram store_latency_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_TIER_H_
