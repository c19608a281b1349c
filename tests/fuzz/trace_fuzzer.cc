// trace_fuzzer: feeds an input to the trace parser (frontend/trace_reader.h) as it is, and again
// zstd-compressed, then replays it against a small backend, and loads it as a page corpus.
//
// What must hold for every input: no crash, hang or leak (the sanitizers watch), and
//   - every refusal is an Error that names the source ("fuzz.trace"; with the line for a line's
//     problem), and the reader stops there;
//   - every operation read is in range (type < 32, nr_pages <= 2^32, a line number that grows)
//     and reads back the same from its own ToString();
//   - the text and its zstd-compressed copy read as the same operations and end with the same
//     message (unless the input is itself zstd, which the reader decodes: then compressing it
//     again only adds a layer);
//   - a replay against a two-tier backend (DRAM and compressed, too small for the trace, so
//     stores are rejected) reports no mismatch with its reference model, or refuses with a
//     message naming the source; `S ... @k` stores use a four-page corpus;
//   - PageCorpus::Load of the input refuses it with a message naming the source or returns its
//     whole pages.
//
// Reproduce a crash: `build-fuzz/tests/fuzz/trace_fuzzer CRASH_FILE`; TIERSWAP_FUZZ_VERBOSE=1
// prints the operations read and each step's outcome (docs/reliability.md).
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "placement/backend.h"
#include "frontend/page_corpus.h"
#include "frontend/replay.h"
#include "frontend/trace_reader.h"
#include "frontend/zstd_input.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"

