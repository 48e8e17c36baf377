# Sourced by the shell tests that need an IPFS daemon (run through
# run-jsipfs.sh, which gives JSIPFS and BLOB_IPFS_SHIM): a js-ipfs repo in
# $IPFS_PATH, offline, its API on a free loopback port. Needs free_port
# (tests/integration/lib.sh), fail, $TMP and $IPFS_LOG.
#
#   jsipfs_init      init and configure the repo; sets IPORT and IPFS (URL)
#   ipfs CMD         POST $IPFS/api/v0/CMD (curl -f)
#   start_ipfs       the daemon in the background (IPFS_PID)
#   wait_ipfs        until it answers (60 s), failing if it exits
#   stop_ipfs        SIGKILL it

jsipfs_init() {
  NODE_OPTIONS="--require=$BLOB_IPFS_SHIM" "$JSIPFS" init --empty-repo \
    >"$IPFS_LOG" 2>&1 || fail "jsipfs init"
  IPORT=$(free_port) || fail "no free port"
  IPFS=http://127.0.0.1:$IPORT
  jq --arg api "/ip4/127.0.0.1/tcp/$IPORT" \
    '.Bootstrap = [] | .Addresses.Swarm = [] | .Addresses.API = $api
     | .Addresses.Gateway = "" | .Addresses.RPC = "" | .Addresses.Delegates = []
     | .Discovery.MDNS.Enabled = false | .Discovery.webRTCStar.Enabled = false' \
    "$IPFS_PATH/config" >"$TMP/config" && mv "$TMP/config" "$IPFS_PATH/config" ||
    fail "configure the IPFS repo"
}
ipfs() { curl -fsS -X POST "$IPFS/api/v0/$1"; }
start_ipfs() {
  rm -rf "$IPFS_PATH/repo.lock" # a SIGKILLed daemon leaves its lock (a dir)
  # Not through a function: $! must be the daemon itself.
  NODE_OPTIONS="--require=$BLOB_IPFS_SHIM" "$JSIPFS" daemon --offline \
    >>"$IPFS_LOG" 2>&1 &
  IPFS_PID=$!
}
wait_ipfs() {
  for _ in $(seq 600); do
    ipfs id >/dev/null 2>&1 && return 0
    kill -0 "$IPFS_PID" 2>/dev/null || fail "the IPFS daemon exited at start"
    sleep 0.1
  done
  fail "the IPFS daemon did not answer within 60 s"
}
stop_ipfs() {
  kill -KILL "$IPFS_PID" && wait "$IPFS_PID" 2>/dev/null
  IPFS_PID=
}
