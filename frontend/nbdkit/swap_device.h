// SwapDevice: a block device whose 4 KiB pages live in tierswap or, when tierswap rejects them,
// in a backing file: the host side of a guest's swap disk (nbdkit-tierswap-plugin.so).
//
// Every page of the device has one home, kept in a byte per page: nowhere (reads as zeros),
// tierswap (swap type 0, offset = page number), the backing file (the device's byte offset plus
// kBackingDataOffset, after the file's header), or lost (a write failed halfway; reads fail with
// EIO until the page is written or trimmed again). Reads consult the home and nothing else, so a
// page is never read from the place it used to live: a page tierswap accepts is punched out of the
// backing file only to give the space back. A whole-page write offers the page to tierswap; a
// rejected page goes to the backing file (tierswap has dropped any old copy, and is told to again).
// Partial pages (the swap header, 512-byte probes) are read, modified and written back. Trim and
// write-zeroes drop whole pages; write-zeroes also zeroes the partial pages at its ends.
//
// Thread-safety: every method may be called concurrently. Pages are guarded by 1024 striped
// mutexes (page number modulo 1024), taken one page at a time, so concurrent requests on
// different pages never wait for each other and there is no device-wide lock on the data path.
// Requests are not atomic as a whole (NBD does not promise that either); each page is.
//
// Ownership: the device owns its tierswap handle and the backing file descriptor, both closed
// by the destructor. A named backing file stays on disk; without a name the device uses an
// unlinked temporary file, which disappears with the process. A named file is opened under
// OwnedFile's rules (tiers/owned_file.h): not through a symbolic link, owned by the caller with
// mode 0600, new or empty or an earlier device's backing file (recognised by its header, its old
// pages dropped), and locked while the device lives, so a second device on it is refused.
//
// Errors: Open returns a Result whose message names the parameter or file at fault. The data
// path returns 0 or an errno value (what nbdkit hands to the client) and leaves a sentence for
// the calling thread in LastError().
#ifndef TIERSWAP_FRONTEND_NBDKIT_SWAP_DEVICE_H_
#define TIERSWAP_FRONTEND_NBDKIT_SWAP_DEVICE_H_

#include <tierswap/tierswap.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "tiers/mutex.h"
#include "tiers/result.h"
#include "tiers/thread_annotations.h"

namespace tierswap {

struct SwapDeviceOptions {
  std::string config_path;   // tierswap TOML; "" = the built-in default config
  uint64_t size = 0;         // device size in bytes: a positive multiple of 4096
  std::string backing_path;  // "" = an unlinked temporary file in $TMPDIR (else /var/tmp)
};

// Event counts and current page counts of one device; see docs/guest-swap.md.
struct SwapDeviceCounters {
  uint64_t tierswap_pages = 0;        // gauge: pages whose home is tierswap
  uint64_t backing_pages = 0;         // gauge: pages whose home is the backing file
  uint64_t lost_pages = 0;            // gauge: pages whose last write failed
  uint64_t stores_accepted = 0;       // whole-page writes tierswap accepted
  uint64_t stores_rejected = 0;       // whole-page writes tierswap rejected (went to backing)
  uint64_t loads = 0;                 // page reads answered by tierswap
  uint64_t backing_reads = 0;         // page reads answered by the backing file
  uint64_t zero_reads = 0;            // page reads of pages that live nowhere (zeros)
  uint64_t partial_pages = 0;         // read-modify-writes of partial pages
  uint64_t trimmed_pages = 0;         // pages dropped by trim
  uint64_t zeroed_pages = 0;          // whole pages dropped by write-zeroes
  uint64_t backing_punches = 0;       // ranges punched out of the backing file
  uint64_t backing_punch_errors = 0;  // punches that failed (the space stays allocated)
  uint64_t io_errors = 0;             // requests that failed with an errno
};

class SwapDevice {
 public:
  static constexpr uint64_t kPageSize = TIERSWAP_PAGE_SIZE;
  // Where the device's bytes start in the backing file: its header (OwnedFile) comes first.
  static constexpr uint64_t kBackingDataOffset = 4096;

  // Opens the tierswap backend from options.config_path, initialises swap type 0 with
  // size / 4096 slots, and opens (or creates, sparse) the backing file. A backing file that
  // exists must be a regular file with no allocated blocks: the device starts empty, and
  // discarding what a non-empty file holds could destroy data that was never swap. The backend
  // must not be configured with exclusive loads: a block device's reads leave the data in place.
  static Result<std::unique_ptr<SwapDevice>> Open(const SwapDeviceOptions& options);

