#include "frontend/replay.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "frontend/json_writer.h"
#include "frontend/stats_export.h"
#include "tiers/page.h"
#include "tiers/page_content.h"

namespace tierswap {
namespace {

// ---- generated pages --------------------------------------------------------------------------

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

uint64_t SeedOf(unsigned type, uint64_t offset, uint64_t seq) {
  return Mix64(Mix64(Mix64(0x243f6a8885a308d3ull ^ type) ^ offset) ^ (seq * kGolden));
}

GeneratedPageKind KindOfSeed(uint64_t seed) {
  const unsigned r = static_cast<unsigned>((seed >> 40) % 100);
  if (r < 10) return GeneratedPageKind::kZero;
  if (r < 15) return GeneratedPageKind::kSameFilled;
  if (r < 60) return GeneratedPageKind::kCompressible;
  return GeneratedPageKind::kRandom;
}

// ---- model ------------------------------------------------------------------------------------

// A token says what a slot holds: page k of the corpus (top bit set), or the sequence number of
// the store whose generated content it is.
constexpr uint64_t kCorpusBit = uint64_t{1} << 63;

struct ModelPage {
  uint64_t token;
  uint64_t line;  // where it was stored, for mismatch messages
};

struct TypeModel {
  bool initialized = false;
  uint64_t nr_pages = 0;
  // Offsets of held pages are below 2^32 (Backend refuses others).
  std::unordered_map<uint32_t, ModelPage> pages;
};

// The answer the backend owes before contents matter: kNotInitialized, kInvalidArgument, or
// kOk meaning "the slot exists".
Status Gate(const TypeModel& t, uint64_t offset) {
  if (!t.initialized) return Status::kNotInitialized;
  const uint64_t limit = t.nr_pages != 0 ? t.nr_pages : Backend::kMaxPagesPerType;
  return offset < limit ? Status::kOk : Status::kInvalidArgument;
}

// An uninitialised type with an offset no type can have: either complaint is right.
bool GateAccepts(Status gate, const TypeModel& t, uint64_t offset, Status got) {
  if (got == gate) return true;
  return !t.initialized && offset >= Backend::kMaxPagesPerType && got == Status::kInvalidArgument;
}

constexpr unsigned char kPoison = 0xa5;

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---- report formatting ------------------------------------------------------------------------

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

}  // namespace

// ---- text formatting --------------------------------------------------------------------------

std::string FormatNanos(double ns) {
  if (ns < 10'000) return Printf("%.0f ns", ns);
  if (ns < 1'000'000) return Printf("%.1f us", ns / 1e3);
  return Printf("%.2f ms", ns / 1e6);
}

std::string FormatBytes(uint64_t b) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (b < 1024) return std::to_string(b) + " B";
  double v = static_cast<double>(b);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) v /= 1024, ++u;
  return Printf(v < 10 ? "%.2f " : "%.1f ", v) + kUnits[u];
}

