#include "placement/migrator.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <new>

#include "placement/locked_slot.h"

namespace tierswap {

Migrator::Migrator(PageIndex& index, std::vector<Tier*> tiers, TierView& view,
                   MigratorOptions options, MigratorHost& host)
    : index_(index),
      tiers_(std::move(tiers)),
      view_(view),
      options_(options),
      host_(host),
      queues_(new Queue[kCounterShards]),
      live_ns_(new std::atomic<double>[tiers_.size()]),
      live_windows_(new std::atomic<uint64_t>[tiers_.size()]),
      moves_(new TierMoves[tiers_.size()]),
      hands_(tiers_.size(), {0, 0}),
      demoting_(tiers_.size(), false),
      window_base_(tiers_.size()),
      window_base_count_(tiers_.size(), 0) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    live_ns_[t].store(0, std::memory_order_relaxed);
    live_windows_[t].store(0, std::memory_order_relaxed);
  }
}

namespace {

// The median of the loads a histogram gained since `base` (its cumulative bucket counts then):
// `n` loads.
double WindowMedian(const HistogramData& now, const std::vector<uint64_t>& base, uint64_t n) {
  // The bucket holding the ceil(n/2)-th load of the window; its midpoint stands for it (the
  // buckets are a quarter of a power of two wide).
  const uint64_t want = (n + 1) / 2;
  double lower = 0;
  for (size_t b = 0; b < now.buckets.size(); ++b) {
    const uint64_t in_window = now.buckets[b].second - (b < base.size() ? base[b] : 0);
    const double upper = now.buckets[b].first;
    if (in_window >= want) return upper > lower ? (lower + upper) / 2 : lower;
    lower = upper;
  }
  return lower;
}

}  // namespace

void Migrator::UpdateCosts() {
  // The live estimate of a tier is the median load latency of windows of at least
  // kWindowLoads loads, smoothed across windows. A median, not a mean: one load preempted for
  // a scheduler tick (milliseconds) outweighed thousands of 500 ns loads in a mean, and ranked
  // a DRAM tier below an emulated +2,000 ns one.
  constexpr double kWeight = 0.3;  // of the newest window in the EWMA
  for (size_t t = 0; t < tiers_.size(); ++t) {
    // The count alone first (no allocation): most passes find the window still filling.
    const uint64_t count = tiers_[t]->LoadLatencySum().second;
    if (count - window_base_count_[t] < kWindowLoads) continue;
    const HistogramData now = tiers_[t]->load_latency();  // counts only grow: n >= kWindowLoads
    const uint64_t n = now.count - window_base_count_[t];
    const double median = WindowMedian(now, window_base_[t], n);
    window_base_[t].resize(now.buckets.size());
    for (size_t b = 0; b < now.buckets.size(); ++b) window_base_[t][b] = now.buckets[b].second;
    window_base_count_[t] = now.count;
    live_windows_[t].fetch_add(1, std::memory_order_relaxed);
    const double old = live_ns_[t].load(std::memory_order_relaxed);
    live_ns_[t].store(old == 0 ? median : (1 - kWeight) * old + kWeight * median,
                      std::memory_order_relaxed);
  }
  // The static policy keeps the configured order: estimates are kept for the statistics only.
  if (!options_.migrate) return;
  // One bubble pass over the ranking: adjacent tiers swap when the slower-ranked one costs less
  // than half as much (load latency also depends on what a tier holds, so modest differences
  // between tiers of the same memory are noise) in kSustainWindows windows of its own in a
  // row. Repeated passes (one per mover step) converge; the evidence stops flapping.
  std::vector<unsigned> order = view_.rank.Get();
  bool changed = false;
  if (evidence_.size() != order.size()) evidence_.assign(order.size(), {~0u, 0, 0});
  for (size_t r = 0; r + 1 < order.size(); ++r) {
    const unsigned fast = order[r], slow = order[r + 1];
    const double a = live_ns_[fast].load(std::memory_order_relaxed);
    const double b = live_ns_[slow].load(std::memory_order_relaxed);
    const uint64_t windows = LiveWindows(slow);
    Evidence& e = evidence_[r];
    if (e.slow != slow) e = {slow, windows, 0};  // another pair at this place: start over
    if (windows == e.seen_windows) continue;     // no new window of the challenger
    e.seen_windows = windows;
    if (!(a > 0 && b > 0 && b < kRerankRatio * a)) {
      e.in_a_row = 0;
      continue;
    }
    if (++e.in_a_row < kSustainWindows) continue;
    char reason[256];
    std::snprintf(reason, sizeof reason,
                  "tier '%s' (%.0f ns a load) moved above tier '%s' (%.0f ns): less than half "
                  "its cost in %u windows of %llu or more loads in a row",
                  tiers_[slow]->name().c_str(), b, tiers_[fast]->name().c_str(), a, kSustainWindows,
                  static_cast<unsigned long long>(kWindowLoads));
    {
      MutexLock lock(&reason_mu_);
      last_rerank_reason_ = reason;
    }
    std::swap(order[r], order[r + 1]);
    evidence_[r] = {order[r + 1], LiveWindows(order[r + 1]), 0};
    changed = true;
  }
  if (changed) {
    view_.rank.Set(order);
    counters_.Add(kReranks);
  }
}

