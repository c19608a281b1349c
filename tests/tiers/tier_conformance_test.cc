// The conformance suite every Tier must pass. Adding a tier = one line in Factories() at the end.
// Every tier also runs the suite a second time with page checksums and scrub_on_free on (the
// `_checked` instances): integrity and hygiene are the base class's, so they must hold on every
// tier the same way.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/hardware.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"
#include "tiers/numa_tier.h"
#include "tiers/pmem_tier.h"
#include "tiers/tier.h"

namespace tierswap {
namespace {

using testing::PageBuf;
using testing::PatternPage;
using testing::TextPage;

// Half random bytes, half zeros: compressed, the random half is stored as literals, so a byte
// flipped in the middle of the codec output changes one byte of the page rather than breaking
// the stream (a corruption that only a checksum can see).
PageBuf HalfRandomPage(uint64_t seed) {
  PageBuf p = PatternPage(seed);
  std::fill(p.begin() + kPageSize / 2, p.end(), 0);
  return p;
}

// A byte of the tier's own copy of the page behind `h`, and how many such bytes there are:
// the frame (raw tiers), or the codec output (compressed tier).
unsigned char* StoredCopy(Tier& tier, TierHandle h, uint32_t* size) {
  if (unsigned char* frame = tier.DirectAddress(h)) {
    *size = kPageSize;
    return frame;
  }
  if (auto* c = dynamic_cast<CompressedTier*>(&tier)) return c->StoredBytes(h, size);
  return nullptr;
}

bool AllZero(const unsigned char* p, size_t n) {
  return std::all_of(p, p + n, [](unsigned char c) { return c == 0; });
}

struct TierFactory {
  std::string name;
  // Opens a tier whose capacity is `pages` 4 KiB pages; nullptr + GTEST_SKIP when unavailable.
  std::function<std::unique_ptr<Tier>(uint64_t pages)> open;
  // When set and false, the instance is skipped (or fails in the lab): hardware it needs.
  std::function<bool()> needs;
};

class TierConformanceTest : public ::testing::TestWithParam<TierFactory> {
 protected:
  void SetUp() override {
    if (GetParam().needs && !GetParam().needs()) {
      // Hardware instances (far NUMA nodes, DAX pmem) run for real in the lab, where
      // scripts/lab-test.sh sets TIERSWAP_FAIL_ON_SKIP=1 and a skip becomes a failure.
      TIERSWAP_SKIP_OR_FAIL(
          GetParam().name +
          " needs hardware this machine lacks; runs in the lab (scripts/lab-test.sh)");
    }
  }
  std::unique_ptr<Tier> Open(uint64_t pages) {
    auto t = GetParam().open(pages);
    EXPECT_NE(t, nullptr) << "cannot open tier " << GetParam().name;
    return t;
  }
};

TEST_P(TierConformanceTest, StoredPageLoadsBackByteExact) {
  auto tier = Open(64);
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < 32; ++i) {
    TierHandle h;
    ASSERT_EQ(tier->Store(TextPage(i).data(), &h), Status::kOk);
    handles.push_back(h);
  }
  for (uint64_t i = 0; i < 32; ++i) {
    PageBuf out{};
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    EXPECT_EQ(out, TextPage(i)) << "page " << i;
  }
}

TEST_P(TierConformanceTest, FullTierRejectsWithNoSpaceAndStaysWithinCapacity) {
  auto tier = Open(16);
  ASSERT_TRUE(tier);
  uint64_t accepted = 0, refused = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    TierHandle h;
    const Status s = tier->Store(TextPage(i).data(), &h);
    ASSERT_TRUE(s == Status::kOk || s == Status::kNoSpace) << StatusName(s);
    ASSERT_LE(tier->used_bytes(), tier->capacity_bytes());
    if (s == Status::kNoSpace) {
      refused = i;
      break;
    }
    ++accepted;
  }
  EXPECT_GE(accepted, 1u);
  ASSERT_LT(accepted, 1000u) << "the tier never filled up";
  // Nothing was freed: the page that found no room still finds none. (A compressed tier may
  // still take a smaller page, so the same page is offered again.)
  TierHandle h;
  EXPECT_EQ(tier->Store(TextPage(refused).data(), &h), Status::kNoSpace);
}

