// The fault-injection walk: every allocation and I/O site that a workload reaches is made to fail,
// one hit at a time, and after each failure the backend must have lost nothing, returned no
// wrong byte, leaked nothing and kept its statistics consistent.
//
// How: a counting run of a fixed workload (tiers dram, numa node 0, pmem file with persist,
// compressed lz4 and zstd; stores, overwrites, loads, invalidations, invalidate_area, migrations
// by Maintain, shrink with writeback, offline/online) learns how many times each site of
// tiers/fault_injection.h is hit. Then, for every hit k of every site, a fresh backend runs the
// same workload with hit k of that site failing (Arm(k, site)), in a fresh thread so that
// per-thread state (compression scratch) starts the same way each time. Every operation is
// checked against a model as it returns, and at the end every page the model holds must load
// byte-exact, every other slot must miss, and the counters must add up. LeakSanitizer (the
// -DTIERSWAP_SANITIZE=address build) checks the heap between sites and at exit; every build
// checks file descriptors after each run, and the plain build checks mapped memory too.
//
// Only built with -DTIERSWAP_FAULT_INJECTION=ON (docs/reliability.md, "Fault injection").
#include "tiers/fault_injection.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "placement/backend.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"
#include "tiers/numa_tier.h"
#include "tiers/pmem_tier.h"

#if defined(__SANITIZE_ADDRESS__)
#define TIERSWAP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIERSWAP_TEST_ASAN 1
#endif
#endif
#if defined(TIERSWAP_TEST_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

namespace tierswap {
namespace {

namespace fi = fault_injection;
using testing::FilledPage;
using testing::PageBuf;
using testing::PatternPage;
using testing::TextPage;

// Sites hit more often than this are walked over their first kFirstHits hits and a spread
// sample of kSpreadHits more (the walk prints which).
constexpr uint64_t kFirstHits = 160;
constexpr uint64_t kSpreadHits = 40;

// Type 1 has a quota, so that failures on its stores show whether the quota count drifts.
constexpr unsigned kQuotaType = 1;
constexpr uint64_t kQuotaPages = 7;

FaultSite SiteAt(size_t i) { return static_cast<FaultSite>(i); }

// ---- the process's resources, for leak checks that LeakSanitizer cannot make ---------------

size_t OpenFds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// VmSize in KiB: the address space mapped now (mmaps LeakSanitizer does not track).
[[maybe_unused]] uint64_t MappedKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 10);
  }
  return 0;
}

// ---- statistics by name --------------------------------------------------------------------

struct Stats {
  std::map<std::string, uint64_t> backend;
  std::vector<std::map<std::string, uint64_t>> tiers;
};

Stats ReadStats(const Backend& b) {
  testing::RecordingSink sink;
  b.ExportStats(sink);
  auto numbers = [](const testing::RecordingSink::Item& item) {
    std::map<std::string, uint64_t> out;
    for (const auto& [name, v] : item) {
      if (v.kind == "counter" || v.kind == "gauge") out[name] = v.number;
    }
    return out;
  };
  Stats s;
  s.backend = numbers(sink.top());
  for (const auto& item : sink.list("tiers")) s.tiers.push_back(numbers(item));
  return s;
}

// ---- one run of the workload ---------------------------------------------------------------

struct Env {
  std::string dir;   // temporary directory for the pmem pool file
  bool numa = true;  // NUMA node 0 can be bound here
  std::string pool() const { return dir + "/pool"; }
};

struct RunResult {
  bool opened = false;
  uint64_t fired = 0;  // faults injected during the run
  uint64_t lost = 0;
  uint64_t corrupt = 0;
  uint64_t pages_checked = 0;
  std::vector<std::string> problems;
  uint64_t hits_before_verify[kFaultSiteCount] = {};
};

class Run {
 public:
  explicit Run(const Env& env) : env_(env) {}

  // Opens, runs the workload, verifies and closes. Faults stay armed as the caller left them
  // until the final verification, which runs disarmed.
  RunResult Execute() {
    if (Open()) {
      result_.opened = true;
      Workload();
      for (size_t s = 0; s < kFaultSiteCount; ++s) {
        result_.hits_before_verify[s] = fi::Hits(SiteAt(s));
      }
      result_.fired = fi::Injected();
      fi::Disarm();
      Verify();
      backend_.reset();
    } else {
      for (size_t s = 0; s < kFaultSiteCount; ++s) {
        result_.hits_before_verify[s] = fi::Hits(SiteAt(s));
      }
      result_.fired = fi::Injected();
      fi::Disarm();
    }
    (void)unlink(env_.pool().c_str());
    return std::move(result_);
  }

