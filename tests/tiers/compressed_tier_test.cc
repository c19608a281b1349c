// CompressedTier: round trips per codec, rejection of incompressible pages, capacity, handles
// that survive compaction, fragmentation under churn, and concurrent store/load/free racing the
// compactor (this binary also runs under ThreadSanitizer).
//
// Page contents: the repository's corpus of real programs' memory (examples/pages/, see its
// README; or the file named by TIERSWAP_TEST_PAGES), decompressed here with libzstd; without
// it, synthetic text-like pages.
#include "tiers/compressed_tier.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/recording_sink.h"
#include "tiers/page.h"
#include "tiers/page_content.h"
#include "tiers/stats_sink.h"

namespace tierswap {
namespace {

using PageBuf = std::array<unsigned char, kPageSize>;

PageBuf RandomPage(uint64_t seed) {
  PageBuf p;
  FillRandomPage(p.data(), seed);
  return p;
}

// Text of its own kind (tiers/page_content.h's has one vocabulary): three-word phrases from a
// per-page vocabulary, with numbers between them. LZ4 takes it
// 2.7:1 on average (650-2000 bytes); the vocabulary size (from the seed) sets the compressed size,
// so different seeds land in different size classes.
PageBuf TextPage(uint64_t seed) {
  static const char* const kWords[] = {
      "swap",   "page",   "tier", "frame", "store", "load",   "zswap", "zram", "memory",
      "the",    "of",     "and",  "to",    "a",     "in",     "cold",  "hot",  "promote",
      "demote", "offset", "type", "node",  "span",  "object", "class", "lz4",  "zstd"};
  constexpr uint64_t kNumWords = std::size(kWords);
  PageBuf p;
  uint64_t x = seed * 7919 + 17;
  size_t i = 0;
  auto put = [&](const char* text, size_t n) {
    n = std::min(n, kPageSize - i);
    std::memcpy(p.data() + i, text, n);
    i += n;
  };
  auto word = [&](uint64_t w) { put(kWords[w % kNumWords], std::strlen(kWords[w % kNumWords])); };
  const uint64_t phrases = 2 + seed % 61;
  while (i < kPageSize) {
    const uint64_t r = SplitMix64(&x);
    const uint64_t ph = (r >> 8) % phrases;
    word(ph);
    put(" ", 1);
    word(ph / 3 + 5);
    put(" ", 1);
    word(ph * 7 + 1);
    if (r % 8 == 0) {
      const char digits[4] = {' ', char('0' + r % 10), char('0' + r / 10 % 10),
                              char('0' + r / 100 % 10)};
      put(digits, sizeof(digits));
    }
    put((r >> 20) % 5 == 0 ? "\n" : " ", 1);
  }
  return p;
}

// The page corpus, decompressed once per process.
class Corpus {
 public:
  static const Corpus& Get() {
    static const Corpus corpus;
    return corpus;
  }
  size_t size() const { return pages_.size() / kPageSize; }
  const unsigned char* page(size_t i) const { return pages_.data() + (i % size()) * kPageSize; }
  PageBuf copy(size_t i) const {
    PageBuf p;
    std::memcpy(p.data(), page(i), kPageSize);
    return p;
  }
  const std::string& source() const { return source_; }

 private:
  Corpus() {
    std::vector<std::string> candidates;
    if (const char* src = std::getenv("TIERSWAP_SOURCE_DIR")) {
      candidates.push_back(std::string(src) + "/examples/pages/sample-pages.bin.zst");
    }
    // TIERSWAP_TEST_PAGES=FILE uses that corpus only (a path that does not exist: the synthetic
    // pages), to run the suite on other contents.
    if (const char* only = std::getenv("TIERSWAP_TEST_PAGES")) candidates = {only};
    for (const auto& path : candidates) {
      if (Load(path)) {
        source_ = path;
        return;
      }
    }
    source_ = "synthetic text-like pages";
    for (uint64_t i = 0; i < 4096; ++i) {
      const PageBuf p = TextPage(i);
      pages_.insert(pages_.end(), p.begin(), p.end());
    }
  }

