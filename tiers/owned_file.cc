#include "tiers/owned_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "tiers/quoted.h"

namespace tierswap {
namespace {

constexpr char kMagic[8] = {'t', 'i', 'e', 'r', 's', 'w', 'a', 'p'};
constexpr uint32_t kVersion = 1;

// The first bytes of a file's header; the rest of its kHeaderBytes is zero. Fixed-width fields,
// little-endian (the machines tierswap runs on); `checksum` is FNV-1a over the bytes before it.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t kind;
  uint64_t owner_id;
  uint64_t pid;
  uint64_t uid;
  uint64_t created_unix_s;
  uint64_t data_offset;
  uint64_t data_bytes;
  uint64_t checksum;
};
static_assert(sizeof(Header) == 72);

uint64_t Fnv1a(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t HeaderChecksum(const Header& h) { return Fnv1a(&h, offsetof(Header, checksum)); }

std::string ErrnoText(int err) { return std::strerror(err); }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

const char* TypeOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

uint64_t NewOwnerId() {
  uint64_t id = 0;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof id) || id == 0) {
    // Early boot without entropy: unique enough to tell owners apart in messages.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    id = static_cast<uint64_t>(now) ^ (static_cast<uint64_t>(getpid()) << 32) ^ 1;
  }
  return id;
}

// Reads the header at the start of `fd`; false when there is none (short, wrong magic or
// checksum).
bool ReadHeader(int fd, Header* out) {
  unsigned char buf[sizeof(Header)];
  if (pread(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) return false;
  std::memcpy(out, buf, sizeof *out);
  return std::memcmp(out->magic, kMagic, sizeof kMagic) == 0 &&
         out->checksum == HeaderChecksum(*out);
}

Error Refuse(const std::string& problem) { return MakeError(Status::kInvalidArgument, problem); }

}  // namespace

const char* OwnedFileKindName(OwnedFileKind kind) {
  switch (kind) {
    case OwnedFileKind::kPmemPool:
      return "pmem pool";
    case OwnedFileKind::kSwapBacking:
      return "swap backing file";
    case OwnedFileKind::kStatsDump:
      return "stats dump file";
  }
  return "file";
}

