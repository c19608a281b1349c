# scripts/lib.sh: what tierswap's scripts share. Source it; it defines:
#   TIERSWAP_ROOT          the checkout (the folder above scripts/)
#   TIERSWAP_LAB           the lab (scripts/lab/run-in-lab, docs/emulation.md)
#   ts_die PROG MESSAGE    "PROG: MESSAGE" on stderr, exit 2
#   ts_abs PATH            PATH made absolute against the caller's working directory
#   ts_configure DIR ARGS  configure DIR with CMake and Ninja, once (ccache when present); ARGS
#                          go to cmake (CC/CXX from the environment choose the compiler)
# Scripts that source it keep `set -euo pipefail`; nothing here changes directory.
TIERSWAP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TIERSWAP_LAB=$TIERSWAP_ROOT/scripts/lab/run-in-lab

ts_die() {
  echo "$1: $2" >&2
  exit 2
}

ts_abs() {
  if [[ $1 = /* ]]; then echo "$1"; else echo "$PWD/$1"; fi
}

ts_configure() {
  local dir=$1
  shift
  [[ -f $dir/build.ninja ]] && return 0
  local launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$TIERSWAP_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" "$@" >/dev/null
}
