#include "frontend/timeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/page_corpus.h"
#include "frontend/replay.h"
#include "frontend/trace_reader.h"
#include "frontend/zstd_input.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

// Two DRAM tiers in a fixed order, no mover: where each page lands is known. "fast" holds two
// pages, "slow" eight.
std::unique_ptr<Backend> TwoTierBackend() {
  Result<Config> c = Config::FromString(R"(
[placement]
policy = "static"
background = false
probe_budget_ms = 0

[[tier]]
name = "fast"
kind = "dram"
capacity = "8KiB"
prefault = false

[[tier]]
name = "slow"
kind = "dram"
capacity = "32KiB"
prefault = false
)",
                                        "two.toml");
  EXPECT_TRUE(c.ok()) << c.error().message;
  Result<std::unique_ptr<Backend>> b = OpenBackend(*c);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return std::move(*b);
}

// Pages that are all different and none same-filled, so each one takes a frame.
PageCorpus DistinctPages(size_t n) {
  std::string data(n * kPageSize, '\0');
  for (size_t k = 0; k < n; ++k) {
    for (size_t i = 0; i < kPageSize; ++i) data[k * kPageSize + i] = static_cast<char>(k + i * 3);
  }
  auto in = InputStream::FromMemory(std::move(data), "corpus.bin");
  Result<PageCorpus> c = PageCorpus::Load(*in);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(*c);
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> fields(1);
    for (char c : line) {
      if (c == ',') {
        fields.emplace_back();
      } else {
        fields.back() += c;
      }
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

class TimelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/tierswap-timeline-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/t.csv";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::string dir_, path_;
};

TEST_F(TimelineTest, HeaderNamesEveryTierForLoadsAndOccupancy) {
  auto backend = TwoTierBackend();
  EXPECT_EQ(ReplayTimeline::Header(*backend),
            "ops,elapsed_ms,loads,hit_rate,fast_loads_frac,slow_loads_frac,fast_used_bytes,"
            "slow_used_bytes,promotions,demotions");
}

TEST_F(TimelineTest, WritesOneRowPerIntervalAndAPartialLastRow) {
  auto backend = TwoTierBackend();
  const PageCorpus corpus = DistinctPages(4);
  // Ops 1-4: init and three stores (two fit on "fast", the third goes to "slow").
  // Ops 5-8: loads of the slow page, a fast page, and a slot never stored, and an invalidate.
  // Op 9: one more load of the slow page, alone in the last, partial interval.
  const std::string trace =
      "N 0 0\nS 0 1 @0\nS 0 2 @1\nS 0 3 @2\n"
      "L 0 3\nL 0 1\nL 0 9\nI 0 2\n"
      "L 0 3\n";
  Result<std::unique_ptr<ReplayTimeline>> t = ReplayTimeline::Create(path_, *backend, 4);
  ASSERT_TRUE(t.ok()) << t.error().message;
  TraceReader reader(InputStream::FromMemory(trace, "t.trace"));
  ReplayOptions options;
  options.corpus = &corpus;
  options.observers.push_back(t->get());
  Result<ReplayResult> r = Replay(*backend, reader, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mismatches, 0u);
  EXPECT_EQ((*t)->rows(), 3u);

  const auto rows = ReadCsv(path_);
  ASSERT_EQ(rows.size(), 4u);  // header + 3
  const auto& h = rows[0];
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < h.size(); ++i) {
      if (h[i] == name) return i;
    }
    ADD_FAILURE() << "no column " << name;
    return size_t{0};
  };
  // Interval 1: no loads, so no hit rate or shares; "fast" is full, "slow" holds one page.
  EXPECT_EQ(rows[1][col("ops")], "4");
  EXPECT_EQ(rows[1][col("loads")], "0");
  EXPECT_EQ(rows[1][col("hit_rate")], "");
  EXPECT_EQ(rows[1][col("fast_loads_frac")], "");
  EXPECT_EQ(rows[1][col("fast_used_bytes")], "8192");
  EXPECT_EQ(rows[1][col("slow_used_bytes")], "4096");
  // Interval 2: three loads, two hits (one per tier), one miss; then slot 2 was invalidated.
  EXPECT_EQ(rows[2][col("ops")], "8");
  EXPECT_EQ(rows[2][col("loads")], "3");
  EXPECT_EQ(rows[2][col("hit_rate")], "0.6667");
  EXPECT_EQ(rows[2][col("fast_loads_frac")], "0.3333");
  EXPECT_EQ(rows[2][col("slow_loads_frac")], "0.3333");
  EXPECT_EQ(rows[2][col("fast_used_bytes")], "4096");
  // The partial interval: one load, from "slow".
  EXPECT_EQ(rows[3][col("ops")], "9");
  EXPECT_EQ(rows[3][col("loads")], "1");
  EXPECT_EQ(rows[3][col("hit_rate")], "1.0000");
  EXPECT_EQ(rows[3][col("fast_loads_frac")], "0.0000");
  EXPECT_EQ(rows[3][col("slow_loads_frac")], "1.0000");
  EXPECT_EQ(rows[3][col("promotions")], "0");
  EXPECT_EQ(rows[3][col("demotions")], "0");
  // Elapsed time never goes back.
  EXPECT_LE(std::stod(rows[1][col("elapsed_ms")]), std::stod(rows[2][col("elapsed_ms")]));
  EXPECT_LE(std::stod(rows[2][col("elapsed_ms")]), std::stod(rows[3][col("elapsed_ms")]));
}

