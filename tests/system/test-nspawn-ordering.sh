#!/bin/bash
# Ordering under a real PID 1: a consumer with Requires=/After=attested.target starts only once
# /run/attestd/token exists, and reads it as a member of the configured TokenGroup; the token it
# read verifies against the emulator's JWKS (checked on the host with openssl).
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
wait_active attested-consumer.service 90 ||
        die "the consumer did not start within 90 s: $(unit_status attested-consumer.service)"
check "the token existed when the consumer started" test "$(cat /out/consumer-token-at-start)" = present
check "attested.target is active" unit_active attested.target
check "attestd-wait.service succeeded" test "$(unit_prop attestd-wait.service Result)" = success
target_at=$(unit_prop attested.target ActiveEnterTimestampMonotonic)
consumer_at=$(unit_prop attested-consumer.service ExecMainStartTimestampMonotonic)
note "attested.target reached at ${target_at} us, consumer started at ${consumer_at} us (monotonic)"
check "the consumer started after attested.target was reached" test "$consumer_at" -ge "$target_at"
check "the consumer, as tokenreader, read the cached token" cmp /out/consumer-token /run/attestd/token
check "the token is mode 0640, group attestd-token" \
        test "$(stat -c %a:%G /run/attestd/token)" = 640:attestd-token
check "a user outside the group cannot read it" \
        not setpriv --reuid=nobody --regid=nogroup --clear-groups cat /run/attestd/token
check "State is attested" test "$(attest_prop State)" = attested
state_file_attested() { (. /run/attestd/state && test "$STATE" = attested); }
check "the state file (shell-sourceable) says STATE=attested" state_file_attested
cp /run/attestd/token /out/token
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/consumer-token"
pass "consumer ordered after the token; token verifies"
