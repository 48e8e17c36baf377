#!/bin/bash
# A new node starts from a `git clone` of another node's store-git chain
# (snapshot distribution): four PoS validators, node0 on store-git; node4
# gets a bare clone of node0's live chain.git, verifies every block (hash
# links, tx roots and signatures, commit certificates) and the head state
# before it starts, then follows the chain. Clones with a forged state
# value or a forged certificate are refused by name, `cairn store verify`
# checks a stopped home, and the clone passes `git fsck --strict`.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
. "$(dirname "$0")/lib.sh" # agree
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-git-clone-XXXXXX")
net="$dir/net"
cleanup() {
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
passed=0
fail() {
  echo "FAIL: $*"
  for log in "$net"/node*/node.log; do
    echo "--- $log"
    tail -15 "$log" || true
  done
  exit 1
}
pass() {
  echo "PASS: $*"
  passed=$((passed + 1))
}
command -v jq >/dev/null || fail "jq is not installed"
command -v git >/dev/null || fail "git is not installed"

use_store_git() {
  rm "$1/conf.d/10-store-lmdb.conf"
  printf '[plugins]\nload = store-git\n' >"$1/conf.d/10-store-git.conf"
}

"$cairn" testnet init --dir "$net" --validators 4 --nodes 5 --chain-id gitclone >/dev/null ||
  fail "init"
use_store_git "$net/node0"
use_store_git "$net/node4"
mv "$net/node4" "$dir/node4" # joins later, from the clone
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
agree 4 2 || fail "4 validators did not make blocks"
for i in 1 2 3 4 5 6; do
  "$cairn" tx send --home "$net/node0" --from admin bank.transfer \
    "{\"to\":\"$(printf '%040d' "$i")\",\"denom\":\"cairn\",\"amount\":$i}" --wait >/dev/null ||
    fail "transfer $i"
done
src="$net/node0/data/store-git/chain.git"
git --git-dir "$src" log --oneline chain >"$dir/log" || fail "git log on node0's chain"
[ "$(wc -l <"$dir/log")" -ge 7 ] || fail "git log lists $(wc -l <"$dir/log") blocks"
pass "node0 keeps the chain in git ($(wc -l <"$dir/log") commits)"

# A bare clone of the live repository, made while node0 commits blocks.
clone="$dir/clone.git"
git clone -q --bare "$src" "$clone" || fail "git clone"
git --git-dir "$clone" fsck --strict >/dev/null 2>&1 || fail "git fsck --strict on the clone"
cloned=$(git --git-dir "$clone" log -1 --format=%s chain)

# A home like node4's holding a copy of the clone.
home_with() { # dest, repo
  rm -rf "$1"
  cp -r "$dir/node4" "$1"
  mkdir -p "$1/data/store-git"
  git clone -q --bare "$2" "$1/data/store-git/chain.git"
}
# Forge one thing in the head commit of a copy of the clone: the blob at
# path $2 of its tree gets the bytes in $3.
forge() { # repo, path, file
  local idx blob tree commit
  idx=$(mktemp "$dir/index-XXXXXX")
  rm -f "$idx"
  blob=$(git --git-dir "$1" hash-object -w "$3")
  GIT_INDEX_FILE=$idx git --git-dir "$1" read-tree chain
  GIT_INDEX_FILE=$idx git --git-dir "$1" update-index --cacheinfo "100644,$blob,$2"
  tree=$(GIT_INDEX_FILE=$idx git --git-dir "$1" write-tree)
  commit=$(git --git-dir "$1" log -1 --format=%B chain |
    GIT_AUTHOR_DATE="$(git --git-dir "$1" log -1 --format=%ad chain)" \
      GIT_COMMITTER_DATE="$(git --git-dir "$1" log -1 --format=%cd chain)" \
      git --git-dir "$1" commit-tree "$tree" -p chain^)
  git --git-dir "$1" update-ref refs/heads/chain "$commit"
  rm -f "$idx"
}
# Starting such a home must fail before it joins the network.
refused() { # home, what the error must say
  local out
  out=$(timeout 120 "$cairn" store verify --home "$1" 2>&1) && fail "a forged clone verified: $out"
  grep -q "$2" <<<"$out" || fail "forged clone: want '$2' in: $out"
  out=$(timeout 120 "$cairn" node --home "$1" 2>&1) && fail "a node started on a forged clone"
  grep -q "$2" <<<"$out" || fail "node on forged clone: want '$2' in: $out"
}

# 1. One state value changed at the head.
git clone -q --bare "$clone" "$dir/forged-state.git"
path=$(git --git-dir "$dir/forged-state.git" ls-tree -r --name-only chain state | grep bank | head -1)
[ -n "$path" ] || fail "no bank key under state/ in the clone"
printf '{"amount":999999}' >"$dir/value"
forge "$dir/forged-state.git" "$path" "$dir/value"
home_with "$dir/bad-state" "$dir/forged-state.git"
refused "$dir/bad-state" "not to the head's state_root"
pass "a clone with one forged state value is refused (state root)"

# 2. The head block's certificate replaced by another block's.
git clone -q --bare "$clone" "$dir/forged-cert.git"
git --git-dir "$dir/forged-cert.git" show chain~2:certificate.json >"$dir/cert" ||
  fail "no certificate.json in block commits"
forge "$dir/forged-cert.git" certificate.json "$dir/cert"
home_with "$dir/bad-cert" "$dir/forged-cert.git"
refused "$dir/bad-cert" "commit certificate refused"
pass "a clone with a forged commit certificate is refused"

# 3. The real clone: verified offline, then node4 starts from it.
mkdir -p "$dir/node4/data/store-git"
mv "$clone" "$dir/node4/data/store-git/chain.git"
out=$("$cairn" store verify --home "$dir/node4" --json 2>"$dir/verify.err") ||
  fail "store verify on the clone: $(cat "$dir/verify.err")"
blocks=$(jq .blocks <<<"$out")
[ "$blocks" -ge 7 ] && [ "$(jq .txs <<<"$out")" -ge 6 ] || fail "verify: $out"
grep -q "verifying every block" "$dir/verify.err" ||
  fail "the first open did not say it verifies a copied chain: $(cat "$dir/verify.err")"
pass "cairn store verify: $blocks blocks of the clone ($cloned) verified"

mv "$dir/node4" "$net/node4"
"$cairn" testnet start --dir "$net" >/dev/null || fail "start node4"
h=$("$cairn" query --home "$net/node0" status --json | jq .height)
agree 5 $((h + 2)) || fail "node4 did not follow the chain from the clone"
got=$("$cairn" query --home "$net/node4" balances "$(printf '%040d' 6)" --json | jq '.balances.cairn')
[ "$got" = 6 ] || fail "node4 sees balance $got, want 6"
n=$(git --git-dir "$net/node4/data/store-git/chain.git" log --oneline chain | wc -l)
[ "$n" -gt "$blocks" ] || fail "node4's git log has $n commits, not more than the $blocks cloned"
"$cairn" testnet stop --dir "$net" >/dev/null || fail "stop"
out=$("$cairn" store verify --home "$net/node4" --json 2>/dev/null) || fail "verify node4 after: $out"
[ "$(jq .height <<<"$out")" -gt "$blocks" ] || fail "verify after: $out"
pass "node4 started from the clone, followed the chain and verifies again at height $(jq .height <<<"$out")"
echo "store-git-clone: $passed checks passed"