 private:
  using Slot = std::pair<unsigned, uint64_t>;
  struct Held {
    PageBuf bytes;
    uint64_t version;
  };

  template <typename... Parts>
  void Problem(const Parts&... parts) {
    std::string s;
    ((s += parts), ...);
    if (result_.problems.size() < 20) result_.problems.push_back(s);
  }
  static std::string SlotName(const Slot& s) {
    return "(" + std::to_string(s.first) + ", " + std::to_string(s.second) + ")";
  }

  // Every tier the workload uses, smallest capacities that still make pages move.
  bool Open() {
    const uint64_t before = fi::Injected();
    std::vector<std::unique_ptr<Tier>> tiers;
    auto add = [&](auto opened, const std::string& name) {
      if (!opened) {
        const Error& e = opened.error();
        if (e.message.find(name) == std::string::npos) {
          Problem("open of tier '", name, "' failed with a message not naming it: ", e.message);
        }
        if (fi::Injected() == before) {
          Problem("open of tier '", name, "' failed with no fault injected: ", e.message);
        }
        return false;
      }
      tiers.push_back(std::move(opened).value());
      return true;
    };
    DramTierOptions dram;
    dram.name = "fast";
    dram.capacity_bytes = 8 * kPageSize;
    if (!add(DramTier::Open(dram), "fast")) return false;
    if (env_.numa) {
      NumaTierOptions numa;
      numa.name = "node0";
      numa.node = 0;
      numa.capacity_bytes = 8 * kPageSize;
      auto t = NumaTier::Open(numa);
      if (t) numa_ = t->get();
      if (!add(std::move(t), "node0")) return false;
    }
    PmemTierOptions pmem;
    pmem.name = "pmem";
    pmem.path = env_.pool();
    pmem.capacity_bytes = 12 * kPageSize;
    pmem.persist = true;
    if (!add(PmemTier::Open(pmem), "pmem")) {
      // A failed open leaves the filesystem as it found it.
      struct stat st;
      if (stat(env_.pool().c_str(), &st) == 0) {
        Problem("a failed pmem open left its pool file behind (", std::to_string(st.st_size),
                " bytes)");
      }
      return false;
    }
    for (const Codec codec : {Codec::kLz4, Codec::kZstd}) {
      CompressedTierOptions c;
      c.name = CodecName(codec);
      c.codec = codec;
      c.level = codec == Codec::kZstd ? 3 : 1;
      c.capacity_bytes = 5 * kPageSize;
      c.background_compaction = false;  // deterministic: no thread moving objects meanwhile
      if (!add(CompressedTier::Open(c), c.name)) return false;
    }
    BackendOptions o;
    o.placement.policy = "adaptive";
    // The mover thread starts (its start is a site) but never wakes within a run: pages move only
    // in Maintain, so the walk is repeatable.
    o.placement.background = true;
    o.placement.mover_interval_ms = 3'600'000;
    o.placement.probe_budget_ms = 0;  // a timed probe would hit sites a varying number of times
    o.placement.min_residency_ms = 0;
    o.placement.high_watermark = 0.75;
    o.placement.low_watermark = 0.5;
    o.latency_histograms = false;  // no latency-driven re-ranking: the walk must be repeatable
    o.quotas.push_back(QuotaOptions{kQuotaType, kQuotaPages * kPageSize});
    auto b = Backend::Open(std::move(tiers), o);
    if (!b) {
      if (fi::Injected() == before) {
        Problem("Backend::Open failed with no fault injected: ", b.error().message);
      }
      if (b.error().code != Status::kNoMemory || b.error().message.empty()) {
        Problem("Backend::Open failed with ", StatusName(b.error().code), ": ", b.error().message);
      }
      return false;
    }
    backend_ = std::move(b).value();
    backend_->SetWriteback(&Run::Writeback, this);
    return true;
  }

  // ---- operations, each checked against the model as it returns ----------------------------

