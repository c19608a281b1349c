// InputStream: a byte and line reader over a file, a pipe or memory that transparently
// decompresses zstd.
//
// Traces and page corpora are often stored zstd-compressed and traces can be gigabytes, so
// input is read in fixed-size blocks and, when the first four bytes are the zstd frame magic
// (28 B5 2F FD), decompressed as a stream (ZSTD_decompressStream): memory stays bounded by the
// two block buffers and the longest line, whatever the input's size. Detection needs no seek,
// so stdin and pipes work the same as files. Concatenated zstd frames are decoded one after the
// other, as the `zstd` tool does.
//
// Thread-safety: externally synchronised (one reader per thread).
#ifndef TIERSWAP_FRONTEND_ZSTD_INPUT_H_
#define TIERSWAP_FRONTEND_ZSTD_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tiers/result.h"

namespace tierswap {

class InputStream {
 public:
  // Opens `path` for reading; "-" means standard input. Errors name the path and the reason.
  static Result<std::unique_ptr<InputStream>> Open(const std::string& path);
  // Reads from an open descriptor (a pipe, a socket, a file); closes it on destruction only
  // when `owned`. `name` stands for the input in messages.
  static std::unique_ptr<InputStream> FromFd(int fd, std::string name, bool owned);
  // Reads from a copy of `data` (tests and embedders).
  static std::unique_ptr<InputStream> FromMemory(std::string data, std::string name);

  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Reads up to `n` decoded bytes into `buf`; returns how many, 0 only at the end of input.
  // Errors: a read failure, corrupt or truncated zstd data.
  Result<size_t> Read(void* buf, size_t n);

  // Reads the next line into *line, without its '\n'. Returns false at the end of input (a
  // last line without '\n' is still returned). A line longer than `max_line` bytes is an error
  // naming its line number, so a binary file given by mistake cannot exhaust memory.
  Result<bool> ReadLine(std::string* line, size_t max_line = kDefaultMaxLine);

  // The name given at open ("-" reads as "<stdin>").
  const std::string& name() const { return name_; }
  // True once the input has been seen to start with the zstd magic.
  bool compressed() const { return mode_ == Mode::kZstd; }
  // Lines returned so far by ReadLine.
  uint64_t lines_read() const { return lines_read_; }

  static constexpr size_t kDefaultMaxLine = 64 * 1024;

 private:
  enum class Mode : uint8_t { kUnknown, kPlain, kZstd };

  InputStream(int fd, std::string name, bool owned);

  // Reads raw (undecoded) bytes into raw_; false at end of input.
  Result<bool> FillRaw();
  // Decides plain or zstd from the first bytes of input.
  Result<void> DetectMode();
  // Produces more decoded bytes into out_; false at end of input.
  Result<bool> FillOut();
  // The decoded bytes available now (reading more when none are); false at end of input.
  Result<bool> Peek(const unsigned char** p, size_t* n);
  // Marks `n` bytes of what Peek returned as consumed.
  void Consume(size_t n);

  int fd_ = -1;
  bool owned_ = false;
  std::string memory_;  // FromMemory's data; fd_ is -1 then
  size_t memory_pos_ = 0;
  std::string name_;
  Mode mode_ = Mode::kUnknown;

  // Raw input block: bytes [raw_pos_, raw_len_) are not consumed yet.
  std::unique_ptr<unsigned char[]> raw_;
  size_t raw_pos_ = 0, raw_len_ = 0;
  bool raw_eof_ = false;

  // Decoded block (zstd mode only): bytes [out_pos_, out_len_) are not returned yet.
  std::unique_ptr<unsigned char[]> out_;
  size_t out_pos_ = 0, out_len_ = 0;

  void* dctx_ = nullptr;       // ZSTD_DCtx*, kept opaque so users need not include zstd.h
  bool frame_open_ = false;    // inside a zstd frame that has not ended yet
  bool flushed_full_ = false;  // the last decode filled out_: the decoder may hold more
  uint64_t lines_read_ = 0;
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_ZSTD_INPUT_H_
