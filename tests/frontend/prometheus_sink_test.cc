// Tests of PrometheusSink: names, types, labels, units and grouping of the exposition text, fed
// by hand-written exports (the sink only sees StatsSink calls). Whether a real backend's output
// passes promtool is stats_service_test's.
#include "frontend/prometheus_sink.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tierswap {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool Contains(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

// Checks the structure the text format requires: every family's HELP and TYPE once, TYPE
// before the family's samples, and all of a family's samples together. Returns "" or the
// first problem.
std::string StructureProblem(const std::string& text) {
  std::set<std::string> declared;
  std::string current, current_type;
  std::set<std::string> closed;
  for (const std::string& line : Lines(text)) {
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (!declared.insert(name).second) return "second HELP for " + name;
      if (!current.empty()) closed.insert(current);
      current = name;
      current_type.clear();
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const size_t sp = line.find(' ', 7);
      const std::string name = line.substr(7, sp - 7);
      if (name != current) return "TYPE of " + name + " not right after its HELP";
      if (!current_type.empty()) return "second TYPE for " + name;
      current_type = line.substr(sp + 1);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::string metric = line.substr(0, line.find_first_of("{ "));
    std::string family = metric;
    if (current_type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (metric.size() > s.size() &&
            metric.compare(metric.size() - s.size(), s.size(), s) == 0) {
          family = metric.substr(0, metric.size() - s.size());
        }
      }
    }
    if (family != current) {
      return closed.count(family) != 0 ? "samples of " + family + " are split"
                                       : "sample " + metric + " outside its family";
    }
  }
  return "";
}

TEST(PrometheusSinkTest, CounterGetsTotalSuffixHelpAndCounterType) {
  PrometheusSink sink;
  sink.Counter("succ_stores", 42);
  const std::string text = sink.Finish();
  EXPECT_EQ(text,
            "# HELP tierswap_succ_stores_total tierswap statistic succ_stores (docs/stats.md).\n"
            "# TYPE tierswap_succ_stores_total counter\n"
            "tierswap_succ_stores_total 42\n");
}

TEST(PrometheusSinkTest, GaugeAndRealAreGaugesWithoutSuffix) {
  PrometheusSink sink;
  sink.Gauge("stored_pages", 7);
  sink.Real("compression_ratio", 2.5);
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_stored_pages gauge")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_stored_pages 7")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_compression_ratio gauge")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_compression_ratio 2.5")) << text;
}

TEST(PrometheusSinkTest, LargeCountersAreWrittenExactly) {
  PrometheusSink sink;
  sink.Counter("loads", std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(Contains(sink.Finish(), "tierswap_loads_total 18446744073709551615"));
}

TEST(PrometheusSinkTest, TextFieldsOfAListItemLabelEveryMetricOfThatItem) {
  PrometheusSink sink;
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.Text("name", "fast");
  sink.Text("kind", "dram");
  sink.Gauge("used_bytes", 4096);
  sink.Counter("loads", 3);
  sink.EndItem();
  sink.BeginItem();
  sink.Text("name", "pool");
  sink.Text("kind", "pmem");
  sink.Gauge("used_bytes", 8192);
  sink.Text("path", "anon");  // a text after the numbers still labels all of them
  sink.EndItem();
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "tierswap_tier_used_bytes{tier=\"fast\",kind=\"dram\"} 4096")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_loads_total{tier=\"fast\",kind=\"dram\"} 3")) << text;
  EXPECT_TRUE(
      Contains(text, "tierswap_tier_used_bytes{tier=\"pool\",kind=\"pmem\",path=\"anon\"} 8192"))
      << text;
  EXPECT_EQ(text.find("tierswap_tier_name"), std::string::npos) << "names are labels only";
  EXPECT_EQ(StructureProblem(text), "");
}

TEST(PrometheusSinkTest, ItemKeyNumberBecomesLabelNotMetric) {
  PrometheusSink sink;
  sink.BeginList("types");
  for (uint64_t type : {0, 3}) {
    sink.BeginItem();
    sink.Gauge("type", type);
    sink.Gauge("stored_pages", type * 10);
    sink.EndItem();
  }
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "tierswap_type_stored_pages{type=\"0\"} 0")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_type_stored_pages{type=\"3\"} 30")) << text;
  EXPECT_EQ(text.find("tierswap_type_type"), std::string::npos) << text;
}

TEST(PrometheusSinkTest, TopLevelTextBecomesInfoMetric) {
  PrometheusSink sink;
  sink.Counter("loads", 1);
  sink.Text("placement_policy", "adaptive");
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_info gauge")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_info{placement_policy=\"adaptive\"} 1")) << text;
  EXPECT_EQ(StructureProblem(text), "");
}