  static PageBuf Content(uint64_t seed) {
    switch (seed % 8) {
      case 0:
        return FilledPage(seed * 0x0101010101010101ull);  // kept in the index only
      case 1:
      case 2:
        return PatternPage(seed);  // does not compress: compressed tiers decline it
      default:
        return TextPage(seed);
    }
  }

  void Store(unsigned type, uint64_t offset) {
    const uint64_t version = ++versions_;
    const PageBuf page = Content(version);
    const uint64_t before = fi::Injected();
    const Status s = backend_->Store(type, offset, page.data());
    const bool fired = fi::Injected() != before;
    ++stores_;
    const Slot slot{type, offset};
    touched_.insert(slot);
    const bool held = model_.count(slot) != 0;
    const uint64_t others = PagesOf(type) - (held ? 1 : 0);
    if (s == Status::kOk) {
      model_[slot] = Held{page, version};
      if (type == kQuotaType && PagesOf(type) > kQuotaPages) {
        Problem("store ", SlotName(slot), " took type ", std::to_string(type), " past its quota");
      }
      return;
    }
    model_.erase(slot);
    const RejectReason why = Backend::LastRejectReason();
    // The quota counts pages exactly, failures included: it refuses only a new page of a type
    // that holds its quota.
    if (why == RejectReason::kQuota && (type != kQuotaType || held || others < kQuotaPages)) {
      Problem("store ", SlotName(slot), " refused for its quota with ", std::to_string(others),
              " other pages of type ", std::to_string(type), held ? " (duplicate store)" : "");
    }
    if (s != Status::kNoSpace && s != Status::kNoMemory) {
      Problem("store ", SlotName(slot), " returned ", StatusName(s));
    }
    if ((why == RejectReason::kAllocation || why == RejectReason::kIo) && !fired) {
      Problem("store ", SlotName(slot), " rejected for ", RejectReasonName(why),
              " with no fault injected");
    }
    if (why == RejectReason::kNone) Problem("store ", SlotName(slot), " rejected with no reason");
    // A failed store leaves no old copy reachable.
    PageBuf out{};
    const Status l = backend_->Load(type, offset, out.data());
    ++loads_;
    if (l == Status::kOk) {
      ++result_.corrupt;
      ++ok_loads_;
      if (!IsSameFilledPage(out)) ++tier_loads_;
      Problem("store ", SlotName(slot), " failed but the slot still returns a page");
    } else if (l != Status::kNotFound) {
      if (l == Status::kIoError) ++io_errors_;
      Problem("load after a failed store ", SlotName(slot), " returned ", StatusName(l));
    }
  }

  uint64_t PagesOf(unsigned type) const {
    uint64_t n = 0;
    for (const auto& [slot, held] : model_) n += slot.first == type;
    return n;
  }

  static bool IsSameFilledPage(const PageBuf& p) {
    uint64_t v;
    return IsSameFilled(p.data(), &v);
  }

  void Load(const Slot& slot) {
    PageBuf out{};
    const uint64_t before = fi::Injected();
    const Status s = backend_->Load(slot.first, slot.second, out.data());
    const bool fired = fi::Injected() != before;
    ++loads_;
    ++result_.pages_checked;
    auto it = model_.find(slot);
    if (s == Status::kOk) {
      ++ok_loads_;
      if (!IsSameFilledPage(out)) ++tier_loads_;
      if (it == model_.end()) {
        ++result_.corrupt;
        Problem("load ", SlotName(slot), " returned a page the slot no longer holds");
      } else if (out != it->second.bytes) {
        ++result_.corrupt;
        Problem("load ", SlotName(slot), " returned other bytes than version ",
                std::to_string(it->second.version));
      }
    } else if (s == Status::kNotFound) {
      if (it != model_.end()) {
        ++result_.lost;
        Problem("load ", SlotName(slot), " lost accepted version ",
                std::to_string(it->second.version));
      }
    } else if (s == Status::kIoError) {
      ++io_errors_;
      if (!fired) Problem("load ", SlotName(slot), " failed with no fault injected");
      if (it == model_.end()) Problem("load ", SlotName(slot), " of an empty slot failed");
    } else {
      Problem("load ", SlotName(slot), " returned ", StatusName(s));
    }
  }

  void LoadAll() {
    const std::vector<Slot> slots(touched_.begin(), touched_.end());
    for (const Slot& s : slots) Load(s);
  }

