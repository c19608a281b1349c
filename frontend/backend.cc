#include "frontend/backend.h"

#include <utility>

#include "frontend/json_writer.h"
#include "frontend/tier_factory.h"
#include "tiers/page.h"

namespace tierswap {

Result<std::unique_ptr<Backend>> Backend::Open(const Config& config) {
  auto tiers = OpenTiers(config);
  if (!tiers) return tiers.take_error();
  BackendOptions options;
  options.exclusive_loads = config.exclusive_loads;
  return Open(std::move(tiers).value(), options);
}

Result<std::unique_ptr<Backend>> Backend::Open(std::vector<std::unique_ptr<Tier>> tiers,
                                               BackendOptions options) {
  if (tiers.empty()) return MakeError(Status::kInvalidArgument, "a backend needs at least one tier");
  if (tiers.size() >= Ctl::kMaxTiers) {
    return MakeError(Status::kInvalidArgument,
                     std::to_string(tiers.size()) + " tiers given; at most 31 are supported");
  }
  for (const auto& t : tiers) {
    if (t == nullptr) return MakeError(Status::kInvalidArgument, "a tier is null");
  }
  return std::unique_ptr<Backend>(new Backend(std::move(tiers), options));
}

Backend::Backend(std::vector<std::unique_ptr<Tier>> tiers, BackendOptions options)
    : tiers_(std::move(tiers)), options_(options) {}

Backend::~Backend() {
  // Free every tier handle the index still references, so tiers see a clean shutdown.
  for (unsigned type = 0; type < kMaxTypes; ++type) InvalidateArea(type);
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

Status Backend::Place(const void* page, uint64_t hint, Location* loc) {
  for (size_t i = 0; i < tiers_.size(); ++i) {
    TierHandle h;
    const Status s = tiers_[i]->Store(page, &h, hint);
    if (s == Status::kOk) {
      *loc = Location{EntryKind::kOnTier, static_cast<unsigned>(i), h};
      return Status::kOk;
    }
    // A full tier, or one that declines this page: the next tier may take it.
    if (s != Status::kNoSpace && s != Status::kRejected) return s;
  }
  return Status::kNoSpace;
}

void Backend::Release(const Location& loc) {
  if (loc.kind == EntryKind::kOnTier) tiers_[loc.tier]->Free(loc.payload);
}

void Backend::Account(unsigned type, const Location& before, const Location& after) {
  const bool had = before.kind != EntryKind::kEmpty;
  const bool has = after.kind != EntryKind::kEmpty;
  if (had != has) {
    if (has) {
      type_pages_.Add(type);
    } else {
      type_pages_.Sub(type);
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

namespace {

// The location a locked control word and payload describe.
inline auto Decode(uint32_t ctl, const PageEntry& e) {
  struct {
    EntryKind kind;
    unsigned tier;
    uint64_t payload;
  } loc{Ctl::Kind(ctl), Ctl::Tier(ctl), Ctl::Kind(ctl) == EntryKind::kEmpty ? 0 : e.payload()};
  return loc;
}

}  // namespace

Backend::Location Backend::DropLocked(unsigned type, PageEntry& e, uint32_t* ctl) {
  const auto d = Decode(*ctl, e);
  const Location old{d.kind, d.tier, d.payload};
  if (old.kind != EntryKind::kEmpty) {
    *ctl = Ctl::Next(*ctl, EntryKind::kEmpty, 0);
    e.set_payload(0);
    Account(type, old, Location{});
  }
  return old;
}

Status Backend::Store(unsigned type, uint64_t offset, const void* page) {
  if (type >= kMaxTypes || page == nullptr) {
    counters_.Add(kFailedStores);
    counters_.Add(kRejectBadArgument);
    return Status::kInvalidArgument;
  }
  const uint64_t state = index_.State(type);
  if (!PageIndex::Initialized(state)) {
    counters_.Add(kFailedStores);
    counters_.Add(kRejectBadArgument);
    return Status::kNotInitialized;
  }
  const uint64_t nr_pages = index_.NrPages(type);
  if (offset >= kMaxPagesPerType || (nr_pages != 0 && offset >= nr_pages)) {
    counters_.Add(kFailedStores);
    counters_.Add(kRejectBadArgument);
    return Status::kInvalidArgument;
  }

  PageEntry* e = index_.FindOrCreate(type, offset);
  if (e == nullptr) {
    // No chunk could be mapped, so the slot cannot hold an old page either.
    counters_.Add(kFailedStores);
    counters_.Add(kRejectNoMemory);
    return Status::kNoMemory;
  }

  const uint64_t hint = SlotHint(type, offset);
  Location fresh;
  uint64_t fill;
  Status placed = Status::kOk;
  if (IsSameFilled(page, &fill)) {
    fresh = Location{EntryKind::kSameFilled, 0, fill};
  } else {
    // A new version of a page on the fastest tier replaces it in place, under the entry lock:
    // no allocation, and the page stays where its hint puts it. (Any placement would choose
    // the fastest tier first.)
    const uint32_t peek = e->Peek();
    if (Ctl::Kind(peek) == EntryKind::kOnTier && Ctl::Tier(peek) == 0) {
      uint32_t ctl = e->Lock();
      if (index_.State(type) == state && Ctl::Kind(ctl) == EntryKind::kOnTier &&
          Ctl::Tier(ctl) == 0 && tiers_[0]->Overwrite(e->payload(), page) == Status::kOk) {
        e->Unlock(Ctl::Next(ctl, EntryKind::kOnTier, 0));
        counters_.Add(kDuplicateStores);
        counters_.Add(kSuccStores);
        return Status::kOk;
      }
      e->Unlock(ctl);
    }
    // Copy the page out first (the slow part, without the entry lock), then publish it.
    placed = Place(page, hint, &fresh);
  }

  bool dropped_old = false;
  for (;;) {
    uint32_t ctl = e->Lock();
    if (index_.State(type) != state) {
      // InvalidateArea (or a new Init) ran since we checked: publishing now could leave a page
      // of a dead area behind. Act as if the store came just after the invalidation.
      e->Unlock(ctl);
      if (placed == Status::kOk) Release(fresh);
      counters_.Add(kFailedStores);
      counters_.Add(kRejectBadArgument);
      return Status::kNotInitialized;
    }
    if (placed == Status::kOk) {
      const auto d = Decode(ctl, *e);
      const Location old{d.kind, d.tier, d.payload};
      e->set_payload(fresh.payload);
      ctl = Ctl::Next(ctl, fresh.kind, fresh.tier);
      Account(type, old, fresh);
      e->Unlock(ctl);
      // The old page is unreachable now; nobody can be reading its frame (readers hold the lock).
      Release(old);
      if (old.kind != EntryKind::kEmpty || dropped_old) counters_.Add(kDuplicateStores);
      if (fresh.kind == EntryKind::kSameFilled) counters_.Add(kSameFilledStores);
      counters_.Add(kSuccStores);
      return Status::kOk;
    }
    // Rejected. The slot must not keep its old page: drop it (frontswap's rule) ...
    const Location old = DropLocked(type, *e, &ctl);
    e->Unlock(ctl);
    Release(old);
    // ... and since that may have freed exactly the room the new page needs, try once more.
    if (old.kind != EntryKind::kEmpty && !dropped_old) {
      dropped_old = true;
      placed = Place(page, hint, &fresh);
      if (placed == Status::kOk) continue;
    }
    counters_.Add(kFailedStores);
    counters_.Add(placed == Status::kNoSpace ? kRejectNoSpace : kRejectNoMemory);
    if (old.kind != EntryKind::kEmpty || dropped_old) {
      counters_.Add(kDuplicateStores);
      counters_.Add(kDupDropped);
    }
    return placed == Status::kNoMemory ? Status::kNoMemory : Status::kNoSpace;
  }
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
  tiers_[0]->Prefetch(SlotHint(type, offset));
  PageEntry* e = index_.Find(type, offset);
  // A miss needs no lock: an empty, unlocked entry linearises before any racing store.
  if (e == nullptr ||
      (Ctl::Kind(e->Peek()) == EntryKind::kEmpty && !Ctl::Locked(e->Peek()))) {
    counters_.Add(kLoadMisses);
    return Status::kNotFound;
  }
  uint32_t ctl = e->Lock();
  const auto d = Decode(ctl, *e);
  switch (d.kind) {
    case EntryKind::kEmpty:
      e->Unlock(ctl);
      counters_.Add(kLoadMisses);
      return Status::kNotFound;
    case EntryKind::kSameFilled:
      FillPage(page, d.payload);
      break;
    case EntryKind::kOnTier: {
      const Status s = tiers_[d.tier]->Load(d.payload, page);
      if (s != Status::kOk) {
        e->Unlock(ctl);
        counters_.Add(kLoadErrors);
        return Status::kIoError;
      }
      break;
    }
  }
  Location old{};
  if (options_.exclusive_loads) {
    old = DropLocked(type, *e, &ctl);
    counters_.Add(kExclusiveDrops);
    if (exclusive != nullptr) *exclusive = true;
  }
  e->Unlock(ctl);
  Release(old);
  counters_.Add(kLoads);
  return Status::kOk;
}

void Backend::InvalidatePage(unsigned type, uint64_t offset) {
  if (type >= kMaxTypes || offset >= kMaxPagesPerType) return;
  PageEntry* e = index_.Find(type, offset);
  if (e == nullptr) return;
  const uint32_t peek = e->Peek();
  if (Ctl::Kind(peek) == EntryKind::kEmpty && !Ctl::Locked(peek)) return;
  uint32_t ctl = e->Lock();
  const Location old = DropLocked(type, *e, &ctl);
  e->Unlock(ctl);
  if (old.kind != EntryKind::kEmpty) {
    Release(old);
    counters_.Add(kInvalidates);
  }
}

void Backend::InvalidateArea(unsigned type) {
  if (type >= kMaxTypes) return;
  index_.BeginInvalidateArea(type);
  counters_.Add(kAreaInvalidates);
  index_.ForEachEntry(type, [&](uint64_t /*offset*/, PageEntry& e) {
    const uint32_t peek = e.Peek();
    if (Ctl::Kind(peek) == EntryKind::kEmpty && !Ctl::Locked(peek)) return;
    uint32_t ctl = e.Lock();
    const Location old = DropLocked(type, e, &ctl);
    e.Unlock(ctl);
    Release(old);
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
  return bytes;
}

void Backend::ExportStats(StatsSink& sink) const {
  sink.Counter("loads", counters_.Sum(kLoads));
  sink.Counter("succ_stores", counters_.Sum(kSuccStores));
  sink.Counter("failed_stores", counters_.Sum(kFailedStores));
  sink.Counter("invalidates", counters_.Sum(kInvalidates));
  sink.Counter("load_misses", counters_.Sum(kLoadMisses));
  sink.Counter("load_errors", counters_.Sum(kLoadErrors));
  sink.Counter("duplicate_stores", counters_.Sum(kDuplicateStores));
  sink.Counter("duplicate_store_drops", counters_.Sum(kDupDropped));
  sink.Counter("area_invalidates", counters_.Sum(kAreaInvalidates));
  sink.Counter("exclusive_load_drops", counters_.Sum(kExclusiveDrops));
  sink.Counter("reject_no_space", counters_.Sum(kRejectNoSpace));
  sink.Counter("reject_no_memory", counters_.Sum(kRejectNoMemory));
  sink.Counter("reject_bad_argument", counters_.Sum(kRejectBadArgument));
  sink.Counter("same_filled_stores", counters_.Sum(kSameFilledStores));
  sink.Gauge("same_filled_pages", counters_.Sum(kSameFilledPages));
  const uint64_t stored = stored_pages();
  sink.Gauge("stored_pages", stored);
  const size_t meta = MetadataBytes();
  sink.Gauge("metadata_bytes", meta);
  sink.Real("metadata_bytes_per_page", stored == 0 ? 0.0 : double(meta) / double(stored));
  sink.BeginList("tiers");
  for (const auto& t : tiers_) {
    sink.BeginItem();
    t->ExportStats(sink);
    sink.EndItem();
  }
  sink.EndList();
  sink.BeginList("types");
  for (unsigned type = 0; type < kMaxTypes; ++type) {
    const uint64_t state = index_.State(type);
    const uint64_t pages = type_pages_.Sum(type);
    if (!PageIndex::Initialized(state) && pages == 0) continue;
    sink.BeginItem();
    sink.Gauge("type", type);
    sink.Gauge("initialized", PageIndex::Initialized(state) ? 1 : 0);
    sink.Gauge("nr_pages", index_.NrPages(type));
    sink.Gauge("stored_pages", pages);
    sink.EndItem();
  }
  sink.EndList();
}

std::string Backend::StatsJson(bool pretty) const {
  JsonWriter w(pretty);
  w.BeginObject();
  JsonStatsSink sink(w);
  ExportStats(sink);
  w.EndObject();
  return w.Take();
}

}  // namespace tierswap
