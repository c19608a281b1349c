// SwapDevice (frontend/nbdkit/swap_device.h), driven directly: the logic behind
// nbdkit-tierswap-plugin.so without nbdkit. Devices are small and their tierswap capacity
// tiny, so that pages move between tierswap and the backing file all the time; every read is
// compared with a byte-exact model, and the backing file's allocated blocks are checked against
// the pages that live there (a page tierswap holds must not also occupy the file).
#include "frontend/nbdkit/swap_device.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_file.h"

namespace tierswap {
namespace {

using testing::TempDir;  // tests/support/temp_file.h

constexpr uint64_t kPage = SwapDevice::kPageSize;

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A static-placement config with one DRAM tier of `pages` pages; no probe, so opens are quick.
std::string DramConfig(const TempDir& dir, uint64_t pages) {
  const std::string path = dir.File("tierswap.toml");
  WriteFile(path,
            "[placement]\npolicy = \"static\"\nprobe_budget_ms = 0\n\n[[tier]]\n"
            "name = \"dram\"\nkind = \"dram\"\ncapacity = " +
                std::to_string(pages * kPage) + "\n");
  return path;
}

// Allocated bytes of the backing file's data, in pages: the header's page is not counted.
uint64_t AllocatedPages(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ~uint64_t{0};
  const uint64_t pages = static_cast<uint64_t>(st.st_blocks) * 512 / kPage;
  return pages - SwapDevice::kBackingDataOffset / kPage;
}

std::vector<unsigned char> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

std::unique_ptr<SwapDevice> OpenOrDie(const SwapDeviceOptions& options) {
  Result<std::unique_ptr<SwapDevice>> dev = SwapDevice::Open(options);
  EXPECT_TRUE(dev.ok()) << (dev.ok() ? "" : dev.error().message);
  return dev.ok() ? std::move(*dev) : nullptr;
}

class SwapDeviceTest : public ::testing::Test {
 protected:
  // A 64-page device whose tierswap holds at most `capacity_pages`.
  void OpenDevice(uint64_t capacity_pages, uint64_t device_pages = 64) {
    options_.config_path = DramConfig(dir_, capacity_pages);
    options_.size = device_pages * kPage;
    options_.backing_path = dir_.File("backing");
    dev_ = OpenOrDie(options_);
    ASSERT_NE(dev_, nullptr);
    model_.assign(options_.size, 0);
  }

  void Write(uint64_t offset, const std::vector<unsigned char>& data) {
    ASSERT_EQ(dev_->Write(data.data(), data.size(), offset), 0) << SwapDevice::LastError();
    std::memcpy(model_.data() + offset, data.data(), data.size());
  }

  void ExpectDeviceMatchesModel() {
    std::vector<unsigned char> got(model_.size());
    ASSERT_EQ(dev_->Read(got.data(), got.size(), 0), 0) << SwapDevice::LastError();
    for (uint64_t p = 0; p < model_.size() / kPage; ++p) {
      ASSERT_EQ(std::memcmp(got.data() + p * kPage, model_.data() + p * kPage, kPage), 0)
          << "page " << p << " differs from what was written";
    }
  }

  // Every page tierswap holds is absent from the file; every page that lives there occupies it.
  void ExpectBackingHoldsExactlyItsPages() {
    const SwapDeviceCounters c = dev_->Counters();
    EXPECT_EQ(AllocatedPages(options_.backing_path), c.backing_pages);
    EXPECT_LE(c.tierswap_pages + c.backing_pages, options_.size / kPage);
  }