std::string Migrator::LastRerankReason() const {
  MutexLock lock(&reason_mu_);
  return last_rerank_reason_;
}

uint64_t Migrator::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

void Migrator::EnqueuePromotion(unsigned type, uint64_t offset, unsigned tier) {
  Queue& q = queues_[ThisThreadShard()];
  MutexLock lock(&q.mu);
  if (q.size == q.ring.size()) {
    counters_.Add(kQueueDrops);
    return;
  }
  q.ring[(q.head + q.size) % q.ring.size()] = Candidate{Key(type, offset), tier};
  ++q.size;
}

bool Migrator::TakeToken(uint64_t now_ns) {
  if (options_.max_migration_mbps == 0) return true;
  // Token bucket in bytes: refill at the rate, burst of at most 10 ms worth (and one page).
  const double bytes_per_ns = double(options_.max_migration_mbps) * 1e6 / 1e9;
  const uint64_t burst = std::max<uint64_t>(kPageSize, uint64_t(bytes_per_ns * 10e6));
  if (last_refill_ns_ == 0) last_refill_ns_ = now_ns;
  tokens_bytes_ = std::min<uint64_t>(
      burst, tokens_bytes_ + uint64_t(double(now_ns - last_refill_ns_) * bytes_per_ns));
  last_refill_ns_ = now_ns;
  if (tokens_bytes_ < kPageSize) {
    counters_.Add(kRateLimited);
    return false;
  }
  tokens_bytes_ -= kPageSize;
  return true;
}

void Migrator::PruneResidency(uint64_t now_ns) {
  const uint64_t window = options_.min_residency_ms * 1'000'000ull;
  while (!residency_order_.empty() && now_ns - residency_order_.front().first > window) {
    auto it = residency_.find(residency_order_.front().second);
    // Only erase if this queue entry is the record's latest move.
    if (it != residency_.end() && it->second.time_ns == residency_order_.front().first) {
      residency_.erase(it);
    }
    residency_order_.pop_front();
  }
  PublishResidencyBytes();
}

void Migrator::PublishResidencyBytes() {
  // A hash node holds the key, the value and a next pointer; the table, a pointer per bucket.
  constexpr size_t kNode = sizeof(void*) + sizeof(uint64_t) + sizeof(Residency);
  const size_t bytes = residency_.size() * kNode + residency_.bucket_count() * sizeof(void*) +
                       residency_order_.size() * sizeof(residency_order_.front());
  residency_bytes_.store(bytes, std::memory_order_relaxed);
}

size_t Migrator::MetadataBytes() const {
  return kCounterShards * sizeof(Queue) + decltype(counters_)::MemoryBytes() +
         view_.size() * (sizeof(double) + sizeof(std::pair<unsigned, uint64_t>) +
                         sizeof(std::pair<double, uint64_t>)) +
         residency_bytes_.load(std::memory_order_relaxed);
}

bool Migrator::RecentlyPromoted(uint64_t key, uint64_t now_ns) const {
  auto it = residency_.find(key);
  return it != residency_.end() && it->second.promoted &&
         now_ns - it->second.time_ns < options_.min_residency_ms * 1'000'000ull;
}

bool Migrator::Record(uint64_t key, bool promoted, uint64_t now_ns) {
  bool wasted = false;
  auto it = residency_.find(key);
  if (it != residency_.end() &&
      now_ns - it->second.time_ns < options_.min_residency_ms * 1'000'000ull &&
      it->second.promoted != promoted) {
    wasted = true;
  }
  if (options_.min_residency_ms != 0) {
    // The residency record is advice (ping-pong damping and the wasted count), not state a page
    // depends on: when memory for it runs out, skip it rather than fail the move.
    try {
      residency_[key] = Residency{now_ns, promoted};
      residency_order_.emplace_back(now_ns, key);
    } catch (const std::bad_alloc&) {
      residency_.erase(key);
    }
  }
  PublishResidencyBytes();
  return wasted;
}

