# PCRs 16-23 do not move pcrUpdateCounter when extended: the watch must compare their values. With
# PCR 16 and 23 attested, an extend of 23 (or 16) is answered by a new token that shows it.
setup_attestation
write_config "[TPM]" "PCRs=0-7,14,16,23"
start_system_bus
start_attestd
wait_state attested
count=$(get_property AttestationCount)
assert_eq "$(json_get "$RUNDIR/token.json" "sorted(int(k) for k in d['pcrs']['sha256'])")" \
        "[0, 1, 2, 3, 4, 5, 6, 7, 14, 16, 23]" "quoted PCRs"

count_is() { [ "$(get_property AttestationCount)" = "$1" ]; }
for pcr in 23 16; do
        digest=$(printf 'no-increment %s' "$pcr" | sha256sum | cut -d' ' -f1)
        tpm2_pcrextend "$pcr:sha256=$digest" || fail "extend $pcr"
        new=$(pcr_value sha256 "$pcr")
        token_has() { [ "$(json_get "$RUNDIR/token.json" "d['pcrs']['sha256']['$pcr']" 2>/dev/null)" = "$new" ]; }
        wait_until 10 token_has || fail "no new token after extending PCR $pcr (AttestationCount $(get_property AttestationCount))"
        count=$((count + 1))
        wait_until 5 count_is "$count" ||
                fail "AttestationCount is $(get_property AttestationCount), expected $count"
        echo "ok: PCR $pcr extend → re-attested"
done
verify_token
stop_attestd
