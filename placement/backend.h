// Backend: the frontswap-compatible page store, the engine behind every face (the C ABI and
// plugin ops, the CLI, the nbdkit plugin: frontend/). It is built from plain options
// (placement/backend_options.h) and tiers; frontend/backend_factory.h builds one from a config.
//
// A guest offers a 4 KiB page for swap slot (type, offset) with Store; tierswap either accepts
// it, and then returns exactly those bytes from Load until the slot is invalidated or stored
// again, or rejects it (kNoSpace) and the guest writes it to its swap device. The contract, from
// Documentation/vm/frontswap.rst, that zswap broke three times:
//   - a store to an occupied slot either succeeds and replaces the page, or fails AND the old
//     page is dropped: stale data is never returned;
//   - a load of an accepted page never fails silently and never returns other bytes;
//   - a store copies synchronously: the caller may reuse its buffer when Store returns.
//
// Pages that repeat one 8-byte value (zero pages, mostly) are kept in the page index only.
// Other pages go where the placement policy says (placement/policy.h); a background mover
// (placement/migrator.h) demotes cold pages and promotes reused ones, and follows capacity
// changes (SetTierCapacity, TierOffline). Stores are rejected only when no tier can take the
// page, a quota or a freeze says so; every reject has a counted reason.
//
// Thread-safety: every method may be called from any thread. Operations on different slots
// run in parallel without a shared lock; operations on the same slot are ordered by that slot's
// entry lock, so a load racing a store returns the old or the new page, whole. Init and
// InvalidateArea of a type are expected to be serialised by the caller (swapon/swapoff), but a
// store racing InvalidateArea still never leaves a page behind.
//
// Hot paths (Store, Load, InvalidatePage) do not allocate, log or make system calls, except to
// map a new 768 KiB index chunk once per 65536 slots.
#ifndef TIERSWAP_PLACEMENT_BACKEND_H_
#define TIERSWAP_PLACEMENT_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "placement/backend_options.h"
#include "placement/backend_stats.h"
#include "placement/locked_slot.h"
#include "placement/migrator.h"
#include "placement/page_index.h"
#include "placement/policy.h"
#include "placement/probe.h"
#include "tiers/mutex.h"
#include "tiers/result.h"
#include "tiers/sharded_counter.h"
#include "tiers/stats_sink.h"
#include "tiers/status.h"
#include "tiers/tier.h"

namespace tierswap {

// Why the calling thread's last failed Load failed (for messages at the C ABI).
struct LoadFailure {
  bool checksum = false;  // the page failed its checksum (else the tier could not read it)
  unsigned tier = 0;      // the tier that holds the page
};

class Backend final : private MigratorHost {
 public:
  static constexpr unsigned kMaxTypes = PageIndex::kMaxTypes;
  static constexpr uint64_t kMaxPagesPerType = PageIndex::kMaxPagesPerType;

