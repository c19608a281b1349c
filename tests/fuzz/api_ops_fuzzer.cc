// api_ops_fuzzer: decodes an input into a sequence of Backend operations (init, store, load,
// invalidate_page, invalidate_area, capacity changes, offline/online, freeze, one synchronous
// mover pass, compaction) over a small three-tier backend, and checks every answer against a
// reference model of the frontswap contract. Any difference aborts, so libFuzzer keeps the input.
//
// The model maps (type, offset) to the content last accepted there. It is the contract, stated
// as checks:
//   - a load of a page the model holds returns exactly its bytes (and, with exclusive loads, says
//     it dropped the page); a load of any other slot answers kNotFound and leaves the buffer
//     untouched; bad arguments and uninitialised types are refused with their own Status;
//   - a page the backend hands to the writeback callback (SetTierCapacity, TierOffline) is the
//     one the model holds, byte for byte; accepted, it leaves the model (and the backend);
//   - a rejected store removes the slot's old page from the model: it must not load any more;
//   - invalidate_area drops the type; re-init drops its pages;
//   - after every operation the backend holds exactly the model's pages (stored_pages), the
//     tiers hold exactly its pages that are not same-filled, no type exceeds its quota, a
//     frozen backend accepts nothing, and a drained tier stays within its limit;
//   - at the end every page loads byte-exact, and after invalidate_area of every type each tier
//     is empty (no frame leaked).
// The backend is built so that a run is deterministic: no mover thread, no probe, no background
// compaction, and mover passes use a virtual clock advanced by the input.
//
// Input encoding (tests/fuzz/make_seeds.py writes seeds in it): two header bytes, then
// operations, each an opcode byte (the table kOps, by byte % 32) and its argument bytes. Bytes
// past the end read as 0.
//   header 0: bit 0 exclusive loads, bit 1 static policy (else adaptive), bit 2 a quota of
//             kQuotaPages on type 1, bit 3 zstd (else lz4), bit 4 max_compressed_fraction 0.25
//             (else 0.75), bits 5-6 promote_after_loads 1 + (n % 3), bit 7 start without a
//             writeback callback
//   header 1: bits 0-1 min_residency_ms {0, 0, 1, 5}, bit 2 watermarks 0.3/0.5 (else the
//             defaults), bit 3 max_migration_mbps 1, bit 4 compressed tier first, bit 5 latency
//             histograms off
//   store  type offset kind seed     kind 0xFF: a null page; else content kind % 5 (zero,
//                                    same-filled, text, random, sparse)
//   load, load-null, invalidate  type offset
//   init   type nr                   nr % 8 picks {0, 1, 8, 40, 64, 65537, 2^32, 2^32 + 1}
//   area   type
//   capacity  tier amount            tier % 4 (3 does not exist); amount 0xFF: capacity + 1
//                                    byte (refused), else capacity * (amount % 9) / 8
//   offline, online  tier
//   maintain  advance                the virtual clock moves (advance + 1) x 100 us
//   writeback  mode                  mode % 4: accept, refuse, accept even offsets, no callback
//   freeze, unfreeze, compact        (no argument)
// type: byte >= 0xFC gives an invalid type (32, 33, 1000, UINT_MAX), else {0, 1, 2, 31}[b % 4].
// offset: b < 0xE0 gives b % 40 (small: slots collide, capacity runs out); 0xE0-0xEF straddle
// the type's limit (nr_pages, or 2^32 when unknown); 0xF0-0xFF pick special values (2^32 - 1,
// 2^32, UINT64_MAX, index chunk boundaries...).
//
// Reproduce a crash: `build-fuzz/tests/fuzz/api_ops_fuzzer CRASH_FILE`; with
// TIERSWAP_FUZZ_VERBOSE=1 every operation and its answer is printed (docs/reliability.md).
#include <cinttypes>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "placement/backend.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/test_pages.h"
#include "tiers/compressed_tier.h"
#include "tiers/dram_tier.h"
#include "tiers/page.h"

