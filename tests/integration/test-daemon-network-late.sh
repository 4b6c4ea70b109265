# The network comes up after attestd started: attestd runs in a network namespace whose only link
# to the emulator (a veth pair) is down, so its first attempt finds no route. RetryMinSec=5min
# puts the next retry minutes away; bringing the link up must give a token within a second, which
# only the rtnetlink watch can explain. A service-side failure (HTTP 500) afterwards keeps its
# backoff: only failures that never reached the service are retried on a network change.
ns="attestd-nl-$$"
host_if="atd$$h" ns_if="atd$$n"
# A /30 of 10.213.0.0/16 picked at random, so that parallel runs do not collide.
net=$((RANDOM % 256)) sub=$((RANDOM % 64 * 4))
host_ip="10.213.$net.$((sub + 1))" ns_ip="10.213.$net.$((sub + 2))"

make_netns "$ns"
ip link add "$host_if" type veth peer name "$ns_if" netns "$ns" || fail "cannot make the veth pair"
ip addr add "$host_ip/30" dev "$host_if" && ip link set "$host_if" up || fail "cannot set up $host_if"
ip -n "$ns" addr add "$ns_ip/30" dev "$ns_if" || fail "cannot address $ns_if"
ip -n "$ns" link set lo up
# $ns_if stays down: inside the namespace there is no route to $host_ip.
ip netns exec "$ns" ip route get "$host_ip" >/dev/null 2>&1 && fail "a route to $host_ip exists before the link is up"

start_swtpm
play_eventlog
start_emulator --bind "$host_ip"
write_config "[Schedule]" "RetryMinSec=5min" "RetryMaxSec=10min"
start_system_bus
# The bus and the swtpm are unix sockets: the namespace sees them; only TCP needs the link.
ip netns exec "$ns" "$ATTESTD" --config "$CONF" >>"$TEST_TMPDIR/attestd.log" 2>&1 &
ATTESTD_PID=$!
register_pid "$ATTESTD_PID"
wait_until 10 busctl --system status org.attestd.Attest1 >/dev/null 2>&1 || fail "attestd did not appear on the bus"

wait_state failed
assert_contains "$(get_property LastError)" "cannot reach $MAA_ENDPOINT" "LastError without a route"
grep -q "or when the network changes" "$TEST_TMPDIR/attestd.log" ||
        fail "the failure does not say that a network change retries it"
sleep 0.3 # nothing else pending: only the 5-minute retry timer and the watch
[ ! -e "$RUNDIR/token" ] || fail "a token exists without a route to the service"

ip -n "$ns" link set "$ns_if" up || fail "cannot bring $ns_if up"
t0=$(date +%s%N)
wait_until 5 test -e "$RUNDIR/token" || fail "no token within 5 s of the link coming up"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -le 1000 ] || fail "the token came ${ms} ms after the link came up, not within a second"
wait_state attested 5
verify_token
grep -q "The network changed; attesting now" "$TEST_TMPDIR/attestd.log" || fail "the journal does not say why it attested"

# A service-side failure is not the network's: a link change must not bring its retry forward.
maa_ctl fault http-500 >/dev/null || fail "cannot set the emulator fault"
busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Attest >/dev/null 2>&1 || true
wait_state stale 10
failures=$(get_property FailureCount)
ip -n "$ns" link set "$ns_if" down && ip -n "$ns" link set "$ns_if" up
sleep 1
assert_eq "$(get_property FailureCount)" "$failures" "failures after a link change with a service-side failure pending"
assert_eq "$(get_property State)" stale "state after the link change"
echo "ok: token ${ms} ms after the link came up (RetryMinSec=5min); a 500's backoff ignores the link"
