// Emulated media: the base class adds the configured latency by spinning and counts raw and
// injected time apart. These tests check the accounting and the lower bound the spin guarantees
// (every operation lasts at least its configured latency), never an upper bound on time.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"
#include "tiers/tsc.h"

namespace tierswap {
namespace {

using testing::MakeDram;
using testing::PageBuf;
using testing::PatternPage;

TEST(TierEmulationTest, WithoutEmulationNoTimeIsCounted) {
  auto t = MakeDram(8);
  TierHandle h;
  ASSERT_EQ(t->Store(PatternPage(1).data(), &h), Status::kOk);
  PageBuf out{};
  ASSERT_EQ(t->Load(h, out.data()), Status::kOk);
  EXPECT_FALSE(t->emulation().enabled());
  EXPECT_EQ(t->raw_load_ns(), 0.0);
  EXPECT_EQ(t->injected_load_ns(), 0.0);
}

TEST(TierEmulationTest, EveryLoadLastsAtLeastTheConfiguredLatency) {
  auto t = MakeDram(8);
  t->SetEmulation(TierEmulation{3000, 0, 0});
  TierHandle h;
  ASSERT_EQ(t->Store(PatternPage(1).data(), &h), Status::kOk);
  PageBuf out{};
  constexpr int kLoads = 50;
  const uint64_t start = TscNow();
  for (int i = 0; i < kLoads; ++i) ASSERT_EQ(t->Load(h, out.data()), Status::kOk);
  const double elapsed_ns = TicksToNs(TscNow() - start);
  EXPECT_EQ(out, PatternPage(1));
  EXPECT_GE(elapsed_ns, kLoads * 3000.0 * 0.999);
  // Injected time is what the spin added on top of the real copies.
  EXPECT_GT(t->raw_load_ns(), 0.0);
  EXPECT_GE(t->raw_load_ns() + t->injected_load_ns(), kLoads * 3000.0 * 0.999);
}

TEST(TierEmulationTest, BandwidthLimitSetsAMinimumTransferTimePerPage) {
  auto t = MakeDram(8);
  // 100 MB/s: 4096 bytes take 40.96 us, far more than the real copy.
  t->SetEmulation(TierEmulation{0, 0, 100});
  TierHandle h;
  const uint64_t start = TscNow();
  ASSERT_EQ(t->Store(PatternPage(2).data(), &h), Status::kOk);
  EXPECT_GE(TicksToNs(TscNow() - start), 40960.0 * 0.999);
}

TEST(TierEmulationTest, StatsShowConfiguredAndMeasuredTimes) {
  auto t = MakeDram(8);
  t->SetEmulation(TierEmulation{700, 900, 0});
  TierHandle h;
  ASSERT_EQ(t->Store(PatternPage(3).data(), &h), Status::kOk);
  testing::RecordingSink sink;
  t->ExportStats(sink);
  EXPECT_EQ(sink.Get("emulated_read_latency_ns"), 700u);
  EXPECT_EQ(sink.Get("emulated_write_latency_ns"), 900u);
  EXPECT_GE(sink.Get("injected_store_ns") + sink.Get("raw_store_ns"), 899u);
  EXPECT_EQ(sink.Get("raw_load_ns"), 0u);
}

TEST(TscTest, CalibratedRateIsPlausible) {
  // Between 0.1 and 10 ticks per ns covers every x86 TSC from 100 MHz to 10 GHz.
  EXPECT_GT(TscTicksPerNs(), 0.1);
  EXPECT_LT(TscTicksPerNs(), 10.0);
}

}  // namespace
}  // namespace tierswap
