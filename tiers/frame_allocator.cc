#include "tiers/frame_allocator.h"

#include <bit>
#include <cassert>

namespace tierswap {

FrameAllocator::FrameAllocator(uint32_t frames)
    : frames_(frames),
      words_((static_cast<size_t>(frames) + 63) / 64),
      regions_((static_cast<size_t>(frames) + kFramesPerRegion - 1) / kFramesPerRegion),
      bitmap_(new std::atomic<uint64_t>[words_ == 0 ? 1 : words_]),
      region_(new Region[regions_ == 0 ? 1 : regions_]),
      cursor_(new Cursor[kCounterShards]) {
  for (size_t w = 0; w < words_; ++w) bitmap_[w].store(0, std::memory_order_relaxed);
  // Bits past the last frame are permanently "used" so scans never return them.
  if (frames_ % 64 != 0) {
    bitmap_[words_ - 1].store(~uint64_t{0} << (frames_ % 64), std::memory_order_relaxed);
  }
  for (size_t r = 0; r < regions_; ++r) {
    const uint64_t first = r * kFramesPerRegion;
    const uint64_t last = std::min<uint64_t>(first + kFramesPerRegion, frames_);
    region_[r].free.store(static_cast<int64_t>(last - first), std::memory_order_relaxed);
  }
  for (size_t s = 0; s < kCounterShards; ++s) {
    cursor_[s].region.store(regions_ == 0 ? 0 : static_cast<uint32_t>(s % regions_),
                            std::memory_order_relaxed);
  }
}

bool FrameAllocator::TryRegion(size_t r, uint32_t* frame, size_t start_word, int preferred_bit) {
  // Reserve one free frame of the region. fetch_sub may overshoot below zero when several
  // threads race for the last frames; the loser gives its unit back.
  auto& count = region_[r].free;
  if (count.load(std::memory_order_relaxed) <= 0) return false;
  if (count.fetch_sub(1, std::memory_order_acquire) <= 0) {
    count.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // The reservation guarantees a clear bit in this region; other reservers may take the one we
  // see first, so loop until our OR is the one that sets a bit.
  const size_t first_word = r * (kFramesPerRegion / 64);
  const size_t end_word = std::min(first_word + kFramesPerRegion / 64, words_);
  const size_t start = start_word != SIZE_MAX
                           ? start_word
                           : first_word + (ThisThreadShard() % (end_word - first_word));
  if (preferred_bit >= 0) {
    const uint64_t mask = uint64_t{1} << preferred_bit;
    if ((bitmap_[start].fetch_or(mask, std::memory_order_acq_rel) & mask) == 0) {
      *frame = static_cast<uint32_t>(start * 64 + preferred_bit);
      return true;
    }
  }
  for (;;) {
    for (size_t i = 0; i < end_word - first_word; ++i) {
      size_t w = start + i;
      if (w >= end_word) w -= (end_word - first_word);
      uint64_t bits = bitmap_[w].load(std::memory_order_relaxed);
      while (bits != ~uint64_t{0}) {
        const int bit = std::countr_one(bits);
        const uint64_t mask = uint64_t{1} << bit;
        // acq_rel: pairs with the release in Free, so the previous owner's last use of the
        // frame happens before our first write to it.
        const uint64_t prev = bitmap_[w].fetch_or(mask, std::memory_order_acq_rel);
        if ((prev & mask) == 0) {
          *frame = static_cast<uint32_t>(w * 64 + bit);
          return true;
        }
        bits = prev | mask;
      }
    }
  }
}

uint32_t FrameAllocator::Allocate() {
  if (regions_ == 0) return kNoFrame;
  auto& cursor = cursor_[ThisThreadShard()].region;
  const size_t start = cursor.load(std::memory_order_relaxed);
  for (size_t i = 0; i < regions_; ++i) {
    size_t r = start + i;
    if (r >= regions_) r -= regions_;
    uint32_t frame;
    if (TryRegion(r, &frame, SIZE_MAX, -1)) {
      if (r != start) cursor.store(static_cast<uint32_t>(r), std::memory_order_relaxed);
      return frame;
    }
  }
  return kNoFrame;
}

uint32_t FrameAllocator::Allocate(uint32_t preferred) {
  if (preferred >= frames_) return Allocate();
  uint32_t frame;
  if (TryRegion(preferred / kFramesPerRegion, &frame, preferred / 64, int(preferred % 64))) {
    return frame;
  }
  return Allocate();
}

void FrameAllocator::Free(uint32_t frame) {
  assert(frame < frames_);
  const uint64_t mask = uint64_t{1} << (frame % 64);
  [[maybe_unused]] const uint64_t prev =
      bitmap_[frame / 64].fetch_and(~mask, std::memory_order_release);
  assert((prev & mask) != 0 && "double free of a frame");
  region_[frame / kFramesPerRegion].free.fetch_add(1, std::memory_order_release);
}

bool FrameAllocator::IsAllocated(uint32_t frame) const {
  return frame < frames_ &&
         (bitmap_[frame / 64].load(std::memory_order_acquire) >> (frame % 64) & 1) != 0;
}

uint32_t FrameAllocator::used() const {
  int64_t free = 0;
  for (size_t r = 0; r < regions_; ++r) free += region_[r].free.load(std::memory_order_relaxed);
  // Transiently negative reservations are clamped.
  if (free < 0) free = 0;
  if (free > frames_) free = frames_;
  return frames_ - static_cast<uint32_t>(free);
}

size_t FrameAllocator::MetadataBytes() const {
  return words_ * sizeof(uint64_t) + regions_ * sizeof(Region) + kCounterShards * sizeof(Cursor);
}

}  // namespace tierswap
