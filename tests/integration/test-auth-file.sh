# Entra bearer tokens against a provider that requires them: Method=file by path and by systemd
# credential name (re-read on every attempt, so rotation needs no restart); a wrong or missing
# token is an authorization error that names the cause and leaves no token behind. The request
# also carries the IMA log when IMALog= is set, and rp_id when RelyingPartyId= is.
setup_attestation --record "$TEST_TMPDIR/rec"
maa_ctl policy --set require_bearer=true --set 'bearer_tokens=["good-token"]' >/dev/null ||
        fail "cannot require a bearer token"
printf 'good-token\n' >"$TEST_TMPDIR/bearer"
printf 'ima-log-bytes' >"$TEST_TMPDIR/ima.log"

write_config "[Auth]" "Method=file" "TokenFile=$TEST_TMPDIR/bearer" \
        "[TPM]" "IMALog=$TEST_TMPDIR/ima.log" "[Service]" "RelyingPartyId=https://contoso.example"
out=$("$ATTESTD" --once --config "$CONF" 2>&1) || fail "Method=file by path: $out"
verify_token

# The last leg-2 request as the emulator received it.
leg2=$(grep -l '"jws_payload"' "$TEST_TMPDIR"/rec/*.json | tail -n 1)
[ -n "$leg2" ] || fail "no leg-2 request recorded"
assert_eq "$(json_get "$leg2" "d['headers'].get('Authorization') or d['headers'].get('authorization')")" \
        "Bearer good-token" "Authorization header"
assert_eq "$(json_get "$leg2" "[l['type'] for l in d['decoded']['jws_payload']['att_data']['tpm_att_data']['current_attestation']['logs']]")" \
        "['TCG', 'IMA']" "logs sent"
assert_eq "$(json_get "$leg2" "d['decoded']['jws_payload']['att_data']['rp_id']")" \
        "https://contoso.example" "rp_id sent"

# The token file is read again on every attempt: a rotated-in bad token fails at once.
printf 'stale-token' >"$TEST_TMPDIR/bearer"
rm -rf "$RUNDIR"
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then fail "a wrong bearer token was accepted"; fi
assert_contains "$out" "error: challenge request: not authorized (HTTP 401" "wrong token"
[ ! -e "$RUNDIR/token" ] || fail "a token was written"

# A systemd credential name, looked up in $CREDENTIALS_DIRECTORY.
mkdir -p "$TEST_TMPDIR/creds"
printf 'good-token' >"$TEST_TMPDIR/creds/maa-bearer"
write_config "[Auth]" "Method=file" "TokenFile=maa-bearer"
CREDENTIALS_DIRECTORY="$TEST_TMPDIR/creds" "$ATTESTD" --once --config "$CONF" >/dev/null 2>&1 ||
        fail "Method=file by credential name"
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then fail "credential found without CREDENTIALS_DIRECTORY"; fi
assert_contains "$out" "CREDENTIALS_DIRECTORY" "missing credentials directory named"

# No token at all.
write_config
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then fail "no bearer token was accepted"; fi
assert_contains "$out" "not authorized (HTTP 401" "no token"
echo "ok: bearer from file and credential, rotation, wrong and missing tokens, IMA log and rp_id sent"
