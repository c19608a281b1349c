// BackendOptions: what the engine (placement/backend.h) is built from, as plain values with their
// defaults inline. The engine never sees a configuration file: the TOML loader
// (frontend/config.h) fills these, and tests and embedders fill them by hand.
//
// Thread-safety: plain value types.
#ifndef TIERSWAP_PLACEMENT_BACKEND_OPTIONS_H_
#define TIERSWAP_PLACEMENT_BACKEND_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tierswap {

// Which tier a page goes to, and when pages move between tiers (docs/config.md, [placement]).
struct PlacementOptions {
  std::string policy = "adaptive";   // "static" (first tier in rank order with room, no
                                     // migration) | "adaptive" (reuse-aware admission, demotion
                                     // of cold pages, promotion of reused ones)
  double high_watermark = 0.98;      // above this fraction of its capacity a tier demotes ...
  double low_watermark = 0.95;       // ... its coldest pages until below this one
  uint64_t max_migration_mbps = 0;   // promotions + demotions by the mover; 0 = unlimited
  uint64_t min_residency_ms = 1000;  // a migrated page stays put at least this long
  uint32_t promote_after_loads = 1;  // loads from a slower tier before a page is promoted
  bool background = true;            // run the mover thread (false: Backend::Maintain() only)
  uint64_t mover_interval_ms = 10;   // how often the mover thread wakes
  double probe_budget_ms = 50;       // time to measure each tier at open (0: skip the probe)
};

// A cap on the pages one swap type (tenant) may hold (docs/config.md, [[quota]]).
struct QuotaOptions {
  unsigned type = 0;
  uint64_t max_bytes = 0;  // rounded down to whole pages; at least one page
};

struct BackendOptions {
  bool exclusive_loads = false;    // a successful Load also drops the page
  PlacementOptions placement;      // policy, watermarks, mover
  bool latency_histograms = true;  // time tier operations (sampled) into per-tier histograms
  std::vector<QuotaOptions> quotas;
  // Every tier zeroes a page's memory when the page is freed, replaced, invalidated or moved
  // away (Tier::SetScrubOnFree). false leaves the tiers as given.
  bool scrub_on_free = false;
};

}  // namespace tierswap

#endif  // TIERSWAP_PLACEMENT_BACKEND_OPTIONS_H_
