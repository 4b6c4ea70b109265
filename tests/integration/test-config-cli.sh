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