std::string RenderTextTable(const std::vector<std::vector<std::string>>& rows, const char* indent) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line.append(width[c] - r[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

// ---- generated pages --------------------------------------------------------------------------

GeneratedPageKind GeneratedKindOf(unsigned type, uint64_t offset, uint64_t seq) {
  return KindOfSeed(SeedOf(type, offset, seq));
}

void GeneratePage(unsigned type, uint64_t offset, uint64_t seq, void* page) {
  const uint64_t seed = SeedOf(type, offset, seq);
  uint64_t rng = seed;  // tiers/page_content.h walks it
  switch (KindOfSeed(seed)) {
    case GeneratedPageKind::kZero:
      std::memset(page, 0, kPageSize);
      return;
    case GeneratedPageKind::kSameFilled:
      FillPage(page, SplitMix64(&rng) | 1);  // | 1: never the zero page
      return;
    case GeneratedPageKind::kCompressible:
      switch (seed % 3) {
        case 0:
          FillRecordsPage(page, &rng);
          return;
        case 1:
          FillTextPage(page, &rng);
          return;
        default:
          FillSparsePage(page, &rng);
          return;
      }
    case GeneratedPageKind::kRandom:
      FillRandomPage(page, &rng);
      return;
  }
}

// ---- Replay -----------------------------------------------------------------------------------

Result<ReplayResult> Replay(Backend& backend, TraceReader& trace, const ReplayOptions& options) {
  ReplayResult res;
  res.source = trace.name();
  std::array<TypeModel, kTraceMaxTypes> model;
  const bool exclusive_mode = backend.options().exclusive_loads;
  const uint64_t pages_before = backend.stored_pages();
  uint64_t store_seq = 0;

  alignas(64) static thread_local unsigned char store_buf[kPageSize];
  alignas(64) static thread_local unsigned char load_buf[kPageSize];
  alignas(64) static thread_local unsigned char expect_buf[kPageSize];

  TraceOp op;
  auto mismatch = [&](const std::string& what) {
    ++res.mismatches;
    if (res.mismatch_reports.size() < options.max_mismatch_reports) {
      res.mismatch_reports.push_back({op.line, trace.name() + ":" + std::to_string(op.line) + ": " +
                                                   op.ToString() + ": " + what});
    }
  };
  auto expected_page = [&](unsigned type, uint64_t offset, uint64_t token) {
    if (token & kCorpusBit) return options.corpus->page(token & ~kCorpusBit);
    GeneratePage(type, offset, token, expect_buf);
    return static_cast<const unsigned char*>(expect_buf);
  };

  // Observers, each with the operation count at which it is next due; `next_due` is the
  // earliest, so an operation that finds nothing due costs one comparison.
  struct Due {
    ReplayObserver* observer;
    uint64_t every;
    uint64_t next;
  };
  std::vector<Due> due;
  uint64_t next_due = UINT64_MAX;
  for (ReplayObserver* o : options.observers) {
    const uint64_t every = std::max<uint64_t>(1, o->interval_ops());
    due.push_back({o, every, every});
    next_due = std::min(next_due, every);
  }

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (;;) {
    if (res.ops >= next_due) {
      res.wall_seconds = elapsed();
      next_due = UINT64_MAX;
      for (Due& d : due) {
        if (res.ops >= d.next) {
          Result<void> r = d.observer->OnInterval(res);
          if (!r) return r.take_error();
          d.next += d.every;
        }
        next_due = std::min(next_due, d.next);
      }
    }
    Result<bool> next = trace.Next(&op);
    if (!next) return next.take_error();
    if (!*next) break;
    ++res.ops;
    TypeModel& t = model[op.type];

    switch (op.kind) {
      case TraceOpKind::kInit: {
        ++res.inits;
        const Status s = backend.Init(op.type, op.nr_pages);
        if (s != Status::kOk) {
          mismatch(std::string("init failed with ") + StatusName(s) + ".");
          break;
        }
        t.initialized = true;
        t.nr_pages = op.nr_pages;
        t.pages.clear();
        break;
      }

      case TraceOpKind::kStore: {
        ++res.stores;
        uint64_t token;
        if (op.page_ref) {
          const uint64_t k = *op.page_ref;
          if (options.corpus == nullptr) {
            return MakeError(Status::kInvalidArgument,
                             trace.name() + ":" + std::to_string(op.line) +
                                 ": the store refers to corpus page @" + std::to_string(k) +
                                 " but no page corpus was given (--pages FILE).");
          }
          if (k >= options.corpus->page_count()) {
            return MakeError(Status::kInvalidArgument,
                             trace.name() + ":" + std::to_string(op.line) + ": page reference @" +
                                 std::to_string(k) + " is out of range: the corpus '" +
                                 options.corpus->source() + "' holds " +
                                 std::to_string(options.corpus->page_count()) + " pages (@0 to @" +
                                 std::to_string(options.corpus->page_count() - 1) + ").");
          }
          token = kCorpusBit | k;
          std::memcpy(store_buf, options.corpus->page(k), kPageSize);
          ++res.corpus_stores;
        } else {
          token = store_seq;
          GeneratePage(op.type, op.offset, store_seq, store_buf);
        }
        ++store_seq;

        const Status gate = Gate(t, op.offset);
        const Status s = backend.Store(op.type, op.offset, store_buf);
        if (s == Status::kOk) {
          ++res.stores_accepted;
          if (gate != Status::kOk) {
            mismatch(std::string("the store was accepted, but the backend should have answered ") +
                     StatusName(gate) + ".");
          } else {
            t.pages[static_cast<uint32_t>(op.offset)] = ModelPage{token, op.line};
          }
          break;
        }
        ++res.rejects;
        // Whatever the reason, a failed store leaves the slot empty: frontswap's duplicate-store
        // rule, and trivially so for a slot that cannot exist.
        if (gate == Status::kOk) t.pages.erase(static_cast<uint32_t>(op.offset));
        const bool fine = gate == Status::kOk ? (s == Status::kNoSpace || s == Status::kNoMemory)
                                              : GateAccepts(gate, t, op.offset, s);
        if (!fine) {
          mismatch(std::string("the store was answered ") + StatusName(s) + ", expected " +
                   (gate == Status::kOk ? "ok, no_space or no_memory" : StatusName(gate)) + ".");
        }
        break;
      }

      case TraceOpKind::kLoad: {
        ++res.loads;
        const Status gate = Gate(t, op.offset);
        const ModelPage* held = nullptr;
        if (gate == Status::kOk) {
          auto it = t.pages.find(static_cast<uint32_t>(op.offset));
          if (it != t.pages.end()) held = &it->second;
        }
        std::memset(load_buf, kPoison, kPageSize);
        bool exclusive = false;
        const auto t0 = std::chrono::steady_clock::now();
        const Status s = backend.Load(op.type, op.offset, load_buf, &exclusive);
        const auto t1 = std::chrono::steady_clock::now();
        res.load_latency.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));

        if (s == Status::kOk) {
          ++res.hits;
        } else if (s == Status::kNotFound) {
          ++res.misses;
        } else {
          ++res.loads_refused;
        }

        if (held != nullptr) {
          auto stored_at = [&] { return "the page stored at line " + std::to_string(held->line); };
          if (s != Status::kOk) {
            mismatch("expected " + stored_at() + ", but the load was answered " + StatusName(s) +
                     ".");
            break;  // kIoError keeps the slot held; a miss means the backend lost it
          }
          const unsigned char* want = expected_page(op.type, op.offset, held->token);
          if (std::memcmp(want, load_buf, kPageSize) != 0) {
            size_t first = kPageSize, differing = 0;
            for (size_t i = 0; i < kPageSize; ++i) {
              if (want[i] != load_buf[i]) {
                if (first == kPageSize) first = i;
                ++differing;
              }
            }
            mismatch("the loaded page differs from " + stored_at() + " at byte " +
                     std::to_string(first) + " (" + std::to_string(differing) + " of " +
                     std::to_string(kPageSize) + " bytes differ).");
          }
          if (exclusive != exclusive_mode) {
            mismatch(exclusive_mode
                         ? "exclusive loads are on, but the load did not report dropping the page."
                         : "the load reported an exclusive drop, but exclusive loads are off.");
          }
          if (exclusive_mode) t.pages.erase(static_cast<uint32_t>(op.offset));
          break;
        }

        const Status want = gate == Status::kOk ? Status::kNotFound : gate;
        if (s == Status::kOk) {
          mismatch(std::string("the load returned a page, but expected ") + StatusName(want) +
                   (want == Status::kNotFound ? " (the slot holds no accepted page)." : "."));
          break;
        }
        if (!(s == want || GateAccepts(gate, t, op.offset, s))) {
          mismatch(std::string("the load was answered ") + StatusName(s) + ", expected " +
                   StatusName(want) + ".");
        }
        if (std::any_of(load_buf, load_buf + kPageSize,
                        [](unsigned char c) { return c != kPoison; })) {
          mismatch(std::string("the load answered ") + StatusName(s) +
                   " but wrote into the caller's page.");
        }
        break;
      }

      case TraceOpKind::kInvalidatePage:
        ++res.invalidates;
        backend.InvalidatePage(op.type, op.offset);
        if (op.offset < Backend::kMaxPagesPerType) t.pages.erase(static_cast<uint32_t>(op.offset));
        break;

      case TraceOpKind::kInvalidateArea:
        ++res.area_invalidates;
        backend.InvalidateArea(op.type);
        t.initialized = false;
        t.nr_pages = 0;
        t.pages.clear();
        break;
    }
  }
  res.wall_seconds = elapsed();

  for (const TypeModel& t : model) res.model_pages += t.pages.size();
  // Pages the backend holds but no load asked for would go unnoticed otherwise: a leak, or a
  // store reported as rejected that kept the page anyway.
  const uint64_t held = backend.stored_pages();
  if (pages_before == 0 && held != res.model_pages) {
    ++res.mismatches;
    if (res.mismatch_reports.size() < options.max_mismatch_reports) {
      res.mismatch_reports.push_back(
          {0, trace.name() + ": at the end of the trace the backend holds " +
                  Plural(held, "page", "pages") + ", but the trace leaves " +
                  Plural(res.model_pages, "page", "pages") + " stored."});
    }
  }
  for (Due& d : due) {
    Result<void> r = d.observer->OnEnd(res);
    if (!r) return r.take_error();
  }
  return res;
}

