# A Retry-After of 68 years (from the service, or from IMDS over plain HTTP) is capped at
# RetryMaxSec=: the next attempt is scheduled within it, on the bus and in the state file.
setup_attestation --fault http-503=2147483647
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=3s"
start_system_bus
start_attestd

# check_next_attempt WHAT: the next attempt is at most RetryMaxSec= away, and it does happen.
check_next_attempt() {
        local what=$1 n next state_next
        wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 FailureCount)" != "t 0" ]' ||
                fail "$what: no failure recorded"
        n=$(next_attestation_in)
        [ "$n" -le 3 ] || fail "$what: next attempt in $n s, more than RetryMaxSec=3s"
        state_next=$(sed -n "s/^NEXT_ATTESTATION_USEC='\?\([0-9]*\)'\?$/\1/p" "$RUNDIR/state")
        [ -n "$state_next" ] || fail "$what: no NEXT_ATTESTATION_USEC in the state file"
        [ $(( (state_next - $(date +%s%6N)) / 1000000 )) -le 3 ] ||
                fail "$what: the state file says the next attempt is at $state_next"
        count=$(get_property FailureCount)
        wait_until 8 sh -c "[ \"\$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 FailureCount | cut -d' ' -f2)\" -gt $count ]" ||
                fail "$what: no retry within 8 s"
        echo "ok: $what: next attempt was $n s away, retried"
}

check_next_attempt "MAA 503 with Retry-After: 2147483647"
assert_contains "$(get_property LastError)" "HTTP 503" "LastError"

# The same from the IMDS token endpoint (plain HTTP, so anyone on the path could send it).
stop_attestd
maa_ctl clear >/dev/null
start_token_server
rm -rf "$RUNDIR"
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=3s" \
        "[Auth]" "Method=imds" "IMDSURL=$TOKEN_SERVER_HTTP/unavailable"
start_attestd
check_next_attempt "IMDS 503 with Retry-After: 2147483647"
assert_contains "$(get_property LastError)" "IMDS token endpoint" "LastError"
