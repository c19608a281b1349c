#include "tiers/page.h"

#include <gtest/gtest.h>

#include <array>

namespace tierswap {
namespace {

TEST(PageTest, ZeroPageIsSameFilledWithZero) {
  std::array<unsigned char, kPageSize> p{};
  uint64_t v = 1;
  ASSERT_TRUE(IsSameFilled(p.data(), &v));
  EXPECT_EQ(v, 0u);
}

TEST(PageTest, RepeatedWordIsSameFilled) {
  std::array<unsigned char, kPageSize> p;
  FillPage(p.data(), 0x0123456789ABCDEFull);
  uint64_t v = 0;
  ASSERT_TRUE(IsSameFilled(p.data(), &v));
  EXPECT_EQ(v, 0x0123456789ABCDEFull);
}

TEST(PageTest, AnyDifferingByteMakesThePageNotSameFilled) {
  for (size_t pos : {size_t{0}, size_t{7}, size_t{8}, size_t{2048}, kPageSize - 9, kPageSize - 1}) {
    std::array<unsigned char, kPageSize> p{};
    p[pos] = 0x5A;
    uint64_t v;
    EXPECT_FALSE(IsSameFilled(p.data(), &v)) << "byte " << pos;
  }
}

TEST(PageTest, RepeatedByteThatIsNotAWordPatternIsStillDetected) {
  // A repeating 8-byte value need not be one byte repeated.
  std::array<unsigned char, kPageSize> p;
  for (size_t i = 0; i < kPageSize; ++i) p[i] = static_cast<unsigned char>(i % 8);
  uint64_t v;
  EXPECT_TRUE(IsSameFilled(p.data(), &v));
  // ... but a 16-byte period is not.
  for (size_t i = 0; i < kPageSize; ++i) p[i] = static_cast<unsigned char>(i % 16);
  EXPECT_FALSE(IsSameFilled(p.data(), &v));
}

}  // namespace
}  // namespace tierswap
