#!/bin/bash
# `cairn plugin new` as a vendor uses it: install this build into a
# temporary root (lib-sdk.sh), then for each of the six kinds scaffold a
# plugin in a clean directory with the installed cairn, build it with its
# own `meson setup` against the installed SDK and test library, run its
# `meson test` (which must pass at once), and check the built .so with
# `cairn plugin inspect` (its kind) and nm (only the descriptor exported).
# Then load the app one into a real node (`cairn init`, its own conf.d
# snippet with [plugins] path at its build dir, `cairn node`) and call its
# stub route and tx: both answer "not implemented" as JSON. And the
# refusals: bad names, an existing directory, unknown or missing kinds.
# Last, as a vendor ships it: t-app's route implemented, the plugin signed
# (`cairn plugin sign`), a distribution built with it and the default
# plugins (`cairn dist build`, verified), unpacked elsewhere, a node
# started from it serving the route with signatures required.
#
# Usage: test-plugin-new.sh
# Environment: CAIRN_BUILD_ROOT (the build to install).
set -euo pipefail

build_root=${CAIRN_BUILD_ROOT:?CAIRN_BUILD_ROOT must name the build dir}
. "$(dirname "$0")/lib-sdk.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-plugin-new.XXXXXX")
node_pid=
cleanup() {
  node_kill
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  node_log_tail
  exit 1
}
for tool in meson ninja pkg-config jq curl nm openssl tar; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done
t0=$(date +%s)

step "install $build_root into $tmp/root"
sdk_install "$build_root" "$tmp"

