#include "placement/page_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "tiers/fault_injection.h"
#include "tiers/page.h"

namespace tierswap {
namespace {

constexpr size_t kDirBytes = PageIndex::kChunksPerType * sizeof(void*);

void* MapZeroed(size_t bytes, FaultSite site) {
  if (TIERSWAP_INJECT_FAULT(site)) return nullptr;
  // Anonymous mappings are zero-filled and only cost memory where touched.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

PageIndex::PageIndex() {
  for (auto& t : types_) {
    void* p = MapZeroed(kDirBytes, FaultSite::kMetadataAlloc);
    if (p == nullptr) {
      // The destructor does not run for a constructor that throws: unmap what was mapped.
      for (auto& mapped : types_) {
        if (mapped.dir != nullptr) munmap(mapped.dir, kDirBytes);
        mapped.dir = nullptr;
      }
      throw std::bad_alloc();
    }
    t.dir = static_cast<std::atomic<Chunk*>*>(p);
  }
}

PageIndex::~PageIndex() {
  for (auto& t : types_) {
    const uint64_t chunks = t.max_chunk.load(std::memory_order_relaxed);
    for (uint64_t ci = 0; ci < chunks; ++ci) {
      if (Chunk* c = t.dir[ci].load(std::memory_order_relaxed)) munmap(c, sizeof(Chunk));
    }
    munmap(t.dir, kDirBytes);
  }
}

void PageIndex::InitType(unsigned type, uint64_t nr_pages) {
  TypeSlot& t = types_[type];
  t.nr_pages.store(nr_pages, std::memory_order_relaxed);
  // The new epoch, initialised; seq_cst RMW (see BeginInvalidateArea). It also publishes
  // nr_pages to whoever reads the state.
  uint64_t s = t.state.load(std::memory_order_relaxed);
  while (!t.state.compare_exchange_weak(s, ((s >> 1) + 1) << 1 | 1, std::memory_order_seq_cst)) {
  }
}

uint64_t PageIndex::BeginInvalidateArea(unsigned type) {
  // A seq_cst RMW, then the caller's seq_cst Peek of each entry: a store that locked an entry
  // before this point is seen by the walk; one that locks it after sees the new state in its
  // re-check and does not publish. Either way no page of the old epoch survives.
  std::atomic<uint64_t>& state = types_[type].state;
  uint64_t s = state.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = ((s >> 1) + 1) << 1;  // new epoch, not initialised
  } while (!state.compare_exchange_weak(s, next, std::memory_order_seq_cst));
  return next;
}

PageEntry* PageIndex::CreateSlow(unsigned type, uint64_t offset) {
  TypeSlot& t = types_[type];
  const uint64_t ci = offset >> kChunkShift;
  void* p = MapZeroed(sizeof(Chunk), FaultSite::kIndexChunk);
  if (p == nullptr) return nullptr;
  // Zero bytes are valid empty, unlocked entries; no constructor needs to run.
  Chunk* fresh = static_cast<Chunk*>(p);
  Chunk* expected = nullptr;
  // seq_cst (see ForEachEntry); on failure, acquire the winner's chunk.
  if (!t.dir[ci].compare_exchange_strong(expected, fresh, std::memory_order_seq_cst,
                                         std::memory_order_acquire)) {
    munmap(p, sizeof(Chunk));
    return &expected->entries[offset & (kChunkEntries - 1)];
  }
  uint64_t m = t.max_chunk.load(std::memory_order_relaxed);
  while (m < ci + 1 && !t.max_chunk.compare_exchange_weak(m, ci + 1, std::memory_order_seq_cst,
                                                          std::memory_order_relaxed)) {
  }
  return &fresh->entries[offset & (kChunkEntries - 1)];
}

size_t PageIndex::MetadataBytes() const {
  // Resident memory, not mapped size: chunks and directories are mapped whole but only the pages
  // that hold used slots are ever touched, so a sparse swap area costs far less than 768 KiB a
  // chunk. mincore asks the kernel which pages are present (cold path: stats only).
  size_t bytes = 0;
  unsigned char vec[(sizeof(Chunk) + kPageSize - 1) / kPageSize];
  auto resident = [&vec](const void* addr, size_t len) -> size_t {
    const size_t pages = (len + kPageSize - 1) / kPageSize;
    if (pages > sizeof(vec) || mincore(const_cast<void*>(addr), len, vec) != 0) return len;
    size_t n = 0;
    for (size_t i = 0; i < pages; ++i) n += vec[i] & 1;
    return n * kPageSize;
  };
  for (const auto& t : types_) {
    const uint64_t chunks = t.max_chunk.load(std::memory_order_acquire);
    if (chunks == 0) continue;
    for (uint64_t ci = 0; ci < chunks; ++ci) {
      if (Chunk* c = t.dir[ci].load(std::memory_order_acquire)) bytes += resident(c, sizeof(Chunk));
    }
    // Directory pages holding the mapped chunks' pointers.
    const size_t dir_bytes = (chunks * sizeof(void*) + kPageSize - 1) / kPageSize * kPageSize;
    for (size_t off = 0; off < dir_bytes; off += sizeof(vec) * kPageSize) {
      bytes += resident(reinterpret_cast<const char*>(t.dir) + off,
                        std::min(dir_bytes - off, sizeof(vec) * kPageSize));
    }
  }
  return bytes;
}

}  // namespace tierswap
