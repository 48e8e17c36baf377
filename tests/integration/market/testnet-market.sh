#!/bin/bash
# The market plugin on a real 4-validator PoS network (processes, TLS P2P),
# driven only by `cairn market` and curl: the platform creates a service
# whose package sits in node0's blob store; two app nodes fetch it from
# node0, verify it and serve it; they report usage, users rate; when the
# epoch completes an app node's automatic market.rank records the ranking
# (the first producer), the platform distributes the capped rewards once;
# vouchers are traded and swapped through an order; every node ends with
# the same ranking, the same balances and one state root.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-market-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0
fail() {
  echo "FAIL: $*"
  for log in "$net"/node*/node.log; do
    echo "--- $log"
    tail -20 "$log" || true
  done
  exit 1
}
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
for tool in jq curl sha256sum head; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

home() { echo "$net/node$1"; }
mkt() { # node args...
  local i=$1
  shift
  "$cairn" market --home "$(home "$i")" --timeout 60 "$@"
}
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
addr() { "$cairn" keys show "$2" --home "$(home "$1")" --json | jq -r .address; }
get() { curl -fsS "$(api "$1")$2"; }
wait_for() { # node path jq-filter
  for _ in $(seq 900); do
    get "$1" "$2" 2>/dev/null | jq -e "$3" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "last answer of $2 on node$1: $(get "$1" "$2" 2>&1 || true)"
  return 1
}
expect_refusal() { # what pattern node args...
  local what=$1 pattern=$2 i=$3
  shift 3
  set +e
  out=$(mkt "$i" "$@" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] && [[ "$out" == *"$pattern"* ]] ||
    fail "$what: rc $rc, want an error with '$pattern': $out"
}

"$cairn" testnet init --dir "$net" --validators 4 >/dev/null || fail "init"
for k in platform dev alice bob; do
  "$cairn" keys new "$k" --home "$(home 0)" >/dev/null
