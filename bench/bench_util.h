// Helpers shared by the tier benchmarks: a cycle-counter clock, random page contents and orders,
// command-line flags of our own, and a reporter that prints each tier benchmark as a ratio to its
// memcpy baseline from the same run.
//
// Why per-operation latency and not only Google Benchmark's time per iteration: the question a
// tier answers is "how much slower than copying the page myself", and that is a median-latency
// question; a mean hides a slow tail and a fast majority alike. Each thread therefore keeps a
// histogram of batch latencies and reports p50/p99 per operation as counters.
//
// Thread-safety: PageBuffers, and the LatencyHistogram (tiers/latency_histogram.h) of a timed
// loop, belong to one benchmark thread each;
// TickClock is immutable after Calibrate (called once, in main, before any benchmark runs);
// RatioReporter is driven by Google Benchmark's single reporting thread.
#ifndef TIERSWAP_BENCH_BENCH_UTIL_H_
#define TIERSWAP_BENCH_BENCH_UTIL_H_

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TIERSWAP_BENCH_HAVE_TSC 1
#else
#define TIERSWAP_BENCH_HAVE_TSC 0
#endif

#include "frontend/json_writer.h"
#include "tiers/frame_arena.h"
#include "tiers/latency_histogram.h"
#include "tiers/page.h"
#include "tiers/page_content.h"
#include "tiers/result.h"

namespace tierswap::bench {

// ---- clock -------------------------------------------------------------------------------------

// Reads the time stamp counter (x86) or steady_clock (elsewhere) in "ticks". On x86 this is an
// rdtsc fenced with lfence on both sides, so the timed operations cannot move across it; no
// system call and no vDSO arithmetic. OverheadNs() measures what a Begin/End pair costs.
class TickClock {
 public:
  static uint64_t Begin() {
#if TIERSWAP_BENCH_HAVE_TSC
    _mm_lfence();
    const uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
#else
    return SteadyNs();
#endif
  }
  static uint64_t End() {
#if TIERSWAP_BENCH_HAVE_TSC
    unsigned aux;
    // rdtscp waits until every earlier instruction has executed.
    const uint64_t t = __rdtscp(&aux);
    _mm_lfence();
    return t;
#else
    return SteadyNs();
#endif
  }

  // Measures ticks per nanosecond against steady_clock (about 100 ms of spinning). The TSC of
  // every x86 CPU this runs on is invariant (constant_tsc, nonstop_tsc), so one figure holds.
  static void Calibrate() {
#if TIERSWAP_BENCH_HAVE_TSC
    const uint64_t ns0 = SteadyNs();
    const uint64_t t0 = Begin();
    while (SteadyNs() - ns0 < 100'000'000) {
    }
    const uint64_t ns1 = SteadyNs();
    const uint64_t t1 = End();
    NsPerTickRef() = double(ns1 - ns0) / double(t1 - t0);
#else
    NsPerTickRef() = 1.0;
#endif
  }
  static double NsPerTick() { return NsPerTickRef(); }
  static double SecondsPerTick() { return NsPerTickRef() * 1e-9; }
  static const char* Source() { return TIERSWAP_BENCH_HAVE_TSC ? "rdtsc" : "steady_clock"; }

  // Median cost of one Begin/End pair around nothing, in ns: the clock's own overhead, which
  // every timed batch includes once.
  static double OverheadNs() {
    std::vector<uint64_t> d(10001);
    for (auto& x : d) {
      const uint64_t t0 = Begin();
      x = End() - t0;
    }
    std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
    return double(d[d.size() / 2]) * NsPerTick();
  }

 private:
  static uint64_t SteadyNs() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
  }
  static double& NsPerTickRef() {
    static double ns_per_tick = 1.0;
    return ns_per_tick;
  }
};

// ---- page contents and orders ------------------------------------------------------------------

// A few pre-touched 4 KiB buffers (the "guest pages" a store copies from or a load copies into),
// in the same kind of memory as a tier's arena.
class PageBuffers {
 public:
  // Maps `count` pages; with `seed` set, fills each with distinct random bytes.
  static Result<PageBuffers> Make(size_t count, std::optional<uint64_t> seed) {
    auto arena = FrameArena::Map(count * kPageSize, /*prefault=*/true, "benchmark page buffers");
    if (!arena) return arena.take_error();
    PageBuffers b(std::move(arena).value(), count);
    for (size_t i = 0; i < count; ++i) {
      if (seed) {
        FillRandomPage(b.page(i), *seed + i);
      } else {
        std::memset(b.page(i), 0x5A, kPageSize);
      }
    }
    return b;
  }
  unsigned char* page(size_t i) const { return arena_.frame(static_cast<uint32_t>(i)); }
  size_t count() const { return count_; }

 private:
  PageBuffers(FrameArena arena, size_t count) : arena_(std::move(arena)), count_(count) {}
  FrameArena arena_;
  size_t count_;
};

