#!/bin/bash
# The explorer plugin's HTTP side on a 4-validator PoS testnet (processes):
# the web files it serves, its /v1/explorer/... routes (search, block by
# hash, an account's txs, stats, panels) against the core's own answers,
# pos's commit and signing routes, the list routes the app plugins' panels
# use, and the index rebuilt from the stored blocks after a restart.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-explorer-api-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0
fail() {
  echo "FAIL: $*"
  tail -20 "$net/node0/node.log" || true
  exit 1
}
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
for tool in jq curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
home() { echo "$net/node$1"; }
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
get() { curl -fsS "$(api "$1")$2"; }
code() { curl -s --path-as-is -o "$dir/body" -w '%{http_code} %{content_type}' "$(api "$1")$2"; }

"$cairn" testnet init --dir "$net" --validators 4 --chain-id explore >/dev/null
"$cairn" testnet start --dir "$net" >/dev/null
for i in 0 1 2 3; do
  until curl -fs "$(api "$i")/v1/status" >/dev/null; do sleep 0.1; done
done
until [ "$(get 0 /v1/status | jq .height)" -ge 3 ]; do sleep 0.2; done

# ---- the web files ---------------------------------------------------------
r=$(code 0 /explorer/)
[ "${r%% *}" = 200 ] && [[ "$r" == *text/html* ]] && grep -qi "<html" "$dir/body" ||
  fail "/explorer/: $r"
