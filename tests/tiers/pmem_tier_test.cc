// PmemTier on anonymous memory and ordinary files (anywhere), and on DAX: a file on a DAX
// filesystem and a device-DAX character device, in the lab (scripts/lab-test.sh boots its NVDIMM
// as fsdax, where TIERSWAP_LAB_PMEM_DIR names the mount, and as devdax, where
// TIERSWAP_LAB_DAX_DEV names the device). Open failures are checked for a message that names the
// path and for leaving nothing behind.
#include "tiers/pmem_tier.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/hardware.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using testing::PageBuf;
using testing::PatternPage;

constexpr uint64_t kPages = 64;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : UINT64_MAX;
}

void WriteFile(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(bytes, 'x');
  out.write(block.data(), static_cast<std::streamsize>(block.size()));
}

// Reads back the 4 KiB at `offset` of a file with ordinary I/O, behind the tier's back.
PageBuf ReadFilePage(const std::string& path, uint64_t offset) {
  PageBuf page{};
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(reinterpret_cast<char*>(page.data()), kPageSize);
  return page;
}

// Stores `count` distinct pages, checks each against the mapping and loads them all back.
void ExpectRoundTrip(PmemTier& tier, uint64_t count, uint64_t seed) {
  std::vector<TierHandle> handles;
  for (uint64_t i = 0; i < count; ++i) {
    TierHandle h;
    ASSERT_EQ(tier.Store(PatternPage(seed + i).data(), &h), Status::kOk) << "page " << i;
    ASSERT_EQ(std::memcmp(tier.FrameAddress(h), PatternPage(seed + i).data(), kPageSize), 0)
        << "page " << i << " is not in its frame";
    handles.push_back(h);
  }
  for (uint64_t i = 0; i < count; ++i) {
    PageBuf out{};
    ASSERT_EQ(tier.Load(handles[i], out.data()), Status::kOk);
    EXPECT_EQ(out, PatternPage(seed + i)) << "page " << i;
  }
  for (auto h : handles) tier.Free(h);
  EXPECT_EQ(tier.used_bytes(), 0u);
}

