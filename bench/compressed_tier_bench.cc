// Compressed tier benchmark: Store and Load of real pages through CompressedTier, next to the
// raw codec calls on the same pages, in the same order, in the same run.
//
//   BM_Store/<codec>          raw: LZ4_compress_default / ZSTD_compressCCtx into a reused buffer
//                             tier: CompressedTier::Store (compress, allocate, copy, publish)
//   BM_Load/<codec>           raw: LZ4_decompress_safe / ZSTD_decompressDCtx from a copy of the
//                             compressed page kept elsewhere in memory
//                             tier: CompressedTier::Load (lookup, span lock, decompress)
//   BM_StoreRejected/<codec>  both on pages the tier rejects (compressed size above 3/4 of a
//                             page): the corpus's own, topped up with random pages to
//                             kRejectPages. The tier gives the codec only that much room.
//
// Pages: the corpus (--pages=FILE, default the repository's examples/pages/sample-pages.bin.zst:
// real programs' memory, see examples/pages/README.md), decompressed once at startup. Store and
// load use the pages the tier accepts, visited in one fixed random order; the raw decompression
// reads its copies from a buffer laid out in corpus order (so that neither side streams through
// memory), mapped like the tier's frames. The store tier is emptied (untimed) each time the whole
// set has been stored, so stores always fill fresh spans. The tiers run their background compactor,
// as in service.
//
// Timing: a shared 2-vCPU VM drifts by 10-30% from one second to the next, more than the
// difference being measured. So each benchmark iteration times one batch of kBatch pages through
// the raw codec and the same kBatch pages through the tier, back to back, alternating which goes
// first (the second sees the source pages in cache; alternating gives that to each side half of
// the time), each batch timed with steady_clock. Per-page figures are batch time / kBatch, so
// p50/p99 are percentiles of 32-page batch means. After the run, main prints the tier / raw ratio
// of the median and mean per-page time (target: median ratio <= 1.15) and the compression
// figures: orig/compr over the accepted pages, and orig/mem_used (frames actually held) once every
// accepted page is stored.
//
// Flags (besides Google Benchmark's): --pages=FILE, --zstd_level=N (default 1).
#include <benchmark/benchmark.h>
#include <lz4.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tiers/compressed_tier.h"
#include "tiers/frame_arena.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

constexpr size_t kBatch = 32;  // pages per timed batch
constexpr size_t kRing = 8;    // output pages for loads (32 KiB: stays in L1/L2)
constexpr size_t kMaxSamples = size_t{1} << 20;
constexpr size_t kRejectPages = 512;  // incompressible pages for the *Rejected benchmarks

using Clock = std::chrono::steady_clock;

// ---- corpus ------------------------------------------------------------------------------------

