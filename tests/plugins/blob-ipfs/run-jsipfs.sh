#!/usr/bin/env bash
# Runs a command (a blob-ipfs test) with js-ipfs available: installs the npm
# package `ipfs` (pinned below; command `jsipfs`) the first time into
# ${CAIRN_TEST_NPM_IPFS:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-test-npm-ipfs}
# (under a lock, so two tests never install at once), then exports
#   JSIPFS          the jsipfs command
#   BLOB_IPFS_SHIM  jsipfs-shim.cjs, for NODE_OPTIONS=--require (it adds
#                   Promise.withResolvers, which js-ipfs's dependencies call
#                   and Node < 22 lacks)
# and execs the command. The tests start and stop their daemons themselves.
#
# Needs node and npm (Debian packages nodejs and npm), flock (util-linux).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ipfs_version=0.66.1

missing=()
command -v node >/dev/null || missing+=("node (Debian package nodejs)")
command -v npm >/dev/null || missing+=("npm (Debian package npm)")
command -v flock >/dev/null || missing+=("flock (Debian package util-linux)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'Bail out! missing: %s\n' "${missing[@]}"
  echo "# install them: apt-get install nodejs npm util-linux (or ./dev deps)"
  exit 1
fi

cache=${CAIRN_TEST_NPM_IPFS:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-test-npm-ipfs}
pkg="$cache/node_modules/ipfs/package.json"
mkdir -p "$cache"
installed() {
  node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
    "$pkg" "$ipfs_version" 2>/dev/null
}
(
  flock 9
  if ! installed; then
    echo "# installing ipfs@$ipfs_version (js-ipfs) into $cache" >&2
    npm install --prefix "$cache" --no-audit --no-fund --loglevel=error \
      "ipfs@$ipfs_version" >&2 ||
      { echo "Bail out! npm install ipfs@$ipfs_version into $cache failed"; exit 1; }
  fi
) 9>"$cache/.lock"
installed || { echo "Bail out! ipfs@$ipfs_version is not in $cache"; exit 1; }

export JSIPFS="$cache/node_modules/.bin/jsipfs"
export BLOB_IPFS_SHIM="$here/jsipfs-shim.cjs"
[ -x "$JSIPFS" ] || { echo "Bail out! $JSIPFS is missing"; exit 1; }
exec "$@"
