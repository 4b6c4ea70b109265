# Tokens as large as real policies make them (REAL-SERVICE.md: a real one was 315,186 bytes). A
# policy that issues the whole event log, with a big synthetic log played into swtpm, yields a
# token over 1 MB that attestd verifies, caches and prints; then a log big enough to make the
# token exceed the cap (JWT_SIZE_MAX, 8 MiB) gets a real over-cap token refused with its size
# named, while the previous token is kept.
# timeout: 280
MIB=$((1024 * 1024))
CAP=$((8 * MIB))
gen() { /usr/bin/python3 "$top_srcdir/tests/integration/make-big-eventlog.py" "$@" || fail "make-big-eventlog.py $*"; }

start_system_bus
start_swtpm
# About 1.78 token bytes per byte of event data (base64url in the claim, then in the token).
gen --base "$OVMF_LOG" --out "$TEST_TMPDIR/big.bin" --bytes 700000 --pcr 14 --tag first
play_eventlog "$TEST_TMPDIR/big.bin"
start_emulator
# A policy in MAA's language that issues the whole events claim (a JSON string, as real tokens
# carry policy output).
maa_ctl policy "$top_srcdir/tests/maa-emulator/policies/issue-events.policy" >/dev/null ||
        fail "cannot set the emulator policy"
cp "$TEST_TMPDIR/big.bin" "$TEST_TMPDIR/eventlog.bin"
write_config "[TPM]" "EventLog=$TEST_TMPDIR/eventlog.bin" "[Service]" "RequestTimeoutSec=90s"

start_attestd
wait_state attested 90
size=$(stat -c %s "$RUNDIR/token")
[ "$size" -gt "$MIB" ] || fail "the token is $size bytes; the test needs one over 1 MB"
verify_token

# token.json: the events are policy output, and the PCR section is what attestd quoted.
j="$RUNDIR/token.json"
assert_eq "$(json_get "$j" "len(d['policy_claims']['events']['Events']) > 30")" True "events in policy_claims"
assert_eq "$(json_get "$j" "d['pcrs']['sha256']['14']")" "$(pcr_value sha256 14)" "PCR 14 in token.json"
claims=$("$ATTESTCTL" --config "$CONF" token --claims) || fail "attestctl token --claims failed"
printf '%s' "$claims" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["events"]["Events"]) > 30, "no events in attestctl token --claims"' || fail "attestctl token --claims output"
shown=$("$ATTESTCTL" --config "$CONF" token) || fail "attestctl token failed"
[ "${#shown}" = "$size" ] || fail "attestctl token printed ${#shown} bytes of a $size-byte token"

# A restart picks the multi-MB cached token up again (the start-up reader's caps).
stop_attestd
start_attestd
wait_state attested 90
grep -q "Serving the cached attestation token" "$TEST_TMPDIR/attestd.log" || fail "the cached token was not reused"
# It attests again at start; the token to keep is the one from that attestation.
attested_twice() { [ "$(grep -c '^Attested to' "$TEST_TMPDIR/attestd.log")" -ge 2 ]; }
wait_until 90 attested_twice || fail "attestd did not attest again after the restart"
verify_token
good=$(sha256sum <"$RUNDIR/token")

# Over the cap: more event data in PCR 9 (not quoted, so the token stays valid and not stale).
# Sized from the first token (token bytes per byte of event data): target ~8.4 MiB, inside the
# reply's 1 MiB of slack so the token arrives whole and its refusal names its size. Those events
# are not played into swtpm: PCR 9 is not quoted, so neither attestd nor the service replays it.
per_byte=$(((size - 64 * 1024) * 1000 / 700000))
extra=$(((CAP + CAP / 20 - size) * 1000 / per_byte))
gen --base "$TEST_TMPDIR/big.bin" --out "$TEST_TMPDIR/bigger.bin" --bytes "$extra" --pcr 9 --tag second
mv "$TEST_TMPDIR/bigger.bin" "$TEST_TMPDIR/eventlog.bin"

if out=$("$ATTESTCTL" attest 2>&1); then
        fail "attesting with an over-cap token succeeded: $out"
fi
err=$(get_property LastError)
assert_contains "$err" "more than the $CAP allowed" "LastError names the cap"
n=$(printf '%s' "$err" | sed -n 's/.*token is \([0-9]*\) bytes, more than.*/\1/p')
[ -n "$n" ] && [ "$n" -gt "$CAP" ] || fail "LastError does not name the token's size: $err"
assert_eq "$(sha256sum <"$RUNDIR/token")" "$good" "the good token file after the refusal"
state=$(get_property State)
[ "$state" != failed ] || fail "State is failed while the previous token is valid"
verify_token
echo "ok: ${size}-byte token verified, cached, printed and reused; ${n}-byte token refused (cap $CAP), previous kept ($state)"
