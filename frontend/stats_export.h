// Stats export: a backend's statistics (Backend::ExportStats) rendered for the outside, as one
// JSON object (docs/stats.md) or as Prometheus text (frontend/prometheus_sink.h). Every face
// (the C ABI, the HTTP listener and dump file, the CLI, the nbdkit plugin) renders them here.
//
// Thread-safety: as Backend::ExportStats: any thread, concurrently with stores and loads.
#ifndef TIERSWAP_FRONTEND_STATS_EXPORT_H_
#define TIERSWAP_FRONTEND_STATS_EXPORT_H_

#include <string>

#include "placement/backend.h"

namespace tierswap {

// The statistics as one JSON object.
std::string StatsJson(const Backend& backend, bool pretty = false);

// The statistics in the Prometheus text exposition format.
std::string StatsPrometheus(const Backend& backend);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_STATS_EXPORT_H_