namespace tierswap::fuzz {
namespace {

using testing::PageBuf;

constexpr uint64_t kTwoTo32 = uint64_t{1} << 32;
// The swap types an input can use: the first three and the last.
constexpr unsigned kValidTypes[] = {0, 1, 2, 31};
constexpr unsigned kQuotaType = 1;
constexpr uint64_t kQuotaPages = 6;
constexpr uint64_t kFastPages = 16, kCompressedFrames = 8, kSlowPages = 24;
// Where the virtual clock of Maintain(now_ns) starts. Evacuations record residency with the real
// steady clock, which the mover later compares with now_ns; 2^62 ns (146 years) is above any
// reading a machine shows, so those records are always in the virtual past, whatever the uptime:
// a run does not depend on when it runs.
constexpr uint64_t kClockStartNs = uint64_t{1} << 62;

enum class Op : uint8_t {
  kInit,
  kStore,
  kLoad,
  kLoadNull,
  kInvalidatePage,
  kInvalidateArea,
  kSetCapacity,
  kOffline,
  kOnline,
  kFreeze,
  kUnfreeze,
  kMaintain,
  kCompact,
  kWritebackMode,
};

// Opcode byte % 32 -> operation. Stores and loads dominate, as in a real swap workload.
constexpr Op kOps[32] = {
    Op::kStore,          Op::kStore,          Op::kStore,          Op::kStore,
    Op::kStore,          Op::kStore,          Op::kStore,          Op::kStore,
    Op::kLoad,           Op::kLoad,           Op::kLoad,           Op::kLoad,
    Op::kLoad,           Op::kLoad,           Op::kInit,           Op::kInit,
    Op::kInvalidatePage, Op::kInvalidatePage, Op::kInvalidatePage, Op::kInvalidateArea,
    Op::kSetCapacity,    Op::kSetCapacity,    Op::kOffline,        Op::kOnline,
    Op::kOnline,         Op::kFreeze,         Op::kUnfreeze,       Op::kMaintain,
    Op::kMaintain,       Op::kCompact,        Op::kWritebackMode,  Op::kLoadNull,
};

enum class ContentKind : uint8_t { kZero, kSameFilled, kText, kRandom, kSparse };
constexpr const char* kContentNames[] = {"zero", "same-filled", "text", "random", "sparse"};

struct Content {
  ContentKind kind = ContentKind::kZero;
  uint64_t seed = 0;
  bool same_filled() const {
    return kind == ContentKind::kZero || kind == ContentKind::kSameFilled;
  }
};

PageBuf Fill(const Content& c) {
  switch (c.kind) {
    case ContentKind::kZero:
      return testing::FilledPage(0);
    case ContentKind::kSameFilled: {
      uint64_t x = c.seed;
      return testing::FilledPage(testing::SplitMix64(&x));
    }
    case ContentKind::kText:
      return testing::TextPage(c.seed);
    case ContentKind::kRandom:
      return testing::PatternPage(c.seed);
    case ContentKind::kSparse: {
      // Mostly zero with a few words set: compresses very well, and word 0 is never zero while
      // the last word always is, so the page is never same-filled.
      PageBuf p = testing::FilledPage(0);
      uint64_t x = c.seed;
      const uint64_t first = c.seed | 1;
      std::memcpy(p.data(), &first, 8);
      for (int i = 0; i < 8; ++i) {
        const uint64_t w = testing::SplitMix64(&x);
        const size_t at = 8 * (1 + w % (kWordsPerPage - 2));
        std::memcpy(p.data() + at, &w, 8);
      }
      return p;
    }
  }
  return testing::FilledPage(0);
}

// First differing byte of two pages, for messages.
std::string Diff(const PageBuf& got, const PageBuf& want) {
  size_t first = kPageSize, count = 0;
  for (size_t i = 0; i < kPageSize; ++i) {
    if (got[i] == want[i]) continue;
    if (first == kPageSize) first = i;
    ++count;
  }
  return "first difference at byte " + std::to_string(first) + " (" + std::to_string(count) +
         " of 4096 bytes differ)";
}

std::string SlotName(unsigned type, uint64_t offset) {
  return "(type " + std::to_string(type) + ", offset " + std::to_string(offset) + ")";
}

using Slot = std::pair<unsigned, uint64_t>;

struct ModelType {
  bool initialized = false;
  uint64_t nr_pages = 0;
};

enum class WritebackMode : uint8_t { kAccept, kRefuse, kAcceptEven, kNone };

struct HandedPage {
  unsigned type;
  uint64_t offset;
  PageBuf bytes;
  bool accepted;
};

class Run {
 public:
  explicit Run(ByteReader& in) : in_(in) {}

