#include "placement/backend.h"

#include <chrono>
#include <cstring>
#include <new>
#include <system_error>
#include <utility>

#include "tiers/fault_injection.h"
#include "tiers/page.h"

namespace tierswap {

namespace {

thread_local RejectReason t_last_reject = RejectReason::kNone;
// Written only when a load fails.
thread_local LoadFailure t_last_load_failure;

}  // namespace

RejectReason Backend::LastRejectReason() { return t_last_reject; }

LoadFailure Backend::LastLoadFailure() { return t_last_load_failure; }

Result<std::unique_ptr<Backend>> Backend::Open(std::vector<std::unique_ptr<Tier>> tiers,
                                               BackendOptions options) {
  if (tiers.empty())
    return MakeError(Status::kInvalidArgument, "a backend needs at least one tier");
  if (tiers.size() >= Ctl::kMaxTiers) {
    return MakeError(Status::kInvalidArgument,
                     std::to_string(tiers.size()) + " tiers given; at most 31 are supported");
  }
  for (const auto& t : tiers) {
    if (t == nullptr) return MakeError(Status::kInvalidArgument, "a tier is null");
  }
  // Before the tiers are shared (the probe below stores on them).
  if (options.scrub_on_free) {
    for (const auto& t : tiers) t->SetScrubOnFree(true);
  }
  auto policy = MakePolicy(options.placement.policy);
  if (policy == nullptr) {
    return MakeError(
        Status::kInvalidArgument,
        "unknown placement policy '" + options.placement.policy + "' (known: static, adaptive)");
  }
  policy->set_promote_after_loads(options.placement.promote_after_loads);
  for (const QuotaOptions& q : options.quotas) {
    if (q.type >= kMaxTypes || q.max_bytes < kPageSize) {
      return MakeError(Status::kInvalidArgument, "quota for type " + std::to_string(q.type) +
                                                     " of " + std::to_string(q.max_bytes) +
                                                     " bytes: a quota holds at least one page");
    }
  }
  // Measure every tier before any page arrives, and rank them by what a load costs.
  std::vector<TierProbe> probes;
  if (options.placement.probe_budget_ms > 0) {
    ProbeOptions po;
    po.budget_ms = options.placement.probe_budget_ms;
    for (auto& t : tiers) probes.push_back(ProbeTier(*t, po));
  }
  // The constructor can only report failure by throwing (the page index maps its directories,
  // the mover thread starts); nothing may throw past this function (the C ABI calls it).
  try {
    return std::unique_ptr<Backend>(
        new Backend(std::move(tiers), options, std::move(policy), std::move(probes)));
  } catch (const std::bad_alloc&) {
    return MakeError(Status::kNoMemory,
                     "cannot allocate the backend's page index and bookkeeping: out of memory "
                     "or address space");
  } catch (const std::system_error& e) {
    return MakeError(Status::kNoMemory,
                     std::string("cannot start the backend's mover thread: ") + e.what());
  }
}

Backend::Backend(std::vector<std::unique_ptr<Tier>> tiers, BackendOptions options,
                 std::unique_ptr<PlacementPolicy> policy, std::vector<TierProbe> probes)
    : tiers_(std::move(tiers)),
      options_(std::move(options)),
      policy_(std::move(policy)),
      probes_(std::move(probes)),
      view_(tiers_.size()) {
  for (auto& t : tiers_) tier_ptrs_.push_back(t.get());
  // The probe ranks the tiers for a policy that places by cost. Without a probe, and always for
  // the static policy, configuration order is the rank (docs/config.md: "a store goes to the
  // first tier, in file order, that has room").
  if (!probes_.empty() && policy_->Migrates()) view_.rank.Set(RankTiers(probes_));
  for (size_t t = 0; t < tiers_.size(); ++t) {
    view_.compressed[t] = tiers_[t]->kind() == TierKind::kCompressed;
  }
  for (const QuotaOptions& q : options_.quotas) quota_pages_[q.type] = q.max_bytes / kPageSize;
  MigratorOptions mo;
  mo.high_watermark = options_.placement.high_watermark;
  mo.low_watermark = options_.placement.low_watermark;
  mo.max_migration_mbps = options_.placement.max_migration_mbps;
  mo.min_residency_ms = options_.placement.min_residency_ms;
  mo.migrate = policy_->Migrates();
  MigratorHost& host = *this;
  migrator_ = std::make_unique<Migrator>(index_, tier_ptrs_, view_, mo, host);
  for (size_t t = 0; t < probes_.size(); ++t) {
    migrator_->SetInitialCost(static_cast<unsigned>(t), probes_[t].expected_load_ns.value);
  }
  for (auto& t : tiers_) t->EnableLatencyHistograms(options_.latency_histograms);
  if (options_.placement.background) {
    if (TIERSWAP_INJECT_FAULT(FaultSite::kThreadStart)) ThrowThreadStartFailure();
    mover_ = std::thread([this] { MoverLoop(); });
  }
}

Backend::~Backend() {
  if (mover_.joinable()) {
    {
      MutexLock lock(&mover_mu_);
      mover_stop_ = true;
    }
    mover_cv_.SignalAll();
    mover_.join();
  }
  // Free every tier handle the index still references, so tiers see a clean shutdown.
  for (unsigned type = 0; type < kMaxTypes; ++type) InvalidateArea(type);
}

void Backend::MoverLoop() {
  // The background mover: wakes every mover_interval_ms, updates the live cost estimates and,
  // for policies that migrate, moves pages.
  const auto interval = std::chrono::milliseconds(options_.placement.mover_interval_ms);
  for (;;) {
    {
      MutexLock lock(&mover_mu_);
      const auto deadline = CondVar::Clock::now() + interval;
      while (!mover_stop_ && mover_cv_.WaitUntil(&mover_mu_, deadline)) {
      }
      if (mover_stop_) return;
    }
    migrator_->Step();
  }
}

size_t Backend::Maintain() { return migrator_->Step(); }

size_t Backend::Maintain(uint64_t now_ns) { return migrator_->Step(now_ns); }

int Backend::FindTier(std::string_view name) const {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tiers_[t]->name() == name) return static_cast<int>(t);
  }
  return -1;
}

