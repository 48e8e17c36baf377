# Sourced by the SDK's out-of-tree tests (test-out-of-tree.sh,
# test-plugin-new.sh): a build installed into a temporary root as a vendor
# gets it, pkg-config pointed at it, and a node started from it.
#
# The sourcing script defines fail MESSAGE (prints and exits 1) and
# step MESSAGE before calling these, and its EXIT trap calls node_kill.

# sdk_install BUILD_ROOT DIR
# `meson install --destdir DIR/root` of BUILD_ROOT, then relocated copies of
# cairn-sdk-1.pc and cairn-sdk-testing-1.pc in DIR/pkgconfig, exported as
# PKG_CONFIG_PATH. Sets:
#   root        DIR/root
#   prefix      the build's prefix (so files are under $root$prefix)
#   pc          the installed cairn-sdk-1.pc
#   testing_pc  the installed cairn-sdk-testing-1.pc
#   pluginsdir  pkg-config's pluginsdir (under $root$prefix)
#   cairn       the installed cairn
#   san_opts    (array) the -Db_sanitize options a vendor project needs to
#               link a sanitized build's test library, or none
sdk_install() {
  local build=$1 dir=$2
  root=$dir/root
  meson install -C "$build" --destdir "$root" --quiet --no-rebuild \
    || fail "meson install failed (is everything built? run ninja -C $build)"
  prefix=$(meson introspect --buildoptions "$build" \
    | jq -r '.[] | select(.name == "prefix") | .value')
  pc=$(find "$root" -name cairn-sdk-1.pc -print -quit)
  [ -n "$pc" ] || fail "cairn-sdk-1.pc was not installed"
  testing_pc=$(find "$root" -name cairn-sdk-testing-1.pc -print -quit)
  [ -n "$testing_pc" ] || fail "cairn-sdk-testing-1.pc was not installed"
  # PKG_CONFIG_SYSROOT_DIR and --define-prefix would also rewrite GLib's
  # and Jansson's flags (they are in /usr, not in the staging root), so
  # relocate only our files.
  mkdir -p "$dir/pkgconfig"
  sed "s|^prefix=.*|prefix=$root$prefix|" "$pc" >"$dir/pkgconfig/cairn-sdk-1.pc"
  sed "s|^prefix=.*|prefix=$root$prefix|" "$testing_pc" \
    >"$dir/pkgconfig/cairn-sdk-testing-1.pc"
  export PKG_CONFIG_PATH=$dir/pkgconfig
  unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR 2>/dev/null || true
  pkg-config --exists --print-errors cairn-sdk-1 \
    || fail "pkg-config cannot use cairn-sdk-1.pc"
  pkg-config --exists --print-errors cairn-sdk-testing-1 \
    || fail "pkg-config cannot use cairn-sdk-testing-1.pc"
  pluginsdir=$(pkg-config --variable=pluginsdir cairn-sdk-1)
  cairn=$root$prefix/bin/cairn
  [ -x "$cairn" ] || fail "$cairn was not installed"
  # A sanitized build installs a sanitized library: a vendor's project
  # needs the same -Db_sanitize to link it.
  local sanitize
  sanitize=$(meson introspect --buildoptions "$build" \
    | jq -r '.[] | select(.name == "b_sanitize") | .value')
  san_opts=()
  if [ -n "$sanitize" ] && [ "$sanitize" != none ]; then
    san_opts=("-Db_sanitize=$sanitize" -Db_lundef=false)
  fi
}

# free_port: tests/integration/lib.sh's.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

# node_start HOME PORT LOG: `$cairn node --home HOME` in the background
# (node_pid), logging to LOG, until GET /v1/status answers on PORT (30 s).
node_start() {
  local home=$1 port=$2 log=$3
  node_log=$log
  "$cairn" node --home "$home" >"$log" 2>&1 &
  node_pid=$!
  for _ in $(seq 1 150); do
    kill -0 "$node_pid" 2>/dev/null || fail "the node exited during start-up"
    if curl -fsS "http://127.0.0.1:$port/v1/status" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  fail "GET /v1/status did not answer within 30 s"
}

# node_stop: SIGTERM, then the node must exit with status 0 within 20 s.
node_stop() {
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
  local rc=0
  wait "$node_pid" || rc=$?
  node_pid=
  [ "$rc" -eq 0 ] || fail "the node exited with status $rc after SIGTERM"
}

# node_kill: for EXIT traps; stops a node still running.
node_kill() {
  if [ -n "${node_pid:-}" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
}

# node_log_tail: the last lines of the node's log, for fail messages.
node_log_tail() {
  if [ -n "${node_log:-}" ] && [ -s "$node_log" ]; then
    echo "---- node log (last 40 lines) ----" >&2
    tail -n 40 "$node_log" >&2
  fi
}
