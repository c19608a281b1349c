// tierswap: the command-line front end.
//
//   tierswap replay TRACE [--config FILE] [--pages FILE] [--json] [--max-mismatch-report N]
//   tierswap version
//
// `replay` opens a backend from a config (or the default one), replays a trace against it and
// checks every load against a reference model (frontend/replay.h). Exit status: 0 when every
// answer was right, 1 when some were not (mismatches), 2 when the input was bad (a malformed
// trace, a bad config, an unreadable file, a usage error), with the reason on stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "frontend/backend.h"
#include "frontend/config.h"
#include "frontend/page_corpus.h"
#include "frontend/replay.h"
#include "frontend/trace_reader.h"

namespace tierswap {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitBadInput = 2;

struct ReplayArgs {
  std::string trace;
  std::string config;
  std::string pages;
  bool json = false;
  size_t max_mismatch_report = 10;
};

int Fail(const Error& e) {
  std::fprintf(stderr, "tierswap replay: %s\n", e.message.c_str());
  return kExitBadInput;
}

int RunReplay(const ReplayArgs& args) {
  Result<Config> config =
      args.config.empty() ? Result<Config>(Config::Default()) : Config::FromFile(args.config);
  if (!config) return Fail(config.error());

  std::unique_ptr<PageCorpus> corpus;
  if (!args.pages.empty()) {
    Result<PageCorpus> c = PageCorpus::Load(args.pages);
    if (!c) return Fail(c.error());
    corpus = std::make_unique<PageCorpus>(std::move(*c));
  }

  Result<std::unique_ptr<TraceReader>> trace = TraceReader::Open(args.trace);
  if (!trace) return Fail(trace.error());

  Result<std::unique_ptr<Backend>> backend = Backend::Open(*config);
  if (!backend) return Fail(backend.error());

  ReplayOptions options;
  options.corpus = corpus.get();
  options.max_mismatch_reports = args.max_mismatch_report;
  Result<ReplayResult> result = Replay(**backend, **trace, options);
  if (!result) return Fail(result.error());

  const std::string report =
      args.json ? ReplayReportJson(*result, **backend) : FormatReplayReport(*result, **backend);
  std::fwrite(report.data(), 1, report.size(), stdout);
  std::fflush(stdout);
  if (result->mismatches == 0) return kExitOk;
  std::fprintf(stderr,
               "tierswap replay: %llu mismatches: the backend's answers broke the frontswap "
               "contract (details in the report).\n",
               static_cast<unsigned long long>(result->mismatches));
  return kExitMismatch;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "tierswap: a frontswap-compatible far-memory backend.\n"
      "Pages offered for swap are kept on memory tiers (DRAM now) and returned "
      "byte for byte on load.",
      "tierswap"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tierswap ") + kTierswapVersion,
                       "Print the version and exit.");
  app.footer(
      "Examples:\n"
      "  tierswap replay examples/traces/demo.trace.zst --pages "
      "examples/pages/sample-pages.bin.zst\n"
      "  tierswap replay --help\n"
      "  tierswap version");

  ReplayArgs args;
  CLI::App* replay = app.add_subcommand(
      "replay", "Replay a trace against a backend and check every load against a model.");
  replay->add_option("TRACE", args.trace, "Trace file, plain or zstd-compressed; '-' reads stdin.")
      ->required()
      ->type_name("FILE|-");
  replay
      ->add_option("--config", args.config,
                   "Backend configuration (TOML, docs/config.md). Default: one 256 MiB DRAM "
                   "tier.")
      ->type_name("FILE");
  replay
      ->add_option("--pages", args.pages,
                   "Page corpus for 'S <type> <offset> @k' stores: raw 4096-byte pages, plain "
                   "or zstd.")
      ->type_name("FILE");
  replay->add_flag("--json", args.json,
                   "Print one JSON object (counts, load_ns_*, and the backend's \"stats\") "
                   "instead of the readable report.");
  replay
      ->add_option("--max-mismatch-report", args.max_mismatch_report,
                   "Describe at most N mismatches (all are counted).")
      ->default_val(10)
      ->type_name("N");
  replay->footer(
      "The trace is a text file of frontswap calls (init, store, load, invalidate), plain or "
      "zstd-compressed; docs/trace-format.md describes it. Every load is checked against a "
      "reference model of what the backend accepted. The report gives operation counts, load "
      "latency and per-tier placement.\n"
      "Exit status: 0 when every answer was right, 1 on mismatches, 2 on bad input (malformed "
      "trace, bad config, unreadable file), with the reason on stderr.\n\n"
      "Examples:\n"
      "  tierswap replay examples/traces/demo.trace.zst --pages "
      "examples/pages/sample-pages.bin.zst\n"
      "  tierswap replay trace.txt --config examples/configs/small.toml --json\n"
      "  zstd -dc big.trace.zst | grep -v '^I' | tierswap replay -");

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
  return RunReplay(args);
}

}  // namespace
}  // namespace tierswap

int main(int argc, char** argv) { return tierswap::Main(argc, argv); }
