# kill -9 at random moments, mid-attestation included, never leaves a partial or unverified token:
# whatever file named token exists verifies and matches token.json, the next start cleans up temp
# files, and the restarted daemon is attested again with files that agree with its state. The
# long version (100 kills over attestation, refresh and PCR change) is 'make check-kill9'.
setup_attestation
start_system_bus
start_attestd
wait_state attested

for i in $(seq 12); do
        "$ATTESTCTL" attest >/dev/null 2>&1 &
        sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
        kill -9 "$ATTESTD_PID"
        wait "$ATTESTD_PID" 2>/dev/null || true
        check_token_files
        start_attestd
        wait_state attested 15
        check_token_files --settled
done
[ -z "$(ls -A "$RUNDIR" | grep '^\.')" ] || fail "temp files left behind: $(ls -A "$RUNDIR")"
echo "ok: 12 kill -9s, every token on disk verified and matched token.json, attested again each time"