// A fresh directory per test, removed afterwards.
class PmemTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pmem_tier_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(dir_, ec);
  }

  PmemTierOptions FileOptions(const std::string& path, uint64_t pages = kPages) {
    PmemTierOptions o;
    o.name = "pm";
    o.path = path;
    o.capacity_bytes = pages * kPageSize;
    return o;
  }

  // Opens with `o`, expects failure, and returns the message after checking that it names
  // the path.
  std::string ExpectOpenFails(const PmemTierOptions& o) {
    auto t = PmemTier::Open(o);
    EXPECT_FALSE(t.ok()) << "opened " << o.path;
    if (t.ok()) return "";
    const std::string msg = t.error().message;
    EXPECT_NE(msg.find("'" + o.path + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tier 'pm'"), std::string::npos) << msg;
    return msg;
  }

  std::string dir_;
};

// ---- round trips -------------------------------------------------------------------------------

struct Case {
  const char* name;
  bool file;
  bool persist;
};

class PmemTierRoundTripTest : public PmemTierTest, public ::testing::WithParamInterface<Case> {
 protected:
  std::unique_ptr<PmemTier> OpenCase(uint64_t pages) {
    PmemTierOptions o = FileOptions(GetParam().file ? dir_ + "/pool" : "anon", pages);
    o.persist = GetParam().persist;
    auto t = PmemTier::Open(o);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t ? std::move(t).value() : nullptr;
  }
};

TEST_P(PmemTierRoundTripTest, StoredPagesLoadBackByteExact) {
  auto tier = OpenCase(kPages);
  ASSERT_TRUE(tier);
  EXPECT_EQ(tier->capacity_bytes(), kPages * kPageSize);
  EXPECT_EQ(tier->kind(), TierKind::kPmem);
  EXPECT_EQ(tier->persist(), GetParam().persist);
  ExpectRoundTrip(*tier, kPages, 100);
  // Again over the freed frames, with other contents.
  ExpectRoundTrip(*tier, kPages / 2, 5000);
}

TEST_P(PmemTierRoundTripTest, FullTierRejectsWithNoSpaceAndReusesFreedFrames) {
  auto tier = OpenCase(8);
  ASSERT_TRUE(tier);
  std::vector<TierHandle> handles(8);
  for (uint64_t i = 0; i < 8; ++i) {
    ASSERT_EQ(tier->Store(PatternPage(i).data(), &handles[i]), Status::kOk);
  }
  TierHandle h;
  EXPECT_EQ(tier->Store(PatternPage(99).data(), &h), Status::kNoSpace);
  EXPECT_EQ(tier->used_bytes(), tier->capacity_bytes());
  tier->Free(handles[3]);
  ASSERT_EQ(tier->Store(PatternPage(99).data(), &h), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(tier->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, PatternPage(99));
  ASSERT_EQ(tier->Load(handles[4], out.data()), Status::kOk);
  EXPECT_EQ(out, PatternPage(4));
}

TEST_P(PmemTierRoundTripTest, ConcurrentStoreLoadFreeOnDisjointHandles) {
  auto tier = OpenCase(256);
  ASSERT_TRUE(tier);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      PageBuf out{};
      for (uint64_t i = 0; i < 500; ++i) {
        const uint64_t seed = t * 1000003 + i;
        TierHandle h;
        if (tier->Store(PatternPage(seed).data(), &h) != Status::kOk) continue;
        if (tier->Load(h, out.data()) != Status::kOk || out != PatternPage(seed)) ++mismatches;
        tier->Free(h);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(tier->stored_pages(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Sources, PmemTierRoundTripTest,
    ::testing::Values(Case{"anon", false, false}, Case{"anon_persist", false, true},
                      Case{"file", true, false}, Case{"file_persist", true, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ---- sources and granularity -------------------------------------------------------------------

TEST_F(PmemTierTest, AnonymousMappingHasByteGranularityAndIsNotDax) {
  auto t = PmemTier::Open(FileOptions("anon"));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_STREQ((*t)->granularity(), "byte");
  EXPECT_FALSE((*t)->is_dax());
}

TEST_F(PmemTierTest, OrdinaryFileReportsAGranularityConsistentWithDax) {
  auto t = PmemTier::Open(FileOptions(dir_ + "/pool"));
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string g = (*t)->granularity();
  EXPECT_TRUE(g == "byte" || g == "cache_line" || g == "page") << g;
  EXPECT_EQ((*t)->is_dax(), g != "page") << g;
}

TEST_F(PmemTierTest, StoredPageIsInThePoolFileAtItsFrameOffset) {
  for (bool persist : {false, true}) {
    SCOPED_TRACE(persist ? "persist" : "no persist");
    const std::string path = dir_ + (persist ? "/durable" : "/plain");
    PmemTierOptions o = FileOptions(path);
    o.persist = persist;
    auto t = PmemTier::Open(o);
    ASSERT_TRUE(t.ok()) << t.error().message;
    TierHandle h;
    ASSERT_EQ((*t)->Store(PatternPage(7).data(), &h), Status::kOk);
    const uint64_t offset = static_cast<uint64_t>((*t)->FrameAddress(h) - (*t)->FrameAddress(0));
    EXPECT_EQ(ReadFilePage(path, offset), PatternPage(7));
  }
}

TEST_F(PmemTierTest, CreatesMissingFileWithMode0600AndCapacitySizeAndKeepsItAfterClose) {
  const std::string path = dir_ + "/pool";
  {
    auto t = PmemTier::Open(FileOptions(path));
    ASSERT_TRUE(t.ok()) << t.error().message;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kPages * kPageSize);
    // Allocated, not sparse: the store path must not allocate blocks.
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kPages * kPageSize);
  }
  EXPECT_TRUE(Exists(path)) << "the pool file must stay after the tier closes";
  // And it opens again.
  auto again = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(again.ok()) << again.error().message;
  ExpectRoundTrip(**again, 4, 1);
}

TEST_F(PmemTierTest, UsesTheStartOfALargerExistingFileWithoutResizingIt) {
  const std::string path = dir_ + "/big";
  WriteFile(path, 3 * kPages * kPageSize);
  auto t = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ((*t)->capacity_bytes(), kPages * kPageSize);
  EXPECT_EQ(FileSize(path), 3 * kPages * kPageSize);
  ExpectRoundTrip(**t, kPages, 300);
}

TEST_F(PmemTierTest, AllocatesAnEmptyExistingFileToCapacity) {
  const std::string path = dir_ + "/empty";
  WriteFile(path, 0);
  auto t = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(FileSize(path), kPages * kPageSize);
}

TEST_F(PmemTierTest, ExportsPathGranularityPersistAndDax) {
  PmemTierOptions o = FileOptions("anon");
  o.persist = true;
  auto t = PmemTier::Open(o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  testing::RecordingSink sink;
  (*t)->ExportStats(sink);
  EXPECT_EQ(sink.TextOf("kind"), "pmem");
  EXPECT_EQ(sink.TextOf("path"), "anon");
  EXPECT_EQ(sink.TextOf("granularity"), "byte");
  EXPECT_EQ(sink.Get("persist"), 1u);
  EXPECT_EQ(sink.Get("dax"), 0u);

  auto f = PmemTier::Open(FileOptions(dir_ + "/pool"));
  ASSERT_TRUE(f.ok()) << f.error().message;
  testing::RecordingSink file_sink;
  (*f)->ExportStats(file_sink);
  EXPECT_EQ(file_sink.TextOf("path"), dir_ + "/pool");
  EXPECT_EQ(file_sink.TextOf("granularity"), (*f)->granularity());
  EXPECT_EQ(file_sink.Get("persist"), 0u);
  EXPECT_EQ(file_sink.Get("dax"), (*f)->is_dax() ? 1u : 0u);
}

// ---- open failures -----------------------------------------------------------------------------

TEST_F(PmemTierTest, RefusesMissingParentDirectoryAndCreatesNothing) {
  const PmemTierOptions o = FileOptions(dir_ + "/missing/pool");
  const std::string msg = ExpectOpenFails(o);
  EXPECT_NE(msg.find(std::strerror(ENOENT)), std::string::npos) << msg;
  EXPECT_FALSE(Exists(dir_ + "/missing"));
}

TEST_F(PmemTierTest, RefusesADirectory) {
  const std::string msg = ExpectOpenFails(FileOptions(dir_));
  EXPECT_NE(msg.find(std::strerror(EISDIR)), std::string::npos) << msg;
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(PmemTierTest, RefusesAPathInAnUnwritableDirectoryAndCreatesNothing) {
  std::string parent;
  if (geteuid() != 0) {
    parent = dir_ + "/readonly";
    ASSERT_EQ(mkdir(parent.c_str(), 0500), 0) << std::strerror(errno);
  } else {
    // Root ignores file modes, so a 0500 directory would be writable; sysfs refuses to create
    // files for everyone, root included.
    parent = "/sys";
    struct stat st;
    if (stat("/sys/kernel", &st) != 0) GTEST_SKIP() << "running as root without sysfs mounted";
  }
  const std::string path = parent + "/tierswap-pool";
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("cannot create"), std::string::npos) << msg;
  EXPECT_FALSE(Exists(path));
}

TEST_F(PmemTierTest, RefusesExistingFileSmallerThanCapacityNamingBothSizesAndLeavesItAlone) {
  const std::string path = dir_ + "/small";
  WriteFile(path, 2 * kPageSize);
  const std::string msg = ExpectOpenFails(FileOptions(path, 16));
  EXPECT_NE(msg.find(std::to_string(2 * kPageSize)), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(16 * kPageSize)), std::string::npos) << msg;
  EXPECT_EQ(FileSize(path), 2 * kPageSize);
}

TEST_F(PmemTierTest, RefusesZeroCapacityAndCreatesNothing) {
  const std::string path = dir_ + "/pool";
  PmemTierOptions o = FileOptions(path);
  o.capacity_bytes = 0;
  ExpectOpenFails(o);
  EXPECT_FALSE(Exists(path));
  o.capacity_bytes = kPageSize - 1;
  ExpectOpenFails(o);
  EXPECT_FALSE(Exists(path));
}

TEST_F(PmemTierTest, RefusesAFifo) {
  const std::string path = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("FIFO"), std::string::npos) << msg;
}

TEST_F(PmemTierTest, RefusesACharacterDeviceThatIsNotDeviceDax) {
  // libpmem2 sets no message for this one; the tier's message must still say what happened.
  const std::string msg = ExpectOpenFails(FileOptions("/dev/null"));
  EXPECT_NE(msg.find("device DAX"), std::string::npos) << msg;
  EXPECT_NE(msg.find("libpmem2"), std::string::npos) << msg;
}

TEST_F(PmemTierTest, RefusesAnEmptyPath) {
  auto t = PmemTier::Open(FileOptions(""));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("path is empty"), std::string::npos) << t.error().message;
}

// ---- DAX (the lab) -----------------------------------------------------------------------------

// The lab's value of `name`, or a skip (a failure with TIERSWAP_FAIL_ON_SKIP=1) naming it.
#define LAB_ENV_OR_SKIP(var, name, what)                                   \
  const char* var = std::getenv(name);                                     \
  if (var == nullptr || *var == '\0') {                                    \
    TIERSWAP_SKIP_OR_FAIL(std::string("needs ") + (what) + " (" + (name) + \
                          "); runs in the lab (scripts/lab-test.sh)");     \
    return;                                                                \
  }

TEST(PmemTierDaxTest, MapsDaxFileWithCacheLineGranularity) {
  LAB_ENV_OR_SKIP(dir, "TIERSWAP_LAB_PMEM_DIR", "a DAX filesystem");
  for (bool persist : {false, true}) {
    SCOPED_TRACE(persist ? "persist" : "no persist");
    const std::string path = std::string(dir) + "/pmem_tier_test." + std::to_string(getpid()) +
                             (persist ? ".durable" : ".plain");
    PmemTierOptions o;
    o.name = "pm";
    o.path = path;
    o.capacity_bytes = 8ull << 20;
    o.persist = persist;
    {
      auto t = PmemTier::Open(o);
      ASSERT_TRUE(t.ok()) << t.error().message;
      PmemTier& tier = **t;
      std::cout << "[ pmem     ] " << path << ": granularity " << tier.granularity() << ", dax "
                << tier.is_dax() << ", persist " << persist << "\n";
      ::testing::Test::RecordProperty(persist ? "granularity_persist" : "granularity",
                                      tier.granularity());
      EXPECT_TRUE(tier.is_dax());
      EXPECT_STRNE(tier.granularity(), "page");
      ExpectRoundTrip(tier, tier.capacity_bytes() / kPageSize, 40000);
      TierHandle h;
      ASSERT_EQ(tier.Store(PatternPage(11).data(), &h), Status::kOk);
      const uint64_t offset = static_cast<uint64_t>(tier.FrameAddress(h) - tier.FrameAddress(0));
      EXPECT_EQ(ReadFilePage(path, offset), PatternPage(11));
    }
    EXPECT_EQ(unlink(path.c_str()), 0) << std::strerror(errno);
  }
}

TEST(PmemTierDeviceDaxTest, MapsWholeAlignmentUnitsOnly) {
  LAB_ENV_OR_SKIP(dev, "TIERSWAP_LAB_DAX_DEV", "a device-DAX character device");
  PmemTierOptions o;
  o.name = "devdax";
  o.path = dev;
  // Device DAX maps whole 2 MiB units: 9 MiB - 4 KiB becomes 8 MiB.
  o.capacity_bytes = (9ull << 20) - kPageSize;
  auto t = PmemTier::Open(o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  PmemTier& tier = **t;
  std::cout << "[ pmem     ] " << dev << ": granularity " << tier.granularity() << ", dax "
            << tier.is_dax() << "\n";
  EXPECT_TRUE(tier.is_dax());
  EXPECT_STRNE(tier.granularity(), "page");
  EXPECT_EQ(tier.capacity_bytes(), 8ull << 20);
  ExpectRoundTrip(tier, tier.capacity_bytes() / kPageSize, 40000);
}

TEST(PmemTierDeviceDaxTest, RefusesACapacityBeyondTheDevice) {
  LAB_ENV_OR_SKIP(dev, "TIERSWAP_LAB_DAX_DEV", "a device-DAX character device");
  PmemTierOptions o;
  o.name = "devdax";
  o.path = dev;
  o.capacity_bytes = 1ull << 40;
  auto t = PmemTier::Open(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("exceeds the device's"), std::string::npos) << t.error().message;
}

}  // namespace
}  // namespace tierswap
