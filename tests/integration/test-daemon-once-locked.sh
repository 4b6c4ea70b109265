# attestd --once beside a running daemon refuses (exit 75, the reason named) and changes nothing;
# the daemon's files and its bus state still agree. Regression: attestd(8)'s own --once example
# used to rewrite the live state file (to "failed" when the attempt failed) under the daemon.
setup_attestation
start_system_bus
start_attestd
wait_state attested
before=$(sha256sum "$RUNDIR/state" "$RUNDIR/token" "$RUNDIR/token.json")

base=$(maa_ctl stats leg1_requests)
rc=0
out=$("$ATTESTD" --once --config "$CONF" 2>&1) || rc=$?
assert_eq "$rc" 75 "--once exit status beside a running daemon"
assert_contains "$out" "in use by another attestd" "--once message"
assert_eq "$(sha256sum "$RUNDIR/state" "$RUNDIR/token" "$RUNDIR/token.json")" "$before" "files after --once"
assert_eq "$(state_get STATE)" "$(get_property State)" "state file vs bus"
assert_eq "$(maa_ctl stats leg1_requests)" "$base" "requests made by the refused --once"
echo "ok: --once refused with 75, nothing touched"

# A second daemon on the same directory refuses too; once the first is gone, --once runs.
"$ATTESTD" --config "$CONF" >"$TEST_TMPDIR/second.log" 2>&1 && fail "a second daemon started"
grep -q "in use by another attestd" "$TEST_TMPDIR/second.log" || fail "second daemon: $(cat "$TEST_TMPDIR/second.log")"
stop_attestd
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "--once failed with no daemon running"
check_token_files --settled
echo "ok: a second daemon refused; --once works once the daemon is gone"