  void Invalidate(unsigned type, uint64_t offset) {
    backend_->InvalidatePage(type, offset);
    invalidates_ += model_.erase(Slot{type, offset});
  }

  void DropType(unsigned type) {
    for (auto it = model_.begin(); it != model_.end();) {
      it = it->first.first == type ? model_.erase(it) : std::next(it);
    }
  }

  void InvalidateArea(unsigned type) {
    backend_->InvalidateArea(type);
    DropType(type);
  }

  void Init(unsigned type, uint64_t nr_pages) {
    if (backend_->Init(type, nr_pages) != Status::kOk)
      Problem("init of type ", std::to_string(type), " failed");
    DropType(type);
  }

  // Failed reads of compressed pages since `injected_before` (a faulted decompress).
  static uint64_t ReadFailuresSince(uint64_t injected_before) {
    return fi::LastInjectedSite() == FaultSite::kDecompress ? fi::Injected() - injected_before : 0;
  }

  // A pass of the mover: each page it failed to read counts once as mover_io_errors.
  void Maintain() {
    now_ns_ += 10'000'000;
    const uint64_t before = fi::Injected();
    backend_->Maintain(now_ns_);
    mover_read_failures_ += ReadFailuresSince(before);
  }

  // Shrinks (bytes) or offlines (offline) a tier: with a writeback callback installed, every
  // page must leave unless a fault got in the way.
  void Shrink(const char* name, uint64_t bytes, bool offline) {
    const int t = backend_->FindTier(name);
    if (t < 0) return;
    const uint64_t before = fi::Injected();
    auto r = offline ? backend_->TierOffline(t) : backend_->SetTierCapacity(t, bytes);
    const bool fired = fi::Injected() != before;
    const uint64_t read_failures = ReadFailuresSince(before);
    evacuation_read_failures_ += read_failures;
    if (!r) {
      Problem(offline ? "offline of " : "shrink of ", name, " failed: ", r.error().message);
      return;
    }
    if (*r != 0 && !fired) {
      Problem(offline ? "offline of " : "shrink of ", name, " left ", std::to_string(*r),
              " pages with no fault injected");
    }
    if (*r == 0 && !offline && backend_->tier(t).used_bytes() > bytes) {
      Problem("shrink of ", name, " reported done above its new capacity");
    }
    if (*r == 0 && offline && backend_->tier(t).stored_pages() != 0) {
      Problem("offline of ", name, " reported done with pages left on it");
    }
    // A page the evacuation could not read stays, and is reported as not moved.
    if (read_failures != 0 && (offline || bytes == 0) && *r == 0) {
      Problem(offline ? "offline of " : "shrink of ", name, " failed to read ",
              std::to_string(read_failures), " pages but reported every page moved");
    }
  }

  void Grow(const char* name) {
    const int t = backend_->FindTier(name);
    if (t < 0) return;
    if (!backend_->SetTierCapacity(t, backend_->tier(t).capacity_bytes()).ok()) {
      Problem("growing ", name, " back failed");
    }
  }

  void Online(const char* name) {
    const int t = backend_->FindTier(name);
    if (t >= 0 && backend_->TierOnline(t) != Status::kOk) Problem("online of ", name, " failed");
  }

  // The guest's writeback: takes the page, unless the seam says the swap device failed.
  static int Writeback(void* ctx, unsigned type, uint64_t offset, const void* page) {
    auto* run = static_cast<Run*>(ctx);
    if (TIERSWAP_INJECT_FAULT(FaultSite::kWriteback)) return -5;  // -EIO: the page stays
    const Slot slot{type, offset};
    auto it = run->model_.find(slot);
    if (it == run->model_.end()) {
      ++run->result_.corrupt;
      run->Problem("writeback of ", SlotName(slot), " handed back a page the slot does not hold");
      return 0;
    }
    if (std::memcmp(page, it->second.bytes.data(), kPageSize) != 0) {
      ++run->result_.corrupt;
      run->Problem("writeback of ", SlotName(slot), " handed back other bytes");
    }
    if (!run->handed_.insert(it->second.version).second) {
      run->Problem("writeback of ", SlotName(slot), " handed version ",
                   std::to_string(it->second.version), " back twice");
    }
    // The backend drops the page once the guest has it; the slot must miss from now on.
    run->model_.erase(it);
    return 0;
  }