TEST(PrometheusSinkTest, SourceTextLabelsTheFigureItDescribes) {
  PrometheusSink sink;
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.Text("name", "far");
  sink.Real("probe_load_p50_ns", 250);
  sink.Text("probe_load_p50_ns_source", "measured");
  sink.Real("hmat_read_latency_ns", 0);
  sink.Text("hmat_read_latency_ns_source", "none");
  sink.Text("orphan_source", "slit");  // no field `orphan`: a label of the whole item
  sink.EndItem();
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text,
                       "tierswap_tier_probe_load_p50_seconds{tier=\"far\","
                       "orphan_source=\"slit\",source=\"measured\"} 2.5e-07"))
      << text;
  EXPECT_TRUE(Contains(text,
                       "tierswap_tier_hmat_read_latency_seconds{tier=\"far\","
                       "orphan_source=\"slit\",source=\"none\"} 0"))
      << text;
  EXPECT_EQ(text.find("_source{"), std::string::npos) << "no metric of its own" << text;
}

TEST(PrometheusSinkTest, AbbreviatedUnitsBecomeBaseUnitsWithScaledValues) {
  PrometheusSink sink;
  sink.Counter("raw_load_ns", 1'500'000'000);
  sink.Gauge("emulated_read_latency_ns", 250);
  sink.Real("probe_ms", 12.5);
  sink.Real("probe_copy_bandwidth_mbps", 2000);
  sink.Gauge("capacity_bytes", 4096);  // already a base unit
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_raw_load_seconds_total counter")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_raw_load_seconds_total 1.5")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_emulated_read_latency_seconds 2.5e-07")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_probe_seconds 0.0125")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_probe_copy_bandwidth_bytes_per_second 2000000000")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_capacity_bytes 4096")) << text;
  EXPECT_NE(text.find("# HELP tierswap_raw_load_seconds_total tierswap statistic raw_load_ns, "
                      "in seconds"),
            std::string::npos)
      << text;
}

TEST(PrometheusSinkTest, FamiliesAreGroupedWithOneHelpAndTypeBeforeAllSamples) {
  PrometheusSink sink;
  sink.Counter("loads", 9);
  sink.BeginList("tiers");
  for (const char* name : {"a", "b", "c"}) {
    sink.BeginItem();
    sink.Text("name", name);
    sink.Counter("loads", 1);
    sink.Gauge("stored_pages", 2);
    sink.EndItem();
  }
  sink.EndList();
  sink.Gauge("stored_pages", 6);
  const std::string text = sink.Finish();
  EXPECT_EQ(StructureProblem(text), "") << text;
  const std::vector<std::string> lines = Lines(text);
  int helps = 0;
  for (const std::string& l : lines) helps += l.rfind("# HELP tierswap_tier_loads_total ", 0) == 0;
  EXPECT_EQ(helps, 1);
  // The top-level and the per-tier figures of one name are distinct families.
  EXPECT_TRUE(Contains(text, "tierswap_loads_total 9")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_stored_pages 6")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_stored_pages{tier=\"c\"} 2")) << text;
}

TEST(PrometheusSinkTest, HistogramHasCumulativeBucketsInSecondsSumCountAndQuantiles) {
  HistogramData h;
  h.buckets = {{64, 2}, {128, 5}, {256, 5}};
  h.count = 6;  // one sample above the last bound
  h.sum_ns = 1000;
  h.p50 = 100;
  h.p90 = 120;
  h.p99 = 500;
  h.p999 = 600;
  h.max = 1024;
  PrometheusSink sink;
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.Text("name", "fast");
  sink.Histogram("load_latency_ns", h);
  sink.EndItem();
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_EQ(StructureProblem(text), "") << text;
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_tier_load_latency_seconds histogram")) << text;
  EXPECT_TRUE(
      Contains(text, "tierswap_tier_load_latency_seconds_bucket{tier=\"fast\",le=\"6.4e-08\"} 2"))
      << text;
  EXPECT_TRUE(
      Contains(text, "tierswap_tier_load_latency_seconds_bucket{tier=\"fast\",le=\"2.56e-07\"} 5"))
      << text;
  EXPECT_TRUE(
      Contains(text, "tierswap_tier_load_latency_seconds_bucket{tier=\"fast\",le=\"+Inf\"} 6"))
      << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_load_latency_seconds_sum{tier=\"fast\"} 1e-06"))
      << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_load_latency_seconds_count{tier=\"fast\"} 6")) << text;
  EXPECT_TRUE(Contains(text, "# TYPE tierswap_tier_load_latency_p99_seconds gauge")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_load_latency_p99_seconds{tier=\"fast\"} 5e-07"))
      << text;
  EXPECT_TRUE(Contains(text, "tierswap_tier_load_latency_max_seconds{tier=\"fast\"} 1.024e-06"))
      << text;
}

