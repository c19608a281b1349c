// CompressedTier: pages compressed with LZ4 or zstd and packed, zsmalloc style, into 4 KiB frames
// of the tier's own memory (zram and zswap in user space).
//
// Memory. The tier's capacity is the memory it may use: one FrameArena of `capacity_bytes`,
// pre-faulted at open by default. A compressed page becomes an object of a size class (32-byte
// steps up to the rejection threshold; steps whose spans come out alike share a class). Objects of
// a class live in spans of k frames (k in 1..4, chosen per class to minimise tail waste); the k
// frames need not be adjacent, and an object may straddle a frame boundary (stored and loaded in
// pieces). No per-page malloc: frames, span ids and handle ids come from lock-free FrameAllocators,
// metadata tables are reserved once with mmap and touched only where used.
//
// Handles. A TierHandle indexes a table of packed 8-byte locations (span, slot, compressed size),
// so an object can move without its handle changing. Each object starts with its handle id, so
// that compaction can find the table entry of an object it moves.
//
// Rejection. A page that compresses to more than max_compressed_fraction x 4096 bytes is
// refused with kRejected (counted as reject_poor_compression): the codec is given only that much
// output room, so LZ4 gives up as soon as it runs past it. kNoSpace when no frame is left.
//
// Compaction. Frees leave spans partly empty. When a size class holds at least one span more
// than its objects need, compaction moves the objects of its emptiest spans into its fullest and
// returns the emptied spans' frames. A background thread owned by the tier runs a pass every
// ~10 ms when pages were freed since the last one (sooner after many frees); Compact() runs one
// pass now. After a full pass, mem_used_bytes exceeds compr_bytes only by size-class rounding,
// the 4-byte object header, and at most one partly filled span per class.
//
// Integrity and scrubbing (Tier): a checksum covers the uncompressed page and is verified after
// decompression, so it catches a corrupt object that still decompresses; with scrub_on_free an
// object's bytes are zeroed when its page is freed and when compaction moves it away.
//
// Thread-safety: as Tier (Do* hooks thread-safe for distinct handles), and Compact() and the
// statistics accessors may run concurrently with everything. Stores and frees take the size
// class's mutex only to pick and mark a slot (never across compression or the copy); compaction
// holds it while it empties one span. Loads take no class lock: they hold a per-span reader lock
// while decompressing, which compaction takes as writer before moving objects out of that span;
// a load that finds its entry moved retries.
// One deviation from Tier's contract: a load whose data fails to decompress (memory corruption;
// never in correct operation) returns kIoError after writing part of `page`.
#ifndef TIERSWAP_TIERS_COMPRESSED_TIER_H_
#define TIERSWAP_TIERS_COMPRESSED_TIER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "tiers/frame_allocator.h"
#include "tiers/frame_arena.h"
#include "tiers/mutex.h"
#include "tiers/result.h"
#include "tiers/sharded_counter.h"
#include "tiers/tier.h"

namespace tierswap {

enum class Codec : uint8_t { kLz4, kZstd };

constexpr const char* CodecName(Codec c) { return c == Codec::kLz4 ? "lz4" : "zstd"; }

struct CompressedTierOptions {
  std::string name = "compressed";
  Codec codec = Codec::kLz4;
  int level = 1;                           // zstd level (1..19); lz4: acceleration (1 = default)
  uint64_t capacity_bytes = 256ull << 20;  // backing memory the tier may use (frames)
  double max_compressed_fraction = 0.75;  // a page compressing to more than this x 4096 is rejected
  bool prefault = true;
  // Called on the backing arena after mapping, before prefault (e.g. to bind it to a NUMA node);
  // may be empty. Returns an error to fail the open.
  std::function<Result<void>(FrameArena&)> bind_backing;
  // The NUMA node bind_backing puts the memory on (-1: not bound), for the probe's HMAT lookup.
  int backing_node = -1;
  // Run the background compactor thread. Off: compaction happens only in Compact() (tests that
  // count what one pass does).
  bool background_compaction = true;
};

class CompressedTier final : public Tier {
 public:
  // Largest capacity: 2^25 - 1 frames (just under 128 GiB), so that one handle id per 32 bytes of
  // capacity fits the 32-bit id space.
  static constexpr uint64_t kMaxFrames = (uint64_t{1} << 25) - 1;
  static constexpr uint64_t kMinFrames = 4;

  static Result<std::unique_ptr<CompressedTier>> Open(const CompressedTierOptions& options);
  ~CompressedTier() override;

  Codec codec() const { return codec_; }
  int level() const { return level_; }
  int BoundNode() const override { return backing_node_; }
  // Compressed size above which a page is rejected, in bytes.
  uint32_t reject_threshold_bytes() const { return threshold_; }

  // 4096 x pages held.
  uint64_t orig_bytes() const { return stats_.Sum(kOrigBytes); }
  // Sum of the compressed sizes of the pages held (codec output, without object headers).
  uint64_t compr_bytes() const { return stats_.Sum(kComprBytes); }
  // Bytes of frames held by spans: the memory the tier really uses for pages.
  uint64_t mem_used_bytes() const { return uint64_t{frames_.used()} * 4096; }
  uint64_t rejects_poor_compression() const { return stats_.Sum(kRejectPoor); }
  uint64_t rejects_no_space() const { return stats_.Sum(kRejectNoSpace); }
  uint64_t compactions() const { return compactions_.load(std::memory_order_relaxed); }
  uint64_t compaction_moved_objects() const { return moved_.load(std::memory_order_relaxed); }
  uint64_t compaction_freed_frames() const { return freed_frames_.load(std::memory_order_relaxed); }

