// Tests of the public C ABI (tierswap/tierswap.h) through libtierswap.so, as a C++ client sees
// it: return codes, the thread-local message, lifecycle, stats_json's snprintf semantics.
//
// The backend's own contract (replacement, races, same-filled pages) is backend_test's; here
// each case checks that the ABI maps an outcome to the documented errno AND says what was wrong.
#include <gtest/gtest.h>
#include <tierswap/tierswap.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_file.h"
#include "tests/support/test_pages.h"

namespace {

using TempConfig =
    tierswap::testing::TempFile;  // a config file, removed at the end (tests/support)

using Page = std::array<unsigned char, TIERSWAP_PAGE_SIZE>;

// Random bytes, never same-filled, distinct per seed.
using tierswap::testing::PatternPage;

std::string Message() { return tierswap_errormsg(); }

// Fixture with an open handle on the default config.
class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(tierswap_open(nullptr, &ts_), 0) << Message(); }
  void TearDown() override { tierswap_close(&ts_); }

  std::string StatsJson() {
    const int n = tierswap_stats_json(ts_, nullptr, 0);
    EXPECT_GT(n, 0) << Message();
    std::string json(static_cast<size_t>(n) + 1, '\0');
    EXPECT_EQ(tierswap_stats_json(ts_, json.data(), json.size()), n) << Message();
    json.resize(static_cast<size_t>(n));
    return json;
  }

  tierswap_t* ts_ = nullptr;
};

// ---- open / close --------------------------------------------------------------------------

TEST(CApiOpenTest, OpensDefaultConfigWithNullPath) {
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(nullptr, &ts), 0) << Message();
  EXPECT_NE(ts, nullptr);
  EXPECT_STREQ(tierswap_errormsg(), "");
  tierswap_close(&ts);
}

TEST(CApiOpenTest, OpensConfigFile) {
  TempConfig config("[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  char json[4096];
  const int n = tierswap_stats_json(ts, json, sizeof(json));
  ASSERT_GT(n, 0) << Message();
  ASSERT_LT(n, static_cast<int>(sizeof(json)));
  EXPECT_NE(std::strstr(json, "\"name\":\"fast\""), nullptr) << json;
  EXPECT_NE(std::strstr(json, "\"capacity_bytes\":1048576"), nullptr) << json;
  tierswap_close(&ts);
}

TEST(CApiOpenTest, MissingConfigFileFailsWithMessageNamingThePath) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "tierswap-no-such-config.toml").string();
  std::filesystem::remove(path);
  tierswap_t* ts = reinterpret_cast<tierswap_t*>(uintptr_t{0x1});  // must be overwritten
  EXPECT_EQ(tierswap_open(path.c_str(), &ts), -ENOENT);
  EXPECT_EQ(ts, nullptr);
  EXPECT_NE(Message().find(path), std::string::npos) << Message();
  EXPECT_EQ(Message().rfind("tierswap_open: ", 0), 0u) << Message();
}

TEST(CApiOpenTest, InvalidConfigFailsWithEinvalAndNamesTheKey) {
  TempConfig config("[backend]\nexclusive_load = true\n");
  tierswap_t* ts = nullptr;
  EXPECT_EQ(tierswap_open(config.c_str(), &ts), -EINVAL);
  EXPECT_EQ(ts, nullptr);
  EXPECT_NE(Message().find(config.c_str()), std::string::npos) << Message();
  EXPECT_NE(Message().find("exclusive_load"), std::string::npos) << Message();
}

TEST(CApiOpenTest, NullOutIsEinval) {
  EXPECT_EQ(tierswap_open(nullptr, nullptr), -EINVAL);
  EXPECT_NE(Message().find("out is NULL"), std::string::npos) << Message();
}

TEST(CApiOpenTest, CloseSetsHandleToNullAndIsSafeTwice) {
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(nullptr, &ts), 0) << Message();
  tierswap_close(&ts);
  EXPECT_EQ(ts, nullptr);
  tierswap_close(&ts);
  EXPECT_EQ(ts, nullptr);
  EXPECT_STREQ(tierswap_errormsg(), "");
}

TEST(CApiOpenTest, CloseOfNullPointerIsSafe) {
  tierswap_close(nullptr);
  tierswap_t* ts = nullptr;
  tierswap_close(&ts);
  EXPECT_EQ(ts, nullptr);
}

TEST(CApiOpenTest, VersionIsMajorMinorPatch) {
  const char* v = tierswap_version();
  ASSERT_NE(v, nullptr);
  unsigned major, minor, patch;
  char rest;
  EXPECT_EQ(std::sscanf(v, "%u.%u.%u%c", &major, &minor, &patch, &rest), 3) << v;
}

// ---- the store/load contract ---------------------------------------------------------------