  // A backend over `tiers` (at least one, at most 31; fastest first unless the probe says
  // otherwise), with no type initialised. frontend/backend_factory.h opens one from a config.
  static Result<std::unique_ptr<Backend>> Open(std::vector<std::unique_ptr<Tier>> tiers,
                                               BackendOptions options);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Prepares swap type `type` (< 32) for stores, with `nr_pages` slots (0: unknown, then any
  // offset below 2^32 is accepted). Re-initialising a type drops the pages it held.
  // kInvalidArgument: type >= 32 or nr_pages > 2^32.
  [[nodiscard]] Status Init(unsigned type, uint64_t nr_pages);

  // Stores a copy of `page` (4 KiB) for (type, offset).
  //   kOk               accepted; replaces any page the slot held
  //   kNoSpace          rejected: no tier has room, the type is at its quota, the backend is
  //                     frozen, the page compresses poorly and only compressed tiers have room,
  //                     or a tier failed to write (LastRejectReason says which); any page the
  //                     slot held is dropped
  //   kNoMemory         rejected, index memory could not be mapped; any old page is dropped
  //   kNotInitialized   the type is not initialised (or its area was invalidated meanwhile)
  //   kInvalidArgument  type >= 32, page == nullptr, offset >= nr_pages (when known) or >= 2^32
  [[nodiscard]] Status Store(unsigned type, uint64_t offset, const void* page);

  // Copies the page of (type, offset) into `page` (4 KiB).
  //   kOk        copied; with exclusive loads the page is also dropped and *exclusive = true
  //   kNotFound  no page held; `page` is untouched
  //   kIoError   the tier failed, or the page failed its checksum: `page` is zeroed (never the
  //              bad bytes) and the slot stays held; LastLoadFailure() says which and where
  //   kNotInitialized, kInvalidArgument as for Store
  // `exclusive` may be null.
  [[nodiscard]] Status Load(unsigned type, uint64_t offset, void* page, bool* exclusive = nullptr);

  // Drops the page of (type, offset) if held; a no-op otherwise (and for bad arguments).
  // Never blocks for longer than a concurrent page copy of the same slot.
  void InvalidatePage(unsigned type, uint64_t offset);

  // Drops every page of `type`, frees their frames, and marks the type uninitialised: it must
  // be initialised again before it accepts stores. A no-op for type >= 32.
  void InvalidateArea(unsigned type);

  // ---- Dynamic capacity and availability (all cold paths) ---------------------------------

  // The index of the tier named `name`, or -1.
  int FindTier(std::string_view name) const;
  // Lets tier `tier` hold at most `bytes` (up to its configured capacity) and moves pages off it
  // until it does: to other tiers, else to the writeback callback. Returns the number of pages
  // still above the new capacity (0: done; > 0 only without a writeback callback).
  Result<uint64_t> SetTierCapacity(unsigned tier, uint64_t bytes);
  // Stops placing pages on `tier` and drains it as SetTierCapacity(0) does. Loads of pages still
  // on it keep working. Returns the pages that could not be moved.
  Result<uint64_t> TierOffline(unsigned tier);
  // Places pages on `tier` again, up to its configured capacity.
  Status TierOnline(unsigned tier);
  bool IsTierOnline(unsigned tier) const;
  // The callback that takes pages no tier can hold during SetTierCapacity/TierOffline (the
  // guest writes them to its swap device), on the caller's thread with no tierswap lock held:
  // it may call any function of the backend. Null: such pages stay, and the calls report them.
  void SetWriteback(WritebackFn fn, void* ctx);
  // While frozen, every store is rejected (and, as with any rejected store, the slot's old page
  // is dropped). Loads and invalidations work as usual.
  void Freeze(bool frozen) { frozen_.store(frozen, std::memory_order_relaxed); }
  bool frozen() const { return frozen_.load(std::memory_order_relaxed); }
  // One synchronous pass of the mover (evacuation, promotion, demotion); returns pages moved.
  // With [placement] background = false this is the only way pages move.
  size_t Maintain();
  // The same, at time `now_ns` (monotonic nanoseconds of the caller's own clock, never
  // decreasing): trace replays use trace time so that residency windows are deterministic.
  size_t Maintain(uint64_t now_ns);
  const PlacementPolicy& policy() const { return *policy_; }
  const TierView& tier_view() const { return view_; }
  // What the probe measured at open, per tier (empty with probe_budget_ms = 0).
  const std::vector<TierProbe>& probes() const { return probes_; }
  // Why this thread's last rejected Store was rejected.
  static RejectReason LastRejectReason();
  // Why this thread's last Load that returned kIoError failed.
  static LoadFailure LastLoadFailure();

  bool IsInitialized(unsigned type) const;
  uint64_t NrPages(unsigned type) const;
  size_t tier_count() const { return tiers_.size(); }
  const Tier& tier(size_t i) const { return *tiers_[i]; }
  const BackendOptions& options() const { return options_; }

  // Pages currently held (all types, same-filled included).
  uint64_t stored_pages() const;
  // DRAM used for bookkeeping: index, allocator bitmaps, counters.
  size_t MetadataBytes() const;

  // Every figure the statistics hold, typed (placement/backend_stats.h).
  BackendStats Stats() const;
  // The mover's counters alone (cheap: for per-interval readers).
  MoverStats mover_stats() const { return migrator_->Stats(); }
  // Exports every statistic (docs/stats.md) to `sink`: the snapshot Stats() takes, with each
  // tier's own fields (Tier::ExportStats) in its item. frontend/stats_export.h renders them.
  void ExportStats(StatsSink& sink) const;

 private:
  Backend(std::vector<std::unique_ptr<Tier>> tiers, BackendOptions options,
          std::unique_ptr<PlacementPolicy> policy, std::vector<TierProbe> probes);

  // MigratorHost.
  uint64_t HintOf(unsigned type, uint64_t offset) const override { return SlotHint(type, offset); }
  bool DropIfUnchanged(unsigned type, uint64_t offset, unsigned tier, uint32_t gen) override;

  void MoverLoop() EXCLUDES(mover_mu_);
  // Counts a rejected store and remembers its reason for this thread.
  void Reject(RejectReason reason);
  // A tier failed to return a page of tier `tier`: zeroes `page`, remembers why for this thread,
  // counts it, and returns kIoError.
  [[gnu::cold]] Status LoadFailed(unsigned tier, void* page);

  // Why a store is turned away before any copy: frozen, or a type at its quota storing into an
  // empty slot (the quota is checked again, exactly, when the page is published).
  RejectReason Refusal(unsigned type, uint32_t peek) const;
  // Store, step 1: a new version of a page on the fastest online tier replaces it in place,
  // under the entry lock: no allocation, and the page stays where its hint puts it. False when
  // the page is elsewhere or the tier cannot (the store goes on to step 2).
  bool OverwriteInPlace(unsigned type, uint64_t state, PageEntry& e, const void* page);
  // Puts a non-same-filled page on the first tier the policy names that has room. A compressed
  // tier that declines the page sets *incompressible.
  Status Place(const void* page, uint64_t hint, uint32_t bits, SlotLocation* loc,
               bool* incompressible);
  // Store, step 2: makes `fresh` (already copied out) the slot's page, replacing any old one.
  enum class Published { kYes, kAreaGone, kOverQuota };
  Published Publish(unsigned type, uint64_t state, PageEntry& e, const SlotLocation& fresh,
                    bool incompressible, bool* had_page);
  // Store, step 3: a rejected store drops the slot's old page (frontswap's rule). Returns false
  // when the type's area was invalidated meanwhile; *had_page and *bits say what the slot held.
  bool DropRejected(unsigned type, uint64_t state, PageEntry& e, bool incompressible,
                    bool* had_page, uint32_t* bits);
  // The placement hint of a slot: dense offsets of one type map to consecutive frames.
  static uint64_t SlotHint(unsigned type, uint64_t offset) {
    return offset + uint64_t{type} * 0x9E3779B97F4A7C15ull;
  }
  // The slot protocol over this backend's tiers (placement/locked_slot.h).
  LockedSlot Lock(PageEntry& e) { return LockedSlot(e, tier_ptrs_.data()); }
  // Records a change of a slot's contents in the per-type and global gauges (under its lock).
  void Account(unsigned type, const SlotLocation& before, const SlotLocation& after);
  bool HasQuota(unsigned type) const { return quota_pages_[type] != 0; }

  PageIndex index_;
  std::vector<std::unique_ptr<Tier>> tiers_;
  std::vector<Tier*> tier_ptrs_;  // the same tiers, as LockedSlot and the mover take them
  const BackendOptions options_;
  std::unique_ptr<PlacementPolicy> policy_;
  const std::vector<TierProbe> probes_;  // measured at open (empty when the probe is off)
  TierView view_;
  std::unique_ptr<Migrator> migrator_;
  ShardedCounters<kNumBackendCounters> counters_;  // by BackendCounter
  ShardedCounters<kMaxTypes> type_pages_;          // gauge: pages held per type
  // Takes one page of `type`'s quota: false (nothing taken) when the type is at its quota. A CAS,
  // so the count never exceeds the quota even for a moment, and a racing store is never turned
  // away by another's transient over-count.
  bool ReserveQuota(unsigned type);
  // Quotas: max pages per type (0: none) and exact usage of types that have one. Only types with
  // a quota pay for the shared counter.
  uint64_t quota_pages_[kMaxTypes] = {};
  std::atomic<uint64_t> quota_used_[kMaxTypes] = {};
  std::atomic<bool> frozen_{false};

  // Serialises the changes SetTierCapacity, TierOffline/Online and SetWriteback make (a limit,
  // the online flag, the callback). Never held during an evacuation: the writeback callback
  // runs with no lock held and may call any of them.
  Mutex control_mu_;
  WritebackFn writeback_ GUARDED_BY(control_mu_) = nullptr;
  void* writeback_ctx_ GUARDED_BY(control_mu_) = nullptr;

  Mutex mover_mu_;
  CondVar mover_cv_;
  bool mover_stop_ GUARDED_BY(mover_mu_) = false;
  std::thread mover_;
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_BACKEND_H_
