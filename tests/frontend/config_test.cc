// Tests for the TOML config loader (frontend/config.h): the accepted format, every class of
// refused input with the line and key its message must name, ParseSize, and the example files.

#include "frontend/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace tierswap {
namespace {

// EXPECT_TRUE(HasText(message, part)) prints both on failure.
::testing::AssertionResult HasText(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << message << "\n  lacks: " << part;
}

// Parses `text` as "test.toml" and returns the error message; fails the test if it parsed.
std::string ErrorOf(const std::string& text) {
  Result<Config> r = Config::FromString(text, "test.toml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, Status::kInvalidArgument) << r.error().message;
  return r.error().message;
}

constexpr const char* kOneTier = R"([[tier]]
name = "dram"
kind = "dram"
capacity = "1MiB"
)";

std::filesystem::path SourceDir() {
  if (const char* dir = std::getenv("TIERSWAP_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  // tests/frontend/config_test.cc -> the repository root.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(ConfigTest, DefaultIsOnePrefaultedDramTier) {
  const Config c = Config::Default();
  EXPECT_FALSE(c.exclusive_loads);
  EXPECT_EQ(c.source, "<default>");
  ASSERT_EQ(c.tiers.size(), 1u);
  EXPECT_EQ(c.tiers[0].name, "dram");
  EXPECT_EQ(c.tiers[0].kind, TierKind::kDram);
  EXPECT_EQ(c.tiers[0].capacity_bytes, Config::kDefaultDramBytes);
  EXPECT_EQ(Config::kDefaultDramBytes, 256ull << 20);
  EXPECT_TRUE(c.tiers[0].prefault);
}

TEST(ConfigTest, ParsesFullConfig) {
  Result<Config> r = Config::FromString(R"(# comment
[backend]
exclusive_loads = true

[[tier]]
name = "fast-1"
kind = "dram"
capacity = "64MiB"
prefault = false

[[tier]]
name = "slow_2.x"
kind = "dram"
capacity = 8192
)",
                                        "full.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->exclusive_loads);
  EXPECT_EQ(r->source, "full.toml");
  ASSERT_EQ(r->tiers.size(), 2u);
  EXPECT_EQ(r->tiers[0].name, "fast-1");
  EXPECT_EQ(r->tiers[0].kind, TierKind::kDram);
  EXPECT_EQ(r->tiers[0].capacity_bytes, 64ull << 20);
  EXPECT_FALSE(r->tiers[0].prefault);
  EXPECT_EQ(r->tiers[0].line, 5);
  EXPECT_EQ(r->tiers[1].name, "slow_2.x");
  EXPECT_EQ(r->tiers[1].capacity_bytes, 8192u);
  EXPECT_TRUE(r->tiers[1].prefault);  // default
  EXPECT_EQ(r->tiers[1].line, 11);
}

TEST(ConfigTest, MissingBackendTableUsesDefaults) {
  Result<Config> r = Config::FromString(kOneTier, "t.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->exclusive_loads);
  ASSERT_EQ(r->tiers.size(), 1u);
  EXPECT_TRUE(r->tiers[0].prefault);
  EXPECT_EQ(r->tiers[0].line, 1);
}

TEST(ConfigTest, EmptyBackendTableUsesDefaults) {
  Result<Config> r = Config::FromString(std::string("[backend]\n") + kOneTier, "t.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->exclusive_loads);
}

TEST(ConfigTest, CapacityIsRoundedDownToWholePages) {
  Result<Config> r = Config::FromString(R"([[tier]]
name = "a"
kind = "dram"
capacity = 10000
)",
                                        "t.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tiers[0].capacity_bytes, 8192u);
}

TEST(ConfigTest, AcceptsThirtyOneTiers) {
  std::string text;
  for (int i = 0; i < 31; ++i) {
    text += "[[tier]]\nname = \"t" + std::to_string(i) + "\"\nkind = \"dram\"\ncapacity = 4096\n";
  }
  Result<Config> r = Config::FromString(text, "t.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tiers.size(), 31u);
}

TEST(ConfigTest, RejectsThirtySecondTierWithLineNumber) {
  std::string text;
  for (int i = 0; i < 32; ++i) {
    text += "[[tier]]\nname = \"t" + std::to_string(i) + "\"\nkind = \"dram\"\ncapacity = 4096\n";
  }
  const std::string msg = ErrorOf(text);
  EXPECT_TRUE(HasText(msg, "test.toml:125:"));  // 31 tiers of 4 lines, then the 32nd header
  EXPECT_TRUE(HasText(msg, "'tier'"));
  EXPECT_TRUE(HasText(msg, "at most 31"));
}

TEST(ConfigTest, RejectsConfigWithNoTier) {
  const std::string msg = ErrorOf("[backend]\nexclusive_loads = true\n");
  EXPECT_TRUE(HasText(msg, "test.toml"));
  EXPECT_TRUE(HasText(msg, "defines no tier"));
}

TEST(ConfigTest, RejectsEmptyTierArrayWithLineNumber) {
  const std::string msg = ErrorOf("\ntier = []\n");
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "defines no tier"));
}

TEST(ConfigTest, RejectsEmptyText) { EXPECT_TRUE(HasText(ErrorOf(""), "defines no tier")); }

TEST(ConfigTest, RejectsUnknownTopLevelTableWithLineNumber) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "\n[placment]\npolicy = \"lru\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:6:"));
  EXPECT_TRUE(HasText(msg, "unknown table [placment]"));
}

TEST(ConfigTest, RejectsUnknownTopLevelKeyWithLineNumber) {
  const std::string msg = ErrorOf("verbose = true\n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:1:"));
  EXPECT_TRUE(HasText(msg, "unknown top-level key 'verbose'"));
}

