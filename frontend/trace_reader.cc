#include "frontend/trace_reader.h"

#include <string>
#include <utility>

#include "tiers/quoted.h"

namespace tierswap {
namespace {

// Fields of one line, split on blanks; at most kMaxFields are kept (the rest only counted),
// so a pathological line costs no allocation.
constexpr size_t kMaxFields = 4;

struct Fields {
  std::string_view f[kMaxFields];
  size_t n = 0;
};

// A field as messages show it: non-printable bytes escaped, long fields cut, so that a binary
// file given by mistake makes a readable error.
std::string Quote(std::string_view text) { return Quoted(text, '\'', 24); }

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

Fields Split(std::string_view line) {
  Fields out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    if (out.n < kMaxFields) out.f[out.n] = line.substr(start, i - start);
    ++out.n;
  }
  return out;
}

class LineError {
 public:
  LineError(std::string_view source, uint64_t line_no)
      : prefix_(std::string(source) + ":" + std::to_string(line_no) + ": ") {}
  Error operator()(const std::string& what) const {
    return MakeError(Status::kInvalidArgument, prefix_ + what);
  }

 private:
  std::string prefix_;
};

// Parses a decimal unsigned 64-bit number; `what` names the field ("<offset>") in errors.
Result<uint64_t> ParseNumber(std::string_view text, const char* what, const LineError& err) {
  if (!text.empty() && text[0] == '-') {
    return err(std::string(what) + " must not be negative, got " + Quote(text) + ".");
  }
  if (text.empty()) return err(std::string(what) + " is missing.");
  uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return err(std::string(what) + " must be a decimal number, got " + Quote(text) + ".");
    }
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return err(std::string(what) + " " + Quote(text) +
                 " is too large: it does not fit in 64 bits.");
    }
    v = v * 10 + d;
  }
  return v;
}

Result<unsigned> ParseType(std::string_view text, const LineError& err) {
  Result<uint64_t> v = ParseNumber(text, "<type>", err);
  if (!v) return v.take_error();
  if (*v >= kTraceMaxTypes) {
    return err("<type> " + std::to_string(*v) + " is out of range: swap types are 0 to " +
               std::to_string(kTraceMaxTypes - 1) + ".");
  }
  return static_cast<unsigned>(*v);
}

const char* Usage(char letter) {
  switch (letter) {
    case 'N':
      return "<type> <nr_pages>";
    case 'S':
      return "<type> <offset> [@k]";
    case 'L':
      return "<type> <offset>";
    case 'I':
      return "<type> <offset>";
    case 'A':
      return "<type>";
  }
  return "";
}

std::string FieldCount(size_t n) { return std::to_string(n) + (n == 1 ? " field" : " fields"); }

}  // namespace

char TraceOpLetter(TraceOpKind kind) {
  switch (kind) {
    case TraceOpKind::kInit:
      return 'N';
    case TraceOpKind::kStore:
      return 'S';
    case TraceOpKind::kLoad:
      return 'L';
    case TraceOpKind::kInvalidatePage:
      return 'I';
    case TraceOpKind::kInvalidateArea:
      return 'A';
  }
  return '?';
}

std::string TraceOp::ToString() const {
  std::string s(1, TraceOpLetter(kind));
  s += ' ';
  s += std::to_string(type);
  switch (kind) {
    case TraceOpKind::kInit:
      s += ' ' + std::to_string(nr_pages);
      break;
    case TraceOpKind::kStore:
    case TraceOpKind::kLoad:
    case TraceOpKind::kInvalidatePage:
      s += ' ' + std::to_string(offset);
      break;
    case TraceOpKind::kInvalidateArea:
      break;
  }
  if (page_ref) s += " @" + std::to_string(*page_ref);
  return s;
}