  bool Load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    const std::vector<char> packed((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
    ZSTD_DStream* ds = ZSTD_createDStream();
    std::vector<unsigned char> out;
    std::vector<unsigned char> chunk(ZSTD_DStreamOutSize());
    ZSTD_inBuffer ib{packed.data(), packed.size(), 0};
    bool ok = true;
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
      const size_t r = ZSTD_decompressStream(ds, &ob, &ib);
      if (ZSTD_isError(r)) {
        ok = false;
        break;
      }
      out.insert(out.end(), chunk.data(), chunk.data() + ob.pos);
    }
    ZSTD_freeDStream(ds);
    if (!ok || out.size() < kPageSize) return false;
    out.resize(out.size() / kPageSize * kPageSize);
    pages_ = std::move(out);
    return true;
  }

  std::vector<unsigned char> pages_;
  std::string source_;
};

CompressedTierOptions Options(Codec codec, uint64_t capacity_bytes, bool background = false) {
  CompressedTierOptions o;
  o.name = "zram-like";
  o.codec = codec;
  o.level = 1;
  o.capacity_bytes = capacity_bytes;
  o.prefault = false;
  o.background_compaction = background;
  return o;
}

std::unique_ptr<CompressedTier> MustOpen(const CompressedTierOptions& o) {
  auto t = CompressedTier::Open(o);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  if (!t.ok()) return nullptr;
  return std::move(t).value();
}

class CompressedTierCodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CompressedTierCodecTest, CompressiblePagesRoundTripByteExact) {
  auto tier = MustOpen(Options(GetParam(), 16 << 20));
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < 300; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk) << "page " << i;
    handles.push_back(h);
  }
  for (uint64_t i = 0; i < handles.size(); ++i) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i)) << "page " << i;
  }
  EXPECT_EQ(tier->orig_bytes(), 300 * kPageSize);
  EXPECT_LT(tier->compr_bytes(), tier->orig_bytes() / 2);
  EXPECT_GE(tier->mem_used_bytes(), tier->compr_bytes());
  EXPECT_EQ(tier->used_bytes(), tier->mem_used_bytes());
  EXPECT_EQ(tier->stored_pages(), 300u);
}

TEST_P(CompressedTierCodecTest, CorpusPagesRoundTripByteExact) {
  const Corpus& corpus = Corpus::Get();
  RecordProperty("corpus", corpus.source());
  auto tier = MustOpen(Options(GetParam(), 64 << 20));
  ASSERT_TRUE(tier);
  const size_t n = std::min<size_t>(corpus.size(), 3000);
  std::vector<std::pair<size_t, TierHandle>> stored;
  for (size_t i = 0; i < n; ++i) {
    TierHandle h;
    const Status s = tier->Store(corpus.page(i), &h);
    ASSERT_TRUE(s == Status::kOk || s == Status::kRejected) << StatusName(s);
    if (s == Status::kOk) stored.emplace_back(i, h);
  }
  ASSERT_GT(stored.size(), n / 2) << "most real pages compress below 3/4 of a page";
  EXPECT_EQ(tier->rejects_poor_compression(), n - stored.size());
  for (const auto& [i, h] : stored) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
    ASSERT_EQ(std::memcmp(out.data(), corpus.page(i), kPageSize), 0) << "corpus page " << i;
  }
}

TEST_P(CompressedTierCodecTest, RandomPageIsRejectedAndCounted) {
  auto tier = MustOpen(Options(GetParam(), 1 << 20));
  ASSERT_TRUE(tier);
  TierHandle h;
  EXPECT_EQ(tier->Store(RandomPage(42).data(), &h), Status::kRejected);
  EXPECT_EQ(tier->Store(RandomPage(43).data(), &h), Status::kRejected);
  EXPECT_EQ(tier->rejects_poor_compression(), 2u);
  EXPECT_EQ(tier->rejects_no_space(), 0u);
  EXPECT_EQ(tier->mem_used_bytes(), 0u);
  EXPECT_EQ(tier->compr_bytes(), 0u);
  EXPECT_EQ(tier->stored_pages(), 0u);
}

