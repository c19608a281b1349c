#include "tiers/page_checksum.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tiers/page.h"

// Compiled into this file rather than called in libxxhash: the library is built for the
// baseline CPU (SSE2), while this code is built with -march (AVX2 on x86-64-v3), which hashes
// a page in about half the time.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace tierswap {

uint32_t PageChecksum(const void* page) {
  const XXH64_hash_t h = XXH3_64bits(page, kPageSize);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

Result<std::unique_ptr<PageChecksums>> PageChecksums::Create(uint64_t slots,
                                                             std::string_view what) {
  if (slots == 0) {
    return MakeError(Status::kInvalidArgument,
                     std::string(what) + ": cannot keep checksums: the tier has no slots.");
  }
  const uint64_t raw = slots * sizeof(uint32_t);
  const size_t bytes = static_cast<size_t>((raw + kPageSize - 1) / kPageSize * kPageSize);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return MakeError(Status::kNoMemory, std::string(what) + ": cannot reserve " +
                                            std::to_string(bytes) + " bytes for " +
                                            std::to_string(slots) +
                                            " page checksums: " + std::strerror(err));
  }
  // 4 KiB pages, so that what is resident follows the slots in use.
  (void)madvise(p, bytes, MADV_NOHUGEPAGE);
  return std::unique_ptr<PageChecksums>(
      new PageChecksums(static_cast<std::atomic<uint32_t>*>(p), slots, bytes));
}

PageChecksums::~PageChecksums() { munmap(sums_, bytes_); }

size_t PageChecksums::ResidentBytes() const {
  std::vector<unsigned char> resident(bytes_ / kPageSize);
  if (mincore(sums_, bytes_, resident.data()) != 0) return bytes_;  // unknown: say all of it
  size_t pages = 0;
  for (unsigned char r : resident) pages += r & 1;
  return pages * kPageSize;
}

}  // namespace tierswap
