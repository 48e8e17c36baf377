#!/bin/bash
# The SDK compatibility matrix (see meson.build): hello built against the
# headers of ABI 1.0, 1.1, 1.2, 1.3, 1.4 and the current minor runs in the
# current node: a real `hello.greet` tx is committed and the plugin's route
# answers. A build needing the next minor is refused with both versions.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
compat=${COMPAT_DIR:?COMPAT_DIR must point at the built compat plugins}
. "$(dirname "$0")/../../integration/lib.sh" # free_port
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-compat-XXXXXX")
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0
fail() {
  echo "FAIL: $*"
  [ -f "$dir/node.log" ] && tail -20 "$dir/node.log"
  exit 1
}

home_for() { # name, plugin file: sets home and port
  home="$dir/$1"
  "$cairn" init --home "$home" --chain-id compat >/dev/null || fail "init"
  port=$(free_port) || fail "no free port"
  printf '[plugins]\nload = %s\n\n[http]\nlisten = 127.0.0.1:%s\n\n[p2p]\nenabled = false\n' \
    "$2" "$port" >"$home/conf.d/99-compat.conf"
}

for v in $COMPAT_MINORS current; do
  so="$compat/hello-1.$v.so"
  [ "$v" = current ] && so="$compat/hello-current.so"
  want_minor=$v
  [ "$v" = current ] && want_minor=$CAIRN_ABI_MINOR
  out=$("$cairn" plugin inspect "$so" --json) || fail "inspect $so: $out"
  [ "$(jq .abi.built_minor <<<"$out")" = "$want_minor" ] || fail "$so: built minor: $out"
  home_for "h$v" "$so"
  "$cairn" node --home "$home" >"$dir/node.log" 2>&1 &
  node_pid=$!
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:$port/v1/status" >/dev/null && break
    kill -0 "$node_pid" 2>/dev/null || fail "the node with $so exited"
    sleep 0.1
  done
  admin=$("$cairn" keys show admin --home "$home" --json | jq -r .address)
  "$cairn" tx send --home "$home" --from admin hello.greet \
    "{\"greeting\":\"built against 1.$v\"}" --wait >/dev/null || fail "hello.greet on $so"
  got=$(curl -fsS "http://127.0.0.1:$port/v1/hello/greetings/$admin") || fail "route on $so"
  [ "$(jq -r .greeting <<<"$got")" = "built against 1.$v" ] || fail "$so: route says $got"
  kill "$node_pid"
  wait "$node_pid" || true
  node_pid=
  echo "PASS: hello built against SDK 1.$want_minor headers: loads, its tx commits, its route answers"
  passed=$((passed + 1))
done

next=$((CAIRN_ABI_MINOR + 1))
home_for newer "$compat/hello-needs-newer.so"
out=$(timeout 60 "$cairn" node --home "$home" 2>&1) && fail "a plugin needing ABI 1.$next loaded"
grep -q "1\.$next" <<<"$out" && grep -q "1\.$CAIRN_ABI_MINOR" <<<"$out" ||
  fail "the refusal does not name both versions: $out"
echo "PASS: a plugin that needs ABI 1.$next is refused: $(grep -o 'hello-needs-newer.so:.*' <<<"$out" | head -1)"
passed=$((passed + 1))
echo "compat: $passed checks passed"
