// Tests of the placement benchmark's simulator (bench/placement_sim.h): the traces keep swap
// semantics and are reproducible, the reference placements follow their rules, and the oracle is
// a lower bound for the others.
#include "bench/placement_sim.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace tierswap::placement_sim {
namespace {

TraceParams SmallParams(uint64_t seed = 7) {
  TraceParams p;
  p.pages = 2048;
  p.loads_per_page = 8;
  p.dirty_probability = 0.15;
  p.seed = seed;
  return p;
}

std::vector<SimTrace> SyntheticTraces(const TraceParams& p) {
  return {MakeZipfTrace(p), MakeScanTrace(p), MakeShiftTrace(p)};
}

bool SameOps(const SimTrace& a, const SimTrace& b) {
  if (a.ops.size() != b.ops.size()) return false;
  for (size_t i = 0; i < a.ops.size(); ++i) {
    const SimOp& x = a.ops[i];
    const SimOp& y = b.ops[i];
    if (x.kind != y.kind || x.type != y.type || x.page != y.page || x.offset != y.offset) {
      return false;
    }
  }
  return true;
}

// The pages of `t`'s loads, in order.
std::vector<uint32_t> LoadedPages(const SimTrace& t) {
  std::vector<uint32_t> v;
  for (const SimOp& op : t.ops) {
    if (op.kind == SimOpKind::kLoad) v.push_back(op.page);
  }
  return v;
}

TEST(PlacementSimTest, GeneratorsAreDeterministicForASeed) {
  const auto a = SyntheticTraces(SmallParams(7));
  const auto b = SyntheticTraces(SmallParams(7));
  const auto c = SyntheticTraces(SmallParams(8));
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(SameOps(a[i], b[i])) << a[i].name;
    EXPECT_FALSE(SameOps(a[i], c[i])) << a[i].name << ": another seed gave the same trace";
    EXPECT_EQ(a[i].loads, b[i].loads);
    EXPECT_EQ(a[i].restores, b[i].restores);
  }
}

TEST(PlacementSimTest, SyntheticTracesStoreEveryPageBeforeLoadingIt) {
  for (const SimTrace& t : SyntheticTraces(SmallParams())) {
    ASSERT_GE(t.ops.size(), t.pages) << t.name;
    // The first W operations store every page once.
    std::set<uint32_t> first;
    for (uint32_t i = 0; i < t.pages; ++i) {
      EXPECT_EQ(t.ops[i].kind, SimOpKind::kStore) << t.name << " op " << i;
      first.insert(t.ops[i].page);
    }
    EXPECT_EQ(first.size(), t.pages) << t.name;
    // After that only loads and refault stores; a refault follows a load of its page, with no
    // other load of the page in between.
    std::vector<bool> loaded_since_store(t.pages, false);
    uint64_t loads = 0, restores = 0;
    for (size_t i = t.pages; i < t.ops.size(); ++i) {
      const SimOp& op = t.ops[i];
      ASSERT_LT(op.page, t.pages);
      EXPECT_EQ(op.offset, op.page);
      EXPECT_EQ(op.type, 0);
      ASSERT_NE(op.kind, SimOpKind::kInvalidate) << t.name;
      if (op.kind == SimOpKind::kLoad) {
        ++loads;
        loaded_since_store[op.page] = true;
      } else {
        ++restores;
        EXPECT_TRUE(loaded_since_store[op.page])
            << t.name << " op " << i << ": page " << op.page << " stored again without a load";
        loaded_since_store[op.page] = false;
      }
    }
    EXPECT_EQ(loads, t.loads);
    EXPECT_EQ(restores, t.restores);
    EXPECT_EQ(t.working_set_pages, t.pages);
    // A dirty probability of 0.15 gives about 15% refaults (fewer: the last loads of a page
    // near the end have less room, never more).
    EXPECT_GT(restores, t.loads / 10) << t.name;
    EXPECT_LT(restores, t.loads / 5) << t.name;
  }
}

TEST(PlacementSimTest, ZipfRanksAreSkewedTowardsTheFirst) {
  const ZipfSampler zipf(1000, 0.99);
  SimRng rng(3);
  std::vector<uint64_t> count(1000, 0);
  for (int i = 0; i < 200000; ++i) ++count[zipf.Sample(rng)];
  EXPECT_GT(count[0], count[1]);
  EXPECT_GT(count[1], count[9]);
  EXPECT_GT(count[9], count[99]);
  // For theta 0.99 and n = 1000, rank 0 takes 1/zeta(1000, 0.99), about 13%.
  EXPECT_NEAR(double(count[0]) / 200000, 0.133, 0.01);
}

