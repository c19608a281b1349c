// Page integrity end to end: a page corrupted in a tier's memory behind the backend's back is
// reported (kIoError, -EIO with a message naming tier, type and offset), counted per tier
// (checksum_failures, JSON and Prometheus), never handed back, never moved elsewhere by the
// mover; the config keys that turn checksums on; and pmem frames on bad blocks are never used.
//
// Every tier kind is attacked the same way: the test finds the tier's own copy of a stored page
// (a frame through Tier::DirectAddress, or the compressed tier's codec output) and flips a byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/stats_export.h"
#include "frontend/stats_service.h"
#include "placement/backend.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"
#include "tiers/pmem_tier.h"

namespace tierswap {
namespace {

using testing::FilledPage;
using testing::PageBuf;
using testing::PatternPage;

constexpr unsigned kType = 2;
constexpr uint64_t kPages = 12;

// Half random bytes, half zeros: compresses (so the compressed tier takes it), and a byte flipped
// in the middle of the codec output lands in the random half's literals, so the page still
// decompresses, one byte wrong: the corruption only a checksum can see.
PageBuf TestPage(uint64_t seed) {
  PageBuf p = PatternPage(seed);
  std::fill(p.begin() + kPageSize / 2, p.end(), 0);
  return p;
}

bool AllZero(const PageBuf& p) {
  return std::all_of(p.begin(), p.end(), [](unsigned char c) { return c == 0; });
}

// Flips a byte of the tier's own copy of one of `pages`, behind the backend's back. Returns
// false when no copy was found.
bool CorruptOneStoredCopy(const Tier& tier, const std::vector<PageBuf>& pages) {
  if (const auto* c = dynamic_cast<const CompressedTier*>(&tier)) {
    for (TierHandle h = 0; h < c->HandleSpace(); ++h) {
      uint32_t size = 0;
      if (unsigned char* bytes = c->StoredBytes(h, &size)) {
        bytes[size / 4] ^= 0x5A;
        return true;
      }
    }
    return false;
  }
  for (TierHandle f = 0; f < tier.HandleSpace(); ++f) {
    unsigned char* frame = tier.DirectAddress(f);
    if (frame == nullptr) return false;
    for (const PageBuf& p : pages) {
      if (std::memcmp(frame, p.data(), kPageSize) == 0) {
        frame[100] ^= 0x5A;
        return true;
      }
    }
  }
  return false;
}

Result<std::unique_ptr<Backend>> OpenToml(const std::string& toml) {
  auto config = Config::FromString(toml, "checksum.toml");
  if (!config) return config.take_error();
  return OpenBackend(*config);
}

// The [[tier]] body (after name and capacity) of each kind under test.
struct TierKindCase {
  std::string name;
  std::string body;
};

// The pool file of the pmem_file case (a pmem tier keeps its file after close).
std::string PoolPath() {
  return ::testing::TempDir() + "tierswap_checksum_" + std::to_string(getpid()) + ".pool";
}

class PageChecksumTierTest : public ::testing::TestWithParam<TierKindCase> {
 protected:
  void TearDown() override { std::remove(PoolPath().c_str()); }
};

TEST_P(PageChecksumTierTest, CorruptedPageLoadsAsIoErrorCountedAndNeverReturned) {
  auto backend = OpenToml(
      "[placement]\npolicy = \"static\"\nbackground = false\nprobe_budget_ms = 0\n"
      "[[tier]]\nname = \"t\"\ncapacity = \"1MiB\"\nchecksum = true\n" +
      GetParam().body);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Backend& b = **backend;
  ASSERT_TRUE(b.tier(0).checksums());
  ASSERT_EQ(b.Init(kType, 0), Status::kOk);
  std::vector<PageBuf> pages;
  for (uint64_t i = 0; i < kPages; ++i) {
    pages.push_back(TestPage(i));
    ASSERT_EQ(b.Store(kType, i, pages.back().data()), Status::kOk);
  }
  ASSERT_EQ(b.tier(0).stored_pages(), kPages);
  ASSERT_TRUE(CorruptOneStoredCopy(b.tier(0), pages)) << "no stored copy found to corrupt";

  // Exactly one page fails, with the checksum named as the reason; the others load byte-exact.
  int failed = -1;
  for (uint64_t i = 0; i < kPages; ++i) {
    PageBuf out;
    out.fill(0xEE);
    const Status s = b.Load(kType, i, out.data());
    if (s == Status::kOk) {
      EXPECT_EQ(out, pages[i]) << "offset " << i;
      continue;
    }
    ASSERT_EQ(s, Status::kIoError) << "offset " << i;
    ASSERT_EQ(failed, -1) << "a second page failed: offsets " << failed << " and " << i;
    failed = static_cast<int>(i);
    EXPECT_TRUE(Backend::LastLoadFailure().checksum);
    EXPECT_EQ(Backend::LastLoadFailure().tier, 0u);
    EXPECT_TRUE(AllZero(out)) << "the buffer was not zeroed: corrupt bytes were handed back";
  }
  ASSERT_NE(failed, -1) << "the corrupted page loaded without an error";
  EXPECT_EQ(b.tier(0).checksum_failures(), 1u);

  // Counted in both exports.
  const std::string json = StatsJson(b);
  EXPECT_NE(json.find("\"checksum_failures\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"load_errors\":1"), std::string::npos) << json;
  const std::string prom = StatsPrometheus(b);
  const size_t at = prom.find("\ntierswap_tier_checksum_failures_total{tier=\"t\"");
  ASSERT_NE(at, std::string::npos) << prom;
  EXPECT_EQ(prom.substr(prom.find('}', at) + 1, 3), " 1\n");

  // The page stays where it was: it fails again, and still counts as held.
  PageBuf out;
  EXPECT_EQ(b.Load(kType, failed, out.data()), Status::kIoError);
  EXPECT_EQ(b.tier(0).checksum_failures(), 2u);
  EXPECT_EQ(b.stored_pages(), kPages);
  // Storing the slot again replaces the bad copy.
  ASSERT_EQ(b.Store(kType, failed, pages[failed].data()), Status::kOk);
  ASSERT_EQ(b.Load(kType, failed, out.data()), Status::kOk);
  EXPECT_EQ(out, pages[failed]);
}

std::string PmemFileBody() {
  return "kind = \"pmem\"\npath = \"" + PoolPath() + "\"\nprefault = false\n";
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, PageChecksumTierTest,
    ::testing::Values(TierKindCase{"dram", "kind = \"dram\"\nprefault = false\n"},
                      TierKindCase{"numa_node0", "kind = \"numa\"\nnode = 0\n"},
                      TierKindCase{"pmem_anon", "kind = \"pmem\"\npath = \"anon\"\n"},
                      TierKindCase{"pmem_file", PmemFileBody()},
                      TierKindCase{"compressed_lz4", "kind = \"compressed\"\ncodec = \"lz4\"\n"},
                      TierKindCase{"compressed_zstd", "kind = \"compressed\"\ncodec = \"zstd\"\n"},
                      TierKindCase{"emulated",
                                   "kind = \"dram\"\nread_latency_ns = 200\n"
                                   "write_latency_ns = 200\n"}),
    [](const ::testing::TestParamInfo<TierKindCase>& info) { return info.param.name; });

TEST(PageChecksumTest, MoverLeavesACorruptPageWhereItIs) {
  auto backend = OpenToml(
      "[backend]\nchecksum = true\n"
      "[placement]\npolicy = \"static\"\nbackground = false\nprobe_budget_ms = 0\n"
      "[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"64KiB\"\nprefault = false\n"
      "[[tier]]\nname = \"slow\"\nkind = \"dram\"\ncapacity = \"1MiB\"\nprefault = false\n");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Backend& b = **backend;
  ASSERT_EQ(b.Init(kType, 0), Status::kOk);
  std::vector<PageBuf> pages;
  for (uint64_t i = 0; i < 8; ++i) {
    pages.push_back(TestPage(100 + i));
    ASSERT_EQ(b.Store(kType, i, pages.back().data()), Status::kOk);
  }
  ASSERT_EQ(b.tier(0).stored_pages(), 8u);
  ASSERT_TRUE(CorruptOneStoredCopy(b.tier(0), pages));

  // Draining the fast tier moves every page but the corrupt one: the mover verifies what it
  // reads, so it never makes a bad page look good on another tier.
  auto remaining = b.TierOffline(0);
  ASSERT_TRUE(remaining.ok()) << remaining.error().message;
  EXPECT_EQ(*remaining, 1u);
  EXPECT_EQ(b.tier(0).stored_pages(), 1u);
  EXPECT_EQ(b.tier(1).stored_pages(), 7u);
  EXPECT_GE(b.tier(0).checksum_failures(), 1u);
  EXPECT_EQ(b.tier(1).checksum_failures(), 0u);

  int failed = 0;
  for (uint64_t i = 0; i < 8; ++i) {
    PageBuf out;
    const Status s = b.Load(kType, i, out.data());
    if (s == Status::kIoError) {
      ++failed;
      EXPECT_TRUE(Backend::LastLoadFailure().checksum);
      EXPECT_EQ(Backend::LastLoadFailure().tier, 0u);
    } else {
      ASSERT_EQ(s, Status::kOk);
      EXPECT_EQ(out, pages[i]) << "offset " << i;
    }
  }
  EXPECT_EQ(failed, 1);
}

TEST(PageChecksumTest, DemotionSkipsACorruptPageAndCountsAMoverIoError) {
  auto backend = OpenToml(
      "[backend]\nchecksum = true\n"
      "[placement]\npolicy = \"adaptive\"\nbackground = false\nprobe_budget_ms = 0\n"
      "high_watermark = 0.5\nlow_watermark = 0.1\nmin_residency_ms = 0\n"
      "[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"32KiB\"\nprefault = false\n"
      "[[tier]]\nname = \"slow\"\nkind = \"pmem\"\npath = \"anon\"\ncapacity = \"1MiB\"\n");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Backend& b = **backend;
  ASSERT_EQ(b.Init(kType, 0), Status::kOk);
  std::vector<PageBuf> pages;
  for (uint64_t i = 0; i < 8; ++i) {
    pages.push_back(TestPage(200 + i));
    ASSERT_EQ(b.Store(kType, i, pages.back().data()), Status::kOk);
  }
  ASSERT_EQ(b.tier(0).stored_pages(), 8u);
  ASSERT_TRUE(CorruptOneStoredCopy(b.tier(0), pages));
  for (int i = 0; i < 4; ++i) b.Maintain();
  // Demotion down to the low watermark (under one page) moved all but the corrupt page.
  EXPECT_EQ(b.tier(0).stored_pages(), 1u);
  EXPECT_EQ(b.tier(1).stored_pages(), 7u);
  EXPECT_EQ(b.tier(1).checksum_failures(), 0u);
  const std::string json = StatsJson(b);
  const std::string key = "\"mover_io_errors\":";
  const size_t io = json.find(key);
  ASSERT_NE(io, std::string::npos) << json;
  EXPECT_GE(std::strtoull(json.c_str() + io + key.size(), nullptr, 10), 1u) << json;
  int failed = 0;
  for (uint64_t i = 0; i < 8; ++i) {
    PageBuf out;
    const Status s = b.Load(kType, i, out.data());
    if (s == Status::kOk) {
      EXPECT_EQ(out, pages[i]) << "offset " << i;
    } else {
      EXPECT_EQ(s, Status::kIoError);
      ++failed;
    }
  }
  EXPECT_EQ(failed, 1);
}

TEST(PageChecksumTest, TierFailureThatIsNotAChecksumIsReportedAsSuch) {
  // A compressed object whose stream is broken fails in the codec, not in the checksum: the
  // backend reports a tier failure (LastLoadFailure().checksum == false), zeroes the buffer.
  auto backend = OpenToml(
      "[placement]\npolicy = \"static\"\nbackground = false\nprobe_budget_ms = 0\n"
      "[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncodec = \"lz4\"\ncapacity = \"1MiB\"\n"
      "checksum = true\n");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  Backend& b = **backend;
  ASSERT_EQ(b.Init(kType, 0), Status::kOk);
  const PageBuf page = TestPage(7);
  ASSERT_EQ(b.Store(kType, 3, page.data()), Status::kOk);
  const auto& tier = dynamic_cast<const CompressedTier&>(b.tier(0));
  uint32_t size = 0;
  unsigned char* bytes = nullptr;
  for (TierHandle h = 0; h < tier.HandleSpace() && bytes == nullptr; ++h) {
    bytes = tier.StoredBytes(h, &size);
  }
  ASSERT_NE(bytes, nullptr);
  // All 0xFF: LZ4 reads one literal run whose length never ends before the input does.
  std::memset(bytes, 0xFF, size);
  PageBuf out;
  out.fill(0xEE);
  ASSERT_EQ(b.Load(kType, 3, out.data()), Status::kIoError);
  EXPECT_FALSE(Backend::LastLoadFailure().checksum);
  EXPECT_TRUE(AllZero(out));
  EXPECT_EQ(b.tier(0).checksum_failures(), 0u);
}

// ---- configuration --------------------------------------------------------------------------

TEST(PageChecksumConfigTest, BackendChecksumIsEveryTiersDefaultAndATierMayOverrideIt) {
  auto config = Config::FromString(
      "[backend]\nchecksum = true\n"
      "[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\n"
      "[[tier]]\nname = \"b\"\nkind = \"dram\"\ncapacity = \"64KiB\"\nchecksum = false\n",
      "c.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->checksum);
  EXPECT_TRUE(config->tiers[0].checksum);
  EXPECT_FALSE(config->tiers[1].checksum);
  config->placement.probe_budget_ms = 0;
  auto b = OpenBackend(*config);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE((*b)->tier(0).checksums());
  EXPECT_FALSE((*b)->tier(1).checksums());
  const std::string json = StatsJson(**b);
  EXPECT_NE(json.find("\"name\":\"a\""), std::string::npos);
  EXPECT_NE(json.find("\"checksum\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"checksum\":0"), std::string::npos) << json;
}

TEST(PageChecksumConfigTest, ChecksumIsOffUnlessAsked) {
  auto config = Config::FromString(
      "[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\n", "c.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_FALSE(config->checksum);
  EXPECT_FALSE(config->tiers[0].checksum);
}

TEST(PageChecksumConfigTest, RefusesANonBooleanChecksumNamingFileLineAndKey) {
  auto tier = Config::FromString(
      "[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\nchecksum = \"yes\"\n",
      "c.toml");
  ASSERT_FALSE(tier.ok());
  EXPECT_NE(tier.error().message.find("c.toml:5"), std::string::npos) << tier.error().message;
  EXPECT_NE(tier.error().message.find("'checksum'"), std::string::npos) << tier.error().message;

  auto backend = Config::FromString(
      "[backend]\nchecksum = 1\n[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\n",
      "c.toml");
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("c.toml:2"), std::string::npos) << backend.error().message;
  EXPECT_NE(backend.error().message.find("'checksum'"), std::string::npos)
      << backend.error().message;
}

// The C ABI's side of a checksum failure (-EIO with a message) is in c_api_test.cc, which can
// include the public header.

// ---- pmem bad blocks ---------------------------------------------------------------------------

TEST(PmemBadBlockTest, FramesOverlappingABadRangeAreNeverUsed) {
  PmemTierOptions o;
  o.name = "bb";
  o.capacity_bytes = 32 * kPageSize;
  // Frame 3 (a partial overlap counts), frames 10-11 (one range across a frame boundary), and a
  // range beyond the pool, which is ignored.
  o.retired_ranges = {
      {3 * kPageSize + 512, 64}, {10 * kPageSize + 4000, kPageSize}, {1000 * kPageSize, kPageSize}};
  auto t = PmemTier::Open(o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  PmemTier& tier = **t;
  EXPECT_EQ(tier.badblock_frames(), 3u);
  EXPECT_EQ(tier.capacity_bytes(), 29 * kPageSize);
  EXPECT_EQ(tier.used_bytes(), 0u);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0;; ++i) {
    TierHandle h;
    if (tier.Store(PatternPage(i).data(), &h) != Status::kOk) break;
    EXPECT_TRUE(h != 3 && h != 10 && h != 11) << "a store was given bad frame " << h;
    handles.push_back(h);
    ASSERT_LT(i, 100u);
  }
  EXPECT_EQ(handles.size(), 29u);
  EXPECT_EQ(tier.used_bytes(), tier.capacity_bytes());
  for (TierHandle h : handles) tier.Free(h);
  EXPECT_EQ(tier.used_bytes(), 0u);

  testing::RecordingSink sink;
  tier.ExportStats(sink);
  EXPECT_EQ(sink.Number("badblock_frames"), 3u);
  // Anonymous memory has no bad-block list.
  EXPECT_EQ(sink.Number("badblocks_checked"), 0u);
  EXPECT_FALSE(tier.badblocks_checked());
  EXPECT_NE(tier.badblock_note().find("bad blocks"), std::string::npos) << tier.badblock_note();
}

TEST(PmemBadBlockTest, OrdinaryFileHasItsBadBlocksChecked) {
  PmemTierOptions o;
  o.name = "bbfile";
  o.capacity_bytes = 16 * kPageSize;
  o.path = ::testing::TempDir() + "tierswap_badblocks_" + std::to_string(getpid()) + ".pool";
  auto t = PmemTier::Open(o);
  std::remove(o.path.c_str());
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE((*t)->badblocks_checked()) << (*t)->badblock_note();
  EXPECT_EQ((*t)->badblock_frames(), 0u);
  EXPECT_EQ((*t)->capacity_bytes(), 16 * kPageSize);
}

TEST(PmemBadBlockTest, RefusesAPoolWhoseEveryFrameIsBad) {
  PmemTierOptions o;
  o.name = "allbad";
  o.capacity_bytes = 4 * kPageSize;
  o.retired_ranges = {{0, 4 * kPageSize}};
  auto t = PmemTier::Open(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("tier 'allbad'"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("bad block"), std::string::npos) << t.error().message;
}

}  // namespace
}  // namespace tierswap