TEST_P(CompressedTierCodecTest, ZeroPageCompressesToAFewBytes) {
  auto tier = MustOpen(Options(GetParam(), 1 << 20));
  ASSERT_TRUE(tier);
  const PageBuf zero{};
  TierHandle h;
  ASSERT_EQ(tier->Store(zero.data(), &h), Status::kOk);
  EXPECT_GT(tier->compr_bytes(), 0u);
  EXPECT_LE(tier->compr_bytes(), 32u);
  EXPECT_EQ(tier->mem_used_bytes(), kPageSize);  // the 32-byte class: one-frame spans
  PageBuf out;
  out.fill(0xAB);
  ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, zero);
}

TEST_P(CompressedTierCodecTest, FullTierReturnsNoSpaceAndStaysWithinCapacity) {
  auto tier = MustOpen(Options(GetParam(), 64 * kPageSize));
  ASSERT_TRUE(tier);
  std::vector<std::pair<uint64_t, TierHandle>> stored;
  Status s = Status::kOk;
  for (uint64_t i = 0; i < 10000 && s != Status::kNoSpace; ++i) {
    TierHandle h;
    s = tier->Store(TextPage(i).data(), &h);
    ASSERT_TRUE(s == Status::kOk || s == Status::kNoSpace) << StatusName(s);
    ASSERT_LE(tier->used_bytes(), tier->capacity_bytes());
    if (s == Status::kOk) stored.emplace_back(i, h);
  }
  ASSERT_EQ(s, Status::kNoSpace) << "the tier never filled up";
  EXPECT_GT(stored.size(), 64u) << "compressed pages should outnumber frames";
  EXPECT_EQ(tier->rejects_no_space(), 1u);
  for (const auto& [i, h] : stored) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i));
  }
}

TEST_P(CompressedTierCodecTest, FreedRoomIsReusedAndEmptyTierHoldsNoFrames) {
  auto tier = MustOpen(Options(GetParam(), 8 * kPageSize));
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0;; ++i) {
    ASSERT_LT(i, 10000u);
    TierHandle h;
    if (tier->Store(TextPage(i).data(), &h) != Status::kOk) break;
    handles.push_back(h);
  }
  for (TierHandle h : handles) tier->Free(h);
  EXPECT_EQ(tier->mem_used_bytes(), 0u);
  EXPECT_EQ(tier->compr_bytes(), 0u);
  EXPECT_EQ(tier->orig_bytes(), 0u);
  // All the room is back: as many pages fit again.
  std::vector<TierHandle> again;
  for (uint64_t i = 0; i < handles.size(); ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk) << "page " << i;
    again.push_back(h);
  }
  for (uint64_t i = 0; i < again.size(); ++i) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(again[i], out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i));
  }
}

TEST_P(CompressedTierCodecTest, HandlesStayValidAcrossCompaction) {
  auto tier = MustOpen(Options(GetParam(), 32 << 20));
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < 4000; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk);
    handles.push_back(h);
  }
  const uint64_t full = tier->mem_used_bytes();
  for (uint64_t i = 0; i < handles.size(); i += 2) tier->Free(handles[i]);
  const uint64_t before = tier->mem_used_bytes();  // frees return only spans they emptied
  const size_t freed = tier->Compact();
  EXPECT_GT(freed, 0u);
  EXPECT_GT(tier->compaction_moved_objects(), 0u);
  EXPECT_EQ(tier->compaction_freed_frames(), freed);
  EXPECT_EQ(tier->mem_used_bytes(), before - freed * kPageSize);
  EXPECT_LT(tier->mem_used_bytes(), full * 6 / 10);
  for (uint64_t i = 1; i < handles.size(); i += 2) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i)) << "page " << i;
  }
  // Moved objects free cleanly, and a second pass finds nothing to do.
  EXPECT_EQ(tier->Compact(), 0u);
  for (uint64_t i = 1; i < handles.size(); i += 2) tier->Free(handles[i]);
  EXPECT_EQ(tier->mem_used_bytes(), 0u);
}