  TempDir dir_;
  SwapDeviceOptions options_;
  std::unique_ptr<SwapDevice> dev_;
  std::vector<unsigned char> model_;
};

TEST_F(SwapDeviceTest, AlignedPagesReadBackExactly) {
  OpenDevice(/*capacity_pages=*/64);
  Write(0, RandomBytes(16 * kPage, 1));
  Write(40 * kPage, RandomBytes(kPage, 2));
  ExpectDeviceMatchesModel();
  const SwapDeviceCounters c = dev_->Counters();
  EXPECT_EQ(c.stores_accepted, 17u);
  EXPECT_EQ(c.stores_rejected, 0u);
  EXPECT_EQ(c.tierswap_pages, 17u);
  EXPECT_EQ(AllocatedPages(options_.backing_path), 0u);
}

TEST_F(SwapDeviceTest, NeverWrittenPagesReadAsZeros) {
  OpenDevice(8);
  std::vector<unsigned char> got(3 * kPage + 100, 0xee);
  ASSERT_EQ(dev_->Read(got.data(), got.size(), 5 * kPage + 7), 0);
  EXPECT_EQ(std::count(got.begin(), got.end(), 0), static_cast<long>(got.size()));
  EXPECT_GE(dev_->Counters().zero_reads, 4u);
}

TEST_F(SwapDeviceTest, RejectedPagesGoToBackingFileAndAcceptedOnesLeaveIt) {
  OpenDevice(/*capacity_pages=*/4);
  Write(0, RandomBytes(16 * kPage, 3));  // pages 0-3 fit in tierswap, 4-15 do not
  SwapDeviceCounters c = dev_->Counters();
  EXPECT_EQ(c.stores_accepted, 4u);
  EXPECT_EQ(c.stores_rejected, 12u);
  EXPECT_EQ(c.backing_pages, 12u);
  ExpectBackingHoldsExactlyItsPages();
  ExpectDeviceMatchesModel();

  // Trimming two tierswap pages makes room: rewriting two backing pages moves them into
  // tierswap, and their copies leave the backing file.
  ASSERT_EQ(dev_->Trim(2 * kPage, 0), 0);
  std::memset(model_.data(), 0, 2 * kPage);
  Write(10 * kPage, RandomBytes(2 * kPage, 4));
  c = dev_->Counters();
  EXPECT_EQ(c.backing_pages, 10u);
  EXPECT_EQ(c.tierswap_pages, 4u);
  ExpectBackingHoldsExactlyItsPages();
  ExpectDeviceMatchesModel();
}

TEST_F(SwapDeviceTest, OverwriteNeverReturnsTheOlderCopyFromEitherPlace) {
  OpenDevice(/*capacity_pages=*/2);
  // Page 5 goes to tierswap, page 9 to the backing file, then they trade places several times.
  for (uint64_t round = 0; round < 6; ++round) {
    const uint64_t first = round % 2 == 0 ? 5 : 9;
    const uint64_t second = round % 2 == 0 ? 9 : 5;
    ASSERT_EQ(dev_->Trim(64 * kPage, 0), 0);
    std::fill(model_.begin(), model_.end(), 0);
    Write(0, RandomBytes(kPage, 100 + round));               // tierswap holds page 0 ...
    Write(first * kPage, RandomBytes(kPage, 200 + round));   // ... and `first`
    Write(second * kPage, RandomBytes(kPage, 300 + round));  // `second` is rejected
    ExpectDeviceMatchesModel();
    ExpectBackingHoldsExactlyItsPages();
  }
}

TEST_F(SwapDeviceTest, PartialWritesAreReadModifyWritten) {
  OpenDevice(/*capacity_pages=*/2);
  Write(0, RandomBytes(4 * kPage, 5));  // pages 0-1 in tierswap, 2-3 in the backing file
  // A swap-header-like update: 10 bytes at 1024 of page 0; 512-byte sectors elsewhere; and
  // one write that starts and ends inside pages, across a backing/tierswap boundary.
  Write(1024, RandomBytes(10, 6));
  Write(2 * kPage + 512, RandomBytes(512, 7));
  Write(kPage + 4000, RandomBytes(2 * kPage, 8));
  Write(20 * kPage + 1, RandomBytes(3, 9));  // a page never written before
  ExpectDeviceMatchesModel();
  ExpectBackingHoldsExactlyItsPages();
  EXPECT_EQ(dev_->Counters().partial_pages, 5u);  // 1 + 1 + 2 (the crossing write) + 1
}

TEST_F(SwapDeviceTest, UnalignedReadsReturnTheRightBytes) {
  OpenDevice(3);
  Write(0, RandomBytes(8 * kPage, 10));
  for (const auto& [offset, len] : std::vector<std::pair<uint64_t, uint32_t>>{
           {1, 1}, {511, 2}, {4095, 2}, {100, 3 * kPage}, {7 * kPage + 1, kPage - 1}}) {
    std::vector<unsigned char> got(len);
    ASSERT_EQ(dev_->Read(got.data(), len, offset), 0);
    EXPECT_EQ(std::memcmp(got.data(), model_.data() + offset, len), 0)
        << len << " bytes at " << offset;
  }
}

TEST_F(SwapDeviceTest, TrimDropsWholePagesAndKeepsPartialOnes) {
  OpenDevice(3);
  Write(0, RandomBytes(8 * kPage, 11));  // 0-2 in tierswap, 3-7 in the backing file
  // From the middle of page 1 to the middle of page 6: pages 2-5 are dropped.
  ASSERT_EQ(dev_->Trim(5 * kPage, kPage + 100), 0);
  std::memset(model_.data() + 2 * kPage, 0, 4 * kPage);
  ExpectDeviceMatchesModel();
  ExpectBackingHoldsExactlyItsPages();
  EXPECT_EQ(dev_->Counters().trimmed_pages, 4u);
}

TEST_F(SwapDeviceTest, ZeroLeavesExactlyTheRangeZeroed) {
  OpenDevice(3);
  Write(0, RandomBytes(8 * kPage, 12));
  ASSERT_EQ(dev_->Zero(5 * kPage, kPage + 100), 0);  // partial page 1 and 6, whole 2-5
  std::memset(model_.data() + kPage + 100, 0, 5 * kPage);
  ASSERT_EQ(dev_->Zero(10, 7 * kPage + 5), 0);  // inside one backing page
  std::memset(model_.data() + 7 * kPage + 5, 0, 10);
  ExpectDeviceMatchesModel();
  ExpectBackingHoldsExactlyItsPages();
  EXPECT_EQ(dev_->Counters().zeroed_pages, 4u);
}

TEST_F(SwapDeviceTest, RandomRequestsMatchAByteModel) {
  OpenDevice(/*capacity_pages=*/6, /*device_pages=*/24);
  std::mt19937_64 rng(42);
  for (int op = 0; op < 3000; ++op) {
    const uint64_t offset = rng() % options_.size;
    const uint32_t len =
        static_cast<uint32_t>(1 + rng() % std::min<uint64_t>(options_.size - offset, 3 * kPage));
    const int kind = static_cast<int>(rng() % 10);
    if (kind < 5) {
      Write(offset, RandomBytes(len, rng()));
    } else if (kind < 7) {
      ASSERT_EQ(dev_->Zero(len, offset), 0);
      std::memset(model_.data() + offset, 0, len);
    } else if (kind < 8) {
      ASSERT_EQ(dev_->Trim(len, offset), 0);
      const uint64_t first = (offset + kPage - 1) / kPage, end = (offset + len) / kPage;
      for (uint64_t p = first; p < end; ++p) std::memset(model_.data() + p * kPage, 0, kPage);
    } else {
      std::vector<unsigned char> got(len);
      ASSERT_EQ(dev_->Read(got.data(), len, offset), 0);
      ASSERT_EQ(std::memcmp(got.data(), model_.data() + offset, len), 0)
          << "op " << op << ": read of " << len << " bytes at " << offset;
    }
    if (op % 100 == 0) ExpectBackingHoldsExactlyItsPages();
  }
  ExpectDeviceMatchesModel();
  const SwapDeviceCounters c = dev_->Counters();
  EXPECT_GT(c.stores_rejected, 0u);
  EXPECT_GT(c.backing_punches, 0u);
}

TEST_F(SwapDeviceTest, RequestsOutsideTheDeviceFailWithEinval) {
  OpenDevice(4, 16);
  std::vector<unsigned char> buf(2 * kPage);
  EXPECT_EQ(dev_->Read(buf.data(), buf.size(), 15 * kPage), EINVAL);
  EXPECT_NE(std::string(SwapDevice::LastError()).find("outside the 65536-byte device"),
            std::string::npos)
      << SwapDevice::LastError();
  EXPECT_EQ(dev_->Write(buf.data(), 1, 16 * kPage), EINVAL);
  EXPECT_EQ(dev_->Trim(1, ~uint64_t{0}), EINVAL);
  EXPECT_EQ(dev_->Zero(kPage, 16 * kPage), EINVAL);
  EXPECT_EQ(dev_->Read(buf.data(), 0, 16 * kPage), 0);  // empty, at the end: fine
  EXPECT_STREQ(SwapDevice::LastError(), "");
}

TEST_F(SwapDeviceTest, PageIsUnreadableAfterItsBackingWriteFailsUntilRewritten) {
  OpenDevice(/*capacity_pages=*/1);
  Write(0, RandomBytes(kPage, 13));  // tierswap is full now
  // Writes at or beyond the file size limit fail with EFBIG (SIGXFSZ ignored).
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit low = old_limit;
  low.rlim_cur = 8 * kPage;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &low), 0);
  const std::vector<unsigned char> page = RandomBytes(kPage, 14);
  const int rc = dev_->Write(page.data(), kPage, 10 * kPage);
  const std::string message = SwapDevice::LastError();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(rc, EFBIG);
  EXPECT_NE(message.find("tierswap rejected page 10"), std::string::npos) << message;
  std::vector<unsigned char> got(kPage);
  EXPECT_EQ(dev_->Read(got.data(), kPage, 10 * kPage), EIO);
  EXPECT_NE(std::string(SwapDevice::LastError()).find("its last write failed"), std::string::npos);
  EXPECT_EQ(dev_->Read(got.data(), 100, 10 * kPage + 5), EIO);  // partial reads too
  EXPECT_EQ(dev_->Counters().lost_pages, 1u);

