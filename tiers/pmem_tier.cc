#include "tiers/pmem_tier.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "tiers/fault_injection.h"
#include "tiers/frame_tier.h"
#include "tiers/owned_file.h"
#include "tiers/tier_capacity.h"

namespace tierswap {
namespace {

constexpr const char* kAnonPath = "anon";

struct SourceDeleter {
  void operator()(pmem2_source* s) const { pmem2_source_delete(&s); }
};
struct ConfigDeleter {
  void operator()(pmem2_config* c) const { pmem2_config_delete(&c); }
};
struct MapDeleter {
  void operator()(pmem2_map* m) const { pmem2_map_delete(&m); }
};
using SourcePtr = std::unique_ptr<pmem2_source, SourceDeleter>;
using ConfigPtr = std::unique_ptr<pmem2_config, ConfigDeleter>;
using MapPtr = std::unique_ptr<pmem2_map, MapDeleter>;

// Names for the libpmem2 codes an open can meet.
const char* Pmem2CodeName(int rc) {
  switch (rc) {
    case PMEM2_E_NOSUPP:
      return "not supported";
    case PMEM2_E_INVALID_FILE_HANDLE:
      return "invalid file handle";
    case PMEM2_E_INVALID_FILE_TYPE:
      return "invalid file type";
    case PMEM2_E_MAP_RANGE:
      return "mapping outside the file";
    case PMEM2_E_GRANULARITY_NOT_SUPPORTED:
      return "granularity not supported";
    case PMEM2_E_LENGTH_UNALIGNED:
      return "length not aligned";
    case PMEM2_E_LENGTH_OUT_OF_RANGE:
      return "length out of range";
    case PMEM2_E_SOURCE_EMPTY:
      return "empty source";
    case PMEM2_E_NO_ACCESS:
      return "no access";
    default:
      return "unknown";
  }
}

// libpmem2's own text for the failed call `rc`. Some failures (a character device that is not
// device DAX) leave no text, so the code and its meaning always follow. Codes above
// PMEM2_E_UNKNOWN are negated errno values (pmem2_err_to_errno is declared in 1.12 but not
// exported, hence the decoding here).
std::string Pmem2Reason(int rc) {
  const char* msg = pmem2_errormsg();
  const std::string reason = msg != nullptr ? msg : "";
  const std::string meaning =
      rc < 0 && rc > PMEM2_E_UNKNOWN ? std::strerror(-rc) : Pmem2CodeName(rc);
  const std::string code = "libpmem2 error " + std::to_string(rc) + ", " + meaning;
  return reason.empty() ? code : reason + " (" + code + ")";
}

Error Fail(Status code, const std::string& what, const std::string& problem) {
  return MakeError(code, what + ": " + problem);
}

struct BadBlockContextDeleter {
  void operator()(pmem2_badblock_context* c) const { pmem2_badblock_context_delete(&c); }
};

// What the bad-block query found: byte ranges of the source, or why there are none to trust.
struct BadBlocks {
  std::vector<PmemTierOptions::ByteRange> ranges;
  bool checked = false;
  std::string note;  // "" when checked
};

// Offsets in the result are from `data_offset` (the start of the pool) on; blocks before it,
// in the file's header region, do not matter.
BadBlocks ReadBadBlocks(const pmem2_source* source, uint64_t data_offset) {
  BadBlocks out;
  pmem2_badblock_context* raw = nullptr;
  const int rc = pmem2_badblock_context_new(&raw, source);
  if (rc != 0) {
    // Anonymous memory (PMEM2_E_NOSUPP), or ndctl could not be asked: the tier still works,
    // it only cannot steer around bad media.
    out.note = "libpmem2 cannot list bad blocks of this source: " + Pmem2Reason(rc);
    return out;
  }
  std::unique_ptr<pmem2_badblock_context, BadBlockContextDeleter> ctx(raw);
  pmem2_badblock bb;
  int next;
  while ((next = pmem2_badblock_next(ctx.get(), &bb)) == 0) {
    if (bb.offset + bb.length <= data_offset) continue;
    const uint64_t start = std::max<uint64_t>(bb.offset, data_offset);
    out.ranges.push_back({start - data_offset, bb.offset + bb.length - start});
  }
  // The end of the list (PMEM2_E_NO_BAD_BLOCK_FOUND, also said for a file on a device ndctl
  // does not know: it cannot have bad blocks); any other code leaves the list incomplete.
  if (next != PMEM2_E_NO_BAD_BLOCK_FOUND) {
    out.note = "libpmem2 failed while listing bad blocks: " + Pmem2Reason(next);
    return out;
  }
  out.checked = true;
  return out;
}

// The frames of a `bytes`-long pool that overlap any of `ranges`, sorted and unique.
std::vector<uint32_t> FramesOverlapping(const std::vector<PmemTierOptions::ByteRange>& ranges,
                                        uint64_t bytes) {
  std::vector<uint32_t> frames;
  for (const auto& r : ranges) {
    if (r.length == 0 || r.offset >= bytes) continue;
    const uint64_t end = std::min(bytes, r.offset + std::min(r.length, bytes));
    for (uint64_t f = r.offset >> kPageShift; f < (end + kPageSize - 1) >> kPageShift; ++f) {
      frames.push_back(static_cast<uint32_t>(f));
    }
  }
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  return frames;
}

// The pool file while Open works on it, opened under OwnedFile's rules (not shared, not
// redirected, not planted). Unless Release() is called, the destructor undoes what this open
// did: it removes a file it created and empties a file it allocated, so that a failed open
// leaves the filesystem as it found it.
class PoolFile {
 public:
  explicit PoolFile(std::string what) : what_(std::move(what)) {}
  PoolFile(const PoolFile&) = delete;
  PoolFile& operator=(const PoolFile&) = delete;
  ~PoolFile() {
    if (keep_ || file_.fd() < 0) return;
    if (file_.created()) {
      file_.RemoveIfCreated();
    } else if (allocated_) {
      (void)ftruncate(file_.fd(), 0);
    }
  }