TEST_P(CompressedTierCodecTest, ChurnThenCompactKeepsMemoryWithin15PercentOfCompressedBytes) {
  const Corpus& corpus = Corpus::Get();
  RecordProperty("corpus", corpus.source());
  auto tier = MustOpen(Options(GetParam(), 128 << 20));
  ASSERT_TRUE(tier);
  std::mt19937_64 rng(7);
  std::vector<std::pair<size_t, TierHandle>> live;
  constexpr size_t kTarget = 12000;
  for (int op = 0; op < 40000; ++op) {
    // Grow to the target, then hover around it: stores and frees at random.
    const bool store = live.size() < kTarget / 2 || (live.size() < kTarget && rng() % 2 == 0);
    if (store) {
      const size_t i = rng() % corpus.size();
      TierHandle h;
      const Status s = tier->Store(corpus.page(i), &h);
      ASSERT_TRUE(s == Status::kOk || s == Status::kRejected) << StatusName(s);
      if (s == Status::kOk) live.emplace_back(i, h);
    } else {
      const size_t k = rng() % live.size();
      tier->Free(live[k].second);
      live[k] = live.back();
      live.pop_back();
    }
  }
  const uint64_t fragmented = tier->mem_used_bytes();
  tier->Compact();
  const double used = double(tier->mem_used_bytes());
  const double compr = double(tier->compr_bytes());
  RecordProperty("mem_used_before_compact", std::to_string(fragmented));
  RecordProperty("mem_used_after_compact", std::to_string(tier->mem_used_bytes()));
  RecordProperty("compr_bytes", std::to_string(tier->compr_bytes()));
  EXPECT_LE(used, 1.15 * compr) << "mem_used " << used << " compr " << compr << " (" << live.size()
                                << " pages, " << corpus.source() << ")";
  EXPECT_LT(used, double(fragmented));
  for (const auto& [i, h] : live) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
    ASSERT_EQ(std::memcmp(out.data(), corpus.page(i), kPageSize), 0);
  }
}

