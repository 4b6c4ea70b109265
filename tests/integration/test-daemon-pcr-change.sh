# A PCR extend is answered by a fresh token within the poll interval plus one attestation, and
# token.json shows the new value. An extend of a PCR that is not attested changes nothing.
setup_attestation
start_system_bus
start_attestd
wait_state attested
old14=$(json_get "$RUNDIR/token.json" "d['pcrs']['sha256']['14']")

digest=$(printf 'new kernel' | sha256sum | cut -d' ' -f1)
start=$(date +%s%N)
tpm2_pcrextend "14:sha256=$digest" || fail "extend"
new14=$(pcr_value sha256 14)
token_pcr14() { [ "$(json_get "$RUNDIR/token.json" "d['pcrs']['sha256']['14']" 2>/dev/null)" = "$new14" ]; }
wait_until 10 token_pcr14 || fail "token.json did not get the new PCR 14"
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$old14" != "$new14" ] || fail "PCR 14 did not change"
assert_eq "$(get_property AttestationCount)" 2 "one re-attestation"
assert_eq "$(json_get "$RUNDIR/token.json" "d['stale']")" False "the new token is not stale"
verify_token
echo "ok: PCR 14 extend → new token in ${elapsed} ms"

# While the verifier is down, a change marks the token stale (token.json, Stale) without touching
# the token file itself: a watcher of IN_MOVED_TO must not take that for a new token.
maa_ctl fault refuse >/dev/null
before=$(stat -c '%i %y' "$RUNDIR/token")
tpm2_pcrextend "14:sha256=$digest" || fail "second extend"
wait_until 10 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Stale)" = "b true" ]' ||
        fail "Stale did not become true"
assert_eq "$(json_get "$RUNDIR/token.json" "d['stale']")" True "token.json stale flag"
assert_eq "$(stat -c '%i %y' "$RUNDIR/token")" "$before" "token file untouched while stale"
maa_ctl clear >/dev/null
wait_until 15 sh -c '[ "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Stale)" = "b false" ]' ||
        fail "no fresh token after the verifier came back"
echo "ok: stale marked without rewriting the token; fresh token once the verifier is back"

# PCR 9 is not in PCRs=: its extend moves the counter but must not re-attest.
tpm2_pcrextend "9:sha256=$digest" || fail "extend 9"
count=$(get_property AttestationCount)
sleep 2
assert_eq "$(get_property AttestationCount)" "$count" "no re-attestation for an unattested PCR"
echo "ok: unattested PCR ignored"
