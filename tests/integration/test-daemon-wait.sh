# attestctl wait: returns 0 as soon as the host is attested, waiting for attestd to appear on the
# bus first; exits 3 with the reason when the time runs out.
setup_attestation
start_system_bus

"$ATTESTCTL" --config "$CONF" wait --timeout=30s >"$TEST_TMPDIR/wait.out" 2>&1 &
waiter=$!
sleep 0.5
kill -0 $waiter 2>/dev/null || fail "wait returned before attestd even started: $(cat "$TEST_TMPDIR/wait.out")"
start_attestd
wait "$waiter" || fail "attestctl wait failed: $(cat "$TEST_TMPDIR/wait.out")"
state_is attested || fail "wait returned before the state was attested"
"$ATTESTCTL" --config "$CONF" wait --timeout=1s || fail "wait on an attested host"
stop_attestd

maa_ctl fault refuse >/dev/null
rm -rf "$RUNDIR"
start_attestd
start=$(date +%s)
rc=0
"$ATTESTCTL" --config "$CONF" wait --timeout=2s 2>"$TEST_TMPDIR/err" || rc=$?
assert_eq "$rc" 3 "exit status on timeout"
[ $(($(date +%s) - start)) -le 4 ] || fail "wait overran its timeout"
assert_contains "$(cat "$TEST_TMPDIR/err")" "timed out in state failed" "timeout message"

# A host without a TPM: attestd.service is skipped there, so waiting would only stall boot.
stop_attestd
printf '[TPM]\nTCTI=device:/dev/no-such-tpm0\n' >"$TEST_TMPDIR/notpm.conf"
rc=0
start=$(date +%s)
"$ATTESTCTL" --config "$TEST_TMPDIR/notpm.conf" wait --timeout=30s 2>"$TEST_TMPDIR/err" || rc=$?
assert_eq "$rc" 4 "exit status without a TPM"
[ $(($(date +%s) - start)) -le 2 ] || fail "wait without a TPM did not return at once"
assert_contains "$(cat "$TEST_TMPDIR/err")" "has no TPM" "no-TPM message"
echo "ok: wait succeeds on attestation, times out with exit 3, gives up at once without a TPM"
