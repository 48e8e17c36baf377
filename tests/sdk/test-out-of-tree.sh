#!/bin/bash
# A vendor's view of the SDK: install this build into a temporary root,
# build sdk/examples/hello with nothing but the installed SDK (its own
# `meson setup` + `ninja`), check what it exports, then load it into a real
# node: `cairn plugin inspect`, `cairn init`, `cairn node`, a hello.greet
# tx sent with `cairn tx send --wait` and read back over HTTP. Then the
# SDK's test library as a vendor uses it: the installed example
# (share/doc/cairn-sdk-1/examples/testing, `dependency('cairn-sdk-testing-1')`)
# built with its own meson and run with `meson test` on the installed
# store-lmdb.so (the storage suite, crash harness included, through the
# library's dlopen helper), and the installed `cairn-conformance` on the
# installed blob-fs.so and on files that are no plugin.
#
# Usage: test-out-of-tree.sh [HELLO_SOURCE_DIR]
# Environment: CAIRN_BUILD_ROOT (the build to install), CAIRN_SOURCE_ROOT.
set -euo pipefail

build_root=${CAIRN_BUILD_ROOT:?CAIRN_BUILD_ROOT must name the build dir}
hello_src=${1:-${CAIRN_SOURCE_ROOT:?}/sdk/examples/hello}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-oot.XXXXXX")
node_pid=
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  if [ -s "$tmp/node.log" ]; then
    echo "---- node log (last 40 lines) ----" >&2
    tail -n 40 "$tmp/node.log" >&2
  fi
  exit 1
}
for tool in meson ninja pkg-config jq curl nm; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done

# ---- 1. install the build ------------------------------------------------
step "install $build_root into $tmp/root"
root=$tmp/root
meson install -C "$build_root" --destdir "$root" --quiet --no-rebuild \
  || fail "meson install failed (is everything built? run ninja -C $build_root)"
prefix=$(meson introspect --buildoptions "$build_root" \
  | jq -r '.[] | select(.name == "prefix") | .value')
pc=$(find "$root" -name cairn-sdk-1.pc -print -quit)
[ -n "$pc" ] || fail "cairn-sdk-1.pc was not installed"

# Point pkg-config at the staged SDK. PKG_CONFIG_SYSROOT_DIR and
# --define-prefix would also rewrite GLib's and Jansson's flags (they are
# installed in /usr, not in the staging root), so relocate only our file.
mkdir "$tmp/pkgconfig"
sed "s|^prefix=.*|prefix=$root$prefix|" "$pc" >"$tmp/pkgconfig/cairn-sdk-1.pc"
testing_pc=$(find "$root" -name cairn-sdk-testing-1.pc -print -quit)
[ -n "$testing_pc" ] || fail "cairn-sdk-testing-1.pc was not installed"
sed "s|^prefix=.*|prefix=$root$prefix|" "$testing_pc" \
  >"$tmp/pkgconfig/cairn-sdk-testing-1.pc"
export PKG_CONFIG_PATH=$tmp/pkgconfig
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR 2>/dev/null || true

step "pkg-config cairn-sdk-1"
pkg-config --exists --print-errors cairn-sdk-1 || fail "pkg-config cannot use cairn-sdk-1.pc"
abi_h=$(find "$root" -path '*/cairn/abi.h' -print -quit)
[ -n "$abi_h" ] || fail "cairn/abi.h was not installed"
want_major=$(sed -n 's/^#define CAIRN_ABI_MAJOR \([0-9]*\).*/\1/p' "$abi_h")
want_minor=$(sed -n 's/^#define CAIRN_ABI_MINOR \([0-9]*\).*/\1/p' "$abi_h")
[ "$(pkg-config --variable=abi_major cairn-sdk-1)" = "$want_major" ] \
  || fail "abi_major in the .pc ($(pkg-config --variable=abi_major cairn-sdk-1)) != CAIRN_ABI_MAJOR ($want_major)"