// ---- reports ----------------------------------------------------------------------------------

std::string FormatReplayReport(const ReplayResult& r, const Backend& backend) {
  std::vector<std::vector<std::string>> rows;
  const double rate = r.wall_seconds > 0 ? r.ops / r.wall_seconds : 0;
  rows.push_back({"operations", std::to_string(r.ops) + " in " + Printf("%.2f s", r.wall_seconds) +
                                    " (" + Printf("%.0f", rate) + " ops/s)"});
  rows.push_back({"stores", std::to_string(r.stores) + ": " + std::to_string(r.stores_accepted) +
                                " accepted, " + std::to_string(r.rejects) + " rejected (" +
                                std::to_string(r.corpus_stores) + " from the page corpus)"});
  rows.push_back({"loads", std::to_string(r.loads) + ": " + std::to_string(r.hits) + " hits, " +
                               std::to_string(r.misses) + " misses, " +
                               std::to_string(r.loads_refused) + " refused"});
  rows.push_back({"invalidations", Plural(r.invalidates, "page", "pages") + ", " +
                                       Plural(r.area_invalidates, "area", "areas")});
  rows.push_back({"inits", std::to_string(r.inits)});
  rows.push_back({"mismatches", std::to_string(r.mismatches)});
  const auto& h = r.load_latency;
  rows.push_back({"load latency", "mean " + FormatNanos(h.mean()) + ", p50 " +
                                      FormatNanos(static_cast<double>(h.Percentile(0.5))) +
                                      ", p99 " +
                                      FormatNanos(static_cast<double>(h.Percentile(0.99))) +
                                      ", max " + FormatNanos(static_cast<double>(h.max()))});
  std::string out = "replay of " + r.source + "\n" + RenderTextTable(rows, "  ");

  const BackendStats stats = backend.Stats();
  std::vector<std::vector<std::string>> tiers = {
      {"name", "kind", "rank", "load cost (from)", "capacity", "used", "stored pages", "stores",
       "loads", "load p50 / p99", "promoted / demoted in"}};
  for (const TierStats& t : stats.tiers) {
    // The tier's own load latency (time inside the tier, emulation included), when the backend
    // keeps histograms.
    const std::string latency = t.load_latency.count > 0 ? FormatNanos(t.load_latency.p50) + " / " +
                                                               FormatNanos(t.load_latency.p99)
                                                         : "-";
    // The cost the engine ranks the tier by, and where the figure comes from.
    const std::string cost = t.live_load_ns > 0
                                 ? FormatNanos(t.live_load_ns) + " (" + t.live_load_source + ")"
                                 : "- (" + t.live_load_source + ")";
    tiers.push_back(
        {t.name, TierKindName(t.kind), std::to_string(t.rank), cost, FormatBytes(t.capacity_bytes),
         FormatBytes(t.used_bytes), std::to_string(t.stored_pages), std::to_string(t.stores),
         std::to_string(t.loads), latency,
         std::to_string(t.moves.promotions_in) + " / " + std::to_string(t.moves.demotions_in)});
  }
  out += "\ntiers\n" + RenderTextTable(tiers, "  ");

  if (!stats.types.empty()) {
    std::vector<std::vector<std::string>> types = {
        {"type", "initialised", "nr_pages", "stored pages"}};
    for (const TypeStats& t : stats.types) {
      types.push_back({std::to_string(t.type), t.initialized ? "yes" : "no",
                       t.nr_pages == 0 ? "unknown" : std::to_string(t.nr_pages),
                       std::to_string(t.stored_pages)});
    }
    out += "\ntypes\n" + RenderTextTable(types, "  ");
  }

  std::vector<std::vector<std::string>> totals = {
      {"stored pages", std::to_string(stats.stored_pages)},
      {"same-filled pages", std::to_string(stats.counter(kSameFilledPages))},
      {"metadata", FormatBytes(stats.metadata_bytes)},
  };
  out += "\ntotals\n" + RenderTextTable(totals, "  ");

  if (!r.mismatch_reports.empty()) {
    out += "\nfirst mismatches\n";
    for (const auto& m : r.mismatch_reports) out += "  " + m.message + "\n";
  }
  return out;
}