  void Workload() {
    Init(0, 0);  // nr_pages unknown: offsets past the first index chunk are allowed
    Init(1, 512);
    // Fill: more pages than the tiers hold, so some are rejected and tiers cross watermarks.
    for (uint64_t o = 0; o < 24; ++o) Store(0, o);
    for (uint64_t o = 0; o < 3; ++o) Store(0, 70'000 + o);  // a second index chunk
    for (uint64_t o = 0; o < 10; ++o) Store(1, o * 3);
    Maintain();  // demotes cold pages off tiers above their high watermark
    LoadAll();   // loads from slower tiers queue promotions
    Maintain();  // promotes them
    // Overwrites (in place on the fastest tier, elsewhere a new copy) and invalidations.
    for (uint64_t o = 0; o < 24; o += 3) Store(0, o);
    for (uint64_t o = 0; o < 24; o += 5) Invalidate(0, o);
    Maintain();
    LoadAll();
    // Capacity at runtime: shrink, offline, online, grow; pages move or are written back.
    Shrink("fast", 2 * kPageSize, /*offline=*/false);
    Shrink("node0", 0, /*offline=*/true);
    if (numa_ != nullptr) {
      const uint64_t before = fi::Injected();
      auto v = numa_->Verify();
      if (!v && fi::Injected() == before) Problem("Verify failed: ", v.error().message);
    }
    LoadAll();
    Online("node0");
    Grow("fast");
    Shrink("lz4", 0, /*offline=*/false);
    Grow("lz4");
    // A whole area goes and comes back.
    InvalidateArea(1);
    Init(1, 512);
    for (uint64_t o = 0; o < 9; ++o) Store(1, o);
    // Pressure: stores until tiers are full, then the mover and a last offline.
    for (uint64_t o = 100; o < 124; ++o) Store(0, o);
    Maintain();
    LoadAll();
    Maintain();
    Shrink("pmem", 0, /*offline=*/true);
    Online("pmem");
    for (uint64_t o = 0; o < 6; ++o) Store(1, o);
    LoadAll();
  }

  // ---- after the workload: nothing lost, nothing stale, counters consistent ----------------

  void Verify() {
    LoadAll();  // every held page byte-exact; every other touched slot misses
    const Stats st = ReadStats(*backend_);
    const auto& b = st.backend;
    auto get = [&](const char* name) {
      auto it = b.find(name);
      return it == b.end() ? uint64_t{0} : it->second;
    };
    auto expect_eq = [&](const char* what, uint64_t got, uint64_t want) {
      if (got != want) {
        Problem("stats: ", what, " is ", std::to_string(got), ", expected ", std::to_string(want));
      }
    };
    expect_eq("stored_pages vs pages the model holds", get("stored_pages"), model_.size());
    uint64_t on_tiers = 0;
    for (size_t t = 0; t < backend_->tier_count(); ++t) {
      const Tier& tier = backend_->tier(t);
      const std::string name = "tier '" + tier.name() + "' ";
      on_tiers += tier.stored_pages();
      if (tier.used_bytes() > tier.capacity_bytes()) Problem(name, "uses more than its capacity");
      if (const auto* c = dynamic_cast<const CompressedTier*>(&tier)) {
        expect_eq((name + "orig_bytes vs stored_pages x 4096").c_str(), c->orig_bytes(),
                  tier.stored_pages() * kPageSize);
      } else {
        // One frame per page: a frame held but not counted is a leak, the reverse a double use.
        // (A pmem tier also holds its bad-block frames, never given to a page.)
        auto bad = st.tiers[t].find("badblock_frames");
        const uint64_t reserved = bad == st.tiers[t].end() ? 0 : bad->second * kPageSize;
        expect_eq((name + "used_bytes vs stored_pages x 4096").c_str(),
                  tier.used_bytes() - reserved, tier.stored_pages() * kPageSize);
      }
    }
    expect_eq("pages on tiers + same-filled vs stored_pages", on_tiers + get("same_filled_pages"),
              get("stored_pages"));
    expect_eq("succ_stores + failed_stores vs stores issued",
              get("succ_stores") + get("failed_stores"), stores_);
    expect_eq("sum of reject reasons vs failed_stores",
              get("reject_no_space") + get("reject_no_memory") + get("reject_bad_argument") +
                  get("reject_quota") + get("reject_frozen") + get("reject_poor_compression") +
                  get("reject_io"),
              get("failed_stores"));
    expect_eq("loads + load_misses + load_errors vs loads issued",
              get("loads") + get("load_misses") + get("load_errors"), loads_);
    expect_eq("load_errors vs failed loads seen", get("load_errors"), io_errors_);
    expect_eq("loads vs successful loads seen", get("loads"), ok_loads_);
    expect_eq("invalidates vs held pages invalidated", get("invalidates"), invalidates_);
    // Demotion and promotion count every page they could not read. An evacuation reports such
    // a page as one it could not move (checked in Shrink), and may count it here too.
    if (get("mover_io_errors") < mover_read_failures_ ||
        get("mover_io_errors") > mover_read_failures_ + evacuation_read_failures_) {
      Problem("stats: mover_io_errors is ", std::to_string(get("mover_io_errors")), "; ",
              std::to_string(mover_read_failures_), " reads failed in Maintain and ",
              std::to_string(evacuation_read_failures_), " in evacuations");
    }
    uint64_t tier_loads = 0;
    for (size_t t = 0; t < backend_->tier_count(); ++t) tier_loads += backend_->tier(t).loads();
    expect_eq("tier loads vs loads of pages kept on tiers", tier_loads, tier_loads_);
  }

  const Env& env_;
  std::unique_ptr<Backend> backend_;
  NumaTier* numa_ = nullptr;
  std::map<Slot, Held> model_;
  std::set<Slot> touched_;
  std::set<uint64_t> handed_;  // versions the writeback took
  uint64_t versions_ = 0;
  uint64_t now_ns_ = 1'000'000;
  uint64_t stores_ = 0, loads_ = 0, ok_loads_ = 0, tier_loads_ = 0, io_errors_ = 0;
  uint64_t invalidates_ = 0, mover_read_failures_ = 0, evacuation_read_failures_ = 0;
  RunResult result_;
};

// Runs the workload on a thread of its own: per-thread state (compression scratch, counter
// shard) then starts out the same in every run, so hit k of a site is the same call each time.
RunResult RunOnce(const Env& env) {
  RunResult r;
  std::thread([&] { r = Run(env).Execute(); }).join();
  return r;
}

class FaultWalk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/tierswap-fault-XXXXXX";
    char tmpl2[] = "/tmp/tierswap-fault-XXXXXX";
    // tmpfs: the pmem tier's persist is an msync per store, which must not wait for a disk.
    const char* dir = mkdtemp(tmpl);
    if (dir == nullptr) dir = mkdtemp(tmpl2);
    ASSERT_NE(dir, nullptr) << "cannot create a temporary directory: " << std::strerror(errno);
    env_.dir = dir;
    fi::Disarm();
    fi::ResetCounts();
    NumaTierOptions numa;
    numa.capacity_bytes = kPageSize;
    auto t = NumaTier::Open(numa);
    env_.numa = t.ok();
    if (!env_.numa) {
      std::printf("NUMA node 0 cannot be bound here (%s): the walk runs without a numa tier\n",
                  t.error().message.c_str());
    }
    fi::ResetCounts();
  }
  void TearDown() override {
    fi::Disarm();
    (void)rmdir(env_.dir.c_str());
  }

  // The hits to walk for a site hit `hits` times: all, or the first kFirstHits and a spread.
  static std::vector<uint64_t> Points(uint64_t hits) {
    std::vector<uint64_t> points;
    for (uint64_t k = 1; k <= std::min(hits, kFirstHits); ++k) points.push_back(k);
    if (hits > kFirstHits) {
      const uint64_t rest = hits - kFirstHits;
      for (uint64_t i = 1; i <= kSpreadHits; ++i) {
        const uint64_t k = kFirstHits + (rest * i + kSpreadHits - 1) / kSpreadHits;
        if (k != points.back()) points.push_back(k);
      }
    }
    return points;
  }

  void Walk(bool sticky) {
    // Counting run: nothing fails; it must pass every check too.
    fi::ResetCounts();
    const RunResult base = RunOnce(env_);
    ASSERT_TRUE(base.opened) << (base.problems.empty() ? "" : base.problems[0]);
    for (const std::string& p : base.problems) ADD_FAILURE() << "with no fault injected: " << p;
    ASSERT_TRUE(base.problems.empty());
    uint64_t hits[kFaultSiteCount];
    std::copy(std::begin(base.hits_before_verify), std::end(base.hits_before_verify), hits);

    const size_t fds = OpenFds();
#if !defined(TIERSWAP_TEST_ASAN)
    // One more run first, so that allocator arenas and caches have reached their steady size.
    (void)RunOnce(env_);
    const uint64_t mapped = MappedKiB();
#endif
    size_t sites = 0, points = 0, failed_points = 0;
    uint64_t lost = 0, corrupt = 0;
    std::vector<std::string> unreached;
    for (size_t s = 0; s < kFaultSiteCount; ++s) {
      const FaultSite site = SiteAt(s);
      if (hits[s] == 0) {
        unreached.push_back(FaultSiteName(site));
        continue;
      }
      ++sites;
      const std::vector<uint64_t> ks = Points(hits[s]);
      std::printf(
          "  %-17s %5llu hits, %zu walked%s\n", FaultSiteName(site),
          static_cast<unsigned long long>(hits[s]), ks.size(),
          ks.size() < hits[s]
              ? (" (1-" + std::to_string(kFirstHits) + " and a spread over the rest)").c_str()
              : "");
      for (const uint64_t k : ks) {
        fi::ResetCounts();
        fi::Arm(k, site, sticky);
        const RunResult r = RunOnce(env_);
        ++points;
        lost += r.lost;
        corrupt += r.corrupt;
        const std::string where = std::string(sticky ? "persistent " : "") + "fault at " +
                                  FaultSiteName(site) + " hit " + std::to_string(k) + ": ";
        if (r.fired == 0) {
          ADD_FAILURE() << where << "never fired: the workload is not repeatable";
        }
        if (!sticky && r.fired > 1) ADD_FAILURE() << where << "fired " << r.fired << " times";
        for (const std::string& p : r.problems) ADD_FAILURE() << where << p;
        if (OpenFds() != fds) {
          ADD_FAILURE() << where << "leaked file descriptors (" << OpenFds() << " open, " << fds
                        << " before)";
        }
#if !defined(TIERSWAP_TEST_ASAN)
        if (MappedKiB() > mapped) {
          ADD_FAILURE() << where << "mapped memory grew from " << mapped << " KiB to "
                        << MappedKiB() << " KiB";
        }
#endif
        if (!r.problems.empty()) ++failed_points;
      }
#if defined(TIERSWAP_TEST_ASAN)
      // Leaks of this site's walk, reported here rather than once at exit.
      EXPECT_EQ(__lsan_do_recoverable_leak_check(), 0)
          << "leak after the walk of " << FaultSiteName(site);
#endif
    }
    std::string none;
    for (const std::string& u : unreached) none += (none.empty() ? "" : ", ") + u;
    std::printf(
        "fault walk%s: %zu sites reached, %zu injection points walked, %llu lost, "
        "%llu corrupt, %zu points with problems; not reached: %s\n",
        sticky ? " (persistent faults)" : "", sites, points, static_cast<unsigned long long>(lost),
        static_cast<unsigned long long>(corrupt), failed_points,
        none.empty() ? "none" : none.c_str());
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(corrupt, 0u);
    // Every site the library has is reached by the workload (numa_bind only where NUMA works).
    for (const std::string& u : unreached) {
      if (u == FaultSiteName(FaultSite::kNumaBind) && !env_.numa) continue;
      ADD_FAILURE() << "site " << u << " is not reached by the workload";
    }
  }

  Env env_;
};

