# The default PCR selection meets MAA's default policy: all 24 PCRs of SHA-256 are quoted, so a
# provider whose required_pcr_mask is the default 0xFFFFFF attests the host; a selection of fewer
# is refused by that provider.
setup_attestation
maa_ctl policy --set required_pcr_mask=0xFFFFFF >/dev/null || fail "cannot require all 24 PCRs"
sed -i '/^PCRs=/d' "$CONF"

out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once.err") || {
        cat "$TEST_TMPDIR/once.err"
        fail "the default selection was refused: $out"
}
assert_eq "$(json_get "$RUNDIR/token.json" "sorted(int(k) for k in d['pcrs']['sha256'])")" \
        "$(python3 -c 'print(list(range(24)))')" "PCRs quoted by default"
verify_token
echo "ok: default PCRs 0-23 satisfy required_pcr_mask 0xFFFFFF"

write_config "[TPM]" "PCRs=0-7,11-15"
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then fail "PCRs 0-7,11-15 passed a 0xFFFFFF mask"; fi
assert_contains "$out" "denied: attestation request: the service refused the evidence (HTTP 400" "fewer PCRs"
echo "ok: fewer PCRs are refused by the default mask"
