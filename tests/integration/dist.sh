#!/bin/bash
# Vendor distributions (cairn dist): a spec with the default plugins, the
# store-git alternative, a vendor plugin (the node test's testapp.so) with
# its snippet, an extra snippet, branding, a genesis template and a second
# trusted key. Built twice in different directories (a second apart): the
# tarball and the .deb are byte-identical; SOURCE_DATE_EPOCH sets every
# mtime. verify accepts it (and the right --key), refuses a wrong key, a
# changed byte in a repacked copy (naming the file), an edited manifest,
# extra and missing files. Unpacked elsewhere, its bin/cairn shows the
# branding, `init` takes the dist's etc/cairn and genesis template, and a
# node runs with every plugin loaded from the dist's lib dir under
# require_signed_plugins, the vendor plugin included. The .deb holds the
# tree under /opt/<name> and a hardened systemd unit. Bad specs are refused
# naming the field.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
build=${CAIRN_BUILD_ROOT:?CAIRN_BUILD_ROOT must point at the build tree}
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-dist-XXXXXX")
dir=$(cd "$dir" && pwd -P)
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
# Runs a command that must exit with status $1 (1: refused; anything else,
# e.g. a sanitizer's report, fails the test); its stdout+stderr in $out.
expect_rc() {
  local want=$1 rc
  shift
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "$*: exit status $rc, expected $want: $out"
}
for tool in openssl jq dpkg-deb tar cmp; do
  command -v $tool >/dev/null || fail "$tool is not installed"
done

# ---- the vendor's inputs ----
spec="$dir/spec"
mkdir -p "$spec/vendor"
openssl genpkey -algorithm ed25519 -out "$dir/vendor.pem" 2>/dev/null
openssl pkey -in "$dir/vendor.pem" -pubout -out "$dir/vendor.pub"
openssl genpkey -algorithm ed25519 -out "$dir/other.pem" 2>/dev/null
openssl pkey -in "$dir/other.pem" -pubout -out "$spec/partner.pub"
cp "$build/tests/integration/node/testapp.so" "$spec/vendor/" || fail "no testapp.so in the build"
printf '# Acme test app\n[plugins]\nload = testapp\n' >"$spec/vendor/70-testapp.conf"
printf '# Acme defaults\n[http]\nmax_blob_bytes = 1GiB\n' >"$spec/99-acme.conf"
funded=00000000000000000000000000000000000acc01
cat >"$spec/genesis.json" <<EOF
{"chain_id": "acme-main",
 "accounts": [{"address": "$funded", "balances": {"cairn": 5000}}]}
