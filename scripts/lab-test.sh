#!/usr/bin/env bash
# Runs the hardware tests (CTest labels `numa` and `pmem`) inside the NUMA lab: a QEMU guest with
# memory-only NUMA nodes 1 and 2, HMAT values and an fsdax pmem mount. The guest runs the
# binaries already built on the host (the checkout is mounted at the same path), with
# TIERSWAP_FAIL_ON_SKIP=1 so that a test which skips for want of hardware fails instead.
#
#   scripts/lab-test.sh [BUILD_DIR]          (default: build/; build it first: scripts/build.sh)
#
# Environment: NUMA_LAB      the lab's run-in-vm (or its directory); default
#                            ../shared/numa-lab/run-in-vm next to the checkout.
#              TIERSWAP_LAB_OPTIONAL=1   exit 0 with a notice when the lab is missing.
#              TIERSWAP_LAB_TIMEOUT      seconds before the guest is killed (default 900).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

build=${1:-build}
# A relative build dir means relative to where the script was called from.
[[ $build = /* ]] || build=$PWD/$build

lab=${NUMA_LAB:-$here/../../shared/numa-lab/run-in-vm}
[[ -d $lab ]] && lab=$lab/run-in-vm
if [[ ! -x $lab ]]; then
  echo "lab-test: the NUMA lab is not available: '$lab' does not exist or is not executable." >&2
  echo "lab-test: set NUMA_LAB to the lab's run-in-vm, or TIERSWAP_LAB_OPTIONAL=1 to skip." >&2
  if [[ ${TIERSWAP_LAB_OPTIONAL:-0} = 1 ]]; then
    echo "lab-test: TIERSWAP_LAB_OPTIONAL=1: not running the numa/pmem tests." >&2
    exit 0
  fi
  exit 2
fi
if [[ ! -f $build/CTestTestfile.cmake ]]; then
  echo "lab-test: '$build' is not a configured build directory (no CTestTestfile.cmake);" \
    "build it on the host first: scripts/build.sh ${1:-build}" >&2
  exit 2
fi

# run-in-vm shares its current directory read-write at the same path; the rest of the host is
# visible read-only. Start from the checkout so the tests can write beside their binaries.
cd "$root"
# One boot: the topology first, so the log shows what the tests ran on, then the tests.
# --no-tests=error: a build without these labels must not pass by running nothing.
exec "$lab" --timeout "${TIERSWAP_LAB_TIMEOUT:-900}" -- \
  env TIERSWAP_FAIL_ON_SKIP=1 sh -c '
    echo "== numactl --hardware (NUMA lab) =="
    numactl --hardware
    echo "== ctest -L numa|pmem in $1 =="
    exec ctest --test-dir "$1" -L "numa|pmem" --no-tests=error --output-on-failure
  ' lab-test "$build"
