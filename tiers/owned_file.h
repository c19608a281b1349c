// OwnedFile: a file tierswap writes into (a pmem pool, an nbdkit device's backing file, the stats
// dump), opened so that nobody else can share it, redirect it or plant it.
//
// Swapped pages are a process's private memory, and a pool or backing file is named by a path
// that may sit in a directory others can write to. Before these rules, a symlink planted at the
// pool path made the backend zero pages of the file it pointed to, a second backend on the same
// pool served the first one's loads with its own bytes, and a pool file another user created
// let that user read and rewrite root's swapped pages. So (docs/reliability.md, "Threat model"):
//   - the directory that holds the file belongs to the caller or root, and when others may write
//     to it, it is sticky (as /tmp is): nobody else can rename, remove or replace the file;
//   - the file itself is opened with O_NOFOLLOW, relative to that directory: a symbolic link is
//     refused, never followed;
//   - it is a regular file with one name (a character device where `allow_device`: device DAX),
//     owned by the caller, with no permission bits for group or others; new files are 0600;
//   - it is locked (flock, exclusive, not waiting) for as long as the OwnedFile lives: a second
//     backend or device on it is refused, and the message names the holder's pid from the header;
//   - when it already exists and is not empty, it must carry what tierswap wrote: a header of
//     kHeaderBytes (magic, version, kind, the owner's id and pid) for pools and backing files, or
//     `text_prefix` for a text file (the stats dump). Anything else is refused, never overwritten.
//
// A regular file with a header holds it in its first kHeaderBytes; its data starts at
// `data_offset`, chosen by the kind's owner (pools start at 2 MiB so that DAX can map them with
// huge pages; backing files at 4 KiB). A device has no header: its data starts at 0.
//
// Thread-safety: Open is thread-safe; an OwnedFile is used by one thread at a time (its fd may be
// used for concurrent pread/pwrite). Ownership: the OwnedFile owns the descriptors; the lock goes
// with the last close.
#ifndef TIERSWAP_TIERS_OWNED_FILE_H_
#define TIERSWAP_TIERS_OWNED_FILE_H_

#include <cstdint>
#include <string>

#include "tiers/result.h"

namespace tierswap {

enum class OwnedFileKind : uint32_t {
  kPmemPool = 1,
  kSwapBacking = 2,
  kStatsDump = 3,  // a text file: no header, recognised by `text_prefix`
};

// "pmem pool", "swap backing file", "stats dump file".
const char* OwnedFileKindName(OwnedFileKind kind);

struct OwnedFileOptions {
  std::string path;
  OwnedFileKind kind = OwnedFileKind::kPmemPool;
  int open_flags = 0;         // added to O_RDWR (O_APPEND for the dump)
  bool allow_device = false;  // a character device (device DAX) is accepted, without a header
  std::string text_prefix;    // kStatsDump: what a non-empty file it wrote starts with
};

class OwnedFile {
 public:
  static constexpr uint64_t kHeaderBytes = 4096;

  // Opens `options.path` under the rules above, creating it (0600) when missing, and locks it.
  // kInvalidArgument with a message that says which rule the file breaks and what to do;
  // kIoError when a system call fails for another reason. Messages say what is wrong with the
  // file ("it is a symbolic link; ..."): the caller puts its own name for the file in front.
  static Result<OwnedFile> Open(const OwnedFileOptions& options);

  OwnedFile() = default;
  OwnedFile(OwnedFile&& other) noexcept;
  OwnedFile& operator=(OwnedFile&& other) noexcept;
  OwnedFile(const OwnedFile&) = delete;
  OwnedFile& operator=(const OwnedFile&) = delete;
  ~OwnedFile();

  int fd() const { return fd_; }
  bool created() const { return created_; }      // this Open created the file
  bool is_device() const { return is_device_; }  // a character device: no header
  // The header an earlier owner wrote was found (the file is being reused); false for a file
  // created or found empty.
  bool had_header() const { return had_header_; }
  uint64_t owner_id() const { return owner_id_; }      // this owner's random id, in the header
  const std::string& shown() const { return shown_; }  // the path, quoted for messages

  // Writes this owner's header (kind, id, pid, uid, time, data offset and size) to a regular
  // file and syncs it. Call it once the file is sized.
  Result<void> WriteHeader(uint64_t data_offset, uint64_t data_bytes);

  // Removes the file if this Open created it (a failed open leaves nothing behind); the
  // directory entry is removed only if it is still this file.
  void RemoveIfCreated();

 private:
  int dir_fd_ = -1;
  int fd_ = -1;
  std::string name_;  // the last path component, relative to dir_fd_
  std::string shown_;
  OwnedFileKind kind_ = OwnedFileKind::kPmemPool;
  bool created_ = false;
  bool is_device_ = false;
  bool had_header_ = false;
  uint64_t owner_id_ = 0;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_OWNED_FILE_H_
