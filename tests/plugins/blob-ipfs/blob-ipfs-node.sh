#!/usr/bin/env bash
# blob-ipfs in a real node: a js-ipfs daemon on loopback (offline) and a
# `cairn init` home whose blob store is blob-ipfs instead of blob-fs. Blobs
# through `cairn blob` and /v1/blobs (CIDs as ipfs_cid gives them, stat,
# ranges, 404/400), stored in the daemon itself (its own /cat, pinned); an
# im attachment and a services video round trip through it; with the daemon
# killed, uploads fail with a clear error naming it, an im message with a
# file is not sent (no on-chain record of a blob that is not stored), and
# the node lives on; after a restart of the daemon all works again.
#
# Run through run-jsipfs.sh (JSIPFS, BLOB_IPFS_SHIM); needs CAIRN_BIN,
# curl, jq and ipfs_cid (Debian package ipfs-cid).
set -uo pipefail

cairn=${CAIRN_BIN:?set CAIRN_BIN to the cairn executable}
: "${JSIPFS:?run this through tests/plugins/blob-ipfs/run-jsipfs.sh}"
: "${BLOB_IPFS_SHIM:?run this through tests/plugins/blob-ipfs/run-jsipfs.sh}"
here=$(cd "$(dirname "$0")" && pwd)
video="$here/../../integration/services/tiny.mp4"
. "$here/../../integration/lib.sh" # free_port

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-blob-ipfs-node-XXXXXX") || exit 1
export CAIRN_HOME=$TMP/home
export IPFS_PATH=$TMP/ipfs
LOG=$TMP/node.log
IPFS_LOG=$TMP/ipfs.log
NODE_PID=
IPFS_PID=

cleanup() {
  for p in $NODE_PID $IPFS_PID; do
    kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  [ -s "$LOG" ] && { echo "--- node log"; tail -n 30 "$LOG"; }
  [ -s "$IPFS_LOG" ] && { echo "--- ipfs log"; tail -n 20 "$IPFS_LOG"; }
  exit 1
}
for tool in curl jq ipfs_cid cmp dd; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (ipfs_cid: the Debian package ipfs-cid)"
done

# ---- the IPFS daemon -----------------------------------------------------
. "$here/lib-jsipfs.sh"
jsipfs_init
start_ipfs
wait_ipfs
pass "js-ipfs $(ipfs version | jq -r .Version) on $IPFS"

# ---- the node --------------------------------------------------------------
"$cairn" init --home "$CAIRN_HOME" --chain-id blobipfs >/dev/null || fail "init"
rm "$CAIRN_HOME/conf.d/15-blob-fs.conf" || fail "no 15-blob-fs.conf to replace"
printf '[plugins]\nload = blob-ipfs\n\n[blob-ipfs]\napi_url = %s\nlookup_timeout_ms = 500\n' \
  "$IPFS" >"$CAIRN_HOME/conf.d/15-blob-ipfs.conf"
start_node() {
  for _ in 1 2 3 4 5; do
    PORT=$(free_port) || fail "no free port"
    printf '[http]\nlisten = 127.0.0.1:%s\nmax_blob_bytes = 512MiB\n' "$PORT" \
      >"$CAIRN_HOME/conf.d/99-test.conf"
    API=http://127.0.0.1:$PORT
    : >"$TMP/start.log"
    "$cairn" node --home "$CAIRN_HOME" >>"$TMP/start.log" 2>&1 </dev/null &
    NODE_PID=$!
    for _ in $(seq 600); do
      if curl -fs "$API/v1/status" >/dev/null; then
        cat "$TMP/start.log" >>"$LOG"
        return 0
      fi
      kill -0 "$NODE_PID" 2>/dev/null || break
      sleep 0.1
    done
    cat "$TMP/start.log" >>"$LOG"
    kill -0 "$NODE_PID" 2>/dev/null && fail "the node did not answer within 60 s"
    wait "$NODE_PID"
    NODE_PID=
    grep -q "in use" "$TMP/start.log" || fail "the node exited at start"
  done
  fail "no free port after 5 tries"
}
start_node
curl -fsS "$API/v1/status" | jq -e '.plugins | tostring | test("blob-ipfs")' \
  >/dev/null || fail "blob-ipfs is not loaded"
