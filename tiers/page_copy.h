// Page copies tuned for where the bytes go.
//
// CopyPageToFrame writes a page into a tier frame with non-temporal (streaming) stores. A page
// being swapped out is cold by definition, so there is no point pulling its frame into the
// cache; and a regular copy leaves 64 dirty lines whose ownership the next locked instruction
// (the entry lock, the allocator) must wait for, which costs a store about 300 ns on a cold
// frame. The trailing sfence orders the streamed data before the caller publishes the frame
// (the entry unlock is a release store, which does not order non-temporal stores by itself).
//
// Loads use plain memcpy: the guest is about to touch the page, so its lines belong in cache.
#ifndef TIERSWAP_TIERS_PAGE_COPY_H_
#define TIERSWAP_TIERS_PAGE_COPY_H_

#include <cstdint>
#include <cstring>

#include "tiers/page.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tierswap {

// Copies 4 KiB from `src` to the 64-byte-aligned frame `dst`, bypassing the cache.
inline void CopyPageToFrame(void* dst, const void* src) {
#if defined(__x86_64__) && defined(__AVX2__)
  auto* d = static_cast<__m256i*>(dst);
  const auto* s = static_cast<const __m256i*>(src);
  for (size_t i = 0; i < kPageSize / sizeof(__m256i); i += 4) {
    const __m256i a = _mm256_loadu_si256(s + i);
    const __m256i b = _mm256_loadu_si256(s + i + 1);
    const __m256i c = _mm256_loadu_si256(s + i + 2);
    const __m256i e = _mm256_loadu_si256(s + i + 3);
    _mm256_stream_si256(d + i, a);
    _mm256_stream_si256(d + i + 1, b);
    _mm256_stream_si256(d + i + 2, c);
    _mm256_stream_si256(d + i + 3, e);
  }
  _mm_sfence();
#elif defined(__x86_64__)
  auto* d = static_cast<__m128i*>(dst);
  const auto* s = static_cast<const __m128i*>(src);
  for (size_t i = 0; i < kPageSize / sizeof(__m128i); i += 4) {
    const __m128i a = _mm_loadu_si128(s + i);
    const __m128i b = _mm_loadu_si128(s + i + 1);
    const __m128i c = _mm_loadu_si128(s + i + 2);
    const __m128i e = _mm_loadu_si128(s + i + 3);
    _mm_stream_si128(d + i, a);
    _mm_stream_si128(d + i + 1, b);
    _mm_stream_si128(d + i + 2, c);
    _mm_stream_si128(d + i + 3, e);
  }
  _mm_sfence();
#else
  std::memcpy(dst, src, kPageSize);
#endif
}

// Starts fetching the first lines of a frame that a load is about to copy. The hardware
// prefetcher follows once the first misses arrive; 16 lines (a quarter page) measured best
// (docs/benchmarks.md): fewer leave the copy waiting, more only add instructions.
inline void PrefetchFrame(const void* frame) {
  const auto* p = static_cast<const char*>(frame);
  for (int i = 0; i < 16; ++i) __builtin_prefetch(p + i * 64, 0, 3);
}

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_PAGE_COPY_H_
