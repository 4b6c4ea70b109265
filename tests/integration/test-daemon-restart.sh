# Restart with a valid cached token: attested at once, serving the cached token while the verifier
# is unreachable; stale only once the PCRs it attests no longer hold.
setup_attestation
start_system_bus
start_attestd
wait_state attested
token=$(cat "$RUNDIR/token")
stop_attestd

maa_ctl fault refuse >/dev/null
start_attestd
# At once: the cached token is served (the refresh attempt may already have failed: stale).
case "$(get_property State)" in
attested | attesting | stale) ;;
*) fail "state right after restart: $(get_property State)" ;;
esac
assert_eq "$(get_property TokenPath)" "$RUNDIR/token" "TokenPath right after restart"
grep -q "Serving the cached attestation token" "$TEST_TMPDIR/attestd.log" || fail "cached token not served"
wait_state stale 10
assert_eq "$(cat "$RUNDIR/token")" "$token" "the cached token is kept while refresh fails"
assert_contains "$(get_property LastError)" "cannot reach" "LastError while stale"
stop_attestd

# The host changed while attestd was down: the cached token must not be served.
tpm2_pcrextend "14:sha256=$(printf changed | sha256sum | cut -d' ' -f1)" || fail "extend"
start_attestd
wait_state failed 10
[ ! -e "$RUNDIR/token" ] || fail "a token for other PCR values was served"
maa_ctl clear >/dev/null
wait_state attested 15
verify_token
echo "ok: cached token served after restart; withdrawn when the PCRs no longer match"