  ~SwapDevice();
  SwapDevice(const SwapDevice&) = delete;
  SwapDevice& operator=(const SwapDevice&) = delete;

  uint64_t size() const { return size_; }
  const std::string& backing_path() const { return backing_path_; }

  // Each returns 0 or an errno value: EINVAL for a range outside the device, EIO when a page
  // cannot be read back (tierswap failed, the page is lost, the backing file failed), or the
  // backing file's own errno (ENOSPC, say) when a rejected page could not be written there.
  int Read(void* buf, uint32_t count, uint64_t offset);
  int Write(const void* buf, uint32_t count, uint64_t offset);
  // Drops the whole pages inside the range (they read as zeros afterwards); partial pages at
  // the ends keep their contents, which NBD allows for trim.
  int Trim(uint32_t count, uint64_t offset);
  // The range reads as zeros afterwards: whole pages are dropped, partial ones rewritten.
  int Zero(uint32_t count, uint64_t offset);

  // A consistent snapshot per stripe (each stripe's lock is taken in turn).
  SwapDeviceCounters Counters() const;

  // {"device": {...counters, size and backing path...}, "tierswap": <tierswap_stats_json>}.
  Result<std::string> StatsJson() const;

  // The calling thread's message for its last failed data-path call ("" if none failed).
  static const char* LastError();

 private:
  enum class Home : uint8_t { kNowhere = 0, kTierswap, kBacking, kLost };
  static constexpr uint64_t kStripes = 1024;

  // One lock and the counters it guards; cache-line aligned so stripes do not share lines.
  // The lock also guards home_[page] of every page with page % kStripes == its index, which the
  // analysis cannot express; the *Locked functions below require it.
  struct alignas(64) Stripe {
    mutable Mutex mu;
    SwapDeviceCounters counters GUARDED_BY(mu);
  };

  SwapDevice(tierswap_t* ts, int backing_fd, uint64_t size, std::string backing_path,
             std::unique_ptr<Home[]> home, std::unique_ptr<Stripe[]> stripes);

  const char* BackingName() const;
  Stripe& StripeOf(uint64_t page) { return stripes_[page & (kStripes - 1)]; }

  // The *Locked functions take the page's stripe, whose lock the caller holds; they return 0 or
  // an errno value.
  int ReadPageLocked(uint64_t page, void* out, Stripe& s) REQUIRES(s.mu);
  int WritePageLocked(uint64_t page, const void* in, Stripe& s) REQUIRES(s.mu);
  void DropPageLocked(uint64_t page, Stripe& s) REQUIRES(s.mu);
  void SetHomeLocked(uint64_t page, Home home, Stripe& s) REQUIRES(s.mu);
  void PunchLocked(uint64_t page, Stripe& s) REQUIRES(s.mu);
  // Reads or rewrites part of one page: [in_page, in_page + len) with in_page + len <= 4096.
  int ReadPartial(uint64_t page, uint32_t in_page, uint32_t len, void* out);
  int WritePartial(uint64_t page, uint32_t in_page, uint32_t len, const void* in);
  int CheckRange(uint32_t count, uint64_t offset) const;
  // Splits [offset, offset + count) at page boundaries and calls fn(page, in_page, len) for each
  // piece in order (len == kPageSize for whole pages); stops at the first non-zero result.
  template <typename Fn>
  static int ForEachPiece(uint32_t count, uint64_t offset, Fn&& fn) {
    while (count > 0) {
      const uint64_t page = offset / kPageSize;
      const auto in_page = static_cast<uint32_t>(offset % kPageSize);
      const uint32_t len = std::min<uint32_t>(kPageSize - in_page, count);
      if (const int rc = fn(page, in_page, len); rc != 0) return rc;
      offset += len;
      count -= len;
    }
    return 0;
  }
  // Sets the calling thread's message; returns err.
  static int Fail(int err, const char* format, ...) __attribute__((format(printf, 2, 3)));
  // Counts an I/O error on the stripe; returns err.
  static int IoError(Stripe& s, int err) REQUIRES(s.mu);

  tierswap_t* ts_;
  const int backing_fd_;
  const uint64_t size_;
  const uint64_t pages_;
  const std::string backing_path_;
  std::unique_ptr<Home[]> home_;  // one per page, each guarded by its stripe's lock
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_NBDKIT_SWAP_DEVICE_H_
