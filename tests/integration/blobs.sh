#!/usr/bin/env bash
# Blobs end to end: a real node with the default blob-fs plugin, the `cairn blob`
# commands and the HTTP blob routes. CIDs must equal what IPFS's importer
# gives (checked with the Debian tool ipfs_cid, package ipfs-cid); bytes,
# ranges and sizes must round-trip exactly; bad requests get clear errors;
# a big blob goes through without the node holding it in memory; files of
# an interrupted upload do not stay behind.
set -u

CAIRN=${CAIRN_BIN:?set CAIRN_BIN to the cairn executable}
# Under ASan, freed chunks wait in a quarantine (256 MiB by default) that
# would count as the node's memory below; later options win.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-blobs-XXXXXX") || exit 1
NODE_HOME=$TMP/home
LOG=$TMP/node.log
NODE_PID=

cleanup() {
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null
    wait "$NODE_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  [ -s "$LOG" ] && { echo "--- last lines of the node's log ---"; tail -n 30 "$LOG"; }
  exit 1
}

command -v ipfs_cid >/dev/null ||
  fail "ipfs_cid is missing: install the Debian package ipfs-cid (./dev deps does)"

. "$(dirname "$0")/lib.sh"

# Start the node on a free port (another test may take the port first:
# then try another).
start_node() {
  for _ in 1 2 3 4 5; do
    PORT=$(free_port) || fail "no free port"
    printf '[http]\nlisten = 127.0.0.1:%s\nmax_blob_bytes = 512MiB\n' "$PORT" \
      >"$NODE_HOME/conf.d/99-test.conf"
    API=http://127.0.0.1:$PORT
    : >"$TMP/start.log"
    "$CAIRN" node --home "$NODE_HOME" >>"$TMP/start.log" 2>&1 </dev/null &
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

stop_node() {
  kill -TERM "$NODE_PID" && wait "$NODE_PID"
  NODE_PID=
}

blob() { "$CAIRN" blob --home "$NODE_HOME" "$@"; }

# The bytes of FILE from OFFSET, LEN of them.
slice() {
  dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

"$CAIRN" init --home "$NODE_HOME" --chain-id blobs >/dev/null || fail "init"
# An upload file that a crash left behind is removed at start.
mkdir -p "$NODE_HOME/data/tmp"
echo junk >"$NODE_HOME/data/tmp/upload-crashed"
start_node
[ ! -e "$NODE_HOME/data/tmp/upload-crashed" ] || fail "a crashed upload's file stayed"
pass "a crashed upload's file is removed at start"

# ---- CIDs and round trips --------------------------------------------------
CHUNK=262144
i=0
for size in 0 1 $((CHUNK - 1)) $CHUNK $((CHUNK + 1)) $((3 * CHUNK + 17)) \
  $((175 * CHUNK + 1)); do
  f=$TMP/f$i
  i=$((i + 1))
  head -c "$size" /dev/urandom >"$f"
  want=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv1)
  v0=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv0)
  cid=$(blob put "$f") || fail "blob put of $size bytes"
  [ "$cid" = "$want" ] || fail "CID of $size bytes: $cid, ipfs_cid says $want"
  got=$(blob stat "$cid" --json | jq .size)
  [ "$got" = "$size" ] || fail "stat of $size bytes says $got"
  blob get "$cid" -o "$TMP/out" 2>/dev/null || fail "blob get of $size bytes"
  cmp -s "$f" "$TMP/out" || fail "blob get of $size bytes: different bytes"
  curl -fs "$API/v1/blobs/$v0" | cmp -s "$f" - || fail "GET by CIDv0 of $size bytes"
  pass "$size bytes: CID $cid as ipfs_cid, stat, get, CIDv0"
done

