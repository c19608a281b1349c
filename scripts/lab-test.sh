#!/usr/bin/env bash
# Runs the hardware tests (CTest labels `numa` and `pmem`) inside the project's lab
# (scripts/lab/run-in-lab), on its default topology (three-node-nvdimm: memory-only nodes 1 and 2
# with HMAT figures, and an NVDIMM), booted three times, once per NVDIMM mode:
#   fsdax   every numa and pmem test; the NVDIMM is ext4 mounted -o dax
#   devdax  the device-DAX tests (/dev/dax0.0)
#   kmem    the NUMA tests again, with the NVDIMM onlined as RAM: a memory-only node 3 in a lower
#           memory tier, with its own HMAT figures
# The guest runs the binaries already built on the host (the checkout is mounted at the same
# path), with TIERSWAP_FAIL_ON_SKIP=1: a test that skips for want of hardware fails instead, so
# each boot runs only the tests whose hardware it has.
#
#   scripts/lab-test.sh [BUILD_DIR] [--modes fsdax,devdax,kmem]   (default build/, all three)
#
# Environment: TIERSWAP_LAB_TIMEOUT  seconds before a guest is stopped (default 900).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab=$TIERSWAP_LAB
root=$TIERSWAP_ROOT

build=build
modes=fsdax,devdax,kmem
while (($#)); do
  case $1 in
    --modes) modes=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "lab-test: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
# A relative build dir means relative to where the script was called from.
build=$(ts_abs "$build")
if [[ ! -f $build/CTestTestfile.cmake ]]; then
  echo "lab-test: '$build' is not a configured build directory (no CTestTestfile.cmake);" \
    "build it on the host first: scripts/build.sh" >&2
  exit 2
fi

# One boot: the topology first, so the log shows what the tests ran on, then the tests.
# --no-tests=error: a build without these tests must not pass by running nothing.
boot() { # MODE CTEST_SELECTION GTEST_FILTER
  echo "== lab-test: NVDIMM as $1 =="
  "$lab" --nvdimm-mode "$1" --timeout "${TIERSWAP_LAB_TIMEOUT:-900}" -- \
    env TIERSWAP_FAIL_ON_SKIP=1 GTEST_FILTER="$3" sh -c '
      numactl --hardware
      exec ctest --test-dir "$1" $2 --no-tests=error --output-on-failure
    ' lab-test "$build" "$2"
}

# The lab shares its current directory with the guest read-write at the same path: start from
# the checkout, so that the tests can write beside their binaries.
cd "$root"
IFS=, read -ra mode_list <<<"$modes"
for m in "${mode_list[@]}"; do
  case $m in
    fsdax) boot fsdax "-L numa|pmem" "-*devdax*:*DeviceDax*:*kmem*" ;;
    devdax) boot devdax "-R ^(pmem_tier_test|tier_conformance_test)$" \
      "*devdax*:*DeviceDax*" ;;
    kmem) boot kmem "-R ^(numa_tier_test|tier_conformance_test|memory_attributes_test)$" \
      "*kmem*:NumaTest.*:LabAttributesTest.*" ;;
    *) echo "lab-test: unknown mode '$m' (fsdax, devdax, kmem)" >&2; exit 2 ;;
  esac
done
echo "== lab-test: all modes passed ($modes) =="
