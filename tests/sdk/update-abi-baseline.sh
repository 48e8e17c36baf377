#!/bin/sh
# Regenerate sdk/abi/cairn-sdk-1.abi from the abi-probe library of a build
# directory, deliberately accepting the current SDK headers as the ABI.
# Do this when releasing a minor (after appending) or a major version, and
# commit the result with the header change.
#
# Usage: tests/sdk/update-abi-baseline.sh [BUILD_DIR]     (default: build)
#    or: ninja -C BUILD_DIR update-abi-baseline
#    or (from meson): update-abi-baseline.sh PROBE.so BASELINE.abi
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$here/abidw-flags.sh"

if [ $# -eq 2 ]; then
  probe=$1
  baseline=$2
else
  build=${1:-build}
  ninja -C "$build" tests/sdk/libabi-probe.so
  probe=$build/tests/sdk/libabi-probe.so
  baseline=$src/sdk/abi/cairn-sdk-1.abi
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/cairn-abi.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086
abidw $ABIDW_FLAGS --out-file "$tmp" "$probe"
if [ -f "$baseline" ]; then
  echo "Changes against the previous baseline:"
  abidiff --harmless "$baseline" "$tmp" || true
fi
cp "$tmp" "$baseline"
echo "Wrote $baseline"
