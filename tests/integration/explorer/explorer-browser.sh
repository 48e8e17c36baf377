#!/bin/bash
# The explorer in a real browser: a 4-validator PoS testnet (processes, TLS
# P2P) with the services flow of testnet-services (tiny.mp4 published from
# node0, the gateway; `user` entitled, `user2` not), then headless Chromium
# (Debian `chromium`) driven by playwright-core through explorer.spec.mjs
# against node0's /explorer/.
#
# Needs: chromium, nodejs and npm (Debian packages), jq, curl. playwright-core
# and axe-core (pinned below) are installed with npm into a cache outside the
# source tree the first time: ${CAIRN_TEST_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-test-npm}.
# Screenshots go to $EXPLORER_SCREENSHOTS (meson sets it to
# <build>/meson-logs/explorer-screenshots).
#
# EXPLORER_HOLD=1 sets the testnet up, prints its URLs and keeps it running
# until Ctrl-C (to look at the explorer by hand) instead of running the
# browser.
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
here=$(cd "$(dirname "$0")" && pwd)
video="$here/../services/tiny.mp4"
playwright_version=1.61.1 # the last one that runs on Debian 12's Node 18
axe_version=4.14.1        # axe-core: the accessibility rules (WCAG 2 A/AA)
chromium=${CHROMIUM:-/usr/bin/chromium}
shots=${EXPLORER_SCREENSHOTS:-${MESON_BUILD_ROOT:-$PWD}/meson-logs/explorer-screenshots}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-explorer-XXXXXX")
net="$dir/net"
node_pid=
cleanup() {
  # The spec closes its browser; whatever is left of its process group
  # (node, Chromium and its helpers) goes now.
  if [ -n "$node_pid" ]; then
    kill -KILL -- "-$node_pid" 2>/dev/null || true
  fi
  "$cairn" testnet stop --dir "$net" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*"
  for log in "$net"/node*/node.log; do
    [ -f "$log" ] || continue
    echo "--- $log"
    tail -15 "$log" || true
  done
  exit 1
}
pass() { echo "PASS: $*"; }

# ---- tools: never a silent skip --------------------------------------------
missing=()
[ -x "$chromium" ] || missing+=("chromium (Debian package chromium; looked for $chromium, or set CHROMIUM)")
command -v node >/dev/null || missing+=("node (Debian package nodejs)")
command -v npm >/dev/null || missing+=("npm (Debian package npm)")
for tool in jq curl flock; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf 'FAIL: missing: %s\n' "${missing[@]}"
  echo "FAIL: install them: apt-get install chromium nodejs npm jq curl util-linux (or ./dev deps)"
  exit 1
fi
[ -s "$video" ] || fail "$video is missing"
node -e 'process.exit(+process.versions.node.split(".")[0] < 18 ? 1 : 0)' ||
  fail "node $(node --version) is too old: playwright-core $playwright_version needs Node 18 or newer"

cache=${CAIRN_TEST_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-test-npm}
pw="$cache/node_modules/playwright-core"
axe="$cache/node_modules/axe-core"
mkdir -p "$cache"
(
  flock 9
  if [ "$(jq -r .version "$pw/package.json" 2>/dev/null)" != "$playwright_version" ] ||
    [ "$(jq -r .version "$axe/package.json" 2>/dev/null)" != "$axe_version" ]; then
    echo "installing playwright-core@$playwright_version axe-core@$axe_version into $cache"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$cache" \
      --no-audit --no-fund --loglevel=error \
      "playwright-core@$playwright_version" "axe-core@$axe_version" >&2 ||
      { echo "FAIL: npm install playwright-core axe-core into $cache"; exit 1; }
  fi
) 9>"$cache/.lock" || exit 1
[ "$(jq -r .version "$pw/package.json")" = "$playwright_version" ] ||
  fail "playwright-core $playwright_version not in $pw"
[ "$(jq -r .version "$axe/package.json")" = "$axe_version" ] ||
  fail "axe-core $axe_version not in $axe"

