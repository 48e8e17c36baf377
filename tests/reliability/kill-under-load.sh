#!/bin/bash
# Crash consistency under load: a testnet of 4 PoS validators and 1
# follower (real processes, default plugins) carries signed bank transfers
# (`cairn bench --target`, a node that is not killed in that round) while
# nodes are SIGKILLed at random moments and restarted, KILLS times (20; 200
# with CAIRN_LONG=1). Most rounds kill one validator, some the follower,
# about one in eight two validators at once (half the stake: the chain
# stalls, checked, then resumes when they are back).
#
# After each round, for every killed node:
#  - no committed block lost: the hash and state root it served at every
#    height up to its head before the kill are the same after the restart,
#    and its head is >= the earlier one;
#  - no half-applied state: a state read at its old head (the admin's
#    balance, /v1/state/bank/...?height=H) equals another node's, and the
#    state root of its head equals the other nodes' at that height;
#  - txs that the API had reported committed on it (a sample of every
#    block's txs) are still committed at the same height (/v1/txs/{id});
#  - it catches up with the others (recovery time, bounded), and the chain
#    grows after the restart; the bench's txs all commit.
# Every node's blocks (hash, state root) are recorded by height each round
# and must agree across nodes. At the end the nodes are stopped and `cairn
# store verify` checks every home: every block and the head state hashed
# against the head's state root.
#
# Env: KILLS (default 20), CAIRN_LONG=1 (200 kills), SEED (the round's
# random choices; printed), KEEP=1 keeps the testnet dir.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
. "$(dirname "$0")/../integration/lib.sh" # agree
KILLS=${KILLS:-20}
[ "${CAIRN_LONG:-0}" = 1 ] && KILLS=${KILLS_LONG:-200}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$((SEED % 32768))
echo "kill-under-load: $KILLS kills, SEED=$SEED"

dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-kul-XXXXXX")
net="$dir/net"
rec="$dir/rec"
mkdir -p "$rec"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  [ -n "${bench_pid:-}" ] && kill "$bench_pid" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $* (SEED=$SEED)"
  for log in "$net"/node*/node.log; do
    echo "--- $log"
    tail -20 "$log" || true
  done
  exit 1
}
NODES=5 # node0..3 validators, node4 a follower
declare -a api
now_ms() { date +%s%3N; }

"$cairn" testnet init --dir "$net" --validators 4 --nodes $NODES >/dev/null ||
  fail "testnet init"
"$cairn" testnet start --dir "$net" >/dev/null || fail "testnet start"
st=$("$cairn" testnet status --dir "$net" --json)
for i in $(seq 0 $((NODES - 1))); do
  api[i]=$(jq -r ".[$i].api" <<<"$st")
  : >"$rec/node$i"
done
admin=$("$cairn" keys show admin --home "$net/node0" --json | jq -r .address)
agree $NODES 2 || fail "the testnet did not start making blocks"

# (Polled: sed, not a jq process per call.)
height_of() {
  curl -fsS --max-time 3 "${api[$1]}/v1/status" |
    sed -n 's/.*"height":\([0-9]*\).*/\1/p'
}
pid_of() { cat "$net/node$1/node.pid"; }

# Blocks $2..$3 of node $1 as "height hash state_root tx_count" lines.
blocks() {
  [ "$2" -le "$3" ] || return 0
  curl -fsS --max-time 60 "${api[$1]}/v1/blocks/[$2-$3]" |
    jq -r '"\(.header.height) \(.hash) \(.header.state_root) \(.txs | length)"'
}

# Append node $1's new blocks up to its head (or $2) to its record; print
# the height recorded up to.
record() {
  local i=$1 last head
  last=$(tail -1 "$rec/node$i" | cut -d' ' -f1)
  last=${last:--1}
  head=${2:-$(height_of "$i")}
  blocks "$i" $((last + 1)) "$head" >>"$rec/node$i"
  echo "$head"
}

# Every recorded height holds one block and one state root on all nodes.
check_agreement() {
  local bad
  bad=$(cat "$rec"/node* | sort -u | cut -d' ' -f1 | uniq -d | head -3)
  [ -z "$bad" ] || fail "nodes recorded different blocks at height(s) $bad"
}