TEST_P(TierConformanceTest, FreedRoomIsReused) {
  auto tier = Open(8);
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles;
  for (uint64_t i = 0;; ++i) {
    TierHandle h;
    if (tier->Store(TextPage(i).data(), &h) != Status::kOk) break;
    handles.push_back(h);
    ASSERT_LT(i, 10000u);
  }
  ASSERT_FALSE(handles.empty());
  tier->Free(handles.front());
  TierHandle h;
  ASSERT_EQ(tier->Store(TextPage(777).data(), &h), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, TextPage(777));
  // The other pages were not disturbed by the reuse.
  for (size_t i = 1; i < handles.size(); ++i) {
    ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
    EXPECT_EQ(out, TextPage(i));
  }
}

TEST_P(TierConformanceTest, AccountingFollowsStoresLoadsAndFrees) {
  auto tier = Open(32);
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->stored_pages(), 0u);
  EXPECT_EQ(tier->used_bytes(), 0u);
  std::vector<TierHandle> handles(10);
  for (uint64_t i = 0; i < 10; ++i)
    ASSERT_EQ(tier->Store(TextPage(i).data(), &handles[i]), Status::kOk);
  PageBuf out{};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(tier->Load(handles[i], out.data()), Status::kOk);
  EXPECT_EQ(tier->stores(), 10u);
  EXPECT_EQ(tier->loads(), 3u);
  EXPECT_EQ(tier->stored_pages(), 10u);
  EXPECT_GT(tier->used_bytes(), 0u);
  for (auto h : handles) tier->Free(h);
  EXPECT_EQ(tier->stored_pages(), 0u);
  EXPECT_EQ(tier->used_bytes(), 0u);
  EXPECT_GE(tier->capacity_bytes(), 32 * kPageSize / 2);
}

