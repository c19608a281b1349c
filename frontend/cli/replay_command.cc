// `tierswap replay`: opens a backend from a config (or the default one), replays a trace against
// it and checks every load against a reference model (frontend/replay.h). Around that: a
// progress bar on a terminal (progress.h), a per-interval timeline CSV (frontend/timeline.h),
// the JSON report in a file, and the config's [stats] listener, so that `tierswap stats` can
// watch a long replay. Exit status: 0 when every answer was right, 1 on mismatches, 2 on bad
// input.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "frontend/backend_factory.h"
#include "placement/backend.h"
#include "frontend/cli/commands.h"
#include "frontend/cli/progress.h"
#include "frontend/config.h"
#include "frontend/page_corpus.h"
#include "frontend/replay.h"
#include "frontend/stats_service.h"
#include "frontend/timeline.h"
#include "frontend/trace_reader.h"

namespace tierswap {
namespace {

struct ReplayArgs {
  std::string trace;
  std::string config;
  std::string pages;
  bool json = false;
  std::string json_file;
  size_t max_mismatch_report = 10;
  std::string timeline;
  uint64_t timeline_interval = ReplayTimeline::kDefaultIntervalOps;
  bool no_progress = false;
};

int Fail(const Error& e) { return FailCommand("replay", e); }

// The trace, and for a regular file its size and a way to ask how much of it has been read.
struct OpenedTrace {
  std::unique_ptr<TraceReader> reader;
  int fd = -1;  // owned by the reader; -1 for stdin
  uint64_t size = 0;
};

Result<OpenedTrace> OpenTrace(const std::string& path) {
  OpenedTrace t;
  if (path == "-") {
    Result<std::unique_ptr<TraceReader>> r = TraceReader::Open(path);
    if (!r) return r.take_error();
    t.reader = std::move(*r);
    return t;
  }
  // Opened here rather than by TraceReader::Open so that the descriptor's offset can tell the
  // progress bar how far the reader has got (in compressed bytes for a zstd trace).
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(Status::kIoError,
                     "cannot open '" + path + "' for reading: " + std::strerror(errno) + ".");
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) t.size = static_cast<uint64_t>(st.st_size);
  t.fd = fd;
  t.reader = std::make_unique<TraceReader>(InputStream::FromFd(fd, path, /*owned=*/true));
  return t;
}

Result<void> WriteFile(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return MakeError(Status::kIoError,
                     "cannot create '" + path + "': " + std::strerror(errno) + ".");
  }
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int err = errno;
  if (std::fclose(f) != 0 || !wrote) {
    return MakeError(Status::kIoError,
                     "cannot write '" + path + "': " + std::strerror(wrote ? errno : err) + ".");
  }
  return {};
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

  Result<OpenedTrace> trace = OpenTrace(args.trace);
  if (!trace) return Fail(trace.error());

  Result<std::unique_ptr<Backend>> backend = OpenBackend(*config);
  if (!backend) return Fail(backend.error());

  // The config's [stats] listener and dump file, as a C handle would have them.
  Result<std::unique_ptr<StatsService>> service = StatsService::Start(**backend, config->stats);
  if (!service) return Fail(service.error());
  if ((*service)->port() != 0) {
    std::fprintf(stderr,
                 "tierswap replay: serving statistics on port %d (tierswap stats --connect)\n",
                 (*service)->port());
  }

  ReplayOptions options;
  options.corpus = corpus.get();
  options.max_mismatch_reports = args.max_mismatch_report;

  std::unique_ptr<ReplayTimeline> timeline;
  if (!args.timeline.empty()) {
    Result<std::unique_ptr<ReplayTimeline>> t =
        ReplayTimeline::Create(args.timeline, **backend, args.timeline_interval);
    if (!t) return Fail(t.error());
    timeline = std::move(*t);
    options.observers.push_back(timeline.get());
  }