TEST(ConfigTest, RejectsUnknownBackendKeyWithLineNumber) {
  const std::string msg = ErrorOf("[backend]\nexclusive_load = true\n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "[backend]"));
  EXPECT_TRUE(HasText(msg, "'exclusive_load'"));
  EXPECT_TRUE(HasText(msg, "exclusive_loads"));  // lists the known keys
}

TEST(ConfigTest, RejectsUnknownTierKeyWithLineNumber) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "capcity = \"2MiB\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:5:"));
  EXPECT_TRUE(HasText(msg, "tier 'dram'"));
  EXPECT_TRUE(HasText(msg, "'capcity'"));
}

TEST(ConfigTest, ReportsTheEarliestUnknownKeyInTheFile) {
  // "zz" sorts after "aa" but comes first in the file.
  const std::string msg = ErrorOf(std::string(kOneTier) + "zz = 1\naa = 2\n");
  EXPECT_TRUE(HasText(msg, "test.toml:5:"));
  EXPECT_TRUE(HasText(msg, "'zz'"));
}

TEST(ConfigTest, RejectsNestedTableInsideTier) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "[tier.numa]\nnode = 1\n");
  EXPECT_TRUE(HasText(msg, "test.toml:5:"));
  EXPECT_TRUE(HasText(msg, "'numa'"));
}

TEST(ConfigTest, RejectsNonBooleanExclusiveLoads) {
  const std::string msg = ErrorOf("[backend]\nexclusive_loads = \"yes\"\n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "'exclusive_loads'"));
  EXPECT_TRUE(HasText(msg, "\"yes\""));
}

TEST(ConfigTest, RejectsBackendThatIsNotATable) {
  const std::string msg = ErrorOf("backend = 1\n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:1:"));
  EXPECT_TRUE(HasText(msg, "'backend'"));
}

TEST(ConfigTest, RejectsSingleBracketTierTable) {
  const std::string msg = ErrorOf("[tier]\nname = \"a\"\nkind = \"dram\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:1:"));
  EXPECT_TRUE(HasText(msg, "'tier'"));
  EXPECT_TRUE(HasText(msg, "[[tier]]"));
}

