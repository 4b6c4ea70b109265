# One TPM context for the daemon's life: over many PCR polls attestd opens the TPM once (its debug
# line "Opening the TPM" is the TCTI load), and tpm2-tools still get in (the swtpm TCTI connects
# for each command). Then swtpm is killed: the next poll fails and the context is closed; swtpm
# is started again on the same state, a new context is opened, and polling goes on: a PCR extend
# after the restart still gives a new token.
setup_attestation
start_system_bus
start_attestd --debug
wait_state attested 20
sleep 3 # six polls at PCRPollIntervalSec=500ms
loads=$(grep -c "Opening the TPM" "$TEST_TMPDIR/attestd.log")
assert_eq "$loads" 1 "TPM context loads over start-up, an attestation and six polls"
tpm2_pcrread sha256:14 >/dev/null || fail "tpm2_pcrread cannot reach the TPM beside attestd"

# swtpm restarted on the same state, as after a crash: the PCRs start again from zero, so the
# event log is played in again (the emulator replays it against the quote).
old=$(cat "$RUNDIR/token")
kill "$(cat "$SWTPM_DIR/swtpm.pid")"
wait_until 5 sh -c '! kill -0 "$0" 2>/dev/null' "$(cat "$SWTPM_DIR/swtpm.pid")" || fail "swtpm did not stop"
rm -f "$SWTPM_DIR/swtpm.pid"
wait_until 10 grep -q "Closing the TPM context after a failure" "$TEST_TMPDIR/attestd.log" ||
        fail "no failed poll closed the context while swtpm was down"
swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
        --server type=unixio,path="$SWTPM_DIR/tpm.sock" --ctrl type=unixio,path="$SWTPM_DIR/tpm.sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$SWTPM_DIR/swtpm.pid" \
        --log file="$SWTPM_DIR/swtpm.log" --daemon || fail "swtpm did not start again"
wait_until 5 test -s "$SWTPM_DIR/swtpm.pid" || fail "swtpm wrote no pid file"
register_pid "$(cat "$SWTPM_DIR/swtpm.pid")"
wait_until 10 sh -c '[ "$(grep -c "Opening the TPM" "$0")" -ge 2 ]' "$TEST_TMPDIR/attestd.log" ||
        fail "attestd did not open the TPM again after swtpm restarted"
play_eventlog

tpm2_pcrextend "14:sha256=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" || fail "extend failed"
wait_until 20 sh -c '[ "$(cat "$0/token")" != "$1" ]' "$RUNDIR" "$old" || fail "no new token after the restart"
wait_state attested 10
verify_token
echo "ok: one TPM load for six polls; $(grep -c "Opening the TPM" "$TEST_TMPDIR/attestd.log") in all after swtpm restarted; polls went on"
