#!/bin/bash
# A 3-node testnet as separate processes on loopback (real TLS P2P):
# a tx sent to a follower commits everywhere; a follower killed with -9
# restarts and catches up; all nodes end on the same head.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-testnet-XXXXXX")
cleanup() {
  "$cairn" testnet stop --dir "$dir/net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for log in "$dir"/net/node*/node.log; do
    echo "--- $log"
    tail -20 "$log" || true
  done
  exit 1
}
pass() { echo "PASS: $*"; }

# Same height and hash on every running node, within 60 s.
converged() {
  for _ in $(seq 600); do
    st=$("$cairn" testnet status --dir "$dir/net" --json)
    n=$(echo "$st" | jq '[.[] | select(.running)] | length')
    heads=$(echo "$st" | jq -r '[.[] | select(.running) | "\(.height) \(.hash)"] | unique | length')
    min=$(echo "$st" | jq '[.[] | select(.running) | .height] | min')
    if [ "$n" -eq "$1" ] && [ "$heads" -eq 1 ] && [ "$min" -ge "$2" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "$st"
  return 1
}

"$cairn" testnet init --dir "$dir/net" --nodes 3 >/dev/null || fail "init"
"$cairn" testnet init --dir "$dir/net" --nodes 3 >/dev/null 2>&1 &&
  fail "init over an existing testnet must be refused"
"$cairn" testnet init --dir "$dir/other" --nodes 2 --validators 3 >/dev/null 2>&1 &&
  fail "more validators than nodes must be refused"
pass "init"

"$cairn" testnet start --dir "$dir/net" >/dev/null || fail "start"
converged 3 0 || fail "nodes did not converge after start"
peers=$("$cairn" testnet status --dir "$dir/net" --json | jq '[.[].peers | length] | min')
[ "$peers" -eq 2 ] || fail "every node should see 2 peers, min is $peers"
pass "start: 3 nodes, full mesh"

home2="$dir/net/node2"
"$cairn" keys new bob --home "$home2" >/dev/null
bob=$("$cairn" keys show bob --home "$home2" --json | jq -r .address)
"$cairn" tx send --home "$home2" --from admin bank.transfer \
  "{\"to\":\"$bob\",\"denom\":\"cairn\",\"amount\":11}" --wait >/dev/null ||
  fail "tx via a follower"
converged 3 1 || fail "no convergence after the tx"
for i in 0 1 2; do
  got=$("$cairn" query --home "$dir/net/node$i" balances "$bob" --json |
    jq '.balances.cairn')
  [ "$got" = 11 ] || fail "node$i sees balance $got, want 11"
done
pass "a tx sent to a follower commits on every node"

kill -9 "$(cat "$dir/net/node1/node.pid")"
for k in 1 2 3; do
  "$cairn" tx send --home "$home2" --from admin bank.transfer \
    "{\"to\":\"$bob\",\"denom\":\"cairn\",\"amount\":$k}" --wait >/dev/null ||
    fail "tx while node1 is down"
done
converged 2 1 || fail "the two live nodes diverged"
"$cairn" testnet start --dir "$dir/net" >/dev/null || fail "restart node1"
converged 3 4 || fail "node1 did not catch up after kill -9"
got=$("$cairn" query --home "$dir/net/node1" balances "$bob" --json | jq '.balances.cairn')
[ "$got" = 17 ] || fail "node1 sees balance $got after catch-up, want 17"
pass "a follower killed with -9 restarts and catches up"

"$cairn" testnet stop --dir "$dir/net" >/dev/null || fail "stop"
running=$("$cairn" testnet status --dir "$dir/net" --json | jq '[.[] | select(.running)] | length')
[ "$running" -eq 0 ] || fail "$running nodes still running after stop"
pass "stop"
echo "4 passed, 0 failed"
