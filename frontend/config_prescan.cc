// The scanner of config_prescan.h. It walks the text once with a cursor; each Skip* function
// consumes one construct and returns false when the text stops making sense (the parser then
// reports the syntax error). Depth is counted, never recursed past kMaxConfigDepth.
#include "frontend/config_prescan.h"

#include <string>

#include "tiers/quoted.h"

namespace tierswap {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  // True when the whole text was followed (or given up on) within the limit; false when the
  // nesting went past it, at line().
  bool Run() {
    for (;;) {
      SkipBlank(/*newlines=*/true);
      if (AtEnd()) return true;
      if (Peek() == '[') {
        ++pos_;
        if (Peek() == '[') ++pos_;  // [[array of tables]]
        int segments = 0;
        if (!SkipKey(0, &segments)) return !too_deep_;
        header_ = segments;
        if (Peek() != ']') return true;
        ++pos_;
        if (Peek() == ']') ++pos_;
      } else {
        int segments = 0;
        if (!SkipKey(header_, &segments)) return !too_deep_;
        if (Peek() != '=') return true;
        ++pos_;
        if (!SkipValue(header_ + segments)) return !too_deep_;
      }
      SkipBlank(/*newlines=*/false);
      if (!AtEnd() && Peek() != '\n' && Peek() != '\r') return true;  // the parser's to report
    }
  }

  int line() const { return line_; }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool StartsWith(std::string_view s) const { return text_.substr(pos_, s.size()) == s; }

  // Spaces, tabs and comments; newlines too when `newlines`.
  void SkipBlank(bool newlines) {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && Peek() != '\n') ++pos_;
      } else if (newlines && (c == '\n' || c == '\r')) {
        if (c == '\n') ++line_;
        ++pos_;
      } else {
        return;
      }
    }
  }

  // Counts a level; false (and too_deep_) past the limit.
  bool Enter(int depth) {
    if (depth > kMaxConfigDepth) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  // A string of any of the four kinds, the cursor on its opening quote.
  bool SkipString() {
    const char q = Peek();
    const bool multi = StartsWith(q == '"' ? "\"\"\"" : "'''");
    pos_ += multi ? 3 : 1;
    while (!AtEnd()) {
      const char c = Peek();
      if (c == '\n') {
        if (!multi) return false;
        ++line_;
      }
      if (c == '\\' && q == '"') {
        // An escape: the next byte cannot close the string (in a multi-line string it may be
        // the newline of a line-ending backslash, which still counts as a line).
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++line_;
        pos_ += 2;
        continue;
      }
      if (c == q && (!multi || StartsWith(q == '"' ? "\"\"\"" : "'''"))) {
        pos_ += multi ? 3 : 1;
        // A multi-line string may end with up to two more quotes inside it ("""a"""").
        while (multi && Peek() == q) ++pos_;
        return true;
      }
      ++pos_;
    }
    return false;
  }

  // A key: simple keys (bare, "basic" or 'literal') joined by dots; the cursor ends on what
  // follows it (after blanks). Each segment is a level below `depth`.
  bool SkipKey(int depth, int* segments) {
    for (;;) {
      SkipBlank(/*newlines=*/false);
      const char c = Peek();
      if (c == '"' || c == '\'') {
        if (StartsWith("\"\"\"") || StartsWith("'''") || !SkipString()) return false;
      } else {
        const size_t start = pos_;
        while (!AtEnd() && IsBareKeyChar(Peek())) ++pos_;
        if (pos_ == start) return false;
      }
      ++*segments;
      if (!Enter(depth + *segments)) return false;
      SkipBlank(/*newlines=*/false);
      if (Peek() != '.') return true;
      ++pos_;
    }
  }

  static bool IsBareKeyChar(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  }

  // The items of an array or inline table, the cursor on its opening bracket: `item` skips one;
  // items are separated by commas (a trailing one allowed) up to `close`. Newlines may stand
  // between items of arrays only.
  template <typename Item>
  bool SkipItems(char close, bool newlines, Item&& item) {
    ++pos_;
    for (;;) {
      SkipBlank(newlines);
      if (Peek() == close) {
        ++pos_;
        return true;
      }
      if (!item()) return false;
      SkipBlank(newlines);
      if (Peek() == ',') {
        ++pos_;
      } else if (Peek() != close) {
        return false;
      }
    }
  }

  // A value at `depth`: a string, an array, an inline table, or a scalar (number, date, bool).
  bool SkipValue(int depth) {
    SkipBlank(/*newlines=*/false);
    const char c = Peek();
    if (c == '"' || c == '\'') return SkipString();
    if (c == '[') {
      if (!Enter(depth + 1)) return false;
      return SkipItems(']', /*newlines=*/true, [&] { return SkipValue(depth + 1); });
    }
    if (c == '{') {
      if (!Enter(depth + 1)) return false;
      return SkipItems('}', /*newlines=*/false, [&] {
        int segments = 0;
        if (!SkipKey(depth + 1, &segments) || Peek() != '=') return false;
        ++pos_;
        return SkipValue(depth + 1 + segments);
      });
    }
    // A scalar runs to a delimiter. Dates may hold one space ("1979-05-27 07:32:00").
    const size_t start = pos_;
    while (!AtEnd()) {
      const char d = Peek();
      if (d == ',' || d == ']' || d == '}' || d == '\n' || d == '\r' || d == '#') break;
      if (d == '[' || d == '{' || d == '"' || d == '\'' || d == '=') return false;
      ++pos_;
    }
    return pos_ > start;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int header_ = 0;  // levels of the current [table] header
  bool too_deep_ = false;
};

}  // namespace

Result<void> PrescanConfig(std::string_view text, std::string_view source) {
  const std::string shown = Shown(source);
  if (text.size() > kMaxConfigBytes) {
    return MakeError(Status::kInvalidArgument,
                     shown + ": the config is longer than " + std::to_string(kMaxConfigBytes) +
                         " bytes (1 MiB), the most a config may be; is this the right file?");
  }
  Scanner scanner(text);
  if (!scanner.Run()) {
    return MakeError(Status::kInvalidArgument,
                     shown + ":" + std::to_string(scanner.line()) +
                         ": the config nests deeper than " + std::to_string(kMaxConfigDepth) +
                         " levels (each part of a dotted key or [table.header], each array and "
                         "inline table counts one); tierswap's configs need 3 at most.");
  }
  return {};
}

}  // namespace tierswap
