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

# sdk_install, free_port, node_start/stop (shared with test-plugin-new.sh)
. "$(dirname "$0")/lib-sdk.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-oot.XXXXXX")
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
for tool in meson ninja pkg-config jq curl nm; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done

# ---- 1. install the build ------------------------------------------------
step "install $build_root into $tmp/root"
# Sets root, prefix, pc, testing_pc, pluginsdir, cairn and san_opts, and
# points pkg-config at the staged SDK.
sdk_install "$build_root" "$tmp"

step "pkg-config cairn-sdk-1"
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
for req in cairn-sdk-1 glib-2.0 gio-2.0 jansson; do
  pkg-config --print-requires cairn-sdk-testing-1 | grep -q "^$req\b" \
    || fail "cairn-sdk-testing-1.pc does not require $req: $(pkg-config --print-requires cairn-sdk-testing-1)"
done
testing_lib=$(find "$root" -name libcairn-sdk-testing-1.a -print -quit)
[ -n "$testing_lib" ] || fail "libcairn-sdk-testing-1.a was not installed"
for h in testing.h fake_host.h mock_host.h commit.h storage.h blob.h util.h; do
  [ -f "$root$prefix/include/cairn-1/cairn/testing/$h" ] \
    || fail "include/cairn-1/cairn/testing/$h was not installed"
done
conformance=$root$prefix/bin/cairn-conformance
[ -x "$conformance" ] || fail "$conformance was not installed"
[ "$(pkg-config --variable=conformance cairn-sdk-testing-1)" = "$conformance" ] \
  || fail "the .pc's conformance variable '$(pkg-config --variable=conformance cairn-sdk-testing-1)' is not $conformance"
example=$root$prefix/share/doc/cairn-sdk-1/examples/testing
[ -f "$example/meson.build" ] || fail "share/doc/cairn-sdk-1/examples/testing was not installed"

# san_opts (from sdk_install): a sanitized build's library needs the same
# -Db_sanitize in the vendor's project.
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
port=$(free_port) || fail "no free TCP port"
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
node_start "$home" "$port" "$tmp/node.log"
url=http://127.0.0.1:$port

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
node_stop
echo "OK: hello built out of tree, loaded, greeted and read back; the SDK test library and cairn-conformance used from the install"
