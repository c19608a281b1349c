#!/usr/bin/env bash
# All tests, in the order that finds a problem soonest. Exits non-zero on the first failing stage.
#   1. build (RelWithDebInfo, gcc) and the whole CTest suite, but for the tests that boot guests;
#   2. the lab (scripts/lab, docs/emulation.md): its own checks (every exit path leaves nothing
#      behind; each shipped topology is what its guest sees), then the hardware tests in its guest
#      (far NUMA nodes with HMAT figures; the NVDIMM as fsdax, devdax and kmem);
#   3. a real Linux guest swapping to tierswap through the nbdkit plugin (docs/guest-swap.md),
#      at full capacity and with a tierswap far smaller than what it swaps;
#   4. one clang build with AddressSanitizer + UndefinedBehaviorSanitizer, -Wthread-safety
#      -Werror, the fault-injection seam and the libFuzzer targets: the whole suite again (with
#      the fault-injection walk), then each fuzzer for TIERSWAP_FUZZ_SECONDS (default 60);
#   5. the concurrency tests under ThreadSanitizer.
# docs/reliability.md explains stages 4 and 5; scripts/fuzz.sh and scripts/guest-swap-test.sh run
# their stage alone, longer or in full (the guest test's four-way comparison).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TIERSWAP_ROOT"
scripts/setup.sh
start=$SECONDS
stage() { echo "== [$((SECONDS - start)) s] $* =="; }

stage "build (RelWithDebInfo)"
scripts/build.sh build
stage "ctest: all tests but the lab's"
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE lab

stage "lab: exit paths, and each topology as its guest sees it (scripts/lab/selftest)"
# -V: every check of the self-test and the exit-path test shows in the log, not only failures.
ctest --test-dir build --output-on-failure -L lab -V
stage "lab: far-node and pmem tests in a guest, NVDIMM as fsdax, devdax and kmem"
scripts/lab-test.sh build

stage "guest swap: a Linux guest swaps to tierswap through nbdkit (full, and capacity far too small)"
scripts/guest-swap-test.sh --build build --targets tierswap,tierswap-low

stage "sanitizers: clang ASan+UBSan, -Wthread-safety -Werror, fault injection, fuzzers; whole suite"
scripts/sanitizer-test.sh build-asan -DTIERSWAP_FAULT_INJECTION=ON -DTIERSWAP_BUILD_FUZZERS=ON
stage "fuzzing: each target for ${TIERSWAP_FUZZ_SECONDS:-60} s from its seed corpus"
scripts/fuzz.sh --build-dir build-asan --seconds "${TIERSWAP_FUZZ_SECONDS:-60}"

stage "ThreadSanitizer: concurrency tests"
# Only the binaries labelled `concurrency` are built: they hold every multi-threaded test. The
# list comes from CTest itself (each test is named after its binary), so it cannot drift.
ts_configure build-tsan -DTIERSWAP_SANITIZE=thread -DTIERSWAP_BUILD_BENCH=OFF
mapfile -t tsan_targets < <(ctest --test-dir build-tsan -N -L concurrency |
                              sed -n 's/^ *Test *#[0-9]*: *//p')
echo "building ${#tsan_targets[@]} concurrency test binaries: ${tsan_targets[*]}"
cmake --build build-tsan -j "$(nproc)" --target "${tsan_targets[@]}"
# TIERSWAP_MODEL_OPS keeps the instrumented model test within a few minutes.
TIERSWAP_MODEL_OPS=300000 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir build-tsan --output-on-failure -L concurrency
stage "all test stages passed"
