#!/bin/bash
# A PoS testnet of processes (validators node0..node2 run; node3's key is
# the hostile peer's, so it is a genesis validator whose 1/4 of the stake
# the honest 3/4 do without). The hostile peer and an HTTP flooder attack
# node0 from 127.0.0.2 (per-IP limits tell them from the honest nodes and
# clients on 127.0.0.1). During and after each attack: node0 keeps
# committing, an honest tx sent to it commits within a bound, /v1/status
# answers within a bound, the limit hit is counted in /metrics, node0 is
# the same process and its RSS stays bounded. See HOSTILE.md.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
peer=${HOSTILE_PEER:?HOSTILE_PEER must point at hostile-peer}
. "$(dirname "$0")/../integration/lib.sh" # agree, fail, pass
TX_BOUND_MS=${TX_BOUND_MS:-15000}
STATUS_BOUND_S=${STATUS_BOUND_S:-2}
RSS_BOUND_KB=${RSS_BOUND_KB:-600000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-hostile-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

# 127.0.0.2 must be usable as a source address (Linux routes 127/8 to lo).
rc=0
curl -s -o /dev/null --interface 127.0.0.2 -m 2 http://127.0.0.1:1/ || rc=$?
if [ "$rc" -eq 45 ]; then
  echo "SKIP: cannot use 127.0.0.2 as a source address here"
  exit 77
fi

"$cairn" testnet init --dir "$net" --validators 4 >/dev/null || fail "init"
mv "$net/node3" "$dir/node3" # its key is the hostile peer's
cat >"$net/node0/conf.d/95-hostile.conf" <<'EOF'
# Tight limits for tests/reliability/hostile.sh.
[p2p]
max_inbound_per_ip = 8
handshake_timeout_ms = 1500
frame_timeout_ms = 1500
rate_frames_per_second = 300
rate_burst_frames = 600
[http]
max_connections_per_ip = 16
max_body_bytes = 1MiB
requests_per_second_per_ip = 100
requests_burst_per_ip = 200
rate_limit_exempt_loopback = false
request_timeout_ms = 1500
[mempool]
max_txs_per_sender = 4
EOF
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
agree 3 2 || fail "3 validators did not reach height 2 together"
st=$("$cairn" testnet status --dir "$net" --json)
api=$(jq -r '.[0].api' <<<"$st")
pid=$(cat "$net/node0/node.pid")
p2p=$(grep -h '^listen' "$net/node0/conf.d/90-testnet.conf" | sed -n 2p |
  sed 's/.*= *//')
chain=$(jq -r .chain_id "$net/node0/genesis.json")
hkey="$dir/node3/keys/node.pem"
"$cairn" keys new bob --home "$net/node0" >/dev/null
bob=$("$cairn" keys show bob --home "$net/node0" --json | jq -r .address)
pass "testnet up: node0 api $api p2p $p2p (pid $pid)"

height() { curl -fsS -m "$STATUS_BOUND_S" "$api/v1/status" | jq .height; }
metric() { # metric NAME{labels} -> value (0 if absent)
  curl -fsS -m "$STATUS_BOUND_S" "$api/metrics" |
    awk -v m="$1" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }'
}
now_ms() { date +%s%3N; }
sent=0
# The honest checks, run while an attack goes on and after it.
honest() {
  local what=$1 t0 t1 h0 h1 rss
  [ "$(cat "$net/node0/node.pid")" = "$pid" ] && kill -0 "$pid" 2>/dev/null ||
    fail "$what: node0 is not the same process any more"
  t0=$(now_ms)
  h0=$(height) || fail "$what: /v1/status did not answer in ${STATUS_BOUND_S}s"
  t1=$(now_ms)
  status_ms=$((t1 - t0))
  sent=$((sent + 1))
  t0=$(now_ms)
  "$cairn" tx send --home "$net/node0" --from admin bank.transfer \
    "{\"to\":\"$bob\",\"denom\":\"cairn\",\"amount\":1}" --wait \
    --timeout $((TX_BOUND_MS / 1000)) >/dev/null ||
    fail "$what: an honest tx did not commit within ${TX_BOUND_MS} ms"
  t1=$(now_ms)
  tx_ms=$((t1 - t0))
  h1=$(height) || fail "$what: /v1/status did not answer"
  [ "$h1" -gt "$h0" ] || fail "$what: node0 did not commit ($h0 -> $h1)"
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
  [ "$rss" -lt "$RSS_BOUND_KB" ] ||
    fail "$what: node0 RSS $rss kB over $RSS_BOUND_KB kB"
  echo "  $what: tx ${tx_ms} ms, status ${status_ms} ms, height $h0 -> $h1, rss ${rss} kB"
}
# attack NAME COUNTER-METRIC HOSTILE-ARGS...: run the peer in the
# background, check node0 while it runs and after; the counter must grow.
attack() {
  local name=$1 m=$2 before after
  shift 2
  before=$(metric "$m")
  "$peer" --connect "$p2p" --key "$hkey" --chain-id "$chain" --bind 127.0.0.2 \
    "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  local hp=$!
  honest "$name (during)"
  wait "$hp" || { cat "$dir/$name.err"; fail "$name: hostile-peer failed"; }
  honest "$name (after)"
  after=$(metric "$m")
  awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > b) }' ||
    fail "$name: $m did not grow ($before -> $after)"
  pass "$name: $(cat "$dir/$name.out") $m $before -> $after"
}