  // Opens (creating when missing) and locks the pool at `path`, and makes sure a regular file
  // holds its header and `bytes` of pool after it.
  Result<void> Prepare(const std::string& path, uint64_t bytes) {
    if (TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap)) {
      return Fail(Status::kInvalidArgument, what_, "cannot create the pool file: injected fault");
    }
    auto opened =
        OwnedFile::Open({.path = path, .kind = OwnedFileKind::kPmemPool, .allow_device = true});
    if (!opened) {
      return Fail(opened.error().code, what_, "the pool file: " + opened.error().message);
    }
    file_ = std::move(opened).value();
    if (file_.is_device()) return {};  // device DAX is mapped as is; libpmem2 checks what it is

    struct stat st;
    if (fstat(file_.fd(), &st) != 0) {
      const int err = errno;
      return Fail(Status::kIoError, what_,
                  std::string("cannot stat the pool file: ") + std::strerror(err));
    }
    const uint64_t needed = kPmemPoolDataOffset + bytes;
    if (static_cast<uint64_t>(st.st_size) < needed) {
      // Allocate rather than ftruncate: a sparse file would take its blocks on the store path
      // (on DAX, a block allocation under MAP_SYNC per first touch), or fail with SIGBUS there
      // when the filesystem is full. A pool of ours that is too small for this capacity grows.
      if (!file_.created() && !file_.had_header()) allocated_ = true;  // empty before: undo
      const int err = TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap)
                          ? ENOSPC
                          : posix_fallocate(file_.fd(), 0, static_cast<off_t>(needed));
      if (err != 0) {
        return Fail(err == ENOSPC ? Status::kNoSpace : Status::kIoError, what_,
                    "cannot allocate " + std::to_string(needed) +
                        " bytes for the pool file: " + std::strerror(err));
      }
    }
    if (auto written = file_.WriteHeader(kPmemPoolDataOffset, bytes); !written) {
      return Fail(written.error().code, what_, "the pool file: " + written.error().message);
    }
    return {};
  }

  int fd() const { return file_.fd(); }
  bool is_device() const { return file_.is_device(); }
  // Where the pool starts in the source: after the header region of a regular file; 0 for a
  // device, or when no file was opened (anonymous memory).
  uint64_t data_offset() const {
    return file_.fd() < 0 || file_.is_device() ? 0 : kPmemPoolDataOffset;
  }
  // The open, locked file, for the tier to hold while it lives.
  OwnedFile Release() {
    keep_ = true;
    return std::move(file_);
  }

 private:
  const std::string what_;
  OwnedFile file_;
  bool allocated_ = false;
  bool keep_ = false;
};

}  // namespace

