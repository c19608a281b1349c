#include "frontend/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <system_error>

#include "frontend/quiet_thread.h"

namespace tierswap {

// One client. Phases: reading the request head, writing the answer, then a lingering close
// (the write side shut, input read and dropped until the client closes or a short time passes),
// so that a client that sent more than one request still gets its answer instead of a reset.
struct HttpServer::Connection {
  enum Phase { kReading, kWriting, kLingering };
  int fd = -1;
  Phase phase = kReading;
  uint64_t deadline_ms = 0;
  std::string in;
  std::string out;
  size_t sent = 0;
  size_t dropped = 0;  // bytes read and discarded while lingering
};

namespace {

constexpr uint64_t kLingerMs = 500;
constexpr size_t kLingerBytes = 64 << 10;

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// A path as it may appear in a message: printable ASCII only, at most 80 characters.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > 80) out += "...";
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                      std::vector<HttpRoute> routes,
                                                      const HttpServerLimits& limits,
                                                      const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int gai =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (gai != 0) {
    return MakeError(Status::kInvalidArgument,
                     what + ": cannot resolve '" + host + "' (" + gai_strerror(gai) + ").");
  }
  int fd = -1;
  int err = 0;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    // SO_REUSEADDR only: with SO_REUSEPORT a second process could share the port and answer
    // every other scrape with its own statistics.
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      err = errno;
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return MakeError(Status::kIoError,
                     what + ": cannot listen there" +
                         (err != 0 ? std::string(" (") + std::strerror(err) + ")" : "") +
                         "; is the port in use, or the address not one of this host's?");
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int actual = bound.ss_family == AF_INET6
                         ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    err = errno;
    ::close(fd);
    return MakeError(Status::kIoError, what + ": cannot make the listener's wake-up eventfd (" +
                                           std::strerror(err) + ").");
  }
  std::unique_ptr<HttpServer> s(new HttpServer(fd, wake, actual, std::move(routes), limits));
  try {
    HttpServer* raw = s.get();
    s->thread_ = StartQuietThread([raw] { raw->Loop(); });
  } catch (const std::system_error& e) {
    return MakeError(Status::kNoMemory, what + ": cannot start the listener's thread (" +
                                            std::string(e.what()) + ").");
  }
  return s;
}

HttpServer::HttpServer(int listen_fd, int wake_fd, int port, std::vector<HttpRoute> routes,
                       const HttpServerLimits& limits)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      routes_(std::move(routes)),
      limits_(limits) {}

HttpServer::~HttpServer() {
  stop_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  // The loop polls the eventfd: it wakes at once, whatever the clients are doing.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

HttpServer::Counters HttpServer::counters() const {
  Counters c;
  c.accepted = accepted_.load(std::memory_order_relaxed);
  c.refused = refused_.load(std::memory_order_relaxed);
  c.served = served_.load(std::memory_order_relaxed);
  c.timed_out = timed_out_.load(std::memory_order_relaxed);
  c.too_large = too_large_.load(std::memory_order_relaxed);
  c.malformed = malformed_.load(std::memory_order_relaxed);
  return c;
}

void HttpServer::Loop() {
  std::vector<pollfd> fds;
  uint64_t accept_paused_until = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t now = NowMs();
    const bool accepting = now >= accept_paused_until;
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, short(accepting ? POLLIN : 0), 0});
    uint64_t next_deadline = now + 1000;
    if (!accepting) next_deadline = std::min(next_deadline, accept_paused_until);
    for (const auto& c : conns_) {
      fds.push_back({c->fd, short(c->phase == Connection::kWriting ? POLLOUT : POLLIN), 0});
      next_deadline = std::min(next_deadline, c->deadline_ms);
    }
    const int timeout = next_deadline > now ? int(next_deadline - now) : 0;
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;  // the destructor's stop signal
    now = NowMs();
    for (size_t i = 0; i + 2 < fds.size(); ++i) {
      Connection& c = *conns_[i];
      const short ev = fds[i + 2].revents;
      bool keep = true;
      if (ev != 0) {
        keep = c.phase == Connection::kWriting ? (ev & (POLLERR | POLLNVAL)) == 0 && OnWritable(c)
                                               : OnReadable(c, now);
      }
      if (keep && now >= c.deadline_ms) {
        if (c.phase == Connection::kReading) {
          // Best effort, never blocking: say why before hanging up.
          static constexpr char k408[] =
              "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          [[maybe_unused]] ssize_t n = ::send(c.fd, k408, sizeof(k408) - 1, MSG_NOSIGNAL);
        }
        if (c.phase != Connection::kLingering) timed_out_.fetch_add(1, std::memory_order_relaxed);
        keep = false;
      }
      if (!keep) {
        ::close(c.fd);
        conns_[i].reset();
      }
    }
    conns_.erase(std::remove(conns_.begin(), conns_.end(), nullptr), conns_.end());
    if ((fds[1].revents & POLLIN) != 0 && !Accept(now)) {
      // Out of descriptors or memory: the listening socket stays readable, so stop asking for a
      // moment rather than spin. Clients wait in the backlog meanwhile.
      accept_paused_until = now + 100;
    }
  }
  for (const auto& c : conns_) ::close(c->fd);
  conns_.clear();
}

