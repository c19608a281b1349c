#include "tiers/quoted.h"

namespace tierswap {
namespace {

bool Plain(unsigned char c) { return c >= 0x20 && c < 0x7f; }

}  // namespace

std::string Quoted(std::string_view text, char quote, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(1, quote);
  const size_t shown = text.size() < max_bytes ? text.size() : max_bytes;
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (Plain(c)) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (shown < text.size()) out += "...";
  out += quote;
  return out;
}

std::string Shown(std::string_view text) {
  for (const char c : text) {
    if (!Plain(static_cast<unsigned char>(c))) return Quoted(text);
  }
  return std::string(text);
}

}  // namespace tierswap
