// Tenant isolation: a swap type is a tenant, and nothing of one may reach another.
//   - a load of type A returns A's page or nothing, never B's, at the same offsets, through
//     overwrites, invalidations and migrations between a DRAM, a compressed and a pmem tier;
//   - after invalidate_area(A) nothing of A loads, and with [backend] scrub_on_free no byte of
//     A's pages is left in any tier's memory (the test scans it all; without scrub_on_free the
//     same scan finds them, which shows the scan can see freed bytes);
//   - a page moved off a tier leaves no copy behind when scrubbing;
//   - racing stores never push a type above its quota, checked from the statistics after every
//     store, and duplicate stores do not use up a quota.
// Labelled `concurrency`: runs under ThreadSanitizer too.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/stats_export.h"
#include "placement/backend.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"

namespace tierswap {
namespace {

using testing::FilledPage;
using testing::PageBuf;
using testing::SplitMix64;

constexpr size_t kMarkerBytes = 16;

// 16 bytes that appear in every page of `type` and nowhere else: "TENANT-07-SECRET".
std::string Marker(unsigned type) {
  char m[kMarkerBytes + 1];
  std::snprintf(m, sizeof(m), "TENANT-%02u-SECRET", type);
  return std::string(m, kMarkerBytes);
}

// The first number stored under "key" in a JSON text (top-level fields come first).
uint64_t JsonNumber(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const size_t at = json.find(k);
  EXPECT_NE(at, std::string::npos) << key << " is not in " << json;
  return at == std::string::npos ? 0 : std::strtoull(json.c_str() + at + k.size(), nullptr, 10);
}

// A page of (type, offset, version). Compressible pages are the marker over and over after a
// unique header (a compressed tier keeps the marker as a literal); incompressible ones are random
// bytes with the marker every 512 bytes (a compressed tier declines them).
PageBuf TenantPage(unsigned type, uint64_t offset, uint64_t version) {
  PageBuf p;
  uint64_t x = (uint64_t{type} << 56) ^ (offset << 16) ^ version;
  const bool compressible = SplitMix64(&x) % 3 != 0;
  const std::string marker = Marker(type);
  for (size_t i = 0; i < kPageSize; i += 8) {
    const uint64_t w = compressible ? 0 : SplitMix64(&x);
    std::memcpy(p.data() + i, &w, 8);
  }
  const size_t step = compressible ? kMarkerBytes : 512;
  for (size_t i = 32; i + kMarkerBytes <= kPageSize; i += step) {
    std::memcpy(p.data() + i, marker.data(), kMarkerBytes);
  }
  const uint64_t header[4] = {type, offset, version, SplitMix64(&x)};
  std::memcpy(p.data(), header, sizeof(header));
  return p;
}

// How many times `needle` occurs in the memory of every tier of `b`: each frame of a raw tier,
// the whole arena of a compressed tier.
size_t OccurrencesInTiers(const Backend& b, const std::string& needle) {
  size_t hits = 0;
  auto scan = [&](const unsigned char* p, size_t n) {
    const std::string_view hay(reinterpret_cast<const char*>(p), n);
    for (size_t at = hay.find(needle); at != std::string_view::npos;
         at = hay.find(needle, at + 1)) {
      ++hits;
    }
  };
  for (size_t t = 0; t < b.tier_count(); ++t) {
    const Tier& tier = b.tier(t);
    if (const auto* c = dynamic_cast<const CompressedTier*>(&tier)) {
      scan(c->arena().base(), c->arena().bytes());
      continue;
    }
    for (TierHandle f = 0; f < tier.HandleSpace(); ++f) {
      const unsigned char* frame = tier.DirectAddress(f);
      EXPECT_NE(frame, nullptr) << "tier " << tier.name() << " has no addressable frames";
      if (frame == nullptr) break;
      scan(frame, kPageSize);
    }
  }
  return hits;
}

// A DRAM tier too small for the pages, a compressed tier, and pmem; the mover runs only when
// the test calls Maintain, and demotes eagerly so that pages do move.
std::unique_ptr<Backend> OpenThreeTiers(bool scrub_on_free) {
  const std::string toml =
      std::string("[backend]\nscrub_on_free = ") + (scrub_on_free ? "true" : "false") +
      "\n"
      "[placement]\npolicy = \"adaptive\"\nbackground = false\nprobe_budget_ms = 0\n"
      "high_watermark = 0.6\nlow_watermark = 0.3\nmin_residency_ms = 0\n"
      "[[tier]]\nname = \"fast\"\nkind = \"dram\"\ncapacity = \"256KiB\"\nprefault = false\n"
      "[[tier]]\nname = \"zip\"\nkind = \"compressed\"\ncapacity = \"512KiB\"\n"
      "prefault = false\n"
      "[[tier]]\nname = \"pm\"\nkind = \"pmem\"\npath = \"anon\"\ncapacity = \"4MiB\"\n"
      "prefault = false\n";
  auto config = Config::FromString(toml, "tenants.toml");
  EXPECT_TRUE(config.ok()) << config.error().message;
  if (!config) return nullptr;
  EXPECT_EQ(config->scrub_on_free, scrub_on_free);
  auto b = OpenBackend(*config);
  EXPECT_TRUE(b.ok()) << b.error().message;
  if (!b) return nullptr;
  return std::move(b).value();
}

TEST(TenantIsolationTest, LoadOfOneTypeNeverReturnsAnotherTypesPage) {
  auto b = OpenThreeTiers(/*scrub_on_free=*/false);
  ASSERT_TRUE(b);
  constexpr unsigned kA = 1, kB = 2;
  constexpr uint64_t kOffsets = 300;
  ASSERT_EQ(b->Init(kA, kOffsets), Status::kOk);
  ASSERT_EQ(b->Init(kB, kOffsets), Status::kOk);
  // The model: the version each (type, offset) holds; 0 = none.
  std::map<std::pair<unsigned, uint64_t>, uint64_t> model;
  uint64_t rng = 12345;
  auto check_all = [&](int round) {
    for (unsigned type : {kA, kB}) {
      for (uint64_t o = 0; o < kOffsets; ++o) {
        PageBuf out;
        const Status s = b->Load(type, o, out.data());
        const uint64_t v = model[{type, o}];
        if (v == 0) {
          ASSERT_EQ(s, Status::kNotFound)
              << "round " << round << " type " << type << " offset " << o;
          continue;
        }
        ASSERT_EQ(s, Status::kOk) << "round " << round << " type " << type << " offset " << o;
        ASSERT_EQ(out, TenantPage(type, o, v))
            << "round " << round << " type " << type << " offset " << o
            << (std::search(out.begin(), out.end(), Marker(type == kA ? kB : kA).begin(),
                            Marker(type == kA ? kB : kA).end()) != out.end()
                    ? ": the OTHER type's page was returned"
                    : "");
      }
    }
  };
  for (int round = 0; round < 6; ++round) {
    for (unsigned type : {kA, kB}) {
      for (uint64_t o = 0; o < kOffsets; ++o) {
        const uint64_t r = SplitMix64(&rng) % 10;
        if (round > 0 && r < 3) continue;  // keep the old version
        if (round > 0 && r == 3) {
          b->InvalidatePage(type, o);
          model[{type, o}] = 0;
          continue;
        }
        const uint64_t v = round * 1000 + r + 1;
        ASSERT_EQ(b->Store(type, o, TenantPage(type, o, v).data()), Status::kOk);
        model[{type, o}] = v;
      }
    }
    check_all(round);
    b->Maintain();  // demotions and promotions of what was just loaded
    check_all(round);
  }
  // The pages really were spread over the tiers and moved between them.
  for (size_t t = 0; t < 3; ++t) EXPECT_GT(b->tier(t).stores(), 0u) << b->tier(t).name();
  const std::string json = StatsJson(*b);
  EXPECT_GT(JsonNumber(json, "mover_demotions") + JsonNumber(json, "mover_promotions"), 0u)
      << "no page migrated: the test would not cover migrations";
}

TEST(TenantIsolationTest, InvalidateAreaLeavesNothingOfTheTypeLoadableNorInAnyTiersMemory) {
  auto b = OpenThreeTiers(/*scrub_on_free=*/true);
  ASSERT_TRUE(b);
  for (size_t t = 0; t < b->tier_count(); ++t) ASSERT_TRUE(b->tier(t).scrub_on_free());
  constexpr unsigned kA = 4, kB = 9;
  constexpr uint64_t kOffsets = 250;
  ASSERT_EQ(b->Init(kA, 0), Status::kOk);
  ASSERT_EQ(b->Init(kB, 0), Status::kOk);
  for (int version = 1; version <= 2; ++version) {  // the second round replaces the first
    for (uint64_t o = 0; o < kOffsets; ++o) {
      ASSERT_EQ(b->Store(kA, o, TenantPage(kA, o, version).data()), Status::kOk);
      ASSERT_EQ(b->Store(kB, o, TenantPage(kB, o, version).data()), Status::kOk);
    }
    b->Maintain();
  }
  for (size_t t = 0; t < 3; ++t) ASSERT_GT(b->tier(t).stored_pages(), 0u) << b->tier(t).name();
  ASSERT_GT(OccurrencesInTiers(*b, Marker(kA)), 0u) << "A's pages are not where the scan looks";

  b->InvalidateArea(kA);
  PageBuf out;
  for (uint64_t o = 0; o < kOffsets; ++o) {
    ASSERT_EQ(b->Load(kA, o, out.data()), Status::kNotInitialized) << o;
  }
  ASSERT_EQ(b->Init(kA, 0), Status::kOk);  // a new tenant of the same type sees nothing either
  for (uint64_t o = 0; o < kOffsets; ++o) ASSERT_EQ(b->Load(kA, o, out.data()), Status::kNotFound);
  EXPECT_EQ(OccurrencesInTiers(*b, Marker(kA)), 0u) << "bytes of an invalidated area survive";
  // B is untouched, and its bytes are still visible to the scan.
  EXPECT_GT(OccurrencesInTiers(*b, Marker(kB)), 0u);
  for (uint64_t o = 0; o < kOffsets; ++o) {
    ASSERT_EQ(b->Load(kB, o, out.data()), Status::kOk);
    ASSERT_EQ(out, TenantPage(kB, o, 2)) << o;
  }
  // A store of another type into the freed room never lands next to A's bytes either.
  for (uint64_t o = 0; o < kOffsets; ++o) {
    ASSERT_EQ(b->Store(kA, o, TenantPage(kA, o, 7).data()), Status::kOk);
  }
  b->InvalidateArea(kA);
  EXPECT_EQ(OccurrencesInTiers(*b, Marker(kA)), 0u);
}

TEST(TenantIsolationTest, WithoutScrubOnFreeAnInvalidatedAreasBytesStayInMemory) {
  // The counterpart of the test above: it shows that the scan finds freed bytes, so a zero
  // there means they were scrubbed, not missed.
  auto b = OpenThreeTiers(/*scrub_on_free=*/false);
  ASSERT_TRUE(b);
  for (size_t t = 0; t < b->tier_count(); ++t) ASSERT_FALSE(b->tier(t).scrub_on_free());
  constexpr unsigned kA = 4;
  ASSERT_EQ(b->Init(kA, 0), Status::kOk);
  for (uint64_t o = 0; o < 250; ++o) {
    ASSERT_EQ(b->Store(kA, o, TenantPage(kA, o, 1).data()), Status::kOk);
  }
  b->InvalidateArea(kA);
  EXPECT_EQ(b->stored_pages(), 0u);
  EXPECT_GT(OccurrencesInTiers(*b, Marker(kA)), 0u);
}

TEST(TenantIsolationTest, PagesMovedOffATierLeaveNoCopyBehindWhenScrubbing) {
  auto b = OpenThreeTiers(/*scrub_on_free=*/true);
  ASSERT_TRUE(b);
  constexpr unsigned kA = 6;
  ASSERT_EQ(b->Init(kA, 0), Status::kOk);
  for (uint64_t o = 0; o < 40; ++o) {
    ASSERT_EQ(b->Store(kA, o, TenantPage(kA, o, 1).data()), Status::kOk);
  }
  ASSERT_GT(b->tier(0).stored_pages(), 0u);
  auto remaining = b->TierOffline(0);
  ASSERT_TRUE(remaining.ok()) << remaining.error().message;
  ASSERT_EQ(*remaining, 0u);
  const Tier& fast = b->tier(0);
  for (TierHandle f = 0; f < fast.HandleSpace(); ++f) {
    const unsigned char* frame = fast.DirectAddress(f);
    ASSERT_TRUE(std::all_of(frame, frame + kPageSize, [](unsigned char c) { return c == 0; }))
        << "frame " << f << " of the drained tier still holds a page";
  }
  PageBuf out;
  for (uint64_t o = 0; o < 40; ++o) {
    ASSERT_EQ(b->Load(kA, o, out.data()), Status::kOk);
    ASSERT_EQ(out, TenantPage(kA, o, 1));
  }
}

TEST(TenantIsolationTest, ScrubOnFreeIsOffByDefaultAndRefusesANonBoolean) {
  auto plain = Config::FromString("[[tier]]\nname = \"a\"\nkind = \"dram\"\ncapacity = \"64KiB\"\n",
                                  "s.toml");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->scrub_on_free);
  auto bad = Config::FromString(
      "[backend]\nscrub_on_free = \"yes\"\n[[tier]]\nname = \"a\"\nkind = \"dram\"\n"
      "capacity = \"64KiB\"\n",
      "s.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("s.toml:2"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("'scrub_on_free'"), std::string::npos) << bad.error().message;
}

// ---- quotas ------------------------------------------------------------------------------------

// Pages of `type` held, as the statistics report them (types[].stored_pages).
uint64_t UsageFromStats(const Backend& b, unsigned type) {
  testing::RecordingSink sink;
  b.ExportStats(sink);
  const auto& types = sink.list("types");
  for (size_t i = 0; i < types.size(); ++i) {
    if (sink.Get("types", i, "type") == type) return sink.Get("types", i, "stored_pages");
  }
  return 0;
}

std::unique_ptr<Backend> OpenWithQuota(unsigned type, uint64_t pages) {
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(testing::MakeDram(64, "fast"));
  tiers.push_back(testing::MakeDram(4096, "slow"));
  BackendOptions o;
  o.placement.probe_budget_ms = 0;
  o.placement.background = false;
  o.quotas.push_back(QuotaOptions{type, pages * kPageSize});
  auto b = Backend::Open(std::move(tiers), o);
  EXPECT_TRUE(b.ok()) << b.error().message;
  return b ? std::move(b).value() : nullptr;
}

TEST(TenantQuotaTest, RacingStoresNeverPushATypeAboveItsQuota) {
  constexpr unsigned kType = 3, kOther = 5;
  constexpr uint64_t kQuota = 96;
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 60;  // 480 distinct offsets against a quota of 96
  auto b = OpenWithQuota(kType, kQuota);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->Init(kType, 0), Status::kOk);
  ASSERT_EQ(b->Init(kOther, 0), Status::kOk);

