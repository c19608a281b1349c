// Model-based randomized tests: a reference model of the frontswap contract is run next to the
// backend, and every load is checked against it.
//
// Single-threaded: >= 1,000,000 ops over 4 types, with duplicate stores, invalidations, area
// invalidations and re-inits, a tier too small for the working set (so rejects happen), and
// out-of-range offsets. Multi-threaded: each thread owns one type (as the kernel serialises a
// slot's operations) while all threads share the tier, so rejects depend on the interleaving
// and the model still knows the answer from each call's status. CI runs the multi-threaded
// variant under ThreadSanitizer. TIERSWAP_MODEL_OPS scales the op count for longer runs.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/support/test_pages.h"

namespace tierswap {
namespace {

using testing::FilledPage;
using testing::MakeBackend;
using testing::PageBuf;
using testing::PatternPage;

uint64_t OpsFromEnv(uint64_t dflt) {
  const char* s = std::getenv("TIERSWAP_MODEL_OPS");
  return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : dflt;
}

// Page content for a seed: one in ten zero-filled, one in ten same-filled, the rest patterned.
PageBuf ContentFor(uint64_t seed) {
  switch (seed % 10) {
    case 0:
      return FilledPage(0);
    case 1:
      return FilledPage(seed * 0x9E3779B97F4A7C15ull);
    default:
      return PatternPage(seed);
  }
}

struct ModelType {
  bool initialized = false;
  uint64_t nr_pages = 0;
  std::unordered_map<uint64_t, uint64_t> pages;  // offset -> content seed
};

struct Tally {
  uint64_t ops = 0, stores = 0, accepted = 0, rejected = 0, loads = 0, hits = 0, misses = 0,
           mismatches = 0, areas = 0, invalid = 0;
};

// Runs `ops` random operations on `types` (owned by the caller alone) and checks each result.
void RunModel(Backend& b, const std::vector<unsigned>& types, uint64_t ops, uint64_t seed,
              uint64_t offsets, Tally* tally) {
  std::mt19937_64 rng(seed);
  std::unordered_map<unsigned, ModelType> model;
  PageBuf out{};
  uint64_t next_seed = seed << 32;
  auto fail = [&](const char* what, unsigned type, uint64_t offset) {
    if (++tally->mismatches <= 10) {
      ADD_FAILURE() << what << " at op " << tally->ops << " (type " << type << ", offset " << offset
                    << ")";
    }
  };
  for (unsigned t : types) {
    const uint64_t nr = rng() % 2 ? 0 : offsets;
    ASSERT_EQ(b.Init(t, nr), Status::kOk);
    model[t] = ModelType{true, nr, {}};
  }
  for (uint64_t i = 0; i < ops; ++i, ++tally->ops) {
    const unsigned type = types[rng() % types.size()];
    ModelType& m = model[type];
    // Mostly in range; now and then one past nr_pages to exercise -EINVAL.
    const uint64_t offset = rng() % 1000 == 0 ? offsets : rng() % offsets;
    const bool in_range = m.nr_pages == 0 || offset < m.nr_pages;
    const unsigned op = rng() % 100000;
    if (op < 45000) {  // store (often a duplicate: the offset space is small)
      ++tally->stores;
      const uint64_t s = next_seed++;
      const PageBuf page = ContentFor(s);
      const Status st = b.Store(type, offset, page.data());
      if (!m.initialized) {
        if (st != Status::kNotInitialized)
          fail("store to uninitialised type not refused", type, offset);
      } else if (!in_range) {
        ++tally->invalid;
        if (st != Status::kInvalidArgument) fail("out-of-range store not refused", type, offset);
      } else if (st == Status::kOk) {
        ++tally->accepted;
        m.pages[offset] = s;
      } else if (st == Status::kNoSpace) {
        ++tally->rejected;
        m.pages.erase(offset);  // a failed store drops the old page
      } else {
        fail("unexpected store status", type, offset);
      }
    } else if (op < 80000 || (op >= 99010 && m.initialized)) {  // load
      ++tally->loads;
      const PageBuf sentinel = FilledPage(0xDEADBEEFDEADBEEFull);
      out = sentinel;
      const Status st = b.Load(type, offset, out.data());
      if (!m.initialized) {
        if (st != Status::kNotInitialized) fail("load of uninitialised type", type, offset);
        continue;
      }
      if (!in_range) {
        if (st != Status::kInvalidArgument) fail("out-of-range load not refused", type, offset);
        continue;
      }
      auto it = m.pages.find(offset);
      if (it == m.pages.end()) {
        ++tally->misses;
        if (st != Status::kNotFound)
          fail("load returned a page that is not held", type, offset);
        else if (out != sentinel)
          fail("missed load wrote to the buffer", type, offset);
      } else {
        ++tally->hits;
        if (st != Status::kOk)
          fail("load of a held page failed", type, offset);
        else if (out != ContentFor(it->second))
          fail("load returned other bytes", type, offset);
      }
    } else if (op < 99000) {  // invalidate page
      b.InvalidatePage(type, offset);
      m.pages.erase(offset);
    } else if (op < 99010) {  // invalidate area (swapoff), re-initialised later
      ++tally->areas;
      b.InvalidateArea(type);
      m.pages.clear();
      m.initialized = false;
    } else {  // init (swapon) of a dead type
      const uint64_t nr = rng() % 2 ? 0 : offsets;
      ASSERT_EQ(b.Init(type, nr), Status::kOk);
      m = ModelType{true, nr, {}};
    }
  }
  // Everything the model holds is still there, byte-exact; then clean up.
  for (unsigned t : types) {
    for (const auto& [offset, s] : model[t].pages) {
      if (b.Load(t, offset, out.data()) != Status::kOk || out != ContentFor(s)) {
        fail("final check: page lost or changed", t, offset);
      }
    }
  }
}

TEST(BackendModelTest, MillionRandomOpsMatchTheReferenceModel) {
  const uint64_t ops = OpsFromEnv(1'000'000);
  auto b = MakeBackend(/*pages=*/1500);  // far below 4 types x 2048 offsets: rejects happen
  ASSERT_NE(b, nullptr);
  Tally t;
  RunModel(*b, {0, 1, 2, 31}, ops, 42, 2048, &t);
  std::printf(
      "ops=%llu stores=%llu accepted=%llu rejected=%llu loads=%llu hits=%llu misses=%llu "
      "areas=%llu out_of_range=%llu mismatches=%llu\n",
      (unsigned long long)t.ops, (unsigned long long)t.stores, (unsigned long long)t.accepted,
      (unsigned long long)t.rejected, (unsigned long long)t.loads, (unsigned long long)t.hits,
      (unsigned long long)t.misses, (unsigned long long)t.areas, (unsigned long long)t.invalid,
      (unsigned long long)t.mismatches);
  EXPECT_EQ(t.mismatches, 0u);
  EXPECT_GE(t.ops, ops);
  EXPECT_GT(t.rejected, 0u) << "capacity was meant to be tight enough for rejects";
  EXPECT_GT(t.hits, 0u);
  EXPECT_GT(t.areas, 0u);
  EXPECT_LE(b->tier(0).used_bytes(), b->tier(0).capacity_bytes());
}

TEST(BackendModelTest, ConcurrentThreadsEachCheckedAgainstTheirModel) {
  const uint64_t ops = OpsFromEnv(1'000'000) / 5;
  constexpr int kThreads = 4;
  auto b = MakeBackend(/*pages=*/1200);  // shared by all threads: rejects depend on timing
  ASSERT_NE(b, nullptr);
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RunModel(*b, {static_cast<unsigned>(t), static_cast<unsigned>(t + 8)}, ops / kThreads,
               1000 + t, 1024, &tallies[t]);
    });
  }
  for (auto& th : threads) th.join();
  uint64_t mismatches = 0, rejected = 0, hits = 0, total = 0;
  for (const auto& t : tallies) {
    mismatches += t.mismatches;
    rejected += t.rejected;
    hits += t.hits;
    total += t.ops;
  }
  std::printf("threads=%d ops=%llu rejected=%llu hits=%llu mismatches=%llu\n", kThreads,
              (unsigned long long)total, (unsigned long long)rejected, (unsigned long long)hits,
              (unsigned long long)mismatches);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(hits, 0u);
}

