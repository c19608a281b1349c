// The tier probe on real tiers (DRAM, emulated DRAM, compressed, NUMA node 0): every figure
// carries its source, the tier's statistics and frames are left as they were, the budget bounds
// the work, and ranking follows the expected load cost with ties in configuration order.
// Measured values are checked for being present and positive, never against speed targets;
// the only time comparisons are the lower bound an emulated latency guarantees and one
// generous budget check.
#include "placement/probe.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"
#include "tiers/numa_tier.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

std::unique_ptr<DramTier> MakeDram(uint64_t pages, const char* name = "dram") {
  DramTierOptions o;
  o.name = name;
  o.capacity_bytes = pages * kPageSize;
  auto t = DramTier::Open(o);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? std::move(t).value() : nullptr;
}

void ExpectMeasured(const Figure& f, const char* what) {
  EXPECT_EQ(f.source, FigureSource::kMeasured) << what;
  EXPECT_GT(f.value, 0.0) << what;
}

// The tier holds nothing and its counters never moved.
void ExpectUntouched(const Tier& tier) {
  EXPECT_EQ(tier.stores(), 0u);
  EXPECT_EQ(tier.loads(), 0u);
  EXPECT_EQ(tier.stored_pages(), 0u);
  EXPECT_EQ(tier.used_bytes(), 0u);
}

TierProbe WithExpected(double ns, FigureSource source = FigureSource::kMeasured) {
  TierProbe p;
  p.expected_load_ns = Figure{ns, source};
  return p;
}

TEST(ProbeTest, DramProbeMeasuresEveryFigure) {
  auto tier = MakeDram(1024);
  ASSERT_NE(tier, nullptr);
  const ProbeOptions options;
  const TierProbe p = ProbeTier(*tier, options);
  ExpectMeasured(p.load_p50_ns, "load_p50_ns");
  ExpectMeasured(p.load_p99_ns, "load_p99_ns");
  EXPECT_GE(p.load_p99_ns.value, p.load_p50_ns.value);
  ExpectMeasured(p.store_p50_ns, "store_p50_ns");
  ExpectMeasured(p.chase_ns, "chase_ns");
  ExpectMeasured(p.copy_bandwidth_mbps, "copy_bandwidth_mbps");
  EXPECT_EQ(p.expected_load_ns.source, FigureSource::kMeasured);
  EXPECT_EQ(p.expected_load_ns.value, p.load_p50_ns.value);
  EXPECT_EQ(p.pages_stored, options.pages);
  EXPECT_EQ(p.chase_bytes, options.pages * kPageSize);
  EXPECT_GT(p.load_samples, 0u);
  // An unbound tier has no node, so no firmware figures; nothing is emulated.
  EXPECT_EQ(p.node, -1);
  EXPECT_EQ(p.hmat_read_latency_ns.source, FigureSource::kNone);
  EXPECT_EQ(p.emulated_read_latency_ns.source, FigureSource::kNone);
  // A budget check, not a speed test: every loop watches the clock, so even a slow or busy
  // machine ends within a small multiple of the budget.
  EXPECT_LE(p.probe_ms, options.budget_ms * 3);
}

TEST(ProbeTest, ProbeLeavesTierStatisticsAtZeroAndFreesEveryPage) {
  auto tier = MakeDram(300);
  ASSERT_NE(tier, nullptr);
  const TierProbe p = ProbeTier(*tier);
  EXPECT_EQ(p.pages_stored, 256u);
  ExpectUntouched(*tier);
  // All 300 frames are free again.
  unsigned char page[kPageSize] = {1};
  TierHandle h;
  for (int i = 0; i < 300; ++i) ASSERT_EQ(tier->Store(page, &h), Status::kOk) << i;
  EXPECT_EQ(tier->Store(page, &h), Status::kNoSpace);
}

TEST(ProbeTest, TinyTierYieldsWhatItCan) {
  auto tier = MakeDram(3);
  ASSERT_NE(tier, nullptr);
  const TierProbe p = ProbeTier(*tier);
  EXPECT_EQ(p.pages_stored, 3u);
  EXPECT_EQ(p.chase_bytes, 3 * kPageSize);
  ExpectMeasured(p.load_p50_ns, "load_p50_ns");
  ExpectMeasured(p.chase_ns, "chase_ns");
  ExpectMeasured(p.copy_bandwidth_mbps, "copy_bandwidth_mbps");
  ExpectUntouched(*tier);
}

TEST(ProbeTest, ZeroBudgetTakesOneStoreAndOneLoadAndNothingElse) {
  auto tier = MakeDram(64);
  ASSERT_NE(tier, nullptr);
  ProbeOptions options;
  options.budget_ms = 0;
  const TierProbe p = ProbeTier(*tier, options);
  EXPECT_EQ(p.pages_stored, 1u);
  EXPECT_EQ(p.load_samples, 1u);
  ExpectMeasured(p.store_p50_ns, "store_p50_ns");
  ExpectMeasured(p.load_p50_ns, "load_p50_ns");
  EXPECT_EQ(p.chase_ns.source, FigureSource::kNone);
  EXPECT_EQ(p.copy_bandwidth_mbps.source, FigureSource::kNone);
  ExpectUntouched(*tier);
}

