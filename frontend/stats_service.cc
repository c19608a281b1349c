#include "frontend/stats_service.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <utility>

#include "frontend/json_writer.h"
#include "frontend/prometheus_sink.h"
#include "frontend/quiet_thread.h"
#include "frontend/stats_export.h"
#include "tiers/owned_file.h"
#include "tiers/quoted.h"

namespace tierswap {

namespace {

constexpr uint64_t kMinIntervalMs = 10;
constexpr uint64_t kMaxIntervalMs = 86'400'000;

// "<file>:<line>: [stats]: key 'listen': " when the key came from a config file, as the loader's
// messages say it; "[stats]: key 'listen': " otherwise.
std::string Where(const StatsConfig& config, int line, std::string_view key) {
  std::string at;
  if (line > 0) {
    at = (config.source.empty() ? std::string("line ") : Shown(config.source) + ":") +
         std::to_string(line) + ": ";
  }
  return at + "[stats]: key '" + std::string(key) + "': ";
}

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = -1;
};

// "host:port", "[v6]:port" or "v6:port" (the last colon separates the port); port 0-65535.
bool SplitListen(std::string_view listen, HostPort* out) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
    return false;
  }
  out->port = std::atoi(std::string(port).c_str());
  if (out->port > 65535) return false;
  std::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  out->host = std::string(host);
  return true;
}

std::string Timestamp(std::chrono::system_clock::time_point now, uint64_t* unix_ms) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  *unix_ms = static_cast<uint64_t>(ms.count());
  const std::time_t secs = static_cast<std::time_t>(*unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];  // 24 characters, unless the year has more than four digits
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(*unix_ms % 1000));
  return buf;
}

