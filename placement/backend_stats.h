// Backend statistics: the lists the engine keeps, each written once, and the typed snapshot that
// everything reading them uses.
//
// Each list is an X-macro table: the engine's enums, the field names of the exports, their help
// texts (Prometheus HELP, docs/stats.md) and, for reject reasons, the counter and the sentence a
// rejected store reports are all generated from the one row. Adding a row adds the counter, its
// export, its help text and its test coverage (tests/frontend/stats_docs_test.cc checks every
// exported field against docs/stats.md).
//
// BackendStats is one consistent-enough read of everything (Backend::Stats()): the counters by
// enum, and per tier and per type the figures the reports use. Readers take fields from it by
// name of member, never by string; the JSON and Prometheus exports render the same snapshot
// (Backend::ExportStats).
//
// Thread-safety: plain values; a snapshot is taken without stopping stores and loads, so two
// counters read a moment apart may not add up exactly.
#ifndef TIERSWAP_PLACEMENT_BACKEND_STATS_H_
#define TIERSWAP_PLACEMENT_BACKEND_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "placement/migrator.h"
#include "tiers/stats_sink.h"
#include "tiers/tier.h"

namespace tierswap {

// X(enum, exported name, counter or gauge, help)
#define TIERSWAP_BACKEND_COUNTERS(X)                                                             \
  X(kLoads, "loads", kCounter, "loads that returned a page")                                     \
  X(kSuccStores, "succ_stores", kCounter, "stores accepted")                                     \
  X(kFailedStores, "failed_stores", kCounter, "stores rejected, for any reason")                 \
  X(kInvalidates, "invalidates", kCounter, "invalidate_page calls that dropped a page")          \
  X(kLoadMisses, "load_misses", kCounter, "loads of slots that held no page")                    \
  X(kLoadErrors, "load_errors", kCounter,                                                        \
    "loads that failed in a tier or on a checksum (-EIO); the page stays held")                  \
  X(kDuplicateStores, "duplicate_stores", kCounter, "stores to a slot that already held a page") \
  X(kDupDropped, "duplicate_store_drops", kCounter,                                              \
    "duplicate stores that were rejected and dropped the slot's old page")                       \
  X(kAreaInvalidates, "area_invalidates", kCounter, "invalidate_area calls")                     \
  X(kExclusiveDrops, "exclusive_load_drops", kCounter, "pages dropped by exclusive loads")       \
  X(kRejectNoSpace, "reject_no_space", kCounter, "stores rejected: no tier had room")            \
  X(kRejectNoMemory, "reject_no_memory", kCounter,                                               \
    "stores rejected: index memory could not be mapped")                                         \
  X(kRejectBadArgument, "reject_bad_argument", kCounter,                                         \
    "stores refused for a bad argument or an uninitialised type")                                \
  X(kRejectQuota, "reject_quota", kCounter, "stores rejected: the type was at its quota")        \
  X(kRejectFrozen, "reject_frozen", kCounter, "stores rejected while frozen")                    \
  X(kRejectPoorCompression, "reject_poor_compression", kCounter,                                 \
    "stores rejected: only compressed tiers had room, and the page did not compress")            \
  X(kRejectIo, "reject_io", kCounter, "stores rejected: a tier failed to write")                 \
  X(kPromotionsQueued, "promotions_queued", kCounter,                                            \
    "loads from slower tiers that queued a promotion")                                           \
  X(kSameFilledStores, "same_filled_stores", kCounter,                                           \
    "accepted stores of pages that repeat one 8-byte value, kept as metadata only")              \
  X(kSameFilledPages, "same_filled_pages", kGauge, "same-filled pages held now")

// X(enum, name, counter, what a rejected store reports: "tierswap_store: rejected, <message>
// (type T, offset O)"). kNone and kBadArgument are not capacity reasons; every other one says
// why a valid store found no home.
#define TIERSWAP_REJECT_REASONS(X)                                                               \
  X(kNone, "none", kNumBackendCounters, "not rejected")                                          \
  X(kFull, "full", kRejectNoSpace, "no tier has room for the page")                              \
  X(kQuota, "quota", kRejectQuota, "its type is at its quota, see [[quota]]")                    \
  X(kFrozen, "frozen", kRejectFrozen, "the backend is frozen")                                   \
  X(kPoorCompression, "poor_compression", kRejectPoorCompression,                                \
    "the page compresses poorly and only compressed tiers have room")                            \
  X(kAllocation, "allocation", kRejectNoMemory, "index memory for the page could not be mapped") \
  X(kIo, "io", kRejectIo, "a tier failed to write the page")                                     \
  X(kBadArgument, "bad_argument", kRejectBadArgument, "a bad argument")

enum BackendCounter : size_t {
#define TIERSWAP_ENUM(e, name, kind, help) e,
  TIERSWAP_BACKEND_COUNTERS(TIERSWAP_ENUM)
#undef TIERSWAP_ENUM
      kNumBackendCounters
};

// Why a store was rejected (Backend::LastRejectReason, the counters above, the C ABI message).
enum class RejectReason : uint8_t {
#define TIERSWAP_ENUM(e, name, counter, message) e,
  TIERSWAP_REJECT_REASONS(TIERSWAP_ENUM)
#undef TIERSWAP_ENUM
};

struct StatInfo {
  const char* name;
  StatKind kind;
  const char* help;
};

inline constexpr std::array<StatInfo, kNumBackendCounters> kBackendCounterInfo = {{
#define TIERSWAP_ROW(e, name, kind, help) {name, StatKind::kind, help},
    TIERSWAP_BACKEND_COUNTERS(TIERSWAP_ROW)
#undef TIERSWAP_ROW
}};

struct RejectReasonInfo {
  const char* name;
  BackendCounter counter;  // kNumBackendCounters: none
  const char* message;     // "<message> (type T, offset O)" in the C ABI's error
};

inline constexpr RejectReasonInfo kRejectReasonInfo[] = {
#define TIERSWAP_ROW(e, name, counter, message) {name, counter, message},
    TIERSWAP_REJECT_REASONS(TIERSWAP_ROW)
#undef TIERSWAP_ROW
};

inline const RejectReasonInfo& InfoOf(RejectReason r) {
  return kRejectReasonInfo[static_cast<size_t>(r)];
}
inline const char* RejectReasonName(RejectReason r) { return InfoOf(r).name; }

struct TierStats {
  std::string name;
  TierKind kind = TierKind::kDram;
  uint64_t capacity_bytes = 0, limit_bytes = 0, used_bytes = 0, stored_pages = 0;
  uint64_t stores = 0, loads = 0;
  double load_fraction = 0;  // share of the loads served by tiers that this tier served
  unsigned rank = 0;         // 0: fastest
  bool online = true;
  double live_load_ns = 0;  // the mover's live estimate of a load's cost
  // Where live_load_ns comes from: "live" (medians of windows of loads the tier served),
  // "probe" (the open-time probe; no window yet) or "none" (no probe, no window yet).
  std::string live_load_source = "none";
  uint64_t live_load_windows = 0;             // windows of loads behind a "live" figure
  HistogramData load_latency, store_latency;  // count 0 when histograms are off
  TierMoveStats moves;
};

struct TypeStats {
  unsigned type = 0;
  bool initialized = false;
  uint64_t nr_pages = 0, stored_pages = 0, quota_bytes = 0;
};

struct BackendStats {
  std::array<uint64_t, kNumBackendCounters> counters{};  // by BackendCounter
  uint64_t counter(BackendCounter c) const { return counters[c]; }
  MoverStats mover;
  bool frozen = false;
  std::string policy;
  std::string last_rerank;  // why the tiers were last re-ranked; "" if never
  uint64_t stored_pages = 0, metadata_bytes = 0;
  std::vector<TierStats> tiers;
  std::vector<TypeStats> types;  // initialised types, and types that still hold pages
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_BACKEND_STATS_H_
