#!/bin/sh
# Every plugin shared object exports exactly one symbol,
# cairn_plugin_descriptor, and needs nothing from the core at load time:
# no undefined cairn_* symbol, only allowed libraries as DT_NEEDED, and
# every undefined symbol resolves from them (ldd -r).
#
# Usage: test-exports.sh PLUGIN.so...
set -u

# libc and friends, GLib/GIO, Jansson, OpenSSL, LMDB, libsodium, libsoup 3, libgit2; the sanitizer
# runtimes of a -Db_sanitize build.
allowed='^(libc|libm|libdl|libpthread|librt|libgcc_s|ld-linux[-a-z0-9_.]*|libglib-2\.0|libgobject-2\.0|libgio-2\.0|libgmodule-2\.0|libjansson|libcrypto|libssl|liblmdb|libsodium|libsoup-3\.0|libgit2|libleveldb|libasan|libubsan|liblsan|libtsan)\.so(\.[0-9]+[a-z]?)*$'

[ $# -gt 0 ] || { echo "usage: $0 PLUGIN.so..." >&2; exit 2; }
fail=0
bad() {
  echo "FAIL $so: $*"
  fail=1
  this=1
}

for so in "$@"; do
  this=0
  if [ ! -f "$so" ]; then
    bad "no such file"
    continue
  fi
  defined=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort | tr '\n' ' ')
  if [ "$defined" != "cairn_plugin_descriptor " ]; then
    bad "exports [ $defined] but must export only cairn_plugin_descriptor" \
      "(build with -fvisibility=hidden and the SDK's plugin_link_args)"
  fi

  core=$(nm -D --undefined-only "$so" | awk '{print $NF}' | grep '^cairn_' | tr '\n' ' ')
  if [ -n "$core" ]; then
    bad "needs core symbols [ $core]; call the core through the host table"
  fi

  for lib in $(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if ! echo "$lib" | grep -Eq "$allowed"; then
      bad "links $lib, which is not in the allowed set (libc, GLib, Jansson," \
        "OpenSSL, LMDB, LevelDB, libsodium, libsoup 3, libgit2)"
    fi
  done

  unresolved=$(LC_ALL=C ldd -r "$so" 2>&1 | grep -E 'undefined symbol|not found')
  if [ -n "$unresolved" ]; then
    bad "unresolved at load time:"
    echo "$unresolved" | sed 's/^/    /'
  fi

  [ "$this" -eq 0 ] && echo "ok $so"
done
exit "$fail"