# ---- ranges ------------------------------------------------------------
f=$TMP/f6 # 175 chunks + 1: two DAG levels
size=$(stat -c %s "$f")
cid=$(ipfs_cid "$f" 2>/dev/null | jq -r .CIDv1)
for r in 0-0 $((CHUNK - 1))-$CHUNK $((174 * CHUNK - 3))-$((175 * CHUNK)) \
  1000- -100 $((size - 1))-$((size + 50)); do
  case $r in
  -*) off=$((size - ${r#-})) len=${r#-} ;;
  *-) off=${r%-} len=$((size - ${r%-})) ;;
  *)
    off=${r%-*} end=${r#*-}
    [ "$end" -ge "$size" ] && end=$((size - 1))
    len=$((end - off + 1))
    ;;
  esac
  code=$(curl -s -r "$r" -D "$TMP/h" -o "$TMP/part" -w '%{http_code}' "$API/v1/blobs/$cid")
  [ "$code" = 206 ] || fail "range $r: HTTP $code"
  grep -qi "^content-range: bytes $off-$((off + len - 1))/$size" "$TMP/h" ||
    fail "range $r: $(grep -i content-range "$TMP/h")"
  slice "$f" "$off" "$len" | cmp -s - "$TMP/part" || fail "range $r: wrong bytes"
  blob get "$cid" --range "$r" 2>/dev/null | cmp -s - "$TMP/part" || fail "blob get --range $r"
done
pass "ranges (first byte, across chunks and DAG nodes, open, suffix, past the end) are exact"

code=$(curl -s -r "$size-" -o "$TMP/body" -w '%{http_code}' "$API/v1/blobs/$cid")
[ "$code" = 416 ] && jq -e '.error.code == "range_not_satisfiable"' "$TMP/body" >/dev/null ||
  fail "a range past the end: HTTP $code $(cat "$TMP/body")"
pass "a range past the end is 416"

# ---- bad requests ------------------------------------------------------
printf 'never stored' >"$TMP/absent"
absent=$(ipfs_cid "$TMP/absent" 2>/dev/null | jq -r .CIDv1)
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$API/v1/blobs/$absent")
[ "$code" = 404 ] && grep -q "$absent" "$TMP/body" || fail "unknown CID: HTTP $code $(cat "$TMP/body")"
blob get "$absent" >/dev/null 2>"$TMP/err"
[ $? = 3 ] || fail "blob get of an unknown CID: not exit 3"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$API/v1/blobs/bafy-not-a-cid")
[ "$code" = 400 ] || fail "malformed CID: HTTP $code $(cat "$TMP/body")"
code=$(curl -s -X PUT -o /dev/null -w '%{http_code}' "$API/v1/blobs/$cid")
[ "$code" = 405 ] || fail "PUT on a blob: HTTP $code"
pass "unknown CID 404 (exit 3), malformed CID 400, wrong method 405"

# Too large for [http] max_blob_bytes: refused before the body is sent
# (the client asks first with "Expect: 100-continue", as curl and
# `cairn blob put` do).
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/blobs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 999999999999\r\n\r\n' >&3
reply=
while IFS= read -r -t 10 line <&3; do reply="$reply$line"; done
reply="$reply$line"
exec 3>&-
printf '%s' "$reply" | grep -q '^HTTP/1.1 413' && printf '%s' "$reply" | grep -q max_blob_bytes ||
  fail "an oversized blob: $reply"
pass "a blob over max_blob_bytes is refused with 413 before its body"

# An upload cut off halfway leaves no file and the node goes on.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n0123456789' >&3
sleep 0.5
exec 3>&-
sleep 0.5
[ -z "$(ls "$NODE_HOME/data/tmp" 2>/dev/null)" ] || fail "a cut upload left $(ls "$NODE_HOME/data/tmp")"
curl -fs "$API/v1/status" >/dev/null || fail "the node died after a cut upload"
pass "an upload cut off halfway leaves nothing behind"

# ---- a big blob, memory flat --------------------------------------------
big=$TMP/big
head -c $((300 << 20)) /dev/urandom >"$big"
cid=$(blob put "$big") || fail "blob put of 300 MiB"
[ "$cid" = "$(ipfs_cid "$big" 2>/dev/null | jq -r .CIDv1)" ] || fail "CID of 300 MiB"
curl -fs "$API/v1/blobs/$cid" | cmp -s "$big" - || fail "GET of 300 MiB: different bytes"
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$NODE_PID/status")
[ "$hwm" -lt $((160 << 10)) ] || fail "node peak RSS ${hwm} KiB while moving 300 MiB"
pass "300 MiB in and out, node peak RSS $((hwm >> 10)) MiB"
rm -f "$big"

# ---- blobs survive a restart --------------------------------------------
stop_node
start_node
blob get "$(ipfs_cid "$TMP/f5" 2>/dev/null | jq -r .CIDv1)" -o "$TMP/out" 2>/dev/null &&
  cmp -s "$TMP/f5" "$TMP/out" || fail "a blob after a restart"
pass "blobs are there after a restart"
echo "blobs: all passed"
