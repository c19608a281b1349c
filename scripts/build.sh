#!/usr/bin/env bash
# Configures and builds tierswap into a build directory (default: build/).
#   scripts/build.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=$(ts_abs "${1:-build}")
shift || true
ts_configure "$dir" "$@"
cmake --build "$dir" -j "$(nproc)"
