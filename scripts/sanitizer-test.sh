#!/usr/bin/env bash
# Sanitizer stage: one clang build with AddressSanitizer + UndefinedBehaviorSanitizer and
# -Wthread-safety -Werror (the lock annotations of tiers/mutex.h are checked at compile time),
# then the WHOLE CTest suite under it, but for the lab's own tests (label `lab`: they boot guests
# and build nothing of this project's). Hardware-labelled tests skip as they do everywhere but
# in the lab. docs/reliability.md ("Sanitizers and lock annotations") explains the choices.
#
#   scripts/sanitizer-test.sh [BUILD_DIR] [extra cmake arguments...]
#
# BUILD_DIR defaults to build-asan. Extra arguments go to cmake's configure step, e.g.
#   scripts/sanitizer-test.sh build-asan -DTIERSWAP_FAULT_INJECTION=ON -DTIERSWAP_BUILD_FUZZERS=ON
# Environment: CTEST_ARGS (extra ctest arguments, e.g. "-R backend"); ASAN_OPTIONS and
# UBSAN_OPTIONS replace the defaults below. The suite runs at its full op counts (the model test
# takes ~20 s instrumented); TIERSWAP_MODEL_OPS, if set, still reaches it.
# Prints the build and test times; exits non-zero on a compile error or warning, or on any test
# failure or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
shift || true

cc=${CC:-clang-14}
cxx=${CXX:-clang++-14}
for tool in "$cc" "$cxx"; do
  command -v "$tool" >/dev/null ||
    { echo "sanitizer-test: $tool not found (Debian: clang-14)" >&2; exit 1; }
done
# A build directory configured with another compiler cannot be switched in place.
if [[ -f "$dir/CMakeCache.txt" ]]; then
  configured=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")
  if [[ "$(readlink -f "$configured")" != "$(readlink -f "$(command -v "$cxx")")" ]]; then
    echo "sanitizer-test: $dir was configured with $configured, not $cxx; use another" \
      "directory or remove it" >&2
    exit 1
  fi
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

echo "== sanitizer build: $cxx, address+undefined, -Wthread-safety -Werror, in $dir =="
start=$(date +%s)
CC=$cc CXX=$cxx cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTIERSWAP_SANITIZE=address,undefined -DTIERSWAP_BUILD_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS=-Werror" "-DCMAKE_C_FLAGS=-Werror" \
  "${launcher[@]}" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
built=$(date +%s)
echo "sanitizer build: $((built - start)) s on $(nproc) cores"

# Readable stacks: the symbolizer of the same LLVM as the compiler.
symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
if [[ -n "$symbolizer" ]]; then
  export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
else
  echo "sanitizer-test: no llvm-symbolizer: reports will show addresses only (Debian: llvm-14)"
fi
# abort_on_error: a report kills the test (a crash CTest cannot mistake for a pass).
# detect_stack_use_after_return: stack frames of returned functions stay poisoned, so a pointer
# to a dead local is caught; it costs some memory and time, affordable for this suite.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "== ctest under ASan+UBSan: the whole suite =="
# shellcheck disable=SC2086  # CTEST_ARGS is a list of words
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -LE lab ${CTEST_ARGS:-}
done_s=$(date +%s)
echo "sanitizer tests: $((done_s - built)) s; stage total: $((done_s - start)) s"
