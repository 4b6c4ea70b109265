# A token that is already expired (by less than ClockSkewSec) or about to expire is an attestation
# failure with backoff: never published, never "attested", and no re-attestation loop.
setup_attestation
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=2s"
maa_ctl fault expired=30 >/dev/null || fail "cannot set the expired fault"
start_system_bus
maa_ctl reset-stats >/dev/null
start_attestd
sleep 6
attempts=$(maa_ctl stats leg2_requests)
# Backoff of 1-2 s (with jitter) allows at most about 7 attempts in 6 s; the old loop made 29.
[ "$attempts" -le 8 ] || fail "$attempts attestations in 6 s: not backing off"
[ "$attempts" -ge 2 ] || fail "only $attempts attestations in 6 s: not retrying"
state=$(get_property State)
[ "$state" != attested ] || fail "a token expired 30 s ago was accepted"
assert_contains "$(get_property LastError)" "too short-lived" "LastError"
[ ! -e "$RUNDIR/token" ] || fail "an expired token was published"
assert_eq "$(get_property TokenExpiresUSec)" 0 "TokenExpiresUSec"
if grep -q "^STATE=.\?attested" "$RUNDIR/state"; then fail "the state file says attested"; fi

maa_ctl clear >/dev/null
wait_state attested 15
verify_token
echo "ok: $attempts attempts in 6 s with an expired token, state $state; attested once the fault was cleared"
