# attestd --once: one complete attestation against the emulator with a real swtpm: three round
# trips to /attest/Tpm's two legs plus the key set, a token that verifies, the expected claims,
# and the files written as the daemon writes them.
setup_attestation

out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once.err") || {
        cat "$TEST_TMPDIR/once.err"
        fail "attestd --once failed: $out"
}
assert_contains "$out" "attested: token valid until" "--once output"

[ "$(maa_ctl stats leg1_ok)" = 1 ] || fail "expected one leg-1 request"
[ "$(maa_ctl stats leg2_ok)" = 1 ] || fail "expected one leg-2 request"
[ "$(maa_ctl stats certs_requests)" = 1 ] || fail "expected one key set fetch"
[ "$(maa_ctl stats openid_requests)" = 1 ] || fail "expected one OpenID metadata fetch"

verify_token
[ "$(stat -c %a "$RUNDIR/token")" = 640 ] || fail "token mode is not 0640"
grep -q . "$RUNDIR/token" && [ "$(wc -l <"$RUNDIR/token")" = 0 ] || fail "token must be one line without newline"

# Only what the real service always adds is asserted here; claims such as
# x-ms-attestation-type or x-ms-attested-pcrs exist only when a policy issues them.
j="$RUNDIR/token.json"
assert_eq "$(json_get "$j" "d['claims']['iss']")" "$MAA_ENDPOINT" "issuer"
assert_eq "$(json_get "$j" "d['claims']['ver']")" 1.0 "ver claim"
assert_eq "$(json_get "$j" "d['claims']['nonce'] == d['claims']['rp_data']")" True "nonce repeats rp_data"
assert_eq "$(json_get "$j" "d['claims']['cnf']['jwk']['kty']")" RSA "cnf carries the request key"
assert_eq "$(json_get "$j" "d['claims']['x-ms-tpm-request-key']['jwk'] == d['claims']['cnf']['jwk']")" True \
        "x-ms-tpm-request-key carries the request key"
assert_eq "$(json_get "$j" "d['claims']['iat'] - d['claims']['nbf']")" 300 "nbf is iat - 300"
assert_eq "$(json_get "$j" "'jku' in d['header']")" False "no jku in the header"
assert_eq "$(json_get "$j" "len(d['header']['x5c'])")" 3 "x5c holds the signing chain"
assert_eq "$(json_get "$j" "d['stale']")" False "fresh token is not stale"
# The PCR values in token.json are the swtpm's.
pcr7=$(pcr_value sha256 7)
assert_eq "$(json_get "$j" "d['pcrs']['sha256']['7']")" "$pcr7" "PCR 7 in token.json"
grep -q "^STATE='attested'$" "$RUNDIR/state" || fail "state file: $(cat "$RUNDIR/state")"

# A second run reuses the AK: the same persistent handle, no new key.
handles_before=$(tpm2_getcap handles-persistent)
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "second attestd --once failed"
assert_eq "$(tpm2_getcap handles-persistent)" "$handles_before" "persistent handles after the second run"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "transient handles leaked: $(tpm2_getcap handles-transient)"

# A token that cannot be written is no success (fail closed): non-zero exit, the reason named.
rm -rf "$RUNDIR" && mkdir -p "$RUNDIR/token/blocked"
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then
        fail "attestd --once succeeded without writing the token: $out"
fi
assert_contains "$out" "error: cannot write the token to $RUNDIR" "unwritable token"
grep -q "^STATE='failed'$" "$RUNDIR/state" || fail "state after an unwritable token: $(cat "$RUNDIR/state")"
echo "ok: one attestation, verified token, expected claims, AK reused, no handle leak, unwritable token fails"
