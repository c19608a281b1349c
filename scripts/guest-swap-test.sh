#!/usr/bin/env bash
# The guest swap test (docs/guest-swap.md): a real Linux guest (the lab, scripts/lab) swaps to
# tierswap through nbdkit-tierswap-plugin.so, and, in the same boot with the same workload and
# memory limit, to its peers:
#   tierswap      virtio-blk -> QEMU's NBD client -> nbdkit + this plugin -> tierswap
#                 (examples/guest-swap.toml: DRAM, then lz4-compressed memory)
#   memory        the same transport with nbdkit's own memory plugin (plain RAM) behind it
#   disk          a raw sparse image file attached directly (O_DIRECT: no host page cache)
#   zram          zram inside the guest (no host involvement)
#   tierswap-low  the plugin with a tierswap far smaller than the swapped volume
#                 (examples/guest-swap-low.toml): most pages go to the backing file
# Each target: the guest's workload (tests/guest/swap_workload.c) writes MIB MiB in a cgroup
# with memory.max LIMIT MiB, checks every byte and a checksum at the end. Prints a table of
# time, pswpout and pswpin per target (with ratios to `memory`), tierswap's statistics, and
# the acceptance checks; exits non-zero if any check fails.
#
#   scripts/guest-swap-test.sh [--build DIR] [--targets LIST] [--mib N] [--limit-mib N]
#                              [--passes N] [--timeout S] [--config FILE] [--low-config FILE]
#                              [--json FILE]
#
# Defaults: build/, all five targets, 192 MiB under 48 MiB, 3 passes, a 290 s guest timeout,
# examples/guest-swap.toml and examples/guest-swap-low.toml. --json writes every figure and
# check to FILE.
# Needs the plugin and the workload built (cmake targets nbdkit_tierswap_plugin and
# guest_swap_workload), nbdkit, and QEMU for the lab (scripts/setup.sh installs both).
#
# Everything it starts is stopped on exit, Ctrl-C or timeout (nbdkit with --exit-with-parent,
# the lab with a parent-death signal, both also killed by PID), and its private temporary
# directory is removed; after a SIGKILL, the next run removes it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$TIERSWAP_ROOT/scripts
root=$TIERSWAP_ROOT
start_time=$(date +%s.%N)

build=build
targets=tierswap,memory,disk,zram,tierswap-low
mib=192
limit=48
passes=3
timeout=290
json_out=""
config=$root/examples/guest-swap.toml
low_config=$root/examples/guest-swap-low.toml
usage() {
  sed -n '/^#   scripts/,/^# Defaults/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --limit-mib) limit=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --low-config) low_config=$2; shift 2 ;;
    -h | --help) usage ;;
    *) echo "guest-swap-test: unknown argument '$1'" >&2; usage ;;
  esac
done
build=$(ts_abs "$build")
config=$(ts_abs "$config")
low_config=$(ts_abs "$low_config")

die() { echo "guest-swap-test: $*" >&2; exit 2; }
for n in "$mib" "$limit" "$passes" "$timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive integer"
done
((mib >= 4 * limit)) || die "the workload ($mib MiB) must be at least 4x its limit ($limit MiB)"
plugin=$build/frontend/nbdkit/nbdkit-tierswap-plugin.so
workload=$build/frontend/nbdkit/guest_swap_workload
[[ -f $plugin ]] || die "no plugin at $plugin: build the nbdkit_tierswap_plugin target first"
[[ -x $workload ]] || die "no workload at $workload: build the guest_swap_workload target first"
command -v nbdkit >/dev/null || die "nbdkit is not installed (scripts/setup.sh)"
lab=$TIERSWAP_LAB

IFS=, read -ra target_list <<<"$targets"
for t in "${target_list[@]}"; do
  case $t in tierswap | memory | disk | zram | tierswap-low) ;;
    *) die "unknown target '$t' (tierswap, memory, disk, zram, tierswap-low)" ;;
  esac
done

# ---- cleanup: whatever happens, nothing of ours stays behind -----------------------------------
# A run killed with SIGKILL cannot clean up (its processes die with it: parent-death signals);
# its directory is removed here, once its owner is gone.
for old in "${TMPDIR:-/tmp}"/guest-swap-test.*; do
  [[ -f $old/owner.pid ]] || continue
  kill -0 "$(cat "$old/owner.pid")" 2>/dev/null || rm -rf "$old"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/guest-swap-test.XXXXXX")
echo $$ >"$tmp/owner.pid"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "guest-swap-test: interrupted" >&2; exit 130' INT TERM HUP

