#!/usr/bin/env bash
# The main job: install what is needed, build, replay the bundled trace over one tier of each
# kind (examples/all-tiers.toml), draw what happened, and print the placement statistics and
# the paths of the pictures.
#   scripts/demo.sh [extra `tierswap replay` arguments...]
# TIERSWAP_BUILD_DIR names the build directory (default: build); pictures go to its demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TIERSWAP_BUILD_DIR:-build}
scripts/setup.sh
scripts/build.sh "$build"

out=$build/demo
mkdir -p "$out"
echo
echo "== tierswap replay examples/traces/demo.trace.zst --config examples/all-tiers.toml =="
# The replay's report ends with the placement statistics; the timeline and the JSON report
# (with per-tier latency histograms) feed the pictures.
"$build/tierswap" replay examples/traces/demo.trace.zst --pages examples/pages/sample-pages.bin.zst \
  --config examples/all-tiers.toml --timeline "$out/timeline.csv" --json-file "$out/replay.json" \
  "$@"
"$build/tierswap" plot --cdf "$out/replay.json" -o "$out/load-latency.png" >/dev/null
"$build/tierswap" plot --occupancy "$out/timeline.csv" -o "$out/occupancy.png" >/dev/null
echo
echo "pictures (tierswap plot; docs/cli.md explains them):"
echo "  $out/load-latency.png   4 KiB load latency CDF of each tier"
echo "  $out/occupancy.png      tier occupancy, loads answered per tier and migrations over the replay"
