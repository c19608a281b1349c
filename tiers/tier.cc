#include "tiers/tier.h"

namespace tierswap {

void Tier::ExportStats(StatsSink& sink) const {
  sink.Text("name", name_);
  sink.Text("kind", TierKindName(kind_));
  sink.Gauge("capacity_bytes", capacity_bytes());
  sink.Gauge("used_bytes", used_bytes());
  sink.Gauge("stored_pages", stored_pages());
  sink.Counter("stores", counters_.Sum(kStores));
  sink.Counter("store_rejects", counters_.Sum(kStoreRejects));
  sink.Counter("loads", counters_.Sum(kLoads));
  sink.Counter("load_errors", counters_.Sum(kLoadErrors));
  sink.Counter("frees", counters_.Sum(kFrees));
  sink.Gauge("metadata_bytes", MetadataBytes());
  DoExportStats(sink);
}

}  // namespace tierswap
