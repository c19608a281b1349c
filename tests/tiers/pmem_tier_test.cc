// PmemTier on anonymous memory and ordinary files (anywhere), and on DAX: a file on a DAX
// filesystem and a device-DAX character device, in the lab (scripts/lab-test.sh boots its NVDIMM
// as fsdax, where TIERSWAP_LAB_PMEM_DIR names the mount, and as devdax, where
// TIERSWAP_LAB_DAX_DEV names the device). Open failures are checked for a message that names the
// path and for leaving nothing behind.
#include "tiers/pmem_tier.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

// Writes `bytes` of 'x' to `path`, mode 0600 (a file of the caller's that others cannot reach).
void WriteFile(const std::string& path, uint64_t bytes, char fill = 'x') {
  {
    std::ofstream out(path, std::ios::binary);
    const std::string block(bytes, fill);
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
  }
  chmod(path.c_str(), 0600);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
    // The pool starts after the file's header region.
    EXPECT_EQ(ReadFilePage(path, kPmemPoolDataOffset + offset), PatternPage(7));
  }
}

TEST_F(PmemTierTest, CreatesMissingFileWithMode0600HeaderAndCapacityAndKeepsItAfterClose) {
  const std::string path = dir_ + "/pool";
  {
    auto t = PmemTier::Open(FileOptions(path));
    ASSERT_TRUE(t.ok()) << t.error().message;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), kPmemPoolDataOffset + kPages * kPageSize);
    // Allocated, not sparse: the store path must not allocate blocks.
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kPages * kPageSize);
    EXPECT_EQ(ReadAll(path).substr(0, 8), "tierswap") << "the header names the file tierswap's";
  }
  EXPECT_TRUE(Exists(path)) << "the pool file must stay after the tier closes";
  // And it opens again.
  auto again = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(again.ok()) << again.error().message;
  ExpectRoundTrip(**again, 4, 1);
}

TEST_F(PmemTierTest, UsesTheStartOfALargerPoolOfItsOwnWithoutResizingIt) {
  const std::string path = dir_ + "/big";
  ASSERT_TRUE(PmemTier::Open(FileOptions(path, 3 * kPages)).ok());
  auto t = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ((*t)->capacity_bytes(), kPages * kPageSize);
  EXPECT_EQ(FileSize(path), kPmemPoolDataOffset + 3 * kPages * kPageSize);
  ExpectRoundTrip(**t, kPages, 300);
}

TEST_F(PmemTierTest, GrowsAPoolOfItsOwnToALargerCapacity) {
  const std::string path = dir_ + "/grow";
  ASSERT_TRUE(PmemTier::Open(FileOptions(path, 16)).ok());
  auto t = PmemTier::Open(FileOptions(path, kPages));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(FileSize(path), kPmemPoolDataOffset + kPages * kPageSize);
  ExpectRoundTrip(**t, kPages, 400);
}