  void Open() {
    const uint8_t h0 = in_.Next(), h1 = in_.Next();
    exclusive_ = (h0 & 1) != 0;
    quota_ = (h0 & 4) != 0;

    std::vector<std::unique_ptr<Tier>> tiers;
    auto fast = testing::MakeDram(kFastPages, "fast");
    auto slow = testing::MakeDram(kSlowPages, "slow");
    CompressedTierOptions co;
    co.name = "zram";
    co.codec = (h0 & 8) != 0 ? Codec::kZstd : Codec::kLz4;
    co.capacity_bytes = kCompressedFrames * kPageSize;
    co.max_compressed_fraction = (h0 & 16) != 0 ? 0.25 : 0.75;
    co.prefault = false;
    co.background_compaction = false;  // Compact() runs only as an operation: deterministic
    auto compressed = CompressedTier::Open(co);
    FUZZ_CHECK(fast != nullptr && slow != nullptr && compressed.ok(),
               std::string("the fuzz backend's tiers did not open"));
    compressed_ = compressed->get();
    if ((h1 & 16) != 0) tiers.push_back(std::move(compressed).value());
    tiers.push_back(std::move(fast));
    if ((h1 & 16) == 0) tiers.push_back(std::move(compressed).value());
    tiers.push_back(std::move(slow));

    BackendOptions o;
    o.exclusive_loads = exclusive_;
    o.placement.policy = (h0 & 2) != 0 ? "static" : "adaptive";
    o.placement.background = false;
    o.placement.probe_budget_ms = 0;
    o.placement.promote_after_loads = 1 + ((h0 >> 5) & 3) % 3;
    static constexpr uint64_t kResidencyMs[] = {0, 0, 1, 5};
    o.placement.min_residency_ms = kResidencyMs[h1 & 3];
    if ((h1 & 4) != 0) {
      o.placement.low_watermark = 0.3;
      o.placement.high_watermark = 0.5;
    }
    o.placement.max_migration_mbps = (h1 & 8) != 0 ? 1 : 0;
    o.latency_histograms = (h1 & 32) == 0;
    if (quota_) o.quotas.push_back(QuotaOptions{kQuotaType, kQuotaPages * kPageSize});
    auto b = Backend::Open(std::move(tiers), o);
    FUZZ_CHECK(b.ok(), "the fuzz backend did not open: " + b.error().message);
    backend_ = std::move(b).value();
    limit_.resize(backend_->tier_count());
    within_limit_.assign(backend_->tier_count(), true);
    drained_.assign(backend_->tier_count(), false);
    for (size_t t = 0; t < backend_->tier_count(); ++t) {
      limit_[t] = backend_->tier(t).capacity_bytes();
    }
    SetWritebackMode((h0 & 128) != 0 ? WritebackMode::kNone : WritebackMode::kAccept);
    if (Verbose()) {
      std::fprintf(stderr, "open: exclusive=%d policy=%s quota=%d codec=%s fraction=%.2f\n",
                   exclusive_, o.placement.policy.c_str(), quota_,
                   co.codec == Codec::kZstd ? "zstd" : "lz4", co.max_compressed_fraction);
    }
  }