TEST_F(CApiTest, InitStoreLoadRoundTrip) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  ASSERT_EQ(tierswap_init(ts_, 5, 128), 0) << Message();
  for (uint64_t off = 0; off < 64; ++off) {
    const Page p = PatternPage(off);
    ASSERT_EQ(tierswap_store(ts_, 0, off, p.data()), 0) << Message();
    const Page q = PatternPage(1000 + off);
    ASSERT_EQ(tierswap_store(ts_, 5, off, q.data()), 0) << Message();
  }
  Page zero{};  // same-filled: kept as metadata, must still come back whole
  ASSERT_EQ(tierswap_store(ts_, 0, 64, zero.data()), 0) << Message();
  for (uint64_t off = 0; off < 64; ++off) {
    Page out;
    ASSERT_EQ(tierswap_load(ts_, 0, off, out.data()), 0) << Message();
    EXPECT_EQ(out, PatternPage(off)) << "type 0 offset " << off;
    ASSERT_EQ(tierswap_load(ts_, 5, off, out.data()), 0) << Message();
    EXPECT_EQ(out, PatternPage(1000 + off)) << "type 5 offset " << off;
  }
  Page out;
  out.fill(0xAB);
  ASSERT_EQ(tierswap_load(ts_, 0, 64, out.data()), 0) << Message();
  EXPECT_EQ(out, zero);
}

TEST_F(CApiTest, StoreToOccupiedSlotReplacesThePage) {
  ASSERT_EQ(tierswap_init(ts_, 1, 0), 0) << Message();
  const Page a = PatternPage(1), b = PatternPage(2);
  ASSERT_EQ(tierswap_store(ts_, 1, 7, a.data()), 0) << Message();
  ASSERT_EQ(tierswap_store(ts_, 1, 7, b.data()), 0) << Message();
  Page out;
  ASSERT_EQ(tierswap_load(ts_, 1, 7, out.data()), 0) << Message();
  EXPECT_EQ(out, b);
}

TEST_F(CApiTest, LoadIsNotExclusiveByDefault) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  const Page a = PatternPage(3);
  ASSERT_EQ(tierswap_store(ts_, 0, 0, a.data()), 0) << Message();
  Page out;
  ASSERT_EQ(tierswap_load(ts_, 0, 0, out.data()), 0) << Message();
  ASSERT_EQ(tierswap_load(ts_, 0, 0, out.data()), 0) << Message();
  EXPECT_EQ(out, a);
}

TEST(CApiExclusiveTest, ExclusiveLoadDropsThePage) {
  TempConfig config(
      "[backend]\nexclusive_loads = true\n"
      "[[tier]]\nname = \"dram\"\nkind = \"dram\"\ncapacity = \"16MiB\"\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  ASSERT_EQ(tierswap_init(ts, 0, 0), 0) << Message();
  const Page a = PatternPage(4);
  ASSERT_EQ(tierswap_store(ts, 0, 9, a.data()), 0) << Message();
  Page out;
  ASSERT_EQ(tierswap_load(ts, 0, 9, out.data()), 0) << Message();
  EXPECT_EQ(out, a);
  EXPECT_EQ(tierswap_load(ts, 0, 9, out.data()), -ENOENT);
  tierswap_close(&ts);
}

TEST_F(CApiTest, InvalidatePageDropsOnlyThatPage) {
  ASSERT_EQ(tierswap_init(ts_, 2, 0), 0) << Message();
  const Page a = PatternPage(5), b = PatternPage(6);
  ASSERT_EQ(tierswap_store(ts_, 2, 0, a.data()), 0) << Message();
  ASSERT_EQ(tierswap_store(ts_, 2, 1, b.data()), 0) << Message();
  tierswap_invalidate_page(ts_, 2, 0);
  EXPECT_STREQ(tierswap_errormsg(), "");
  Page out;
  EXPECT_EQ(tierswap_load(ts_, 2, 0, out.data()), -ENOENT);
  ASSERT_EQ(tierswap_load(ts_, 2, 1, out.data()), 0) << Message();
  EXPECT_EQ(out, b);
  tierswap_invalidate_page(ts_, 2, 0);  // nothing held: a no-op, not an error
  EXPECT_STREQ(tierswap_errormsg(), "");
}

TEST_F(CApiTest, InvalidateAreaDropsPagesAndStoreIsEnodevUntilInitAgain) {
  ASSERT_EQ(tierswap_init(ts_, 3, 0), 0) << Message();
  const Page a = PatternPage(7);
  ASSERT_EQ(tierswap_store(ts_, 3, 4, a.data()), 0) << Message();
  tierswap_invalidate_area(ts_, 3);
  EXPECT_STREQ(tierswap_errormsg(), "");

  EXPECT_EQ(tierswap_store(ts_, 3, 4, a.data()), -ENODEV);
  EXPECT_NE(Message().find("type 3 is not initialised"), std::string::npos) << Message();
  Page out;
  EXPECT_EQ(tierswap_load(ts_, 3, 4, out.data()), -ENODEV);
  EXPECT_NE(Message().find("tierswap_load: type 3 is not initialised"), std::string::npos)
      << Message();

  ASSERT_EQ(tierswap_init(ts_, 3, 0), 0) << Message();
  EXPECT_EQ(tierswap_load(ts_, 3, 4, out.data()), -ENOENT) << "the old page came back";
  EXPECT_EQ(tierswap_store(ts_, 3, 4, a.data()), 0) << Message();
}

TEST_F(CApiTest, ReinitDropsThePagesOfTheType) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  const Page a = PatternPage(8);
  ASSERT_EQ(tierswap_store(ts_, 0, 1, a.data()), 0) << Message();
  ASSERT_EQ(tierswap_init(ts_, 0, 16), 0) << Message();
  Page out;
  EXPECT_EQ(tierswap_load(ts_, 0, 1, out.data()), -ENOENT);
}