TEST_F(PmemTierTest, AllocatesAnEmptyExistingFileToCapacity) {
  const std::string path = dir_ + "/empty";
  WriteFile(path, 0);
  auto t = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(FileSize(path), kPmemPoolDataOffset + kPages * kPageSize);
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
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
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

// A file with data tierswap did not write is not a pool to reuse, whatever its size.
TEST_F(PmemTierTest, RefusesAnExistingFileItDidNotWriteAndLeavesItAlone) {
  for (const uint64_t bytes : {2 * kPageSize, kPmemPoolDataOffset + 4 * kPages * kPageSize}) {
    const std::string path = dir_ + "/data" + std::to_string(bytes);
    WriteFile(path, bytes, 'd');
    const std::string msg = ExpectOpenFails(FileOptions(path, 16));
    EXPECT_NE(msg.find("no tierswap header"), std::string::npos) << msg;
    EXPECT_NE(msg.find("never overwrites"), std::string::npos) << msg;
    EXPECT_EQ(ReadAll(path), std::string(bytes, 'd'));
  }
}

// ---- files nobody else can share, redirect or plant (docs/reliability.md, threat model) ------

// A symlink at the pool path made the open zero 2,048 page starts of the file it pointed to.
TEST_F(PmemTierTest, RefusesASymlinkAndLeavesItsTargetUntouched) {
  const std::string victim = dir_ + "/victim";
  WriteFile(victim, kPmemPoolDataOffset + 4 * kPages * kPageSize, 'v');
  const std::string before = ReadAll(victim);
  ASSERT_EQ(symlink(victim.c_str(), (dir_ + "/pool").c_str()), 0) << std::strerror(errno);
  for (bool prefault : {false, true}) {
    PmemTierOptions o = FileOptions(dir_ + "/pool");
    o.prefault = prefault;
    const std::string msg = ExpectOpenFails(o);
    EXPECT_NE(msg.find("symbolic link"), std::string::npos) << msg;
  }
  EXPECT_TRUE(ReadAll(victim) == before) << "the link's target was changed";
  // A dangling link is not followed to create its target either.
  ASSERT_EQ(symlink((dir_ + "/created-through-link").c_str(), (dir_ + "/dangling").c_str()), 0);
  ExpectOpenFails(FileOptions(dir_ + "/dangling"));
  EXPECT_FALSE(Exists(dir_ + "/created-through-link"));
}

// Two backends on one pool: the first one's loads returned the second one's bytes.
TEST_F(PmemTierTest, SecondTierOnTheSamePoolIsRefusedNamingTheHolder) {
  const std::string path = dir_ + "/pool";
  auto first = PmemTier::Open(FileOptions(path));
  ASSERT_TRUE(first.ok()) << first.error().message;
  TierHandle h;
  ASSERT_EQ((*first)->Store(PatternPage(1).data(), &h), Status::kOk);
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("in use"), std::string::npos) << msg;
  EXPECT_NE(msg.find("process " + std::to_string(getpid())), std::string::npos) << msg;
  PageBuf out{};
  ASSERT_EQ((*first)->Load(h, out.data()), Status::kOk);
  EXPECT_EQ(out, PatternPage(1));
  (*first)->Free(h);
  first->reset();
  // Free again once the first tier is gone.
  auto second = PmemTier::Open(FileOptions(path));
  EXPECT_TRUE(second.ok()) << second.error().message;
}

// A file another user made in a world-writable directory let that user read and rewrite root's
// pages.
TEST_F(PmemTierTest, RefusesAFileOfAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  const std::string path = dir_ + "/planted";
  WriteFile(path, 0);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0) << std::strerror(errno);
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("belongs to uid 65534"), std::string::npos) << msg;
  EXPECT_EQ(FileSize(path), 0u);
}

TEST_F(PmemTierTest, RefusesAFileOthersMayReadOrWrite) {
  const std::string path = dir_ + "/open-to-all";
  WriteFile(path, 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("mode 0666"), std::string::npos) << msg;
  EXPECT_NE(msg.find("chmod 600"), std::string::npos) << msg;
  EXPECT_EQ(FileSize(path), 0u);
}

TEST_F(PmemTierTest, RefusesADirectoryOthersMayWriteUnlessItIsSticky) {
  const std::string shared = dir_ + "/shared";
  ASSERT_EQ(mkdir(shared.c_str(), 0700), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0777), 0);
  const std::string msg = ExpectOpenFails(FileOptions(shared + "/pool"));
  EXPECT_NE(msg.find("not sticky"), std::string::npos) << msg;
  EXPECT_FALSE(Exists(shared + "/pool"));
  // Like /tmp: others may create names there but not replace this one.
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  auto t = PmemTier::Open(FileOptions(shared + "/pool"));
  EXPECT_TRUE(t.ok()) << t.error().message;
}

TEST_F(PmemTierTest, RefusesAPoolWithASecondName) {
  const std::string path = dir_ + "/pool";
  ASSERT_TRUE(PmemTier::Open(FileOptions(path)).ok());
  ASSERT_EQ(link(path.c_str(), (dir_ + "/other-name").c_str()), 0) << std::strerror(errno);
  const std::string msg = ExpectOpenFails(FileOptions(path));
  EXPECT_NE(msg.find("hard links"), std::string::npos) << msg;
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
  // /dev/null lets everyone write to it: refused before libpmem2 sees it.
  const std::string open_to_all = ExpectOpenFails(FileOptions("/dev/null"));
  EXPECT_NE(open_to_all.find("mode 0666"), std::string::npos) << open_to_all;
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a private /dev/null";
  // A private node of the same device gets to libpmem2, which sets no message for it; the
  // tier's message must still say what happened.
  const std::string path = dir_ + "/null";
  ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 3)), 0) << std::strerror(errno);
  const std::string msg = ExpectOpenFails(FileOptions(path));
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
      EXPECT_EQ(ReadFilePage(path, kPmemPoolDataOffset + offset), PatternPage(11));
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
