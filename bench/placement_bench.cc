// Placement quality: how close do the placement policies come to an oracle?
//
// Each trace (bench/placement_sim.h: a zipfian hot set, a scan passing a hot set, a hot set that
// moves half way, and the real traces the project ships) is replayed on three tiers "fast",
// "mid" and "slow" whose load costs are 1, 2 and 8 units, with the fast tier at 1:2, 1:4 and 1:8
// of the trace's working set, the mid tier at 1:2 and the slow tier holding the rest. In the
// same run, side by side:
//   oracle        Belady's MIN over the tiers (simulated): the lower bound
//   static (sim)  first tier with room, never moves (simulated; checks the engine's static)
//   random        a random tier with room, never moves (simulated)
//   static        the real Backend with [placement] policy = "static"
//   adaptive      the real Backend with policy = "adaptive", no mover thread: Maintain() runs
//                 every 256 operations, migration unlimited, other keys at their defaults
//                 unless --min_residency_ms, --promote_after_loads or --watermarks say otherwise
// For each, the mean and p99 load cost, the fraction of loads the fast tier served, pages
// migrated and wasted migrations, and the mean and p99 as ratios to the oracle's. For hot-shift
// at 1:4, a breakdown by window of --window_loads loads shows when adaptive loses against the
// oracle, with the tiers' occupancy and the mover's work in each window.
//
// The real backends run on three DRAM tiers without emulation, so a run is quick and a load's
// tier is all that varies: after each Load the tier whose load counter moved is the tier that
// served it, and the cost model prices it. Costs in nanoseconds are units x 600 ns, a nominal
// fast-tier load (a cold 4 KiB copy on the reference machine is 640 ns). The probe is skipped
// (probe_budget_ms = 0) and the tiers are untimed, so the engine ranks the tiers in
// configuration order, as the cost model does; the run stops if the engine ranks them otherwise,
// at open or after any Maintain().
//
// Time: the real replays run in trace time, not wall-clock time. Operation i happens at
// 1 s + i / --ops_per_sec (a nominal guest swap rate, 100,000 operations per second by default),
// and every 256 operations the replay calls Maintain(now) with the time the next operation is
// due, so the engine's minimum residency counts trace time: the replays run at full speed and
// give the same result in every run. A residency sweep (hot-shift at 1:4, adaptive,
// min_residency_ms 0, 100 and 1000) shows how much that window decides.
//
// After the tables, one Google Benchmark measures what the policy costs in time: the same replay
// of the hot-shift trace at 1:4 (trace time, full speed) per operation, adaptive (Maintain()
// calls included) against static, as a ratio.
//
//   placement_bench [--json=FILE] [--pages=16384] [--loads_per_page=16] [--dirty=0.1]
//                   [--shift_background=0.05] [--seed=1] [--traces=FILE,...]
//                   [--ops_per_sec=100000] [--min_residency_ms=1000]
//                   [--promote_after_loads=1] [--watermarks=0.98,0.95] [--window_loads=16384]
//                   [--residency_sweep=0,100,1000] [--quality=true] [--timing=true]
//                   [Google Benchmark flags]
//
// Thread-safety: single-threaded, apart from whatever the Backend runs itself (nothing, with
// background = false).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.h"
#include "bench/placement_sim.h"
#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/json_writer.h"
#include "placement/backend.h"
#include "tiers/page.h"

