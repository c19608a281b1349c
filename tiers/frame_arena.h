// FrameArena: the page-aligned memory a frame-based tier keeps its pages in.
//
// One anonymous mapping sized to the tier's capacity, asked for transparent huge pages (fewer
// TLB misses on random loads) and, by default, pre-faulted at open: first touch of fresh memory
// costs microseconds per page on a VM, which must not land on a guest's store path.
// Frame i lives at base + i * 4 KiB.
//
// Thread-safety: immutable after Map; the frames' contents are synchronised by their users.
#ifndef TIERSWAP_TIERS_FRAME_ARENA_H_
#define TIERSWAP_TIERS_FRAME_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tiers/page.h"
#include "tiers/result.h"

namespace tierswap {

class FrameArena {
 public:
  FrameArena() = default;
  FrameArena(FrameArena&& other) noexcept;
  FrameArena& operator=(FrameArena&& other) noexcept;
  FrameArena(const FrameArena&) = delete;
  FrameArena& operator=(const FrameArena&) = delete;
  ~FrameArena();

  // Maps `bytes` (a multiple of the page size, > 0) of anonymous memory. `what` names the tier
  // in error messages. With `prefault`, every page is touched before returning.
  static Result<FrameArena> Map(uint64_t bytes, bool prefault, std::string_view what);

  unsigned char* frame(uint32_t index) const { return base_ + (size_t{index} << kPageShift); }
  unsigned char* base() const { return base_; }
  uint64_t bytes() const { return bytes_; }

  // Touches every page so that it is backed by memory now. Used after binding to a node.
  void Prefault() const;

 private:
  FrameArena(unsigned char* base, uint64_t bytes) : base_(base), bytes_(bytes) {}

  unsigned char* base_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_FRAME_ARENA_H_