TEST_F(FaultWalk, EveryInjectionPointFailsOnceWithNothingLostOrLeaked) { Walk(/*sticky=*/false); }

TEST_F(FaultWalk, EveryInjectionPointFailingFromThenOnLosesNothing) { Walk(/*sticky=*/true); }

// ---- the seam itself, and the failure paths the walk found ---------------------------------

TEST(FaultSeam, ArmFailsExactlyTheNthHitOfAnySite) {
  fi::ResetCounts();
  fi::Arm(3);
  std::vector<bool> failed;
  for (const FaultSite s : {FaultSite::kFrameAlloc, FaultSite::kCompress, FaultSite::kFrameAlloc,
                            FaultSite::kPmemMap, FaultSite::kFrameAlloc}) {
    failed.push_back(TIERSWAP_INJECT_FAULT(s));
  }
  fi::Disarm();
  EXPECT_EQ(failed, (std::vector<bool>{false, false, true, false, false}));
  EXPECT_EQ(fi::Injected(), 1u);
  EXPECT_EQ(fi::LastInjectedSite(), FaultSite::kFrameAlloc);
  EXPECT_EQ(fi::Hits(FaultSite::kFrameAlloc), 3u);
  EXPECT_EQ(fi::Hits(FaultSite::kCount), 5u);
}

