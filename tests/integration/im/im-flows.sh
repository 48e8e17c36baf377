#!/bin/bash
# The im plugin's HTTP routes and txs one by one on a 2-node testnet (a
# solo validator, node0, which is the only registrar, and a follower,
# node1), with requests, messages and txs signed here with openssl, so
# that what the CLI never sends can be sent: registration refusals (at the
# registrar and on chain), contact flows, message admission
# (POST /v1/im/messages) and chain checks, the inbox stream (backlog,
# live, reconnect, order), the P2P content fetch (range, a store that does
# not serve, one that is not connected), key rotation, unbind and
# revocation; both nodes end on one state.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-imflows-XXXXXX")
net="$dir/net"
H0="$net/node0"
H1="$net/node1"
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
checks=0
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
for tool in jq curl cmp head openssl od sha256sum ipfs_cid; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (ipfs_cid: the Debian package ipfs-cid)"
done

# want CODE WHAT CMD...: CMD prints a body then " CODE" (post, get); the
# body stays in $LAST for has.
want() {
  local code=$1 what=$2 out
  shift 2
  out=$("$@")
  LAST=${out% *}
  [ "${out##* }" = "$code" ] || fail "$what: want HTTP $code, got: $out"
  checks=$((checks + 1))
}
has() { # pattern what
  [[ "$LAST" == *"$1"* ]] || fail "$2: '$1' not in: $LAST"
  checks=$((checks + 1))
}
post() { curl -sS -XPOST "$1" -d "$2" -w ' %{http_code}'; }
get() { curl -sS "$1" -w ' %{http_code}'; }
check() { # what: the condition was tested by the caller
  checks=$((checks + 1))
}
wait_for() { # url jq-filter
  for _ in $(seq 300); do
    curl -fsS "$1" 2>/dev/null | jq -e "$2" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "last answer of $1: $(curl -sS "$1" 2>&1 || true)"
  return 1
}

