// Migrator: the mover. Keeps hot pages on fast tiers and cold pages far, within bounds.
//
// What it does in one Step (a background thread calls Step every few milliseconds; tests and
// benchmarks call it directly for determinism):
//   1. Evacuation: a tier holding more than its limit (lowered capacity, or offline) has pages
//      moved to other tiers at full speed, coldest first.
//   2. Promotion: pages that loads from slower tiers queued (EnqueuePromotion) move to the
//      fastest tier that is below its high watermark, at most `max_migration_mbps`. A page
//      promoted and loaded again since is not demoted within `min_residency_ms` (no
//      ping-pong; MovePage restarts a promoted page's load count); a page demoted
//      and loaded again within that window is promoted back, and that counts as wasted.
//   3. Demotion: a tier above its high watermark has its coldest pages (CLOCK: a page loaded
//      since the hand last passed gets a second chance; the hand walks PageIndex::Sweep's
//      order, not offsets) moved to the next tier down until it
//      is below its low watermark; the gap between the two is the hysteresis that keeps a tier
//      from flapping at its cap. Demotion is rate-limited like promotion.
// A move back within the residency window (only forced moves do that) is counted as wasted.
// Every move goes through MovePage (page_mover.h), so a racing store, load or invalidate wins.
//
// Evacuate() is the synchronous form of step 1 for control calls (shrink, offline): when no
// tier has room for a page, it hands the page to a writeback callback (the guest writes it to
// its swap device) and then drops it, or, without a callback, leaves it and reports it. The
// callback runs with no lock held (the moves run under mu_, a batch at a time, and the pages
// no tier took are written back between batches), so it may call back into the backend,
// control functions included.
//
// Thread-safety: EnqueuePromotion is called from load paths on any thread (per-shard queues,
// each with its own small lock). Step and the moving phases of Evacuate serialise on one mutex
// (control path); Evacuates may run concurrently with each other (a page two of them write back
// is written twice and dropped once).
#ifndef TIERSWAP_PLACEMENT_MIGRATOR_H_
#define TIERSWAP_PLACEMENT_MIGRATOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "placement/page_index.h"
#include "placement/page_mover.h"
#include "placement/policy.h"
#include "tiers/mutex.h"
#include "tiers/sharded_counter.h"
#include "tiers/stats_sink.h"
#include "tiers/tier.h"

namespace tierswap {

// The mover's counters: X(enum, exported name, help).
#define TIERSWAP_MOVER_COUNTERS(X)                                                                 \
  X(kSteps, "mover_steps", "passes of the mover (Step)")                                           \
  X(kPromotions, "mover_promotions", "pages promoted to a faster tier")                            \
  X(kDemotions, "mover_demotions", "pages demoted from a tier above its high watermark")           \
  X(kEvacuated, "mover_evacuations",                                                               \
    "pages moved off a tier above its limit (lowered capacity, offline)")                          \
  X(kWrittenBack, "mover_written_back", "pages handed to the writeback callback and dropped")      \
  X(kWritebackFailures, "mover_writeback_failures", "pages the writeback callback refused")        \
  X(kRaced, "mover_raced", "moves abandoned because a store, load or invalidate changed the page") \
  X(kNoRoom, "mover_no_room", "moves that found no tier with room")                                \
  X(kIoErrors, "mover_io_errors", "moves that could not read the page (a tier failed)")            \
  X(kQueueDrops, "mover_queue_drops", "promotion candidates dropped: their queue was full")        \
  X(kResidencySkips, "mover_residency_skips",                                                      \
    "demotions skipped: the page was promoted within min_residency_ms and loaded since")           \
  X(kRateLimited, "mover_rate_limited", "moves deferred by max_migration_mbps")                    \
  X(kSecondChances, "mover_second_chances",                                                        \
    "pages spared by the CLOCK hand because they were loaded since its last pass")                 \
  X(kReranks, "mover_reranks", "changes of the tiers' order by their live cost")

enum MoverCounter : size_t {
#define TIERSWAP_ENUM(e, name, help) e,
  TIERSWAP_MOVER_COUNTERS(TIERSWAP_ENUM)
#undef TIERSWAP_ENUM
      kNumMoverCounters
};

struct MoverCounterInfo {
  const char* name;
  const char* help;
};
inline constexpr MoverCounterInfo kMoverCounterInfo[kNumMoverCounters] = {
#define TIERSWAP_ROW(e, name, help) {name, help},
    TIERSWAP_MOVER_COUNTERS(TIERSWAP_ROW)
#undef TIERSWAP_ROW
};

// Pages the mover moved onto and off one tier (completed moves only).
struct TierMoveStats {
  uint64_t promotions_in = 0, promotions_out = 0, demotions_in = 0, demotions_out = 0;
  uint64_t wasted = 0;  // moves onto the tier that undid a move within min_residency_ms
  uint64_t migrated_bytes() const { return (promotions_in + demotions_in) * kPageSize; }
};

struct MoverStats {
  std::array<uint64_t, kNumMoverCounters> counters{};  // by MoverCounter
  uint64_t counter(MoverCounter c) const { return counters[c]; }
};

struct MigratorOptions {
  double high_watermark = 0.98;
  double low_watermark = 0.95;
  uint64_t max_migration_mbps = 0;  // 0: unlimited
  uint64_t min_residency_ms = 1000;
  uint64_t scan_entries_per_step = 1 << 16;  // CLOCK budget per tier per Step
  bool migrate = true;  // false (static policy): Step only updates costs and the ranking
};

// What the migrator needs from its owner for pages that leave tierswap entirely.
class MigratorHost {
 public:
  virtual ~MigratorHost() = default;
  // The placement hint of a slot (where a tier that places by hint should put it).
  virtual uint64_t HintOf(unsigned type, uint64_t offset) const = 0;
  // Drops the page of (type, offset) if the slot still holds generation `gen` of it on tier
  // `tier` (after a successful writeback). Returns true if it dropped it.
  virtual bool DropIfUnchanged(unsigned type, uint64_t offset, unsigned tier, uint32_t gen) = 0;
};

// The guest's writeback: write `page` of (type, offset) to the swap device; 0 on success.
using WritebackFn = int (*)(void* ctx, unsigned type, uint64_t offset, const void* page);

class Migrator {
 public:
  Migrator(PageIndex& index, std::vector<Tier*> tiers, TierView& view, MigratorOptions options,
           MigratorHost& host);

