// `tierswap soak`: a long, multi-threaded mixed workload that checks every answer the backend
// gives while the engine is made as busy and as unstable as its control paths allow.
//
// Worker threads store, load and invalidate pages; the mover runs at its maximum rate (the
// config's max_migration_mbps is overridden to unlimited, the mover interval to 1 ms); a
// control thread keeps changing the ground under them every few hundred milliseconds: tier
// capacities shrink and grow (SetTierCapacity), a tier goes offline and comes back
// (TierOffline/TierOnline), stores are frozen for a moment, and a whole type is invalidated and
// initialised again. Pages no tier can hold during a shrink go to a writeback callback, as they
// would go to the guest's swap device.
//
// Checking is exact and lock-free: each worker owns a disjoint set of (type, offset) slots and
// keeps a model of them, 8 bytes a slot: the version it last stored (page contents are
// regenerated from slot and version, so the model needs no copy of the page) and whether the
// backend must hold it. A load of a held slot must return exactly that version, or miss because
// the writeback callback was handed exactly that version (it records the last version handed
// per slot, after checking the bytes); any other answer is a mismatch. A slot that holds
// nothing must miss. Area invalidation is coordinated through per-type epochs: odd while the
// control thread resets a type, so that an operation which overlapped a reset (the epoch
// changed around it) is judged by what the contract allows then, and the owning workers drop
// the type's slots from their models when they next see the new epoch.
//
// At the end the workers stop, every slot is loaded once more and checked, and the summary
// gives the operations, the mismatches (exit status 1 if any) and the peak RSS (VmHWM) against
// a bound: the memory of the configured tiers, the metadata the backend reports, and the RSS
// the process had before the backend was opened (exit status 1 if the peak exceeds it).
//
// Thread-safety: the workers, the control thread and the writeback callback share only atomics
// (epochs, the handed-back versions, counters); each model belongs to its worker until the
// workers are joined, then to the main thread.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/cli/commands.h"
#include "frontend/cli/progress.h"
#include "frontend/config.h"
#include "frontend/json_writer.h"
#include "frontend/replay.h"
#include "frontend/stats_export.h"
#include "frontend/stats_service.h"
#include "placement/backend.h"
#include "tiers/memory_attributes.h"
#include "tiers/page.h"
#include "tiers/page_content.h"

