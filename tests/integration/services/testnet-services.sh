#!/bin/bash
# The services plugin on a real 4-validator PoS testnet (4 processes, TLS
# P2P), driven by the `cairn services` CLI and curl, with a real MP4
# (tiny.mp4: 2 s of ffmpeg's testsrc, 160x120, H.264, made once with
#   ffmpeg -f lavfi -i testsrc=duration=2:size=160x120:rate=10 -c:v libx264
#     -pix_fmt yuv420p -preset veryslow -crf 35 -movflags +faststart
#     -map_metadata -1 -fflags +bitexact -flags:v +bitexact tiny.mp4).
# The provider publishes through its own node (node0, the gateway); a user
# without entitlement is refused, pays, gets a query key; curl range
# requests return the exact bytes of the original; forged, expired and
# other-service keys are refused; complaint -> review -> opinion, and an
# unreviewed complaint published automatically, are visible on every node.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
here=$(cd "$(dirname "$0")" && pwd)
video="$here/tiny.mp4"
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-services-XXXXXX")
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
    tail -15 "$log" || true
  done
  exit 1
}
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
for tool in jq curl openssl basenc cmp; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[ -s "$video" ] || fail "$video is missing"

h0="$net/node0"
svc() { "$cairn" services --home "$h0" "$@"; }
height() { "$cairn" query --home "$net/node$1" status --json | jq .height; }
wait_height() { # node height
  for _ in $(seq 600); do
    [ "$(height "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

"$cairn" testnet init --dir "$net" --validators 4 >/dev/null || fail "init"
# Short review period so the test sees the opinions published; the same
# genesis on every node.
jq -S '.app_state.services = {"review_period_blocks": 25, "publish_delay_blocks": 15}' \
  "$h0/genesis.json" >"$dir/genesis.json"
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$net/node$i/genesis.json"
  printf '[blob-fs]\nsync = false\n' \
    >"$net/node$i/conf.d/95-services.conf"
done
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
wait_height 0 2 || fail "no blocks"
status=$("$cairn" testnet status --dir "$net" --json)
api() { echo "$status" | jq -r ".[$1].api"; }
api0=$(api 0)
curl -fsS "$api0/v1/status" | jq -e '.plugins | tostring | test("services")' \
  >/dev/null || fail "services plugin not loaded"
pass "4 validators run blob-fs and services"

for k in platform provider user user2 regulator; do
  "$cairn" keys new "$k" --home "$h0" >/dev/null
  declare "$k=$("$cairn" keys show "$k" --home "$h0" --json | jq -r .address)"
done
node0=$("$cairn" keys show node --home "$h0" --json | jq -r .address)
tx() { "$cairn" tx send --home "$h0" --wait --timeout 60 "$@" >/dev/null; }
tx --from admin bank.transfer "{\"to\":\"$user\",\"denom\":\"cairn\",\"amount\":100}"
tx --from admin bank.transfer "{\"to\":\"$user2\",\"denom\":\"cairn\",\"amount\":100}"
tx --from admin core.grant_role "{\"address\":\"$platform\",\"role\":\"platform\"}"
tx --from admin core.grant_role "{\"address\":\"$regulator\",\"role\":\"regulator\"}"
tx --from platform services.register_provider \
  "{\"address\":\"$provider\",\"name\":\"Harbour Boat Tours\"}" ||
  fail "register_provider"
if tx --from user services.register_provider \
  "{\"address\":\"$user\",\"name\":\"x\"}" 2>/dev/null; then
  fail "a user registered a provider"
fi
pass "platform registers the provider; others cannot"

# The CLI never sends a content key over plain http to another host.
set +e
out=$(svc publish --node http://192.0.2.1:7700 --from provider --video "$video" \
  --place x --type y --price 7 --denom cairn 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && [[ "$out" == *"refusing to send a content key"* ]] ||
  fail "publish to a non-loopback http URL: rc $rc: $out"

pub=$(svc publish --from provider --video "$video" --place "Old harbour, pier 3" \
  --type "boat tour" --price 7 --denom cairn --json) || fail "publish"
id=$(echo "$pub" | jq -r .service)
[ ${#id} -eq 64 ] || fail "publish printed no service id: $pub"
sha=$(sha256sum "$video" | cut -d' ' -f1)
for i in 0 1 2 3; do
  wait_height "$i" "$(height 0)" || fail "node$i behind"
  curl -fsS "$(api "$i")/v1/services/$id" | jq -e --arg s "$sha" \
    '.video.sha256 == $s and .video.content_type == "video/mp4" and .price.amount == 7' \
    >/dev/null || fail "node$i does not show the service"
done
cid=$(echo "$pub" | jq -r .cid)
# The node stores ciphertext only: the blob is not the MP4.
curl -fsS "$api0/v1/blobs/$cid" -o "$dir/blob"
cmp -s "$dir/blob" "$video" && fail "the stored blob is the plaintext"
[ "$(head -c 8 "$dir/blob")" = CAIRNVID ] || fail "the blob has no CAIRNVID header"
[ "$(stat -c %a "$h0/data/services/content-keys.json")" = 600 ] ||
  fail "content-keys.json is not mode 0600"
pass "provider publishes the encrypted video; the digest is on every node"

set +e
out=$(svc key "$id" --from user 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] && [[ "$out" == *entitlement_required* ]] &&
  [[ "$out" == *"cairn services entitle"* ]] ||
  fail "key without entitlement: rc $rc: $out"
code=$(curl -s -o "$dir/r.json" -w '%{http_code}' "$api0/v1/services/$id/video")
[ "$code" = 403 ] && jq -e '.error.code == "key_missing"' "$dir/r.json" >/dev/null ||
  fail "video without a key: $code $(cat "$dir/r.json")"
pass "a user without entitlement is refused, with how to get one"

b0=$("$cairn" query --home "$h0" balances "$provider" --json | jq '.balances.cairn // 0')
svc entitle "$id" --from user >/dev/null || fail "entitle"
b1=$("$cairn" query --home "$h0" balances "$provider" --json | jq '.balances.cairn')
[ $((b1 - b0)) -eq 7 ] || fail "provider got $((b1 - b0)), want 7"
if svc entitle "$id" --from user >/dev/null 2>&1; then
  fail "double entitlement accepted"
fi
b2=$("$cairn" query --home "$h0" balances "$provider" --json | jq '.balances.cairn')
[ "$b2" = "$b1" ] || fail "double entitlement moved funds"
wrong=$(printf '{"amount":6,"denom":"cairn","service":"%s"}' "$id")
if tx --from user2 services.entitle "$wrong" 2>/dev/null; then
  fail "wrong price accepted"
fi
pass "user pays the exact price once; double entitlement and wrong price refused"

key=$(svc key "$id" --from user --json) || fail "key"
token=$(echo "$key" | jq -r .token)
url=$(echo "$key" | jq -r .video_url)
curl -fsS "$url" -o "$dir/full.mp4" || fail "GET video"
cmp "$dir/full.mp4" "$video" || fail "the decrypted video differs"
size=$(stat -c %s "$video")
check_range() { # curl-range expected-offset expected-length
  curl -fsS -D "$dir/h" -r "$1" "$url" -o "$dir/part" || fail "range $1"
  grep -qi '^HTTP/1.1 206' "$dir/h" || fail "range $1: not 206"
  grep -qi "^Content-Range: bytes $2-$(($2 + $3 - 1))/$size" "$dir/h" ||
    fail "range $1: $(grep -i content-range "$dir/h")"
  # Not tail | head: under pipefail, tail may die of SIGPIPE.
  dd if="$video" of="$dir/want" bs=64K iflag=skip_bytes,count_bytes \
    skip="$2" count="$3" status=none
  cmp "$dir/part" "$dir/want" || fail "range $1: bytes differ"
}
check_range 0-99 0 100
check_range 1000-2999 1000 2000
check_range -200 $((size - 200)) 200
check_range $((size - 1))- $((size - 1)) 1
grep -qi '^Content-Type: video/mp4' "$dir/h" || fail "content type"
code=$(curl -s -o /dev/null -w '%{http_code}' -r "$size-" "$url")
[ "$code" = 416 ] || fail "a range past the end gave $code"
pass "the key plays the video; range requests return the exact bytes"

refused() { # token code
  c=$(curl -s -o "$dir/r.json" -w '%{http_code}' "$api0/v1/services/$id/video?key=$1")
  [ "$c" = 403 ] && jq -e --arg c "$2" '.error.code == $c' "$dir/r.json" >/dev/null ||
    fail "token refused with $c $(cat "$dir/r.json"), want 403 $2"
}
b64u() { basenc --base64url -w0 | tr -d '='; }
payload=${token%%.*}
sig=${token#*.}
flip=$(echo "$sig" | cut -c5)
[ "$flip" = A ] && to=B || to=A
refused "$payload.$(echo "$sig" | cut -c1-4)$to$(echo "$sig" | cut -c6-)" key_forged
# An expired key, signed with the gateway's own node key.
exp=$(($(date +%s) * 1000 - 60000))
p=$(jq -cnS --argjson e "$exp" --arg g "$node0" --arg h "$user" --arg s "$id" \
  '{exp:$e,gateway:$g,holder:$h,scope:"view",service:$s}')
printf 'cairn/services/query-key/v1\0%s' "$p" >"$dir/msg"
openssl pkeyutl -sign -inkey "$h0/keys/node.pem" -rawin -in "$dir/msg" -out "$dir/sig"
refused "$(printf %s "$p" | b64u).$(b64u <"$dir/sig")" key_expired
# The same, not expired: accepted (so the refusal above is the expiry).
p=$(echo "$p" | jq -cS ".exp = $(($(date +%s) * 1000 + 60000))")
printf 'cairn/services/query-key/v1\0%s' "$p" >"$dir/msg"
openssl pkeyutl -sign -inkey "$h0/keys/node.pem" -rawin -in "$dir/msg" -out "$dir/sig"
curl -fsS -o /dev/null "$api0/v1/services/$id/video?key=$(printf %s "$p" | b64u).$(b64u <"$dir/sig")" ||
  fail "a fresh key signed by the gateway key is refused"
refused "not-a-token" key_malformed
pass "forged, expired and malformed keys are refused"

# A second service: the provider's own key for it does not open the first.
head -c 3000 "$video" >"$dir/other.bin"
id2=$(svc publish --from provider --video "$dir/other.bin" --place x --type y \
  --price 3 --denom cairn --content-type application/octet-stream --json |
  jq -r .service) || fail "publish 2"
token2=$(svc key "$id2" --from provider --json | jq -r .token)
refused "$token2" key_other_service
curl -fsS "$api0/v1/services/$id2/video?key=$token2" | cmp - "$dir/other.bin" ||
  fail "service 2 video"
# Another node holds no content key: it sends the user to the gateway.
set +e
out=$("$cairn" services --home "$h0" --node "$(api 3)" key "$id" --from user 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] && [[ "$out" == *not_gateway* ]] || fail "key from node3: $rc $out"
pass "a key for another service is refused; other nodes send users to the gateway"

if svc feedback "$id" --from user2 --rating 2 --text "never went" >/dev/null 2>&1; then
  fail "feedback without entitlement accepted"
fi
svc feedback "$id" --from user --rating 4 --text "nice views" >/dev/null ||
  fail "experience feedback"
case1=$(svc feedback "$id" --from user --rating 1 --complaint \
  --text "the tour lasted 20 minutes, not 2 hours" --json | jq -r .case) ||
  fail "complaint"
curl -fsS "$api0/v1/services/cases/$case1" | jq -e '.status == "open"' >/dev/null ||
  fail "case not open"
set +e
out=$(svc key "$id" --from user --scope review 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] && [[ "$out" == *not_regulator* ]] || fail "user review key: $out"
rurl=$(svc key "$id" --from regulator --scope review --json | jq -r .video_url) ||
  fail "regulator key"
curl -fsS "$rurl" | cmp - "$video" || fail "regulator video"
if svc review "$case1" --from user --verdict upheld --text x >/dev/null 2>&1; then
  fail "review by a non-regulator accepted"
fi
set +e
out=$(svc opinion "$case1" --from regulator 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] && [[ "$out" == *"review period"* ]] ||
  fail "opinion before the deadline: $rc $out"
svc review "$case1" --from regulator --verdict upheld \
  --text "The video shows a 20-minute tour; refund ordered." >/dev/null ||
  fail "review"
pass "complaint opens a case; the regulator views it with its own key and reviews"

# A second complaint that nobody reviews.
svc entitle "$id" --from user2 >/dev/null || fail "entitle user2"
case2=$(svc feedback "$id" --from user2 --rating 2 --complaint --text "late" \
  --json | jq -r .case) || fail "complaint 2"
deadline=$(curl -fsS "$api0/v1/services/cases/$case1" | jq .deadline)
wait_height 0 "$deadline" || fail "deadline $deadline not reached"
svc opinion "$case1" --from regulator >/dev/null || fail "opinion after the deadline"
at2=$(curl -fsS "$api0/v1/services/cases/$case2" | jq .publish_at)
for i in 0 1 2 3; do
  wait_height "$i" "$at2" || fail "node$i did not reach $at2"
  a=$(api "$i")
  curl -fsS "$a/v1/services/cases/$case1" | jq -e --arg r "$regulator" \
    '.status == "published" and .opinion.verdict == "upheld" and .opinion.by == $r' \
    >/dev/null || fail "node$i: case 1 opinion"
  curl -fsS "$a/v1/services/cases/$case2" | jq -e \
    '.status == "published" and .opinion.verdict == "not_reviewed" and .opinion.by == "auto"' \
    >/dev/null || fail "node$i: case 2 not published automatically"
  n=$(curl -fsS "$a/v1/services/opinions" | jq '.opinions | length')
  [ "$n" = 2 ] || fail "node$i lists $n opinions"
done
pass "opinions are published (by the regulator, and automatically) on every node"
"$cairn" testnet stop --dir "$net" >/dev/null || fail "stop"
echo "$passed passed, 0 failed"
