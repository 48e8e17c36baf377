#!/bin/bash
# Benchmark of a 4-validator proof-of-stake testnet on loopback (issue 3's
# numbers). Not a test: it prints measurements.
#
#   tests/bench/pos-testnet.sh [CAIRN_BIN]        (default build/core/cairn)
#
# 1. throughput and latency: `cairn bench` offers 2,000 tx/s (30,000 signed
#    bank.transfer txs from 64 accounts) to node0, then as fast as the
#    nodes take them; committed tx/s and submit-to-final latency;
# 2. empty blocks: heights made in 10 s with block_interval_ms = 200;
# 3. catch-up: a fifth node started from genesis replays the chain while
#    the validators go on at 200 ms; blocks/s (and txs/s) from its start
#    to the height the validators had when it started. Once on the chain
#    above (it holds the bench's 60,000 txs), once on a fresh chain grown
#    for CATCHUP_GROW_S seconds (default 40) with block_interval_ms = 0:
#    thousands of small blocks.
set -euo pipefail
cairn=$(realpath "${1:-build/core/cairn}")
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-posbench-XXXXXX")
net="$dir/net"
trap 'for n in "$net" "$dir/net2"; do "$cairn" testnet stop --dir "$n" >/dev/null 2>&1 || true; done; rm -rf "$dir"' EXIT

height() { curl -fsS "$1/v1/status" | jq .height; }
api() { "$cairn" testnet status --dir "${2:-$net}" --json | jq -r ".[$1].api"; }
quiet() { sed -i 's/^log_level = .*/log_level = warning/' "${1:-$net}"/node*/conf.d/00-profile.conf; }

"$cairn" testnet init --dir "$net" --validators 4 --nodes 5 --chain-id bench >/dev/null
quiet
mv "$net/node4" "$dir/node4"
"$cairn" testnet start --dir "$net" >/dev/null
sleep 2

echo "== throughput, 4 validators (node0 takes the load)"
for rate in 2000 0; do
  "$cairn" bench --home "$net/node0" --txs 30000 --rate $rate --json 2>/dev/null |
    tail -1 | jq -c --argjson rate $rate \
      '{offered_tps: (if $rate == 0 then "max" else $rate end), committed_tps, p50_ms, p90_ms, p99_ms, rejected}'
done

echo "== empty blocks with block_interval_ms = 200"
h0=$(height "$(api 0)"); sleep 10; h1=$(height "$(api 0)")
echo "{\"blocks_in_10s\":$((h1 - h0)),\"mean_interval_ms\":$((10000 / (h1 - h0 > 0 ? h1 - h0 : 1)))}"

# Start the held-back node4 of $1 and time it from start to the height
# the validators had then.
catch_up() {
  local net=$1 target t0 t1 u h txs i
  # A restarted validator re-indexes its recent blocks for the explorer
  # first; let that finish so it does not compete with the catch-up.
  for i in 0 1 2 3; do
    for _ in $(seq 300); do
      [ "$(curl -fsS "$(api $i "$net")/v1/explorer/stats" | jq .caught_up)" = true ] && break
      sleep 0.1
    done
  done
  target=$(height "$(api 0 "$net")")
  mv "$dir/node4" "$net/node4"
  quiet "$net"
  t0=$(date +%s.%N)
  "$cairn" testnet start --dir "$net" >/dev/null
  u=$(api 4 "$net")
  until h=$(height "$u" 2>/dev/null) && [ "$h" -ge "$target" ]; do sleep 0.02; done
  t1=$(date +%s.%N)
  txs=$(curl -fsS "$u/metrics" | sed -n 's/^cairn_txs_committed_total //p')
  awk -v n="$target" -v x="${txs:-0}" -v t0="$t0" -v t1="$t1" 'BEGIN {
    printf "{\"blocks\":%d,\"txs\":%d,\"seconds\":%.2f,\"blocks_per_s\":%.0f,\"txs_per_s\":%.0f}\n",
      n, x, t1 - t0, n / (t1 - t0), x / (t1 - t0) }'
}

echo "== catch-up of a new node from genesis: the chain above (blocks with the bench's txs)"
catch_up "$net"
"$cairn" testnet stop --dir "$net" >/dev/null
mv "$net/node4" "$dir/node4.old"

echo "== catch-up of a new node from genesis: small blocks"
net2="$dir/net2"
"$cairn" testnet init --dir "$net2" --validators 4 --nodes 5 --chain-id bench2 >/dev/null
quiet "$net2"
mv "$net2/node4" "$dir/node4"
sed -i 's/^block_interval_ms = .*/block_interval_ms = 0/' "$net2"/node*/conf.d/30-pos.conf
"$cairn" testnet start --dir "$net2" >/dev/null
sleep "${CATCHUP_GROW_S:-40}"
# Back to 200 ms blocks, so node4 replays while the chain goes on at a
# normal pace rather than competing with four nodes at full speed.
"$cairn" testnet stop --dir "$net2" >/dev/null
sed -i 's/^block_interval_ms = .*/block_interval_ms = 200/' "$net2"/node*/conf.d/30-pos.conf
"$cairn" testnet start --dir "$net2" >/dev/null
catch_up "$net2"