namespace tierswap {
namespace {

// Swap types the workload spreads its slots over (area resets pick one of them).
constexpr unsigned kSoakTypes = 4;
// At most this many slots: the model and the handed-back record cost 16 bytes a slot.
constexpr uint64_t kMaxSoakPages = uint64_t{1} << 28;
// Mismatches described on stderr (all are counted).
constexpr uint64_t kMaxMismatchReports = 20;

struct SoakArgs {
  std::string config;
  double seconds = 0;
  unsigned threads = 2;
  uint64_t pages = 0;  // 0: 1.5 times the pages the tiers can hold uncompressed
  double report_every = 5;
  bool json = false;
  uint64_t seed = 1;
};

// ---- page contents ------------------------------------------------------------------------------

// The slot of a page as a 64-bit key: type << 32 | offset.
uint64_t SlotKey(unsigned type, uint64_t offset) { return uint64_t{type} << 32 | offset; }

// Random numbers and mixing: tiers/page_content.h (Mix64, SplitMix64).
uint64_t NextRandom(uint64_t& state) { return SplitMix64(&state); }

// Versions are below 2^48, so that a header word can never be mistaken for a version.
constexpr uint64_t kVersionMask = (uint64_t{1} << 48) - 1;
// Header of every page that is not same-filled: kMagic ^ key, then the version.
constexpr uint64_t kMagic = 0x50AC5EED00000000ull;

enum class PageKind { kSameFilled, kText, kMixed, kRandom };

// The kind of a page, from its seed (slot and version mixed): 1/8 same-filled (kept as metadata
// only), 3/8 text-like (compresses well), 1/4 half random (near the compressed tiers' cut-off),
// 1/4 random (declined by compressed tiers).
PageKind KindOf(uint64_t seed) {
  const unsigned k = seed % 16;
  if (k < 2) return PageKind::kSameFilled;
  if (k < 8) return PageKind::kText;
  if (k < 12) return PageKind::kMixed;
  return PageKind::kRandom;
}

// Writes version `version` of the page of slot `key`: the same bytes every time.
void MakePage(uint64_t key, uint64_t version, unsigned char* page) {
  const uint64_t seed = Mix64(key * 0x9E3779B97F4A7C15ull + version);
  const PageKind kind = KindOf(seed);
  if (kind == PageKind::kSameFilled) {
    FillPage(page, Mix64(key) ^ version);
    return;
  }
  uint64_t words[kWordsPerPage];
  words[0] = kMagic ^ key;
  words[1] = version;
  uint64_t state = seed;
  if (kind == PageKind::kRandom) {
    for (size_t i = 2; i < kWordsPerPage; ++i) words[i] = NextRandom(state);
  } else {
    // Lines of words drawn from 16 per page: long repeats, as in text or sparse structures.
    uint64_t dict[16];
    for (uint64_t& w : dict) w = NextRandom(state);
    for (size_t i = 2; i < kWordsPerPage; ++i) {
      const uint64_t line = Mix64(seed + i / 8) % 16;
      words[i] =
          (kind == PageKind::kMixed && i % 2 == 1) ? NextRandom(state) : dict[(line + i % 8) % 16];
    }
  }
  std::memcpy(page, words, kPageSize);
}

// The version of slot `key` that `page` is, or 0 when it is no page ever generated for it.
uint64_t VersionOf(uint64_t key, const unsigned char* page) {
  uint64_t version = 0;
  uint64_t fill;
  if (IsSameFilled(page, &fill)) {
    version = fill ^ Mix64(key);
  } else {
    uint64_t head[2];
    std::memcpy(head, page, sizeof(head));
    if (head[0] != (kMagic ^ key)) return 0;
    version = head[1];
  }
  if (version == 0 || version > kVersionMask) return 0;
  alignas(64) unsigned char expect[kPageSize];
  MakePage(key, version, expect);
  return std::memcmp(expect, page, kPageSize) == 0 ? version : 0;
}

// ---- memory use ---------------------------------------------------------------------------------

struct MemoryUse {
  uint64_t rss = 0;  // VmRSS
  uint64_t hwm = 0;  // VmHWM: the peak RSS since the process started
};

MemoryUse ReadMemoryUse() {
  MemoryUse m;
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return m;
  char line[256];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long long kib = 0;
    if (std::sscanf(line, "VmRSS: %llu kB", &kib) == 1) m.rss = kib * 1024;
    if (std::sscanf(line, "VmHWM: %llu kB", &kib) == 1) m.hwm = kib * 1024;
  }
  std::fclose(f);
  return m;
}

// ---- shared state -------------------------------------------------------------------------------

// A counter written by one thread and read by others: no read-modify-write needed.
struct OwnedCounter {
  std::atomic<uint64_t> v{0};
  void Add(uint64_t n = 1) {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

struct alignas(64) WorkerCounters {
  OwnedCounter stores, stores_ok, rejects, loads, hits, misses, invalidates;
  OwnedCounter handed_misses;  // held pages that missed because writeback took exactly them
  OwnedCounter raced;          // operations that overlapped an area reset
  OwnedCounter skipped;        // operations not started because their type was being reset
  OwnedCounter final_checked;  // held pages loaded byte-exact at the end
};

class SoakState {
 public:
  SoakState(unsigned threads, uint64_t per_thread)
      : threads_(threads),
        per_thread_(per_thread),
        handed_(new std::atomic<uint64_t>[uint64_t{threads} * per_thread]) {
    // Touch the record now, so that the RSS baseline includes it.
    for (uint64_t i = 0; i < uint64_t{threads} * per_thread; ++i) {
      handed_[i].store(0, std::memory_order_relaxed);
    }
    for (auto& e : epochs_) e.store(0, std::memory_order_relaxed);
  }

  unsigned threads() const { return threads_; }
  uint64_t per_thread() const { return per_thread_; }
  uint64_t slots() const { return uint64_t{threads_} * per_thread_; }
  // Slots per type; offsets of the soak's slots are below it.
  uint64_t nr_pages() const { return slots() / kSoakTypes; }

  // Worker `w`'s slot `l`: types interleave, so every part of a worker's range spans all types,
  // and offsets interleave between workers, so the index chunks are shared, as with real swap.
  unsigned TypeOf(uint64_t l) const { return static_cast<unsigned>(l % kSoakTypes); }
  uint64_t OffsetOf(unsigned w, uint64_t l) const { return (l / kSoakTypes) * threads_ + w; }
  // The index into handed_ of (type, offset), or -1 for a slot the soak never uses.
  int64_t IndexOf(unsigned type, uint64_t offset) const {
    if (type >= kSoakTypes || offset >= nr_pages()) return -1;
    const uint64_t w = offset % threads_;
    const uint64_t l = (offset / threads_) * kSoakTypes + type;
    return static_cast<int64_t>(w * per_thread_ + l);
  }

  // The version the writeback callback last accepted for a slot (0: none).
  uint64_t Handed(int64_t index) const { return handed_[index].load(std::memory_order_acquire); }

  // Epoch of a type: even while it is usable, odd while the control thread resets it. seq_cst:
  // an operation that saw the reset's effect (through the entry's seq_cst control word) must
  // see the epoch change in its check afterwards.
  uint64_t Epoch(unsigned type) const { return epochs_[type].load(std::memory_order_seq_cst); }
  void BumpEpoch(unsigned type) { epochs_[type].fetch_add(1, std::memory_order_seq_cst); }

  // The writeback callback (Backend::SetWriteback): accepts a page only if it is some version
  // of that slot, and records which.
  static int Writeback(void* ctx, unsigned type, uint64_t offset, const void* page) {
    auto* self = static_cast<SoakState*>(ctx);
    const auto* bytes = static_cast<const unsigned char*>(page);
    const int64_t index = self->IndexOf(type, offset);
    const uint64_t version = index < 0 ? 0 : VersionOf(SlotKey(type, offset), bytes);
    if (version == 0) {
      self->Mismatch(type, offset,
                     "the backend handed the writeback callback " +
                         self->Describe(bytes, SlotKey(type, offset)));
      return -EIO;  // refused: the backend keeps the page
    }
    // Release: a worker that finds the page gone (dropped after this returns) sees the record.
    self->handed_[index].store(version, std::memory_order_release);
    self->handed_back_.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  // Counts a mismatch and describes the first few on stderr.
  void Mismatch(unsigned type, uint64_t offset, const std::string& what) {
    const uint64_t n = mismatches_.fetch_add(1, std::memory_order_relaxed);
    if (n < kMaxMismatchReports) {
      std::fprintf(stderr, "tierswap soak: MISMATCH at type %u offset %" PRIu64 ": %s\n", type,
                   offset, what.c_str());
    } else if (n == kMaxMismatchReports) {
      std::fprintf(stderr, "tierswap soak: more mismatches follow; only their number is kept\n");
    }
  }

  // What `page` is, for a mismatch message about slot `key`.
  std::string Describe(const unsigned char* page, uint64_t key) const {
    uint64_t fill;
    const bool same = IsSameFilled(page, &fill);
    uint64_t other = key;
    if (!same) {
      uint64_t head;
      std::memcpy(&head, page, sizeof(head));
      other = head ^ kMagic;
    }
    const unsigned type = static_cast<unsigned>(other >> 32);
    const uint64_t offset = other & 0xFFFFFFFFull;
    if (IndexOf(type, offset) >= 0) {
      if (const uint64_t v = VersionOf(other, page); v != 0) {
        if (other == key) return "version " + std::to_string(v) + " of this slot";
        return "version " + std::to_string(v) + " of another slot (type " + std::to_string(type) +
               " offset " + std::to_string(offset) + ")";
      }
    }
    if (same) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "0x%016" PRIx64, fill);
      return std::string("a page filled with ") + buf + " that the soak never stored there";
    }
    return "bytes that no store of the soak wrote";
  }

  uint64_t mismatches() const { return mismatches_.load(std::memory_order_relaxed); }
  uint64_t handed_back() const { return handed_back_.load(std::memory_order_relaxed); }

  std::atomic<bool> stop{false};

 private:
  const unsigned threads_;
  const uint64_t per_thread_;
  std::unique_ptr<std::atomic<uint64_t>[]> handed_;  // by slot index
  std::atomic<uint64_t> epochs_[kSoakTypes];
  std::atomic<uint64_t> mismatches_{0};
  std::atomic<uint64_t> handed_back_{0};
};

// ---- workers ------------------------------------------------------------------------------------

// One worker: owns slots [0, per_thread) of its own numbering and their model.
class Worker {
 public:
  // Made before the backend is opened, so that the RSS baseline includes the model.
  Worker(SoakState& state, unsigned id, uint64_t seed)
      : state_(state), id_(id), rng_(Mix64(seed * 0x2545F4914F6CDD1Dull + id)) {
    model_.assign(state.per_thread(), 0);  // written, hence resident
    for (unsigned t = 0; t < kSoakTypes; ++t) seen_epoch_[t] = state.Epoch(t);
    std::memset(page_, 0, sizeof(page_));
    std::memset(expect_, 0, sizeof(expect_));
  }