TEST_F(TimelineTest, NoPartialRowWhenTheTraceEndsOnAnIntervalBoundary) {
  auto backend = TwoTierBackend();
  Result<std::unique_ptr<ReplayTimeline>> t = ReplayTimeline::Create(path_, *backend, 2);
  ASSERT_TRUE(t.ok()) << t.error().message;
  TraceReader reader(InputStream::FromMemory("N 0 0\nL 0 1\nL 0 2\nL 0 3\n", "t.trace"));
  ReplayOptions options;
  options.observers.push_back(t->get());
  ASSERT_TRUE(Replay(*backend, reader, options).ok());
  const auto rows = ReadCsv(path_);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][0], "2");
  EXPECT_EQ(rows[2][0], "4");
  EXPECT_EQ(rows[2][3], "0.0000");  // both loads missed
}

TEST_F(TimelineTest, RefusesAFileThatCannotBeCreatedNamingIt) {
  auto backend = TwoTierBackend();
  Result<std::unique_ptr<ReplayTimeline>> t =
      ReplayTimeline::Create(dir_ + "/missing/t.csv", *backend, 10);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find(dir_ + "/missing/t.csv"), std::string::npos)
      << t.error().message;
}

TEST_F(TimelineTest, RefusesAZeroInterval) {
  auto backend = TwoTierBackend();
  Result<std::unique_ptr<ReplayTimeline>> t = ReplayTimeline::Create(path_, *backend, 0);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("at least 1 operation"), std::string::npos);
}

// An observer that fails stops the replay, and Replay returns its error.
class FailingObserver final : public ReplayObserver {
 public:
  uint64_t interval_ops() const override { return 2; }
  Result<void> OnInterval(const ReplayResult& so_far) override {
    seen_ops = so_far.ops;
    return MakeError(Status::kIoError, "disk full.");
  }
  uint64_t seen_ops = 0;
};

TEST(ReplayObserverTest, AFailingObserverStopsTheReplayWithItsError) {
  auto backend = TwoTierBackend();
  FailingObserver o;
  TraceReader reader(InputStream::FromMemory("N 0 0\nL 0 1\nL 0 2\nL 0 3\n", "t.trace"));
  ReplayOptions options;
  options.observers.push_back(&o);
  Result<ReplayResult> r = Replay(*backend, reader, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "disk full.");
  EXPECT_EQ(o.seen_ops, 2u);
}

}  // namespace
}  // namespace tierswap
