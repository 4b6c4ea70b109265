# A clean stop says so: STATE='stopped' with the writer's PID and boot id; the token stays (it is
# still valid, and the next start verifies it again). After kill -9 the state names a dead PID,
# which is how a reader tells it is stale. Regression: the state said "attested" forever.
setup_attestation
start_system_bus
start_attestd
wait_state attested
boot_id=$(tr -d '-' </proc/sys/kernel/random/boot_id)
assert_eq "$(state_get PID)" "$ATTESTD_PID" "PID= while running"
assert_eq "$(state_get BOOT_ID)" "$boot_id" "BOOT_ID="
stop_attestd
assert_eq "$(state_get STATE)" stopped "STATE= after SIGTERM"
assert_eq "$(state_get PID)" "$ATTESTD_PID" "PID= after SIGTERM"
assert_eq "$(state_get NEXT_ATTESTATION_USEC)" 0 "NEXT_ATTESTATION_USEC= after SIGTERM"
check_token_files --settled
echo "ok: clean stop → STATE=stopped, token kept and consistent"

start_attestd
wait_state attested
kill -9 "$ATTESTD_PID"
wait "$ATTESTD_PID" 2>/dev/null || true
pid=$(state_get PID)
assert_eq "$pid" "$ATTESTD_PID" "PID= after kill -9"
# The reader's check, as attestd(8) describes it.
if [ "$(state_get BOOT_ID)" = "$boot_id" ] && kill -0 "$pid" 2>/dev/null; then
        fail "the dead writer looks alive"
fi
echo "ok: after kill -9 the state names a dead writer"