Result<std::unique_ptr<PmemTier>> PmemTier::Open(const PmemTierOptions& options) {
  const bool anon = options.path == kAnonPath;
  const std::string what =
      "tier '" + options.name + "'" +
      (anon ? std::string(" (anonymous memory)") : " at '" + options.path + "'");
  if (options.path.empty()) {
    return Fail(Status::kInvalidArgument, what,
                "path is empty; give \"anon\", a file, or a device-DAX device");
  }
  auto capacity = CheckTierCapacity(TierKind::kPmem, options.capacity_bytes, what);
  if (!capacity) return capacity.take_error();
  uint64_t bytes = *capacity;

  // Declared before the source: the source refers to the file's descriptor.
  PoolFile file(what);
  pmem2_source* raw_source = nullptr;
  if (anon) {
    const int rc = TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap)
                       ? -ENOMEM
                       : pmem2_source_from_anon(&raw_source, bytes);
    if (rc != 0) {
      return Fail(Status::kNoMemory, what,
                  "libpmem2 cannot make an anonymous source: " + Pmem2Reason(rc));
    }
  } else {
    auto prepared = file.Prepare(options.path, bytes);
    if (!prepared) return prepared.take_error();
    const int rc = TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap)
                       ? -ENOMEM
                       : pmem2_source_from_fd(&raw_source, file.fd());
    if (rc != 0) {
      const char* problem = file.is_device()
                                ? "libpmem2 cannot use the character device (is it device DAX?): "
                                : "libpmem2 cannot use the pool file: ";
      return Fail(Status::kInvalidArgument, what, problem + Pmem2Reason(rc));
    }
  }
  SourcePtr source(raw_source);

  if (file.is_device()) {
    size_t device_bytes = 0, alignment = 0;
    int rc = pmem2_source_size(source.get(), &device_bytes);
    if (rc == 0) rc = pmem2_source_alignment(source.get(), &alignment);
    if (rc != 0) {
      return Fail(Status::kIoError, what,
                  "libpmem2 cannot read the device's size and alignment: " + Pmem2Reason(rc));
    }
    if (bytes > device_bytes) {
      return Fail(Status::kInvalidArgument, what,
                  "the capacity of " + std::to_string(bytes) + " bytes exceeds the device's " +
                      std::to_string(device_bytes) + " bytes");
    }
    // Device DAX maps only whole multiples of its alignment (usually 2 MiB).
    if (alignment > kPageSize) bytes = bytes / alignment * alignment;
    if (bytes == 0) {
      return Fail(Status::kInvalidArgument, what,
                  "the capacity of " + std::to_string(*capacity) +
                      " bytes is less than the device's alignment of " + std::to_string(alignment) +
                      " bytes");
    }
  }

  pmem2_config* raw_config = nullptr;
  int rc = TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap) ? -ENOMEM : pmem2_config_new(&raw_config);
  if (rc != 0) {
    return Fail(Status::kNoMemory, what,
                "libpmem2 cannot make a mapping configuration: " + Pmem2Reason(rc));
  }
  ConfigPtr config(raw_config);
  // Page is the weakest granularity, so every medium maps; the effective one is read back.
  rc = pmem2_config_set_required_store_granularity(config.get(), PMEM2_GRANULARITY_PAGE);
  if (rc == 0) rc = pmem2_config_set_offset(config.get(), file.data_offset());
  if (rc == 0) rc = pmem2_config_set_length(config.get(), bytes);
  if (rc != 0) {
    return Fail(Status::kInvalidArgument, what,
                "libpmem2 refuses the mapping configuration: " + Pmem2Reason(rc));
  }
  pmem2_map* raw_map = nullptr;
  rc = TIERSWAP_INJECT_FAULT(FaultSite::kPmemMap)
           ? -ENOMEM
           : pmem2_map_new(&raw_map, config.get(), source.get());
  if (rc != 0) {
    return Fail(Status::kNoMemory, what,
                "libpmem2 cannot map " + std::to_string(bytes) + " bytes: " + Pmem2Reason(rc));
  }
  MapPtr map(raw_map);

  Mapping m;
  m.base = static_cast<unsigned char*>(pmem2_map_get_address(map.get()));
  m.bytes = bytes;
  m.granularity = pmem2_map_get_store_granularity(map.get());
  m.copy = pmem2_get_memcpy_fn(map.get());
  m.set = pmem2_get_memset_fn(map.get());
  m.drain = pmem2_get_drain_fn(map.get());
  BadBlocks bad = ReadBadBlocks(source.get(), file.data_offset());
  m.badblocks_checked = bad.checked;
  m.badblock_note = std::move(bad.note);
  bad.ranges.insert(bad.ranges.end(), options.retired_ranges.begin(), options.retired_ranges.end());
  m.bad_frames = FramesOverlapping(bad.ranges, bytes);
  if (m.bad_frames.size() == bytes >> kPageShift) {
    return Fail(Status::kIoError, what,
                "every one of its " + std::to_string(bytes >> kPageShift) +
                    " frames overlaps a bad block; there is no usable frame");
  }
  if (options.prefault) {
    // A write per 4 KiB page: a read would map the zero page (anonymous memory) or leave the
    // DAX block allocation for the first store. The contents are not reused, so zero is fine.
    // Bad frames are skipped: touching one is a SIGBUS.
    size_t next_bad = 0;
    for (uint64_t off = 0; off < bytes; off += kPageSize) {
      if (next_bad < m.bad_frames.size() && m.bad_frames[next_bad] == off >> kPageShift) {
        ++next_bad;
        continue;
      }
      static_cast<volatile unsigned char*>(m.base)[off] = 0;
    }
  }
  // The tier holds the file, and with it the lock, for as long as it lives.
  m.file = file.Release();
  m.map = map.release();
  return std::unique_ptr<PmemTier>(new PmemTier(options, std::move(m)));
}

