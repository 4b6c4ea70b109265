# Refresh on the timer: with 6-second tokens, attestd re-attests at ~80 % of the lifetime, so the
# token on disk is replaced before it expires, again and again.
setup_attestation
maa_ctl policy --set token_lifetime_sec=6 >/dev/null || fail "cannot shorten the token lifetime"
start_system_bus
start_attestd
wait_state attested
first=$(sha256sum <"$RUNDIR/token")

wait_until 20 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 AttestationCount | cut -d" " -f2)" -ge 3 ]' ||
        fail "expected 3 attestations within 20 s, got $(get_property AttestationCount)"
[ "$(sha256sum <"$RUNDIR/token")" != "$first" ] || fail "the token was not replaced"
verify_token
assert_eq "$(get_property State)" attested "state after refreshes"
echo "ok: $(get_property AttestationCount) attestations, token refreshed before expiry"