TEST_P(CompressedTierCodecTest, ConcurrentStoreLoadFreeWhileCompactingLoadsByteExact) {
  const Corpus& corpus = Corpus::Get();
  auto tier = MustOpen(Options(GetParam(), 64 << 20, /*background=*/true));
  ASSERT_TRUE(tier);
  constexpr int kThreads = 4;
  constexpr int kRounds = 30;
  constexpr int kPerRound = 100;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> mismatches{0}, load_errors{0}, unexpected{0}, loads{0};
  std::thread compactor([&] {
    while (!done.load(std::memory_order_relaxed)) tier->Compact();
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      std::vector<std::pair<size_t, TierHandle>> mine;
      PageBuf out{};
      auto check = [&](const std::pair<size_t, TierHandle>& p) {
        loads.fetch_add(1, std::memory_order_relaxed);
        if (tier->Load(p.second, out.data()) != Status::kOk) {
          load_errors.fetch_add(1);
        } else if (std::memcmp(out.data(), corpus.page(p.first), kPageSize) != 0) {
          mismatches.fetch_add(1);
        }
      };
      for (int r = 0; r < kRounds; ++r) {
        for (int i = 0; i < kPerRound; ++i) {
          const size_t idx = rng() % corpus.size();
          TierHandle h;
          const Status s = tier->Store(corpus.page(idx), &h);
          if (s == Status::kOk) {
            mine.emplace_back(idx, h);
          } else if (s != Status::kRejected) {
            unexpected.fetch_add(1);
          }
          if (!mine.empty()) check(mine[rng() % mine.size()]);
        }
        // Free a random half: leaves partly empty spans for the compactor to move.
        std::shuffle(mine.begin(), mine.end(), rng);
        const size_t keep = mine.size() / 2;
        for (size_t k = keep; k < mine.size(); ++k) {
          check(mine[k]);
          tier->Free(mine[k].second);
        }
        mine.resize(keep);
        for (const auto& p : mine) check(p);
      }
      for (const auto& p : mine) tier->Free(p.second);
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  compactor.join();
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(load_errors.load(), 0u);
  EXPECT_EQ(unexpected.load(), 0u);
  EXPECT_GT(loads.load(), 0u);
  EXPECT_GT(tier->compaction_moved_objects(), 0u) << "compaction never raced the workers";
  EXPECT_EQ(tier->stored_pages(), 0u);
  EXPECT_EQ(tier->mem_used_bytes(), 0u);
  EXPECT_EQ(tier->compr_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressedTierCodecTest,
                         ::testing::Values(Codec::kLz4, Codec::kZstd),
                         [](const ::testing::TestParamInfo<Codec>& info) {
                           return std::string(CodecName(info.param));
                         });

TEST(CompressedTierTest, ZstdCompressesTheCorpusBetterThanLz4) {
  const Corpus& corpus = Corpus::Get();
  auto lz4 = MustOpen(Options(Codec::kLz4, 64 << 20));
  auto zstd = MustOpen(Options(Codec::kZstd, 64 << 20));
  ASSERT_TRUE(lz4 && zstd);
  for (size_t i = 0; i < std::min<size_t>(corpus.size(), 1000); ++i) {
    TierHandle in_lz4, in_zstd;
    // Only pages both accept, so that the sums compare like with like.
    if (lz4->Store(corpus.page(i), &in_lz4) != Status::kOk) continue;
    if (zstd->Store(corpus.page(i), &in_zstd) != Status::kOk) lz4->Free(in_lz4);
  }
  ASSERT_GT(zstd->orig_bytes(), 0u);
  const double lz4_ratio = double(lz4->orig_bytes()) / double(lz4->compr_bytes());
  const double zstd_ratio = double(zstd->orig_bytes()) / double(zstd->compr_bytes());
  EXPECT_GT(zstd_ratio, lz4_ratio);
}

TEST(CompressedTierTest, ZstdLevelChangesTheCompressedSize) {
  auto fast = MustOpen(Options(Codec::kZstd, 16 << 20));
  CompressedTierOptions o = Options(Codec::kZstd, 16 << 20);
  o.level = 19;
  auto best = MustOpen(o);
  ASSERT_TRUE(fast && best);
  EXPECT_EQ(best->level(), 19);
  for (uint64_t i = 0; i < 50; ++i) {
    TierHandle h;
    ASSERT_EQ(fast->Store(TextPage(i).data(), &h), Status::kOk);
    ASSERT_EQ(best->Store(TextPage(i).data(), &h), Status::kOk);
    PageBuf out{};
    ASSERT_EQ(best->Load(h, out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i));
  }
  EXPECT_LT(best->compr_bytes(), fast->compr_bytes());
}

TEST(CompressedTierTest, MaxCompressedFractionSetsTheRejectThreshold) {
  // A page of 2048 random bytes then zeros compresses to a little over half a page.
  PageBuf half{};
  const PageBuf rnd = RandomPage(9);
  std::memcpy(half.data(), rnd.data(), kPageSize / 2);
  CompressedTierOptions strict = Options(Codec::kLz4, 1 << 20);
  strict.max_compressed_fraction = 0.25;
  CompressedTierOptions loose = Options(Codec::kLz4, 1 << 20);
  loose.max_compressed_fraction = 1.0;
  auto s = MustOpen(strict);
  auto l = MustOpen(loose);
  ASSERT_TRUE(s && l);
  EXPECT_EQ(s->reject_threshold_bytes(), 1024u);
  EXPECT_EQ(l->reject_threshold_bytes(), 4096u);
  TierHandle h;
  EXPECT_EQ(s->Store(half.data(), &h), Status::kRejected);
  EXPECT_EQ(s->rejects_poor_compression(), 1u);
  ASSERT_EQ(l->Store(half.data(), &h), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(l->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, half);
}

TEST(CompressedTierTest, LargeObjectsStraddlingFramesRoundTrip) {
  // Pages of 1.5-3.5 KiB compressed: objects larger than most frame remainders, in spans of
  // several frames, so many straddle a frame boundary.
  CompressedTierOptions o = Options(Codec::kLz4, 8 << 20);
  o.max_compressed_fraction = 1.0;
  auto tier = MustOpen(o);
  ASSERT_TRUE(tier);
  auto page = [](uint64_t i) {
    PageBuf p{};
    const PageBuf rnd = RandomPage(i);
    const size_t random_bytes = 1536 + (i * 97) % 2048;
    std::memcpy(p.data(), rnd.data(), random_bytes);
    return p;
  };
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < 600; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(page(i).data(), &h), Status::kOk);
    handles.push_back(h);
  }
  for (uint64_t i = 0; i < handles.size(); i += 3) tier->Free(handles[i]);
  tier->Compact();
  for (uint64_t i = 0; i < handles.size(); ++i) {
    if (i % 3 == 0) continue;
    PageBuf out{};
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    ASSERT_EQ(out, page(i)) << "page " << i;
  }
}

TEST(CompressedTierTest, BackgroundCompactorReclaimsFreedSpans) {
  auto tier = MustOpen(Options(Codec::kLz4, 32 << 20, /*background=*/true));
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < 4000; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk);
    handles.push_back(h);
  }
  for (uint64_t i = 0; i < handles.size(); i += 2) tier->Free(handles[i]);
  // A liveness check, not a timing one: the compactor wakes every ~10 ms; allow a minute.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (tier->compaction_freed_frames() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(tier->compaction_freed_frames(), 0u);
  EXPECT_GT(tier->compactions(), 0u);
  for (uint64_t i = 1; i < handles.size(); i += 2) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    ASSERT_EQ(out, TextPage(i));
  }
}