Result<bool> ParseTraceLine(std::string_view line, std::string_view source, uint64_t line_no,
                            TraceOp* op) {
  if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
    line = line.substr(0, hash);
  }
  const Fields fields = Split(line);
  if (fields.n == 0) return false;

  const LineError err(source, line_no);
  const std::string_view verb = fields.f[0];
  TraceOpKind kind;
  size_t min_args, max_args;
  if (verb == "N") {
    kind = TraceOpKind::kInit, min_args = 2, max_args = 2;
  } else if (verb == "S") {
    kind = TraceOpKind::kStore, min_args = 2, max_args = 3;
  } else if (verb == "L") {
    kind = TraceOpKind::kLoad, min_args = 2, max_args = 2;
  } else if (verb == "I") {
    kind = TraceOpKind::kInvalidatePage, min_args = 2, max_args = 2;
  } else if (verb == "A") {
    kind = TraceOpKind::kInvalidateArea, min_args = 1, max_args = 1;
  } else {
    return err("unknown operation " + Quote(verb) +
               "; expected N, S, L, I or A (see docs/trace-format.md).");
  }
  const char letter = verb[0];
  const size_t args = fields.n - 1;

  // A page reference where none belongs gets its own message: it is the likelier mistake.
  if (kind != TraceOpKind::kStore && args > max_args && fields.n <= kMaxFields &&
      fields.f[fields.n - 1].starts_with('@')) {
    return err("'" + std::string(1, letter) + "' does not take a page reference " +
               Quote(fields.f[fields.n - 1]) + "; only 'S' (store) lines do.");
  }
  if (args < min_args || args > max_args) {
    return err("'" + std::string(1, letter) + "' needs " + Usage(letter) + ", got " +
               FieldCount(args) + ".");
  }

  TraceOp out;
  out.kind = kind;
  out.line = line_no;
  Result<unsigned> type = ParseType(fields.f[1], err);
  if (!type) return type.take_error();
  out.type = *type;

  switch (kind) {
    case TraceOpKind::kInit: {
      Result<uint64_t> n = ParseNumber(fields.f[2], "<nr_pages>", err);
      if (!n) return n.take_error();
      if (*n > kTraceMaxPagesPerType) {
        return err("<nr_pages> " + std::to_string(*n) + " is more than a swap type can have (" +
                   std::to_string(kTraceMaxPagesPerType) + ").");
      }
      out.nr_pages = *n;
      break;
    }
    case TraceOpKind::kStore:
    case TraceOpKind::kLoad:
    case TraceOpKind::kInvalidatePage: {
      Result<uint64_t> off = ParseNumber(fields.f[2], "<offset>", err);
      if (!off) return off.take_error();
      out.offset = *off;
      break;
    }
    case TraceOpKind::kInvalidateArea:
      break;
  }

  if (kind == TraceOpKind::kStore && args == 3) {
    const std::string_view ref = fields.f[3];
    if (ref.size() < 2 || ref[0] != '@' || ref[1] == '-' ||
        ref.find_first_not_of("0123456789", 1) != std::string_view::npos) {
      return err("bad page reference " + Quote(ref) +
                 ": expected '@' followed by a page number, as in @12.");
    }
    Result<uint64_t> k = ParseNumber(ref.substr(1), "page reference", err);
    if (!k) return k.take_error();
    out.page_ref = *k;
  }
  *op = out;
  return true;
}

Result<std::unique_ptr<TraceReader>> TraceReader::Open(const std::string& path) {
  Result<std::unique_ptr<InputStream>> in = InputStream::Open(path);
  if (!in) return in.take_error();
  return std::make_unique<TraceReader>(std::move(*in));
}

Result<bool> TraceReader::Next(TraceOp* op) {
  for (;;) {
    Result<bool> got = in_->ReadLine(&line_);
    if (!got) return got.take_error();
    if (!*got) return false;
    Result<bool> parsed = ParseTraceLine(line_, in_->name(), in_->lines_read(), op);
    if (!parsed) return parsed.take_error();
    if (*parsed) return true;
  }
}

}  // namespace tierswap
