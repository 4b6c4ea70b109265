# The PCR debounce is bounded both ways. PCRs that never settle still get a fresh token within
# PCRDebounceMaxSec=; a PCR that moves all the time re-attests at most once per
# PCRMinIntervalSec=, the token marked stale meanwhile; a 429's Retry-After holds PCR-triggered
# attempts back too. Regression: the old debounce restarted on every change (no attempt while the
# PCRs kept moving, Stale=true "attested" forever) and had no rate limit.
# timeout: 120
setup_attestation
start_system_bus

extend_loop() { # SECONDS INTERVAL: extend PCR 14 every INTERVAL for SECONDS, in the background
        local end=$(($(date +%s) + $1))
        while [ "$(date +%s)" -lt "$end" ]; do
                tpm2_pcrextend "14:sha256=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)" >/dev/null 2>&1
                sleep "$2"
        done
}
count() { get_property AttestationCount; }

# 1. Never settling: debounce 2 s, extends every 0.4 s for 9 s, maximum wait 3 s.
write_config "[Schedule]" "PCRPollIntervalSec=200ms" "PCRDebounceSec=2s" "PCRDebounceMaxSec=3s" "PCRMinIntervalSec=0"
start_attestd
wait_state attested
extend_loop 9 0.4 &
loop=$!
register_pid "$loop"
start=$(date +%s%N)
wait_until 7 sh -c "[ \"\$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 AttestationCount)\" != 't 1' ]" ||
        fail "no new token within 7 s while the PCRs kept changing (AttestationCount $(count))"
echo "ok: fresh token $((($(date +%s%N) - start) / 1000000)) ms into a burst of PCR changes"
wait "$loop" 2>/dev/null || true
stop_attestd

# 2. Rate limit: debounce 200 ms, minimum interval 4 s, extends every 0.3 s for 7 s: at most
# three PCR-triggered attempts (t=0, 4, 8), where the bare debounce made one every half second.
write_config "[Schedule]" "PCRPollIntervalSec=200ms" "PCRDebounceSec=200ms" "PCRMinIntervalSec=4s"
start_attestd
wait_state attested
base=$(maa_ctl stats leg2_requests)
extend_loop 7 0.3 &
loop=$!
register_pid "$loop"
sleep 2
assert_eq "$(get_property Stale)" true "Stale while the rate limit holds the next attempt back"
wait "$loop" 2>/dev/null || true
sleep 1
n=$(($(maa_ctl stats leg2_requests) - base))
[ "$n" -ge 1 ] && [ "$n" -le 3 ] || fail "$n attestations for 7 s of PCR changes with PCRMinIntervalSec=4s"
echo "ok: $n attestations for 7 s of PCR changes (PCRMinIntervalSec=4s)"
stop_attestd

# 3. Retry-After: a 429 asking for 4 s holds PCR-triggered attempts back for that long.
write_config "[Schedule]" "PCRPollIntervalSec=200ms" "PCRDebounceSec=200ms" "PCRMinIntervalSec=0" "RetryMaxSec=10s"
start_attestd
wait_state attested
maa_ctl fault http-429=4 --count 1 --scope leg1 >/dev/null
base=$(maa_ctl stats leg1_requests)
extend_loop 3 0.3 &
loop=$!
register_pid "$loop"
wait_state stale 5
sleep 2.5
assert_eq "$(($(maa_ctl stats leg1_requests) - base))" 1 "leg-1 requests within Retry-After"
wait "$loop" 2>/dev/null || true
wait_state attested 15
check_token_files --settled
echo "ok: PCR changes wait for Retry-After"
