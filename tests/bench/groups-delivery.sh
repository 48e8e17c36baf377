#!/bin/bash
# Benchmark of groups delivery (issue 5's numbers): a 4-validator PoS
# testnet (processes, TLS P2P) with a group of 3 (initiator node0, receiver
# node2, regulator node1); node0 publishes VERSIONS (default 10) versions of
# SIZE_KIB (default 1024) KiB each with `cairn group update`.
# Not a test: it prints measurements.
#
#   tests/bench/groups-delivery.sh [CAIRN_BIN]      (default build/core/cairn)
#
# Prints, per version and as medians: the CLI's time (seal, tx to commit,
# upload) and the time from the upload's answer until both other members
# hold the version (verified against the chain and stored), and the
# members' decryption time through `cairn group show`.
set -euo pipefail
cairn=$(realpath "${1:-build/core/cairn}")
versions=${VERSIONS:-10}
size_kib=${SIZE_KIB:-1024}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-grpbench-XXXXXX")
net=$dir/net
trap '"$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT

"$cairn" testnet init --dir "$net" --validators 4 >/dev/null
jq -S '.app_state.groups = {"max_payload_bytes": 3145728}' \
  "$net/node0/genesis.json" >"$dir/genesis.json"
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$net/node$i/genesis.json"
  sed -i 's/^log_level = .*/log_level = warning/' \
    "$net/node$i/conf.d/00-profile.conf"
  printf '[groups]\nsync_interval_ms = 200\n' >"$net/node$i/conf.d/95-bench.conf"
done
"$cairn" testnet start --dir "$net" >/dev/null
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
addr() { "$cairn" keys show node --home "$net/node$1" --json | jq -r .address; }
for i in 0 1 2; do
  until curl -fs "$(api "$i")/v1/groups/node" | jq -e .registered >/dev/null; do
    sleep 0.1
  done
done
"$cairn" tx send --home "$net/node0" --from admin --wait --timeout 60 \
  core.grant_role "{\"address\":\"$(addr 1)\",\"role\":\"regulator\"}" >/dev/null
g=$("$cairn" group create --home "$net/node0" --activity bench.load \
  --receiver "$(addr 2)" --regulator "$(addr 1)" 2>/dev/null)
api1=$(api 1)
api2=$(api 2)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$dir/cli"
: >"$dir/deliver"
: >"$dir/open"
for v in $(seq "$versions"); do
  head -c $((size_kib << 10)) /dev/urandom >"$dir/payload"
  cmd=update
  [ "$v" = 1 ] && cmd=publish
  t0=$(now)
  "$cairn" group "$cmd" "$g" --home "$net/node0" --file "$dir/payload" \
    --timeout 60 >/dev/null
  t1=$(now)
  q=".versions[] | select(.version == $v) | .held"
  until curl -fs "$api1/v1/groups/$g" | jq -e "$q" >/dev/null &&
    curl -fs "$api2/v1/groups/$g" | jq -e "$q" >/dev/null; do
    sleep 0.005
  done
  t2=$(now)
  "$cairn" group show "$g" "$v" --home "$net/node2" --out "$dir/out" \
    >/dev/null 2>&1
  t3=$(now)
  cmp -s "$dir/payload" "$dir/out" || { echo "version $v differs"; exit 1; }
  awk "BEGIN {print $t1 - $t0}" >>"$dir/cli"
  awk "BEGIN {print $t2 - $t1}" >>"$dir/deliver"
  awk "BEGIN {print $t3 - $t2}" >>"$dir/open"
  printf 'version %2d: publish %.3f s, delivered to 2 members %.3f s later, read+decrypt %.3f s\n' \
    "$v" "$(tail -1 "$dir/cli")" "$(tail -1 "$dir/deliver")" "$(tail -1 "$dir/open")"
done
printf 'median of %d versions of %d KiB: publish %.3f s, delivery %.3f s, read %.3f s\n' \
  "$versions" "$size_kib" "$(median <"$dir/cli")" "$(median <"$dir/deliver")" \
  "$(median <"$dir/open")"
