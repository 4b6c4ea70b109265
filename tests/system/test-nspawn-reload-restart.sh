#!/bin/bash
# `systemctl reload attestd` and `systemctl restart attestd` keep the token: it never disappears,
# and right after a restart attestd serves the cached one (State attested at once).
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
wait_active attested-consumer.service 90 ||
        die "the consumer did not start within 90 s: $(unit_status attested-consumer.service)"
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
if wait_until 20 state_is attested; then ok "State is attested after reload"
else not_ok "State is not attested 20 s after reload: $(attest_prop State)"; fi

check "systemctl restart attestd succeeds" systemctl restart attestd.service
# Type=notify: restart returns after READY=1, so this is "at once". attestd re-attests on start,
# serving the cached token meanwhile (State attesting or attested, the token and its expiry set).
cp /run/attestd/token /out/token-at-restart 2>/dev/null
state=$(attest_prop State)
expires=$(attest_prop TokenExpiresUSec)
note "right after restart: State '$state', TokenExpiresUSec $expires"
check "right after the restart attestd serves a token (TokenExpiresUSec set)" test "${expires:-0}" -gt 0
check "right after the restart State is attested or attesting with that token" \
        test "$state" = attested -o "$state" = attesting
check "the token is there right after the restart" token_present
if wait_until 20 state_is attested; then ok "State is attested again after the restart"
else not_ok "State is '$(attest_prop State)' 20 s after the restart"; fi
if cmp -s /out/token-before /out/token-at-restart; then note "token right after the restart: the cached one"
else note "token right after the restart: already a fresh one"; fi
check "restart made a new invocation" not test "$(unit_prop attestd.service InvocationID)" = "$invocation"
sleep 2
touch /tmp/stop-watch
wait $watcher
check "the token never disappeared during reload and restart" test ! -s /out/token-gaps
check "attestd.service restarted 0 times on its own" test "$(unit_prop attestd.service NRestarts)" = 0
check "attested.target is active" unit_active attested.target
if wait_active attested-consumer.service 30; then ok "the consumer is active after the restart"
else not_ok "the consumer is not active 30 s after the restart"; fi
cp /run/attestd/token /out/token-after
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/token-before"
sys_verify_jwt "$OUT/out/token-after"
pass "reload and restart keep the token"