bool Migrator::OverLimit(unsigned t) const {
  return tiers_[t]->used_bytes() > tiers_[t]->limit_bytes();
}

void Migrator::RefreshWatermarks() {
  for (unsigned t = 0; t < tiers_.size(); ++t) {
    const double limit = double(tiers_[t]->limit_bytes());
    const double used = double(tiers_[t]->used_bytes());
    view_.above_high[t].store(used > options_.high_watermark * limit, std::memory_order_relaxed);
  }
}

MoveOutcome Migrator::MoveAway(unsigned type, uint64_t offset, unsigned t, bool demote_only,
                               unsigned* to, bool* promotion) {
  // Slower tiers first (demotion), then, for evacuation, faster ones.
  const unsigned r = view_.RankOf(t);
  MoveOutcome last = MoveOutcome::kNoRoom;
  for (int pass = 0; pass < (demote_only ? 1 : 2); ++pass) {
    for (unsigned i = 0; i < view_.size(); ++i) {
      const unsigned rr = pass == 0 ? r + 1 + i : i;
      if (rr >= view_.size() || (pass == 1 && rr >= r)) break;
      *to = view_.rank[rr];
      *promotion = pass == 1;
      if (*to == t || !view_.online[*to].load(std::memory_order_relaxed)) continue;
      last = MovePage(index_, tiers_, type, offset, t, *to, host_.HintOf(type, offset), *promotion,
                      buf_);
      if (last != MoveOutcome::kNoRoom) return last;
    }
  }
  return last;
}

void Migrator::CountMove(unsigned from, unsigned to, bool promotion, bool wasted) {
  // Relaxed: counts, read by statistics only.
  (promotion ? moves_[from].promotions_out : moves_[from].demotions_out)
      .fetch_add(1, std::memory_order_relaxed);
  (promotion ? moves_[to].promotions_in : moves_[to].demotions_in)
      .fetch_add(1, std::memory_order_relaxed);
  if (wasted) moves_[to].wasted.fetch_add(1, std::memory_order_relaxed);
}

TierMoveStats Migrator::Moves(unsigned t) const {
  const TierMoves& m = moves_[t];
  TierMoveStats out;
  out.promotions_in = m.promotions_in.load(std::memory_order_relaxed);
  out.promotions_out = m.promotions_out.load(std::memory_order_relaxed);
  out.demotions_in = m.demotions_in.load(std::memory_order_relaxed);
  out.demotions_out = m.demotions_out.load(std::memory_order_relaxed);
  out.wasted = m.wasted.load(std::memory_order_relaxed);
  return out;
}

size_t Migrator::Promote(uint64_t now_ns) {
  size_t moved = 0;
  for (size_t s = 0; s < kCounterShards; ++s) {
    Queue& q = queues_[s];
    for (;;) {
      Candidate c;
      {
        MutexLock lock(&q.mu);
        if (q.size == 0) break;
        c = q.ring[q.head];
        q.head = (q.head + 1) % q.ring.size();
        --q.size;
      }
      const unsigned type = unsigned(c.key >> 32);
      const uint64_t offset = c.key & 0xFFFFFFFFull;
      // No residency check here: a page demoted a moment ago and loaded again was demoted by
      // mistake, and leaving it on the slow tier for the rest of the window would make every
      // load pay for that. Bringing it back is counted as a wasted migration (Record).

      const unsigned from_rank = view_.RankOf(c.tier);
      for (unsigned rr = 0; rr < from_rank; ++rr) {
        const unsigned to = view_.rank[rr];
        if (!view_.online[to].load(std::memory_order_relaxed) ||
            view_.above_high[to].load(std::memory_order_relaxed)) {
          continue;
        }
        if (!TakeToken(now_ns)) return moved;  // the rest waits for the next step
        const MoveOutcome o = MovePage(index_, tiers_, type, offset, c.tier, to,
                                       host_.HintOf(type, offset), /*promotion=*/true, buf_);
        if (o == MoveOutcome::kMoved) {
          ++moved;
          counters_.Add(kPromotions);
          CountMove(c.tier, to, /*promotion=*/true, Record(c.key, true, now_ns));
          // The destination may have crossed its high watermark.
          const double limit = double(tiers_[to]->limit_bytes());
          if (double(tiers_[to]->used_bytes()) > options_.high_watermark * limit) {
            view_.above_high[to].store(true, std::memory_order_relaxed);
          }
          break;
        }
        if (o == MoveOutcome::kRaced) counters_.Add(kRaced);
        if (o == MoveOutcome::kIoError) counters_.Add(kIoErrors);
        if (o != MoveOutcome::kNoRoom) break;
      }
    }
  }
  return moved;
}

