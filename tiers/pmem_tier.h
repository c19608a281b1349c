// PmemTier: pages kept in 4 KiB frames of a libpmem2 mapping (persistent memory, or stand-ins).
//
// The mapping comes from one of four sources, chosen by `path`:
//  - "anon": anonymous memory (pmem2_source_from_anon); needs no pmem, for tests and laptops.
//  - a file on a DAX filesystem (ext4/xfs -o dax): stores go straight to the medium.
//  - a device-DAX character device (/dev/daxX.Y), mapped as is.
//  - an ordinary file: works, but libpmem2 can then only offer page granularity.
// A file or device is opened under OwnedFile's rules (tiers/owned_file.h): never through a
// symbolic link, in a directory nobody else can write to, owned by the caller with mode 0600,
// and locked for the tier's lifetime, so a second backend on the same pool is refused. A missing
// file is created (mode 0600) and allocated to the capacity; a file that exists must be empty or
// carry the header an earlier pool tier wrote (anything else is refused, never overwritten). The
// header takes the file's first 4 KiB, and the pool starts at kPmemPoolDataOffset (2 MiB), so
// that DAX can still map it with 2 MiB pages. A device-DAX device has no header (it is not
// created, only checked and locked); its pool starts at 0. The file stays after the tier closes:
// it is the user's configured path, and re-creating it at every open would cost a full
// allocation. Its contents are not reused: the tier keeps no index on the medium, so every open
// starts empty, like swap after a reboot.
//
// Granularity is libpmem2's "store granularity": what must be done for a store to be durable.
// "byte" (eADR, or anonymous memory: nothing), "cache_line" (DAX: flush CPU caches) or "page"
// (no DAX: msync). The tier asks for the weakest, page, so every medium maps, then reports
// what the mapping really offers.
//
// Durability (`persist`): false, the default, copies without flushing: a swap page need not
// outlive the process. true makes every accepted store durable before Store returns: a
// non-temporal copy without drain, then one drain; a page is the batch, so each store drains
// once. On a page-granularity mapping that durability is an msync per store: correct, only slow
// (a system call on the store path), so persist=true belongs on DAX.
//
// The hot path is decided at open: the copy function and its flags come from libpmem2 once, and
// Store is an allocation, one indirect call and, with persist, one drain. Load is a plain
// memcpy from the mapping.
//
// Bad blocks. At open the tier asks libpmem2 for the source's bad blocks (uncorrectable media
// errors; touching one through the mapping raises SIGBUS) and never uses, or prefaults, a frame
// that overlaps one: those frames are taken out of the capacity and reported as
// badblock_frames. libpmem2 cannot list bad blocks of anonymous memory, and reads them only
// through ndctl for DAX sources (an ordinary file reports none); where it cannot, the tier says
// so (badblocks_checked = 0) and opens anyway. A block that goes bad after open is not handled:
// a load from it raises SIGBUS in the loading thread (there is no SIGBUS-safe copy).
//
// scrub_on_free zeroes a freed frame with libpmem2's memset, flushed and drained like a store
// when persist is on, so the pool file keeps no freed page either.
//
// Thread-safety: as Tier.
#ifndef TIERSWAP_TIERS_PMEM_TIER_H_
#define TIERSWAP_TIERS_PMEM_TIER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tiers/frame_allocator.h"
#include "tiers/owned_file.h"
#include "tiers/page.h"
#include "tiers/result.h"
#include "tiers/tier.h"

struct pmem2_map;  // libpmem2's; the header stays free of libpmem2 so users need not have it.

