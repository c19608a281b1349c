// Tests for trace replay: traces replayed against a real Backend on real DRAM tiers, the
// reference model's verdicts (including faults injected by a tier that corrupts or fails
// loads), page corpora, generated contents and the load-latency histogram.
#include "frontend/replay.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "frontend/page_corpus.h"
#include "frontend/trace_reader.h"
#include "placement/backend.h"
#include "tiers/dram_tier.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

// Wraps a DramTier and breaks every `every`-th successful load in the way `fault` says.
class FaultyTier final : public Tier {
 public:
  enum class Fault { kNone, kFlipByte, kIoError };

  FaultyTier(std::unique_ptr<Tier> inner, Fault fault, uint64_t every)
      : Tier("faulty", TierKind::kDram), inner_(std::move(inner)), fault_(fault), every_(every) {}

 protected:
  Status DoStore(const void* page, TierHandle* handle) override {
    return inner_->Store(page, handle);
  }
  Status DoLoad(TierHandle handle, void* page) override {
    alignas(64) unsigned char tmp[kPageSize];
    const Status s = inner_->Load(handle, tmp);
    if (s != Status::kOk) return s;
    if (fault_ != Fault::kNone && ++loads_ % every_ == 0) {
      if (fault_ == Fault::kIoError) return Status::kIoError;  // page untouched, as promised
      tmp[1234] ^= 0x10;
    }
    std::memcpy(page, tmp, kPageSize);
    return Status::kOk;
  }
  void DoFree(TierHandle handle) override { inner_->Free(handle); }
  uint64_t DoCapacityBytes() const override { return inner_->capacity_bytes(); }
  uint64_t DoUsedBytes() const override { return inner_->used_bytes(); }

 private:
  std::unique_ptr<Tier> inner_;
  const Fault fault_;
  const uint64_t every_;
  uint64_t loads_ = 0;
};

std::unique_ptr<Backend> MakeBackend(uint64_t capacity_pages, bool exclusive = false,
                                     FaultyTier::Fault fault = FaultyTier::Fault::kNone,
                                     uint64_t every = 1) {
  DramTierOptions o;
  o.name = "dram";
  o.capacity_bytes = capacity_pages * kPageSize;
  o.prefault = false;
  Result<std::unique_ptr<DramTier>> dram = DramTier::Open(o);
  EXPECT_TRUE(dram.ok()) << dram.error().message;
  std::vector<std::unique_ptr<Tier>> tiers;
  if (fault == FaultyTier::Fault::kNone) {
    tiers.push_back(std::move(*dram));
  } else {
    tiers.push_back(std::make_unique<FaultyTier>(std::move(*dram), fault, every));
  }
  BackendOptions bo;
  bo.exclusive_loads = exclusive;
  Result<std::unique_ptr<Backend>> b = Backend::Open(std::move(tiers), bo);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return std::move(*b);
}

Result<ReplayResult> ReplayText(Backend& backend, std::string text,
                                const PageCorpus* corpus = nullptr, size_t max_reports = 10) {
  TraceReader reader(InputStream::FromMemory(std::move(text), "t.trace"));
  ReplayOptions options;
  options.corpus = corpus;
  options.max_mismatch_reports = max_reports;
  return Replay(backend, reader, options);
}

// A corpus of `n` distinct, non-same-filled pages (page k starts with k, then a pattern).
PageCorpus MakeCorpus(size_t n, bool compress = false) {
  std::string data(n * kPageSize, '\0');
  for (size_t k = 0; k < n; ++k) {
    for (size_t i = 0; i < kPageSize; ++i) {
      data[k * kPageSize + i] = static_cast<char>((k * 131 + i * 7) ^ (i >> 5));
    }
  }
  if (compress) {
    std::string z(ZSTD_compressBound(data.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 3));
    data = std::move(z);
  }
  auto in = InputStream::FromMemory(std::move(data), "corpus.bin");
  Result<PageCorpus> c = PageCorpus::Load(*in);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(*c);
}

