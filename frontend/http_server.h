// HttpServer: the small HTTP/1.1 server behind [stats] listen (frontend/stats_service.h). It
// serves a few GET paths from handlers and nothing else, and is built to be harmless to the
// process it lives in, whatever its clients do (a hostile local user included):
//   - one thread and one poll() loop; every socket non-blocking; nothing waits on a client;
//   - a deadline for the whole request (accept to the end of its headers), another for the
//     whole response: a client that trickles bytes is cut off, not waited for;
//   - caps on the request's size and header count (431), on concurrent connections (excess ones
//     are closed at accept, counted), hence on file descriptors and memory;
//   - one request per connection, answered with `Connection: close` (pipelined requests after
//     the first are not read); GET and HEAD only (405 otherwise, with Allow), no bodies;
//   - the destructor returns promptly: it wakes the loop through an eventfd and joins it.
// Handlers run on the server's thread, one at a time.
//
// Thread-safety: Start and the destructor from one thread; counters() from any.
#ifndef TIERSWAP_FRONTEND_HTTP_SERVER_H_
#define TIERSWAP_FRONTEND_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tiers/result.h"

namespace tierswap {

struct HttpServerLimits {
  size_t max_connections = 16;      // open at once; further ones are closed at accept
  size_t max_request_bytes = 8192;  // request line and headers
  size_t max_header_lines = 64;
  int request_timeout_ms = 2000;   // from accept to the end of the request's headers
  int response_timeout_ms = 5000;  // to write the whole response
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpRoute {
  std::string path;  // exact match, e.g. "/metrics" (a query string is ignored)
  std::function<HttpReply()> handler;
};

class HttpServer {
 public:
  // Listens on host:port (port 0: any free port) and starts serving `routes`. `what` names the
  // listener in errors ("[stats] listen = ..."). Errors: an address that cannot be resolved or
  // bound (in use, not one of this host's), or no thread.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                   std::vector<HttpRoute> routes,
                                                   const HttpServerLimits& limits,
                                                   const std::string& what);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

  struct Counters {
    uint64_t accepted = 0;   // connections taken
    uint64_t refused = 0;    // connections closed at accept: too many open
    uint64_t served = 0;     // responses written whole (any status)
    uint64_t timed_out = 0;  // connections cut at a deadline
    uint64_t too_large = 0;  // requests over the size or header-count cap (431)
    uint64_t malformed = 0;  // requests that were not HTTP (400)
  };
  Counters counters() const;

 private:
  struct Connection;
  HttpServer(int listen_fd, int wake_fd, int port, std::vector<HttpRoute> routes,
             const HttpServerLimits& limits);
  void Loop();
  // Takes every pending connection (closing those beyond max_connections). False when the
  // process is out of descriptors or memory: accepting should pause.
  bool Accept(uint64_t now_ms);
  // Reads what the client sent; once the head is complete, answers. False: close now.
  bool OnReadable(Connection& c, uint64_t now_ms);
  // Writes what is left of the answer. False: done or failed (close).
  bool OnWritable(Connection& c);
  void Answer(Connection& c, uint64_t now_ms);
  void Reply(Connection& c, int status, const std::string& type, const std::string& body, bool head,
             uint64_t now_ms, const char* extra_headers = "");

  const int listen_fd_;
  const int wake_fd_;  // eventfd: the destructor's stop signal
  const int port_;
  const std::vector<HttpRoute> routes_;
  const HttpServerLimits limits_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<Connection>> conns_;  // the loop thread's only
  std::thread thread_;
  std::atomic<uint64_t> accepted_{0}, refused_{0}, served_{0}, timed_out_{0}, too_large_{0},
      malformed_{0};
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_HTTP_SERVER_H_
