// TraceReader: parses a tierswap trace (docs/trace-format.md), one operation per line.
//
// A trace is a text file of frontswap calls, one per line:
//   N <type> <nr_pages>        init a swap type
//   S <type> <offset> [@k]     store (content: page k of a corpus, or generated)
//   L <type> <offset>          load
//   I <type> <offset>          invalidate a page
//   A <type>                   invalidate an area
// '#' starts a comment, anywhere on a line; blank lines are ignored. The reader streams: it holds
// one line at a time, so a trace of any size (plain or zstd-compressed, see zstd_input.h) is
// replayed in bounded memory. A malformed line is an Error naming the source, the line number
// and the problem; the reader never guesses what a bad line meant.
//
// Thread-safety: externally synchronised (one reader per thread).
#ifndef TIERSWAP_FRONTEND_TRACE_READER_H_
#define TIERSWAP_FRONTEND_TRACE_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "frontend/zstd_input.h"
#include "tiers/result.h"

namespace tierswap {

enum class TraceOpKind : uint8_t {
  kInit,            // N
  kStore,           // S
  kLoad,            // L
  kInvalidatePage,  // I
  kInvalidateArea,  // A
};

// The letter that stands for `kind` in a trace.
char TraceOpLetter(TraceOpKind kind);

struct TraceOp {
  TraceOpKind kind = TraceOpKind::kLoad;
  unsigned type = 0;                 // < 32 (Backend::kMaxTypes)
  uint64_t offset = 0;               // S, L, I
  uint64_t nr_pages = 0;             // N: 0 means unknown, at most 2^32
  std::optional<uint64_t> page_ref;  // S with @k: page k of the corpus
  uint64_t line = 0;                 // 1-based line number in the source

  // The operation as a trace line, without comment ("S 0 17 @3").
  std::string ToString() const;
};

// Largest swap type plus one, and largest nr_pages, as Backend accepts them.
inline constexpr unsigned kTraceMaxTypes = 32;
inline constexpr uint64_t kTraceMaxPagesPerType = uint64_t{1} << 32;

// Parses one line (without its '\n'). Returns true and fills *op when the line holds an
// operation, false when it is blank or a comment. `source` names the input in messages.
Result<bool> ParseTraceLine(std::string_view line, std::string_view source, uint64_t line_no,
                            TraceOp* op);

class TraceReader {
 public:
  // Opens a trace file; "-" reads standard input. Plain text or zstd, detected by content.
  static Result<std::unique_ptr<TraceReader>> Open(const std::string& path);
  explicit TraceReader(std::unique_ptr<InputStream> in) : in_(std::move(in)) {}

  // Reads the next operation into *op. Returns false at the end of the trace; an Error for a
  // malformed line or unreadable input (the message names source:line).
  Result<bool> Next(TraceOp* op);

  // The name of the input in messages (the path, or "<stdin>").
  const std::string& name() const { return in_->name(); }
  // Lines read so far, comments and blank lines included.
  uint64_t lines_read() const { return in_->lines_read(); }

 private:
  std::unique_ptr<InputStream> in_;
  std::string line_;  // reused between lines: no allocation per line once it has grown
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_TRACE_READER_H_