  void Step() {
    ++op_index_;
    const Op op = kOps[in_.Next() % 32];
    switch (op) {
      case Op::kInit:
        DoInit();
        break;
      case Op::kStore:
        DoStore();
        break;
      case Op::kLoad:
        DoLoad(/*null_page=*/false);
        break;
      case Op::kLoadNull:
        DoLoad(/*null_page=*/true);
        break;
      case Op::kInvalidatePage:
        DoInvalidatePage();
        break;
      case Op::kInvalidateArea:
        DoInvalidateArea();
        break;
      case Op::kSetCapacity:
        DoSetCapacity();
        break;
      case Op::kOffline:
        DoOffline();
        break;
      case Op::kOnline:
        DoOnline();
        break;
      case Op::kFreeze:
      case Op::kUnfreeze:
        frozen_ = op == Op::kFreeze;
        backend_->Freeze(frozen_);
        Log("%s", frozen_ ? "freeze" : "unfreeze");
        break;
      case Op::kMaintain: {
        now_ns_ += (uint64_t{in_.Next()} + 1) * 100'000;
        const size_t moved = backend_->Maintain(now_ns_);
        Log("maintain at +%" PRIu64 " us: %zu pages moved", (now_ns_ - kClockStartNs) / 1000,
            moved);
        break;
      }
      case Op::kCompact: {
        const size_t freed = compressed_->Compact();
        Log("compact: %zu frames freed", freed);
        break;
      }
      case Op::kWritebackMode:
        SetWritebackMode(static_cast<WritebackMode>(in_.Next() % 4));
        break;
    }
    Reconcile();
    CheckInvariants();
  }

  // Every page the model holds loads byte-exact; then every type is dropped and every tier must
  // be empty.
  void Finish() {
    for (const auto& [slot, content] : model_) {
      PageBuf out;
      const Status s = backend_->Load(slot.first, slot.second, out.data());
      FUZZ_CHECK(s == Status::kOk, "final check: the load of " + SlotName(slot.first, slot.second) +
                                       " answered " + StatusName(s) + ", expected its " +
                                       kContentNames[static_cast<int>(content.kind)] + " page");
      const PageBuf want = Fill(content);
      FUZZ_CHECK(out == want,
                 "final check: " + SlotName(slot.first, slot.second) + " " + Diff(out, want));
    }
    // Only these types can hold pages (DecodeType); an invalidate_area walks the type's whole
    // index directory, so the other 28 are left out to keep an input fast.
    for (unsigned t : kValidTypes) backend_->InvalidateArea(t);
    FUZZ_CHECK(backend_->stored_pages() == 0,
               "after invalidate_area of every type in use the backend still holds " +
                   std::to_string(backend_->stored_pages()) + " pages");
    for (size_t t = 0; t < backend_->tier_count(); ++t) {
      const Tier& tier = backend_->tier(t);
      FUZZ_CHECK(tier.stored_pages() == 0 && tier.used_bytes() == 0,
                 "after invalidate_area of every type in use tier '" + tier.name() +
                     "' still holds " + std::to_string(tier.stored_pages()) + " pages in " +
                     std::to_string(tier.used_bytes()) + " bytes");
    }
  }

 private:
  [[gnu::format(printf, 2, 3)]] void Log(const char* format, ...) const {
    if (!Verbose()) return;
    std::fprintf(stderr, "op %" PRIu64 ": ", op_index_);
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::fputc('\n', stderr);
  }

  static unsigned DecodeType(uint8_t b) {
    static constexpr unsigned kInvalid[] = {32, 33, 1000, UINT_MAX};
    return b >= 0xFC ? kInvalid[b & 3] : kValidTypes[b % 4];
  }

  uint64_t DecodeOffset(unsigned type, uint8_t b) const {
    if (b < 0xE0) return b % 40;
    if (b < 0xF0) {
      const uint64_t nr = type < Backend::kMaxTypes ? types_[type].nr_pages : 0;
      const uint64_t limit = nr != 0 ? nr : kTwoTo32;
      const uint64_t delta = b & 15;
      return limit >= 8 ? limit - 8 + delta : delta;
    }
    static constexpr uint64_t kSpecial[16] = {
        kTwoTo32 - 1, kTwoTo32, kTwoTo32 + 1, UINT64_MAX, UINT64_MAX - 1, uint64_t{1} << 63,
        65535,        65536,    65537,        131071,     131072,         (1u << 20) - 1,
        1u << 20,     39,       40,           64};
    return kSpecial[b & 15];
  }

