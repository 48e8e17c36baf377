#!/bin/sh
# ABI check: the SDK's public types (as described by the debug info of the
# abi-probe library) against the committed baseline sdk/abi/cairn-sdk-1.abi.
#
# Fails on ANY change of a public type: a reordered, removed, retyped or
# resized member, a changed function-pointer signature, a renumbered
# enumerator, and also the changes a minor release may make (a member
# appended at the end of a size-prefixed struct, a new enumerator) and the
# ones abidiff calls harmless (a renamed member). libabigail cannot tell an
# append apart reliably: its `has_data_member_inserted_at = end`
# suppression also hid two CairnHost members swapping places and a changed
# return type (libabigail 2.2). So an allowed change is accepted
# deliberately: run tests/sdk/update-abi-baseline.sh (or
# `ninja -C BUILD update-abi-baseline`) and commit the new baseline with the
# header change and the CAIRN_ABI_MINOR bump.
#
# Usage: test-abi.sh PROBE.so BASELINE.abi
set -eu
probe=$1
baseline=$2
here=$(dirname "$0")
. "$here/abidw-flags.sh"

for tool in abidw abidiff; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL: $tool not found; install libabigail (Debian: abigail-tools)" >&2
    exit 1
  fi
done
if [ "$(getconf LONG_BIT)" != 64 ]; then
  echo "SKIP: the baseline describes LP64 platforms; this one is $(getconf LONG_BIT)-bit"
  exit 77
fi
[ -f "$baseline" ] || { echo "FAIL: no baseline $baseline" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
abidw $ABIDW_FLAGS --out-file "$tmp/current.abi" "$probe"

abidiff --harmless "$baseline" "$tmp/current.abi" >"$tmp/report.txt" 2>&1 \
  && rc=0 || rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/report.txt"
  if [ $((rc & 3)) -ne 0 ]; then
    echo "FAIL: abidiff could not compare (exit $rc)" >&2
  else
    cat >&2 <<MSG
FAIL: the SDK ABI differs from $baseline (abidiff exit $rc).
A minor release may only append: host functions at the end of CairnHost,
members at the end of size-prefixed structs, enumerators and kind bits
(sdk/README.md, "Compatibility promise"). Anything else needs a new major.
If the report above shows only such appends, accept them deliberately:
  tests/sdk/update-abi-baseline.sh BUILD_DIR   (or ninja -C BUILD_DIR update-abi-baseline)
and commit sdk/abi/cairn-sdk-1.abi with the header change and the
CAIRN_ABI_MINOR bump. Otherwise revert the change.
MSG
  fi
  exit 1
fi
echo "OK: the SDK ABI matches $baseline"
