#!/usr/bin/env bash
# End-to-end test of nbdkit-tierswap-plugin.so (CTest: nbdkit_plugin_test): the plugin inside a
# real nbdkit on a unix socket, driven by QEMU's own NBD client (qemu-io) and by nbdcopy.
# After every step the whole device is copied out and compared byte for byte with a model image
# that received the same writes; trims and write-zeroes are applied to the model as the plugin
# promises (whole pages trimmed read as zeros, partial pages keep their bytes).
#
#   tests/nbdkit/plugin_test.sh PLUGIN.so BUILD_DIR
#
# BUILD_DIR is used for the install check (cmake --install into a private prefix). Prints one
# line per check and "N passed, N failed"; exits non-zero on any failure. Everything it starts
# runs with --exit-with-parent, and its temporary directory is removed on any exit.
set -uo pipefail

plugin=${1:?usage: plugin_test.sh PLUGIN.so BUILD_DIR}
build=${2:?usage: plugin_test.sh PLUGIN.so BUILD_DIR}
for tool in nbdkit qemu-io nbdcopy python3; do
  command -v "$tool" >/dev/null || { echo "plugin_test: '$tool' is not installed" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tierswap-plugin-test.XXXXXX")
server_pid=""
holder_pid=""
cleanup() {
  if [[ -n $holder_pid ]]; then kill "$holder_pid" 2>/dev/null; fi
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
current=""
begin() { current=$1; }
pass() { echo "PASS $current"; passed=$((passed + 1)); }
fail() { echo "FAIL $current: $*"; failed=$((failed + 1)); }

readonly PAGE=4096
uri="nbd+unix:///?socket=$tmp/sock"

# start_server ARGS...: the plugin in the foreground (a child of this shell), ready when its
# pidfile appears.
start_server() {
  rm -f "$tmp/pid" "$tmp/sock"
  nbdkit -f --exit-with-parent -U "$tmp/sock" -P "$tmp/pid" "$@" 2>"$tmp/nbdkit.log" &
  server_pid=$!
  for _ in $(seq 100); do
    [[ -s $tmp/pid ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "nbdkit did not start: $(cat "$tmp/nbdkit.log")"
  return 1
}

# stop_server: SIGTERM, as a user would; the plugin writes stats= at unload.
stop_server() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

# The model image: same size as the device, receives the same changes.
model_reset() { rm -f "$tmp/model"; truncate -s "$1" "$tmp/model"; }
model_write() {  # OFFSET FILE
  dd if="$2" of="$tmp/model" bs=64K oflag=seek_bytes seek="$1" conv=notrunc status=none
}
model_zero() {  # OFFSET LENGTH
  head -c "$2" /dev/zero | dd of="$tmp/model" bs=64K oflag=seek_bytes seek="$1" conv=notrunc \
    status=none
}
model_trim() {  # OFFSET LENGTH: whole pages inside the range become zeros
  local first=$((($1 + PAGE - 1) / PAGE)) end=$((($1 + $2) / PAGE))
  ((end > first)) && model_zero $((first * PAGE)) $(((end - first) * PAGE))
  return 0
}
random_file() { head -c "$2" /dev/urandom >"$tmp/$1"; }

# qio COMMAND...: one qemu-io session; fails if any command fails.
qio() {
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f raw "$uri" "${args[@]}" >"$tmp/qemu-io.log" 2>&1 || {
    echo "qemu-io failed: $(grep -v '^[0-9]' "$tmp/qemu-io.log" | head -5)"
    return 1
  }
}

# matches_model: the whole device, read back through NBD, equals the model.
matches_model() {
  rm -f "$tmp/dump"
  nbdcopy "$uri" "$tmp/dump" || { echo "nbdcopy from the device failed"; return 1; }
  cmp "$tmp/dump" "$tmp/model" >"$tmp/cmp.log" 2>&1 || {
    echo "device differs from the model: $(head -1 "$tmp/cmp.log")"
    return 1
  }
}

json_field() {  # FILE PATH.TO.FIELD
  python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"
}

# Allocated pages of a backing file's data: its first page is the header tierswap writes.
allocated_pages() { echo $(($(stat -c '%b * %B' "$1") / PAGE - 1)); }

write_config() {  # FILE CAPACITY_BYTES
  cat >"$1" <<EOF
[placement]
policy = "static"
probe_budget_ms = 0

[[tier]]
name = "dram"
kind = "dram"
capacity = $2
EOF
}

# ---- parameters ---------------------------------------------------------------------------------
begin HelpExplainsEveryParameter
help=$(nbdkit "$plugin" --help 2>&1)
missing=""
for key in "size=" "config=" "backing=" "stats="; do
  grep -q -- "$key" <<<"$help" || missing+=" $key"
done
[[ -z $missing ]] && pass || fail "--help does not mention:$missing"

begin BadParametersFailWithMessagesNamingThem
write_config "$tmp/ok.toml" $((64 * PAGE))
(umask 077 && echo "not swap" >"$tmp/precious")
bad=0
expect_error() {  # MESSAGE-FRAGMENT ARGS...
  local want=$1
  shift
  local out
  if out=$(nbdkit -U "$tmp/never.sock" "$plugin" "$@" --run true 2>&1); then
    echo "  accepted: $*"
    bad=1
  elif ! grep -qF -- "$want" <<<"$out"; then
    echo "  for '$*': expected '$want', got: $out"
    bad=1
  fi
}
expect_error "the device size is missing" config="$tmp/ok.toml"
expect_error "size=4097: the device size must be a positive multiple of 4096" size=4097
expect_error "unknown parameter 'colour'" 1M colour=red
expect_error "parameter 'backing' is given twice" 1M backing="$tmp/a" backing="$tmp/b"
expect_error "config=$tmp/none.toml: cannot use this tierswap config file" 1M \
  config="$tmp/none.toml"
expect_error "backing file '$tmp/precious': it holds 9 bytes and no tierswap header" 1M \
  backing="$tmp/precious"
ln -s "$tmp/precious" "$tmp/link"
expect_error "backing file '$tmp/link': it is a symbolic link" 1M backing="$tmp/link"
[[ $(cat "$tmp/precious") == "not swap" ]] || { echo "  precious was changed"; bad=1; }
printf '[[tier]]\nname = "x"\nkind = "dram"\n' >"$tmp/broken.toml"
expect_error "tierswap could not open config '$tmp/broken.toml'" 1M config="$tmp/broken.toml"
((bad == 0)) && pass || fail "see above"

# ---- a device large enough for every page: aligned, unaligned, trim, zero ----------------------
size=$((256 * PAGE))
write_config "$tmp/roomy.toml" $((1024 * PAGE))
model_reset $size
begin ServesAlignedAndUnalignedRequestsExactly
if start_server "$plugin" size=$size config="$tmp/roomy.toml" backing="$tmp/backing1" \
  stats="$tmp/stats1.json"; then
  random_file a $((64 * PAGE))
  random_file b 10000
  random_file c 512
  random_file d 3
  if qio "write -s $tmp/a 0 $((64 * PAGE))" "write -s $tmp/b 4000 10000" \
    "write -s $tmp/c $((100 * PAGE + 512)) 512" "write -s $tmp/d $((200 * PAGE - 1)) 3"; then
    model_write 0 "$tmp/a"
    model_write 4000 "$tmp/b"
    model_write $((100 * PAGE + 512)) "$tmp/c"
    model_write $((200 * PAGE - 1)) "$tmp/d"
    msg=$(matches_model) && pass || fail "$msg"
  else
    fail "writes failed"
  fi
else
  fail "server did not start"
fi

begin SwapHeaderUpdateKeepsTheRestOfThePage
# mkswap's shape: the first page holds the header at 1024 and "SWAPSPACE2" in its last 10
# bytes; swapon later rewrites pieces of it.
printf 'SWAPSPACE2' >"$tmp/sig"
random_file hdr 1024
if qio "write -s $tmp/hdr 1024 1024" "write -s $tmp/sig 4086 10" "read 0 512"; then
  model_write 1024 "$tmp/hdr"
  model_write 4086 "$tmp/sig"
  msg=$(matches_model) && pass || fail "$msg"
else
  fail "header writes failed"
fi

begin OverwrittenPagesNeverReadStale
random_file e $((8 * PAGE))
random_file f $((8 * PAGE))
if qio "write -s $tmp/e $((10 * PAGE)) $((8 * PAGE))" \
  "write -s $tmp/f $((10 * PAGE)) $((8 * PAGE))" "write -s $tmp/d $((12 * PAGE + 7)) 3"; then
  model_write $((10 * PAGE)) "$tmp/f"
  model_write $((12 * PAGE + 7)) "$tmp/d"
  msg=$(matches_model) && pass || fail "$msg"
else
  fail "overwrites failed"
fi

begin TrimAndZeroDropPagesAndZeroRanges
if qio "discard $((2 * PAGE + 100)) $((5 * PAGE))" "write -z $((30 * PAGE + 10)) 5000" \
  "write -z -u $((40 * PAGE)) $((4 * PAGE))"; then
  model_trim $((2 * PAGE + 100)) $((5 * PAGE))
  model_zero $((30 * PAGE + 10)) 5000
  model_zero $((40 * PAGE)) $((4 * PAGE))
  msg=$(matches_model) && pass || fail "$msg"
else
  fail "trim/zero failed"
fi

begin StatsFileAtExitAgreesWithTheTraffic
stop_server
if [[ -s $tmp/stats1.json ]]; then
  rejected=$(json_field "$tmp/stats1.json" device.stores_rejected)
  accepted=$(json_field "$tmp/stats1.json" device.stores_accepted)
  succ=$(json_field "$tmp/stats1.json" tierswap.succ_stores)
  backing=$(allocated_pages "$tmp/backing1")
  # Every write went to tierswap (room for all), so nothing is in the backing file, and
  # tierswap saw at least the device's accepted stores (plus its open-time check).
  if [[ $rejected == 0 && $backing == 0 ]] && ((succ >= accepted && accepted >= 70)); then
    pass
  else
    fail "rejected=$rejected accepted=$accepted succ_stores=$succ backing_pages=$backing"
  fi
else
  fail "no statistics file written at exit: $(cat "$tmp/nbdkit.log")"
fi

# ---- a tiny tierswap: most pages go to the backing file -----------------------------------------
size=$((128 * PAGE))
write_config "$tmp/tiny.toml" $((4 * PAGE))
model_reset $size
begin TinyCapacitySendsRejectedPagesToTheBackingFile
if start_server "$plugin" size=$size config="$tmp/tiny.toml" backing="$tmp/backing2" \
  stats="$tmp/stats2.json"; then
  random_file g $((64 * PAGE))
  if qio "write -s $tmp/g 0 $((64 * PAGE))"; then
    model_write 0 "$tmp/g"
    # Pages 0-3 fit; 4-63 are rejected and must all be in the file, and nothing else.
    msg=$(matches_model) && {
      n=$(allocated_pages "$tmp/backing2")
      ((n == 60)) && pass || fail "backing file holds $n pages, expected 60"
    } || fail "$msg"
  else
    fail "writes failed"
  fi
else
  fail "server did not start"
fi

begin PagesMoveBetweenTierswapAndBackingWithoutStaleCopies
random_file h $((4 * PAGE))
random_file i $((64 * PAGE))
# Free tierswap (trim pages 0-3), then rewrite backing pages 20-23: tierswap takes them and
# their file copies are punched. Then overwrite everything; then trim the middle.
if qio "discard 0 $((4 * PAGE))" "write -s $tmp/h $((20 * PAGE)) $((4 * PAGE))"; then
  model_trim 0 $((4 * PAGE))
  model_write $((20 * PAGE)) "$tmp/h"
  n=$(allocated_pages "$tmp/backing2")
  if msg=$(matches_model) && ((n == 56)); then
    if qio "write -s $tmp/i $((32 * PAGE)) $((64 * PAGE))" \
      "discard $((40 * PAGE)) $((16 * PAGE))"; then
      model_write $((32 * PAGE)) "$tmp/i"
      model_trim $((40 * PAGE)) $((16 * PAGE))
      msg=$(matches_model) && pass || fail "after overwrite and trim: $msg"
    else
      fail "overwrite failed"
    fi
  else
    fail "after moving pages 20-23 into tierswap: ${msg:-backing file holds $n pages, not 56}"
  fi
else
  fail "trim/rewrite failed"
fi

begin BackingFileHoldsExactlyThePagesTheStatisticsPlaceThere
stop_server
if [[ -s $tmp/stats2.json ]]; then
  bp=$(json_field "$tmp/stats2.json" device.backing_pages)
  tp=$(json_field "$tmp/stats2.json" device.tierswap_pages)
  rej=$(json_field "$tmp/stats2.json" tierswap.failed_stores)
  n=$(allocated_pages "$tmp/backing2")
  if ((bp == n && tp == 4 && rej >= bp && bp > 0)); then
    pass
  else
    fail "stats: backing_pages=$bp tierswap_pages=$tp failed_stores=$rej; file holds $n pages"
  fi
else
  fail "no statistics file written at exit: $(cat "$tmp/nbdkit.log")"
fi

# ---- parallel clients ------------------------------------------------------------------------------
begin ParallelConnectionsCopyInAndOutExactly
size=$((32 * 1024 * 1024))
write_config "$tmp/half.toml" $((size / 2))
if start_server "$plugin" size=$size config="$tmp/half.toml" backing="$tmp/backing3"; then
  random_file big $size
  rm -f "$tmp/model"
  cp "$tmp/big" "$tmp/model"
  if nbdcopy --connections=4 --requests=16 --request-size=65536 "$tmp/big" "$uri"; then
    msg=$(matches_model) && {
      n=$(allocated_pages "$tmp/backing3")
      # Half the pages fit in tierswap; the rest (and only those) are in the file.
      ((n == size / PAGE / 2)) && pass || fail "backing file holds $n pages"
    } || fail "$msg"
  else
    fail "nbdcopy into the device failed"
  fi
  stop_server
else
  fail "server did not start"
fi

# ---- the [stats] listener under abuse: it must not hurt the process it lives in ------------------
# 1,000 idle connections and two clients trickling header bytes once stalled /metrics, made
# tierswap_close wait 50 s and ran nbdkit out of file descriptors, so new NBD clients (the
# guest's swap) could not connect; a header flood grew nbdkit by 2 GB.
abuse="$(dirname "$0")/listener_abuse.py"
port=$(python3 "$abuse" free-port)
write_config "$tmp/listen.toml" $((1024 * PAGE))
printf '\n[stats]\nlisten = "127.0.0.1:%s"\n' "$port" >>"$tmp/listen.toml"
size=$((256 * PAGE))
model_reset $size
seconds_below() { awk -v s="$1" -v max="$2" 'BEGIN { exit !(s < max) }'; }
# start_holder IDLE TRICKLERS: the abusive clients, in the background, once connected.
start_holder() {
  rm -f "$tmp/held"
  python3 "$abuse" hold "$port" "$1" "$2" "$tmp/held" >"$tmp/held.count" &
  holder_pid=$!
  for _ in $(seq 600); do [[ -s $tmp/held ]] && return 0; sleep 0.1; done
  return 1
}
stop_holder() {
  kill "$holder_pid" 2>/dev/null
  wait "$holder_pid" 2>/dev/null
  holder_pid=""
}
if start_server "$plugin" size=$size config="$tmp/listen.toml" backing="$tmp/backing4"; then
  rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")

  begin MetricsAnswersWithinASecondBesideTwoTricklers
  if start_holder 0 2; then
    read -r status secs < <(python3 "$abuse" get "$port" /metrics)
    echo "  GET /metrics beside 2 tricklers: status $status in $secs s"
    if [[ $status == 200 ]] && seconds_below "$secs" 1; then pass; else fail "status $status in $secs s"; fi
  else
    fail "the trickling clients did not get going"
  fi

  begin HeaderFloodLeavesRssBounded
  read -r sent reply < <(python3 "$abuse" flood "$port" 64)
  rss_after=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
  growth=$((rss_after - rss_before))
  echo "  flood of 64 MiB offered: $sent bytes sent, reply '$reply'; VmRSS $rss_before kB -> $rss_after kB"
  if ((growth < 16384)) && [[ $reply == "HTTP/1.1 431"* ]]; then
    pass
  else
    fail "RSS grew by $growth kB; reply '$reply'"
  fi
  stop_holder

  begin ThousandIdleStatsClientsLeaveNbdWorking
  if ! start_holder 1000 2; then
    fail "the idle clients did not get going"
  else
    fds=$(find "/proc/$server_pid/fd" -mindepth 1 | wc -l)
    random_file k $((32 * PAGE))
    if ! qio "write -s $tmp/k 0 $((32 * PAGE))"; then
      fail "an NBD client could not write beside $(cat "$tmp/held.count") idle stats clients"
    else
      model_write 0 "$tmp/k"
      if ! msg=$(matches_model); then
        fail "$msg"
      elif ((fds > 100)); then
        fail "nbdkit holds $fds descriptors with $(cat "$tmp/held.count") idle stats clients"
      else
        echo "  $(cat "$tmp/held.count") idle stats clients + 2 tricklers: nbdkit holds $fds fds"
        pass
      fi
    fi
  fi

  begin ExitIsPromptWithTricklingStatsClients
  start=$(date +%s.%N)
  kill "$server_pid" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  kill -9 "$server_pid" 2>/dev/null  # still there after 30 s: a hang, not a slow exit
  wait "$server_pid" 2>/dev/null
  server_pid=""
  echo "  SIGTERM to exit (tierswap_close inside), stats clients still at it: $took s"
  if seconds_below "$took" 1; then pass; else fail "nbdkit took $took s to exit"; fi
else
  fail "server did not start"
fi
[[ -n $holder_pid ]] && stop_holder

# ---- install prefix ----------------------------------------------------------------------------------
begin LoadsFromAnInstallPrefix
if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  installed=$(find "$tmp/prefix" -name nbdkit-tierswap-plugin.so | head -1)
  if [[ -z $installed || $installed != "$tmp/prefix"/lib*/nbdkit/plugins/* ]]; then
    fail "plugin not installed under lib/nbdkit/plugins: '${installed}'"
  elif ! grep -q "libtierswap.so.* => $tmp/prefix/" <<<"$(ldd "$installed")"; then
    fail "installed plugin does not find libtierswap.so in the prefix: $(ldd "$installed" |
      grep tierswap)"
  else
    model_reset $((16 * PAGE))
    random_file j $((3 * PAGE))
    if start_server "$installed" size=$((16 * PAGE)) &&
      qio "write -s $tmp/j 100 $((3 * PAGE))"; then
      model_write 100 "$tmp/j"
      msg=$(matches_model) && pass || fail "$msg"
    else
      fail "installed plugin did not serve: $(cat "$tmp/nbdkit.log")"
    fi
    stop_server
  fi
else
  fail "cmake --install failed: $(tail -3 "$tmp/install.log")"
fi

echo "$passed passed, $failed failed"
((failed == 0))
