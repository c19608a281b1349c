// DRAM tier benchmark: store and load of 4 KiB pages through the real engine (Backend over a
// DramTier), next to a raw 4 KiB memcpy over the same memory footprint, in the same random
// order, in the same run. The tier cannot beat memcpy (a store or load IS a memcpy plus the
// index entry, its lock and the frame allocator); the question is how close it gets:
//
//   BM_Memcpy{Store,Load}/{hot,cold}     memcpy between a small buffer and a pre-touched arena
//   BM_DramTier{Store,Load}/{hot,cold}   Backend::Store / Backend::Load on a pre-filled tier
//   BM_DramTierMetadata/1Mi_pages        metadata bytes per stored page after 2^20 stores
//
// With --numa_node=N the same pairs run on NUMA node N's memory (a CXL expander, a far socket):
// the tier is a NumaTier bound to N and the memcpy baseline's arena is bound to N too, so the
// ratio is still the engine against a copy of the same memory, and the baseline's p50 says what
// the node's memory costs. They are named BM_NumaTier{Store,Load}/... (bench/node-sweep runs
// this, and the DRAM tier under numactl --membind, on every node).
//
// "hot" is a footprint that fits in L2 (256 KiB); "cold" is well past the last-level cache
// (max(1 GiB, 4 x LLC), rounded up to 256 MiB), so nearly every page copy misses in cache.
// Offsets are visited in a random permutation; with N threads each thread owns a disjoint
// 1/N of the offsets. After the run, main prints "tier / memcpy" ratios of the median and mean
// per-operation latency (docs/benchmarks.md records a run).
//
// Timing: each benchmark iteration is a batch of kBatch = 16 operations timed with one
// fenced rdtsc pair; per-operation latency is the batch time / 16, which spreads the clock's own
// cost (printed as the "timer" context line; 25-30 ns on a KVM guest) to under 2 ns per
// operation, the same for the tier and the baseline. p50/p99 are therefore percentiles
// of 16-op batch means: they smooth single-op outliers, so p99 understates a single op's tail.
// With several threads, a p50/p99/mean counter is the mean of the threads' own figures.
//
// Flags of this binary (besides Google Benchmark's):
//   --ratio_json=FILE          also write the ratio table (and metadata figure) as JSON
//   --cold_footprint_mib=N     override the cold footprint
//   --hot_footprint_kib=N      override the hot footprint (default 256)
//   --tier_headroom_pct=N      free frames in the cold tier beyond the footprint (default 12)
//   --numa_node=N              the tier and the baseline's arena on node N (see above)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "frontend/json_writer.h"
#include "placement/backend.h"
#include "tiers/dram_tier.h"
#include "tiers/frame_allocator.h"
#include "tiers/frame_arena.h"
#include "tiers/numa_tier.h"
#include "tiers/numa_topology.h"
#include "tiers/page.h"

