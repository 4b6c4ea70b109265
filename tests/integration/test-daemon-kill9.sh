# kill -9 at random moments, mid-attestation included, never leaves a partial or unverified token:
# whatever file named token exists verifies, and the next start cleans up temp files.
setup_attestation
start_system_bus
start_attestd
wait_state attested

for i in $(seq 12); do
        "$ATTESTCTL" attest >/dev/null 2>&1 &
        sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
        kill -9 "$ATTESTD_PID"
        wait "$ATTESTD_PID" 2>/dev/null || true
        if [ -e "$RUNDIR/token" ]; then
                verify_token >/dev/null
                tr -d 'A-Za-z0-9_.-' <"$RUNDIR/token" | grep -q . && fail "token has stray bytes"
                json_get "$RUNDIR/token.json" "d['expires_usec']" >/dev/null || fail "token.json unreadable"
        fi
        start_attestd
done
wait_state attested 15
verify_token
[ -z "$(ls -A "$RUNDIR" | grep '^\.')" ] || fail "temp files left behind: $(ls -A "$RUNDIR")"
echo "ok: 12 kill -9s, every token on disk verified"