PmemTier::PmemTier(const PmemTierOptions& options, Mapping&& mapping)
    : Tier(options.name, TierKind::kPmem),
      path_(options.path),
      persist_(options.persist),
      map_(mapping.map),
      base_(mapping.base),
      bytes_(mapping.bytes),
      granularity_(mapping.granularity),
      copy_(mapping.copy),
      set_(mapping.set),
      // persist: non-temporal stores bypass the cache (nothing left to flush on cache_line
      // granularity), and the drain follows once per page in DoStore. Without persist, the copy
      // skips flushing but keeps its own closing fence, which orders its non-temporal stores
      // before the handle is published to another thread.
      copy_flags_(options.persist ? (PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NODRAIN)
                                  : PMEM2_F_MEM_NOFLUSH),
      drain_(options.persist ? mapping.drain : nullptr),
      alloc_(static_cast<uint32_t>(mapping.bytes >> kPageShift)),
      bad_frames_(mapping.bad_frames.size()),
      badblocks_checked_(mapping.badblocks_checked),
      badblock_note_(mapping.badblock_note),
      file_(std::move(mapping.file)) {
  // Bad frames are allocated now and never freed: no store can ever be given one. The
  // allocator is fresh, so each frame asked for is the one returned.
  for (uint32_t f : mapping.bad_frames) {
    [[maybe_unused]] const uint32_t got = alloc_.Allocate(f);
    assert(got == f);
  }
}

PmemTier::~PmemTier() {
  pmem2_map* map = map_;
  pmem2_map_delete(&map);
}

const char* PmemTier::granularity() const {
  switch (granularity_) {
    case PMEM2_GRANULARITY_BYTE:
      return "byte";
    case PMEM2_GRANULARITY_CACHE_LINE:
      return "cache_line";
    default:
      return "page";
  }
}

bool PmemTier::is_dax() const {
  return granularity_ != PMEM2_GRANULARITY_PAGE && path_ != kAnonPath;
}

Status PmemTier::DoStore(const void* page, TierHandle* handle) {
  const uint32_t frame =
      TIERSWAP_INJECT_FAULT(FaultSite::kFrameAlloc) ? FrameAllocator::kNoFrame : alloc_.Allocate();
  if (frame == FrameAllocator::kNoFrame) return Status::kNoSpace;
  copy_(FrameAddress(frame), page, kPageSize, copy_flags_);
  if (drain_ != nullptr) {
    drain_();
    // pmem2's drain cannot report a failure; a persist that failed (the seam simulates one)
    // must reject the store and give the frame back, never accept a page that is not durable.
    if (TIERSWAP_INJECT_FAULT(FaultSite::kPmemPersist)) {
      alloc_.Free(frame);
      return Status::kIoError;
    }
  }
  *handle = frame;
  return Status::kOk;
}

Status PmemTier::DoLoad(TierHandle handle, void* page) {
  std::memcpy(page, FrameAddress(handle), kPageSize);
  return Status::kOk;
}

void PmemTier::DoFree(TierHandle handle) {
  if (scrub_on_free()) {
    // Before the free, as in FrameTier; made as durable as a store would be.
    set_(FrameAddress(handle), 0, kPageSize, copy_flags_);
    if (drain_ != nullptr) drain_();
  }
  alloc_.Free(static_cast<uint32_t>(handle));
}

void PmemTier::DoExportStats(StatsSink& sink) const {
  sink.Text("path", path_);
  sink.Text("granularity", granularity());
  sink.Gauge("persist", persist_ ? 1 : 0);
  sink.Gauge("dax", is_dax() ? 1 : 0);
  sink.Gauge("badblock_frames", bad_frames_);
  sink.Gauge("badblocks_checked", badblocks_checked_ ? 1 : 0);
}

}  // namespace tierswap
