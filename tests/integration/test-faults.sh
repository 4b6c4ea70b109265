# Every fault the emulator can inject gets the right outcome class and a message naming the cause,
# and never replaces or corrupts the last good token.
setup_attestation
write_config "[Service]" "RequestTimeoutSec=2s"

"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "initial attestation failed"
good=$(sha256sum <"$RUNDIR/token")

# fault|expected outcome word|expected text in the message
cases=(
        "refuse|retry|cannot reach"
        "http-500|retry|unexpected HTTP 500"
        "http-503|retry|unexpected HTTP 503"
        "http-429|retry|service busy (HTTP 429)"
        "stall=10|retry|cannot reach"
        "garbage=html|retry|malformed challenge"
        "garbage=data|retry|malformed challenge"
        "garbage=empty|retry|malformed challenge"
        "oversized=16M|retry|larger than allowed"
        "bad-signature|retry|token was rejected"
        "wrong-issuer=https://evil.example|retry|token was rejected"
        "expired=3600|retry|token was rejected"
        "not-yet-valid=3600|retry|token was rejected"
        "wrong-rp-data|retry|token was rejected"
        "wrong-cnf|retry|token was rejected"
        "wrong-jku=https://evil.example/certs|retry|token was rejected"
        "alg-none|retry|token was rejected"
        "http-401|error|not authorized (HTTP 401"
        "http-404|error|unexpected HTTP 404"
        "http-400 --scope leg1|error|rejected the request (HTTP 400"
        "http-400 --scope leg2|denied|refused the evidence (HTTP 400"
        "http-400 --scope certs|error|rejected the request (HTTP 400"
        "deny|denied|A Deny claim was issued"
        "no-policy|denied|has no TPM policy"
)
for c in "${cases[@]}"; do
        IFS='|' read -r fault outcome text <<<"$c"
        maa_ctl clear >/dev/null
        # shellcheck disable=SC2086 # "NAME[=ARG] [--scope S]"
        maa_ctl fault $fault >/dev/null || fail "cannot set fault $fault"
        start=$(date +%s)
        if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then
                fail "$fault: attestd --once succeeded: $out"
        fi
        [ $(($(date +%s) - start)) -le 8 ] || fail "$fault: took longer than the request timeout allows"
        assert_contains "$out" "$outcome: " "$fault outcome"
        assert_contains "$out" "$text" "$fault message"
        if [ "$outcome" = denied ]; then
                # A verdict against the host withdraws the token (fail closed).
                [ ! -e "$RUNDIR/token" ] || fail "$fault: token kept after a denial"
                maa_ctl clear >/dev/null
                "$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "re-attestation after $fault failed"
                good=$(sha256sum <"$RUNDIR/token")
        else
                assert_eq "$(sha256sum <"$RUNDIR/token")" "$good" "$fault: the good token must be kept"
        fi
        verify_token
        echo "ok: $fault → $out"
done
maa_ctl clear >/dev/null

# A kid /certs does not know, on a token whose x5c[0] is the signing certificate /certs holds: the
# key is found by that certificate (real MAA TPM tokens carry an x5t kid), so this is no failure.
maa_ctl fault unknown-kid --count 1 >/dev/null
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "unknown kid with a known x5c[0] was refused"
out=$(verify_token)
assert_contains "$out" "(key found by its x5c certificate)" "unknown kid, key by x5c"
maa_ctl clear >/dev/null

# Key rotation: the cached key set misses the new kid once and is fetched again.
maa_ctl rotate-key >/dev/null
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "attestation after key rotation failed"
echo "ok: key rotation"
