#include "frontend/stats_export.h"

#include "frontend/json_writer.h"
#include "frontend/prometheus_sink.h"

namespace tierswap {

std::string StatsJson(const Backend& backend, bool pretty) {
  JsonWriter w(pretty);
  w.BeginObject();
  JsonStatsSink sink(w);
  backend.ExportStats(sink);
  w.EndObject();
  return w.Take();
}

std::string StatsPrometheus(const Backend& backend) {
  PrometheusSink sink;
  backend.ExportStats(sink);
  return sink.Finish();
}

}  // namespace tierswap
