// Tests for the limits a config keeps before the TOML parser sees it (frontend/config_prescan.h):
// nesting that would overflow the parser's stack and oversized files are refused with a message
// that names the file, the line and the limit; every legitimate config passes unchanged.

#include "frontend/config_prescan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "frontend/config.h"

namespace tierswap {
namespace {

::testing::AssertionResult HasText(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message: " << message << "\n  lacks: " << part;
}

std::string DottedKey(int segments) {
  std::string key = "a";
  for (int i = 1; i < segments; ++i) key += ".a";
  return key;
}

constexpr const char* kOneTier =
    "[[tier]]\nname = \"dram\"\nkind = \"dram\"\ncapacity = \"1MiB\"\n";

// The config of the finding: a table header of 100,000 dotted keys (200 KB) crashed the process
// inside the parser. It is refused, naming the line, before the parser runs.
TEST(ConfigPrescanTest, HundredThousandDottedKeysInAHeaderAreRefusedNotACrash) {
  const std::string text = std::string(kOneTier) + "\n[" + DottedKey(100000) + "]\n";
  ASSERT_GT(text.size(), size_t{200000});
  Result<Config> r = Config::FromString(text, "deep.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Status::kInvalidArgument);
  EXPECT_TRUE(HasText(r.error().message, "deep.toml:6: the config nests deeper than 16 levels"));
}

TEST(ConfigPrescanTest, DeepDottedKeysArraysAndInlineTablesAreRefused) {
  const std::string cases[] = {
      DottedKey(100000) + " = 1\n",
      "x = " + std::string(100000, '[') + std::string(100000, ']') + "\n",
      "x = " + std::string(50000, '[') + "\n",  // never closed
      [] {
        std::string t = "x = ";
        for (int i = 0; i < 100000; ++i) t += "{a = ";
        return t + "1" + std::string(100000, '}') + "\n";
      }(),
      "[a.b.c.d.e.f.g.h]\ni.j.k.l.m.n.o.p.q = 1\n",  // 8 + 9 levels
      "x = [{a.b.c = [{d.e.f = [{g.h.i = [{j.k = 1}]}]}]}]\n",
  };
  for (const std::string& text : cases) {
    const Result<void> r = PrescanConfig(text, "t.toml");
    ASSERT_FALSE(r.ok()) << text.substr(0, 80);
    EXPECT_TRUE(HasText(r.error().message, "nests deeper than 16 levels")) << text.substr(0, 80);
    EXPECT_FALSE(Config::FromString(text, "t.toml").ok());
  }
}

TEST(ConfigPrescanTest, NestingUpToTheLimitIsLeftToTheParser) {
  const std::string fits[] = {
      DottedKey(16) + " = 1\n",
      "[" + DottedKey(8) + "]\n" + DottedKey(8) + " = 1\n",
      "x = " + std::string(15, '[') + std::string(15, ']') + "\n",
      "x = \"[[[[[[[[[[[[[[[[[[[[[[[[[[\" # [[[[[[[[[[[[[[[[[[[[[[[[\n",
      "x = '''\n{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n'''\ny = \"\"\"a\\\n\"\"\"\n",
  };
  for (const std::string& text : fits) EXPECT_TRUE(PrescanConfig(text, "t.toml").ok()) << text;
}

// The line of the error counts the lines of multi-line strings, escaped newlines included.
TEST(ConfigPrescanTest, TheLineNamedIsWhereTheNestingWentTooDeep) {
  const std::string text =
      "a = \"\"\"one\\\ntwo\nthree\"\"\"\nb = '''\n'''\n\n" + DottedKey(17) + " = 1\n";
  const Result<void> r = PrescanConfig(text, "lines.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasText(r.error().message, "lines.toml:7: ")) << text;
}

TEST(ConfigPrescanTest, AFileOverOneMebibyteIsRefusedWithoutReadingItWhole) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("tierswap-prescan-" + std::to_string(getpid()));
  {
    std::ofstream out(path);
    out << kOneTier;
    out << std::string(kMaxConfigBytes, '#') << "\n";
  }
  Result<Config> r = Config::FromFile(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Status::kInvalidArgument);
  EXPECT_TRUE(HasText(r.error().message, "longer than 1048576 bytes (1 MiB)"));

  // /dev/zero never ends: the read stops at the limit.
  Result<Config> zero = Config::FromFile("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_TRUE(HasText(zero.error().message, "longer than 1048576 bytes"));
}

TEST(ConfigPrescanTest, ControlCharactersInTheSourceNameAreEscaped) {
  const Result<void> r = PrescanConfig(DottedKey(17) + " = 1\n", "evil\x1b[2J.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasText(r.error().message, "\"evil\\x1b[2J.toml\":1: "));
}

// Every example config the project ships still loads.
TEST(ConfigPrescanTest, ShippedExamplesPassThePrescan) {
  const char* dir = std::getenv("TIERSWAP_SOURCE_DIR");
  // tests/frontend/config_prescan_test.cc -> the repository root.
  const std::filesystem::path root =
      dir != nullptr && *dir != '\0'
          ? std::filesystem::path(dir)
          : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  int seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root / "examples")) {
    if (entry.path().extension() != ".toml") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(PrescanConfig(text, entry.path().string()).ok()) << entry.path();
    ++seen;
  }
  EXPECT_GT(seen, 3);
}

}  // namespace
}  // namespace tierswap