namespace tierswap::bench {
namespace {

constexpr size_t kBatch = 16;  // operations per timed batch
constexpr size_t kRing = 8;    // guest-side page buffers per thread (32 KiB: stays in L1/L2)
constexpr unsigned kType = 0;
constexpr uint64_t kContentSeed = 0x7469657273776170ull;
constexpr uint64_t kMetadataPages = uint64_t{1} << 20;

enum class Mem { kHot, kCold };
enum class Op { kStore, kLoad };

const char* MemName(Mem m) { return m == Mem::kHot ? "hot" : "cold"; }
const char* OpName(Op o) { return o == Op::kStore ? "Store" : "Load"; }

struct Settings {
  uint64_t hot_bytes = 256 << 10;
  uint64_t cold_bytes = 1ull << 30;
  uint64_t headroom_pct = 12;
  int max_threads = 2;
  int numa_node = -1;  // >= 0: a NumaTier on this node, and the baseline's arena bound there
};

Settings& settings() {
  static Settings s;
  return s;
}

uint64_t FootprintBytes(Mem m) {
  return m == Mem::kHot ? settings().hot_bytes : settings().cold_bytes;
}
uint64_t FootprintPages(Mem m) { return FootprintBytes(m) / kPageSize; }

// Contents of the page first stored at `offset` (distinct per offset, never same-filled).
uint64_t PageSeed(uint64_t offset) { return kContentSeed ^ (offset * 0x9E3779B97F4A7C15ull); }

// ---- fixtures: built once per footprint, shared by every run and thread ------------------------
// Google Benchmark calls a benchmark function several times (to size the iteration count, and
// once per thread count); mapping, pre-faulting and filling a GiB each time would dominate the
// run, so each fixture is built on first use and kept until exit.

struct ArenaFixture {
  FrameArena arena;
  std::string error;
};

struct TierFixture {
  std::unique_ptr<Backend> backend;
  std::string error;
};

ArenaFixture BuildArena(Mem m) {
  ArenaFixture f;
  const int node = settings().numa_node;
  auto arena = FrameArena::Map(FootprintBytes(m), /*prefault=*/node < 0, "memcpy baseline arena");
  if (!arena) {
    f.error = arena.error().message;
    return f;
  }
  f.arena = std::move(arena).value();
  if (node >= 0) {  // bound before the first touch, as NumaTier binds its frames
    auto bound = BindToNode(f.arena.base(), f.arena.bytes(), node, "memcpy baseline arena");
    if (!bound) {
      f.error = bound.error().message;
      return f;
    }
    f.arena.Prefault();
  }
  for (uint64_t off = 0; off < FootprintPages(m); ++off) {
    FillRandomPage(f.arena.frame(static_cast<uint32_t>(off)), PageSeed(off));
  }
  return f;
}

// Capacity of the tier for footprint `m`. Cold: the footprint plus headroom_pct, so the
// allocator runs as in a well-filled tier (89% full by default) without hunting for the last
// free frames. Hot: at least 16 allocator regions (16 MiB each) and one per thread, because a
// real tier is never 288 KiB: in a tier that small every thread would allocate from the same
// region (threads pick their start region by counter shard, modulo the region count). Only the
// frames actually stored into are touched after the fill, so the hot working set stays the
// footprint plus a frame or two per thread.
uint64_t TierCapacity(Mem m) {
  const uint64_t with_headroom =
      FootprintBytes(m) * (100 + settings().headroom_pct) / 100 / kPageSize * kPageSize;
  if (m == Mem::kCold) return with_headroom;
  const uint64_t regions = std::max<uint64_t>(16, uint64_t(settings().max_threads));
  return std::max(with_headroom, regions * FrameAllocator::kFramesPerRegion * kPageSize);
}

Result<std::unique_ptr<Tier>> OpenTier(Mem m) {
  if (settings().numa_node >= 0) {
    NumaTierOptions o;
    o.name = std::string("numa-") + MemName(m);
    o.node = settings().numa_node;
    o.capacity_bytes = TierCapacity(m);
    auto t = NumaTier::Open(o);
    if (!t) return t.error();
    return std::unique_ptr<Tier>(std::move(t).value());
  }
  DramTierOptions o;
  o.name = std::string("dram-") + MemName(m);
  o.capacity_bytes = TierCapacity(m);
  o.prefault = true;
  auto t = DramTier::Open(o);
  if (!t) return t.error();
  return std::unique_ptr<Tier>(std::move(t).value());
}

TierFixture BuildTier(Mem m) {
  TierFixture f;
  auto tier = OpenTier(m);
  if (!tier) {
    f.error = tier.error().message;
    return f;
  }
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(std::move(tier).value());
  auto backend = Backend::Open(std::move(tiers), BackendOptions{});
  if (!backend) {
    f.error = backend.error().message;
    return f;
  }
  f.backend = std::move(backend).value();
  const uint64_t pages = FootprintPages(m);
  if (f.backend->Init(kType, pages) != Status::kOk) {
    f.error = "Backend::Init(0, " + std::to_string(pages) + ") failed.";
    return f;
  }
  auto scratch = PageBuffers::Make(2, std::nullopt);
  if (!scratch) {
    f.error = scratch.error().message;
    return f;
  }
  for (uint64_t off = 0; off < pages; ++off) {
    FillRandomPage(scratch->page(0), PageSeed(off));
    const Status s = f.backend->Store(kType, off, scratch->page(0));
    if (s != Status::kOk) {
      f.error = "filling the " + std::string(MemName(m)) + " tier: store of offset " +
                std::to_string(off) + " returned " + StatusName(s) + ".";
      return f;
    }
  }
  // The load benchmarks time Backend::Load; check once, outside timing, that it returns the
  // bytes stored (a sample of offsets), so a broken build cannot report a fast wrong answer.
  for (uint64_t off = 0; off < pages; off += 1 + pages / 257) {
    FillRandomPage(scratch->page(0), PageSeed(off));
    const Status s = f.backend->Load(kType, off, scratch->page(1));
    if (s != Status::kOk || std::memcmp(scratch->page(0), scratch->page(1), kPageSize) != 0) {
      f.error = "the " + std::string(MemName(m)) + " tier returned other bytes than stored " +
                "for offset " + std::to_string(off) + " (status " + StatusName(s) + ").";
      return f;
    }
  }
  return f;
}

const ArenaFixture& GetArena(Mem m) {
  static std::once_flag once[2];
  static ArenaFixture fixtures[2];
  const int i = static_cast<int>(m);
  std::call_once(once[i], [&] { fixtures[i] = BuildArena(m); });
  return fixtures[i];
}

const TierFixture& GetTier(Mem m) {
  static std::once_flag once[2];
  static TierFixture fixtures[2];
  const int i = static_cast<int>(m);
  std::call_once(once[i], [&] { fixtures[i] = BuildTier(m); });
  return fixtures[i];
}

// ---- the timed loop ----------------------------------------------------------------------------

// This thread's offsets, in a random order that depends only on (op, footprint, threads,
// thread): the memcpy baseline and the tier walk exactly the same sequence.
//
// The op is part of the seed on purpose. A store run leaves the tier's offset -> frame map
// correlated with its order (the k-th store gets the k-th frame the allocator hands out, and
// those ascend within a region). A load run walking the same order would then read frames
// almost sequentially, a favour the memcpy baseline (frame = offset, random order) never gets.
Result<std::vector<uint32_t>> ThreadOrder(const benchmark::State& state, Op op, Mem m) {
  const uint64_t pages = FootprintPages(m);
  const uint64_t per_thread = pages / uint64_t(state.threads());
  if (per_thread == 0) {
    return MakeError(Status::kInvalidArgument, std::string(MemName(m)) + " footprint of " +
                                                   std::to_string(pages) +
                                                   " pages is too small for " +
                                                   std::to_string(state.threads()) + " threads.");
  }
  const uint64_t first = per_thread * uint64_t(state.thread_index());
  const uint64_t seed = (uint64_t(op) << 56) ^ (uint64_t(m) << 48) ^
                        (uint64_t(state.threads()) << 32) ^ uint64_t(state.thread_index());
  return RandomOrder(first, per_thread, kBatch, seed);
}

// Runs `batch(offsets)` (kBatch operations; false on failure) once per iteration, timing each
// batch, and reports per-operation p50/p99/mean latency and throughput.
template <typename BatchFn>
void RunBatches(benchmark::State& state, Mem m, const std::vector<uint32_t>& order,
                BatchFn&& batch) {
  // Tick counts, within 1/64 (1.6%).
  auto hist = std::make_unique<LatencyHistogram<6>>();
  size_t pos = 0;
  for (auto _ : state) {
    const uint32_t* offsets = order.data() + pos;
    pos += kBatch;
    if (pos == order.size()) pos = 0;
    const uint64_t t0 = TickClock::Begin();
    const bool ok = batch(offsets);
    const uint64_t t1 = TickClock::End();
    if (!ok) {
      state.SkipWithError("an operation failed (see the status in the benchmark source)");
      break;
    }
    hist->Record(t1 - t0);
    state.SetIterationTime(double(t1 - t0) * TickClock::SecondsPerTick());
  }
  const double ns_per_op = TickClock::NsPerTick() / double(kBatch);
  using benchmark::Counter;
  state.counters["p50_ns"] =
      Counter(double(hist->Percentile(0.50)) * ns_per_op, Counter::kAvgThreads);
  state.counters["p99_ns"] =
      Counter(double(hist->Percentile(0.99)) * ns_per_op, Counter::kAvgThreads);
  state.counters["mean_ns"] = Counter(hist->mean() * ns_per_op, Counter::kAvgThreads);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(kBatch));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBatch * kPageSize));
  if (state.thread_index() == 0) state.SetLabel(MiB(FootprintBytes(m)));
}

