// HttpServer (the [stats] listener's server) against well-behaved and hostile clients over
// loopback: routes, 404 and 405, HEAD; a trickling client cut at its deadline while others are
// served; a header flood answered 431; connections beyond the cap refused at once; a pipelined
// second request not answered (Connection: close); and a destructor that returns while clients
// hang. No test asserts a duration: each checks what the clients get.
#include "frontend/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend/http_client.h"

namespace tierswap {
namespace {

std::unique_ptr<HttpServer> Serve(HttpServerLimits limits = {}) {
  std::vector<HttpRoute> routes = {
      {"/metrics",
       [] {
         return HttpReply{200, "text/plain", "metrics body\n"};
       }},
      {"/stats.json",
       [] {
         return HttpReply{200, "application/json", "{}"};
       }},
  };
  auto s = HttpServer::Start("127.0.0.1", 0, std::move(routes), limits, "test listener");
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s ? std::move(s).value() : nullptr;
}

// A raw client socket, blocking, connected to the server.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void Send(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
}

// Everything the server sends until it closes (or `wait_ms` of silence).
std::string ReadAll(int fd, int wait_ms = 10000) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

TEST(HttpServerTest, ServesItsRoutesAndSaysWhatIsNotThere) {
  auto s = Serve();
  ASSERT_NE(s, nullptr);
  auto r = HttpGet("127.0.0.1", s->port(), "/metrics");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->body, "metrics body\n");
  r = HttpGet("127.0.0.1", s->port(), "/stats.json?pretty=1");  // a query string is ignored
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "{}");
  r = HttpGet("127.0.0.1", s->port(), "/nothing\x01here");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(
      r->body,
      "tierswap serves GET /metrics and GET /stats.json; there is nothing at /nothing?here\n");
}

TEST(HttpServerTest, OtherMethodsAre405WithAllowAndHeadHasNoBody) {
  auto s = Serve();
  ASSERT_NE(s, nullptr);
  int fd = Connect(s->port());
  Send(fd, "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Allow: GET, HEAD\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("not DELETE"), std::string::npos) << answer;

  fd = Connect(s->port());
  Send(fd, "HEAD /metrics HTTP/1.1\r\n\r\n");
  answer = ReadAll(fd);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Content-Length: 13\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.substr(answer.size() - 4), "\r\n\r\n") << "HEAD sent a body: " << answer;
}

TEST(HttpServerTest, TricklingClientsAreCutWhileOthersAreServed) {
  HttpServerLimits limits;
  limits.request_timeout_ms = 300;
  auto s = Serve(limits);
  ASSERT_NE(s, nullptr);
  // Two clients that send one header byte at a time, as a slow-loris attack does.
  std::atomic<bool> stop{false};
  std::atomic<int> cut{0};
  std::vector<std::thread> trickle;
  for (int i = 0; i < 2; ++i) {
    trickle.emplace_back([&, port = s->port()] {
      const int fd = Connect(port);
      const std::string req = "GET /metrics HTTP/1.1\r\nX-Slow: " + std::string(200, 'a');
      for (char c : req) {
        if (stop || ::send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) {  // the server spoke or hung up: it cut us
          const std::string got = ReadAll(fd, 1000);
          if (got.empty() || got.rfind("HTTP/1.1 408", 0) == 0) ++cut;
          break;
        }
      }
      ::close(fd);
    });
  }
  // Meanwhile every scrape is answered.
  for (int i = 0; i < 5; ++i) {
    auto r = HttpGet("127.0.0.1", s->port(), "/metrics");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
  }
  for (auto& t : trickle) t.join();
  stop = true;
  EXPECT_EQ(cut.load(), 2) << "a trickling client was not cut off before sending its 200 bytes";
  EXPECT_EQ(s->counters().timed_out, 2u);
}

TEST(HttpServerTest, HeaderFloodIsAnswered431AndClosed) {
  HttpServerLimits limits;
  limits.max_request_bytes = 4096;
  auto s = Serve(limits);
  ASSERT_NE(s, nullptr);
  const int fd = Connect(s->port());
  std::string flood = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) flood += "X-A: b\r\n";  // 16 KiB, never an end of head
  // The server answers and closes after its cap; what it did not read may fail to send.
  (void)::send(fd, flood.data(), flood.size(), MSG_NOSIGNAL);
  const std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer;
  EXPECT_EQ(s->counters().too_large, 1u);

  // Too many header lines, within the size cap, are refused too.
  limits.max_request_bytes = 1 << 20;
  limits.max_header_lines = 8;
  auto t = Serve(limits);
  ASSERT_NE(t, nullptr);
  const int fd2 = Connect(t->port());
  std::string many = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) many += "X-A: b\r\n";
  Send(fd2, many + "\r\n");
  EXPECT_EQ(ReadAll(fd2).rfind("HTTP/1.1 431 ", 0), 0u);
  ::close(fd2);
}

TEST(HttpServerTest, ConnectionsBeyondTheCapAreRefusedAtOnce) {
  HttpServerLimits limits;
  limits.max_connections = 4;
  limits.request_timeout_ms = 60'000;  // idle clients are not cut meanwhile
  auto s = Serve(limits);
  ASSERT_NE(s, nullptr);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect(s->port()));
  // Give the server a moment to take the four (it accepts in its own loop).
  while (s->counters().accepted < 4) std::this_thread::yield();
  const int extra = Connect(s->port());
  ASSERT_GE(extra, 0);
  const std::string answer = ReadAll(extra);
  ::close(extra);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503 ", 0), 0u) << answer;
  EXPECT_EQ(s->counters().refused, 1u);
  for (int fd : idle) ::close(fd);
  // Once they are gone, requests are served again.
  auto r = HttpGet("127.0.0.1", s->port(), "/metrics");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, APipelinedSecondRequestIsNotAnswered) {
  auto s = Serve();
  ASSERT_NE(s, nullptr);
  const int fd = Connect(s->port());
  Send(fd, "GET /metrics HTTP/1.1\r\n\r\nGET /stats.json HTTP/1.1\r\n\r\n");
  const std::string answer = ReadAll(fd);
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("metrics body"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "two answers: " << answer;
}

TEST(HttpServerTest, DestructorReturnsWhileClientsHang) {
  HttpServerLimits limits;
  limits.request_timeout_ms = 60'000;
  auto s = Serve(limits);
  ASSERT_NE(s, nullptr);
  std::vector<int> hanging;
  for (int i = 0; i < 8; ++i) {
    const int fd = Connect(s->port());
    Send(fd, "GET /met");  // and nothing more
    hanging.push_back(fd);
  }
  while (s->counters().accepted < 8) std::this_thread::yield();
  s.reset();  // must not wait for any of them
  for (int fd : hanging) {
    EXPECT_EQ(ReadAll(fd, 1000), "") << "the server answered a half request";
    ::close(fd);
  }
}

TEST(HttpServerTest, NotHttpIs400) {
  auto s = Serve();
  ASSERT_NE(s, nullptr);
  const int fd = Connect(s->port());
  Send(fd, "hello there\r\n\r\n");
  EXPECT_EQ(ReadAll(fd).rfind("HTTP/1.1 400 ", 0), 0u);
  ::close(fd);
  EXPECT_EQ(s->counters().malformed, 1u);
}

}  // namespace
}  // namespace tierswap