  void Attach(Backend& backend) { backend_ = &backend; }

  // The mixed workload, until state.stop: 45% stores, 47% loads, 8% invalidations; 80% of the
  // operations go to a fifth of the slots (hot pages get promoted, cold ones demoted).
  void Run() {
    const uint64_t n = state_.per_thread();
    const uint64_t hot = std::max<uint64_t>(1, n / 5);
    while (!state_.stop.load(std::memory_order_relaxed)) {
      const uint64_t r = NextRandom(rng_);
      const uint64_t l = (r % 100 < 80) ? (r >> 8) % hot : (r >> 8) % n;
      const unsigned type = state_.TypeOf(l);
      const uint64_t e1 = state_.Epoch(type);
      if (e1 % 2 == 1) {
        counters.skipped.Add();
        continue;
      }
      if (e1 != seen_epoch_[type]) Forget(type, e1);
      const unsigned op = (r >> 40) % 100;
      if (op < 45) {
        Store(l, e1);
      } else if (op < 92) {
        Load(l, e1, /*final=*/false);
      } else {
        Invalidate(l);
      }
    }
  }

  // After every thread stopped: every slot once more (a slot that holds nothing must miss).
  void FinalCheck() {
    for (uint64_t l = 0; l < state_.per_thread(); ++l) {
      const unsigned type = state_.TypeOf(l);
      const uint64_t e = state_.Epoch(type);
      if (e != seen_epoch_[type]) Forget(type, e);
      Load(l, e, /*final=*/true);
    }
  }

  WorkerCounters counters;

 private:
  static constexpr uint64_t kHeld = uint64_t{1} << 63;
  // The last store overlapped an area reset: the backend holds that version or nothing.
  static constexpr uint64_t kUncertain = uint64_t{1} << 62;

  // The control thread reset `type`: none of its slots holds a page any more, except that a
  // store which overlapped the reset may have landed after it (those stay uncertain).
  void Forget(unsigned type, uint64_t epoch) {
    for (uint64_t l = type; l < model_.size(); l += kSoakTypes) model_[l] &= ~kHeld;
    seen_epoch_[type] = epoch;
  }

  bool Raced(unsigned type, uint64_t e1) const { return state_.Epoch(type) != e1; }

