#!/bin/bash
# The attestation service refuses connections at boot: attestd.service is still active and on the
# bus, State is not attested and the consumer waits; once the service comes up the consumer starts
# by itself, with no unit restarted by hand.
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator --fault refuse

cat >"$T/guest.sh" <<'EOF'
wait_until 60 unit_active attestd.service ||
        die "attestd.service not active within 60 s although it must be ready without the service"
check "attestd answers on the bus" busctl --system introspect "$ATTEST_DEST" "$ATTEST_PATH"
sleep 4   # several retries at RetryMinSec=1s, RetryMaxSec=2s
state=$(attest_prop State)
note "State while the service refuses: '$state', LastError: '$(attest_prop LastError)'"
check "State is read over D-Bus and is not attested" test -n "$state" -a "$state" != attested
check "no token while the service refuses" test ! -e /run/attestd/token
check "the consumer has not started" not unit_active attested-consumer.service
check "attested.target is not reached" not unit_active attested.target
check "the consumer's start job is still waiting" job_queued attested-consumer.service
invocation=$(unit_prop attestd.service InvocationID)
mark refused-checked
wait_ack service-up 60 || die "the host never brought the service up"
if wait_active attested-consumer.service 60; then
        ok "the consumer started once the service came up"
else
        not_ok "the consumer did not start within 60 s of the service coming up"
fi
check "the token existed when the consumer started" test "$(cat /out/consumer-token-at-start)" = present
check "State is attested" test "$(attest_prop State)" = attested
check "attestd.service is the same invocation (not restarted)" \
        test "$(unit_prop attestd.service InvocationID)" = "$invocation"
check "attestd.service restarted 0 times" test "$(unit_prop attestd.service NRestarts)" = 0
check "attestd-wait.service succeeded" test "$(unit_prop attestd-wait.service Result)" = success
EOF

sys_boot_start "$T/guest.sh"
sys_wait_mark refused-checked 90
log "container checked the refused phase; bringing the service up"
sys_emulator_ctl clear refuse
sys_ack service-up
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/consumer-token"
pass "consumer started by itself once the service came up"
