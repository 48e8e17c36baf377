#!/bin/bash
# The im plugin on a real 4-validator PoS network (separate processes, TLS
# P2P), driven by `cairn im` (plus curl, jq and openssl to inspect and to
# craft what the CLI would never send). Every node key holds im_registrar.
#
# a. alice (node0) and bob (node1) register, bind, accept and exchange
#    texts both ways, byte for byte;
# b. a 50 MB attachment from alice reaches bob: node1 fetches the
#    ciphertext from node0 over P2P, bob decrypts the same bytes;
# c. node2's operator sees no plaintext: not in the chain records, not in
#    any file of node2's or node0's home (the ciphertext store), not in the
#    content node2 fetches; bob's command with node2's home fails, and a
#    third user (carol on node2) cannot open it ("not a recipient");
# d. kill -9 of node0 between an upload and im.send leaves no record;
#    the next send adds exactly one;
# e. with node3 down, 5 texts commit and bob reads them; node3 catches up;
# h. `cairn im chat` on both sides: a line of alice's shows at bob's
#    within 2 s;
# g. bad input: a taken name, an unknown user, a non-contact, a replayed
#    message, a CID that does not resolve or does not match;
# f. unbind stops delivery;
# i. all nodes end on one state root.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-im-XXXXXX")
net="$dir/net"
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
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
for tool in jq curl cmp head openssl od sha256sum mkfifo; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