TEST(ProbeTest, EmulatedReadLatencyIsInTheMeasuredLoads) {
  auto tier = MakeDram(512);
  ASSERT_NE(tier, nullptr);
  tier->SetEmulation(TierEmulation{3000, 0, 0});
  const TierProbe p = ProbeTier(*tier);
  ExpectMeasured(p.load_p50_ns, "load_p50_ns");
  // The emulation spins until at least 3000 ns after the load began (tick rounding aside).
  EXPECT_GE(p.load_p50_ns.value, 3000 * 0.999);
  EXPECT_EQ(p.emulated_read_latency_ns.source, FigureSource::kEmulation);
  EXPECT_EQ(p.emulated_read_latency_ns.value, 3000);
  // Settings left at 0 add nothing and are not figures.
  EXPECT_EQ(p.emulated_write_latency_ns.source, FigureSource::kNone);
  EXPECT_EQ(p.emulated_bandwidth_mbps.source, FigureSource::kNone);
  ExpectUntouched(*tier);
}

TEST(ProbeTest, EveryEmulationSettingIsReportedWithItsSource) {
  auto tier = MakeDram(512);
  ASSERT_NE(tier, nullptr);
  tier->SetEmulation(TierEmulation{700, 900, 2000});
  const TierProbe p = ProbeTier(*tier);
  EXPECT_EQ(p.emulated_read_latency_ns.source, FigureSource::kEmulation);
  EXPECT_EQ(p.emulated_read_latency_ns.value, 700);
  EXPECT_EQ(p.emulated_write_latency_ns.source, FigureSource::kEmulation);
  EXPECT_EQ(p.emulated_write_latency_ns.value, 900);
  EXPECT_EQ(p.emulated_bandwidth_mbps.source, FigureSource::kEmulation);
  EXPECT_EQ(p.emulated_bandwidth_mbps.value, 2000);
  // 2000 MB/s: a page takes 2048 ns, on top of the 700 ns latency.
  EXPECT_GE(p.load_p50_ns.value, (700 + 2048) * 0.999);
  EXPECT_GE(p.store_p50_ns.value, (900 + 2048) * 0.999);
}

TEST(ProbeTest, CompressedTierHasNoChaseButMeasuresLoads) {
  CompressedTierOptions o;
  o.capacity_bytes = 4ull << 20;
  o.background_compaction = false;
  auto opened = CompressedTier::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto tier = std::move(opened).value();
  const TierProbe p = ProbeTier(*tier);
  EXPECT_GT(p.pages_stored, 0u);
  ExpectMeasured(p.load_p50_ns, "load_p50_ns");
  ExpectMeasured(p.store_p50_ns, "store_p50_ns");
  ExpectMeasured(p.copy_bandwidth_mbps, "copy_bandwidth_mbps");
  EXPECT_EQ(p.chase_ns.source, FigureSource::kNone);
  EXPECT_EQ(p.chase_bytes, 0u);
  EXPECT_EQ(tier->stores(), 0u);
  EXPECT_EQ(tier->loads(), 0u);
  EXPECT_EQ(tier->stored_pages(), 0u);
  EXPECT_EQ(tier->orig_bytes(), 0u);
}

TEST(ProbeTest, TierBoundToANodeGetsFirmwareOrSlitFigures) {
  NumaTierOptions o;
  o.node = 0;
  o.capacity_bytes = 2ull << 20;
  auto opened = NumaTier::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  ProbeOptions options;
  options.local_latency_ns = 80;
  const TierProbe p = ProbeTier(*opened.value(), options);
  EXPECT_EQ(p.node, 0);
  ExpectMeasured(p.chase_ns, "chase_ns");
  const FigureSource s = p.hmat_read_latency_ns.source;
  ASSERT_TRUE(s == FigureSource::kHmat || s == FigureSource::kSlit) << FigureSourceName(s);
  // Node 0 carries the CPUs here, so its SLIT distance to itself is 10: the estimate is the
  // local latency given.
  if (s == FigureSource::kSlit) {
    EXPECT_EQ(p.hmat_read_latency_ns.value, 80);
  }
  EXPECT_GT(p.hmat_read_latency_ns.value, 0);
}

TEST(ProbeTest, RankPutsTheEmulatedTierAfterThePlainOne) {
  auto slow = MakeDram(512, "slow");
  auto fast = MakeDram(512, "fast");
  ASSERT_NE(slow, nullptr);
  ASSERT_NE(fast, nullptr);
  slow->SetEmulation(TierEmulation{20000, 0, 0});
  // The slow tier comes first in the configuration; ranking must move it.
  const std::vector<TierProbe> probes = {ProbeTier(*slow), ProbeTier(*fast)};
  EXPECT_EQ(RankTiers(probes), (std::vector<unsigned>{1, 0}));
}

TEST(ProbeTest, RankKeepsConfigurationOrderWithinTenPercent) {
  const std::vector<TierProbe> probes = {WithExpected(105), WithExpected(100), WithExpected(300),
                                         TierProbe{}, WithExpected(104)};
  // 100, 104 and 105 tie; 300 follows; the tier with no figure comes last.
  EXPECT_EQ(RankTiers(probes), (std::vector<unsigned>{0, 1, 4, 2, 3}));
}