bool HttpServer::Accept(uint64_t now) {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return !(errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM);
    }
    if (conns_.size() >= limits_.max_connections) {
      // Refused at once, with a word if the socket takes it without waiting.
      static constexpr char k503[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] ssize_t n = ::send(fd, k503, sizeof(k503) - 1, MSG_NOSIGNAL);
      ::close(fd);
      refused_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    try {
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      c->deadline_ms = now + uint64_t(limits_.request_timeout_ms);
      conns_.push_back(std::move(c));
    } catch (const std::bad_alloc&) {
      ::close(fd);
      return false;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool HttpServer::OnReadable(Connection& c, uint64_t now) {
  char buf[4096];
  for (;;) {
    const size_t room = c.phase == Connection::kLingering
                            ? sizeof(buf)
                            : std::min(sizeof(buf), limits_.max_request_bytes + 1 - c.in.size());
    const ssize_t n = ::recv(c.fd, buf, room, 0);
    if (n == 0) return false;  // the client closed
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (c.phase == Connection::kLingering) {
      c.dropped += size_t(n);
      if (c.dropped > kLingerBytes) return false;
      continue;
    }
    c.in.append(buf, size_t(n));
    if (c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos) {
      Answer(c, now);
      return true;
    }
    if (c.in.size() > limits_.max_request_bytes) {
      too_large_.fetch_add(1, std::memory_order_relaxed);
      Reply(c, 431, "text/plain; charset=utf-8",
            "the request's head is larger than " + std::to_string(limits_.max_request_bytes) +
                " bytes\n",
            false, now);
      return true;
    }
  }
}

bool HttpServer::OnWritable(Connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    c.sent += size_t(n);
  }
  served_.fetch_add(1, std::memory_order_relaxed);
  // Lingering close: no more from us; read and drop what the client still sends for a moment.
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Connection::kLingering;
  c.out.clear();
  c.out.shrink_to_fit();
  c.in.clear();
  c.in.shrink_to_fit();
  c.deadline_ms = NowMs() + kLingerMs;
  return true;
}

void HttpServer::Answer(Connection& c, uint64_t now) {
  const std::string_view head(c.in);
  size_t eol = head.find('\n');
  const std::string_view request_line = Trim(head.substr(0, eol));
  // METHOD SP TARGET SP HTTP/1.x
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    Reply(c, 400, "text/plain; charset=utf-8", "not an HTTP/1.x request\n", false, now);
    return;
  }
  const std::string_view method = request_line.substr(0, sp1);
  std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t lines = 0;
  bool body = false;
  while (eol != std::string_view::npos) {
    const size_t start = eol + 1;
    eol = head.find('\n', start);
    const std::string_view line = Trim(head.substr(start, eol - start));
    if (line.empty()) break;  // the end of the head
    if (++lines > limits_.max_header_lines) {
      too_large_.fetch_add(1, std::memory_order_relaxed);
      Reply(c, 431, "text/plain; charset=utf-8",
            "more than " + std::to_string(limits_.max_header_lines) + " header lines\n", false,
            now);
      return;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      Reply(c, 400, "text/plain; charset=utf-8", "a header line without a name\n", false, now);
      return;
    }
    const std::string name = Lower(Trim(line.substr(0, colon)));
    const std::string_view value = Trim(line.substr(colon + 1));
    if ((name == "content-length" && value != "0") || name == "transfer-encoding") body = true;
  }
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    Reply(c, 405, "text/plain; charset=utf-8",
          "only GET and HEAD are served, not " + Printable(method) + "\n", false, now,
          "Allow: GET, HEAD\r\n");
    return;
  }
  if (body) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    Reply(c, 400, "text/plain; charset=utf-8", "requests with a body are not served\n", head_only,
          now);
    return;
  }
  if (const size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  for (const HttpRoute& r : routes_) {
    if (r.path != target) continue;
    HttpReply reply;
    try {
      reply = r.handler();
    } catch (const std::exception&) {  // out of memory while rendering
      reply = HttpReply{500, "text/plain; charset=utf-8", "the statistics could not be rendered\n"};
    }
    Reply(c, reply.status, reply.content_type, reply.body, head_only, now);
    return;
  }
  std::string known;
  for (const HttpRoute& r : routes_) known += (known.empty() ? "GET " : " and GET ") + r.path;
  Reply(c, 404, "text/plain; charset=utf-8",
        "tierswap serves " + known + "; there is nothing at " + Printable(target) + "\n", head_only,
        now);
}

void HttpServer::Reply(Connection& c, int status, const std::string& type, const std::string& body,
                       bool head, uint64_t now, const char* extra_headers) {
  c.out = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
          "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nCache-Control: no-store\r\nConnection: close\r\n" + extra_headers + "\r\n";
  if (!head) c.out += body;
  c.sent = 0;
  c.phase = Connection::kWriting;
  c.deadline_ms = now + uint64_t(limits_.response_timeout_ms);
  c.in.clear();
}

}  // namespace tierswap