  // Hot path (a load from a tier of rank > 0 whose page qualifies): queue a promotion. Never
  // blocks for long; drops the candidate (counted) when its shard's queue is full.
  void EnqueuePromotion(unsigned type, uint64_t offset, unsigned tier);

  // One pass of evacuation, promotion and demotion. Returns pages moved.
  size_t Step() EXCLUDES(mu_);
  // The same at a given time (CLOCK_MONOTONIC nanoseconds, never decreasing): benchmarks and
  // tests replay traces in their own time, so residency windows are deterministic.
  size_t Step(uint64_t now_ns) EXCLUDES(mu_);

  struct EvacuateResult {
    uint64_t moved = 0;
    uint64_t written_back = 0;
    uint64_t remaining_pages = 0;  // pages still above the tier's limit
  };
  // Moves pages off `tier` until its used bytes are within its limit (Tier::SetLimit); pages no
  // other tier can take go to `writeback` (if set), called with no lock held. Synchronous; its
  // moves are serialised with Step.
  EvacuateResult Evacuate(unsigned tier, WritebackFn writeback, void* ctx) EXCLUDES(mu_);

  // Bytes of memory the mover holds: promotion queues, counters, and the residency record (one
  // entry per page moved within min_residency_ms). Lock-free: it never waits for a step.
  size_t MetadataBytes() const;

  MoverStats Stats() const;
  // Why the tiers were last re-ranked ("" if they never were): which tier moved above which,
  // at what estimated costs.
  std::string LastRerankReason() const;
  // The moves onto and off tier `tier` (evacuations and writebacks included). Only completed
  // moves count.
  TierMoveStats Moves(unsigned tier) const;

  // The live estimate of a tier's load cost (ns): an EWMA of the median load latency of windows
  // of at least kWindowLoads loads from the tier's histogram; seeded with the probe's figure by
  // SetInitialCost. A migrating policy's mover re-ranks tiers by it, on sustained evidence only
  // (kSustainWindows windows in a row at less than half the cost), so a tier that slows down
  // under load is ranked by what it costs now, and a preempted load cannot flip the order.
  double LiveLoadNs(unsigned tier) const { return live_ns_[tier].load(std::memory_order_relaxed); }
  // Windows of loads behind LiveLoadNs (0: the figure is the probe's, or none).
  uint64_t LiveWindows(unsigned tier) const {
    return live_windows_[tier].load(std::memory_order_relaxed);
  }
  void SetInitialCost(unsigned tier, double ns) {
    live_ns_[tier].store(ns, std::memory_order_relaxed);
  }

 private:
  struct Candidate {
    uint64_t key;  // type << 32 | offset
    unsigned tier;
  };
  struct alignas(kCacheLine) Queue {
    Mutex mu;
    std::array<Candidate, 256> ring GUARDED_BY(mu);
    size_t head GUARDED_BY(mu) = 0;
    size_t size GUARDED_BY(mu) = 0;
  };
  struct Residency {
    uint64_t time_ns;
    bool promoted;
  };