// ---- with placement: migration, capacity changes, offlining and quotas in the op mix --------

std::unique_ptr<Backend> PlacementBackend(bool background, std::vector<QuotaOptions> quotas) {
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(testing::MakeDram(200, "fast"));
  tiers.push_back(testing::MakeDram(400, "mid"));
  tiers.push_back(testing::MakeDram(800, "slow"));
  BackendOptions o;
  o.placement.policy = "adaptive";
  o.placement.background = background;
  o.placement.mover_interval_ms = 1;
  o.placement.min_residency_ms = 0;
  o.placement.probe_budget_ms = 0;
  o.quotas = std::move(quotas);
  auto b = Backend::Open(std::move(tiers), o);
  return b ? std::move(b).value() : nullptr;
}

struct Handed {
  std::set<std::pair<unsigned, uint64_t>> slots;
  std::map<std::pair<unsigned, uint64_t>, PageBuf> bytes;
};

int RecordWriteback(void* ctx, unsigned type, uint64_t offset, const void* page) {
  auto* h = static_cast<Handed*>(ctx);
  h->slots.insert({type, offset});
  std::memcpy(h->bytes[{type, offset}].data(), page, kPageSize);
  return 0;
}

TEST(BackendModelTest, RandomOpsWithMigrationResizeOfflineAndQuotasMatchTheModel) {
  const uint64_t ops = OpsFromEnv(1'000'000) / 2;
  auto b = PlacementBackend(/*background=*/false, {QuotaOptions{1, 300 * kPageSize}});
  ASSERT_NE(b, nullptr);
  Handed handed;
  b->SetWriteback(&RecordWriteback, &handed);
  std::mt19937_64 rng(99);
  std::map<std::pair<unsigned, uint64_t>, uint64_t> model;  // slot -> content seed
  const unsigned types[] = {0, 1, 2};
  for (unsigned t : types) ASSERT_EQ(b->Init(t, 0), Status::kOk);
  uint64_t next_seed = 1, mismatches = 0, handed_back = 0, moves = 0, quota_rejects = 0;
  PageBuf out{};
  for (uint64_t i = 0; i < ops; ++i) {
    const unsigned type = types[rng() % 3];
    const uint64_t offset = rng() % 700;
    const auto slot = std::make_pair(type, offset);
    const unsigned op = rng() % 10000;
    if (op < 4500) {
      const uint64_t seed = next_seed++;
      const Status s = b->Store(type, offset, ContentFor(seed).data());
      if (s == Status::kOk) {
        model[slot] = seed;
      } else if (s == Status::kNoSpace) {
        if (Backend::LastRejectReason() == RejectReason::kQuota) ++quota_rejects;
        model.erase(slot);
      } else {
        ++mismatches;
      }
    } else if (op < 8500) {
      const Status s = b->Load(type, offset, out.data());
      auto it = model.find(slot);
      if (it == model.end() ? s != Status::kNotFound
                            : (s != Status::kOk || out != ContentFor(it->second))) {
        if (++mismatches <= 5) ADD_FAILURE() << "load mismatch at op " << i;
      }
    } else if (op < 9700) {
      b->InvalidatePage(type, offset);
      model.erase(slot);
    } else if (op < 9950) {
      moves += b->Maintain();
    } else {
      // Capacity changes and offlining; pages that fit nowhere are handed back and dropped.
      const unsigned tier = rng() % 3;
      const uint64_t cap = b->tier(tier).capacity_bytes();
      switch (rng() % 4) {
        case 0:
          ASSERT_TRUE(b->SetTierCapacity(tier, cap * (rng() % 5) / 4).ok());
          break;
        case 1:
          ASSERT_TRUE(b->TierOffline(tier).ok());
          break;
        default:
          ASSERT_EQ(b->TierOnline(tier), Status::kOk);
          break;
      }
      for (const auto& h : handed.slots) {
        auto it = model.find(h);
        // A page handed back must be the one the model holds, and is gone from tierswap now.
        if (it == model.end() || handed.bytes[h] != ContentFor(it->second)) ++mismatches;
        model.erase(h);
        ++handed_back;
      }
      handed.slots.clear();
    }
  }
  for (const auto& [slot, seed] : model) {
    if (b->Load(slot.first, slot.second, out.data()) != Status::kOk || out != ContentFor(seed)) {
      ++mismatches;
    }
  }
  std::printf("ops=%llu moved=%llu handed_back=%llu quota_rejects=%llu held=%zu mismatches=%llu\n",
              (unsigned long long)ops, (unsigned long long)moves, (unsigned long long)handed_back,
              (unsigned long long)quota_rejects, model.size(), (unsigned long long)mismatches);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(moves, 0u);
  EXPECT_GT(handed_back, 0u);
  EXPECT_GT(quota_rejects, 0u);
}

