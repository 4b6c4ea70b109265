#!/bin/bash
# The attestation service refuses for longer than attestd-wait.service's timeout (shortened to 5 s by
# a drop-in): the consumer fails with a dependency error, attestd keeps running, and the journal
# says why (attestctl's timeout, attestd's connection failure).
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator --fault refuse

cat >"$T/setup.sh" <<'EOF'
mkdir -p "$ROOT/etc/systemd/system/attestd-wait.service.d"
cat >"$ROOT/etc/systemd/system/attestd-wait.service.d/50-short-timeout.conf" <<'EOD'
[Service]
ExecStart=
ExecStart=/usr/bin/attestctl wait --timeout=5s
EOD
EOF

cat >"$T/guest.sh" <<'EOF'
wait_until 60 unit_state_is attestd-wait.service failed ||
        die "attestd-wait.service did not fail within 60 s (timeout 5 s)"
started=$(unit_prop attestd-wait.service ExecMainStartTimestampMonotonic)
ended=$(unit_prop attestd-wait.service ExecMainExitTimestampMonotonic)
note "attestd-wait ran $(((ended - started) / 1000)) ms, status $(unit_prop attestd-wait.service ExecMainStatus)"
check "attestd-wait.service ran about its 5 s timeout" test $((ended - started)) -ge 4500000 -a $((ended - started)) -lt 30000000
check "attestctl wait exited 3 (timed out, attestctl(1))" test "$(unit_prop attestd-wait.service ExecMainStatus)" = 3
check "the consumer did not start" not unit_active attested-consumer.service
check "the consumer never ran" test ! -e /out/consumer-started
journalctl -b --no-pager >/tmp/journal.txt
check "the journal reports the consumer's dependency failure" \
        grep -q 'Dependency failed for attested-consumer.service' /tmp/journal.txt
check "the journal reports attested.target's dependency failure" \
        grep -q 'Dependency failed for attested.target' /tmp/journal.txt
journalctl -b --no-pager -u attestd-wait.service >/out/wait-journal.txt
check "attestd-wait's journal says it timed out" grep -Eiq 'time(d)? ?out' /out/wait-journal.txt
journalctl -b --no-pager -u attestd.service >/out/attestd-journal.txt
check "attestd's journal names the connection failure" grep -Eiq 'refused|connect' /out/attestd-journal.txt
check "attestd.service keeps running" unit_active attestd.service
check "State is not attested" not test "$(attest_prop State)" = attested
check "no token" test ! -e /run/attestd/token
EOF

sys_boot_start "$T/guest.sh" --setup "$T/setup.sh"
sys_boot_wait || fail "checks failed inside the container"
echo "    attestd-wait.service said:"
grep -v '^--' "$OUT/out/wait-journal.txt" | tail -n 5 | sed 's/^/      /'
pass "consumer failed with a dependency error after the wait timeout"
