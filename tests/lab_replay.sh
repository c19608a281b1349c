#!/bin/sh
# Replays the demo trace over examples/lab-tiers.toml (far NUMA nodes 1 and 2, DAX pmem).
# Outside the lab (scripts/lab-test.sh) it skips (exit 77, CTest's SKIP_RETURN_CODE), unless
# TIERSWAP_FAIL_ON_SKIP=1, which the lab run sets: then a missing lab is a failure.
#   lab_replay.sh TIERSWAP_BINARY SOURCE_DIR
set -eu
bin=$1
src=$2
if [ -z "${TIERSWAP_LAB_PMEM_DIR:-}" ] || [ ! -d /sys/devices/system/node/node2 ]; then
  echo "lab_replay: needs NUMA nodes 1-2 and a DAX mount (TIERSWAP_LAB_PMEM_DIR); runs in the lab"
  [ "${TIERSWAP_FAIL_ON_SKIP:-0}" = 1 ] && exit 1
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" replay "$src/examples/traces/demo.trace.zst" \
  --pages "$src/examples/pages/sample-pages.bin.zst" --config "$src/examples/lab-tiers.toml" \
  --json >"$out"
grep -o '"mismatches": *[0-9]*' "$out" | head -1
# The far nodes' firmware (HMAT) figures appear beside the measured ones: node 1 (the "cxl"
# tier) and node 2 (the compressed tier's backing), as the lab's topology states them
# (TIERSWAP_LAB_HMAT: "node=read_latency,write_latency,read_bandwidth,write_bandwidth ...").
hmat_read_latency() {
  for e in ${TIERSWAP_LAB_HMAT:-}; do
    case $e in "$1="*) e=${e#*=}; echo "${e%%,*}"; return ;; esac
  done
  echo "lab_replay: TIERSWAP_LAB_HMAT states nothing for node $1" >&2
  exit 1
}
lat1=$(hmat_read_latency 1)
lat2=$(hmat_read_latency 2)
for want in "\"hmat_read_latency_ns\":$lat1,\"hmat_read_latency_ns_source\":\"hmat\"" \
            "\"hmat_read_latency_ns\":$lat2,\"hmat_read_latency_ns_source\":\"hmat\"" \
            '"probe_load_p50_ns_source":"measured"'; do
  if ! grep -q "$want" "$out"; then
    echo "lab_replay: the statistics lack $want" >&2
    exit 1
  fi
  echo "found $want"
done
# The replay's own exit status already failed the script (set -e) on any mismatch.
grep -q '"mismatches": *0,' "$out"
