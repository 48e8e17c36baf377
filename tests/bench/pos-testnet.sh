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
# 3. catch-up: a fifth node started from genesis after the chain has
#    grown (block_interval_ms = 0, so thousands of small blocks) replays
#    them; blocks/s from its start to reaching the validators' height.
set -euo pipefail
cairn=$(realpath "${1:-build/core/cairn}")
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-posbench-XXXXXX")
net="$dir/net"
trap '"$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

height() { curl -fsS "$1/v1/status" | jq .height; }
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
quiet() { sed -i 's/^log_level = .*/log_level = warning/' "$net"/node*/conf.d/00-profile.conf; }

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

echo "== catch-up of a new node from genesis"
"$cairn" testnet stop --dir "$net" >/dev/null
sed -i 's/^block_interval_ms = .*/block_interval_ms = 0/' "$net"/node*/conf.d/30-pos.conf
"$cairn" testnet start --dir "$net" >/dev/null
sleep "${CATCHUP_GROW_S:-40}"
# Freeze the validators so the target does not move while node4 replays.
for i in 0 1 2 3; do kill -STOP "$(cat "$net/node$i/node.pid")"; done
target=$(height "$(api 0)") || true
for i in 0 1 2 3; do kill -CONT "$(cat "$net/node$i/node.pid")"; done
mv "$dir/node4" "$net/node4"
quiet
t0=$(date +%s.%N)
"$cairn" testnet start --dir "$net" >/dev/null
u=$(api 4)
until h=$(height "$u" 2>/dev/null) && [ "$h" -ge "$target" ]; do sleep 0.02; done
t1=$(date +%s.%N)
awk -v n="$target" -v t0="$t0" -v t1="$t1" \
  'BEGIN { printf "{\"blocks\":%d,\"seconds\":%.2f,\"blocks_per_s\":%.0f}\n", n, t1 - t0, n / (t1 - t0) }'
