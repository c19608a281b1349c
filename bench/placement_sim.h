// Placement-quality simulation: swap traces with known reuse, and the reference placements the
// placement benchmark (bench/placement_bench.cc) measures the real policies against.
//
// A trace here is a list of store / load / invalidate operations on pages, each page named by a
// dense id (for the simulators) and by its (type, offset) slot (for a real Backend). Swap
// semantics: a page is stored (swapped out) before it is loaded; a load swaps it in and leaves
// the copy (non-exclusive); a page dirtied after its load is stored again before its next load
// (a refault). Three synthetic traces come from deterministic seeds: a zipfian hot set, a hot set
// with a long scan passing through once, and a hot set that moves to disjoint pages half way.
// LoadTraceFile turns a v1 trace file (docs/trace-format.md) into the same form. TraceClock
// gives each operation its time in a replay at a nominal rate (trace time), which the benchmark
// passes to Backend::Maintain so that the engine's time-based rules are deterministic.
//
// The simulators place pages on tiers of given capacities and count which tier serves each
// load; a cost model (1, 2 and 8 units for three tiers) turns that into load cost:
//   - Oracle: knows each page's next load. After every load the page moves to the fastest tier
//     and each tier that overflows demotes its page with the farthest next load to the next tier,
//     cascading; stores enter the same way. The pages in the fastest k tiers are then exactly
//     what Belady's MIN (with bypass) keeps in a cache of their total size, for every k at once,
//     so no policy that moves a page up only when it is stored or loaded pays less.
//   - Static: a store goes to the first tier with room, and pages never move: the rule the
//     Backend follows with no placement policy, duplicate stores included (a new version of a
//     page on the fastest tier replaces it in place; otherwise the new copy is placed while the
//     old one is still held, then the old one is freed).
//   - Random: a store goes to a tier chosen at random among those with room; pages never move.
//
// Random numbers come from splitmix64 with the sampling written out here (not <random>'s
// distributions, whose output differs between standard libraries), so a seed gives the same
// trace everywhere.
//
// Thread-safety: free functions over values; nothing is shared.
#ifndef TIERSWAP_BENCH_PLACEMENT_SIM_H_
#define TIERSWAP_BENCH_PLACEMENT_SIM_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "frontend/trace_reader.h"
#include "tiers/result.h"

