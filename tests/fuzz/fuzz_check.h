// Shared pieces of the libFuzzer targets (tests/fuzz/*_fuzzer.cc): the check that turns a broken
// contract into a crash libFuzzer records, and the byte reader that decodes an input.
//
// A fuzz target must not return normally from a wrong answer: libFuzzer only keeps inputs that
// crash, so FUZZ_CHECK prints what was expected and what happened, then aborts (libFuzzer saves
// the input as crash-<sha1>). With TIERSWAP_FUZZ_VERBOSE=1 in the environment the targets also
// print every decoded operation, which is how a saved crash is read (docs/reliability.md).
//
// Thread-safety: a fuzz target runs one input at a time on one thread; so does all of this.
#ifndef TIERSWAP_TESTS_FUZZ_FUZZ_CHECK_H_
#define TIERSWAP_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tierswap::fuzz {

// Whether to print each decoded operation (read once per process).
inline bool Verbose() {
  static const bool verbose = [] {
    const char* v = std::getenv("TIERSWAP_FUZZ_VERBOSE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return verbose;
}

[[noreturn]] inline void Fail(const char* file, int line, const char* condition,
                              const std::string& what) {
  std::fprintf(stderr, "\n%s:%d: contract broken: %s\n  check: %s\n", file, line, what.c_str(),
               condition);
  std::fflush(stderr);
  std::abort();
}

// FUZZ_CHECK(condition, what): `what` is a std::string expression, built only on failure.
#define FUZZ_CHECK(condition, what)                                   \
  do {                                                                \
    if (!(condition)) [[unlikely]] {                                  \
      ::tierswap::fuzz::Fail(__FILE__, __LINE__, #condition, (what)); \
    }                                                                 \
  } while (0)

// Reads an input front to back, one byte at a time; past the end every byte reads as 0, so a
// truncated operation still decodes (to its smallest form) rather than being skipped.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }
  size_t position() const { return pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace tierswap::fuzz

#endif  // TIERSWAP_TESTS_FUZZ_FUZZ_CHECK_H_
