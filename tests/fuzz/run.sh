#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (see README.md there).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]
#
# SECONDS per target ("short": $CAIRN_FUZZ_SECONDS, default 10, what the
# meson suite 'fuzz' runs); no TARGET = all of them. For each target:
#   1. every input of tests/fuzz/regressions/TARGET/ runs once (the crashes
#      found so far, fixed: they must stay fixed);
#   2. the fuzzer runs for SECONDS on a temporary copy of the committed
#      corpus tests/fuzz/corpus/TARGET/ (so the repository is not
#      modified), with its dictionary tests/fuzz/TARGET.dict if there is one.
# It fails when a target crashes, leaks (LeakSanitizer), times out on one
# input (-timeout=10) or goes over -rss_limit_mb=2048; the input is kept in
# $CAIRN_FUZZ_ARTIFACTS (default BUILD/fuzz-artifacts) and the log's tail
# printed. Last, one line per target: executions, exec/s, coverage (cov:
# and ft: of libFuzzer's final stats).
#
# The fuzz build is $CAIRN_FUZZ_BUILD, else $CAIRN_BUILD_ROOT (set by meson
# test), else build-fuzz at the top of the source tree.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${CAIRN_FUZZ_BUILD:-${CAIRN_BUILD_ROOT:-$root/build-fuzz}}
all="cjson tx block p2p config genesis plugin-tx http cid descriptor"

usage () {
  echo "usage: $0 SECONDS|short [TARGET...]   (targets: $all)" >&2
  exit 2
}
[ $# -ge 1 ] || usage
seconds=$1
shift
[ "$seconds" = short ] && seconds=${CAIRN_FUZZ_SECONDS:-10}
case $seconds in
  ''|*[!0-9]*) usage ;;
esac
[ $# -gt 0 ] || set -- $all

# Inputs larger than the real ones only slow the fuzzer down.
max_len () {
  case $1 in
    block|genesis|http|tx|p2p) echo 16384 ;;
    descriptor) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

artifacts=${CAIRN_FUZZ_ARTIFACTS:-$build/fuzz-artifacts}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp}
# GLib: no debug output, and criticals are bugs.
export G_DEBUG=fatal-criticals
unset G_MESSAGES_DEBUG

failed=0
summary=""
for t in "$@"; do
  bin=$build/tests/fuzz/fuzz-$t
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is missing: build with -Dfuzz=true (CC=clang)" >&2
    exit 2
  fi
  mkdir -p "$artifacts/$t" "$work/$t/corpus"
  if [ -d "$here/corpus/$t" ]; then
    cp "$here/corpus/$t"/* "$work/$t/corpus/" 2>/dev/null || true
  fi
  dict=""
  [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  log=$work/$t/log

  # 1. Regressions: each input once.
  if [ -d "$here/regressions/$t" ] && [ -n "$(ls -A "$here/regressions/$t")" ]; then
    if ! "$bin" -runs=1 -timeout=10 -rss_limit_mb=2048 \
        "$here/regressions/$t"/* >"$log" 2>&1; then
      echo "FAIL $t: a regression input fails again:" >&2
      tail -n 40 "$log" >&2
      failed=1
      summary="$summary$(printf '%-11s REGRESSION FAILED' "$t")\n"
      continue
    fi
    nreg=$(ls -A "$here/regressions/$t" | wc -l)
  else
    nreg=0
  fi

  # 2. Fuzzing.
  echo "run.sh: fuzzing $t for ${seconds}s ($nreg regression inputs passed)"
  # shellcheck disable=SC2086
  if "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$t/" $dict "$work/$t/corpus" \
      >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed=1
    echo "FAIL $t (log tail below; inputs in $artifacts/$t/):" >&2
    tail -n 60 "$log" >&2
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1)
  summary="$summary$(printf '%-11s %-6s execs %-10s exec/s %-7s %s %s' \
    "$t" "$status" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "${corp:-}")\n"
done

printf '\nrun.sh: %ss per target\n' "$seconds"
printf "$summary"
if [ "$failed" -ne 0 ]; then
  echo "run.sh: FAILED" >&2
  exit 1
fi
