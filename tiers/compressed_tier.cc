#include "tiers/compressed_tier.h"

#include <lz4.h>
#include <sys/mman.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "tiers/fault_injection.h"
#include "tiers/page.h"
#include "tiers/tier_capacity.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tierswap {
namespace {

constexpr uint32_t kClassStep = 32;     // size-class granularity, bytes
constexpr uint32_t kHeaderBytes = 4;    // each object starts with its handle id
constexpr uint32_t kMaxSpanFrames = 4;  // frames per span, at most
constexpr uint32_t kMaxSlots = 128;     // objects per span, at most (see the constructor)
constexpr uint32_t kGroups = 4;         // fullness groups of partly filled spans (quartiles)
constexpr uint32_t kNil = UINT32_MAX;   // "no span" in lists and lookups
constexpr uint8_t kNotListed = 0xFF;    // group of a full span (in no list)
constexpr uint32_t kFramesPerHandleSpace = kPageSize / kClassStep;  // handle ids per frame
constexpr auto kCompactInterval = std::chrono::milliseconds(10);
constexpr uint64_t kFreesPerWake = 256;  // per counter shard
constexpr int kSpinsBeforeYield = 128;

// A handle table entry: bit 63 valid, bits 40..52 compressed size, 32..39 slot, 0..31 span id.
constexpr uint64_t kValid = uint64_t{1} << 63;
constexpr uint64_t Pack(uint32_t span, uint32_t slot, uint32_t size) {
  return kValid | uint64_t{size} << 40 | uint64_t{slot} << 32 | span;
}
constexpr uint32_t SpanOf(uint64_t e) { return static_cast<uint32_t>(e); }
constexpr uint32_t SlotOf(uint64_t e) { return static_cast<uint32_t>(e >> 32) & 0xFF; }
constexpr uint32_t SizeOf(uint64_t e) { return static_cast<uint32_t>(e >> 40) & 0x1FFF; }
constexpr uint32_t StepOf(uint32_t object_bytes) { return (object_bytes - 1) / kClassStep; }

inline void CpuRelax(int* spins) {
  if (++*spins < kSpinsBeforeYield) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  } else {
    // Only under contention with compaction (a VM may preempt the compactor mid-move).
    *spins = 0;
    std::this_thread::yield();
  }
}

// Per-thread working memory, allocated on a thread's first store or load and freed at its exit:
// room for one object (compressed output plus header, or an object gathered from two frames),
// LZ4's state, and zstd's contexts (created on first zstd use; about 1 MiB for compression).
// On the heap, not in thread_local storage itself: a library's static TLS is reserved in every
// thread of the process, including the many that never swap.
struct ThreadScratch {
  alignas(64) unsigned char buf[kPageSize + 64];
  // LZ4's hash table: kept here rather than on the stack (16 KiB, which LZ4_compress_fast would
  // put on the caller's stack on every store).
  LZ4_stream_t lz4;
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;