grep -q "IPFS daemon at $IPFS" "$LOG" || fail "the node's log does not name the daemon"
pass "a node with blob-ipfs instead of blob-fs"

blob() { "$cairn" blob "$@"; }
slice() { dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }

# ---- blobs -----------------------------------------------------------------
CHUNK=262144
i=0
for size in 0 1 $((CHUNK + 1)) $((3 * CHUNK + 17)) $((175 * CHUNK + 1)); do
  f=$TMP/f$i
  i=$((i + 1))
  head -c "$size" /dev/urandom >"$f"
  want=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv1)
  v0=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv0)
  cid=$(blob put "$f") || fail "blob put of $size bytes"
  [ "$cid" = "$want" ] || fail "CID of $size bytes: $cid, ipfs_cid says $want"
  [ "$(blob stat "$cid" --json | jq .size)" = "$size" ] || fail "stat of $size bytes"
  blob get "$cid" -o "$TMP/out" || fail "blob get of $size bytes"
  cmp -s "$f" "$TMP/out" || fail "blob get of $size bytes: different bytes"
  curl -fsS "$API/v1/blobs/$v0" | cmp -s "$f" - || fail "GET by CIDv0 of $size bytes"
  ipfs "cat?arg=$v0" | cmp -s "$f" - || fail "the daemon's own cat of $size bytes"
  ipfs "pin/ls?arg=$v0" >/dev/null || fail "$size bytes are not pinned in the daemon"
  pass "$size bytes: CID as ipfs_cid, stat, get, CIDv0, in the daemon and pinned"
done