std::string ReplayReportJson(const ReplayResult& r, const Backend& backend) {
  JsonWriter w(/*pretty=*/true);
  const auto& h = r.load_latency;
  w.BeginObject();
  w.Key("source").String(r.source);
  w.Key("ops").Uint(r.ops);
  w.Key("inits").Uint(r.inits);
  w.Key("stores").Uint(r.stores);
  w.Key("stores_accepted").Uint(r.stores_accepted);
  w.Key("rejects").Uint(r.rejects);
  w.Key("corpus_stores").Uint(r.corpus_stores);
  w.Key("loads").Uint(r.loads);
  w.Key("hits").Uint(r.hits);
  w.Key("misses").Uint(r.misses);
  w.Key("loads_refused").Uint(r.loads_refused);
  w.Key("invalidates").Uint(r.invalidates);
  w.Key("area_invalidates").Uint(r.area_invalidates);
  w.Key("mismatches").Uint(r.mismatches);
  w.Key("model_pages").Uint(r.model_pages);
  w.Key("load_ns_mean").Double(h.mean());
  w.Key("load_ns_p50").Uint(h.Percentile(0.5));
  w.Key("load_ns_p99").Uint(h.Percentile(0.99));
  w.Key("load_ns_max").Uint(h.max());
  w.Key("wall_seconds").Double(r.wall_seconds);
  w.Key("mismatch_reports").BeginArray();
  for (const auto& m : r.mismatch_reports) {
    w.BeginObject().Key("line").Uint(m.line).Key("message").String(m.message).EndObject();
  }
  w.EndArray();
  w.Key("stats").Raw(StatsJson(backend));
  w.EndObject();
  return w.Take() + "\n";
}

}  // namespace tierswap
