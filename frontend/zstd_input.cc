#include "frontend/zstd_input.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace tierswap {
namespace {

// 128 KiB, about what ZSTD_DStreamInSize/OutSize recommend: one block in, one block out.
constexpr size_t kBlockBytes = 128 * 1024;
constexpr unsigned char kZstdMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

ZSTD_DCtx* Dctx(void* p) { return static_cast<ZSTD_DCtx*>(p); }

}  // namespace

InputStream::InputStream(int fd, std::string name, bool owned)
    : fd_(fd), owned_(owned), name_(std::move(name)), raw_(new unsigned char[kBlockBytes]) {}

InputStream::~InputStream() {
  if (dctx_ != nullptr) ZSTD_freeDCtx(Dctx(dctx_));
  if (owned_ && fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<InputStream>> InputStream::Open(const std::string& path) {
  if (path == "-") return FromFd(STDIN_FILENO, "<stdin>", /*owned=*/false);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(Status::kIoError,
                     "cannot open '" + path + "' for reading: " + std::strerror(errno) + ".");
  }
  return FromFd(fd, path, /*owned=*/true);
}

std::unique_ptr<InputStream> InputStream::FromFd(int fd, std::string name, bool owned) {
  return std::unique_ptr<InputStream>(new InputStream(fd, std::move(name), owned));
}

std::unique_ptr<InputStream> InputStream::FromMemory(std::string data, std::string name) {
  std::unique_ptr<InputStream> in(new InputStream(-1, std::move(name), false));
  in->memory_ = std::move(data);
  return in;
}

Result<bool> InputStream::FillRaw() {
  // Keep unconsumed bytes (DetectMode may need more than one short read from a pipe).
  if (raw_pos_ > 0) {
    std::memmove(raw_.get(), raw_.get() + raw_pos_, raw_len_ - raw_pos_);
    raw_len_ -= raw_pos_;
    raw_pos_ = 0;
  }
  if (raw_eof_ || raw_len_ == kBlockBytes) return raw_len_ > 0;
  if (fd_ < 0) {
    const size_t n = std::min(kBlockBytes - raw_len_, memory_.size() - memory_pos_);
    std::memcpy(raw_.get() + raw_len_, memory_.data() + memory_pos_, n);
    memory_pos_ += n;
    raw_len_ += n;
    if (n == 0) raw_eof_ = true;
    return raw_len_ > 0;
  }
  for (;;) {
    const ssize_t n = read(fd_, raw_.get() + raw_len_, kBlockBytes - raw_len_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(Status::kIoError,
                       "cannot read '" + name_ + "': " + std::strerror(errno) + ".");
    }
    if (n == 0) raw_eof_ = true;
    raw_len_ += static_cast<size_t>(n);
    return raw_len_ > 0;
  }
}

Result<void> InputStream::DetectMode() {
  while (raw_len_ - raw_pos_ < sizeof(kZstdMagic) && !raw_eof_) {
    Result<bool> r = FillRaw();
    if (!r) return r.take_error();
  }
  const bool zstd = raw_len_ - raw_pos_ >= sizeof(kZstdMagic) &&
                    std::memcmp(raw_.get() + raw_pos_, kZstdMagic, sizeof(kZstdMagic)) == 0;
  if (!zstd) {
    mode_ = Mode::kPlain;
    return {};
  }
  dctx_ = ZSTD_createDCtx();
  if (dctx_ == nullptr) {
    return MakeError(Status::kNoMemory, "cannot allocate a zstd decoder for '" + name_ + "'.");
  }
  out_.reset(new unsigned char[kBlockBytes]);
  mode_ = Mode::kZstd;
  return {};
}

Result<bool> InputStream::FillOut() {
  out_pos_ = out_len_ = 0;
  for (;;) {
    // When the last call filled the output, the decoder may hold more without new input.
    const bool flush_pending = frame_open_ && flushed_full_;
    if (raw_pos_ == raw_len_ && !flush_pending) {
      Result<bool> r = FillRaw();
      if (!r) return r.take_error();
      if (!*r) {
        if (frame_open_) {
          return MakeError(Status::kIoError, "'" + name_ +
                                                 "' ends in the middle of a zstd frame: the "
                                                 "compressed data is truncated.");
        }
        return false;
      }
    }
    ZSTD_inBuffer in{raw_.get(), raw_len_, raw_pos_};
    ZSTD_outBuffer out{out_.get(), kBlockBytes, 0};
    const size_t ret = ZSTD_decompressStream(Dctx(dctx_), &out, &in);
    if (ZSTD_isError(ret)) {
      return MakeError(Status::kIoError,
                       "'" + name_ + "' holds corrupt zstd data: " + ZSTD_getErrorName(ret) + ".");
    }
    raw_pos_ = in.pos;
    frame_open_ = ret != 0;
    flushed_full_ = out.pos == out.size;
    if (out.pos > 0) {
      out_len_ = out.pos;
      return true;
    }
  }
}

Result<size_t> InputStream::Read(void* buf, size_t n) {
  const unsigned char* p;
  size_t avail;
  Result<bool> r = Peek(&p, &avail);
  if (!r) return r.take_error();
  if (!*r) return size_t{0};
  const size_t k = std::min(n, avail);
  std::memcpy(buf, p, k);
  Consume(k);
  return k;
}

Result<bool> InputStream::Peek(const unsigned char** p, size_t* n) {
  if (mode_ == Mode::kUnknown) {
    Result<void> r = DetectMode();
    if (!r) return r.take_error();
  }
  if (mode_ == Mode::kPlain) {
    if (raw_pos_ == raw_len_) {
      Result<bool> r = FillRaw();
      if (!r) return r.take_error();
      if (!*r) return false;
    }
    *p = raw_.get() + raw_pos_;
    *n = raw_len_ - raw_pos_;
    return true;
  }
  if (out_pos_ == out_len_) {
    Result<bool> r = FillOut();
    if (!r) return r.take_error();
    if (!*r) return false;
  }
  *p = out_.get() + out_pos_;
  *n = out_len_ - out_pos_;
  return true;
}

void InputStream::Consume(size_t n) {
  if (mode_ == Mode::kPlain) {
    raw_pos_ += n;
  } else {
    out_pos_ += n;
  }
}

Result<bool> InputStream::ReadLine(std::string* line, size_t max_line) {
  line->clear();
  bool any = false;
  for (;;) {
    const unsigned char* p;
    size_t avail;
    Result<bool> r = Peek(&p, &avail);
    if (!r) return r.take_error();
    if (!*r) break;
    any = true;
    const void* nl = std::memchr(p, '\n', avail);
    const size_t take = nl != nullptr ? static_cast<const unsigned char*>(nl) - p : avail;
    if (line->size() + take > max_line) {
      return MakeError(Status::kInvalidArgument, name_ + ":" + std::to_string(lines_read_ + 1) +
                                                     ": the line is longer than " +
                                                     std::to_string(max_line) +
                                                     " bytes; is this a text trace?");
    }
    line->append(reinterpret_cast<const char*>(p), take);
    if (nl != nullptr) {
      Consume(take + 1);
      ++lines_read_;
      return true;
    }
    Consume(take);
  }
  if (!any) return false;
  ++lines_read_;
  return true;
}

}  // namespace tierswap