TEST_P(TierConformanceTest, ConcurrentStoreLoadFreeOnDisjointHandles) {
  auto tier = Open(512);
  ASSERT_TRUE(tier);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PageBuf out{};
      for (uint64_t i = 0; i < 2000; ++i) {
        const uint64_t seed = t * 1000003 + i;
        TierHandle h;
        if (tier->Store(TextPage(seed).data(), &h) != Status::kOk) continue;
        if (tier->Load(h, out.data()) != Status::kOk || out != TextPage(seed)) ++mismatches;
        tier->Free(h);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(tier->stored_pages(), 0u);
}

TEST_P(TierConformanceTest, OverwriteReplacesThePageOrDeclines) {
  auto tier = Open(16);
  ASSERT_TRUE(tier);
  TierHandle h;
  ASSERT_EQ(tier->Store(TextPage(1).data(), &h), Status::kOk);
  const Status s = tier->Overwrite(h, TextPage(2).data());
  ASSERT_TRUE(s == Status::kOk || s == Status::kRejected) << StatusName(s);
  PageBuf out{};
  ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
  // Replaced in place (its checksum too), or untouched.
  EXPECT_EQ(out, TextPage(s == Status::kOk ? 2 : 1));
  tier->Free(h);
}

TEST_P(TierConformanceTest, PageMovedInAndOutLoadsBackByteExact) {
  auto tier = Open(16);
  ASSERT_TRUE(tier);
  TierHandle h;
  ASSERT_EQ(tier->MoveIn(TextPage(5).data(), &h, /*hint=*/5), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(tier->MoveOut(h, out.data()), Status::kOk);
  EXPECT_EQ(out, TextPage(5));
  ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, TextPage(5));
  tier->Free(h);
  EXPECT_EQ(tier->stored_pages(), 0u);
}

TEST_P(TierConformanceTest, CorruptedCopyFailsItsChecksumOnlyWhenChecksumsAreOn) {
  auto tier = Open(16);
  ASSERT_TRUE(tier);
  TierHandle h;
  const PageBuf page = HalfRandomPage(9);
  ASSERT_EQ(tier->Store(page.data(), &h), Status::kOk);
  uint32_t size = 0;
  unsigned char* copy = StoredCopy(*tier, h, &size);
  ASSERT_NE(copy, nullptr) << "no way to reach the tier's copy of a page";
  copy[size / 4] ^= 0x5A;  // behind the tier's back
  PageBuf out;
  out.fill(0xEE);
  const Status s = tier->Load(h, out.data());
  if (tier->checksums()) {
    EXPECT_EQ(s, Status::kIoError);
    EXPECT_TRUE(Tier::LastFailureWasChecksum());
    EXPECT_EQ(tier->checksum_failures(), 1u);
    EXPECT_TRUE(AllZero(out.data(), kPageSize)) << "the corrupt bytes were handed back";
    // The mover cannot take it elsewhere either.
    EXPECT_EQ(tier->MoveOut(h, out.data()), Status::kIoError);
    EXPECT_EQ(tier->checksum_failures(), 2u);
  } else {
    // Nothing else notices: the flipped byte comes back as data.
    ASSERT_EQ(s, Status::kOk);
    EXPECT_NE(out, page);
    EXPECT_EQ(tier->checksum_failures(), 0u);
  }
  tier->Free(h);
}

TEST_P(TierConformanceTest, FreedCopyIsZeroedOnlyWhenScrubbing) {
  auto tier = Open(16);
  ASSERT_TRUE(tier);
  TierHandle h;
  ASSERT_EQ(tier->Store(TextPage(3).data(), &h), Status::kOk);
  uint32_t size = 0;
  unsigned char* copy = StoredCopy(*tier, h, &size);
  ASSERT_NE(copy, nullptr);
  ASSERT_FALSE(AllZero(copy, size));
  tier->Free(h);
  // The memory stays mapped (it belongs to the tier), so it can be read after the free.
  EXPECT_EQ(AllZero(copy, size), tier->scrub_on_free());
}

std::string FactoryName(const ::testing::TestParamInfo<TierFactory>& info) {
  return info.param.name;
}

std::unique_ptr<Tier> OpenDram(uint64_t pages, bool prefault) {
  DramTierOptions o;
  o.capacity_bytes = pages * kPageSize;
  o.prefault = prefault;
  auto t = DramTier::Open(o);
  return t ? std::unique_ptr<Tier>(std::move(t).value()) : nullptr;
}

std::unique_ptr<Tier> OpenNuma(uint64_t pages, int node) {
  auto t = NumaTier::Open(NumaTierOptions{"numa" + std::to_string(node), node, pages * kPageSize});
  EXPECT_TRUE(t.ok()) << t.error().message;
  if (!t) return nullptr;
  // Every frame on its node, or the tier is not what it claims.
  EXPECT_EQ((*t)->misplaced_frames(), 0u) << "node " << node;
  return std::unique_ptr<Tier>(std::move(t).value());
}

std::unique_ptr<Tier> OpenNuma0(uint64_t pages) { return OpenNuma(pages, 0); }

bool HasNode(int node) {
  return ::access(("/sys/devices/system/node/node" + std::to_string(node)).c_str(), F_OK) == 0;
}

// What the lab (scripts/lab/run-in-lab) says its guest has; nullptr outside the lab.
const char* LabEnv(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}
const char* DaxDir() { return LabEnv("TIERSWAP_LAB_PMEM_DIR"); }

std::unique_ptr<Tier> OpenDaxPmem(uint64_t pages) {
  PmemTierOptions o;
  o.name = "pmem_dax";
  o.capacity_bytes = pages * kPageSize;
  o.prefault = false;
  static int n = 0;
  o.path = std::string(DaxDir()) + "/tierswap_conformance_" + std::to_string(getpid()) + "_" +
           std::to_string(n++) + ".pool";
  auto t = PmemTier::Open(o);
  EXPECT_TRUE(t.ok()) << t.error().message;
  std::remove(o.path.c_str());
  if (!t) return nullptr;
  EXPECT_TRUE((*t)->is_dax()) << "granularity " << (*t)->granularity();
  return std::unique_ptr<Tier>(std::move(t).value());
}

// Device DAX (the lab's NVDIMM in devdax mode). The device maps only whole multiples of its
// alignment (2 MiB), so the tier holds at least that much.
std::unique_ptr<Tier> OpenDevDax(uint64_t pages) {
  PmemTierOptions o;
  o.name = "pmem_devdax";
  o.path = LabEnv("TIERSWAP_LAB_DAX_DEV");
  o.capacity_bytes = std::max<uint64_t>(pages, 512) * kPageSize;
  o.prefault = false;
  auto t = PmemTier::Open(o);
  EXPECT_TRUE(t.ok()) << t.error().message;
  if (!t) return nullptr;
  EXPECT_TRUE((*t)->is_dax()) << "granularity " << (*t)->granularity();
  return std::unique_ptr<Tier>(std::move(t).value());
}

std::unique_ptr<Tier> OpenPmem(uint64_t pages, bool file, bool persist) {
  PmemTierOptions o;
  o.name = file ? "pmem_file" : "pmem_anon";
  o.capacity_bytes = pages * kPageSize;
  o.persist = persist;
  o.prefault = false;
  if (file) {
    // A fresh pool per instance; the tier keeps its file open, so it can be unlinked now.
    static int n = 0;
    o.path = ::testing::TempDir() + "tierswap_conformance_" + std::to_string(getpid()) + "_" +
             std::to_string(n++) + ".pool";
  }
  auto t = PmemTier::Open(o);
  EXPECT_TRUE(t.ok()) << t.error().message;
  if (file) std::remove(o.path.c_str());
  return t ? std::unique_ptr<Tier>(std::move(t).value()) : nullptr;
}

std::unique_ptr<Tier> OpenCompressed(uint64_t pages, Codec codec) {
  CompressedTierOptions o;
  o.name = CodecName(codec);
  o.codec = codec;
  // The tier's capacity is its backing memory; it needs a few frames of its own to work with.
  o.capacity_bytes = std::max<uint64_t>(pages, CompressedTier::kMinFrames) * kPageSize;
  o.prefault = false;
  auto t = CompressedTier::Open(o);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t ? std::unique_ptr<Tier>(std::move(t).value()) : nullptr;
}

std::unique_ptr<Tier> OpenEmulated(uint64_t pages) {
  auto t = OpenDram(pages, false);
  if (t) t->SetEmulation(TierEmulation{500, 1000, 2000});
  return t;
}

// The same tier with page checksums and scrub_on_free on.
TierFactory Checked(TierFactory f) {
  f.name += "_checked";
  f.open = [open = f.open](uint64_t pages) -> std::unique_ptr<Tier> {
    auto t = open(pages);
    if (!t) return nullptr;
    Result<void> r = t->EnableChecksums();
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r) return nullptr;
    t->SetScrubOnFree(true);
    return t;
  };
  return f;
}

