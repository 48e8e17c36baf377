#!/usr/bin/env bash
# cairn blob migrate: a node with blob-fs stores blobs of 0 B, 11 B,
# 300 KiB (two chunks) and 3 MiB (a DAG of 13 leaves), references them on
# chain with real txs (market.create package CIDs, a services video through
# `cairn services publish`), plus a CID that no store has, a string that
# only looks like a CID, and a blob nothing refers to. With the node
# stopped, migrate to blob-ipfs (a js-ipfs daemon on loopback): bad input
# and the node running are refused; a dry run copies nothing; the real run
# copies exactly the referenced blobs (the daemon's pins are checked) and
# verifies them, reporting the missing one; a second run finds them all
# present and verified; with the daemon down it fails, naming it. Then the
# node is switched to blob-ipfs and serves every referenced blob,
# byte-identical, through GET /v1/blobs/{cid}.
#
# Run through tests/plugins/blob-ipfs/run-jsipfs.sh (JSIPFS,
# BLOB_IPFS_SHIM); needs CAIRN_BIN, curl, jq and ipfs_cid (Debian package
# ipfs-cid).
set -uo pipefail

cairn=${CAIRN_BIN:?set CAIRN_BIN to the cairn executable}
: "${JSIPFS:?run this through tests/plugins/blob-ipfs/run-jsipfs.sh}"
: "${BLOB_IPFS_SHIM:?run this through tests/plugins/blob-ipfs/run-jsipfs.sh}"
here=$(cd "$(dirname "$0")" && pwd)
video="$here/services/tiny.mp4"
. "$here/lib.sh" # free_port

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-blob-migrate-XXXXXX") || exit 1
export CAIRN_HOME=$TMP/home
export IPFS_PATH=$TMP/ipfs
LOG=$TMP/node.log
IPFS_LOG=$TMP/ipfs.log
NODE_PID=
IPFS_PID=
T0=$(date +%s%N)

