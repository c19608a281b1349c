#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for a bounded time each, from a copy of their committed
# seed corpora, and says per target how many inputs ran, the coverage reached, and whether
# anything crashed. Builds the clang fuzz build first (ASan + UBSan + libFuzzer) when needed.
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--work-dir DIR] [TARGET...] [-- LIBFUZZER_FLAG...]
#
#   --seconds N      time per target (default 60)
#   --build-dir DIR  the clang fuzz build (default build-fuzz); configured here if it has no cache
#   --work-dir DIR   where the corpus copies grow (default: a temporary directory, removed at
#                    exit); give one to keep what a long run found, and to resume from it
#   TARGET           api_ops_fuzzer, config_fuzzer, trace_fuzzer (default: all three)
#   -- FLAGS         passed to every target, e.g. -- -jobs=4 -workers=4
#
# tests/fuzz/TARGET.dict, where there is one, is passed as the target's dictionary (-dict).
# The committed corpus (tests/fuzz/corpus/TARGET) is only read. A crash, leak, timeout or
# out-of-memory keeps its input in BUILD_DIR/fuzz-artifacts/TARGET/ and makes the exit status 1;
# docs/reliability.md ("Fuzzing") says how to reproduce and minimise it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TIERSWAP_ROOT"

seconds=60
build="build-fuzz"
work=""
targets=()
extra=()
all_targets=(api_ops_fuzzer config_fuzzer trace_fuzzer)

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    --work-dir) work="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ ! -d tests/fuzz/corpus/$t ]]; then
    echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "fuzz.sh: --seconds needs a whole number above 0, got '$seconds'" >&2
  exit 2
fi

# ---- build ---------------------------------------------------------------------------------------
if [[ ! -f "$build/build.ninja" ]]; then
  echo "== configuring $build (clang-14, ASan + UBSan, libFuzzer) =="
  CC=clang-14 CXX=clang++-14 ts_configure "$build" -DTIERSWAP_SANITIZE=address,undefined \
    -DTIERSWAP_BUILD_FUZZERS=ON -DTIERSWAP_BUILD_BENCH=OFF -DTIERSWAP_BUILD_NBDKIT=OFF
fi
echo "== building ${targets[*]} =="
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

# ---- run -----------------------------------------------------------------------------------------
if [[ -z "$work" ]]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/tierswap-fuzz.XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
artifacts_root="$(cd "$build" && pwd)/fuzz-artifacts"
# Errors abort with a stack; leaks are checked at exit of each input by libFuzzer.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
printf '\n%-16s %10s %8s %8s %9s  %s\n' target execs exec/s cov corpus result
for t in "${targets[@]}"; do
  corpus="$work/$t"
  artifacts="$artifacts_root/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/
  seeds=$(find "$corpus" -type f | wc -l)
  log="$work/$t.log"
  dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  rc=0
  # -timeout: an input that runs this long is a hang, saved like a crash.
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "${extra[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  # A crash while reading the seeds leaves no statistics: the fields then print as "?".
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  grown=$(find "$corpus" -type f | wc -l)
  if [[ $rc -eq 0 ]]; then
    result="no crash"
  else
    failed=1
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="CRASH (exit $rc): input kept at ${input:-$artifacts (see the log)}"
  fi
  printf '%-16s %10s %8s %8s %4s->%-4s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "$seeds" "$grown" "$result"
  if [[ $rc -ne 0 ]]; then
    echo "---- $t: the end of its log ($log) ----"
    grep -v -e '^#[0-9]' -e '^INFO:' -e '^MS:' "$log" | tail -40
    echo "---- reproduce: $build/tests/fuzz/$t ${input:-CRASH_FILE}"
    echo "     (TIERSWAP_FUZZ_VERBOSE=1 prints every decoded operation)"
    if [[ "$work" == "${TMPDIR:-/tmp}"/tierswap-fuzz.* ]]; then
      cp "$log" "$artifacts/" && echo "     log kept at $artifacts/$(basename "$log")"
    fi
  fi
done
exit $failed
