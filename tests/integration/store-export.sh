#!/bin/bash
# cairn store export|import: a 4-validator PoS chain with txs is exported
# from one (stopped) node and imported into a fresh home with P2P off;
# every block is re-executed and its certificate checked, and the import
# ends on the same state root. A rerun skips what is there; a truncated
# file, a file of another chain and a garbage file are refused by name.
# STORE_IMPORT_CONF (optional): a conf.d snippet written into the fresh
# home, e.g. to import into another storage plugin.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-store-export-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0
fail() {
  echo "FAIL: $*"
  exit 1
}
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
command -v jq >/dev/null || fail "jq is not installed"

"$cairn" testnet init --dir "$net" --validators 4 --chain-id exp >/dev/null
"$cairn" testnet start --dir "$net" >/dev/null
api=$("$cairn" testnet status --dir "$net" --json | jq -r '.[0].api')
until curl -fs "$api/v1/status" >/dev/null; do sleep 0.1; done
for i in 1 2 3 4 5; do
  "$cairn" tx send --home "$net/node0" --from admin bank.transfer \
    "{\"to\":\"$(printf '%040d' "$i")\",\"denom\":\"cairn\",\"amount\":$i}" --wait >/dev/null ||
    fail "transfer $i"
done
"$cairn" testnet stop --dir "$net" >/dev/null

out=$("$cairn" store export "$dir/chain.bin" --home "$net/node1" --json 2>/dev/null) ||
  fail "export: $out"
root=$(jq -r .state_root <<<"$out")
blocks=$(jq .blocks <<<"$out")
[ "$blocks" -ge 5 ] || fail "export: $out"
pass "export: $blocks blocks, state root $root"

fresh() { # a home with node2's config, keys and genesis, no data, no P2P
  rm -rf "$1"
  mkdir -p "$1"
  cp -r "$net/node2/cairn.conf" "$net/node2/conf.d" "$net/node2/genesis.json" \
    "$net/node2/keys" "$1/"
  sed -i 's/^enabled = true/enabled = false/' "$1"/conf.d/*.conf
  if [ -n "${STORE_IMPORT_CONF:-}" ]; then
    printf '%s\n' "$STORE_IMPORT_CONF" >"$1/conf.d/95-store.conf"
  fi
}
fresh "$dir/copy"
out=$("$cairn" store import "$dir/chain.bin" --home "$dir/copy" --json 2>/dev/null) ||
  fail "import: $out"
[ "$(jq -r .state_root <<<"$out")" = "$root" ] && [ "$(jq .same_state_root <<<"$out")" = true ] &&
  [ "$(jq .applied <<<"$out")" = "$blocks" ] || fail "import: $out"
out=$("$cairn" store import "$dir/chain.bin" --home "$dir/copy" --json 2>/dev/null) ||
  fail "import again: $out"
[ "$(jq .applied <<<"$out")" = 0 ] && [ "$(jq .skipped <<<"$out")" = "$blocks" ] || fail "rerun: $out"
pass "import: every block re-executed and certified, the same state root; a rerun skips them"

# Into store-git, and back out of it into store-lmdb.
fresh "$dir/git"
rm "$dir/git/conf.d/10-store-lmdb.conf"
printf '[plugins]\nload = store-git\n' >"$dir/git/conf.d/10-store-git.conf"
out=$("$cairn" store import "$dir/chain.bin" --home "$dir/git" --json 2>/dev/null) ||
  fail "import into store-git: $out"
[ "$(jq -r .state_root <<<"$out")" = "$root" ] || fail "store-git: $out"
if command -v git >/dev/null; then
  n=$(git --git-dir "$dir/git/data/store-git/chain.git" log --oneline chain | wc -l)
  [ "$n" = "$blocks" ] || [ "$n" = $((blocks + 1)) ] || fail "git log shows $n commits for $blocks blocks"
fi
out=$("$cairn" store export "$dir/from-git.bin" --home "$dir/git" --json 2>/dev/null) ||
  fail "export from store-git: $out"
fresh "$dir/back"
out=$("$cairn" store import "$dir/from-git.bin" --home "$dir/back" --json 2>/dev/null) ||
  fail "import back into store-lmdb: $out"
[ "$(jq -r .state_root <<<"$out")" = "$root" ] || fail "back: $out"
pass "store-lmdb -> store-git -> store-lmdb: the same state root ($root), git log lists the blocks"

size=$(stat -c %s "$dir/chain.bin")
head -c $((size - 10)) "$dir/chain.bin" >"$dir/cut.bin"
fresh "$dir/copy2"
out=$("$cairn" store import "$dir/cut.bin" --home "$dir/copy2" 2>&1) && fail "a truncated file was imported"
grep -q "truncated" <<<"$out" || fail "truncated: $out"
printf 'not a chain\n' >"$dir/junk.bin"
out=$("$cairn" store import "$dir/junk.bin" --home "$dir/copy2" 2>&1) && fail "junk imported"
grep -q "not a block export" <<<"$out" || fail "junk: $out"
sed '1s/"chain_id":"exp"/"chain_id":"other"/' "$dir/chain.bin" >"$dir/other.bin"
out=$("$cairn" store import "$dir/other.bin" --home "$dir/copy2" 2>&1) && fail "another chain's file imported"
grep -q "holds chain other" <<<"$out" || fail "other chain: $out"
pass "a truncated file, a garbage file and another chain's file are refused by name"

# One signature of block 3's certificate damaged: the import (which checks
# certificates ahead on its worker threads) refuses block 3 by height and
# reason, and keeps blocks 1 and 2.
python3 - "$dir/chain.bin" "$dir/badcert.bin" <<'PY'
import re, struct, sys
src = open(sys.argv[1], "rb").read()
nl = src.index(b"\n") + 1
out, off, h = bytearray(src[:nl]), nl, 0
while off < len(src):
    (n,) = struct.unpack(">I", src[off:off + 4])
    block = src[off + 4:off + 4 + n]
    off += 4 + n
    h += 1
    if h == 3:
        m = re.search(rb'"precommits":"([0-9a-f]+)"', block)
        i = m.end(1) - 1  # the last hex digit: the last signature's last byte
        flip = b"1" if block[i:i + 1] == b"0" else b"0"
        block = block[:i] + flip + block[i + 1:]
    out += struct.pack(">I", len(block)) + block
open(sys.argv[2], "wb").write(out)
PY
fresh "$dir/copy3"
out=$("$cairn" store import "$dir/badcert.bin" --home "$dir/copy3" 2>&1) &&
  fail "a block with a damaged certificate signature was imported"
grep -q "height 3: bad signature by" <<<"$out" || fail "damaged certificate: $out"
h=$("$cairn" store export "$dir/after-bad.bin" --home "$dir/copy3" --json 2>/dev/null | jq .blocks) ||
  fail "export after the refused import"
[ "$h" = 2 ] || fail "after the refused block 3 the copy holds $h blocks, not 2"
pass "a damaged certificate signature in block 3 is refused by height and reason; blocks 1-2 stay"
echo "store-export: $passed checks passed"
