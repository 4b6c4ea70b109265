#!/bin/bash
# The network comes up late, under a real PID 1: the container boots in its own network namespace
# whose only link to the emulator (a veth pair) is down. attestd.service is active before
# network-online.target (held by a unit that waits for the link, as systemd-networkd-wait-online
# would) and the consumer waits, neither started nor failed. The host brings the link up; with
# RetryMinSec=5min only attestd's network watch explains a token within seconds, after which
# attested.target is reached, before network-online.target (which the stand-in holds a second
# longer), and the consumer starts and reads the token.
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon

ns="attestd-sys-$$"
host_if="atds$$h"
# A /30 of 10.214.0.0/16 picked at random, so that parallel runs do not collide.
net=$((RANDOM % 256)) sub=$((RANDOM % 64 * 4))
host_ip="10.214.$net.$((sub + 1))" guest_ip="10.214.$net.$((sub + 2))"
sys_make_netns "$ns"
ip link add "$host_if" type veth peer name host0 netns "$ns" || fail "cannot make the veth pair"
ip addr add "$host_ip/30" dev "$host_if" && ip link set "$host_if" up || fail "cannot set up $host_if"
ip -n "$ns" addr add "$guest_ip/30" dev host0 || fail "cannot address host0"
# host0 stays down: the container has no route to $host_ip until the host brings it up.
ip netns exec "$ns" ip route get "$host_ip" >/dev/null 2>&1 && fail "a route to $host_ip exists before the link is up"

sys_start_swtpm
sys_start_emulator --bind "$host_ip"

cat >"$T/setup.sh" <<'EOF'
cat >"$ROOT/etc/attestd/attestd.conf.d/50-network-late.conf" <<'EOD'
# Only the network watch can retry within minutes.
[Schedule]
RetryMinSec=5min
RetryMaxSec=10min
EOD
# Stands in for systemd-networkd-wait-online.service: network-online.target waits for the link and
# then for a second more, as the rest of a network's configuration (DHCP, DNS) would take.
cat >"$ROOT/etc/systemd/system/test-wait-link.service" <<'EOD'
[Unit]
Description=Wait for host0 to come up (test stand-in for a wait-online service)
DefaultDependencies=no
Before=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'until ip -o link show dev host0 | grep -q "state UP"; do sleep 0.1; done; sleep 1'

[Install]
WantedBy=network-online.target
EOD
systemctl --root="$ROOT" enable test-wait-link.service >/dev/null 2>&1
EOF

cat >"$T/guest.sh" <<'EOF'
endpoint=$(sed -n 's/^Endpoint=//p' /etc/attestd/attestd.conf)
wait_until 60 unit_active attestd.service ||
        die "attestd.service not active within 60 s although it must not wait for the network"
# (Not /sys/class/net: nspawn's sysfs there is not the container's namespace.)
check "host0, the veth to the host, is down" eval 'ip -o link show dev host0 | grep -q "state DOWN"'
check "network-online.target is not reached" not unit_active network-online.target
check "the emulator is unreachable from the container" \
        not curl -sS --max-time 2 --cacert /etc/attestd/test-ca.pem "$endpoint/"
wait_until 30 state_is failed || die "State is '$(attest_prop State)', not failed, 30 s into the boot"
note "State '$(attest_prop State)', LastError: '$(attest_prop LastError)'"
check "LastError says the service cannot be reached" \
        eval 'attest_prop LastError | grep -q "cannot reach"'
sleep 2   # the consumer must keep waiting, not fail
check "no token without a network" test ! -e /run/attestd/token
check "attested.target is not reached" not unit_active attested.target
check "attestd-wait.service is still activating" unit_state_is attestd-wait.service activating
check "the consumer has not started" test ! -e /out/consumer-started
check "the consumer has not failed" unit_state_is attested-consumer.service inactive
check "the consumer's start job is still waiting" job_queued attested-consumer.service
invocation=$(unit_prop attestd.service InvocationID)
mark network-down-checked
wait_ack link-up 60 || die "the host never brought the link up"
link_up=$(cat /out/link-up-usec)
wait_active attested-consumer.service 30 ||
        die "the consumer did not start within 30 s of the link coming up: $(unit_status attested-consumer.service)"
target_at=$(unit_prop attested.target ActiveEnterTimestampMonotonic)
consumer_at=$(unit_prop attested-consumer.service ExecMainStartTimestampMonotonic)
wait_until 10 unit_active network-online.target || not_ok "network-online.target not reached 10 s after the link"
attestd_at=$(unit_prop attestd.service ActiveEnterTimestampMonotonic)
online_at=$(unit_prop network-online.target ActiveEnterTimestampMonotonic)
note "link up at ${link_up} us; attested.target +$(((target_at - link_up) / 1000)) ms, consumer +$(((consumer_at - link_up) / 1000)) ms (monotonic)"
check "attested.target was reached after the link came up" test "$target_at" -gt "$link_up"
check "attested.target was reached within 2 s of the link (RetryMinSec=5min)" \
        test $((target_at - link_up)) -le 2000000
check "the consumer started after attested.target was reached" test "$consumer_at" -ge "$target_at"
note "attestd.service active $(((online_at - attestd_at) / 1000)) ms, attested.target $(((online_at - target_at) / 1000)) ms before network-online.target"
check "attestd.service was active before network-online.target" test "$attestd_at" -lt "$online_at"
check "attested.target did not wait for network-online.target either" test "$target_at" -lt "$online_at"
check "the token existed when the consumer started" test "$(cat /out/consumer-token-at-start)" = present
check "the consumer, as tokenreader, read the cached token" cmp /out/consumer-token /run/attestd/token
check "State is attested" state_is attested
journalctl -b --no-pager -u attestd.service >/out/attestd-journal.txt
check "the journal says the network change started the attempt" \
        grep -q "The network changed; attesting now" /out/attestd-journal.txt
check "attestd.service is the same invocation (not restarted)" \
        test "$(unit_prop attestd.service InvocationID)" = "$invocation"
check "attestd-wait.service succeeded" test "$(unit_prop attestd-wait.service Result)" = success
EOF

sys_boot_start "$T/guest.sh" --setup "$T/setup.sh" --netns "/run/netns/$ns"
sys_wait_mark network-down-checked 90
# CLOCK_MONOTONIC is the kernel's, shared with the container: taken just before the link goes up.
python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)' >"$OUT/out/link-up-usec"
ip -n "$ns" link set host0 up || fail "cannot bring host0 up"
log "container checked the network-down phase; host0 is up"
sys_ack link-up
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/consumer-token"
pass "attested $(awk '/attested.target \+/ { sub(/.*target \+/, ""); sub(/,.*/, ""); print }' "$OUT/out/results") after the link came up"
