#!/bin/bash
# Stage 2 of a lab guest (scripts/lab/run-in-lab): runs as root in the host's userland (the guest
# chrooted into it), so ndctl, daxctl and mkfs are the host's. It sets the NVDIMM up for the
# topology's mode and runs the command with the host's environment, stdin /dev/null, and
# stdout/stderr on the virtio-serial ports that reach the host. Its status goes to the control
# share.
#
# Mode "format" (a one-time boot whose image the host keeps as a template): turns the blank,
# label-less NVDIMM, which Linux sees as a raw namespace that cannot do DAX, into an fsdax or
# devdax namespace (the mode lives in an info block on the device), with ext4 on fsdax.
set -u
ctl=/run/tierswap-lab
# shellcheck source=/dev/null
source "$ctl/config" # mode, nvdimm_mode, pmem_mount, quiet
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec 3>/dev/lab-stdout 4>/dev/lab-stderr

mark() {
  local up _
  read -r up _ </proc/uptime
  echo "tierswap-lab-stage2: [$up] $*" >/dev/console
}
note() { ((quiet)) || printf 'lab: %s\n' "$*" >&4; }
fail() {
  printf 'lab: guest setup failed: %s\n' "$*" >&4
  echo 125 >"$ctl/status"
  exit 125
}
mark "stage 2"

reconfigure_namespace() { # MODE
  [[ -e /sys/bus/nd/devices/namespace0.0 ]] || fail "no NVDIMM namespace (nfit or nd_pmem missing?)"
  ndctl create-namespace --force --reconfig=namespace0.0 --mode="$1" >/dev/null \
    2>"$ctl/ndctl.log" || fail "ndctl create-namespace --mode=$1: $(<"$ctl/ndctl.log")"
}

if [[ $mode == format ]]; then
  case $nvdimm_mode in
    fsdax)
      reconfigure_namespace fsdax
      # -b 4096: DAX needs blocks of the page size (mkfs picks 1 KiB for small file systems).
      mkfs.ext4 -q -F -b 4096 -L pmem /dev/pmem0 </dev/null >&4 2>&4 || fail "mkfs.ext4 /dev/pmem0"
      ;;
    devdax | kmem) reconfigure_namespace devdax ;;
  esac
  sync
  mark "formatted"
  echo 0 >"$ctl/status"
  exit 0
fi

case $nvdimm_mode in
  fsdax)
    [[ -b /dev/pmem0 ]] || fail "no /dev/pmem0 (the NVDIMM image is not fsdax)"
    mkdir -p "$pmem_mount"
    mount -t ext4 -o dax /dev/pmem0 "$pmem_mount" || fail "mount -o dax /dev/pmem0 $pmem_mount"
    chmod 1777 "$pmem_mount"
    note "pmem: /dev/pmem0 (fsdax, $(($(</sys/class/block/pmem0/size) / 2048)) MiB) mounted with -o dax at $pmem_mount"
    ;;
  devdax)
    [[ -c /dev/dax0.0 ]] || fail "no /dev/dax0.0 (the NVDIMM image is not devdax)"
    note "pmem: /dev/dax0.0 (devdax, $(($(</sys/bus/dax/devices/dax0.0/size) >> 20)) MiB)"
    ;;
  kmem)
    [[ -e /sys/bus/dax/devices/dax0.0 ]] || fail "no dax0.0 device (the NVDIMM image is not devdax)"
    daxctl reconfigure-device --mode=system-ram dax0.0 >/dev/null 2>"$ctl/daxctl.log" ||
      fail "daxctl reconfigure-device --mode=system-ram: $(<"$ctl/daxctl.log")"
    node=$(</sys/bus/dax/devices/dax0.0/target_node)
    note "pmem: the NVDIMM is system RAM of NUMA node $node (kmem)"
    ;;
esac

mark "running the command"
cd -- "$(<"$ctl/cwd")" || fail "cannot enter $(<"$ctl/cwd")"
mapfile -d '' -t argv <"$ctl/argv"
mapfile -d '' -t envv <"$ctl/env"
env -i "${envv[@]}" "${argv[@]}" </dev/null >&3 2>&4
rc=$?
mark "command exited with status $rc"
echo "$rc" >"$ctl/status"
sync
exit "$rc"
