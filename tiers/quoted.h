// Quoted: a name, path or value as a message shows it.
//
// Names and paths come from configs, environment variables and C callers, and end up in error
// messages, logs and terminals. A byte that is not printable ASCII is written as \xNN, and the
// quote character and backslash are escaped, so that a hostile or careless name cannot move the
// cursor, clear a terminal, forge a second log line or end the quotes early. Long text is cut
// after `max_bytes` bytes, marked with "...".
//
// Thread-safety: a pure function.
#ifndef TIERSWAP_TIERS_QUOTED_H_
#define TIERSWAP_TIERS_QUOTED_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace tierswap {

std::string Quoted(std::string_view text, char quote = '"', size_t max_bytes = 256);

// `text` as it is when every byte is printable ASCII, else Quoted(text): for what messages show
// without quotes, such as the file name in "file:line: ...".
std::string Shown(std::string_view text);

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_QUOTED_H_
