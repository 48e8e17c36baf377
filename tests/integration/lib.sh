# Shared by the integration shell tests (sourced).

# A port nobody listens on now (another process may take it before use:
# callers retry on "in use").
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((RANDOM % 20000 + 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
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