TEST(ConfigTest, RejectsNonBooleanPrefault) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "prefault = 1\n");
  EXPECT_TRUE(HasText(msg, "test.toml:5:"));
  EXPECT_TRUE(HasText(msg, "'prefault'"));
}

TEST(ConfigTest, RejectsBooleanCapacity) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = true\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "tier 'a'"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
}

TEST(ConfigTest, RejectsFloatCapacity) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = 1.5\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
}

TEST(ConfigTest, RejectsBadCapacityUnitNamingTheUnits) {
  const std::string msg = ErrorOf(R"([[tier]]
name = "cxl"
kind = "dram"


capacity = "12XB"
)");
  EXPECT_TRUE(HasText(msg,
                      "test.toml:6: tier 'cxl': key 'capacity': \"12XB\" is not a size "
                      "(use B, KiB, MiB, GiB or TiB)"));
}

TEST(ConfigTest, RejectsZeroCapacity) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"0MiB\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
}

TEST(ConfigTest, RejectsCapacityBelowOnePage) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = 4095\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
  EXPECT_TRUE(HasText(msg, "4096"));
}

TEST(ConfigTest, RejectsNegativeIntegerCapacity) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = -4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
  EXPECT_TRUE(HasText(msg, "negative"));
}

TEST(ConfigTest, RejectsCapacityThatOverflows) {
  const std::string msg =
      ErrorOf("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"16777216TiB\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:4:"));
  EXPECT_TRUE(HasText(msg, "'capacity'"));
  EXPECT_TRUE(HasText(msg, "64 bits"));
}

TEST(ConfigTest, RejectsMissingCapacity) {
  const std::string msg = ErrorOf("\n[[tier]]\nname = \"a\"\nkind = \"dram\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));  // the tier's header line
  EXPECT_TRUE(HasText(msg, "'capacity'"));
  EXPECT_TRUE(HasText(msg, "missing"));
}

TEST(ConfigTest, RejectsMissingName) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "\n[[tier]]\nkind = \"dram\"\n");
  EXPECT_TRUE(HasText(msg, "test.toml:6:"));
  EXPECT_TRUE(HasText(msg, "tier #2"));
  EXPECT_TRUE(HasText(msg, "'name'"));
}

TEST(ConfigTest, RejectsEmptyName) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"\"\nkind = \"dram\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "'name'"));
  EXPECT_TRUE(HasText(msg, "empty"));
}

TEST(ConfigTest, RejectsBadNameCharacters) {
  const std::string msg =
      ErrorOf("[[tier]]\nkind = \"dram\"\nname = \"fast tier\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:3:"));
  EXPECT_TRUE(HasText(msg, "'name'"));
  EXPECT_TRUE(HasText(msg, "\"fast tier\""));
}

TEST(ConfigTest, RejectsNameLongerThan32Characters) {
  const std::string ok_name(32, 'a');
  EXPECT_TRUE(
      Config::FromString("[[tier]]\nname = \"" + ok_name + "\"\nkind = \"dram\"\ncapacity = 4096\n",
                         "t.toml")
          .ok());
  const std::string msg = ErrorOf("[[tier]]\nname = \"" + std::string(33, 'a') +
                                  "\"\nkind = \"dram\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "'name'"));
  EXPECT_TRUE(HasText(msg, "32"));
}

TEST(ConfigTest, RejectsNonStringName) {
  const std::string msg = ErrorOf("[[tier]]\nname = 7\nkind = \"dram\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "'name'"));
}

TEST(ConfigTest, RejectsDuplicateTierNameNamingBothLines) {
  const std::string msg = ErrorOf(std::string(kOneTier) + "\n" + kOneTier);
  EXPECT_TRUE(HasText(msg, "test.toml:7:"));  // the second name
  EXPECT_TRUE(HasText(msg, "'name'"));
  EXPECT_TRUE(HasText(msg, "'dram'"));
  EXPECT_TRUE(HasText(msg, "line 1"));  // the first tier
}

TEST(ConfigTest, RejectsUnknownTierKindListingKnownKinds) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"n\"\nkind = \"tape\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg,
                      "test.toml:3: tier 'n': key 'kind': unknown tier kind 'tape' "
                      "(known kinds: dram, numa, pmem, compressed)"));
}