// Every store's page, loads of all of them, duplicates, invalidations and an area
// invalidation: a workload far larger than the tier.
std::string BusyTrace(int slots) {
  std::string t = "# busy\nN 0 0\nN 5 4096\n";
  for (int i = 0; i < slots; ++i) t += "S 0 " + std::to_string(i) + "\n";
  for (int i = 0; i < slots; ++i) t += "L 0 " + std::to_string(i) + "\n";
  for (int i = 0; i < slots; i += 2) t += "S 0 " + std::to_string(i) + "\n";  // duplicates
  for (int i = 0; i < slots; i += 5) t += "I 0 " + std::to_string(i) + "\n";
  for (int i = 0; i < slots; ++i) t += "S 5 " + std::to_string(i * 3) + "\n";
  for (int i = 0; i < slots; ++i) t += "L 0 " + std::to_string(i) + "\n";
  t += "A 5\n";
  for (int i = 0; i < 8; ++i) t += "L 5 " + std::to_string(i * 3) + "\n";
  t += "N 5 4096\n";
  for (int i = 0; i < slots; ++i) t += "L 5 " + std::to_string(i * 3) + "\n";
  return t;
}

TEST(ReplayTest, CountsEveryKindOfAnswerOnASmallTrace) {
  auto backend = MakeBackend(64);
  Result<ReplayResult> r = ReplayText(*backend,
                                      "N 0 16\n"
                                      "S 0 1\n"
                                      "S 0 2\n"
                                      "L 0 1   # hit\n"
                                      "L 0 3   # never stored: miss\n"
                                      "I 0 1\n"
                                      "L 0 1   # invalidated: miss\n"
                                      "L 1 0   # type 1 not initialised\n"
                                      "S 1 0   # refused: not initialised\n"
                                      "S 0 99  # refused: past nr_pages\n"
                                      "L 0 99  # refused: past nr_pages\n"
                                      "A 0\n"
                                      "L 0 2   # area gone: not initialised\n"
                                      "N 0 16\n"
                                      "L 0 2   # re-initialised: miss\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->ops, 15u);
  EXPECT_EQ(r->inits, 2u);
  EXPECT_EQ(r->stores, 4u);
  EXPECT_EQ(r->stores_accepted, 2u);
  EXPECT_EQ(r->rejects, 2u);
  EXPECT_EQ(r->loads, 7u);
  EXPECT_EQ(r->hits, 1u);
  EXPECT_EQ(r->misses, 3u);
  EXPECT_EQ(r->loads_refused, 3u);
  EXPECT_EQ(r->invalidates, 1u);
  EXPECT_EQ(r->area_invalidates, 1u);
  EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
  EXPECT_EQ(r->model_pages, 0u);
  EXPECT_EQ(r->load_latency.count(), 7u);
}

TEST(ReplayTest, TinyDramRejectsStoresWithoutAnyMismatch) {
  auto backend = MakeBackend(8);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(300));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->rejects, 100u);
  EXPECT_GT(r->stores_accepted, 8u);  // same-filled pages need no frame
  EXPECT_GT(r->hits, 0u);
  EXPECT_GT(r->misses, 0u);
  EXPECT_EQ(r->loads_refused, 8u);  // the loads of type 5 while its area is invalidated
  EXPECT_EQ(r->stores_accepted + r->rejects, r->stores);
  EXPECT_EQ(r->hits + r->misses + r->loads_refused, r->loads);
  EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
  EXPECT_EQ(r->model_pages, backend->stored_pages());
}

TEST(ReplayTest, RoomyDramAcceptsEveryValidStore) {
  auto backend = MakeBackend(4096);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(300));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->rejects, 0u);
  EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
  // Second pass over type 0: every slot but the invalidated fifth is held.
  EXPECT_EQ(r->hits, 300u + 240u);
}

TEST(ReplayTest, DetectsCorruptedPagesAndNamesTheLines) {
  auto backend = MakeBackend(4096, false, FaultyTier::Fault::kFlipByte, /*every=*/3);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(100), nullptr, /*max_reports=*/2);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->mismatches, 10u);
  ASSERT_EQ(r->mismatch_reports.size(), 2u);  // all counted, two described
  const ReplayMismatch& m = r->mismatch_reports[0];
  EXPECT_GT(m.line, 0u);
  EXPECT_EQ(m.message.rfind("t.trace:" + std::to_string(m.line) + ": L 0 ", 0), 0u) << m.message;
  EXPECT_NE(m.message.find("differs from the page stored at line"), std::string::npos) << m.message;
  EXPECT_NE(m.message.find("at byte 1234 (1 of 4096 bytes differ)."), std::string::npos)
      << m.message;
}

