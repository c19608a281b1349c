// The capacity limits (tiers/tier_capacity.h) are decided once: the config loader and each tier's
// Open agree on every side of them, so a capacity the loader accepts never fails at open for its
// size.
#include "tiers/tier_capacity.h"

#include <gtest/gtest.h>

#include <string>

#include "frontend/config.h"
#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"

namespace tierswap {
namespace {

constexpr uint64_t kTiB = uint64_t{1} << 40;
constexpr uint64_t kGiB = uint64_t{1} << 30;

Result<Config> LoadTier(const char* kind, uint64_t bytes) {
  const std::string path = std::string(kind) == "pmem" ? "path = \"anon\"\n" : "";
  return Config::FromString(std::string("[[tier]]\nname = \"t\"\nkind = \"") + kind +
                                "\"\ncapacity = " + std::to_string(bytes) + "\n" + path,
                            "c.toml");
}

TEST(TierCapacityTest, TheFrameTierLimitIsSixteenTebibytesLessOnePage) {
  for (TierKind kind : {TierKind::kDram, TierKind::kNuma, TierKind::kPmem}) {
    EXPECT_EQ(MaxTierBytes(kind), 16 * kTiB - kPageSize);
    EXPECT_EQ(MinTierBytes(kind), kPageSize);
  }
  EXPECT_EQ(MaxTierBytes(TierKind::kCompressed), 128 * kGiB - kPageSize);
  EXPECT_EQ(MinTierBytes(TierKind::kCompressed), 4 * kPageSize);
}

TEST(TierCapacityTest, LoaderAcceptsExactlyWhatTheCheckAccepts) {
  for (TierKind kind : {TierKind::kDram, TierKind::kPmem, TierKind::kCompressed}) {
    const char* name = TierKindName(kind);
    const uint64_t max = MaxTierBytes(kind);
    const uint64_t min = MinTierBytes(kind);
    for (uint64_t bytes : {min, max, max + kPageSize - 1}) {
      Result<uint64_t> checked = CheckTierCapacity(kind, bytes);
      ASSERT_TRUE(checked.ok()) << name << " " << bytes << ": " << checked.error().message;
      Result<Config> loaded = LoadTier(name, bytes);
      ASSERT_TRUE(loaded.ok()) << name << " " << bytes << ": " << loaded.error().message;
      EXPECT_EQ(loaded->tiers[0].capacity_bytes, *checked);
    }
    for (uint64_t bytes : {min - 1, max + kPageSize}) {
      Result<uint64_t> checked = CheckTierCapacity(kind, bytes);
      ASSERT_FALSE(checked.ok()) << name << " " << bytes;
      Result<Config> loaded = LoadTier(name, bytes);
      ASSERT_FALSE(loaded.ok()) << name << " " << bytes;
      // The loader's message is the check's, at the capacity's line.
      EXPECT_NE(loaded.error().message.find("c.toml:4: tier 't': key 'capacity': " +
                                            checked.error().message),
                std::string::npos)
          << loaded.error().message;
    }
  }
}

TEST(TierCapacityTest, OpenRefusesWhatTheLoaderRefusesWithTheSameSentence) {
  const uint64_t too_big = MaxTierBytes(TierKind::kDram) + kPageSize;
  Result<std::unique_ptr<DramTier>> dram = DramTier::Open({.name = "d", .capacity_bytes = too_big});
  ASSERT_FALSE(dram.ok());
  EXPECT_EQ(dram.error().message,
            "tier 'd': " + CheckTierCapacity(TierKind::kDram, too_big).error().message);
  EXPECT_NE(dram.error().message.find("at most 17592186040320 bytes, 16 TiB - 4 KiB"),
            std::string::npos)
      << dram.error().message;

  CompressedTierOptions small;
  small.name = "z";
  small.capacity_bytes = 3 * kPageSize;
  Result<std::unique_ptr<CompressedTier>> z = CompressedTier::Open(small);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().message,
            "tier 'z': a capacity of 12288 bytes is less than a compressed "
            "tier needs (at least 16384 bytes, 16 KiB)");
}

}  // namespace
}  // namespace tierswap