TEST(ConfigTest, RejectsMissingKind) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"n\"\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:1:"));
  EXPECT_TRUE(HasText(msg, "'kind'"));
}

TEST(ConfigTest, RejectsNonStringKind) {
  const std::string msg = ErrorOf("[[tier]]\nname = \"n\"\nkind = 1\ncapacity = 4096\n");
  EXPECT_TRUE(HasText(msg, "test.toml:3:"));
  EXPECT_TRUE(HasText(msg, "'kind'"));
}

TEST(ConfigTest, ReportsSyntaxErrorWithLineNumber) {
  const std::string msg = ErrorOf("[backend]\nexclusive_loads = \n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "syntax error"));
}

TEST(ConfigTest, ReportsRedefinedTableAsSyntaxError) {
  const std::string msg = ErrorOf("[backend]\n[backend]\n" + std::string(kOneTier));
  EXPECT_TRUE(HasText(msg, "test.toml:2:"));
  EXPECT_TRUE(HasText(msg, "backend"));
}

TEST(ConfigTest, FromFileOnMissingPathIsNotFound) {
  const std::string path = "/nonexistent-dir/tierswap-missing.toml";
  Result<Config> r = Config::FromFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Status::kNotFound);
  EXPECT_TRUE(HasText(r.error().message, path));
  EXPECT_TRUE(HasText(r.error().message, "No such file or directory"));
}

TEST(ConfigTest, FromFileOnDirectoryIsIoError) {
  const std::string path = std::filesystem::temp_directory_path().string();
  Result<Config> r = Config::FromFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Status::kIoError);
  EXPECT_TRUE(HasText(r.error().message, path));
}

TEST(ConfigTest, FromFileNamesThePathInMessages) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("tierswap_config_test_" + std::to_string(::getpid()) + ".toml");
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[[tier]]\nname = \"a\"\nkind = \"tape\"\ncapacity = 4096\n", f);
    std::fclose(f);
  }
  Result<Config> r = Config::FromFile(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasText(r.error().message, path.string() + ":3:"));
  EXPECT_TRUE(HasText(r.error().message, "'tape'"));
}

TEST(ConfigTest, EveryExampleFileParses) {
  const std::filesystem::path dir = SourceDir() / "examples";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".toml") {
      files.push_back(entry.path());
    }
  }
  ASSERT_GE(files.size(), 3u) << "expected the example configs in " << dir;
  for (const auto& file : files) {
    Result<Config> r = Config::FromFile(file.string());
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (r.ok()) {
      EXPECT_EQ(r->source, file.string());
    }
  }
}

TEST(ConfigTest, DefaultExampleMatchesBuiltInDefault) {
  Result<Config> r = Config::FromFile((SourceDir() / "examples" / "default.toml").string());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config d = Config::Default();
  EXPECT_EQ(r->exclusive_loads, d.exclusive_loads);
  ASSERT_EQ(r->tiers.size(), d.tiers.size());
  EXPECT_EQ(r->tiers[0].name, d.tiers[0].name);
  EXPECT_EQ(r->tiers[0].kind, d.tiers[0].kind);
  EXPECT_EQ(r->tiers[0].capacity_bytes, d.tiers[0].capacity_bytes);
  EXPECT_EQ(r->tiers[0].prefault, d.tiers[0].prefault);
}

// ---- ParseSize ---------------------------------------------------------------------------------