  Write(10 * kPage, RandomBytes(kPage, 15));
  ExpectDeviceMatchesModel();
  EXPECT_EQ(dev_->Counters().lost_pages, 0u);
}

TEST_F(SwapDeviceTest, ConcurrentWritersOfOnePageKeepEachOthersBytes) {
  OpenDevice(/*capacity_pages=*/8, /*device_pages=*/32);
  // Eight threads own eight 512-byte sectors of every page: each sector write is a
  // read-modify-write of the whole page, so without the page's lock they would undo each other.
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (uint64_t p = 0; p < 32; ++p) {
          const std::vector<unsigned char> sector = RandomBytes(512, (t << 20) ^ (round << 8) ^ p);
          if (dev_->Write(sector.data(), 512, p * kPage + t * 512) != 0) ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t p = 0; p < 32; ++p) {
      const std::vector<unsigned char> sector =
          RandomBytes(512, (t << 20) ^ ((kRounds - 1) << 8) ^ p);
      std::memcpy(model_.data() + p * kPage + t * 512, sector.data(), 512);
    }
  }
  ExpectDeviceMatchesModel();
  ExpectBackingHoldsExactlyItsPages();
}

TEST_F(SwapDeviceTest, ConcurrentWholePageTrafficStaysConsistent) {
  OpenDevice(/*capacity_pages=*/16, /*device_pages=*/64);
  // Each thread owns 16 pages and checks its own reads; tierswap is smaller than the total, so
  // pages keep moving between tierswap and the backing file under concurrent trims.
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      std::vector<std::vector<unsigned char>> mine(16, std::vector<unsigned char>(kPage, 0));
      for (int op = 0; op < 2000; ++op) {
        const uint64_t i = rng() % 16;
        const uint64_t page = t * 16 + i;
        switch (rng() % 4) {
          case 0:
          case 1:
            mine[i] = RandomBytes(kPage, rng());
            if (dev_->Write(mine[i].data(), kPage, page * kPage) != 0) ++failures;
            break;
          case 2:
            if (dev_->Trim(kPage, page * kPage) != 0) ++failures;
            std::fill(mine[i].begin(), mine[i].end(), 0);
            break;
          default: {
            std::vector<unsigned char> got(kPage);
            if (dev_->Read(got.data(), kPage, page * kPage) != 0 || got != mine[i]) ++failures;
          }
        }
      }
      for (uint64_t i = 0; i < 16; ++i) {
        std::memcpy(model_.data() + (t * 16 + i) * kPage, mine[i].data(), kPage);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ExpectDeviceMatchesModel();
  ExpectBackingHoldsExactlyItsPages();
}

TEST_F(SwapDeviceTest, StatsJsonHasTheDeviceAndTierswapSections) {
  OpenDevice(2);
  Write(0, RandomBytes(3 * kPage, 16));
  Result<std::string> json = dev_->StatsJson();
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->rfind("{\"device\":{\"size_bytes\":262144,\"pages\":64,", 0), 0u) << *json;
  EXPECT_NE(json->find("\"stores_accepted\":2,\"stores_rejected\":1,"), std::string::npos);
  EXPECT_NE(json->find("\"backing_pages\":1,"), std::string::npos);
  EXPECT_NE(json->find("},\"tierswap\":{"), std::string::npos);
  EXPECT_NE(json->find("\"succ_stores\":"), std::string::npos);
}

