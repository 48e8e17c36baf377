#!/bin/bash
# Benchmark of im messaging on a 4-validator proof-of-stake testnet on
# loopback (the im issue's numbers: at least 1,000 messages/s recorded,
# delivery under 2 s at that load). Not a test: it prints measurements.
#
#   tests/bench/im-testnet.sh [CAIRN_BIN] [IM_BENCH_BIN]
#       (default build/core/cairn and build/tests/bench/im-bench)
#
# A fresh 4-validator testnet (`cairn testnet init --validators 4`) whose
# node0 key holds the role im_registrar in genesis, with log_level =
# warning, [blob-fs] sync = false and [block] max_bytes = BLOCK_MAX_BYTES
# (default 3MiB, see below) on every node. For each offered rate in RATES
# (default "800 1200 0"; 0 = as fast as the nodes take them) im-bench
# registers USERS (default 200) new users at node0, lets them accept
# strangers, pre-signs MESSAGES (default 30000) im.send txs (user i -> user
# i+1) and submits them in batches of BATCH (default 200) spread over the
# four nodes, open loop; it times each message from submit to its commit
# (block events of node1) and to its record on the recipient's inbox
# stream (GET /v1/im/stream/{addr} on node1, SAMPLE (default 50) sampled
# recipients). Printed per rate: im-bench's report (committed and recorded
# messages/s, delivery and commit latency p50/p90/p99, rejections, block
# sizes), the CPU seconds each node used during the run (setup included),
# each node's block execution and commit time per committed tx (from
# /metrics), and the machine's load average (the nodes share its cores
# with the load generator and anything else running).
# Each rate runs on the same chain, with new users. KEEP=1 keeps the
# testnet's directory (node logs) and prints where it is.
set -euo pipefail
cairn=$(realpath "${1:-build/core/cairn}")
bench=$(realpath "${2:-build/tests/bench/im-bench}")
rates=${RATES:-800 1200 0}
users=${USERS:-200}
messages=${MESSAGES:-30000}
batch=${BATCH:-200}
sample=${SAMPLE:-50}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-imbench-XXXXXX")
net=$dir/net
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

"$cairn" testnet init --dir "$net" --validators 4 --chain-id imbench >/dev/null
registrar=$("$cairn" keys show node --home "$net/node0" --json | jq -r .address)
jq -S --arg a "$registrar" \
  '.accounts |= map(if .address == $a then .roles = ((.roles // []) + ["im_registrar"] | unique) else . end)' \
  "$net/node0/genesis.json" >"$dir/genesis.json"
jq -e --arg a "$registrar" \
  '.accounts[] | select(.address == $a) | .roles | index("im_registrar")' \
  "$dir/genesis.json" >/dev/null
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$net/node$i/genesis.json"
  sed -i 's/^log_level = .*/log_level = warning/' \
    "$net/node$i/conf.d/00-profile.conf"
  # [block] max_bytes: with the default 8 MiB a proposal outgrows the
  # 4 MiB P2P frame (CAIRN_P2P_MAX_FRAME) once the mempool holds more than
  # ~5,000 im.send txs (~760 bytes each); the proposer's sends then fail
  # every round and the chain stops for good. 3 MiB is ~4,100 messages.
  printf '[blob-fs]\nsync = false\n\n[block]\nmax_bytes = %s\n' \
    "${BLOCK_MAX_BYTES:-3MiB}" >"$net/node$i/conf.d/95-bench.conf"
done
"$cairn" testnet start --dir "$net" >/dev/null
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
urls=()
for i in 0 1 2 3; do
  u=$(api "$i")
  until curl -fs "$u/v1/status" >/dev/null; do sleep 0.1; done
  urls+=("$u")
done
# Until the validators make blocks.
until [ "$(curl -fs "${urls[0]}/v1/status" | jq .height)" -ge 2 ]; do
  sleep 0.2
done

pids() { for i in 0 1 2 3; do cat "$net/node$i/node.pid"; done; }
# "exec_s commit_s committed_txs" of node $1 from its /metrics.
metrics() {
  curl -fsS "${urls[$1]}/metrics" | awk '
    $1 == "cairn_block_exec_seconds_total" { e = $2 }
    $1 == "cairn_block_commit_seconds_total" { c = $2 }
    $1 == "cairn_txs_committed_total" { t = $2 }
    END { print e + 0, c + 0, t + 0 }'
}
# utime + stime of a process in seconds.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

echo "== im on 4 validators: $users users, $messages messages, batch $batch, $sample sampled recipient streams on node1"
for rate in $rates; do
  echo "-- offered rate: $([ "$rate" = 0 ] && echo "as fast as possible" || echo "$rate msg/s")"
  mapfile -t ps < <(pids)
  before=()
  mbefore=()
  for k in 0 1 2 3; do
    before+=("$(cpu "${ps[$k]}")")
    mbefore+=("$(metrics "$k")")
  done
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  args=()
  for u in "${urls[@]}"; do args+=(--node "$u"); done
  "$bench" "${args[@]}" --stream-node "${urls[1]}" --users "$users" \
    --messages "$messages" --rate "$rate" --batch "$batch" \
    --sample "$sample" --json 2>&1 | tee "$dir/out"
  t1=$(date +%s.%N)
  line=""
  for k in 0 1 2 3; do
    line+=$(awk -v a="${before[$k]}" -v b="$(cpu "${ps[$k]}")" -v n="$k" \
      'BEGIN { printf "node%d %.1f s  ", n, b - a }')
  done
  echo "  node CPU    $line(wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, setup included)"
  # Main-loop time per committed tx: executing blocks (building or
  # validating) and committing them.
  line=""
  for k in 0 1 2 3; do
    line+=$(echo "${mbefore[$k]} $(metrics "$k")" | awk -v n="$k" '{
      t = $6 - $3; if (t < 1) t = 1
      printf "node%d exec %.2f commit %.2f  ", n, 1000 * ($4 - $1) / t, 1000 * ($5 - $2) / t }')
  done
  echo "  ms per tx   $line"
  echo "  machine     load average $load0 before, $(cut -d' ' -f1 /proc/loadavg) after, $(nproc) CPUs"
  tail -1 "$dir/out" | jq -c --argjson rate "$rate" \
    '{offered: (if $rate == 0 then "max" else $rate end), committed_mps, recorded_mps, p50_ms, p90_ms, p99_ms, rejected}'
done