TEST(CompressedTierTest, ExportsCodecSizesRatioAndCounters) {
  auto tier = MustOpen(Options(Codec::kZstd, 1 << 20));
  ASSERT_TRUE(tier);
  TierHandle h;
  ASSERT_EQ(tier->Store(TextPage(1).data(), &h), Status::kOk);
  ASSERT_EQ(tier->Store(RandomPage(1).data(), &h), Status::kRejected);
  tier->Compact();
  testing::RecordingSink sink;
  tier->ExportStats(sink);
  EXPECT_EQ(sink.TextOf("codec"), "zstd");
  EXPECT_EQ(sink.TextOf("kind"), "compressed");
  EXPECT_EQ(sink.TextOf("name"), "zram-like");
  for (const char* f :
       {"level", "orig_bytes", "compr_bytes", "mem_used_bytes", "compression_ratio",
        "reject_poor_compression", "reject_no_space", "compactions", "compaction_moved_objects",
        "compaction_freed_frames", "used_bytes", "capacity_bytes", "metadata_bytes"}) {
    EXPECT_EQ(sink.top().count(f), 1u) << f;
  }
  EXPECT_EQ(sink.RealOf("level"), 1);
  EXPECT_EQ(sink.RealOf("orig_bytes"), double(kPageSize));
  EXPECT_EQ(sink.RealOf("compr_bytes"), double(tier->compr_bytes()));
  EXPECT_EQ(sink.RealOf("mem_used_bytes"), double(tier->mem_used_bytes()));
  EXPECT_GE(sink.RealOf("mem_used_bytes"), double(kPageSize));  // one span: 1 to 4 frames
  EXPECT_LE(sink.RealOf("mem_used_bytes"), double(4 * kPageSize));
  EXPECT_EQ(sink.RealOf("used_bytes"), sink.RealOf("mem_used_bytes"));
  EXPECT_DOUBLE_EQ(sink.RealOf("compression_ratio"),
                   double(kPageSize) / double(tier->compr_bytes()));
  EXPECT_EQ(sink.RealOf("reject_poor_compression"), 1);
  EXPECT_EQ(sink.RealOf("reject_no_space"), 0);
  EXPECT_EQ(sink.RealOf("compactions"), 1);
  EXPECT_EQ(sink.RealOf("store_rejects"), 1);
}

TEST(CompressedTierTest, MetadataGrowsWithUseAndStaysSmall) {
  auto tier = MustOpen(Options(Codec::kLz4, 64 << 20));
  ASSERT_TRUE(tier);
  const size_t empty = tier->MetadataBytes();
  for (uint64_t i = 0; i < 2000; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk);
  }
  const size_t used = tier->MetadataBytes();
  EXPECT_GT(used, empty);  // handle and span table pages were touched
  // Reserved tables are 16 MiB of handles and 1 MiB of spans; only touched pages count.
  EXPECT_LT(used, empty + 256 * 1024);
}

TEST(CompressedTierTest, LoadOfUnknownHandleFailsAsTheTierContractSays) {
  // tiers/tier.h: a load that cannot return the page is kIoError, whatever the tier's reason.
  auto tier = MustOpen(Options(Codec::kLz4, 1 << 20));
  ASSERT_TRUE(tier);
  PageBuf out;
  out.fill(0x5A);
  EXPECT_EQ(tier->Load(12345, out.data()), Status::kIoError);
  EXPECT_EQ(tier->Load(uint64_t{1} << 40, out.data()), Status::kIoError);
  PageBuf untouched;
  untouched.fill(0x5A);
  EXPECT_EQ(out, untouched);
}