namespace tierswap {

// Where the pool starts in a pool file: its header (OwnedFile) comes first.
inline constexpr uint64_t kPmemPoolDataOffset = uint64_t{2} << 20;

struct PmemTierOptions {
  std::string name = "pmem";
  // "anon"; a file on a DAX filesystem; a device-DAX character device (/dev/daxX.Y); or an
  // ordinary file (page granularity only). A missing file is created with mode 0600 and
  // allocated to capacity_bytes; an existing file must be empty (it is then allocated) or at
  // least capacity_bytes long (only the first capacity_bytes are used).
  std::string path = "anon";
  // Bytes of page frames; rounded down to a multiple of 4 KiB (for device DAX, to a multiple of
  // the device's alignment, usually 2 MiB). Must hold at least one page.
  uint64_t capacity_bytes = 256ull << 20;
  // true: every accepted store is durable before Store returns (see the file comment).
  bool persist = false;
  // Touch every frame at open so the first stores do not pay for page faults (on DAX, block
  // allocation under MAP_SYNC).
  bool prefault = true;
  // Byte ranges of the pool to treat as bad blocks besides those libpmem2 reports: a range known
  // bad by other means (and the tests' way to exercise the bad-block path without bad media).
  struct ByteRange {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::vector<ByteRange> retired_ranges;
};

class PmemTier final : public Tier {
 public:
  // Maps the pool. On failure nothing is left behind: a file this call created is removed, and
  // an empty file it allocated is truncated back to empty.
  static Result<std::unique_ptr<PmemTier>> Open(const PmemTierOptions& options);
  ~PmemTier() override;

  // "byte", "cache_line" or "page": the mapping's effective store granularity.
  const char* granularity() const;
  // The stores reach a DAX medium directly: granularity is not "page" and the path is not anon.
  bool is_dax() const;
  bool persist() const { return persist_; }
  const std::string& path() const { return path_; }
  // Frames never used because they overlap a bad block (or a retired range).
  uint64_t badblock_frames() const { return bad_frames_; }
  // Whether libpmem2 could list the source's bad blocks at open (false: anonymous memory, or
  // the query failed; see badblock_note()).
  bool badblocks_checked() const { return badblocks_checked_; }
  // What the bad-block query said, for the probe and the CLI: "" when it succeeded.
  const std::string& badblock_note() const { return badblock_note_; }
  // Address of the frame behind a handle: for tests that inspect the mapping.
  unsigned char* FrameAddress(TierHandle handle) const {
    return base_ + (size_t{static_cast<uint32_t>(handle)} << kPageShift);
  }
  unsigned char* DirectAddress(TierHandle handle) const override { return FrameAddress(handle); }

 protected:
  Status DoStore(const void* page, TierHandle* handle) override;
  Status DoLoad(TierHandle handle, void* page) override;
  void DoFree(TierHandle handle) override;
  // Bad frames are permanently allocated, so they count neither as capacity nor as use.
  uint64_t DoCapacityBytes() const override { return bytes_ - bad_frames_ * kPageSize; }
  uint64_t DoUsedBytes() const override {
    return (uint64_t{alloc_.used()} - bad_frames_) * kPageSize;
  }
  size_t DoMetadataBytes() const override { return alloc_.MetadataBytes(); }
  uint64_t DoHandleSpace() const override { return alloc_.frames(); }
  // path (text), granularity (text), persist (0/1), dax (0/1), badblock_frames,
  // badblocks_checked.
  void DoExportStats(StatsSink& sink) const override;

 private:
  // Same signatures as libpmem2's pmem2_memcpy_fn and pmem2_drain_fn.
  using CopyFn = void* (*)(void* dest, const void* src, size_t len, unsigned flags);
  using SetFn = void* (*)(void* dest, int c, size_t len, unsigned flags);
  using DrainFn = void (*)();

  struct Mapping {
    pmem2_map* map;
    unsigned char* base;
    uint64_t bytes;
    int granularity;  // enum pmem2_granularity
    CopyFn copy;
    SetFn set;
    DrainFn drain;
    std::vector<uint32_t> bad_frames;  // sorted, unique
    bool badblocks_checked;
    std::string badblock_note;
    OwnedFile file;  // not open for "anon"
  };

  PmemTier(const PmemTierOptions& options, Mapping&& mapping);

  const std::string path_;
  const bool persist_;
  pmem2_map* const map_;
  unsigned char* const base_;
  const uint64_t bytes_;
  const int granularity_;
  const CopyFn copy_;
  const SetFn set_;  // zeroes freed frames (scrub_on_free), with copy_flags_
  const unsigned copy_flags_;
  const DrainFn drain_;  // nullptr when stores need no drain (persist=false)
  FrameAllocator alloc_;
  const uint64_t bad_frames_;
  const bool badblocks_checked_;
  const std::string badblock_note_;
  // Closed after the destructor has unmapped the pool: the lock lasts as long as the mapping.
  OwnedFile file_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_PMEM_TIER_H_