// ---- errors: code and message --------------------------------------------------------------

TEST_F(CApiTest, NullHandleIsEinvalEverywhere) {
  Page p = PatternPage(9);
  EXPECT_EQ(tierswap_init(nullptr, 0, 0), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_init: ts is NULL");
  EXPECT_EQ(tierswap_store(nullptr, 0, 0, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_store: ts is NULL");
  EXPECT_EQ(tierswap_load(nullptr, 0, 0, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_load: ts is NULL");
  EXPECT_EQ(tierswap_stats_json(nullptr, nullptr, 0), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_stats_json: ts is NULL");
  tierswap_invalidate_page(nullptr, 0, 0);
  EXPECT_EQ(Message(), "tierswap_invalidate_page: ts is NULL");
  tierswap_invalidate_area(nullptr, 0);
  EXPECT_EQ(Message(), "tierswap_invalidate_area: ts is NULL");
}

TEST_F(CApiTest, NullPageIsEinval) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  EXPECT_EQ(tierswap_store(ts_, 0, 0, nullptr), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_store: page is NULL");
  EXPECT_EQ(tierswap_load(ts_, 0, 0, nullptr), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_load: page is NULL");
}

TEST_F(CApiTest, TypeOutOfRangeIsEinvalAndNamesTheType) {
  Page p = PatternPage(10);
  EXPECT_EQ(tierswap_init(ts_, 32, 0), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_init: type 32 is out of range (types are 0-31)");
  EXPECT_EQ(tierswap_store(ts_, 40, 0, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_store: type 40 is out of range (types are 0-31)");
  EXPECT_EQ(tierswap_load(ts_, 40, 0, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_load: type 40 is out of range (types are 0-31)");
  tierswap_invalidate_page(ts_, 33, 0);
  EXPECT_EQ(Message(), "tierswap_invalidate_page: type 33 is out of range (types are 0-31)");
  tierswap_invalidate_area(ts_, 4000000000u);
  EXPECT_EQ(Message(),
            "tierswap_invalidate_area: type 4000000000 is out of range (types are 0-31)");
}

TEST_F(CApiTest, OffsetBeyondNrPagesIsEinvalAndNamesOffsetAndSize) {
  ASSERT_EQ(tierswap_init(ts_, 1, 64), 0) << Message();
  Page p = PatternPage(11);
  ASSERT_EQ(tierswap_store(ts_, 1, 63, p.data()), 0) << Message();  // the last slot is fine
  EXPECT_EQ(tierswap_store(ts_, 1, 100, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_store: offset 100 is beyond the 64 pages of type 1");
  EXPECT_EQ(tierswap_store(ts_, 1, 64, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_store: offset 64 is beyond the 64 pages of type 1");
  EXPECT_EQ(tierswap_load(ts_, 1, 64, p.data()), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_load: offset 64 is beyond the 64 pages of type 1");
  tierswap_invalidate_page(ts_, 1, 64);
  EXPECT_EQ(Message(), "tierswap_invalidate_page: offset 64 is beyond the 64 pages of type 1");
}

TEST_F(CApiTest, OffsetAtOrAbove2To32IsEinvalWhenSizeIsUnknown) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  Page p = PatternPage(12);
  const uint64_t offset = uint64_t{1} << 32;
  EXPECT_EQ(tierswap_store(ts_, 0, offset, p.data()), -EINVAL);
  EXPECT_NE(Message().find("offset 4294967296"), std::string::npos) << Message();
  EXPECT_EQ(tierswap_load(ts_, 0, offset, p.data()), -EINVAL);
  EXPECT_NE(Message().find("offset 4294967296"), std::string::npos) << Message();
}

TEST_F(CApiTest, NrPagesAbove2To32IsEinval) {
  EXPECT_EQ(tierswap_init(ts_, 2, (uint64_t{1} << 32) + 1), -EINVAL);
  EXPECT_NE(Message().find("nr_pages 4294967297"), std::string::npos) << Message();
  EXPECT_NE(Message().find("type 2"), std::string::npos) << Message();
}

TEST_F(CApiTest, UninitialisedTypeIsEnodev) {
  Page p = PatternPage(13);
  EXPECT_EQ(tierswap_store(ts_, 7, 0, p.data()), -ENODEV);
  EXPECT_NE(Message().find("tierswap_store: type 7 is not initialised"), std::string::npos)
      << Message();
  EXPECT_EQ(tierswap_load(ts_, 7, 0, p.data()), -ENODEV);
  EXPECT_NE(Message().find("tierswap_load: type 7 is not initialised"), std::string::npos)
      << Message();
}

TEST_F(CApiTest, LoadMissIsEnoentAndLeavesBufferUntouched) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  Page out;
  out.fill(0x5A);
  Page before = out;
  EXPECT_EQ(tierswap_load(ts_, 0, 12345, out.data()), -ENOENT);
  EXPECT_EQ(out, before);
  EXPECT_EQ(Message(), "tierswap_load: no page is held for (type 0, offset 12345)");
}

TEST(CApiRejectTest, StoreRejectedWhenFullIsEnospcAndNamesTheSlot) {
  TempConfig config("[[tier]]\nname = \"tiny\"\nkind = \"dram\"\ncapacity = \"64KiB\"\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  ASSERT_EQ(tierswap_init(ts, 0, 0), 0) << Message();
  int rc = 0;
  uint64_t off = 0;
  for (; off < 1024; ++off) {  // 64 KiB holds 16 pages; the loop stops long before 1024
    const Page p = PatternPage(off);
    rc = tierswap_store(ts, 0, off, p.data());
    if (rc != 0) break;
  }
  ASSERT_EQ(rc, -ENOSPC) << "offset " << off << ": " << Message();
  EXPECT_LE(off, 16u);
  EXPECT_EQ(Message(), "tierswap_store: rejected, no tier has room for the page (type 0, offset " +
                           std::to_string(off) + ")");
  Page out;
  EXPECT_EQ(tierswap_load(ts, 0, off, out.data()), -ENOENT) << "a rejected page was kept";
  // Pages accepted before the tier filled up are all still there.
  for (uint64_t i = 0; i < off; ++i) {
    ASSERT_EQ(tierswap_load(ts, 0, i, out.data()), 0) << Message();
    EXPECT_EQ(out, PatternPage(i));
  }
  tierswap_close(&ts);
}

TEST_F(CApiTest, MessageIsClearedBySuccessfulCall) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  Page p = PatternPage(14);
  EXPECT_EQ(tierswap_store(ts_, 99, 0, p.data()), -EINVAL);
  EXPECT_NE(Message(), "");
  EXPECT_EQ(tierswap_store(ts_, 0, 0, p.data()), 0);
  EXPECT_STREQ(tierswap_errormsg(), "");

  EXPECT_EQ(tierswap_load(ts_, 0, 1, p.data()), -ENOENT);
  EXPECT_NE(Message(), "");
  tierswap_invalidate_page(ts_, 0, 1);
  EXPECT_STREQ(tierswap_errormsg(), "");
}

TEST_F(CApiTest, MessageIsPerThread) {
  Page p = PatternPage(15);
  EXPECT_EQ(tierswap_store(ts_, 40, 0, p.data()), -EINVAL);
  const std::string mine = Message();
  ASSERT_NE(mine.find("type 40"), std::string::npos) << mine;

  std::string other_before, other_after;
  std::thread t([&] {
    other_before = tierswap_errormsg();
    EXPECT_EQ(tierswap_load(ts_, 41, 0, p.data()), -EINVAL);
    other_after = tierswap_errormsg();
  });
  t.join();
  EXPECT_EQ(other_before, "") << "a failure in one thread showed in another";
  EXPECT_NE(other_after.find("type 41"), std::string::npos) << other_after;
  EXPECT_EQ(Message(), mine) << "another thread's failure replaced this thread's message";
}

TEST_F(CApiTest, ConcurrentClientsOnOneHandleGetTheirOwnPages) {
  constexpr unsigned kThreads = 4;
  constexpr uint64_t kPages = 256;
  for (unsigned t = 0; t < kThreads; ++t) ASSERT_EQ(tierswap_init(ts_, t, kPages), 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = 0; off < kPages; ++off) {
        const Page p = PatternPage(t * kPages + off);
        if (tierswap_store(ts_, t, off, p.data()) != 0) ++failures;
      }
      for (uint64_t off = 0; off < kPages; ++off) {
        Page out;
        if (tierswap_load(ts_, t, off, out.data()) != 0 || out != PatternPage(t * kPages + off)) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- stats_json ----------------------------------------------------------------------------

TEST_F(CApiTest, StatsJsonWithNullBufferAndZeroLengthReturnsTheLength) {
  const int n = tierswap_stats_json(ts_, nullptr, 0);
  EXPECT_GT(n, 2) << Message();
  EXPECT_STREQ(tierswap_errormsg(), "");
}

TEST_F(CApiTest, StatsJsonNullBufferWithLengthIsEinval) {
  EXPECT_EQ(tierswap_stats_json(ts_, nullptr, 10), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_stats_json: buf is NULL but len is 10");
}

TEST_F(CApiTest, StatsJsonTruncatesLikeSnprintf) {
  const std::string full = StatsJson();
  const int n = static_cast<int>(full.size());
  ASSERT_GT(n, 16);

  char small[32];
  std::memset(small, '#', sizeof(small));
  EXPECT_EQ(tierswap_stats_json(ts_, small, 16), n);
  EXPECT_EQ(std::string(small), full.substr(0, 15));
  EXPECT_EQ(small[16], '#') << "wrote past len";

  char one = '#';
  EXPECT_EQ(tierswap_stats_json(ts_, &one, 1), n);
  EXPECT_EQ(one, '\0');

  // Exactly the length: one byte short of the NUL, so the last character is cut.
  std::string exact(full.size(), '#');
  EXPECT_EQ(tierswap_stats_json(ts_, exact.data(), exact.size()), n);
  EXPECT_EQ(std::string(exact.c_str()), full.substr(0, full.size() - 1));

  // Length plus one: the whole object.
  std::string whole(full.size() + 1, '#');
  EXPECT_EQ(tierswap_stats_json(ts_, whole.data(), whole.size()), n);
  EXPECT_EQ(std::string(whole.c_str()), full);
  EXPECT_EQ(full.front(), '{');
  EXPECT_EQ(full.back(), '}');
}

TEST_F(CApiTest, StatsJsonHasTheDocumentedCounters) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
  for (uint64_t off = 0; off < 3; ++off) {
    const Page p = PatternPage(off);
    ASSERT_EQ(tierswap_store(ts_, 0, off, p.data()), 0) << Message();
  }
  Page zero{};
  ASSERT_EQ(tierswap_store(ts_, 0, 3, zero.data()), 0) << Message();
  Page out;
  ASSERT_EQ(tierswap_load(ts_, 0, 0, out.data()), 0) << Message();
  ASSERT_EQ(tierswap_load(ts_, 0, 1, out.data()), 0) << Message();
  EXPECT_EQ(tierswap_load(ts_, 0, 9, out.data()), -ENOENT);
  EXPECT_EQ(tierswap_store(ts_, 9, 0, out.data()), -ENODEV);
  tierswap_invalidate_page(ts_, 0, 2);

  const std::string json = StatsJson();
  const size_t tiers = json.find("\"tiers\":[");
  ASSERT_NE(tiers, std::string::npos) << json;
  const std::string top = json.substr(0, tiers);
  const std::string tier = json.substr(tiers);
  // Top-level counters come before the tier list, with the values the calls above imply.
  for (const char* field :
       {"\"loads\":2", "\"succ_stores\":4", "\"failed_stores\":1", "\"invalidates\":1",
        "\"load_misses\":1", "\"same_filled_pages\":1", "\"stored_pages\":3"}) {
    EXPECT_NE(top.find(field), std::string::npos) << field << " in " << json;
  }
  for (const char* field :
       {"\"name\":\"dram\"", "\"kind\":\"dram\"", "\"capacity_bytes\":268435456",
        "\"used_bytes\":", "\"stored_pages\":2", "\"stores\":3", "\"loads\":2"}) {
    EXPECT_NE(tier.find(field), std::string::npos) << field << " in " << json;
  }
}

}  // namespace

// ---- dynamic capacity, availability, freeze, quotas ---------------------------------------

namespace {

constexpr const char* kTwoTiers = R"([placement]
background = false
probe_budget_ms = 0
[[tier]]
name = "fast"
kind = "dram"
capacity = "64KiB"
[[tier]]
name = "slow"
kind = "dram"
capacity = "64KiB"
)";

class CApiCapacityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(tierswap_open(config_.c_str(), &ts_), 0) << Message();
    ASSERT_EQ(tierswap_init(ts_, 0, 0), 0) << Message();
    // 24 pages over two 16-page tiers.
    for (uint64_t o = 0; o < 24; ++o)
      ASSERT_EQ(tierswap_store(ts_, 0, o, PatternPage(o).data()), 0);
  }
  void TearDown() override { tierswap_close(&ts_); }

  TempConfig config_{kTwoTiers};
  tierswap_t* ts_ = nullptr;
};

struct Handed {
  std::map<uint64_t, int> times;
  std::map<uint64_t, Page> bytes;
};

int Writeback(void* ctx, unsigned type, uint64_t offset, const void* page) {
  auto* h = static_cast<Handed*>(ctx);
  EXPECT_EQ(type, 0u);
  ++h->times[offset];
  std::memcpy(h->bytes[offset].data(), page, TIERSWAP_PAGE_SIZE);
  return 0;
}

TEST_F(CApiCapacityTest, UnknownTierIsEnoentAndListsTheTiers) {
  EXPECT_EQ(tierswap_set_tier_capacity(ts_, "cxl", 0), -ENOENT);
  EXPECT_NE(Message().find("no tier is named 'cxl' (tiers: fast, slow)"), std::string::npos)
      << Message();
  EXPECT_EQ(tierswap_tier_offline(ts_, nullptr), -EINVAL);
  EXPECT_EQ(tierswap_set_tier_capacity(nullptr, "fast", 0), -EINVAL);
  // A caller's name with control characters is escaped, never echoed raw to a terminal or log.
  EXPECT_EQ(tierswap_tier_offline(ts_, "\x1b[2J\nfake log line"), -ENOENT);
  EXPECT_NE(Message().find("no tier is named '\\x1b[2J\\x0afake log line'"), std::string::npos)
      << Message();
  EXPECT_EQ(Message().find('\x1b'), std::string::npos);
  EXPECT_EQ(Message().find('\n'), std::string::npos);
}

TEST_F(CApiCapacityTest, CapacityAboveTheConfiguredOneIsEinval) {
  EXPECT_EQ(tierswap_set_tier_capacity(ts_, "fast", 1 << 20), -EINVAL);
  EXPECT_NE(Message().find("configured capacity"), std::string::npos) << Message();
}

TEST_F(CApiCapacityTest, ShrinkWithoutWritebackReportsThePagesLeftAndKeepsThem) {
  // 8 pages of room on "slow": 8 of fast's 16 move, 8 stay and are reported.
  const int left = tierswap_set_tier_capacity(ts_, "fast", 0);
  EXPECT_EQ(left, 8);
  EXPECT_NE(Message().find("8 pages of tier 'fast' could not be moved"), std::string::npos)
      << Message();
  Page out;
  for (uint64_t o = 0; o < 24; ++o) {
    ASSERT_EQ(tierswap_load(ts_, 0, o, out.data()), 0) << o;
    EXPECT_EQ(out, PatternPage(o));
  }
}

TEST_F(CApiCapacityTest, OfflineWithWritebackHandsEveryPageBackExactlyOnce) {
  Handed handed;
  ASSERT_EQ(tierswap_set_writeback(ts_, &Writeback, &handed), 0);
  ASSERT_EQ(tierswap_set_tier_capacity(ts_, "fast", 0), 0) << Message();
  ASSERT_EQ(tierswap_tier_offline(ts_, "slow"), 0) << Message();
  Page out;
  for (uint64_t o = 0; o < 24; ++o) {
    const int r = tierswap_load(ts_, 0, o, out.data());
    if (r == 0) {
      EXPECT_EQ(out, PatternPage(o));
      EXPECT_EQ(handed.times.count(o), 0u);
    } else {
      ASSERT_EQ(r, -ENOENT);
      ASSERT_EQ(handed.times[o], 1) << o;
      EXPECT_EQ(handed.bytes[o], PatternPage(o));
    }
  }
  EXPECT_EQ(handed.times.size(), 24u) << "both tiers are empty now";
  // Nothing can be stored until a tier is back.
  EXPECT_EQ(tierswap_store(ts_, 0, 100, PatternPage(100).data()), -ENOSPC);
  ASSERT_EQ(tierswap_tier_online(ts_, "slow"), 0);
  EXPECT_EQ(tierswap_store(ts_, 0, 100, PatternPage(100).data()), 0) << Message();
}

// A writeback callback that called tierswap_tier_online or tierswap_set_writeback hung forever:
// the control mutex was held around it. It runs with no lock held and may call anything; each
// call below is made once, from inside the callback, while tier 'fast' is being taken offline.
struct Reentrant {
  tierswap_t* ts;
  int calls = 0;
  std::vector<std::string> failures;
  Handed handed;
};

int ReentrantWriteback(void* ctx, unsigned type, uint64_t offset, const void* page) {
  auto* r = static_cast<Reentrant*>(ctx);
  tierswap_t* ts = r->ts;
  auto expect = [r](bool ok, const std::string& what) {
    if (!ok) r->failures.push_back(what + ": " + Message());
  };
  std::vector<char> buf(1 << 20);
  Page other;
  switch (r->calls++) {
    case 0:
      expect(tierswap_tier_online(ts, "slow") == 0, "tier_online");
      break;
    case 1:
      expect(tierswap_set_writeback(ts, &ReentrantWriteback, r) == 0, "set_writeback");
      break;
    case 2:
      expect(tierswap_set_tier_capacity(ts, "slow", 64 << 10) == 0, "set_tier_capacity");
      break;
    case 3:
      expect(tierswap_freeze(ts, true) == 0 && tierswap_freeze(ts, false) == 0, "freeze");
      break;
    case 4:
      expect(tierswap_stats_json(ts, buf.data(), buf.size()) > 0, "stats_json");
      expect(tierswap_stats_prometheus(ts, buf.data(), buf.size()) > 0, "stats_prometheus");
      break;
    case 5: {
      const int stored = tierswap_store(ts, 0, 1000, PatternPage(1000).data());
      expect(stored == 0 || stored == -ENOSPC, "store");
      expect(tierswap_load(ts, 0, offset, other.data()) == 0 && other == PatternPage(offset),
             "load of the page being written back");
      tierswap_invalidate_page(ts, 0, 1000);
      expect(tierswap_load(ts, 0, 1000, other.data()) == -ENOENT, "invalidate_page");
      break;
    }
    case 6:
      // A nested evacuation: its pages come back to this callback (the default case).
      expect(tierswap_tier_offline(ts, "slow") == 0, "tier_offline");
      break;
    default:
      break;
  }
  EXPECT_EQ(type, 0u);
  ++r->handed.times[offset];
  std::memcpy(r->handed.bytes[offset].data(), page, TIERSWAP_PAGE_SIZE);
  return 0;
}

TEST_F(CApiCapacityTest, WritebackCallbackMayCallEveryControlFunction) {
  // A hang is this test's failure: abort with a message rather than wait for ctest's timeout.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return done; })) {
      std::fprintf(stderr, "the writeback callback deadlocked (60 s)\n");
      std::abort();
    }
  });
  Reentrant r{ts_};
  ASSERT_EQ(tierswap_set_writeback(ts_, &ReentrantWriteback, &r), 0);
  // 'fast' holds 16 pages and 'slow' has room for 8: 8 are written back, the 7th of which
  // takes 'slow' offline too, so 'slow''s 16 follow.
  EXPECT_EQ(tierswap_tier_offline(ts_, "fast"), 0) << Message();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  EXPECT_GE(r.calls, 7);
  for (const std::string& f : r.failures) ADD_FAILURE() << "inside the callback: " << f;
  Page out;
  for (uint64_t o = 0; o < 24; ++o) {
    const int rc = tierswap_load(ts_, 0, o, out.data());
    if (rc == 0) {
      EXPECT_EQ(out, PatternPage(o)) << o;
    } else {
      ASSERT_EQ(rc, -ENOENT) << o;
      ASSERT_EQ(r.handed.times[o], 1) << o;
      EXPECT_EQ(r.handed.bytes[o], PatternPage(o)) << o;
    }
  }
  EXPECT_EQ(r.handed.times.size(), 24u) << "both tiers are offline and empty";
}

TEST_F(CApiCapacityTest, FrozenStoreIsEnospcAndSaysFrozen) {
  ASSERT_EQ(tierswap_freeze(ts_, true), 0);
  EXPECT_EQ(tierswap_store(ts_, 0, 3, PatternPage(99).data()), -ENOSPC);
  EXPECT_NE(Message().find("frozen"), std::string::npos) << Message();
  Page out;
  EXPECT_EQ(tierswap_load(ts_, 0, 3, out.data()), -ENOENT) << "the old page was dropped";
  ASSERT_EQ(tierswap_freeze(ts_, false), 0);
  EXPECT_EQ(tierswap_store(ts_, 0, 3, PatternPage(99).data()), 0);
}

TEST(CApiQuotaTest, StoreOverQuotaIsEnospcAndSaysQuota) {
  TempConfig config(std::string(kTwoTiers) + "[[quota]]\ntype = 2\nmax = \"8KiB\"\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  ASSERT_EQ(tierswap_init(ts, 2, 0), 0);
  EXPECT_EQ(tierswap_store(ts, 2, 0, PatternPage(0).data()), 0);
  EXPECT_EQ(tierswap_store(ts, 2, 1, PatternPage(1).data()), 0);
  EXPECT_EQ(tierswap_store(ts, 2, 2, PatternPage(2).data()), -ENOSPC);
  EXPECT_NE(Message().find("rejected, its type is at its quota, see [[quota]] (type 2,"),
            std::string::npos)
      << Message();
  tierswap_close(&ts);
}

// ---- stats_prometheus and [stats] ------------------------------------------------------------

// A handle whose figures stay put between calls: no mover thread, no probe.
class CApiPrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(tierswap_open(config_.c_str(), &ts_), 0) << Message(); }
  void TearDown() override { tierswap_close(&ts_); }

  TempConfig config_{kTwoTiers};
  tierswap_t* ts_ = nullptr;
};

TEST_F(CApiPrometheusTest, StatsPrometheusTruncatesLikeSnprintf) {
  ASSERT_EQ(tierswap_init(ts_, 0, 0), 0);
  ASSERT_EQ(tierswap_store(ts_, 0, 1, PatternPage(1).data()), 0) << Message();
  const int n = tierswap_stats_prometheus(ts_, nullptr, 0);
  ASSERT_GT(n, 100) << Message();
  EXPECT_STREQ(tierswap_errormsg(), "");
  std::string full(static_cast<size_t>(n) + 1, '#');
  ASSERT_EQ(tierswap_stats_prometheus(ts_, full.data(), full.size()), n);
  full.resize(static_cast<size_t>(n));
  EXPECT_EQ(full.rfind("# HELP tierswap_", 0), 0u) << full.substr(0, 80);
  EXPECT_NE(full.find("\ntierswap_succ_stores_total 1\n"), std::string::npos) << full;
  EXPECT_NE(full.find("tierswap_tier_stored_pages{tier=\"fast\",kind=\"dram\"} 1\n"),
            std::string::npos)
      << full;
  EXPECT_EQ(full.back(), '\n');

  char small[32];
  std::memset(small, '#', sizeof(small));
  EXPECT_EQ(tierswap_stats_prometheus(ts_, small, 16), n);
  EXPECT_EQ(std::string(small), full.substr(0, 15));
  EXPECT_EQ(small[16], '#') << "wrote past len";
}

TEST_F(CApiPrometheusTest, StatsPrometheusRejectsNullArguments) {
  EXPECT_EQ(tierswap_stats_prometheus(nullptr, nullptr, 0), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_stats_prometheus: ts is NULL");
  EXPECT_EQ(tierswap_stats_prometheus(ts_, nullptr, 10), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_stats_prometheus: buf is NULL but len is 10");
}

// A tier with checksums: a page corrupted behind tierswap's back (here through the pmem pool
// file, the way a media error or a stray writer would) loads as -EIO with a message naming the
// tier, type and offset, the buffer comes back zeroed, and the failure is counted.
TEST(CApiChecksumTest, CorruptPageIsEioWithAMessageNamingTierTypeAndOffset) {
  const std::string pool = (std::filesystem::temp_directory_path() /
                            ("tierswap-c-api-checksum-" + std::to_string(getpid()) + ".pool"))
                               .string();
  TempConfig config(
      "[placement]\nprobe_budget_ms = 0\nbackground = false\n"
      "[[tier]]\nname = \"pm\"\nkind = \"pmem\"\npath = \"" +
      pool + "\"\ncapacity = \"256KiB\"\nchecksum = true\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  ASSERT_EQ(tierswap_init(ts, 5, 0), 0) << Message();
  const Page page = PatternPage(42);
  ASSERT_EQ(tierswap_store(ts, 5, 77, page.data()), 0) << Message();

  bool corrupted = false;
  {
    std::fstream f(pool, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << pool;
    Page frame;
    for (std::streamoff off = 0;
         !corrupted && f.read(reinterpret_cast<char*>(frame.data()), frame.size());
         off += frame.size()) {
      if (frame != page) continue;
      f.seekp(off + 2000);
      const char flipped = static_cast<char>(frame[2000] ^ 0x01);
      f.write(&flipped, 1);
      corrupted = f.good();
    }
  }
  ASSERT_TRUE(corrupted) << "the stored page is not in " << pool;

  Page out;
  out.fill(0xEE);
  EXPECT_EQ(tierswap_load(ts, 5, 77, out.data()), -EIO);
  const std::string msg = Message();
  for (const char* part : {"tierswap_load", "checksum", "tier 'pm'", "type 5", "offset 77"}) {
    EXPECT_NE(msg.find(part), std::string::npos) << part << " missing from: " << msg;
  }
  EXPECT_EQ(out, Page{}) << "after -EIO the buffer is zeroed";

  const int n = tierswap_stats_json(ts, nullptr, 0);
  ASSERT_GT(n, 0) << Message();
  std::string json(static_cast<size_t>(n) + 1, '\0');
  ASSERT_EQ(tierswap_stats_json(ts, json.data(), json.size()), n) << Message();
  EXPECT_NE(json.find("\"checksum_failures\":1"), std::string::npos);
  tierswap_close(&ts);
  std::filesystem::remove(pool);
}

TEST(CApiStatsServiceTest, OpenFailsWhenStatsListenIsNotLoopback) {
  TempConfig config(std::string(kTwoTiers) + "[stats]\nlisten = \"0.0.0.0:9464\"\n");
  tierswap_t* ts = reinterpret_cast<tierswap_t*>(uintptr_t{0x1});
  EXPECT_EQ(tierswap_open(config.c_str(), &ts), -EINVAL);
  EXPECT_EQ(ts, nullptr);
  // The loader's own form: the file, the line of the key (not of [stats]), the table and key.
  EXPECT_NE(
      Message().find(std::string(config.c_str()) + ":13: [stats]: key 'listen': \"0.0.0.0:9464\""),
      std::string::npos)
      << Message();
  EXPECT_NE(Message().find("not a loopback address"), std::string::npos) << Message();
  EXPECT_NE(Message().find("allow_remote = true"), std::string::npos) << Message();
}

TEST(CApiStatsServiceTest, DumpFileGetsAFinalLineAtClose) {
  const std::string dump = (std::filesystem::temp_directory_path() /
                            ("tierswap-c-api-dump-" + std::to_string(getpid()) + ".jsonl"))
                               .string();
  std::filesystem::remove(dump);
  TempConfig config(std::string(kTwoTiers) + "[stats]\ndump_file = \"" + dump +
                    "\"\ndump_interval_ms = 86400000\n");
  tierswap_t* ts = nullptr;
  ASSERT_EQ(tierswap_open(config.c_str(), &ts), 0) << Message();
  ASSERT_EQ(tierswap_init(ts, 0, 0), 0);
  for (uint64_t o = 0; o < 3; ++o) ASSERT_EQ(tierswap_store(ts, 0, o, PatternPage(o).data()), 0);
  tierswap_close(&ts);
  std::ifstream in(dump);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::filesystem::remove(dump);
  ASSERT_EQ(lines.size(), 1u) << "no interval passed: only the line written at close";
  EXPECT_EQ(lines[0].rfind("{\"ts\":\"", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("\"stats\":{\"loads\":0,\"succ_stores\":3,"), std::string::npos)
      << lines[0];
}

TEST(CApiStatsServiceTest, OpenFailsWhenDumpFileCannotBeOpened) {
  TempConfig config(std::string(kTwoTiers) +
                    "[stats]\ndump_file = \"/nonexistent-dir/stats.jsonl\"\n");
  tierswap_t* ts = nullptr;
  EXPECT_EQ(tierswap_open(config.c_str(), &ts), -EINVAL);
  EXPECT_EQ(ts, nullptr);
  EXPECT_NE(Message().find(std::string(config.c_str()) +
                           ":13: [stats]: key 'dump_file': \"/nonexistent-dir/stats.jsonl\": "
                           "cannot append statistics to it: its directory '/nonexistent-dir' "
                           "is missing."),
            std::string::npos)
      << Message();
}

}  // namespace