  void Store(uint64_t l, uint64_t e1) {
    const unsigned type = state_.TypeOf(l);
    const uint64_t offset = state_.OffsetOf(id_, l);
    const uint64_t version = (model_[l] & kVersionMask) + 1;
    MakePage(SlotKey(type, offset), version, page_);
    const Status s = backend_->Store(type, offset, page_);
    const bool raced = Raced(type, e1);
    counters.stores.Add();
    if (raced) counters.raced.Add();
    // Whatever the answer, the old version is gone: replaced, or dropped with the rejected store.
    model_[l] = version;
    switch (s) {
      case Status::kOk:
        counters.stores_ok.Add();
        model_[l] |= raced ? kUncertain : kHeld;
        break;
      case Status::kNoSpace:
      case Status::kNoMemory:
        counters.rejects.Add();
        break;
      case Status::kNotInitialized:
        if (!raced) {
          state_.Mismatch(type, offset, "a store to an initialised type returned not-initialised");
        }
        break;
      default:
        state_.Mismatch(type, offset,
                        std::string("a store returned the unexpected status ") + StatusName(s));
        break;
    }
  }

  void Load(uint64_t l, uint64_t e1, bool final) {
    const unsigned type = state_.TypeOf(l);
    const uint64_t offset = state_.OffsetOf(id_, l);
    const uint64_t key = SlotKey(type, offset);
    bool exclusive = false;
    const Status s = backend_->Load(type, offset, page_, &exclusive);
    const bool raced = Raced(type, e1);
    if (raced) counters.raced.Add();
    if (!final) counters.loads.Add();
    const uint64_t version = model_[l] & kVersionMask;
    const bool held = (model_[l] & kHeld) != 0;
    const bool uncertain = (model_[l] & kUncertain) != 0;
    model_[l] = version;  // from here on the slot is certain; set held again below if it is
    switch (s) {
      case Status::kOk: {
        if (!final) counters.hits.Add();
        if (!held && !uncertain) {
          state_.Mismatch(
              type, offset,
              "a load of a slot that holds no page returned " + state_.Describe(page_, key));
          backend_->InvalidatePage(type, offset);
          break;
        }
        MakePage(key, version, expect_);
        if (std::memcmp(page_, expect_, kPageSize) != 0) {
          state_.Mismatch(type, offset,
                          "a load expected version " + std::to_string(version) + " and got " +
                              state_.Describe(page_, key));
          backend_->InvalidatePage(type, offset);
          break;
        }
        if (final) counters.final_checked.Add();
        if (!exclusive) model_[l] |= kHeld;
        break;
      }
      case Status::kNotFound:
        if (!final) counters.misses.Add();
        if (held && !raced) {
          if (state_.Handed(state_.IndexOf(type, offset)) == version) {
            counters.handed_misses.Add();
          } else {
            state_.Mismatch(type, offset,
                            "a load missed version " + std::to_string(version) +
                                ", which was accepted and never handed to writeback");
          }
        }
        break;
      case Status::kNotInitialized:
        if (!raced) {
          state_.Mismatch(type, offset, "a load from an initialised type returned not-initialised");
        }
        break;
      default:
        state_.Mismatch(type, offset,
                        std::string("a load returned the error status ") + StatusName(s) +
                            (held ? " for an accepted page" : ""));
        backend_->InvalidatePage(type, offset);
        break;
    }
  }

  void Invalidate(uint64_t l) {
    const unsigned type = state_.TypeOf(l);
    backend_->InvalidatePage(type, state_.OffsetOf(id_, l));
    counters.invalidates.Add();
    model_[l] &= kVersionMask;  // gone, even if an area reset overlapped
  }

  SoakState& state_;
  Backend* backend_ = nullptr;
  const unsigned id_;
  uint64_t rng_;
  std::vector<uint64_t> model_;  // version | kHeld | kUncertain, by slot
  uint64_t seen_epoch_[kSoakTypes];
  alignas(64) unsigned char page_[kPageSize];
  alignas(64) unsigned char expect_[kPageSize];
};

// ---- the control thread -------------------------------------------------------------------------

struct ControlCounters {
  OwnedCounter shrinks, grows, offlines, onlines, freezes, area_resets;
  OwnedCounter left_over;  // pages a shrink or offline reported it could not move
  OwnedCounter errors;
};

// Every 100-400 ms: shrink a tier (30%), grow one back (25%), take one offline (15%; it comes
// back at the next turn), freeze stores for 10-50 ms (15%) or reset a type (15%).
class Controller {
 public:
  Controller(SoakState& state, Backend& backend, uint64_t seed)
      : state_(state),
        backend_(backend),
        rng_(Mix64(seed ^ 0xC0FFEEull)),
        shrunk_(backend.tier_count(), false) {}

  void Run() {
    while (!state_.stop.load(std::memory_order_relaxed)) {
      SleepMs(100 + NextRandom(rng_) % 301);
      if (state_.stop.load(std::memory_order_relaxed)) break;
      if (offline_ >= 0) {
        Online();
        continue;
      }
      const unsigned pick = NextRandom(rng_) % 100;
      if (pick < 30) {
        Shrink();
      } else if (pick < 55) {
        Grow();
      } else if (pick < 70) {
        Offline();
      } else if (pick < 85) {
        Freeze();
      } else {
        ResetType();
      }
    }
    // Leave the backend whole for the final check.
    if (offline_ >= 0) Online();
    for (unsigned t = 0; t < backend_.tier_count(); ++t) {
      if (shrunk_[t]) SetCapacity(t, backend_.tier(t).capacity_bytes());
    }
    backend_.Freeze(false);
  }

  ControlCounters counters;