// $TIERSWAP_STATS_INTERVAL: seconds, fractions allowed.
Result<uint64_t> ParseIntervalSeconds(const char* text) {
  char* end = nullptr;
  errno = 0;
  const double seconds = std::strtod(text, &end);
  const bool number = end != text && *end == '\0' && errno == 0 && std::isfinite(seconds);
  const double ms = seconds * 1000.0;
  if (!number || ms < double(kMinIntervalMs) || ms > double(kMaxIntervalMs)) {
    return MakeError(Status::kInvalidArgument,
                     "$TIERSWAP_STATS_INTERVAL = " + Quoted(text) +
                         " is not a number of seconds from 0.01 to 86400 (e.g. \"0.5\").");
  }
  return static_cast<uint64_t>(std::llround(ms));
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

StatsService::StatsService(const Backend& backend) : backend_(backend) {}

std::string StatsService::DumpLine(const Backend& backend) {
  uint64_t unix_ms = 0;
  const std::string ts = Timestamp(std::chrono::system_clock::now(), &unix_ms);
  JsonWriter w;
  w.BeginObject();
  w.Key("ts").String(ts);
  w.Key("unix_ms").Uint(unix_ms);
  w.Key("stats").Raw(StatsJson(backend));
  w.EndObject();
  return w.Take();
}

Result<std::unique_ptr<StatsService>> StatsService::Start(const Backend& backend,
                                                          const StatsConfig& config) {
  std::string dump_file = config.dump_file;
  std::string origin = Where(config, config.dump_file_line, "dump_file") + Quoted(config.dump_file);
  uint64_t interval_ms = config.dump_interval_ms;
  if (const char* env = std::getenv("TIERSWAP_STATS_FILE"); env != nullptr && env[0] != '\0') {
    dump_file = env;
    origin = "$TIERSWAP_STATS_FILE = " + Quoted(env);
  }
  if (const char* env = std::getenv("TIERSWAP_STATS_INTERVAL"); env != nullptr && env[0] != '\0') {
    Result<uint64_t> ms = ParseIntervalSeconds(env);
    if (!ms) return ms.take_error();
    interval_ms = *ms;
  } else if (!dump_file.empty() && (interval_ms < kMinIntervalMs || interval_ms > kMaxIntervalMs)) {
    return MakeError(Status::kInvalidArgument,
                     Where(config, config.dump_interval_line, "dump_interval_ms") +
                         std::to_string(interval_ms) +
                         " is out of range (10 to 86400000 milliseconds).");
  }

  std::unique_ptr<StatsService> service(new StatsService(backend));
  if (!config.listen.empty()) {
    if (Result<void> r = service->StartListener(config); !r) return r.take_error();
  }
  if (!dump_file.empty()) {
    if (Result<void> r = service->StartDump(dump_file, interval_ms, origin); !r) {
      return r.take_error();
    }
  }
  return service;
}

Result<void> StatsService::StartListener(const StatsConfig& config) {
  const std::string what = Where(config, config.listen_line, "listen") + Quoted(config.listen);
  HostPort hp;
  if (!SplitListen(config.listen, &hp)) {
    return MakeError(Status::kInvalidArgument,
                     what + " is not HOST:PORT (e.g. \"127.0.0.1:9464\").");
  }
  const bool loopback = IsLoopbackHost(hp.host);
  if (!loopback && !config.allow_remote) {
    return MakeError(Status::kInvalidArgument,
                     what + ": " + Quoted(hp.host) +
                         " is not a loopback address (127.0.0.0/8, ::1, localhost), and the "
                         "statistics listener has no authentication; listen on 127.0.0.1, or "
                         "set allow_remote = true to serve other hosts.");
  }
  // An empty host (":9464") means every interface.
  const std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;

  const Backend* backend = &backend_;
  std::vector<HttpRoute> routes = {
      {"/metrics",
       [backend] {
         return HttpReply{200, std::string(PrometheusSink::kContentType),
                          StatsPrometheus(*backend)};
       }},
      {"/stats.json",
       [backend] {
         return HttpReply{200, "application/json", StatsJson(*backend)};
       }},
  };
  auto server = HttpServer::Start(host, hp.port, std::move(routes), HttpServerLimits{}, what);
  if (!server) return server.take_error();
  listener_ = std::move(server).value();
  port_ = listener_->port();
  return {};
}

Result<void> StatsService::StartDump(const std::string& path, uint64_t interval_ms,
                                     std::string_view origin) {
  // Under OwnedFile's rules: not through a symbolic link, the caller's own file (0600 when
  // created), locked while the backend lives, and when not empty, a dump tierswap wrote.
  auto opened = OwnedFile::Open({.path = path,
                                 .kind = OwnedFileKind::kStatsDump,
                                 .open_flags = O_APPEND,
                                 .text_prefix = std::string(kDumpLinePrefix)});
  if (!opened) {
    return MakeError(
        opened.error().code,
        std::string(origin) + ": cannot append statistics to it: " + opened.error().message + ".");
  }
  dump_owned_ = std::move(opened).value();
  dump_file_ = path;
  dump_interval_ms_ = interval_ms;
  dump_thread_ = StartQuietThread([this] { DumpLoop(); });
  return {};
}

void StatsService::DumpLoop() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(dump_interval_ms_);
  auto next = Clock::now() + interval;
  for (;;) {
    {
      MutexLock lock(&dump_mu_);
      while (!dump_stop_ && dump_cv_.WaitUntil(&dump_mu_, next)) {
      }
      if (dump_stop_) break;
    }
    WriteDumpLine();
    // A fixed rate; after a stall, the next line comes one interval later rather than a burst.
    next += interval;
    if (next < Clock::now()) next = Clock::now() + interval;
  }
  // The last line: what happened since the previous one is not lost at close.
  WriteDumpLine();
}

void StatsService::WriteDumpLine() {
  try {
    std::string line = DumpLine(backend_);
    line += '\n';
    // One write per line, O_APPEND: a line lands whole even beside other writers of the file.
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(dump_owned_.fd(), p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // disk full or gone: the next interval tries again
      p += n;
      left -= static_cast<size_t>(n);
    }
  } catch (const std::exception&) {
    // Out of memory while rendering: skip this line; the backend itself is unaffected.
  }
}

StatsService::~StatsService() {
  listener_.reset();  // returns at once: the server's loop never waits on a client
  if (dump_thread_.joinable()) {
    {
      MutexLock lock(&dump_mu_);
      dump_stop_ = true;
    }
    dump_cv_.SignalAll();
    dump_thread_.join();
  }
  // dump_owned_ closes the file (and drops its lock) as the service goes.
}

}  // namespace tierswap