namespace tierswap::fuzz {
namespace {

const std::string kSource = "fuzz.trace";
// A replay stops after this many operations, so one input's time stays bounded.
constexpr size_t kMaxOps = 4096;

bool NamesTheSource(const std::string& message) {
  return message.find(kSource) != std::string::npos;
}

bool SameOp(const TraceOp& a, const TraceOp& b) {
  return a.kind == b.kind && a.type == b.type && a.offset == b.offset && a.nr_pages == b.nr_pages &&
         a.page_ref == b.page_ref;
}

// Everything one pass of the reader saw.
struct Reading {
  std::vector<TraceOp> ops;
  bool failed = false;
  std::string message;  // when failed
};

Reading Read(std::string data) {
  Reading r;
  TraceReader reader(InputStream::FromMemory(std::move(data), kSource));
  uint64_t last_line = 0;
  for (;;) {
    TraceOp op;
    Result<bool> next = reader.Next(&op);
    if (!next) {
      r.failed = true;
      r.message = next.error().message;
      FUZZ_CHECK(NamesTheSource(r.message), "a refusal does not name the source: " + r.message);
      // Once refused, the reader does not pretend the rest is readable from the same place.
      return r;
    }
    if (!*next) return r;
    FUZZ_CHECK(op.type < kTraceMaxTypes, "an operation of type " + std::to_string(op.type) +
                                             " was read at line " + std::to_string(op.line));
    FUZZ_CHECK(op.kind != TraceOpKind::kInit || op.nr_pages <= kTraceMaxPagesPerType,
               "an init of " + std::to_string(op.nr_pages) + " pages was read");
    FUZZ_CHECK(op.line > last_line, "line numbers went from " + std::to_string(last_line) + " to " +
                                        std::to_string(op.line));
    FUZZ_CHECK(op.page_ref == std::nullopt || op.kind == TraceOpKind::kStore,
               "a page reference was read on '" + op.ToString() + "'");
    last_line = op.line;
    // The operation's own text reads back as the same operation.
    const std::string text = op.ToString();
    TraceOp again;
    Result<bool> round = ParseTraceLine(text, kSource, op.line, &again);
    FUZZ_CHECK(round.ok() && *round && SameOp(op, again),
               "'" + text + "' does not read back as itself" +
                   (round.ok() ? std::string() : ": " + round.error().message));
    if (r.ops.size() < kMaxOps) r.ops.push_back(op);
  }
}

std::string Compress(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 1);
  FUZZ_CHECK(!ZSTD_isError(n), std::string("zstd could not compress the input"));
  out.resize(n);
  return out;
}

bool StartsWithZstdMagic(std::string_view data) {
  return data.size() >= 4 && static_cast<unsigned char>(data[0]) == 0x28 &&
         static_cast<unsigned char>(data[1]) == 0xB5 &&
         static_cast<unsigned char>(data[2]) == 0x2F && static_cast<unsigned char>(data[3]) == 0xFD;
}

const PageCorpus& Corpus() {
  static const PageCorpus corpus = [] {
    std::string pages;
    const testing::PageBuf content[] = {testing::TextPage(1), testing::PatternPage(2),
                                        testing::FilledPage(0), testing::FilledPage(0x42)};
    for (const testing::PageBuf& p : content) pages.append(p.begin(), p.end());
    auto in = InputStream::FromMemory(std::move(pages), "fuzz-corpus");
    Result<PageCorpus> c = PageCorpus::Load(*in);
    FUZZ_CHECK(c.ok(), "the fuzz corpus did not load: " + c.error().message);
    return std::move(c).value();
  }();
  return corpus;
}

std::unique_ptr<Backend> SmallBackend() {
  std::vector<std::unique_ptr<Tier>> tiers;
  tiers.push_back(testing::MakeDram(24, "fast"));
  CompressedTierOptions co;
  co.name = "zram";
  co.capacity_bytes = 8 * kPageSize;
  co.prefault = false;
  co.background_compaction = false;
  auto compressed = CompressedTier::Open(co);
  FUZZ_CHECK(tiers[0] != nullptr && compressed.ok(),
             std::string("the replay backend's tiers did not open"));
  tiers.push_back(std::move(compressed).value());
  BackendOptions o;
  o.placement.background = false;
  o.placement.probe_budget_ms = 0;
  auto b = Backend::Open(std::move(tiers), o);
  FUZZ_CHECK(b.ok(), "the replay backend did not open: " + b.error().message);
  return std::move(b).value();
}

void ReplayInput(const std::string& data, size_t ops_read) {
  // Replay reads the trace to its end; inputs with more operations than kMaxOps are skipped so
  // that the time per input stays bounded.
  if (ops_read >= kMaxOps) return;
  std::unique_ptr<Backend> backend = SmallBackend();
  TraceReader reader(InputStream::FromMemory(data, kSource));
  ReplayOptions options;
  options.corpus = &Corpus();
  Result<ReplayResult> r = Replay(*backend, reader, options);
  if (!r) {
    if (Verbose()) std::fprintf(stderr, "replay refused: %s\n", r.error().message.c_str());
    FUZZ_CHECK(NamesTheSource(r.error().message),
               "a replay refusal does not name the source: " + r.error().message);
    return;
  }
  if (Verbose()) {
    std::fprintf(stderr, "replay: %llu ops, %llu stores (%llu accepted), %llu loads\n",
                 static_cast<unsigned long long>(r->ops),
                 static_cast<unsigned long long>(r->stores),
                 static_cast<unsigned long long>(r->stores_accepted),
                 static_cast<unsigned long long>(r->loads));
  }
  FUZZ_CHECK(r->mismatches == 0,
             "the replay found " + std::to_string(r->mismatches) + " mismatches, the first: " +
                 (r->mismatch_reports.empty() ? std::string("(not described)")
                                              : r->mismatch_reports[0].message));
}

void LoadAsCorpus(const std::string& data) {
  auto in = InputStream::FromMemory(data, kSource);
  Result<PageCorpus> c = PageCorpus::Load(*in, /*max_bytes=*/1 << 20);
  if (!c) {
    FUZZ_CHECK(NamesTheSource(c.error().message),
               "a corpus refusal does not name the source: " + c.error().message);
    return;
  }
  FUZZ_CHECK(c->page_count() > 0, std::string("an accepted corpus has no page"));
  if (!StartsWithZstdMagic(data)) {
    FUZZ_CHECK(c->page_count() * kPageSize == data.size(),
               "a plain corpus of " + std::to_string(data.size()) + " bytes holds " +
                   std::to_string(c->page_count()) + " pages");
  }
}

}  // namespace
}  // namespace tierswap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tierswap;
  using namespace tierswap::fuzz;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const Reading plain = Read(input);
  if (Verbose()) {
    for (const TraceOp& op : plain.ops) {
      std::fprintf(stderr, "line %llu: %s\n", static_cast<unsigned long long>(op.line),
                   op.ToString().c_str());
    }
    if (plain.failed) std::fprintf(stderr, "refused: %s\n", plain.message.c_str());
  }
  if (!StartsWithZstdMagic(input)) {
    const Reading packed = Read(Compress(input));
    FUZZ_CHECK(
        packed.failed == plain.failed && packed.message == plain.message,
        "the zstd copy ends with '" + packed.message + "', the text with '" + plain.message + "'");
    FUZZ_CHECK(packed.ops.size() == plain.ops.size(),
               "the zstd copy reads " + std::to_string(packed.ops.size()) +
                   " operations, the text " + std::to_string(plain.ops.size()));
    for (size_t i = 0; i < plain.ops.size(); ++i) {
      FUZZ_CHECK(SameOp(packed.ops[i], plain.ops[i]) && packed.ops[i].line == plain.ops[i].line,
                 "operation " + std::to_string(i) + " reads as '" + packed.ops[i].ToString() +
                     "' from the zstd copy and '" + plain.ops[i].ToString() + "' from the text");
    }
  }
  ReplayInput(input, plain.ops.size());
  LoadAsCorpus(input);
  return 0;
}