// Per-thread guest-side buffers: random pages to store from, or pages to load into.
Result<PageBuffers> GuestBuffers(const benchmark::State& state, Op op) {
  return PageBuffers::Make(
      kRing, op == Op::kStore
                 ? std::optional<uint64_t>(~kContentSeed + uint64_t(state.thread_index()) * kRing)
                 : std::nullopt);
}

// The baseline: copy 4 KiB between a guest buffer and the arena frame of each offset.
void BM_Memcpy(benchmark::State& state, Op op, Mem m) {
  const ArenaFixture& f = GetArena(m);
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  auto order = ThreadOrder(state, op, m);
  if (!order) return state.SkipWithError(order.error().message.c_str());
  auto guest = GuestBuffers(state, op);
  if (!guest) return state.SkipWithError(guest.error().message.c_str());
  const PageBuffers& g = *guest;
  const FrameArena& arena = f.arena;
  if (op == Op::kStore) {
    RunBatches(state, m, *order, [&](const uint32_t* offsets) {
      for (size_t i = 0; i < kBatch; ++i) {
        std::memcpy(arena.frame(offsets[i]), g.page(i % kRing), kPageSize);
      }
      benchmark::ClobberMemory();
      return true;
    });
  } else {
    RunBatches(state, m, *order, [&](const uint32_t* offsets) {
      for (size_t i = 0; i < kBatch; ++i) {
        std::memcpy(g.page(i % kRing), arena.frame(offsets[i]), kPageSize);
      }
      benchmark::ClobberMemory();
      return true;
    });
  }
}