 private:
  static void SleepMs(uint64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  unsigned RandomTier() { return static_cast<unsigned>(NextRandom(rng_) % backend_.tier_count()); }

  void Error(const std::string& what) {
    counters.errors.Add();
    std::fprintf(stderr, "tierswap soak: control: %s\n", what.c_str());
  }

  bool SetCapacity(unsigned t, uint64_t bytes) {
    Result<uint64_t> left = backend_.SetTierCapacity(t, bytes);
    if (!left) {
      Error(left.error().message);
      return false;
    }
    counters.left_over.Add(*left);
    shrunk_[t] = bytes < backend_.tier(t).capacity_bytes();
    return true;
  }

  void Shrink() {
    const unsigned t = RandomTier();
    const uint64_t cap = backend_.tier(t).capacity_bytes();
    const uint64_t percent = 25 + NextRandom(rng_) % 66;  // 25% .. 90%
    const uint64_t bytes = cap / 100 * percent / kPageSize * kPageSize;
    if (SetCapacity(t, bytes)) counters.shrinks.Add();
  }

  void Grow() {
    std::vector<unsigned> candidates;
    for (unsigned t = 0; t < shrunk_.size(); ++t) {
      if (shrunk_[t]) candidates.push_back(t);
    }
    if (candidates.empty()) return;
    const unsigned t = candidates[NextRandom(rng_) % candidates.size()];
    if (SetCapacity(t, backend_.tier(t).capacity_bytes())) counters.grows.Add();
  }

  void Offline() {
    if (backend_.tier_count() < 2) return;  // a backend with no tier online takes nothing
    const unsigned t = RandomTier();
    Result<uint64_t> left = backend_.TierOffline(t);
    if (!left) {
      Error(left.error().message);
      return;
    }
    counters.left_over.Add(*left);
    counters.offlines.Add();
    offline_ = static_cast<int>(t);
  }

  void Online() {
    const Status s = backend_.TierOnline(static_cast<unsigned>(offline_));
    if (s != Status::kOk) {
      Error("bringing tier " + std::to_string(offline_) + " online returned " + StatusName(s));
    } else {
      counters.onlines.Add();
    }
    // Online restores the configured capacity.
    shrunk_[static_cast<size_t>(offline_)] = false;
    offline_ = -1;
  }

  void Freeze() {
    backend_.Freeze(true);
    SleepMs(10 + NextRandom(rng_) % 41);
    backend_.Freeze(false);
    counters.freezes.Add();
  }

  // swapoff and swapon of one type, while its owners keep working on it.
  void ResetType() {
    const unsigned type = static_cast<unsigned>(NextRandom(rng_) % kSoakTypes);
    state_.BumpEpoch(type);  // odd: workers start nothing new on this type
    backend_.InvalidateArea(type);
    const Status s = backend_.Init(type, state_.nr_pages());
    state_.BumpEpoch(type);
    if (s != Status::kOk) {
      Error("initialising type " + std::to_string(type) + " again returned " + StatusName(s));
      return;
    }
    counters.area_resets.Add();
  }

  SoakState& state_;
  Backend& backend_;
  uint64_t rng_;
  std::vector<bool> shrunk_;
  int offline_ = -1;
};

// ---- reporting ----------------------------------------------------------------------------------

struct Totals {
  uint64_t stores = 0, stores_ok = 0, rejects = 0, loads = 0, hits = 0, misses = 0;
  uint64_t invalidates = 0, handed_misses = 0, raced = 0, skipped = 0, final_checked = 0;
  uint64_t ops() const { return stores + loads + invalidates; }
};

Totals Sum(const std::vector<std::unique_ptr<Worker>>& workers) {
  Totals t;
  for (const auto& w : workers) {
    const WorkerCounters& c = w->counters;
    t.stores += c.stores.Get();
    t.stores_ok += c.stores_ok.Get();
    t.rejects += c.rejects.Get();
    t.loads += c.loads.Get();
    t.hits += c.hits.Get();
    t.misses += c.misses.Get();
    t.invalidates += c.invalidates.Get();
    t.handed_misses += c.handed_misses.Get();
    t.raced += c.raced.Get();
    t.skipped += c.skipped.Get();
    t.final_checked += c.final_checked.Get();
  }
  return t;
}

struct Migrations {
  uint64_t promotions = 0, demotions = 0, evacuations = 0;
  uint64_t total() const { return promotions + demotions + evacuations; }
};

Migrations ReadMigrations(const Backend& backend) {
  const MoverStats m = backend.mover_stats();
  return {m.counter(kPromotions), m.counter(kDemotions), m.counter(kEvacuated)};
}

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", double(bytes) / double(1 << 20));
  return buf;
}

std::string Percent(uint64_t part, uint64_t whole) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%",
                whole == 0 ? 0.0 : 100.0 * double(part) / double(whole));
  return buf;
}

// The memory the RSS bound allows for the tiers.
struct TierMemory {
  uint64_t in_memory = 0;    // dram, numa, compressed, pmem on anonymous memory
  uint64_t file_backed = 0;  // pmem on a file or device: its resident pages count in RSS too
};

TierMemory TierMemoryOf(const Config& config) {
  TierMemory m;
  for (const TierConfig& tc : config.tiers) {
    if (tc.kind == TierKind::kPmem && tc.path != "anon") {
      m.file_backed += tc.capacity_bytes;
    } else {
      m.in_memory += tc.capacity_bytes;
    }
  }
  return m;
}

volatile sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// ---- the command --------------------------------------------------------------------------------