namespace tierswap::bench {
namespace {

using placement_sim::PlacementOutcome;
using placement_sim::SimOp;
using placement_sim::SimOpKind;
using placement_sim::SimTrace;
using placement_sim::TierLayout;

constexpr double kFastLoadNs = 600.0;  // the nominal cost of one unit
constexpr unsigned kRatios[] = {2, 4, 8};
constexpr const char* kTierNames[] = {"fast", "mid", "slow"};

struct Settings {
  placement_sim::TraceParams params;
  std::vector<std::string> trace_files;
  // The engine's tunables for the real replays: the defaults unless a flag says otherwise
  // (--min_residency_ms, --promote_after_loads, --watermarks). The benchmark itself sets
  // policy, background, max_migration_mbps and probe_budget_ms (BackendConfig).
  PlacementConfig placement;
  // Extra adaptive replays of hot-shift at 1:4 with these minimum residencies.
  std::vector<uint64_t> residency_sweep = {0, 100, 1000};
  uint32_t maintain_every = 256;
  // The guest's swap rate in trace time: operation i of a replay happens at 1 s + i / rate, and
  // Maintain() is told that time (placement_sim::TraceClock), so the engine's time-based rules
  // (the minimum residency) see the trace unfold at this pace however fast the replay runs.
  uint64_t ops_per_sec = 100000;
  uint64_t random_seed = 0x52414E44;  // the random placement's own seed
  // The per-window breakdown of hot-shift at 1:4: loads per window.
  uint64_t window_loads = 16384;
};

Settings& settings() {
  static Settings s;
  return s;
}

// ---- the real backend --------------------------------------------------------------------------

Config BackendConfig(const TierLayout& l, const std::string& policy, uint64_t min_residency_ms) {
  Config c;
  c.tiers.clear();
  for (size_t i = 0; i < l.capacity_pages.size(); ++i) {
    TierConfig t;
    t.name = kTierNames[i];
    t.kind = TierKind::kDram;
    t.capacity_bytes = l.capacity_pages[i] * kPageSize;
    t.prefault = true;
    c.tiers.push_back(t);
  }
  c.placement = settings().placement;
  c.placement.policy = policy;
  c.placement.background = false;
  c.placement.max_migration_mbps = 0;
  c.placement.min_residency_ms = min_residency_ms;
  c.placement.probe_budget_ms = 0;  // rank in configuration order, as the cost model does
  // Untimed tiers give the mover no measured load cost to re-rank them by: three DRAM tiers
  // cost the same, and a ranking that followed their noise would make the cost model price the
  // wrong tiers (and the run depend on wall-clock time). CheckRank stops the run if they move.
  c.stats.latency_histograms = false;
  c.source = "placement_bench";
  return c;
}

// Fails unless the engine ranks the tiers in configuration order, as the cost model does.
Status CheckRank(const Backend& b, std::string* message) {
  const auto& rank = b.tier_view().rank;
  for (unsigned i = 0; i < rank.size(); ++i) {
    if (rank[i] != i) {
      *message = "the engine ranked tier '" + std::string(kTierNames[rank[i]]) + "' at position " +
                 std::to_string(i) + "; the cost model needs fast, mid, slow in that order.";
      return Status::kInvalidArgument;
    }
  }
  return Status::kOk;
}

Result<std::unique_ptr<Backend>> OpenBackend(const SimTrace& t, const TierLayout& l,
                                             const std::string& policy, uint64_t min_residency_ms) {
  auto b = tierswap::OpenBackend(BackendConfig(l, policy, min_residency_ms));
  if (!b) return b.take_error();
  std::string message;
  if (CheckRank(*b.value(), &message) != Status::kOk) {
    return MakeError(Status::kInvalidArgument, message);
  }
  for (unsigned type : t.types) {
    if (b.value()->Init(type, 0) != Status::kOk) {
      return MakeError(Status::kInvalidArgument,
                       "Init of type " + std::to_string(type) + " failed.");
    }
  }
  return b;
}

// The guest's page: random bytes (never same-filled, so every page takes a frame), stamped with
// the page id and its version so that a load can be checked.
struct Stamp {
  uint64_t page;
  uint64_t version;
};

// The mover's moves summed over the tiers: (promotions_in + demotions_in, wasted, bytes).
struct MoveTotals {
  uint64_t moved = 0, wasted = 0, bytes = 0;
};
MoveTotals SumMoves(const BackendStats& st) {
  MoveTotals m;
  for (const TierStats& t : st.tiers) {
    m.moved += t.moves.promotions_in + t.moves.demotions_in;
    m.wasted += t.moves.wasted;
    m.bytes += t.moves.migrated_bytes();
  }
  return m;
}

// What the engine did in one window of loads (the mover's counters over the window, the tiers'
// occupancy at its end).
struct WindowStats {
  std::vector<uint64_t> pages_per_tier;  // pages each tier holds at the window's end
  uint64_t promotions = 0, demotions = 0, wasted = 0, residency_skips = 0, second_chances = 0,
           no_room = 0;
};

struct ReplayResult {
  PlacementOutcome outcome;
  uint64_t mismatches = 0;  // loads that returned other bytes than the last store
  uint64_t ambiguous = 0;   // loads after which no tier's, or several tiers', counter moved
  uint64_t maintain_calls = 0;
  uint64_t moved_by_maintain = 0;
  uint64_t migrated_bytes = 0;
  std::string mover;  // the mover's own counters, for the notes
  // One per settings().window_loads loads, in order (the last one may be shorter).
  std::vector<WindowStats> windows;
};

// Replays `t` on a fresh backend and attributes every load to the tier that served it.
Result<ReplayResult> ReplayQuality(const SimTrace& t, const TierLayout& l,
                                   const std::string& policy, uint64_t min_residency_ms) {
  auto opened = OpenBackend(t, l, policy, min_residency_ms);
  if (!opened) return opened.take_error();
  Backend& b = *opened.value();
  const size_t ntiers = b.tier_count();
  const bool maintain = policy != "static";
  auto page = PageBuffers::Make(2, uint64_t{0xB0B});
  if (!page) return page.take_error();
  unsigned char* src = page->page(0);
  unsigned char* dst = page->page(1);
  std::vector<uint64_t> version(t.pages, 0);
  std::vector<uint64_t> seen(ntiers, 0), now(ntiers, 0);
  auto read_loads = [&](std::vector<uint64_t>& v) {
    for (size_t i = 0; i < ntiers; ++i) v[i] = b.tier(i).loads();
  };
  read_loads(seen);

  ReplayResult r;
  r.outcome.loads_per_tier.assign(ntiers, 0);
  r.outcome.served.reserve(t.loads);
  // The mover's counters where the last window ended, to take differences.
  WindowStats total;
  auto end_window = [&] {
    const BackendStats st = b.Stats();
    WindowStats now;
    for (size_t i = 0; i < ntiers; ++i) now.pages_per_tier.push_back(b.tier(i).stored_pages());
    now.promotions = st.mover.counter(kPromotions);
    now.demotions = st.mover.counter(kDemotions);
    now.wasted = SumMoves(st).wasted;
    now.residency_skips = st.mover.counter(kResidencySkips);
    now.second_chances = st.mover.counter(kSecondChances);
    now.no_room = st.mover.counter(kNoRoom);
    WindowStats w = now;
    w.promotions -= total.promotions;
    w.demotions -= total.demotions;
    w.wasted -= total.wasted;
    w.residency_skips -= total.residency_skips;
    w.second_chances -= total.second_chances;
    w.no_room -= total.no_room;
    r.windows.push_back(std::move(w));
    total = std::move(now);
  };
  const placement_sim::TraceClock clock{settings().ops_per_sec};
  uint64_t since_maintain = 0;
  uint64_t done = 0;
  for (const SimOp& op : t.ops) {
    switch (op.kind) {
      case SimOpKind::kStore: {
        const Stamp s{op.page, ++version[op.page]};
        std::memcpy(src, &s, sizeof(s));
        if (b.Store(op.type, op.offset, src) != Status::kOk) {
          ++r.outcome.rejected_stores;
          version[op.page] = 0;  // the slot's old page is dropped with a rejected store
        }
        break;
      }
      case SimOpKind::kLoad: {
        const Status st = b.Load(op.type, op.offset, dst);
        if (st != Status::kOk) {
          ++r.outcome.misses;
          break;
        }
        Stamp s;
        std::memcpy(&s, dst, sizeof(s));
        if (s.page != op.page || s.version != version[op.page]) ++r.mismatches;
        read_loads(now);
        int served = -1;
        for (size_t i = 0; i < ntiers; ++i) {
          if (now[i] != seen[i]) {
            if (served >= 0) ++r.ambiguous;
            served = int(i);  // several: the slowest, where the page was before any move
          }
        }
        if (served < 0) {
          ++r.ambiguous;
        } else {
          r.outcome.Serve(size_t(served));
          if (r.outcome.served.size() % settings().window_loads == 0) end_window();
        }
        seen.swap(now);
        break;
      }
      case SimOpKind::kInvalidate:
        b.InvalidatePage(op.type, op.offset);
        version[op.page] = 0;
        break;
    }
    ++done;
    if (++since_maintain == settings().maintain_every) {
      since_maintain = 0;
      if (maintain) {
        // The mover runs when the next operation is due, in trace time.
        r.moved_by_maintain += b.Maintain(clock.At(done));
        ++r.maintain_calls;
        read_loads(seen);
        // A mover that re-ranks the tiers would make the cost model price the wrong tiers.
        std::string message;
        if (CheckRank(b, &message) != Status::kOk) {
          return MakeError(Status::kInvalidArgument,
                           t.name + ", after operation " + std::to_string(done) + ": " + message);
        }
      }
    }
  }
  if (r.outcome.served.size() % settings().window_loads != 0) end_window();
  const BackendStats st = b.Stats();
  if (maintain) {
    const MoverStats& mv = st.mover;
    char m[256];
    std::snprintf(m, sizeof(m),
                  "mover: %" PRIu64 " promotions, %" PRIu64 " demotions, %" PRIu64
                  " no room, %" PRIu64 " residency skips, %" PRIu64 " second chances, %" PRIu64
                  " queue drops",
                  mv.counter(kPromotions), mv.counter(kDemotions), mv.counter(kNoRoom),
                  mv.counter(kResidencySkips), mv.counter(kSecondChances), mv.counter(kQueueDrops));
    r.mover = m;
  }
  const MoveTotals moves = SumMoves(st);
  r.outcome.migrated = moves.moved;
  r.outcome.wasted = moves.wasted;
  r.migrated_bytes = moves.bytes;
  return r;
}

// The replay loop alone, for timing: the same operations, no attribution or checks. Returns
// the seconds spent in Maintain().
double ReplayPlain(Backend& b, const SimTrace& t, bool maintain, unsigned char* src,
                   unsigned char* dst) {
  const placement_sim::TraceClock clock{settings().ops_per_sec};
  double maintain_secs = 0;
  uint64_t since_maintain = 0;
  uint64_t n = 0;
  uint64_t done = 0;
  for (const SimOp& op : t.ops) {
    switch (op.kind) {
      case SimOpKind::kStore:
        std::memcpy(src, &++n, sizeof(n));
        benchmark::DoNotOptimize(b.Store(op.type, op.offset, src));
        break;
      case SimOpKind::kLoad:
        benchmark::DoNotOptimize(b.Load(op.type, op.offset, dst));
        break;
      case SimOpKind::kInvalidate:
        b.InvalidatePage(op.type, op.offset);
        break;
    }
    ++done;
    if (maintain && ++since_maintain == settings().maintain_every) {
      since_maintain = 0;
      const auto t0 = std::chrono::steady_clock::now();
      b.Maintain(clock.At(done));  // trace time, as in the quality replays
      maintain_secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  benchmark::ClobberMemory();
  return maintain_secs;
}

// ---- the table ---------------------------------------------------------------------------------

struct Row {
  std::string trace;
  unsigned ratio = 0;
  std::string policy;
  TierLayout layout;
  PlacementOutcome outcome;
  std::vector<WindowStats> windows;  // the real adaptive replays of the table only
  bool simulated = true;
  double oracle_mean = 0, oracle_p99 = 0;

  double mean() const { return outcome.MeanCost(layout); }
  double p99() const { return outcome.QuantileCost(layout, 0.99); }
  double mean_vs_oracle() const { return oracle_mean > 0 ? mean() / oracle_mean : 0; }
  double p99_vs_oracle() const { return oracle_p99 > 0 ? p99() / oracle_p99 : 0; }
};

struct SweepRow {
  uint64_t min_residency_ms = 0;
  Row row;
};

struct QualityRun {
  std::vector<SimTrace> traces;
  std::vector<Row> rows;
  std::vector<SweepRow> sweep;     // hot-shift 1:4, adaptive, by minimum residency
  std::vector<std::string> notes;  // cross-checks and anomalies, printed under the table
};

const Row* FindRow(const QualityRun& q, const std::string& trace, unsigned ratio,
                   const std::string& policy) {
  for (const Row& r : q.rows) {
    if (r.trace == trace && r.ratio == ratio && r.policy == policy) return &r;
  }
  return nullptr;
}

Result<QualityRun> RunQuality() {
  QualityRun q;
  const Settings& s = settings();
  q.traces.push_back(placement_sim::MakeZipfTrace(s.params));
  q.traces.push_back(placement_sim::MakeScanTrace(s.params));
  q.traces.push_back(placement_sim::MakeShiftTrace(s.params));
  for (const std::string& path : s.trace_files) {
    std::string name = path.substr(path.find_last_of('/') + 1);
    name = name.substr(0, name.find('.'));
    auto t = placement_sim::LoadTraceFile(path, name);
    if (!t) return t.take_error();
    q.traces.push_back(std::move(t).value());
  }
  for (const SimTrace& t : q.traces) {
    for (unsigned ratio : kRatios) {
      const TierLayout l = placement_sim::BenchLayout(t.working_set_pages, ratio);
      std::vector<Row> rows;
      auto add = [&](const std::string& policy, PlacementOutcome o, bool simulated,
                     std::vector<WindowStats> windows = {}) {
        Row r;
        r.trace = t.name;
        r.ratio = ratio;
        r.policy = policy;
        r.layout = l;
        r.outcome = std::move(o);
        r.windows = std::move(windows);
        r.simulated = simulated;
        rows.push_back(std::move(r));
      };
      add("oracle", placement_sim::SimulateOracle(t, l), true);
      add("static (sim)", placement_sim::SimulateStatic(t, l), true);
      add("random", placement_sim::SimulateRandom(t, l, s.random_seed), true);
      for (const char* policy : {"static", "adaptive"}) {
        auto rr = ReplayQuality(t, l, policy, s.placement.min_residency_ms);
        if (!rr) return rr.take_error();
        const ReplayResult& res = rr.value();
        char note[256];
        if (res.mismatches != 0 || res.ambiguous != 0 || res.outcome.misses != 0 ||
            res.outcome.rejected_stores != 0) {
          std::snprintf(note, sizeof(note),
                        "%s 1:%u %s: %" PRIu64 " wrong pages, %" PRIu64
                        " loads not attributed to one tier, %" PRIu64 " misses, %" PRIu64
                        " rejected stores.",
                        t.name.c_str(), ratio, policy, res.mismatches, res.ambiguous,
                        res.outcome.misses, res.outcome.rejected_stores);
          q.notes.push_back(note);
        }
        if (res.migrated_bytes != res.outcome.migrated * kPageSize) {
          std::snprintf(note, sizeof(note),
                        "%s 1:%u %s: migrated_bytes %" PRIu64 " is not 4 KiB x %" PRIu64
                        " pages migrated.",
                        t.name.c_str(), ratio, policy, res.migrated_bytes, res.outcome.migrated);
          q.notes.push_back(note);
        }
        if (std::string(policy) == "adaptive") {
          std::snprintf(note, sizeof(note),
                        "%s 1:%u adaptive: %" PRIu64 " Maintain() calls moved %" PRIu64 " pages; ",
                        t.name.c_str(), ratio, res.maintain_calls, res.moved_by_maintain);
          q.notes.push_back(note + res.mover + ".");
        }
        add(policy, res.outcome, false,
            std::string(policy) == "adaptive" ? res.windows : std::vector<WindowStats>{});
      }
      const Row& oracle = rows[0];
      for (Row& r : rows) {
        r.oracle_mean = oracle.mean();
        r.oracle_p99 = oracle.p99();
      }
      // The engine's static policy and the simulation of its rule must agree load for load.
      const Row& sim = rows[1];
      const Row& real = rows[3];
      if (sim.outcome.loads_per_tier != real.outcome.loads_per_tier) {
        char note[256];
        std::snprintf(note, sizeof(note),
                      "%s 1:%u: static (engine) served %" PRIu64 "/%" PRIu64 "/%" PRIu64
                      " loads from fast/mid/slow, the simulation of its rule %" PRIu64 "/%" PRIu64
                      "/%" PRIu64 ".",
                      t.name.c_str(), ratio, real.outcome.loads_per_tier[0],
                      real.outcome.loads_per_tier[1], real.outcome.loads_per_tier[2],
                      sim.outcome.loads_per_tier[0], sim.outcome.loads_per_tier[1],
                      sim.outcome.loads_per_tier[2]);
        q.notes.push_back(note);
      }
      for (Row& r : rows) q.rows.push_back(std::move(r));
    }
  }
  // How much the minimum residency decides: hot-shift at 1:4 again, adaptive only.
  const Row* oracle = FindRow(q, "hot-shift", 4, "oracle");
  for (const SimTrace& t : q.traces) {
    if (t.name != "hot-shift" || oracle == nullptr) continue;
    for (uint64_t ms : s.residency_sweep) {
      auto rr = ReplayQuality(t, oracle->layout, "adaptive", ms);
      if (!rr) return rr.take_error();
      SweepRow sr{ms, *oracle};
      sr.row.policy = "adaptive";
      sr.row.simulated = false;
      sr.row.outcome = rr.value().outcome;
      q.sweep.push_back(std::move(sr));
    }
  }
  return q;
}

// Mean cost of loads split by tier as `loads_per_tier`.
double MeanCostOf(const std::vector<uint64_t>& loads_per_tier, const TierLayout& l) {
  PlacementOutcome o;
  o.loads_per_tier = loads_per_tier;
  return o.MeanCost(l);
}

// The per-window view of hot-shift at 1:4: the rows it compares and their windows.
struct WindowView {
  const Row* oracle = nullptr;
  const Row* fixed = nullptr;
  const Row* adaptive = nullptr;
  std::vector<std::vector<uint64_t>> oracle_w, fixed_w, adaptive_w;
  std::vector<std::vector<std::vector<uint64_t>>> sweep_w;  // by sweep row
};

WindowView MakeWindowView(const QualityRun& q) {
  WindowView v;
  v.oracle = FindRow(q, "hot-shift", 4, "oracle");
  v.fixed = FindRow(q, "hot-shift", 4, "static");
  v.adaptive = FindRow(q, "hot-shift", 4, "adaptive");
  if (v.oracle == nullptr || v.fixed == nullptr || v.adaptive == nullptr) return WindowView{};
  const uint64_t n = settings().window_loads;
  v.oracle_w = v.oracle->outcome.LoadsPerWindow(n);
  v.fixed_w = v.fixed->outcome.LoadsPerWindow(n);
  v.adaptive_w = v.adaptive->outcome.LoadsPerWindow(n);
  for (const SweepRow& sr : q.sweep) v.sweep_w.push_back(sr.row.outcome.LoadsPerWindow(n));
  return v;
}

void PrintWindows(std::FILE* out, const QualityRun& q) {
  const WindowView v = MakeWindowView(q);
  if (v.adaptive == nullptr) return;
  const TierLayout& l = v.oracle->layout;
  std::fprintf(out,
               "\nhot-shift 1:4 by window of %" PRIu64
               " loads: mean cost; for adaptive, the share of loads each tier served, the pages\n"
               "each tier held at the window's end and the mover's work in the window",
               settings().window_loads);
  if (!q.sweep.empty()) std::fprintf(out, "; then adaptive's mean by min_residency_ms");
  std::fprintf(out, "\n%6s | %6s %6s %8s | %5s %5s %5s | %5s %5s %5s | %6s %6s %6s %8s %7s",
               "window", "oracle", "static", "adaptive", "fast%", "mid%", "slow%", "fast", "mid",
               "slow", "promo", "demo", "wasted", "res.skip", "2nd.ch");
  if (!q.sweep.empty()) std::fprintf(out, " |");
  for (const SweepRow& sr : q.sweep) std::fprintf(out, " %6" PRIu64 "ms", sr.min_residency_ms);
  std::fprintf(out, "\n");
  const size_t nw = v.adaptive_w.size();
  for (size_t i = 0; i < nw; ++i) {
    const auto& a = v.adaptive_w[i];
    uint64_t n = 0;
    for (uint64_t x : a) n += x;
    auto pct = [&](size_t tier) {
      return n == 0 || tier >= a.size() ? 0.0 : 100.0 * double(a[tier]) / double(n);
    };
    const WindowStats ws = i < v.adaptive->windows.size() ? v.adaptive->windows[i] : WindowStats{};
    auto held = [&](size_t tier) {
      return tier < ws.pages_per_tier.size() ? ws.pages_per_tier[tier] : uint64_t{0};
    };
    std::fprintf(out,
                 "%6zu | %6.3f %6.3f %8.3f | %5.1f %5.1f %5.1f | %5" PRIu64 " %5" PRIu64
                 " %5" PRIu64 " | %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64 " %7" PRIu64,
                 i, i < v.oracle_w.size() ? MeanCostOf(v.oracle_w[i], l) : 0.0,
                 i < v.fixed_w.size() ? MeanCostOf(v.fixed_w[i], l) : 0.0, MeanCostOf(a, l), pct(0),
                 pct(1), pct(2), held(0), held(1), held(2), ws.promotions, ws.demotions, ws.wasted,
                 ws.residency_skips, ws.second_chances);
    if (!q.sweep.empty()) std::fprintf(out, " |");
    for (const auto& sw : v.sweep_w) {
      std::fprintf(out, " %8.3f", i < sw.size() ? MeanCostOf(sw[i], l) : 0.0);
    }
    std::fprintf(out, "\n");
  }
}

void WriteWindows(JsonWriter& w, const QualityRun& q) {
  const WindowView v = MakeWindowView(q);
  if (v.adaptive == nullptr) return;
  const TierLayout& l = v.oracle->layout;
  w.Key("windows").BeginObject();
  w.Key("trace").String("hot-shift");
  w.Key("fast_ratio").String("1:4");
  w.Key("window_loads").Uint(settings().window_loads);
  w.Key("rows").BeginArray();
  for (size_t i = 0; i < v.adaptive_w.size(); ++i) {
    w.BeginObject();
    w.Key("window").Uint(i);
    if (i < v.oracle_w.size()) w.Key("oracle_mean_cost").Double(MeanCostOf(v.oracle_w[i], l));
    if (i < v.fixed_w.size()) w.Key("static_mean_cost").Double(MeanCostOf(v.fixed_w[i], l));
    w.Key("adaptive_mean_cost").Double(MeanCostOf(v.adaptive_w[i], l));
    w.Key("adaptive_loads_per_tier").BeginArray();
    for (uint64_t x : v.adaptive_w[i]) w.Uint(x);
    w.EndArray();
    if (i < v.adaptive->windows.size()) {
      const WindowStats& ws = v.adaptive->windows[i];
      w.Key("adaptive_pages_per_tier").BeginArray();
      for (uint64_t x : ws.pages_per_tier) w.Uint(x);
      w.EndArray();
      w.Key("promotions").Uint(ws.promotions);
      w.Key("demotions").Uint(ws.demotions);
      w.Key("wasted_migrations").Uint(ws.wasted);
      w.Key("residency_skips").Uint(ws.residency_skips);
      w.Key("second_chances").Uint(ws.second_chances);
      w.Key("no_room").Uint(ws.no_room);
    }
    w.Key("adaptive_mean_cost_by_min_residency_ms").BeginObject();
    for (size_t k = 0; k < q.sweep.size(); ++k) {
      if (i < v.sweep_w[k].size()) {
        w.Key(std::to_string(q.sweep[k].min_residency_ms)).Double(MeanCostOf(v.sweep_w[k][i], l));
      }
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void PrintQuality(std::FILE* out, const QualityRun& q) {
  std::fprintf(out,
               "\nPlacement quality: load cost in units (fast 1, mid 2, slow 8; 1 unit = %.0f ns)"
               "\n",
               kFastLoadNs);
  for (const SimTrace& t : q.traces) {
    std::fprintf(out,
                 "  trace %-10s working set %" PRIu64 " pages, %" PRIu64 " loads, %" PRIu64
                 " stores (%" PRIu64 " refaults), %" PRIu64 " invalidates\n",
                 t.name.c_str(), t.working_set_pages, t.loads, t.stores, t.restores, t.invalidates);
  }
  std::fprintf(out, "\n%-10s %-5s %-12s | %6s %4s | %8s %8s | %6s | %8s %7s | %7s %7s\n", "trace",
               "fast", "policy", "mean", "p99", "mean ns", "p99 ns", "fast%", "migrated", "wasted",
               "mean/or", "p99/or");
  std::string last;
  for (const Row& r : q.rows) {
    const std::string key = r.trace + std::to_string(r.ratio);
    if (!last.empty() && key != last) std::fprintf(out, "\n");
    last = key;
    std::fprintf(out,
                 "%-10s 1:%-3u %-12s | %6.3f %4.0f | %8.0f %8.0f | %5.1f%% | %8" PRIu64 " %7" PRIu64
                 " | %7.3f %7.3f\n",
                 r.trace.c_str(), r.ratio, r.policy.c_str(), r.mean(), r.p99(),
                 r.mean() * kFastLoadNs, r.p99() * kFastLoadNs, 100.0 * r.outcome.FastFraction(),
                 r.outcome.migrated, r.outcome.wasted, r.mean_vs_oracle(), r.p99_vs_oracle());
  }
  const Row* adaptive = FindRow(q, "hot-shift", 4, "adaptive");
  const Row* fixed = FindRow(q, "hot-shift", 4, "static");
  if (adaptive != nullptr && fixed != nullptr) {
    const double below = 1.0 - adaptive->mean() / fixed->mean();
    std::fprintf(out,
                 "\nhot-shift 1:4: adaptive mean = %.3fx oracle (target <= 1.15: %s), "
                 "%.1f%% below static (target >= 20%%: %s)\n",
                 adaptive->mean_vs_oracle(), adaptive->mean_vs_oracle() <= 1.15 ? "met" : "MISSED",
                 100.0 * below, below >= 0.20 ? "met" : "MISSED");
  }
  if (!q.sweep.empty()) {
    std::fprintf(
        out, "\nhot-shift 1:4, adaptive, by min_residency_ms (replayed at %" PRIu64 " ops/s):\n",
        settings().ops_per_sec);
    std::fprintf(out, "%16s | %6s %4s | %6s | %8s %7s | %7s\n", "min_residency_ms", "mean", "p99",
                 "fast%", "migrated", "wasted", "mean/or");
    for (const SweepRow& sr : q.sweep) {
      const Row& r = sr.row;
      std::fprintf(out,
                   "%16" PRIu64 " | %6.3f %4.0f | %5.1f%% | %8" PRIu64 " %7" PRIu64 " | %7.3f\n",
                   sr.min_residency_ms, r.mean(), r.p99(), 100.0 * r.outcome.FastFraction(),
                   r.outcome.migrated, r.outcome.wasted, r.mean_vs_oracle());
    }
  }
  PrintWindows(out, q);
  if (q.notes.empty()) {
    std::fprintf(out, "notes: none\n");
  } else {
    std::fprintf(out, "notes:\n");
    for (const std::string& n : q.notes) std::fprintf(out, "  %s\n", n.c_str());
  }
  std::fflush(out);
}

void WriteQuality(JsonWriter& w, const QualityRun& q) {
  const Settings& s = settings();
  w.Key("settings").BeginObject();
  w.Key("pages").Uint(s.params.pages);
  w.Key("loads_per_page").Uint(s.params.loads_per_page);
  w.Key("dirty_probability").Double(s.params.dirty_probability);
  w.Key("seed").Uint(s.params.seed);
  w.Key("min_residency_ms").Uint(s.placement.min_residency_ms);
  w.Key("promote_after_loads").Uint(s.placement.promote_after_loads);
  w.Key("high_watermark").Double(s.placement.high_watermark);
  w.Key("low_watermark").Double(s.placement.low_watermark);
  w.Key("maintain_every_ops").Uint(s.maintain_every);
  w.Key("ops_per_sec").Uint(s.ops_per_sec);
  w.Key("shift_background").Double(s.params.shift_background);
  w.Key("unit_ns").Double(kFastLoadNs);
  w.EndObject();
  w.Key("traces").BeginArray();
  for (const SimTrace& t : q.traces) {
    w.BeginObject();
    w.Key("name").String(t.name);
    w.Key("working_set_pages").Uint(t.working_set_pages);
    w.Key("loads").Uint(t.loads);
    w.Key("stores").Uint(t.stores);
    w.Key("refaults").Uint(t.restores);
    w.Key("invalidates").Uint(t.invalidates);
    w.EndObject();
  }
  w.EndArray();
  w.Key("rows").BeginArray();
  for (const Row& r : q.rows) {
    w.BeginObject();
    w.Key("trace").String(r.trace);
    w.Key("fast_ratio").String("1:" + std::to_string(r.ratio));
    w.Key("policy").String(r.policy);
    w.Key("simulated").Bool(r.simulated);
    w.Key("capacity_pages").BeginArray();
    for (uint64_t c : r.layout.capacity_pages) w.Uint(c);
    w.EndArray();
    w.Key("loads_per_tier").BeginArray();
    for (uint64_t c : r.outcome.loads_per_tier) w.Uint(c);
    w.EndArray();
    w.Key("mean_cost").Double(r.mean());
    w.Key("p99_cost").Double(r.p99());
    w.Key("mean_ns").Double(r.mean() * kFastLoadNs);
    w.Key("p99_ns").Double(r.p99() * kFastLoadNs);
    w.Key("fast_fraction").Double(r.outcome.FastFraction());
    w.Key("pages_migrated").Uint(r.outcome.migrated);
    w.Key("wasted_migrations").Uint(r.outcome.wasted);
    w.Key("mean_vs_oracle").Double(r.mean_vs_oracle());
    w.Key("p99_vs_oracle").Double(r.p99_vs_oracle());
    w.EndObject();
  }
  w.EndArray();
  w.Key("residency_sweep").BeginArray();
  for (const SweepRow& sr : q.sweep) {
    w.BeginObject();
    w.Key("trace").String(sr.row.trace);
    w.Key("fast_ratio").String("1:" + std::to_string(sr.row.ratio));
    w.Key("policy").String(sr.row.policy);
    w.Key("min_residency_ms").Uint(sr.min_residency_ms);
    w.Key("mean_cost").Double(sr.row.mean());
    w.Key("p99_cost").Double(sr.row.p99());
    w.Key("fast_fraction").Double(sr.row.outcome.FastFraction());
    w.Key("pages_migrated").Uint(sr.row.outcome.migrated);
    w.Key("wasted_migrations").Uint(sr.row.outcome.wasted);
    w.Key("mean_vs_oracle").Double(sr.row.mean_vs_oracle());
    w.EndObject();
  }
  w.EndArray();
  WriteWindows(w, q);
  w.Key("notes").BeginArray();
  for (const std::string& n : q.notes) w.String(n);
  w.EndArray();
}

// ---- timing ------------------------------------------------------------------------------------

const SimTrace& TimingTrace() {
  static const SimTrace t = placement_sim::MakeShiftTrace(settings().params);
  return t;
}

void BM_PlacementReplay(benchmark::State& state, std::string policy) {
  const SimTrace& t = TimingTrace();
  const TierLayout l = placement_sim::BenchLayout(t.working_set_pages, 4);
  auto page = PageBuffers::Make(2, uint64_t{0xB0B});
  if (!page) {
    state.SkipWithError(page.error().message.c_str());
    return;
  }
  double total_ns = 0, maintain_ns = 0;
  uint64_t ops = 0;
  for (auto _ : state) {
    auto b = OpenBackend(t, l, policy, settings().placement.min_residency_ms);
    if (!b) {
      state.SkipWithError(b.error().message.c_str());
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double in_maintain =
        ReplayPlain(*b.value(), t, policy != "static", page->page(0), page->page(1));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(secs);
    total_ns += secs * 1e9;
    maintain_ns += in_maintain * 1e9;
    ops += t.ops.size();
  }
  state.SetItemsProcessed(int64_t(ops));
  state.counters["ns_per_op"] = ops == 0 ? 0 : total_ns / double(ops);
  // The caller's share (Store, Load, InvalidatePage) and the mover's, per operation.
  state.counters["ops_ns_per_op"] = ops == 0 ? 0 : (total_ns - maintain_ns) / double(ops);
  state.counters["maintain_ns_per_op"] = ops == 0 ? 0 : maintain_ns / double(ops);
}

// ---- main --------------------------------------------------------------------------------------

std::string DefaultTrace() {
  // This file is bench/placement_bench.cc; the demo trace is examples/traces/ beside bench/.
  std::string here = __FILE__;
  const size_t slash = here.find_last_of('/');
  here = slash == std::string::npos ? "." : here.substr(0, slash);
  return here + "/../examples/traces/demo.trace.zst";
}

Result<bool> ParseBool(std::string_view flag, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return MakeError(Status::kInvalidArgument,
                   "--" + std::string(flag) + "=" + v + ": expected true or false.");
}

int Fail(const Error& e) {
  std::fprintf(stderr, "placement_bench: %s\n", e.message.c_str());
  return 1;
}

int Main(int argc, char** argv) {
#ifndef NDEBUG
  std::fprintf(stderr,
               "\n*** WARNING: placement_bench was built without NDEBUG (a Debug build): the ***\n"
               "*** replay timing is not representative (the quality table is).           ***\n\n");
#endif
  Settings& s = settings();
  const auto json = TakeFlag(&argc, argv, "json");
  if (auto v = TakeFlag(&argc, argv, "pages")) {
    auto n = ParsePositive("pages", *v);
    if (!n || *n > (1u << 26) || *n < 64) {
      std::fprintf(stderr, "placement_bench: --pages=%s: expected 64 to 67108864.\n", v->c_str());
      return 1;
    }
    s.params.pages = uint32_t(*n);
  }
  if (auto v = TakeFlag(&argc, argv, "loads_per_page")) {
    auto n = ParsePositive("loads_per_page", *v);
    if (!n || *n > 1024) {
      std::fprintf(stderr, "placement_bench: --loads_per_page=%s: expected 1 to 1024.\n",
                   v->c_str());
      return 1;
    }
    s.params.loads_per_page = uint32_t(*n);
  }
  if (auto v = TakeFlag(&argc, argv, "dirty")) {
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || !(d >= 0 && d <= 1)) {
      std::fprintf(stderr, "placement_bench: --dirty=%s: expected a probability, 0 to 1.\n",
                   v->c_str());
      return 1;
    }
    s.params.dirty_probability = d;
  }
  if (auto v = TakeFlag(&argc, argv, "seed")) {
    auto n = ParsePositive("seed", *v);
    if (!n) return Fail(n.error());
    s.params.seed = *n;
  }
  if (auto v = TakeFlag(&argc, argv, "ops_per_sec")) {
    auto n = ParsePositive("ops_per_sec", *v);
    if (!n) return Fail(n.error());
    s.ops_per_sec = *n;
  }
  if (auto v = TakeFlag(&argc, argv, "shift_background")) {
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || !(d >= 0 && d <= 1)) {
      std::fprintf(stderr, "placement_bench: --shift_background=%s: expected a share, 0 to 1.\n",
                   v->c_str());
      return 1;
    }
    s.params.shift_background = d;
  }
  if (auto v = TakeFlag(&argc, argv, "min_residency_ms")) {
    if (*v == "0") {
      s.placement.min_residency_ms = 0;
    } else {
      auto n = ParsePositive("min_residency_ms", *v);
      if (!n) return Fail(n.error());
      s.placement.min_residency_ms = *n;
    }
  }
  if (auto v = TakeFlag(&argc, argv, "promote_after_loads")) {
    auto n = ParsePositive("promote_after_loads", *v);
    if (!n || *n > 3) {
      std::fprintf(stderr,
                   "placement_bench: --promote_after_loads=%s: expected 1 to 3 (the load count "
                   "saturates at 3).\n",
                   v->c_str());
      return 1;
    }
    s.placement.promote_after_loads = uint32_t(*n);
  }
  if (auto v = TakeFlag(&argc, argv, "watermarks")) {
    // HIGH,LOW as fractions of a tier's capacity, as in [placement].
    const size_t comma = v->find(',');
    char* end_high = nullptr;
    char* end_low = nullptr;
    const std::string high_text = v->substr(0, comma);
    const std::string low_text = comma == std::string::npos ? "" : v->substr(comma + 1);
    const double high = std::strtod(high_text.c_str(), &end_high);
    const double low = std::strtod(low_text.c_str(), &end_low);
    if (high_text.empty() || low_text.empty() || *end_high != '\0' || *end_low != '\0' ||
        !(high > 0 && high <= 1) || !(low >= 0 && low < high)) {
      std::fprintf(stderr,
                   "placement_bench: --watermarks=%s: expected HIGH,LOW with 0 <= LOW < HIGH <= "
                   "1.\n",
                   v->c_str());
      return 1;
    }
    s.placement.high_watermark = high;
    s.placement.low_watermark = low;
  }
  if (auto v = TakeFlag(&argc, argv, "window_loads")) {
    auto n = ParsePositive("window_loads", *v);
    if (!n) return Fail(n.error());
    s.window_loads = *n;
  }
  if (auto v = TakeFlag(&argc, argv, "residency_sweep")) {
    s.residency_sweep.clear();
    size_t start = 0;
    while (start < v->size()) {
      const size_t comma = std::min(v->find(',', start), v->size());
      const std::string item = v->substr(start, comma - start);
      if (item == "0") {
        s.residency_sweep.push_back(0);
      } else if (!item.empty()) {
        auto n = ParsePositive("residency_sweep", item);
        if (!n) return Fail(n.error());
        s.residency_sweep.push_back(*n);
      }
      start = comma + 1;
    }
  }
  s.trace_files = {DefaultTrace()};
  if (auto v = TakeFlag(&argc, argv, "traces")) {
    s.trace_files.clear();
    size_t start = 0;
    while (start < v->size()) {
      const size_t comma = std::min(v->find(',', start), v->size());
      if (comma > start) s.trace_files.push_back(v->substr(start, comma - start));
      start = comma + 1;
    }
  }
  bool timing = true, quality = true;
  if (auto v = TakeFlag(&argc, argv, "timing")) {
    auto b = ParseBool("timing", *v);
    if (!b) return Fail(b.error());
    timing = *b;
  }
  if (auto v = TakeFlag(&argc, argv, "quality")) {
    auto b = ParseBool("quality", *v);
    if (!b) return Fail(b.error());
    quality = *b;
  }

  std::unique_ptr<benchmark::BenchmarkReporter> display = MakeDisplayReporter(argc, argv);
  const bool console = PeekFlag(argc, argv, "benchmark_format").value_or("console") != "json";
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::FILE* out = console ? stdout : stderr;

  JsonWriter w(/*pretty=*/true);
  w.BeginObject();
  if (quality) {
    auto q = RunQuality();
    if (!q) return Fail(q.error());
    PrintQuality(out, q.value());
    WriteQuality(w, q.value());
  }
  if (timing) {
    for (const char* policy : {"static", "adaptive"}) {
      benchmark::RegisterBenchmark((std::string("BM_PlacementReplay/") + policy).c_str(),
                                   BM_PlacementReplay, std::string(policy))
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::AddCustomContext("tierswap_build",
#ifdef NDEBUG
                                "release (NDEBUG)"
#else
                                "DEBUG: not representative"
#endif
    );
    benchmark::AddCustomContext(
        "replay_trace",
        "hot-shift at 1:4, " + std::to_string(TimingTrace().ops.size()) + " operations per replay");
    std::fflush(out);
    RatioReporter reporter(std::move(display));
    benchmark::RunSpecifiedBenchmarks(&reporter);
    auto get = [&](const char* policy, const char* counter) {
      return reporter.Get(std::string("BM_PlacementReplay/") + policy, 1, counter);
    };
    const auto fixed = get("static", "ns_per_op");
    const auto adaptive = get("adaptive", "ns_per_op");
    const auto fixed_ops = get("static", "ops_ns_per_op");
    const auto adaptive_ops = get("adaptive", "ops_ns_per_op");
    const auto adaptive_maintain = get("adaptive", "maintain_ns_per_op");
    if (fixed && adaptive && fixed_ops && adaptive_ops && adaptive_maintain) {
      std::fprintf(out,
                   "\nreplay time per operation (hot-shift, 1:4, full speed):\n"
                   "  static    %8.1f ns\n"
                   "  adaptive  %8.1f ns = %.1f ns in Store/Load/InvalidatePage + %.1f ns in "
                   "Maintain() (every %u ops)\n"
                   "  ratio adaptive/static: %.3f overall, %.3f for Store/Load/InvalidatePage "
                   "alone\n",
                   *fixed, *adaptive, *adaptive_ops, *adaptive_maintain, s.maintain_every,
                   *adaptive / *fixed, *adaptive_ops / *fixed_ops);
      w.Key("replay_ns_per_op").BeginObject();
      w.Key("static").Double(*fixed);
      w.Key("adaptive").Double(*adaptive);
      w.Key("adaptive_ops_only").Double(*adaptive_ops);
      w.Key("adaptive_maintain").Double(*adaptive_maintain);
      w.Key("ratio").Double(*adaptive / *fixed);
      w.Key("ratio_ops_only").Double(*adaptive_ops / *fixed_ops);
      w.EndObject();
    }
  }
  w.EndObject();
  if (json) {
    std::ofstream f(*json);
    f << w.str() << "\n";
    if (!f) {
      std::fprintf(stderr, "placement_bench: cannot write --json=%s.\n", json->c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace tierswap::bench

int main(int argc, char** argv) { return tierswap::bench::Main(argc, argv); }