[ "$(pkg-config --variable=abi_minor cairn-sdk-1)" = "$want_minor" ] \
  || fail "abi_minor in the .pc ($(pkg-config --variable=abi_minor cairn-sdk-1)) != CAIRN_ABI_MINOR ($want_minor)"
pluginsdir=$(pkg-config --variable=pluginsdir cairn-sdk-1)
case $pluginsdir in
  "$root$prefix"/*) ;;
  *) fail "pluginsdir '$pluginsdir' is not under the install prefix" ;;
esac
[ -f "$pluginsdir/bank.so" ] || fail "bank.so is not installed in pluginsdir $pluginsdir"
link_args=$(pkg-config --variable=plugin_link_args cairn-sdk-1)
map=$(echo "$link_args" | sed -n 's/.*--version-script=\([^, ]*\).*/\1/p')
if [ -z "$map" ] || [ ! -f "$map" ]; then
  fail "plugin_link_args '$link_args' names no installed version script"
fi
case $link_args in *"-z,defs"* | *"-z defs"*) ;; *) fail "plugin_link_args lacks -z defs" ;; esac
for doc in README.md examples/hello/hello.c examples/hello/meson.build; do
  [ -f "$root$prefix/share/doc/cairn-sdk-1/$doc" ] \
    || fail "share/doc/cairn-sdk-1/$doc was not installed"
done
pkg-config --cflags cairn-sdk-1 | grep -q -- "-I$root$prefix/include/cairn-1" \
  || fail "Cflags lack the SDK include dir: $(pkg-config --cflags cairn-sdk-1)"

# ---- 2. build the vendor plugin --------------------------------------------
step "build $hello_src out of tree"
meson setup "$tmp/hello-build" "$hello_src" >"$tmp/hello-setup.log" 2>&1 \
  || { cat "$tmp/hello-setup.log"; fail "meson setup of the hello example failed"; }
ninja -C "$tmp/hello-build" || fail "building the hello example failed"
so=$tmp/hello-build/hello.so
[ -f "$so" ] || fail "no hello.so"
exports=$(nm -D --defined-only "$so" | awk '{print $NF}' | tr '\n' ' ')
[ "$exports" = "cairn_plugin_descriptor " ] \
  || fail "hello.so exports [ $exports] instead of only cairn_plugin_descriptor"
if nm -D --undefined-only "$so" | awk '{print $NF}' | grep -q '^cairn_'; then
  fail "hello.so needs core symbols"
fi
meson install -C "$tmp/hello-build" --quiet || fail "installing hello failed"
[ -f "$pluginsdir/hello.so" ] || fail "hello.so was not installed into pluginsdir $pluginsdir"

# ---- 3. the SDK's test library, as a vendor uses it -------------------------
step "pkg-config cairn-sdk-testing-1"
pkg-config --exists --print-errors cairn-sdk-testing-1 \
  || fail "pkg-config cannot use cairn-sdk-testing-1.pc"
for req in cairn-sdk-1 glib-2.0 gio-2.0 jansson; do
  pkg-config --print-requires cairn-sdk-testing-1 | grep -q "^$req\b" \
    || fail "cairn-sdk-testing-1.pc does not require $req: $(pkg-config --print-requires cairn-sdk-testing-1)"
done
testing_lib=$(find "$root" -name libcairn-sdk-testing-1.a -print -quit)
[ -n "$testing_lib" ] || fail "libcairn-sdk-testing-1.a was not installed"
for h in testing.h fake_host.h commit.h storage.h blob.h util.h; do
  [ -f "$root$prefix/include/cairn-1/cairn/testing/$h" ] \
    || fail "include/cairn-1/cairn/testing/$h was not installed"
done
conformance=$root$prefix/bin/cairn-conformance
[ -x "$conformance" ] || fail "$conformance was not installed"
[ "$(pkg-config --variable=conformance cairn-sdk-testing-1)" = "$conformance" ] \
  || fail "the .pc's conformance variable '$(pkg-config --variable=conformance cairn-sdk-testing-1)' is not $conformance"