TEST(ParseSizeTest, AcceptsPlainBytesAndEveryUnit) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"4096", 4096},
      {"0", 0},
      {"512B", 512},
      {"4KiB", 4096},
      {"256MiB", 256ull << 20},
      {"256 MiB", 256ull << 20},
      {"1GiB", 1ull << 30},
      {"2TiB", 2ull << 40},
      {"18446744073709551615", UINT64_MAX},
      {"16777215TiB", 16777215ull << 40},
  };
  for (const Case& c : cases) {
    Result<uint64_t> r = ParseSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ParseSizeTest, RejectsMalformedSizes) {
  const char* bad[] = {"",      "-1",     "-4KiB", "1.5GiB",  "1,5MiB", "MiB",   "12XB",
                       "4K",    "4M",     "1G",    "4kib",    "4 kiB",  " 4096", "4096 ",
                       "+4096", "0x1000", "4MiBs", "4 MiB B", "1_000",  "4\tMiB"};
  for (const char* text : bad) {
    Result<uint64_t> r = ParseSize(text);
    EXPECT_FALSE(r.ok()) << "accepted \"" << text << "\"";
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Status::kInvalidArgument);
      EXPECT_FALSE(r.error().message.empty());
    }
  }
}

TEST(ParseSizeTest, RejectsOverflow) {
  for (const char* text : {"18446744073709551616", "16777216TiB", "99999999999999999999999"}) {
    Result<uint64_t> r = ParseSize(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(HasText(r.error().message, "64 bits")) << text;
  }
}

TEST(ParseSizeTest, MessagesSayWhatWasWrong) {
  EXPECT_TRUE(HasText(ParseSize("12XB").error().message, "use B, KiB, MiB, GiB or TiB"));
  EXPECT_TRUE(HasText(ParseSize("-5").error().message, "negative"));
  EXPECT_TRUE(HasText(ParseSize("1.5GiB").error().message, "fraction"));
  EXPECT_TRUE(HasText(ParseSize("").error().message, "empty"));
  EXPECT_TRUE(HasText(ParseSize("4K").error().message, "\"4K\""));
}

}  // namespace
}  // namespace tierswap

namespace tierswap {
namespace {

TEST(ConfigTierKindsTest, ParsesEveryKindWithItsKeys) {
  Result<Config> r = Config::FromString(R"([[tier]]
name = "cxl"
kind = "numa"
node = 1
capacity = "1GiB"
[[tier]]
name = "pmem"
kind = "pmem"
path = "/mnt/pmem/tierswap.pool"
capacity = "1GiB"
persist = true
[[tier]]
name = "zram-like"
kind = "compressed"
codec = "zstd"
level = 3
backing = "numa"
node = 2
max_compressed_fraction = 0.5
capacity = "512MiB"
[[tier]]
name = "pcm"
kind = "pmem"
path = "anon"
capacity = "1GiB"
read_latency_ns = 1000
write_latency_ns = 3000
bandwidth_mbps = 2000
)",
                                        "kinds.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  ASSERT_EQ(c.tiers.size(), 4u);
  EXPECT_EQ(c.tiers[0].kind, TierKind::kNuma);
  EXPECT_EQ(c.tiers[0].node, 1);
  EXPECT_EQ(c.tiers[1].kind, TierKind::kPmem);
  EXPECT_EQ(c.tiers[1].path, "/mnt/pmem/tierswap.pool");
  EXPECT_TRUE(c.tiers[1].persist);
  EXPECT_EQ(c.tiers[2].kind, TierKind::kCompressed);
  EXPECT_EQ(c.tiers[2].codec, "zstd");
  EXPECT_EQ(c.tiers[2].level, 3);
  EXPECT_EQ(c.tiers[2].backing, "numa");
  EXPECT_EQ(c.tiers[2].node, 2);
  EXPECT_DOUBLE_EQ(c.tiers[2].max_compressed_fraction, 0.5);
  EXPECT_EQ(c.tiers[3].emulation.read_latency_ns, 1000u);
  EXPECT_EQ(c.tiers[3].emulation.write_latency_ns, 3000u);
  EXPECT_EQ(c.tiers[3].emulation.bandwidth_mbps, 2000u);
  EXPECT_FALSE(c.tiers[0].emulation.enabled());
}

TEST(ConfigTierKindsTest, NumaTierNeedsItsNode) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"c\"\nkind = \"numa\"\ncapacity = 4096\n"),
                      "test.toml:1: tier 'c': key 'node' is missing"));
}