h=$(height)
attack garbage-pre cairn_p2p_handshakes_refused_total --mode garbage-pre --hold 2
attack garbage-post cairn_p2p_frames_refused_total --mode garbage-post --hold 2
attack oversized 'cairn_p2p_rejected_total{reason="oversized_frame"}' \
  --mode oversized --hold 2
attack stall 'cairn_p2p_rejected_total{reason="frame_timeout"}' --mode stall \
  --hold 4
attack flood 'cairn_p2p_rejected_total{reason="rate_limited"}' --mode flood \
  --height "$(height)" --count 20000 --hold 1
attack equivocate 'cairn_pos_messages_total{outcome="evidence"}' \
  --mode equivocate --height "$(height)" --count 8 --hold 2
# The double sign went on chain: node3 is slashed and jailed, as seen by
# another honest node.
api1=$(jq -r '.[1].api' <<<"$st")
running=$(for i in 0 1 2; do
  curl -fsS "$(jq -r ".[$i].api" <<<"$st")/v1/status" | jq -r .node
done)
h3=$(jq -r '.validators[].address' "$net/node0/genesis.json" |
  grep -vxF "$running")
[ "$(wc -w <<<"$h3")" -eq 1 ] || fail "cannot tell node3's id ($h3)"
jailed=false
for _ in $(seq 150); do
  v=$(curl -fsS "$api1/v1/pos/validators/$h3" 2>/dev/null || true)
  if [ "$(jq -r '.jailed // false' <<<"$v" 2>/dev/null)" = true ]; then
    jailed=true
    break
  fi
  sleep 0.1
done
[ "$jailed" = true ] || fail "equivocate: node3 ($h3) not jailed on node1: $v"
pass "equivocate: node3 slashed $(jq .slashed <<<"$v") and jailed until $(jq .jailed_until <<<"$v")"

attack replay 'cairn_p2p_rejected_total{reason="per_ip"}' --mode replay \
  --count 40 --hold 2
attack slowloris 'cairn_p2p_rejected_total{reason="handshake_timeout"}' \
  --mode slowloris --count 40 --hold 2

# HTTP: a flood of requests from 127.0.0.2 (one curl, kept-alive).
before=$(metric 'cairn_http_rejected_total{reason="rate_limited"}')
urls=()
for _ in $(seq 3000); do urls+=(-o /dev/null "$api/v1/status"); done
curl -s --interface 127.0.0.2 -w '%{http_code}\n' "${urls[@]}" \
  >"$dir/flood.codes" &
fl=$!
honest "http-flood (during)"
wait "$fl" || true
honest "http-flood (after)"
n429=$(grep -c '^429$' "$dir/flood.codes" || true)
n200=$(grep -c '^200$' "$dir/flood.codes" || true)
[ "$n429" -gt 0 ] || fail "http-flood: no 429 in $(wc -l <"$dir/flood.codes") answers"
after=$(metric 'cairn_http_rejected_total{reason="rate_limited"}')
[ "$after" -gt "$before" ] || fail "http-flood: rate_limited did not grow"
curl -s --interface 127.0.0.2 -D "$dir/flood.headers" "${urls[@]:0:1200}" ||
  true
grep -qi '^retry-after: [0-9]' "$dir/flood.headers" ||
  fail "http-flood: 429 without Retry-After"
pass "http-flood: $n200 answered, $n429 refused with 429 (rate_limited $before -> $after)"

# HTTP: slowloris from 127.0.0.2 (half headers, then silence).
before=$(metric 'cairn_http_rejected_total{reason="timeout"}')
before_ip=$(metric 'cairn_http_rejected_total{reason="per_ip"}')
sleep 1 # let the flood's bucket refill a little
"$peer" --connect "${api#http://}" --key "$hkey" --bind 127.0.0.2 \
  --mode http-slowloris --count 40 --hold 2 >"$dir/hs.out" 2>"$dir/hs.err" &
hs=$!
honest "http-slowloris (during)"
wait "$hs" || fail "http-slowloris: hostile-peer failed"
honest "http-slowloris (after)"
after=$(metric 'cairn_http_rejected_total{reason="timeout"}')
after_ip=$(metric 'cairn_http_rejected_total{reason="per_ip"}')
[ "$after" -gt "$before" ] || fail "http-slowloris: timeout did not grow"
[ "$after_ip" -gt "$before_ip" ] || fail "http-slowloris: per_ip did not grow"
pass "http-slowloris: $(cat "$dir/hs.out") timeout $before -> $after, per_ip $before_ip -> $after_ip"

# HTTP: a body over [http] max_body_bytes.
code=$(head -c 2000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary @- "$api/v1/txs")
[ "$code" = 413 ] || fail "a 2 MB body got $code, want 413"
[ "$(metric 'cairn_http_rejected_total{reason="body_too_large"}')" -gt 0 ] ||
  fail "body_too_large not counted"
