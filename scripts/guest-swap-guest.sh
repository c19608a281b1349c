#!/bin/sh
# The guest half of scripts/guest-swap-test.sh: runs inside the lab's guest (as root, in the
# host's userland) and swaps to each target in turn, with the same workload and memory limit.
#
#   guest-swap-guest.sh --workload PATH --mib N --limit-mib L --passes P TARGET...
#
# TARGET is NAME=SERIAL for a virtio-blk disk (found by the serial QEMU gave it; the host side
# attached one per target) or NAME=zram for a zram disk made here. For each target: mkswap and
# swapon the disk (the only swap), a cgroup with memory.max = L MiB, the workload inside it,
# /proc/vmstat's pswpin/pswpout before and after, swapoff. Prints the workload's lines and one
# line per target for the host to parse:
#   GUEST target=NAME device=DEV rc=RC pswpin=N pswpout=N oom_kills=N wall_s=S setup_s=S
#         teardown_s=S [zram_algorithm=A zram_mem_used_max=BYTES]
# Exits 0 when every target's workload exited 0; a target that cannot be set up counts as failed
# (rc=setup) and the next one still runs.
set -u

workload="" mib="" limit="" passes=3
while [ $# -gt 0 ]; do
  case $1 in
    --workload) workload=$2; shift 2 ;;
    --mib) mib=$2; shift 2 ;;
    --limit-mib) limit=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "guest-swap-guest: unknown option '$1'" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ -z "$workload" ] || [ -z "$mib" ] || [ -z "$limit" ] || [ $# -eq 0 ]; then
  echo "usage: guest-swap-guest.sh --workload PATH --mib N --limit-mib L [--passes P] TARGET..." >&2
  exit 2
fi

cg=/sys/fs/cgroup
vmstat() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }

# The disk whose serial QEMU set to $1.
find_disk() {
  for d in /sys/block/vd*; do
    [ -e "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ] && { echo "/dev/${d##*/}"; return 0; }
  done
  return 1
}

# Swap must be ours alone, or the counts would mix.
swapoff -a 2>/dev/null
echo "+memory" >"$cg/cgroup.subtree_control" || { echo "guest-swap-guest: no memory cgroup" >&2; exit 2; }
echo "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB;" \
  "workload $mib MiB under memory.max $limit MiB, $passes passes"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

failures=0
for target in "$@"; do
  ts=$(now)
  name=${target%%=*}
  serial=${target#*=}
  echo "== target $name =="
  extra=""
  if [ "$serial" = zram ]; then
    dev=/dev/zram0
    if ! { echo 1 >/sys/block/zram0/reset &&
           echo "$((mib * 2))M" >/sys/block/zram0/disksize; }; then
      echo "GUEST target=$name device=$dev rc=setup"
      failures=$((failures + 1))
      continue
    fi
    extra=" zram_algorithm=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/block/zram0/comp_algorithm)"
  elif ! dev=$(find_disk "$serial"); then
    echo "guest-swap-guest: no virtio disk with serial '$serial' ($(ls /sys/block | tr '\n' ' '))" >&2
    echo "GUEST target=$name device=none rc=setup"
    failures=$((failures + 1))
    continue
  fi
  if ! mkswap -q "$dev" >/dev/null || ! swapon "$dev"; then
    echo "GUEST target=$name device=$dev rc=setup"
    failures=$((failures + 1))
    continue
  fi
  group=$cg/guest-swap-$name
  mkdir -p "$group"
  echo "${limit}M" >"$group/memory.max"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  setup_s=$(since "$ts")
  in0=$(vmstat pswpin) out0=$(vmstat pswpout)
  t0=$(now)
  # The workload joins the cgroup before exec, so every page it touches is charged there.
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$group" \
    "$workload" --mib "$mib" --passes "$passes"
  rc=$?
  wall_s=$(since "$t0")
  in1=$(vmstat pswpin) out1=$(vmstat pswpout)
  t1=$(now)
  ooms=$(awk '$1 == "oom_kill" { print $2 }' "$group/memory.events")
  if [ "$serial" = zram ]; then
    # mm_stat: orig_data_size compr_data_size mem_used_total mem_limit mem_used_max ...
    extra="$extra zram_mem_used_max=$(awk '{ print $5 }' /sys/block/zram0/mm_stat)"
  fi
  swapoff "$dev"
  rmdir "$group"
  [ "$serial" = zram ] && echo 1 >/sys/block/zram0/reset
  echo "GUEST target=$name device=$dev rc=$rc pswpin=$((in1 - in0)) pswpout=$((out1 - out0))" \
    "oom_kills=${ooms:-0} wall_s=$wall_s setup_s=$setup_s teardown_s=$(since "$t1")$extra"
  [ "$rc" -eq 0 ] || failures=$((failures + 1))
done
[ "$failures" -eq 0 ]
