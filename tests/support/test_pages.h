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

namespace tierswap::testing {

using PageBuf = std::array<unsigned char, kPageSize>;

inline uint64_t SplitMix64(uint64_t* x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A page whose every word depends on `seed`: never same-filled, distinct per seed.
inline PageBuf PatternPage(uint64_t seed) {
  PageBuf p;
  uint64_t x = seed * 0x100000001B3ull + 1;
  for (size_t i = 0; i < kWordsPerPage; ++i) {
    const uint64_t w = SplitMix64(&x);
    std::memcpy(p.data() + i * 8, &w, 8);
  }
  return p;
}

// A page of text-like records, distinct per seed, that compresses about 2-4x (like real heap
// pages): what every tier must handle, compressed ones included. Never same-filled.
inline PageBuf TextPage(uint64_t seed) {
  static constexpr const char* kWords[] = {"alpha ", "beta ", "gamma ", "delta ", "swap ", "page ",
                                           "frame ", "tier ", "node ",  "cold ",  "hot ",  "load ",
                                           "store ", "far ",  "near ",  "x"};
  PageBuf p;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
  size_t pos = 0;
  // A header that makes every seed's page unique.
  std::memcpy(p.data(), &seed, sizeof(seed));
  pos = sizeof(seed);
  while (pos < kPageSize) {
    const uint64_t r = SplitMix64(&x);
    const char* w = kWords[r % 16];
    const size_t n = std::min(std::strlen(w), kPageSize - pos);
    std::memcpy(p.data() + pos, w, n);
    pos += n;
    if (r % 7 == 0 && pos + 4 <= kPageSize) {  // a number now and then
      const uint32_t v = static_cast<uint32_t>(r >> 32);
      std::memcpy(p.data() + pos, &v, 4);
      pos += 4;
    }
  }
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
