// FrameAllocator: hands out frame numbers [0, n) of a tier, lock-free, one bit of metadata each.
//
// A tier holds pages in fixed-size frames. The allocator only tracks which frames are free; the
// memory itself belongs to the tier (FrameArena, a pmem mapping, ...). It is a bitmap split into
// regions of kFramesPerRegion frames. Each region keeps a count of its free frames that works as a
// reservation: a thread first takes one unit of the count, which guarantees a clear bit exists in
// that region, then claims a bit with an atomic OR. Threads start at different regions (by their
// counter shard) and remember where they last found room, so concurrent stores rarely touch the
// same cache lines and a full tier is detected by reading the region counts, not the bitmap.
//
// Metadata: 1 bit per frame plus one cache line per region (0.016 bytes per frame).
// Thread-safety: all methods may be called concurrently from any thread.
#ifndef TIERSWAP_TIERS_FRAME_ALLOCATOR_H_
#define TIERSWAP_TIERS_FRAME_ALLOCATOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tiers/sharded_counter.h"

namespace tierswap {

class FrameAllocator {
 public:
  static constexpr uint32_t kNoFrame = UINT32_MAX;
  static constexpr size_t kFramesPerRegion = 4096;  // 64 bitmap words, 16 MiB of 4 KiB frames

  explicit FrameAllocator(uint32_t frames);
  FrameAllocator(const FrameAllocator&) = delete;
  FrameAllocator& operator=(const FrameAllocator&) = delete;

  // Returns a free frame number and marks it used, or kNoFrame when every frame is taken.
  uint32_t Allocate();
  // As Allocate, but returns frame `preferred` when it is free (the tier places pages where a
  // load can predict them), else a frame near it.
  uint32_t Allocate(uint32_t preferred);
  // Returns `frame` to the free pool. Freeing a frame that is not allocated is a bug (asserted).
  void Free(uint32_t frame);

  bool IsAllocated(uint32_t frame) const;
  uint32_t frames() const { return frames_; }
  uint32_t used() const;
  // Bytes of memory used by the allocator's own metadata.
  size_t MetadataBytes() const;

 private:
  struct alignas(kCacheLine) Region {
    std::atomic<int64_t> free{0};
  };
  struct alignas(kCacheLine) Cursor {
    std::atomic<uint32_t> region{0};
  };

  bool TryRegion(size_t r, uint32_t* frame, size_t start_word, int preferred_bit);

  const uint32_t frames_;
  const size_t words_;
  const size_t regions_;
  std::unique_ptr<std::atomic<uint64_t>[]> bitmap_;
  std::unique_ptr<Region[]> region_;
  std::unique_ptr<Cursor[]> cursor_;  // per counter shard: the region where it last found room
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_FRAME_ALLOCATOR_H_
