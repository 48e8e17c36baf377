#!/bin/bash
# Four PoS validators as separate processes on loopback (TLS P2P, BFT
# rounds): txs sent to different nodes commit on all; one validator (less
# than 1/3 of the stake) killed with -9 under load does not stop the chain
# or lose a tx; restarted, it catches up; a fifth node joins from genesis
# and syncs; every node ends on the same head and state.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
. "$(dirname "$0")/lib.sh" # agree, fail, pass
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pos-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$cairn" testnet init --dir "$net" --validators 4 --nodes 5 >/dev/null ||
  fail "init"
# node4 (not a validator) joins later: hidden from testnet start till then.
mv "$net/node4" "$dir/node4"
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
agree 4 3 || fail "4 validators did not reach height 3 together"
api=$("$cairn" testnet status --dir "$net" --json | jq -r '.[0].api')
n=$(curl -fsS "$api/v1/pos/status" | jq '.validators | length')
[ "$n" -eq 4 ] || fail "/v1/pos/status lists $n validators, want 4"
curl -fsS "$api/v1/pos/status" | jq -e '.messages.accepted > 0' >/dev/null ||
  fail "/v1/pos/status shows no accepted consensus messages"
pass "4 PoS validators make blocks"

"$cairn" keys new bob --home "$net/node3" >/dev/null
bob=$("$cairn" keys show bob --home "$net/node3" --json | jq -r .address)
for i in 0 3; do
  "$cairn" tx send --home "$net/node$i" --from admin bank.transfer \
    "{\"to\":\"$bob\",\"denom\":\"cairn\",\"amount\":$((i + 5))}" --wait \
    --timeout 60 >/dev/null || fail "tx via node$i"
done
h=$("$cairn" query --home "$net/node0" status --json | jq .height)
agree 4 "$h" || fail "no agreement after the txs"
for i in 0 1 2 3; do
  got=$("$cairn" query --home "$net/node$i" balances "$bob" --json | jq '.balances.cairn')
  [ "$got" = 13 ] || fail "node$i sees balance $got, want 13"
done
pass "txs sent to different nodes commit on all"

# kill -9 of a validator while 2,000 txs stream in at 400 tx/s.
"$cairn" bench --home "$net/node1" --txs 2000 --accounts 16 --rate 400 --json \
  >"$dir/bench.out" 2>"$dir/bench.err" &
bench=$!
sleep 2
kill -9 "$(cat "$net/node2/node.pid")"
wait "$bench" || { cat "$dir/bench.err"; fail "bench under kill -9"; }
committed=$(tail -1 "$dir/bench.out" | jq .committed)
[ "$committed" = 2000 ] || fail "$committed of 2000 txs committed with node2 killed"
"$cairn" tx send --home "$net/node1" --from admin bank.transfer \
  "{\"to\":\"$bob\",\"denom\":\"cairn\",\"amount\":1}" --wait --timeout 60 \
  >/dev/null || fail "tx with one validator down"
h=$("$cairn" query --home "$net/node0" status --json | jq .height)
agree 3 "$h" || fail "3 of 4 validators did not go on"
pass "the chain goes on with one validator killed under load (2000/2000 txs)"

"$cairn" testnet start --dir "$net" >/dev/null || fail "restart node2"
h=$("$cairn" query --home "$net/node0" status --json | jq .height)
agree 4 $((h + 2)) || fail "node2 did not catch up"
got=$("$cairn" query --home "$net/node2" balances "$bob" --json | jq '.balances.cairn')
[ "$got" = 14 ] || fail "node2 sees balance $got after catch-up, want 14"
pass "the killed validator restarts, catches up and votes again"

mv "$dir/node4" "$net/node4"
"$cairn" testnet start --dir "$net" >/dev/null || fail "start node4"
h=$("$cairn" query --home "$net/node0" status --json | jq .height)
agree 5 $((h + 1)) || fail "node4 did not sync from genesis"
got=$("$cairn" query --home "$net/node4" balances "$bob" --json | jq '.balances.cairn')
[ "$got" = 14 ] || fail "node4 sees balance $got after syncing, want 14"
curl -fsS "$("$cairn" testnet status --dir "$net" --json | jq -r '.[4].api')/v1/pos/status" |
  jq -e '.engine' >/dev/null || fail "node4 has no pos engine status"
pass "a fifth node joins from genesis and syncs the whole chain"
"$cairn" testnet stop --dir "$net" >/dev/null || fail "stop"
echo "5 passed, 0 failed"
