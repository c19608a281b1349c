#include "frontend/cli/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace tierswap {
namespace {

TEST(ProgressBarTest, ShowsShareEstimatedTotalRateAndTimeLeft) {
  // 25 000 ops in 10 s with a quarter of the input read: 100k in all, 30 s to go.
  const std::string s = ProgressBar::Render(25'000, 10, 0.25, 120);
  EXPECT_NE(s.find(" 25%"), std::string::npos) << s;
  EXPECT_NE(s.find("25.0k / ~100k ops"), std::string::npos) << s;
  EXPECT_NE(s.find("2.50k ops/s"), std::string::npos) << s;
  EXPECT_NE(s.find("ETA 0:30"), std::string::npos) << s;
  EXPECT_EQ(s.rfind("[==========>", 0), 0u) << s;  // a quarter of a 40-column bar
}

TEST(ProgressBarTest, WithoutAKnownSizeShowsCountRateAndElapsedTime) {
  const std::string s = ProgressBar::Render(1'234'567, 65, 0, 120);
  EXPECT_EQ(s, "1.23M ops  19.0k ops/s  1:05 elapsed");
}

TEST(ProgressBarTest, KeepsTheLastPercentForTheEndWhenInputWasReadAhead) {
  const std::string s = ProgressBar::Render(900, 1, 1.0, 120);
  EXPECT_NE(s.find(" 99%"), std::string::npos) << s;
}

TEST(ProgressBarTest, FitsANarrowTerminalDroppingTheBarFirst) {
  for (size_t width : {20u, 40u, 60u, 80u}) {
    const std::string s = ProgressBar::Render(25'000, 10, 0.25, width);
    EXPECT_LT(s.size(), width) << s;
  }
  EXPECT_EQ(ProgressBar::Render(25'000, 10, 0.25, 50).find('['), std::string::npos);
}

TEST(ProgressBarTest, IsNotWantedOnAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(ProgressBar::WantedOn(fds[1]));
  close(fds[0]);
  close(fds[1]);
}

TEST(ProgressBarTest, FormatsCountsAndDurationsCompactly) {
  EXPECT_EQ(ShortCount(999), "999");
  EXPECT_EQ(ShortCount(1000), "1.00k");
  EXPECT_EQ(ShortCount(99'960), "100k");
  EXPECT_EQ(ShortCount(2.5e9), "2.50G");
  EXPECT_EQ(ClockDuration(0), "0:00");
  EXPECT_EQ(ClockDuration(59.6), "1:00");
  EXPECT_EQ(ClockDuration(7269), "2:01:09");
}

}  // namespace
}  // namespace tierswap