TEST(ReplayTest, DetectsFailedLoadsOfAcceptedPages) {
  auto backend = MakeBackend(4096, false, FaultyTier::Fault::kIoError, /*every=*/7);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->mismatches, 0u);
  EXPECT_NE(r->mismatch_reports[0].message.find("but the load was answered io_error"),
            std::string::npos)
      << r->mismatch_reports[0].message;
}

TEST(ReplayTest, ExclusiveLoadsDropTheModelsCopy) {
  const std::string trace = "N 0 0\nS 0 5\nL 0 5\nL 0 5\nS 0 5\nL 0 5\n";
  auto exclusive = MakeBackend(64, /*exclusive=*/true);
  Result<ReplayResult> r = ReplayText(*exclusive, trace);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->hits, 2u);
  EXPECT_EQ(r->misses, 1u);
  EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
  EXPECT_EQ(r->model_pages, 0u);

  auto keeping = MakeBackend(64, /*exclusive=*/false);
  Result<ReplayResult> k = ReplayText(*keeping, trace);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->hits, 3u);
  EXPECT_EQ(k->misses, 0u);
  EXPECT_EQ(k->mismatches, 0u);
  EXPECT_EQ(k->model_pages, 1u);
}

TEST(ReplayTest, ExclusiveLoadsOnABusyTraceHaveNoMismatch) {
  auto backend = MakeBackend(16, /*exclusive=*/true);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(200));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->rejects, 0u);
  EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
}

TEST(ReplayTest, CorpusPagesLoadByteForByte) {
  for (const bool compressed : {false, true}) {
    PageCorpus corpus = MakeCorpus(3, compressed);
    ASSERT_EQ(corpus.page_count(), 3u);
    auto backend = MakeBackend(64);
    Result<ReplayResult> r =
        ReplayText(*backend, "N 0 0\nS 0 1 @2\nS 0 2 @0\nS 0 3 @2\nL 0 1\nL 0 2\nL 0 3\n", &corpus);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->corpus_stores, 3u);
    EXPECT_EQ(r->hits, 3u);
    EXPECT_EQ(r->mismatches, 0u) << r->mismatch_reports[0].message;
  }
}

TEST(ReplayTest, CorruptedCorpusPageIsDetected) {
  PageCorpus corpus = MakeCorpus(4);
  auto backend = MakeBackend(64, false, FaultyTier::Fault::kFlipByte, /*every=*/1);
  Result<ReplayResult> r = ReplayText(*backend, "N 0 0\nS 0 1 @3\nL 0 1\n", &corpus);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mismatches, 1u);
  EXPECT_EQ(r->mismatch_reports[0].message,
            "t.trace:3: L 0 1: the loaded page differs from the page stored at line 2 at byte "
            "1234 (1 of 4096 bytes differ).");
}

TEST(ReplayTest, PageReferenceOutOfRangeIsAnErrorNamingTheLine) {
  PageCorpus corpus = MakeCorpus(3);
  auto backend = MakeBackend(64);
  Result<ReplayResult> r = ReplayText(*backend, "N 0 0\nS 0 1 @2\n# c\nS 0 2 @3\n", &corpus);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "t.trace:4: page reference @3 is out of range: the corpus 'corpus.bin' holds 3 pages "
            "(@0 to @2).");
}

TEST(ReplayTest, PageReferenceWithoutCorpusIsAnErrorNamingTheLine) {
  auto backend = MakeBackend(64);
  Result<ReplayResult> r = ReplayText(*backend, "N 0 0\nS 0 1 @0\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "t.trace:2: the store refers to corpus page @0 but no page corpus was given "
            "(--pages FILE).");
}