TEST(ProbeTest, RankTiesAreMeasuredFromTheFastestOfTheGroup) {
  // 109 is within 10% of 100 and 118 within 10% of 109, but not of 100: a chain of small steps
  // must not make 118 equal to 100.
  const std::vector<TierProbe> probes = {WithExpected(118), WithExpected(109), WithExpected(100)};
  EXPECT_EQ(RankTiers(probes), (std::vector<unsigned>{1, 2, 0}));
}

TEST(ProbeTest, RankUsesEstimatesWhenNothingWasMeasured) {
  const std::vector<TierProbe> probes = {WithExpected(900, FigureSource::kEmulation),
                                         WithExpected(250, FigureSource::kHmat)};
  EXPECT_EQ(RankTiers(probes), (std::vector<unsigned>{1, 0}));
}

// Records fields in order, so that each figure's source can be checked to follow it.
class RecordingSink : public StatsSink {
 public:
  struct Field {
    std::string kind, name, text;
    double value = 0;
  };
  void Counter(std::string_view n, uint64_t v) override { Add("counter", n, double(v)); }
  void Gauge(std::string_view n, uint64_t v) override { Add("gauge", n, double(v)); }
  void Real(std::string_view n, double v) override { Add("real", n, v); }
  void Text(std::string_view n, std::string_view v) override {
    fields.push_back(Field{"text", std::string(n), std::string(v), 0});
  }
  void BeginList(std::string_view) override {}
  void BeginItem() override {}
  void EndItem() override {}
  void EndList() override {}
  std::vector<Field> fields;

 private:
  void Add(const char* kind, std::string_view n, double v) {
    fields.push_back(Field{kind, std::string(n), "", v});
  }
};

TEST(ProbeTest, ExportWritesEveryFigureFollowedByItsSource) {
  auto tier = MakeDram(64);
  ASSERT_NE(tier, nullptr);
  tier->SetEmulation(TierEmulation{500, 0, 0});
  const TierProbe p = ProbeTier(*tier);
  RecordingSink sink;
  ExportProbe(p, sink);

  const std::set<std::string> sources = {"measured", "hmat", "slit", "emulation", "none"};
  std::map<std::string, std::string> source_of;
  std::map<std::string, double> value_of;
  for (size_t i = 0; i < sink.fields.size(); ++i) {
    const auto& f = sink.fields[i];
    if (f.kind != "real") continue;
    ASSERT_LT(i + 1, sink.fields.size()) << f.name << " is the last field, with no source";
    const auto& next = sink.fields[i + 1];
    EXPECT_EQ(next.kind, "text") << f.name;
    EXPECT_EQ(next.name, f.name + "_source");
    EXPECT_TRUE(sources.count(next.text)) << next.name << " = " << next.text;
    source_of[f.name] = next.text;
    value_of[f.name] = f.value;
  }
  for (const char* name :
       {"probe_expected_load_ns", "probe_load_p50_ns", "probe_load_p99_ns", "probe_store_p50_ns",
        "probe_chase_ns", "probe_copy_bandwidth_mbps", "hmat_read_latency_ns",
        "hmat_write_latency_ns", "hmat_read_bandwidth_mbps", "hmat_write_bandwidth_mbps",
        "emulation_read_latency_ns", "emulation_write_latency_ns", "emulation_bandwidth_mbps",
        "probe_ms"}) {
    EXPECT_TRUE(source_of.count(name)) << name << " was not exported";
  }
  EXPECT_EQ(source_of["probe_load_p50_ns"], "measured");
  EXPECT_EQ(value_of["probe_load_p50_ns"], p.load_p50_ns.value);
  EXPECT_EQ(source_of["probe_chase_ns"], "measured");
  EXPECT_EQ(source_of["emulation_read_latency_ns"], "emulation");
  EXPECT_EQ(value_of["emulation_read_latency_ns"], 500);
  EXPECT_EQ(source_of["emulation_bandwidth_mbps"], "none");
  EXPECT_EQ(source_of["hmat_read_latency_ns"], "none");
  // No name is written twice (the tier's own emulated_* fields share the item).
  std::set<std::string> names;
  for (const auto& f : sink.fields) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name << " written twice";
    EXPECT_NE(f.name.rfind("emulated_", 0), 0u) << f.name << " collides with Tier::ExportStats";
  }
}

TEST(ProbeTest, FigureSourceNamesAreTheExportedWords) {
  EXPECT_STREQ(FigureSourceName(FigureSource::kMeasured), "measured");
  EXPECT_STREQ(FigureSourceName(FigureSource::kHmat), "hmat");
  EXPECT_STREQ(FigureSourceName(FigureSource::kSlit), "slit");
  EXPECT_STREQ(FigureSourceName(FigureSource::kEmulation), "emulation");
  EXPECT_STREQ(FigureSourceName(FigureSource::kNone), "none");
}

}  // namespace
}  // namespace tierswap