# Txs reported committed: id and height, a sample of each block's txs.
record_txs() {
  local i=$1 from=$2 to=$3
  [ "$from" -le "$to" ] || return 0
  curl -fsS --max-time 60 "${api[$i]}/v1/blocks/[$from-$to]" |
    jq -r '.header.height as $h | .results[:3][] | "\(.id) \($h)"' \
      >>"$rec/txs" || true
}

kills=0 max_recovery=0 bench_committed=0 rounds=0 stalls=0
bench_pid=
while [ "$kills" -lt "$KILLS" ]; do
  rounds=$((rounds + 1))
  # Victims: ~1/8 two validators, ~1/4 the follower or any node, else one
  # validator.
  r=$((RANDOM % 8))
  if [ "$r" -eq 0 ] && [ $((KILLS - kills)) -ge 2 ]; then
    a=$((RANDOM % 4))
    b=$(((a + 1 + RANDOM % 3) % 4))
    victims="$a $b"
    stalls=$((stalls + 1))
  elif [ "$r" -le 2 ]; then
    victims=$((RANDOM % NODES))
  else
    victims=$((RANDOM % 4))
  fi
  target=$(((${victims##* } + 1 + RANDOM % (NODES - 1)) % NODES))
  while [[ " $victims " == *" $target "* ]]; do target=$(((target + 1) % NODES)); done

  "$cairn" bench --target "${api[target]}" --from "$net/node0/keys/admin.pem" \
    --txs 60 --accounts 2 --rate 400 --batch 20 --json \
    >"$dir/bench.out" 2>"$dir/bench.err" &
  bench_pid=$!
  sleep "0.$((1 + RANDOM % 6))"

  declare -A old_head=()
  for v in $victims; do
    last=$(tail -1 "$rec/node$v" | cut -d' ' -f1)
    old_head[$v]=$(record "$v")
    record_txs "$v" $((${last:--1} + 1)) "${old_head[$v]}"
  done
  dead=()
  for v in $victims; do
    dead+=("$(pid_of "$v")")
    kill -9 "${dead[-1]}"
  done
  # Gone (its lock released) before the restart: a process with a large
  # address space (ASan) takes a while to die.
  for p in "${dead[@]}"; do
    t=0
    while [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; do
      t=$((t + 1))
      [ "$t" -lt 400 ] || fail "pid $p still alive 20 s after SIGKILL"
      sleep 0.05
    done
  done
  kills=$((kills + $(wc -w <<<"$victims")))
  if [ "$(wc -w <<<"$victims")" -eq 2 ]; then
    # Half the stake is down: no new block can get 2/3 of the precommits
    # (what the killed ones precommitted before dying may still land: the
    # load node may be a block behind them).
    s0=$(height_of "$target")
    sleep 1
    s1=$(height_of "$target")
    [ "$s1" -le $((s0 + 2)) ] ||
      fail "the chain went from $s0 to $s1 with two of four validators down"
  fi
  t0=$(now_ms)
  "$cairn" testnet start --dir "$net" >"$dir/start.out" 2>&1 ||
    { cat "$dir/start.out"; fail "restart of node(s) $victims"; }

  # Recovery: each victim reaches the height the live nodes had at restart.
  goal=$(height_of "$target")
  for v in $victims; do
    until h=$(height_of "$v" 2>/dev/null) && [ "$h" -ge "$goal" ]; do
      [ $(($(now_ms) - t0)) -lt 60000 ] ||
        fail "node$v did not catch up to $goal in 60 s (at ${h:-?})"
      sleep 0.05
    done
  done
  rec_ms=$(($(now_ms) - t0))
  [ "$rec_ms" -gt "$max_recovery" ] && max_recovery=$rec_ms

  wait "$bench_pid" || { cat "$dir/bench.err"; fail "bench on node$target (round $rounds)"; }
  bench_pid=
  c=$(tail -1 "$dir/bench.out" | jq .committed)
  [ "$c" = 60 ] || fail "bench: $c of 60 txs committed (round $rounds)"
  bench_committed=$((bench_committed + c))

  for v in $victims; do
    oh=${old_head[$v]}
    h=$(height_of "$v")
    [ "$h" -ge "$oh" ] || fail "node$v: head $h after restart, was $oh"
    # The same blocks at every height it had.
    blocks "$v" 0 "$oh" >"$dir/after"
    head -n $((oh + 1)) "$rec/node$v" | cmp -s - "$dir/after" ||
      fail "node$v lost or changed committed blocks: $(diff <(head -n $((oh + 1)) "$rec/node$v") "$dir/after" | head -4)"
    # The state at its old head, read back, equals the target's.
    key="v1/state/bank/bal/$admin/cairn?height=$oh"
    mine=$(curl -fsS "${api[v]}/$key" | jq -c .value)
    theirs=$(curl -fsS "${api[target]}/$key" | jq -c .value)
    [ "$mine" = "$theirs" ] ||
      fail "node$v: admin balance at $oh is $mine, node$target says $theirs"
    # Its head's state root is the others' at that height.
    s=$(curl -fsS "${api[v]}/v1/status")
    hh=$(jq .height <<<"$s")
    want=$(curl -fsS "${api[target]}/v1/blocks/$hh" | jq -r .header.state_root)
    [ "$(jq -r .state_root <<<"$s")" = "$want" ] ||
      fail "node$v: state root at its head $hh differs from node$target's"
  done
  # Txs reported committed before a kill are still there.
  for v in $victims; do
    shuf -n 5 --random-source=<(yes "$SEED") "$rec/txs" 2>/dev/null |
      while read -r id th; do
        got=$(curl -fsS "${api[v]}/v1/txs/$id" | jq -r '"\(.status) \(.height)"')
        [ "$got" = "committed $th" ] ||
          fail "node$v: tx $id was committed at $th, now '$got'"
      done
  done
  # The chain goes on after the restart: above the height it had then,
  # on the restarted nodes too.
  t1=$(now_ms)
  for i in $victims $target; do
    until [ "$(height_of "$i")" -gt "$goal" ]; do
      [ $(($(now_ms) - t1)) -lt 30000 ] ||
        fail "node$i did not go past $goal in 30 s after round $rounds"
      sleep 0.05
    done
  done
  for i in $(seq 0 $((NODES - 1))); do record "$i" >/dev/null; done
  check_agreement
  echo "round $rounds: killed node(s) $victims (heads ${old_head[*]}), recovered in ${rec_ms} ms, load on node$target"
  unset old_head
done

head_h=$(height_of 0)
agree $NODES "$head_h" || fail "the nodes do not agree at the end"
for i in $(seq 0 $((NODES - 1))); do record "$i" >/dev/null; done
check_agreement
"$cairn" testnet stop --dir "$net" >/dev/null || fail "testnet stop"
for i in $(seq 0 $((NODES - 1))); do
  out=$("$cairn" store verify --home "$net/node$i" --json) ||
    fail "cairn store verify on node$i: $out"
  echo "$(jq -r '"\(.height) \(.state_root)"' <<<"$out")" >>"$dir/verified"
  vh=$(jq .height <<<"$out")
  want=$(awk -v h="$vh" '$1 == h {print $3}' "$rec"/node* | sort -u)
  [ -z "$want" ] || [ "$want" = "$(jq -r .state_root <<<"$out")" ] ||
    fail "node$i: verified state root at $vh is not the recorded one"
done
[ -z "$(sort -u "$dir/verified" | cut -d' ' -f1 | uniq -d)" ] ||
  fail "homes verified at equal heights have different state roots"
blocks_total=$(cut -d' ' -f1 "$rec/node0" | tail -1)
txs_total=$(awk '{s += $4} END {print s}' "$rec/node0")
echo "kill-under-load: $kills kills in $rounds rounds ($stalls with two validators down)," \
  "max recovery ${max_recovery} ms, $blocks_total blocks, $txs_total txs committed" \
  "($bench_committed bench txs acknowledged, all found), every home verified"
echo "1 passed, 0 failed"