  ThreadScratch() = default;
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
  ~ThreadScratch() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

// This thread's scratch; nullptr if it could not be allocated.
ThreadScratch* Scratch() {
  thread_local std::unique_ptr<ThreadScratch> scratch;
  if (scratch == nullptr && !TIERSWAP_INJECT_FAULT(FaultSite::kMetadataAlloc)) [[unlikely]] {
    scratch.reset(new (std::nothrow) ThreadScratch);
  }
  return scratch.get();
}

// Compresses the page into `dst`, giving the codec `room` bytes. Returns the size, 0 when it does
// not fit (the page compresses poorly), -1 on another codec failure (no memory for a context).
int Compress(Codec codec, int level, const void* page, unsigned char* dst, uint32_t room,
             ThreadScratch& t) {
  // Both codecs stop once their output would pass `room`, so a page that will be rejected costs
  // no more than compressing it (docs/benchmarks.md has the figures).
  if (codec == Codec::kLz4) {
    return LZ4_compress_fast_extState(&t.lz4, static_cast<const char*>(page),
                                      reinterpret_cast<char*>(dst), static_cast<int>(kPageSize),
                                      static_cast<int>(room), level);
  }
  if (t.cctx == nullptr &&
      (t.cctx = TIERSWAP_INJECT_FAULT(FaultSite::kMetadataAlloc) ? nullptr : ZSTD_createCCtx()) ==
          nullptr) {
    return -1;
  }
  const size_t r = ZSTD_compressCCtx(t.cctx, dst, room, page, kPageSize, level);
  if (ZSTD_isError(r)) return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? 0 : -1;
  return static_cast<int>(r);
}

// Decompresses `size` bytes into the 4 KiB page; true only if exactly 4096 bytes came out.
bool Decompress(Codec codec, const unsigned char* src, uint32_t size, void* page,
                ThreadScratch& t) {
  if (codec == Codec::kLz4) {
    return LZ4_decompress_safe(reinterpret_cast<const char*>(src), static_cast<char*>(page),
                               static_cast<int>(size),
                               static_cast<int>(kPageSize)) == static_cast<int>(kPageSize);
  }
  if (t.dctx == nullptr &&
      (t.dctx = TIERSWAP_INJECT_FAULT(FaultSite::kMetadataAlloc) ? nullptr : ZSTD_createDCtx()) ==
          nullptr) {
    return false;
  }
  const size_t r = ZSTD_decompressDCtx(t.dctx, page, kPageSize, src, size);
  return !ZSTD_isError(r) && r == kPageSize;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace

// One span: `slots` objects of its class, laid end to end over `frames` (not adjacent in the
// arena). Lives in the span table, which is never unmapped while the tier exists, so a load
// holding a stale span id can still take the span's lock and find out its entry moved.
struct alignas(kCacheLine) CompressedTier::Span {
  // Reader count (loads) in the low 31 bits, kWriter (compaction moving objects out) on top.
  std::atomic<uint32_t> rw;
  // Stores that took a slot here and are still copying into it, outside the class mutex.
  // Compaction does not move objects out of a span while this is non-zero.
  std::atomic<uint32_t> pending;
  // Everything below: written under the class mutex. frames and cls are fixed from NewSpan to
  // FreeSpan; loads read them only after confirming (under the reader lock) that their object is
  // in this span.
  uint32_t frames[kMaxSpanFrames];
  uint64_t used[kMaxSlots / 64];  // slot bitmap
  uint32_t prev, next;            // the class's list for `group`
  uint16_t inuse;
  uint8_t cls;
  uint8_t group;  // kNotListed when full

  static constexpr uint32_t kWriter = uint32_t{1} << 31;

  void ReadLock() {
    int spins = 0;
    for (;;) {
      // Acquire: pairs with WriteUnlock's release, so a move finished before we read.
      if ((rw.fetch_add(1, std::memory_order_acquire) & kWriter) == 0) return;
      rw.fetch_sub(1, std::memory_order_relaxed);
      while ((rw.load(std::memory_order_relaxed) & kWriter) != 0) CpuRelax(&spins);
    }
  }
  // Release: our reads of the object happen before a writer that sees the count drop.
  void ReadUnlock() { rw.fetch_sub(1, std::memory_order_release); }
  // Single writer (compaction holds compact_mu_). New readers back off once the bit is set.
  void WriteLock() {
    rw.fetch_or(kWriter, std::memory_order_acquire);
    int spins = 0;
    while ((rw.load(std::memory_order_acquire) & ~kWriter) != 0) CpuRelax(&spins);
  }
  void WriteUnlock() { rw.fetch_and(~kWriter, std::memory_order_release); }
};

struct alignas(kCacheLine) CompressedTier::SizeClass {
  Mutex mu;
  uint32_t size = 0;         // object bytes, a multiple of kClassStep
  uint32_t slots = 0;        // objects per span
  uint32_t span_frames = 0;  // frames per span
  uint32_t heads[kGroups] GUARDED_BY(mu) = {kNil, kNil, kNil, kNil};
  // Written under mu; read without it by Compact's quick "anything to do?" check.
  std::atomic<uint32_t> spans{0};
  std::atomic<uint32_t> objects{0};

  uint8_t GroupOf(uint32_t inuse) const {
    return inuse >= slots ? kNotListed : static_cast<uint8_t>(inuse * kGroups / slots);
  }
  // Spans beyond the fewest that could hold the class's objects.
  uint32_t WastedSpans() const {
    const uint32_t s = spans.load(std::memory_order_relaxed);
    const uint32_t need = (objects.load(std::memory_order_relaxed) + slots - 1) / slots;
    return s > need ? s - need : 0;
  }
};

struct alignas(kCacheLine) CompressedTier::FreeShard {
  std::atomic<uint64_t> frees{0};
};

// An anonymous mapping reserved at its worst-case size (MAP_NORESERVE) and touched only where
// used; remembers which 4 KiB pages it handed out so that metadata can be reported as resident
// bytes rather than reserved ones.
class CompressedTier::Reservation {
 public:
  static Result<std::unique_ptr<Reservation>> Make(uint64_t bytes, const std::string& what) {
    bytes = (bytes + kPageSize - 1) / kPageSize * kPageSize;
    void* p = TIERSWAP_INJECT_FAULT(FaultSite::kMetadataAlloc)
                  ? FailWithErrno(MAP_FAILED, ENOMEM)
                  : mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      return MakeError(Status::kNoMemory, what + ": cannot reserve " + std::to_string(bytes) +
                                              " bytes of metadata: " + strerror(err));
    }
    // Keep 4 KiB pages, so that touched pages are what is resident.
    (void)madvise(p, bytes, MADV_NOHUGEPAGE);
    return std::unique_ptr<Reservation>(new Reservation(static_cast<unsigned char*>(p), bytes));
  }
  ~Reservation() { munmap(base_, bytes_); }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  unsigned char* base() const { return base_; }

  // Notes that the page holding byte `offset` is in use. Relaxed: a statistic.
  void MarkTouched(uint64_t offset) {
    const uint64_t page = offset >> kPageShift;
    auto& word = touched_[page / 64];
    const uint64_t bit = uint64_t{1} << (page % 64);
    if ((word.load(std::memory_order_relaxed) & bit) == 0) {
      word.fetch_or(bit, std::memory_order_relaxed);
    }
  }
  // Resident bytes (pages ever touched) plus the bitmap that tracks them.
  uint64_t TouchedBytes() const {
    uint64_t pages = 0;
    for (size_t w = 0; w < words_; ++w) {
      pages += std::popcount(touched_[w].load(std::memory_order_relaxed));
    }
    return pages * kPageSize + words_ * sizeof(uint64_t);
  }

 private:
  Reservation(unsigned char* base, uint64_t bytes)
      : base_(base),
        bytes_(bytes),
        words_((bytes / kPageSize + 63) / 64),
        touched_(new std::atomic<uint64_t>[words_]) {
    for (size_t w = 0; w < words_; ++w) touched_[w].store(0, std::memory_order_relaxed);
  }

  unsigned char* const base_;
  const uint64_t bytes_;
  const size_t words_;
  std::unique_ptr<std::atomic<uint64_t>[]> touched_;
};

// ---- open and close ----------------------------------------------------------------------------

Result<std::unique_ptr<CompressedTier>> CompressedTier::Open(const CompressedTierOptions& options) {
  const std::string what = "tier '" + options.name + "'";
  Result<uint64_t> capacity =
      CheckTierCapacity(TierKind::kCompressed, options.capacity_bytes, what);
  if (!capacity) return capacity.take_error();
  const uint64_t frames = *capacity / kPageSize;
  if (options.codec == Codec::kZstd && (options.level < 1 || options.level > 19)) {
    return MakeError(Status::kInvalidArgument,
                     what + ": zstd level " + std::to_string(options.level) + " is outside 1..19.");
  }
  if (options.codec == Codec::kLz4 && (options.level < 1 || options.level > 65537)) {
    return MakeError(Status::kInvalidArgument, what + ": lz4 acceleration (level) " +
                                                   std::to_string(options.level) +
                                                   " is outside 1..65537.");
  }
  // Written so that NaN fails too.
  if (!(options.max_compressed_fraction > 0.0 && options.max_compressed_fraction <= 1.0)) {
    return MakeError(Status::kInvalidArgument, what + ": max_compressed_fraction " +
                                                   FormatDouble(options.max_compressed_fraction) +
                                                   " is outside (0, 1].");
  }
  const auto threshold = static_cast<uint32_t>(options.max_compressed_fraction * double(kPageSize));

  auto arena = FrameArena::Map(frames * kPageSize, /*prefault=*/false, what);
  if (!arena) return arena.take_error();
  if (options.bind_backing) {
    auto bound = options.bind_backing(*arena);
    if (!bound) return bound.take_error();
  }
  if (options.prefault) arena->Prefault();

  // Worst cases: one span per frame; one object (so one handle) per kClassStep bytes.
  auto span_table = Reservation::Make(frames * sizeof(Span), what);
  if (!span_table) return span_table.take_error();
  auto handle_table = Reservation::Make(frames * kFramesPerHandleSpace * sizeof(uint64_t), what);
  if (!handle_table) return handle_table.take_error();

  std::unique_ptr<CompressedTier> tier(
      new CompressedTier(options, threshold, std::move(arena).value(),
                         std::move(span_table).value(), std::move(handle_table).value()));
  if (options.background_compaction) {
    // std::thread reports a failure to start by throwing; a tier reports it as an error.
    try {
      if (TIERSWAP_INJECT_FAULT(FaultSite::kThreadStart)) ThrowThreadStartFailure();
      tier->compactor_ = std::thread([t = tier.get()] { t->CompactorLoop(); });
    } catch (const std::system_error& e) {
      return MakeError(Status::kNoMemory,
                       what + ": cannot start the compaction thread: " + e.what());
    }
  }
  return tier;
}

CompressedTier::CompressedTier(const CompressedTierOptions& options, uint32_t threshold,
                               FrameArena arena, std::unique_ptr<Reservation> span_table,
                               std::unique_ptr<Reservation> handle_table)
    : Tier(options.name, TierKind::kCompressed),
      codec_(options.codec),
      level_(options.level),
      backing_node_(options.backing_node),
      threshold_(threshold),
      arena_(std::move(arena)),
      frames_(static_cast<uint32_t>(arena_.bytes() >> kPageShift)),
      span_ids_(static_cast<uint32_t>(arena_.bytes() >> kPageShift)),
      handle_ids_(static_cast<uint32_t>((arena_.bytes() >> kPageShift) * kFramesPerHandleSpace)),
      span_table_(std::move(span_table)),
      handle_table_(std::move(handle_table)),
      move_buf_(new unsigned char[kPageSize + 64]),
      free_shards_(new FreeShard[kCounterShards]) {
  static_assert(sizeof(Span) == kCacheLine, "one span per cache line: loads bounce only it");
  // Size classes in kClassStep steps cover objects up to the largest accepted page plus its
  // header. Consecutive steps whose spans would have the same frames and slot count share one
  // class (zsmalloc merges classes the same way): the larger size costs no extra memory there,
  // and every class that exists may hold a partly empty span, so fewer classes waste less.
  num_steps_ = StepOf(threshold_ + kHeaderBytes) + 1;
  class_of_step_.reset(new uint8_t[num_steps_]);
  std::vector<std::pair<uint32_t, uint32_t>> shapes;  // (span frames, slots) per class
  std::vector<uint32_t> sizes;
  for (uint32_t i = 0; i < num_steps_; ++i) {
    const uint32_t size = (i + 1) * kClassStep;
    // Fewest frames per span that minimise the tail left after the last whole object
    // (zsmalloc's get_pages_per_zspage). An object may be larger than a frame when the fraction
    // is 1, so a span must hold at least one.
    uint32_t best_k = 0;
    uint64_t best_waste = 0;
    for (uint32_t k = 1; k <= kMaxSpanFrames; ++k) {
      const uint64_t bytes = uint64_t{k} * kPageSize;
      if (bytes < size) continue;
      const uint64_t waste = bytes % size;
      // waste/bytes < best_waste/best_bytes, cross-multiplied.
      if (best_k == 0 || waste * (uint64_t{best_k} * kPageSize) < best_waste * bytes) {
        best_k = k;
        best_waste = waste;
      }
    }
    const std::pair<uint32_t, uint32_t> shape(best_k,
                                              uint32_t(uint64_t{best_k} * kPageSize / size));
    if (shapes.empty() || shapes.back() != shape) {
      shapes.push_back(shape);
      sizes.push_back(size);
    } else {
      sizes.back() = size;
    }
    class_of_step_[i] = static_cast<uint8_t>(shapes.size() - 1);
  }
  num_classes_ = static_cast<uint32_t>(shapes.size());
  classes_.reset(new SizeClass[num_classes_]);
  for (uint32_t c = 0; c < num_classes_; ++c) {
    classes_[c].size = sizes[c];
    classes_[c].span_frames = shapes[c].first;
    classes_[c].slots = shapes[c].second;
    // 32 and 64 bytes take one frame (128 and 64 slots); from 96 bytes up, k <= size / 32.
    assert(classes_[c].slots >= 1 && classes_[c].slots <= kMaxSlots);
  }
}

CompressedTier::~CompressedTier() {
  if (compactor_.joinable()) {
    {
      MutexLock lock(&wake_mu_);
      stop_ = true;
    }
    wake_cv_.SignalAll();
    compactor_.join();
  }
}

// ---- tables ------------------------------------------------------------------------------------

CompressedTier::Span& CompressedTier::span(uint32_t id) const {
  // The table is zero-filled anonymous memory: a never-used span reads as unlocked and empty.
  return reinterpret_cast<Span*>(span_table_->base())[id];
}

std::atomic<uint64_t>& CompressedTier::entry(uint32_t handle) const {
  return reinterpret_cast<std::atomic<uint64_t>*>(handle_table_->base())[handle];
}

void CompressedTier::MarkHandlePageTouched(uint32_t handle) {
  handle_table_->MarkTouched(uint64_t{handle} * sizeof(uint64_t));
}

void CompressedTier::MarkSpanPageTouched(uint32_t span_id) {
  span_table_->MarkTouched(uint64_t{span_id} * sizeof(Span));
}

// ---- spans (all under the class mutex) ---------------------------------------------------------

uint32_t CompressedTier::NewSpan(SizeClass& cls) REQUIRES(cls.mu) {
  // A new span takes span_frames frames at once. The base class's check of a lowered limit
  // (SetLimit) allows for one page; a span must fit under the limit whole, or the tier would
  // hold more than its runtime capacity (found by api_ops_fuzzer).
  if (used_bytes() + uint64_t{cls.span_frames} * kPageSize > limit_bytes()) return kNil;
  const uint32_t id = TIERSWAP_INJECT_FAULT(FaultSite::kCompressedSpace) ? FrameAllocator::kNoFrame
                                                                         : span_ids_.Allocate();
  if (id == FrameAllocator::kNoFrame) return kNil;
  Span& s = span(id);
  for (uint32_t i = 0; i < cls.span_frames; ++i) {
    const uint32_t f = TIERSWAP_INJECT_FAULT(FaultSite::kCompressedSpace) ? FrameAllocator::kNoFrame
                                                                          : frames_.Allocate();
    if (f == FrameAllocator::kNoFrame) {
      while (i-- > 0) frames_.Free(s.frames[i]);
      span_ids_.Free(id);
      return kNil;
    }
    s.frames[i] = f;
  }
  MarkSpanPageTouched(id);
  for (auto& w : s.used) w = 0;
  s.prev = s.next = kNil;
  s.inuse = 0;
  s.cls = static_cast<uint8_t>(&cls - classes_.get());
  s.group = kNotListed;
  cls.spans.store(cls.spans.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return id;
}

void CompressedTier::FreeSpan(SizeClass& cls, uint32_t span_id) REQUIRES(cls.mu) {
  Span& s = span(span_id);
  assert(s.inuse == 0 && s.group == kNotListed);
  for (uint32_t i = 0; i < cls.span_frames; ++i) frames_.Free(s.frames[i]);
  cls.spans.store(cls.spans.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  span_ids_.Free(span_id);
}

void CompressedTier::Link(SizeClass& cls, uint32_t span_id) REQUIRES(cls.mu) {
  Span& s = span(span_id);
  s.group = cls.GroupOf(s.inuse);
  if (s.group == kNotListed) return;
  s.prev = kNil;
  s.next = cls.heads[s.group];
  if (s.next != kNil) span(s.next).prev = span_id;
  cls.heads[s.group] = span_id;
}

void CompressedTier::Unlink(SizeClass& cls, uint32_t span_id) REQUIRES(cls.mu) {
  Span& s = span(span_id);
  if (s.group == kNotListed) return;
  if (s.prev != kNil) {
    span(s.prev).next = s.next;
  } else {
    cls.heads[s.group] = s.next;
  }
  if (s.next != kNil) span(s.next).prev = s.prev;
  s.prev = s.next = kNil;
  s.group = kNotListed;
}

uint32_t CompressedTier::TakeSlot(SizeClass& cls, uint32_t span_id) REQUIRES(cls.mu) {
  Span& s = span(span_id);
  Unlink(cls, span_id);
  uint32_t slot = 0;
  for (uint32_t w = 0; w < kMaxSlots / 64; ++w) {
    if (s.used[w] != ~uint64_t{0}) {
      slot = w * 64 + static_cast<uint32_t>(std::countr_one(s.used[w]));
      break;
    }
  }
  assert(slot < cls.slots);
  s.used[slot / 64] |= uint64_t{1} << (slot % 64);
  ++s.inuse;
  cls.objects.store(cls.objects.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  Link(cls, span_id);
  return slot;
}

void CompressedTier::ReleaseSlot(SizeClass& cls, uint32_t span_id, uint32_t slot) REQUIRES(cls.mu) {
  Span& s = span(span_id);
  Unlink(cls, span_id);
  assert((s.used[slot / 64] >> (slot % 64) & 1) != 0);
  s.used[slot / 64] &= ~(uint64_t{1} << (slot % 64));
  --s.inuse;
  cls.objects.store(cls.objects.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  // No load can be reading an empty span's frames: a load reads a span only after seeing its
  // own (live) object there under the reader lock.
  if (s.inuse == 0) {
    FreeSpan(cls, span_id);
  } else {
    Link(cls, span_id);
  }
}

void CompressedTier::CopyFromSpan(const Span& s, uint32_t offset, void* dst, uint32_t len) const {
  auto* out = static_cast<unsigned char*>(dst);
  while (len > 0) {
    const uint32_t in = offset & (kPageSize - 1);
    const uint32_t n = std::min<uint32_t>(len, kPageSize - in);
    std::memcpy(out, arena_.frame(s.frames[offset >> kPageShift]) + in, n);
    out += n;
    offset += n;
    len -= n;
  }
}

void CompressedTier::ZeroInSpan(const Span& s, uint32_t offset, uint32_t len) const {
  while (len > 0) {
    const uint32_t in = offset & (kPageSize - 1);
    const uint32_t n = std::min<uint32_t>(len, kPageSize - in);
    std::memset(arena_.frame(s.frames[offset >> kPageShift]) + in, 0, n);
    offset += n;
    len -= n;
  }
}

unsigned char* CompressedTier::StoredBytes(TierHandle handle, uint32_t* size) const {
  if (handle >= handle_ids_.frames()) return nullptr;
  const uint64_t e = entry(static_cast<uint32_t>(handle)).load(std::memory_order_acquire);
  if ((e & kValid) == 0) return nullptr;
  const Span& s = span(SpanOf(e));
  const uint32_t offset = SlotOf(e) * classes_[s.cls].size + kHeaderBytes;
  if ((offset & (kPageSize - 1)) + SizeOf(e) > kPageSize) return nullptr;  // straddles frames
  *size = SizeOf(e);
  return arena_.frame(s.frames[offset >> kPageShift]) + (offset & (kPageSize - 1));
}

void CompressedTier::CopyToSpan(const Span& s, uint32_t offset, const void* src,
                                uint32_t len) const {
  const auto* in_bytes = static_cast<const unsigned char*>(src);
  while (len > 0) {
    const uint32_t in = offset & (kPageSize - 1);
    const uint32_t n = std::min<uint32_t>(len, kPageSize - in);
    std::memcpy(arena_.frame(s.frames[offset >> kPageShift]) + in, in_bytes, n);
    in_bytes += n;
    offset += n;
    len -= n;
  }
}

// ---- store, load, free -------------------------------------------------------------------------

Status CompressedTier::DoStore(const void* page, TierHandle* handle) {
  ThreadScratch* const t = Scratch();
  if (t == nullptr) return Status::kNoMemory;
  unsigned char* const obj = t->buf;
  const int size = TIERSWAP_INJECT_FAULT(FaultSite::kCompress)
                       ? -1
                       : Compress(codec_, level_, page, obj + kHeaderBytes, threshold_, *t);
  if (size == 0) {
    stats_.Add(kRejectPoor);
    return Status::kRejected;
  }
  if (size < 0) return Status::kNoMemory;
  const uint32_t obj_bytes = static_cast<uint32_t>(size) + kHeaderBytes;
  SizeClass& cls = classes_[class_of_step_[StepOf(obj_bytes)]];

  const uint32_t h = TIERSWAP_INJECT_FAULT(FaultSite::kCompressedSpace) ? FrameAllocator::kNoFrame
                                                                        : handle_ids_.Allocate();
  if (h == FrameAllocator::kNoFrame) {  // unreachable: frames run out first
    stats_.Add(kRejectNoSpace);
    return Status::kNoSpace;
  }
  MarkHandlePageTouched(h);
  std::memcpy(obj, &h, kHeaderBytes);

  uint32_t span_id = kNil;
  uint32_t slot = 0;
  {
    MutexLock lock(&cls.mu);
    // The fullest partly filled span first: keeps spans dense, so fewer need compacting.
    for (uint32_t g = kGroups; g-- > 0 && span_id == kNil;) span_id = cls.heads[g];
    if (span_id == kNil) span_id = NewSpan(cls);
    if (span_id != kNil) {
      slot = TakeSlot(cls, span_id);
      // Relaxed: ordered by the mutex against compaction's check, which also holds it.
      span(span_id).pending.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (span_id == kNil) {
    handle_ids_.Free(h);
    stats_.Add(kRejectNoSpace);
    return Status::kNoSpace;
  }
  // Outside the mutex: the slot is ours, and compaction leaves a span with pending stores alone.
  Span& s = span(span_id);
  CopyToSpan(s, slot * cls.size, obj, obj_bytes);
  entry(h).store(Pack(span_id, slot, static_cast<uint32_t>(size)), std::memory_order_release);
  // Release: compaction moves objects out of this span only after seeing pending == 0
  // (acquire), so the copy and the entry above happen before it reads them.
  s.pending.fetch_sub(1, std::memory_order_release);

  stats_.Add(kOrigBytes, kPageSize);
  stats_.Add(kComprBytes, static_cast<uint64_t>(size));
  *handle = h;
  return Status::kOk;
}

Status CompressedTier::DoLoad(TierHandle handle, void* page) {
  if (handle >= handle_ids_.frames()) return Status::kNotFound;
  ThreadScratch* const t = Scratch();
  if (t == nullptr) return Status::kNoMemory;
  std::atomic<uint64_t>& slot_entry = entry(static_cast<uint32_t>(handle));
  uint64_t e;
  Span* s;
  for (;;) {
    // Acquire: pairs with the store's or the compactor's release of this entry, so the object
    // (and its span's frames) are visible.
    e = slot_entry.load(std::memory_order_acquire);
    if ((e & kValid) == 0) return Status::kNotFound;
    s = &span(SpanOf(e));
    s->ReadLock();
    // Under the reader lock the object cannot leave this span; if the entry still names it,
    // the object is here now. Otherwise compaction moved it while we were getting here.
    if (slot_entry.load(std::memory_order_acquire) == e) break;
    s->ReadUnlock();
  }
  const SizeClass& cls = classes_[s->cls];
  const uint32_t size = SizeOf(e);
  const uint32_t offset = SlotOf(e) * cls.size + kHeaderBytes;
  const uint32_t in = offset & (kPageSize - 1);
  const unsigned char* src;
  if (in + size <= kPageSize) {
    src = arena_.frame(s->frames[offset >> kPageShift]) + in;
  } else {
    CopyFromSpan(*s, offset, t->buf, size);  // straddles frames: gather first
    src = t->buf;
  }
  const bool ok =
      !TIERSWAP_INJECT_FAULT(FaultSite::kDecompress) && Decompress(codec_, src, size, page, *t);
  s->ReadUnlock();
  return ok ? Status::kOk : Status::kIoError;
}

void CompressedTier::DoFree(TierHandle handle) {
  assert(handle < handle_ids_.frames() && "free of a handle this tier never gave out");
  if (handle >= handle_ids_.frames()) return;
  const auto h = static_cast<uint32_t>(handle);
  std::atomic<uint64_t>& slot_entry = entry(h);
  // Relaxed: only the size is used, and it never changes while the handle lives (a move keeps
  // it); the caller's own ordering makes the store that set it visible.
  const uint64_t first = slot_entry.load(std::memory_order_relaxed);
  assert((first & kValid) != 0 && "free of a handle that is not stored");
  if ((first & kValid) == 0) return;
  const uint32_t size = SizeOf(first);
  SizeClass& cls = classes_[class_of_step_[StepOf(size + kHeaderBytes)]];
  {
    MutexLock lock(&cls.mu);
    // Stable now: compaction moves objects of this class only under this mutex.
    const uint64_t e = slot_entry.load(std::memory_order_relaxed);
    slot_entry.store(0, std::memory_order_relaxed);
    // Before the slot is released (and its span perhaps freed): after that, another store
    // may own these bytes.
    if (scrub_on_free()) ZeroInSpan(span(SpanOf(e)), SlotOf(e) * cls.size, size + kHeaderBytes);
    ReleaseSlot(cls, SpanOf(e), SlotOf(e));
  }
  handle_ids_.Free(h);
  stats_.Sub(kOrigBytes, kPageSize);
  stats_.Sub(kComprBytes, size);
  // Relaxed: a trigger, not a synchronisation; the compactor re-reads everything under locks.
  const uint64_t n =
      free_shards_[ThisThreadShard()].frees.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n % kFreesPerWake == 0) wake_cv_.Signal();
}

// ---- compaction --------------------------------------------------------------------------------

size_t CompressedTier::Compact() {
  MutexLock lock(&compact_mu_);
  size_t freed = 0;
  for (uint32_t i = 0; i < num_classes_; ++i) {
    if (classes_[i].WastedSpans() > 0) freed += CompactClass(classes_[i]);
  }
  compactions_.fetch_add(1, std::memory_order_relaxed);
  freed_frames_.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

size_t CompressedTier::CompactClass(SizeClass& cls) {
  size_t freed = 0;
  // One source span per round, each round under the class mutex: stores and frees of this
  // class wait at most for one span's objects to move.
  for (;;) {
    MutexLock lock(&cls.mu);
    if (cls.WastedSpans() == 0) return freed;
    // Source: the emptiest span that no store is still writing into. Acquire on pending pairs
    // with the store's release, making its object and entry visible here.
    uint32_t src = kNil;
    for (uint32_t g = 0; g < kGroups && src == kNil; ++g) {
      for (uint32_t id = cls.heads[g]; id != kNil; id = span(id).next) {
        if (span(id).pending.load(std::memory_order_acquire) == 0) {
          src = id;
          break;
        }
      }
    }
    if (src == kNil) return freed;
    Span& s = span(src);
    Unlink(cls, src);  // never its own destination
    s.WriteLock();     // waits for loads reading from it; later loads wait for us
    uint64_t moved = 0;
    for (uint32_t w = 0; w < kMaxSlots / 64; ++w) {
      while (s.used[w] != 0) {
        // Destination: the fullest partly filled span. "Wasted >= 1" guarantees the other
        // spans have room for all of the source's objects.
        uint32_t dst = kNil;
        for (uint32_t g = kGroups; g-- > 0 && dst == kNil;) dst = cls.heads[g];
        if (dst == kNil) break;
        const uint32_t slot = w * 64 + static_cast<uint32_t>(std::countr_zero(s.used[w]));
        uint32_t h;
        CopyFromSpan(s, slot * cls.size, &h, kHeaderBytes);
        std::atomic<uint64_t>& slot_entry = entry(h);
        const uint64_t e = slot_entry.load(std::memory_order_relaxed);
        assert(e == Pack(src, slot, SizeOf(e)));
        const uint32_t bytes = SizeOf(e) + kHeaderBytes;
        CopyFromSpan(s, slot * cls.size, move_buf_.get(), bytes);
        const uint32_t dslot = TakeSlot(cls, dst);
        CopyToSpan(span(dst), dslot * cls.size, move_buf_.get(), bytes);
        // Release: a load that sees the new entry sees the copied object.
        slot_entry.store(Pack(dst, dslot, SizeOf(e)), std::memory_order_release);
        // The object has moved away: its old bytes are freed memory like any other. No load
        // reads them (we hold the span's writer lock, and the entry names the new place).
        if (scrub_on_free()) ZeroInSpan(s, slot * cls.size, bytes);
        s.used[w] &= ~(uint64_t{1} << (slot % 64));
        --s.inuse;
        cls.objects.store(cls.objects.load(std::memory_order_relaxed) - 1,
                          std::memory_order_relaxed);
        ++moved;
      }
    }
    s.WriteUnlock();
    moved_.fetch_add(moved, std::memory_order_relaxed);
    if (s.inuse != 0) {  // no room left after all (cannot happen while Wasted >= 1)
      Link(cls, src);
      return freed;
    }
    FreeSpan(cls, src);
    freed += cls.span_frames;
  }
}

uint64_t CompressedTier::TotalFrees() const {
  uint64_t total = 0;
  for (size_t i = 0; i < kCounterShards; ++i) {
    total += free_shards_[i].frees.load(std::memory_order_relaxed);
  }
  return total;
}

void CompressedTier::CompactorLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      // One wait per interval; a Signal (many frees) ends it early. A spurious wake-up only
      // makes one pass come early.
      MutexLock lock(&wake_mu_);
      if (!stop_) wake_cv_.WaitUntil(&wake_mu_, CondVar::Clock::now() + kCompactInterval);
      if (stop_) return;
    }
    const uint64_t frees = TotalFrees();
    if (frees == seen) continue;  // nothing freed, nothing to compact
    seen = frees;
    Compact();
  }
}

// ---- statistics --------------------------------------------------------------------------------

size_t CompressedTier::DoMetadataBytes() const {
  return frames_.MetadataBytes() + span_ids_.MetadataBytes() + handle_ids_.MetadataBytes() +
         span_table_->TouchedBytes() + handle_table_->TouchedBytes() +
         num_classes_ * sizeof(SizeClass) + num_steps_ + kCounterShards * sizeof(FreeShard) +
         decltype(stats_)::MemoryBytes();
}

void CompressedTier::DoExportStats(StatsSink& sink) const {
  const uint64_t orig = orig_bytes();
  const uint64_t compr = compr_bytes();
  sink.Text("codec", CodecName(codec_));
  sink.Gauge("level", static_cast<uint64_t>(level_));
  sink.Gauge("reject_threshold_bytes", threshold_);
  sink.Gauge("orig_bytes", orig);
  sink.Gauge("compr_bytes", compr);
  sink.Gauge("mem_used_bytes", mem_used_bytes());
  // 0 while the tier holds nothing.
  sink.Real("compression_ratio", compr == 0 ? 0.0 : double(orig) / double(compr));
  sink.Counter("reject_poor_compression", rejects_poor_compression());
  sink.Counter("reject_no_space", rejects_no_space());
  sink.Counter("compactions", compactions());
  sink.Counter("compaction_moved_objects", compaction_moved_objects());
  sink.Counter("compaction_freed_frames", compaction_freed_frames());
}

}  // namespace tierswap
