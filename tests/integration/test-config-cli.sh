# attestd --test-config: defaults, drop-in order, empty-value reset, warnings for tuning keys,
# and refusal (naming file, line and key) for bad security-relevant values.
conf="$TEST_TMPDIR/attestd.conf"
cat >"$conf" <<EOC
[Service]
Endpoint=https://example.eus.attest.azure.net/
RequestTimeoutSec=2min
[TPM]
PCRs=0-7,14
Banks=sha1,sha256
[Schedule]
RetryMinSec=soon
EOC
mkdir -p "$conf.d"
printf '[Service]\nRequestTimeoutSec=45s\n' >"$conf.d/20-timeout.conf"
printf '[Service]\nRequestTimeoutSec=10s\n[TPM]\nBanks=\n' >"$conf.d/10-first.conf"
printf '[Service]\nRequestTimeoutSec=1s\n' >"$conf.d/30-ignored.txt"

out=$("$ATTESTD" --config "$conf" --test-config 2>"$TEST_TMPDIR/stderr") || fail "valid config refused"
err=$(cat "$TEST_TMPDIR/stderr")
assert_contains "$out" "Endpoint=https://example.eus.attest.azure.net" "trailing slash dropped"
assert_contains "$out" "RequestTimeoutSec=45s" "last drop-in wins"
assert_contains "$out" "PCRs=0-7,14" "PCR list"
assert_contains "$out" "Banks=sha256" "empty value restores default"
assert_contains "$out" "RetryMinSec=5s" "bad tuning value keeps default"
assert_contains "$err" "attestd.conf:8: Invalid [Schedule] RetryMinSec=" "warning names file and line"

printf '[Service]\nEndpoint=http://plain.example\n' >"$conf.d/40-bad.conf"
if "$ATTESTD" --config "$conf" --test-config >/dev/null 2>"$TEST_TMPDIR/stderr"; then
        fail "plain http endpoint accepted"
fi
assert_contains "$(cat "$TEST_TMPDIR/stderr")" "40-bad.conf:2: Invalid [Service] Endpoint=" "fatal error names drop-in"

# A named file must exist; the default file may be absent.
if "$ATTESTD" --config "$TEST_TMPDIR/missing.conf" --test-config >/dev/null 2>&1; then
        fail "missing explicit config accepted"
fi
"$ATTESTCTL" --config "$conf.d/20-timeout.conf" test-config >/dev/null || fail "attestctl test-config"
echo "ok: config precedence, warnings and refusals"

# Everything attestd would refuse, or could never use, fails test-config in both binaries (they
# share config_test()); each of these exited 0 before.
check_refused() { # NAME TEXT EXPECTED-MESSAGE
        local conf="$TEST_TMPDIR/$1.conf" tool
        printf "$2" >"$conf"
        for tool in attestd attestctl; do
                local r=0
                if [ $tool = attestd ]; then
                        "$ATTESTD" --test-config --config "$conf" >/dev/null 2>"$TEST_TMPDIR/stderr" || r=$?
                else
                        "$ATTESTCTL" --config "$conf" test-config >/dev/null 2>"$TEST_TMPDIR/stderr" || r=$?
                fi
                assert_eq "$r" 1 "$1: exit status of $tool"
                assert_contains "$(cat "$TEST_TMPDIR/stderr")" "$3" "$1 ($tool)"
        done
}
check_refused group '[Cache]\nTokenGroup=no-such-group-attestd\n' "TokenGroup=no-such-group-attestd: there is no such group"
check_refused tcti '[TPM]\nTCTI=nosuchmodule:x\n' 'no TCTI module "nosuchmodule" can be loaded'
check_refused endpoint '[Service]\nProvider=tpm\n' "Provider=tpm needs Endpoint="
check_refused secret '[Auth]\nMethod=client-credentials\nTenantId=t\nClientId=c\nClientSecretFile=/nonexistent/secret\n' \
        "ClientSecretFile=/nonexistent/secret: cannot be read by user $(id -un)"
check_refused tokenfile '[Auth]\nMethod=file\nTokenFile=/nonexistent/token\n' "TokenFile=/nonexistent/token: cannot be read"
check_refused cafile '[Service]\nCAFile=/nonexistent/ca.pem\n' "CAFile=/nonexistent/ca.pem: cannot be read"
check_refused akcert '[TPM]\nAKCertFile=/\n' "AKCertFile=/: not a regular file"
check_refused typo '[Auth]\nMethd=imds\n' ":2: Unknown key 'Methd' in section [Auth]; did you mean Method=?"
check_refused section '[Servce]\nEndpoint=https://a.example\n' ":1: Unknown section [Servce]; did you mean [Service]?"

# Provider=auto without Endpoint= is valid: resolved at run time, and the output says so and which
# user the checks ran as.
printf '[Schedule]\nRetryMinSecs=1\n' >"$TEST_TMPDIR/auto.conf"
out=$("$ATTESTCTL" --config "$TEST_TMPDIR/auto.conf" test-config 2>"$TEST_TMPDIR/stderr") || fail "Provider=auto refused"
assert_contains "$out" "# resolved at run time: azure-guest if this is an Azure VM" "auto explained"
assert_contains "$out" "checked as user $(id -un) (uid $(id -u)); attestd.service runs as user attestd" "user named"
assert_contains "$(cat "$TEST_TMPDIR/stderr")" "ignoring it; did you mean RetryMinSec=?" "tuning typo only warned"

# A credential name cannot be checked outside the unit: a note, not a failure.
printf '[Auth]\nMethod=file\nTokenFile=maa-token\n' >"$TEST_TMPDIR/cred.conf"
"$ATTESTD" --test-config --config "$TEST_TMPDIR/cred.conf" >/dev/null 2>"$TEST_TMPDIR/stderr" || fail "credential name refused"
assert_contains "$(cat "$TEST_TMPDIR/stderr")" "names a systemd credential" "credential note"

# A bad command line is exit status 2 in both binaries.
for cmd in "$ATTESTD --no-such-option" "$ATTESTD extra" "$ATTESTCTL --no-such-option"; do
        r=0
        $cmd >/dev/null 2>&1 || r=$?
        assert_eq "$r" 2 "usage error of '$cmd'"
done
echo "ok: test-config refuses what attestd would"