// ---- Open ------------------------------------------------------------------------------------

TEST(SwapDeviceOpenTest, CreatesASparseBackingFileOfTheDeviceSize) {
  TempDir dir;
  SwapDeviceOptions options{DramConfig(dir, 4), 1 << 20, dir.File("new-backing")};
  std::unique_ptr<SwapDevice> dev = OpenOrDie(options);
  ASSERT_NE(dev, nullptr);
  struct stat st;
  ASSERT_EQ(stat(options.backing_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, SwapDevice::kBackingDataOffset + (1 << 20));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(AllocatedPages(options.backing_path), 0u);  // sparse: only the header is written
  dev.reset();
  EXPECT_TRUE(std::filesystem::exists(options.backing_path));  // a named file stays
}

TEST(SwapDeviceOpenTest, UnnamedBackingFileLeavesNothingBehind) {
  TempDir dir;
  const std::string tmpdir = dir.File("tmp");
  std::filesystem::create_directory(tmpdir);
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  setenv("TMPDIR", tmpdir.c_str(), 1);
  {
    std::unique_ptr<SwapDevice> dev = OpenOrDie({DramConfig(dir, 1), 64 * kPage, ""});
    if (old)
      setenv("TMPDIR", saved.c_str(), 1);
    else
      unsetenv("TMPDIR");
    ASSERT_NE(dev, nullptr);
    const std::vector<unsigned char> data = RandomBytes(8 * kPage, 17);
    ASSERT_EQ(dev->Write(data.data(), data.size(), 0), 0);  // 7 pages go to the file
    std::vector<unsigned char> got(data.size());
    ASSERT_EQ(dev->Read(got.data(), got.size(), 0), 0);
    EXPECT_EQ(got, data);
    EXPECT_EQ(dev->Counters().backing_pages, 7u);
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmpdir));
}