namespace tierswap::placement_sim {

// ---- traces ------------------------------------------------------------------------------------

enum class SimOpKind : uint8_t { kStore, kLoad, kInvalidate };

struct SimOp {
  SimOpKind kind = SimOpKind::kLoad;
  uint8_t type = 0;     // swap type of the slot (0 in synthetic traces)
  uint32_t page = 0;    // dense page id, below SimTrace::pages
  uint64_t offset = 0;  // slot within `type`
};

struct SimTrace {
  std::string name;
  std::vector<SimOp> ops;
  uint32_t pages = 0;              // distinct slots; every SimOp::page is below this
  uint64_t working_set_pages = 0;  // the most pages held at one time
  uint64_t loads = 0;
  uint64_t stores = 0;
  uint64_t restores = 0;  // stores to a slot that held a page (refaults)
  uint64_t invalidates = 0;
  std::vector<unsigned> types;  // swap types the trace stores to, ascending
};

// splitmix64 with explicit sampling, identical on every platform.
class SimRng {
 public:
  explicit SimRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n) for n > 0 (multiply-shift; the bias is below 2^-32 for any n here).
  uint64_t Below(uint64_t n) {
    return uint64_t((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // A uniformly random permutation of 0 .. n-1 (Fisher-Yates).
  std::vector<uint32_t> Permutation(uint32_t n) {
    std::vector<uint32_t> p(n);
    for (uint32_t i = 0; i < n; ++i) p[i] = i;
    for (uint32_t i = n; i > 1; --i) std::swap(p[i - 1], p[Below(i)]);
    return p;
  }

 private:
  uint64_t state_;
};

// Zipfian ranks over [0, n): rank r is drawn with probability proportional to 1 / (r+1)^theta
// (Gray et al., "Quickly generating billion-record synthetic databases", as YCSB does it).
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double theta) : n_(n) {
    double zetan = 0;
    for (uint64_t i = 1; i <= n; ++i) zetan += 1.0 / std::pow(double(i), theta);
    zetan_ = zetan;
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / double(n), 1.0 - theta)) / (1.0 - zeta2 / zetan);
    half_pow_theta_ = 1.0 + std::pow(0.5, theta);
  }
  uint64_t Sample(SimRng& rng) const {
    const double u = rng.Uniform();
    const double uz = u * zetan_;
    if (uz < 1.0 || n_ == 1) return 0;
    if (uz < half_pow_theta_) return 1;
    const uint64_t r = uint64_t(double(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return std::min(r, n_ - 1);
  }

 private:
  uint64_t n_;
  double zetan_ = 0, alpha_ = 0, eta_ = 0, half_pow_theta_ = 0;
};

struct TraceParams {
  uint32_t pages = 16384;          // W: the working set, every page stored once at the start
  uint32_t loads_per_page = 16;    // zipf and shift traces make W * loads_per_page loads
  double dirty_probability = 0.1;  // a load is followed by a store of the page before the next
  double shift_background = 0.05;  // shift trace: the share of loads spread over all W pages
  uint64_t seed = 1;
};

// Builds a swap trace from the order in which pages are loaded: every page is stored first (in
// a random order, so that no placement learns anything from the store order), then the loads;
// each load is, with the dirty probability, followed by a store of the same page at a random
// point before the page's next load (or before the end of the trace).
inline SimTrace MakeSwapTrace(std::string name, uint32_t pages,
                              const std::vector<uint32_t>& load_order, double dirty_probability,
                              SimRng& rng) {
  SimTrace t;
  t.name = std::move(name);
  t.pages = pages;
  t.working_set_pages = pages;
  t.types = {0};
  const size_t n = load_order.size();
  // The next position at which each load's page is loaded again (n: never).
  std::vector<size_t> next(n, n);
  {
    std::vector<size_t> seen(pages, n);
    for (size_t i = n; i-- > 0;) {
      next[i] = seen[load_order[i]];
      seen[load_order[i]] = i;
    }
  }
  // restore_after[k]: pages stored again right after load k.
  std::vector<std::pair<size_t, uint32_t>> restores;
  for (size_t i = 0; i < n; ++i) {
    if (rng.Uniform() >= dirty_probability) continue;
    const size_t span = next[i] - i;  // positions i .. next[i]-1 are before the next load
    restores.emplace_back(i + rng.Below(span), load_order[i]);
  }
  std::stable_sort(restores.begin(), restores.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  t.ops.reserve(pages + n + restores.size());
  for (uint32_t p : rng.Permutation(pages)) {
    t.ops.push_back(SimOp{SimOpKind::kStore, 0, p, p});
  }
  t.stores = pages;
  size_t r = 0;
  for (size_t i = 0; i < n; ++i) {
    t.ops.push_back(SimOp{SimOpKind::kLoad, 0, load_order[i], load_order[i]});
    for (; r < restores.size() && restores[r].first == i; ++r) {
      t.ops.push_back(SimOp{SimOpKind::kStore, 0, restores[r].second, restores[r].second});
      ++t.stores;
      ++t.restores;
    }
  }
  t.loads = n;
  return t;
}

// Zipfian reuse (theta 0.99) over all W pages; ranks are given to pages in a random order.
inline SimTrace MakeZipfTrace(const TraceParams& p, double theta = 0.99) {
  SimRng rng(p.seed * 0x100000001B3ull + 1);
  const ZipfSampler zipf(p.pages, theta);
  const std::vector<uint32_t> page_of_rank = rng.Permutation(p.pages);
  std::vector<uint32_t> order(uint64_t(p.pages) * p.loads_per_page);
  for (auto& x : order) x = page_of_rank[zipf.Sample(rng)];
  return MakeSwapTrace("zipf", p.pages, order, p.dirty_probability, rng);
}

// A hot set of W/16 pages, loaded uniformly, while a sequential scan passes once through the
// other pages: W hot loads, then the scan interleaved one to one with hot loads, then W hot
// loads. A policy that promotes whatever was just loaded fills its fast tier with scan pages
// that are never loaded again.
inline SimTrace MakeScanTrace(const TraceParams& p) {
  SimRng rng(p.seed * 0x100000001B3ull + 2);
  const uint32_t hot = std::max<uint32_t>(1, p.pages / 16);
  const std::vector<uint32_t> perm = rng.Permutation(p.pages);
  // perm[0 .. hot) are the hot pages; the scan visits the others in offset order.
  std::vector<uint32_t> scan(perm.begin() + hot, perm.end());
  std::sort(scan.begin(), scan.end());
  std::vector<uint32_t> order;
  order.reserve(2 * uint64_t(p.pages) + 2 * scan.size());
  auto hot_load = [&] { order.push_back(perm[rng.Below(hot)]); };
  for (uint32_t i = 0; i < p.pages; ++i) hot_load();
  for (uint32_t s : scan) {
    order.push_back(s);
    hot_load();
  }
  for (uint32_t i = 0; i < p.pages; ++i) hot_load();
  return MakeSwapTrace("scan+hot", p.pages, order, p.dirty_probability, rng);
}

// A hot set of W/8 pages takes 95% of the loads (uniformly within it; the other 5%, the
// background, are uniform over all W pages) for the first half of the trace; for the second
// half a disjoint hot set of the same size does. The test of a policy's reaction: demote the old
// set, promote the new. The background is kept small because no online policy can predict it
// while the oracle knows it exactly: it widens the gap to the oracle without saying anything
// about the reaction to the shift (docs/benchmarks.md works the bound out).
inline SimTrace MakeShiftTrace(const TraceParams& p) {
  SimRng rng(p.seed * 0x100000001B3ull + 3);
  const uint32_t hot = std::max<uint32_t>(1, p.pages / 8);
  const std::vector<uint32_t> perm = rng.Permutation(p.pages);
  // Set A is perm[0 .. hot), set B perm[hot .. 2*hot).
  const uint64_t n = uint64_t(p.pages) * p.loads_per_page;
  std::vector<uint32_t> order(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t base = i < n / 2 ? 0 : std::min(hot, p.pages - hot);
    order[i] = rng.Uniform() >= p.shift_background ? perm[base + rng.Below(hot)]
                                                   : uint32_t(rng.Below(p.pages));
  }
  return MakeSwapTrace("hot-shift", p.pages, order, p.dirty_probability, rng);
}

// Reads a v1 trace file (plain or zstd) into a SimTrace named `name`. Operations the backend
// would refuse or answer with a miss are left out, since they cannot be placed: stores and
// loads of a type that is not initialised or of an offset beyond its nr_pages, and loads of
// slots that hold no page. invalidate_area, and an init of a type that still holds pages,
// become an invalidate of each held page of that type (in offset order). Page contents (@k)
// are ignored: the benchmark stores pages of its own that are never same-filled, so every
// stored page occupies a tier.
inline Result<SimTrace> LoadTraceFile(const std::string& path, std::string name) {
  auto reader = TraceReader::Open(path);
  if (!reader) return reader.take_error();
  SimTrace t;
  t.name = std::move(name);
  struct TypeState {
    bool initialized = false;
    uint64_t nr_pages = 0;
    std::set<uint64_t> held;  // offsets
  };
  std::map<unsigned, TypeState> types;
  std::unordered_map<uint64_t, uint32_t> ids;  // (type << 32 | offset) -> page id
  std::set<unsigned> stored_types;
  uint64_t held_now = 0;
  auto id_of = [&](unsigned type, uint64_t offset) {
    const uint64_t key = (uint64_t{type} << 32) | offset;
    auto [it, fresh] = ids.emplace(key, t.pages);
    if (fresh) ++t.pages;
    return it->second;
  };
  auto drop_all = [&](unsigned type, TypeState& ts) {
    for (uint64_t off : ts.held) {
      t.ops.push_back(SimOp{SimOpKind::kInvalidate, uint8_t(type), id_of(type, off), off});
      ++t.invalidates;
    }
    held_now -= ts.held.size();
    ts.held.clear();
  };
  auto in_range = [](const TypeState& ts, uint64_t offset) {
    return ts.initialized && offset < kTraceMaxPagesPerType &&
           (ts.nr_pages == 0 || offset < ts.nr_pages);
  };
  TraceOp op;
  for (;;) {
    auto more = reader.value()->Next(&op);
    if (!more) return more.take_error();
    if (!more.value()) break;
    TypeState& ts = types[op.type];
    switch (op.kind) {
      case TraceOpKind::kInit:
        drop_all(op.type, ts);
        ts.initialized = true;
        ts.nr_pages = op.nr_pages;
        break;
      case TraceOpKind::kInvalidateArea:
        drop_all(op.type, ts);
        ts.initialized = false;
        break;
      case TraceOpKind::kStore:
        if (!in_range(ts, op.offset)) break;
        t.ops.push_back(
            SimOp{SimOpKind::kStore, uint8_t(op.type), id_of(op.type, op.offset), op.offset});
        ++t.stores;
        if (ts.held.insert(op.offset).second) {
          ++held_now;
          t.working_set_pages = std::max(t.working_set_pages, held_now);
        } else {
          ++t.restores;
        }
        stored_types.insert(op.type);
        break;
      case TraceOpKind::kLoad:
        if (!in_range(ts, op.offset) || ts.held.count(op.offset) == 0) break;
        t.ops.push_back(
            SimOp{SimOpKind::kLoad, uint8_t(op.type), id_of(op.type, op.offset), op.offset});
        ++t.loads;
        break;
      case TraceOpKind::kInvalidatePage:
        if (!in_range(ts, op.offset) || ts.held.erase(op.offset) == 0) break;
        t.ops.push_back(
            SimOp{SimOpKind::kInvalidate, uint8_t(op.type), id_of(op.type, op.offset), op.offset});
        ++t.invalidates;
        --held_now;
        break;
    }
  }
  t.types.assign(stored_types.begin(), stored_types.end());
  return t;
}

// ---- trace time --------------------------------------------------------------------------------

// The clock of a replay: operation i of a trace happens at start_ns + i * 1e9 / ops_per_sec
// nanoseconds (rounded down), whatever the replay's own speed, so the engine's time-based rules
// (the minimum residency) see the same times in every run. start_ns is 1 s rather than 0 so
// that no time the engine sees is its "never" value.
struct TraceClock {
  uint64_t ops_per_sec = 100000;  // > 0
  uint64_t start_ns = 1'000'000'000;

  uint64_t At(uint64_t op) const {
    return start_ns + uint64_t(static_cast<unsigned __int128>(op) * 1'000'000'000u / ops_per_sec);
  }
};

// ---- tiers and outcomes ------------------------------------------------------------------------

// The tier set of one run: capacities in pages, fastest first, and the cost of a load from each
// tier in units of a load from the fastest.
struct TierLayout {
  std::vector<uint64_t> capacity_pages;
  std::vector<double> unit_cost;
};

// The benchmark's three tiers for a working set of `ws` pages at fast:working-set 1:`ratio`:
// fast = ws/ratio, mid = ws/2, slow = the rest plus headroom (ws/16, at least 64 pages) so that
// every page fits and a duplicate store always finds a frame. Costs 1, 2 and 8.
inline TierLayout BenchLayout(uint64_t ws, unsigned ratio) {
  TierLayout l;
  const uint64_t fast = std::max<uint64_t>(1, ws / ratio);
  const uint64_t mid = ws / 2;
  const uint64_t headroom = std::max<uint64_t>(64, ws / 16);
  const uint64_t rest = ws > fast + mid ? ws - fast - mid : 0;
  l.capacity_pages = {fast, mid, rest + headroom};
  l.unit_cost = {1.0, 2.0, 8.0};
  return l;
}

// What one placement did over a trace.
struct PlacementOutcome {
  std::vector<uint64_t> loads_per_tier;  // loads served by each tier
  std::vector<uint8_t> served;           // the tier that served each load, in trace order
  uint64_t migrated = 0;                 // pages moved between tiers (one per page copy)
  uint64_t wasted = 0;                   // moves that took a page back before it was loaded again
  uint64_t misses = 0;                   // loads of pages not held (a simulator or trace bug)
  uint64_t rejected_stores = 0;          // stores no tier had room for

  // Records a load served by `tier` (below loads_per_tier.size(), at most 255).
  void Serve(size_t tier) {
    ++loads_per_tier[tier];
    served.push_back(uint8_t(tier));
  }
  // Loads served by each tier in consecutive windows of `window` loads (> 0), in trace order;
  // the last window holds what is left and may be shorter.
  std::vector<std::vector<uint64_t>> LoadsPerWindow(uint64_t window) const {
    std::vector<std::vector<uint64_t>> w;
    for (uint64_t i = 0; i < served.size(); ++i) {
      if (i % window == 0) w.emplace_back(loads_per_tier.size(), 0);
      ++w.back()[served[i]];
    }
    return w;
  }

  uint64_t loads() const {
    uint64_t n = 0;
    for (uint64_t x : loads_per_tier) n += x;
    return n;
  }
  double FastFraction() const {
    const uint64_t n = loads();
    return n == 0 || loads_per_tier.empty() ? 0.0 : double(loads_per_tier[0]) / double(n);
  }
  // Mean cost of a load, in the layout's units.
  double MeanCost(const TierLayout& l) const {
    const uint64_t n = loads();
    if (n == 0) return 0.0;
    double sum = 0;
    for (size_t i = 0; i < loads_per_tier.size(); ++i) {
      sum += double(loads_per_tier[i]) * l.unit_cost[i];
    }
    return sum / double(n);
  }
  // The q-quantile of load cost (q in [0, 1)): the cost below which a fraction q of loads lie,
  // by the same rank rule as the latency histograms (rank = floor(q * loads)).
  double QuantileCost(const TierLayout& l, double q) const {
    const uint64_t n = loads();
    if (n == 0) return 0.0;
    std::vector<size_t> by_cost(loads_per_tier.size());
    for (size_t i = 0; i < by_cost.size(); ++i) by_cost[i] = i;
    std::stable_sort(by_cost.begin(), by_cost.end(),
                     [&](size_t a, size_t b) { return l.unit_cost[a] < l.unit_cost[b]; });
    const uint64_t rank = std::min<uint64_t>(n - 1, uint64_t(q * double(n)));
    uint64_t seen = 0;
    for (size_t i : by_cost) {
      seen += loads_per_tier[i];
      if (seen > rank) return l.unit_cost[i];
    }
    return l.unit_cost[by_cost.back()];
  }
};

// ---- simulators --------------------------------------------------------------------------------

namespace internal {

// Pages on tiers without movement: the state Static and Random share.
class FixedPlacement {
 public:
  FixedPlacement(const SimTrace& t, const TierLayout& l)
      : tier_of_(t.pages, kNotHeld), used_(l.capacity_pages.size(), 0) {
    out_.loads_per_tier.assign(l.capacity_pages.size(), 0);
  }

  // Replays `t`, placing each stored page on the tier `choose` returns (or -1 for none).
  template <typename Choose>
  PlacementOutcome Run(const SimTrace& t, Choose choose) {
    for (const SimOp& op : t.ops) {
      int8_t& at = tier_of_[op.page];
      switch (op.kind) {
        case SimOpKind::kLoad:
          if (at == kNotHeld) {
            ++out_.misses;
          } else {
            out_.Serve(size_t(at));
          }
          break;
        case SimOpKind::kInvalidate:
          Free(&at);
          break;
        case SimOpKind::kStore: {
          // A new version of a page on the fastest tier replaces it in place.
          if (at == 0 && choose.overwrites_fastest_in_place) break;
          // Otherwise the new copy is placed while the old one is still held ...
          int tier = choose(used_);
          if (tier < 0 && at != kNotHeld) {
            // ... and if nothing has room, the old copy is dropped and placement tried again.
            Free(&at);
            tier = choose(used_);
          }
          Free(&at);
          if (tier < 0) {
            ++out_.rejected_stores;
          } else {
            ++used_[size_t(tier)];
            at = int8_t(tier);
          }
          break;
        }
      }
    }
    return out_;
  }

 private:
  static constexpr int8_t kNotHeld = -1;
  void Free(int8_t* at) {
    if (*at != kNotHeld) --used_[size_t(*at)];
    *at = kNotHeld;
  }

  std::vector<int8_t> tier_of_;
  std::vector<uint64_t> used_;
  PlacementOutcome out_;
};

}  // namespace internal

// Static: the first tier with room; no migration.
inline PlacementOutcome SimulateStatic(const SimTrace& t, const TierLayout& l) {
  struct FirstWithRoom {
    const TierLayout& l;
    bool overwrites_fastest_in_place = true;
    int operator()(const std::vector<uint64_t>& used) const {
      for (size_t i = 0; i < used.size(); ++i) {
        if (used[i] < l.capacity_pages[i]) return int(i);
      }
      return -1;
    }
  };
  return internal::FixedPlacement(t, l).Run(t, FirstWithRoom{l});
}

// Random: a tier chosen uniformly among those with room, for every store; no migration.
inline PlacementOutcome SimulateRandom(const SimTrace& t, const TierLayout& l, uint64_t seed) {
  struct RandomWithRoom {
    const TierLayout& l;
    SimRng* rng;
    bool overwrites_fastest_in_place = false;
    int operator()(const std::vector<uint64_t>& used) const {
      int candidates[64];
      int n = 0;
      for (size_t i = 0; i < used.size() && i < 64; ++i) {
        if (used[i] < l.capacity_pages[i]) candidates[n++] = int(i);
      }
      return n == 0 ? -1 : candidates[rng->Below(uint64_t(n))];
    }
  };
  SimRng rng(seed);
  return internal::FixedPlacement(t, l).Run(t, RandomWithRoom{l, &rng});
}

// For each operation, the position of the next operation on the same page if that is a load;
// kNoLoad when the page is stored again, invalidated or never touched before its next load,
// since this copy of the page will then never be loaded.
inline constexpr uint64_t kNoLoad = std::numeric_limits<uint64_t>::max();
inline std::vector<uint64_t> NextLoads(const SimTrace& t) {
  std::vector<uint64_t> next(t.ops.size(), kNoLoad);
  std::vector<uint64_t> next_op(t.pages, kNoLoad);
  for (size_t i = t.ops.size(); i-- > 0;) {
    const uint32_t p = t.ops[i].page;
    const uint64_t j = next_op[p];
    next[i] = (j != kNoLoad && t.ops[j].kind == SimOpKind::kLoad) ? j : kNoLoad;
    next_op[p] = i;
  }
  return next;
}

// Oracle: Belady's MIN over the tier hierarchy (see the file comment). A migration counts once
// per page copy, however many tiers the page crosses; a move is wasted when it reverses the
// page's previous move and the page was not loaded in between.
//
// Pages that will not be loaded again ("dead": kNoLoad) are where MIN's ties are: they are the
// first to be demoted (the most recently touched first), a dead page that is loaded stays where
// it is, and a dead page that is stored lands on the fastest tier with room without displacing
// anyone. None of this changes a load's cost; it keeps the oracle from counting migrations that
// no sensible placement would make.
inline PlacementOutcome SimulateOracle(const SimTrace& t, const TierLayout& l) {
  const size_t ntiers = l.capacity_pages.size();
  const std::vector<uint64_t> next = NextLoads(t);
  PlacementOutcome out;
  out.loads_per_tier.assign(ntiers, 0);
  // Each tier orders its pages by next load, then by when they were last touched (a sequence
  // number): the last element is the one to demote.
  struct Key {
    uint64_t next_load;
    uint64_t seq;
    uint32_t page;
    bool operator<(const Key& o) const {
      return next_load != o.next_load ? next_load < o.next_load : seq < o.seq;
    }
  };
  std::vector<std::set<Key>> tiers(ntiers);
  constexpr int8_t kNotHeld = -1;
  std::vector<int8_t> tier_of(t.pages, kNotHeld);
  std::vector<Key> key_of(t.pages, Key{kNoLoad, 0, 0});
  std::vector<int8_t> last_move(t.pages, 0);  // +1 promoted, -1 demoted, 0 none since stored
  std::vector<uint8_t> loaded_since_move(t.pages, 0);
  std::vector<std::pair<uint32_t, int8_t>> touched;  // pages moved by one cascade: original tier
  uint64_t seq = 0;

  auto remove = [&](uint32_t p) {
    if (tier_of[p] == kNotHeld) return;
    tiers[size_t(tier_of[p])].erase(key_of[p]);
    tier_of[p] = kNotHeld;
  };
  auto record_move = [&](uint32_t p, int8_t from, int8_t to) {
    if (from == kNotHeld || to == from) return;
    const int8_t dir = to < from ? 1 : -1;
    if (last_move[p] == -dir && !loaded_since_move[p]) ++out.wasted;
    last_move[p] = dir;
    loaded_since_move[p] = 0;
    ++out.migrated;
  };
  // Puts page p (not held) on the fastest tier and lets each overflowing tier demote its page
  // with the farthest next load. `from` is the tier p was on before (kNotHeld for a store).
  auto insert_top = [&](uint32_t p, uint64_t next_load, int8_t from) {
    touched.clear();
    touched.emplace_back(p, from);
    Key cur{next_load, ++seq, p};
    for (size_t i = 0;; ++i) {
      if (i == ntiers) {  // nothing had room: the page with the farthest next load is refused
        tier_of[cur.page] = kNotHeld;
        ++out.rejected_stores;
        break;
      }
      tiers[i].insert(cur);
      key_of[cur.page] = cur;
      tier_of[cur.page] = int8_t(i);
      if (tiers[i].size() <= l.capacity_pages[i]) break;
      auto last = std::prev(tiers[i].end());
      cur = *last;
      tiers[i].erase(last);
      if (std::none_of(touched.begin(), touched.end(),
                       [&](const auto& x) { return x.first == cur.page; })) {
        touched.emplace_back(cur.page, int8_t(i));
      }
    }
    for (const auto& [q, orig] : touched) {
      if (tier_of[q] != kNotHeld) record_move(q, orig, tier_of[q]);
    }
  };

  for (size_t i = 0; i < t.ops.size(); ++i) {
    const SimOp& op = t.ops[i];
    const uint32_t p = op.page;
    switch (op.kind) {
      case SimOpKind::kLoad: {
        const int8_t at = tier_of[p];
        if (at == kNotHeld) {
          ++out.misses;
          break;
        }
        out.Serve(size_t(at));
        loaded_since_move[p] = 1;
        remove(p);
        if (next[i] == kNoLoad) {  // dead from now on: stays where it is
          key_of[p] = Key{kNoLoad, ++seq, p};
          tiers[size_t(at)].insert(key_of[p]);
          tier_of[p] = at;
        } else {
          insert_top(p, next[i], at);
        }
        break;
      }
      case SimOpKind::kInvalidate:
        remove(p);
        last_move[p] = 0;
        break;
      case SimOpKind::kStore:
        remove(p);  // the old version is dead once the new one is stored
        last_move[p] = 0;
        loaded_since_move[p] = 0;
        insert_top(p, next[i], kNotHeld);
        break;
    }
  }
  return out;
}

}  // namespace tierswap::placement_sim

#endif  // TIERSWAP_BENCH_PLACEMENT_SIM_H_