TEST(PrometheusSinkTest, HistogramKeepsOnlyPowerOfTwoBoundsWhenThereAreAny) {
  HistogramData fine;
  fine.buckets = {{64, 1}, {80, 2}, {96, 3}, {112, 4}, {128, 5}};
  fine.count = 5;
  HistogramData other;
  other.buckets = {{100, 1}, {1000, 2}};
  other.count = 2;
  PrometheusSink sink;
  sink.Histogram("fine_ns", fine);
  sink.Histogram("other_ns", other);
  const std::string text = sink.Finish();
  std::vector<std::string> fine_buckets, other_buckets;
  for (const std::string& l : Lines(text)) {
    if (l.rfind("tierswap_fine_seconds_bucket", 0) == 0) fine_buckets.push_back(l);
    if (l.rfind("tierswap_other_seconds_bucket", 0) == 0) other_buckets.push_back(l);
  }
  EXPECT_EQ(fine_buckets,
            (std::vector<std::string>{"tierswap_fine_seconds_bucket{le=\"6.4e-08\"} 1",
                                      "tierswap_fine_seconds_bucket{le=\"1.28e-07\"} 5",
                                      "tierswap_fine_seconds_bucket{le=\"+Inf\"} 5"}));
  EXPECT_EQ(other_buckets.size(), 3u) << "no power of two among the bounds: all kept";
}

TEST(PrometheusSinkTest, NonFiniteRealsUsePrometheusSpellings) {
  PrometheusSink sink;
  sink.Real("a", std::numeric_limits<double>::quiet_NaN());
  sink.Real("b", std::numeric_limits<double>::infinity());
  sink.Real("c", -std::numeric_limits<double>::infinity());
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "tierswap_a NaN")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_b +Inf")) << text;
  EXPECT_TRUE(Contains(text, "tierswap_c -Inf")) << text;
}

TEST(PrometheusSinkTest, NamesAreSanitisedAndLabelValuesEscaped) {
  EXPECT_EQ(PrometheusSink::SanitizeMetricName("a-b.c:d"), "a_b_c:d");
  EXPECT_EQ(PrometheusSink::SanitizeMetricName("9lives"), "_9lives");
  EXPECT_EQ(PrometheusSink::SanitizeLabelName("a:b"), "a_b");
  EXPECT_EQ(PrometheusSink::SanitizeLabelName("__reserved"), "_reserved");
  PrometheusSink sink;
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.Text("name", "we\"ird\\na\nme");
  sink.Text("odd-key", "v");
  sink.Gauge("odd.field", 1);
  sink.EndItem();
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_TRUE(
      Contains(text, "tierswap_tier_odd_field{tier=\"we\\\"ird\\\\na\\nme\",odd_key=\"v\"} 1"))
      << text;
}

TEST(PrometheusSinkTest, RepeatedSeriesAndTypeClashesAreDroppedAndCounted) {
  PrometheusSink sink;
  sink.Gauge("x", 1);
  sink.Gauge("x", 2);       // the same series again
  sink.Real("y", 1);        // gauge ...
  sink.Histogram("y", {});  // ... then a histogram of the same name
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "tierswap_x 1")) << text;
  EXPECT_FALSE(Contains(text, "tierswap_x 2")) << text;
  EXPECT_TRUE(Contains(text,
                       "# tierswap: 2 samples dropped (a family with two types, or a "
                       "repeated series)"))
      << text;
  EXPECT_EQ(StructureProblem(text), "") << text;
}

TEST(PrometheusSinkTest, NestedListsCarryOuterLabels) {
  PrometheusSink sink;
  sink.BeginList("tiers");
  sink.BeginItem();
  sink.BeginList("shards");
  sink.BeginItem();
  sink.Text("name", "s0");
  sink.Gauge("pages", 4);
  sink.EndItem();
  sink.EndList();
  sink.Text("name", "fast");  // the outer item's name comes after its nested list
  sink.EndItem();
  sink.EndList();
  const std::string text = sink.Finish();
  EXPECT_TRUE(Contains(text, "tierswap_tier_shard_pages{tier=\"fast\",shard=\"s0\"} 4")) << text;
}

}  // namespace
}  // namespace tierswap
