// PrescanConfig: the limits a config's text must keep before the TOML parser sees it.
//
// toml++ builds its tree recursively, and a table header of 100,000 dotted keys (a 200 KB file)
// overflows the stack inside it: a crash of whatever process opens the backend, through
// $TIERSWAP_CONFIG too. No catch can stop that, so the text is checked first, by a scanner that
// follows TOML's statement structure (table headers, dotted keys, strings of the four kinds,
// arrays, inline tables, comments) without building anything and without recursion deeper than
// the limit:
//   - at most kMaxConfigBytes bytes (1 MiB; a config with all 31 tiers is a few KiB);
//   - at most kMaxConfigDepth levels of nesting, counting each segment of a table header or a
//     dotted key and each array or inline table a value opens ([[tier]] with `name = "x"` is
//     2 levels; `a = [{b.c = [1]}]` is 5).
// Text the scanner cannot follow is left to the parser, which stops at the first syntax error
// and reports it; the scanner follows every construct up to that point.
//
// Thread-safety: a pure function.
#ifndef TIERSWAP_FRONTEND_CONFIG_PRESCAN_H_
#define TIERSWAP_FRONTEND_CONFIG_PRESCAN_H_

#include <cstddef>
#include <string_view>

#include "tiers/result.h"

namespace tierswap {

inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;
inline constexpr int kMaxConfigDepth = 16;

// kInvalidArgument with "<source>:<line>: ..." when the text breaks a limit; the line is where
// the nesting first went past the limit.
Result<void> PrescanConfig(std::string_view text, std::string_view source);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CONFIG_PRESCAN_H_