std::vector<TierFactory> Factories() {
  std::vector<TierFactory> plain = {
      TierFactory{"dram", [](uint64_t p) { return OpenDram(p, true); }},
      TierFactory{"dram_lazy", [](uint64_t p) { return OpenDram(p, false); }},
      TierFactory{"numa_node0", OpenNuma0},
      TierFactory{"numa_node1_far", [](uint64_t p) { return OpenNuma(p, 1); },
                  [] { return HasNode(1); }},
      TierFactory{"numa_node2_far", [](uint64_t p) { return OpenNuma(p, 2); },
                  [] { return HasNode(2); }},
      TierFactory{"pmem_dax", OpenDaxPmem, [] { return DaxDir() != nullptr; }},
      TierFactory{"pmem_devdax", OpenDevDax,
                  [] { return LabEnv("TIERSWAP_LAB_DAX_DEV") != nullptr; }},
      // The lab's NVDIMM onlined as RAM (kmem): a memory-only node in a lower memory tier.
      TierFactory{
          "numa_kmem",
          [](uint64_t p) { return OpenNuma(p, std::atoi(LabEnv("TIERSWAP_LAB_PMEM_NODE"))); },
          [] { return LabEnv("TIERSWAP_LAB_PMEM_NODE") != nullptr; }},
      TierFactory{"pmem_anon", [](uint64_t p) { return OpenPmem(p, false, false); }},
      TierFactory{"pmem_file", [](uint64_t p) { return OpenPmem(p, true, false); }},
      TierFactory{"pmem_file_persist", [](uint64_t p) { return OpenPmem(p, true, true); }},
      TierFactory{"compressed_lz4", [](uint64_t p) { return OpenCompressed(p, Codec::kLz4); }},
      TierFactory{"compressed_zstd", [](uint64_t p) { return OpenCompressed(p, Codec::kZstd); }},
      TierFactory{"emulated_pcm", OpenEmulated}};
  std::vector<TierFactory> all = plain;
  for (const TierFactory& f : plain) all.push_back(Checked(f));
  return all;
}

INSTANTIATE_TEST_SUITE_P(Tiers, TierConformanceTest, ::testing::ValuesIn(Factories()), FactoryName);

TEST(DramTierTest, OpenRefusesCapacityBelowOnePage) {
  DramTierOptions o;
  o.name = "tiny";
  o.capacity_bytes = 4095;
  auto t = DramTier::Open(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("tier 'tiny'"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("4095"), std::string::npos) << t.error().message;
}

TEST(DramTierTest, CapacityIsRoundedDownToWholePages) {
  DramTierOptions o;
  o.capacity_bytes = 3 * kPageSize + 100;
  o.prefault = false;
  auto t = DramTier::Open(o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->capacity_bytes(), 3 * kPageSize);
}

}  // namespace
}  // namespace tierswap
