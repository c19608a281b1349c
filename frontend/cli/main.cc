// tierswap: the command-line front end.
//
//   tierswap replay TRACE [--config FILE] [--pages FILE] [--json] [--timeline FILE] ...
//   tierswap probe [--config FILE] [--json]
//   tierswap stats --connect ADDR [--watch SECONDS] [--json]
//   tierswap plot (--cdf STATS.json | --occupancy TIMELINE.csv) -o OUT.png
//   tierswap soak --config FILE --seconds N [--threads T] [--pages P] [--json]
//   tierswap version
//
// This file builds the parser and dispatches; each subcommand lives in its own file
// (commands.h). docs/cli.md describes every command with examples and sample output.
// Exit status: 0 success, 1 a replay or soak with mismatches (or a soak above its RSS bound),
// 2 bad input or an unusable environment, with the reason on stderr.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "frontend/cli/commands.h"
#include "frontend/replay.h"
#include "tierswap_version.h"

namespace tierswap {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return MakeError(Status::kIoError,
                     "cannot open '" + path + "' for reading: " + std::strerror(errno) + ".");
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  if (f != stdin) std::fclose(f);
  if (failed) {
    return MakeError(Status::kIoError, "cannot read '" + path + "': " + std::strerror(err) + ".");
  }
  return text;
}

namespace {

int Main(int argc, char** argv) {
  CLI::App app{
      "tierswap: a frontswap-compatible far-memory backend.\n"
      "Pages offered for swap are kept on memory tiers (DRAM, far NUMA nodes, pmem, "
      "compressed) and returned byte for byte on load.",
      "tierswap"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tierswap ") + kTierswapVersion,
                       "Print the version and exit.");
  app.footer(
      "Examples:\n"
      "  tierswap replay examples/traces/demo.trace.zst --pages "
      "examples/pages/sample-pages.bin.zst\n"
      "  tierswap probe\n"
      "  tierswap stats --connect 127.0.0.1:9464 --watch 2\n"
      "  tierswap plot --occupancy timeline.csv -o occupancy.png\n"
      "  tierswap soak --config examples/soak.toml --seconds 60\n"
      "  tierswap replay --help\n"
      "Every command is described in docs/cli.md.");

  const Command commands[] = {AddReplayCommand(app), AddProbeCommand(app), AddStatsCommand(app),
                              AddPlotCommand(app), AddSoakCommand(app)};
  CLI::App* version = app.add_subcommand("version", "Print the tierswap version.");
  version->footer("Example:\n  tierswap version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitBadInput;
  }

  if (version->parsed()) {
    std::printf("tierswap %s\n", kTierswapVersion);
    return kExitOk;
  }
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return kExitBadInput;  // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace tierswap

int main(int argc, char** argv) { return tierswap::Main(argc, argv); }