  static uint64_t DecodeNrPages(uint8_t b) {
    static constexpr uint64_t kNr[8] = {0, 1, 8, 40, 64, 65537, kTwoTo32, kTwoTo32 + 1};
    return kNr[b % 8];
  }

  bool InRange(unsigned type, uint64_t offset) const {
    const uint64_t nr = types_[type].nr_pages;
    return offset < kTwoTo32 && (nr == 0 || offset < nr);
  }

  uint64_t PagesOfType(unsigned type) const {
    uint64_t n = 0;
    for (auto it = model_.lower_bound({type, 0}); it != model_.end() && it->first.first == type;
         ++it) {
      ++n;
    }
    return n;
  }

  void DoInit() {
    const unsigned type = DecodeType(in_.Next());
    const uint64_t nr = DecodeNrPages(in_.Next());
    const Status s = backend_->Init(type, nr);
    Log("init type %u nr_pages %" PRIu64 " -> %s", type, nr, StatusName(s));
    if (type >= Backend::kMaxTypes || nr > kTwoTo32) {
      FUZZ_CHECK(s == Status::kInvalidArgument, "init of type " + std::to_string(type) + " with " +
                                                    std::to_string(nr) + " pages answered " +
                                                    StatusName(s) + ", expected invalid_argument");
      return;
    }
    FUZZ_CHECK(s == Status::kOk, "init of type " + std::to_string(type) + " answered " +
                                     StatusName(s) + ", expected ok");
    DropType(type);
    types_[type] = ModelType{true, nr};
  }

  void DoStore() {
    const unsigned type = DecodeType(in_.Next());
    const uint64_t offset = DecodeOffset(type, in_.Next());
    const uint8_t k = in_.Next(), seed = in_.Next();
    const std::string where = "store " + SlotName(type, offset);
    if (k == 0xFF) {
      const Status s = backend_->Store(type, offset, nullptr);
      Log("store %u %" PRIu64 " null page -> %s", type, offset, StatusName(s));
      FUZZ_CHECK(s == Status::kInvalidArgument,
                 where + " of a null page answered " + StatusName(s));
      return;  // a refused argument leaves the slot as it was
    }
    ++stores_;
    const Content c{static_cast<ContentKind>(k % 5),
                    ((uint64_t{k} >> 3) << 8 | seed) ^ (stores_ << 16)};
    const PageBuf page = Fill(c);
    const Status s = backend_->Store(type, offset, page.data());
    Log("store %u %" PRIu64 " %s page (seed %" PRIu64 ") -> %s", type, offset,
        kContentNames[static_cast<int>(c.kind)], c.seed, StatusName(s));
    if (type >= Backend::kMaxTypes) {
      FUZZ_CHECK(s == Status::kInvalidArgument, where + " answered " + StatusName(s));
      return;
    }
    if (!types_[type].initialized) {
      // Both refusals describe the call; which is checked first is the backend's choice.
      FUZZ_CHECK(
          s == Status::kNotInitialized || (offset >= kTwoTo32 && s == Status::kInvalidArgument),
          where + " to an uninitialised type answered " + StatusName(s));
      return;
    }
    if (!InRange(type, offset)) {
      FUZZ_CHECK(s == Status::kInvalidArgument, where + " beyond the type's " +
                                                    std::to_string(types_[type].nr_pages) +
                                                    " pages answered " + StatusName(s));
      return;
    }
    const Slot slot{type, offset};
    const bool had_page = model_.count(slot) != 0;
    const uint64_t held = PagesOfType(type);
    if (s == Status::kOk) {
      FUZZ_CHECK(!frozen_, where + " was accepted while the backend is frozen");
      FUZZ_CHECK(!(quota_ && type == kQuotaType && !had_page && held >= kQuotaPages),
                 where + " was accepted with the type at its quota of " +
                     std::to_string(kQuotaPages) + " pages");
      model_[slot] = c;
      return;
    }
    FUZZ_CHECK(s == Status::kNoSpace || s == Status::kNoMemory,
               where + " answered " + StatusName(s) + ", expected ok, no_space or no_memory");
    const RejectReason why = Backend::LastRejectReason();
    if (frozen_) {
      FUZZ_CHECK(why == RejectReason::kFrozen,
                 where + " was rejected while frozen, but for reason " + RejectReasonName(why));
    }
    if (why == RejectReason::kQuota) {
      FUZZ_CHECK(quota_ && type == kQuotaType && !had_page && held >= kQuotaPages,
                 where + " was rejected for its quota with " + std::to_string(held) +
                     " pages held" + (had_page ? " (a replacement)" : ""));
    }
    model_.erase(slot);  // a rejected store drops the slot's old page
  }

