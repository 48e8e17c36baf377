#!/bin/bash
# Scaling curves of cairn (issue 13 part 4): a driver, not a test. Runs
# `cairn bench ... --json` series and writes data files and PNGs:
#
#   validators.dat|png  1, 4, 7 pos validators at a fixed offered rate
#                       (RATE): committed tx/s, p50, p99
#   txsize.dat|png      1 validator, as fast as taken, bank.transfer txs of
#                       TXSIZES bytes (--tx-size pads the memo; "0" is an
#                       unpadded transfer, ~400 B, the smallest there is):
#                       tx/s, MB/s, p50, p99
#   state.dat|png       1 validator, ONE network grown by successive
#                       `bench --target --fill` to STATE_KEYS keys (10^4 ..
#                       10^7, up to MAX_KEYS), measured after each step:
#                       tx/s, p50, p99, the node's RSS and RssAnon after
#                       the step, the data dir's size on disk (both also
#                       hold the blocks of the earlier steps' fills and
#                       measured loads, not only the added keys)
#
# Usage: tests/bench/curves.sh [CAIRN_BIN]   (default build/core/cairn)
# Environment:
#   DURATION=30      seconds of load per point
#   RATE=3000        offered tx/s of the validators series
#   STATE_RATE=0     offered tx/s of the state series (0: as fast as taken;
#                    p99 then includes the --max-pending queue)
#   MAX_KEYS=10000000  the largest state step (MAX_KEYS=1000000 skips 10^7;
#                    at ~8,000-10,000 fill tx/s the 10^7 fill alone would
#                    take 15-20 minutes on a 2-core VM; not measured yet)
#   SERIES="validators txsize state"   which series to run
#   OUT=docs/perf    where the .dat and .png files go
#   QUICK=1          smoke run: 2 s per point, small steps (1k, 3k, 10k
#                    keys), sizes 0 1024 16384, written to a temp dir
#                    (printed) instead of docs/perf
# Each series writes its .dat (with the commands as comments) and then its
# PNG with gnuplot (tests/bench/curves/*.gp). gnuplot missing: installed
# with apt-get install -y gnuplot-nox (sudo when not root), and said so.
# The bench's own networks live in temp dirs it deletes; the state
# series' network is in a temp dir removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cairn=${1:-$root/build/core/cairn}
[ -x "$cairn" ] || { echo "curves.sh: no cairn executable at $cairn" >&2; exit 2; }
cairn=$(cd "$(dirname "$cairn")" && pwd)/$(basename "$cairn")
command -v jq >/dev/null || { echo "curves.sh: needs jq" >&2; exit 2; }

quick=${QUICK:-0}
if [ "$quick" = 1 ]; then
  DURATION=${DURATION:-2}
  RATE=${RATE:-300}
  TXSIZES=${TXSIZES:-0 1024 16384}
  STATE_KEYS=${STATE_KEYS:-1000 3000 10000}
  OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-curves-XXXXXX")}
else
  DURATION=${DURATION:-30}
  RATE=${RATE:-3000}
  TXSIZES=${TXSIZES:-0 1024 4096 16384}
  STATE_KEYS=${STATE_KEYS:-10000 100000 1000000 10000000}
  OUT=${OUT:-$root/docs/perf}
fi
VALIDATORS=${VALIDATORS:-1 4 7}
STATE_RATE=${STATE_RATE:-0}
MAX_KEYS=${MAX_KEYS:-10000000}
SERIES=${SERIES:-validators txsize state}
mkdir -p "$OUT"
say() { echo "curves.sh: $*" >&2; }
say "writing to $OUT (DURATION=$DURATION s per point, cairn $cairn)"

