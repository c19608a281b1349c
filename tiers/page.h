// Page: the 4 KiB unit that swap hands to tierswap, and the same-filled test.
//
// zswap and zram keep pages that repeat one machine word (most often zero) as metadata only;
// such pages are a few percent of anonymous memory and cost nothing to keep that way.
#ifndef TIERSWAP_TIERS_PAGE_H_
#define TIERSWAP_TIERS_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tierswap {

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kPageShift = 12;
inline constexpr size_t kWordsPerPage = kPageSize / sizeof(uint64_t);

// True when the page is one 8-byte value repeated; *value receives it. Reads the page once and
// stops within the first 128 bytes that differ, which for ordinary data is the first block.
inline bool IsSameFilled(const void* page, uint64_t* value) {
  const auto* bytes = static_cast<const unsigned char*>(page);
  uint64_t first;
  std::memcpy(&first, bytes, sizeof(first));
  // Check the last word first: pages with a header and a zero tail fail fast here.
  uint64_t last;
  std::memcpy(&last, bytes + kPageSize - sizeof(last), sizeof(last));
  if (last != first) return false;
#if defined(__AVX2__)
  const __m256i v = _mm256_set1_epi64x(static_cast<long long>(first));
  for (size_t i = 0; i < kPageSize; i += 128) {
    const auto* p = reinterpret_cast<const __m256i*>(bytes + i);
    const __m256i d =
        _mm256_or_si256(_mm256_or_si256(_mm256_xor_si256(_mm256_loadu_si256(p), v),
                                        _mm256_xor_si256(_mm256_loadu_si256(p + 1), v)),
                        _mm256_or_si256(_mm256_xor_si256(_mm256_loadu_si256(p + 2), v),
                                        _mm256_xor_si256(_mm256_loadu_si256(p + 3), v)));
    if (!_mm256_testz_si256(d, d)) return false;
  }
#else
  for (size_t i = 1; i < kWordsPerPage - 1; ++i) {
    uint64_t w;
    std::memcpy(&w, bytes + i * sizeof(w), sizeof(w));
    if (w != first) return false;
  }
#endif
  *value = first;
  return true;
}

// Writes `value` into every word of the page.
inline void FillPage(void* page, uint64_t value) {
  auto* bytes = static_cast<unsigned char*>(page);
  for (size_t i = 0; i < kWordsPerPage; ++i)
    std::memcpy(bytes + i * sizeof(value), &value, sizeof(value));
}

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_PAGE_H_
