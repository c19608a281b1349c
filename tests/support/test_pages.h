// Test support: deterministic page contents and small backends.
#ifndef TIERSWAP_TESTS_SUPPORT_TEST_PAGES_H_
#define TIERSWAP_TESTS_SUPPORT_TEST_PAGES_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "placement/backend.h"
#include "tiers/dram_tier.h"
#include "tiers/page.h"
#include "tiers/page_content.h"

namespace tierswap::testing {

using PageBuf = std::array<unsigned char, kPageSize>;

using ::tierswap::SplitMix64;  // tiers/page_content.h

// A page whose every word depends on `seed`: random, never same-filled, distinct per seed.
inline PageBuf PatternPage(uint64_t seed) {
  PageBuf p;
  FillRandomPage(p.data(), seed * 0x100000001B3ull + 1);
  return p;
}

// A page of text, distinct per seed, that compresses about 2-3x (like real heap pages): what
// every tier must handle, compressed ones included. Never same-filled.
inline PageBuf TextPage(uint64_t seed) {
  PageBuf p;
  FillTextPage(p.data(), seed * 0x9E3779B97F4A7C15ull + 7);
  std::memcpy(p.data(), &seed, sizeof(seed));  // a header that makes every seed's page unique
  return p;
}

inline PageBuf FilledPage(uint64_t value) {
  PageBuf p;
  FillPage(p.data(), value);
  return p;
}

inline std::unique_ptr<DramTier> MakeDram(uint64_t pages, const char* name = "dram") {
  DramTierOptions o;
  o.name = name;
  o.capacity_bytes = pages * kPageSize;
  o.prefault = false;
  auto t = DramTier::Open(o);
  if (!t) return nullptr;
  return std::move(t).value();
}

// A backend over one DRAM tier of `pages` frames.
inline std::unique_ptr<Backend> MakeBackend(uint64_t pages, bool exclusive = false) {
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(MakeDram(pages));
  BackendOptions opts;
  opts.exclusive_loads = exclusive;
  opts.placement.probe_budget_ms = 0;  // rank in configuration order; no probe time per test
  auto b = Backend::Open(std::move(tiers), opts);
  if (!b) return nullptr;
  return std::move(b).value();
}

}  // namespace tierswap::testing

#endif  // TIERSWAP_TESTS_SUPPORT_TEST_PAGES_H_
