#include "tiers/frame_arena.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "tiers/fault_injection.h"

namespace tierswap {

FrameArena::FrameArena(FrameArena&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

FrameArena& FrameArena::operator=(FrameArena&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) munmap(base_, bytes_);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

FrameArena::~FrameArena() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

Result<FrameArena> FrameArena::Map(uint64_t bytes, bool prefault, std::string_view what) {
  if (bytes == 0 || bytes % kPageSize != 0) {
    return MakeError(Status::kInvalidArgument, std::string(what) + ": capacity " +
                                                   std::to_string(bytes) +
                                                   " bytes is not a positive multiple of 4096");
  }
  void* p = TIERSWAP_INJECT_FAULT(FaultSite::kArenaMap)
                ? FailWithErrno(MAP_FAILED, ENOMEM)
                : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return MakeError(Status::kNoMemory, std::string(what) + ": cannot map " +
                                            std::to_string(bytes) + " bytes: " + strerror(err));
  }
  // Best effort: huge pages cut TLB misses on random loads; without THP this is a no-op.
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  FrameArena arena(static_cast<unsigned char*>(p), bytes);
  if (prefault) arena.Prefault();
  return arena;
}

void FrameArena::Prefault() const {
  // A write per 4 KiB page (not a read: a read would map the shared zero page).
  for (uint64_t off = 0; off < bytes_; off += kPageSize) {
    static_cast<volatile unsigned char*>(base_)[off] = 0;
  }
}

}  // namespace tierswap