TEST(SwapDeviceOpenTest, RefusesABackingFileThatHoldsData) {
  TempDir dir;
  WriteFile(dir.File("precious"), "not swap");
  ASSERT_EQ(chmod(dir.File("precious").c_str(), 0600), 0);
  Result<std::unique_ptr<SwapDevice>> dev =
      SwapDevice::Open({DramConfig(dir, 4), 1 << 20, dir.File("precious")});
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(dev.error().message.find("backing file '" + dir.File("precious") +
                                     "': it holds 8 bytes and no tierswap header"),
            std::string::npos)
      << dev.error().message;
  std::ifstream in(dir.File("precious"));
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "not swap");  // untouched
}

// Two devices on one backing file both started, and device A then read 240 of 256 pages of
// device B's data. The second device is refused, naming the first one's process.
TEST(SwapDeviceOpenTest, RefusesASecondDeviceOnTheSameBackingFile) {
  TempDir dir;
  const SwapDeviceOptions options{DramConfig(dir, 1), 256 * kPage, dir.File("shared")};
  std::unique_ptr<SwapDevice> a = OpenOrDie(options);
  ASSERT_NE(a, nullptr);
  // Before either has written: the old check ("no data yet") let the second one start.
  Result<std::unique_ptr<SwapDevice>> b = SwapDevice::Open(options);
  const std::vector<unsigned char> data = RandomBytes(256 * kPage, 21);
  ASSERT_EQ(a->Write(data.data(), data.size(), 0), 0);  // 255 pages go to the backing file
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("in use"), std::string::npos) << b.error().message;
  EXPECT_NE(b.error().message.find("process " + std::to_string(getpid())), std::string::npos)
      << b.error().message;
  std::vector<unsigned char> got(data.size());
  ASSERT_EQ(a->Read(got.data(), got.size(), 0), 0);
  EXPECT_TRUE(got == data) << "the first device's pages changed";
}