std::optional<std::vector<unsigned char>> LoadCorpus(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  const std::vector<char> packed((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
  ZSTD_DStream* ds = ZSTD_createDStream();
  std::vector<unsigned char> out, chunk(ZSTD_DStreamOutSize());
  ZSTD_inBuffer ib{packed.data(), packed.size(), 0};
  bool ok = true;
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    if (ZSTD_isError(ZSTD_decompressStream(ds, &ob, &ib))) {
      ok = false;
      break;
    }
    out.insert(out.end(), chunk.data(), chunk.data() + ob.pos);
  }
  ZSTD_freeDStream(ds);
  if (!ok || out.size() < kPageSize) return std::nullopt;
  out.resize(out.size() / kPageSize * kPageSize);
  return out;
}

struct Corpus {
  std::string path;
  std::vector<unsigned char> bytes;
  size_t pages() const { return bytes.size() / kPageSize; }
  const unsigned char* page(size_t i) const { return bytes.data() + i * kPageSize; }
  // Random pages, numbered after the corpus pages (page(pages() + k) is random page k).
  std::vector<unsigned char> random;
  const unsigned char* any_page(size_t i) const {
    return i < pages() ? page(i) : random.data() + (i - pages()) * kPageSize;
  }
};

void FillRandom(std::vector<unsigned char>* out, size_t pages) {
  std::mt19937_64 rng(7);
  out->resize(pages * kPageSize);
  for (size_t i = 0; i < out->size(); i += 8) {
    const uint64_t w = rng();
    std::memcpy(out->data() + i, &w, 8);
  }
}

Corpus& corpus() {
  static Corpus c;
  return c;
}

// ---- raw codec, the baseline -------------------------------------------------------------------

// The calls a program would make on its own: default LZ4 and a reused zstd context, output
// room for the worst case.
class RawCodec {
 public:
  RawCodec(Codec codec, int level)
      : codec_(codec), level_(level), cctx_(ZSTD_createCCtx()), dctx_(ZSTD_createDCtx()) {}
  ~RawCodec() {
    ZSTD_freeCCtx(cctx_);
    ZSTD_freeDCtx(dctx_);
  }
  RawCodec(const RawCodec&) = delete;
  RawCodec& operator=(const RawCodec&) = delete;

  static size_t Bound() {
    return std::max<size_t>(LZ4_compressBound(kPageSize), ZSTD_compressBound(kPageSize));
  }
  size_t Compress(const void* page, unsigned char* dst) const {
    if (codec_ == Codec::kLz4) {
      return size_t(LZ4_compress_default(static_cast<const char*>(page),
                                         reinterpret_cast<char*>(dst), kPageSize, int(Bound())));
    }
    const size_t r = ZSTD_compressCCtx(cctx_, dst, Bound(), page, kPageSize, level_);
    return ZSTD_isError(r) ? 0 : r;
  }
  bool Decompress(const unsigned char* src, size_t size, void* page) const {
    if (codec_ == Codec::kLz4) {
      return LZ4_decompress_safe(reinterpret_cast<const char*>(src), static_cast<char*>(page),
                                 int(size), kPageSize) == int(kPageSize);
    }
    return ZSTD_decompressDCtx(dctx_, page, kPageSize, src, size) == kPageSize;
  }

 private:
  const Codec codec_;
  const int level_;
  ZSTD_CCtx* const cctx_;
  ZSTD_DCtx* const dctx_;
};

// ---- per-codec state, built once before any benchmark runs -------------------------------------

struct CodecCase {
  CodecCase(std::string l, Codec c, int lv) : label(std::move(l)), codec(c), level(lv) {}
  std::string label;  // "lz4", "zstd-1"
  Codec codec;
  int level;

  std::vector<uint32_t> accepted;  // corpus pages the tier takes, in a fixed random order
  std::vector<uint32_t> rejected;  // ... and those it refuses
  std::unique_ptr<CompressedTier> load_tier;   // holds every accepted page
  std::vector<TierHandle> load_handles;        // parallel to `accepted`
  std::unique_ptr<CompressedTier> store_tier;  // filled and emptied by BM_TierStore
  std::vector<TierHandle> store_handles;
  // Raw compressed copies of every corpus page, packed end to end in corpus order, in the same
  // kind of memory as the tier's frames (a pre-faulted FrameArena, on huge pages where the
  // kernel gives them), so that the load comparison is not one of TLB reach.
  FrameArena packed_arena;
  const unsigned char* packed = nullptr;
  std::vector<std::pair<size_t, size_t>> packed_at;  // (offset, size) parallel to `accepted`

  // Compression figures.
  uint64_t raw_corpus_compr = 0;  // raw codec over the whole corpus
  uint64_t orig = 0, compr = 0, mem_used = 0, metadata = 0;
  double churn_used_over_compr = 0;  // mem_used/compr after freeing half and compacting
};

std::vector<std::unique_ptr<CodecCase>>& cases() {
  static std::vector<std::unique_ptr<CodecCase>> c;
  return c;
}

std::unique_ptr<CompressedTier> OpenTier(const CodecCase& c, uint64_t pages) {
  CompressedTierOptions o;
  o.name = "bench-" + c.label;
  o.codec = c.codec;
  o.level = c.level;
  // Room for every page uncompressed, plus span slack: never kNoSpace here.
  o.capacity_bytes = (pages + 1024) * kPageSize;
  auto t = CompressedTier::Open(o);
  if (!t) {
    std::fprintf(stderr, "%s\n", t.error().message.c_str());
    std::exit(1);
  }
  return std::move(t).value();
}

void Prepare(CodecCase& c) {
  const Corpus& k = corpus();
  const RawCodec raw(c.codec, c.level);
  std::vector<unsigned char> buf(RawCodec::Bound());
  for (size_t i = 0; i < k.pages(); ++i) c.raw_corpus_compr += raw.Compress(k.page(i), buf.data());

  // Which pages does the tier accept? Ask it.
  c.load_tier = OpenTier(c, k.pages());
  std::vector<uint32_t> order(k.pages());
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937_64 rng(42);
  std::shuffle(order.begin(), order.end(), rng);
  for (uint32_t i : order) {
    TierHandle h;
    const Status s = c.load_tier->Store(k.page(i), &h);
    if (s == Status::kOk) {
      c.accepted.push_back(i);
      c.load_handles.push_back(h);
    } else if (s == Status::kRejected) {
      c.rejected.push_back(i);
    } else {
      std::fprintf(stderr, "unexpected store status %s\n", StatusName(s));
      std::exit(1);
    }
  }
  // Top the rejected set up with random pages (real memory has few that do not compress).
  for (size_t r = 0; c.rejected.size() < kRejectPages; ++r) {
    c.rejected.push_back(static_cast<uint32_t>(k.pages() + r));
  }
  c.orig = c.load_tier->orig_bytes();
  c.compr = c.load_tier->compr_bytes();
  c.mem_used = c.load_tier->mem_used_bytes();
  c.metadata = c.load_tier->MetadataBytes();

  // The compacted figure: after freeing a random half and compacting (churn leaves spans part
  // empty). Measured on a separate tier so that the load tier keeps every page.
  {
    auto churn = OpenTier(c, k.pages());
    std::vector<TierHandle> hs;
    for (uint32_t i : c.accepted) {
      TierHandle h;
      if (churn->Store(k.page(i), &h) == Status::kOk) hs.push_back(h);
    }
    for (size_t j = 0; j < hs.size(); j += 2) churn->Free(hs[j]);
    churn->Compact();
    c.churn_used_over_compr = double(churn->mem_used_bytes()) / double(churn->compr_bytes());
  }

  std::vector<unsigned char> packed;
  std::vector<std::pair<size_t, size_t>> at(k.pages());
  for (size_t i = 0; i < k.pages(); ++i) {
    const size_t n = raw.Compress(k.page(i), buf.data());
    at[i] = {packed.size(), n};
    packed.insert(packed.end(), buf.data(), buf.data() + n);
  }
  for (uint32_t i : c.accepted) c.packed_at.push_back(at[i]);
  auto arena = FrameArena::Map((packed.size() + kPageSize - 1) / kPageSize * kPageSize,
                               /*prefault=*/true, "benchmark packed pages");
  if (!arena) {
    std::fprintf(stderr, "%s\n", arena.error().message.c_str());
    std::exit(1);
  }
  c.packed_arena = std::move(arena).value();
  std::memcpy(c.packed_arena.base(), packed.data(), packed.size());
  c.packed = c.packed_arena.base();
  c.store_tier = OpenTier(c, k.pages());
  c.store_handles.reserve(c.accepted.size());
}

// ---- timing ------------------------------------------------------------------------------------

// Per-batch times of one side (raw or tier) of one benchmark run.
class BatchTimes {
 public:
  BatchTimes() { ns_.reserve(4096); }
  void Add(double ns) {
    total_ns_ += ns;
    ++batches_;
    if (ns_.size() < kMaxSamples) ns_.push_back(ns);
  }
  // Sets <prefix>mean_ns, <prefix>p50_ns, <prefix>p99_ns (per page); returns p50.
  double Report(benchmark::State& state, const std::string& prefix) {
    if (batches_ == 0) return 0;
    std::sort(ns_.begin(), ns_.end());
    const double p50 = ns_[ns_.size() / 2] / double(kBatch);
    state.counters[prefix + "mean_ns"] = total_ns_ / double(batches_ * kBatch);
    state.counters[prefix + "p50_ns"] = p50;
    state.counters[prefix + "p99_ns"] = ns_[ns_.size() * 99 / 100] / double(kBatch);
    return p50;
  }
  uint64_t pages() const { return batches_ * kBatch; }

 private:
  std::vector<double> ns_;
  double total_ns_ = 0;
  uint64_t batches_ = 0;
};

// Each iteration: `raw(j)` and `tier(j)` for the next kBatch positions j of the set, as two
// separately timed batches in alternating order. `before_wrap` runs (untimed) before the
// positions start over.
template <typename Raw, typename TierOp, typename Wrap>
void RunPaired(benchmark::State& state, size_t set_size, Raw raw, TierOp tier, Wrap before_wrap) {
  if (set_size < kBatch) {
    state.SkipWithError("fewer pages than one batch");
    return;
  }
  BatchTimes raw_times, tier_times;
  size_t pos = 0;
  bool raw_first = true;
  auto timed = [&](auto& body) {
    const auto t0 = Clock::now();
    for (size_t j = 0; j < kBatch; ++j) body(pos + j);
    const auto t1 = Clock::now();
    return double(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  };
  for (auto _ : state) {
    if (pos + kBatch > set_size) {
      before_wrap();
      pos = 0;
    }
    double raw_ns, tier_ns;
    if (raw_first) {
      raw_ns = timed(raw);
      tier_ns = timed(tier);
    } else {
      tier_ns = timed(tier);
      raw_ns = timed(raw);
    }
    raw_first = !raw_first;
    pos += kBatch;
    raw_times.Add(raw_ns);
    tier_times.Add(tier_ns);
    state.SetIterationTime((raw_ns + tier_ns) * 1e-9);
  }
  const double raw_p50 = raw_times.Report(state, "raw_");
  const double tier_p50 = tier_times.Report(state, "tier_");
  state.counters["ratio_p50"] = raw_p50 > 0 ? tier_p50 / raw_p50 : 0;
  state.SetItemsProcessed(int64_t(raw_times.pages() + tier_times.pages()));
}

void BM_Store(benchmark::State& state, CodecCase* c, bool rejected) {
  const RawCodec raw(c->codec, c->level);
  std::vector<unsigned char> dst(RawCodec::Bound());
  CompressedTier& tier = *c->store_tier;
  auto& handles = c->store_handles;
  const auto& set = rejected ? c->rejected : c->accepted;
  size_t sink = 0;
  uint64_t refused = 0;
  auto empty = [&] {
    for (TierHandle h : handles) tier.Free(h);
    handles.clear();
  };
  RunPaired(
      state, set.size(),
      [&](size_t j) { sink += raw.Compress(corpus().any_page(set[j]), dst.data()); },
      [&](size_t j) {
        TierHandle h;
        if (tier.Store(corpus().any_page(set[j]), &h) == Status::kOk) {
          handles.push_back(h);  // reserved for the whole set: no allocation
        } else {
          ++refused;
        }
      },
      empty);
  empty();
  benchmark::DoNotOptimize(sink);
  if (!rejected && refused != 0) state.SkipWithError("an accepted page was refused");
  if (rejected && refused == 0) state.SkipWithError("a rejected page was accepted");
}

void BM_Load(benchmark::State& state, CodecCase* c) {
  const RawCodec raw(c->codec, c->level);
  CompressedTier& tier = *c->load_tier;
  alignas(64) static unsigned char out[kRing][kPageSize];
  uint64_t bad = 0;
  RunPaired(
      state, c->accepted.size(),
      [&](size_t j) {
        const auto [off, n] = c->packed_at[j];
        bad += !raw.Decompress(c->packed + off, n, out[j % kRing]);
      },
      [&](size_t j) { bad += tier.Load(c->load_handles[j], out[j % kRing]) != Status::kOk; },
      [] {});
  if (bad != 0) state.SkipWithError("a load or decompression failed");
}

// ---- results -----------------------------------------------------------------------------------

// Console output as usual, plus every run's counters kept for the ratio table.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(OutputOptions options) : ConsoleReporter(options) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      // Repetitions: every iteration run, or (--benchmark_report_aggregates_only) the median.
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.run_type != Run::RT_Iteration && !median) continue;
      auto& f = (median ? medians_ : figures_)[r.run_name.function_name + "/" + r.run_name.args];
      for (const auto& [name, counter] : r.counters) f[name].push_back(counter.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Median over repetitions of counter `name` of benchmark `bench` ("BM_Load/lz4/").
  std::optional<double> Get(const std::string& bench, const std::string& name) const {
    for (const Figures* figures : {&figures_, &medians_}) {
      const auto it = figures->find(bench);
      if (it == figures->end()) continue;
      const auto c = it->second.find(name);
      if (c == it->second.end() || c->second.empty()) continue;
      std::vector<double> v = c->second;
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    }
    return std::nullopt;
  }

 private:
  using Figures = std::map<std::string, std::map<std::string, std::vector<double>>>;
  Figures figures_, medians_;
};

void PrintRatios(const CollectingReporter& rep) {
  constexpr double kTarget = 1.15;
  std::printf(
      "\nCompressedTier / raw codec, per page in ns (target: tier/raw p50 <= %.2f; means carry\n"
      "the scheduler's preemptions on a shared VM)\n",
      kTarget);
  std::printf("%-8s %-15s | %9s %9s %6s | %9s %9s %6s | %s\n", "codec", "op", "raw p50", "tier p50",
              "ratio", "raw mean", "tier mean", "ratio", "target");
  struct Row {
    const char* op;
    const char* bench;
    bool target;
  };
  const Row rows[] = {{"store", "BM_Store", true},
                      {"load", "BM_Load", true},
                      {"store rejected", "BM_StoreRejected", false}};
  for (const auto& c : cases()) {
    for (const Row& r : rows) {
      const std::string b = std::string(r.bench) + "/" + c->label + "/";
      const auto r50 = rep.Get(b, "raw_p50_ns"), t50 = rep.Get(b, "tier_p50_ns");
      const auto rm = rep.Get(b, "raw_mean_ns"), tm = rep.Get(b, "tier_mean_ns");
      if (!r50 || !t50 || !rm || !tm) continue;
      const double ratio = *t50 / *r50;
      std::printf("%-8s %-15s | %9.1f %9.1f %6.3f | %9.1f %9.1f %6.3f | %s\n", c->label.c_str(),
                  r.op, *r50, *t50, ratio, *rm, *tm, *tm / *rm,
                  !r.target          ? "-"
                  : ratio <= kTarget ? "met"
                                     : "MISSED");
    }
  }
  std::printf("\nCompression over the corpus (%zu pages, %s)\n", corpus().pages(),
              corpus().path.c_str());
  std::printf("%-8s %9s %9s | %11s %13s %13s | %14s %13s\n", "codec", "accepted", "rejected",
              "raw ratio", "tier ratio", "orig/mem_used", "mem_used/compr", "after churn");
  for (const auto& c : cases()) {
    const double raw_ratio = double(corpus().bytes.size()) / double(c->raw_corpus_compr);
    std::printf("%-8s %9zu %9zu | %11.3f %13.3f %13.3f | %14.3f %13.3f\n", c->label.c_str(),
                c->accepted.size(), c->rejected.size(), raw_ratio,
                double(c->orig) / double(c->compr), double(c->orig) / double(c->mem_used),
                double(c->mem_used) / double(c->compr), c->churn_used_over_compr);
  }
  std::printf(
      "raw ratio: all corpus pages / raw codec output. tier ratio: orig/compr of the accepted\n"
      "pages. after churn: mem_used/compr once a random half was freed and Compact() ran.\n");
  for (const auto& c : cases()) {
    std::printf("metadata (%s, all accepted pages stored): %.1f bytes per page\n", c->label.c_str(),
                double(c->metadata) / double(c->accepted.size()));
  }
  std::fflush(stdout);
}

std::optional<std::string> TakeFlag(int* argc, char** argv, std::string_view name) {
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

int Main(int argc, char** argv) {
#if !defined(NDEBUG) || !defined(__OPTIMIZE__)
  std::fprintf(stderr,
               "\n*** WARNING: compressed_tier_bench was built without optimisation or with "
               "assertions; configure with -DCMAKE_BUILD_TYPE=Release before recording. ***\n\n");
#endif
  const auto pages_flag = TakeFlag(&argc, argv, "pages");
  const auto level_flag = TakeFlag(&argc, argv, "zstd_level");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::string path = pages_flag ? *pages_flag : TIERSWAP_DEFAULT_PAGES;
  if (auto bytes = LoadCorpus(path)) {
    corpus().path = path;
    corpus().bytes = std::move(*bytes);
  }
  if (corpus().bytes.empty()) {
    std::fprintf(stderr, "no page corpus at %s; pass --pages=FILE.zst\n", path.c_str());
    return 1;
  }
  FillRandom(&corpus().random, kRejectPages);
  const int zstd_level = level_flag ? std::atoi(level_flag->c_str()) : 1;

  cases().push_back(std::make_unique<CodecCase>("lz4", Codec::kLz4, 1));
  cases().push_back(
      std::make_unique<CodecCase>("zstd-" + std::to_string(zstd_level), Codec::kZstd, zstd_level));
  for (auto& c : cases()) Prepare(*c);

  for (auto& c : cases()) {
    CodecCase* p = c.get();
    const std::string s = "/" + c->label;
    benchmark::RegisterBenchmark(("BM_Store" + s).c_str(), BM_Store, p, false)->UseManualTime();
    benchmark::RegisterBenchmark(("BM_Load" + s).c_str(), BM_Load, p)->UseManualTime();
    benchmark::RegisterBenchmark(("BM_StoreRejected" + s).c_str(), BM_Store, p, true)
        ->UseManualTime();
  }
  benchmark::AddCustomContext("corpus",
                              corpus().path + " (" + std::to_string(corpus().pages()) + " pages)");
  benchmark::AddCustomContext("timer", "steady_clock, " + std::to_string(kBatch) +
                                           " pages per timed batch, raw and tier alternating");
  // RunSpecifiedBenchmarks ignores --benchmark_color once a reporter is passed in: honour it.
  std::string color = "auto";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.substr(0, 18) == "--benchmark_color=") color = std::string(arg.substr(18));
  }
  const bool use_color =
      color == "true" || color == "yes" || (color == "auto" && isatty(STDOUT_FILENO) != 0);
  CollectingReporter reporter(use_color ? benchmark::ConsoleReporter::OO_Defaults
                                        : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  PrintRatios(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace tierswap

int main(int argc, char** argv) { return tierswap::Main(argc, argv); }
