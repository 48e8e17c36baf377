#!/bin/bash
# The instruction-count baseline (test perf-baseline, suite perf; see
# docs/performance.md "Instruction-count baseline").
#
# Runs tests/perf/perf-workload under callgrind, reads the instructions
# (Ir) of each phase from its dumps and compares them with baseline.txt:
# fails when a phase is more than TOL % above its baseline (a regression)
# or more than TOL % below it (faster: the baseline must be updated so it
# keeps catching regressions). TOL = $CAIRN_PERF_TOLERANCE, default 3.
# A change of at most $CAIRN_PERF_MIN_IR instructions (default 1000000,
# about 0.15 ms of native time) is never a failure, so that the small
# phases (shutdown: under a million) do not fail on trivial changes.
#
#   tests/perf/run.sh [BUILD_DIR]              compare (exit 0, 1, or 77)
#   tests/perf/run.sh --update [BUILD_DIR]     rewrite baseline.txt
#   tests/perf/run.sh --runs N [BUILD_DIR]     N runs: min and max per phase
#
# BUILD_DIR: $CAIRN_BUILD_ROOT (meson test sets it), else ./build.
# CAIRN_PERF_BASELINE=FILE compares with (or --update writes) another file.
# Exits 77 (skip) when the counts cannot be judged against the baseline:
# no valgrind, another compiler or build type, another CPU feature set (as
# valgrind shows it) or other library versions than baseline.txt records.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_root=${CAIRN_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
# CAIRN_PERF_BASELINE: a baseline of your own (another machine or build).
baseline=${CAIRN_PERF_BASELINE:-$here/baseline.txt}
tol=${CAIRN_PERF_TOLERANCE:-3}
min_ir=${CAIRN_PERF_MIN_IR:-1000000}

mode=compare
runs=1
build_root=${CAIRN_BUILD_ROOT:-}
while [ $# -gt 0 ]; do
  case $1 in
  --update) mode=update ;;
  --runs)
    mode=runs
    runs=${2:-}
    case $runs in '' | *[!0-9]* | 0)
      echo "run.sh: --runs needs a number of runs" >&2
      exit 2
      ;;
    esac
    shift
    ;;
  -h | --help)
    sed -n '2,/^set -eu/p' "$0" | sed -n 's/^# \{0,1\}//p'
    exit 0
    ;;
  -*)
    echo "run.sh: unknown option $1 (see --help)" >&2
    exit 2
    ;;
  *) build_root=$1 ;;
  esac
  shift
done
build_root=${build_root:-$source_root/build}
build_root=$(cd "$build_root" && pwd)

skip() {
  echo "SKIP: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

case $tol in
'' | *[!0-9.]* | *.*.*) fail "CAIRN_PERF_TOLERANCE must be a number of percent (got '$tol')" ;;
esac
case $min_ir in
'' | *[!0-9]*) fail "CAIRN_PERF_MIN_IR must be a number of instructions (got '$min_ir')" ;;
esac

workload=$build_root/tests/perf/perf-workload
build_info=$build_root/tests/perf/perf-build.txt
[ -x "$workload" ] && [ -f "$build_info" ] ||
  fail "$workload is not built: ninja -C $build_root tests/perf/perf-workload"

if [ "${CAIRN_UNDER_VALGRIND:-}" = 1 ]; then
  skip "the valgrind test setup runs tests under memcheck; callgrind needs the plain run"
fi
command -v valgrind >/dev/null 2>&1 ||
  skip "valgrind is not installed (Debian package valgrind; ./dev deps installs it)"
grep -qx 'callgrind_h: yes' "$build_info" ||
  skip "this build has no valgrind/callgrind.h (install valgrind, then meson setup --reconfigure)"

# The workload runs in a fixed environment: meson test sets
# MALLOC_PERTURB_ (glibc then fills every allocation), and the size of the
# environment and of TMPDIR's path change counts too.
valgrind=$(command -v valgrind)
clean_env=(env -i PATH=/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp LC_ALL=C
  CAIRN_BUILD_ROOT="$build_root" CAIRN_SOURCE_ROOT="$source_root")

# What the counts depend on besides the code.
build_now=$(sed -n 's/^build: //p' "$build_info")
env_now=$("${clean_env[@]}" "$valgrind" --tool=none -q "$workload" --print-env) ||
  fail "perf-workload --print-env failed under valgrind"
cpu_now=$(sed -n 's/^cpu: //p' <<<"$env_now")
libs_now=$(sed -n 's/^libs: //p' <<<"$env_now")

header() { sed -n "s/^# $1: //p" "$baseline" | head -1; }

if [ "$mode" = compare ]; then
  [ -f "$baseline" ] || fail "no $baseline: write it with tests/perf/run.sh --update $build_root"
  for what in build cpu libs; do
    case $what in
    build) now=$build_now ;;
    cpu) now=$cpu_now ;;
    libs) now=$libs_now ;;
    esac
    want=$(header "$what")
    [ "$want" = "$now" ] ||
      skip "the baseline's counts were measured with another $what, so they cannot be compared:
  baseline: $want
  here:     $now
tests/perf/baseline.txt is for the CI build (meson setup build, the defaults, gcc) on the CI machine.
To compare on this setup, keep a baseline of your own:
  CAIRN_PERF_BASELINE=FILE tests/perf/run.sh --update $build_root   (then the same without --update)"
  done
fi

out_dir=$build_root/tests/perf/callgrind
mkdir -p "$out_dir"