int RunSoak(const SoakArgs& args) {
  Result<Config> loaded = Config::FromFile(args.config);
  if (!loaded) return FailCommand("soak", loaded.error());
  Config config = std::move(*loaded);
  // The mover at its maximum rate: no rate limit, and awake every millisecond.
  config.placement.max_migration_mbps = 0;
  config.placement.mover_interval_ms = 1;
  config.placement.background = true;

  uint64_t pages = args.pages;
  if (pages == 0) {
    uint64_t capacity = 0;
    for (const TierConfig& tc : config.tiers) capacity += tc.capacity_bytes / kPageSize;
    pages = capacity + capacity / 2;
  }
  const uint64_t unit = uint64_t{args.threads} * kSoakTypes;
  pages = (pages + unit - 1) / unit * unit;  // every worker gets the same slots of each type
  if (pages > kMaxSoakPages) {
    return FailCommand("soak", "--pages " + std::to_string(pages) + " is more than the " +
                                   std::to_string(kMaxSoakPages) +
                                   " slots the soak can model (16 bytes each).");
  }

  // Pool files this run creates are removed at the end (an existing one is the user's).
  std::vector<std::string> new_pools;
  for (const TierConfig& tc : config.tiers) {
    struct stat st {};
    if (tc.kind == TierKind::kPmem && tc.path != "anon" && stat(tc.path.c_str(), &st) != 0 &&
        errno == ENOENT) {
      new_pools.push_back(tc.path);
    }
  }
  struct PoolCleanup {
    std::vector<std::string>* paths;
    ~PoolCleanup() {
      for (const std::string& p : *paths) unlink(p.c_str());
    }
  } pool_cleanup{&new_pools};

  // Everything the soak itself needs (models, handed-back record), then the baseline.
  SoakState state(args.threads, pages / args.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < args.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(state, i, args.seed));
  }
  // The probe at open reads the NUMA nodes' attributes through hwloc, whose topology is loaded
  // once per process and kept (tiers/memory_attributes.h): process state shared by every
  // backend, not this backend's memory. Load it now, so that the baseline has it.
  bool hwloc_in_baseline = false;
  if (config.placement.probe_budget_ms > 0) {
    for (const TierConfig& tc : config.tiers) {
      if (tc.kind == TierKind::kNuma ||
          (tc.kind == TierKind::kCompressed && tc.backing == "numa")) {
        (void)ReadNodeAttributes(tc.node);
        hwloc_in_baseline = true;
        break;
      }
    }
  }
  const uint64_t baseline_bytes = ReadMemoryUse().rss;
  Result<std::unique_ptr<Backend>> opened = OpenBackend(config);
  if (!opened) return FailCommand("soak", opened.error());
  std::unique_ptr<Backend> backend = std::move(*opened);
  for (auto& w : workers) w->Attach(*backend);

  Result<std::unique_ptr<StatsService>> service = StatsService::Start(*backend, config.stats);
  if (!service) return FailCommand("soak", service.error());
  if ((*service)->port() != 0) {
    std::fprintf(stderr,
                 "tierswap soak: serving statistics on port %d (tierswap stats --connect)\n",
                 (*service)->port());
  }

  for (unsigned type = 0; type < kSoakTypes; ++type) {
    const Status s = backend->Init(type, state.nr_pages());
    if (s != Status::kOk) {
      return FailCommand("soak", "cannot initialise type " + std::to_string(type) + " with " +
                                     std::to_string(state.nr_pages()) + " pages: " + StatusName(s) +
                                     ".");
    }
  }
  backend->SetWriteback(&SoakState::Writeback, &state);

  const TierMemory tier_memory = TierMemoryOf(config);
  std::fprintf(stderr,
               "tierswap soak: %s for %.0f s: %u threads, %" PRIu64
               " pages over %u types (seed %" PRIu64
               "); %s policy, mover unlimited every 1 ms; tiers %s in memory + %s file-backed; "
               "baseline RSS %s%s\n",
               config.source.c_str(), args.seconds, args.threads, state.slots(), kSoakTypes,
               args.seed, config.placement.policy.c_str(), Mib(tier_memory.in_memory).c_str(),
               Mib(tier_memory.file_backed).c_str(), Mib(baseline_bytes).c_str(),
               hwloc_in_baseline ? " (with the hwloc topology)" : "");

  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {};
  struct sigaction old_term {};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  Controller controller(state, *backend, args.seed);
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  std::thread control([&controller] { controller.Run(); });

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(args.seconds));
  auto last_report = start;
  Totals last_totals;
  size_t peak_metadata = backend->MetadataBytes();
  while (Clock::now() < deadline && g_interrupted == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    peak_metadata = std::max(peak_metadata, backend->MetadataBytes());
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_report).count();
    if (args.report_every > 0 && since >= args.report_every) {
      const Totals t = Sum(workers);
      const Migrations m = ReadMigrations(*backend);
      const MemoryUse mem = ReadMemoryUse();
      std::fprintf(
          stderr,
          "soak %6.0fs: %s ops/s, %s stores (%s accepted), %s loads (%s hits), %s rejects, "
          "%s migrations, %s handed back, %" PRIu64 " mismatches, RSS %s (metadata %s)\n",
          std::chrono::duration<double>(now - start).count(),
          ShortCount(double(t.ops() - last_totals.ops()) / since).c_str(),
          ShortCount(double(t.stores)).c_str(), Percent(t.stores_ok, t.stores).c_str(),
          ShortCount(double(t.loads)).c_str(), Percent(t.hits, t.loads).c_str(),
          ShortCount(double(t.rejects)).c_str(), ShortCount(double(m.total())).c_str(),
          ShortCount(double(state.handed_back())).c_str(), state.mismatches(), Mib(mem.rss).c_str(),
          Mib(backend->MetadataBytes()).c_str());
      last_report = now;
      last_totals = t;
    }
  }
  const double ran_s = std::chrono::duration<double>(Clock::now() - start).count();
  state.stop.store(true, std::memory_order_relaxed);
  for (auto& t : threads) t.join();
  control.join();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  // Every slot once more, with nothing else moving but the mover.
  for (auto& w : workers) w->FinalCheck();
  peak_metadata = std::max(peak_metadata, backend->MetadataBytes());

  const Totals t = Sum(workers);
  const Migrations m = ReadMigrations(*backend);
  const ControlCounters& c = controller.counters;
  const MemoryUse mem = ReadMemoryUse();
  const uint64_t bound =
      tier_memory.in_memory + tier_memory.file_backed + peak_metadata + baseline_bytes;
  const bool rss_ok = mem.hwm <= bound;
  const uint64_t mismatches = state.mismatches();
  const bool passed = mismatches == 0 && rss_ok;

  if (args.json) {
    JsonWriter w(/*pretty=*/true);
    w.BeginObject();
    w.Key("config").String(config.source);
    w.Key("seconds").Double(ran_s);
    w.Key("interrupted").Bool(g_interrupted != 0);
    w.Key("threads").Uint(args.threads);
    w.Key("pages").Uint(state.slots());
    w.Key("types").Uint(kSoakTypes);
    w.Key("seed").Uint(args.seed);
    w.Key("ops").Uint(t.ops());
    w.Key("ops_per_second").Double(double(t.ops()) / ran_s);
    w.Key("stores").Uint(t.stores);
    w.Key("stores_accepted").Uint(t.stores_ok);
    w.Key("stores_rejected").Uint(t.rejects);
    w.Key("loads").Uint(t.loads);
    w.Key("load_hits").Uint(t.hits);
    w.Key("load_misses").Uint(t.misses);
    w.Key("invalidates").Uint(t.invalidates);
    w.Key("misses_handed_back").Uint(t.handed_misses);
    w.Key("ops_racing_area_reset").Uint(t.raced);
    w.Key("ops_skipped_during_reset").Uint(t.skipped);
    w.Key("final_pages_verified").Uint(t.final_checked);
    w.Key("handed_back").Uint(state.handed_back());
    w.Key("promotions").Uint(m.promotions);
    w.Key("demotions").Uint(m.demotions);
    w.Key("evacuations").Uint(m.evacuations);
    w.Key("capacity_shrinks").Uint(c.shrinks.Get());
    w.Key("capacity_grows").Uint(c.grows.Get());
    w.Key("tier_offlines").Uint(c.offlines.Get());
    w.Key("tier_onlines").Uint(c.onlines.Get());
    w.Key("freezes").Uint(c.freezes.Get());
    w.Key("area_resets").Uint(c.area_resets.Get());
    w.Key("pages_left_over").Uint(c.left_over.Get());
    w.Key("control_errors").Uint(c.errors.Get());
    w.Key("mismatches").Uint(mismatches);
    w.Key("peak_rss_bytes").Uint(mem.hwm);
    w.Key("rss_bound_bytes").Uint(bound);
    w.Key("rss_bound").BeginObject();
    w.Key("tiers_in_memory_bytes").Uint(tier_memory.in_memory);
    w.Key("tiers_file_backed_bytes").Uint(tier_memory.file_backed);
    w.Key("metadata_bytes").Uint(peak_metadata);
    w.Key("baseline_rss_bytes").Uint(baseline_bytes);
    w.Key("baseline_has_hwloc_topology").Bool(hwloc_in_baseline);
    w.EndObject();
    w.Key("passed").Bool(passed);
    w.Key("stats").Raw(StatsJson(*backend, /*pretty=*/false));
    w.EndObject();
    const std::string out = w.Take() + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::printf("tierswap soak: %.1f s%s, %u threads, %" PRIu64 " pages over %u types, %s\n", ran_s,
                g_interrupted != 0 ? " (interrupted)" : "", args.threads, state.slots(), kSoakTypes,
                config.source.c_str());
    std::printf("  operations  %" PRIu64 " (%s/s): %" PRIu64 " stores (%" PRIu64
                " accepted, %" PRIu64 " rejected), %" PRIu64 " loads (%" PRIu64 " hits), %" PRIu64
                " invalidations\n",
                t.ops(), ShortCount(double(t.ops()) / ran_s).c_str(), t.stores, t.stores_ok,
                t.rejects, t.loads, t.hits, t.invalidates);
    std::printf(
        "  checked     every load; %" PRIu64 " misses were pages handed to writeback, %" PRIu64
        " operations overlapped an area reset; %" PRIu64 " pages verified byte-exact at the end\n",
        t.handed_misses, t.raced, t.final_checked);
    std::printf("  migrations  %" PRIu64 " (%" PRIu64 " promotions, %" PRIu64 " demotions, %" PRIu64
                " evacuations)\n",
                m.total(), m.promotions, m.demotions, m.evacuations);
    std::printf("  control     %" PRIu64 " shrinks, %" PRIu64 " grows, %" PRIu64
                " offline/online, %" PRIu64 " freezes, %" PRIu64 " area resets, %" PRIu64
                " pages handed back, %" PRIu64 " errors\n",
                c.shrinks.Get(), c.grows.Get(), c.offlines.Get(), c.freezes.Get(),
                c.area_resets.Get(), state.handed_back(), c.errors.Get());
    std::printf("  mismatches  %" PRIu64 "\n", mismatches);
    std::printf(
        "  peak RSS    %s (VmHWM); bound %s = tiers %s in memory + %s file-backed + "
        "metadata %s + baseline %s\n",
        Mib(mem.hwm).c_str(), Mib(bound).c_str(), Mib(tier_memory.in_memory).c_str(),
        Mib(tier_memory.file_backed).c_str(), Mib(peak_metadata).c_str(),
        Mib(baseline_bytes).c_str());
    std::printf("%s\n", passed ? "PASSED" : "FAILED");
  }
  std::fflush(stdout);
  if (mismatches != 0) {
    std::fprintf(stderr, "tierswap soak: %" PRIu64 " mismatches: the backend broke the contract.\n",
                 mismatches);
  }
  if (!rss_ok) {
    std::fprintf(stderr,
                 "tierswap soak: peak RSS %s exceeds the bound of %s by %s (%" PRIu64 " bytes).\n",
                 Mib(mem.hwm).c_str(), Mib(bound).c_str(), FormatBytes(mem.hwm - bound).c_str(),
                 mem.hwm - bound);
  }
  return passed ? kExitOk : kExitMismatch;
}