// ---- open errors -------------------------------------------------------------------------------

std::string OpenError(const CompressedTierOptions& o) {
  auto t = CompressedTier::Open(o);
  return t.ok() ? std::string("(opened)") : t.error().message;
}

TEST(CompressedTierOpenTest, RefusesCapacityBelowFourFrames) {
  const std::string m = OpenError(Options(Codec::kLz4, 3 * kPageSize + 100));
  EXPECT_NE(m.find("tier 'zram-like'"), std::string::npos) << m;
  EXPECT_NE(m.find("12388"), std::string::npos) << m;
  EXPECT_NE(m.find("at least 16384 bytes"), std::string::npos) << m;
}

TEST(CompressedTierOpenTest, RefusesCapacityAboveTheHandleSpace) {
  const std::string m = OpenError(Options(Codec::kLz4, uint64_t{1} << 40));
  EXPECT_NE(m.find("tier 'zram-like'"), std::string::npos) << m;
  EXPECT_NE(m.find("1099511627776"), std::string::npos) << m;
}

TEST(CompressedTierOpenTest, RefusesZstdLevelOutsideOneToNineteen) {
  for (int level : {0, 20, -3}) {
    CompressedTierOptions o = Options(Codec::kZstd, 1 << 20);
    o.level = level;
    const std::string m = OpenError(o);
    EXPECT_NE(m.find("tier 'zram-like'"), std::string::npos) << m;
    EXPECT_NE(m.find("zstd level " + std::to_string(level)), std::string::npos) << m;
  }
}

TEST(CompressedTierOpenTest, RefusesLz4AccelerationOutsideRange) {
  for (int level : {0, 65538}) {
    CompressedTierOptions o = Options(Codec::kLz4, 1 << 20);
    o.level = level;
    const std::string m = OpenError(o);
    EXPECT_NE(m.find("tier 'zram-like'"), std::string::npos) << m;
    EXPECT_NE(m.find(std::to_string(level)), std::string::npos) << m;
  }
  CompressedTierOptions o = Options(Codec::kLz4, 1 << 20);
  o.level = 65537;
  EXPECT_EQ(OpenError(o), "(opened)");
}

TEST(CompressedTierOpenTest, RefusesFractionOutsideZeroToOne) {
  for (double f : {0.0, -0.5, 1.01, std::numeric_limits<double>::quiet_NaN()}) {
    CompressedTierOptions o = Options(Codec::kLz4, 1 << 20);
    o.max_compressed_fraction = f;
    const std::string m = OpenError(o);
    EXPECT_NE(m.find("tier 'zram-like'"), std::string::npos) << m;
    EXPECT_NE(m.find("max_compressed_fraction"), std::string::npos) << m;
  }
}

TEST(CompressedTierOpenTest, BindBackingRunsBeforePrefaultAndItsErrorFailsTheOpen) {
  CompressedTierOptions o = Options(Codec::kLz4, 1 << 20);
  o.prefault = true;
  uint64_t seen_bytes = 0;
  int resident_pages = -1;
  o.bind_backing = [&](FrameArena& arena) -> Result<void> {
    seen_bytes = arena.bytes();
    // Not yet pre-faulted: binding must come first, or the pages would already be placed.
    std::vector<unsigned char> vec(arena.bytes() / kPageSize);
    if (mincore(arena.base(), arena.bytes(), vec.data()) != 0) {
      return MakeError(Status::kIoError, "mincore failed");
    }
    resident_pages = static_cast<int>(
        std::count_if(vec.begin(), vec.end(), [](unsigned char v) { return v & 1; }));
    return {};
  };
  EXPECT_EQ(OpenError(o), "(opened)");
  EXPECT_EQ(seen_bytes, uint64_t{1} << 20);
  EXPECT_EQ(resident_pages, 0);

  o.bind_backing = [](FrameArena&) -> Result<void> {
    return MakeError(Status::kInvalidArgument, "tier 'zram-like': NUMA node 7 does not exist");
  };
  EXPECT_EQ(OpenError(o), "tier 'zram-like': NUMA node 7 does not exist");
}

}  // namespace
}  // namespace tierswap
