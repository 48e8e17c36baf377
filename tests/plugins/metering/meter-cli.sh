#!/bin/bash
# `cairn meter` without the metering plugin, and the test financial
# terminal: device-key; dealer (files, modes, centers.json, each share
# against its verifying share, 2-of-3 FROST signatures from the share files
# verifying under the group key, every refusal); multisig; collect --print
# (the reading passes formats.c's checks); the tx commands against
# mock-node (the exact bodies of plugins/metering/README.md, nonces, a
# refusal by the chain); the read routes; fin-terminal with curl
# (instruction -> voucher that verifies, replay -> the same voucher, other
# content under the same id -> 409, bad proofs, recharges, the ledger,
# --reject, a clean SIGTERM).
set -euo pipefail
cairn=${CAIRN_BIN:?CAIRN_BIN must point at the cairn executable}
ft_bin=${FIN_TERMINAL:?FIN_TERMINAL must point at fin-terminal}
mock_bin=${MOCK_NODE:?MOCK_NODE must point at mock-node}
tool=${METER_TOOL:?METER_TOOL must point at meter-tool}
dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-metercli-XXXXXX")
unset CAIRN_HOME
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
checks=0
fail() {
  echo "FAIL: $*"
  for f in "$dir"/*.err; do
    [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }
  done
  exit 1
}
ok() {
  checks=$((checks + 1))
}
for t in jq curl stat sha256sum grep; do
  command -v "$t" >/dev/null || fail "$t is not installed"
done

# rc WANT WHAT CMD...: run CMD (stdout in $OUT, stderr in $ERR), expect
# exit code WANT.
rc() {
  local want=$1 what=$2 got=0
  shift 2
  OUT=$("$@" 2>"$dir/last.err") || got=$?
  ERR=$(cat "$dir/last.err")
  [ "$got" = "$want" ] ||
    fail "$what: exit $got, want $want; stdout: $OUT; stderr: $ERR"
  ok
}
# err_has PATTERN WHAT: the last stderr names PATTERN.
err_has() {
  [[ "$ERR" == *"$1"* ]] || fail "$2: stderr does not say '$1': $ERR"
  ok
}
eq() { # got want what
  [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
  ok
}
mode_of() { stat -c %a "$1"; }
# start_bg NAME CMD...: run CMD in the background; $URL is the first line
# it prints; $BG_PID its pid.
start_bg() {
  local name=$1
  shift
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  BG_PID=$!
  bg_pids+=("$BG_PID")
  for _ in $(seq 200); do
    if [ -s "$dir/$name.out" ] && head -1 "$dir/$name.out" | grep -q '^http'; then
      URL=$(head -1 "$dir/$name.out")
      return 0
    fi
    kill -0 "$BG_PID" 2>/dev/null || fail "$name exited: $(cat "$dir/$name.err")"
    sleep 0.05
  done
  fail "$name printed no URL"
}
# stop_bg PID NAME: SIGTERM, and it must exit 0 (under ASan: no leak).
stop_bg() {
  local code=0
  kill -TERM "$1"
  wait "$1" || code=$?
  eq "$code" 0 "$2 exit code after SIGTERM"
}
post() { # URL BODY: $OUT body, $CODE status
  local r
  r=$(curl -sS -XPOST "$1" -H 'Content-Type: application/json' --data-binary "$2" -w ' %{http_code}')
  OUT=${r% *}
  CODE=${r##* }
}
want_code() { # code what
  [ "$CODE" = "$1" ] || fail "$2: HTTP $CODE, want $1: $OUT"
  ok
}

m="$cairn meter"

# ---- device-key ------------------------------------------------------------
rc 0 "device-key" $m device-key --out "$dir/dev1.pem"
dev1=$OUT
[[ "$dev1" =~ ^[0-9a-f]{64}$ ]] || fail "device-key printed '$dev1', not 64 hex"
eq "$(mode_of "$dir/dev1.pem")" 600 "device key mode"
grep -q "BEGIN PRIVATE KEY" "$dir/dev1.pem" || fail "device key is not PEM"
ok
sum=$(sha256sum <"$dir/dev1.pem")
rc 1 "device-key over an existing file" $m device-key --out "$dir/dev1.pem"
err_has "already exists" "device-key refuses to overwrite"
eq "$(sha256sum <"$dir/dev1.pem")" "$sum" "device key unchanged"
rc 2 "device-key without --out" $m device-key
err_has "--out" "device-key names --out"
rc 2 "device-key with an argument" $m device-key extra --out "$dir/x.pem"
rc 2 "device-key with a foreign option" $m device-key --out "$dir/x.pem" --t 2
[ ! -e "$dir/x.pem" ] || fail "a refused device-key wrote a file"
rc 0 "device-key --json" $m device-key --out "$dir/dev2.pem" --json
dev2=$(jq -r .pubkey <<<"$OUT")
eq "$(jq -r .file <<<"$OUT")" "$dir/dev2.pem" "device-key --json file"
[[ "$(jq -r .address <<<"$OUT")" =~ ^[0-9a-f]{40}$ ]] || fail "device-key --json address"
ok

# ---- help and usage ----------------------------------------------------------
rc 0 "meter --help" $m --help
[[ "$OUT" == *"dealer"* && "$OUT" == *"collect"* && "$OUT" == *"withdrawal ID"* ]] ||
  fail "meter --help lists the subcommands: $OUT"
ok
rc 2 "meter alone" $m
rc 2 "unknown subcommand" $m frobnicate
err_has "frobnicate" "unknown subcommand named"
rc 2 "options but no subcommand" $m --json --node http://127.0.0.1:1
rc 0 "--help after options" $m --node http://127.0.0.1:1 --help
[[ "$OUT" == *"Subcommands:"* ]] || fail "meter --node URL --help: $OUT"
ok
for sub in device-key dealer multisig configure set-centers set-finance \
  register-terminal update-terminal create-set withdraw collect params \
  centers finance totals terminal proofs set level2 settlement settlements \
  balance withdrawal withdrawals faults; do
  rc 0 "$sub --help" $m "$sub" --help
  [[ "$OUT" == *"cairn meter $sub"* ]] || fail "$sub --help: $OUT"
  ok
done
rc 0 "help dealer" $m help dealer
[[ "$OUT" == *"--member"* ]] || fail "help dealer shows --member"
ok

# ---- center keys, dealer -----------------------------------------------------
members=()
declare -a addr pub
for i in 1 2 3; do
  j=$("$cairn" keys new "c$i" --home "$dir/h" --json)
  addr[$i]=$(jq -r .address <<<"$j")
  pub[$i]=$(jq -r .pubkey <<<"$j")
  members+=(--member "${addr[$i]}:${pub[$i]}")
done
D="$dir/dealer"
rc 0 "dealer 2-of-3" $m dealer --t 2 "${members[@]}" --out "$D"
dealer_out="$OUT $ERR"
eq "$(mode_of "$D")" 700 "dealer directory mode"
eq "$(ls "$D" | wc -l)" 4 "dealer files"
C="$D/centers.json"
jq -e '(keys == ["group_pubkey","members","scheme","t"]) and .scheme == "frost"
  and .t == 2 and (.members | length) == 3
  and (.group_pubkey | test("^[0-9a-f]{64}$"))
  and all(.members[]; keys == ["address","pubkey","verifying_share"]
          and (.verifying_share | test("^[0-9a-f]{64}$")))' "$C" >/dev/null ||
  fail "centers.json shape: $(cat "$C")"
ok
group=$(jq -r .group_pubkey "$C")
for i in 1 2 3; do
  eq "$(jq -r ".members[$((i - 1))].address" "$C")" "${addr[$i]}" "member $i address, in order"
  eq "$(jq -r ".members[$((i - 1))].pubkey" "$C")" "${pub[$i]}" "member $i pubkey"
  S="$D/share-${addr[$i]}.json"
  eq "$(mode_of "$S")" 600 "share $i mode"
  jq -e --arg a "${addr[$i]}" --arg g "$group" --argjson id "$i" '
    (keys == ["address","group_pubkey","identifier","kind","n","share","t","verifying_share"])
    and .kind == "cairn-frost-share" and .identifier == $id and .address == $a
    and .group_pubkey == $g and .t == 2 and .n == 3
    and (.share | test("^[0-9a-f]{64}$"))' "$S" >/dev/null ||
    fail "share $i shape: $(cat "$S")"
  ok
  eq "$(jq -r .verifying_share "$S")" "$(jq -r ".members[$((i - 1))].verifying_share" "$C")" "share $i verifying share listed"
  rc 0 "share $i against its verifying share" "$tool" check-share "$S" "$C"
  share=$(jq -r .share "$S")
  [[ "$dealer_out" != *"$share"* ]] || fail "share $i appears on the dealer's output"
  ok
done
S1="$D/share-${addr[1]}.json"
S2="$D/share-${addr[2]}.json"
S3="$D/share-${addr[3]}.json"
# 2-of-3 FROST signatures from the share files (meter-tool verifies each
# under the group key with the core's Ed25519 verifier before printing).
echo '{"hello":"metering","n":1}' >"$dir/msg.json"
for pair in "$S1 $S3" "$S2 $S3" "$S2 $S1" "$S1 $S2 $S3"; do
  # shellcheck disable=SC2086
  rc 0 "FROST signature by $pair" "$tool" frost-proof cairn/test/v1 1 "$dir/msg.json" $pair
  [[ "$(jq -r .sig <<<"$OUT")" =~ ^[0-9a-f]{128}$ ]] || fail "frost-proof sig"
  ok
done
rc 1 "FROST with one share" "$tool" frost-proof cairn/test/v1 1 "$dir/msg.json" "$S1"
# A tampered share no longer matches its verifying share.
jq --arg s "$(jq -r .share "$S2")" '.share = $s' "$S1" >"$dir/bad-share.json"
rc 1 "tampered share" "$tool" check-share "$dir/bad-share.json" "$C"
# Refusals: thresholds, members, the directory.
rc 2 "dealer t=1" $m dealer --t 1 "${members[@]}" --out "$dir/d1"
err_has "--t 1" "dealer t=1 message"
rc 2 "dealer t>n" $m dealer --t 4 "${members[@]}" --out "$dir/d1"
rc 2 "dealer t=0" $m dealer --t 0 "${members[@]}" --out "$dir/d1"
rc 2 "dealer t not a number" $m dealer --t two "${members[@]}" --out "$dir/d1"
rc 2 "dealer without --t" $m dealer "${members[@]}" --out "$dir/d1"
rc 2 "dealer one member" $m dealer --t 2 --member "${addr[1]}:${pub[1]}" --out "$dir/d1"
rc 2 "dealer duplicate member" $m dealer --t 2 "${members[@]}" --member "${addr[2]}:${pub[2]}" --out "$dir/d1"
err_has "already member #2" "duplicate member named"
rc 2 "dealer malformed address" $m dealer --t 2 "${members[@]:0:4}" --member "XYZ${addr[3]:3}:${pub[3]}" --out "$dir/d1"
rc 2 "dealer malformed pubkey" $m dealer --t 2 "${members[@]:0:4}" --member "${addr[3]}:${pub[3]:0:62}" --out "$dir/d1"
rc 2 "dealer no colon" $m dealer --t 2 "${members[@]:0:4}" --member "${addr[3]}" --out "$dir/d1"
rc 2 "dealer address of another key" $m dealer --t 2 "${members[@]:0:4}" --member "${addr[1]}:${pub[3]}" --out "$dir/d1"
err_has "not the address of" "address/pubkey mismatch named"
rc 2 "dealer without --out" $m dealer --t 2 "${members[@]}"
[ ! -e "$dir/d1" ] || fail "a refused dealer created its directory"
ok
csum=$(sha256sum <"$C")
rc 1 "dealer into a non-empty directory" $m dealer --t 2 "${members[@]}" --out "$D"
err_has "not empty" "non-empty directory named"
eq "$(sha256sum <"$C")" "$csum" "centers.json untouched"
touch "$dir/a-file"
rc 1 "dealer --out a file" $m dealer --t 2 "${members[@]}" --out "$dir/a-file"
mkdir "$dir/empty"
rc 0 "dealer into an empty directory" $m dealer --t 3 "${members[@]}" --out "$dir/empty" --json
eq "$(jq -r '.t, .n' <<<"$OUT" | tr '\n' ' ')" "3 3 " "dealer --json t and n"
eq "$(jq -r '.shares | length' <<<"$OUT")" 3 "dealer --json shares"
[[ "$OUT" != *'"share":'* ]] || fail "dealer --json prints a share"
ok
rc 1 "3-of-3 signature with 2 shares" "$tool" frost-proof cairn/test/v1 1 "$dir/msg.json" \
  "$dir/empty/share-${addr[1]}.json" "$dir/empty/share-${addr[2]}.json"
rc 0 "3-of-3 signature with 3 shares" "$tool" frost-proof cairn/test/v1 1 "$dir/msg.json" \
  "$dir/empty"/share-*.json
rc 1 "shares of two groups" "$tool" frost-proof cairn/test/v1 1 "$dir/msg.json" \
  "$S1" "$dir/empty/share-${addr[2]}.json"
cp -r "$D" "$dir/dealer-old"
rc 0 "dealer --force" $m dealer --t 2 "${members[@]}" --out "$D" --force
[ "$(jq -r .group_pubkey "$C")" != "$group" ] || fail "dealer --force: same group key"
ok
rc 0 "new share 1 against the new centers" "$tool" check-share "$S1" "$C"
rc 1 "old share 1 against the new centers" "$tool" check-share "$dir/dealer-old/share-${addr[1]}.json" "$C"
group=$(jq -r .group_pubkey "$C")
[ -z "$(find "$D" -name '*.tmp-*')" ] || fail "temporary files left in $D"
ok
[[ "$ERR" != *warning* ]] || fail "dealer --force over the same members warns: $ERR"
ok
cp -r "$D" "$dir/dealer-two"
rc 0 "dealer --force with fewer members" $m dealer --t 2 "${members[@]:0:4}" --out "$dir/dealer-two" --force
err_has "share-${addr[3]}.json is not part of this group" "stale share named"
ok

# ---- multisig -----------------------------------------------------------------
MS="$dir/multisig.json"
rc 0 "multisig 2-of-3" $m multisig --t 2 "${members[@]}" --out "$MS"
jq -e --arg a1 "${addr[1]}" --arg p3 "${pub[3]}" '
  keys == ["members","scheme","t"] and .scheme == "multisig" and .t == 2
  and (.members | length) == 3 and all(.members[]; keys == ["address","pubkey"])
  and .members[0].address == $a1 and .members[2].pubkey == $p3' "$MS" >/dev/null ||
  fail "multisig centers: $(cat "$MS")"
ok
rc 1 "multisig over an existing file" $m multisig --t 2 "${members[@]}" --out "$MS"
rc 0 "multisig --force" $m multisig --t 3 "${members[@]}" --out "$MS" --force
eq "$(jq .t "$MS")" 3 "multisig --force rewrote it"
rc 2 "multisig t=1" $m multisig --t 1 "${members[@]}" --out "$dir/ms2.json"
rc 2 "multisig duplicate" $m multisig --t 2 "${members[@]}" --member "${addr[1]}:${pub[1]}" --out "$dir/ms2.json"
rc 2 "collect --force (not a collect option)" $m collect --force --key "$dir/dev1.pem" --terminal e --period 1 --print

# ---- collect --print ------------------------------------------------------------
rc 0 "collect --print" $m collect --key "$dir/dev1.pem" --terminal edge-1 --period 29443901 \
  --seq 3 --usage cpu_ms=41000 --usage net_out_bytes=5300000 --idle mem_mib=2048 \
  --network latency_us=1800 --usage-time 60 --app video-edge=running --app cache=stopped \
  --evidence '{"quote":"abc","n":1}' --print
reading=$OUT
eq "$(wc -l <<<"$reading")" 1 "collect --print: one line"
id=$("$tool" check-reading - <<<"$reading") || fail "the printed reading does not pass meter_reading_check/verify"
ok
jq -e --arg d "$dev1" '.terminal == "edge-1" and .device == $d and .period == 29443901
  and .seq == 3 and .usage == {"cpu_ms":41000,"mem_mib_s":0,"net_in_bytes":0,
  "net_out_bytes":5300000,"storage_mib_s":0} and .idle == {"cpu_milli":0,
  "mem_mib":2048,"storage_mib":0} and .network == {"bandwidth_kbps":0,
  "latency_us":1800,"loss_ppm":0} and .usage_time_s == 60
  and .apps == {"cache":"stopped","video-edge":"running"}
  and .evidence == {"n":1,"quote":"abc"}' <<<"$reading" >/dev/null ||
  fail "collect --print fields: $reading"
ok
# Canonical: what jq prints compact with sorted keys.
eq "$(jq -cS . <<<"$reading")" "$reading" "collect --print is canonical JSON"
# A tampered copy fails the same check.
rc 1 "tampered reading" "$tool" check-reading <(jq -c '.usage.cpu_ms = 1' <<<"$reading")
rc 0 "collect --print, defaults" $m collect --key "$dir/dev2.pem" --terminal t0 --period 0 --print
jq -e '.seq == 0 and .usage_time_s == 0 and .apps == {} and .evidence == {}
  and ([.usage[], .idle[], .network[]] | all(. == 0))' <<<"$OUT" >/dev/null ||
  fail "collect defaults: $OUT"
ok
"$tool" check-reading - <<<"$OUT" >/dev/null || fail "default reading does not verify"
ok
base=(--key "$dir/dev1.pem" --terminal edge-1 --period 1 --print)
rc 2 "collect --usage unknown key" $m collect "${base[@]}" --usage gpu_ms=1
err_has "gpu_ms" "unknown usage key named"
rc 2 "collect --usage not a number" $m collect "${base[@]}" --usage cpu_ms=ten
rc 2 "collect --usage negative" $m collect "${base[@]}" --usage cpu_ms=-1
rc 2 "collect --usage above 10^15" $m collect "${base[@]}" --usage cpu_ms=1000000000000001
rc 0 "collect --usage 10^15" $m collect "${base[@]}" --usage cpu_ms=1000000000000000
rc 2 "collect --usage twice" $m collect "${base[@]}" --usage cpu_ms=1 --usage cpu_ms=2
err_has "twice" "duplicate usage key"
rc 2 "collect --usage without =" $m collect "${base[@]}" --usage cpu_ms
rc 2 "collect --idle usage key" $m collect "${base[@]}" --idle cpu_ms=1
rc 2 "collect --network bad key" $m collect "${base[@]}" --network jitter=1
rc 2 "collect --app bad state" $m collect "${base[@]}" --app web=flying
err_has "web" "bad app named"
rc 2 "collect --app bad name" $m collect "${base[@]}" --app Web=running
rc 2 "collect --app twice" $m collect "${base[@]}" --app web=running --app web=idle
rc 2 "collect 17 apps" $m collect "${base[@]}" $(for i in $(seq 17); do echo --app "a$i=idle"; done)
rc 2 "collect --evidence not JSON" $m collect "${base[@]}" --evidence '{x'
rc 2 "collect --evidence an array" $m collect "${base[@]}" --evidence '[1]'
rc 2 "collect --evidence a real" $m collect "${base[@]}" --evidence '{"a":1.5}'
big=$(head -c 5000 /dev/zero | tr '\0' 'e')
rc 2 "collect --evidence over 4 KiB" $m collect "${base[@]}" --evidence "{\"x\":\"$big\"}"
err_has "evidence" "evidence size named"
rc 2 "collect --seq negative" $m collect "${base[@]}" --seq -1
rc 2 "collect --period text" $m collect --key "$dir/dev1.pem" --terminal edge-1 --period now --print
rc 2 "collect bad terminal" $m collect --key "$dir/dev1.pem" --terminal Edge --period 1 --print
rc 2 "collect without --terminal" $m collect --key "$dir/dev1.pem" --period 1 --print
rc 2 "collect without --key" $m collect --terminal edge-1 --period 1 --print
rc 3 "collect with a missing key file" $m collect --key "$dir/none.pem" --terminal edge-1 --period 1 --print
rc 2 "collect without --period and no node" $m collect --key "$dir/dev1.pem" --terminal edge-1 --print
err_has "--node" "collect needs a node for the period"
rc 4 "collect to an unreachable node" $m collect --key "$dir/dev1.pem" --terminal edge-1 --period 1 --node http://127.0.0.1:1

# ---- the tx commands against mock-node -------------------------------------------
rc 0 "operator key" $m device-key --out "$dir/op.pem" --json
op=$(jq -r .address <<<"$OUT")
rc 0 "financial terminal key" $m device-key --out "$dir/ft.pem"
ftpub=$OUT
start_bg mock "$mock_bin" --chain-id meter-test
mock_pid=$BG_PID
N=$URL
tx=(--node "$N" --from "$dir/op.pem" --wait)
rc 3 "collect before configure (no params)" $m collect --key "$dir/dev1.pem" --terminal edge-1 --node "$N"
err_has "params" "collect names the params route"
rc 0 "configure" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom mcredit \
  --price cpu_ms=10 --price mem_mib_s=1 --price net_out_bytes=2 --price storage_mib_s=1 \
  --price-scale 1000000 --min-settlement 1 --payee "$op"
[[ "$OUT" == "configured: tx "* ]] || fail "configure output: $OUT"
ok
last_tx() { curl -sS "$N/recorded" | jq -c '.txs[-1]'; }
ntx() { curl -sS "$N/recorded" | jq '.txs | length'; }
t=$(last_tx)
eq "$(jq -r .type <<<"$t")" metering.configure "configure type"
eq "$(jq -r .from <<<"$t")" "$op" "configure signer"
eq "$(jq -cS .body <<<"$t")" "$(jq -cS --arg p "$op" -n '{"period_s": 60, "window_periods": 60,
  "denom": "mcredit", "prices": {"cpu_ms": 10, "mem_mib_s": 1, "net_in_bytes": 0,
  "net_out_bytes": 2, "storage_mib_s": 1}, "price_scale": 1000000,
  "min_settlement": 1, "payee": $p}')" "configure body = the README's params"
before=$(ntx)
rc 2 "configure without --payee" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom mcredit --price-scale 1 --min-settlement 1
err_has "--payee" "missing --payee named"
rc 2 "configure bad denom" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom M --price-scale 1 --min-settlement 1 --payee "$op"
rc 2 "configure unknown price" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom mcredit --price gpu=1 --price-scale 1 --min-settlement 1 --payee "$op"
rc 2 "configure period 0" $m configure "${tx[@]}" --period-s 0 --window-periods 60 --denom mcredit --price-scale 1 --min-settlement 1 --payee "$op"
rc 2 "configure scale 0" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom mcredit --price-scale 0 --min-settlement 1 --payee "$op"
rc 2 "configure window too long" $m configure "${tx[@]}" --period-s 60 --window-periods 10081 --denom mcredit --price-scale 1 --min-settlement 1 --payee "$op"
rc 2 "configure bad payee" $m configure "${tx[@]}" --period-s 60 --window-periods 60 --denom mcredit --price-scale 1 --min-settlement 1 --payee nobody/x
rc 2 "configure without --from" $m configure --node "$N" --period-s 60 --window-periods 60 --denom mcredit --price-scale 1 --min-settlement 1 --payee "$op"
err_has "--from" "missing signer named"
eq "$(ntx)" "$before" "refused commands send nothing"

# collect with the node's period (now / period_s).
now_p=$(($(date +%s) / 60))
rc 0 "collect to the node" $m collect --key "$dir/dev1.pem" --terminal edge-1 --usage cpu_ms=5 --node "$N"
rid=$OUT
rec=$(curl -sS "$N/recorded" | jq -c '.readings[-1]')
p=$(jq .period <<<"$rec")
[ "$p" -ge "$now_p" ] && [ "$p" -le $((now_p + 1)) ] || fail "collect period $p, now $now_p"
ok
eq "$("$tool" check-reading - <<<"$rec")" "$rid" "collect prints the id of what it posted"
rc 0 "collect --json" $m collect --key "$dir/dev1.pem" --terminal edge-1 --seq 1 --period "$now_p" --node "$N" --json
eq "$(jq -r '.reply.accepted[0]' <<<"$OUT")" "$(jq -r .id <<<"$OUT")" "the node accepted the same id"

rc 0 "set-centers (frost)" $m set-centers "$C" "${tx[@]}"
t=$(last_tx)
eq "$(jq -r .type <<<"$t")" metering.set_centers "set-centers type"
eq "$(jq -cS .body <<<"$t")" "$(jq -cS . "$C")" "set-centers body = centers.json"
rc 0 "set-centers (multisig)" $m set-centers "$MS" "${tx[@]}"
eq "$(jq -cS .body <<<"$(last_tx)")" "$(jq -cS . "$MS")" "set-centers multisig body"
before=$(ntx)
jq '.t = 5' "$C" >"$dir/bad-centers.json"
rc 2 "set-centers t > n" $m set-centers "$dir/bad-centers.json" "${tx[@]}"
jq 'del(.group_pubkey)' "$C" >"$dir/bad-centers.json"
rc 2 "set-centers frost without group key" $m set-centers "$dir/bad-centers.json" "${tx[@]}"
jq '.members[1].address = .members[0].address' "$C" >"$dir/bad-centers.json"
rc 2 "set-centers wrong address" $m set-centers "$dir/bad-centers.json" "${tx[@]}"
jq '.extra = 1' "$MS" >"$dir/bad-centers.json"
rc 2 "set-centers unknown field" $m set-centers "$dir/bad-centers.json" "${tx[@]}"
echo '{"t": 1.5}' >"$dir/bad-centers.json"
rc 2 "set-centers with a real" $m set-centers "$dir/bad-centers.json" "${tx[@]}"
rc 3 "set-centers missing file" $m set-centers "$dir/none.json" "${tx[@]}"
rc 2 "set-centers without FILE" $m set-centers "${tx[@]}"
eq "$(ntx)" "$before" "refused set-centers sends nothing"

rc 0 "set-finance --pubkey" $m set-finance --pubkey "$ftpub" "${tx[@]}"
eq "$(jq -c .body <<<"$(last_tx)")" "{\"pubkey\":\"$ftpub\"}" "set-finance body"
rc 0 "set-finance --key" $m set-finance --key "$dir/ft.pem" "${tx[@]}"
eq "$(jq -c .body <<<"$(last_tx)")" "{\"pubkey\":\"$ftpub\"}" "set-finance --key body"
rc 2 "set-finance both" $m set-finance --key "$dir/ft.pem" --pubkey "$ftpub" "${tx[@]}"
rc 2 "set-finance neither" $m set-finance "${tx[@]}"
rc 2 "set-finance bad hex" $m set-finance --pubkey "${ftpub^^}" "${tx[@]}"

# Options before the subcommand; the node key of --home signs by default;
# without --wait the tx is only submitted.
nodeaddr=$("$cairn" keys new node --home "$dir/oph" --json | jq -r .address)
rc 0 "options first, node key by default" $m --home "$dir/oph" --node "$N" --wait set-finance --pubkey "$ftpub"
eq "$(jq -r .from <<<"$(last_tx)")" "$nodeaddr" "default signer: the node key"
rc 0 "without --wait" $m set-finance --pubkey "$ftpub" --node "$N" --from "$dir/op.pem"
[[ "$OUT" == *"submitted"* ]] || fail "without --wait: $OUT"
ok
rc 0 "without --wait, --json" $m set-finance --pubkey "$ftpub" --node "$N" --from "$dir/op.pem" --json
eq "$(jq -c 'keys' <<<"$OUT")" '["from","id","nonce"]' "submitted tx JSON"
eq "$(jq -r .from <<<"$OUT")" "$op" "submitted tx signer"
rc 2 "no signer and no home" $m set-finance --pubkey "$ftpub" --node "$N"
err_has "--from" "missing signer named"

rc 0 "register-terminal" $m register-terminal edge-1 --device "$dev1" --device "$dir/dev2.pem" "${tx[@]}"
eq "$(jq -cS .body <<<"$(last_tx)")" "{\"devices\":[\"$dev1\",\"$dev2\"],\"terminal\":\"edge-1\"}" "register-terminal body"
eq "$(jq -r .type <<<"$(last_tx)")" metering.register_terminal "register-terminal type"
rc 2 "register-terminal without devices" $m register-terminal edge-2 "${tx[@]}"
rc 2 "register-terminal bad id" $m register-terminal Edge-2 --device "$dev1" "${tx[@]}"
rc 2 "register-terminal duplicate device" $m register-terminal edge-2 --device "$dev1" --device "$dev1" "${tx[@]}"
rc 2 "register-terminal bad device" $m register-terminal edge-2 --device abc "${tx[@]}"
rc 2 "register-terminal without ID" $m register-terminal --device "$dev1" "${tx[@]}"
rc 2 "register-terminal two IDs" $m register-terminal a b --device "$dev1" "${tx[@]}"

rc 0 "update-terminal --active false" $m update-terminal edge-1 --active false "${tx[@]}"
eq "$(jq -cS .body <<<"$(last_tx)")" '{"active":false,"terminal":"edge-1"}' "update-terminal body"
rc 0 "update-terminal devices" $m update-terminal edge-1 --device "$dev2" --active true "${tx[@]}"
eq "$(jq -cS .body <<<"$(last_tx)")" "{\"active\":true,\"devices\":[\"$dev2\"],\"terminal\":\"edge-1\"}" "update-terminal devices body"
rc 2 "update-terminal nothing" $m update-terminal edge-1 "${tx[@]}"
rc 2 "update-terminal --active maybe" $m update-terminal edge-1 --active maybe "${tx[@]}"

rc 0 "create-set" $m create-set set-a --terminal edge-1 --terminal edge-2 --payer "$op" "${tx[@]}"
eq "$(jq -cS .body <<<"$(last_tx)")" "{\"payer\":\"$op\",\"set\":\"set-a\",\"terminals\":[\"edge-1\",\"edge-2\"]}" "create-set body"
rc 2 "create-set without payer" $m create-set set-b --terminal edge-1 "${tx[@]}"
rc 2 "create-set without terminals" $m create-set set-b --payer "$op" "${tx[@]}"
rc 2 "create-set duplicate terminal" $m create-set set-b --terminal edge-1 --terminal edge-1 --payer "$op" "${tx[@]}"
rc 2 "create-set bad terminal" $m create-set set-b --terminal 'a b' --payer "$op" "${tx[@]}"

rc 0 "withdraw" $m withdraw 25 "${tx[@]}"
t=$(last_tx)
eq "$(jq -c .body <<<"$t")" '{"amount":25}' "withdraw body"
[[ "$OUT" == *"withdrawal id $(jq -r .id <<<"$t")"* ]] || fail "withdraw prints the tx id as the withdrawal id: $OUT"
ok
rc 2 "withdraw 0" $m withdraw 0 "${tx[@]}"
rc 2 "withdraw text" $m withdraw lots "${tx[@]}"
rc 2 "withdraw above int64" $m withdraw 9223372036854775808 "${tx[@]}"
rc 0 "withdraw --json" $m withdraw 1 "${tx[@]}" --json
eq "$(jq -r .status <<<"$OUT")" committed "withdraw --json prints the committed tx"
# Every tx above was signed at the account's next nonce.
eq "$(curl -sS "$N/recorded" | jq '[.txs | group_by(.from)[] | [.[].nonce] == [range(length)]] | all')" \
  true "nonces in order, per signer"
rc 3 "signer key missing" $m withdraw 1 --node "$N" --from "$dir/none.pem" --wait
rc 4 "unreachable node" $m withdraw 1 --node http://127.0.0.1:1 --from "$dir/op.pem"

# A tx the chain refuses: exit 1 with its reason.
start_bg mock2 "$mock_bin" --chain-id meter-test --refuse metering.withdraw
mock2_pid=$BG_PID
rc 1 "withdraw refused by the chain" $m withdraw 5 --node "$URL" --from "$dir/op.pem" --wait
err_has "refused by the chain" "refusal reported"
err_has "refused by mock-node" "refusal reason reported"
stop_bg "$mock2_pid" mock-node

# ---- reads ---------------------------------------------------------------------
rc 0 "params" $m params --node "$N"
[[ "$OUT" == *"period_s: 60"* && "$OUT" == *"prices.cpu_ms: 10"* ]] || fail "params output: $OUT"
ok
rc 0 "params --json" $m params --node "$N" --json
eq "$(jq .window_periods <<<"$OUT")" 60 "params --json"
route() { # what expected-path expected-query args...
  local what=$1 path=$2 query=$3
  shift 3
  rc 0 "$what" $m "$@" --node "$N" --json
  eq "$(jq -r .mock_path <<<"$OUT")" "$path" "$what route"
  eq "$(jq -r .query <<<"$OUT")" "$query" "$what query"
}
route centers /v1/metering/centers "" centers
route finance /v1/metering/finance "" finance
route totals /v1/metering/totals "" totals
route faults /v1/metering/faults "" faults
route terminal /v1/metering/terminals/edge-1 "" terminal edge-1
route set /v1/metering/sets/set-a "" set set-a
route proofs /v1/metering/proofs/edge-1 "" proofs edge-1
route "proofs --from --limit" /v1/metering/proofs/edge-1 "from=5&limit=10" proofs edge-1 --from 5 --limit 10
route level2 /v1/metering/level2/set-a "from=2" level2 set-a --from 2
id64=$(printf 'ab%.0s' $(seq 32))
route settlement "/v1/metering/settlements/$id64" "" settlement "$id64"
route settlements /v1/metering/settlements "status=open" settlements --status open
route withdrawal "/v1/metering/withdrawals/$id64" "" withdrawal "$id64"
route withdrawals /v1/metering/withdrawals "status=done&limit=3" withdrawals --status done --limit 3
route balance "/v1/metering/balances/$op" "" balance "$op"
rc 0 "terminal (text)" $m terminal edge-1 --node "$N"
[[ "$OUT" == *"mock_path: /v1/metering/terminals/edge-1"* ]] || fail "terminal text output: $OUT"
ok
rc 2 "settlement bad id" $m settlement abc --node "$N"
rc 2 "settlements bad status" $m settlements --status paid --node "$N"
rc 2 "withdrawals bad status" $m withdrawals --status open --node "$N"
rc 2 "proofs bad terminal" $m proofs Edge --node "$N"
rc 2 "proofs --from text" $m proofs edge-1 --from soon --node "$N"
rc 2 "proofs --limit 0" $m proofs edge-1 --limit 0 --node "$N"
rc 2 "terminal without ID" $m terminal --node "$N"
rc 2 "params with --from (a tx option)" $m params --from "$dir/op.pem" --node "$N"
rc 2 "balance bad address" $m balance 'not/an/address.pem' --node "$N"
rc 2 "reads need a node" $m params
rc 4 "reads from an unreachable node" $m params --node http://127.0.0.1:1
stop_bg "$mock_pid" mock-node

# ---- the financial terminal -----------------------------------------------------
rc 2 "fin-terminal without --key" "$ft_bin" --chain-id meter-test
rc 2 "fin-terminal bad --group-pubkey" "$ft_bin" --key "$dir/ft.pem" --chain-id meter-test --group-pubkey xyz
rc 2 "fin-terminal bad --reject" "$ft_bin" --key "$dir/ft.pem" --chain-id meter-test --reject recharge
start_bg ft "$ft_bin" --key "$dir/ft.pem" --chain-id meter-test --group-pubkey "$group"
ft_pid=$BG_PID
F=$URL
[[ "$F" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "fin-terminal URL: $F"
ok
payer=${addr[1]}
payee=${addr[2]}
stl_id=$(printf '1%.0s' $(seq 64))
wd_id=$(printf '2%.0s' $(seq 64))
jq -nc --arg id "$stl_id" --arg f "$payer" --arg t "$payee" \
  '{kind: "settlement", id: $id, chain_id: "meter-test", from: $f, to: $t, amount: 1234, denom: "mcredit"}' >"$dir/stl.json"
jq -nc --arg id "$wd_id" --arg a "$payer" \
  '{kind: "withdrawal", id: $id, chain_id: "meter-test", account: $a, amount: 300, denom: "mcredit"}' >"$dir/wd.json"
IDOM=cairn/metering/instruction/v1
proof() { "$tool" frost-proof "$IDOM" 1 "$1" "$S1" "$S3"; }
body() { jq -nc --slurpfile i "$1" --argjson p "$2" '{instruction: $i[0], proof: $p}'; }
p1=$(proof "$dir/stl.json")
post "$F/instructions" "$(body "$dir/stl.json" "$p1")"
want_code 200 "settlement instruction"
v1=$(jq -c .voucher <<<"$OUT")
jq -e --arg id "$stl_id" --arg a "$payer" '.kind == "settlement" and .ref == $id
  and .account == $a and .amount == 1234 and .denom == "mcredit" and .status == "done"
  and .chain_id == "meter-test" and (.issued_ms | type) == "number"
  and (keys | length) == 9' <<<"$v1" >/dev/null || fail "settlement voucher: $v1"
ok
eq "$("$tool" check-voucher "$ftpub" - <<<"$v1")" "settlement done" "settlement voucher verifies"
rc 1 "voucher under another key" "$tool" check-voucher "$dev1" - <<<"$v1"
# Replays: the same body, and the same instruction with a fresh proof.
post "$F/instructions" "$(body "$dir/stl.json" "$p1")"
want_code 200 "replayed instruction"
eq "$(jq -c .voucher <<<"$OUT")" "$v1" "a replay gets the same voucher"
p1b=$(proof "$dir/stl.json")
[ "$p1b" != "$p1" ] || fail "two FROST proofs are equal (nonces reused?)"
ok
post "$F/instructions" "$(body "$dir/stl.json" "$p1b")"
want_code 200 "same instruction, new proof"
eq "$(jq -c .voucher <<<"$OUT")" "$v1" "same instruction, same voucher"
# Other content under the same id.
jq -c '.amount = 1235' "$dir/stl.json" >"$dir/stl2.json"
post "$F/instructions" "$(body "$dir/stl2.json" "$(proof "$dir/stl2.json")")"
want_code 409 "other instruction under a known id"
# Proofs that do not hold.
post "$F/instructions" "$(body "$dir/stl2.json" "$p1")"
want_code 400 "proof of another instruction"
[[ "$OUT" == *"group"* ]] || fail "bad proof message: $OUT"
ok
"$tool" frost-proof cairn/metering/voucher/v1 1 "$dir/wd.json" "$S1" "$S2" >"$dir/p.json"
post "$F/instructions" "$(body "$dir/wd.json" "$(cat "$dir/p.json")")"
want_code 400 "proof under another domain"
"$tool" frost-proof "$IDOM" 1 "$dir/wd.json" "$dir/dealer-old/share-${addr[1]}.json" \
  "$dir/dealer-old/share-${addr[2]}.json" >"$dir/p.json"
post "$F/instructions" "$(body "$dir/wd.json" "$(cat "$dir/p.json")")"
want_code 400 "proof by a former group"
ms_proof=$("$tool" multisig-proof "$IDOM" 1 "$dir/wd.json" "$dir/h/keys/c1.pem" "$dir/h/keys/c2.pem")
post "$F/instructions" "$(body "$dir/wd.json" "$ms_proof")"
want_code 400 "multisig proof when a group key is set"
jq -c '.chain_id = "other-chain"' "$dir/wd.json" >"$dir/wd-other.json"
post "$F/instructions" "$(body "$dir/wd-other.json" "$(proof "$dir/wd-other.json")")"
want_code 400 "instruction of another chain"
[[ "$OUT" == *"other-chain"* ]] || fail "chain id message: $OUT"
ok
for bad in '.amount = 0' '.amount = -1' '.kind = "refund"' '.id = "abc"' \
  '.account = "xyz"' 'del(.denom)' '.memo = "x"' '.from = .account'; do
  jq -c "$bad" "$dir/wd.json" >"$dir/wd-bad.json"
  post "$F/instructions" "$(body "$dir/wd-bad.json" "$(proof "$dir/wd.json")")"
  want_code 400 "malformed instruction ($bad)"
  jq -e 'has("error") and (.error | type) == "string"' <<<"$OUT" >/dev/null || fail "error body: $OUT"
  ok
done
post "$F/instructions" '{"instruction": {'
want_code 400 "not JSON"
head -c 300000 /dev/zero | tr '\0' ' ' >"$dir/big.txt"
r=$(curl -sS -XPOST "$F/instructions" --data-binary @"$dir/big.txt" -w ' %{http_code}')
eq "${r##* }" 413 "a body over 256 KiB"
post "$F/instructions" '{"instruction": {}, "proof": {}, "x": 1}'
want_code 400 "extra member"
# (jq prints 1.0 as 1: write the real by hand.)
post "$F/instructions" "$(body "$dir/wd.json" "$(proof "$dir/wd.json")" | sed 's/"centers_version":1/"centers_version":1.0/')"
want_code 400 "a real in the proof"
post "$F/instructions" "$(jq -c '.proof.centers_version = 0' <<<"$(body "$dir/wd.json" "$(proof "$dir/wd.json")")")"
want_code 400 "centers_version 0"
r=$(curl -sS "$F/instructions" -w ' %{http_code}')
eq "${r##* }" 405 "GET /instructions"
r=$(curl -sS "$F/nowhere" -w ' %{http_code}')
eq "${r##* }" 404 "unknown route"
# A withdrawal.
post "$F/instructions" "$(body "$dir/wd.json" "$(proof "$dir/wd.json")")"
want_code 200 "withdrawal instruction"
v2=$(jq -c .voucher <<<"$OUT")
jq -e --arg id "$wd_id" --arg a "$payer" '.kind == "withdrawal" and .ref == $id
  and .account == $a and .amount == 300 and .status == "done"' <<<"$v2" >/dev/null ||
  fail "withdrawal voucher: $v2"
ok
eq "$("$tool" check-voucher "$ftpub" - <<<"$v2")" "withdrawal done" "withdrawal voucher verifies"
# Recharges.
post "$F/recharges" "{\"account\":\"$payer\",\"amount\":5000,\"denom\":\"mcredit\",\"ref\":\"bank:tx-0001\"}"
want_code 200 "recharge"
v3=$(jq -c .voucher <<<"$OUT")
jq -e --arg a "$payer" '.kind == "recharge" and .ref == "bank:tx-0001" and .account == $a
  and .amount == 5000 and .status == "done" and .chain_id == "meter-test"' <<<"$v3" >/dev/null ||
  fail "recharge voucher: $v3"
ok
eq "$("$tool" check-voucher "$ftpub" - <<<"$v3")" "recharge done" "recharge voucher verifies"
post "$F/recharges" "{\"account\":\"$payer\",\"amount\":5000,\"denom\":\"mcredit\",\"ref\":\"bank:tx-0001\"}"
want_code 409 "the same recharge ref again"
post "$F/recharges" "{\"account\":\"$payer\",\"amount\":1,\"denom\":\"mcredit\",\"ref\":\"bank:tx-0001\"}"
want_code 409 "another recharge under a known ref"
for bad in '{"account":"xyz","amount":1,"denom":"mcredit","ref":"r1"}' \
  "{\"account\":\"$payer\",\"amount\":0,\"denom\":\"mcredit\",\"ref\":\"r1\"}" \
  "{\"account\":\"$payer\",\"amount\":1,\"denom\":\"M\",\"ref\":\"r1\"}" \
  "{\"account\":\"$payer\",\"amount\":1,\"denom\":\"mcredit\",\"ref\":\"a/b\"}" \
  "{\"account\":\"$payer\",\"amount\":1,\"denom\":\"mcredit\"}" \
  "{\"account\":\"$payer\",\"amount\":1.5,\"denom\":\"mcredit\",\"ref\":\"r1\"}" \
  "{\"account\":\"$payer\",\"amount\":1,\"denom\":\"mcredit\",\"ref\":\"r1\",\"x\":1}"; do
  post "$F/recharges" "$bad"
  want_code 400 "bad recharge $bad"
done
# The ledger: each distinct instruction and voucher once, in order; the
# amounts add up (recharged 5000, settled 1234, withdrawn 300).
L=$(curl -sS "$F/ledger")
eq "$(jq -c '[.instructions[].instruction.id]' <<<"$L")" "[\"$stl_id\",\"$wd_id\"]" "ledger instructions"
eq "$(jq -cS '.instructions[0].instruction' <<<"$L")" "$(jq -cS . "$dir/stl.json")" "ledger keeps the instruction"
eq "$(jq -cS '.instructions[0].proof' <<<"$L")" "$(jq -cS . <<<"$p1")" "ledger keeps the first proof"
eq "$(jq -c '.vouchers' <<<"$L")" "[$v1,$v2,$v3]" "ledger vouchers"
eq "$(jq '[.vouchers[] | select(.kind == "recharge") | .amount] | add' <<<"$L")" 5000 "recharged"
eq "$(jq '[.vouchers[] | select(.kind != "recharge" and .status == "done") | .amount] | add' <<<"$L")" 1534 "paid out"
stop_bg "$ft_pid" fin-terminal

# --reject withdrawal, no group key: multisig proofs are taken (shape only).
start_bg ft2 "$ft_bin" --key "$dir/ft.pem" --chain-id meter-test --reject withdrawal --port 0
ft2_pid=$BG_PID
post "$URL/instructions" "$(body "$dir/wd.json" "$ms_proof")"
want_code 200 "withdrawal with --reject withdrawal"
eq "$(jq -r .voucher.status <<<"$OUT")" rejected "rejected withdrawal"
eq "$("$tool" check-voucher "$ftpub" - <<<"$(jq -c .voucher <<<"$OUT")")" "withdrawal rejected" "rejected voucher verifies"
post "$URL/instructions" "$(body "$dir/stl.json" "$p1")"
want_code 200 "settlement with --reject withdrawal"
eq "$(jq -r .voucher.status <<<"$OUT")" done "settlement still done"
stop_bg "$ft2_pid" fin-terminal

echo "meter-cli: $checks checks passed"
