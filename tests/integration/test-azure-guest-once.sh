# Zero configuration on a Trusted Launch VM: no Endpoint=, no Provider=; IMDS (emulated on loopback)
# gives the region, the region's provider is the emulator's /attest/AzureGuest. Then every client-side
# failure: decrypt failure (bad tag, wrong inner key), nonce not echoed, AK certificate renewal (done,
# and failing harmlessly), placeholder and missing AK certificate, unknown region. Each leaves no TPM
# handle behind.
# timeout: 240
source "$top_srcdir/tests/integration/azure-guest-lib.sh"
setup_azure_vm

out=$("$ATTESTD" --test-config --config "$CONF") || fail "--test-config failed"
assert_contains "$out" "Provider=auto" "--test-config"
assert_contains "$out" "# resolved at run time: azure-guest if this is an Azure VM" "--test-config"

out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once.err") || {
        cat "$TEST_TMPDIR/once.err"
        fail "attestd --once failed: $out"
}
assert_contains "$out" "attested: token valid until" "--once output"
no_transient_handles

j="$RUNDIR/token.json"
assert_eq "$(json_get "$j" "d['provider']")" azure-guest "provider in token.json"
assert_eq "$(json_get "$j" "d['endpoint']")" "$MAA_ENDPOINT" "endpoint in token.json"
assert_eq "$(json_get "$j" "d['claims']['iss']")" "$MAA_ENDPOINT" "issuer"
assert_eq "$(json_get "$j" "d['claims']['x-ms-attestation-type']")" azurevm "attestation type"
assert_eq "$(json_get "$j" "d['claims']['x-ms-azurevm-attested-pcrs']")" "[0, 1, 2, 3, 4, 5, 6, 7]" "attested PCRs"
assert_eq "$(json_get "$j" "sorted(d['pcrs']['sha256'])")" "['0', '1', '2', '3', '4', '5', '6', '7']" "PCRs in token.json"
assert_eq "$(json_get "$j" "len(d['claims']['x-ms-runtime']['client-payload']['nonce']) > 0")" True "nonce echoed"
assert_eq "$(pcr_value sha256 7)" "$(json_get "$j" "d['pcrs']['sha256']['7']")" "PCR 7 in token.json"
grep -q "^PROVIDER='azure-guest'$" "$RUNDIR/state" || fail "state file: $(cat "$RUNDIR/state")"
"$ATTESTCTL" token verify --jwks "$MAA_DIR/jwks.json" --issuer "$MAA_ENDPOINT" "$RUNDIR/token" ||
        fail "the token does not verify"
[ "$(maa_ctl stats azureguest_ok)" = 1 ] || fail "expected one AzureGuest request"

# The sealed reply cannot be opened: a failure class of its own.
maa_ctl fault bad-tag --count 1 >/dev/null
once_fails "bad tag" "sealed token could not be decrypted: the authentication tag does not match"
maa_ctl fault wrong-inner-key --count 1 >/dev/null
once_fails "wrong inner key" "sealed token could not be decrypted: "
# The nonce does not come back.
maa_ctl fault drop-nonce --count 1 >/dev/null
once_fails "dropped nonce" "client-payload"
# The faults were one-shot: the next run attests again.
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "attestd --once after the faults failed"

# AKCertRenewal=yes and a certificate 30 days from expiry: renewed through IMDS into NV 0x01C101D0
# before attesting. Without the key nothing is renewed.
azure_vm --keep-ak --expiring 30
tpm2_nvread -C o 0x01C101D0 -o "$TEST_TMPDIR/old.der" >/dev/null 2>&1 || fail "cannot read NV 0x01C101D0"
"$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 || fail "attestd --once with an expiring certificate failed"
tpm2_nvread -C o 0x01C101D0 -o "$TEST_TMPDIR/cert.der" >/dev/null 2>&1 || fail "cannot read NV 0x01C101D0"
cmp -s "$TEST_TMPDIR/old.der" "$TEST_TMPDIR/cert.der" || fail "the certificate changed without AKCertRenewal="
write_azure_config "[TPM]" "AKCertRenewal=yes"
"$ATTESTD" --once --config "$CONF" >/dev/null 2>"$TEST_TMPDIR/renew.err" || fail "attestd --once with renewal failed"
grep -q "Renewed the AK certificate" "$TEST_TMPDIR/renew.err" || fail "no renewal: $(cat "$TEST_TMPDIR/renew.err")"
tpm2_nvread -C o 0x01C101D0 -o "$TEST_TMPDIR/cert.der" >/dev/null 2>&1 || fail "cannot read NV 0x01C101D0"
openssl x509 -inform DER -in "$TEST_TMPDIR/cert.der" -noout -checkend $((200 * 86400)) >/dev/null ||
        fail "the renewed certificate still expires within 200 days"
# A renewal that fails (IMDS refuses) leaves the old certificate and attests anyway.
azure_vm --keep-ak --expiring 30
imds_ctl /control/fault '{"fault": "http-500", "path": "/metadata/THIM/tvm"}'
"$ATTESTD" --once --config "$CONF" >/dev/null 2>"$TEST_TMPDIR/renew.err" || fail "a failed renewal stopped attesting"
grep -q "Renewing the AK certificate failed, attesting with the current one" "$TEST_TMPDIR/renew.err" ||
        fail "renewal failure not logged: $(cat "$TEST_TMPDIR/renew.err")"
imds_ctl /control/clear '{}'
write_azure_config

# An unknown region: named, with the keys to set; nothing is guessed.
imds_ctl /control/settings '{"location": "Mars Central"}'
once_fails "unknown region" "region \"Mars Central\" has no known shared attestation provider; set Endpoint="
imds_ctl /control/settings '{"location": "Test Region"}'

# The placeholder certificate Azure writes before the real one: retried, said so.
azure_vm --keep-ak --placeholder
once_fails "placeholder" "AK certificate not provisioned yet, retrying"
# No certificate at all.
tpm2_nvundefine -C o 0x01C101D0 >/dev/null || fail "cannot remove the AK certificate"
once_fails "no AK certificate" "no AK certificate in NV 0x01c101d0"

# Not an Azure VM (no AK) with no Endpoint=: said so, nothing sent.
tpm2_evictcontrol -C o -c 0x81000003 >/dev/null || fail "cannot evict the AK"
once_fails "no AK" "no Endpoint= is set and this is not an Azure VM"
echo "ok: zero-config AzureGuest --once, token.json/state provider, decrypt/nonce/cert/region failures, AK cert renewal, no handle leak"