// The offsets [first, first + count) in a random order fixed by `seed`, repeated whole until
// the length is a multiple of `batch` so that a batch never wraps.
inline std::vector<uint32_t> RandomOrder(uint64_t first, uint64_t count, size_t batch,
                                         uint64_t seed) {
  std::vector<uint32_t> perm(count);
  std::iota(perm.begin(), perm.end(), static_cast<uint32_t>(first));
  std::mt19937_64 rng(seed);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<uint32_t> order = perm;
  while (order.size() % batch != 0) order.insert(order.end(), perm.begin(), perm.end());
  return order;
}

// ---- machine facts -----------------------------------------------------------------------------

// Bytes of the largest data or unified cache Google Benchmark found (the LLC), or 0.
inline uint64_t LastLevelCacheBytes() {
  uint64_t best = 0;
  for (const auto& c : benchmark::CPUInfo::Get().caches) {
    if (c.type == "Instruction") continue;
    best = std::max<uint64_t>(best, uint64_t(c.size));
  }
  return best;
}

inline std::string MiB(uint64_t bytes) {
  char buf[48];
  if (bytes % (1u << 20) == 0) {
    std::snprintf(buf, sizeof(buf), "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
  } else {
    std::snprintf(buf, sizeof(buf), "%llu KiB", static_cast<unsigned long long>(bytes >> 10));
  }
  return buf;
}

// ---- flags of our own --------------------------------------------------------------------------

// Removes `--name=value` from argv (so that benchmark::Initialize does not reject it) and
// returns the value of the last occurrence.
inline std::optional<std::string> TakeFlag(int* argc, char** argv, std::string_view name) {
  const std::string prefix = "--" + std::string(name) + "=";
  std::optional<std::string> value;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.substr(0, prefix.size()) == prefix) {
      value = std::string(arg.substr(prefix.size()));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = nullptr;
  return value;
}

// The value of `--name=value` without removing it (for Google Benchmark's own flags).
inline std::optional<std::string> PeekFlag(int argc, char** argv, std::string_view name) {
  const std::string prefix = "--" + std::string(name) + "=";
  std::optional<std::string> value;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.substr(0, prefix.size()) == prefix) value = std::string(arg.substr(prefix.size()));
  }
  return value;
}

// Parses a positive integer flag value; an error names the flag and the value.
inline Result<uint64_t> ParsePositive(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || v == 0) {
    return MakeError(Status::kInvalidArgument,
                     "--" + std::string(flag) + "=" + text + ": expected a positive integer.");
  }
  return uint64_t(v);
}

// ---- ratio reporting ---------------------------------------------------------------------------

// One row of the ratio table: a benchmark measured against its baseline, both from this run.
struct RatioPair {
  std::string op;         // "store", "load"
  std::string footprint;  // "hot", "cold"
  std::string candidate;  // function name, e.g. "BM_DramTierStore/cold"
  std::string baseline;   // function name, e.g. "BM_MemcpyStore/cold"
  double target = 0;      // the ratio p50 must not exceed; 0: none
};

struct RatioRow {
  RatioPair pair;
  int64_t threads = 1;
  double base_p50 = 0, cand_p50 = 0, base_p99 = 0, cand_p99 = 0, base_mean = 0, cand_mean = 0;
  double p50_ratio() const { return base_p50 > 0 ? cand_p50 / base_p50 : 0; }
  double mean_ratio() const { return base_mean > 0 ? cand_mean / base_mean : 0; }
  bool meets_target() const { return pair.target <= 0 || p50_ratio() <= pair.target; }
};

// Wraps the reporter the user asked for (console, JSON or CSV) and keeps every run's counters,
// so that main can print candidate/baseline ratios after the last benchmark. With repetitions,
// a figure is the median of its repetitions.
class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RatioReporter(std::unique_ptr<benchmark::BenchmarkReporter> inner)
      : inner_(std::move(inner)) {}

  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // Iteration runs; with --benchmark_report_aggregates_only only aggregates arrive, and
      // then the "median" aggregate stands in for them.
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type != Run::RT_Iteration && !median) continue;
      Figures& f = (median ? medians_ : runs_)[{r.run_name.function_name, r.threads}];
      for (const auto& [name, counter] : r.counters) f[name].push_back(counter.value);
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }

  // The median over repetitions of counter `name` of (function, threads), if it ran.
  std::optional<double> Get(const std::string& function, int64_t threads,
                            const std::string& name) const {
    auto it = runs_.find({function, threads});
    if (it == runs_.end()) {
      it = medians_.find({function, threads});
      if (it == medians_.end()) return std::nullopt;
    }
    const auto c = it->second.find(name);
    if (c == it->second.end() || c->second.empty()) return std::nullopt;
    std::vector<double> v = c->second;
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }

  // Rows for every pair and thread count for which both sides ran, in the pairs' order.
  std::vector<RatioRow> Rows(const std::vector<RatioPair>& pairs) const {
    std::vector<RatioRow> rows;
    std::vector<std::pair<std::string, int64_t>> keys;
    for (const auto* m : {&runs_, &medians_}) {
      for (const auto& entry : *m) {
        if (std::find(keys.begin(), keys.end(), entry.first) == keys.end()) {
          keys.push_back(entry.first);
        }
      }
    }
    std::sort(keys.begin(), keys.end());
    for (const RatioPair& p : pairs) {
      for (const auto& key : keys) {
        if (key.first != p.candidate) continue;
        RatioRow row;
        row.pair = p;
        row.threads = key.second;
        const auto bp50 = Get(p.baseline, key.second, "p50_ns");
        const auto cp50 = Get(p.candidate, key.second, "p50_ns");
        if (!bp50 || !cp50) continue;
        row.base_p50 = *bp50;
        row.cand_p50 = *cp50;
        row.base_p99 = Get(p.baseline, key.second, "p99_ns").value_or(0);
        row.cand_p99 = Get(p.candidate, key.second, "p99_ns").value_or(0);
        row.base_mean = Get(p.baseline, key.second, "mean_ns").value_or(0);
        row.cand_mean = Get(p.candidate, key.second, "mean_ns").value_or(0);
        rows.push_back(row);
      }
    }
    return rows;
  }

 private:
  using Figures = std::map<std::string, std::vector<double>>;
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::pair<std::string, int64_t>, Figures> runs_;
  std::map<std::pair<std::string, int64_t>, Figures> medians_;
};