pass "a body over max_body_bytes is refused (413) and counted"

# Every limit shows in /metrics with its configured value.
m=$(curl -fsS "$api/metrics")
for l in 'cairn_p2p_limit{limit="max_inbound_per_ip"} 8' \
  'cairn_p2p_limit{limit="handshake_timeout_ms"} 1500' \
  'cairn_p2p_limit{limit="rate_frames_per_second"} 300' \
  'cairn_http_limit{limit="requests_per_second_per_ip"} 100' \
  'cairn_http_limit{limit="max_body_bytes"} 1048576' \
  'cairn_mempool_limit{limit="max_txs_per_sender"} 4'; do
  grep -qxF "$l" <<<"$m" || fail "/metrics lacks '$l'"
done
pass "the limits are in /metrics"

# node1 runs the defaults: they are the values conf/cairn.conf documents
# (its commented '#key = value' lines under [http], [p2p], [mempool]).
conf=${CAIRN_SOURCE_ROOT:?}/conf/cairn.conf
m1=$(curl -fsS "$(jq -r '.[1].api' <<<"$st")/metrics")
n=0
while read -r group key value; do
  case $value in
  *GiB) value=$((${value%GiB} << 30)) ;;
  *MiB) value=$((${value%MiB} << 20)) ;;
  *KiB) value=$((${value%KiB} << 10)) ;;
  true | false) continue ;;
  esac
  line="cairn_${group}_limit{limit=\"$key\"}"
  grep -qxF "$line $value" <<<"$m1" ||
    fail "conf/cairn.conf documents [$group] $key = $value, node1 runs: $(grep -F "$line" <<<"$m1")"
  n=$((n + 1))
done < <(awk '/^\[/ { g = substr($0, 2, length($0) - 2) }
  /^#[a-z_]+ = / && (g == "http" || g == "p2p" || g == "mempool") {
    sub(/^#/, ""); print g, $1, $3 }' "$conf")
[ "$n" -ge 15 ] || fail "only $n documented limits found in $conf"
pass "the $n limits conf/cairn.conf documents are node1's defaults"

# One sender cannot fill the mempool: txs of admin 10 nonces ahead (never
# executable, so they stay pending) are taken up to max_txs_per_sender,
# the next is refused with sender_limit. Last: admin's slots stay taken.
next=$(curl -fsS "$api/v1/accounts/$("$cairn" keys show admin --home "$net/node0" \
  --json | jq -r .address)" | jq '.next_nonce // .nonce')
for i in 0 1 2 3 4 5; do
  rc=0
  "$cairn" tx send --home "$net/node0" --from admin --nonce $((next + 10 + i)) \
    bank.transfer '{"to":"0000000000000000000000000000000000000001","denom":"cairn","amount":1}' \
    >"$dir/ps.out" 2>&1 || rc=$?
  if [ "$i" -lt 4 ]; then
    [ "$rc" -eq 0 ] || { cat "$dir/ps.out"; fail "pending tx $i of admin refused"; }
  else
    [ "$rc" -ne 0 ] && grep -q sender_limit "$dir/ps.out" ||
      { cat "$dir/ps.out"; fail "tx $i of admin not refused with sender_limit"; }
  fi
done
[ "$(metric 'cairn_txs_rejected_total{reason="sender_limit"}')" -ge 2 ] ||
  fail "sender_limit refusals not counted"
pass "max_txs_per_sender: 4 pending txs of one sender taken, the next 2 refused (sender_limit)"

# Clients that leave: 40 connections, each closed by its client after one
# answer, must not stay open in node0 (libsoup left them in CLOSE_WAIT,
# an fd each, for good) beyond request_timeout_ms.
port=${api##*:}
for _ in $(seq 40); do curl -fsS -o /dev/null "$api/v1/status"; done
sleep 2.5
hexport=$(printf '%04X' "$port")
cw=$(awk -v p=":$hexport" '$2 ~ p"$" && $4 == "08"' /proc/net/tcp | wc -l)
[ "$cw" -eq 0 ] || fail "$cw API connections of gone clients still in CLOSE_WAIT"
open=$(metric cairn_http_connections)
[ "$open" -le 2 ] || fail "$open API connections counted open, want <= 2"
fds=$(ls "/proc/$pid/fd" | wc -l)
pass "clients that left hold nothing (CLOSE_WAIT 0, $open counted open, $fds fds)"

h2=$(height)
agree 3 "$h2" || fail "the honest nodes disagree after the attacks"
got=$("$cairn" query --home "$net/node1" balances "$bob" --json | jq '.balances.cairn')
[ "$got" = "$sent" ] || fail "bob has $got on node1, want $sent"
pass "after every attack: node0 (pid $pid) committed $h -> $h2, all $sent honest txs on every node"

# A clean stop; under ASan a node's leak or error report would be in its log.
"$cairn" testnet stop --dir "$net" >/dev/null || fail "stop"
if grep -l 'Sanitizer' "$net"/node*/node.log; then
  fail "a sanitizer reported in a node's log"
fi
pass "clean stop, no sanitizer report"