size_t Migrator::Demote(unsigned t, uint64_t now_ns) {
  Tier& tier = *tiers_[t];
  const bool forced = OverLimit(t) || !view_.online[t].load(std::memory_order_relaxed);
  const double limit = double(tier.limit_bytes());
  auto done = [&] {
    const double used = double(tier.used_bytes());
    return forced ? used <= limit && view_.online[t].load(std::memory_order_relaxed)
                  : used <= options_.low_watermark * limit;
  };
  // Hysteresis: demotion starts when a tier crosses its high watermark and goes on, pass after
  // pass, until it is below the low one; between the two, a tier that was not demoting is left.
  if (done()) {
    demoting_[t] = false;
    return 0;
  }
  if (!forced && !demoting_[t] && double(tier.used_bytes()) <= options_.high_watermark * limit) {
    return 0;
  }
  demoting_[t] = true;
  size_t moved = 0;
  uint64_t budget = options_.scan_entries_per_step;
  // Plain references, not a structured binding: clang 14 cannot capture bindings in lambdas.
  unsigned& type = hands_[t].first;
  uint64_t& offset = hands_[t].second;
  bool stuck = false;
  // CLOCK over every type's slots, resuming where the hand stopped (`offset` is the hand's
  // position in PageIndex::Sweep's order, not a page offset).
  for (unsigned types_seen = 0; types_seen <= PageIndex::kMaxTypes && budget > 0 && !stuck;) {
    const uint64_t before = budget;
    const uint64_t next = index_.Sweep(type, offset, budget, [&](uint64_t o, PageEntry& e) {
      mu_.AssertHeld();  // Sweep calls back on this thread, inside this function
      --budget;
      const uint32_t peek = e.Peek();
      if (Ctl::Kind(peek) != EntryKind::kOnTier || Ctl::Tier(peek) != t) return true;
      const uint32_t bits = Ctl::Policy(peek);
      const uint64_t key = Key(type, o);
      if (!forced && (bits & page_bits::kReferenced) != 0) {
        // Second chance: clear the reference bit; the page is demoted next time unless loaded.
        LockedSlot slot(e, tiers_.data());
        if (slot.OnTier(t)) slot.set_policy(slot.policy() & ~page_bits::kReferenced);
        counters_.Add(kSecondChances);
        return true;
      }
      // A page promoted within the residency window and loaded again since stays: demoting it
      // now is the ping-pong the window exists to prevent. One promoted on a single load has
      // not shown reuse yet, and pinning it would only keep a hot page out.
      if (!forced && page_bits::LoadCount(bits) >= 2 && RecentlyPromoted(key, now_ns)) {
        counters_.Add(kResidencySkips);
        return true;
      }
      if (!forced && !TakeToken(now_ns)) {
        stuck = true;
        return false;
      }
      unsigned to;
      bool promotion;
      const MoveOutcome out = MoveAway(type, o, t, /*demote_only=*/!forced, &to, &promotion);
      if (out == MoveOutcome::kMoved) {
        ++moved;
        counters_.Add(forced ? kEvacuated : kDemotions);
        CountMove(t, to, promotion, Record(key, false, now_ns));
        if (done()) return false;
      } else if (out == MoveOutcome::kNoRoom) {
        counters_.Add(kNoRoom);
        stuck = true;  // nowhere to go: stop this tier for this step
        return false;
      } else if (out == MoveOutcome::kRaced) {
        counters_.Add(kRaced);
      } else if (out == MoveOutcome::kIoError) {
        counters_.Add(kIoErrors);
      }
      return true;
    });
    if (done()) {
      offset = next == PageIndex::kMaxPagesPerType ? 0 : next;
      break;
    }
    if (next == PageIndex::kMaxPagesPerType) {
      type = (type + 1) % PageIndex::kMaxTypes;
      offset = 0;
      ++types_seen;
    } else {
      offset = next;
    }
    if (budget == before) ++types_seen;  // an empty type costs nothing; do not loop forever
  }
  return moved;
}

size_t Migrator::Step() { return Step(NowNs()); }