  void DoLoad(bool null_page) {
    const unsigned type = DecodeType(in_.Next());
    const uint64_t offset = DecodeOffset(type, in_.Next());
    const std::string where = "load " + SlotName(type, offset);
    const PageBuf sentinel = testing::FilledPage(0xA5A5A5A5A5A5A5A5ull);
    PageBuf out = sentinel;
    bool exclusive = true;  // the backend must set it on every path
    const Status s = backend_->Load(type, offset, null_page ? nullptr : out.data(), &exclusive);
    Log("load %u %" PRIu64 "%s -> %s%s", type, offset, null_page ? " null buffer" : "",
        StatusName(s), exclusive ? " (exclusive)" : "");
    FUZZ_CHECK(s == Status::kOk || !exclusive,
               where + " answered " + StatusName(s) + " and claimed to have dropped the page");
    if (null_page || type >= Backend::kMaxTypes) {
      FUZZ_CHECK(s == Status::kInvalidArgument,
                 where + " answered " + StatusName(s) + ", expected invalid_argument");
      return;
    }
    if (!types_[type].initialized) {
      FUZZ_CHECK(
          s == Status::kNotInitialized || (offset >= kTwoTo32 && s == Status::kInvalidArgument),
          where + " of an uninitialised type answered " + StatusName(s));
      return;
    }
    if (!InRange(type, offset)) {
      FUZZ_CHECK(s == Status::kInvalidArgument, where + " beyond the type's " +
                                                    std::to_string(types_[type].nr_pages) +
                                                    " pages answered " + StatusName(s));
      return;
    }
    const auto it = model_.find({type, offset});
    if (it == model_.end()) {
      FUZZ_CHECK(s == Status::kNotFound,
                 where + " of a slot that holds no page answered " + StatusName(s));
      FUZZ_CHECK(out == sentinel, where + " missed but wrote to the buffer");
      return;
    }
    FUZZ_CHECK(s == Status::kOk, where + " of a held " +
                                     kContentNames[static_cast<int>(it->second.kind)] +
                                     " page answered " + StatusName(s));
    const PageBuf want = Fill(it->second);
    FUZZ_CHECK(out == want, where + " returned other bytes: " + Diff(out, want));
    FUZZ_CHECK(exclusive == exclusive_, where + (exclusive ? " dropped" : " kept") +
                                            " the page, but exclusive loads are " +
                                            (exclusive_ ? "on" : "off"));
    if (exclusive) model_.erase(it);
  }

  void DoInvalidatePage() {
    const unsigned type = DecodeType(in_.Next());
    const uint64_t offset = DecodeOffset(type, in_.Next());
    backend_->InvalidatePage(type, offset);
    Log("invalidate_page %u %" PRIu64, type, offset);
    if (type < Backend::kMaxTypes) model_.erase({type, offset});
  }

