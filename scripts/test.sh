#!/usr/bin/env bash
# All tests: install what is needed, build, run the whole suite, run the hardware tests in the
# NUMA lab (../shared/numa-lab: far NUMA nodes, HMAT, DAX pmem), then the concurrency tests again
# under ThreadSanitizer. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== build (RelWithDebInfo) =="
scripts/build.sh build
echo "== ctest: all tests =="
ctest --test-dir build --output-on-failure -j "$(nproc)"

echo "== NUMA lab: far-node, DAX pmem and all-tier tests in a guest with a real topology =="
scripts/lab-test.sh build

echo "== ThreadSanitizer: concurrency tests =="
# Only the binaries labelled `concurrency` are built: they hold every multi-threaded test. The
# list comes from CTest itself (each test is named after its binary), so it cannot drift.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIERSWAP_SANITIZE=thread \
  -DTIERSWAP_BUILD_BENCH=OFF >/dev/null
mapfile -t tsan_targets < <(ctest --test-dir build-tsan -N -L concurrency |
                              sed -n 's/^ *Test *#[0-9]*: *//p')
echo "building ${#tsan_targets[@]} concurrency test binaries: ${tsan_targets[*]}"
cmake --build build-tsan -j "$(nproc)" --target "${tsan_targets[@]}"
# TIERSWAP_MODEL_OPS keeps the instrumented model test within a few minutes.
TIERSWAP_MODEL_OPS=300000 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ctest --test-dir build-tsan --output-on-failure -L concurrency
echo "== all test stages passed =="