example=$root$prefix/share/doc/cairn-sdk-1/examples/testing
[ -f "$example/meson.build" ] || fail "share/doc/cairn-sdk-1/examples/testing was not installed"

# A sanitized build installs a sanitized library: the vendor's project
# needs the same -Db_sanitize to link it.
sanitize=$(meson introspect --buildoptions "$build_root" \
  | jq -r '.[] | select(.name == "b_sanitize") | .value')
san_opts=()
if [ -n "$sanitize" ] && [ "$sanitize" != none ]; then
  san_opts=("-Db_sanitize=$sanitize" -Db_lundef=false)
fi
step "build the testing example out of tree (${san_opts[*]:-no sanitizer})"
cp -r "$example" "$tmp/testing-src"
meson setup "$tmp/testing-build" "$tmp/testing-src" "${san_opts[@]}" \
  "-Dplugin=$pluginsdir/store-lmdb.so" >"$tmp/testing-setup.log" 2>&1 \
  || { cat "$tmp/testing-setup.log"; fail "meson setup of the testing example failed"; }
ninja -C "$tmp/testing-build" || fail "building the testing example failed"
# The library's global names are all cairn_test_* (a vendor's own names
# cannot clash with it).
others=$(nm -g --defined-only "$testing_lib" | awk 'NF == 3 {print $3}' \
  | grep -v '^cairn_test_' | tr '\n' ' ' || true)
[ -z "$others" ] || fail "libcairn-sdk-testing-1.a defines global names other than cairn_test_*: $others"
nm -g --defined-only "$tmp/testing-build/test-storage" | awk '{print $NF}' \
  | grep -q '^cairn_test_storage_add$' || fail "test-storage does not link cairn_test_storage_add"

step "meson test: the storage suite on the installed store-lmdb.so"
meson test -C "$tmp/testing-build" --print-errorlogs >"$tmp/testing-test.log" 2>&1 \
  || { cat "$tmp/testing-test.log"; fail "the storage suite failed on $pluginsdir/store-lmdb.so"; }
log=$tmp/testing-build/meson-logs/testlog.txt
for case in genesis history many-keys long-keys private-write deferred-sync crash; do
  grep -q "^ok [0-9]* /storage/store-lmdb/$case\$" "$log" \
    || fail "the vendor test did not pass /storage/store-lmdb/$case: $(grep -n "store-lmdb/$case" "$log")"
done
grep -q "^ok [0-9]* /vendor/reopen-reads\$" "$log" || fail "the vendor's own case did not pass"
if grep -q "^not ok" "$log"; then fail "a case failed: $(grep '^not ok' "$log")"; fi

step "cairn-conformance on the installed blob-fs.so"
"$conformance" --config sync=false "$pluginsdir/blob-fs.so" >"$tmp/conf-blob.log" 2>&1 \
  || { cat "$tmp/conf-blob.log"; fail "cairn-conformance failed on $pluginsdir/blob-fs.so"; }
for case in roundtrip ranges errors put-errors threads cancel-read; do
  grep -q "^ok [0-9]* /blob-store/blob-fs/$case\$" "$tmp/conf-blob.log" \
    || fail "cairn-conformance did not pass /blob-store/blob-fs/$case"
done

step "cairn-conformance refuses what is no plugin"
echo "not a plugin" >"$tmp/notes.so"
rc=0
"$conformance" "$tmp/notes.so" >"$tmp/conf-bad.out" 2>"$tmp/conf-bad.err" || rc=$?
[ "$rc" -eq 1 ] || fail "cairn-conformance on a text file exited $rc, not 1"
grep -qF "$tmp/notes.so: cannot load plugin" "$tmp/conf-bad.err" \
  || fail "cairn-conformance's refusal does not name the file: $(cat "$tmp/conf-bad.err")"
