// Bad input, one test per class: every kind of malformed config, trace line, page corpus and
// C ABI call that tierswap must refuse, in one place. Each case checks that the input is refused
// AND that the message names the file, the line (where the format has lines) and the problem
// (the key, field or argument, and what is wrong with it), so that a user can fix it from the
// message alone.
//
// config_test.cc, trace_reader_test.cc and c_api_test.cc test the same loaders in more depth
// (exact messages, accepted inputs); this file is the table by class. The fuzzers in tests/fuzz
// check the general rule (never a crash, every refusal names the source) on inputs no one wrote.

#include <gtest/gtest.h>
#include <tierswap/tierswap.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/page_corpus.h"
#include "frontend/replay.h"
#include "frontend/trace_reader.h"
#include "frontend/zstd_input.h"
#include "placement/backend.h"
#include "tests/support/temp_file.h"
#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using TempFile = testing::TempFile;  // a config file, removed at the end (tests/support)

// EXPECT_TRUE(Names(message, {parts...})): every part appears in the message.
::testing::AssertionResult Names(const std::string& message,
                                 std::initializer_list<std::string> parts) {
  for (const std::string& part : parts) {
    if (message.find(part) == std::string::npos) {
      return ::testing::AssertionFailure() << "message: " << message << "\n  lacks: " << part;
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- config ------------------------------------------------------------------------------------

constexpr const char* kSource = "bad.toml";

// A valid tier, appended where a case needs one besides the table it breaks.
constexpr const char* kTier = R"(
[[tier]]
name = "dram"
kind = "dram"
capacity = "1MiB"
)";

// Parses `text` as bad.toml; fails the test when it parses, returns the message.
std::string ConfigError(const std::string& text) {
  Result<Config> r = Config::FromString(text, kSource);
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, Status::kInvalidArgument) << r.error().message;
  return r.error().message;
}

// "bad.toml:<line>: ".
std::string At(int line) { return std::string(kSource) + ":" + std::to_string(line) + ": "; }

struct ConfigCase {
  std::string text;
  int line;                        // the line the message must name
  std::vector<std::string> parts;  // and what else it must say
};

void ExpectRefused(const std::vector<ConfigCase>& cases) {
  for (const ConfigCase& c : cases) {
    const std::string msg = ConfigError(c.text);
    EXPECT_EQ(msg.rfind(At(c.line), 0), 0u) << "expected the message to start with " << At(c.line)
                                            << "\nmessage: " << msg << "\nconfig:\n"
                                            << c.text;
    for (const std::string& part : c.parts) {
      EXPECT_TRUE(Names(msg, {part})) << "config:\n" << c.text;
    }
  }
}

TEST(BadConfigTest, WrongValueTypeNamesTheKeyAndWhatItGot) {
  ExpectRefused({
      {std::string("[backend]\nexclusive_loads = \"yes\"\n") + kTier,
       2,
       {"key 'exclusive_loads'", "expected true or false", "the string \"yes\""}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = true\n",
       4,
       {"tier 'a'", "key 'capacity'", "expected a size", "the boolean true"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = 1.5\n",
       4,
       {"key 'capacity'", "the floating-point number 1.5"}},
      {"[[tier]]\nname = 5\nkind = \"dram\"\ncapacity = \"1MiB\"\n",
       2,
       {"key 'name'", "expected a string", "the integer 5"}},
      {"[[tier]]\nname = \"a\"\nkind = [\"dram\"]\ncapacity = \"1MiB\"\n",
       3,
       {"key 'kind'", "expected a string", "an array"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1MiB\"\nprefault = 1\n",
       5,
       {"key 'prefault'", "expected true or false", "the integer 1"}},
      {"[[tier]]\nname = \"n\"\nkind = \"numa\"\nnode = \"0\"\ncapacity = \"1MiB\"\n",
       4,
       {"key 'node'", "expected a whole number", "the string \"0\""}},
      {std::string("[placement]\nhigh_watermark = \"0.9\"\n") + kTier,
       2,
       {"[placement]", "key 'high_watermark'", "expected a number"}},
      {std::string("[placement]\nbackground = \"false\"\n") + kTier,
       2,
       {"[placement]", "key 'background'", "expected true or false"}},
      {std::string("[stats]\ndump_interval_ms = 1.5\n") + kTier,
       2,
       {"[stats]", "key 'dump_interval_ms'", "expected a whole number"}},
      {std::string("[[quota]]\ntype = \"1\"\nmax = \"1MiB\"\n") + kTier,
       2,
       {"quota #1", "key 'type'", "expected a whole number"}},
      {std::string("placement = 3\n") + kTier, 1, {"key 'placement'", "expected a [placement]"}},
      {"tier = \"dram\"\n", 1, {"key 'tier'", "expected [[tier]] tables", "two brackets"}},
      {"[tier]\nname = \"a\"\n", 1, {"key 'tier'", "expected [[tier]] tables", "two brackets"}},
  });
}

TEST(BadConfigTest, UnknownKeyNamesItsTableAndTheKnownKeys) {
  ExpectRefused({
      {std::string("exclusive_load = true\n") + kTier,
       1,
       {"unknown top-level key 'exclusive_load'", "[backend]"}},
      {std::string("[backends]\nexclusive_loads = true\n") + kTier,
       1,
       {"unknown table [backends]"}},
      {std::string("[backend]\nexclusive_load = true\n") + kTier,
       2,
       {"[backend]", "unknown key 'exclusive_load'", "known keys: exclusive_loads"}},
      {std::string("[placement]\nhigh_water = 0.9\n") + kTier,
       2,
       {"[placement]", "unknown key 'high_water'", "high_watermark"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapcity = \"1MiB\"\n",
       4,
       {"tier 'a'", "unknown key 'capcity'", "known keys: name, kind, capacity"}},
      {std::string("[stats]\nlisen = \"127.0.0.1:9464\"\n") + kTier,
       2,
       {"[stats]", "unknown key 'lisen'", "listen"}},
      {std::string("[[quota]]\ntype = 1\nmaximum = \"1MiB\"\n") + kTier,
       3,
       {"quota #1", "unknown key 'maximum'", "known keys: type, max"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n[tier.extra]\nx = 1\n",
       5,
       {"tier 'a'", "unknown key 'extra'"}},
  });
}

TEST(BadConfigTest, NegativeSizeOrCountIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = -4096\n",
       4,
       {"key 'capacity'", "-4096 is negative"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"-1MiB\"\n",
       4,
       {"key 'capacity'", "\"-1MiB\" is negative"}},
      {std::string("[[quota]]\ntype = 1\nmax = -1\n") + kTier, 3, {"quota #1", "key 'max'"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1MiB\"\nread_latency_ns = -1\n",
       5,
       {"key 'read_latency_ns'", "-1 is out of range (0 to"}},
      {"[[tier]]\nname = \"n\"\nkind = \"numa\"\nnode = -1\ncapacity = \"1MiB\"\n",
       4,
       {"key 'node'", "-1 is out of range"}},
      {std::string("[placement]\nmin_residency_ms = -5\n") + kTier,
       2,
       {"key 'min_residency_ms'", "-5 is out of range"}},
      {std::string("[placement]\nmax_migration_mbps = -1\n") + kTier,
       2,
       {"key 'max_migration_mbps'", "-1 is out of range"}},
  });
}

TEST(BadConfigTest, AbsurdSizeOrCountIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"999999TiB\"\n",
       4,
       {"tier 'a'", "key 'capacity'", "more than a dram tier can hold"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"16TiB\"\n",
       4,
       {"key 'capacity'", "17592186044416 bytes is more than a dram tier can hold",
        "at most 17592186040320 bytes, 16 TiB - 4 KiB"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = \"128GiB\"\n",
       4,
       {"key 'capacity'", "more than a compressed tier can hold",
        "at most 137438949376 bytes, 128 GiB - 4 KiB"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = 9223372036854775807\n",
       4,
       {"key 'capacity'", "more than a dram tier can hold"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"18446744073709551616\"\n",
       4,
       {"key 'capacity'", "too large; a size must fit in 64 bits"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"16777216TiB\"\n",
       4,
       {"key 'capacity'", "too large"}},
      {std::string("[placement]\nprobe_budget_ms = 1e9\n") + kTier,
       2,
       {"key 'probe_budget_ms'", "out of range"}},
      {std::string("[placement]\npromote_after_loads = 100\n") + kTier,
       2,
       {"key 'promote_after_loads'", "100 is out of range (1 to 3)"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncodec = \"zstd\"\nlevel = 22\n"
       "capacity = \"1MiB\"\n",
       5,
       {"key 'level'", "22 is out of range (1 to 19)"}},
      {"[[tier]]\nname = \"n\"\nkind = \"numa\"\nnode = 5000\ncapacity = \"1MiB\"\n",
       4,
       {"key 'node'", "5000 is out of range (0 to 1023)"}},
  });
}

TEST(BadConfigTest, CapacityThatHoldsNoPageIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = 0\n",
       4,
       {"key 'capacity'", "a capacity of 0 bytes is less than a dram tier needs",
        "at least 4096 bytes, 4 KiB"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"0MiB\"\n",
       4,
       {"key 'capacity'", "less than a dram tier needs"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"4095\"\n",
       4,
       {"key 'capacity'", "4095 bytes is less than a dram tier needs"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = \"12KiB\"\n",
       4,
       {"tier 'z'", "key 'capacity'", "12288 bytes is less than a compressed tier needs",
        "at least 16384 bytes, 16 KiB"}},
      {std::string("[[quota]]\ntype = 2\nmax = \"0\"\n") + kTier,
       3,
       {"quota #1", "key 'max'", "0 bytes holds no 4 KiB page"}},
  });
}

TEST(BadConfigTest, BadSizeUnitIsRefusedListingTheUnits) {
  for (const char* size : {"1GB", "10 mb", "12 parsecs", "4kib", "1 KiB ", "4KiB4"}) {
    ExpectRefused(
        {{std::string("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"") + size + "\"\n",
          4,
          {"key 'capacity'", std::string("\"") + size + "\"", "B, KiB, MiB, GiB or TiB"}}});
  }
  ExpectRefused({
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1.5GiB\"\n",
       4,
       {"key 'capacity'", "fractions are not allowed"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"MiB\"\n",
       4,
       {"key 'capacity'", "must start with a whole number"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"\"\n",
       4,
       {"key 'capacity'", "the size is empty"}},
  });
}

TEST(BadConfigTest, DuplicateTierNameNamesBothLines) {
  ExpectRefused(
      {{"[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n\n"
        "[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"2MiB\"\n",
        7,
        {"tier 'fast'", "key 'name'", "already used by the tier at line 1"}}});
}

TEST(BadConfigTest, BadTierNameIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n",
       2,
       {"tier #1", "key 'name'", "the name is empty"}},
      {"[[tier]]\nname = \"far memory\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n",
       2,
       {"tier #1", "key 'name'", "contains ' '"}},
      {"[[tier]]\nname = \"" + std::string(33, 'x') + "\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n",
       2,
       {"key 'name'", "33 characters long"}},
  });
}

TEST(BadConfigTest, TooManyTiersIsRefused) {
  std::string text;
  for (int i = 0; i < 32; ++i) {
    text += "[[tier]]\nname = \"t" + std::to_string(i) + "\"\nkind = \"dram\"\ncapacity = 4096\n";
  }
  ExpectRefused({{text, 4 * 31 + 1, {"tier #32 is one too many", "at most 31 tiers"}}});
}

TEST(BadConfigTest, PmemTierWithoutPathIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"pm\"\nkind = \"pmem\"\ncapacity = \"1MiB\"\n",
       1,
       {"tier 'pm'", "key 'path' is missing", "\"anon\""}},
      {"[[tier]]\nname = \"pm\"\nkind = \"pmem\"\npath = \"\"\ncapacity = \"1MiB\"\n",
       1,
       {"tier 'pm'", "key 'path' is missing"}},
  });
}

// The loader cannot know whether a path exists; opening the tier does, and its message points
// back at the config line.
TEST(BadConfigTest, PmemPathInMissingDirectoryIsRefusedAtOpenNamingFileAndLine) {
  Result<Config> c = Config::FromString(
      "[placement]\nprobe_budget_ms = 0\n\n[[tier]]\nname = \"pm\"\n"
      "kind = \"pmem\"\npath = \"/nonexistent-tierswap-dir/pool\"\n"
      "capacity = \"1MiB\"\n",
      kSource);
  ASSERT_TRUE(c.ok()) << c.error().message;
  Result<std::unique_ptr<Backend>> b = OpenBackend(*c);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(
      Names(b.error().message, {At(4), "tier 'pm'", "/nonexistent-tierswap-dir/pool", "missing"}));
}

TEST(BadConfigTest, TierThatCannotOpenIsRefusedAtOpenNamingFileAndLine) {
  struct Case {
    std::string tier;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"name = \"far\"\nkind = \"numa\"\nnode = 1023\ncapacity = \"1MiB\"\n",
       {"tier 'far'", "node 1023"}},
  };
  for (const Case& tc : cases) {
    Result<Config> c =
        Config::FromString("[placement]\nprobe_budget_ms = 0\n\n[[tier]]\n" + tc.tier, kSource);
    ASSERT_TRUE(c.ok()) << c.error().message;
    Result<std::unique_ptr<Backend>> b = OpenBackend(*c);
    ASSERT_FALSE(b.ok()) << tc.tier;
    EXPECT_TRUE(Names(b.error().message, {At(4)}));
    for (const std::string& part : tc.parts) EXPECT_TRUE(Names(b.error().message, {part}));
  }
}

TEST(BadConfigTest, UnknownTierKindListsTheKnownKinds) {
  ExpectRefused({{"[[tier]]\nname = \"c\"\nkind = \"cxl\"\ncapacity = \"1MiB\"\n",
                  3,
                  {"tier 'c'", "key 'kind'", "unknown tier kind 'cxl'",
                   "known kinds: dram, numa, pmem, compressed"}}});
}

TEST(BadConfigTest, UnknownChoiceListsTheKnownOnes) {
  ExpectRefused({
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncodec = \"gzip\"\ncapacity = \"1MiB\"\n",
       4,
       {"tier 'z'", "key 'codec'", "\"gzip\" is not one of lz4, zstd"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\nbacking = \"cxl\"\ncapacity = \"1MiB\"\n",
       4,
       {"key 'backing'", "\"cxl\" is not one of dram, numa"}},
      {std::string("[placement]\npolicy = \"lru\"\n") + kTier,
       2,
       {"[placement]", "key 'policy'", "\"lru\" is not one of static, adaptive"}},
  });
}

TEST(BadConfigTest, KeyOfAnotherTierKindIsRefused) {
  ExpectRefused({
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1MiB\"\ncodec = \"lz4\"\n",
       5,
       {"tier 'a'", "key 'codec' does not apply to kind 'dram'", "compressed"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"1MiB\"\npath = \"anon\"\n",
       5,
       {"key 'path' does not apply to kind 'dram'"}},
  });
}

TEST(BadConfigTest, BadWatermarksAreRefused) {
  ExpectRefused({
      {std::string("[placement]\nhigh_watermark = 0.5\nlow_watermark = 0.9\n") + kTier,
       3,
       {"[placement]", "low_watermark 0.9 must be below high_watermark 0.5"}},
      {std::string("[placement]\nhigh_watermark = 0.7\nlow_watermark = 0.7\n") + kTier,
       3,
       {"low_watermark 0.7 must be below high_watermark 0.7"}},
      {std::string("[placement]\nhigh_watermark = 1.5\n") + kTier,
       2,
       {"key 'high_watermark'", "1.5 is out of range (0.01 to 1)"}},
      {std::string("[placement]\nlow_watermark = -0.1\n") + kTier,
       2,
       {"key 'low_watermark'", "-0.1 is out of range (0 to 1)"}},
      {std::string("[placement]\nhigh_watermark = 0\n") + kTier,
       2,
       {"key 'high_watermark'", "0 is out of range"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\ncapacity = \"1MiB\"\n"
       "max_compressed_fraction = 1.5\n",
       5,
       {"key 'max_compressed_fraction'", "1.5 is out of range"}},
  });
}

TEST(BadConfigTest, MissingRequiredKeyIsNamed) {
  ExpectRefused({
      {"[[tier]]\nkind = \"dram\"\ncapacity = \"1MiB\"\n", 1, {"tier #1", "key 'name' is missing"}},
      {"[[tier]]\nname = \"a\"\ncapacity = \"1MiB\"\n",
       1,
       {"tier 'a'", "key 'kind' is missing", "known kinds"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\n", 1, {"tier 'a'", "key 'capacity' is missing"}},
      {"[[tier]]\nname = \"n\"\nkind = \"numa\"\ncapacity = \"1MiB\"\n",
       1,
       {"tier 'n'", "key 'node' is missing"}},
      {"[[tier]]\nname = \"z\"\nkind = \"compressed\"\nbacking = \"numa\"\ncapacity = \"1MiB\"\n",
       1,
       {"tier 'z'", "key 'node' is missing", "backing = \"numa\""}},
      {std::string("[[quota]]\nmax = \"1MiB\"\n") + kTier,
       1,
       {"quota #1", "key 'type' is missing"}},
      {std::string("[[quota]]\ntype = 3\n") + kTier, 1, {"quota #1", "key 'max' is missing"}},
  });
  // No tier at all: the whole file is at fault, so no line.
  for (const char* text : {"", "[backend]\nexclusive_loads = true\n"}) {
    const std::string msg = ConfigError(text);
    EXPECT_TRUE(Names(msg, {std::string(kSource) + ": ", "defines no tier", "[[tier]]"}));
  }
}

TEST(BadConfigTest, InvalidTomlSyntaxReportsTheLine) {
  ExpectRefused({
      {"[[tier]]\nname = \"a\nkind = \"dram\"\n", 2, {"TOML syntax error"}},
      {"[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity =\n", 4, {"TOML syntax error"}},
      {"[[tier]]\nname = \"a\"\nname = \"b\"\n", 3, {"TOML syntax error"}},
      {"[backend]\n[backend]\n", 2, {"TOML syntax error"}},
      {"[[tier]\nname = \"a\"\n", 1, {"TOML syntax error"}},
      {"\n\n\ncapacity = 1MiB\n", 4, {"TOML syntax error"}},
      {"[[tier]]\nname = \"\xff\xfe\"\n", 2, {"TOML syntax error"}},
  });
}

TEST(BadConfigTest, QuotaForTypeOutOfRangeOrTwiceIsRefused) {
  ExpectRefused({
      {std::string("[[quota]]\ntype = 32\nmax = \"1MiB\"\n") + kTier,
       2,
       {"quota #1", "key 'type'", "32 is out of range (0 to 31)"}},
      {std::string("[[quota]]\ntype = -1\nmax = \"1MiB\"\n") + kTier,
       2,
       {"quota #1", "key 'type'", "-1 is out of range"}},
      {std::string("[[quota]]\ntype = 4\nmax = \"1MiB\"\n\n[[quota]]\ntype = 4\nmax = \"2MiB\"\n") +
           kTier,
       5,
       {"quota #2", "type 4 already has a quota (line 1)"}},
  });
}

TEST(BadConfigTest, BadStatsListenAddressIsRefused) {
  ExpectRefused({
      {std::string("[stats]\nlisten = \"9464\"\n") + kTier,
       2,
       {"[stats]", "key 'listen'", "\"9464\" is not HOST:PORT"}},
      {std::string("[stats]\nlisten = \"127.0.0.1:70000\"\n") + kTier,
       2,
       {"key 'listen'", "is not HOST:PORT"}},
  });
}

// A file that cannot be read is named with the reason; it has no line yet.
TEST(BadConfigTest, UnreadableConfigFileIsNamed) {
  Result<Config> missing = Config::FromFile("/nonexistent-tierswap-dir/x.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Status::kNotFound);
  EXPECT_TRUE(Names(missing.error().message,
                    {"cannot open config file '/nonexistent-tierswap-dir/x.toml'", "No such"}));
  Result<Config> dir = Config::FromFile(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(Names(dir.error().message, {"config file", "directory"}));
}

// ---- traces ------------------------------------------------------------------------------------

constexpr const char* kTrace = "bad.trace";

// Reads `text` as bad.trace to its end; returns the refusal (failing the test when it reads).
std::string TraceError(std::string text) {
  TraceReader reader(InputStream::FromMemory(std::move(text), kTrace));
  TraceOp op;
  for (;;) {
    Result<bool> next = reader.Next(&op);
    if (!next) return next.error().message;
    if (!*next) break;
  }
  ADD_FAILURE() << "the trace was read to its end";
  return "";
}

// Each line is preceded by a valid init and a comment, so the bad line is line 3.
void ExpectBadLine(const std::string& line, std::initializer_list<std::string> parts) {
  const std::string msg = TraceError("N 0 8\n# the next line is bad\n" + line + "\n");
  EXPECT_EQ(msg.rfind("bad.trace:3: ", 0), 0u) << "line: " << line << "\nmessage: " << msg;
  EXPECT_TRUE(Names(msg, parts)) << "line: " << line;
}

TEST(BadTraceTest, UnknownOperationIsRefused) {
  ExpectBadLine("X 0 1", {"unknown operation 'X'", "expected N, S, L, I or A"});
  ExpectBadLine("s 0 1", {"unknown operation 's'"});
  ExpectBadLine("Store 0 1", {"unknown operation 'Store'"});
}

TEST(BadTraceTest, MissingFieldsAreRefusedNamingWhatTheOperationNeeds) {
  ExpectBadLine("S 1", {"'S' needs <type> <offset> [@k], got 1 field"});
  ExpectBadLine("N 0", {"'N' needs <type> <nr_pages>, got 1 field"});
  ExpectBadLine("L", {"'L' needs <type> <offset>, got 0 fields"});
  ExpectBadLine("A", {"'A' needs <type>, got 0 fields"});
}

TEST(BadTraceTest, ExtraFieldsAreRefused) {
  ExpectBadLine("L 0 1 2", {"'L' needs <type> <offset>, got 3 fields"});
  ExpectBadLine("S 0 1 @2 @3", {"'S' needs <type> <offset> [@k], got 4 fields"});
  ExpectBadLine("A 0 1", {"'A' needs <type>, got 2 fields"});
}

TEST(BadTraceTest, NonNumericFieldIsRefusedNamingTheField) {
  ExpectBadLine("L 0 0x10", {"<offset> must be a decimal number, got '0x10'"});
  ExpectBadLine("N 0 1e3", {"<nr_pages> must be a decimal number, got '1e3'"});
  ExpectBadLine("S zero 1", {"<type> must be a decimal number, got 'zero'"});
  ExpectBadLine("L 0 +5", {"<offset> must be a decimal number, got '+5'"});
}

TEST(BadTraceTest, NegativeNumberIsRefused) {
  ExpectBadLine("L 0 -1", {"<offset> must not be negative, got '-1'"});
  ExpectBadLine("A -3", {"<type> must not be negative, got '-3'"});
}

TEST(BadTraceTest, NumberThatOverflowsSixtyFourBitsIsRefused) {
  ExpectBadLine("L 0 18446744073709551616",
                {"<offset> '18446744073709551616' is too large: it does not fit in 64 bits"});
  ExpectBadLine("N 0 99999999999999999999", {"<nr_pages>", "does not fit in 64 bits"});
  ExpectBadLine("S 0 1 @99999999999999999999", {"page reference", "does not fit in 64 bits"});
}

TEST(BadTraceTest, TypeOutOfRangeIsRefused) {
  ExpectBadLine("N 32 8", {"<type> 32 is out of range: swap types are 0 to 31"});
  ExpectBadLine("S 40 2", {"<type> 40 is out of range"});
  ExpectBadLine("A 4294967296", {"<type> 4294967296 is out of range"});
}

TEST(BadTraceTest, TooManySlotsIsRefused) {
  ExpectBadLine("N 0 4294967297",
                {"<nr_pages> 4294967297 is more than a swap type can have (4294967296)"});
}

TEST(BadTraceTest, BadPageReferenceIsRefused) {
  for (const char* ref : {"@", "@x", "@-1", "@1x", "7", "@@1"}) {
    ExpectBadLine(std::string("S 0 1 ") + ref,
                  {std::string("bad page reference '") + ref + "'", "as in @12"});
  }
}

TEST(BadTraceTest, PageReferenceOnAnotherOperationIsRefused) {
  ExpectBadLine("L 0 1 @3", {"'L' does not take a page reference '@3'", "only 'S'"});
  ExpectBadLine("I 0 1 @3", {"'I' does not take a page reference"});
  ExpectBadLine("A 0 @3", {"'A' does not take a page reference"});
  ExpectBadLine("N 0 8 @3", {"'N' does not take a page reference"});
}

TEST(BadTraceTest, OverlongLineIsRefusedWithItsNumber) {
  const std::string msg =
      TraceError("N 0 8\n# " + std::string(InputStream::kDefaultMaxLine, 'x') + "\n");
  EXPECT_EQ(msg.rfind("bad.trace:2: the line is longer than 65536 bytes", 0), 0u) << msg;
}

TEST(BadTraceTest, BinaryGarbageIsRefusedAndQuotedReadably) {
  ExpectBadLine(std::string("\x7f"
                            "ELF\x01\x02 1",
                            8),
                {"unknown operation '\\x7fELF\\x01\\x02'"});
  ExpectBadLine(std::string("S 0 \x00\xff", 6),
                {"<offset> must be a decimal number, got '\\x00\\xff'"});
}

std::string Zstd(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 1);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

TEST(BadTraceTest, TruncatedZstdTraceIsRefusedNamingTheFile) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "S 0 " + std::to_string(i) + "\n";
  const std::string packed = Zstd("N 0 0\n" + text);
  const std::string msg = TraceError(packed.substr(0, packed.size() / 2));
  EXPECT_TRUE(Names(msg, {"'bad.trace'", "truncated"})) << msg;
}

TEST(BadTraceTest, CorruptZstdTraceIsRefusedNamingTheFile) {
  std::string packed = Zstd("N 0 8\nS 0 1\nL 0 1\n");
  // Keep the magic (so it is read as zstd) and break the frame header after it.
  for (size_t i = 4; i < packed.size(); ++i) packed[i] = static_cast<char>(0xFF);
  const std::string msg = TraceError(packed);
  EXPECT_TRUE(Names(msg, {"'bad.trace'", "corrupt zstd data"})) << msg;
}

// A bad line inside compressed input is named by its line in the decompressed text.
TEST(BadTraceTest, BadLineInZstdTraceIsNamedByItsLine) {
  const std::string msg = TraceError(Zstd("N 0 8\nS 0 1\nL 0 x\n"));
  EXPECT_EQ(msg.rfind("bad.trace:3: <offset> must be a decimal number", 0), 0u) << msg;
}

TEST(BadTraceTest, MissingTraceFileIsNamed) {
  Result<std::unique_ptr<TraceReader>> r = TraceReader::Open("/nonexistent-tierswap-dir/t.trace");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Names(r.error().message, {"/nonexistent-tierswap-dir/t.trace"}));
}

// Page references are checked by the replay against the corpus it was given.
class BadTraceReplayTest : public ::testing::Test {
 protected:
  std::string ReplayError(const std::string& text, const PageCorpus* corpus) {
    auto backend = testing::MakeBackend(16);
    EXPECT_NE(backend, nullptr);
    if (backend == nullptr) return "";
    TraceReader reader(InputStream::FromMemory(text, kTrace));
    ReplayOptions options;
    options.corpus = corpus;
    Result<ReplayResult> r = Replay(*backend, reader, options);
    EXPECT_FALSE(r.ok()) << "replayed:\n" << text;
    return r.ok() ? "" : r.error().message;
  }
};

TEST_F(BadTraceReplayTest, PageReferencePastTheCorpusIsRefused) {
  const testing::PageBuf a = testing::PatternPage(1), b = testing::PatternPage(2);
  std::string pages(a.begin(), a.end());
  pages.append(b.begin(), b.end());
  auto in = InputStream::FromMemory(pages, "pages.bin");
  Result<PageCorpus> corpus = PageCorpus::Load(*in);
  ASSERT_TRUE(corpus.ok()) << corpus.error().message;
  const std::string msg = ReplayError("N 0 8\nS 0 1 @1\nS 0 2 @2\n", &*corpus);
  EXPECT_EQ(msg.rfind("bad.trace:3: ", 0), 0u) << msg;
  EXPECT_TRUE(
      Names(msg, {"page reference @2 is out of range", "'pages.bin' holds 2 pages", "@0 to @1"}));
}

TEST_F(BadTraceReplayTest, PageReferenceWithoutACorpusIsRefused) {
  const std::string msg = ReplayError("N 0 8\nS 0 1 @3\n", nullptr);
  EXPECT_EQ(msg.rfind("bad.trace:2: ", 0), 0u) << msg;
  EXPECT_TRUE(Names(msg, {"corpus page @3", "no page corpus was given (--pages FILE)"}));
}

// ---- page corpora (the page data a trace's @k refers to) ----------------------------------------

std::string CorpusError(std::string data, uint64_t max_bytes = PageCorpus::kDefaultMaxBytes) {
  auto in = InputStream::FromMemory(std::move(data), "pages.bin");
  Result<PageCorpus> c = PageCorpus::Load(*in, max_bytes);
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.error().message;
}

TEST(BadCorpusTest, TruncatedPageDataIsRefused) {
  EXPECT_TRUE(Names(CorpusError(std::string(4096 + 100, 'x')),
                    {"page corpus 'pages.bin'", "4196 bytes",
                     "not a multiple of the 4096-byte page size", "1 whole pages and 100 bytes"}));
  const std::string packed = Zstd(std::string(8 * 4096, 'y'));
  EXPECT_TRUE(Names(CorpusError(packed.substr(0, packed.size() - 3)), {"'pages.bin'"}));
}

TEST(BadCorpusTest, EmptyCorpusIsRefused) {
  EXPECT_TRUE(Names(CorpusError(""), {"page corpus 'pages.bin' is empty"}));
}

TEST(BadCorpusTest, CorpusLargerThanTheLimitIsRefused) {
  EXPECT_TRUE(Names(CorpusError(std::string(3 * 4096, 'z'), 2 * 4096),
                    {"page corpus 'pages.bin' is larger than 8192 bytes"}));
}

// ---- the C ABI ---------------------------------------------------------------------------------

std::string Message() { return tierswap_errormsg(); }

constexpr const char* kCApiConfig = R"([placement]
background = false
probe_budget_ms = 0

[[tier]]
name = "fast"
kind = "dram"
capacity = "64KiB"
prefault = false
)";

class BadCApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(tierswap_open(config_.c_str(), &ts_), 0) << Message();
    ASSERT_EQ(tierswap_init(ts_, 0, 16), 0) << Message();
    ASSERT_EQ(tierswap_init(ts_, 1, 0), 0) << Message();
    ASSERT_EQ(tierswap_store(ts_, 0, 3, page_.data()), 0) << Message();
  }
  void TearDown() override {
    // After all the bad calls the handle still works and still holds its page.
    testing::PageBuf out{};
    EXPECT_EQ(tierswap_load(ts_, 0, 3, out.data()), 0) << Message();
    EXPECT_EQ(out, page_);
    EXPECT_EQ(tierswap_store(ts_, 1, 7, page_.data()), 0) << Message();
    tierswap_close(&ts_);
    EXPECT_EQ(ts_, nullptr);
  }

  // The call returned `err` and left a message naming the function and the problem.
  ::testing::AssertionResult Refused(int got, int err, std::initializer_list<std::string> parts) {
    if (got != err) {
      return ::testing::AssertionFailure()
             << "returned " << got << ", expected " << err << " (message: " << Message() << ")";
    }
    return Names(Message(), parts);
  }

  TempFile config_{kCApiConfig};
  tierswap_t* ts_ = nullptr;
  const testing::PageBuf page_ = testing::PatternPage(11);
};

int AcceptAll(void*, unsigned, uint64_t, const void*) { return 0; }

TEST_F(BadCApiTest, NullHandleIsEinvalForEveryFunction) {
  testing::PageBuf p = page_;
  char buf[16];
  EXPECT_TRUE(Refused(tierswap_init(nullptr, 0, 0), -EINVAL, {"tierswap_init: ts is NULL"}));
  EXPECT_TRUE(
      Refused(tierswap_store(nullptr, 0, 0, p.data()), -EINVAL, {"tierswap_store: ts is NULL"}));
  EXPECT_TRUE(
      Refused(tierswap_load(nullptr, 0, 0, p.data()), -EINVAL, {"tierswap_load: ts is NULL"}));
  tierswap_invalidate_page(nullptr, 0, 0);
  EXPECT_EQ(Message(), "tierswap_invalidate_page: ts is NULL");
  tierswap_invalidate_area(nullptr, 0);
  EXPECT_EQ(Message(), "tierswap_invalidate_area: ts is NULL");
  EXPECT_TRUE(Refused(tierswap_stats_json(nullptr, buf, sizeof(buf)), -EINVAL,
                      {"tierswap_stats_json: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_stats_prometheus(nullptr, buf, sizeof(buf)), -EINVAL,
                      {"tierswap_stats_prometheus: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_set_tier_capacity(nullptr, "fast", 0), -EINVAL,
                      {"tierswap_set_tier_capacity: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_tier_offline(nullptr, "fast"), -EINVAL,
                      {"tierswap_tier_offline: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_tier_online(nullptr, "fast"), -EINVAL,
                      {"tierswap_tier_online: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_set_writeback(nullptr, &AcceptAll, nullptr), -EINVAL,
                      {"tierswap_set_writeback: ts is NULL"}));
  EXPECT_TRUE(Refused(tierswap_freeze(nullptr, true), -EINVAL, {"tierswap_freeze: ts is NULL"}));
  // Closing NULL, or a pointer to NULL, is a no-op that clears the message.
  tierswap_close(nullptr);
  tierswap_t* none = nullptr;
  tierswap_close(&none);
  EXPECT_EQ(Message(), "");
}

TEST_F(BadCApiTest, NullBufferOrNameIsEinval) {
  EXPECT_TRUE(
      Refused(tierswap_store(ts_, 0, 0, nullptr), -EINVAL, {"tierswap_store: page is NULL"}));
  EXPECT_TRUE(Refused(tierswap_load(ts_, 0, 3, nullptr), -EINVAL, {"tierswap_load: page is NULL"}));
  EXPECT_TRUE(Refused(tierswap_stats_json(ts_, nullptr, 10), -EINVAL,
                      {"tierswap_stats_json: buf is NULL but len is 10"}));
  EXPECT_TRUE(Refused(tierswap_stats_prometheus(ts_, nullptr, 10), -EINVAL,
                      {"tierswap_stats_prometheus: buf is NULL but len is 10"}));
  EXPECT_TRUE(Refused(tierswap_set_tier_capacity(ts_, nullptr, 0), -EINVAL,
                      {"tierswap_set_tier_capacity: tier is NULL"}));
  EXPECT_TRUE(Refused(tierswap_tier_offline(ts_, nullptr), -EINVAL,
                      {"tierswap_tier_offline: tier is NULL"}));
  EXPECT_TRUE(
      Refused(tierswap_tier_online(ts_, nullptr), -EINVAL, {"tierswap_tier_online: tier is NULL"}));
}

TEST_F(BadCApiTest, TypeOutOfRangeIsEinvalForEveryPageFunction) {
  testing::PageBuf p = page_;
  for (unsigned type : {32u, 33u, UINT_MAX}) {
    const std::string what = "type " + std::to_string(type) + " is out of range (types are 0-31)";
    EXPECT_TRUE(Refused(tierswap_init(ts_, type, 0), -EINVAL, {"tierswap_init: ", what}));
    EXPECT_TRUE(
        Refused(tierswap_store(ts_, type, 0, p.data()), -EINVAL, {"tierswap_store: ", what}));
    EXPECT_TRUE(Refused(tierswap_load(ts_, type, 0, p.data()), -EINVAL, {"tierswap_load: ", what}));
    tierswap_invalidate_page(ts_, type, 0);
    EXPECT_TRUE(Names(Message(), {"tierswap_invalidate_page: ", what}));
    tierswap_invalidate_area(ts_, type);
    EXPECT_TRUE(Names(Message(), {"tierswap_invalidate_area: ", what}));
  }
}

TEST_F(BadCApiTest, OffsetOutOfRangeIsEinvalAndNamesOffsetAndSize) {
  testing::PageBuf p = page_;
  // Type 0 has 16 pages.
  EXPECT_TRUE(Refused(tierswap_store(ts_, 0, 16, p.data()), -EINVAL,
                      {"tierswap_store: offset 16 is beyond the 16 pages of type 0"}));
  EXPECT_TRUE(Refused(tierswap_load(ts_, 0, 16, p.data()), -EINVAL,
                      {"tierswap_load: offset 16 is beyond the 16 pages of type 0"}));
  tierswap_invalidate_page(ts_, 0, 16);
  EXPECT_TRUE(Names(Message(), {"tierswap_invalidate_page: offset 16 is beyond the 16 pages"}));
  // Type 1's size is unknown: offsets below 2^32 are valid, none above.
  for (uint64_t offset : {uint64_t{1} << 32, UINT64_MAX}) {
    const std::string what = "offset " + std::to_string(offset) + " is out of range";
    EXPECT_TRUE(Refused(tierswap_store(ts_, 1, offset, p.data()), -EINVAL, {what}));
    EXPECT_TRUE(Refused(tierswap_load(ts_, 1, offset, p.data()), -EINVAL, {what}));
  }
}

TEST_F(BadCApiTest, NrPagesAboveTheLimitIsEinval) {
  EXPECT_TRUE(Refused(tierswap_init(ts_, 2, (uint64_t{1} << 32) + 1), -EINVAL,
                      {"tierswap_init: nr_pages 4294967297 for type 2 exceeds the limit"}));
  EXPECT_TRUE(Refused(tierswap_init(ts_, 2, UINT64_MAX), -EINVAL, {"nr_pages"}));
}

TEST_F(BadCApiTest, UninitialisedTypeIsEnodev) {
  testing::PageBuf p = page_;
  EXPECT_TRUE(Refused(tierswap_store(ts_, 5, 0, p.data()), -ENODEV,
                      {"tierswap_store: type 5 is not initialised"}));
  EXPECT_TRUE(Refused(tierswap_load(ts_, 5, 0, p.data()), -ENODEV,
                      {"tierswap_load: type 5 is not initialised"}));
}

TEST_F(BadCApiTest, UnknownTierIsEnoentForEveryTierFunction) {
  for (const char* name : {"slow", "", "FAST"}) {
    const std::string what = std::string("no tier is named '") + name + "' (tiers: fast)";
    EXPECT_TRUE(Refused(tierswap_set_tier_capacity(ts_, name, 0), -ENOENT, {what}));
    EXPECT_TRUE(Refused(tierswap_tier_offline(ts_, name), -ENOENT, {what}));
    EXPECT_TRUE(Refused(tierswap_tier_online(ts_, name), -ENOENT, {what}));
  }
}

TEST_F(BadCApiTest, CapacityAboveTheConfiguredOneIsEinval) {
  for (uint64_t bytes : {uint64_t{64 << 10} + 1, UINT64_MAX}) {
    EXPECT_TRUE(Refused(tierswap_set_tier_capacity(ts_, "fast", bytes), -EINVAL,
                        {"tierswap_set_tier_capacity: ", "tier 'fast'",
                         "more than its configured capacity of 65536 bytes"}));
  }
}

TEST(BadCApiOpenTest, NullOutIsEinval) {
  EXPECT_EQ(tierswap_open(nullptr, nullptr), -EINVAL);
  EXPECT_EQ(Message(), "tierswap_open: out is NULL");
}

TEST(BadCApiOpenTest, MissingConfigFileIsEnoentNamingThePath) {
  tierswap_t* ts = reinterpret_cast<tierswap_t*>(uintptr_t{1});
  EXPECT_EQ(tierswap_open("/nonexistent-tierswap-dir/c.toml", &ts), -ENOENT);
  EXPECT_EQ(ts, nullptr);
  EXPECT_TRUE(Names(Message(), {"tierswap_open: ", "/nonexistent-tierswap-dir/c.toml"}));
}

TEST(BadCApiOpenTest, BadConfigIsEinvalNamingFileLineAndKey) {
  TempFile config("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\ncolor = 1\n");
  tierswap_t* ts = nullptr;
  EXPECT_EQ(tierswap_open(config.c_str(), &ts), -EINVAL);
  EXPECT_EQ(ts, nullptr);
  EXPECT_TRUE(Names(Message(), {std::string(config.c_str()) + ":5: ", "unknown key 'color'"}));
}

TEST(BadCApiOpenTest, TierThatCannotOpenIsNamedWithFileAndLine) {
  TempFile config(
      "[placement]\nprobe_budget_ms = 0\n\n[[tier]]\nname = \"pm\"\nkind = \"pmem\"\n"
      "path = \"/nonexistent-tierswap-dir/pool\"\ncapacity = \"64KiB\"\n");
  tierswap_t* ts = nullptr;
  EXPECT_LT(tierswap_open(config.c_str(), &ts), 0);
  EXPECT_EQ(ts, nullptr);
  EXPECT_TRUE(Names(Message(), {std::string(config.c_str()) + ":4: ", "tier 'pm'"}));
}

}  // namespace
}  // namespace tierswap
