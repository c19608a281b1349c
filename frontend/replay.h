// Replay: drives a Backend with a trace and checks every answer against a reference model.
//
// The model remembers, for each (type, offset), what the last ACCEPTED store put there, and
// which types are initialised. Every load is checked against it: a slot the model holds must
// load with identical bytes; a slot it does not hold (never stored, rejected store, invalidated
// page or area) must answer kNotFound; a type that is not initialised must answer
// kNotInitialized. Any other answer is a mismatch, i.e. a broken frontswap contract.
//
// The model keeps a token per page, not the page: page k of the corpus, or the store's sequence
// number, from which the generated content is recomputed on load. So the model's memory grows
// with the pages held, at a few dozen bytes each, and a trace of any length replays in bounded
// memory.
//
// Pages without @k are generated deterministically from (type, offset, store sequence number)
// with a mix that resembles anonymous memory: about 10% zero pages, 5% other same-filled pages,
// 45% compressible (records, text, sparse data) and 40% random.
//
// Thread-safety: Replay runs on the calling thread; the Backend may be shared, but then other
// threads' operations on the traced types make the model wrong.
#ifndef TIERSWAP_FRONTEND_REPLAY_H_
#define TIERSWAP_FRONTEND_REPLAY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/page_corpus.h"
#include "frontend/trace_reader.h"
#include "placement/backend.h"
#include "tiers/latency_histogram.h"
#include "tiers/result.h"
#include "tiers/stats_sink.h"

namespace tierswap {

// ---- generated page contents ------------------------------------------------------------------

enum class GeneratedPageKind : uint8_t { kZero, kSameFilled, kCompressible, kRandom };

// The kind of page GeneratePage produces for this tuple.
GeneratedPageKind GeneratedKindOf(unsigned type, uint64_t offset, uint64_t seq);
// Fills the 4 KiB `page` with the content stored by the `seq`-th store (0-based, counting every
// store of the trace) to (type, offset). The same tuple always gives the same bytes.
void GeneratePage(unsigned type, uint64_t offset, uint64_t seq, void* page);

// ---- replay -----------------------------------------------------------------------------------

struct ReplayResult;

// Watches a replay as it goes: a progress display, a timeline of statistics (timeline.h).
// Replay calls OnInterval on its own thread, between two operations, each time another
// interval_ops() operations have been replayed, and OnEnd once after the last operation of a
// trace replayed to its end. An observer that fails (a write error, say) stops the replay:
// Replay returns its Error. Calls are cheap when nothing is due (one comparison per operation).
class ReplayObserver {
 public:
  virtual ~ReplayObserver() = default;
  // Operations between two OnInterval calls, at least 1; read once, when the replay starts.
  virtual uint64_t interval_ops() const = 0;
  // `so_far` holds the counts up to now; its wall_seconds is the time since the replay started.
  virtual Result<void> OnInterval(const ReplayResult& so_far) = 0;
  // `result` is final (mismatches found at the end of the trace included).
  virtual Result<void> OnEnd(const ReplayResult& /*result*/) { return {}; }
};

struct ReplayOptions {
  // Pages that `S ... @k` stores; nullptr when none was given (then @k is an error).
  const PageCorpus* corpus = nullptr;
  // How many mismatches to describe in ReplayResult::mismatch_reports (all are counted).
  size_t max_mismatch_reports = 10;
  // Called as the replay goes (not owned; each must outlive the call to Replay).
  std::vector<ReplayObserver*> observers;
};

struct ReplayMismatch {
  uint64_t line = 0;    // trace line of the operation that went wrong (0: end of trace)
  std::string message;  // "trace:12: L 0 5: ..." a full sentence
};

struct ReplayResult {
  std::string source;             // the trace's name
  uint64_t ops = 0;               // operations replayed (comments and blank lines excluded)
  uint64_t inits = 0;             // N
  uint64_t stores = 0;            // S
  uint64_t stores_accepted = 0;   // stores the backend accepted
  uint64_t rejects = 0;           // stores it did not accept (no space, uninitialised, ...)
  uint64_t corpus_stores = 0;     // stores whose content came from the corpus (@k)
  uint64_t loads = 0;             // L
  uint64_t hits = 0;              // loads that returned a page
  uint64_t misses = 0;            // loads answered kNotFound
  uint64_t loads_refused = 0;     // loads answered otherwise (uninitialised type, bad offset, ...)
  uint64_t invalidates = 0;       // I
  uint64_t area_invalidates = 0;  // A
  uint64_t mismatches = 0;        // answers that broke the contract
  uint64_t model_pages = 0;       // pages the model holds at the end
  LatencyHistogram<4> load_latency;  // ns around Backend::Load only (within 1/16)
  double wall_seconds = 0;
  std::vector<ReplayMismatch> mismatch_reports;  // the first max_mismatch_reports mismatches
};

// Replays every operation of `trace` against `backend` (whose types should be uninitialised at
// the start, as after Backend::Open) and checks the answers. Returns an Error, naming
// source:line, for a malformed line, unreadable input, or a page reference the corpus cannot
// satisfy; mismatches are not errors but counted in the result.
Result<ReplayResult> Replay(Backend& backend, TraceReader& trace, const ReplayOptions& options);

// ---- reports ----------------------------------------------------------------------------------

// Rows of cells as left-aligned columns, two spaces apart, each line prefixed with `indent`.
std::string RenderTextTable(const std::vector<std::vector<std::string>>& rows, const char* indent);
// "512 B", "4.00 KiB", "66.2 MiB": binary units, three significant digits.
std::string FormatBytes(uint64_t bytes);
// "863 ns", "12.5 us", "4.04 ms".
std::string FormatNanos(double ns);

// The human-readable report: replay counts, load latency, then the backend's tiers as a table
// and its totals.
std::string FormatReplayReport(const ReplayResult& result, const Backend& backend);
// The report as one JSON object (docs/trace-format.md lists the fields); the backend's
// statistics go under "stats".
std::string ReplayReportJson(const ReplayResult& result, const Backend& backend);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_REPLAY_H_
