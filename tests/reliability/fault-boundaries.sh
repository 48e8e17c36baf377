#!/bin/bash
# Fault injection at every write/fsync/rename boundary of a node's data dir
# (tests/reliability/faultinject.c, LD_PRELOAD).
#
# A fixed reference chain: a solo validator (node0, empty blocks off) takes
# a burst of signed bank transfers, then stops making blocks. A fresh
# follower (node1: store-lmdb, then store-git) takes that chain over P2P:
# opening a new store, its genesis, catch-up commits and their syncs. A
# counting run (CAIRN_FAULT_COUNT=1) gives M, the boundaries it crosses
# until it holds the whole chain; then for N = 1..M a fresh follower is
# SIGKILLed at boundary N (before the call; every N for store-lmdb, a
# spread for store-git), restarted without the shim,
# and must:
#  - start (a refusal is a failure),
#  - hold a prefix of the reference chain: the same hash and state root at
#    every height it has,
#  - catch up to the reference head (the chain continues),
#  - pass `cairn store verify` (every block linked and certified, the
#    stored head state hashed against the head's state root).
# Boundary counts vary a little between runs (catch-up batches follow
# timing): an N the run never reaches is counted and reported, and fails
# the test only if more than a quarter are missed.
#
# Under ASan the shim is preloaded after the ASan runtime (LD_PRELOAD=
# "libasan.so faultinject.so"): ASan must come first in the library list,
# and its interceptors then call through to the shim's.
#
# Env: CAIRN_FAULTINJECT (the shim), STORES ("store-lmdb store-git"),
# FAULT_MAX_LMDB (default: all of store-lmdb's ~28), FAULT_MAX_GIT (default
# 10 of store-git's ~160, spread evenly over 1..M; CAIRN_LONG=1: all),
# FAULT_MAX (both),
# KEEP=1.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
shim=${CAIRN_FAULTINJECT:?CAIRN_FAULTINJECT must point at faultinject.so}
STORES=${STORES:-store-lmdb store-git}
FAULT_MAX_LMDB=${FAULT_MAX_LMDB:-${FAULT_MAX:-1000000}} # every boundary
FAULT_MAX_GIT=${FAULT_MAX_GIT:-${FAULT_MAX:-10}}
[ "${CAIRN_LONG:-0}" = 1 ] && FAULT_MAX_LMDB=1000000 FAULT_MAX_GIT=1000000
preload=$shim
asan=$(ldd "$cairn" | awk '/libasan/ {print $3}')
[ -n "$asan" ] && preload="$asan $shim"

dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fb-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for log in "$dir"/*.log; do
    echo "--- $log"
    tail -15 "$log" || true
  done
  exit 1
}
now_ms() { date +%s%3N; }

# Node in home $1, log $2, extra env after: start in the background.
start_node() {
  local home=$1 log=$2
  shift 2
  env "$@" "$cairn" node --home "$home" >>"$log" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
}
api_of() { echo "http://$(awk -F' *= *' '/^\[http\]/{h=1} h && $1=="listen"{print $2; exit}' "$1/conf.d/90-testnet.conf")"; }
height() { curl -fsS --max-time 2 "$1/v1/status" 2>/dev/null | jq -r .height; }
wait_api() {
  local t0
  t0=$(now_ms)
  until height "$1" >/dev/null; do
    kill -0 "$2" 2>/dev/null || return 1
    [ $(($(now_ms) - t0)) -lt 30000 ] || return 1
    sleep 0.05
  done
}
stop_node() {
  kill -TERM "$1" 2>/dev/null || true
  { wait "$1"; } 2>/dev/null || true
}
blocks() {
  curl -fsS --max-time 30 "$1/v1/blocks/[$2-$3]" |
    jq -r '"\(.header.height) \(.hash) \(.header.state_root)"'
}

total_runs=0 total_missed=0 summary=""
for store in $STORES; do
  net="$dir/$store"
  "$cairn" testnet init --dir "$net" --validators 1 --nodes 2 \
    --store "$store" >/dev/null || fail "testnet init ($store)"
  # A fixed chain: no empty blocks; no plugin of the follower submits txs
  # of its own (groups registers a node key), so only the load makes
  # blocks.
  for i in 0 1; do
    rm -f "$net/node$i"/conf.d/*groups* "$net/node$i"/conf.d/*im.conf
    printf '[solo]\nempty_block_interval_ms = 0\n' \
      >"$net/node$i/conf.d/95-faults.conf"
  done
  cp -a "$net/node1" "$dir/pristine"
  ref=$(api_of "$net/node0")
  start_node "$net/node0" "$dir/node0-$store.log"
  ref_pid=$node_pid
  wait_api "$ref" "$ref_pid" || fail "the reference node did not start"
  "$cairn" bench --home "$net/node0" --txs 60 --accounts 3 --batch 15 \
    --rate 60 --json >"$dir/bench.out" 2>"$dir/bench.err" ||
    { cat "$dir/bench.err"; fail "load on the reference node"; }
  H=$(height "$ref")
  sleep 0.5
  [ "$(height "$ref")" = "$H" ] || fail "the reference chain still grows"
  blocks "$ref" 0 "$H" >"$dir/ref"
  txs=$(curl -fsS "$ref/v1/blocks/[1-$H]" | jq '.txs | length' | awk '{s += $1} END {print s}')

  # One follower run; $1: extra env. Sets run_log.
  w="$dir/w"
  fapi=$(api_of "$dir/pristine")
  follower() {
    rm -rf "$w"
    cp -a "$dir/pristine" "$w"
    : >"$dir/fault.log"
    start_node "$w" "$dir/follower.log" LD_PRELOAD="$preload" \
      CAIRN_FAULT_DIR="$w/data" CAIRN_FAULT_LOG="$dir/fault.log" "$@"
  }
  # Wait until the follower holds the whole chain or died; 0 = synced.
  wait_synced() {
    local t0 h
    t0=$(now_ms)
    while kill -0 "$node_pid" 2>/dev/null; do
      h=$(height "$fapi") || h=-1
      [ "$h" = "$H" ] && return 0
      [ $(($(now_ms) - t0)) -lt 30000 ] || fail "follower stuck at $h of $H"
      sleep 0.02
    done
    return 1
  }

  : >"$dir/follower.log"
  follower CAIRN_FAULT_COUNT=1
  wait_synced || fail "the counting run died"
  sleep 0.3
  stop_node "$node_pid"
  M=$(awk '$1 == "count" {print $2}' "$dir/fault.log")
  [ -n "$M" ] && [ "$M" -gt 0 ] || fail "the counting run reported no boundary"
  # Every boundary, or FAULT_MAX of them spread evenly over 1..M.
  FAULT_MAX=$FAULT_MAX_LMDB
  [ "$store" = store-git ] && FAULT_MAX=$FAULT_MAX_GIT
  runs=$((M < FAULT_MAX ? M : FAULT_MAX))
  at=$(awk -v m="$M" -v r="$runs" 'BEGIN {for (k = 0; k < r; k++) print 1 + int(k * m / r)}')
  echo "$store: reference chain of $H blocks ($txs txs); $M boundaries until synced; injecting at $runs of them"

  missed=0 max_ms=0
  for N in $at; do
    : >"$dir/follower.log"
    follower CAIRN_FAULT_AT="$N"
    # Synced before boundary N: the rest are in the idle syncs and the
    # shutdown, as in the counting run.
    if wait_synced; then
      sleep 0.3
      kill -TERM "$node_pid" 2>/dev/null || true
    fi
    { wait "$node_pid"; } 2>/dev/null && rc=0 || rc=$?
    where=$(awk '$1 == "kill" {print $3, $4}' "$dir/fault.log")
    if [ -z "$where" ]; then
      missed=$((missed + 1))
      continue
    fi
    [ "$rc" = 137 ] ||
      fail "run $N: the follower exited with $rc, not SIGKILL by the shim"
    # Restart without the shim.
    t0=$(now_ms)
    start_node "$w" "$dir/follower.log"
    wait_api "$fapi" "$node_pid" ||
      fail "killed at boundary $N ($where), the follower does not start again"
    h=$(height "$fapi")
    [ "$h" -le "$H" ] || fail "run $N: follower at $h above the reference $H"
    blocks "$fapi" 0 "$h" >"$dir/got"
    head -n $((h + 1)) "$dir/ref" | cmp -s - "$dir/got" ||
      fail "killed at boundary $N ($where): blocks 0..$h are not the reference's"
    wait_synced || fail "run $N: the restarted follower died"
    ms=$(($(now_ms) - t0))
    [ "$ms" -gt "$max_ms" ] && max_ms=$ms
    blocks "$fapi" 0 "$H" | cmp -s - "$dir/ref" ||
      fail "killed at boundary $N ($where): the synced chain differs"
    stop_node "$node_pid"
    "$cairn" store verify --home "$w" --json >"$dir/verify.out" 2>&1 ||
      { cat "$dir/verify.out"; fail "killed at boundary $N ($where): store verify"; }
  done
  stop_node "$ref_pid"
  [ $((missed * 4)) -le "$runs" ] ||
    fail "$store: $missed of $runs boundaries never reached"
  echo "$store: $((runs - missed)) boundaries injected, $missed not reached" \
    "(timing), every restart consistent; slowest restart to synced ${max_ms} ms"
  summary="$summary $store:$((runs - missed))/$M"
  total_runs=$((total_runs + runs - missed))
  total_missed=$((total_missed + missed))
  rm -rf "$dir/pristine"
done
echo "fault-boundaries: $total_runs kills at boundaries ($summary ), $total_missed not reached, no data lost"
echo "1 passed, 0 failed"
