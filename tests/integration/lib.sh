# Shared by the integration shell tests (sourced).

# fail MSG: the test failed: print MSG and the end of each node log of the
# testnet in $net, exit 1. pass MSG: a step passed. A script that defined
# its own before sourcing this file keeps them.
if ! declare -F fail >/dev/null; then
  fail() {
    echo "FAIL: $*"
    for log in "$net"/node*/node.log; do
      echo "--- $log"
      tail -15 "$log" || true
    done
    exit 1
  }
fi
if ! declare -F pass >/dev/null; then
  pass() { echo "PASS: $*"; }
fi

# free_port: a TCP port no socket uses (printed; exit 1 when none is
# found). Taken below the kernel's ephemeral range: on a busy machine a
# port of that range may be held by an outgoing connection or one in
# TIME_WAIT, which no connect() shows but on which the node's bind()
# fails. Another process may still take it before use.
free_port() {
  local p low=32768
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  fi
  [ "$low" -gt 12000 ] || low=32768
  for _ in $(seq 1 100); do
    p=$((10000 + RANDOM % (low - 10000)))
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      continue
    fi
    if command -v ss >/dev/null &&
      [ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
      continue
    fi
    echo "$p"
    return 0
  done
  echo "no free TCP port found" >&2
  return 1
}

# The running nodes of the testnet in $net number $1, all reach height
# >= $2 and hold the same block there (waits up to 90 s). Needs $cairn,
# $net and a fail function.
agree() {
  local st n min hashes h
  for _ in $(seq 900); do
    st=$("$cairn" testnet status --dir "$net" --json)
    n=$(jq '[.[] | select(.running and .height != null)] | length' <<<"$st")
    min=$(jq '[.[] | select(.running) | .height] | min // 0' <<<"$st")
    if [ "$n" -eq "$1" ] && [ "$min" -ge "$2" ]; then
      hashes=$(for h in $(jq -r '.[] | select(.running) | .home' <<<"$st"); do
        "$cairn" query --home "$h" block "$2" --json | jq -r .hash
      done | sort -u | wc -l)
      [ "$hashes" -eq 1 ] && return 0
      fail "nodes hold different blocks at height $2"
    fi
    sleep 0.1
  done
  echo "$st"
  return 1
}
