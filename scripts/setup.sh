#!/usr/bin/env bash
# Installs every Debian package tierswap's build, tests and demo need. Idempotent: packages
# already installed are left alone, and `apt-get update` runs only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libnuma-dev libhwloc-dev libpmem2-dev liblz4-dev libzstd-dev zstd
  libtomlplusplus-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus  # prometheus: promtool checks /metrics
  libasan8 libubsan1 libtsan2
  python3 numactl
  clang-14 libclang-rt-14-dev llvm-14  # sanitizer/fuzzer build, -Wthread-safety, llvm-symbolizer
  libxxhash-dev  # per-page checksums
  nbdkit nbdkit-plugin-dev libnbd-bin qemu-utils  # the nbdkit plugin and its tests (nbdcopy, qemu-io)
  gnuplot-nox  # tierswap plot draws its PNGs with it
  # The lab (scripts/lab/run-in-lab): QEMU, and the guest's NVDIMM tools, which run from the host's
  # file system. The guest kernel and busybox-static are fetched by the lab itself with
  # `apt-get download` and unpacked into its cache, not installed: a kernel package would change
  # the host's boot menu, and busybox-static replaces busybox.
  qemu-system-x86 ndctl daxctl e2fsprogs
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