  // Runs one compaction pass now (the background compactor calls this too); returns frames freed.
  size_t Compact() EXCLUDES(compact_mu_);

  // For tests that corrupt or inspect memory behind the tier's back. StoredBytes: the codec
  // output of a stored page in the tier's memory, and its length in *size; nullptr when the
  // handle holds no page or its bytes straddle two frames. Valid until the page is freed or
  // compaction moves it. arena(): all of the tier's page memory.
  unsigned char* StoredBytes(TierHandle handle, uint32_t* size) const;
  const FrameArena& arena() const { return arena_; }

 protected:
  Status DoStore(const void* page, TierHandle* handle) override;
  Status DoLoad(TierHandle handle, void* page) override;
  void DoFree(TierHandle handle) override;
  uint64_t DoCapacityBytes() const override { return arena_.bytes(); }
  uint64_t DoUsedBytes() const override { return mem_used_bytes(); }
  size_t DoMetadataBytes() const override;
  void DoExportStats(StatsSink& sink) const override;
  // Handles are ids into the handle table: dense, one per 32 bytes of capacity at most.
  uint64_t DoHandleSpace() const override { return handle_ids_.frames(); }

 private:
  struct Span;
  struct SizeClass;
  struct FreeShard;
  class Reservation;  // an anonymous mapping reserved whole and touched where used

  enum Counter : size_t { kOrigBytes, kComprBytes, kRejectPoor, kRejectNoSpace, kNumCounters };

  CompressedTier(const CompressedTierOptions& options, uint32_t threshold, FrameArena arena,
                 std::unique_ptr<Reservation> span_table,
                 std::unique_ptr<Reservation> handle_table);

  // Span bookkeeping; all REQUIRE the class's mutex (annotated at the definitions, where
  // SizeClass is complete).
  uint32_t NewSpan(SizeClass& cls);
  void FreeSpan(SizeClass& cls, uint32_t span_id);
  void Link(SizeClass& cls, uint32_t span_id);
  void Unlink(SizeClass& cls, uint32_t span_id);
  uint32_t TakeSlot(SizeClass& cls, uint32_t span_id);
  // Clears `slot`; frees the span when it becomes empty.
  void ReleaseSlot(SizeClass& cls, uint32_t span_id, uint32_t slot);

  // Copies bytes between a span's (virtually contiguous) object space and a flat buffer.
  void CopyFromSpan(const Span& span, uint32_t offset, void* dst, uint32_t len) const;
  void CopyToSpan(const Span& span, uint32_t offset, const void* src, uint32_t len) const;
  // Zeroes `len` bytes of a span's object space (scrub_on_free).
  void ZeroInSpan(const Span& span, uint32_t offset, uint32_t len) const;

  // Compacts one class: empties spans while the class holds a span more than it needs.
  // Returns frames freed.
  size_t CompactClass(SizeClass& cls) REQUIRES(compact_mu_);
  void CompactorLoop() EXCLUDES(wake_mu_, compact_mu_);

  Span& span(uint32_t id) const;
  std::atomic<uint64_t>& entry(uint32_t handle) const;
  void MarkHandlePageTouched(uint32_t handle);
  void MarkSpanPageTouched(uint32_t span_id);

  const Codec codec_;
  const int level_;
  const int backing_node_;
  const uint32_t threshold_;
  FrameArena arena_;
  FrameAllocator frames_;      // frames of arena_
  FrameAllocator span_ids_;    // ids into the span table (at most one span per frame)
  FrameAllocator handle_ids_;  // ids into the handle table (at most one object per 32 bytes)
  std::unique_ptr<Reservation> span_table_;
  std::unique_ptr<Reservation> handle_table_;
  std::unique_ptr<SizeClass[]> classes_;
  uint32_t num_classes_ = 0;
  std::unique_ptr<uint8_t[]> class_of_step_;  // object bytes / 32 (rounded up) - 1 -> class
  uint32_t num_steps_ = 0;
  ShardedCounters<kNumCounters> stats_;

  // Serialises compaction passes (Compact() and the background thread); makes the span writer
  // lock single-writer. Guards the contents of move_buf_ (clang 14 cannot annotate what a
  // unique_ptr points to: PT_GUARDED_BY takes raw pointers only).
  Mutex compact_mu_;
  std::unique_ptr<unsigned char[]> move_buf_;
  // Relaxed: statistics, ordered by nothing.
  std::atomic<uint64_t> compactions_{0}, moved_{0}, freed_frames_{0};

  // Background compactor: wakes every ~10 ms if pages were freed since its last pass, and at
  // once when a thread's count of frees crosses a multiple of a threshold. Frees are counted per
  // counter shard so that the free path does not bounce one cache line between CPUs.
  std::unique_ptr<FreeShard[]> free_shards_;
  uint64_t TotalFrees() const;
  Mutex wake_mu_;
  CondVar wake_cv_;
  bool stop_ GUARDED_BY(wake_mu_) = false;
  std::thread compactor_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_COMPRESSED_TIER_H_
