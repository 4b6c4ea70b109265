# A forged, expired or otherwise bad token from the service is rejected: the previous good token
# stays, state stale, LastError says why, and Attest() returns a named error. A denial withdraws
# the token; a fixed policy heals it without a restart.
setup_attestation
start_system_bus
start_attestd
wait_state attested
good=$(cat "$RUNDIR/token")

prev=
# (unknown-kid is no forgery: its x5c[0] is in /certs, so the key is found; see test-faults.sh.)
for fault in bad-signature expired=3600 wrong-jku=https://evil.example/certs wrong-rp-data; do
        # Set the next fault before clearing the last: a retry in between must not succeed.
        maa_ctl fault "$fault" >/dev/null
        [ -z "$prev" ] || maa_ctl clear "${prev%%=*}" >/dev/null
        prev=$fault
        good=$(cat "$RUNDIR/token")
        if out=$("$ATTESTCTL" attest 2>&1); then
                fail "$fault: Attest() succeeded: $out"
        fi
        assert_contains "$out" "token was rejected" "$fault: Attest() error"
        assert_eq "$(get_property State)" stale "$fault: state"
        assert_contains "$(get_property LastError)" "token was rejected" "$fault: LastError"
        assert_eq "$(cat "$RUNDIR/token")" "$good" "$fault: the good token is kept"
        echo "ok: $fault rejected: $(get_property LastError)"
done

maa_ctl clear >/dev/null
maa_ctl fault deny >/dev/null
busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Attest 2>"$TEST_TMPDIR/err" &&
        fail "Attest() succeeded under deny"
assert_contains "$(cat "$TEST_TMPDIR/err")" "Deny claim" "busctl error"
assert_eq "$(get_property State)" denied "state after deny"
[ ! -e "$RUNDIR/token" ] || fail "token kept after a denial"
maa_ctl clear >/dev/null
wait_state attested 15
verify_token
echo "ok: denied withdraws the token, healed by the service without a restart"
