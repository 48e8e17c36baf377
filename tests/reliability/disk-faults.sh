#!/bin/bash
# Disk faults under a solo node (store-lmdb, blob-fs, the default plugins):
#  1. damaged files after a clean stop and (those a kill can leave
#     different) after a kill -9 under load: data.mdb truncated (to half, to 0 bytes), a byte of a stored
#     block's header or tx flipped, a meta (header) page flipped; a blob-fs
#     block flipped or truncated; groups' key (data/groups/enc.pem) and the
#     node key (keys/node.pem) truncated or flipped. The node either
#     refuses to start with a message naming the file, or starts and never
#     serves wrong data: every block read is the recorded one or an error,
#     the blob reads back exactly or fails, the admin's balance is right
#     or an error. With the file restored it starts with every block it
#     had and `cairn store verify` passes.
#  2. a read-only data dir (a read-only bind mount: root ignores mode
#     bits): the node refuses to start naming it; writable again, it
#     starts with every block and continues.
#  3. a full disk (the data dir on a small tmpfs, filled up while the node
#     runs under load): no block is committed half, the log says why; with
#     the space freed and the node restarted it has every block it had,
#     verifies and continues.
#  4. the vote WAL of pos (4 validators): a validator killed while its WAL
#     holds a vote, then a byte of the record flipped: it starts, names the
#     damaged file and signs nothing more at that height; a torn record is
#     cut off; the chain and the node go on.
# Needs root (mounts); exits 77 otherwise.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: disk-faults mounts a tmpfs and read-only bind mounts: needs root"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-df-XXXXXX")
# Root in a container may still lack the right to mount (CAP_SYS_ADMIN).
if ! mount -t tmpfs -o size=1m tmpfs "$dir" 2>"$dir.err"; then
  echo "SKIP: disk-faults needs to mount a tmpfs: $(cat "$dir.err")"
  rm -rf "$dir" "$dir.err"
  exit 77
