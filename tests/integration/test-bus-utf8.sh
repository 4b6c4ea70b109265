# Server text that is not valid UTF-8 (a Latin-1 error page from MAA's side, an IMDS error description
# cut by attestd in the middle of a character) never makes D-Bus GetAll fail: it reaches LastError
# with U+FFFD in place of the bad bytes.
setup_attestation --fault error-page
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=2s"
start_system_bus
start_attestd

get_all() {
        busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.freedesktop.DBus.Properties GetAll \
                s org.attestd.Attest1
}

# check_bus WHAT NEEDLE: after a failure, GetAll and get-property LastError succeed, and LastError
# holds NEEDLE and a replacement character.
check_bus() {
        local what=$1 needle=$2 all err
        wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 FailureCount 2>/dev/null)" != "t 0" ]' ||
                fail "$what: no failure recorded"
        all=$(get_all 2>&1) || fail "$what: GetAll failed: $all"
        err=$(get_property LastError) || fail "$what: get-property LastError failed"
        assert_contains "$all" "$needle" "$what: GetAll"
        assert_contains "$err" "$needle" "$what: LastError"
        # busctl prints non-ASCII bytes as octal escapes.
        assert_contains "$err" '\357\277\275' "$what: U+FFFD in LastError"
        echo "ok: $what: $err"
}

check_bus "Latin-1 error page" "Passerelle indisponible"

# The IMDS error description: 299 ASCII characters, then 'é€' repeated; attestd keeps 300 bytes.
stop_attestd
maa_ctl clear >/dev/null
start_token_server
rm -rf "$RUNDIR"
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=2s" \
        "[Auth]" "Method=imds" "IMDSURL=$TOKEN_SERVER_HTTP/utf8cut"
start_attestd
wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 FailureCount 2>/dev/null)" != "t 0" ]' ||
        fail "IMDS: no failure recorded"
all=$(get_all 2>&1) || fail "IMDS: GetAll failed: $all"
err=$(get_property LastError) || fail "IMDS: get-property LastError failed"
assert_contains "$err" "invalid_request: xxxxxxxxxx" "IMDS: LastError"
echo "ok: IMDS error description cut at a character boundary"