// A CLI11 check that says what was wanted: `text` must be a number in [lo, hi], and a whole
// number when `whole`. CLI11 prefixes the option's name to the message.
CLI::Validator NumberIn(double lo, double hi, bool whole, const std::string& what) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        const bool ok =
            !text.empty() && *end == '\0' && errno == 0 && v >= lo && v <= hi &&
            (!whole || (v == std::floor(v) && text.find_first_of(".eE") == std::string::npos));
        return ok ? std::string() : "'" + text + "' is not " + what + ".";
      },
      "");
}

}  // namespace

Command AddSoakCommand(CLI::App& app) {
  auto args = std::make_shared<SoakArgs>();
  CLI::App* soak = app.add_subcommand(
      "soak",
      "Run a multi-threaded mixed workload with migration at full speed, capacity changes, "
      "tier offlining, freezes and area resets, and check every answer.");
  soak->add_option("--config", args->config,
                   "The backend configuration (TOML, docs/config.md); examples/soak.toml has "
                   "several tier kinds. Its mover rate limit and interval are overridden.")
      ->required()
      ->type_name("FILE");
  soak->add_option("--seconds", args->seconds,
                   "How long the workload runs (Ctrl-C ends it early, with the summary).")
      ->required()
      ->check(NumberIn(0.001, 7.0 * 24 * 3600, false,
                       "a number of seconds from 0.001 to 604800 (a week)"))
      ->type_name("N");
  soak->add_option("--threads", args->threads,
                   "Worker threads, each owning its own slots (and checking them).")
      ->default_val(2)
      ->check(NumberIn(1, 256, true, "a whole number of threads from 1 to 256"))
      ->type_name("T");
  soak->add_option("--pages", args->pages,
                   "Slots (type, offset) the workers use, spread over 4 types; rounded up to a "
                   "multiple of 4 x threads. Default: 1.5 times the pages the configured "
                   "capacities hold, so tiers fill, spill and reject.")
      ->check(NumberIn(1, double(kMaxSoakPages), true,
                       "a whole number of pages from 1 to " + std::to_string(kMaxSoakPages)))
      ->type_name("P");
  soak->add_option("--report-every", args->report_every,
                   "Seconds between progress lines on stderr (0: none).")
      ->default_val(5)
      ->check(NumberIn(0, 86400, false, "a number of seconds from 0 (no progress) to 86400"))
      ->type_name("S");
  soak->add_flag("--json", args->json, "Print the summary as one JSON object (with the stats).");
  soak->add_option("--seed", args->seed, "Seed of the workload's and the control thread's choices.")
      ->default_val(1)
      ->check(NumberIn(0, 18446744073709551615.0, true, "a whole number from 0 to 2^64-1"))
      ->type_name("N");
  soak->footer(
      "Each worker stores, loads and invalidates its own slots (45/47/8%, 80% of them on a "
      "fifth of the slots) and models them exactly: a load must return the version last "
      "accepted byte for byte, or miss because writeback was handed exactly that version; a "
      "slot that holds nothing must miss. Meanwhile the mover runs unthrottled every 1 ms and a "
      "control thread, every 100-400 ms, shrinks or grows a tier, takes one offline and back, "
      "freezes stores briefly or invalidates and re-initialises a type. At the end every slot "
      "is loaded once more. Progress goes to stderr, the summary to stdout.\n"
      "The RSS bound is the configured tier capacities (file-backed pmem included: its "
      "resident pages are mapped into the process) + the backend's metadata + the RSS before "
      "the backend was opened (the soak's own models and the process-wide hwloc topology "
      "included).\n"
      "Exit status: 0, 1 on any mismatch or a peak RSS above the bound, 2 on bad input.\n\n"
      "Examples:\n"
      "  tierswap soak --config examples/soak.toml --seconds 60\n"
      "  tierswap soak --config examples/soak.toml --seconds 1800 --threads 2 --report-every 60\n"
      "  tierswap soak --config examples/soak.toml --seconds 10 --json | python3 -m json.tool");
  return {soak, [args] { return RunSoak(*args); }};
}

}  // namespace tierswap
