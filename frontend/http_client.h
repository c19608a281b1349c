// HttpGet: one GET from a tierswap statistics listener (or any HTTP/1.x server), bounded: one
// deadline for the whole exchange (connect, send, every byte of the answer), and a cap on the
// answer's size. A server that trickles bytes or never stops talking costs at most the deadline
// and the cap. Used by `tierswap stats --connect` and the tests of the listener.
//
// Thread-safety: a pure function.
#ifndef TIERSWAP_FRONTEND_HTTP_CLIENT_H_
#define TIERSWAP_FRONTEND_HTTP_CLIENT_H_

#include <cstddef>
#include <string>

#include "tiers/result.h"

namespace tierswap {

struct HttpGetLimits {
  int timeout_ms = 5000;                // the whole exchange
  size_t max_bytes = size_t{64} << 20;  // the whole answer, head included
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// GET `path` from host:port (host: a name or a numeric address, IPv6 without brackets). Errors
// say which step failed: resolve, connect, send, the deadline, the size cap, a malformed answer.
Result<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                             const HttpGetLimits& limits = {});

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_HTTP_CLIENT_H_
