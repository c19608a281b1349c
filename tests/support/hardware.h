// Test support: hardware-dependent tests skip loudly, except in the lab.
//
// A test that needs a far NUMA node or a DAX filesystem skips with a reason on a machine without
// one. scripts/lab-test.sh runs the same binaries inside the project's lab
// (scripts/lab/run-in-lab) with TIERSWAP_FAIL_ON_SKIP=1, where the hardware is known to exist, and
// there a skip is a failure.
#ifndef TIERSWAP_TESTS_SUPPORT_HARDWARE_H_
#define TIERSWAP_TESTS_SUPPORT_HARDWARE_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace tierswap::testing {

inline bool FailOnSkip() {
  const char* v = std::getenv("TIERSWAP_FAIL_ON_SKIP");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace tierswap::testing

// Skips the test, or fails it where the hardware is known to exist (TIERSWAP_FAIL_ON_SKIP=1).
#define TIERSWAP_SKIP_OR_FAIL(why)                                              \
  do {                                                                          \
    if (::tierswap::testing::FailOnSkip()) {                                    \
      FAIL() << (why) << " (skipping is not allowed: TIERSWAP_FAIL_ON_SKIP=1)"; \
    } else {                                                                    \
      GTEST_SKIP() << (why);                                                    \
    }                                                                           \
  } while (0)

#endif  // TIERSWAP_TESTS_SUPPORT_HARDWARE_H_