  // Phase 1: stores only (new offsets and duplicates of accepted ones), so the usage can only
  // grow and any reading of it must be within the quota.
  std::atomic<uint64_t> accepted{0}, quota_rejects{0}, over{0}, max_seen{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint64_t> mine;
      for (uint64_t i = 0; i < kPerThread; ++i) {
        const uint64_t o = t * 1000 + i;
        const Status s = b->Store(kType, o, TenantPage(kType, o, 1).data());
        if (s == Status::kOk) {
          ++accepted;
          mine.push_back(o);
        } else if (Backend::LastRejectReason() == RejectReason::kQuota) {
          ++quota_rejects;
        }
        if (!mine.empty() && i % 3 == 0) {  // a duplicate store: replaces, uses no quota
          const uint64_t d = mine[i % mine.size()];
          if (b->Store(kType, d, TenantPage(kType, d, 2 + i).data()) != Status::kOk) ++over;
        }
        // Another tenant is never limited by this one's quota.
        if (b->Store(kOther, o, TenantPage(kOther, o, 1).data()) != Status::kOk) ++over;
        const uint64_t used = UsageFromStats(*b, kType);
        uint64_t seen = max_seen.load();
        while (used > seen && !max_seen.compare_exchange_weak(seen, used)) {
        }
        if (used > kQuota) ++over;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(over.load(), 0u) << "usage went above the quota, or a store within it failed";
  EXPECT_LE(max_seen.load(), kQuota);
  EXPECT_EQ(accepted.load(), kQuota) << "every slot of the quota is used, none more";
  EXPECT_EQ(quota_rejects.load(), kThreads * kPerThread - kQuota);
  EXPECT_EQ(UsageFromStats(*b, kType), kQuota);
  EXPECT_EQ(UsageFromStats(*b, kOther), kThreads * kPerThread);

  // Phase 2: invalidations race with stores. Whatever interleaving, the pages that load are at
  // most the quota, and the statistics agree with them once the threads stop.
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) {
        const uint64_t o = t * 1000 + i;
        if (i % 2 == 0) {
          b->InvalidatePage(kType, o);
        } else {
          (void)b->Store(kType, o, TenantPage(kType, o, 9).data());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  uint64_t loadable = 0;
  PageBuf out;
  for (int t = 0; t < kThreads; ++t) {
    for (uint64_t i = 0; i < kPerThread; ++i) {
      if (b->Load(kType, t * 1000 + i, out.data()) == Status::kOk) ++loadable;
    }
  }
  EXPECT_LE(loadable, kQuota);
  EXPECT_EQ(UsageFromStats(*b, kType), loadable);
  // The room the invalidations freed is usable, exactly up to the quota.
  uint64_t more = 0;
  for (uint64_t o = 50'000; o < 50'000 + kQuota; ++o) {
    if (b->Store(kType, o, TenantPage(kType, o, 1).data()) == Status::kOk) ++more;
  }
  EXPECT_EQ(loadable + more, kQuota);
}

TEST(TenantQuotaTest, DuplicateStoresDoNotUseUpTheQuota) {
  constexpr unsigned kType = 1;
  auto b = OpenWithQuota(kType, 4);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->Init(kType, 0), Status::kOk);
  // Replacements of one page that are not in-place overwrites: same-filled pages (kept in the
  // index) and pages alternating with them.
  for (uint64_t v = 0; v < 20; ++v) {
    const PageBuf page = v % 2 == 0 ? FilledPage(v) : TenantPage(kType, 0, v);
    ASSERT_EQ(b->Store(kType, 0, page.data()), Status::kOk) << v;
  }
  EXPECT_EQ(UsageFromStats(*b, kType), 1u);
  for (uint64_t o = 1; o < 4; ++o) {
    EXPECT_EQ(b->Store(kType, o, TenantPage(kType, o, 1).data()), Status::kOk) << o;
  }
  EXPECT_EQ(b->Store(kType, 4, TenantPage(kType, 4, 1).data()), Status::kNoSpace);
  EXPECT_EQ(Backend::LastRejectReason(), RejectReason::kQuota);
  // Freed pages give their quota back.
  b->InvalidatePage(kType, 2);
  EXPECT_EQ(b->Store(kType, 4, TenantPage(kType, 4, 1).data()), Status::kOk);
  b->InvalidateArea(kType);
  ASSERT_EQ(b->Init(kType, 0), Status::kOk);
  for (uint64_t o = 10; o < 14; ++o) {
    EXPECT_EQ(b->Store(kType, o, TenantPage(kType, o, 1).data()), Status::kOk) << o;
  }
}

}  // namespace
}  // namespace tierswap
