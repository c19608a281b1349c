// Status: the small, closed set of outcomes of a hot-path operation.
//
// Store, load and the tier operations beneath them return a Status instead of throwing or
// carrying a message: they run millions of times a second and must not allocate. Detail
// (which key, which node, what the OS said) belongs to cold paths, which return Result<T>
// (result.h), and to the C ABI, which maps a Status to a negative errno plus a thread-local
// message (frontend/c_api.cc).
//
// A rejected store is not a failure of the system: the page simply goes to the real swap
// device. That is why kNoSpace is an ordinary outcome, not an error.
#ifndef TIERSWAP_TIERS_STATUS_H_
#define TIERSWAP_TIERS_STATUS_H_

#include <cstdint>

namespace tierswap {

enum class Status : uint8_t {
  kOk = 0,
  kNotFound,         // load of a page that is not held
  kNoSpace,          // no room (a tier, or every tier): the store is rejected
  kInvalidArgument,  // caller error: type/offset out of range, null buffer
  kNotInitialized,   // the swap type was never initialised, or its area was invalidated
  kIoError,          // a tier failed to read or write a page it holds
  kNoMemory,         // metadata could not be allocated (the store is rejected)
  kRejected,  // this tier declines this page (e.g. it compresses poorly); another may take it
};

// Stable lower_snake names, used in messages and statistics.
constexpr const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kNotFound:
      return "not_found";
    case Status::kNoSpace:
      return "no_space";
    case Status::kInvalidArgument:
      return "invalid_argument";
    case Status::kNotInitialized:
      return "not_initialized";
    case Status::kIoError:
      return "io_error";
    case Status::kNoMemory:
      return "no_memory";
    case Status::kRejected:
      return "rejected";
  }
  return "unknown";
}

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_STATUS_H_