TEST(PlacementSimTest, ShiftTraceMovesItsHotSetToDisjointPagesHalfWay) {
  const SimTrace t = MakeShiftTrace(SmallParams());
  const std::vector<uint32_t> loads = LoadedPages(t);
  const size_t half = loads.size() / 2;
  // The most loaded pages of each half: the top W/8 of each.
  auto top = [&](size_t begin, size_t end) {
    std::vector<std::pair<uint64_t, uint32_t>> c(t.pages);
    for (uint32_t p = 0; p < t.pages; ++p) c[p] = {0, p};
    for (size_t i = begin; i < end; ++i) ++c[loads[i]].first;
    std::sort(c.rbegin(), c.rend());
    std::set<uint32_t> s;
    uint64_t share = 0;
    for (uint32_t i = 0; i < t.pages / 8; ++i) {
      s.insert(c[i].second);
      share += c[i].first;
    }
    // 95% of the loads, plus the background's 1/8 share of 5%.
    EXPECT_GT(double(share) / double(end - begin), 0.94);
    return s;
  };
  const std::set<uint32_t> a = top(0, half);
  const std::set<uint32_t> b = top(half, loads.size());
  for (uint32_t p : a) EXPECT_EQ(b.count(p), 0u) << "page " << p << " is hot in both halves";
}

