#!/bin/bash
# cairn bench as the load generator: its own pos network of 1 and 2
# validators (--txs, then --duration at a --rate, open loop over several
# connections), single-tx submission (--batch 1), --mix, --tx-size (memo
# padding to an exact size), --fill (state grown first; on its own network
# and on a running node), driving a running node (--target), SIGINT
# cleanup, and bad input refused with a clear error.
# Asserts on the final JSON line: every accepted tx committed, per-type
# counts, nothing rejected, RSS and CPU per node present and positive.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
. "$(dirname "$0")/lib.sh" # fail, pass
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-test-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/tmp"

# bench ARGS...: run with TMPDIR=$dir/tmp; the JSON line in $dir/out.json.
bench() {
  TMPDIR="$dir/tmp" "$cairn" bench "$@" --json >"$dir/out" 2>"$dir/err" </dev/null ||
    { cat "$dir/err"; fail "cairn bench $*: exit $?"; }
  tail -n 1 "$dir/out" >"$dir/out.json"
  [ -z "$(ls -A "$dir/tmp")" ] || fail "bench $* left files: $(ls "$dir/tmp")"
}
check() { # check JQ-EXPR MSG: the JSON line satisfies it
  jq -e "$1" "$dir/out.json" >/dev/null || fail "$2: $(cat "$dir/out.json")"
}
# Every accepted tx committed, none rejected, per-type counts add up, each
# node's CPU and RSS known.
check_common() {
  check '.rejected == 0 and .rejected_by_reason == {}' "rejections"
  check '.accepted == .offered and .committed == .accepted' "not all committed"
  check '([.by_type[].committed] | add) == .committed' "per-type committed"
  check '[.by_type[] | .offered == .committed and .rejected == 0] | all' \
    "per-type counts"
  check '.rss_mib > 0 and .rss_start_mib > 0 and .rss_end_mib > 0
    and (.rss_growth_mib | type) == "number"
    and (.rss_anon_growth_mib | type) == "number" and .cpu_s > 0
    and .offered_tps > 0 and .bench_rss_mib > 0' "rss/cpu fields"
  check '[.nodes[] | .rss_mib > 0 and .cpu_s > 0 and .rss_samples >= 1
    and .startup_ms > 0] | all' "per-node stats"
  check '.committed_tps > 0 and .p50_ms > 0 and .p99_ms >= .p50_ms
    and .startup_ms > 0 and .signing_cpu_s > 0' "figures"
}

bench --validators 1 --txs 2000
check_common
check '.validators == 1 and (.nodes | length) == 1 and .committed == 2000
  and .connections == 4 and .batch == 500 and .latency_from == "send"' \
  "1 validator, 2000 txs"
pass "1 pos validator: 2000 txs committed, $(jq .committed_tps "$dir/out.json") tx/s"

bench --validators 2 --duration 5 --rate 500
check_common
check '.validators == 2 and (.nodes | length) == 2 and .offered >= 2400
  and .offered <= 2501 and .latency_from == "scheduled" and .rate == 500
  and .duration_limit_s == 5' "2 validators, 5 s at 500 tx/s"
check '[.nodes[] | .rss_samples >= 3] | all' "RSS sampled once a second"
pass "2 pos validators: $(jq .committed "$dir/out.json") txs in 5 s at 500 tx/s, open loop"

# Every supported type of --mix, one tx per request, all load on node0.
# The setup (providers, im registrations and settings) commits first; the
# first txs of each type are looked up: they succeeded on chain.
bench --validators 1 --txs 500 --accounts 6 --connections 3 --batch 1 \
  --submit-to 0 --mix bank.transfer=2,services.publish=1,im.send=1,market.usage=1