# One run under callgrind; leaves out_dir/callgrind.out.N (one per phase)
# and out_dir/workload.txt. Prints "phase Ir" lines, in phase order.
run_once() {
  rm -f "$out_dir"/callgrind.out*
  if ! "${clean_env[@]}" "$valgrind" --tool=callgrind \
    --callgrind-out-file="$out_dir/callgrind.out" \
    "$workload" >"$out_dir/workload.txt" 2>"$out_dir/valgrind.txt"; then
    cat "$out_dir/workload.txt" "$out_dir/valgrind.txt" >&2
    fail "the workload failed under callgrind (above)"
  fi
  local f n name ir
  # Dumps are numbered in order; the last file (no number) is the exit.
  for n in $(cd "$out_dir" && ls callgrind.out.* | sed 's/^callgrind\.out\.//' | sort -n); do
    f=$out_dir/callgrind.out.$n
    name=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
    ir=$(sed -n 's/^summary: //p' "$f")
    [ -n "$name" ] && [ -n "$ir" ] || fail "$f: no phase name or summary line"
    case $name in harness-*) continue ;; esac
    echo "$name $ir"
  done
}

if [ "$mode" = runs ]; then
  all=$(mktemp)
  trap 'rm -f "$all"' EXIT
  for ((i = 1; i <= runs; i++)); do
    start=$(date +%s)
    run_once >>"$all"
    echo "run $i: $(($(date +%s) - start)) s"
  done
  printf '%-10s %16s %16s %16s %9s\n' phase min max spread "spread %"
  awk '{ if (!($1 in min) || $2 < min[$1]) min[$1] = $2
         if (!($1 in max) || $2 > max[$1]) max[$1] = $2
         if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
       END { for (i = 0; i < n; i++) { p = order[i]
               printf "%-10s %16.0f %16.0f %16.0f %8.4f%%\n", p, min[p], max[p],
                 max[p] - min[p], 100 * (max[p] - min[p]) / min[p] } }' "$all"
  exit 0
fi

t0=$(date +%s)
now=$(run_once)
secs=$(($(date +%s) - t0))
echo "callgrind run: $secs s; workload output:"
sed 's/^/  /' "$out_dir/workload.txt"

if [ "$mode" = update ]; then
  commit=$(git -C "$source_root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if [ "$commit" != unknown ] && ! git -C "$source_root" diff --quiet HEAD 2>/dev/null; then
    commit="$commit with uncommitted changes"
  fi
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
  tmp=$(mktemp "$baseline.XXXXXX")
  {
    echo "# Instructions (callgrind Ir) per phase of tests/perf/perf-workload."
    echo "# Written by tests/perf/run.sh --update; compared by the perf-baseline"
    echo "# test (docs/performance.md). The build, cpu and libs lines must match"
    echo "# the machine's for the comparison to run (else it is skipped)."
    echo "# commit: $commit"
    echo "# machine: ${model:-unknown CPU}, $(nproc) CPUs, $(uname -sr), valgrind $(valgrind --version | sed 's/^valgrind-//'), $(date -u +%Y-%m-%d)"
    echo "# build: $build_now"
    echo "# cpu: $cpu_now"
    echo "# libs: $libs_now"
    sed 's/^/# /' "$out_dir/workload.txt"
    echo "$now"
  } >"$tmp"
  mv "$tmp" "$baseline"
  echo "wrote $baseline:"
  cat "$baseline"
  exit 0
fi

# Compare.
table=$(awk -v tol="$tol" -v min_ir="$min_ir" '
  FNR == NR { if ($0 !~ /^#/ && NF == 2) { base[$1] = $2; border[nb++] = $1 }; next }
  { now[$1] = $2; norder[nn++] = $1 }
  END {
    bad = 0
    printf "%-10s %16s %16s %9s\n", "phase", "baseline Ir", "now Ir", "change"
    for (i = 0; i < nb; i++) {
      p = border[i]; b = base[p]
      if (!(p in now)) { printf "%-10s %16.0f %16s %9s  MISSING\n", p, b, "-", "-"; bad = 1; continue }
      n = now[p]; c = 100 * (n - b) / b; tb += b; tn += n
      d = n - b; if (d < 0) d = -d
      mark = d <= min_ir ? "" : (c > tol ? "  SLOWER" : (c < -tol ? "  FASTER" : ""))
      if (mark == "  SLOWER") bad = 1
      if (mark == "  FASTER" && bad == 0) bad = 2
      printf "%-10s %16.0f %16.0f %+8.2f%%%s\n", p, b, n, c, mark
    }
    for (i = 0; i < nn; i++) if (!(norder[i] in base)) {
      printf "%-10s %16s %16.0f %9s  NEW\n", norder[i], "-", now[norder[i]], "-"; bad = 1 }
    if (tb > 0) printf "%-10s %16.0f %16.0f %+8.2f%%\n", "total", tb, tn, 100 * (tn - tb) / tb
    printf "status %d\n", bad
  }' "$baseline" - <<<"$now")
status=$(sed -n 's/^status //p' <<<"$table")
sed '/^status /d' <<<"$table"
echo "tolerance: $tol % (CAIRN_PERF_TOLERANCE), changes of at most $min_ir Ir ignored (CAIRN_PERF_MIN_IR)"
echo "baseline: commit $(header commit); $(header machine)"
echo "profiles of this run, one file per phase: $out_dir/callgrind.out.N (callgrind_annotate --inclusive=yes FILE)"
case $status in
0) echo "PASS: every phase within $tol % of the baseline" ;;
2) fail "faster than the baseline by more than $tol %: update it with tests/perf/run.sh --update $build_root (and commit tests/perf/baseline.txt with the change that made it faster)" ;;
*) fail "a phase is more than $tol % above the baseline, or the phases changed (see the profiles named above; if the change is intended, update it with tests/perf/run.sh --update $build_root)" ;;
esac