EOF
# The plugins `cairn init` enables, plus store-git (an alternative).
"$cairn" init --home "$dir/ref" >/dev/null || fail "init of the reference home"
ids=$(sed -n 's/^load *= *//p' "$dir/ref"/conf.d/*.conf | tr ';' '\n' | tr -d ' ')
n_default=$(wc -w <<<"$ids")
plugins=$(for id in $ids store-git; do printf '"%s",' "$id"; done)
cat >"$spec/vendor.json" <<EOF
{
  "name": "acme-chain",
  "version": "1.2.0",
  "branding": {"product": "Acme Chain", "vendor": "Acme Ltd",
               "url": "https://acme.example", "support": "support@acme.example"},
  "plugins": [${plugins}
              {"file": "vendor/testapp.so", "conf": "vendor/70-testapp.conf"}],
  "conf": ["99-acme.conf"],
  "genesis_template": "genesis.json",
  "trusted_keys": ["partner.pub"]
}
EOF
vpk=$(openssl pkey -pubin -in "$dir/vendor.pub" -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n')
ppk=$(openssl pkey -pubin -in "$spec/partner.pub" -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n')
tarname=acme-chain-1.2.0.tar.gz

# ---- build twice: byte-identical tarball and .deb ----
unset SOURCE_DATE_EPOCH
t0=$(date +%s.%N)
out=$("$cairn" dist build --spec "$spec/vendor.json" --key "$dir/vendor.pem" \
  --out "$dir/out1" --deb --json) || fail "build: $out"
t1=$(date +%s.%N)
[ "$(jq -r .tarball <<<"$out")" = "$dir/out1/$tarname" ] || fail "build: $out"
[ "$(jq -r .signer <<<"$out")" = "$vpk" ] || fail "signer: $out"
[ "$(jq '.plugins | length' <<<"$out")" = $((n_default + 2)) ] || fail "plugins: $out"
[ "$(jq .web_assets <<<"$out")" -gt 0 ] || fail "no explorer web assets: $out"
deb=$(jq -r .deb <<<"$out")
[ "$(basename "$deb")" = "acme-chain_1.2.0_$(dpkg --print-architecture).deb" ] || fail "deb name: $deb"
sleep 1
"$cairn" dist build --spec "$spec/vendor.json" --key "$dir/vendor.pem" \
  --out "$dir/out2" --deb >/dev/null || fail "second build"
cmp "$dir/out1/$tarname" "$dir/out2/$tarname" || fail "two builds gave different tarballs"
cmp "$deb" "$dir/out2/$(basename "$deb")" || fail "two builds gave different .debs"
pass "two builds a second apart: identical tarball ($(stat -c %s "$dir/out1/$tarname") bytes) and .deb ($(stat -c %s "$deb") bytes); first build $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s"

# Entries sorted, owner 0/0 root, mtime 0; gzip without time or name.
listing=$(tar --numeric-owner -tvzf "$dir/out1/$tarname")
[ "$(awk '{print $2}' <<<"$listing" | sort -u)" = 0/0 ] || fail "owners: $listing"
[ "$(awk '{print $4}' <<<"$listing" | sort -u)" = 1970-01-01 ] || fail "mtimes: $listing"
[ "$(tar -tzf "$dir/out1/$tarname" | head -1)" = acme-chain-1.2.0/ ] || fail "top dir: $listing"
tar -tzf "$dir/out1/$tarname" | sed 's|/$||' | LC_ALL=C sort -c || fail "entries not sorted"
[ "$(od -An -tx1 -j3 -N5 "$dir/out1/$tarname" | tr -d ' ')" = 0000000000 ] ||
  fail "gzip header has a name flag or a time"
SOURCE_DATE_EPOCH=1700000000 "$cairn" dist build --spec "$spec/vendor.json" \
  --key "$dir/vendor.pem" --out "$dir/out3" >/dev/null || fail "build with SOURCE_DATE_EPOCH"
[ "$(TZ=UTC tar -tvzf "$dir/out3/$tarname" --full-time | awk '{print $4" "$5}' | sort -u)" = \
  "2023-11-14 22:13:20" ] || fail "SOURCE_DATE_EPOCH not used"
pass "entries sorted, 0/0 root, mtime 0 (SOURCE_DATE_EPOCH=1700000000 gives 2023-11-14 22:13:20), gzip header without time or name"

# ---- verify ----
out=$("$cairn" dist verify "$dir/out1/$tarname" --key "$dir/vendor.pub" --json) || fail "verify: $out"
[ "$(jq -r '.ok, .signature, .signer, .key_checked' <<<"$out" | tr '\n' ' ')" = \
  "true valid $vpk true " ] || fail "verify: $out"
[ "$(jq '[.plugins[] | select(.status == "valid")] | length' <<<"$out")" = $((n_default + 2)) ] ||
  fail "verify plugins: $out"
out=$("$cairn" dist verify "$dir/out1/$tarname") || fail "verify without --key: $out"
grep -q "by key $vpk (not checked against a key" <<<"$out" || fail "verify without key: $out"
pass "verify: signature by the vendor key, $(jq .files <<<"$("$cairn" dist verify "$dir/out1/$tarname" --json)") files, every plugin signed by a trusted key"

expect_rc 1 "$cairn" dist verify "$dir/out1/$tarname" --key "$spec/partner.pub"
grep -qF "MANIFEST.json.sig: signed by key $vpk, not by the expected key $ppk" <<<"$out" ||
  fail "wrong key: $out"
pass "verify --key with another key fails and names both keys"

# A copy with one byte changed in one file, repacked.
mkdir "$dir/tamper"
tar -C "$dir/tamper" -xzf "$dir/out1/$tarname"
top="$dir/tamper/acme-chain-1.2.0"
repack() { # name
  tar -C "$dir/tamper" -czf "$dir/$1" acme-chain-1.2.0
}
so="$top/lib/cairn-1/plugins/bank.so"
cp "$so" "$dir/bank.so.good"
off=$(($(stat -c %s "$so") / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$so" | tr -d ' ')
printf "\\$(printf %03o $(((byte + 1) % 256)))" | dd of="$so" bs=1 seek="$off" conv=notrunc 2>/dev/null
cmp -s "$so" "$dir/bank.so.good" && fail "the byte did not change"
repack tampered.tar.gz
expect_rc 1 "$cairn" dist verify "$dir/tampered.tar.gz" --key "$dir/vendor.pub"
grep -q "lib/cairn-1/plugins/bank.so: SHA-256 [0-9a-f]*, the manifest says" <<<"$out" ||
  fail "tampered: $out"
grep -q "lib/cairn-1/plugins/bank.so: plugin refused: the file was changed after it was signed" <<<"$out" ||
  fail "tampered plugin signature: $out"
[ "$(grep -c '^cairn: ' <<<"$out")" = 2 ] || fail "tampered: other problems reported: $out"
cp "$dir/bank.so.good" "$so"

printf '# x\n' >>"$top/etc/cairn/cairn.conf"
touch "$top/share/cairn/extra.txt"
rm "$top/share/cairn/branding.json"
repack changed.tar.gz
expect_rc 1 "$cairn" dist verify "$dir/changed.tar.gz" --json
out=$(sed -n '/^{/,/^}/p' <<<"$out")
[ "$(jq -c '[.problems[].file] | unique' <<<"$out")" = \
  '["etc/cairn/cairn.conf","share/cairn/branding.json","share/cairn/extra.txt"]' ] ||
  fail "changed, extra, missing: $out"
rm -rf "$top" && tar -C "$dir/tamper" -xzf "$dir/out1/$tarname"
sed -i 's/"size":\([0-9]\)/"size":1\1/' "$top/MANIFEST.json"
repack manifest.tar.gz
expect_rc 1 "$cairn" dist verify "$dir/manifest.tar.gz"
grep -q "MANIFEST.json.sig: bad signature" <<<"$out" || fail "edited manifest: $out"
head -c 200000 "$dir/out1/$tarname" >"$dir/cut.tar.gz"
expect_rc 1 "$cairn" dist verify "$dir/cut.tar.gz"
grep -q "cannot read its bytes" <<<"$out" || fail "cut tarball: $out"
pass "verify names the changed file (SHA-256 and plugin signature), changed/extra/missing files, an edited manifest, a cut tarball"

# ---- the unpacked distribution ----
mkdir "$dir/unpacked"
tar -C "$dir/unpacked" -xzf "$dir/out2/$tarname"
d="$dir/unpacked/acme-chain-1.2.0"
for f in etc/cairn/conf.d/05-dist.conf MANIFEST.json MANIFEST.json.sig share/cairn/branding.json \
  share/cairn/genesis-template.json lib/cairn-1/plugins/bank.so.sig; do
  if grep -qF -e "$build" -e "$dir" "$d/$f"; then fail "$f holds a build path"; fi
done
grep -qx "trusted_keys = $vpk;$ppk" "$d/etc/cairn/conf.d/05-dist.conf" || fail "05-dist.conf"
[ -f "$d/etc/cairn/alternatives/10-store-git.conf" ] || fail "store-git is not in alternatives/"
[ -f "$d/etc/cairn/conf.d/70-testapp.conf" ] && [ -f "$d/etc/cairn/conf.d/99-acme.conf" ] ||
  fail "vendor snippets missing"
[ "$(ls "$d/etc/cairn/conf.d" | wc -l)" = $((n_default + 3)) ] || fail "conf.d: $(ls "$d/etc/cairn/conf.d")"
out=$("$d/bin/cairn" version) || fail "version: $out"
grep -q "^Acme Chain 1.2.0 (acme-chain) by Acme Ltd" <<<"$out" || fail "version: $out"
[ "$("$d/bin/cairn" version --json | jq -r .distribution.branding.url)" = https://acme.example ] ||
  fail "version --json"
home="$dir/home"
"$d/bin/cairn" init --home "$home" >"$dir/init.log" || fail "init: $(cat "$dir/init.log")"
[ "$(jq -r .chain_id "$home/genesis.json")" = acme-main ] || fail "genesis template's chain id"
[ "$(jq -r --arg a $funded '.accounts[] | select(.address == $a) | .balances.cairn' "$home/genesis.json")" = 5000 ] ||
  fail "genesis template's account"
cmp "$home/conf.d/05-dist.conf" "$d/etc/cairn/conf.d/05-dist.conf" || fail "init did not take the dist's conf"
[ ! -e "$home/conf.d/10-store-git.conf" ] || fail "an alternative was enabled"
"$d/bin/cairn" init --home "$dir/home-git" --store store-git >/dev/null || fail "init --store store-git"
[ -f "$dir/home-git/conf.d/10-store-git.conf" ] && [ ! -e "$dir/home-git/conf.d/10-store-lmdb.conf" ] ||
  fail "init --store store-git from the dist"
port=$(free_port) || fail "no free port"
printf '[http]\nlisten = 127.0.0.1:%s\n' "$port" >"$home/conf.d/99-local.conf"
out=$("$d/bin/cairn" plugin list --home "$home" --json) || fail "plugin list: $out"
[ "$(jq -r '.path | join(":")' <<<"$out")" = "$d/lib/cairn-1/plugins" ] || fail "search path: $out"
[ "$(jq --arg p "$d/lib/cairn-1/plugins/" '[.plugins[] | select((.file | startswith($p)) and .state == "found")] | length' <<<"$out")" = \
  $((n_default + 1)) ] || fail "not every plugin from the dist's lib dir: $out"
"$d/bin/cairn" node --home "$home" >"$dir/node.log" 2>&1 &
node_pid=$!
api="http://127.0.0.1:$port"
for _ in $(seq 600); do
  curl -fs "$api/v1/status" >/dev/null && break
  kill -0 "$node_pid" 2>/dev/null || fail "the dist's node exited"
  sleep 0.1
done
status=$(curl -fs "$api/v1/status") || fail "/v1/status does not answer"
[ "$(jq -r .chain_id <<<"$status")" = acme-main ] || fail "status: $status"
[ "$(jq -r '[.plugins[].id] | index("testapp") != null' <<<"$status")" = true ] || fail "no testapp: $status"
[ "$(curl -fs "$api/v1/bank/balances/$funded" | jq -r '.balances.cairn // .cairn')" = 5000 ] ||
  fail "funded account: $(curl -s "$api/v1/bank/balances/$funded")"
out=$("$d/bin/cairn" tx send --home "$home" --from admin testapp.put '{"key":"k","value":"vendor"}' --wait 2>&1) ||
  fail "tx to the vendor plugin: $out"
[ "$(curl -fs "$api/v1/state/testapp/k" | jq -r .value_hex)" = "$(printf vendor | od -An -tx1 | tr -d ' \n')" ] || fail "testapp state: $(curl -s "$api/v1/state/testapp/k")"
kill "$node_pid"
wait "$node_pid" || true
node_pid=
pass "unpacked: branding in version, init from etc/cairn + genesis template, a node on :$port with $((n_default + 1)) signed plugins from the dist (the vendor's testapp took a tx)"

# ---- the .deb ----
info=$(dpkg-deb --info "$deb") || fail "dpkg-deb --info: $info"
for want in "Package: acme-chain" "Version: 1.2.0" "Maintainer: Acme Ltd" \
  "Homepage: https://acme.example" "Depends: adduser, " "libc6" "libglib2.0-0" \
  "libssl3" "postinst" "prerm" "postrm"; do
  grep -qF "$want" <<<"$info" || fail "deb info lacks '$want': $info"
done
contents=$(dpkg-deb --contents "$deb")
for want in ./lib/systemd/system/acme-chain-node.service ./opt/acme-chain/bin/cairn \
  ./opt/acme-chain/MANIFEST.json.sig ./opt/acme-chain/lib/cairn-1/plugins/testapp.so.sig \
  ./opt/acme-chain/etc/cairn/conf.d/05-dist.conf; do
  grep -q " $want\$" <<<"$contents" || fail "deb lacks $want"
done
[ "$(awk '{print $2}' <<<"$contents" | sort -u)" = root/root ] || fail "deb owners"
mkdir "$dir/debx"
dpkg-deb -x "$deb" "$dir/debx"
unit="$dir/debx/lib/systemd/system/acme-chain-node.service"
for want in "ExecStart=/opt/acme-chain/bin/cairn node --home /var/lib/acme-chain" \
  "User=acme-chain" "NoNewPrivileges=yes" "ProtectSystem=strict" \
  "ReadWritePaths=/var/lib/acme-chain" "WantedBy=multi-user.target"; do
  grep -qxF "$want" "$unit" || fail "unit lacks '$want'"
done
diff -r "$dir/debx/opt/acme-chain" "$d" || fail "the .deb's /opt/acme-chain is not the tarball's tree"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -q "adduser --system" || fail "postinst"
if command -v systemd-analyze >/dev/null; then
  sed "s|^ExecStart=/opt/|ExecStart=$dir/debx/opt/|" "$unit" >"$dir/acme-chain-node.service"
  out=$(systemd-analyze verify "$dir/acme-chain-node.service" 2>&1) && [ -z "$out" ] ||
    fail "systemd-analyze verify: $out"
  unit_note="systemd-analyze verify is clean"
else
  unit_note="unit not checked by systemd-analyze (not installed)"
fi
pass ".deb: control (Depends from dpkg-shlibdeps), the tree under /opt/acme-chain, maintainer scripts, the hardened unit ($unit_note)"

# ---- bad specs ----
bad() { # json, expected message part
  printf '%s\n' "$1" >"$spec/bad.json"
  expect_rc 1 "$cairn" dist build --spec "$spec/bad.json" --key "$dir/vendor.pem" --out "$dir/outbad"
  grep -qF "$2" <<<"$out" || fail "bad spec $1: $out"
  [ -z "$(ls -A "$dir/outbad" 2>/dev/null)" ] || fail "bad spec left files: $(ls -A "$dir/outbad")"
}
ok='"version":"1.0","branding":{"product":"A"}'
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"bank\"],\"plugin\":[]}" \
  "bad.json: unknown field 'plugin' (a spec holds name, version, branding, plugins"
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"bank\",\"no-such-plugin\"]}" \
  "bad.json: plugins[1]: no plugin 'no-such-plugin' in this cairn's plugin search path"
bad "{\"name\":\"Acme_Chain\",$ok,\"plugins\":[\"bank\"]}" \
  "bad.json: name: must be 2-32 of a-z 0-9 -, starting with a letter"
bad "{\"name\":\"acme\",$ok,\"plugins\":[{\"file\":\"vendor/none.so\",\"conf\":\"99-acme.conf\"}]}" \
  "bad.json: plugins[0].file: $spec/vendor/none.so: no such file"
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"bank\"],\"conf\":[\"missing.conf\"]}" \
  "bad.json: conf[0]: $spec/missing.conf: no such file"
bad "{\"name\":\"acme\",\"version\":\"1.0\",\"branding\":{\"product\":1},\"plugins\":[\"bank\"]}" \
  "bad.json: branding.product: must be a string"
bad "{\"name\":\"acme\",$ok,\"plugins\":\"bank\"}" "bad.json: plugins: must be a non-empty array"
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"market\"]}" \
  "the distribution's plugins do not load together: plugin 'market' requires service cairn.bank/1"
printf '[plugins]\nrequire_signed_plugins = false\n' >"$spec/98-weak.conf"
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"bank\"],\"conf\":[\"98-weak.conf\"]}" \
  "sets [plugins] require_signed_plugins, which the distribution sets itself"
printf '{"chain_id":"x","admin":{}}\n' >"$spec/badgen.json"
bad "{\"name\":\"acme\",$ok,\"plugins\":[\"bank\"],\"genesis_template\":\"badgen.json\"}" \
  "bad.json: genesis_template: $spec/badgen.json: unknown field 'admin'"
expect_rc 2 "$cairn" dist build --spec "$spec/vendor.json"
grep -q "key VENDOR.pem is required" <<<"$out" || fail "no --key: $out"
pass "bad specs refused with the field named (unknown field, missing plugin, bad name, missing files, types, unresolved services, a snippet weakening signatures, a bad genesis template), nothing written"

echo "dist: $passed checks passed"
