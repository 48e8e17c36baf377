#!/bin/bash
# Benchmark of the services gateway (issue 4's numbers): one node with the
# default plugins; a provider publishes a generated video of SIZE_MIB
# (default 1024) MiB; a paying user's query key streams it back decrypted.
# Not a test: it prints measurements.
#
#   tests/bench/services-gateway.sh [CAIRN_BIN]      (default build/core/cairn)
#
# Prints: publish time (encrypt + upload + store + tx), decrypted stream
# MB/s (whole file, curl to /dev/null), 200 random 64 KiB range reads/s,
# and the node's peak RSS after streaming.
set -euo pipefail
cairn=$(realpath "${1:-build/core/cairn}")
size_mib=${SIZE_MIB:-1024}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-gwbench-XXXXXX")
home=$dir/home
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

"$cairn" init --home "$home" --chain-id gwbench >/dev/null
sed -i 's/^log_level = .*/log_level = warning/' "$home/conf.d/00-profile.conf"
port=$((RANDOM % 20000 + 30000))
printf '[http]\nlisten = 127.0.0.1:%s\n' "$port" >"$home/conf.d/99-bench.conf"
"$cairn" node --home "$home" >"$dir/node.log" 2>&1 &
pid=$!
until curl -fs "http://127.0.0.1:$port/v1/status" >/dev/null; do sleep 0.1; done

for k in provider user; do "$cairn" keys new "$k" --home "$home" >/dev/null; done
addr() { "$cairn" keys show "$1" --home "$home" --json | jq -r .address; }
admin=$(addr admin)
tx() { "$cairn" tx send --home "$home" --wait "$@" >/dev/null; }
tx --from admin core.grant_role "{\"address\":\"$admin\",\"role\":\"platform\"}"
tx --from admin services.register_provider "{\"address\":\"$(addr provider)\",\"name\":\"bench\"}"
tx --from admin bank.transfer "{\"to\":\"$(addr user)\",\"denom\":\"cairn\",\"amount\":100}"

head -c $((size_mib << 20)) /dev/urandom >"$dir/video"
svc() { "$cairn" services --home "$home" "$@"; }
t0=$(date +%s.%N)
id=$(svc publish --from provider --video "$dir/video" --place bench --type bench \
  --price 1 --denom cairn --json | jq -r .service)
t1=$(date +%s.%N)
rm -f "$dir/video" # the node has its own (encrypted) copy
svc entitle "$id" --from user >/dev/null
url=$(svc key "$id" --from user --json | jq -r .video_url)

speed=$(curl -fsS -o /dev/null -w '%{speed_download}' "$url")
size=$((size_mib << 20))
t2=$(date +%s.%N)
for _ in $(seq 200); do
  off=$(((RANDOM * 32768 + RANDOM) % (size - 65536)))
  curl -fsS -o /dev/null -r "$off-$((off + 65535))" "$url"
done
t3=$(date +%s.%N)
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
awk -v mib="$size_mib" -v p="$(echo "$t1 $t0" | awk '{ print $1 - $2 }')" \
  -v s="$speed" -v r="$(echo "$t3 $t2" | awk '{ print $1 - $2 }')" -v hwm="$hwm" 'BEGIN {
  printf "{\"video_mib\":%d,\"publish_s\":%.2f,\"stream_mb_s\":%.0f,\"range_reads_per_s\":%.0f,\"node_peak_rss_mib\":%.1f}\n",
    mib, p, s / 1e6, 200 / r, hwm / 1024 }'