fi
umount "$dir"
rm -f "$dir.err"
mounts=()
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null
  [ -d "$dir/pos" ] && "$cairn" testnet stop --dir "$dir/pos" >/dev/null 2>&1
  for ((k = ${#mounts[@]} - 1; k >= 0; k--)); do umount -l "${mounts[k]}" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- $dir/node.log"
  tail -20 "$dir/node.log" || true
  exit 1
}
now_ms() { date +%s%3N; }
passes=0
pass() {
  echo "PASS: $*"
  passes=$((passes + 1))
}

net="$dir/net"
"$cairn" testnet init --dir "$net" --validators 1 --nodes 1 >/dev/null || fail "init"
src="$net/node0"
api="http://$(awk -F' *= *' '/^\[http\]/{h=1} h && $1=="listen"{print $2; exit}' "$src/conf.d/90-testnet.conf")"
admin=$("$cairn" keys show admin --home "$src" --json | jq -r .address)

height() { curl -fsS --max-time 2 "$api/v1/status" 2>/dev/null | jq -r .height; }
# Start the node of home $1 (log: $dir/node.log); 0 = its API answers,
# 1 = it exited (its status in $node_rc).
start() {
  : >"$dir/node.log"
  "$cairn" node --home "$1" >>"$dir/node.log" 2>&1 &
  node_pid=$!
  local t0
  t0=$(now_ms)
  until height >/dev/null; do
    if ! kill -0 "$node_pid" 2>/dev/null; then
      { wait "$node_pid"; } 2>/dev/null && node_rc=0 || node_rc=$?
      node_pid=
      return 1
    fi
    [ $(($(now_ms) - t0)) -lt 30000 ] || fail "the node of $1 neither answers nor exits"
    sleep 0.05
  done
}
stop() {
  [ -n "$node_pid" ] || return 0
  kill -TERM "$node_pid"
  { wait "$node_pid"; } 2>/dev/null && node_rc=0 || node_rc=$?
  node_pid=
  [ "$node_rc" = 0 ] || fail "the node did not stop cleanly (status $node_rc)"
}
crash() {
  kill -9 "$node_pid"
  { wait "$node_pid"; } 2>/dev/null || true
  node_pid=
}
load() { # $1 txs, through the running node of home $2
  "$cairn" bench --target "$api" --from "$2/keys/admin.pem" --txs "$1" \
    --accounts 2 --batch 10 --rate 200 --json >"$dir/bench.out" 2>"$dir/bench.err"
}
blocks() { # "height hash state_root" for 0..$1, from the API
  curl -fsS --max-time 30 "$api/v1/blocks/[0-$1]" |
    jq -r '"\(.header.height) \(.hash) \(.header.state_root)"'
}
verify() { # cairn store verify on home $1 (node stopped)
  "$cairn" store verify --home "$1" --json >"$dir/verify.out" 2>&1 ||
    { cat "$dir/verify.out"; fail "$2: store verify"; }
}

# ---- the reference homes -----------------------------------------------------
start "$src" || fail "the node does not start"
load 40 "$src" || { cat "$dir/bench.err"; fail "load"; }
head -c 300000 /dev/urandom >"$dir/blob"
cid=$(curl -fsS -X POST --data-binary @"$dir/blob" "$api/v1/blobs" | jq -r .cid)
[ -n "$cid" ] || fail "blob upload"
stop
cp -a "$src" "$dir/stopped" # after a clean stop
# After a kill -9 in the middle of load.
start "$src" || fail "restart"
load 40 "$src" >/dev/null 2>&1 &
bench=$!
sleep 1.5
crash
wait "$bench" 2>/dev/null || true
cp -a "$src" "$dir/killed"

# Record each snapshot's blocks, balance and blob through a clean start.
for s in stopped killed; do
  cp -a "$dir/$s" "$dir/probe"
  start "$dir/probe" || fail "$s snapshot does not start"
  # Only the blocks it had: the solo node makes more once started.
  H=$(curl -fsS "$api/v1/status" | jq .height)
  blocks "$H" >"$dir/$s.blocks"
  curl -fsS "$api/v1/state/bank/bal/$admin/cairn?height=$H" | jq -c .value >"$dir/$s.bal"
  # The first block with txs, and its first tx's signature.
  curl -fsS "$api/v1/blocks/[1-$H]" |
    jq -r 'select(.txs | length > 0) | "\(.header.height) \(.txs[0].sig)"' |
    head -1 >"$dir/$s.sig"
  echo "$H" >"$dir/$s.height"
  stop
  rm -rf "$dir/probe"
done
echo "snapshots: clean stop at $(cat "$dir/stopped.height"), kill at $(cat "$dir/killed.height")"

# ---- 1. damaged files --------------------------------------------------------
# Offset of the first occurrence of string $2 in file $1.
offsets_of() { grep -abo -- "$2" "$1" | cut -d: -f1; }
flip() { # file, offset: invert one byte
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 0x55)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# Apply fault $2 to home $1; print the damaged file (relative to the home).
damage() {
  local h=$1 f
  case $2 in
  mdb-half)
    f=data/store-lmdb/data.mdb
    truncate -s $(($(stat -c %s "$h/$f") / 2)) "$h/$f"
    ;;
  mdb-zero)
    f=data/store-lmdb/data.mdb
    truncate -s 0 "$h/$f"
    ;;
  mdb-header)
    # A hex digit of a block's state root, inside its stored header;
    # every copy of it (LMDB keeps old page versions: copy on write).
    f=data/store-lmdb/data.mdb
    root=$(awk -v h="$(cut -d' ' -f1 "$dir/$snap.sig")" '$1 == h {print $3}' "$dir/$snap.blocks")
    for o in $(offsets_of "$h/$f" "$root"); do flip "$h/$f" $((o + 10)); done
    ;;
  mdb-tx)
    # A byte of a tx signature inside a stored block.
    f=data/store-lmdb/data.mdb
    sig=$(cut -d' ' -f2 "$dir/$snap.sig")
    for o in $(offsets_of "$h/$f" "$sig"); do flip "$h/$f" $((o + 20)); done
    ;;
  mdb-meta)
    f=data/store-lmdb/data.mdb
    for o in 16 40 4112 4136; do flip "$h/$f" "$o"; done
    ;;
  blob-flip | blob-cut)
    f=$(cd "$h" && find data/blob-fs/blocks -name '*.data' -size +100k | sort | head -1)
    [ -n "$f" ] || fail "no blob-fs block file"
    if [ "$2" = blob-flip ]; then flip "$h/$f" 1000; else truncate -s 5000 "$h/$f"; fi
    ;;
  enc-cut)
    f=data/groups/enc.pem
    truncate -s 40 "$h/$f"
    ;;
  enc-flip)
    f=data/groups/enc.pem
    flip "$h/$f" 50
    ;;
  key-cut)
    f=keys/node.pem
    truncate -s 30 "$h/$f"
    ;;
  key-flip)
    f=keys/node.pem
    flip "$h/$f" 40
    ;;
  esac
  echo "$f"
}

