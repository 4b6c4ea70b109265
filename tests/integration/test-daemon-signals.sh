# Signals: SIGHUP re-reads the configuration and attests with it (a broken file keeps the old one);
# SIGTERM ends the daemon within a second even in the middle of a request, leaving the token intact.
setup_attestation
start_system_bus
start_attestd
wait_state attested

# A valid change: picked up and attested with at once.
echo "RelyingPartyId=https://contoso.example" >>"$CONF" # lands in [Cache]: an unknown key, warned
printf '[Service]\nRelyingPartyId=https://contoso.example\n' >"$TEST_TMPDIR/dropin.conf"
mkdir -p "$CONF.d" && cp "$TEST_TMPDIR/dropin.conf" "$CONF.d/50-rp.conf"
kill -HUP "$ATTESTD_PID"
wait_until 10 grep -q "Configuration reloaded" "$TEST_TMPDIR/attestd.log" || fail "no reload on SIGHUP"
wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 AttestationCount)" = "t 2" ]' ||
        fail "no attestation after the reload"
grep -q "Unknown key 'RelyingPartyId' in section \[Cache\]" "$TEST_TMPDIR/attestd.log" || fail "misplaced key not warned about"

# A broken security-relevant value: the old configuration stays in force.
printf '[Service]\nEndpoint=http://downgrade.example\n' >"$CONF.d/60-bad.conf"
kill -HUP "$ATTESTD_PID"
wait_until 10 grep -q "Reloading the configuration failed: .*60-bad.conf:2: Invalid \[Service\] Endpoint=: must start with https://; keeping the running configuration" \
        "$TEST_TMPDIR/attestd.log" || fail "a bad reload was not reported with its reason"
! grep -q "refusing to start" "$TEST_TMPDIR/attestd.log" || fail "a reload said it refuses to start"
# Reload() (systemctl reload's busctl call) carries the same reason in its D-Bus error.
if err=$(busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Reload 2>&1); then
        fail "Reload() accepted a bad configuration"
fi
assert_contains "$err" "60-bad.conf:2: Invalid [Service] Endpoint=: must start with https://" "Reload() error"
kill -0 "$ATTESTD_PID" || fail "attestd died on a bad reload"
assert_eq "$(get_property Endpoint)" "$MAA_ENDPOINT" "Endpoint after a bad reload"
rm "$CONF.d/60-bad.conf"

# SIGTERM while a request hangs in the verifier.
good=$(cat "$RUNDIR/token")
maa_ctl fault stall=30 >/dev/null
"$ATTESTCTL" attest >/dev/null 2>&1 &
wait_until 5 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 State)" = "s \"attesting\"" ]' ||
        fail "no attempt in flight"
assert_contains "$("$ATTESTCTL" status)" "Next attempt: now (in progress)" "status during an attempt"
sleep 0.3
start=$(date +%s%N)
kill "$ATTESTD_PID"
wait_until 1 sh -c "! kill -0 $ATTESTD_PID 2>/dev/null" || fail "attestd still runs 1 s after SIGTERM mid-request"
echo "ok: SIGTERM mid-request → exit in $((($(date +%s%N) - start) / 1000000)) ms"
assert_eq "$(cat "$RUNDIR/token")" "$good" "token after SIGTERM"
[ -z "$(ls -A "$RUNDIR" | grep '^\.')" ] || fail "temp files left: $(ls -A "$RUNDIR")"
maa_ctl clear >/dev/null
echo "ok: SIGHUP reload (good and bad), SIGTERM mid-request"