bool Backend::IsTierOnline(unsigned tier) const {
  return tier < tiers_.size() && view_.online[tier].load(std::memory_order_relaxed);
}

void Backend::SetWriteback(WritebackFn fn, void* ctx) {
  MutexLock lock(&control_mu_);
  writeback_ = fn;
  writeback_ctx_ = ctx;
}

Result<uint64_t> Backend::SetTierCapacity(unsigned tier, uint64_t bytes) {
  if (tier >= tiers_.size()) {
    return MakeError(Status::kInvalidArgument, "no tier " + std::to_string(tier));
  }
  Tier& t = *tiers_[tier];
  if (bytes > t.capacity_bytes()) {
    return MakeError(Status::kInvalidArgument,
                     "tier '" + t.name() + "': " + std::to_string(bytes) +
                         " bytes is more than its configured capacity of " +
                         std::to_string(t.capacity_bytes()) +
                         " bytes (it can shrink and grow "
                         "back up to that)");
  }
  WritebackFn writeback;
  void* ctx;
  {
    MutexLock lock(&control_mu_);
    t.SetLimit(bytes);
    writeback = writeback_;
    ctx = writeback_ctx_;
  }
  // Without control_mu_: the callback may call any control function (this one included).
  return migrator_->Evacuate(tier, writeback, ctx).remaining_pages;
}

Result<uint64_t> Backend::TierOffline(unsigned tier) {
  if (tier >= tiers_.size()) {
    return MakeError(Status::kInvalidArgument, "no tier " + std::to_string(tier));
  }
  WritebackFn writeback;
  void* ctx;
  {
    MutexLock lock(&control_mu_);
    view_.online[tier].store(false, std::memory_order_relaxed);
    tiers_[tier]->SetLimit(0);
    writeback = writeback_;
    ctx = writeback_ctx_;
  }
  return migrator_->Evacuate(tier, writeback, ctx).remaining_pages;
}

Status Backend::TierOnline(unsigned tier) {
  if (tier >= tiers_.size()) return Status::kInvalidArgument;
  MutexLock lock(&control_mu_);
  tiers_[tier]->SetLimit(tiers_[tier]->capacity_bytes());
  view_.online[tier].store(true, std::memory_order_relaxed);
  return Status::kOk;
}