Result<OwnedFile> OwnedFile::Open(const OwnedFileOptions& options) {
  OwnedFile file;
  file.kind_ = options.kind;
  file.shown_ = Quoted(options.path, '\'');
  const std::string& path = options.path;
  if (path.empty()) return Refuse("the path is empty");

  // The directory, opened once: everything after is relative to this descriptor, so renaming
  // a directory on the path cannot redirect what follows.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  file.name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (file.name_.empty() || file.name_ == "." || file.name_ == "..") {
    return Refuse("the path names a directory; name a file in it");
  }
  const std::string dir_shown = Quoted(dir, '\'');
  file.dir_fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (file.dir_fd_ < 0) {
    const int err = errno;
    if (err == ENOENT) return Refuse("its directory " + dir_shown + " is missing");
    return MakeError(err == ENOTDIR || err == EACCES ? Status::kInvalidArgument : Status::kIoError,
                     "cannot open its directory " + dir_shown + ": " + ErrnoText(err));
  }
  const uid_t me = geteuid();
  struct stat st;
  if (fstat(file.dir_fd_, &st) != 0) {
    return MakeError(Status::kIoError,
                     "cannot stat its directory " + dir_shown + ": " + ErrnoText(errno));
  }
  if (st.st_uid != me && st.st_uid != 0) {
    return Refuse("its directory " + dir_shown + " belongs to uid " + std::to_string(st.st_uid) +
                  ", who could replace the file; use a directory of your own (uid " +
                  std::to_string(me) + ") or root's");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return Refuse("its directory " + dir_shown + " (mode " + Octal(st.st_mode) +
                  ") is writable by others and not sticky, so anyone could replace "
                  "the file; use a directory only you can write to");
  }

  // Create, else open what is there; never through a symbolic link. A file removed between
  // the two calls is created on the next round.
  const int flags = O_RDWR | options.open_flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  for (int attempt = 0; file.fd_ < 0; ++attempt) {
    file.fd_ = openat(file.dir_fd_, file.name_.c_str(), flags | O_CREAT | O_EXCL, 0600);
    if (file.fd_ >= 0) {
      file.created_ = true;
      break;
    }
    const bool exists = errno == EEXIST;
    if (exists) file.fd_ = openat(file.dir_fd_, file.name_.c_str(), flags);
    if (file.fd_ >= 0) break;
    const int err = errno;
    if (exists && err == ENOENT && attempt < 3) continue;
    if (!exists) {
      return MakeError(err == EACCES || err == EPERM || err == EROFS ? Status::kInvalidArgument
                                                                     : Status::kIoError,
                       "cannot create it: " + ErrnoText(err));
    }
    if (err == ELOOP) {
      return Refuse(
          "it is a symbolic link; tierswap never follows a link to a file it writes "
          "pages to: name the file itself");
    }
    return MakeError(err == EACCES || err == EPERM || err == EISDIR || err == ENXIO
                         ? Status::kInvalidArgument
                         : Status::kIoError,
                     "cannot open it: " + ErrnoText(err));
  }

  if (fstat(file.fd_, &st) != 0) {
    const int err = errno;
    file.RemoveIfCreated();
    return MakeError(Status::kIoError, "cannot stat it: " + ErrnoText(err));
  }
  file.is_device_ = S_ISCHR(st.st_mode);
  if (!S_ISREG(st.st_mode) && !(file.is_device_ && options.allow_device)) {
    return Refuse(std::string("it is ") + TypeOf(st.st_mode) + ", not a regular file" +
                  (options.allow_device ? " or a device-DAX character device" : ""));
  }
  if (st.st_uid != me) {
    return Refuse("it belongs to uid " + std::to_string(st.st_uid) + ", not to this process (uid " +
                  std::to_string(me) +
                  "), so its owner could read and change the pages in it; remove it "
                  "or name another path");
  }
  if ((st.st_mode & 077) != 0) {
    return Refuse("its mode " + Octal(st.st_mode) +
                  " lets group or others read or change what tierswap writes there; "
                  "`chmod 600` it, or remove it and let tierswap create it");
  }
  if (!file.is_device_ && st.st_nlink != 1) {
    return Refuse("it has " + std::to_string(st.st_nlink) +
                  " names (hard links), through which others could reach it; remove "
                  "the other names or name a new file");
  }

  // One owner at a time, for the owner's whole life.
  if (flock(file.fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) {
      return MakeError(Status::kIoError, "cannot lock it: " + ErrnoText(err));
    }
    Header h;
    std::string holder = "another process holds its lock";
    if (!file.is_device_ && ReadHeader(file.fd_, &h)) {
      holder = "another tierswap backend holds its lock (process " + std::to_string(h.pid) +
               ", owner id " + std::to_string(h.owner_id) + ")";
    }
    return Refuse("it is in use: " + holder + "; two owners would serve each other's bytes");
  }

  // What is already in it must be tierswap's.
  if (!file.created_ && !file.is_device_ && st.st_size > 0) {
    if (options.kind == OwnedFileKind::kStatsDump) {
      std::string start(options.text_prefix.size(), '\0');
      const ssize_t n = pread(file.fd_, start.data(), start.size(), 0);
      if (n != static_cast<ssize_t>(start.size()) || start != options.text_prefix) {
        return Refuse("it holds " + std::to_string(st.st_size) + " bytes that do not start with " +
                      Quoted(options.text_prefix, '\'') +
                      " as tierswap's lines do; tierswap appends only to its own "
                      "dump: remove it or name another path");
      }
      file.had_header_ = true;
    } else {
      Header h;
      if (!ReadHeader(file.fd_, &h)) {
        return Refuse("it holds " + std::to_string(st.st_size) +
                      " bytes and no tierswap header in its first " + std::to_string(kHeaderBytes) +
                      " bytes; tierswap never overwrites a file it did not create: "
                      "remove it or name another path");
      }
      if (h.version != kVersion) {
        return Refuse("its tierswap header has version " + std::to_string(h.version) +
                      "; this tierswap reads version " + std::to_string(kVersion));
      }
      if (h.kind != static_cast<uint32_t>(options.kind)) {
        return Refuse(std::string("it is a tierswap ") +
                      OwnedFileKindName(static_cast<OwnedFileKind>(h.kind)) + ", not a " +
                      OwnedFileKindName(options.kind));
      }
      file.had_header_ = true;
    }
  }
  file.owner_id_ = NewOwnerId();
  return file;
}

Result<void> OwnedFile::WriteHeader(uint64_t data_offset, uint64_t data_bytes) {
  alignas(64) unsigned char block[kHeaderBytes] = {};
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.kind = static_cast<uint32_t>(kind_);
  h.owner_id = owner_id_;
  h.pid = static_cast<uint64_t>(getpid());
  h.uid = static_cast<uint64_t>(geteuid());
  h.created_unix_s = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  h.data_offset = data_offset;
  h.data_bytes = data_bytes;
  h.checksum = HeaderChecksum(h);
  std::memcpy(block, &h, sizeof h);
  if (pwrite(fd_, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block) ||
      fdatasync(fd_) != 0) {
    return MakeError(Status::kIoError, "cannot write its header: " + ErrnoText(errno));
  }
  return {};
}

void OwnedFile::RemoveIfCreated() {
  if (!created_ || fd_ < 0) return;
  struct stat mine, named;
  if (fstat(fd_, &mine) == 0 && fstatat(dir_fd_, name_.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
      mine.st_dev == named.st_dev && mine.st_ino == named.st_ino) {
    (void)unlinkat(dir_fd_, name_.c_str(), 0);
  }
  created_ = false;
}

OwnedFile::OwnedFile(OwnedFile&& other) noexcept { *this = std::move(other); }

OwnedFile& OwnedFile::operator=(OwnedFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    if (dir_fd_ >= 0) close(dir_fd_);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    shown_ = std::move(other.shown_);
    kind_ = other.kind_;
    created_ = other.created_;
    is_device_ = other.is_device_;
    had_header_ = other.had_header_;
    owner_id_ = other.owner_id_;
  }
  return *this;
}

OwnedFile::~OwnedFile() {
  if (fd_ >= 0) close(fd_);
  if (dir_fd_ >= 0) close(dir_fd_);
}

}  // namespace tierswap