// The display reporter Google Benchmark would have built from --benchmark_format and
// --benchmark_color (RunSpecifiedBenchmarks ignores those flags once a reporter is passed in).
// CSV, deprecated in Google Benchmark, is not offered: "csv" falls back to the console.
// Call before benchmark::Initialize, which removes the flags it knows from argv.
inline std::unique_ptr<benchmark::BenchmarkReporter> MakeDisplayReporter(int argc, char** argv) {
  const std::string format = PeekFlag(argc, argv, "benchmark_format").value_or("console");
  if (format == "json") return std::make_unique<benchmark::JSONReporter>();
  const std::string color = PeekFlag(argc, argv, "benchmark_color").value_or("auto");
  const bool use_color =
      color == "true" || color == "yes" || (color == "auto" && isatty(STDOUT_FILENO) != 0);
  const std::string tabular = PeekFlag(argc, argv, "benchmark_counters_tabular").value_or("false");
  int opts = benchmark::ConsoleReporter::OO_None;
  if (use_color) opts |= benchmark::ConsoleReporter::OO_Color;
  if (tabular == "true") opts |= benchmark::ConsoleReporter::OO_Tabular;
  return std::make_unique<benchmark::ConsoleReporter>(
      static_cast<benchmark::ConsoleReporter::OutputOptions>(opts));
}

// Prints the ratio table; `title` heads it.
inline void PrintRatioTable(std::FILE* out, const std::string& title,
                            const std::vector<RatioRow>& rows) {
  std::fprintf(out, "\n%s\n", title.c_str());
  std::fprintf(out, "%-6s %-5s %7s | %9s %9s %6s | %9s %9s %6s | %9s %9s | %s\n", "op", "mem",
               "threads", "base p50", "tier p50", "ratio", "base mean", "tier mean", "ratio",
               "base p99", "tier p99", "target");
  for (const RatioRow& r : rows) {
    char target[32] = "-";
    if (r.pair.target > 0) {
      std::snprintf(target, sizeof(target), "<= %.2f %s", r.pair.target,
                    r.meets_target() ? "met" : "MISSED");
    }
    std::fprintf(out,
                 "%-6s %-5s %7lld | %9.1f %9.1f %6.2f | %9.1f %9.1f %6.2f | %9.1f %9.1f | %s\n",
                 r.pair.op.c_str(), r.pair.footprint.c_str(), static_cast<long long>(r.threads),
                 r.base_p50, r.cand_p50, r.p50_ratio(), r.base_mean, r.cand_mean, r.mean_ratio(),
                 r.base_p99, r.cand_p99, target);
  }
  std::fflush(out);
}

// Appends the rows to a JSON writer as an array value.
inline void WriteRatioRows(JsonWriter& w, const std::vector<RatioRow>& rows) {
  w.BeginArray();
  for (const RatioRow& r : rows) {
    w.BeginObject();
    w.Key("op").String(r.pair.op);
    w.Key("footprint").String(r.pair.footprint);
    w.Key("threads").Int(r.threads);
    w.Key("candidate").String(r.pair.candidate);
    w.Key("baseline").String(r.pair.baseline);
    w.Key("baseline_p50_ns").Double(r.base_p50);
    w.Key("candidate_p50_ns").Double(r.cand_p50);
    w.Key("p50_ratio").Double(r.p50_ratio());
    w.Key("baseline_p99_ns").Double(r.base_p99);
    w.Key("candidate_p99_ns").Double(r.cand_p99);
    w.Key("baseline_mean_ns").Double(r.base_mean);
    w.Key("candidate_mean_ns").Double(r.cand_mean);
    w.Key("mean_ratio").Double(r.mean_ratio());
    if (r.pair.target > 0) {
      w.Key("target_p50_ratio").Double(r.pair.target);
      w.Key("meets_target").Bool(r.meets_target());
    } else {
      w.Key("target_p50_ratio").Null();
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace tierswap::bench

#endif  // TIERSWAP_BENCH_BENCH_UTIL_H_