TEST(ReplayTest, MalformedLineStopsTheReplayWithItsLineNumber) {
  auto backend = MakeBackend(64);
  Result<ReplayResult> r = ReplayText(*backend, "N 0 0\nS 0 1\nL 0\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "t.trace:3: 'L' needs <type> <offset>, got 1 field.");
}

TEST(PageCorpusTest, RejectsSizeThatIsNotAMultipleOfThePageSize) {
  auto in = InputStream::FromMemory(std::string(kPageSize * 2 + 100, 'x'), "odd.bin");
  Result<PageCorpus> c = PageCorpus::Load(*in);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "page corpus 'odd.bin' is 8292 bytes, not a multiple of the 4096-byte page size (2 "
            "whole pages and 100 bytes left over).");
}

TEST(PageCorpusTest, RejectsEmptyAndOversizedCorpora) {
  auto empty = InputStream::FromMemory("", "empty.bin");
  Result<PageCorpus> e = PageCorpus::Load(*empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "page corpus 'empty.bin' is empty; it must hold 4096-byte pages.");

  auto big = InputStream::FromMemory(std::string(kPageSize * 300, 'x'), "big.bin");
  Result<PageCorpus> b = PageCorpus::Load(*big, /*max_bytes=*/kPageSize * 256);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("'big.bin' is larger than 1048576 bytes"), std::string::npos)
      << b.error().message;
}

TEST(PageCorpusTest, LoadsTheBundledSampleCorpus) {
  const char* src = std::getenv("TIERSWAP_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "needs TIERSWAP_SOURCE_DIR (set by ctest)";
  Result<PageCorpus> c =
      PageCorpus::Load(std::string(src) + "/examples/pages/sample-pages.bin.zst");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->page_count(), 4096u);  // examples/pages/README.md
}

TEST(GeneratePageTest, IsDeterministicAndDependsOnEveryPartOfTheTuple) {
  alignas(64) unsigned char a[kPageSize], b[kPageSize];
  int differ_seq = 0, differ_offset = 0, differ_type = 0;
  for (uint64_t seq = 0; seq < 200; ++seq) {
    GeneratePage(3, 77, seq, a);
    GeneratePage(3, 77, seq, b);
    ASSERT_EQ(std::memcmp(a, b, kPageSize), 0);
    if (GeneratedKindOf(3, 77, seq) != GeneratedPageKind::kRandom) continue;
    GeneratePage(3, 77, seq + 1000, b);
    differ_seq += std::memcmp(a, b, kPageSize) != 0;
    GeneratePage(3, 78, seq, b);
    differ_offset += std::memcmp(a, b, kPageSize) != 0;
    GeneratePage(4, 77, seq, b);
    differ_type += std::memcmp(a, b, kPageSize) != 0;
  }
  EXPECT_GT(differ_seq, 50);
  EXPECT_EQ(differ_seq, differ_offset);
  EXPECT_EQ(differ_seq, differ_type);
}

TEST(GeneratePageTest, MixResemblesAnonymousMemory) {
  constexpr int kPages = 20000;
  int count[4] = {};
  double compressible_in = 0, compressible_out = 0, random_in = 0, random_out = 0;
  alignas(64) unsigned char page[kPageSize];
  std::string z(ZSTD_compressBound(kPageSize), '\0');
  for (int i = 0; i < kPages; ++i) {
    const unsigned type = i % 3;
    const uint64_t offset = i * 17;
    const uint64_t seq = i;
    const GeneratedPageKind kind = GeneratedKindOf(type, offset, seq);
    ++count[static_cast<int>(kind)];
    GeneratePage(type, offset, seq, page);
    uint64_t fill;
    const bool same = IsSameFilled(page, &fill);
    switch (kind) {
      case GeneratedPageKind::kZero:
        ASSERT_TRUE(same && fill == 0) << i;
        break;
      case GeneratedPageKind::kSameFilled:
        ASSERT_TRUE(same && fill != 0) << i;
        break;
      case GeneratedPageKind::kCompressible:
      case GeneratedPageKind::kRandom: {
        ASSERT_FALSE(same) << i;
        if (i % 10 != 0) break;  // compress a sample only
        const size_t n = ZSTD_compress(z.data(), z.size(), page, kPageSize, 1);
        ASSERT_FALSE(ZSTD_isError(n));
        (kind == GeneratedPageKind::kRandom ? random_in : compressible_in) += kPageSize;
        (kind == GeneratedPageKind::kRandom ? random_out : compressible_out) += n;
        break;
      }
    }
  }
  // Targets 10% / 5% / 45% / 40%; 20000 draws keep each within a percentage point or so.
  EXPECT_NEAR(count[0] / double(kPages), 0.10, 0.015);
  EXPECT_NEAR(count[1] / double(kPages), 0.05, 0.015);
  EXPECT_NEAR(count[2] / double(kPages), 0.45, 0.02);
  EXPECT_NEAR(count[3] / double(kPages), 0.40, 0.02);
  EXPECT_GT(compressible_in / compressible_out, 2.0);
  EXPECT_LT(random_in / random_out, 1.01);
}

