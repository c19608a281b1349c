// Statistics overhead on the DRAM-tier load path: Backend::Load with the per-tier latency
// histograms on (the default: two TSC reads and a sharded histogram add per operation) against
// the same backend with them off, in the same run, on the same tier and frames.
//
// One benchmark iteration = 20 rounds; each round times 4096 random cold loads with histograms
// on and 4096 with them off (order alternating), one TSC pair per 16 loads. Reported: mean ns per
// load both ways and the overhead in percent. The counters the backend keeps either way (loads,
// misses) are part of both sides; what is measured is the cost of the latency statistics.
//
//   build-rel/bench/stats_overhead_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "placement/backend.h"
#include "tiers/dram_tier.h"
#include "tiers/tsc.h"

namespace tierswap {
namespace {

constexpr uint64_t kPages = 64 * 1024;  // 256 MiB: loads miss the caches, like swap-ins
constexpr size_t kBatch = 16;

void BM_DramLoadStatsOverhead(benchmark::State& state) {
  DramTierOptions to;
  to.capacity_bytes = (kPages + kPages / 8) * kPageSize;
  auto tier = std::move(DramTier::Open(to)).value();
  DramTier* raw = tier.get();
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(std::move(tier));
  BackendOptions bo;
  bo.placement.policy = "static";
  bo.placement.background = false;
  bo.placement.probe_budget_ms = 0;
  auto backend = std::move(Backend::Open(std::move(tiers), bo)).value();
  if (backend->Init(0, kPages) != Status::kOk) std::abort();
  std::vector<unsigned char> page(kPageSize);
  std::mt19937_64 rng(11);
  for (uint64_t o = 0; o < kPages; ++o) {
    for (size_t w = 0; w < kPageSize; w += 8) {
      const uint64_t v = rng();
      std::memcpy(page.data() + w, &v, 8);
    }
    if (backend->Store(0, o, page.data()) != Status::kOk) std::abort();
  }
  std::vector<uint32_t> order(kPages);
  for (uint32_t i = 0; i < kPages; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  alignas(64) static unsigned char out[kPageSize];
  size_t pos = 0;
  auto run = [&](bool on) {
    raw->EnableLatencyHistograms(on);  // one thread: nothing else reads the flag meanwhile
    uint64_t ticks = 0;
    for (size_t b = 0; b < 4096 / kBatch; ++b) {
      const uint64_t t0 = TscNow();
      for (size_t i = 0; i < kBatch; ++i) {
        if (backend->Load(0, order[pos++ % kPages], out) != Status::kOk) std::abort();
      }
      ticks += TscNowAfter() - t0;
      benchmark::DoNotOptimize(out);
    }
    return TicksToNs(ticks) / 4096.0;
  };
  std::vector<double> on, off;
  for (auto _ : state) {
    for (int round = 0; round < 20; ++round) {
      if (round % 2 == 0) {
        on.push_back(run(true));
        off.push_back(run(false));
      } else {
        off.push_back(run(false));
        on.push_back(run(true));
      }
    }
  }
  std::sort(on.begin(), on.end());
  std::sort(off.begin(), off.end());
  const double on_med = on[on.size() / 2], off_med = off[off.size() / 2];
  state.counters["stats_on_ns"] = on_med;
  state.counters["stats_off_ns"] = off_med;
  state.counters["overhead_pct"] = 100.0 * (on_med - off_med) / off_med;
  state.counters["ratio"] = on_med / off_med;
}
BENCHMARK(BM_DramLoadStatsOverhead)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tierswap

BENCHMARK_MAIN();