# Ed25519 signature (hex) of DOMAIN\0TEXT with a PEM key.
sign() { # domain text pem
  { printf '%s\0' "$1"; printf '%s' "$2"; } >"$dir/msg.bin"
  openssl pkeyutl -sign -inkey "$3" -rawin -in "$dir/msg.bin" >"$dir/sig.bin"
  od -An -tx1 -v "$dir/sig.bin" | tr -d ' \n'
}
key() { "$cairn" keys show "$1" --home "$H0" --json; }
pubkey() { key "$1" | jq -r .pubkey; }
addr() { key "$1" | jq -r .address; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# regreq NAME KEY [TIMESTAMP] [PROFILE]: a registration body signed by KEY.
regreq() {
  local ts=${3:-$(now_ms)} req
  req=$(jq -cSn --arg n "$1" --arg e "$(openssl rand -hex 32)" \
    --argjson t "$ts" --argjson p "${4:-null}" \
    '{name:$n,enc_pubkey:$e,timestamp:$t}
     + if $p == null then {} else {profile:$p} end')
  jq -cn --argjson r "$req" --arg p "$(pubkey "$2")" \
    --arg s "$(sign cairn.im.register "$req" "$H0/keys/$2.pem")" \
    '{request:$r,pubkey:$p,sig:$s}'
}
# msgbody KEY TO CID SHA SIZE STORE [KIND] [TIMESTAMP]: a signed message.
msgbody() {
  local b
  b=$(jq -cSn --arg to "$2" --arg cid "$3" --arg sha "$4" --argjson size "$5" \
    --arg store "$6" --arg kind "${7:-text}" --argjson ts "${8:-$(now_ms)}" \
    '{to:$to,kind:$kind,cid:$cid,content_sha256:$sha,size:$size,
      timestamp:$ts,store:$store}')
  jq -cS --arg s "$(sign cairn.im.message "$b" "$H0/keys/$1.pem")" \
    '. + {sig:$s}' <<<"$b"
}
nonce() { curl -fsS "$N0/v1/accounts/$(addr "$1")" | jq -r '.next_nonce // 0'; }
# signtx KEY TYPE BODY [NONCE]: a signed tx as POST /v1/txs takes it.
signtx() {
  local n=${4:-$(nonce "$1")} u
  u=$(jq -cSn --argjson b "$3" --arg f "$(addr "$1")" --arg p "$(pubkey "$1")" \
    --arg t "$2" --argjson n "$n" \
    '{body:$b,chain_id:"testnet",from:$f,nonce:$n,pubkey:$p,type:$t}')
  jq -cS --arg s "$(sign cairn/tx/v1 "$u" "$H0/keys/$1.pem")" '. + {sig:$s}' \
    <<<"$u"
}
# txr KEY TYPE BODY: "ok" or the error code of the committed tx.
txr() {
  local j
  j=$("$cairn" tx send --home "$H0" --node "$N0" --from "$1" "$2" "$3" \
    --wait --timeout 60 --json 2>/dev/null) || true
  jq -r 'if .result.ok then "ok" else .result.code end' <<<"$j" 2>/dev/null ||
    echo "no result: $j"
}
wtx() { # code KEY TYPE BODY what
  local got
  got=$(txr "$2" "$3" "$4")
  [ "$got" = "$1" ] || fail "$5: want $1, got $got"
  checks=$((checks + 1))
}

"$cairn" testnet init --dir "$net" --validators 1 --nodes 2 >/dev/null ||
  fail "init"
NODE0=$(jq -r '.validators[0].address' "$H0/genesis.json")
jq -S --arg v "$NODE0" '
  .accounts |= map(if .address == $v then .roles += ["im_registrar"] else . end)
  | .app_state.im = {"registrar_role": "im_registrar"}' \
  "$H0/genesis.json" >"$dir/genesis.json"
for h in "$H0" "$H1"; do
  cp "$dir/genesis.json" "$h/genesis.json"
  printf '[blob-fs]\nsync = false\n' >"$h/conf.d/95-im-test.conf"
done
# node1 gives up a fetch that makes no progress soon.
printf '[im]\nfetch_timeout_seconds = 3\n' >>"$H1/conf.d/95-im-test.conf"
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
N0=$("$cairn" testnet status --dir "$net" --json | jq -r '.[0].api')
N1=$("$cairn" testnet status --dir "$net" --json | jq -r '.[1].api')
wait_for "$N1/v1/status" '.height >= 2' || fail "node1 does not follow"
for u in alice bob carol nobody; do
  "$cairn" keys new "$u" --home "$H0" >/dev/null
done
A=$(addr alice)
B=$(addr bob)
X=$(addr nobody)
pass "a solo validator (the registrar) and a follower run im"

# ---- registration: the registrar's checks, then the chain's ----
want 403 "register at a non-registrar" post "$N1/v1/im/registrations" \
  "$(regreq alice alice)"
has not_registrar "the non-registrar's code"
want 200 "register alice" post "$N0/v1/im/registrations" "$(regreq alice alice)"
want 409 "alice again at once, another key" post "$N0/v1/im/registrations" \
  "$(regreq alice bob)"
want 400 "a bad name" post "$N0/v1/im/registrations" "$(regreq Bo bob)"
want 400 "a stale request" post "$N0/v1/im/registrations" \
  "$(regreq bobby bob $(($(now_ms) - 400000)))"
want 400 "a profile of 9 fields" post "$N0/v1/im/registrations" \
  "$(regreq bobby bob "" '{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1","g":"1","h":"1","i":"1"}')"
has "at most 8 fields" "the profile's reason"
want 400 "a profile value of 129 bytes" post "$N0/v1/im/registrations" \
  "$(regreq bobby bob "" "{\"city\":\"$(printf '%0129d' 0)\"}")"
R=$(regreq bob bob "" '{"city":"Oslo"}')
want 400 "a tampered request" post "$N0/v1/im/registrations" \
  "$(jq -c '.request.name = "bobx"' <<<"$R")"
want 400 "an extra field" post "$N0/v1/im/registrations" \
  "$(jq -c '.x = 1' <<<"$R")"
want 200 "register bob" post "$N0/v1/im/registrations" "$R"
wtx unauthorized admin im.register "$(regreq carol carol)" \
  "chain: a sender without the registrar role"
wtx invalid node im.register \
  "$(regreq carol carol $(($(now_ms) - 301000)))" "chain: a stale request"
wtx ok node im.register "$(regreq carol carol)" "chain: register carol"
wtx conflict node im.register "$(regreq carol nobody)" "chain: a taken name"
wait_for "$N1/v1/im/users/bob" ".address == \"$B\"" || fail "bob not on node1"
want 200 "a user by name on the follower" get "$N1/v1/im/users/alice"
has '"enc_version":1' "the certificate"
wait_for "$N1/v1/im/users/bob" '.profile.city == "Oslo"' ||
  fail "bob's profile is not in his certificate"
check "the profile in the certificate"
has "\"address\":\"$A\"" "the certificate's address"
want 404 "an unknown user" get "$N1/v1/im/users/zed"
want 400 "a bad user name" get "$N1/v1/im/users/Z"
pass "registration: refusals at the registrar and on chain; certificates on the follower"

# ---- contacts ----
wtx ok alice im.bind_request "{\"to\":\"$B\"}" "a bind request"
wtx conflict alice im.bind_request "{\"to\":\"$B\"}" "a bind request twice"
wtx conflict bob im.bind_request "{\"to\":\"$A\"}" "a crossed bind request"
wtx not_found carol im.bind_accept "{\"from\":\"$A\"}" \
  "an accept without a request"
wtx ok bob im.bind_accept "{\"from\":\"$A\"}" "accept"
wtx invalid alice im.bind_request "{\"to\":\"$A\"}" "a bind to oneself"
wtx not_found alice im.bind_request "{\"to\":\"$X\"}" \
  "a bind to an unregistered account"
wait_for "$N1/v1/im/contacts/$A" ".contacts[0].address == \"$B\"" ||
  fail "node1 does not list bob as alice's contact"
want 200 "contacts" get "$N1/v1/im/contacts/$A"
has '"name":"bob"' "the contact's name"
pass "contacts: request, accept, and the refusals"

# ---- messages: the admission route, then the chain ----
head -c 3000 /dev/urandom >"$dir/small.bin"
CID=$("$cairn" blob put "$dir/small.bin" --home "$H0" --json | jq -r .cid)
SHA=$(sha256sum "$dir/small.bin")
SHA=${SHA:0:64}
XSHA=$(sha256sum <<<x)
XSHA=${XSHA:0:64}
T=$(signtx alice im.send "$(msgbody alice "$B" "$CID" "$SHA" 3000 "$NODE0")")
want 200 "the admission check" post "$N0/v1/im/messages" "$T"
has '"ok":true' "admitted"
want 400 "the wrong store node" post "$N1/v1/im/messages" "$T"
has wrong_store "the wrong store's code"
want 400 "a size mismatch" post "$N0/v1/im/messages" "$(signtx alice im.send \
  "$(msgbody alice "$B" "$CID" "$SHA" 3001 "$NODE0")")"
has content_mismatch "the size mismatch's code"
want 400 "a SHA-256 mismatch" post "$N0/v1/im/messages" "$(signtx alice \
  im.send "$(msgbody alice "$B" "$CID" "$XSHA" 3000 "$NODE0")")"
has content_mismatch "the SHA-256 mismatch's code"
want 400 "a forged envelope" post "$N0/v1/im/messages" \
  "$(jq -c '.nonce = 77' <<<"$T")"
want 403 "not a contact" post "$N0/v1/im/messages" "$(signtx carol im.send \
  "$(msgbody carol "$A" "$CID" "$SHA" 3000 "$NODE0")")"
has "is not a contact" "the non-contact's reason"
want 202 "submit" post "$N0/v1/txs" "$T"
id=$(jq -r .id <<<"$LAST")
wait_for "$N0/v1/txs/$id" '.status == "committed" and .result.ok' ||
  fail "the message did not commit"
want 409 "a replay at admission" post "$N0/v1/im/messages" "$T"
has replay "the replay's reason"
wtx conflict alice im.send "$(jq -c .body <<<"$T")" \
  "chain: the same message in a new tx"
# The same message twice in one batch (one block): recorded once.
M=$(msgbody carol "$A" "$CID" "$SHA" 3000 "$NODE0")
n=$(nonce carol)
wtx ok alice im.settings '{"allow_strangers":true}' "allow strangers"
code=$( (signtx carol im.send "$M" "$n" && signtx carol im.send "$M" $((n + 1))) |
  jq -cs . | curl -sS -o "$dir/pair.out" -w '%{http_code}' -XPOST \
    "$N0/v1/txs" -d @-)
[ "$code" = 200 ] && [ "$(jq .accepted "$dir/pair.out")" = 2 ] ||
  fail "a pair of txs: HTTP $code $(cat "$dir/pair.out")"
for id in $(jq -r '.results[].id' "$dir/pair.out"); do
  wait_for "$N0/v1/txs/$id" '.status == "committed"' || fail "tx $id"
done
results=$(for id in $(jq -r '.results[].id' "$dir/pair.out"); do
  curl -fsS "$N0/v1/txs/$id" | jq -r 'if .result.ok then "ok" else .result.code end'
done | sort | tr '\n' ' ')
[ "$results" = "conflict ok " ] ||
  fail "the same message twice in a batch: results $results"
check "the same message twice in a batch: one ok, one conflict"
wtx ok alice im.settings '{"allow_strangers":false}' "forbid strangers"
wtx invalid alice im.send "$(msgbody carol "$B" "$CID" "$SHA" 3000 "$NODE0")" \
  "chain: a message signed by another key"
wtx invalid alice im.send "$(msgbody alice "$B" "$CID" "$SHA" 3000 "$NODE0" \
  text $(($(now_ms) + 310000)))" "chain: a timestamp in the future"
wtx unauthorized carol im.send \
  "$(msgbody carol "$A" "$CID" "$SHA" 3000 "$NODE0")" "chain: a stranger"
wtx ok alice im.settings '{"allow_strangers":true}' "allow strangers"
wtx ok carol im.send "$(msgbody carol "$A" "$CID" "$SHA" 3000 "$NODE0")" \
  "chain: a stranger, allowed"
wait_for "$N1/v1/im/inbox/$B" '.last == 1' || fail "bob's inbox on node1"
want 200 "the inbox" get "$N1/v1/im/inbox/$B"
has '"last":1' "the inbox's last"
has '"seq":1' "the record's seq"
has "\"cid\":\"$CID\"" "the record's cid"
want 400 "an inbox limit over 1000" get "$N1/v1/im/inbox/$B?limit=1001"
pass "messages: admission refusals (store, size, hash, envelope, contact, replay) and the chain's"

# ---- the inbox stream: backlog, live, reconnect ----
curl -sSN "$N1/v1/im/stream/$B?after=0" >"$dir/s1.txt" &
s1=$!
bg_pids+=("$s1")
for _ in $(seq 100); do
  [[ "$(cat "$dir/s1.txt")" == *"id: 1"* ]] && break
  sleep 0.1
done
[[ "$(cat "$dir/s1.txt")" == *"id: 1"* ]] || fail "no backlog on the stream"
n=$(nonce alice)
ts=$(now_ms)
: >"$dir/batch.jsonl"
for i in $(seq 0 49); do
  signtx alice im.send "$(msgbody alice "$B" "$CID" "$SHA" 3000 "$NODE0" text \
    $((ts + i)))" $((n + i)) >>"$dir/batch.jsonl"
done
code=$(jq -cs . "$dir/batch.jsonl" |
  curl -sS -o "$dir/batch.out" -w '%{http_code}' -XPOST "$N0/v1/txs" -d @-)
[ "$code" = 200 ] && [ "$(jq .accepted "$dir/batch.out")" = 50 ] ||
  fail "the batch of 50: HTTP $code $(cat "$dir/batch.out")"
wait_for "$N1/v1/im/inbox/$B" '.last == 51' || fail "50 messages not recorded"
curl -sSN "$N1/v1/im/stream/$B?after=20" >"$dir/s2.txt" &
s2=$!
bg_pids+=("$s2")
want1=$(seq 1 51)
want2=$(seq 21 51)
for _ in $(seq 100); do
  ids1=$(sed -n 's/^id: //p' "$dir/s1.txt")
  ids2=$(sed -n 's/^id: //p' "$dir/s2.txt")
  [ "$ids1" = "$want1" ] && [ "$ids2" = "$want2" ] && break
  sleep 0.1
done
sleep 0.3 # nothing more may come
ids1=$(sed -n 's/^id: //p' "$dir/s1.txt")
ids2=$(sed -n 's/^id: //p' "$dir/s2.txt")
kill "$s1" "$s2" 2>/dev/null || true
wait "$s1" "$s2" 2>/dev/null || true
bg_pids=()
[ "$ids1" = "$want1" ] || fail "the stream from 0 gave ids $(tr '\n' ' ' <<<"$ids1")"
check "the stream from 0: 1..51 once, in order"
[ "$ids2" = "$want2" ] || fail "the stream from 20 gave ids $(tr '\n' ' ' <<<"$ids2")"
check "the stream from 20: 21..51 once, in order"
data=$(sed -n 's/^data: //p' "$dir/s2.txt" | jq -s -c 'map(.seq)')
[ "$data" = "$(seq 21 51 | jq -s -c .)" ] || fail "the records' seqs: $data"
check "each event's record carries its seq"
want 400 "a stream past the end" get "$N1/v1/im/stream/$B?after=99"
want 404 "the stream of an unknown user" get "$N1/v1/im/stream/$X"
pass "the inbox stream: backlog and live, a reconnection after 20, once each, in order"

# ---- content over P2P ----
size=$((5 * 1024 * 1024 + 7))
head -c "$size" /dev/urandom >"$dir/big.bin"
BC=$("$cairn" blob put "$dir/big.bin" --home "$H0" --json | jq -r .cid)
BS=$(sha256sum "$dir/big.bin")
BS=${BS:0:64}
wtx ok alice im.send "$(msgbody alice "$B" "$BC" "$BS" "$size" "$NODE0" file)" \
  "send 5 MiB"
wait_for "$N1/v1/im/inbox/$B" '.last == 52' || fail "message 52 on node1"
want 404 "content without a store" get "$N1/v1/im/content/$BC"
want 202 "a fetch starts" get "$N1/v1/im/content/$BC?store=$NODE0"
has '"fetching":true' "the fetch's answer"
code=202
for _ in $(seq 200); do
  code=$(curl -sS "$N1/v1/im/content/$BC?store=$NODE0" -o "$dir/got.bin" \
    -w '%{http_code}')
  [ "$code" = 202 ] || break
  sleep 0.1
done
[ "$code" = 200 ] && cmp -s "$dir/got.bin" "$dir/big.bin" ||
  fail "the fetched bytes (HTTP $code)"
check "the fetched bytes are the stored ones"
code=$(curl -sS -H 'Range: bytes=5242880-' "$N1/v1/im/content/$BC" \
  -o "$dir/tail.bin" -w '%{http_code}')
[ "$code" = 206 ] && [ "$(stat -c %s "$dir/tail.bin")" = 7 ] &&
  cmp -s "$dir/tail.bin" <(tail -c 7 "$dir/big.bin") ||
  fail "a range of the fetched content (HTTP $code)"
check "a range of the fetched content"
# A fetch cut by kill -9 of the fetching node resumes from its .part
# after the restart. The store (node0) is paused meanwhile so that the
# fetch is surely partial.
size2=$((64 * 1024 * 1024))
head -c "$size2" /dev/urandom >"$dir/huge.bin"
HC=$("$cairn" blob put "$dir/huge.bin" --home "$H0" --json | jq -r .cid)
HS=$(sha256sum "$dir/huge.bin")
wtx ok alice im.send "$(msgbody alice "$B" "$HC" "${HS:0:64}" "$size2" \
  "$NODE0" file)" "send 64 MiB"
wait_for "$N1/v1/im/inbox/$B" '.last == 53' || fail "message 53 on node1"
have=0
for _ in $(seq 200); do
  have=$(curl -sS "$N1/v1/im/content/$HC?store=$NODE0" | jq '.have // 0')
  [ "$have" -gt 0 ] && break
  sleep 0.02
done
kill -STOP "$(cat "$H0/node.pid")"
[ "$have" -gt 0 ] || fail "the fetch of 64 MiB does not progress"
sleep 0.5
part="$H1/data/im/fetch/$HC.part"
psize=$(stat -c %s "$part" 2>/dev/null || echo 0)
kill -9 "$(cat "$H1/node.pid")"
kill -CONT "$(cat "$H0/node.pid")"
[ "$psize" -gt 0 ] && [ "$psize" -lt "$size2" ] ||
  fail "no partial fetch to resume: $part has $psize bytes"
"$cairn" testnet start --dir "$net" >/dev/null || fail "restart node1"
wait_for "$N1/v1/status" '(.p2p.peers // []) | length >= 1' ||
  fail "node1 does not reconnect"
first=$(curl -sS "$N1/v1/im/content/$HC?store=$NODE0" -o "$dir/huge.got" \
  -w '%{http_code}')
[ "$first" = 202 ] && [ "$(jq .have "$dir/huge.got")" -ge "$psize" ] ||
  fail "after the restart: HTTP $first $(head -c 300 "$dir/huge.got"), want 202 from $psize bytes"
check "the fetch resumes from the $psize bytes of its .part"
code=202
for _ in $(seq 300); do
  code=$(curl -sS "$N1/v1/im/content/$HC?store=$NODE0" -o "$dir/huge.got" \
    -w '%{http_code}')
  [ "$code" = 202 ] || break
  sleep 0.1
done
[ "$code" = 200 ] && cmp -s "$dir/huge.got" "$dir/huge.bin" ||
  fail "the resumed fetch (HTTP $code)"
check "the resumed fetch gives the stored bytes"
rm -f "$dir/huge.got" "$dir/huge.bin"
head -c 777 /dev/urandom >"$dir/absent.bin"
NC=$(ipfs_cid "$dir/absent.bin" 2>/dev/null | jq -r .CIDv1)
NS=$(sha256sum "$dir/absent.bin")
wtx ok alice im.send \
  "$(msgbody alice "$B" "$NC" "${NS:0:64}" 777 "$NODE0")" \
  "send a message whose content the store lacks"
wait_for "$N1/v1/im/inbox/$B" '.last == 54' || fail "message 54 on node1"
want 202 "a fetch of absent content starts" \
  get "$N1/v1/im/content/$NC?store=$NODE0"
code=202
for _ in $(seq 100); do
  out=$(curl -sS "$N1/v1/im/content/$NC?store=$NODE0" -w ' %{http_code}')
  code=${out##* }
  [ "$code" = 202 ] || break
  sleep 0.1
done
[ "$code" = 502 ] && [[ "$out" == *fetch_failed* ]] ||
  fail "a store that does not serve: $out"
check "a store that does not serve: 502 fetch_failed"
want 404 "a store that is not connected" get "$N1/v1/im/content/$NC?store=$X"
left=$(ls -A "$H1/data/im/fetch/" 2>/dev/null || true)
[ -z "$left" ] || fail "temporary files left: $left"
check "no temporary fetch files left"
pass "content over P2P: fetched whole, a range, resumed after kill -9, a store that does not serve or is not connected"

# ---- rotate, unbind, revoke ----
wtx ok bob im.rotate_key "{\"enc_pubkey\":\"$(openssl rand -hex 32)\"}" \
  "rotate"
wait_for "$N1/v1/im/users/bob" '.enc_version == 2' || fail "no rotation"
want 200 "keys listed" get "$N1/v1/im/users/bob"
has '"enc_version":2' "rotated"
[ "$(jq '.enc_keys | length' <<<"$LAST")" = 2 ] ||
  fail "the old key is not listed: $LAST"
check "both keys listed"
wtx ok alice im.unbind_request "{\"with\":\"$B\"}" "an unbind request"
wtx not_found alice im.unbind_confirm "{\"with\":\"$B\"}" \
  "a confirm by the asker"
wtx ok bob im.unbind_confirm "{\"with\":\"$A\"}" "an unbind confirm"
wtx unauthorized alice im.send \
  "$(msgbody alice "$B" "$CID" "$SHA" 3000 "$NODE0")" "a send after unbind"
wtx unauthorized carol im.revoke "{\"address\":\"$B\"}" \
  "a revoke by another user"
wtx ok node im.revoke "{\"address\":\"$B\"}" "a revoke by the registrar"
wtx conflict bob im.revoke "{\"address\":\"$B\"}" "a revoke twice"
wtx unauthorized bob im.settings '{"allow_strangers":true}' \
  "a revoked user acts"
wtx unauthorized carol im.send \
  "$(msgbody carol "$B" "$CID" "$SHA" 3000 "$NODE0")" "a send to the revoked"
wait_for "$N1/v1/im/users/bob" '.revoked == true' || fail "bob not revoked"
want 200 "the revoked certificate" get "$N1/v1/im/users/bob"
has "\"revoked_by\":\"$NODE0\"" "revoked_by"
pass "rotation, unbind (ask, confirm) and revocation, with their refusals"

# ---- one state on both nodes ----
s0=$(curl -fsS "$N0/v1/status" | jq -r '"\(.height) \(.state_root)"')
s1=
for _ in $(seq 100); do
  s1=$(curl -fsS "$N1/v1/status" | jq -r '"\(.height) \(.state_root)"')
  [ "$s0" = "$s1" ] && break
  # The follower is past s0: compare at s0's height.
  if [ "${s1%% *}" -gt "${s0%% *}" ]; then
    s1="${s0%% *} $("$cairn" query --home "$H1" block "${s0%% *}" --json |
      jq -r .header.state_root)"
    s0="${s0%% *} $("$cairn" query --home "$H0" block "${s0%% *}" --json |
      jq -r .header.state_root)"
    break
  fi
  sleep 0.1
done
[ "$s0" = "$s1" ] && [[ "${s0#* }" =~ ^[0-9a-f]{64}$ ]] ||
  fail "state: node0 $s0, node1 $s1"
check "one state root"
out=$("$cairn" testnet stop --dir "$net" 2>&1) || fail "stop: $out"
[[ "$out" != *"did not stop"* ]] || fail "a node had to be killed: $out"
set +e
grep -l -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
  -e "runtime error:" "$H0/node.log" "$H1/node.log" >"$dir/hits"
rc=$?
set -e
[ $rc -eq 1 ] || fail "sanitizer reports in $(cat "$dir/hits")"
check "no sanitizer report"
pass "both nodes hold state ${s0#* } at height ${s0%% *}, stop cleanly, no sanitizer report"
echo "$passed sections, $checks checks passed"
