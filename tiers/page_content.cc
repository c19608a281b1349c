#include "tiers/page_content.h"

#include <algorithm>
#include <cstring>

#include "tiers/page.h"

namespace tierswap {
namespace {

void Put64(unsigned char* p, uint64_t v) { std::memcpy(p, &v, sizeof(v)); }
void Put32(unsigned char* p, uint32_t v) { std::memcpy(p, &v, sizeof(v)); }

}  // namespace

void FillRecordsPage(void* page, uint64_t* state) {
  auto* p = static_cast<unsigned char*>(page);
  const uint64_t id = SplitMix64(state) & 0xffffff;
  const uint64_t ptr = 0x00007f0000000000ull | ((SplitMix64(state) & 0xffff) << 16);
  for (size_t i = 0; i < kPageSize / 32; ++i) {
    const uint64_t r = SplitMix64(state);
    unsigned char* rec = p + i * 32;
    Put64(rec, id + i);
    Put64(rec + 8, ptr + i * 48);
    Put32(rec + 16, static_cast<uint32_t>(r & 3));
    Put32(rec + 20, static_cast<uint32_t>((r >> 8) % 200));
    Put64(rec + 24, 0);
  }
}

void FillTextPage(void* page, uint64_t* state) {
  static constexpr const char* kWords[32] = {
      "the",    "page",   "swap", "memory", "store", "load",   "tier",   "offset",
      "frame",  "cold",   "hot",  "index",  "read",  "write",  "count",  "value",
      "buffer", "struct", "node", "list",   "next",  "return", "int",    "const",
      "static", "error",  "file", "line",   "data",  "size",   "kernel", "user"};
  auto* p = static_cast<unsigned char*>(page);
  size_t pos = 0;
  uint64_t bits = 0;
  unsigned left = 0;
  while (pos < kPageSize) {
    if (left == 0) bits = SplitMix64(state), left = 12;  // 12 picks of 5 bits each
    const unsigned pick = bits & 31;
    bits >>= 5;
    --left;
    const char* w = kWords[pick];
    const size_t n = std::min(std::strlen(w), kPageSize - pos);
    std::memcpy(p + pos, w, n);
    pos += n;
    if (pos < kPageSize) p[pos++] = (pick % 8 == 0) ? '\n' : ' ';
  }
}

void FillSparsePage(void* page, uint64_t* state) {
  auto* p = static_cast<unsigned char*>(page);
  const size_t used = 256 + SplitMix64(state) % 2048;
  size_t i = 0;
  while (i < used) {
    uint64_t r = SplitMix64(state);
    for (int b = 0; b < 8 && i < used; ++b, r >>= 8) p[i++] = static_cast<unsigned char>(r & 0x0f);
  }
  p[0] = 0x5a;  // never all zero, whatever the draws were
  std::memset(p + used, 0, kPageSize - used);
}

}  // namespace tierswap