faults="mdb-half mdb-zero mdb-header mdb-tx mdb-meta blob-flip blob-cut enc-cut enc-flip key-cut key-flip"
# After the kill: the files a kill can leave different (a cut to 0 bytes
# and the keys are the same as after a clean stop).
faults_killed="mdb-half mdb-header mdb-tx mdb-meta blob-flip blob-cut"
refused=0 served=0 served_errors=0 tried=0
for snap in stopped killed; do
  H=$(cat "$dir/$snap.height")
  list=$faults
  [ "$snap" = killed ] && list=$faults_killed
  for fault in $list; do
    tried=$((tried + 1))
    w="$dir/w"
    rm -rf "$w"
    cp -a "$dir/$snap" "$w"
    f=$(damage "$w" "$fault")
    what="$fault ($f, after a ${snap/stopped/clean stop})"
    if ! start "$w"; then
      [ "$node_rc" -lt 128 ] || fail "$what: the node died of signal $((node_rc - 128))"
      grep -q "$(basename "$f")" "$dir/node.log" ||
        fail "$what: the node refused to start without naming $(basename "$f")"
      refused=$((refused + 1))
    else
      # Every block: the recorded one or an error.
      rm -f "$dir"/b_*.json
      codes=$(curl -s --max-time 30 "$api/v1/blocks/[0-$H]" -o "$dir/b_#1.json" -w '%{http_code} ')
      k=0
      for c in $codes; do
        if [ "$c" = 200 ]; then
          got=$(jq -r '"\(.header.height) \(.hash) \(.header.state_root)"' "$dir/b_$k.json")
          want=$(awk -v h="$k" '$1 == h' "$dir/$snap.blocks")
          [ "$got" = "$want" ] || fail "$what: block $k served wrong: $got, want $want"
        else
          served_errors=$((served_errors + 1))
        fi
        k=$((k + 1))
      done
      c=$(curl -s -o "$dir/blob.got" -w '%{http_code}' "$api/v1/blobs/$cid")
      if [ "$c" = 200 ]; then
        cmp -s "$dir/blob" "$dir/blob.got" || fail "$what: the blob was served with wrong bytes"
      else
        served_errors=$((served_errors + 1))
      fi
      c=$(curl -s -o "$dir/bal.got" -w '%{http_code}' "$api/v1/state/bank/bal/$admin/cairn?height=$H")
      if [ "$c" = 200 ]; then
        [ "$(jq -c .value "$dir/bal.got")" = "$(cat "$dir/$snap.bal")" ] ||
          fail "$what: the balance at $H was served wrong"
      else
        served_errors=$((served_errors + 1))
      fi
      crash # the damaged home is thrown away
      served=$((served + 1))
    fi
    # The fault removed: the original file back, everything there.
    cp -a "$dir/$snap/$f" "$w/$f"
    start "$w" || fail "$what: with the file restored the node does not start"
    [ "$(height)" -ge "$H" ] || fail "$what: with the file restored the head is below $H"
    blocks "$H" | cmp -s - "$dir/$snap.blocks" || fail "$what: blocks differ after the restore"
    stop
    verify "$w" "$what, restored"
  done