  void DoInvalidateArea() {
    const unsigned type = DecodeType(in_.Next());
    backend_->InvalidateArea(type);
    Log("invalidate_area %u", type);
    if (type >= Backend::kMaxTypes) return;
    DropType(type);
    types_[type] = ModelType{};
  }

  void DropType(unsigned type) {
    model_.erase(model_.lower_bound({type, 0}), model_.lower_bound({type + 1, 0}));
  }

  // Checks the answer of SetTierCapacity/TierOffline for tier `t` with the limit it asked for.
  void CheckEvacuation(const char* what, unsigned t, uint64_t bytes, const Result<uint64_t>& r) {
    const std::string where = std::string(what) + " of tier " + std::to_string(t);
    if (t >= backend_->tier_count()) {
      FUZZ_CHECK(!r.ok() && r.error().code == Status::kInvalidArgument,
                 where + " (no such tier) was not refused");
      return;
    }
    const uint64_t cap = backend_->tier(t).capacity_bytes();
    if (bytes > cap) {
      FUZZ_CHECK(!r.ok() && r.error().code == Status::kInvalidArgument,
                 where + " to " + std::to_string(bytes) + " bytes, above its capacity of " +
                     std::to_string(cap) + ", was not refused");
      return;
    }
    FUZZ_CHECK(r.ok(), where + " failed: " + r.error().message);
    Log("%s tier %u to %" PRIu64 " bytes -> %" PRIu64 " pages left (%zu handed back)", what, t,
        bytes, *r, handed_.size());
    // With a callback that takes every page, nothing can be left behind.
    if (mode_ == WritebackMode::kAccept) {
      FUZZ_CHECK(*r == 0, where + " left " + std::to_string(*r) +
                              " pages although the writeback callback takes every page");
    }
    limit_[t] = bytes;
    within_limit_[t] = *r == 0;
  }

  void DoSetCapacity() {
    const unsigned t = in_.Next() % 4;
    const uint8_t amount = in_.Next();
    uint64_t bytes = 0;
    if (t < backend_->tier_count()) {
      const uint64_t cap = backend_->tier(t).capacity_bytes();
      bytes = amount == 0xFF ? cap + 1 : cap * (amount % 9) / 8;
    }
    const Result<uint64_t> r = backend_->SetTierCapacity(t, bytes);
    CheckEvacuation("set_tier_capacity", t, bytes, r);
    if (r.ok() && t < drained_.size() && !backend_->IsTierOnline(t)) drained_[t] = *r == 0;
  }

  void DoOffline() {
    const unsigned t = in_.Next() % 4;
    const Result<uint64_t> r = backend_->TierOffline(t);
    CheckEvacuation("tier_offline", t, 0, r);
    if (r.ok()) {
      FUZZ_CHECK(!backend_->IsTierOnline(t),
                 "tier " + std::to_string(t) + " is online after " + "tier_offline");
      drained_[t] = *r == 0;
    }
  }

  void DoOnline() {
    const unsigned t = in_.Next() % 4;
    const Status s = backend_->TierOnline(t);
    Log("tier_online %u -> %s", t, StatusName(s));
    if (t >= backend_->tier_count()) {
      FUZZ_CHECK(s == Status::kInvalidArgument, "tier_online of tier " + std::to_string(t) +
                                                    " (no such tier) answered " + StatusName(s));
      return;
    }
    FUZZ_CHECK(s == Status::kOk && backend_->IsTierOnline(t),
               "tier_online of tier " + std::to_string(t) + " answered " + StatusName(s));
    limit_[t] = backend_->tier(t).capacity_bytes();
    within_limit_[t] = true;
    drained_[t] = false;
  }

  void SetWritebackMode(WritebackMode mode) {
    mode_ = mode;
    if (mode == WritebackMode::kNone) {
      backend_->SetWriteback(nullptr, nullptr);
    } else {
      backend_->SetWriteback(&Run::Writeback, this);
    }
    static constexpr const char* kNames[] = {"accept", "refuse", "accept even offsets", "none"};
    Log("writeback callback: %s", kNames[static_cast<int>(mode)]);
  }

