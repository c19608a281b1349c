// Page checksums: end-to-end integrity for the pages a tier holds (config `checksum = true`).
//
// A tier with checksums on keeps one 32-bit checksum per slot in a side array (PageChecksums),
// indexed by the tier's handle: a frame number for frame and pmem tiers, the handle id for the
// compressed tier (both dense, in [0, Tier::HandleSpace())). Tier's non-virtual Store, Overwrite
// and MoveIn compute it from the caller's page; Load and MoveOut verify the bytes they hand back
// against it, so a flipped bit anywhere between the guest's store and its load (in the tier's
// memory, in the copy, in compression) is reported instead of returned. Off, none of this exists:
// the tier holds a null pointer and the hot path tests it once.
//
// The checksum is XXH3-64 folded to 32 bits. 32, not 64: the array costs 4 bytes per frame
// (0.1% of a frame tier's capacity; the page index spends 12 bytes per page), and a random
// corruption escapes a 32-bit check with probability 2^-32. It detects accidents (media errors,
// stray writes, bugs), not an adversary who can write the tier's memory.
//
// The array is one anonymous mapping reserved at open (MAP_NORESERVE) and faulted in where
// handles are used: a compressed tier has up to 128 handle ids per frame, most never used.
//
// Thread-safety: Set and Get of different slots run concurrently; a slot's Set happens before
// its handle is published (the page index's entry lock orders it before any Get of that slot).
// The elements are relaxed atomics so that no access is a data race even for a misbehaving
// caller. Owned by its tier.
#ifndef TIERSWAP_TIERS_PAGE_CHECKSUM_H_
#define TIERSWAP_TIERS_PAGE_CHECKSUM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tiers/result.h"

namespace tierswap {

// The checksum of one 4 KiB page: XXH3-64 folded to 32 bits.
uint32_t PageChecksum(const void* page);

class PageChecksums {
 public:
  // Reserves room for `slots` checksums. `what` names the tier in error messages.
  static Result<std::unique_ptr<PageChecksums>> Create(uint64_t slots, std::string_view what);
  ~PageChecksums();
  PageChecksums(const PageChecksums&) = delete;
  PageChecksums& operator=(const PageChecksums&) = delete;

  uint64_t slots() const { return slots_; }

  // Records the checksum of `page`, now held in `slot`. A slot out of range is ignored (Matches
  // then fails for it): handles come from the tier itself, so that is a tier bug, reported at
  // the next load rather than by writing out of bounds.
  void Record(uint64_t slot, const void* page) {
    if (slot < slots_) sums_[slot].store(PageChecksum(page), std::memory_order_relaxed);
  }
  // True when `page` is what Record saw for `slot`.
  bool Matches(uint64_t slot, const void* page) const {
    return slot < slots_ && sums_[slot].load(std::memory_order_relaxed) == PageChecksum(page);
  }

  // Bytes of the array resident in memory (mincore; a system call: statistics only).
  size_t ResidentBytes() const;

 private:
  PageChecksums(std::atomic<uint32_t>* sums, uint64_t slots, size_t bytes)
      : sums_(sums), slots_(slots), bytes_(bytes) {}

  std::atomic<uint32_t>* const sums_;
  const uint64_t slots_;
  const size_t bytes_;  // of the mapping
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_PAGE_CHECKSUM_H_
