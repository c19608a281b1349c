#!/usr/bin/env bash
# The lab's exit paths (scripts/lab/run-in-lab): the command's output and status come back, and
# after a timeout, Ctrl-C, SIGTERM, SIGKILL, a QEMU that cannot start or a missing QEMU, no QEMU
# process and no run folder of the lab is left (a SIGKILLed lab's folder is removed by the next
# run). Each case runs with a private TMPDIR, so "ours" is exact: QEMU's command line names its
# run folder there.
#
#   tests/lab/run_in_lab_test.sh            (exit 77: skipped without qemu-system-x86_64, unless
#                                            TIERSWAP_FAIL_ON_SKIP=1)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lab=$root/scripts/lab/run-in-lab
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "run_in_lab_test: needs qemu-system-x86_64 (scripts/setup.sh installs it)"
  [[ ${TIERSWAP_FAIL_ON_SKIP:-0} = 1 ]] && exit 1
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/run_in_lab_test.XXXXXX")
bg=""
trap '[[ -n $bg ]] && kill -KILL "$bg" 2>/dev/null; pkill -KILL -f "$work/" 2>/dev/null; rm -rf "$work"' EXIT
passed=0
failed=0
check() { # WHAT CONDITION...
  local what=$1
  shift
  if "$@"; then
    echo "pass  $what"
    passed=$((passed + 1))
  else
    echo "FAIL  $what"
    failed=$((failed + 1))
  fi
}
# Our QEMU processes: their command lines name run folders under this case's TMPDIR.
no_qemu() { ! pgrep -f "qemu-system-x86_64.*$1/" >/dev/null; }
no_run_dir() { ! compgen -G "$1/tierswap-lab.*" >/dev/null; }
has_run_dir() { compgen -G "$1/tierswap-lab.*" >/dev/null; }
newcase() { # NAME: a private TMPDIR for the case
  mkdir -p "$work/$1"
  echo "$work/$1"
}
# Starts the lab in the background running `echo ready; sleep 1000` and waits for "ready".
start_sleeper() { # TMP
  TMPDIR=$1 "$lab" -q --timeout 300 -- sh -c 'echo ready; exec sleep 1000' >"$1/out" 2>"$1/err" &
  bg=$!
  for _ in $(seq 600); do
    grep -q ready "$1/out" 2>/dev/null && return 0
    kill -0 "$bg" 2>/dev/null || break
    sleep 0.1
  done
  echo "the guest did not start: $(cat "$1/err")"
  return 1
}
wait_gone() { # TMP: QEMU may take a moment to die after its parent
  for _ in $(seq 50); do no_qemu "$1" && return 0; sleep 0.1; done
  return 1
}

# 1. stdout, stderr and the status come back separately.
t=$(newcase output)
TMPDIR=$t "$lab" -q -- sh -c 'echo to-stdout; echo to-stderr >&2; exit 7' >"$t/out" 2>"$t/err"
rc=$?
check "command status 7 comes back" test "$rc" -eq 7
check "stdout comes back" test "$(cat "$t/out")" = to-stdout
check "stderr comes back apart from stdout" grep -qx to-stderr "$t/err"
check "no QEMU left after a normal exit" no_qemu "$t"
check "no run folder left after a normal exit" no_run_dir "$t"

# 2. --timeout stops the guest: status 124.
t=$(newcase timeout)
TMPDIR=$t "$lab" -q --timeout 30 -- sleep 1000 >"$t/out" 2>"$t/err"
rc=$?
check "timeout exits 124" test "$rc" -eq 124
check "timeout is reported" grep -q "timeout: the guest was stopped after 30 s" "$t/err"
check "no QEMU left after a timeout" no_qemu "$t"
check "no run folder left after a timeout" no_run_dir "$t"

# 3-4. Ctrl-C (SIGINT) and SIGTERM while the command runs.
for sig in INT TERM; do
  t=$(newcase "sig$sig")
  if start_sleeper "$t"; then
    kill -s "$sig" "$bg"
    wait "$bg"
    rc=$?
    bg=""
    want=$((128 + $(kill -l "$sig")))
    check "SIG$sig exits $want" test "$rc" -eq "$want"
    check "no QEMU left after SIG$sig" wait_gone "$t"
    check "no run folder left after SIG$sig" no_run_dir "$t"
  else
    check "the guest starts (SIG$sig case)" false
  fi
done

# 5. SIGKILL: nothing of the lab runs any more, but QEMU dies with it (parent-death signal);
#    its run folder stays until the next run in the same TMPDIR removes it.
t=$(newcase sigkill)
if start_sleeper "$t"; then
  kill -KILL "$bg"
  wait "$bg" 2>/dev/null
  bg=""
  check "no QEMU left after SIGKILL" wait_gone "$t"
  check "a SIGKILLed run's folder is left" has_run_dir "$t"
  TMPDIR=$t "$lab" -q -- true >/dev/null 2>"$t/err2"
  check "the next run succeeds" test $? -eq 0
  check "... and removes the SIGKILLed run's folder" no_run_dir "$t"
else
  check "the guest starts (SIGKILL case)" false
fi

# 6. QEMU refuses its command line: a clear message, status 125, nothing left.
t=$(newcase badqemu)
TMPDIR=$t "$lab" -q --qemu-arg=-no-such-option -- true >"$t/out" 2>"$t/err"
rc=$?
check "a QEMU that cannot start exits 125" test "$rc" -eq 125
check "... saying QEMU could not start the guest" grep -q "QEMU could not start the guest" "$t/err"
check "... and quoting QEMU" grep -q "no-such-option" "$t/err"
check "no QEMU left after QEMU failed" no_qemu "$t"
check "no run folder left after QEMU failed" no_run_dir "$t"

# 7. No QEMU at all.
t=$(newcase noqemu)
mkdir "$t/bin"
# The interpreter itself (python3 on PATH may be a wrapper script that needs more of PATH).
ln -s "$(python3 -c 'import sys; print(sys.executable)')" "$t/bin/python3"
TMPDIR=$t PATH=$t/bin "$t/bin/python3" "$lab" -- true >"$t/out" 2>"$t/err"
rc=$?
check "a missing QEMU exits 125" test "$rc" -eq 125
check "... saying how to install it" grep -q "QEMU is not installed.*qemu-system-x86" "$t/err"

# 8. A bad topology file: status 2, the file and key named.
t=$(newcase badtopology)
printf '[[node]]\nid = 0\ncpus = 1\nmemory = "1G"\n' >"$t/bad.toml"
TMPDIR=$t "$lab" --topology "$t/bad.toml" -- true >"$t/out" 2>"$t/err"
rc=$?
check "a bad topology exits 2" test "$rc" -eq 2
check "... naming the file and the key" grep -q "bad.toml: node0.memory" "$t/err"

echo "run_in_lab_test: $passed passed, $failed failed"
((failed == 0))
