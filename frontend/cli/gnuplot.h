// RunGnuplot: draws a picture by running gnuplot as a child process.
//
// `tierswap plot` writes a complete gnuplot script (data inline, as datablocks) and feeds it to
// gnuplot's standard input; gnuplot's own messages go to our stderr. gnuplot is an ordinary
// program from the distribution (Debian: gnuplot-nox), found on PATH unless named; when it is
// missing, or fails, or leaves no PNG behind, the error says which and what to do.
//
// Thread-safety: call from one thread at a time (it ignores SIGPIPE while writing the script).
#ifndef TIERSWAP_FRONTEND_CLI_GNUPLOT_H_
#define TIERSWAP_FRONTEND_CLI_GNUPLOT_H_

#include <string>
#include <string_view>

#include "tiers/result.h"

namespace tierswap {

// Removes any old `png`, runs `program` (a name looked up on PATH, or a path) with `script` on
// its stdin, waits for it, and checks that it exited with status 0 and that `png` now starts
// with the PNG signature.
Result<void> RunGnuplot(const std::string& program, std::string_view script,
                        const std::string& png);

// `s` as a gnuplot single-quoted string: 'it''s'.
std::string GnuplotQuote(std::string_view s);

// Whether the file at `path` begins with the 8-byte PNG signature.
bool HasPngSignature(const std::string& path);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CLI_GNUPLOT_H_