// The engine: Backend::Store / Backend::Load of the same offsets.
//
// Stores replace the page of an occupied slot (every slot is filled before timing). This is the
// steady state of a full swap area, and it keeps everything the engine does inside the timed
// region: no timer pause, no untimed invalidation between stores. The alternative, storing
// into slots emptied outside timing, looks cheaper but is less honest: the invalidation would
// free frames (and pull the slot's entry into cache) just before the timed store that reuses
// them, so the store would write into cache-hot frames and entries that a real guest never
// hands it. Replacing also charges the store with freeing the old frame (two atomics), so the
// figure is an upper bound for a store into an empty slot. The new frame is one freed by an
// earlier store of another random offset and written long ago: cold, like the arena frame the
// memcpy baseline writes. (The allocator hands frames out in ascending order within a region,
// a locality the baseline's random frames lack; that is the engine's real behaviour, kept.)
void BM_DramTier(benchmark::State& state, Op op, Mem m) {
  const TierFixture& f = GetTier(m);
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  auto order = ThreadOrder(state, op, m);
  if (!order) return state.SkipWithError(order.error().message.c_str());
  auto guest = GuestBuffers(state, op);
  if (!guest) return state.SkipWithError(guest.error().message.c_str());
  const PageBuffers& g = *guest;
  Backend& backend = *f.backend;
  if (op == Op::kStore) {
    RunBatches(state, m, *order, [&](const uint32_t* offsets) {
      bool ok = true;
      for (size_t i = 0; i < kBatch; ++i) {
        ok &= backend.Store(kType, offsets[i], g.page(i % kRing)) == Status::kOk;
      }
      benchmark::ClobberMemory();
      return ok;
    });
  } else {
    RunBatches(state, m, *order, [&](const uint32_t* offsets) {
      bool ok = true;
      for (size_t i = 0; i < kBatch; ++i) {
        ok &= backend.Load(kType, offsets[i], g.page(i % kRing)) == Status::kOk;
      }
      benchmark::ClobberMemory();
      return ok;
    });
  }
}