check_common
check '.mix == {"bank.transfer": 2, "services.publish": 1, "im.send": 1,
    "market.usage": 1}
  and .batch == 1 and .connections == 3
  and .by_type["bank.transfer"].committed >= 180
  and .by_type["bank.transfer"].committed <= 220
  and .by_type["services.publish"].committed >= 90
  and .by_type["im.send"].committed >= 90
  and .by_type["market.usage"].committed >= 90' "mix proportions, --batch 1"
check '[.by_type[] | .checked == 8 and .failed == 0] | all' \
  "sampled results of the mix"
pass "--mix with every supported type (bank.transfer, services.publish, im.send, market.usage), --batch 1"

# --tx-size: every signed tx exactly 4096 bytes (the bench fails a tx that
# is not); --fill first grows the state by 1000 keys, all committed.
bench --validators 1 --txs 1000 --tx-size 4096 --fill 1000
check_common
check '.committed == 1000 and .tx_bytes == 4096 and .tx_size == 4096
  and (.mb_per_s - .committed_tps * 4096 / 1e6 | fabs) < 0.01' "--tx-size 4096"
check '.fill_keys == 1000 and .fill_start == 0 and .fill_tps > 0
  and .fill_s > 0 and .fill_rss_mib > 0' "--fill 1000 on its own network"
pass "--tx-size 4096: $(jq .committed "$dir/out.json") txs of $(jq .tx_bytes "$dir/out.json") bytes committed, $(jq .mb_per_s "$dir/out.json") MB/s; --fill 1000 at $(jq .fill_tps "$dir/out.json") tx/s"

# A running node: pos with one validator from the CLI; bench --target.
"$cairn" testnet init --dir "$net" --nodes 1 --validators 1 --consensus pos \
  --chain-id benchtest >/dev/null || fail "testnet init --consensus pos"
grep -q 'load = pos' "$net/node0/conf.d/30-pos.conf" || fail "node0 is not pos"
"$cairn" testnet start --dir "$net" >/dev/null || fail "testnet start"
api=$("$cairn" testnet status --dir "$net" --json | jq -r '.[0].api')
TMPDIR="$dir/tmp" "$cairn" bench --target "$api" --from "$net/node0/keys/admin.pem" \
  --txs 500 --accounts 4 --json >"$dir/out" 2>"$dir/err" </dev/null ||
  { cat "$dir/err"; fail "bench --target"; }
tail -n 1 "$dir/out" >"$dir/out.json"
check '.committed == 500 and .rejected == 0 and .validators == null
  and .rss_mib == null and .nodes == []' "bench --target"
pass "bench --target drives a running pos node (testnet --consensus pos, 1 validator)"

# --fill on the running node: 2000 fresh accounts (fill keys 100..2099,
# address = SHA-256("cairn bench fill I")[:20]) hold 1 each afterwards;
# key 2100 was not made. Then --tx-size on it (senders at nonces > 0).
fill_addr() { printf 'cairn bench fill %d' "$1" | sha256sum | cut -c1-40; }
balance() { curl -sf "$api/v1/bank/balances/$1" | jq '.balances.cairn // 0'; }
TMPDIR="$dir/tmp" "$cairn" bench --target "$api" --from "$net/node0/keys/admin.pem" \
  --txs 300 --accounts 8 --fill 2000 --fill-start 100 --tx-size 1024 --json \
  >"$dir/out" 2>"$dir/err" </dev/null ||
  { cat "$dir/err"; fail "bench --target --fill"; }
tail -n 1 "$dir/out" >"$dir/out.json"
check '.committed == 300 and .rejected == 0 and .fill_keys == 2000
  and .fill_start == 100 and .fill_tps > 0 and .fill_rss_mib == null
  and .tx_bytes == 1024' "bench --target --fill 2000 --tx-size 1024"
for i in 100 1100 2099; do
  [ "$(balance "$(fill_addr $i)")" = 1 ] || fail "fill key $i ($(fill_addr $i)) has $(balance "$(fill_addr $i)"), not 1"
