// Page contents: deterministic 4 KiB pages of the kinds a swap backend is handed, from a seed.
// The one generator behind trace replay's generated pages, the probe's pages, the benchmarks'
// and the tests': records of small structs, text, a partly used buffer, random bytes.
//
// How well each compresses matters (a compressed tier takes the first three and declines the
// last): records about 3-4:1, text 2-3:1, sparse far better, random not at all. None of them is
// same-filled (tiers/page.h: such pages are kept as metadata only).
//
// Thread-safety: pure functions; `*state` is the caller's.
#ifndef TIERSWAP_TIERS_PAGE_CONTENT_H_
#define TIERSWAP_TIERS_PAGE_CONTENT_H_

#include <cstdint>

namespace tierswap {

// splitmix64's finaliser: a bijective mix of 64 bits.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// splitmix64: the next value of the sequence that `*state` walks.
inline uint64_t SplitMix64(uint64_t* state) { return Mix64(*state += 0x9E3779B97F4A7C15ull); }

// An array of 32-byte records, as a heap of small structs looks: ids counting up, pointers into
// one mapping, small flags and lengths, padding. Compresses about 3-4:1.
void FillRecordsPage(void* page, uint64_t* state);
// Words from a small vocabulary, as text buffers and string tables look. About 2-3:1.
void FillTextPage(void* page, uint64_t* state);
// Small values at the start of the page and zeros after, as a partly used buffer looks.
void FillSparsePage(void* page, uint64_t* state);
// Random bytes: never compresses, never same-filled.
inline void FillRandomPage(void* page, uint64_t* state) {
  auto* p = static_cast<unsigned char*>(page);
  for (int i = 0; i < 4096; i += 8) {
    const uint64_t w = SplitMix64(state);
    __builtin_memcpy(p + i, &w, 8);
  }
}

// The same, from a seed alone.
inline void FillTextPage(void* page, uint64_t seed) { FillTextPage(page, &seed); }
inline void FillRandomPage(void* page, uint64_t seed) { FillRandomPage(page, &seed); }

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_PAGE_CONTENT_H_