// Metadata per stored page: DRAM the backend spends on bookkeeping (index entries, allocator
// bitmap and regions, sharded counters) divided by the pages it holds, after 2^20 stores.
// One page in four is random (a frame on the tier), the rest same-filled (index entry only,
// as zero pages are); the per-page figure is dominated by the 12-byte index entry and barely
// depends on that mix. The timed part is the 2^20 stores into empty slots, in offset order;
// preparing each page is an 8-byte stamp into a pre-filled buffer.
void BM_DramTierMetadata(benchmark::State& state) {
  constexpr size_t kSources = 8;
  for (auto _ : state) {
    DramTierOptions o;
    o.name = "dram-metadata";
    o.capacity_bytes = kMetadataPages / 4 * kPageSize;
    auto tier = DramTier::Open(o);
    if (!tier) return state.SkipWithError(tier.error().message.c_str());
    std::vector<std::unique_ptr<Tier>> tiers;
    tiers.push_back(std::move(tier).value());
    auto opened = Backend::Open(std::move(tiers), BackendOptions{});
    if (!opened) return state.SkipWithError(opened.error().message.c_str());
    std::unique_ptr<Backend> backend = std::move(opened).value();
    if (backend->Init(kType, kMetadataPages) != Status::kOk) {
      return state.SkipWithError("Backend::Init failed for the metadata backend.");
    }
    // Random pages (their first word is overwritten with the offset, so each stored page
    // differs) and same-filled pages of kSources different values.
    auto random = PageBuffers::Make(kSources, kContentSeed);
    auto same = PageBuffers::Make(kSources, std::nullopt);
    if (!random || !same) return state.SkipWithError("cannot map the metadata page buffers.");
    for (size_t i = 0; i < kSources; ++i) FillPage(same->page(i), 0x0101010101010101ull * i);
    const uint64_t t0 = TickClock::Begin();
    for (uint64_t off = 0; off < kMetadataPages; ++off) {
      const void* page;
      if (off % 4 == 0) {
        unsigned char* p = random->page(off / 4 % kSources);
        std::memcpy(p, &off, sizeof(off));
        page = p;
      } else {
        page = same->page(off % kSources);
      }
      const Status s = backend->Store(kType, off, page);
      if (s != Status::kOk) {
        const std::string msg = "metadata fill: store of offset " + std::to_string(off) +
                                " returned " + StatusName(s) + ".";
        return state.SkipWithError(msg.c_str());
      }
    }
    state.SetIterationTime(double(TickClock::End() - t0) * TickClock::SecondsPerTick());
    const uint64_t stored = backend->stored_pages();
    const size_t meta = backend->MetadataBytes();
    state.counters["stored_pages"] = double(stored);
    state.counters["tier_pages"] = double(backend->tier(0).stored_pages());
    state.counters["metadata_bytes"] = double(meta);
    state.counters["metadata_bytes_per_page"] = stored == 0 ? 0.0 : double(meta) / double(stored);
    state.SetItemsProcessed(int64_t(kMetadataPages));
  }
}

// "BM_DramTier", or "BM_NumaTier" with --numa_node.
std::string TierPrefix() { return settings().numa_node >= 0 ? "BM_NumaTier" : "BM_DramTier"; }