done
[ "$(balance "$(fill_addr 2100)")" = 0 ] || fail "fill key 2100 exists"
grep -q "filled 2000 keys" "$dir/err" || fail "no fill progress: $(cat "$dir/err")"
"$cairn" testnet stop --dir "$net" >/dev/null
pass "bench --target --fill 2000: fresh accounts hold 1 each ($(jq .fill_tps "$dir/out.json") tx/s); --tx-size 1024 at nonces > 0"

# SIGINT: the network and the temp dir go away, the exit is non-zero.
TMPDIR="$dir/tmp" "$cairn" bench --validators 2 --duration 60 --rate 200 \
  >"$dir/out" 2>"$dir/err" </dev/null &
pid=$!
for _ in $(seq 1 300); do
  grep -q "submitting" "$dir/err" && break
  sleep 0.1
done
grep -q "submitting" "$dir/err" || { cat "$dir/err"; fail "bench did not start"; }
homes=$(ls -d "$dir"/tmp/*/net/node* | tr '\n' ' ')
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -ne 0 ] || fail "bench exited 0 after SIGINT"
[ -z "$(ls -A "$dir/tmp")" ] || fail "SIGINT left files: $(ls "$dir/tmp")"
for h in $homes; do
  ! pgrep -f "node --home $h" >/dev/null || fail "a node of $h still runs"
done
pass "SIGINT stops the network and removes it (exit $rc)"

# Bad input: a clear error and a non-zero exit, before any node starts.
refuse() { # refuse PATTERN ARGS...
  local pattern=$1 rc=0
  shift
  TMPDIR="$dir/tmp" "$cairn" bench "$@" >"$dir/out" 2>"$dir/err" </dev/null || rc=$?
  [ "$rc" -ne 0 ] || fail "bench $* exited 0"
  grep -q -- "$pattern" "$dir/err" || fail "bench $*: no '$pattern' in: $(cat "$dir/err")"
}
refuse "unknown tx type 'bank.mint'" --mix bank.mint=1
refuse "weight of bank.transfer must be an integer" --mix bank.transfer=0
refuse "weight of bank.transfer must be an integer" --mix bank.transfer=ten
refuse "is not TYPE=WEIGHT" --mix bank.transfer
refuse "given twice" --mix bank.transfer=1,bank.transfer=2
refuse "not yet: metering.prove" --mix bank.transfer=1,metering.prove=1
refuse "not yet: services.feedback" --mix services.feedback=1
refuse "add up to 10001, more than 10000" --mix bank.transfer=10000,im.send=1
refuse "needs the bench's own network" --mix market.usage=1 --target http://127.0.0.1:1 --from x.pem
refuse "im.send needs --accounts and --txs of at least 2" --mix im.send=1 --accounts 1
refuse "validators must be 1..16" --validators 0
refuse "cannot go with --home or --target" --validators 2 --target http://127.0.0.1:1 --from x.pem
refuse "submit-to must be 0..1" --validators 2 --submit-to 2
refuse "tx-size pads bank.transfer's memo, so it takes only" --tx-size 1024 --mix bank.transfer=1,im.send=1
refuse "tx-size 100 is smaller than a bank.transfer of this run: 400 bytes unpadded, 41[0-9] bytes with the (empty) memo" --tx-size 100
refuse "tx-size 17000 is more than fits in bank.transfer's memo limit of 16384 bytes: at most 16794 bytes" --tx-size 17000
refuse "over the node's default \[http\] max_body_bytes" --tx-size 40000
refuse "fill out of range" --fill -1
refuse "connections out of range" --connections 0
[ -z "$(ls -A "$dir/tmp")" ] || fail "refused runs left files"
rc=0
"$cairn" testnet init --dir "$dir/solo" --validators 2 --consensus solo \
  >/dev/null 2>"$dir/err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "solo has one validator" "$dir/err" ||
  fail "testnet init --consensus solo --validators 2: exit $rc, $(cat "$dir/err")"
pass "bad input refused with a clear error"