bool Backend::DropIfUnchanged(unsigned type, uint64_t offset, unsigned tier, uint32_t gen) {
  PageEntry* e = index_.Find(type, offset);
  if (e == nullptr) return false;
  LockedSlot slot = Lock(*e);
  if (slot.gen() != gen || !slot.OnTier(tier)) return false;
  Account(type, slot.Drop(), SlotLocation{});
  return true;
}

void Backend::Reject(RejectReason reason) {
  t_last_reject = reason;
  counters_.Add(kFailedStores);
  const BackendCounter c = InfoOf(reason).counter;
  if (c != kNumBackendCounters) counters_.Add(c);
}

bool Backend::IsInitialized(unsigned type) const {
  return type < kMaxTypes && PageIndex::Initialized(index_.State(type));
}

uint64_t Backend::NrPages(unsigned type) const {
  return type < kMaxTypes ? index_.NrPages(type) : 0;
}

Status Backend::Init(unsigned type, uint64_t nr_pages) {
  if (type >= kMaxTypes || nr_pages > kMaxPagesPerType) return Status::kInvalidArgument;
  // swapon of a type that still holds pages (a swapoff we never saw): start empty.
  InvalidateArea(type);
  index_.InitType(type, nr_pages);
  return Status::kOk;
}

Status Backend::Place(const void* page, uint64_t hint, uint32_t bits, SlotLocation* loc,
                      bool* incompressible) {
  unsigned order[Ctl::kMaxTiers];
  const size_t n = policy_->StoreOrder(bits, view_, order);
  Status result = Status::kNoSpace;
  for (size_t i = 0; i < n; ++i) {
    const unsigned t = order[i];
    TierHandle h;
    const Status s = tiers_[t]->Store(page, &h, hint);
    if (s == Status::kOk) {
      *loc = SlotLocation{EntryKind::kOnTier, t, h};
      return Status::kOk;
    }
    // A full tier, or one that declines this page: the next tier may take it.
    if (s == Status::kRejected) {
      *incompressible = true;
      if (result == Status::kNoSpace) result = Status::kRejected;
    } else if (s != Status::kNoSpace) {
      result = s;  // a tier failed (I/O, memory): remember it, but let another tier try
    }
  }
  return result;
}

