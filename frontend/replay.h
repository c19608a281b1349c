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

#include "placement/backend.h"
#include "frontend/page_corpus.h"
#include "frontend/trace_reader.h"
#include "tiers/result.h"
#include "tiers/stats_sink.h"

namespace tierswap {

// The tierswap release, as `tierswap version` prints it. The build may pass TIERSWAP_VERSION.
#ifdef TIERSWAP_VERSION
inline constexpr const char* kTierswapVersion = TIERSWAP_VERSION;
#else
inline constexpr const char* kTierswapVersion = "0.1.0";
#endif

// ---- generated page contents ------------------------------------------------------------------

enum class GeneratedPageKind : uint8_t { kZero, kSameFilled, kCompressible, kRandom };

// The kind of page GeneratePage produces for this tuple.
GeneratedPageKind GeneratedKindOf(unsigned type, uint64_t offset, uint64_t seq);
// Fills the 4 KiB `page` with the content stored by the `seq`-th store (0-based, counting every
// store of the trace) to (type, offset). The same tuple always gives the same bytes.
void GeneratePage(unsigned type, uint64_t offset, uint64_t seq, void* page);

// ---- load latency -----------------------------------------------------------------------------

// A log-linear histogram of nanoseconds: 16 linear buckets per power of two, so a percentile is
// exact below 16 ns and within 1/16 (6.25%) above. Fixed size, no allocation on Record.
class LatencyHistogram {
 public:
  void Record(uint64_t ns);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The value at quantile q (0 < q <= 1): the upper bound of the bucket holding the
  // ceil(q * count)-th smallest sample, capped at the largest sample. 0 when empty.
  uint64_t Percentile(double q) const;

 private:
  static constexpr unsigned kSubBits = 4;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;
  static unsigned BucketOf(uint64_t v);
  static uint64_t BucketUpper(unsigned b);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

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
  LatencyHistogram load_latency;  // around Backend::Load only
  double wall_seconds = 0;
  std::vector<ReplayMismatch> mismatch_reports;  // the first max_mismatch_reports mismatches
};

// Replays every operation of `trace` against `backend` (whose types should be uninitialised at
// the start, as after Backend::Open) and checks the answers. Returns an Error, naming
// source:line, for a malformed line, unreadable input, or a page reference the corpus cannot
// satisfy; mismatches are not errors but counted in the result.
Result<ReplayResult> Replay(Backend& backend, TraceReader& trace, const ReplayOptions& options);

// ---- reports ----------------------------------------------------------------------------------

// A StatsSink that keeps what it is told, for rendering as tables: top-level fields in order,
// and each list as rows of fields.
class StatsTable final : public StatsSink {
 public:
  struct Field {
    std::string name;
    std::string text;    // Text fields
    uint64_t value = 0;  // Counter and Gauge fields
    double real = 0;     // Real fields
    enum Kind : uint8_t { kCounter, kGauge, kReal, kText } kind = kCounter;
  };
  using Row = std::vector<Field>;
  struct List {
    std::string name;
    std::vector<Row> rows;
  };

  void Counter(std::string_view name, uint64_t value) override;
  void Gauge(std::string_view name, uint64_t value) override;
  void Real(std::string_view name, double value) override;
  void Text(std::string_view name, std::string_view value) override;
  void BeginList(std::string_view name) override;
  void BeginItem() override;
  void EndItem() override;
  void EndList() override;

  const Row& fields() const { return top_; }
  const std::vector<List>& lists() const { return lists_; }
  // A top-level field, or nullptr.
  const Field* Find(std::string_view name) const;
  // The list of that name, or nullptr.
  const List* FindList(std::string_view name) const;

 private:
  Row* Current();
  void Add(Field f);

  Row top_;
  std::vector<List> lists_;
  std::vector<size_t> open_;  // index into lists_ of each open list (lists may nest)
  bool in_item_ = false;
};

// A field of a row, or nullptr.
const StatsTable::Field* FindField(const StatsTable::Row& row, std::string_view name);

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