  // Re-ranking: windows of at least kWindowLoads loads; a tier moves up one place after
  // kSustainWindows windows in a row at less than kRerankRatio of the cost of the tier above.
  static constexpr uint64_t kWindowLoads = 256;
  static constexpr unsigned kSustainWindows = 3;
  static constexpr double kRerankRatio = 0.5;

  // Pages Evacuate collects for the writeback callback before it leaves mu_ to call it.
  static constexpr size_t kEvacuateBatch = 256;

  static uint64_t Key(unsigned type, uint64_t offset) { return uint64_t{type} << 32 | offset; }
  static uint64_t NowNs();
  // Tokens for one page at the rate limit; false when the budget is spent for now.
  bool TakeToken(uint64_t now_ns) REQUIRES(mu_);
  // Records a move and returns true if it was wasted (moves back within the residency window).
  bool Record(uint64_t key, bool promoted, uint64_t now_ns) REQUIRES(mu_);
  bool RecentlyPromoted(uint64_t key, uint64_t now_ns) const REQUIRES(mu_);
  void PruneResidency(uint64_t now_ns) REQUIRES(mu_);
  void RefreshWatermarks();
  // Updates the live cost estimates and, when they disagree with the ranking, the ranking.
  void UpdateCosts() REQUIRES(mu_);
  size_t Promote(uint64_t now_ns) REQUIRES(mu_);
  size_t Demote(unsigned tier, uint64_t now_ns) REQUIRES(mu_);
  // Moves one page off `tier` to the best other tier (*to; *promotion when faster); kNoRoom when
  // none took it.
  MoveOutcome MoveAway(unsigned type, uint64_t offset, unsigned tier, bool demote_only,
                       unsigned* to, bool* promotion) REQUIRES(mu_);
  // Counts a completed move (and whether it was wasted) in the per-tier movement counters.
  void CountMove(unsigned from, unsigned to, bool promotion, bool wasted);
  bool OverLimit(unsigned tier) const;

  PageIndex& index_;
  const std::vector<Tier*> tiers_;
  TierView& view_;
  const MigratorOptions options_;
  MigratorHost& host_;
  std::unique_ptr<Queue[]> queues_;                 // kCounterShards
  std::unique_ptr<std::atomic<double>[]> live_ns_;  // by tier
  // By tier: windows completed (UpdateCosts); written only by the mover, under mu_.
  std::unique_ptr<std::atomic<uint64_t>[]> live_windows_;
  // Per tier: completed moves onto and off it. Written only by the mover (under mu_), read
  // lock-free by ExportTierStats.
  struct TierMoves {
    std::atomic<uint64_t> promotions_in{0}, promotions_out{0}, demotions_in{0}, demotions_out{0};
    std::atomic<uint64_t> wasted{0};
  };
  std::unique_ptr<TierMoves[]> moves_;  // by tier
  ShardedCounters<kNumMoverCounters> counters_;

  // Everything below is the mover's own state, guarded by mu_.
  Mutex mu_;
  unsigned char buf_[kPageSize] GUARDED_BY(mu_);
  // Per tier: CLOCK hand (type, offset).
  std::vector<std::pair<unsigned, uint64_t>> hands_ GUARDED_BY(mu_);
  // Per tier: crossed its high watermark, not yet below the low.
  std::vector<bool> demoting_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Residency> residency_ GUARDED_BY(mu_);
  // (time_ns, key), oldest first.
  std::deque<std::pair<uint64_t, uint64_t>> residency_order_ GUARDED_BY(mu_);
  // Bytes the two above hold (an estimate from their sizes), published for MetadataBytes.
  std::atomic<size_t> residency_bytes_{0};
  void PublishResidencyBytes() REQUIRES(mu_);
  // Per tier: the load-latency histogram's cumulative bucket counts and total count where the
  // current window began (UpdateCosts).
  std::vector<std::vector<uint64_t>> window_base_ GUARDED_BY(mu_);
  std::vector<uint64_t> window_base_count_ GUARDED_BY(mu_);
  // Per ranking place r: the evidence that the tier ranked r + 1 (`slow`) should move above the
  // tier ranked r.
  struct Evidence {
    unsigned slow;
    uint64_t seen_windows;  // LiveWindows(slow) when last judged
    unsigned in_a_row;      // its windows in a row that were less than half the cost
  };
  std::vector<Evidence> evidence_ GUARDED_BY(mu_);
  mutable Mutex reason_mu_;
  std::string last_rerank_reason_ GUARDED_BY(reason_mu_);
  uint64_t tokens_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t last_refill_ns_ GUARDED_BY(mu_) = 0;
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_MIGRATOR_H_
