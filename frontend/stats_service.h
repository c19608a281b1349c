// StatsService: how a running backend's statistics leave the process, besides the calls that
// return them (tierswap_stats_json, tierswap_stats_prometheus).
//
// Two optional parts, both from [stats] (docs/config.md; docs/stats.md has the formats):
//   - an HTTP listener (`listen = "127.0.0.1:9464"`) serving GET /metrics (Prometheus text) and
//     GET /stats.json (frontend/http_server.h: one thread, bounded against slow, flooding or
//     malformed clients). It binds to loopback only unless `allow_remote = true`: the
//     statistics name tiers, capacities and load patterns, and the listener has no
//     authentication.
//   - a dump thread (`dump_file`, or $TIERSWAP_STATS_FILE) appending one timestamped JSON line
//     every `dump_interval_ms` (or $TIERSWAP_STATS_INTERVAL seconds), and a last one at stop.
// The C handle (tierswap_open) and the frontswap plugin's process-wide backend each own one.
//
// A scrape or a dump only sums the backend's sharded counters, on the service's own threads;
// it takes no lock that Store, Load or InvalidatePage take, so it never stalls the data path.
//
// Thread-safety: Start and the destructor are called from one thread; the backend must outlive
// the service. The destructor stops the listener and the dump thread and joins them.
#ifndef TIERSWAP_FRONTEND_STATS_SERVICE_H_
#define TIERSWAP_FRONTEND_STATS_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "frontend/config.h"
#include "frontend/http_server.h"
#include "placement/backend.h"
#include "tiers/mutex.h"
#include "tiers/owned_file.h"
#include "tiers/result.h"

namespace tierswap {

class StatsService {
 public:
  // Applies the environment ($TIERSWAP_STATS_FILE replaces dump_file, $TIERSWAP_STATS_INTERVAL
  // replaces dump_interval_ms) and starts what the result asks for; with neither `listen` nor a
  // dump file the service does nothing. `listen` may name port 0 (any free port; see port()).
  // Errors: a listen address that is not loopback without allow_remote, one that cannot be
  // bound, a dump file that cannot be opened for appending, an interval that is out of range.
  static Result<std::unique_ptr<StatsService>> Start(const Backend& backend,
                                                     const StatsConfig& config);
  ~StatsService();
  StatsService(const StatsService&) = delete;
  StatsService& operator=(const StatsService&) = delete;

  // The port the listener is bound to; 0 without a listener.
  int port() const { return port_; }
  // The file the dump thread appends to ("" without one), and its interval.
  const std::string& dump_file() const { return dump_file_; }
  uint64_t dump_interval_ms() const { return dump_interval_ms_; }

  // One dump line, without the newline: {"ts":"2026-11-26T13:00:00.123Z","unix_ms":...,
  // "stats":{...}} at the current wall-clock time.
  static std::string DumpLine(const Backend& backend);
  // How every dump line starts: a dump file that is not empty must start so.
  static constexpr std::string_view kDumpLinePrefix = "{\"ts\":\"";

 private:
  explicit StatsService(const Backend& backend);
  Result<void> StartListener(const StatsConfig& config);
  Result<void> StartDump(const std::string& path, uint64_t interval_ms, std::string_view origin);
  void DumpLoop() EXCLUDES(dump_mu_);
  void WriteDumpLine();

  const Backend& backend_;
  std::unique_ptr<HttpServer> listener_;
  int port_ = 0;

  std::string dump_file_;
  uint64_t dump_interval_ms_ = 0;
  OwnedFile dump_owned_;  // the dump file, open and locked
  Mutex dump_mu_;
  CondVar dump_cv_;
  bool dump_stop_ GUARDED_BY(dump_mu_) = false;
  std::thread dump_thread_;
};

// Whether `host` (as written in `listen`, brackets allowed around IPv6) is a loopback address:
// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 or "localhost". Names are not resolved.
bool IsLoopbackHost(std::string_view host);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_STATS_SERVICE_H_