done
platform=$(addr 0 platform)
dev=$(addr 0 dev)
alice=$(addr 0 alice)
bob=$(addr 0 bob)
n1=$(addr 1 node)
n2=$(addr 2 node)
n3=$(addr 3 node)
# Roles and small epochs in genesis; alice holds some cairn for the order.
jq -S --arg p "$platform" --arg n1 "$n1" --arg n2 "$n2" --arg n3 "$n3" \
  --arg a "$alice" '
  .accounts += [{"address": $p, "roles": ["platform"]},
                {"address": $a, "balances": {"cairn": 1000}}]
  | .accounts |= map(if .address == $n1 or .address == $n2 or .address == $n3
                     then .roles = ((.roles // []) + ["app_node"]) else . end)
  | .app_state.market = {"epoch_blocks": 40, "initial_issuance": 10000,
                         "halving_epochs": 1, "supply_cap": 15000}' \
  "$(home 0)/genesis.json" >"$dir/genesis.json"
jq -e --arg n1 "$n1" '.accounts[] | select(.address == $n1) | .roles | index("app_node")' \
  "$dir/genesis.json" >/dev/null || fail "node1 is not a genesis account to give a role"
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$(home "$i")/genesis.json"
done
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
wait_for 0 /v1/market/params '.epoch_blocks == 40' || fail "market params"
pass "4 validators run market; node1, node2 and node3 are app nodes"

# ---- create: the package goes to node0's blob store ----
head -c 300000 /dev/urandom >"$dir/app.zip"
sha=$(sha256sum "$dir/app.zip" | cut -c1-64)
svc=$(mkt 0 create --from platform --developer dev --name "Kids Stories" \
  --category stories --version 1.0.0 --package "$dir/app.zip" 2>/dev/null) ||
  fail "create"
[[ "$svc" =~ ^[0-9a-f]{64}$ ]] || fail "create printed '$svc'"
for i in 0 1 2 3; do
  wait_for "$i" "/v1/market/services/$svc" \
    ".package_sha256 == \"$sha\" and .developer == \"$dev\"" ||
    fail "node$i does not see the service"
done
expect_refusal "create by a non-platform" "platform" 0 create --from dev \
  --developer dev --name X --category c --version 1 --package "$dir/app.zip"
pass "the platform created service $svc (package SHA-256 on chain)"

# ---- serve: app nodes fetch the package from node0 and verify it ----
api0=$(api 0)
for i in 1 2; do
  mkt "$i" serve "$svc" --source "$api0" >/dev/null 2>&1 ||
    fail "node$i serve"
  cid=$(get "$i" "/v1/market/services/$svc" | jq -r .package_cid)
  curl -fsS "$(api "$i")/v1/blobs/$cid" | sha256sum | grep -q "^$sha " ||
    fail "node$i does not hold the package"
done
wait_for 0 "/v1/market/services/$svc" '.nodes | length == 2' ||
  fail "two app nodes do not serve it"
expect_refusal "serve by a node without the role" "app_node" 0 serve "$svc" \
  --from node --source "$api0"
pass "node1 and node2 fetched and verified the package and serve it"

# ---- usage and ratings in one epoch ----
epoch=$(get 0 /v1/market/params | jq .epoch)
end=$(get 0 /v1/market/params | jq .epoch_end)
h=$(get 0 /v1/status | jq .height)
if [ $((end - h)) -lt 15 ]; then # too close to the boundary: next epoch
  wait_for 0 /v1/status ".height > $end" || fail "no blocks"
  epoch=$(get 0 /v1/market/params | jq .epoch)
fi
printf '{"period":%s,"records":[{"service":"%s","user":"%s","calls":12,"duration":300},{"service":"%s","user":"%s","calls":3,"duration":40}]}\n' \
  "$epoch" "$svc" "$alice" "$svc" "$bob" >"$dir/usage1.json"
mkt 1 usage --file "$dir/usage1.json" >/dev/null 2>&1 || fail "usage node1"
mkt 2 usage --service "$svc" --user "$alice" --calls 5 --duration 60 \
  --period "$epoch" >/dev/null 2>&1 || fail "usage node2"
expect_refusal "a duplicate report" "duplicate" 1 usage --file "$dir/usage1.json"
expect_refusal "usage from a node that does not serve" "does not serve" 3 \
  usage --service "$svc" --user "$alice" --calls 1 --period "$epoch"
mkt 0 rate "$svc" --from alice --rating 5 --text "great" >/dev/null 2>&1 ||
  fail "rate alice"
mkt 0 rate "$svc" --from bob --rating 3 >/dev/null 2>&1 || fail "rate bob"
expect_refusal "rating twice" "already rated" 0 rate "$svc" --from bob --rating 4
expect_refusal "rating 6" "at most 5" 0 rate "$svc" --from bob --rating 6
pass "usage from two app nodes and two ratings in epoch $epoch; refusals"

# ---- the epoch completes: an app node ranks it, first producer wins ----
for i in 0 1 2 3; do
  wait_for "$i" "/v1/market/epochs/$epoch" '.ranking.producer != null' ||
    fail "epoch $epoch not ranked on node$i"
done
producer=$(get 0 "/v1/market/epochs/$epoch" | jq -r .ranking.producer)
[ "$producer" = "$n1" ] || [ "$producer" = "$n2" ] || [ "$producer" = "$n3" ] ||
  fail "producer $producer is not an app node"
ranking=$(get 0 "/v1/market/epochs/$epoch" | jq -cS .ranking)
for i in 1 2 3; do
  [ "$(get "$i" "/v1/market/epochs/$epoch" | jq -cS .ranking)" = "$ranking" ] ||
    fail "node$i holds another ranking"
done
# Expected by the README's formula: prior 5 x 3000, ratings 5 + 3.
bayes=$(((5 * 3000 + 1000 * 8) / 7))
calls=20
weight=0
while [ $(((calls + 1) >> weight)) -gt 0 ]; do weight=$((weight + 1)); done
echo "$ranking" | jq -e --argjson s $((bayes * weight)) --argjson b "$bayes" \
  '.services[0].score == $s and .services[0].bayes_milli == $b
   and .services[0].calls == 20 and .services[0].duration == 400
   and (.nodes | map(.calls)) == [15, 5]' >/dev/null ||
  fail "ranking differs from the formula (bayes $bayes, weight $weight): $ranking"
expect_refusal "ranking an epoch twice" "already ranked" 1 rank "$epoch"
pass "epoch $epoch ranked by $producer, the same on all nodes and as the formula"

# ---- rewards, capped, once ----
out=$(mkt 0 distribute "$epoch" --from platform 2>&1) || fail "distribute: $out"
expect_refusal "distributing twice" "already distributed" 0 distribute \
  "$epoch" --from platform
rewards=$(get 0 "/v1/market/epochs/$epoch" | jq -c .rewards)
iss=$(echo "$rewards" | jq .issuance)
want=$((10000 >> epoch))
[ "$want" -gt 15000 ] && want=15000
[ "$iss" = "$want" ] || fail "issuance $iss, want $want"
# developers 50 %, users 25 % by calls (alice 17, bob 3), raters 15 %,
# producer 10 %; every pool has someone, so all of it is minted.
echo "$rewards" | jq -e --arg d "$dev" --arg a "$alice" --arg b "$bob" \
  --arg p "$producer" --argjson i "$iss" '
  .minted == $i and .developers[$d] == ($i * 5000 / 10000 | floor)
  and .users[$b] == ($i * 2500 / 10000 * 3 / 20 | floor)
  and .users[$a] == ($i * 2500 / 10000 - ($i * 2500 / 10000 * 3 / 20 | floor))
  and .producer[$p] == ($i * 1000 / 10000 | floor)' >/dev/null ||
  fail "rewards differ from the schedule: $rewards"
minted=$(get 0 /v1/market/supply | jq .minted)
[ "$minted" = "$iss" ] || fail "supply says $minted minted, want $iss"
pass "epoch $epoch rewards: $iss vouchers, split as the README says, paid once"

# ---- trading ----
bal() { get "$1" "/v1/bank/balances/$2" | jq ".balances.$3 // 0"; }
a0=$(bal 0 "$alice" voucher)
b0=$(bal 0 "$bob" voucher)
mkt 0 trade --from alice --to bob --amount 7 --memo thanks >/dev/null 2>&1 ||
  fail "trade"
expect_refusal "a trade over the balance" "insufficient" 0 trade --from bob \
  --to alice --amount 100000
expect_refusal "a zero trade" "" 0 trade --from bob --to alice --amount 0
order=$(mkt 0 order --from bob --sell 5voucher --buy 30cairn 2>/dev/null) ||
  fail "order"
[[ "$order" =~ ^[0-9a-f]{64}$ ]] || fail "order printed '$order'"
mkt 0 fill "$order" --from alice >/dev/null 2>&1 || fail "fill"
expect_refusal "filling a filled order" "filled" 0 fill "$order" --from alice
for i in 0 1 2 3; do
  wait_for "$i" "/v1/market/orders/$order" '.status == "filled"' ||
    fail "node$i: order not filled"
done
[ "$(bal 0 "$alice" voucher)" = $((a0 - 7 + 5)) ] || fail "alice's vouchers"
[ "$(bal 0 "$bob" voucher)" = $((b0 + 7 - 5)) ] || fail "bob's vouchers"
[ "$(bal 0 "$bob" cairn)" = 30 ] || fail "bob's cairn"
[ "$(bal 0 "$alice" cairn)" = 970 ] || fail "alice's cairn"
n=$(get 0 "/v1/market/trades/$alice" | jq '.trades | length')
[ "$n" = 2 ] || fail "alice has $n trades recorded, want 2"
pass "a voucher trade and an order swap move exact amounts; refusals"

# ---- one state everywhere ----
h=$(get 0 /v1/status | jq .height)
for i in 0 1 2 3; do
  wait_for "$i" /v1/status ".height >= $h" || fail "node$i stuck below $h"
done
roots=$(for i in 0 1 2 3; do
  "$cairn" query --home "$(home "$i")" block "$h" --json | jq -r .header.state_root
done | sort -u)
[ "$(echo "$roots" | wc -l)" -eq 1 ] || fail "state roots at $h differ: $roots"
pass "all 4 nodes hold state root $roots at height $h"
echo "$passed checks passed"