TEST(FaultSeam, StickyArmFailsTheChosenSiteFromItsNthHitOn) {
  fi::ResetCounts();
  fi::Arm(2, FaultSite::kCompress, /*sticky=*/true);
  std::vector<bool> failed;
  for (const FaultSite s : {FaultSite::kCompress, FaultSite::kFrameAlloc, FaultSite::kCompress,
                            FaultSite::kFrameAlloc, FaultSite::kCompress}) {
    failed.push_back(TIERSWAP_INJECT_FAULT(s));
  }
  fi::Disarm();
  EXPECT_EQ(failed, (std::vector<bool>{false, false, true, false, true}));
  EXPECT_EQ(fi::Injected(), 2u);
}

TEST(FaultSeam, FailedPmemPersistRejectsTheStoreAndGivesTheFrameBack) {
  PmemTierOptions o;
  o.capacity_bytes = 4 * kPageSize;
  o.persist = true;
  auto opened = PmemTier::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Tier& tier = **opened;
  const PageBuf page = PatternPage(1);
  fi::ResetCounts();
  fi::Arm(1, FaultSite::kPmemPersist);
  TierHandle h;
  EXPECT_EQ(tier.Store(page.data(), &h), Status::kIoError);
  fi::Disarm();
  EXPECT_EQ(tier.used_bytes(), 0u) << "the frame of a store that failed to persist is freed";
  EXPECT_EQ(tier.stored_pages(), 0u);
  ASSERT_EQ(tier.Store(page.data(), &h), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(tier.Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, page);
  tier.Free(h);
}

TEST(FaultSeam, BackendOpenReportsAnIndexThatCannotBeMappedInsteadOfThrowing) {
  for (const uint64_t k : {uint64_t{1}, uint64_t{17}, uint64_t{32}}) {
    std::vector<std::unique_ptr<Tier>> tiers;
    tiers.push_back(testing::MakeDram(4));
    BackendOptions o;
    o.placement.probe_budget_ms = 0;
    o.placement.background = false;
    fi::ResetCounts();
    fi::Arm(k, FaultSite::kMetadataAlloc);
    auto b = Backend::Open(std::move(tiers), o);
    fi::Disarm();
    EXPECT_EQ(fi::Injected(), 1u);
    ASSERT_FALSE(b.ok()) << "directory " << k;
    EXPECT_EQ(b.error().code, Status::kNoMemory);
    EXPECT_NE(b.error().message.find("page index"), std::string::npos) << b.error().message;
  }
}

TEST(FaultSeam, CompressedTierReportsACompactorThreadThatCannotStart) {
  CompressedTierOptions o;
  o.name = "zram";
  o.capacity_bytes = 8 * kPageSize;
  o.background_compaction = true;
  fi::ResetCounts();
  fi::Arm(1, FaultSite::kThreadStart);
  auto t = CompressedTier::Open(o);
  fi::Disarm();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Status::kNoMemory);
  EXPECT_NE(t.error().message.find("tier 'zram': cannot start the compaction thread"),
            std::string::npos)
      << t.error().message;
}

TEST(FaultSeam, StoreWhoseIndexChunkCannotBeMappedIsRejectedWithNoMemory) {
  auto b = testing::MakeBackend(8);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->Init(0, 0), Status::kOk);
  const PageBuf page = PatternPage(3);
  fi::ResetCounts();
  fi::Arm(1, FaultSite::kIndexChunk);
  EXPECT_EQ(b->Store(0, 5, page.data()), Status::kNoMemory);
  fi::Disarm();
  EXPECT_EQ(Backend::LastRejectReason(), RejectReason::kAllocation);
  PageBuf out{};
  EXPECT_EQ(b->Load(0, 5, out.data()), Status::kNotFound);
  ASSERT_EQ(b->Store(0, 5, page.data()), Status::kOk);
  ASSERT_EQ(b->Load(0, 5, out.data()), Status::kOk);
  EXPECT_EQ(out, page);
}

}  // namespace
}  // namespace tierswap