# ---- the testnet -------------------------------------------------------------
h0="$net/node0"
svc() { "$cairn" services --home "$h0" "$@"; }
height() { "$cairn" query --home "$net/node$1" status --json | jq .height; }
wait_height() { # node height
  for _ in $(seq 600); do
    [ "$(height "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
"$cairn" testnet init --dir "$net" --validators 4 >/dev/null || fail "init"
# A short review period so a regulator's opinion is published during setup.
jq -S '.app_state.services = {"review_period_blocks": 20, "publish_delay_blocks": 10}' \
  "$h0/genesis.json" >"$dir/genesis.json"
for i in 0 1 2 3; do
  cp "$dir/genesis.json" "$net/node$i/genesis.json"
  printf '[blob-fs]\nsync = false\n' >"$net/node$i/conf.d/95-services.conf"
done
"$cairn" testnet start --dir "$net" >/dev/null || fail "start"
wait_height 0 2 || fail "no blocks"
status=$("$cairn" testnet status --dir "$net" --json)
api0=$(echo "$status" | jq -r '.[0].api')
pass "4 validators run"

newkey() { # name -> its address
  "$cairn" keys new "$1" --home "$h0" >/dev/null
  "$cairn" keys show "$1" --home "$h0" --json | jq -r .address
}
platform=$(newkey platform)
provider=$(newkey provider)
user=$(newkey user)   # entitled
user2=$(newkey user2) # not entitled
regulator=$(newkey regulator)
tx() { "$cairn" tx send --home "$h0" --wait --timeout 60 "$@" >/dev/null; }
tx --from admin bank.transfer "{\"to\":\"$user\",\"denom\":\"cairn\",\"amount\":100}"
tx --from admin bank.transfer "{\"to\":\"$user2\",\"denom\":\"cairn\",\"amount\":100}"
tx --from admin core.grant_role "{\"address\":\"$platform\",\"role\":\"platform\"}"
tx --from admin core.grant_role "{\"address\":\"$regulator\",\"role\":\"regulator\"}"
tx --from platform services.register_provider \
  "{\"address\":\"$provider\",\"name\":\"Harbour Boat Tours\"}" ||
  fail "register_provider"
pub=$(svc publish --from provider --video "$video" --place "Old harbour, pier 3" \
  --type "boat tour" --price 7 --denom cairn --json) || fail "publish"
service=$(echo "$pub" | jq -r .service)
cid=$(echo "$pub" | jq -r .cid)
service2=$(svc publish --from provider --video "$video" --place "City museum" \
  --type "guided visit" --price 3 --denom cairn --json | jq -r .service) ||
  fail "publish 2"
svc entitle "$service" --from user >/dev/null || fail "entitle"
# A tx whose handler fails (wrong price): committed with ok = false.
set +e
out=$("$cairn" tx send --home "$h0" --from user2 --wait --timeout 60 --json \
  services.entitle "{\"amount\":6,\"denom\":\"cairn\",\"service\":\"$service\"}" 2>&1)
set -e
failed_tx=$(echo "$out" | grep -o '[0-9a-f]\{64\}' | head -1)
[ -n "$failed_tx" ] || fail "no id for the failing tx: $out"
svc feedback "$service" --from user --rating 4 --text "nice views" >/dev/null ||
  fail "feedback"
case1=$(svc feedback "$service" --from user --rating 1 --complaint \
  --text "the tour lasted 20 minutes, not 2 hours" --json | jq -r .case) ||
  fail "complaint"
svc review "$case1" --from regulator --verdict upheld \
  --text "The video shows a 20-minute tour; refund ordered." >/dev/null ||
  fail "review"
deadline=$(curl -fsS "$api0/v1/services/cases/$case1" | jq .deadline)
wait_height 0 "$deadline" || fail "deadline $deadline not reached"
svc opinion "$case1" --from regulator >/dev/null || fail "opinion"
curl -fsS "$api0/v1/services/cases/$case1" | jq -e '.status == "published"' \
  >/dev/null || fail "the opinion is not published"
pass "services: two published, user entitled, user2 not, feedback and a published opinion"

export EXPLORER_URL="$api0/explorer/" EXPLORER_API="$api0"
export EXPLORER_SERVICE="$service" EXPLORER_SERVICE2="$service2" EXPLORER_CID="$cid"
export EXPLORER_USER="$user" EXPLORER_USER2="$user2" EXPLORER_PROVIDER="$provider"
export EXPLORER_USER_PEM="$h0/keys/user.pem" EXPLORER_USER2_PEM="$h0/keys/user2.pem"
export EXPLORER_FAILED_TX="$failed_tx" EXPLORER_CASE="$case1" EXPLORER_HOME0="$h0"
export EXPLORER_SCREENSHOTS="$shots" EXPLORER_PLAYWRIGHT="$pw" EXPLORER_AXE="$axe/axe.min.js"
export CHROMIUM="$chromium"

if [ "${EXPLORER_HOLD:-}" = 1 ]; then
  env | grep '^EXPLORER_' | sort | sed 's/^/export /' | tee "${TMPDIR:-/tmp}/explorer-hold.env"
  echo "open $api0/explorer/ ; the testnet runs until Ctrl-C"
  while sleep 3600; do :; done
fi

code=$(curl -s -o "$dir/index.html" -w '%{http_code}' "$api0/explorer/")
[ "$code" = 200 ] ||
  fail "GET $api0/explorer/ answered $code (is the explorer plugin built and loaded?)"
mkdir -p "$shots"
rm -f "$shots"/*.png # this run's only
# Own process group, so the cleanup can end Node and its Chromium together.
set +e
setsid node "$here/explorer.spec.mjs" &
node_pid=$!
wait "$node_pid"
rc=$?
set -e
[ "$rc" = 0 ] || fail "the browser checks failed (exit $rc); screenshots in $shots"
"$cairn" testnet stop --dir "$net" >/dev/null || fail "stop"
# Under ASan/UBSan the nodes report into their logs.
if grep -l 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' \
  "$net"/node*/node.log; then
  grep -h -A30 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' \
    "$net"/node*/node.log | head -80
  fail "a node reported a memory error or undefined behaviour"
fi
