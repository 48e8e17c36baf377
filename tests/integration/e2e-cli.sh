#!/usr/bin/env bash
# End-to-end test of the `cairn` command line against a real node: init,
# node, keys, tx send --wait, query, plugin list/inspect, bad input, crash
# (kill -9) and restart, clean SIGTERM, and a short `cairn bench`.
#
# Uses only the binary under test ($CAIRN_BIN) and POSIX tools; the JSON
# output is pretty-printed with sorted keys, so grep/sed read it.
# Prints PASS/FAIL lines and stops at the first failure.
set -u

CAIRN=${CAIRN_BIN:?set CAIRN_BIN to the cairn executable}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e-XXXXXX") || exit 1
NODE_HOME=$TMP/home
LOG=$TMP/node.log
NODE_PID=

cleanup() {
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -KILL "$NODE_PID" 2>/dev/null
    wait "$NODE_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

pass() { echo "PASS: $*"; }

fail() {
  echo "FAIL: $*"
  if [ -s "$LOG" ]; then
    echo "--- last lines of the node's log ---"
    tail -n 30 "$LOG"
  fi
  exit 1
}

# run ARGS...: the cairn command's exit code in RC, its output in OUT/ERR.
run() {
  "$CAIRN" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

# expect CODE WHAT ARGS...: run and require exit code CODE.
expect() {
  local want=$1 what=$2
  shift 2
  run "$@"
  [ "$RC" = "$want" ] ||
    fail "$what: exit $RC, expected $want
  command: cairn $*
  stdout: $OUT
  stderr: $ERR"
  pass "$what"
}

# field NAME: the first value of "NAME" in OUT (pretty JSON), unquoted.
field() {
  printf '%s\n' "$OUT" | grep -o "\"$1\": *\"\{0,1\}[^\",]*" | head -n 1 |
    sed -e "s/^\"$1\": *\"\{0,1\}//"
}

out_has() { printf '%s\n' "$OUT" | grep -q -- "$1"; }
err_has() { printf '%s\n' "$ERR" | grep -q -- "$1"; }

. "$(dirname "$0")/lib.sh"

set_port() {
  PORT=$(free_port) || fail "no free port found"
  printf '[http]\nlisten = 127.0.0.1:%s\n' "$PORT" >"$NODE_HOME/conf.d/99-test.conf"
}

# Start the node in the background and wait (up to 60 s, for sanitizer
# builds) until `cairn query status` answers.
start_node() {
  local attempt
  for attempt in 1 2 3; do
    echo "--- cairn node (attempt $attempt, port $PORT) ---" >>"$LOG"
    "$CAIRN" node --home "$NODE_HOME" >>"$LOG" 2>&1 </dev/null &
    NODE_PID=$!
    for _ in $(seq 600); do
      if "$CAIRN" query --home "$NODE_HOME" status >/dev/null 2>&1; then
        return 0
      fi
      kill -0 "$NODE_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$NODE_PID" 2>/dev/null; then
      fail "the node did not answer on port $PORT within 60 s"
    fi
    wait "$NODE_PID"
    NODE_PID=
    grep -q "in use" "$LOG" || return 1
    set_port
  done
  return 1
}

head_height() {
  run query --home "$NODE_HOME" status --json
  [ "$RC" = 0 ] || fail "query status: exit $RC: $ERR"
  field height
}

# ---- help and usage ---------------------------------------------------

expect 0 "cairn --help" --help
out_has "Commands:" || fail "cairn --help lists no commands"
expect 0 "cairn keys --help" keys --help
out_has "Usage:" || fail "cairn keys --help shows no usage"
expect 2 "unknown command is a usage error" no-such-command
err_has "^cairn: unknown command" || fail "message not 'cairn: ...': $ERR"
expect 0 "cairn version --json" version --json
[ "$(field major)" = 1 ] || fail "version --json: abi major is not 1: $OUT"

# ---- init ------------------------------------------------------------

expect 0 "init a home" init --home "$NODE_HOME" --chain-id e2e
for f in cairn.conf conf.d/00-profile.conf keys/node.pem keys/admin.pem genesis.json; do
  [ -s "$NODE_HOME/$f" ] || fail "init did not write $f"
done
[ "$(stat -c %a "$NODE_HOME/keys")" = 700 ] || fail "keys/ is not mode 0700"
grep -q '^chain_id = e2e$' "$NODE_HOME/cairn.conf" || fail "cairn.conf has no chain_id = e2e"
grep -q '"chain_id": "e2e"' "$NODE_HOME/genesis.json" || fail "genesis.json has no chain_id e2e"
pass "init wrote config, profile, keys and genesis"
expect 1 "init refuses a non-empty home" init --home "$NODE_HOME"
err_has "not empty" || fail "init's refusal does not say why: $ERR"
expect 2 "init refuses a bad chain id" init --home "$TMP/other" --chain-id "bad id"
expect 0 "init with other backends" init --home "$TMP/alt" --store store-git --blobstore blob-ipfs
ls "$TMP/alt/conf.d" >"$TMP/alt.ls"
grep -qx 10-store-git.conf "$TMP/alt.ls" && grep -qx 15-blob-ipfs.conf "$TMP/alt.ls" &&
  ! grep -q -e store-lmdb -e blob-fs "$TMP/alt.ls" || fail "init --store/--blobstore wrote: $(cat "$TMP/alt.ls")"
expect 0 "init --force back to the defaults" init --home "$TMP/alt" --force
ls "$TMP/alt/conf.d" >"$TMP/alt.ls"
grep -qx 10-store-lmdb.conf "$TMP/alt.ls" && ! grep -q -e store-git -e blob-ipfs "$TMP/alt.ls" ||
  fail "init --force left: $(cat "$TMP/alt.ls")"
expect 2 "init refuses an unknown storage plugin" init --home "$TMP/alt2" --store store-nope
err_has "unknown storage plugin 'store-nope' (available: store-lmdb, store-git)" ||
  fail "unknown --store: $ERR"
[ ! -e "$TMP/alt2" ] || fail "a refused init left $TMP/alt2 behind"
pass "init --store/--blobstore swap the backend snippets; unknown names are refused"

# ---- node ------------------------------------------------------------

set_port
start_node || fail "the node did not start"
pass "node answers /v1/status on port $PORT"
expect 0 "query status --json" query --home "$NODE_HOME" status --json
[ "$(field chain_id)" = e2e ] || fail "status chain_id is not e2e: $OUT"
expect 1 "a second node on the same home is refused" node --home "$NODE_HOME"
err_has "data is in use by another cairn process" || fail "second node: $ERR"
expect 1 "cairn store verify while the node runs is refused" store verify --home "$NODE_HOME"
err_has "in use by another cairn process" || fail "store verify on a running home: $ERR"

# ---- keys ------------------------------------------------------------

expect 0 "keys new alice" keys new alice --home "$NODE_HOME"
expect 1 "keys new refuses to overwrite" keys new alice --home "$NODE_HOME"
expect 2 "keys new refuses a bad name" keys new "a/b" --home "$NODE_HOME"
expect 0 "keys show alice --json" keys show alice --home "$NODE_HOME" --json
ALICE=$(field address)
[ ${#ALICE} = 40 ] || fail "alice's address is not 40 hex chars: $ALICE"
expect 0 "keys show admin --json" keys show admin --home "$NODE_HOME" --json
ADMIN=$(field address)
expect 0 "keys list --json" keys list --home "$NODE_HOME" --json
for k in admin alice node; do
  out_has "\"name\": \"$k\"" || fail "keys list lacks $k: $OUT"
done
expect 3 "keys show of a missing key" keys show bob --home "$NODE_HOME"

# ---- transactions ----------------------------------------------------

expect 0 "tx send admin -> alice 100 --wait" \
  tx send --home "$NODE_HOME" --from admin bank.transfer \
  "{\"to\":\"$ALICE\",\"denom\":\"cairn\",\"amount\":100}" --wait --json
[ "$(field status)" = committed ] || fail "tx not committed: $OUT"
TX1=$(field id)
[ ${#TX1} = 64 ] || fail "tx id is not 64 hex chars: $TX1"
expect 0 "tx send alice -> admin 5 --wait" \
  tx send --home "$NODE_HOME" --from alice bank.transfer \
  "{\"to\":\"$ADMIN\",\"denom\":\"cairn\",\"amount\":5}" --wait
out_has "committed at height" || fail "tx send --wait printed no commit: $OUT"

expect 0 "query balances alice --json" query --home "$NODE_HOME" balances "$ALICE" --json
[ "$(field cairn)" = 95 ] || fail "alice holds $(field cairn), expected 95: $OUT"
expect 0 "query balances admin --json" query --home "$NODE_HOME" balances "$ADMIN" --json
[ "$(field cairn)" = 999999999905 ] ||
  fail "admin holds $(field cairn), expected 999999999905: $OUT"
expect 0 "query block latest --json" query --home "$NODE_HOME" block latest --json
out_has '"height"' || fail "block has no height: $OUT"
expect 0 "query tx --json" query --home "$NODE_HOME" tx "$TX1" --json
[ "$(field status)" = committed ] || fail "query tx: status is not committed: $OUT"
expect 0 "query account alice" query --home "$NODE_HOME" account alice --json
[ "$(field next_nonce)" = 1 ] || fail "alice's next_nonce is not 1: $OUT"

# ---- bad input -------------------------------------------------------

expect 1 "tx of an unknown type is refused" \
  tx send --home "$NODE_HOME" --from admin nosuch.thing '{"a":1}'
err_has unknown_type || fail "no 'unknown_type' in: $ERR"
expect 2 "malformed BODY is a usage error" \
  tx send --home "$NODE_HOME" --from admin bank.transfer '{"to":'
expect 2 "a float in BODY is a usage error" \
  tx send --home "$NODE_HOME" --from admin bank.transfer '{"amount":1.5}'
err_has "floating-point" || fail "float refusal does not say why: $ERR"
expect 1 "a failing tx exits 1 with its reason" \
  tx send --home "$NODE_HOME" --from alice bank.transfer \
  "{\"to\":\"$ADMIN\",\"denom\":\"cairn\",\"amount\":1000}" --wait
err_has insufficient_funds || fail "no 'insufficient_funds' in: $ERR"
expect 3 "query of an unknown tx is not found" \
  query --home "$NODE_HOME" tx 0000000000000000000000000000000000000000000000000000000000000000
expect 2 "query tx of a malformed id" query --home "$NODE_HOME" tx xyz
expect 4 "an unreachable node exits 4" query --node http://127.0.0.1:1 status

# ---- plugins ---------------------------------------------------------

expect 0 "plugin list --json" plugin list --home "$NODE_HOME" --json
for p in bank solo store-lmdb; do
  out_has "\"id\": \"$p\"" || fail "plugin list lacks $p: $OUT"
done
out_has '"state": "failed"' && fail "plugin list shows a failed plugin: $OUT"
BANK_SO=$(printf '%s\n' "$OUT" | grep -o '"file": "[^"]*/bank\.so"' | sed -e 's/"file": "//' -e 's/"$//')
[ -f "$BANK_SO" ] || fail "plugin list gives no bank.so file: $OUT"
expect 0 "plugin inspect bank.so --json" plugin inspect "$BANK_SO" --json
[ "$(field id)" = bank ] || fail "inspect: id is not bank: $OUT"
expect 3 "plugin inspect of a missing file" plugin inspect "$TMP/none.so"
expect 2 "plugin new without a NAME is a usage error" plugin new

# ---- crash and restart -----------------------------------------------

HEIGHT=$(head_height)
kill -KILL "$NODE_PID"
wait "$NODE_PID" 2>/dev/null
NODE_PID=
start_node || fail "the node did not restart after kill -9"
pass "node restarted after kill -9"
AFTER=$(head_height)
[ "$AFTER" -ge "$HEIGHT" ] || fail "height went back from $HEIGHT to $AFTER"
pass "height $AFTER >= $HEIGHT after the restart"
expect 0 "balances survive the crash" query --home "$NODE_HOME" balances "$ALICE" --json
[ "$(field cairn)" = 95 ] || fail "alice holds $(field cairn) after the restart, expected 95"
expect 0 "tx after the restart" \
  tx send --home "$NODE_HOME" --from alice bank.transfer \
  "{\"to\":\"$ADMIN\",\"denom\":\"cairn\",\"amount\":1}" --wait

# ---- clean stop ------------------------------------------------------

kill -TERM "$NODE_PID"
for _ in $(seq 300); do
  kill -0 "$NODE_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$NODE_PID" 2>/dev/null && fail "the node did not stop within 30 s of SIGTERM"
wait "$NODE_PID"
STATUS=$?
NODE_PID=
[ "$STATUS" = 0 ] || fail "the node exited with status $STATUS on SIGTERM"
pass "node stopped cleanly on SIGTERM"
expect 4 "query after the stop cannot reach the node" query --home "$NODE_HOME" status

# ---- bench -----------------------------------------------------------

mkdir -p "$TMP/bench-tmp"
OUT=$(TMPDIR=$TMP/bench-tmp "$CAIRN" bench --txs 600 --accounts 6 --batch 100 --json 2>"$TMP/err" </dev/null)
RC=$?
ERR=$(cat "$TMP/err")
[ "$RC" = 0 ] || fail "bench: exit $RC: $ERR"
LAST=$(printf '%s\n' "$OUT" | tail -n 1)
for k in committed_tps p50_ms p90_ms p99_ms rejected rss_mib cpu_s txs duration_s ed25519_verify_per_s; do
  printf '%s' "$LAST" | grep -q "\"$k\":" || fail "bench JSON lacks $k: $LAST"
done
printf '%s' "$LAST" | grep -q '"committed":600,' || fail "bench did not commit 600 txs: $LAST"
[ -z "$(ls -A "$TMP/bench-tmp")" ] || fail "bench left files behind: $(ls "$TMP/bench-tmp")"
pass "bench committed 600 txs and cleaned up"

echo "all e2e-cli checks passed"
