// PageIndex: (type, offset) -> PageEntry, for up to 32 swap types of up to 2^32 pages each.
//
// Two levels, so that a swap area of unknown size costs nothing up front and a dense one costs
// 12 bytes per slot: per type, a directory of chunk pointers (mapped lazily, touched only where
// used), and chunks of kChunkEntries entries mapped on first store into them. A lookup is two
// dependent loads, the directory line is hot, so the common cost is the entry's own cache miss.
// Chunks are never unmapped while the index lives, so an entry pointer stays valid and lock-free
// readers never see freed memory; InvalidateArea empties entries but keeps their chunks for the
// next swapon of the type.
//
// Each type also has a state word: (epoch << 1) | initialised. Init sets it initialised under a
// new epoch, BeginInvalidateArea clears it under a new epoch. A store reads it before and again
// under the entry lock; when it changed, an area invalidation ran in between and the store
// must not publish (see Backend::Store).
//
// Thread-safety: all methods are safe to call concurrently. InitType must not race with
// InvalidateArea or InitType of the same type (swapon/swapoff are serialised by the kernel).
#ifndef TIERSWAP_PLACEMENT_PAGE_INDEX_H_
#define TIERSWAP_PLACEMENT_PAGE_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "placement/page_entry.h"

namespace tierswap {

class PageIndex {
 public:
  static constexpr unsigned kMaxTypes = 32;                        // frontswap's MAX_SWAPFILES
  static constexpr uint64_t kMaxPagesPerType = uint64_t{1} << 32;  // 16 TiB of swap per type
  static constexpr uint64_t kChunkShift = 16;
  static constexpr uint64_t kChunkEntries = uint64_t{1} << kChunkShift;
  static constexpr uint64_t kChunksPerType = kMaxPagesPerType >> kChunkShift;

  PageIndex();
  ~PageIndex();
  PageIndex(const PageIndex&) = delete;
  PageIndex& operator=(const PageIndex&) = delete;

  static bool Initialized(uint64_t state) { return (state & 1) != 0; }

  // Marks `type` initialised with `nr_pages` slots (0: unknown, up to kMaxPagesPerType).
  // The caller has emptied the type first (InvalidateArea) if it held pages.
  void InitType(unsigned type, uint64_t nr_pages);
  // Marks `type` uninitialised under a new epoch, so that concurrent stores notice; returns the
  // new state. The caller then empties every entry (ForEachEntry).
  uint64_t BeginInvalidateArea(unsigned type);

  // seq_cst: pairs with the entry lock's seq_cst CAS (see page_entry.h).
  uint64_t State(unsigned type) const { return types_[type].state.load(std::memory_order_seq_cst); }
  uint64_t NrPages(unsigned type) const {
    return types_[type].nr_pages.load(std::memory_order_relaxed);
  }

  // The entry of a slot, or nullptr when no page was ever stored in its chunk.
  PageEntry* Find(unsigned type, uint64_t offset) const {
    Chunk* c = types_[type].dir[offset >> kChunkShift].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : &c->entries[offset & (kChunkEntries - 1)];
  }
  // The entry of a slot, mapping its chunk if needed; nullptr only when mapping failed.
  PageEntry* FindOrCreate(unsigned type, uint64_t offset) {
    PageEntry* e = Find(type, offset);
    return e != nullptr ? e : CreateSlow(type, offset);
  }

  // Calls fn(offset, PageEntry&) for every entry in the type's mapped chunks, in offset order.
  template <typename Fn>
  void ForEachEntry(unsigned type, Fn&& fn) const {
    // seq_cst, like the chunk publication in CreateSlow: a walk that follows
    // BeginInvalidateArea must see every chunk a racing store could have published into.
    const uint64_t chunks = types_[type].max_chunk.load(std::memory_order_seq_cst);
    for (uint64_t ci = 0; ci < chunks; ++ci) {
      Chunk* c = types_[type].dir[ci].load(std::memory_order_seq_cst);
      if (c == nullptr) continue;
      for (uint64_t i = 0; i < kChunkEntries; ++i) fn((ci << kChunkShift) | i, c->entries[i]);
    }
  }

  // Calls fn(offset, PageEntry&) for the entries of mapped chunks from `from` on, in offset
  // order, until fn returns false or `max_entries` were visited. Returns the offset to resume
  // from, or kMaxPagesPerType when the type's end was reached.
  template <typename Fn>
  uint64_t Scan(unsigned type, uint64_t from, uint64_t max_entries, Fn&& fn) const {
    return Walk(
        type, from, max_entries, [](uint64_t i) { return i; }, fn);
  }

  // The CLOCK hand's walk: like Scan, but within each chunk the slots are visited in a fixed
  // pseudo-random order (hand position i visits slot SweepSlot(i)), and `from` and the return
  // value are hand positions, not offsets. Why: a hand that walks offsets in ascending order
  // moves with a process that swaps its memory back in ascending order, always just ahead of
  // it, so the pages it finds unreferenced, and demotes, are exactly the ones about to be
  // loaded. (In the placement benchmark's scan trace at 1:2 that doubled the mean load cost.)
  static constexpr uint64_t SweepSlot(uint64_t i) {
    // Multiplication by an odd constant is a bijection modulo 2^16.
    return (i * 40503u) & (kChunkEntries - 1);
  }
  template <typename Fn>
  uint64_t Sweep(unsigned type, uint64_t from, uint64_t max_entries, Fn&& fn) const {
    return Walk(type, from, max_entries, SweepSlot, fn);
  }

  // Bytes of memory the index holds: the resident pages of mapped chunks and directories.
  size_t MetadataBytes() const;

 private:
  // Scan and Sweep: position i of a chunk visits its slot slot_of(i) (a bijection on a chunk);
  // positions are what `from` and the result count in.
  template <typename SlotOf, typename Fn>
  uint64_t Walk(unsigned type, uint64_t from, uint64_t max_entries, SlotOf slot_of, Fn& fn) const {
    const uint64_t chunks = types_[type].max_chunk.load(std::memory_order_acquire);
    uint64_t visited = 0;
    for (uint64_t ci = from >> kChunkShift; ci < chunks; ++ci) {
      Chunk* c = types_[type].dir[ci].load(std::memory_order_acquire);
      if (c == nullptr) continue;
      const uint64_t first = ci == (from >> kChunkShift) ? (from & (kChunkEntries - 1)) : 0;
      for (uint64_t i = first; i < kChunkEntries; ++i) {
        const uint64_t slot = slot_of(i);
        if (visited++ == max_entries || !fn((ci << kChunkShift) | slot, c->entries[slot])) {
          return (ci << kChunkShift) | i;
        }
      }
    }
    return kMaxPagesPerType;
  }

  struct Chunk {
    PageEntry entries[kChunkEntries];
  };
  struct TypeSlot {
    std::atomic<uint64_t> state{0};
    std::atomic<uint64_t> nr_pages{0};
    std::atomic<uint64_t> max_chunk{0};  // one past the highest chunk index ever mapped
    std::atomic<Chunk*>* dir = nullptr;  // kChunksPerType pointers, mapped lazily by the OS
  };

  PageEntry* CreateSlow(unsigned type, uint64_t offset);

  TypeSlot types_[kMaxTypes];
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_PAGE_INDEX_H_