done
pass "$tried damaged files: $refused refused with the file named, $served started and served only right data ($served_errors reads refused); all restored homes complete"

# ---- 2. read-only data dir ----------------------------------------------------
w="$dir/ro"
rm -rf "$w"
cp -a "$dir/stopped" "$w"
mount --bind "$w/data" "$w/data" && mounts+=("$w/data")
mount -o remount,bind,ro "$w/data"
if start "$w"; then
  fail "the node started on a read-only data dir"
fi
grep -q "$w/data" "$dir/node.log" || fail "the refusal does not name the read-only data dir"
[ "$node_rc" -lt 128 ] || fail "the node died of a signal on a read-only data dir"
# (Linux refuses to remount read-only while a file is open for writing, so
# a running node's data dir turns read-only only through a file system
# error; write errors under a running node are the full disk's case.)
mount -o remount,bind,rw "$w/data"
start "$w" || fail "the node does not start once the data dir is writable"
[ "$(height)" -ge "$(cat "$dir/stopped.height")" ] || fail "blocks lost after a read-only period"
h=$(height)
sleep 1.5
[ "$(height)" -gt "$h" ] || fail "the chain does not continue after a read-only period"
stop
umount "$w/data" && unset 'mounts[-1]'
verify "$w" "read-only"
pass "read-only data dir: refused at start naming it; continues once writable"

# ---- 3. full disk -------------------------------------------------------------
fs="$dir/fs"
mkdir -p "$fs"
mount -t tmpfs -o size=24m tmpfs "$fs" && mounts+=("$fs")
w="$dir/full"
rm -rf "$w"
cp -a "$dir/stopped" "$w"
mv "$w/data" "$fs/data"
ln -s "$fs/data" "$w/data"
start "$w" || fail "the node does not start on the tmpfs"
H0=$(height)
dd if=/dev/zero of="$fs/filler" bs=64k status=none 2>/dev/null || true
load 300 "$w" >/dev/null 2>&1 &
bench=$!
sleep 3
kill "$bench" 2>/dev/null || true
wait "$bench" 2>/dev/null || true
alive=0
if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
  alive=1
  H1=$(height)
  blocks "$H1" >"$dir/full.blocks" || fail "full disk: blocks 0..$H1 not readable"
  crash
else
  { wait "$node_pid"; } 2>/dev/null && node_rc=0 || node_rc=$?
  [ "$node_rc" -lt 128 ] || fail "full disk: the node died of signal $((node_rc - 128))"
fi
grep -Eqi "is full .*no space left" "$dir/node.log" ||
  fail "full disk: no message about the full disk in the log"
rm -f "$fs/filler"
start "$w" || fail "full disk: the node does not start once space is freed"
h=$(height)
[ "$h" -ge "$H0" ] || fail "full disk: head $h below $H0 after freeing space"
if [ "$alive" = 1 ]; then
  blocks "$H1" | cmp -s - "$dir/full.blocks" || fail "full disk: blocks changed"
fi
sleep 1.5
[ "$(height)" -gt "$h" ] || fail "full disk: the chain does not continue after freeing space"
stop
verify "$w" "full disk"
pass "full disk: commits refused with a message while full, nothing lost; continues once space is freed"

