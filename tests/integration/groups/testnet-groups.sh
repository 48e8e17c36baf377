#!/bin/bash
# The groups plugin on a real 5-node PoS network (4 validators + 1 node,
# separate processes, TLS P2P), driven by `cairn group` and curl.
#
# A group of 3 (initiator node0, receiver node4, regulator node1) shares an
# activity. node0 and node4 have no direct link, so the envelope reaches
# node4 through relays: non-members forward ciphertext and keep nothing.
# The 3 members read and verify it; node2 and node3 hold only the
# commitment and cannot read it; a member that was down catches up; a
# member added later cannot read earlier versions, a removed one cannot
# read later ones; bad input is refused; all nodes end on one state root.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-groups-XXXXXX")
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
for tool in jq curl cmp head; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

home() { echo "$net/node$1"; }
grp() { # node args...
  local i=$1
  shift
  "$cairn" group --home "$(home "$i")" --timeout 60 "$@"
}
addr() { "$cairn" keys show node --home "$(home "$1")" --json | jq -r .address; }
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
# Wait until jq filter $3 holds for GET $2 on node $1.
wait_for() {
  local url
  url="$(api "$1")$2"
  for _ in $(seq 600); do
    curl -fsS "$url" 2>/dev/null | jq -e "$3" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "last answer of $url: $(curl -sS "$url" || true)"
  return 1
}
held() { # node group version -> "true"/"false"
  curl -fsS "$(api "$1")/v1/groups/$2" |
    jq -r ".versions[] | select(.version == $3) | .held"
}

"$cairn" testnet init --dir "$net" --validators 4 --nodes 5 >/dev/null ||
  fail "init"
for i in 0 1 2 3 4; do
  a[i]=$(addr "$i")
done
# A small payload limit so the test can exceed it; the same genesis
# everywhere.
jq -S '.app_state.groups = {"max_payload_bytes": 65536}' \
  "$(home 0)/genesis.json" >"$dir/genesis.json"
for i in 0 1 2 3 4; do
  cp "$dir/genesis.json" "$(home "$i")/genesis.json"
  # groups is loaded by default (conf.d/50-groups.conf); ask faster.
  printf '[groups]\nsync_interval_ms = 300\n' \
    >"$(home "$i")/conf.d/95-groups-test.conf"
done
# No link between node0 and node4: neither dials the other.
sed -i "s/${a[4]}@127.0.0.1:[0-9]*;\?//; s/;\$//" \
  "$(home 0)/conf.d/90-testnet.conf"
sed -i "s/${a[0]}@127.0.0.1:[0-9]*;\?//; s/;\$//" \
  "$(home 4)/conf.d/90-testnet.conf"
grep -q "${a[4]}@" "$(home 0)/conf.d/90-testnet.conf" &&
  fail "node0 still dials node4"
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
for i in 0 1 2 3 4; do
  wait_for "$i" /v1/groups/node '.registered' ||
    fail "node$i did not register its encryption key"
done
peers0=$(curl -fsS "$(api 0)/v1/status" | jq -c '.peers // [] | map(.id // .)')
echo "$peers0" | jq -e --arg n4 "${a[4]}" 'index($n4) == null' >/dev/null ||
  fail "node0 is linked to node4: $peers0"
pass "5 nodes run groups (a default plugin) and registered their keys; node0-node4 unlinked"

"$cairn" tx send --home "$(home 0)" --from admin --wait --timeout 60 \
  core.grant_role "{\"address\":\"${a[1]}\",\"role\":\"regulator\"}" \
  >/dev/null || fail "grant regulator"
g=$(grp 0 create --activity trade.order --receiver "${a[4]}" \
  --regulator "${a[1]}" 2>/dev/null) || fail "create"
[[ "$g" =~ ^[0-9a-f]{64}$ ]] || fail "create printed '$g', not a group id"
for i in 0 1 2 3 4; do
  wait_for "$i" "/v1/groups/$g" '.members | length == 3' ||
    fail "node$i does not see the group"
done
pass "group $g created with 3 members, visible on every node"

# ---- version 1: relayed to node4, kept by members only ----
head -c 40000 /dev/urandom >"$dir/v1.bin"
grp 0 publish "$g" --file "$dir/v1.bin" >/dev/null || fail "publish"
for i in 0 1 4; do
  wait_for "$i" "/v1/groups/$g" '.versions[0].held' ||
    fail "member node$i did not get version 1"
done
for i in 0 1 4; do
  grp "$i" show "$g" 1 --out "$dir/v1.node$i" 2>/dev/null ||
    fail "node$i cannot read version 1"
  cmp -s "$dir/v1.bin" "$dir/v1.node$i" ||
    fail "node$i decrypted other bytes"
done
pass "the initiator, receiver and regulator hold and decrypt version 1"

relayed=0
for i in 1 2 3; do
  r=$(curl -fsS "$(api "$i")/v1/groups/node" | jq .relayed)
  relayed=$((relayed + r))
done
[ "$relayed" -gt 0 ] || fail "nothing was relayed to node4"
for i in 2 3; do
  curl -fsS "$(api "$i")/v1/groups/node" | jq -e '.stored == 0' >/dev/null ||
    fail "non-member node$i stored an envelope"
  [ "$(held "$i" "$g" 1)" = false ] || fail "node$i holds version 1"
  curl -fsS "$(api "$i")/v1/groups/$g" |
    jq -e '.versions[0].commitment | test("^[0-9a-f]{64}$")' >/dev/null ||
    fail "node$i does not see the commitment"
  # Its own node refuses it, and so does a member's node.
  for via in "$i" 0; do
    set +e
    out=$("$cairn" group --home "$(home "$i")" --node "$(api "$via")" \
      show "$g" 1 --out "$dir/x" 2>&1)
    rc=$?
    set -e
    [ $rc -ne 0 ] && [[ "$out" == *"not a recipient"* ]] ||
      fail "node$i reading via node$via: rc $rc: $out"
    [ ! -e "$dir/x" ] || fail "node$i got plaintext"
  done