std::vector<RatioPair> Pairs() {
  // Targets apply to the cold footprint: that is where a swapped page lives.
  const std::string t = TierPrefix();
  return {
      {"store", "hot", t + "Store/hot", "BM_MemcpyStore/hot", 0},
      {"load", "hot", t + "Load/hot", "BM_MemcpyLoad/hot", 0},
      {"store", "cold", t + "Store/cold", "BM_MemcpyStore/cold", 1.5},
      {"load", "cold", t + "Load/cold", "BM_MemcpyLoad/cold", 1.3},
  };
}

void RegisterAll() {
  std::vector<int> threads = {1, 2};
  const unsigned hw = std::thread::hardware_concurrency();
  for (int t : {4, 8, 16}) {
    if (hw >= unsigned(t)) threads.push_back(t);
  }
  settings().max_threads = threads.back();
  for (Mem m : {Mem::kHot, Mem::kCold}) {
    for (Op op : {Op::kStore, Op::kLoad}) {
      // Baseline first, then the tier: each pair runs back to back, under the same conditions.
      const std::string suffix = std::string(OpName(op)) + "/" + MemName(m);
      auto* base = benchmark::RegisterBenchmark(
          ("BM_Memcpy" + suffix).c_str(), [op, m](benchmark::State& s) { BM_Memcpy(s, op, m); });
      auto* tier = benchmark::RegisterBenchmark(
          (TierPrefix() + suffix).c_str(), [op, m](benchmark::State& s) { BM_DramTier(s, op, m); });
      for (auto* b : {base, tier}) {
        b->UseManualTime();
        for (int t : threads) b->Threads(t);
      }
    }
  }
  benchmark::RegisterBenchmark("BM_DramTierMetadata/1Mi_pages", BM_DramTierMetadata)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

int Main(int argc, char** argv) {
#ifndef NDEBUG
  std::fprintf(stderr,
               "\n*** WARNING: dram_tier_bench was built without NDEBUG (a Debug build). ***\n"
               "*** Its numbers are not representative; configure with                 ***\n"
               "*** -DCMAKE_BUILD_TYPE=Release before recording results.                ***\n\n");
#endif
  const auto ratio_json = TakeFlag(&argc, argv, "ratio_json");
  const auto cold_mib = TakeFlag(&argc, argv, "cold_footprint_mib");
  const auto hot_kib = TakeFlag(&argc, argv, "hot_footprint_kib");
  const auto headroom = TakeFlag(&argc, argv, "tier_headroom_pct");
  const auto numa_node = TakeFlag(&argc, argv, "numa_node");

  // Read before Initialize, which removes Google Benchmark's flags from argv.
  std::unique_ptr<benchmark::BenchmarkReporter> display = MakeDisplayReporter(argc, argv);
  const bool console = PeekFlag(argc, argv, "benchmark_format").value_or("console") != "json";
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  Settings& s = settings();
  const uint64_t llc = LastLevelCacheBytes();
  // Cold: at least 4x the LLC so that random frames miss it; at least 1 GiB.
  s.cold_bytes = std::max<uint64_t>(1ull << 30, 4 * llc);
  s.cold_bytes = (s.cold_bytes + (256ull << 20) - 1) / (256ull << 20) * (256ull << 20);
  if (cold_mib) {
    auto v = ParsePositive("cold_footprint_mib", *cold_mib);
    if (!v) return std::fprintf(stderr, "%s\n", v.error().message.c_str()), 1;
    s.cold_bytes = *v << 20;
  }
  if (hot_kib) {
    auto v = ParsePositive("hot_footprint_kib", *hot_kib);
    if (!v || *v % 4 != 0) {
      std::fprintf(stderr, "--hot_footprint_kib=%s: expected a positive multiple of 4.\n",
                   hot_kib->c_str());
      return 1;
    }
    s.hot_bytes = *v << 10;
  }
  if (headroom) {
    if (*headroom == "0") {
      s.headroom_pct = 0;
    } else {
      auto v = ParsePositive("tier_headroom_pct", *headroom);
      if (!v) return std::fprintf(stderr, "%s\n", v.error().message.c_str()), 1;
      s.headroom_pct = *v;
    }
  }

  if (numa_node) {
    if (*numa_node == "0") {
      s.numa_node = 0;
    } else {
      auto v = ParsePositive("numa_node", *numa_node);
      if (!v || *v > 4095) {
        std::fprintf(stderr, "--numa_node=%s: expected a NUMA node number (numactl --hardware).\n",
                     numa_node->c_str());
        return 1;
      }
      s.numa_node = int(*v);
    }
  }

  TickClock::Calibrate();
  const double overhead = TickClock::OverheadNs();
  RegisterAll();

  benchmark::AddCustomContext("tierswap_build",
#ifdef NDEBUG
                              "release (NDEBUG)"
#else
                              "DEBUG: not representative"
#endif
  );
  benchmark::AddCustomContext("tier", s.numa_node >= 0
                                          ? "numa on node " + std::to_string(s.numa_node) +
                                                " (the baseline's arena bound there too)"
                                          : "dram (memory where the process's policy puts it)");
  benchmark::AddCustomContext("hot_footprint", MiB(s.hot_bytes));
  benchmark::AddCustomContext("cold_footprint", MiB(s.cold_bytes) + " (LLC " + MiB(llc) + ")");
  benchmark::AddCustomContext("cold_tier_capacity", MiB(TierCapacity(Mem::kCold)));
  benchmark::AddCustomContext("timer", std::string(TickClock::Source()) + ", " +
                                           std::to_string(kBatch) + " ops per timed batch, " +
                                           std::to_string(overhead).substr(0, 5) + " ns per batch");

  RatioReporter reporter(std::move(display));
  benchmark::RunSpecifiedBenchmarks(&reporter);

  // Ratios go to stdout next to the console table, to stderr when stdout carries JSON.
  std::FILE* out = console ? stdout : stderr;
  const std::vector<RatioRow> rows = reporter.Rows(Pairs());
  if (!rows.empty()) {
    PrintRatioTable(out,
                    (s.numa_node >= 0 ? "NUMA tier on node " + std::to_string(s.numa_node) +
                                            " / memcpy on that node"
                                      : std::string("DRAM tier / memcpy")) +
                        ", per-op latency in ns (hot " + MiB(s.hot_bytes) + ", cold " +
                        MiB(s.cold_bytes) + "; targets on cold p50)",
                    rows);
  }
  const auto meta = reporter.Get("BM_DramTierMetadata/1Mi_pages", 1, "metadata_bytes_per_page");
  if (meta) {
    std::fprintf(out, "metadata: %.2f bytes per stored page (%llu pages)\n", *meta,
                 static_cast<unsigned long long>(kMetadataPages));
  }

  if (ratio_json) {
    JsonWriter w(/*pretty=*/true);
    w.BeginObject();
    w.Key("hot_footprint_bytes").Uint(s.hot_bytes);
    w.Key("cold_footprint_bytes").Uint(s.cold_bytes);
    w.Key("cold_tier_capacity_bytes").Uint(TierCapacity(Mem::kCold));
    w.Key("ops_per_timed_batch").Uint(kBatch);
    w.Key("numa_node");
    if (s.numa_node >= 0) {
      w.Int(s.numa_node);
    } else {
      w.Null();
    }
    w.Key("timer").String(TickClock::Source());
    w.Key("timer_overhead_ns_per_batch").Double(overhead);
#ifdef NDEBUG
    w.Key("release_build").Bool(true);
#else
    w.Key("release_build").Bool(false);
#endif
    w.Key("rows");
    WriteRatioRows(w, rows);
    w.Key("metadata_bytes_per_page");
    if (meta) {
      w.Double(*meta);
    } else {
      w.Null();
    }
    w.EndObject();
    std::ofstream f(*ratio_json);
    f << w.str() << "\n";
    if (!f) {
      std::fprintf(stderr, "cannot write the ratio table to %s.\n", ratio_json->c_str());
      return 1;
    }
  }
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace tierswap::bench

int main(int argc, char** argv) { return tierswap::bench::Main(argc, argv); }
