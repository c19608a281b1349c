#include "frontend/cli/json_value.h"

#include <gtest/gtest.h>

#include <string>

namespace tierswap {
namespace {

TEST(JsonValueTest, ParsesTheShapesOfAStatsDocument) {
  Result<JsonValue> v = JsonValue::Parse(R"( {"loads": 12, "policy": "adaptive",
      "tiers": [{"name": "dram", "load_latency_ns": {"count": 3, "p50": 412.5,
                 "buckets": [[64, 0], [80, 3]]}}],
      "frozen": false, "ok": true, "none": null, "neg": -1.5e3} )",
                                         "s.json");
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_TRUE(v->is_object());
  EXPECT_EQ(v->NumberOr("loads", -1), 12);
  EXPECT_EQ(v->StringOr("policy", ""), "adaptive");
  EXPECT_EQ(v->NumberOr("neg", 0), -1500);
  EXPECT_FALSE(v->Find("frozen")->boolean());
  EXPECT_TRUE(v->Find("ok")->boolean());
  EXPECT_TRUE(v->Find("none")->is_null());
  EXPECT_EQ(v->Find("missing"), nullptr);
  EXPECT_EQ(v->NumberOr("policy", 7), 7);  // present, but not a number

  const JsonValue* tiers = v->Find("tiers");
  ASSERT_TRUE(tiers != nullptr && tiers->is_array());
  ASSERT_EQ(tiers->array().size(), 1u);
  const JsonValue& h = *tiers->array()[0].Find("load_latency_ns");
  EXPECT_EQ(h.NumberOr("p50", 0), 412.5);
  const auto& buckets = h.Find("buckets")->array();
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[1].array()[0].number(), 80);
  EXPECT_EQ(buckets[1].array()[1].number(), 3);
}

TEST(JsonValueTest, KeepsMemberOrderAndFindsTheFirstOfDuplicateKeys) {
  Result<JsonValue> v = JsonValue::Parse(R"({"b": 1, "a": 2, "b": 3})", "d.json");
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_EQ(v->members().size(), 3u);
  EXPECT_EQ(v->members()[0].first, "b");
  EXPECT_EQ(v->members()[1].first, "a");
  EXPECT_EQ(v->NumberOr("b", 0), 1);
}

TEST(JsonValueTest, DecodesEscapesAndSurrogatePairsToUtf8) {
  Result<JsonValue> v =
      JsonValue::Parse(R"(["a\"b\\c\/d\n\t", "\u00e9\u20ac", "\ud83d\ude00"])", "e.json");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->array()[0].string(), "a\"b\\c/d\n\t");
  EXPECT_EQ(v->array()[1].string(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(v->array()[2].string(), "\xf0\x9f\x98\x80");
}

TEST(JsonValueTest, SyntaxErrorsNameTheSourceLineAndColumn) {
  Result<JsonValue> v = JsonValue::Parse("{\n  \"a\": 1\n  \"b\": 2\n}", "stats.json");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message, "stats.json:3:3: expected ',' or '}' after an object member.");
}

TEST(JsonValueTest, RejectsWhatIsNotJson) {
  for (const char* bad :
       {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "+1", "0x10", "nan", "\"open", "\"\\q\"",
        "\"\\ud800\"", "\"\\udc00\"", "[1] 2", "tru", "\"a\tb\"", "{1: 2}"}) {
    Result<JsonValue> v = JsonValue::Parse(bad, "x.json");
    EXPECT_FALSE(v.ok()) << "accepted: " << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.error().message.rfind("x.json:", 0), 0u) << v.error().message;
    }
  }
}

TEST(JsonValueTest, RefusesNestingDeeperThanItsLimitInsteadOfOverflowingTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Result<JsonValue> v = JsonValue::Parse(deep, "deep.json");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("nesting is deeper than"), std::string::npos);
  const std::string fine = std::string(60, '[') + std::string(60, ']');
  EXPECT_TRUE(JsonValue::Parse(fine, "ok.json").ok());
}

}  // namespace
}  // namespace tierswap