// Threads own their types and check their own models while a control thread migrates, resizes
// and offlines tiers under them (no writeback: pages move or stay, never leave). The background
// mover runs too. Under ThreadSanitizer in CI.
TEST(BackendModelTest, ConcurrentOpsWithMoverResizeAndOfflineMatchTheModels) {
  const uint64_t ops = OpsFromEnv(1'000'000) / 5;
  auto b = PlacementBackend(/*background=*/true, {QuotaOptions{2, 200 * kPageSize}});
  ASSERT_NE(b, nullptr);
  std::atomic<bool> stop{false};
  std::thread control([&] {
    std::mt19937_64 rng(5);
    while (!stop.load()) {
      const unsigned tier = rng() % 3;
      switch (rng() % 5) {
        case 0:
          (void)b->SetTierCapacity(tier, b->tier(tier).capacity_bytes() * (rng() % 5) / 4);
          break;
        case 1:
          (void)b->TierOffline(tier);
          break;
        case 2:
          (void)b->TierOnline(tier);
          break;
        default:
          b->Maintain();
          break;
      }
    }
    for (unsigned t = 0; t < 3; ++t) (void)b->TierOnline(t);
  });
  constexpr int kThreads = 3;
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RunModel(*b, {static_cast<unsigned>(t)}, ops / kThreads, 500 + t, 600, &tallies[t]);
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  control.join();
  uint64_t mismatches = 0, hits = 0;
  for (const auto& t : tallies) {
    mismatches += t.mismatches;
    hits += t.hits;
  }
  std::printf("concurrent with mover: ops=%llu hits=%llu mismatches=%llu\n",
              (unsigned long long)ops, (unsigned long long)hits, (unsigned long long)mismatches);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(hits, 0u);
}

}  // namespace
}  // namespace tierswap