# Swap devices: twice the workload, so the whole working set fits.
dev_mib=$((mib * 2))
qemu_args=()
declare -A nbdkit_pid
start_nbdkit() {  # NAME PLUGIN ARGS...: serves $tmp/NAME.sock; ready once the pidfile exists
  local name=$1
  shift
  nbdkit -f --exit-with-parent -U "$tmp/$name.sock" -P "$tmp/$name.pid" "$@" \
    2>"$tmp/$name.nbdkit.log" &
  pids+=($!)
  nbdkit_pid[$name]=$!
  for _ in $(seq 200); do
    [[ -s $tmp/$name.pid ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || die "nbdkit for '$name' failed: $(cat "$tmp/$name.nbdkit.log")"
    sleep 0.05
  done
  [[ -s $tmp/$name.pid ]] || die "nbdkit for '$name' did not start within 10 s"
  qemu_args+=("--qemu-arg=-blockdev"
    "--qemu-arg=driver=nbd,node-name=$name,server.type=unix,server.path=$tmp/$name.sock"
    "--qemu-arg=-device" "--qemu-arg=virtio-blk-pci,drive=$name,serial=$name")
}

guest_targets=()
for t in "${target_list[@]}"; do
  case $t in
    tierswap)
      start_nbdkit tierswap "$plugin" size=${dev_mib}M config="$config" \
        backing="$tmp/tierswap.backing" stats="$tmp/tierswap.stats.json"
      guest_targets+=(tierswap=tierswap) ;;
    tierswap-low)
      start_nbdkit tierswap-low "$plugin" size=${dev_mib}M \
        config="$low_config" backing="$tmp/tierswap-low.backing" \
        stats="$tmp/tierswap-low.stats.json"
      guest_targets+=(tierswap-low=tierswap-low) ;;
    memory)
      start_nbdkit memory memory ${dev_mib}M
      guest_targets+=(memory=memory) ;;
    disk)
      truncate -s ${dev_mib}M "$tmp/disk.img"
      qemu_args+=("--qemu-arg=-blockdev"
        "--qemu-arg=driver=raw,node-name=disk,file.driver=file,file.filename=$tmp/disk.img,file.cache.direct=on,file.aio=threads"
        "--qemu-arg=-device" "--qemu-arg=virtio-blk-pci,drive=disk,serial=disk")
      guest_targets+=(disk=disk) ;;
    zram)
      guest_targets+=(zram=zram) ;;
  esac
done

echo "guest-swap-test: targets ${targets}; workload $mib MiB under $limit MiB, $passes passes"
# The lab shares its working directory with the guest; the guest only reads from it.
cd "$root"
: >"$tmp/guest.log"  # exists before tail opens it
# The lab's default machine with 512 MiB per node and no NVDIMM: small enough that the guest
# kernel's own reclaim matters, as on a real host.
setpriv --pdeathsig TERM -- "$lab" --nvdimm-mode none --node-memory 512 --timeout "$timeout" \
  "${qemu_args[@]}" -- \
  "$here/guest-swap-guest.sh" --workload "$workload" --mib "$mib" --limit-mib "$limit" \
  --passes "$passes" "${guest_targets[@]}" >"$tmp/guest.log" 2>&1 &
lab_pid=$!
pids+=("$lab_pid")
# Live progress; tail exits once the lab has, after printing the last lines.
tail -n +1 -f --pid="$lab_pid" "$tmp/guest.log" &
tail_pid=$!
pids+=("$tail_pid")
lab_rc=0
wait "$lab_pid" || lab_rc=$?
wait "$tail_pid" || true
echo "guest-swap-test: guest finished with status $lab_rc"

# What the backing files hold now, then stop the servers (they write their statistics).
report_args=(--guest-log "$tmp/guest.log" --lab-status "$lab_rc" --mib "$mib" --limit-mib "$limit"
  --targets "$targets")
# Pages of the device's data, found with SEEK_DATA/SEEK_HOLE from the end of the file's 4 KiB
# header on: the allocated block count (stat's %b) also counts the file system's extent-tree
# blocks of a fragmented sparse file, one more page now and then, which is not a page the plugin
# wrote.
data_pages() {
  python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
end, off, data = os.fstat(fd).st_size, 4096, 0
while off < end:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:  # ENXIO: no data after off
        break
    off = os.lseek(fd, start, os.SEEK_HOLE)
    data += off - start
print(data // 4096)' "$1"
}
for t in tierswap tierswap-low; do
  [[ -f $tmp/$t.backing ]] || continue
  report_args+=(--backing "$t=$(data_pages "$tmp/$t.backing")")
done
# Host CPU time of each nbdkit (user + system, plugin and tierswap's threads included).
ticks=$(getconf CLK_TCK)
for name in "${!nbdkit_pid[@]}"; do
  cpu=$(awk -v t="$ticks" '{ printf "%.1f", ($14 + $15) / t }' "/proc/${nbdkit_pid[$name]}/stat" \
    2>/dev/null) && report_args+=(--host-cpu "$name=$cpu")
done
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
pids=()
for t in tierswap tierswap-low; do
  [[ -f $tmp/$t.stats.json ]] && report_args+=(--stats "$t=$tmp/$t.stats.json")
done
[[ -n $json_out ]] && report_args+=(--json "$json_out")
report_rc=0
python3 "$here/guest-swap-report.py" "${report_args[@]}" || report_rc=$?
echo "guest-swap-test: whole run $(awk -v a="$start_time" -v b="$(date +%s.%N)" \
  'BEGIN { printf "%.0f", b - a }') s"
exit "$report_rc"