bool Backend::ReserveQuota(unsigned type) {
  // Relaxed: the count orders nothing; the slot's entry lock orders the page it accounts for.
  uint64_t used = quota_used_[type].load(std::memory_order_relaxed);
  do {
    if (used >= quota_pages_[type]) return false;
  } while (!quota_used_[type].compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
  return true;
}

void Backend::Account(unsigned type, const SlotLocation& before, const SlotLocation& after) {
  const bool had = !before.empty();
  const bool has = !after.empty();
  if (had != has) {
    if (has) {
      type_pages_.Add(type);
    } else {
      type_pages_.Sub(type);
      // Increments happen where the quota is checked (Publish), under the entry lock.
      if (HasQuota(type)) quota_used_[type].fetch_sub(1, std::memory_order_relaxed);
    }
  }
  const bool was_same = before.kind == EntryKind::kSameFilled;
  const bool is_same = after.kind == EntryKind::kSameFilled;
  if (was_same != is_same) {
    if (is_same) {
      counters_.Add(kSameFilledPages);
    } else {
      counters_.Sub(kSameFilledPages);
    }
  }
}

RejectReason Backend::Refusal(unsigned type, uint32_t peek) const {
  if (frozen_.load(std::memory_order_relaxed)) return RejectReason::kFrozen;
  if (HasQuota(type) && Ctl::Kind(peek) == EntryKind::kEmpty &&
      quota_used_[type].load(std::memory_order_relaxed) >= quota_pages_[type]) {
    return RejectReason::kQuota;
  }
  return RejectReason::kNone;
}

bool Backend::OverwriteInPlace(unsigned type, uint64_t state, PageEntry& e, const void* page) {
  const unsigned fastest = view_.rank[0];
  const uint32_t peek = e.Peek();
  if (Ctl::Kind(peek) != EntryKind::kOnTier || Ctl::Tier(peek) != fastest ||
      !view_.online[fastest].load(std::memory_order_relaxed)) {
    return false;
  }
  LockedSlot slot = Lock(e);
  if (index_.State(type) != state || !slot.OnTier(fastest) ||
      tiers_[fastest]->Overwrite(slot.payload(), page) != Status::kOk) {
    return false;
  }
  slot.set_policy(PlacementPolicy::AfterStore(slot.policy()));
  slot.MarkRewritten();
  counters_.Add(kDuplicateStores);
  counters_.Add(kSuccStores);
  return true;
}

Backend::Published Backend::Publish(unsigned type, uint64_t state, PageEntry& e,
                                    const SlotLocation& fresh, bool incompressible,
                                    bool* had_page) {
  LockedSlot slot = Lock(e);
  if (index_.State(type) != state) {
    // InvalidateArea (or a new Init) ran since the store began: publishing now could leave a
    // page of a dead area behind. The store acts as if it came just after the invalidation.
    slot.ReleaseAfterUnlock(fresh);
    return Published::kAreaGone;
  }
  *had_page = !slot.empty();
  if (!*had_page && HasQuota(type) && !ReserveQuota(type)) {
    // Racing stores of one type: the loser gives its page back. Exact: the count is only raised
    // here, under the slot's lock, and lowered when a page leaves (Account).
    slot.ReleaseAfterUnlock(fresh);
    return Published::kOverQuota;
  }
  uint32_t bits = PlacementPolicy::AfterStore(slot.policy());
  if (incompressible) bits |= page_bits::kIncompressible;
  slot.set_policy(bits);
  // A duplicate store replaces a page: the quota count does not change (Account sees a page
  // before and after). The old page is unreachable once the slot unlocks, and freed then.
  Account(type, slot.Publish(fresh), fresh);
  return Published::kYes;
}

bool Backend::DropRejected(unsigned type, uint64_t state, PageEntry& e, bool incompressible,
                           bool* had_page, uint32_t* bits) {
  LockedSlot slot = Lock(e);
  if (index_.State(type) != state) return false;
  if (incompressible) slot.set_policy(slot.policy() | page_bits::kIncompressible);
  const SlotLocation old = slot.Drop();
  Account(type, old, SlotLocation{});
  *had_page = !old.empty();
  *bits = slot.policy();
  return true;
}

Status Backend::Store(unsigned type, uint64_t offset, const void* page) {
  if (type >= kMaxTypes || page == nullptr) {
    Reject(RejectReason::kBadArgument);
    return Status::kInvalidArgument;
  }
  const uint64_t state = index_.State(type);
  if (!PageIndex::Initialized(state)) {
    Reject(RejectReason::kBadArgument);
    return Status::kNotInitialized;
  }
  const uint64_t nr_pages = index_.NrPages(type);
  if (offset >= kMaxPagesPerType || (nr_pages != 0 && offset >= nr_pages)) {
    Reject(RejectReason::kBadArgument);
    return Status::kInvalidArgument;
  }
  PageEntry* e = index_.FindOrCreate(type, offset);
  if (e == nullptr) {
    // No chunk could be mapped, so the slot cannot hold an old page either.
    Reject(RejectReason::kAllocation);
    return Status::kNoMemory;
  }
  const uint32_t peek = e->Peek();
  RejectReason refuse = Refusal(type, peek);

  // 1. Overwrite in place, or copy the page out (the slow part, without the entry lock).
  SlotLocation fresh;
  Status placed = Status::kNoSpace;
  bool incompressible = false;
  uint64_t fill;
  const uint64_t hint = SlotHint(type, offset);
  if (refuse == RejectReason::kNone) {
    if (IsSameFilled(page, &fill)) {
      fresh = SlotLocation{EntryKind::kSameFilled, 0, fill};
      placed = Status::kOk;
    } else if (OverwriteInPlace(type, state, *e, page)) {
      return Status::kOk;
    } else {
      placed = Place(page, hint, Ctl::Policy(peek), &fresh, &incompressible);
    }
  }

  // 2. Publish it. 3. If it was rejected, the slot must not keep its old page: drop it
  // (frontswap's rule), and since that may have freed exactly the room the new page needs, try
  // once more.
  bool dropped_old = false;
  for (int attempt = 0;; ++attempt) {
    if (placed == Status::kOk) {
      bool had_page = false;
      switch (Publish(type, state, *e, fresh, incompressible, &had_page)) {
        case Published::kYes:
          if (had_page || dropped_old) counters_.Add(kDuplicateStores);
          if (fresh.kind == EntryKind::kSameFilled) counters_.Add(kSameFilledStores);
          counters_.Add(kSuccStores);
          return Status::kOk;
        case Published::kAreaGone:
          Reject(RejectReason::kBadArgument);
          return Status::kNotInitialized;
        case Published::kOverQuota:
          placed = Status::kNoSpace;
          refuse = RejectReason::kQuota;
          break;
      }
    }
    if (attempt == 1) break;
    uint32_t bits = 0;
    if (!DropRejected(type, state, *e, incompressible, &dropped_old, &bits)) {
      Reject(RejectReason::kBadArgument);
      return Status::kNotInitialized;
    }
    if (!dropped_old || refuse != RejectReason::kNone) break;
    placed = Place(page, hint, bits, &fresh, &incompressible);
  }
  if (dropped_old) {
    counters_.Add(kDuplicateStores);
    counters_.Add(kDupDropped);
  }
  if (refuse == RejectReason::kNone) {
    refuse = placed == Status::kNoMemory   ? RejectReason::kAllocation
             : placed == Status::kIoError  ? RejectReason::kIo
             : placed == Status::kRejected ? RejectReason::kPoorCompression
                                           : RejectReason::kFull;
  }
  Reject(refuse);
  return placed == Status::kNoMemory ? Status::kNoMemory : Status::kNoSpace;
}

Status Backend::Load(unsigned type, uint64_t offset, void* page, bool* exclusive) {
  if (exclusive != nullptr) *exclusive = false;
  if (type >= kMaxTypes || page == nullptr || offset >= kMaxPagesPerType) {
    return Status::kInvalidArgument;
  }
  if (!PageIndex::Initialized(index_.State(type))) return Status::kNotInitialized;
  const uint64_t nr_pages = index_.NrPages(type);
  if (nr_pages != 0 && offset >= nr_pages) return Status::kInvalidArgument;

  // Start fetching the frame the fastest tier would hold this slot's page in, so that its cache
  // misses overlap the index entry's instead of following them.
  tiers_[view_.rank[0]]->Prefetch(SlotHint(type, offset));
  PageEntry* e = index_.Find(type, offset);
  // A miss needs no lock: an empty, unlocked entry linearises before any racing store.
  if (e == nullptr || (Ctl::Kind(e->Peek()) == EntryKind::kEmpty && !Ctl::Locked(e->Peek()))) {
    counters_.Add(kLoadMisses);
    return Status::kNotFound;
  }
  LockedSlot slot = Lock(*e);
  const SlotLocation loc = slot.location();
  switch (loc.kind) {
    case EntryKind::kEmpty:
      counters_.Add(kLoadMisses);
      return Status::kNotFound;
    case EntryKind::kSameFilled:
      FillPage(page, loc.payload);
      break;
    case EntryKind::kOnTier:
      if (tiers_[loc.tier]->Load(loc.payload, page) != Status::kOk) [[unlikely]] {
        slot.Unlock();
        return LoadFailed(loc.tier, page);
      }
      break;
  }
  const uint32_t bits = PlacementPolicy::AfterLoad(slot.policy());
  slot.set_policy(bits);
  if (options_.exclusive_loads) {
    // The policy bits stay: if the guest stores this page again, that is a refault.
    Account(type, slot.Drop(), SlotLocation{});
    counters_.Add(kExclusiveDrops);
    if (exclusive != nullptr) *exclusive = true;
  }
  slot.Unlock();
  counters_.Add(kLoads);
  // A page served by a slower tier that keeps being loaded is worth a promotion; the mover
  // does it (never this thread), within its rate limit.
  if (!options_.exclusive_loads && loc.kind == EntryKind::kOnTier && loc.tier != view_.rank[0] &&
      policy_->WantsPromotion(bits)) {
    migrator_->EnqueuePromotion(type, offset, loc.tier);
    counters_.Add(kPromotionsQueued);
  }
  return Status::kOk;
}

Status Backend::LoadFailed(unsigned tier, void* page) {
  // The page stays where it is (a later load fails the same way; invalidating the slot, or
  // storing it again, clears it). `page` may hold part of what the tier read: never return it.
  std::memset(page, 0, kPageSize);
  t_last_load_failure = LoadFailure{Tier::LastFailureWasChecksum(), tier};
  counters_.Add(kLoadErrors);
  return Status::kIoError;
}

void Backend::InvalidatePage(unsigned type, uint64_t offset) {
  if (type >= kMaxTypes || offset >= kMaxPagesPerType) return;
  PageEntry* e = index_.Find(type, offset);
  if (e == nullptr) return;
  const uint32_t peek = e->Peek();
  if (Ctl::Kind(peek) == EntryKind::kEmpty && !Ctl::Locked(peek) && Ctl::Policy(peek) == 0) return;
  LockedSlot slot = Lock(*e);
  // The kernel freed the slot: the next page stored here is another page, so forget the bits.
  const SlotLocation old = slot.Drop(/*forget=*/true);
  Account(type, old, SlotLocation{});
  slot.Unlock();
  if (!old.empty()) counters_.Add(kInvalidates);
}

void Backend::InvalidateArea(unsigned type) {
  if (type >= kMaxTypes) return;
  index_.BeginInvalidateArea(type);
  counters_.Add(kAreaInvalidates);
  index_.ForEachEntry(type, [&](uint64_t /*offset*/, PageEntry& e) {
    const uint32_t peek = e.Peek();
    if (Ctl::Kind(peek) == EntryKind::kEmpty && !Ctl::Locked(peek) && Ctl::Policy(peek) == 0) {
      return;
    }
    LockedSlot slot = Lock(e);
    Account(type, slot.Drop(/*forget=*/true), SlotLocation{});
  });
}

uint64_t Backend::stored_pages() const {
  uint64_t total = 0;
  for (unsigned t = 0; t < kMaxTypes; ++t) total += type_pages_.Sum(t);
  return total;
}

size_t Backend::MetadataBytes() const {
  size_t bytes = index_.MetadataBytes() + decltype(counters_)::MemoryBytes() +
                 decltype(type_pages_)::MemoryBytes();
  for (const auto& t : tiers_) bytes += t->MetadataBytes();
  if (migrator_ != nullptr) bytes += migrator_->MetadataBytes();
  return bytes;
}

BackendStats Backend::Stats() const {
  BackendStats st;
  for (size_t c = 0; c < kNumBackendCounters; ++c) st.counters[c] = counters_.Sum(c);
  st.mover = migrator_->Stats();
  st.frozen = frozen();
  st.policy = policy_->name();
  st.last_rerank = migrator_->LastRerankReason();
  st.stored_pages = stored_pages();
  st.metadata_bytes = MetadataBytes();
  uint64_t all_tier_loads = 0;
  for (const auto& t : tiers_) all_tier_loads += t->loads();
  for (size_t i = 0; i < tiers_.size(); ++i) {
    const Tier& t = *tiers_[i];
    const unsigned ti = static_cast<unsigned>(i);
    TierStats ts;
    ts.name = t.name();
    ts.kind = t.kind();
    ts.capacity_bytes = t.capacity_bytes();
    ts.limit_bytes = t.limit_bytes();
    ts.used_bytes = t.used_bytes();
    ts.stored_pages = t.stored_pages();
    ts.stores = t.stores();
    ts.loads = t.loads();
    // The share of the loads served by tiers that this tier served (same-filled pages, served
    // from the index, are not counted).
    ts.load_fraction = all_tier_loads == 0 ? 0.0 : double(ts.loads) / double(all_tier_loads);
    ts.rank = view_.RankOf(ti);
    ts.online = view_.online[i].load(std::memory_order_relaxed);
    ts.live_load_ns = migrator_->LiveLoadNs(ti);
    ts.live_load_windows = migrator_->LiveWindows(ti);
    ts.live_load_source = ts.live_load_windows > 0                  ? "live"
                          : !probes_.empty() && ts.live_load_ns > 0 ? "probe"
                                                                    : "none";
    if (t.latency_histograms()) {
      ts.load_latency = t.load_latency();
      ts.store_latency = t.store_latency();
    }
    ts.moves = migrator_->Moves(ti);
    st.tiers.push_back(std::move(ts));
  }
  for (unsigned type = 0; type < kMaxTypes; ++type) {
    const uint64_t state = index_.State(type);
    const uint64_t pages = type_pages_.Sum(type);
    if (!PageIndex::Initialized(state) && pages == 0) continue;
    st.types.push_back(TypeStats{type, PageIndex::Initialized(state), index_.NrPages(type), pages,
                                 quota_pages_[type] * kPageSize});
  }
  return st;
}

void Backend::ExportStats(StatsSink& sink) const {
  const BackendStats st = Stats();
  for (size_t c = 0; c < kNumBackendCounters; ++c) {
    const StatInfo& info = kBackendCounterInfo[c];
    sink.Stat(info.name, info.kind, st.counters[c], info.help);
  }
  sink.Help("1 while the backend is frozen: every store is rejected");
  sink.Gauge("frozen", st.frozen ? 1 : 0);
  sink.Text("placement_policy", st.policy);
  for (size_t c = 0; c < kNumMoverCounters; ++c) {
    sink.Stat(kMoverCounterInfo[c].name, StatKind::kCounter, st.mover.counters[c],
              kMoverCounterInfo[c].help);
  }
  sink.Text("mover_last_rerank", st.last_rerank);
  sink.Stat("stored_pages", StatKind::kGauge, st.stored_pages,
            "pages held now, all types, same-filled included");
  sink.Stat("metadata_bytes", StatKind::kGauge, st.metadata_bytes,
            "DRAM used for bookkeeping: index, allocator bitmaps, counters, histograms, mover");
  sink.Help("metadata_bytes / stored_pages");
  sink.Real("metadata_bytes_per_page",
            st.stored_pages == 0 ? 0.0 : double(st.metadata_bytes) / double(st.stored_pages));
  sink.BeginList("tiers");
  for (size_t t = 0; t < st.tiers.size(); ++t) {
    const TierStats& ts = st.tiers[t];
    sink.BeginItem();
    tiers_[t]->ExportStats(sink);
    sink.Stat("promotions_in", StatKind::kCounter, ts.moves.promotions_in,
              "pages the mover promoted onto this tier");
    sink.Stat("promotions_out", StatKind::kCounter, ts.moves.promotions_out,
              "pages the mover promoted off this tier");
    sink.Stat("demotions_in", StatKind::kCounter, ts.moves.demotions_in,
              "pages demoted onto this tier (evacuations included)");
    sink.Stat("demotions_out", StatKind::kCounter, ts.moves.demotions_out,
              "pages demoted off this tier (evacuations and writebacks included)");
    sink.Stat("migrated_bytes", StatKind::kCounter, ts.moves.migrated_bytes(),
              "bytes the mover moved onto this tier");
    sink.Stat("wasted_migrations", StatKind::kCounter, ts.moves.wasted,
              "moves onto this tier that undid a move of the same page within min_residency_ms");
    sink.Help("share of the loads served by tiers that this tier served");
    sink.Real("load_fraction", ts.load_fraction);
    sink.Stat("rank", StatKind::kGauge, ts.rank, "the tier's place in the ranking, 0: fastest");
    sink.Stat("online", StatKind::kGauge, ts.online ? 1 : 0, "1 while stores may go to the tier");
    if (!probes_.empty()) ExportProbe(probes_[t], sink);
    sink.Help("the mover's live estimate of a load's cost on this tier");
    sink.Real("live_load_ns", ts.live_load_ns);
    sink.Text("live_load_ns_source", ts.live_load_source);
    sink.Help("windows of 256 or more loads behind a live estimate");
    sink.Gauge("live_load_windows", ts.live_load_windows);
    sink.EndItem();
  }
  sink.EndList();
  sink.BeginList("types");
  for (const TypeStats& ty : st.types) {
    sink.BeginItem();
    sink.Stat("type", StatKind::kGauge, ty.type, "the swap type");
    sink.Stat("initialized", StatKind::kGauge, ty.initialized ? 1 : 0,
              "1 while the type is initialised");
    sink.Stat("nr_pages", StatKind::kGauge, ty.nr_pages, "slots of the type (0: unknown)");
    sink.Stat("stored_pages", StatKind::kGauge, ty.stored_pages, "pages of the type held now");
    sink.Stat("stored_bytes", StatKind::kGauge, ty.stored_pages * kPageSize,
              "stored_pages x 4 KiB");
    sink.Stat("quota_bytes", StatKind::kGauge, ty.quota_bytes, "the type's quota (0: none)");
    sink.EndItem();
  }
  sink.EndList();
}

}  // namespace tierswap
