// Emulation accuracy: does an emulated tier's load cost what it is configured to cost?
//
// For each configured read latency (500 ns, 1 us, 3 us) the benchmark times single 4 KiB loads
// from a DRAM tier with that latency injected, and, in the same run and on the same tier with
// emulation off, loads spaced by the same latency (the copy time). The expected cost is
// `read_latency_ns + copy p50`; the reported error is how far the measured p50 (and p99) are from
// it. Every load is timed on its own with the TSC, so each sample includes the clock's overhead
// (~10-20 ns) on both sides; the copy baseline includes it too.
//
//   build/bench/emulation_bench [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "tiers/dram_tier.h"
#include "tiers/tsc.h"

namespace tierswap {
namespace {

constexpr uint64_t kFootprintPages = 64 * 1024;  // 256 MiB: beyond the LLC, like real swap-in

struct Loaded {
  std::unique_ptr<DramTier> tier;
  std::vector<TierHandle> handles;
};

Loaded FillTier(const TierEmulation& emulation) {
  DramTierOptions o;
  o.name = "bench";
  o.capacity_bytes = kFootprintPages * kPageSize;
  auto t = DramTier::Open(o);
  if (!t) {
    std::fprintf(stderr, "emulation_bench: %s\n", t.error().message.c_str());
    std::abort();
  }
  Loaded l{std::move(t).value(), {}};
  l.tier->SetEmulation(emulation);
  std::vector<unsigned char> page(kPageSize);
  std::mt19937_64 rng(7);
  for (uint64_t i = 0; i < kFootprintPages; ++i) {
    for (size_t w = 0; w < kPageSize; w += 8) {
      const uint64_t v = rng();
      std::memcpy(page.data() + w, &v, 8);
    }
    TierHandle h;
    if (l.tier->Store(page.data(), &h) != Status::kOk) std::abort();
    l.handles.push_back(h);
  }
  std::shuffle(l.handles.begin(), l.handles.end(), rng);
  return l;
}

// Times `n` single loads in random order, each followed by an untimed pause of `gap_ns`;
// returns the per-load costs in ns, sorted. The pause matters for the baseline: an emulated
// load spins after its copy, which lets the memory system drain the copy's write-backs, so its
// real copy is faster than one in a back-to-back loop. The baseline gets the same spacing.
std::vector<double> TimeLoads(Loaded& l, size_t n, double gap_ns) {
  std::vector<double> ns(n);
  alignas(64) static unsigned char out[kPageSize];
  const uint64_t gap = NsToTicks(gap_ns);
  for (size_t i = 0; i < n; ++i) {
    const TierHandle h = l.handles[i % l.handles.size()];
    const uint64_t t0 = TscNow();
    if (l.tier->Load(h, out) != Status::kOk) std::abort();
    const uint64_t t1 = TscNowAfter();
    ns[i] = TicksToNs(t1 - t0);
    benchmark::DoNotOptimize(out);
    if (gap != 0) SpinUntil(t1 + gap);
  }
  std::sort(ns.begin(), ns.end());
  return ns;
}

double Pct(const std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, size_t(q * double(sorted.size())))];
}

void BM_EmulatedLoad(benchmark::State& state) {
  const uint32_t latency = static_cast<uint32_t>(state.range(0));
  // One tier, with emulation switched off for the baseline and on for the measurement: the
  // same frames, the same page-table and huge-page state (a second tier of the same size can
  // differ by 100+ ns per copy in TLB misses alone). Switching is safe here: one thread.
  static Loaded tier = FillTier(TierEmulation{});
  std::vector<double> copy, measured;
  for (auto _ : state) {
    // Baseline and emulated batches alternate, so drift on a shared machine hits both.
    tier.tier->SetEmulation(TierEmulation{});
    copy = TimeLoads(tier, 20000, latency);
    tier.tier->SetEmulation(TierEmulation{latency, 0, 0});
    measured = TimeLoads(tier, 20000, 0);
  }
  const double expected = latency + Pct(copy, 0.5);
  state.counters["configured_ns"] = latency;
  state.counters["copy_p50_ns"] = Pct(copy, 0.5);
  state.counters["expected_p50_ns"] = expected;
  state.counters["p50_ns"] = Pct(measured, 0.5);
  state.counters["p99_ns"] = Pct(measured, 0.99);
  state.counters["copy_p99_ns"] = Pct(copy, 0.99);
  state.counters["p50_error_pct"] = 100.0 * (Pct(measured, 0.5) - expected) / expected;
  state.counters["p50_vs_expected"] = Pct(measured, 0.5) / expected;
}
BENCHMARK(BM_EmulatedLoad)
    ->Arg(500)
    ->Arg(1000)
    ->Arg(3000)
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tierswap

BENCHMARK_MAIN();