for f in $(grep -o '\(src\|href\)="[^"#:]*"' "$dir/body" | sed 's/.*="\(.*\)"/\1/' | sort -u); do
  path=${f#./}
  case "$path" in /*) url=$path ;; *) url=/explorer/$path ;; esac
  r=$(code 0 "$url")
  [ "${r%% *}" = 200 ] || fail "$url, named by index.html: $r"
done
r=$(code 0 /explorer)
[ "${r%% *}" = 200 ] && grep -q 'url=/explorer/' "$dir/body" || fail "/explorer: $r"
for bad in /explorer/no-such-file.js /explorer/%2e%2e%2fcairn.conf /explorer/..%2f..%2fcairn.conf; do
  r=$(code 0 "$bad")
  case "${r%% *}" in 400 | 404) ;; *) fail "$bad: $r $(cat "$dir/body")" ;; esac
done
if grep -rqE 'https?://' "$dir/body"; then
  grep -oE 'https?://[^"'"'"' )]*' "$dir/body" | grep -vq '^http://www.w3.org' &&
    fail "index.html names an external URL"
fi
pass "the web files: index.html and every file it names (200), unknown or escaping paths refused"

# ---- search, by hash, account txs ----------------------------------------------
to=$("$cairn" keys new dest --home "$(home 0)" --json | jq -r .address)
from=$("$cairn" keys show admin --home "$(home 0)" --json | jq -r .address)
out=$("$cairn" tx send --home "$(home 0)" --from admin bank.transfer \
  "{\"to\":\"$to\",\"denom\":\"cairn\",\"amount\":5}" --wait --json) || fail "transfer: $out"
txid=$(jq -r .id <<<"$out")
h=$(jq .height <<<"$out")
hash=$(get 0 "/v1/blocks/$h" | jq -r .hash)
search() { get 0 "/v1/explorer/search?q=$1" | jq -c '[.matches[] | .kind + ":" + .id]'; }
deadline=$((SECONDS + 20))
until [ "$(search "$hash")" = "[\"block:$h\"]" ]; do
  [ $SECONDS -lt $deadline ] || fail "search by block hash: $(search "$hash")"
  sleep 0.2
done
[ "$(search "$h")" = "[\"block:$h\"]" ] || fail "search by height: $(search "$h")"
[ "$(search "$txid")" = "[\"tx:$txid\"]" ] || fail "search by tx id: $(search "$txid")"
[ "$(search "${txid^^}")" = "[\"tx:$txid\"]" ] || fail "search by upper-case tx id: $(search "${txid^^}")"
[ "$(search "$to")" = "[\"account:$to\"]" ] || fail "search by address: $(search "$to")"
[ "$(search "hello%20world")" = "[]" ] || fail "search for junk: $(search "hello%20world")"
[ "$(search 99999999)" = "[]" ] || fail "search for a future height: $(search 99999999)"
cid=$(printf 'explorer test blob' | curl -fsS -X POST --data-binary @- "$(api 0)/v1/blobs" | jq -r .cid)
[ "$(search "$cid")" = "[\"cid:$cid\"]" ] || fail "search by CID: $(search "$cid")"
[ "$(get 0 "/v1/explorer/blocks/by-hash/$hash" | jq .height)" = "$h" ] || fail "by-hash"
r=$(code 0 "/v1/explorer/blocks/by-hash/$(printf '%064d' 0)")
[ "${r%% *}" = 404 ] || fail "unknown hash: $r"
r=$(code 0 /v1/blocks/99999999)
[ "${r%% *}" = 404 ] && ! grep -q "$net" "$dir/body" || fail "a missing block names the data dir: $(cat "$dir/body")"
r=$(code 0 "/v1/explorer/blocks/by-hash/xyz")
[ "${r%% *}" = 400 ] || fail "malformed hash: $r"
[ "$(get 0 "/v1/explorer/accounts/$from/txs" | jq -c --arg t "$txid" '[.txs[] | select(.id == $t) | .role]')" = '["sender"]' ] ||
  fail "sender's txs: $(get 0 "/v1/explorer/accounts/$from/txs")"
[ "$(get 0 "/v1/explorer/accounts/$to/txs" | jq -c '[.txs[] | .id + ":" + .role + ":" + .type]')" = "[\"$txid:recipient:bank.transfer\"]" ] ||
  fail "recipient's txs: $(get 0 "/v1/explorer/accounts/$to/txs")"
r=$(code 0 "/v1/explorer/accounts/$to/txs?limit=0")
[ "${r%% *}" = 400 ] || fail "limit 0: $r"
pass "search (height, hash, tx id in any case, address, CID, junk, future height), by-hash, account txs"

# ---- stats, panels ----------------------------------------------------------------
st=$(get 0 /v1/explorer/stats)
[ "$(jq -r .chain_id <<<"$st")" = explore ] && [ "$(jq '.tps | length' <<<"$st")" = 60 ] &&
  [ "$(jq .height <<<"$st")" -ge "$h" ] && [ "$(jq .peers <<<"$st")" = 3 ] || fail "stats: $st"
[ "$(jq '[.tps[].txs] | add' <<<"$st")" -ge 1 ] || fail "no tx counted in the last minute: $st"
panels=$(get 0 /v1/explorer/panels | jq -c '[.panels[] | .plugin + "/" + .id] | sort')
[ "$panels" = '["groups/commitments","im/network","market/apps","metering/settlements"]' ] ||
  fail "panels: $panels"
for route in $(get 0 /v1/explorer/panels | jq -r '.panels[].route'); do
  get 0 "$route" | jq -e 'if type == "array" then true else ([.[] | arrays] | length > 0) end' >/dev/null ||
    fail "panel route $route does not answer a list"
done
pass "stats (chain id, height, peers, tx/s over 60 s) and the four app panels, whose routes answer lists"

# ---- pos commits and signing ------------------------------------------------------
c=$(get 0 "/v1/pos/commits/$h")
[ "$(jq '.validators | length' <<<"$c")" = 4 ] &&
  [ $((3 * $(jq .signed_power <<<"$c"))) -gt $((2 * $(jq .total_power <<<"$c"))) ] &&
  [ "$(jq -r .proposer <<<"$c")" = "$(get 0 "/v1/blocks/$h" | jq -r .header.proposer)" ] ||
  fail "commit of $h: $c"
r=$(code 0 /v1/pos/commits/0)
[ "${r%% *}" = 404 ] || fail "commit of genesis: $r"
s=$(get 0 "/v1/pos/signing?last=20")
[ "$(jq '.validators | length' <<<"$s")" = 4 ] &&
  [ "$(jq '[.validators[].proposed] | add' <<<"$s")" = "$(jq .blocks <<<"$s")" ] || fail "signing: $s"
r=$(code 0 "/v1/pos/signing?last=1001")
[ "${r%% *}" = 400 ] || fail "signing over 1000 blocks: $r"
pass "pos: a commit's signers and power, proposed/signed/missed over the last blocks"

# ---- the index after a restart ------------------------------------------------------
kill "$(cat "$(home 0)/node.pid")"
sleep 1
"$cairn" testnet start --dir "$net" >/dev/null
until curl -fs "$(api 0)/v1/status" >/dev/null; do sleep 0.1; done
deadline=$((SECONDS + 20))
until [ "$(search "$hash")" = "[\"block:$h\"]" ]; do
  [ $SECONDS -lt $deadline ] || fail "after a restart, search by hash: $(search "$hash")"
  sleep 0.2
done
[ "$(get 0 "/v1/explorer/accounts/$to/txs" | jq '.txs | length')" = 1 ] || fail "account txs after restart"
pass "after a restart the index is rebuilt from the stored blocks"
echo "explorer-api: $passed checks passed"