TEST(SwapDeviceOpenTest, RefusesASymlinkedBackingFileAndLeavesItsTargetUntouched) {
  TempDir dir;
  WriteFile(dir.File("victim"), "someone else's data");
  ASSERT_EQ(symlink(dir.File("victim").c_str(), dir.File("backing").c_str()), 0);
  Result<std::unique_ptr<SwapDevice>> dev =
      SwapDevice::Open({DramConfig(dir, 4), 1 << 20, dir.File("backing")});
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(dev.error().message.find("symbolic link"), std::string::npos) << dev.error().message;
  std::ifstream in(dir.File("victim"));
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "someone else's data");
  EXPECT_EQ(std::filesystem::file_size(dir.File("victim")), text.size());
}

// An earlier device's backing file is recognised by its header and reused; the device starts
// empty, as swap does after a restart.
TEST(SwapDeviceOpenTest, ReusesAnEarlierDevicesBackingFileAndStartsEmpty) {
  TempDir dir;
  const SwapDeviceOptions options{DramConfig(dir, 1), 16 * kPage, dir.File("backing")};
  {
    std::unique_ptr<SwapDevice> first = OpenOrDie(options);
    ASSERT_NE(first, nullptr);
    const std::vector<unsigned char> data = RandomBytes(16 * kPage, 23);
    ASSERT_EQ(first->Write(data.data(), data.size(), 0), 0);
  }
  EXPECT_EQ(AllocatedPages(options.backing_path), 15u);
  std::unique_ptr<SwapDevice> second = OpenOrDie(options);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(AllocatedPages(options.backing_path), 0u);
  std::vector<unsigned char> got(16 * kPage, 0xAA);
  ASSERT_EQ(second->Read(got.data(), got.size(), 0), 0);
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](unsigned char c) { return c == 0; }));
}

TEST(SwapDeviceOpenTest, RefusesABackingPathThatIsADirectory) {
  TempDir dir;
  Result<std::unique_ptr<SwapDevice>> dev =
      SwapDevice::Open({DramConfig(dir, 4), 1 << 20, dir.path()});
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(dev.error().message.find(dir.path()), std::string::npos) << dev.error().message;
}

TEST(SwapDeviceOpenTest, RefusesASizeThatIsNotWholePages) {
  TempDir dir;
  for (const uint64_t size : {uint64_t{0}, uint64_t{4095}, uint64_t{4097}}) {
    Result<std::unique_ptr<SwapDevice>> dev =
        SwapDevice::Open({DramConfig(dir, 4), size, dir.File("b")});
    ASSERT_FALSE(dev.ok());
    EXPECT_NE(dev.error().message.find("device size " + std::to_string(size) +
                                       " is not a positive multiple of 4096"),
              std::string::npos)
        << dev.error().message;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("b")));
}

TEST(SwapDeviceOpenTest, RefusesExclusiveLoadsAndRemovesTheFileItCreated) {
  TempDir dir;
  const std::string config = dir.File("exclusive.toml");
  WriteFile(config,
            "[backend]\nexclusive_loads = true\n[placement]\nprobe_budget_ms = 0\n[[tier]]\n"
            "name = \"dram\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n");
  Result<std::unique_ptr<SwapDevice>> dev = SwapDevice::Open({config, 1 << 20, dir.File("b")});
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(dev.error().message.find("exclusive_loads = true"), std::string::npos)
      << dev.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.File("b")));
}

TEST(SwapDeviceOpenTest, NamesTheConfigFileTierswapCannotOpen) {
  TempDir dir;
  const std::string config = dir.File("bad.toml");
  WriteFile(config, "[[tier]]\nname = \"dram\"\nkind = \"dram\"\ncapacity = \"1MiB\"\nspeed = 9\n");
  Result<std::unique_ptr<SwapDevice>> dev = SwapDevice::Open({config, 1 << 20, dir.File("b")});
  ASSERT_FALSE(dev.ok());
  EXPECT_NE(dev.error().message.find("tierswap could not open config '" + config + "'"),
            std::string::npos)
      << dev.error().message;
  EXPECT_NE(dev.error().message.find("speed"), std::string::npos) << dev.error().message;
}

}  // namespace
}  // namespace tierswap
