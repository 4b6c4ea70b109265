#!/bin/bash
# `systemctl reload attestd` and `systemctl restart attestd` keep the token: it never disappears,
# and right after a restart attestd serves the cached one (State attested at once).
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
wait_until 90 unit_active attested-consumer.service || die "the consumer did not start within 90 s"
cp /run/attestd/token /out/token-before
invocation=$(unit_prop attestd.service InvocationID)
# Watch the token through reload and restart; any moment without one is a failure.
(
        while [ ! -e /tmp/stop-watch ]; do
                [ -s /run/attestd/token ] || echo "missing at $(cut -d' ' -f1 /proc/uptime)" >>/out/token-gaps
                sleep 0.01
        done
) &
watcher=$!

check "systemctl reload attestd succeeds" systemctl reload attestd.service
check "reload kept the same invocation" test "$(unit_prop attestd.service InvocationID)" = "$invocation"
if wait_until 20 test "$(attest_prop State)" = attested; then ok "State is attested after reload"
else not_ok "State is not attested 20 s after reload: $(attest_prop State)"; fi

check "systemctl restart attestd succeeds" systemctl restart attestd.service
# Type=notify: restart returns after READY=1, so this is "at once".
state=$(attest_prop State)
note "State right after restart: '$state'"
check "State is attested right after the restart (cached token served)" test "$state" = attested
check "the token is there right after the restart" token_present
if cmp -s /out/token-before /run/attestd/token; then note "token after restart: the cached one"
else note "token after restart: already replaced by a fresh one"; fi
check "restart made a new invocation" not test "$(unit_prop attestd.service InvocationID)" = "$invocation"
sleep 2
touch /tmp/stop-watch
wait $watcher
check "the token never disappeared during reload and restart" test ! -s /out/token-gaps
check "attestd.service restarted 0 times on its own" test "$(unit_prop attestd.service NRestarts)" = 0
check "attested.target is active" unit_active attested.target
if wait_until 30 unit_active attested-consumer.service; then ok "the consumer is active after the restart"
else not_ok "the consumer is not active 30 s after the restart"; fi
cp /run/attestd/token /out/token-after
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/token-before"
sys_verify_jwt "$OUT/out/token-after"
pass "reload and restart keep the token"
