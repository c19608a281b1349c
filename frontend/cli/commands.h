// The subcommands of the `tierswap` CLI, one file each (replay_command.cc, probe_command.cc,
// stats_command.cc, plot_command.cc, soak_command.cc); main.cc only builds the parser and
// dispatches.
//
// Each Add*Command registers its subcommand, options and help on the app and returns the
// function that runs it once the command line has parsed; the options live in that function's
// closure. Exit statuses are shared: 0 success, 1 a replay or soak whose answers broke the
// contract (or a soak whose peak RSS exceeded its bound), 2 anything the user can fix (bad
// input, a missing file or program, an unreachable endpoint), with a sentence on stderr.
//
// Thread-safety: the CLI runs on one thread (a --watch loop included); `soak` starts and joins
// its own workload threads.
#ifndef TIERSWAP_FRONTEND_CLI_COMMANDS_H_
#define TIERSWAP_FRONTEND_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <string>

#include "tiers/result.h"

namespace tierswap {

inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 1;
inline constexpr int kExitBadInput = 2;

struct Command {
  CLI::App* app = nullptr;   // the subcommand, for parsed()
  std::function<int()> run;  // runs it; returns the exit status
};

Command AddReplayCommand(CLI::App& app);
Command AddProbeCommand(CLI::App& app);
Command AddStatsCommand(CLI::App& app);
Command AddPlotCommand(CLI::App& app);
Command AddSoakCommand(CLI::App& app);

// Prints "tierswap <command>: <message>" on stderr and returns kExitBadInput.
inline int FailCommand(const char* command, const std::string& message) {
  std::fprintf(stderr, "tierswap %s: %s\n", command, message.c_str());
  return kExitBadInput;
}
inline int FailCommand(const char* command, const Error& e) {
  return FailCommand(command, e.message);
}

// Reads a whole file ("-": standard input). Errors name the path.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CLI_COMMANDS_H_