TEST(PlacementSimTest, ScanTraceLoadsEachScanPageOnceInOffsetOrder) {
  const SimTrace t = MakeScanTrace(SmallParams());
  std::vector<uint64_t> count(t.pages, 0);
  for (uint32_t p : LoadedPages(t)) ++count[p];
  std::vector<uint32_t> once;
  for (uint32_t p = 0; p < t.pages; ++p) {
    if (count[p] == 1) once.push_back(p);
  }
  // W - W/16 scan pages; a hot page loaded exactly once is all but impossible (about 3W hot loads).
  EXPECT_EQ(once.size(), t.pages - t.pages / 16);
  std::vector<uint32_t> order;
  for (uint32_t p : LoadedPages(t)) {
    if (count[p] == 1) order.push_back(p);
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(PlacementSimTest, StaticFillsTiersInOrderAndReplacesInPlaceOnlyOnTheFastest) {
  SimTrace t;
  t.pages = 4;
  auto op = [&](SimOpKind k, uint32_t p) { t.ops.push_back(SimOp{k, 0, p, p}); };
  op(SimOpKind::kStore, 0);  // fast
  op(SimOpKind::kStore, 1);  // mid
  op(SimOpKind::kStore, 2);  // slow
  op(SimOpKind::kStore, 0);  // replaced in place on fast
  op(SimOpKind::kLoad, 0);
  op(SimOpKind::kInvalidate, 1);
  op(SimOpKind::kStore, 2);  // new copy goes to mid (freed), old slow copy freed
  op(SimOpKind::kLoad, 2);
  op(SimOpKind::kLoad, 1);   // a miss: invalidated
  op(SimOpKind::kStore, 3);  // slow
  op(SimOpKind::kLoad, 3);
  const TierLayout l{{1, 1, 2}, {1, 2, 8}};
  const PlacementOutcome o = SimulateStatic(t, l);
  EXPECT_EQ(o.loads_per_tier, (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(o.misses, 1u);
  EXPECT_EQ(o.migrated, 0u);
  EXPECT_EQ(o.rejected_stores, 0u);
  EXPECT_DOUBLE_EQ(o.MeanCost(l), (1 + 2 + 8) / 3.0);
}

TEST(PlacementSimTest, OutcomesRecordWhichTierServedEachLoadInTraceOrder) {
  SimTrace t;
  t.pages = 3;
  auto op = [&](SimOpKind k, uint32_t p) { t.ops.push_back(SimOp{k, 0, p, p}); };
  op(SimOpKind::kStore, 0);  // static: fast
  op(SimOpKind::kStore, 1);  // mid
  op(SimOpKind::kStore, 2);  // slow
  for (uint32_t p : {2u, 0u, 1u, 2u, 2u}) op(SimOpKind::kLoad, p);
  op(SimOpKind::kLoad, 1);
  const TierLayout l{{1, 1, 1}, {1, 2, 8}};
  const PlacementOutcome s = SimulateStatic(t, l);
  EXPECT_EQ(s.served, (std::vector<uint8_t>{2, 0, 1, 2, 2, 1}));
  EXPECT_EQ(s.LoadsPerWindow(4), (std::vector<std::vector<uint64_t>>{{1, 1, 2}, {0, 1, 1}}));
  EXPECT_EQ(s.LoadsPerWindow(6), (std::vector<std::vector<uint64_t>>{s.loads_per_tier}));
  // The windows of every placement add up to its totals, whatever the window.
  for (const PlacementOutcome& o : {s, SimulateOracle(t, l), SimulateRandom(t, l, 3)}) {
    ASSERT_EQ(o.served.size(), o.loads());
    for (uint64_t window : {1u, 2u, 5u, 100u}) {
      std::vector<uint64_t> sum(l.capacity_pages.size(), 0);
      const auto w = o.LoadsPerWindow(window);
      EXPECT_EQ(w.size(), (o.loads() + window - 1) / window);
      for (const auto& x : w) {
        for (size_t i = 0; i < x.size(); ++i) sum[i] += x[i];
      }
      EXPECT_EQ(sum, o.loads_per_tier) << "window " << window;
    }
  }
}

TEST(PlacementSimTest, TraceClockPlacesOperationsAtTheRateWithoutOverflow) {
  const TraceClock c{100000};
  EXPECT_EQ(c.At(0), c.start_ns);
  EXPECT_EQ(c.At(1), c.start_ns + 10'000);
  EXPECT_EQ(c.At(256), c.start_ns + 2'560'000);
  EXPECT_EQ(c.At(100000), c.start_ns + 1'000'000'000);
  // Rounded down, never drifting: op k at 7 operations per second is at floor(k / 7 s).
  const TraceClock seven{7, 0};
  EXPECT_EQ(seven.At(1), 142'857'142u);
  EXPECT_EQ(seven.At(7), 1'000'000'000u);
  EXPECT_EQ(seven.At(7'000'000), 1'000'000'000'000'000u);
  // op x 1e9 exceeds 64 bits here; the result does not.
  const TraceClock fast{1'000'000'000'000, 0};
  EXPECT_EQ(fast.At(10'000'000'000'000), 10'000'000'000'000u / 1000);
}

TEST(PlacementSimTest, StaticDropsTheOldCopyWhenTheNewOneFindsNoRoom) {
  SimTrace t;
  t.pages = 2;
  t.ops = {{SimOpKind::kStore, 0, 0, 0},
           {SimOpKind::kStore, 0, 1, 1},
           {SimOpKind::kStore, 0, 1, 1},
           {SimOpKind::kLoad, 0, 1, 1}};
  // Two single-page tiers: page 1's new version only fits once its old copy is dropped.
  const TierLayout l{{1, 1}, {1, 2}};
  const PlacementOutcome o = SimulateStatic(t, l);
  EXPECT_EQ(o.rejected_stores, 0u);
  EXPECT_EQ(o.loads_per_tier, (std::vector<uint64_t>{0, 1}));
}

TEST(PlacementSimTest, OracleServesTheNearestNextLoadFromTheFastestTier) {
  SimTrace t;
  t.pages = 3;
  auto op = [&](SimOpKind k, uint32_t p) { t.ops.push_back(SimOp{k, 0, p, p}); };
  // One page per tier. Stores of 0, 1, 2; then loads 2, 1, 2, 1, 0.
  op(SimOpKind::kStore, 0);
  op(SimOpKind::kStore, 1);
  op(SimOpKind::kStore, 2);
  for (uint32_t p : {2u, 1u, 2u, 1u, 0u}) op(SimOpKind::kLoad, p);
  const TierLayout l{{1, 1, 1}, {1, 2, 8}};
  const PlacementOutcome o = SimulateOracle(t, l);
  // After the stores the fastest tier holds the page loaded first (2), then 1, then 0. Then:
  // 2 from fast; 1 from mid, and it stays there (2 is loaded sooner); 2 from fast; 1 from mid
  // again; 0 from slow. The last three are never loaded again, so nothing moves for them.
  EXPECT_EQ(o.loads_per_tier, (std::vector<uint64_t>{2, 2, 1}));
  EXPECT_EQ(o.misses, 0u);
  // Static keeps 0 on fast, where it is loaded last: 0 fast, 2 slow twice, 1 mid twice.
  const PlacementOutcome s = SimulateStatic(t, l);
  EXPECT_EQ(s.loads_per_tier, (std::vector<uint64_t>{1, 2, 2}));
  EXPECT_LT(o.MeanCost(l), s.MeanCost(l));
}

TEST(PlacementSimTest, OracleCountsAMoveBackBeforeAnyLoadAsWasted) {
  SimTrace t;
  t.pages = 3;
  auto op = [&](SimOpKind k, uint32_t p) { t.ops.push_back(SimOp{k, 0, p, p}); };
  // One page per tier.
  op(SimOpKind::kStore, 0);  // fast
  op(SimOpKind::kStore, 1);  // mid: 0 is loaded first
  op(SimOpKind::kLoad, 0);   // fast
  op(SimOpKind::kLoad, 1);   // mid; promoted (next load at 6, 0's at 7): 0 demoted to mid
  op(SimOpKind::kStore, 2);  // loaded at 5: takes fast; 1 demoted unloaded (wasted), 0 to slow
  op(SimOpKind::kLoad, 2);   // fast
  op(SimOpKind::kLoad, 1);   // mid; never loaded again, so it stays
  op(SimOpKind::kLoad, 0);   // slow; likewise
  const TierLayout l{{1, 1, 1}, {1, 2, 8}};
  const PlacementOutcome o = SimulateOracle(t, l);
  EXPECT_EQ(o.loads_per_tier, (std::vector<uint64_t>{2, 2, 1}));
  EXPECT_EQ(o.migrated, 4u);  // 1 up, 0 down; then 1 down again and 0 down to slow
  EXPECT_EQ(o.wasted, 1u);
}

// The fewest loads that miss a cache of `capacity` pages over `t`, by exhaustive search: a page
// may enter the cache only when it is stored or loaded, and the cache may drop any pages then;
// an invalidated page leaves it. Pages < 16.
uint64_t OptimalMisses(const SimTrace& t, unsigned capacity) {
  const uint32_t states = 1u << t.pages;
  constexpr uint64_t kInf = ~uint64_t{0};
  std::vector<uint64_t> best(states, kInf), next(states);
  best[0] = 0;
  for (const SimOp& op : t.ops) {
    const uint32_t bit = 1u << op.page;
    std::fill(next.begin(), next.end(), kInf);
    for (uint32_t s = 0; s < states; ++s) {
      if (best[s] == kInf) continue;
      if (op.kind == SimOpKind::kInvalidate) {
        next[s & ~bit] = std::min(next[s & ~bit], best[s]);
        continue;
      }
      const uint64_t cost = best[s] + (op.kind == SimOpKind::kLoad && (s & bit) == 0 ? 1 : 0);
      // A store replaces the page: its old copy is gone, the new one may enter.
      const uint32_t from = op.kind == SimOpKind::kStore ? ((s & ~bit) | bit) : (s | bit);
      for (uint32_t sub = from;; sub = (sub - 1) & from) {  // every subset of `from`
        if (unsigned(__builtin_popcount(sub)) <= capacity) next[sub] = std::min(next[sub], cost);
        if (sub == 0) break;
      }
    }
    best.swap(next);
  }
  return *std::min_element(best.begin(), best.end());
}

TEST(PlacementSimTest, OracleMissesAtEveryTierBoundaryAreTheFewestPossible) {
  SimRng rng(11);
  for (int round = 0; round < 40; ++round) {
    SimTrace t;
    t.pages = 7;
    for (uint32_t p : rng.Permutation(t.pages)) t.ops.push_back(SimOp{SimOpKind::kStore, 0, p, p});
    std::vector<bool> held(t.pages, true);
    for (int i = 0; i < 40; ++i) {
      // Skewed: low ids more often.
      const uint32_t p = uint32_t(std::min(rng.Below(t.pages), rng.Below(t.pages)));
      const uint64_t dice = rng.Below(10);
      if (!held[p] || dice == 0) {
        t.ops.push_back(SimOp{SimOpKind::kStore, 0, p, p});
        held[p] = true;
      } else if (dice == 1) {
        t.ops.push_back(SimOp{SimOpKind::kInvalidate, 0, p, p});
        held[p] = false;
      } else {
        t.ops.push_back(SimOp{SimOpKind::kLoad, 0, p, p});
      }
    }
    const TierLayout l{{2, 2, 7}, {1, 2, 8}};
    const PlacementOutcome o = SimulateOracle(t, l);
    ASSERT_EQ(o.misses, 0u);
    // Loads the fastest tier missed, and loads the fastest two missed.
    EXPECT_EQ(o.loads_per_tier[1] + o.loads_per_tier[2], OptimalMisses(t, 2)) << "round " << round;
    EXPECT_EQ(o.loads_per_tier[2], OptimalMisses(t, 4)) << "round " << round;
  }
}

TEST(PlacementSimTest, OracleNeverCostsMoreThanStaticOrRandom) {
  std::vector<SimTrace> traces = SyntheticTraces(SmallParams());
  if (const char* src = std::getenv("TIERSWAP_SOURCE_DIR")) {
    auto demo = LoadTraceFile(std::string(src) + "/examples/traces/demo.trace.zst", "demo");
    ASSERT_TRUE(demo.ok()) << demo.error().message;
    traces.push_back(std::move(demo).value());
  }
  for (const SimTrace& t : traces) {
    for (unsigned ratio : {2u, 4u, 8u}) {
      const TierLayout l = BenchLayout(t.working_set_pages, ratio);
      const PlacementOutcome oracle = SimulateOracle(t, l);
      const PlacementOutcome fixed = SimulateStatic(t, l);
      const PlacementOutcome random = SimulateRandom(t, l, 99);
      for (const PlacementOutcome* o : {&oracle, &fixed, &random}) {
        EXPECT_EQ(o->misses, 0u) << t.name;
        EXPECT_EQ(o->rejected_stores, 0u) << t.name;
        EXPECT_EQ(o->loads(), t.loads) << t.name;
      }
      EXPECT_LE(oracle.MeanCost(l), fixed.MeanCost(l)) << t.name << " 1:" << ratio;
      EXPECT_LE(oracle.MeanCost(l), random.MeanCost(l)) << t.name << " 1:" << ratio;
      EXPECT_GE(oracle.FastFraction(), fixed.FastFraction()) << t.name << " 1:" << ratio;
      EXPECT_EQ(fixed.migrated, 0u);
      EXPECT_EQ(random.migrated, 0u);
    }
  }
}

TEST(PlacementSimTest, QuantileCostFollowsTheLoadsPerTier) {
  const TierLayout l{{1, 1, 1}, {1, 2, 8}};
  PlacementOutcome o;
  o.loads_per_tier = {980, 10, 10};
  EXPECT_DOUBLE_EQ(o.QuantileCost(l, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(o.QuantileCost(l, 0.98), 2.0);  // rank 980 is the first mid load
  EXPECT_DOUBLE_EQ(o.QuantileCost(l, 0.99), 8.0);
  EXPECT_DOUBLE_EQ(o.MeanCost(l), (980 + 20 + 80) / 1000.0);
  EXPECT_DOUBLE_EQ(o.FastFraction(), 0.98);
}

TEST(PlacementSimTest, TraceFileKeepsOnlyPlaceableOperations) {
  char path[] = "/tmp/placement_sim_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "# tierswap trace v1\n"
         "N 0 8\n"
         "S 0 1\n"
         "S 0 2 @4\n"
         "S 0 9\n"  // beyond nr_pages: refused by the backend, left out
         "L 0 3\n"  // a miss: left out
         "L 0 1\n"
         "S 0 1\n"  // a refault
         "N 1 0\n"
         "S 1 70000\n"
         "I 0 2\n"
         "L 0 2\n"   // a miss now
         "A 1\n"     // invalidates type 1's page
         "S 1 5\n";  // type 1 is not initialised any more: left out
  }
  auto t = LoadTraceFile(path, "tiny");
  std::remove(path);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::vector<SimOpKind> kinds = {
      SimOpKind::kStore, SimOpKind::kStore,      SimOpKind::kLoad,      SimOpKind::kStore,
      SimOpKind::kStore, SimOpKind::kInvalidate, SimOpKind::kInvalidate};
  ASSERT_EQ(t->ops.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(t->ops[i].kind, kinds[i]) << "op " << i;
  EXPECT_EQ(t->pages, 3u);  // (0,1), (0,2), (1,70000)
  EXPECT_EQ(t->working_set_pages, 3u);
  EXPECT_EQ(t->loads, 1u);
  EXPECT_EQ(t->restores, 1u);
  EXPECT_EQ(t->invalidates, 2u);
  EXPECT_EQ(t->types, (std::vector<unsigned>{0, 1}));
  EXPECT_EQ(t->ops[4].type, 1);
  EXPECT_EQ(t->ops[4].offset, 70000u);
  EXPECT_EQ(t->ops[6].page, t->ops[4].page);
}

TEST(PlacementSimTest, TraceFileErrorsNameTheFileAndLine) {
  char path[] = "/tmp/placement_sim_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "N 0 8\nX 0 1\n";
  }
  auto t = LoadTraceFile(path, "bad");
  std::remove(path);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find(std::string(path) + ":2:"), std::string::npos)
      << t.error().message;
}

}  // namespace
}  // namespace tierswap::placement_sim
