#!/bin/bash
# Signed plugins: every default plugin copied to a vendor dir and signed
# with `cairn plugin sign`; a home with require_signed_plugins = true and
# the vendor's public key in trusted_keys lists and runs them. One byte
# changed in a plugin, a missing signature, a signature by an untrusted key,
# a garbage signature file and another plugin's signature are each refused
# before dlopen, naming the file and the reason; a changed signed plugin
# is refused even when signatures are not required.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
build=${CAIRN_BUILD_ROOT:?CAIRN_BUILD_ROOT must point at the build tree}
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-signed-XXXXXX")
home="$dir/home"
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
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
command -v openssl >/dev/null || fail "openssl is not installed"

"$cairn" init --home "$home" --chain-id signed >/dev/null || fail "init"
openssl genpkey -algorithm ed25519 -out "$dir/vendor.pem" 2>/dev/null
openssl pkey -in "$dir/vendor.pem" -pubout -out "$home/vendor.pub"
openssl genpkey -algorithm ed25519 -out "$dir/other.pem" 2>/dev/null

# The plugins this home loads, copied flat into a vendor dir and signed.
mkdir "$dir/plugins"
ids=$(sed -n 's/^load *= *//p' "$home"/conf.d/*.conf | tr ';' '\n' | tr -d ' ')
for id in $ids; do
  cp "$build/plugins/$id/$id.so" "$dir/plugins/" || fail "no $id.so in the build"
  out=$("$cairn" plugin sign --key "$dir/vendor.pem" "$dir/plugins/$id.so" --json) ||
    fail "sign $id: $out"
  [ "$(jq -r .id <<<"$out")" = "$id" ] || fail "sign $id: $out"
done
port=$(free_port) || fail "no free port"
cat >"$home/conf.d/99-signed.conf" <<EOF
[plugins]
path = $dir/plugins
require_signed_plugins = true
trusted_keys = vendor.pub

[http]
listen = 127.0.0.1:$port

[p2p]
enabled = false
EOF
out=$("$cairn" plugin list --home "$home" --json) || fail "plugin list: $out"
[ "$(jq '[.plugins[] | select(.file | startswith("'"$dir"'/plugins/"))] | length' <<<"$out")" = \
  "$(wc -w <<<"$ids")" ] || fail "not every plugin came from the signed dir: $out"
out=$("$cairn" plugin inspect "$dir/plugins/bank.so" --json)
[ "$(jq -r .signature.status <<<"$out")" = signed ] || fail "inspect: $out"

"$cairn" node --home "$home" >"$dir/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 600); do
  curl -fs "http://127.0.0.1:$port/v1/status" >/dev/null && break
  kill -0 "$node_pid" 2>/dev/null || fail "the node with signed plugins exited"
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/v1/status" >/dev/null || fail "the node did not answer"
kill "$node_pid"
wait "$node_pid" || true
node_pid=
pass "$(wc -w <<<"$ids") plugins signed; a node that requires signatures lists and runs them"

# Each case: the list and the node refuse, naming the plugin file and why.
refused() { # what, expected message part
  local out
  out=$("$cairn" plugin list --home "$home" 2>&1) && fail "$1: plugin list accepted it"
  grep -qF "$dir/plugins/bank.so: plugin refused: $2" <<<"$out" || fail "$1: plugin list says: $out"
  out=$(timeout 60 "$cairn" node --home "$home" 2>&1) && fail "$1: the node started"
  grep -qF "$dir/plugins/bank.so: plugin refused: $2" <<<"$out" || fail "$1: the node says: $out"
}
cp "$dir/plugins/bank.so" "$dir/bank.so.good"
cp "$dir/plugins/bank.so.sig" "$dir/bank.so.sig.good"
restore() {
  cp "$dir/bank.so.good" "$dir/plugins/bank.so"
  cp "$dir/bank.so.sig.good" "$dir/plugins/bank.so.sig"
}

size=$(stat -c %s "$dir/plugins/bank.so")
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$dir/plugins/bank.so" | tr -d ' ')
printf "\\$(printf %03o $(((byte + 1) % 256)))" |
  dd of="$dir/plugins/bank.so" bs=1 seek="$off" conv=notrunc 2>/dev/null
cmp -s "$dir/plugins/bank.so" "$dir/bank.so.good" && fail "the byte did not change"
refused "one byte changed" "the file was changed after it was signed"
pass "one byte changed in bank.so: refused (SHA-256 differs)"

restore
rm "$dir/plugins/bank.so.sig"
refused "unsigned" "unsigned (no $dir/plugins/bank.so.sig)"
pass "an unsigned plugin is refused"

restore
"$cairn" plugin sign --key "$dir/other.pem" "$dir/plugins/bank.so" >/dev/null
refused "untrusted key" "signed by key"
out=$("$cairn" plugin list --home "$home" 2>&1) || true
grep -q "not in \[plugins\] trusted_keys" <<<"$out" || fail "untrusted: $out"
pass "a plugin signed by a key not in trusted_keys is refused"

restore
printf 'garbage\n' >"$dir/plugins/bank.so.sig"
refused "garbage signature" "$dir/plugins/bank.so.sig is not a cairn-plugin-signature/1 file"
restore
cp "$dir/plugins/market.so.sig" "$dir/plugins/bank.so.sig"
refused "another plugin's signature" "the file was changed after it was signed"
restore
sed -i 's/"sig":"\(.\)/"sig":"0/' "$dir/plugins/bank.so.sig"
sed -i 's/"version":"[^"]*"/"version":"9.9.9"/' "$dir/plugins/bank.so.sig"
refused "edited signature" "bad signature in $dir/plugins/bank.so.sig"
pass "garbage, borrowed and edited signature files are refused"

# Without require_signed_plugins a changed signed plugin is still refused;
# with it and no trusted key the config is refused.
restore
sed -i 's/^require_signed_plugins = true/require_signed_plugins = false/' "$home/conf.d/99-signed.conf"
printf '\x00' | dd of="$dir/plugins/bank.so" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
cmp -s "$dir/plugins/bank.so" "$dir/bank.so.good" && printf '\x01' |
  dd of="$dir/plugins/bank.so" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
refused "changed, signatures not required" "the file was changed after it was signed"
restore
sed -i 's/^require_signed_plugins = false/require_signed_plugins = true/; /^trusted_keys/d' \
  "$home/conf.d/99-signed.conf"
out=$("$cairn" plugin list --home "$home" 2>&1) && fail "require without keys accepted"
grep -q "trusted_keys is empty" <<<"$out" || fail "require without keys: $out"
pass "a changed signed plugin is refused without require_signed_plugins; require without keys is a config error"
echo "signed-plugins: $passed checks passed"
