# The verifier is down at start: attestd is on the bus at once (state failed, reason given), retries
# with backoff, and attests once the verifier comes up, with nothing restarted by hand.
setup_attestation --fault refuse
start_system_bus
start_attestd

wait_state failed
assert_contains "$(get_property LastError)" "cannot reach $MAA_ENDPOINT" "LastError while refused"
[ ! -e "$RUNDIR/token" ] || fail "a token exists without an attestation"
wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 FailureCount)" != "t 1" ]' ||
        fail "no retry happened"
grep -q "retrying in" "$TEST_TMPDIR/attestd.log" || fail "the journal line does not say when it retries"

maa_ctl clear >/dev/null
wait_state attested 15
verify_token
assert_eq "$(get_property LastError)" "" "LastError cleared"
echo "ok: failed while the verifier was down, attested after it came up, $(get_property FailureCount) failures"