rc=0
"$conformance" "$pluginsdir/bank.so" >/dev/null 2>"$tmp/conf-kind.err" || rc=$?
[ "$rc" -eq 1 ] || fail "cairn-conformance on bank.so (an app) exited $rc, not 1"
grep -q "bank.so: plugin 'bank' is of kind app" "$tmp/conf-kind.err" \
  || fail "cairn-conformance's refusal of bank.so: $(cat "$tmp/conf-kind.err")"

# ---- 4. load it into a node ------------------------------------------------
cairn=$root$prefix/bin/cairn
[ -x "$cairn" ] || fail "$cairn was not installed"

step "cairn plugin inspect"
"$cairn" plugin inspect "$so" --json >"$tmp/inspect.json" \
  || fail "cairn plugin inspect $so failed"
jq -e '.id == "hello" and .version == "0.1.0"' "$tmp/inspect.json" >/dev/null \
  || fail "inspect: wrong id/version: $(cat "$tmp/inspect.json")"
jq -e --argjson major "$want_major" --argjson minor "$want_minor" \
  '.abi.major == $major and .abi.built_minor == $minor and .abi.min_minor == 0
   and .compatible == true and .kinds == ["app"]' "$tmp/inspect.json" >/dev/null \
  || fail "inspect: expected ABI $want_major.$want_minor (min minor 0), compatible: $(cat "$tmp/inspect.json")"

step "cairn init"
home=$tmp/home
"$cairn" init --home "$home" --chain-id t || fail "cairn init failed"
port=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    port=$p
    break
  fi
done
[ -n "$port" ] || fail "no free TCP port found"
mkdir -p "$home/conf.d"
cat >"$home/conf.d/50-hello.conf" <<CONF
[plugins]
path = $tmp/hello-build
load = hello

[hello]
prefix = hi-test
CONF
cat >"$home/conf.d/99-test.conf" <<CONF
# The staged install is not where the binary's built-in plugin dir points.
[plugins]
path = $pluginsdir

[http]
listen = 127.0.0.1:$port
CONF

step "cairn node (port $port)"
"$cairn" node --home "$home" >"$tmp/node.log" 2>&1 &
node_pid=$!
url=http://127.0.0.1:$port
up=
for _ in $(seq 1 150); do
  kill -0 "$node_pid" 2>/dev/null || fail "the node exited during start-up"
  if curl -fsS "$url/v1/status" >"$tmp/status.json" 2>/dev/null; then
    up=1
    break
  fi
  sleep 0.2
done
[ -n "$up" ] || fail "GET /v1/status did not answer within 30 s"

step "hello.greet"
admin=$("$cairn" keys show admin --home "$home" --json | jq -r '.address')
[[ "$admin" =~ ^[0-9a-f]{40}$ ]] || fail "keys show admin gave no address: '$admin'"
"$cairn" tx send --home "$home" --from admin hello.greet '{"greeting":"hi"}' --wait \
  || fail "cairn tx send hello.greet failed"
curl -fsS "$url/v1/hello/greetings/$admin" >"$tmp/greeting.json" \
  || fail "GET /v1/hello/greetings/$admin failed"
jq -e --arg a "$admin" \
  '.address == $a and .greeting == "hi" and .text == "hi-test, hi"
   and (.height | type == "number" and . >= 1)' "$tmp/greeting.json" >/dev/null \
  || fail "unexpected greeting: $(cat "$tmp/greeting.json")"
curl -fsS "$url/v1/bank/balances/$admin" | jq -e --arg a "$admin" '.address == $a' >/dev/null \
  || fail "GET /v1/bank/balances/$admin failed"

step "stop the node"
kill -TERM "$node_pid"
for _ in $(seq 1 100); do
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$node_pid" 2>/dev/null; then
  kill -KILL "$node_pid"
  wait "$node_pid" 2>/dev/null || true
  node_pid=
  fail "the node did not stop within 20 s of SIGTERM"
fi
rc=0
wait "$node_pid" || rc=$?
node_pid=
[ "$rc" -eq 0 ] || fail "the node exited with status $rc after SIGTERM"
echo "OK: hello built out of tree, loaded, greeted and read back; the SDK test library and cairn-conformance used from the install"