TEST(LatencyHistogramTest, PercentilesAreExactForSmallValuesAndWithinASixteenthAbove) {
  LatencyHistogram<4> h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  for (uint64_t v = 1; v <= 10; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 5u);
  EXPECT_EQ(h.Percentile(1.0), 10u);
  EXPECT_DOUBLE_EQ(h.mean(), 5.5);

  LatencyHistogram<4> big;
  for (uint64_t v = 1; v <= 100000; ++v) big.Record(v * 10);
  const uint64_t p50 = big.Percentile(0.5), p99 = big.Percentile(0.99);
  EXPECT_GE(p50, 500000u);
  EXPECT_LE(p50, 500000u + 500000u / 16);
  EXPECT_GE(p99, 990000u);
  EXPECT_LE(p99, 990000u + 990000u / 16);
  EXPECT_EQ(big.Percentile(1.0), 1000000u);  // capped at the largest sample
  EXPECT_EQ(big.max(), 1000000u);
  EXPECT_EQ(big.count(), 100000u);

  LatencyHistogram<4> huge;
  huge.Record(UINT64_MAX);
  EXPECT_EQ(huge.Percentile(0.99), UINT64_MAX);
}

TEST(ReplayReportTest, JsonHasTheCountsLatencyAndBackendStats) {
  auto backend = MakeBackend(64, false, FaultyTier::Fault::kFlipByte, 1);
  Result<ReplayResult> r = ReplayText(*backend, "N 0 0\nS 0 1\nS 0 2\nL 0 1\nL 0 2\nL 0 9\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string json = ReplayReportJson(*r, *backend);
  for (const char* key :
       {"\"ops\": 6", "\"stores\": 2", "\"loads\": 3", "\"misses\": 1", "\"rejects\": 0",
        "\"mismatches\": ", "\"load_ns_mean\": ", "\"load_ns_p99\": ", "\"load_ns_p50\": ",
        "\"stats\": {", "\"mismatch_reports\": ["}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing from\n" << json;
  }
  EXPECT_NE(json.find("\"stored_pages\":2"), std::string::npos) << json;
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
}

TEST(ReplayReportTest, TextReportShowsCountsAndTheTierTable) {
  auto backend = MakeBackend(8);
  Result<ReplayResult> r = ReplayText(*backend, BusyTrace(50));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = FormatReplayReport(*r, *backend);
  EXPECT_NE(text.find("replay of t.trace"), std::string::npos) << text;
  EXPECT_NE(text.find("mismatches     0"), std::string::npos) << text;
  EXPECT_NE(text.find("rejected"), std::string::npos) << text;
  EXPECT_NE(text.find("name  kind  rank  load cost (from)  capacity"), std::string::npos) << text;
  // The one tier: rank 0, ranked by a figure whose source is named, then its capacity.
  EXPECT_TRUE(
      std::regex_search(
          text,
          std::regex("dram  dram  0     [0-9.]+ [nµm]?s \\((probe|live|none)\\) +32.0 KiB")) ||
      text.find("dram  dram  0     - (none)") != std::string::npos)
      << text;
  EXPECT_NE(text.find("same-filled pages"), std::string::npos) << text;
}

}  // namespace
}  // namespace tierswap