f=$TMP/f4
size=$(stat -c %s "$f")
cid=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv1)
for r in 0-0 $((CHUNK - 1))-$CHUNK $((174 * CHUNK - 3))-$((175 * CHUNK)) -100; do
  case $r in
  -*) off=$((size - ${r#-})) len=${r#-} ;;
  *) off=${r%-*} len=$((${r#*-} - ${r%-*} + 1)) ;;
  esac
  code=$(curl -s -r "$r" -o "$TMP/part" -w '%{http_code}' "$API/v1/blobs/$cid")
  [ "$code" = 206 ] || fail "range $r: HTTP $code"
  slice "$f" "$off" "$len" | cmp -s - "$TMP/part" || fail "range $r: wrong bytes"
done
pass "ranges across chunks and DAG nodes are exact"

printf 'posted with curl' >"$TMP/posted"
got=$(curl -fsS -X POST --data-binary @"$TMP/posted" "$API/v1/blobs" | jq -r .cid)
[ "$got" = "$(ipfs_cid "$TMP/posted" 2>/dev/null | jq -r .CIDv1)" ] || fail "POST /v1/blobs: $got"
printf 'never stored' >"$TMP/absent"
absent=$(ipfs_cid "$TMP/absent" 2>/dev/null | jq -r .CIDv1)
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$API/v1/blobs/$absent")
[ "$code" = 404 ] && grep -q "$absent" "$TMP/body" || fail "unknown CID: HTTP $code $(cat "$TMP/body")"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$API/v1/blobs/bafy-not-a-cid")
[ "$code" = 400 ] || fail "malformed CID: HTTP $code"
pass "POST /v1/blobs; unknown CID 404, malformed 400"

# ---- an im attachment and a services video -----------------------------------
tx() { "$cairn" tx send --home "$CAIRN_HOME" --wait --timeout 60 "$@" >/dev/null; }
addr() { "$cairn" keys show "$1" --home "$CAIRN_HOME" --json | jq -r .address; }
tx --from admin core.grant_role "{\"address\":\"$(addr node)\",\"role\":\"im_registrar\"}" ||
  fail "grant im_registrar"
im() { "$cairn" im "$@"; }
im register alice >/dev/null && im register bob >/dev/null || fail "im register"
im bind bob --as alice >/dev/null && im accept alice --as bob >/dev/null || fail "im bind"
head -c 3000000 /dev/urandom >"$TMP/att"
im send bob --file "$TMP/att" --as alice >/dev/null || fail "im send --file"
seq=$(im inbox --as bob --json | jq '.[-1].seq')
att_cid=$(im inbox --as bob --json | jq -r '.[-1].cid')
im get "$seq" --as bob --out "$TMP/att.out" >/dev/null || fail "im get"
cmp -s "$TMP/att" "$TMP/att.out" || fail "the im attachment differs"
ipfs "pin/ls?arg=$att_cid" >/dev/null || fail "the attachment's ciphertext is not in the daemon"
pass "an im attachment (3 MB) round trips through the IPFS daemon"

for k in platform provider user; do
  "$cairn" keys new "$k" --home "$CAIRN_HOME" >/dev/null || fail "keys new $k"
done
tx --from admin bank.transfer "{\"to\":\"$(addr user)\",\"denom\":\"cairn\",\"amount\":100}" &&
  tx --from admin core.grant_role "{\"address\":\"$(addr platform)\",\"role\":\"platform\"}" &&
  tx --from platform services.register_provider "{\"address\":\"$(addr provider)\",\"name\":\"P\"}" ||
  fail "services setup"
svc() { "$cairn" services --home "$CAIRN_HOME" "$@"; }
pub=$(svc publish --from provider --video "$video" --place x --type y --price 7 \
  --denom cairn --json) || fail "services publish"
id=$(echo "$pub" | jq -r .service)
ipfs "pin/ls?arg=$(echo "$pub" | jq -r .cid)" >/dev/null || fail "the video is not in the daemon"
svc entitle "$id" --from user >/dev/null || fail "entitle"
url=$(svc key "$id" --from user --json | jq -r .video_url) || fail "key"
curl -fsS "$url" -o "$TMP/video" || fail "GET the video"
cmp -s "$TMP/video" "$video" || fail "the video differs"
curl -fsS -r 100-199 "$url" | cmp -s - <(slice "$video" 100 100) || fail "a range of the video"
pass "a services video is published to and played from the IPFS daemon"

# ---- the daemon killed ---------------------------------------------------------
stop_ipfs
head -c 1000000 /dev/urandom >"$TMP/late"
out=$(blob put "$TMP/late" 2>&1) && fail "blob put with the daemon down: $out"
[[ "$out" == *"$IPFS"* ]] || fail "the error does not name the daemon: $out"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST --data-binary @"$TMP/late" "$API/v1/blobs")
[ "$code" = 500 ] && jq -e --arg u "$IPFS" '.error.message | contains($u)' "$TMP/body" >/dev/null ||
  fail "POST /v1/blobs with the daemon down: HTTP $code $(cat "$TMP/body")"
echo "# $(jq -r .error.message "$TMP/body")"
before=$(im outbox --as alice --json | jq length)
out=$(im send bob --file "$TMP/late" --as alice 2>&1) && fail "im send with the daemon down: $out"
echo "# im send: $out"
[ "$(im outbox --as alice --json | jq length)" = "$before" ] ||
  fail "a message referring to a blob that was not stored was sent"
curl -fsS "$API/v1/status" >/dev/null || fail "the node died with its IPFS daemon"
pass "the daemon down: clear errors naming it, no message about a missing blob, the node lives"

start_ipfs
wait_ipfs
cid=$(blob put "$TMP/late") || fail "blob put after the daemon's restart"
blob get "$(ipfs_cid "$TMP/f3" 2>/dev/null | jq -r .CIDv1)" -o "$TMP/out" &&
  cmp -s "$TMP/f3" "$TMP/out" || fail "an earlier blob after the daemon's restart"
im send bob --file "$TMP/late" --as alice >/dev/null || fail "im send after the restart"
pass "after the daemon's restart: new and earlier blobs"

# A clean stop (under ASan, the leak check runs at the node's exit).
kill -TERM "$NODE_PID"
wait "$NODE_PID"
rc=$?
NODE_PID=
[ $rc = 0 ] || fail "the node exited with $rc after SIGTERM"
pass "the node stops cleanly"
echo "blob-ipfs-node: all passed"