done
metrics=$(curl -fsS "$(api 2)/metrics")
[[ "$metrics" == *$'\ncairn_groups_relayed_total '* ]] || fail "no relay metric"
pass "node2 and node3 relayed ($relayed messages) but hold only the commitment and are refused"

# ---- a member that was down catches up ----
kill "$(cat "$(home 1)/node.pid")"
sleep 1
printf '{"order":"v2","qty":12}\n' >"$dir/v2.json"
grp 0 update "$g" --file "$dir/v2.json" >/dev/null || fail "update with node1 down"
wait_for 4 "/v1/groups/$g" '.versions[1].held' || fail "node4 did not get v2"
"$cairn" testnet start --dir "$net" >/dev/null || fail "restart node1"
wait_for 1 "/v1/groups/$g" '.versions[1].held' ||
  fail "node1 did not fetch v2 after its restart"
grp 1 show "$g" 2 --out "$dir/v2.node1" 2>/dev/null || fail "node1 reads v2"
cmp -s "$dir/v2.json" "$dir/v2.node1" || fail "node1 decrypted other bytes"
pass "node1, down while v2 was published, fetched it from the members"

# ---- membership: added members read from then on, removed ones stop ----
grp 0 members "$g" --add "${a[2]}" >/dev/null || fail "add node2"
printf 'v3 for four members\n' >"$dir/v3.txt"
grp 4 update "$g" --file "$dir/v3.txt" >/dev/null || fail "receiver's update"
wait_for 2 "/v1/groups/$g" '.versions[2].held' || fail "node2 did not get v3"
grp 2 show "$g" 3 --out "$dir/v3.node2" 2>/dev/null || fail "node2 reads v3"
cmp -s "$dir/v3.txt" "$dir/v3.node2" || fail "node2 decrypted other bytes"
if grp 2 show "$g" 1 --node "$(api 0)" --out "$dir/x" 2>/dev/null; then
  fail "node2, added after v1, read v1"
fi
grp 0 members "$g" --remove "${a[4]}" >/dev/null || fail "remove node4"
printf 'v4 without node4\n' >"$dir/v4.txt"
grp 0 update "$g" --file "$dir/v4.txt" >/dev/null || fail "update v4"
for i in 0 1 2; do
  wait_for "$i" "/v1/groups/$g" '.versions[3].held' || fail "node$i lacks v4"
done
sleep 1
[ "$(held 4 "$g" 4)" = false ] || fail "removed node4 holds v4"
curl -fsS "$(api 0)/v1/groups/$g" |
  jq -e --arg n4 "${a[4]}" '.versions[3].recipients | index($n4) == null' \
    >/dev/null || fail "v4 is wrapped for node4"
set +e
out=$(grp 4 show "$g" 4 --node "$(api 0)" --out "$dir/x" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && [[ "$out" == *"not a recipient"* ]] ||
  fail "removed node4 reading v4: rc $rc: $out"
grp 4 show "$g" 2 --out "$dir/v2.node4" 2>/dev/null || fail "node4 reads v2"
cmp -s "$dir/v2.json" "$dir/v2.node4" || fail "node4 v2 differs"
pass "an added member reads only later versions; a removed one only earlier"

# ---- bad input: clear errors, no state change ----
expect_refusal() { # node what pattern args...
  local i=$1 what=$2 pattern=$3
  shift 3
  set +e
  out=$(grp "$i" "$@" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] && [[ "$out" == *"$pattern"* ]] ||
    fail "$what: rc $rc, want an error with '$pattern': $out"
}
expect_refusal 3 "a non-member's update" "not a member" \
  update "$g" --file "$dir/v4.txt"
head -c 70000 /dev/urandom >"$dir/big.bin"
expect_refusal 0 "an oversized payload" "max_payload_bytes" \
  update "$g" --file "$dir/big.bin"
expect_refusal 0 "an unknown group" "unknown group" \
  show "$(printf '%064d' 7)"
ver=$(curl -fsS "$(api 0)/v1/groups/$g" | jq .version)
[ "$ver" = 4 ] || fail "the group is at version $ver after refusals, want 4"
grp 1 close "$g" >/dev/null || fail "the regulator closes the group"
expect_refusal 0 "an update after close" "closed" \
  update "$g" --file "$dir/v4.txt"
pass "non-member, oversized, unknown group and closed group are refused"

# ---- one state everywhere ----
h=$(curl -fsS "$(api 0)/v1/status" | jq .height)
for i in 0 1 2 3 4; do
  wait_for "$i" /v1/status ".height >= $h" || fail "node$i stuck below $h"
done
roots=$(for i in 0 1 2 3 4; do
  "$cairn" query --home "$(home "$i")" block "$h" --json | jq -r .header.state_root
done | sort -u)
[ "$(echo "$roots" | wc -l)" -eq 1 ] && [[ "$roots" =~ ^[0-9a-f]{64}$ ]] ||
  fail "state roots at height $h differ: $roots"
pass "all 5 nodes hold state root $roots at height $h"

echo "$passed checks passed"