TEST(ConfigTierKindsTest, PmemTierNeedsItsPath) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"p\"\nkind = \"pmem\"\ncapacity = 4096\n"),
                      "test.toml:1: tier 'p': key 'path' is missing"));
}

TEST(ConfigTierKindsTest, KeyOfAnotherKindIsRefusedNamingWhereItApplies) {
  const std::string msg =
      ErrorOf("[[tier]]\nname = \"d\"\nkind = \"dram\"\ncapacity = 4096\npath = \"/x\"\n");
  EXPECT_TRUE(HasText(msg,
                      "test.toml:5: tier 'd': key 'path' does not apply to kind 'dram' "
                      "(it applies to: pmem)"));
}

TEST(ConfigTierKindsTest, CodecMustBeKnown) {
  EXPECT_TRUE(HasText(
      ErrorOf("[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = 16384\ncodec = \"lzo\"\n"),
      "test.toml:5: tier 'z': key 'codec': \"lzo\" is not one of lz4, zstd"));
}

TEST(ConfigTierKindsTest, LevelRangeDependsOnTheCodec) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = 16384\n"
                              "codec = \"zstd\"\nlevel = 22\n"),
                      "test.toml:6: tier 'z': key 'level': 22 is out of range (1 to 19)"));
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = 16384\n"
                              "level = 0\n"),
                      "key 'level': 0 is out of range (1 to 65537)"));
}

TEST(ConfigTierKindsTest, CompressedFractionMustBeAFractionOfAPage) {
  for (const char* v : {"0", "1.5", "-0.2", "\"half\""}) {
    const std::string msg = ErrorOf(std::string("[[tier]]\nname = \"z\"\nkind = \"compressed\"\n"
                                                "capacity = 16384\nmax_compressed_fraction = ") +
                                    v + "\n");
    EXPECT_TRUE(HasText(msg, "test.toml:5: tier 'z': key 'max_compressed_fraction'")) << v;
  }
}

TEST(ConfigTierKindsTest, NumaBackingNeedsANodeAndDramBackingRefusesOne) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = 16384\n"
                              "backing = \"numa\"\n"),
                      "key 'node' is missing; backing = \"numa\""));
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = 16384\n"
                              "node = 1\n"),
                      "test.toml:5: tier 'z': key 'node' needs backing = \"numa\""));
}

TEST(ConfigTierKindsTest, EmulationKeysAreWholeNonNegativeNumbers) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"d\"\nkind = \"dram\"\ncapacity = 4096\n"
                              "read_latency_ns = -5\n"),
                      "test.toml:5: tier 'd': key 'read_latency_ns': -5 is out of range"));
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"d\"\nkind = \"dram\"\ncapacity = 4096\n"
                              "bandwidth_mbps = \"fast\"\n"),
                      "key 'bandwidth_mbps': expected a whole number, got the string \"fast\""));
}

TEST(ConfigTierKindsTest, NodeMustBeANonNegativeInteger) {
  EXPECT_TRUE(HasText(ErrorOf("[[tier]]\nname = \"c\"\nkind = \"numa\"\ncapacity = 4096\n"
                              "node = -1\n"),
                      "test.toml:5: tier 'c': key 'node': -1 is out of range (0 to 1023)"));
}

}  // namespace
}  // namespace tierswap

