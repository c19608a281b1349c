// SwapDevice (swap_device.h): the page map, the striped locks and the two places a page can
// live. The common cases (a page tierswap accepts, a page it returns) make no system call; the
// backing file is touched only for pages tierswap rejected and to give their space back later.
#include "frontend/nbdkit/swap_device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "tiers/owned_file.h"
#include "tiers/quoted.h"

namespace tierswap {
namespace {

constexpr unsigned kType = 0;       // the device's pages are swap type 0
constexpr unsigned kProbeType = 1;  // used once at open, to detect exclusive loads
constexpr size_t kMessageSize = 512;

constinit thread_local char thread_message[kMessageSize] = {};

alignas(64) const unsigned char kZeroPage[SwapDevice::kPageSize] = {};

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r returns the text (which may or may not be buf).
  return strerror_r(err, buf, sizeof buf);
}

// Full-page pread/pwrite: retries short transfers and EINTR. 0 or an errno value.
int PreadAll(int fd, void* buf, size_t len, off_t off) {
  auto* p = static_cast<unsigned char*>(buf);
  while (len > 0) {
    const ssize_t n = pread(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // the file was truncated under us
    p += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return 0;
}

int PwriteAll(int fd, const void* buf, size_t len, off_t off) {
  const auto* p = static_cast<const unsigned char*>(buf);
  while (len > 0) {
    const ssize_t n = pwrite(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return 0;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
          out += esc;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Opens (or creates) the backing file under OwnedFile's rules, locks it, and sizes it: the
// header in the first kBackingDataOffset bytes, the device's bytes after it. A named file must
// be new, empty, or the backing file of an earlier device (its header says so); its old pages
// mean nothing without that device's page map and are dropped. Returns a descriptor of the same
// open file as *owned, so the lock lasts until the device closes it; `owned` stays unopened for
// an unnamed temporary file.
Result<int> OpenBacking(const std::string& path, uint64_t size, OwnedFile* owned) {
  int fd;
  std::string shown;  // the name messages use
  if (path.empty()) {
    const char* dir = std::getenv("TMPDIR");
    if (dir == nullptr || *dir == '\0') dir = "/var/tmp";
    shown = "(unlinked temporary file in " + Quoted(dir, '\'') + ")";
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      return MakeError(Status::kIoError, "cannot create an unlinked temporary backing file in " +
                                             Quoted(dir, '\'') + ": " + ErrnoText(errno) +
                                             " (name one with backing=FILE)");
    }
  } else {
    shown = Quoted(path, '\'');
    auto opened = OwnedFile::Open({.path = path, .kind = OwnedFileKind::kSwapBacking});
    if (!opened) {
      return MakeError(opened.error().code,
                       "backing file " + shown + ": " + opened.error().message);
    }
    *owned = std::move(opened).value();
    fd = fcntl(owned->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return MakeError(Status::kIoError, "backing file " + shown + ": " + ErrnoText(errno));
    }
    // An earlier device's pages: dropped (the size below gives the space back, sparse).
    if (owned->had_header() && ftruncate(fd, 0) != 0) {
      const int err = errno;
      close(fd);
      return MakeError(Status::kIoError,
                       "cannot empty backing file " + shown + ": " + ErrnoText(err));
    }
  }
  if (ftruncate(fd, static_cast<off_t>(SwapDevice::kBackingDataOffset + size)) != 0) {
    const int err = errno;
    close(fd);
    return MakeError(Status::kIoError, "cannot size backing file " + shown + " to " +
                                           std::to_string(size) + " bytes: " + ErrnoText(err));
  }
  // Pages tierswap takes over are punched out of the file; make sure that works here.
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, SwapDevice::kBackingDataOffset,
                SwapDevice::kPageSize) != 0) {
    const int err = errno;
    close(fd);
    return MakeError(Status::kIoError, "backing file " + shown +
                                           " is on a filesystem that cannot punch holes "
                                           "(fallocate PUNCH_HOLE: " +
                                           ErrnoText(err) + ")");
  }
  if (owned->fd() >= 0) {
    if (auto written = owned->WriteHeader(SwapDevice::kBackingDataOffset, size); !written) {
      close(fd);
      return MakeError(written.error().code,
                       "backing file " + shown + ": " + written.error().message);
    }
  }
  return fd;
}

// A block device's reads must leave the data in place; a backend configured with exclusive
// loads would drop every page on its first read. Store one page in a scratch type and load it
// twice to find out (a backend that rejects the page cannot be checked, and needs no check).
Result<void> CheckLoadsKeepPages(tierswap_t* ts, const std::string& config) {
  if (tierswap_init(ts, kProbeType, 1) != 0) {
    return MakeError(Status::kIoError, std::string("tierswap could not initialise swap type ") +
                                           std::to_string(kProbeType) + ": " + tierswap_errormsg());
  }
  alignas(64) unsigned char page[SwapDevice::kPageSize];
  for (size_t i = 0; i < sizeof page; ++i) page[i] = static_cast<unsigned char>(i * 7 + 1);
  bool keeps = true;
  if (tierswap_store(ts, kProbeType, 0, page) == 0) {
    keeps =
        tierswap_load(ts, kProbeType, 0, page) == 0 && tierswap_load(ts, kProbeType, 0, page) == 0;
  }
  tierswap_invalidate_area(ts, kProbeType);
  if (!keeps) {
    return MakeError(Status::kInvalidArgument,
                     "tierswap config '" + (config.empty() ? std::string("(default)") : config) +
                         "' sets [backend] exclusive_loads = true, which drops a page when it "
                         "is read; a block device must keep it: set exclusive_loads = false");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SwapDevice>> SwapDevice::Open(const SwapDeviceOptions& options) {
  if (options.size == 0 || options.size % kPageSize != 0) {
    return MakeError(Status::kInvalidArgument,
                     "device size " + std::to_string(options.size) +
                         " is not a positive multiple of 4096 bytes (one swap page)");
  }
  OwnedFile owned;
  Result<int> fd = OpenBacking(options.backing_path, options.size, &owned);
  if (!fd) {
    owned.RemoveIfCreated();
    return fd.take_error();
  }
  // Undo what was done so far when a later step fails.
  auto fail = [&](Error e) -> Error {
    close(*fd);
    owned.RemoveIfCreated();
    return e;
  };

  tierswap_t* ts = nullptr;
  const char* config = options.config_path.empty() ? nullptr : options.config_path.c_str();
  if (tierswap_open(config, &ts) != 0) {
    return fail(MakeError(
        Status::kInvalidArgument,
        std::string("tierswap could not open ") +
            (config ? "config '" + options.config_path + "'" : std::string("its default config")) +
            ": " + tierswap_errormsg()));
  }
  if (Result<void> r = CheckLoadsKeepPages(ts, options.config_path); !r) {
    tierswap_close(&ts);
    return fail(r.take_error());
  }
  const uint64_t pages = options.size / kPageSize;
  if (tierswap_init(ts, kType, pages) != 0) {
    Error e = MakeError(Status::kInvalidArgument,
                        "tierswap could not initialise swap type 0 with " + std::to_string(pages) +
                            " pages: " + tierswap_errormsg());
    tierswap_close(&ts);
    return fail(std::move(e));
  }
  std::unique_ptr<Home[]> home(new (std::nothrow) Home[pages]());  // all kNowhere (0)
  std::unique_ptr<Stripe[]> stripes(new (std::nothrow) Stripe[kStripes]);
  std::unique_ptr<SwapDevice> dev;
  if (home != nullptr && stripes != nullptr) {
    dev.reset(new (std::nothrow) SwapDevice(ts, *fd, options.size, options.backing_path,
                                            std::move(home), std::move(stripes)));
  }
  if (dev == nullptr) {
    tierswap_close(&ts);
    return fail(MakeError(Status::kNoMemory,
                          "cannot allocate the page map of " + std::to_string(pages) + " pages"));
  }
  return dev;
}

SwapDevice::SwapDevice(tierswap_t* ts, int backing_fd, uint64_t size, std::string backing_path,
                       std::unique_ptr<Home[]> home, std::unique_ptr<Stripe[]> stripes)
    : ts_(ts),
      backing_fd_(backing_fd),
      size_(size),
      pages_(size / kPageSize),
      backing_path_(std::move(backing_path)),
      home_(std::move(home)),
      stripes_(std::move(stripes)) {}

SwapDevice::~SwapDevice() {
  tierswap_close(&ts_);
  close(backing_fd_);
}

const char* SwapDevice::LastError() { return thread_message; }

const char* SwapDevice::BackingName() const {
  return backing_path_.empty() ? "(unlinked temporary file)" : backing_path_.c_str();
}

int SwapDevice::Fail(int err, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(thread_message, kMessageSize, format, args);
  va_end(args);
  return err;
}

int SwapDevice::IoError(Stripe& s, int err) {
  ++s.counters.io_errors;
  return err;
}

int SwapDevice::CheckRange(uint32_t count, uint64_t offset) const {
  thread_message[0] = '\0';
  if (offset > size_ || count > size_ - offset) {
    return Fail(EINVAL, "request of %u bytes at offset %lu lies outside the %lu-byte device", count,
                static_cast<unsigned long>(offset), static_cast<unsigned long>(size_));
  }
  return 0;
}

void SwapDevice::SetHomeLocked(uint64_t page, Home home, Stripe& s) {
  auto gauge = [&s](Home h) -> uint64_t* {
    switch (h) {
      case Home::kTierswap:
        return &s.counters.tierswap_pages;
      case Home::kBacking:
        return &s.counters.backing_pages;
      case Home::kLost:
        return &s.counters.lost_pages;
      case Home::kNowhere:
        break;
    }
    return nullptr;
  };
  if (uint64_t* g = gauge(home_[page])) --*g;
  if (uint64_t* g = gauge(home)) ++*g;
  home_[page] = home;
}

void SwapDevice::PunchLocked(uint64_t page, Stripe& s) {
  // Only gives the space back: reads follow home_, never the file, for pages that left it.
  if (fallocate(backing_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                static_cast<off_t>(kBackingDataOffset + page * kPageSize), kPageSize) == 0) {
    ++s.counters.backing_punches;
  } else {
    ++s.counters.backing_punch_errors;
  }
}

int SwapDevice::ReadPageLocked(uint64_t page, void* out, Stripe& s) {
  switch (home_[page]) {
    case Home::kNowhere:
      std::memset(out, 0, kPageSize);
      ++s.counters.zero_reads;
      return 0;
    case Home::kTierswap: {
      const int rc = tierswap_load(ts_, kType, page, out);
      if (rc == 0) {
        ++s.counters.loads;
        return 0;
      }
      if (rc == -ENOENT) {
        return IoError(
            s,
            Fail(EIO,
                 "page %lu (byte offset %lu) was accepted by tierswap but its load missed: "
                 "the page is lost",
                 static_cast<unsigned long>(page), static_cast<unsigned long>(page * kPageSize)));
      }
      return IoError(s, Fail(EIO, "tierswap could not load page %lu (byte offset %lu): %s",
                             static_cast<unsigned long>(page),
                             static_cast<unsigned long>(page * kPageSize), tierswap_errormsg()));
    }
    case Home::kBacking: {
      const int err = PreadAll(backing_fd_, out, kPageSize,
                               static_cast<off_t>(kBackingDataOffset + page * kPageSize));
      if (err != 0) {
        return IoError(
            s, Fail(EIO, "cannot read page %lu from backing file '%s': %s",
                    static_cast<unsigned long>(page), BackingName(), ErrnoText(err).c_str()));
      }
      ++s.counters.backing_reads;
      return 0;
    }
    case Home::kLost:
      break;
  }
  return IoError(
      s, Fail(EIO,
              "page %lu (byte offset %lu) is unreadable: its last write failed; write or trim "
              "it again",
              static_cast<unsigned long>(page), static_cast<unsigned long>(page * kPageSize)));
}

int SwapDevice::WritePageLocked(uint64_t page, const void* in, Stripe& s) {
  if (tierswap_store(ts_, kType, page, in) == 0) {
    const Home old = home_[page];
    if (old == Home::kBacking || old == Home::kLost) PunchLocked(page, s);
    SetHomeLocked(page, Home::kTierswap, s);
    ++s.counters.stores_accepted;
    return 0;
  }
  // Rejected. tierswap has already dropped any page the slot held (a failed store never leaves
  // the old copy readable); invalidating costs one index lookup and does not depend on that.
  tierswap_invalidate_page(ts_, kType, page);
  ++s.counters.stores_rejected;
  const int err = PwriteAll(backing_fd_, in, kPageSize,
                            static_cast<off_t>(kBackingDataOffset + page * kPageSize));
  if (err != 0) {
    SetHomeLocked(page, Home::kLost, s);
    return IoError(
        s, Fail(err, "tierswap rejected page %lu and writing it to backing file '%s' failed: %s",
                static_cast<unsigned long>(page), BackingName(), ErrnoText(err).c_str()));
  }
  SetHomeLocked(page, Home::kBacking, s);
  return 0;
}

void SwapDevice::DropPageLocked(uint64_t page, Stripe& s) {
  switch (home_[page]) {
    case Home::kNowhere:
      return;
    case Home::kTierswap:
      tierswap_invalidate_page(ts_, kType, page);
      break;
    case Home::kBacking:
    case Home::kLost:
      PunchLocked(page, s);
      break;
  }
  SetHomeLocked(page, Home::kNowhere, s);
}

int SwapDevice::ReadPartial(uint64_t page, uint32_t in_page, uint32_t len, void* out) {
  alignas(64) unsigned char buf[kPageSize];
  Stripe& s = StripeOf(page);
  MutexLock lock(&s.mu);
  ++s.counters.partial_pages;
  if (const int rc = ReadPageLocked(page, buf, s); rc != 0) return rc;
  std::memcpy(out, buf + in_page, len);
  return 0;
}

int SwapDevice::WritePartial(uint64_t page, uint32_t in_page, uint32_t len, const void* in) {
  alignas(64) unsigned char buf[kPageSize];
  Stripe& s = StripeOf(page);
  MutexLock lock(&s.mu);
  ++s.counters.partial_pages;
  if (const int rc = ReadPageLocked(page, buf, s); rc != 0) return rc;
  std::memcpy(buf + in_page, in, len);
  return WritePageLocked(page, buf, s);
}

int SwapDevice::Read(void* buf, uint32_t count, uint64_t offset) {
  if (const int rc = CheckRange(count, offset); rc != 0) return rc;
  auto* out = static_cast<unsigned char*>(buf);
  return ForEachPiece(count, offset, [&](uint64_t page, uint32_t in_page, uint32_t len) {
    unsigned char* to = out;
    out += len;
    if (len != kPageSize) return ReadPartial(page, in_page, len, to);
    Stripe& s = StripeOf(page);
    MutexLock lock(&s.mu);
    return ReadPageLocked(page, to, s);
  });
}

int SwapDevice::Write(const void* buf, uint32_t count, uint64_t offset) {
  if (const int rc = CheckRange(count, offset); rc != 0) return rc;
  const auto* in = static_cast<const unsigned char*>(buf);
  return ForEachPiece(count, offset, [&](uint64_t page, uint32_t in_page, uint32_t len) {
    const unsigned char* from = in;
    in += len;
    if (len != kPageSize) return WritePartial(page, in_page, len, from);
    Stripe& s = StripeOf(page);
    MutexLock lock(&s.mu);
    return WritePageLocked(page, from, s);
  });
}

int SwapDevice::Trim(uint32_t count, uint64_t offset) {
  if (const int rc = CheckRange(count, offset); rc != 0) return rc;
  // Whole pages only: the first page boundary at or after offset up to the last at or before
  // the end.
  const uint64_t first = (offset + kPageSize - 1) / kPageSize;
  const uint64_t end = (offset + count) / kPageSize;
  for (uint64_t page = first; page < end; ++page) {
    Stripe& s = StripeOf(page);
    MutexLock lock(&s.mu);
    DropPageLocked(page, s);
    ++s.counters.trimmed_pages;
  }
  return 0;
}

int SwapDevice::Zero(uint32_t count, uint64_t offset) {
  if (const int rc = CheckRange(count, offset); rc != 0) return rc;
  return ForEachPiece(count, offset, [&](uint64_t page, uint32_t in_page, uint32_t len) {
    if (len != kPageSize) return WritePartial(page, in_page, len, kZeroPage);
    Stripe& s = StripeOf(page);
    MutexLock lock(&s.mu);
    DropPageLocked(page, s);
    ++s.counters.zeroed_pages;
    return 0;
  });
}

SwapDeviceCounters SwapDevice::Counters() const {
  SwapDeviceCounters sum;
  for (uint64_t i = 0; i < kStripes; ++i) {
    const Stripe& s = stripes_[i];
    MutexLock lock(&s.mu);
    const SwapDeviceCounters& c = s.counters;
    sum.tierswap_pages += c.tierswap_pages;
    sum.backing_pages += c.backing_pages;
    sum.lost_pages += c.lost_pages;
    sum.stores_accepted += c.stores_accepted;
    sum.stores_rejected += c.stores_rejected;
    sum.loads += c.loads;
    sum.backing_reads += c.backing_reads;
    sum.zero_reads += c.zero_reads;
    sum.partial_pages += c.partial_pages;
    sum.trimmed_pages += c.trimmed_pages;
    sum.zeroed_pages += c.zeroed_pages;
    sum.backing_punches += c.backing_punches;
    sum.backing_punch_errors += c.backing_punch_errors;
    sum.io_errors += c.io_errors;
  }
  return sum;
}

Result<std::string> SwapDevice::StatsJson() const {
  const SwapDeviceCounters c = Counters();
  std::string out;
  try {
    out = "{\"device\":{\"size_bytes\":" + std::to_string(size_) +
          ",\"pages\":" + std::to_string(pages_) + ",\"backing_path\":";
    AppendJsonString(out, BackingName());
    const std::pair<const char*, uint64_t> fields[] = {
        {"tierswap_pages", c.tierswap_pages},
        {"backing_pages", c.backing_pages},
        {"lost_pages", c.lost_pages},
        {"stores_accepted", c.stores_accepted},
        {"stores_rejected", c.stores_rejected},
        {"loads", c.loads},
        {"backing_reads", c.backing_reads},
        {"zero_reads", c.zero_reads},
        {"partial_pages", c.partial_pages},
        {"trimmed_pages", c.trimmed_pages},
        {"zeroed_pages", c.zeroed_pages},
        {"backing_punches", c.backing_punches},
        {"backing_punch_errors", c.backing_punch_errors},
        {"io_errors", c.io_errors},
    };
    for (const auto& [name, value] : fields) {
      out += ",\"";
      out += name;
      out += "\":";
      out += std::to_string(value);
    }
    out += "},\"tierswap\":";
    // snprintf semantics; the figures move between calls, so retry until the text fits.
    std::string ts_json(4096, '\0');
    for (;;) {
      const int n = tierswap_stats_json(ts_, ts_json.data(), ts_json.size());
      if (n < 0) {
        return MakeError(
            Status::kIoError,
            std::string("tierswap could not export its statistics: ") + tierswap_errormsg());
      }
      if (static_cast<size_t>(n) < ts_json.size()) {
        ts_json.resize(static_cast<size_t>(n));
        break;
      }
      ts_json.resize(static_cast<size_t>(n) + 4096);
    }
    out += ts_json;
    out += "}\n";
  } catch (const std::bad_alloc&) {
    return MakeError(Status::kNoMemory, "out of memory while formatting the statistics");
  }
  return out;
}

}  // namespace tierswap
