#!/usr/bin/env bash
# Builds pmem_tier_test on the host and runs it in the lab (scripts/lab/run-in-lab), whose guest
# mounts an fsdax NVDIMM at /mnt/pmem (TIERSWAP_LAB_PMEM_DIR). TIERSWAP_FAIL_ON_SKIP=1 makes the
# DAX test fail rather than skip if the mount is missing, so a green run means the DAX path
# really ran. For every hardware test, in every NVDIMM mode, use scripts/lab-test.sh.
#
#   scripts/lab-pmem-check.sh [BUILD_DIR] [-- GTEST_ARGS...]   (default BUILD_DIR: build-pmem)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root=$TIERSWAP_ROOT

build=build-pmem
if [[ $# -gt 0 && $1 != -- ]]; then build=$1; shift; fi
[[ ${1:-} = -- ]] && shift
build=$(ts_abs "$build")
lab=$TIERSWAP_LAB

# The lab's CPU has no AVX-512: the project's default -march (x86-64-v3) is what it runs.
ts_configure "$build" -DTIERSWAP_BUILD_BENCH=OFF
ninja -C "$build" -j2 pmem_tier_test

# The lab shares its current directory read-write at the same path.
cd "$root"
exec "$lab" --nvdimm-mode fsdax -- env TIERSWAP_FAIL_ON_SKIP=1 sh -c '
  echo "== $(grep " /mnt/pmem " /proc/mounts || echo "no /mnt/pmem mount") =="
  exec "$0" "$@"
' "$build/tests/pmem_tier_test" --gtest_filter=-*DeviceDax* "$@"
