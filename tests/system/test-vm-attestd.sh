#!/bin/bash
# attestd under a real measured boot (OVMF + swtpm vTPM + QEMU TCG, systemd as PID 1): the emulator
# accepts the firmware's own log and the guest's PCRs and a token is cached; the consumer ordered
# after attested.target ran; a PCR 14 extend inside the guest leads to a new token carrying the new
# value. The host re-checks the log replay and verifies both tokens with openssl.
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
# A policy in MAA's language that issues the quoted PCR values (the "pcrs" incoming claim), so the
# token itself says which PCR 14 it attests; the service adds no such claim on its own.
cat >"$T/pcrs.policy" <<'POLICY'
version=1.2;
configurationrules {
    => issueproperty(type="require_valid_aik_cert", value=false);
    => issueproperty(type="required_pcr_mask", value=0xFF);
};
authorizationrules { => permit(); };
issuancerules { c:[type=="pcrs", issuer=="AttestationService"] => issue(claim=c); };
POLICY
sys_start_emulator --policy "$T/pcrs.policy"

cat >"$T/guest.sh" <<'EOF'
dump_measured_boot
wait_active attested-consumer.service 300 ||
        die "the consumer did not start within 300 s: $(unit_status attested-consumer.service)"
note "attested.target reached at $(($(unit_prop attested.target ActiveEnterTimestampMonotonic) / 1000000)) s after boot"
check "the token existed when the consumer started" test "$(cat /out/consumer-token-at-start)" = present
check "the consumer (tokenreader) read the cached token" cmp /out/consumer-token /run/attestd/token
check "State is attested" test "$(attest_prop State)" = attested
cp /run/attestd/token /out/token-1
digest=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
check "tpm2_pcrextend 14 inside the guest" tpm2_pcrextend "14:sha256=$digest"
tr A-F a-f </sys/class/tpm/tpm0/pcr-sha256/14 >/out/pcr14-after
note "PCR 14 (sha256) after the extend: $(cat /out/pcr14-after)"
token_renewed() { token_present && ! cmp -s /run/attestd/token /out/token-1; }
if wait_until 120 token_renewed; then ok "a new token after the PCR 14 extend"
else not_ok "no new token within 120 s of the PCR 14 extend (State $(attest_prop State))"; fi
if wait_until 30 state_is attested; then ok "State is attested again"
else not_ok "State is $(attest_prop State) 30 s after the new token"; fi
cp /run/attestd/token /out/token-2
EOF

sys_vm_run "$T/guest.sh" || fail "checks failed inside the VM"
sys_check_replay "$OUT/out"
sys_verify_jwt "$OUT/out/token-1"
sys_verify_jwt "$OUT/out/token-2"
pcr14=$(cat "$OUT/out/pcr14-after")
# The policy's "pcrs" claim: a JSON text {"PCRs":[{"Index":14,"Digests":{"SHA256":"<hex>"}},...]}.
claim14() {
        jwt_payload "$1" | /usr/bin/python3 -c '
import json, sys
pcrs = json.load(sys.stdin)["pcrs"]
pcrs = json.loads(pcrs) if isinstance(pcrs, str) else pcrs
print("".join(p["Digests"]["SHA256"].lower() for p in pcrs["PCRs"] if p["Index"] == 14))'
}
[ "$(claim14 "$OUT/out/token-2")" = "$pcr14" ] ||
        fail "the new token's PCR 14 claim ($(claim14 "$OUT/out/token-2")) is not the extended value $pcr14"
[ "$(claim14 "$OUT/out/token-1")" != "$pcr14" ] || fail "the first token already carried the extended PCR 14"
pass "firmware log accepted ($REPLAYED PCR values replay), consumer ran, PCR 14 extend -> new token with the new value"
