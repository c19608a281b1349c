#include "frontend/http_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tierswap {
namespace {

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
bool WaitFor(int fd, short events, uint64_t deadline) {
  for (;;) {
    const uint64_t now = NowMs();
    if (now >= deadline) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, int(deadline - now));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                             const HttpGetLimits& limits) {
  const std::string where = host + ":" + std::to_string(port);
  const uint64_t deadline = NowMs() + uint64_t(limits.timeout_ms);
  const std::string timeout_text = std::to_string(limits.timeout_ms / 1000.0).substr(0, 4) + " s";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (gai != 0) {
    return MakeError(Status::kInvalidArgument,
                     "cannot resolve '" + host + "' (" + gai_strerror(gai) + ")");
  }
  Fd s;
  int err = ECONNREFUSED;
  for (addrinfo* a = found; a != nullptr && s.fd < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      err = errno;
      ::close(fd);
      continue;
    }
    if (!WaitFor(fd, POLLOUT, deadline)) {
      err = ETIMEDOUT;
      ::close(fd);
      continue;
    }
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      continue;
    }
    s.fd = fd;
  }
  freeaddrinfo(found);
  if (s.fd < 0) {
    return MakeError(
        Status::kIoError,
        "cannot connect to " + where + " (" +
            (err == ETIMEDOUT ? "no answer within " + timeout_text : std::strerror(err)) + ")");
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + where +
                              "\r\nUser-Agent: tierswap\r\nConnection: close\r\n\r\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(s.fd, POLLOUT, deadline)) {
        return MakeError(Status::kIoError,
                         "the request to " + where + " could not be sent within " + timeout_text);
      }
    } else {
      return MakeError(Status::kIoError, "the request to " + where + " could not be sent (" +
                                             std::strerror(errno) + ")");
    }
  }
  std::string in;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n > 0) {
      if (in.size() + size_t(n) > limits.max_bytes) {
        return MakeError(Status::kIoError, where + " answered more than " +
                                               std::to_string(limits.max_bytes) +
                                               " bytes; not read further");
      }
      in.append(buf, size_t(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return MakeError(Status::kIoError,
                       "the connection to " + where + " failed (" + std::strerror(errno) + ")");
    }
    if (!WaitFor(s.fd, POLLIN, deadline)) {
      return MakeError(Status::kIoError,
                       "no complete answer from " + where + " within " + timeout_text);
    }
  }
  // HTTP/1.x CODE REASON, headers, blank line, body.
  const size_t head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || in.size() < 12) {
    return MakeError(Status::kIoError, where + " did not answer in HTTP");
  }
  HttpResponse r;
  r.status = std::atoi(in.c_str() + 9);
  if (r.status < 100 || r.status > 599) {
    return MakeError(Status::kIoError, where + " answered with a malformed status line");
  }
  size_t length = std::string::npos;
  for (size_t pos = in.find("\r\n") + 2; pos < head_end;) {
    const size_t eol = in.find("\r\n", pos);
    const std::string line = in.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (name == "content-type") r.content_type = value;
    if (name == "content-length") length = std::strtoull(value.c_str(), nullptr, 10);
  }
  r.body = in.substr(head_end + 4);
  if (length != std::string::npos) {
    if (r.body.size() < length) {
      return MakeError(Status::kIoError, where + " closed the connection " +
                                             std::to_string(length - r.body.size()) +
                                             " bytes before the end of its answer");
    }
    r.body.resize(length);
  }
  return r;
}

}  // namespace tierswap