namespace tierswap {
namespace {

constexpr const char* kTier = "[[tier]]\nname = \"d\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n";

TEST(ConfigPlacementTest, DefaultsAreAdaptiveWithHysteresis) {
  const Config c = Config::Default();
  EXPECT_EQ(c.placement.policy, "adaptive");
  EXPECT_LT(c.placement.low_watermark, c.placement.high_watermark);
  EXPECT_TRUE(c.quotas.empty());
}

TEST(ConfigPlacementTest, ParsesEveryPlacementKey) {
  Result<Config> r = Config::FromString(std::string(kTier) + R"([placement]
policy = "static"
high_watermark = 0.9
low_watermark = 0.5
max_migration_mbps = 128
min_residency_ms = 250
promote_after_loads = 2
background = false
mover_interval_ms = 5
probe_budget_ms = 0
)",
                                        "p.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const PlacementConfig& p = r->placement;
  EXPECT_EQ(p.policy, "static");
  EXPECT_DOUBLE_EQ(p.high_watermark, 0.9);
  EXPECT_DOUBLE_EQ(p.low_watermark, 0.5);
  EXPECT_EQ(p.max_migration_mbps, 128u);
  EXPECT_EQ(p.min_residency_ms, 250u);
  EXPECT_EQ(p.promote_after_loads, 2u);
  EXPECT_FALSE(p.background);
  EXPECT_EQ(p.mover_interval_ms, 5u);
  EXPECT_DOUBLE_EQ(p.probe_budget_ms, 0.0);
}

TEST(ConfigPlacementTest, UnknownPolicyIsRefusedNamingTheChoices) {
  EXPECT_TRUE(
      HasText(ErrorOf(std::string(kTier) + "[placement]\npolicy = \"lru\"\n"),
              "test.toml:6: [placement]: key 'policy': \"lru\" is not one of static, adaptive"));
}

TEST(ConfigPlacementTest, LowWatermarkMustBeBelowHigh) {
  EXPECT_TRUE(HasText(
      ErrorOf(std::string(kTier) + "[placement]\nhigh_watermark = 0.8\nlow_watermark = 0.9\n"),
      "test.toml:7: [placement]: low_watermark 0.9 must be below high_watermark 0.8"));
}

TEST(ConfigPlacementTest, WatermarkOutOfRangeIsRefused) {
  EXPECT_TRUE(HasText(ErrorOf(std::string(kTier) + "[placement]\nhigh_watermark = 1.5\n"),
                      "key 'high_watermark': 1.5 is out of range"));
}

TEST(ConfigQuotaTest, ParsesQuotasPerType) {
  Result<Config> r = Config::FromString(std::string(kTier) +
                                            "[[quota]]\ntype = 3\nmax = \"512MiB\"\n"
                                            "[[quota]]\ntype = 7\nmax = 8192\n",
                                        "q.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->quotas.size(), 2u);
  EXPECT_EQ(r->quotas[0].type, 3u);
  EXPECT_EQ(r->quotas[0].max_bytes, 512ull << 20);
  EXPECT_EQ(r->quotas[1].max_bytes, 8192u);
}

TEST(ConfigQuotaTest, DuplicateTypeAndMissingKeysAreRefused) {
  EXPECT_TRUE(HasText(ErrorOf(std::string(kTier) + "[[quota]]\ntype = 3\nmax = 4096\n"
                                                   "[[quota]]\ntype = 3\nmax = 4096\n"),
                      "type 3 already has a quota (line 5)"));
  EXPECT_TRUE(HasText(ErrorOf(std::string(kTier) + "[[quota]]\nmax = 4096\n"),
                      "test.toml:5: quota #1: key 'type' is missing"));
  EXPECT_TRUE(HasText(ErrorOf(std::string(kTier) + "[[quota]]\ntype = 40\nmax = 4096\n"),
                      "key 'type': 40 is out of range (0 to 31)"));
  EXPECT_TRUE(HasText(ErrorOf(std::string(kTier) + "[[quota]]\ntype = 1\nmax = \"lots\"\n"),
                      "quota #1: key 'max':"));
}

}  // namespace
}  // namespace tierswap