home() { echo "$net/node$1"; }
im() { # node args...
  local i=$1
  shift
  "$cairn" im --home "$(home "$i")" --timeout 60 "$@"
}
api() { "$cairn" testnet status --dir "$net" --json | jq -r ".[$1].api"; }
get() { curl -fsS "$(api "$1")$2"; }
# Wait until jq filter $3 holds for GET $2 on node $1.
wait_for() {
  for _ in $(seq 900); do
    get "$1" "$2" 2>/dev/null | jq -e "$3" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "last answer of $2 on node$1: $(get "$1" "$2" 2>&1 || true)"
  return 1
}
# Run a command that must fail: $out its output, $rc its exit code.
run_fail() { # what pattern cmd...
  local what=$1 pattern=$2
  shift 2
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] && [[ "$out" == *"$pattern"* ]] ||
    fail "$what: rc $rc, want an error with '$pattern': $out"
}
last() { # node address -> the newest seq of its inbox
  get "$1" "/v1/im/inbox/$2?limit=1" | jq -r .last
}
# A POST with the status code appended after a space.
post() { curl -sS -XPOST "$1" -d "$2" -w ' %{http_code}'; }
# Ed25519 signature (hex) of DOMAIN\0TEXT with a PEM key, as the node
# verifies it (cairn_key_sign).
sign() { # domain text pem
  { printf '%s\0' "$1"; printf '%s' "$2"; } >"$dir/msg.bin"
  openssl pkeyutl -sign -inkey "$3" -rawin -in "$dir/msg.bin" >"$dir/sig.bin"
  od -An -tx1 -v "$dir/sig.bin" | tr -d ' \n'
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# A signed im.send body: msgbody PEM TO CID SHA SIZE STORE [TIMESTAMP]
msgbody() {
  local b
  b=$(jq -cSn --arg to "$2" --arg cid "$3" --arg sha "$4" --argjson size "$5" \
    --arg store "$6" --argjson ts "${7:-$(now_ms)}" \
    '{to:$to,kind:"text",cid:$cid,content_sha256:$sha,size:$size,
      timestamp:$ts,store:$store}')
  jq -cS --arg s "$(sign cairn.im.message "$b" "$1")" '. + {sig:$s}' <<<"$b"
}
# A signed tx as POST /v1/txs takes it: signtx PEM ADDR PUBKEY TYPE BODY NONCE
signtx() {
  local u
  u=$(jq -cSn --argjson b "$5" --arg f "$2" --arg p "$3" --arg t "$4" \
    --argjson n "$6" \
    '{body:$b,chain_id:"testnet",from:$f,nonce:$n,pubkey:$p,type:$t}')
  jq -cS --arg s "$(sign cairn/tx/v1 "$u" "$1")" '. + {sig:$s}' <<<"$u"
}
nonce() { get 0 "/v1/accounts/$1" | jq -r '.next_nonce // 0'; }
metric() { # node name -> its value
  get "$1" /metrics | sed -n "s/^cairn_$2 //p"
}

"$cairn" testnet init --dir "$net" --validators 4 >/dev/null || fail "init"
for i in 0 1 2 3; do
  n[i]=$("$cairn" keys show node --home "$(home "$i")" --json | jq -r .address)
done
jq -S --arg n0 "${n[0]}" --arg n1 "${n[1]}" --arg n2 "${n[2]}" \
  --arg n3 "${n[3]}" '
  .accounts |= map(if .address == $n0 or .address == $n1 or .address == $n2
                      or .address == $n3
                   then .roles = ((.roles // []) + ["im_registrar"]) else . end)' \
  "$(home 0)/genesis.json" >"$dir/genesis.json"
reg=$(jq '[.accounts[] | select(.roles | index("im_registrar"))] | length' \
  "$dir/genesis.json")
[ "$reg" = 4 ] || fail "$reg node keys got im_registrar in genesis, want 4"
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$(home "$i")/genesis.json"
  printf '[blob-fs]\nsync = false\n' >"$(home "$i")/conf.d/95-im-test.conf"
done
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
for i in 0 1 2 3; do
  wait_for "$i" /v1/status '.height >= 2' || fail "node$i makes no blocks"
  get "$i" "/v1/accounts/${n[i]}" | jq -e '.roles | index("im_registrar")' \
    >/dev/null || fail "node$i's key is not a registrar"
done
pass "4 validators run im (a default plugin); every node key is a registrar"

# ---- a. register, bind, accept, texts both ways ----
alice=$(im 0 register alice 2>/dev/null) || fail "register alice at node0"
bob=$(im 1 register bob 2>/dev/null) || fail "register bob at node1"
[[ "$alice" =~ ^[0-9a-f]{40}$ ]] && [[ "$bob" =~ ^[0-9a-f]{40}$ ]] ||
  fail "register printed '$alice' and '$bob', not addresses"
for i in 0 1 2 3; do
  wait_for "$i" /v1/im/users/bob ".address == \"$bob\" and .enc_version == 1
    and .registrar == \"${n[1]}\" and .revoked == false" ||
    fail "node$i lacks bob's certificate"
done
[ -e "$(home 0)/keys/im-alice.x25519.pem" ] || fail "alice's keys not made"
im 0 bind bob --as alice >/dev/null || fail "alice binds bob"
wait_for 1 "/v1/im/contacts/$bob" ".requests_in[0].from == \"$alice\"" ||
  fail "bob does not see alice's request"
im 1 accept alice --as bob >/dev/null || fail "bob accepts"
wait_for 0 "/v1/im/contacts/$alice" ".contacts[0].address == \"$bob\"" ||
  fail "alice and bob are not contacts"
w1="orchid$RANDOM$RANDOM"
w2="lantern$RANDOM$RANDOM"
text1="Grüße, bob — the $w1 is under the $w2 🌲"
printf '%s' "$text1" >"$dir/text1"
im 0 send bob --as alice --text "$text1" >/dev/null || fail "alice sends"
im 1 get 1 --as bob --out "$dir/text1.bob" 2>/dev/null || fail "bob gets 1"
cmp -s "$dir/text1" "$dir/text1.bob" || fail "bob read other bytes"
im 0 get 1 --sent --as alice --out "$dir/text1.alice" 2>/dev/null ||
  fail "alice reads her sent message"
cmp -s "$dir/text1" "$dir/text1.alice" || fail "alice's copy differs"
text2="hello alice, $RANDOM"
printf '%s' "$text2" >"$dir/text2"
im 1 send alice --as bob --text "$text2" >/dev/null || fail "bob sends"
im 0 get 1 --as alice --out "$dir/text2.alice" 2>/dev/null ||
  fail "alice gets 1"
cmp -s "$dir/text2" "$dir/text2.alice" || fail "alice read other bytes"
rec1=$(get 1 "/v1/im/inbox/$bob" | jq -c '.records[0]')
cid1=$(jq -r .cid <<<"$rec1")
jq -e --arg a "$alice" --arg n0 "${n[0]}" '.from == $a and .store == $n0
  and .kind == "text" and .seq == 1' <<<"$rec1" >/dev/null ||
  fail "bob's record 1: $rec1"
pass "alice (node0) and bob (node1) register, bind and exchange texts both ways"

# ---- b. a 50 MB attachment over P2P ----
head -c 50000000 /dev/urandom >"$dir/big.bin"
t0=$(date +%s%N)
im 0 send bob --as alice --file "$dir/big.bin" >/dev/null ||
  fail "alice sends 50 MB"
t1=$(date +%s%N)
rec2=$(get 1 "/v1/im/inbox/$bob?after=1" | jq -c '.records[0]')
cid2=$(jq -r .cid <<<"$rec2")
jq -e '.kind == "file" and .size > 50000000 and .seq == 2' <<<"$rec2" \
  >/dev/null || fail "bob's record 2: $rec2"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$(api 1)/v1/blobs/$cid2")
[ "$code" = 404 ] || fail "node1 held the attachment before a fetch ($code)"
im 1 get 2 --as bob --out "$dir/big.bob" 2>/dev/null || fail "bob gets 2"
t2=$(date +%s%N)
cmp -s "$dir/big.bin" "$dir/big.bob" || fail "bob decrypted other bytes"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$(api 1)/v1/blobs/$cid2")
[ "$code" = 200 ] || fail "node1 does not keep the fetched ciphertext ($code)"
rm -f "$dir/big.bob"
[ "$(metric 1 im_fetches_done_total)" -ge 1 ] &&
  [ "$(metric 0 im_chunks_served_total)" -ge 48 ] ||
  fail "metrics: node1 fetched $(metric 1 im_fetches_done_total), node0 served $(metric 0 im_chunks_served_total) chunks"
pass "50 MB from alice to bob: send $(((t1 - t0) / 1000000)) ms, fetch over P2P and decrypt $(((t2 - t1) / 1000000)) ms"

# ---- c. node2's operator recovers no plaintext ----
carol=$(im 2 register carol 2>/dev/null) || fail "register carol at node2"
im 2 register dave >/dev/null 2>&1 || fail "register dave at node2"
tx1=$(jq -r .id <<<"$rec1")
seen=$(
  get 2 "/v1/im/inbox/$bob"
  get 2 "/v1/im/outbox/$alice"
  get 2 "/v1/txs/$tx1"
  "$cairn" query --home "$(home 2)" tx "$tx1" --json
  "$cairn" query --home "$(home 2)" block "$(jq .height <<<"$rec1")" --json
  "$cairn" query --home "$(home 2)" state im \
    "in/$bob/$(printf '%020d' 1)" --json
)
[[ "$seen" == *"$cid1"* ]] || fail "node2's records do not name $cid1"
[[ "$seen" != *"$w1"* && "$seen" != *"$w2"* ]] ||
  fail "node2's chain records hold the plaintext"
blobs0=$(find "$(home 0)/data/blob-fs" -type f | wc -l)
[ "$blobs0" -ge 2 ] || fail "node0's blob store holds $blobs0 files"
code=202
for _ in $(seq 100); do
  code=$(curl -sS -o "$dir/ct2" -w '%{http_code}' \
    "$(api 2)/v1/im/content/$cid1?store=${n[0]}")
  [ "$code" = 202 ] || break
  sleep 0.1
done
[ "$code" = 200 ] || fail "node2 fetching $cid1: HTTP $code"
sha=$(sha256sum "$dir/ct2")
[ "${sha:0:64}" = "$(jq -r .content_sha256 <<<"$rec1")" ] ||
  fail "node2 got other bytes than the record's ciphertext"
set +e
grep -a -F -q -e "$w1" -e "$w2" "$dir/ct2"
rc=$?
set -e
[ $rc -eq 1 ] || fail "the content node2 fetched holds the plaintext"
run_fail "bob's get with node2's home" "no im user 'bob' here" \
  im 2 get 1 --as bob
run_fail "carol's get of message 1" "no message 1" im 2 get 1 --as carol
[ $rc -eq 3 ] || fail "carol's get exits $rc, want 3 (not found)"
# carol tries anyway: dave (node2's operator too) sends her a record that
# names bob's ciphertext (now in node2's blob store).
im 2 bind carol --as dave >/dev/null || fail "dave binds carol"
im 2 accept dave --as carol >/dev/null || fail "carol accepts dave"
body=$(msgbody "$(home 2)/keys/im-dave.pem" "$carol" "$cid1" \
  "$(jq -r .content_sha256 <<<"$rec1")" "$(jq .size <<<"$rec1")" "${n[2]}")
"$cairn" tx send --home "$(home 2)" --from "$(home 2)/keys/im-dave.pem" \
  --wait --timeout 60 im.send "$body" >/dev/null 2>&1 ||
  fail "dave's record of bob's ciphertext"
run_fail "carol decrypting bob's ciphertext" "not a recipient" \
  im 2 get 1 --as carol
# No file of node2, of node0 (the ciphertext store) or of node1 holds the
# plaintext (the CLI writes it only to --out).
for i in 2 0 1; do
  # grep -r exits 1 when nothing matches; the control must match.
  set +e
  grep -r -a -F -l -e "$w1" -e "$w2" "$(home "$i")" >"$dir/hits"
  rc=$?
  grep -r -a -F -q "\"name\":\"alice\"" "$(home "$i")/data"
  control=$?
  set -e
  [ $rc -eq 1 ] || fail "node$i's home holds the plaintext: $(cat "$dir/hits")"
  [ $control -eq 0 ] || fail "grep does not see node$i's state (control)"
  while IFS= read -r f; do
    ! cmp -s "$f" "$dir/big.bin" || fail "node$i holds the attachment: $f"
  done < <(find "$(home "$i")" -type f -size 50000000c)
done
pass "node2 sees only ciphertext; no node's files hold the plaintext; bob's keys are not on node2; carol is not a recipient"

# ---- d. kill -9 between the upload and im.send ----
before=$(last 1 "$bob")
head -c 4096 /dev/urandom >"$dir/orphan.bin"
ocid=$("$cairn" blob put "$dir/orphan.bin" --home "$(home 0)" --json |
  jq -r .cid)
[[ "$ocid" =~ ^baf ]] || fail "blob put printed '$ocid'"
kill -9 "$(cat "$(home 0)/node.pid")"
sleep 0.5
"$cairn" testnet start --dir "$net" >/dev/null || fail "restart node0"
h=$(get 1 /v1/status | jq .height)
wait_for 0 /v1/status ".height >= $((h + 2))" || fail "node0 does not catch up"
[ "$(last 1 "$bob")" = "$before" ] || fail "bob's inbox changed after the crash"
for box in "inbox/$bob" "outbox/$alice"; do
  get 1 "/v1/im/$box?limit=1000" | jq -e --arg c "$ocid" \
    '[.records[] | select(.cid == $c)] | length == 0' >/dev/null ||
    fail "a record names the orphan blob in $box"
done
code=$(curl -sS -o "$dir/x" -w '%{http_code}' \
  "$(api 1)/v1/im/content/$ocid?store=${n[0]}")
[ "$code" = 404 ] || fail "node1 answers $code for the orphan CID, want 404"
im 0 send bob --as alice --text "after the crash" >/dev/null ||
  fail "a send after the restart"
[ "$(last 1 "$bob")" = $((before + 1)) ] ||
  fail "bob's inbox went from $before to $(last 1 "$bob"), want +1"
pass "a crash after the upload left no record; the next send adds exactly one"

# ---- e. one validator down ----
kill -9 "$(cat "$(home 3)/node.pid")"
before=$(last 1 "$bob")
for k in 1 2 3 4; do
  im 0 send bob --as alice --text "with node3 down #$k" >/dev/null ||
    fail "send $k with node3 down"
done
im 0 send bob --as alice --text "with node3 down #5" --json >"$dir/sent5" ||
  fail "send 5 with node3 down"
[ "$(jq .seq "$dir/sent5")" = $((before + 5)) ] ||
  fail "the 5th message got seq $(jq .seq "$dir/sent5"), want $((before + 5))"
for k in 1 2 3 4 5; do
  got=$(im 1 get $((before + k)) --as bob 2>/dev/null) ||
    fail "bob gets $((before + k))"
  [ "$got" = "with node3 down #$k" ] || fail "message $k reads '$got'"
done
"$cairn" testnet start --dir "$net" >/dev/null || fail "restart node3"
want=$(get 1 "/v1/im/inbox/$bob?limit=1000" | jq -cS .)
wait_for 3 "/v1/im/inbox/$bob" ".last == $((before + 5))" ||
  fail "node3 did not catch up"
[ "$(get 3 "/v1/im/inbox/$bob?limit=1000" | jq -cS .)" = "$want" ] ||
  fail "node3's inbox of bob differs from node1's"
pass "5 texts commit and read with node3 down; node3 catches up to the same inbox"

# ---- h. the live chat ----
# say FD PID SIDE LINE: a line to a running chat's stdin (a write to a
# pipe whose reader is gone would kill this script with SIGPIPE).
say() {
  kill -0 "$2" 2>/dev/null ||
    fail "the chat on side $3 exited: $(cat "$dir/$3.out" "$dir/$3.err")"
  echo "$4" >&"$1"
}
# Also a raw subscriber of bob's inbox stream on node3, from now on.
from=$(last 3 "$bob")
curl -sSN "$(api 3)/v1/im/stream/$bob?after=$from" >"$dir/s3.txt" &
spid=$!
bg_pids+=("$spid")
mkfifo "$dir/a.in" "$dir/b.in"
"$cairn" im --home "$(home 1)" chat alice --as bob <"$dir/b.in" \
  >"$dir/b.out" 2>"$dir/b.err" &
bpid=$!
bg_pids+=("$bpid")
exec 8>"$dir/b.in"
# Both streams are open (bob's chat starts after the inbox's last seq).
for _ in $(seq 100); do
  [ "$(metric 1 im_streams)" = 1 ] && [ "$(metric 3 im_streams)" = 1 ] && break
  sleep 0.1
done
[ "$(metric 1 im_streams)" = 1 ] && [ "$(metric 3 im_streams)" = 1 ] ||
  fail "streams open: node1 $(metric 1 im_streams), node3 $(metric 3 im_streams): $(cat "$dir/b.err")"
"$cairn" im --home "$(home 0)" chat bob --as alice <"$dir/a.in" \
  >"$dir/a.out" 2>"$dir/a.err" &
apid=$!
bg_pids+=("$apid")
exec 7>"$dir/a.in"
# The chat loads its keys and opens the stream: an early line may wait
# for it, so the clock starts with the second.
say 7 "$apid" a "warm-up"
for _ in $(seq 100); do
  [[ "$(cat "$dir/b.out")" == *"warm-up"* ]] && break
  sleep 0.1
done
[[ "$(cat "$dir/b.out")" == *"alice "*": warm-up"* ]] ||
  fail "bob's chat does not show alice's first line: $(cat "$dir/b.out" "$dir/b.err")"
worst=0
for k in 1 2 3; do
  line="live line $k $RANDOM"
  t0=$(date +%s%N)
  say 7 "$apid" a "$line"
  ok=0
  for _ in $(seq 200); do
    if [[ "$(cat "$dir/b.out")" == *": $line"* ]]; then
      ok=1
      break
    fi
    sleep 0.02
  done
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ $ok = 1 ] || fail "'$line' never showed at bob's: $(cat "$dir/b.out" "$dir/b.err")"
  [ $ms -le 2000 ] || fail "'$line' took $ms ms to show at bob's"
  if [ $ms -gt "$worst" ]; then worst=$ms; fi
done
say 8 "$bpid" b "live from bob"
for _ in $(seq 100); do
  [[ "$(cat "$dir/a.out")" == *"bob "*": live from bob"* ]] && break
  sleep 0.1
done
[[ "$(cat "$dir/a.out")" == *"bob "*": live from bob"* ]] ||
  fail "alice's chat does not show bob's line: $(cat "$dir/a.out" "$dir/a.err")"
say 7 "$apid" a /quit
say 8 "$bpid" b /quit
exec 7>&- 8>&-
wait "$apid" || fail "alice's chat exits $?: $(cat "$dir/a.err")"
wait "$bpid" || fail "bob's chat exits $?: $(cat "$dir/b.err")"
# warm-up and 3 lines: 4 records after $from, once each, in order.
want_ids=$(seq $((from + 1)) $((from + 4)))
for _ in $(seq 100); do
  ids=$(sed -n 's/^id: //p' "$dir/s3.txt")
  [ "$ids" = "$want_ids" ] && break
  sleep 0.1
done
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
bg_pids=()
[ "$ids" = "$want_ids" ] ||
  fail "node3's stream gave ids '$(tr '\n' ' ' <<<"$ids")', want $from+1..$from+4"
pass "cairn im chat both ways; alice's lines show at bob's within $worst ms; node3's stream has them in order"

# ---- g. bad input ----
run_fail "alice registered again from node1" "the name 'alice' is taken" \
  im 1 register alice
[ ! -e "$(home 1)/keys/im-alice.pem" ] || fail "the refused register made keys"
"$cairn" keys new mallory --home "$dir/mallory" >/dev/null
mal=$("$cairn" keys show mallory --home "$dir/mallory" --json)
req=$(jq -cSn --arg e "$(openssl rand -hex 32)" --argjson t "$(now_ms)" \
  '{name:"alice",enc_pubkey:$e,timestamp:$t}')
regpost=$(jq -cn --argjson r "$req" --arg p "$(jq -r .pubkey <<<"$mal")" \
  --arg s "$(sign cairn.im.register "$req" "$dir/mallory/keys/mallory.pem")" \
  '{request:$r,pubkey:$p,sig:$s}')
out=$(post "$(api 1)/v1/im/registrations" "$regpost")
[[ "$out" == *" 409" && "$out" == *"the name 'alice' is taken"* ]] ||
  fail "registrar node1 took a second 'alice': $out"
wait_for 3 /v1/im/users/alice ".address == \"$alice\"" ||
  fail "alice's certificate changed"
run_fail "a message to an unknown user" "no im user 'zed-nobody'" \
  im 0 send zed-nobody --as alice --text hi
[ $rc -eq 3 ] || fail "unknown user: exit $rc, want 3"
before=$(last 1 "$bob")
run_fail "carol to bob, not contacts" "is not a contact" \
  im 2 send bob --as carol --text "hi bob"
# Replays: the committed tx again, to /v1/txs and to the admission route;
# the same message in a new tx (new nonce) to the chain.
im 0 send bob --as alice --text "say it once" --json >"$dir/once" ||
  fail "send 'say it once'"
[ "$(last 1 "$bob")" = $((before + 1)) ] || fail "'say it once' not recorded"
tx=$(get 0 "/v1/txs/$(jq -r .id "$dir/once")" | jq -cS .tx)
jq -e '.type == "im.send" and (.sig | length) == 128' <<<"$tx" >/dev/null ||
  fail "GET /v1/txs gave no signed tx: $tx"
out=$(post "$(api 1)/v1/txs" "$tx")
[[ "$out" == *" 409" ]] || fail "the same tx again: $out"
out=$(post "$(api 0)/v1/im/messages" "$tx")
[[ "$out" == *" 409" && "$out" == *"replay"* ]] ||
  fail "the same tx at the admission route: $out"
run_fail "the same message in a new tx" "replay" \
  "$cairn" tx send --home "$(home 0)" --from "$(home 0)/keys/im-alice.pem" \
  --wait --timeout 60 im.send "$(jq -c .body <<<"$tx")"
[ "$(last 1 "$bob")" = $((before + 1)) ] ||
  fail "a replay was recorded: bob's inbox at $(last 1 "$bob")"
# CIDs that do not resolve on the store, or resolve to other bytes.
apem="$(home 0)/keys/im-alice.pem"
apub=$(get 0 /v1/im/users/alice | jq -r .pubkey)
head -c 2000 /dev/urandom >"$dir/c.bin"
csha=$(sha256sum "$dir/c.bin")
csha=${csha:0:64}
ncid=$("$cairn" blob put "$dir/c.bin" --home "$(home 1)" --json | jq -r .cid)
out=$(post "$(api 0)/v1/im/messages" "$(signtx "$apem" "$alice" "$apub" \
  im.send "$(msgbody "$apem" "$bob" "$ncid" "$csha" 2000 "${n[0]}")" \
  "$(nonce "$alice")")")
[[ "$out" == *" 400" && "$out" == *content_missing* ]] ||
  fail "a CID node0 does not hold: $out"
ycid=$("$cairn" blob put "$dir/c.bin" --home "$(home 0)" --json | jq -r .cid)
[ "$ycid" = "$ncid" ] || fail "the same bytes got CIDs $ncid and $ycid"
osha=$(sha256sum "$dir/text1")
out=$(post "$(api 0)/v1/im/messages" "$(signtx "$apem" "$alice" "$apub" \
  im.send "$(msgbody "$apem" "$bob" "$ycid" "${osha:0:64}" 2000 "${n[0]}")" \
  "$(nonce "$alice")")")
[[ "$out" == *" 400" && "$out" == *content_mismatch* ]] ||
  fail "a content_sha256 that is not the blob's: $out"
out=$(post "$(api 0)/v1/im/messages" "$(signtx "$apem" "$alice" "$apub" \
  im.send "$(msgbody "$apem" "$bob" "$ycid" "$csha" 1999 "${n[0]}")" \
  "$(nonce "$alice")")")
[[ "$out" == *" 400" && "$out" == *content_mismatch* ]] ||
  fail "a size that is not the blob's: $out"
out=$(post "$(api 0)/v1/im/messages" "$(signtx "$apem" "$alice" "$apub" \
  im.send "$(msgbody "$apem" "${n[3]}" "$ycid" "$csha" 2000 "${n[0]}")" \
  "$(nonce "$alice")")")
[[ "$out" == *" 404" && "$out" == *"not a registered im user"* ]] ||
  fail "a message to an unregistered address: $out"
# The control: the same message, right, is admitted.
out=$(post "$(api 0)/v1/im/messages" "$(signtx "$apem" "$alice" "$apub" \
  im.send "$(msgbody "$apem" "$bob" "$ycid" "$csha" 2000 "${n[0]}")" \
  "$(nonce "$alice")")")
[[ "$out" == *" 200" && "$out" == *'"ok":true'* ]] ||
  fail "the well-formed message was refused: $out"
[ "$(last 1 "$bob")" = $((before + 1)) ] ||
  fail "a refused message was recorded: bob's inbox at $(last 1 "$bob")"
pass "a taken name, unknown users, a non-contact, replays and bad CIDs are refused"

# ---- f. unbind stops delivery ----
im 0 unbind bob --as alice >/dev/null || fail "alice unbinds"
im 1 confirm-unbind alice --as bob >/dev/null || fail "bob confirms"
wait_for 0 "/v1/im/contacts/$alice" '.contacts | length == 0' ||
  fail "still contacts"
before=$(last 1 "$bob")
run_fail "a send after unbind" "is not a contact" \
  im 0 send bob --as alice --text "are you there?"
run_fail "bob's send after unbind" "is not a contact" \
  im 1 send alice --as bob --text "and you?"
[ "$(last 1 "$bob")" = "$before" ] || fail "bob's inbox grew after unbind"
pass "after unbind and confirm, sends both ways are refused ('not a contact')"

# ---- i. one state everywhere ----
h=$(get 0 /v1/status | jq .height)
for i in 0 1 2 3; do
  wait_for "$i" /v1/status ".height >= $h" || fail "node$i stuck below $h"
done
roots=$(for i in 0 1 2 3; do
  "$cairn" query --home "$(home "$i")" block "$h" --json | jq -r .header.state_root
done | sort -u)
[ "$(wc -l <<<"$roots")" -eq 1 ] && [[ "$roots" =~ ^[0-9a-f]{64}$ ]] ||
  fail "state roots at height $h differ: $roots"
pass "all 4 nodes hold state root $roots at height $h"

# The nodes stop cleanly and no sanitizer spoke (an ASan build).
out=$("$cairn" testnet stop --dir "$net" 2>&1) || fail "stop: $out"
[[ "$out" != *"did not stop"* ]] || fail "a node had to be killed: $out"
set +e
grep -l -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
  -e "runtime error:" "$net"/node*/node.log >"$dir/hits"
rc=$?
set -e
[ $rc -eq 1 ] || fail "sanitizer reports in $(cat "$dir/hits")"
pass "the 4 nodes stop cleanly, no sanitizer report in their logs"
echo "$passed checks passed"
