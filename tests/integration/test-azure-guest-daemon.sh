# The daemon on an SEV-SNP confidential VM with no configuration beyond the test plumbing: the HCL
# report and the VCEK chain from IMDS go with the evidence, the token carries the CVM claims,
# D-Bus and token.json show the provider, and a PCR change re-attests through the same provider.
# A denial for Secure Boot off comes first (the test firmware log has it off).
# timeout: 240
source "$top_srcdir/tests/integration/azure-guest-lib.sh"
setup_azure_vm --cvm snp
start_system_bus
start_attestd

# The test firmware log has Secure Boot off, which the shared providers' default policy refuses on
# a CVM: a denial, the service's reason in LastError. Then the emulator is told to let it pass.
wait_state denied 30
assert_contains "$(get_property LastError)" "secure boot is off" "LastError of the denial"
curl -sf -X POST -H 'Content-Type: application/json' --data '{"require_secure_boot": "never"}' \
        "http://127.0.0.1:$(cat "$MAA_DIR/control-port")/control/azureguest" >/dev/null ||
        fail "cannot change the emulator's AzureGuest settings"
wait_state attested 30
no_transient_handles

j="$RUNDIR/token.json"
assert_eq "$(json_get "$j" "d['provider']")" azure-guest "provider in token.json"
assert_eq "$(json_get "$j" "d['claims']['x-ms-isolation-tee']['x-ms-attestation-type']")" sevsnpvm "TEE type"
assert_eq "$(json_get "$j" "d['claims']['x-ms-isolation-tee']['x-ms-compliance-status']")" azure-compliant-cvm \
        "compliance status"
assert_eq "$(get_property Endpoint)" "$MAA_ENDPOINT" "Endpoint property (found at run time)"
out=$("$ATTESTCTL" status) || fail "attestctl status failed"
assert_contains "$out" "$MAA_ENDPOINT" "attestctl status"
assert_contains "$out" "Provider: azure-guest" "attestctl status"
assert_contains "$out" "secureboot=" "attestctl status shows the VM claims"
assert_contains "$out" 'x-ms-isolation-tee.x-ms-attestation-type="sevsnpvm"' "attestctl status shows the TEE"
assert_eq "$("$ATTESTCTL" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["Provider"])')" \
        azure-guest "attestctl status --json"

# A PCR change (PCR 7, outside the firmware log) re-attests through the same provider with fresh
# evidence, which the service refuses: the log no longer replays to PCR 7. Fail closed.
tpm2_pcrextend 7:sha256=$(printf '%064d' 7) >/dev/null || fail "PCR extend failed"
wait_state denied 30
assert_contains "$(get_property LastError)" "PCR 7 (sha256) does not match" "LastError after the PCR change"
[ ! -e "$RUNDIR/token" ] || fail "the token was kept after the denial"
stop_attestd
no_transient_handles
echo "ok: SEV-SNP CVM attested by the daemon with no Endpoint=, secure-boot denial, CVM claims, provider shown, PCR change re-attests"