  static int Writeback(void* ctx, unsigned type, uint64_t offset, const void* page) {
    auto* run = static_cast<Run*>(ctx);
    const bool accept = run->mode_ == WritebackMode::kAccept ||
                        (run->mode_ == WritebackMode::kAcceptEven && offset % 2 == 0);
    HandedPage h{type, offset, {}, accept};
    std::memcpy(h.bytes.data(), page, kPageSize);
    run->handed_.push_back(h);
    return accept ? 0 : 1;
  }

  // Pages handed to the writeback callback must be the model's; the accepted ones are gone.
  void Reconcile() {
    for (const HandedPage& h : handed_) {
      const std::string where = "the page handed back for " + SlotName(h.type, h.offset);
      const auto it = model_.find({h.type, h.offset});
      FUZZ_CHECK(it != model_.end(), where + " is not one the backend holds");
      const PageBuf want = Fill(it->second);
      FUZZ_CHECK(h.bytes == want, where + " differs from the stored page: " + Diff(h.bytes, want));
      if (h.accepted) model_.erase(it);
    }
    handed_.clear();
  }

  void CheckInvariants() {
    FUZZ_CHECK(backend_->stored_pages() == model_.size(),
               "the backend holds " + std::to_string(backend_->stored_pages()) +
                   " pages, the model " + std::to_string(model_.size()));
    uint64_t on_tiers = 0;
    for (const auto& [slot, content] : model_) on_tiers += content.same_filled() ? 0 : 1;
    uint64_t tier_pages = 0;
    for (size_t t = 0; t < backend_->tier_count(); ++t) {
      const Tier& tier = backend_->tier(t);
      tier_pages += tier.stored_pages();
      if (within_limit_[t]) {
        FUZZ_CHECK(tier.used_bytes() <= limit_[t],
                   "tier '" + tier.name() + "' uses " + std::to_string(tier.used_bytes()) +
                       " bytes, above its limit of " + std::to_string(limit_[t]));
      }
      if (drained_[t]) {
        FUZZ_CHECK(tier.stored_pages() == 0, "offline, drained tier '" + tier.name() + "' holds " +
                                                 std::to_string(tier.stored_pages()) + " pages");
      }
    }
    FUZZ_CHECK(tier_pages == on_tiers, "the tiers hold " + std::to_string(tier_pages) +
                                           " pages, the model " + std::to_string(on_tiers) +
                                           " that are not same-filled");
    if (quota_) {
      const uint64_t held = PagesOfType(kQuotaType);
      FUZZ_CHECK(held <= kQuotaPages, "type " + std::to_string(kQuotaType) + " holds " +
                                          std::to_string(held) + " pages, above its quota of " +
                                          std::to_string(kQuotaPages));
    }
  }

  ByteReader& in_;
  std::unique_ptr<Backend> backend_;
  CompressedTier* compressed_ = nullptr;  // owned by backend_
  bool exclusive_ = false;
  bool quota_ = false;
  bool frozen_ = false;
  WritebackMode mode_ = WritebackMode::kAccept;
  uint64_t now_ns_ = kClockStartNs;
  uint64_t op_index_ = 0;
  uint64_t stores_ = 0;
  ModelType types_[Backend::kMaxTypes];
  std::map<Slot, Content> model_;
  std::vector<HandedPage> handed_;
  std::vector<uint64_t> limit_;     // the limit last set per tier
  std::vector<bool> within_limit_;  // the last capacity call left nothing above the limit
  std::vector<bool> drained_;       // offline, and the last evacuation left nothing on it
};

}  // namespace
}  // namespace tierswap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tierswap::fuzz::ByteReader in(data, size);
  tierswap::fuzz::Run run(in);
  run.Open();
  // Each operation reads at least its opcode byte, so the loop ends; the cap bounds the time
  // one input can take whatever -max_len is.
  for (int ops = 0; !in.empty() && ops < 4096; ++ops) run.Step();
  run.Finish();
  return 0;
}