# ---- every kind: scaffold, build, test, inspect ----------------------------
kinds="app consensus storage blobstore privacy interface"
mkdir "$tmp/work"
for kind in $kinds; do
  name=t-$kind
  dir=$tmp/work/$name
  step "plugin new $name --kind $kind"
  (cd "$tmp/work" && "$cairn" plugin new "$name" --kind "$kind" --json) \
    >"$tmp/new-$kind.json" || fail "plugin new $name --kind $kind failed"
  jq -e --arg n "$name" --arg k "$kind" \
    '.name == $n and .kind == $k and .dir == $n
     and .files == ["meson.build", ($n + ".c"), ("test-" + $n + ".c"),
                    ($n + ".conf"), "README.md"]' "$tmp/new-$kind.json" >/dev/null \
    || fail "plugin new --json: $(cat "$tmp/new-$kind.json")"
  for f in meson.build "$name.c" "test-$name.c" "$name.conf" README.md; do
    [ -s "$dir/$f" ] || fail "$dir/$f was not written"
  done
  if grep -n '@[A-Z_]*@' "$dir"/*; then fail "a placeholder is left in $dir"; fi
  grep -q "dependency('cairn-sdk-1')" "$dir/meson.build" \
    || fail "$name/meson.build does not use dependency('cairn-sdk-1')"
  grep -q "load = $name" "$dir/$name.conf" || fail "$name.conf does not load $name"
  grep -q "is not implemented yet" "$dir/$name.c" || fail "$name.c has no stub error"

  step "build and test $name against the installed SDK (${san_opts[*]:-no sanitizer})"
  meson setup "$dir/build" "$dir" "${san_opts[@]}" >"$tmp/setup-$kind.log" 2>&1 \
    || { cat "$tmp/setup-$kind.log"; fail "meson setup of $name failed"; }
  meson test -C "$dir/build" --print-errorlogs >"$tmp/test-$kind.log" 2>&1 \
    || { cat "$tmp/test-$kind.log"; fail "meson test of the new $kind plugin failed"; }
  testlog=$dir/build/meson-logs/testlog.txt
  oks=$(grep -c "^ok [0-9]* /$name/" "$testlog" || true)
  [ "$oks" -ge 1 ] || fail "the $name test ran no case: $(cat "$testlog")"
  if grep -q "^not ok" "$testlog"; then fail "a case of $name failed: $(grep '^not ok' "$testlog")"; fi
  echo "   $oks cases passed"

  so=$dir/build/$name.so
  [ -f "$so" ] || fail "no $so"
  "$cairn" plugin inspect "$so" --json >"$tmp/inspect-$kind.json" \
    || fail "cairn plugin inspect $so failed"
  jq -e --arg n "$name" --arg k "$kind" \
    '.id == $n and .kinds == [$k] and .compatible == true' \
    "$tmp/inspect-$kind.json" >/dev/null \
    || fail "inspect of $name.so: $(cat "$tmp/inspect-$kind.json")"
  exports=$(nm -D --defined-only "$so" | awk '{print $NF}' | tr '\n' ' ')
  [ "$exports" = "cairn_plugin_descriptor " ] \
    || fail "$name.so exports [ $exports] instead of only cairn_plugin_descriptor"
done

# ---- refusals ----------------------------------------------------------------
# expect_refusal RC NEEDLE ARGS...: plugin new ARGS exits RC, says NEEDLE
# and writes nothing.
expect_refusal() {
  local want=$1 needle=$2 rc=0
  shift 2
  local before
  before=$(cd "$tmp/work" && find . | sort | md5sum)
  (cd "$tmp/work" && "$cairn" plugin new "$@") >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" -eq "$want" ] \
    || fail "plugin new $*: exit $rc, expected $want: $(cat "$tmp/out" "$tmp/err")"
  grep -qF -- "$needle" "$tmp/err" \
    || fail "plugin new $*: the error does not say '$needle': $(cat "$tmp/err")"
  [ "$(cd "$tmp/work" && find . | sort | md5sum)" = "$before" ] \
    || fail "plugin new $* changed files although it was refused"
}
step "refusals"
expect_refusal 2 "name 'Bad' has 'B' at position 1" Bad --kind app
expect_refusal 2 "name 'a_b' has '_' at position 2" a_b --kind app
expect_refusal 2 "is 33 characters long" "$(printf 'a%.0s' $(seq 1 33))" --kind app
expect_refusal 2 "is 0 characters long" "" --kind app
expect_refusal 2 "name 'core' is reserved" core --kind app
expect_refusal 2 "name 'p2p' is reserved" p2p --kind storage
expect_refusal 2 "unknown kind 'wallet' (one of app, consensus, storage, blobstore, privacy, interface)" x --kind wallet
expect_refusal 2 "missing --kind" x
expect_refusal 2 "missing NAME" --kind app
expect_refusal 2 "unexpected argument 'y'" x y --kind app
sum=$(md5sum "$tmp/work/t-app/t-app.c")
expect_refusal 1 "t-app already exists; plugin new never overwrites" t-app --kind app
expect_refusal 1 "already exists" other --kind app --dir t-consensus
[ "$(md5sum "$tmp/work/t-app/t-app.c")" = "$sum" ] || fail "t-app.c changed"
touch "$tmp/work/a-file"
expect_refusal 1 "a-file already exists" a-file --kind app
# --dir makes missing parents; a name may start with a digit.
"$cairn" plugin new 9lives --kind interface --dir "$tmp/deep/er/9" >/dev/null \
  || fail "plugin new with --dir into new parents failed"
grep -q 'CAIRN_PLUGIN_DEFINE (p9lives,' "$tmp/deep/er/9/9lives.c" \
  || fail "9lives.c: no C name p9lives: $(grep -n CAIRN_PLUGIN_DEFINE "$tmp/deep/er/9/9lives.c")"

# ---- the app one in a real node -----------------------------------------------
step "cairn init, load t-app from its build dir"
home=$tmp/home
"$cairn" init --home "$home" --chain-id pn >/dev/null || fail "cairn init failed"
port=$(free_port) || fail "no free TCP port"
[ -n "$port" ] || fail "no free TCP port found"
# The generated snippet, with its [plugins] path set to the build dir.
sed "s|^# path = .*|path = $tmp/work/t-app/build|" "$tmp/work/t-app/t-app.conf" \
  >"$home/conf.d/50-t-app.conf"
grep -q "^path = $tmp/work/t-app/build\$" "$home/conf.d/50-t-app.conf" \
  || fail "the snippet has no path line to set: $(cat "$home/conf.d/50-t-app.conf")"
cat >"$home/conf.d/99-test.conf" <<CONF
# The staged install is not where the binary's built-in plugin dir points.
[plugins]
path = $pluginsdir

[http]
listen = 127.0.0.1:$port
CONF
"$cairn" plugin list --home "$home" --json >"$tmp/list.json" \
  || fail "plugin list failed: $(cat "$tmp/list.json")"
jq -e '.plugins[] | select(.id == "t-app") | .kinds == ["app"] and .state != "failed"' \
  "$tmp/list.json" >/dev/null || fail "plugin list: $(cat "$tmp/list.json")"

step "cairn node (port $port)"
node_start "$home" "$port" "$tmp/node.log"
url=http://127.0.0.1:$port
code=$(curl -sS -o "$tmp/route.json" -w '%{http_code}' "$url/v1/t-app/example") \
  || fail "GET /v1/t-app/example failed"
[ "$code" = 501 ] || fail "GET /v1/t-app/example: status $code, not 501: $(cat "$tmp/route.json")"
jq -e '.error.code == "not_implemented"
       and .error.message == "t-app: GET /v1/t-app/example is not implemented yet"' \
  "$tmp/route.json" >/dev/null || fail "GET /v1/t-app/example: $(cat "$tmp/route.json")"
rc=0
"$cairn" tx send --home "$home" --from admin t-app.example '{}' \
  >"$tmp/tx.out" 2>"$tmp/tx.err" || rc=$?
[ "$rc" -eq 1 ] || fail "tx t-app.example: exit $rc, not 1: $(cat "$tmp/tx.out" "$tmp/tx.err")"
grep -q "t-app: check of t-app.example is not implemented yet" "$tmp/tx.err" \
  || fail "tx t-app.example: $(cat "$tmp/tx.err")"
curl -fsS "$url/v1/status" | jq -e '.plugins | tostring | contains("t-app")' >/dev/null \
  || fail "GET /v1/status does not list t-app"

step "stop the node"
node_stop

# ---- a vendor's change, signed, in a distribution, run from it ----------------
step "implement t-app's route, sign the plugin, build a distribution with it"
app=$tmp/work/t-app
sed -i 's|^  return not_implemented (self, "GET /v1/t-app/example", error);$|  resp->json = json_pack ("{s:s}", "hello", "from t-app");\n  return TRUE;|' \
  "$app/t-app.c"
grep -q '"from t-app"' "$app/t-app.c" || fail "the route stub was not replaced"
ninja -C "$app/build" >"$tmp/rebuild.log" 2>&1 || fail "rebuild: $(cat "$tmp/rebuild.log")"
openssl genpkey -algorithm ed25519 -out "$tmp/vendor.pem" 2>/dev/null
openssl pkey -in "$tmp/vendor.pem" -pubout -out "$tmp/vendor.pub"
"$cairn" plugin sign --key "$tmp/vendor.pem" "$app/build/t-app.so" >/dev/null ||
  fail "plugin sign t-app.so"
"$cairn" plugin inspect "$app/build/t-app.so" --json | jq -e '.signature.status == "signed"' \
  >/dev/null || fail "t-app.so is not shown as signed"
ids=$(sed -n 's/^load *= *//p' "$home"/conf.d/[0-9]*.conf | tr ';' '\n' | tr -d ' ' | grep -v '^t-app$')
plugins=$(for id in $ids; do printf '"%s",' "$id"; done)
cat >"$tmp/spec.json" <<SPEC
{"name": "acme-notes", "version": "0.1.0",
 "branding": {"product": "Acme Notes", "vendor": "Acme"},
 "plugins": [${plugins} {"file": "$app/build/t-app.so", "conf": "$app/t-app.conf"}]}
