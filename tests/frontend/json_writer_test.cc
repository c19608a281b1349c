#include "frontend/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tierswap {
namespace {

TEST(JsonWriterTest, WritesNestedObjectsAndArraysWithCommas) {
  JsonWriter w;
  w.BeginObject().Key("a").Uint(1).Key("b").BeginArray().Int(-2).Bool(true).Null().EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").String("x").EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[-2,true,null],"c":{},"d":"x"})");
}

TEST(JsonWriterTest, EscapesStrings) {
  JsonWriter w;
  w.String("q\"b\\n\n\t\x01");
  EXPECT_EQ(w.str(), R"("q\"b\\n\n\t\u0001")");
}

TEST(JsonWriterTest, NonFiniteDoublesBecomeNull) {
  JsonWriter w;
  w.BeginArray().Double(1.5).Double(NAN).Double(INFINITY).EndArray();
  EXPECT_EQ(w.str(), "[1.5,null,null]");
}

TEST(JsonWriterTest, StatsSinkRendersListsAsArraysOfObjects) {
  JsonWriter w;
  w.BeginObject();
  JsonStatsSink sink(w);
  sink.Counter("loads", 3);
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.Text("name", "dram");
  sink.Gauge("used_bytes", 4096);
  sink.EndItem();
  sink.EndList();
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"loads":3,"tiers":[{"name":"dram","used_bytes":4096}]})");
}

TEST(JsonWriterTest, PrettyOutputIsIndented) {
  JsonWriter w(/*pretty=*/true);
  w.BeginObject().Key("a").BeginArray().Uint(1).EndArray().EndObject();
  EXPECT_EQ(w.str(), "{\n  \"a\": [\n    1\n  ]\n}");
}

}  // namespace
}  // namespace tierswap