  std::unique_ptr<ProgressBar> progress;
  if (!args.no_progress && ProgressBar::WantedOn(STDERR_FILENO)) {
    const int fd = trace->fd;
    progress = std::make_unique<ProgressBar>(STDERR_FILENO, trace->size, [fd]() -> uint64_t {
      const off_t pos = fd < 0 ? -1 : lseek(fd, 0, SEEK_CUR);
      return pos < 0 ? 0 : static_cast<uint64_t>(pos);
    });
    options.observers.push_back(progress.get());
  }

  Result<ReplayResult> result = Replay(**backend, *trace->reader, options);
  if (progress) progress->Clear();
  if (!result) return Fail(result.error());

  if (!args.json_file.empty()) {
    Result<void> w = WriteFile(args.json_file, ReplayReportJson(*result, **backend));
    if (!w) return Fail(w.error());
  }
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

}  // namespace

Command AddReplayCommand(CLI::App& app) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* replay = app.add_subcommand(
      "replay", "Replay a trace against a backend and check every load against a model.");
  replay->add_option("TRACE", args->trace, "Trace file, plain or zstd-compressed; '-' reads stdin.")
      ->required()
      ->type_name("FILE|-");
  replay
      ->add_option("--config", args->config,
                   "Backend configuration (TOML, docs/config.md). Default: one 256 MiB DRAM "
                   "tier.")
      ->type_name("FILE");
  replay
      ->add_option("--pages", args->pages,
                   "Page corpus for 'S <type> <offset> @k' stores: raw 4096-byte pages, plain "
                   "or zstd.")
      ->type_name("FILE");
  replay->add_flag("--json", args->json,
                   "Print one JSON object (counts, load_ns_*, and the backend's \"stats\") "
                   "instead of the readable report.");
  replay
      ->add_option("--json-file", args->json_file,
                   "Also write the JSON report to FILE (whatever --json says), e.g. for "
                   "'tierswap plot --cdf'.")
      ->type_name("FILE");
  replay
      ->add_option("--timeline", args->timeline,
                   "Write a CSV row every --timeline-interval operations: ops, elapsed_ms, "
                   "loads, hit_rate, each tier's share of the loads and its used bytes, "
                   "promotions, demotions (docs/cli.md).")
      ->type_name("FILE");
  replay->add_option("--timeline-interval", args->timeline_interval, "Operations per timeline row.")
      ->default_val(ReplayTimeline::kDefaultIntervalOps)
      ->check(CLI::PositiveNumber)
      ->type_name("OPS");
  replay->add_flag("--no-progress", args->no_progress,
                   "No progress bar (it is only drawn when stderr is a terminal anyway).");
  replay
      ->add_option("--max-mismatch-report", args->max_mismatch_report,
                   "Describe at most N mismatches (all are counted).")
      ->default_val(10)
      ->type_name("N");
  replay->footer(
      "The trace is a text file of frontswap calls (init, store, load, invalidate), plain or "
      "zstd-compressed; docs/trace-format.md describes it. Every load is checked against a "
      "reference model of what the backend accepted. The report gives operation counts, load "
      "latency and per-tier placement. On a terminal a progress bar with rate and ETA is drawn "
      "on stderr. A config with [stats] listen serves the backend's statistics meanwhile.\n"
      "Exit status: 0 when every answer was right, 1 on mismatches, 2 on bad input (malformed "
      "trace, bad config, unreadable file), with the reason on stderr.\n\n"
      "Examples:\n"
      "  tierswap replay examples/traces/demo.trace.zst --pages "
      "examples/pages/sample-pages.bin.zst\n"
      "  tierswap replay trace.txt --config examples/two-dram-tiers.toml --json\n"
      "  tierswap replay demo.trace.zst --config examples/all-tiers.toml --timeline t.csv "
      "--json-file report.json\n"
      "  zstd -dc big.trace.zst | grep -v '^I' | tierswap replay -");
  return {replay, [args] { return RunReplay(*args); }};
}

}  // namespace tierswap