cleanup() {
  for p in $NODE_PID $IPFS_PID; do
    kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

pass() { echo "PASS: $* ($((($(date +%s%N) - T0) / 1000000)) ms)"; }
fail() {
  echo "FAIL: $*"
  [ -s "$TMP/out" ] && { echo "--- last migrate stdout"; cat "$TMP/out"; }
  [ -s "$TMP/err" ] && { echo "--- last migrate stderr"; tail -n 20 "$TMP/err"; }
  [ -s "$LOG" ] && { echo "--- node log"; tail -n 30 "$LOG"; }
  [ -s "$IPFS_LOG" ] && { echo "--- ipfs log"; tail -n 20 "$IPFS_LOG"; }
  exit 1
}
for tool in curl jq ipfs_cid cmp; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed (ipfs_cid: the Debian package ipfs-cid)"
done

# ---- the IPFS daemon (offline, API on a free loopback port) ----------------
. "$here/../plugins/blob-ipfs/lib-jsipfs.sh"
jsipfs_init
# Started in the background while the node is set up; wait_ipfs waits.
# The daemon's recursive pins, as CIDv1 where the test knows the blob
# (js-ipfs may list a CIDv0 DAG as Qm...), sorted.
declare -A V1_OF
pins_v1() {
  ipfs "pin/ls?type=recursive" | jq -r '.Keys | keys[]' | while read -r k; do
    echo "${V1_OF[$k]:-$k}"
  done | sort
}
start_ipfs

# ---- a node with blob-fs ----------------------------------------------------
"$cairn" init --home "$CAIRN_HOME" --chain-id migrate >/dev/null || fail "init"
[ -f "$CAIRN_HOME/conf.d/15-blob-fs.conf" ] || fail "init wrote no 15-blob-fs.conf"
start_node() {
  for _ in 1 2 3 4 5; do
    PORT=$(free_port) || fail "no free port"
    printf '[http]\nlisten = 127.0.0.1:%s\n' "$PORT" >"$CAIRN_HOME/conf.d/99-test.conf"
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
    grep -q "in use" "$TMP/start.log" || fail "the node exited at start: $(cat "$TMP/start.log")"
  done
  fail "no free port after 5 tries"
}
stop_node() {
  kill -TERM "$NODE_PID"
  wait "$NODE_PID"
  local rc=$?
  NODE_PID=
  [ $rc = 0 ] || fail "the node exited with $rc after SIGTERM"
}
start_node
pass "a node with blob-fs"

cid_of() { ipfs_cid "$1" 2>/dev/null | jq -r .CIDv1; }
: >"$TMP/f0"
printf 'hello cairn' >"$TMP/f1"
head -c $((300 * 1024)) /dev/urandom >"$TMP/f2"
head -c $((3 * 1048576 + 5)) /dev/urandom >"$TMP/f3"
head -c 100000 /dev/urandom >"$TMP/unref"
printf 'never stored anywhere' >"$TMP/absent"
declare -A FILE_OF
for f in f0 f1 f2 f3 unref; do
  cid=$("$cairn" blob put "$TMP/$f") || fail "blob put $f"
  [ "$cid" = "$(cid_of "$TMP/$f")" ] || fail "CID of $f: $cid, ipfs_cid says $(cid_of "$TMP/$f")"
  FILE_OF[$cid]=$TMP/$f
  V1_OF[$(ipfs_cid "$TMP/$f" 2>/dev/null | jq -r .CIDv0)]=$cid
done
UNREF=$(cid_of "$TMP/unref")
MISSING=$(cid_of "$TMP/absent")
FAKE=bafyaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa # CID-shaped, not a CID

tx() { "$cairn" tx send --home "$CAIRN_HOME" --wait --timeout 60 "$@" >/dev/null; }
addr() { "$cairn" keys show "$1" --home "$CAIRN_HOME" --json | jq -r .address; }
for k in platform provider; do
  "$cairn" keys new "$k" --home "$CAIRN_HOME" >/dev/null || fail "keys new $k"
done
tx --from admin core.grant_role "{\"address\":\"$(addr platform)\",\"role\":\"platform\"}" &&
  tx --from platform services.register_provider "{\"address\":\"$(addr provider)\",\"name\":\"P\"}" ||
  fail "services setup"
pub=$("$cairn" services --home "$CAIRN_HOME" publish --from provider --video "$video" \
  --place x --type y --price 7 --denom cairn --json) || fail "services publish"
VIDEO=$(echo "$pub" | jq -r .cid)
curl -fsS "$API/v1/blobs/$VIDEO" -o "$TMP/video.enc" || fail "GET the video's ciphertext"
FILE_OF[$VIDEO]=$TMP/video.enc
V1_OF[$(ipfs_cid "$TMP/video.enc" 2>/dev/null | jq -r .CIDv0)]=$VIDEO
DEV=$(addr admin)
n=0
for cid in $(cid_of "$TMP/f0") $(cid_of "$TMP/f1") $(cid_of "$TMP/f2") $(cid_of "$TMP/f3") \
  "$MISSING" "$FAKE"; do
  n=$((n + 1))
  "$cairn" tx send --home "$CAIRN_HOME" --wait --timeout 60 --json --from platform market.create \
    "{\"category\":\"apps\",\"developer\":\"$DEV\",\"name\":\"app$n\",\"package_cid\":\"$cid\",\"package_sha256\":\"$(printf '%064d' $n)\",\"version\":\"1.0\"}" \
    >"$TMP/tx.json" || fail "market.create with package $cid"
done
curl -fsS "$API/v1/state/market/svc/$(jq -r .id "$TMP/tx.json")" |
  jq -e --arg c "$FAKE" '.value.package_cid == $c' >/dev/null ||
  fail "the last market.create is not in the state"
# What migrate must find: the five blobs and the missing CID, sorted.
REFERENCED=$(printf '%s\n' "${!FILE_OF[@]}" "$MISSING" | grep -vx "$UNREF" | sort)
PRESENT=$(printf '%s\n' "${!FILE_OF[@]}" | grep -vx "$UNREF" | sort)
[ "$(echo "$REFERENCED" | wc -l)" = 6 ] || fail "test setup: $REFERENCED"
BYTES=0
for cid in $PRESENT; do BYTES=$((BYTES + $(stat -c %s "${FILE_OF[$cid]}"))); done
pass "5 blobs referenced by services.publish and market.create txs, a missing CID, a fake one, an unreferenced blob"

# ---- refusals while the node runs, and bad input -------------------------------
migrate() { "$cairn" blob migrate --home "$CAIRN_HOME" "$@" >"$TMP/out" 2>"$TMP/err"; }
migrate --from blob-fs --to blob-ipfs
rc=$?
[ $rc = 1 ] || fail "migrate with the node running: exit $rc"
grep -q "is in use by another cairn process" "$TMP/err" || fail "migrate with the node running: $(cat "$TMP/err")"
[ -s "$TMP/out" ] && fail "migrate with the node running printed a report"
echo "# $(grep '^cairn:' "$TMP/err")"
pass "the node running: refused"
stop_node
pass "the node stopped"

wait_ipfs
pass "js-ipfs $(ipfs version | jq -r .Version) on $IPFS"

expect() { # expect RC TEXT ARGS...: exit code and a piece of stderr
  local want=$1 text=$2
  shift 2
  migrate "$@"
  local rc=$?
  [ $rc = "$want" ] || fail "migrate $*: exit $rc, expected $want"
  grep -qF -- "$text" "$TMP/err" || fail "migrate $*: stderr lacks '$text'"
  [ -s "$TMP/out" ] && fail "migrate $*: printed a report"
  echo "# migrate $*: $(grep '^cairn:' "$TMP/err" | cut -c1-300)"
}
expect 2 "both blob-fs" --from blob-fs --to blob-fs
expect 2 "needs --from" --to blob-ipfs
expect 2 "plugin ids" --from blob-fs --to ../x
expect 3 "plugin 'blob-nope' not found" --from blob-fs --to blob-nope
expect 1 "is not a blob store" --from blob-fs --to bank
expect 1 "is not a blob store (its kinds: consensus" --from blob-fs --to pos
# Both in [plugins] load: the node refuses them as before, and so does migrate.
printf '[plugins]\nload = blob-ipfs\n' >"$CAIRN_HOME/conf.d/17-both.conf"
timeout 60 "$cairn" node --home "$CAIRN_HOME" >"$TMP/both.log" 2>&1 </dev/null
rc=$?
want="plugins blob-fs and blob-ipfs both register a blobstore backend; load only one of them"
[ $rc = 1 ] && grep -qF "$want" "$TMP/both.log" ||
  fail "a node with two blob stores in [plugins] load: exit $rc, $(cat "$TMP/both.log")"
expect 1 "$want" --from blob-fs --to blob-ipfs
rm "$CAIRN_HOME/conf.d/17-both.conf"
[ -z "$(pins_v1)" ] || fail "something was stored in the daemon: $(pins_v1)"
pass "two blob stores in [plugins] load are refused as before, by the node and by migrate"
pass "bad input refused: same store, no --from, a bad id, an unknown plugin, an app, a consensus plugin"

# The destination's settings, as a conf.d group without `load` (a node
# that does not load blob-ipfs refuses the group, so this comes now).
printf '[blob-ipfs]\napi_url = %s\nlookup_timeout_ms = 300\n' "$IPFS" \
  >"$CAIRN_HOME/conf.d/16-blob-ipfs.conf"

# ---- a dry run ------------------------------------------------------------------
migrate --from blob-fs --to blob-ipfs --dry-run --json
rc=$?
[ $rc = 1 ] || fail "dry run with a missing blob: exit $rc"
migrate --from blob-fs --to blob-ipfs --dry-run --allow-missing --json || fail "dry run --allow-missing"
jq -e '.dry_run and .referenced == 6 and .copied == 0 and .verified == 0
       and .missing_in_source == 1 and .failed == 0 and .already_present == 0' "$TMP/out" >/dev/null ||
  fail "dry run counts"
[ "$(jq -r '.would_copy[].cid' "$TMP/out")" = "$PRESENT" ] || fail "dry run: would_copy"
[ "$(jq -r '.missing[]' "$TMP/out")" = "$MISSING" ] || fail "dry run: missing"
[ -z "$(pins_v1)" ] || fail "the dry run stored something: $(pins_v1)"
pass "a dry run lists the 5 blobs to copy and the missing one, and copies nothing"

# ---- the migration ----------------------------------------------------------------
start=$(date +%s%N)
migrate --from blob-fs --to blob-ipfs --json
rc=$?
echo "# migrate took $((($(date +%s%N) - start) / 1000000)) ms"
[ $rc = 1 ] || fail "migrate with a blob missing in the source: exit $rc (want 1)"
jq -e '(.dry_run | not) and .referenced == 6 and .copied == 5 and .already_present == 0
       and .verified == 5 and .missing_in_source == 1 and .failed == 0 and (.ok | not)
       and .not_cids == 1 and .blocks_scanned > 6
       and .bytes_copied == '"$BYTES" "$TMP/out" >/dev/null || fail "migrate counts"
[ "$(jq -r '.copied_cids[]' "$TMP/out")" = "$PRESENT" ] || fail "migrate: copied_cids"
[ "$(jq -r '.missing[]' "$TMP/out")" = "$MISSING" ] || fail "migrate: missing"
grep -q "1 missing in blob-fs" "$TMP/err" || fail "migrate: the failure is not explained: $(cat "$TMP/err")"
[ "$(pins_v1)" = "$PRESENT" ] || fail "the daemon holds $(pins_v1), expected exactly $PRESENT"
for cid in $PRESENT; do
  ipfs "cat?arg=$cid" | cmp -s - "${FILE_OF[$cid]}" || fail "the daemon's own cat of $cid differs"
done
pass "migrate: 5 copied and verified, 1 missing in source (exit 1); the daemon pins exactly them, same bytes"

migrate --from blob-fs --to blob-ipfs
rc=$?
[ $rc = 1 ] || fail "second migrate without --allow-missing: exit $rc (want 1)"
migrate --from blob-fs --to blob-ipfs --allow-missing
rc=$?
[ $rc = 0 ] || fail "second migrate --allow-missing: exit $rc"
grep -Eq '^copied +0 ' "$TMP/out" && grep -Eq '^already present +5$' "$TMP/out" &&
  grep -Eq '^verified +5$' "$TMP/out" && grep -Eq '^missing in source +1$' "$TMP/out" &&
  grep -Eq '^failed +0$' "$TMP/out" && grep -q "^missing in source $MISSING\$" "$TMP/out" ||
  fail "second migrate: the summary"
[ "$(pins_v1)" = "$PRESENT" ] || fail "the second run changed the daemon's pins"
pass "a second run: all 5 already present and verified, exit 0 with --allow-missing"

# ---- back the other way (the fallback), and a damaged blob ----------------------
migrate --from blob-ipfs --to blob-fs --allow-missing --json ||
  fail "migrate --from blob-ipfs --to blob-fs: exit $?"
jq -e '.referenced == 6 and .copied == 0 and .already_present == 5 and .verified == 5
       and .missing_in_source == 1 and .failed == 0 and .ok' "$TMP/out" >/dev/null ||
  fail "migrate back: counts"
# f2's second leaf (45056 bytes of data) is the only block of that size.
leaf=$(find "$CAIRN_HOME/data/blob-fs/blocks" -name '*.data' -size +45056c -size -45120c)
[ "$(echo "$leaf" | wc -l)" = 1 ] && [ -f "$leaf" ] || fail "f2's second leaf: '$leaf'"
byte=$(dd if="$leaf" bs=1 skip=20000 count=1 status=none | od -An -tu1 | tr -d ' ')
printf "\\$(printf %03o $(((byte + 1) % 256)))" | dd of="$leaf" bs=1 seek=20000 conv=notrunc status=none
F2=$(cid_of "$TMP/f2")
migrate --from blob-fs --to blob-ipfs --allow-missing --json
rc=$?
[ $rc = 1 ] || fail "migrate from a damaged source: exit $rc"
jq -e --arg c "$F2" '.referenced == 6 and .already_present == 4 and .verified == 4
       and .failed == 1 and .failures[0].cid == $c and (.ok | not)' "$TMP/out" >/dev/null ||
  fail "migrate from a damaged source: counts"
echo "# failed: $(jq -r '.failures[0].reason' "$TMP/out")"
migrate --from blob-ipfs --to blob-fs --allow-missing
rc=$?
[ $rc = 1 ] && grep -q "^failed $F2: " "$TMP/out" && grep -Eq '^verified +4$' "$TMP/out" ||
  fail "migrate to a damaged destination: exit $rc"
pass "back to blob-fs: all present and verified; a damaged block fails that blob (both ways), exit 1"

# ---- the daemon down ----------------------------------------------------------------
stop_ipfs
migrate --from blob-fs --to blob-ipfs --allow-missing --json
rc=$?
[ $rc = 1 ] || fail "migrate with the daemon down: exit $rc"
grep -q "destination blob store blob-ipfs does not answer" "$TMP/err" &&
  grep -qF "$IPFS" "$TMP/err" && grep -q "nothing was copied" "$TMP/err" ||
  fail "migrate with the daemon down: $(cat "$TMP/err")"
[ -s "$TMP/out" ] && fail "migrate with the daemon down printed a report"
echo "# $(grep '^cairn:' "$TMP/err")"
pass "the daemon down: exit 1, the error names blob-ipfs and $IPFS, no report"
start_ipfs
wait_ipfs

# ---- the node on blob-ipfs ----------------------------------------------------------
rm "$CAIRN_HOME/conf.d/15-blob-fs.conf"
printf '[plugins]\nload = blob-ipfs\n\n[blob-ipfs]\napi_url = %s\nlookup_timeout_ms = 300\n' \
  "$IPFS" >"$CAIRN_HOME/conf.d/16-blob-ipfs.conf"
start_node
curl -fsS "$API/v1/status" | jq -e '[.plugins[].id] | index("blob-ipfs") and (index("blob-fs") | not)' \
  >/dev/null || fail "the node does not run blob-ipfs alone"
for cid in $PRESENT; do
  curl -fsS "$API/v1/blobs/$cid" -o "$TMP/got" || fail "GET /v1/blobs/$cid"
  cmp -s "$TMP/got" "${FILE_OF[$cid]}" || fail "GET /v1/blobs/$cid: different bytes"
done
for cid in "$MISSING" "$UNREF"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/blobs/$cid")
  [ "$code" = 404 ] || fail "GET /v1/blobs/$cid (not migrated): HTTP $code"
done
stop_node
pass "the node on blob-ipfs serves the 5 referenced blobs byte for byte; the others are 404"
echo "blob-migrate: all passed"