SPEC
# The build tree's cairn: its plugin search path has the in-tree plugins.
"$build_root/core/cairn" dist build --spec "$tmp/spec.json" --key "$tmp/vendor.pem" \
  --out "$tmp/dist" >"$tmp/dist.log" 2>&1 || fail "dist build: $(cat "$tmp/dist.log")"
tarball=$tmp/dist/acme-notes-0.1.0.tar.gz
"$build_root/core/cairn" dist verify "$tarball" --key "$tmp/vendor.pub" >"$tmp/verify.log" 2>&1 ||
  fail "dist verify: $(cat "$tmp/verify.log")"

step "unpack the distribution elsewhere, start a node from it"
mkdir "$tmp/elsewhere"
tar -C "$tmp/elsewhere" -xzf "$tarball"
d=$tmp/elsewhere/acme-notes-0.1.0
"$d/bin/cairn" init --home "$tmp/dhome" >/dev/null || fail "init from the distribution"
port=$(free_port) || fail "no free TCP port"
printf '[http]\nlisten = 127.0.0.1:%s\n' "$port" >"$tmp/dhome/conf.d/99-test.conf"
installed_cairn=$cairn
cairn=$d/bin/cairn
node_start "$tmp/dhome" "$port" "$tmp/dnode.log"
got=$(curl -fsS "http://127.0.0.1:$port/v1/t-app/example") || fail "GET /v1/t-app/example"
[ "$(jq -r .hello <<<"$got")" = "from t-app" ] || fail "the dist's t-app answers: $got"
grep -q "t-app.*from $d/lib/cairn-1/plugins/t-app.so" "$tmp/dnode.log" ||
  fail "t-app was not loaded from the distribution: $(grep t-app "$tmp/dnode.log")"
node_stop
cairn=$installed_cairn
echo "OK: six kinds scaffolded, built and tested against the installed SDK; t-app served by a node; refusals checked; t-app implemented, signed, shipped in a distribution and served from it ($(($(date +%s) - t0)) s)"
