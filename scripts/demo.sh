#!/usr/bin/env bash
# The main job: install what is needed, build, replay the bundled trace through the default
# configuration and print the placement statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
echo
echo "== tierswap replay examples/traces/demo.trace.zst (default configuration) =="
build/tierswap replay examples/traces/demo.trace.zst --pages examples/pages/sample-pages.bin.zst "$@"
