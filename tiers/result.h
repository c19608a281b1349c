// Result<T>: a value or an Error with a message, for cold paths (open, config, init).
//
// std::expected needs C++23 on this toolchain; this is the small subset tierswap uses.
// Errors carry a Status (so the C ABI can map them to errno) and a sentence that names the
// problem, e.g. "tier 'cxl': NUMA node 7 does not exist (nodes 0-1 exist)".
#ifndef TIERSWAP_TIERS_RESULT_H_
#define TIERSWAP_TIERS_RESULT_H_

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "tiers/status.h"

namespace tierswap {

struct Error {
  Status code = Status::kInvalidArgument;
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& take_error() {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& take_error() {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error MakeError(Status code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_RESULT_H_