size_t Migrator::Step(uint64_t now) {
  MutexLock lock(&mu_);
  counters_.Add(kSteps);
  PruneResidency(now);
  UpdateCosts();
  RefreshWatermarks();
  if (!options_.migrate) return 0;
  size_t moved = Promote(now);
  // Demote from the fastest tier first: room made below is then used by the next tier's pages.
  for (unsigned r = 0; r < view_.size(); ++r) moved += Demote(view_.rank[r], now);
  RefreshWatermarks();
  return moved;
}

Migrator::EvacuateResult Migrator::Evacuate(unsigned t, WritebackFn writeback, void* ctx) {
  EvacuateResult result;
  Tier& tier = *tiers_[t];
  auto over = [&] {
    return tier.used_bytes() > tier.limit_bytes() ||
           (!view_.online[t].load(std::memory_order_relaxed) && tier.stored_pages() > 0);
  };
  const uint64_t now = NowNs();
  // One pass over the index, in two alternating phases. A: under mu_, pages move to other
  // tiers, and those no tier can take are collected (a batch at a time). B: with no lock held,
  // each collected page is copied out and handed to the writeback callback, which may call
  // back into tierswap (any control function included), and then dropped unless it changed.
  std::vector<uint64_t> no_room;  // Key(type, offset)
  no_room.reserve(writeback != nullptr ? kEvacuateBatch : 0);
  unsigned type = 0;
  uint64_t from = 0;  // the cursor: the walk resumes at (type, from)
  while (type < PageIndex::kMaxTypes && over()) {
    no_room.clear();
    {
      MutexLock lock(&mu_);
      while (type < PageIndex::kMaxTypes && no_room.size() < kEvacuateBatch && over()) {
        const uint64_t stop = index_.Scan(type, from, UINT64_MAX, [&](uint64_t o, PageEntry& e) {
          mu_.AssertHeld();  // Scan calls back on this thread, inside this function
          const uint32_t peek = e.Peek();
          if (Ctl::Kind(peek) != EntryKind::kOnTier || Ctl::Tier(peek) != t) return true;
          unsigned to;
          bool promotion;
          const MoveOutcome out = MoveAway(type, o, t, /*demote_only=*/false, &to, &promotion);
          if (out == MoveOutcome::kMoved) {
            ++result.moved;
            counters_.Add(kEvacuated);
            CountMove(t, to, promotion, Record(Key(type, o), false, now));
          } else if (out == MoveOutcome::kNoRoom && writeback != nullptr) {
            no_room.push_back(Key(type, o));
            if (no_room.size() == kEvacuateBatch) return false;
          } else if (out == MoveOutcome::kRaced) {
            counters_.Add(kRaced);
          } else if (out == MoveOutcome::kIoError) {
            counters_.Add(kIoErrors);
          }
          return over();
        });
        if (stop == PageIndex::kMaxPagesPerType) {
          ++type;
          from = 0;
        } else {
          from = stop + 1;  // the entry at `stop` was visited
        }
      }
    }
    alignas(64) unsigned char page[kPageSize];
    for (const uint64_t key : no_room) {
      if (!over()) break;
      const auto key_type = static_cast<unsigned>(key >> 32);
      const uint64_t o = key & 0xffffffffu;
      // No tier has room: hand the page back to the guest, then drop it if it did not change
      // meanwhile (if it did, the newer page stays here and the written copy is never read).
      uint32_t gen;
      TierHandle handle;
      const MoveOutcome copied = CopyPageOut(index_, tiers_, key_type, o, t, page, &gen, &handle);
      if (copied == MoveOutcome::kIoError) {
        counters_.Add(kIoErrors);
      } else if (copied == MoveOutcome::kMoved) {
        if (writeback(ctx, key_type, o, page) != 0) {
          // The guest could not take the page: it stays here, and the call reports it.
          counters_.Add(kWritebackFailures);
        } else if (host_.DropIfUnchanged(key_type, o, t, gen)) {
          ++result.written_back;
          counters_.Add(kWrittenBack);
          // Demoted out of tierswap altogether.
          moves_[t].demotions_out.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
  const uint64_t used = tier.used_bytes();
  const uint64_t limit = view_.online[t].load(std::memory_order_relaxed) ? tier.limit_bytes() : 0;
  result.remaining_pages = used > limit ? (used - limit + kPageSize - 1) / kPageSize : 0;
  if (!view_.online[t].load(std::memory_order_relaxed))
    result.remaining_pages = tier.stored_pages();
  RefreshWatermarks();
  return result;
}

MoverStats Migrator::Stats() const {
  MoverStats out;
  for (size_t c = 0; c < kNumMoverCounters; ++c) out.counters[c] = counters_.Sum(c);
  return out;
}

}  // namespace tierswap