# ---- 4. the vote WAL of pos ---------------------------------------------------
# A validator's own votes of the current height, fsync'd before they
# leave. A torn tail (a kill in the middle of an append) is cut off; a
# record that does not read back means the validator may have voted and
# cannot recall how: it must say so naming the file and sign nothing more
# at that height (the others go on), then vote again from the next one.
pnet="$dir/pos"
"$cairn" testnet init --dir "$pnet" --validators 4 --nodes 4 >/dev/null || fail "pos testnet init"
"$cairn" testnet start --dir "$pnet" >/dev/null || fail "pos testnet start"
papi=$("$cairn" testnet status --dir "$pnet" --json | jq -r '.[0].api')
wal="$pnet/node1/data/pos/wal"
pheight() { curl -fsS --max-time 2 "$papi/v1/status" | jq .height; }
gone() { # wait until pid $1 has exited
  while [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; do sleep 0.05; done
}
for fault in flip cut; do
  t0=$(now_ms)
  until [ "$(pheight)" -ge 3 ]; do
    [ $(($(now_ms) - t0)) -lt 30000 ] || fail "the pos testnet makes no blocks"
    sleep 0.1
  done
  # node2 and node3 stopped: the chain stalls at the next height, where
  # node0 and node1 keep voting (rounds time out), so node1's WAL holds
  # votes of a height it has not committed. Then node1 is killed.
  for i in 2 3; do
    p=$(cat "$pnet/node$i/node.pid")
    kill -TERM "$p"
    gone "$p"
  done
  sleep 1.5
  [ "$(stat -c %s "$wal")" -ge 40 ] || fail "node1's WAL holds no vote at a stalled height"
  p=$(cat "$pnet/node1/node.pid")
  kill -9 "$p"
  gone "$p"
  # The records: 4-byte length, then version, kind (2, 3: votes), ...
  read -r voff vlen < <(od -An -v -tu1 "$wal" | tr -s ' ' '\n' | grep . |
    awk '{b[NR - 1] = $1} END {o = 0; while (o + 4 <= NR) {
      n = b[o] * 16777216 + b[o + 1] * 65536 + b[o + 2] * 256 + b[o + 3]
      if (b[o + 5] == 2 || b[o + 5] == 3) {print o, n; exit}
      o += 4 + n}}')
  [ -n "${voff:-}" ] || fail "node1's WAL holds no vote"
  if [ "$fault" = flip ]; then
    flip "$wal" $((voff + 4 + vlen - 10)) # in the vote's signature (its last 64 bytes)
  else
    truncate -s $((voff + 4 + vlen / 2)) "$wal" # a torn vote
  fi
  h=$(pheight)
  "$cairn" testnet start --dir "$pnet" >"$dir/pstart.out" 2>&1 ||
    { cat "$dir/pstart.out"; fail "WAL $fault: node1 does not start"; }
  if [ "$fault" = flip ]; then
    grep -q "pos: $wal: the record at offset $voff is damaged" "$pnet/node1/node.log" ||
      { tail -5 "$pnet/node1/node.log"; fail "WAL flip: node1 does not report its damaged WAL"; }
  fi
  t0=$(now_ms)
  until [ "$(curl -fsS --max-time 2 "$("$cairn" testnet status --dir "$pnet" --json | jq -r '.[1].api')/v1/status" | jq .height)" -gt $((h + 2)) ]; do
    [ $(($(now_ms) - t0)) -lt 30000 ] || fail "WAL $fault: the chain or node1 stopped"
    sleep 0.1
  done
  if [ "$fault" = flip ]; then
    grep -q "pos: not signing at height $((h + 1)): $wal was damaged" "$pnet/node1/node.log" ||
      fail "WAL flip: node1 did not hold back its votes at height $((h + 1))"
  fi
done
"$cairn" testnet stop --dir "$pnet" >/dev/null
for i in 0 1 2 3; do verify "$pnet/node$i" "pos WAL, node$i"; done
pass "pos WAL: a flipped record reported naming the file (no signing at that height), a torn one cut; the chain and the node go on"

echo "$passes passed, 0 failed"