if ! command -v gnuplot >/dev/null; then
  say "gnuplot is missing: installing it with apt-get install -y gnuplot-nox"
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends gnuplot-nox >&2 ||
    { $sudo apt-get update >&2 &&
      $sudo apt-get install -y --no-install-recommends gnuplot-nox >&2; } ||
    { say "could not install gnuplot-nox"; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-curves-work-XXXXXX")
net="$work/net"
cleanup() {
  [ -d "$net" ] && "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# run_bench OUTJSON ARGS...: cairn bench ARGS --json; its last line saved.
run_bench() {
  local out=$1
  shift
  say "cairn bench $*"
  "$cairn" bench "$@" --json >"$work/bench.out" 2>"$work/bench.err" </dev/null || {
    cat "$work/bench.err" >&2
    say "cairn bench $* failed"
    exit 1
  }
  tail -n 1 "$work/bench.out" >"$out"
}
# plot NAME: NAME.gp over OUT/NAME.dat into OUT/NAME.png
plot() {
  local subtitle="${DURATION} s per point, $(nproc) cores, $(date -u +%F)"
  gnuplot -e "dir='$here/curves'; datafile='$OUT/$1.dat'; outfile='$OUT/$1.png'; subtitle='$subtitle'" \
    "$here/curves/$1.gp"
  say "wrote $OUT/$1.dat and $OUT/$1.png"
}
header() { # header FILE COLUMNS...
  local file=$1
  shift
  {
    echo "# cairn scaling curves, $(date -u +%FT%TZ), $(uname -m), $(nproc) cores"
    echo "# $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "# DURATION=$DURATION RATE=$RATE STATE_RATE=$STATE_RATE"
    echo "# columns: $*"
  } >"$file"
}

series_validators() {
  local dat=$OUT/validators.dat
  header "$dat" "validators committed_tps p50_ms p99_ms rss_mib offered_tps"
  for n in $VALIDATORS; do
    local args=(--validators "$n" --duration "$DURATION" --rate "$RATE" --accounts 1000)
    run_bench "$work/v$n.json" "${args[@]}"
    echo "# cairn bench ${args[*]} --json" >>"$dat"
    jq -r '[.validators, .committed_tps, .p50_ms, .p99_ms, .rss_mib, .offered_tps]
      | @tsv' "$work/v$n.json" >>"$dat"
  done
  plot validators
}

series_txsize() {
  local dat=$OUT/txsize.dat
  header "$dat" "tx_bytes committed_tps mb_per_s p50_ms p99_ms rss_mib"
  for size in $TXSIZES; do
    local args=(--validators 1 --duration "$DURATION" --accounts 1000)
    [ "$size" = 0 ] || args+=(--tx-size "$size")
    run_bench "$work/s$size.json" "${args[@]}"
    echo "# cairn bench ${args[*]} --json" >>"$dat"
    jq -r '[(.tx_bytes | round), .committed_tps, .mb_per_s, .p50_ms, .p99_ms,
      .rss_mib] | @tsv' "$work/s$size.json" >>"$dat"
  done
  plot txsize
}

# The node's memory from /proc (the bench does not own a --target node).
status_mib() { # status_mib PID FIELD
  awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

series_state() {
  local dat=$OUT/state.dat
  header "$dat" "keys committed_tps p50_ms p99_ms rss_mib rss_anon_mib db_mib fill_tps"
  "$cairn" testnet init --dir "$net" --nodes 1 --validators 1 --consensus pos \
    --chain-id curves >/dev/null
  # The bench's own limits (cmd_bench.c write_bench_config): room for the load.
  cat >"$net/node0/conf.d/99-curves.conf" <<'CONF'
# Written by tests/bench/curves.sh: room for the load in the mempool.
[node]
log_level = warning

[mempool]
max_txs = 200000
max_bytes = 256MiB
max_nonce_gap = 1048576
max_txs_per_sender = 10000000
CONF
  "$cairn" testnet start --dir "$net" >/dev/null
  local status api pid keys=0
  status=$("$cairn" testnet status --dir "$net" --json)
  api=$(jq -r '.[0].api' <<<"$status")
  pid=$(jq -r '.[0].pid' <<<"$status")
  say "state series: one pos validator at $api (pid $pid) in $net"
  for target in $STATE_KEYS; do
    if [ "$target" -gt "$MAX_KEYS" ]; then
      say "skipping the $target-key step (MAX_KEYS=$MAX_KEYS)"
      continue
    fi
    local fill=$((target - keys))
    [ "$fill" -gt 0 ] || continue
    local args=(--target "$api" --from "$net/node0/keys/admin.pem"
      --fill "$fill" --fill-start "$keys" --duration "$DURATION"
      --rate "$STATE_RATE" --accounts 1000)
    run_bench "$work/k$target.json" "${args[@]}"
    keys=$target
    local rss anon db
    rss=$(status_mib "$pid" VmRSS)
    anon=$(status_mib "$pid" RssAnon)
    db=$(du -sm "$net/node0" | cut -f1)
    echo "# cairn bench ${args[*]} --json" >>"$dat"
    jq -r --arg keys "$keys" --arg rss "$rss" --arg anon "$anon" --arg db "$db" \
      '[$keys, .committed_tps, .p50_ms, .p99_ms, $rss, $anon, $db, .fill_tps]
      | @tsv' "$work/k$target.json" >>"$dat"
  done
  "$cairn" testnet stop --dir "$net" >/dev/null
  plot state
}

for s in $SERIES; do
  case $s in
  validators | txsize | state) "series_$s" ;;
  *) say "unknown series '$s' (validators, txsize, state)"; exit 2 ;;
  esac
done
say "done: $(cd "$OUT" && ls ./*.dat ./*.png 2>/dev/null | tr '\n' ' ')"
