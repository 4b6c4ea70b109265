# The service's errors as an operator sees them: LastError, the journal line and attestd --once
# output name the x-ms-request-id of the failing reply (the one Microsoft support asks for); a
# missing AK certificate is pointed out exactly once per process.
setup_attestation --record "$TEST_TMPDIR/rec"

# request_id_of STATUS: the request id of the last recorded reply with that HTTP status.
request_id_of() {
        python3 - "$TEST_TMPDIR/rec" "$1" <<'PY'
import glob, json, sys
ids = [json.load(open(f))['response'] for f in sorted(glob.glob(sys.argv[1] + '/*.json'))]
ids = [r.get('request_id') for r in ids if r and r.get('status') == int(sys.argv[2])]
print(ids[-1] if ids else '')
PY
}

# 1. No policy on the provider: denied, with the request id in the --once output.
maa_ctl fault no-policy >/dev/null
if out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once.err"); then fail "attested without a policy"; fi
id=$(request_id_of 400)
[ -n "$id" ] || fail "the emulator recorded no request id for the 400"
assert_contains "$out" "denied: challenge request: the attestation provider has no TPM policy" "no-policy reason"
assert_contains "$out" "(request id $id)" "request id in --once output"
echo "ok: no policy → --once names the request id $id"

# 2. A policy denial: LastError on the bus and the journal line carry the leg-2 request id.
maa_ctl clear >/dev/null
maa_ctl fault deny >/dev/null
start_system_bus
start_attestd
wait_state denied
id=$(request_id_of 400)
last=$(get_property LastError)
assert_contains "$last" "the attestation policy denied the evidence (HTTP 400 PolicyEvaluationError)" "deny reason"
assert_contains "$last" "A Deny claim was issued" "the service's message"
assert_contains "$last" "(request id $id)" "request id in LastError"
grep -q "Attestation denied: .*(request id $id)" "$TEST_TMPDIR/attestd.log" ||
        fail "the journal line lacks the request id: $(grep denied "$TEST_TMPDIR/attestd.log")"
echo "ok: policy denial → LastError and log line name the request id"

# 3. The AK certificate warning: said once, however many attempts follow.
maa_ctl clear >/dev/null
busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Attest >/dev/null ||
        fail "Attest() failed after clearing the fault"
wait_state attested
busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Attest >/dev/null ||
        fail "second Attest() failed"
assert_eq "$(grep -c 'No AK certificate is known' "$TEST_TMPDIR/attestd.log")" 1 "AK certificate warnings"
grep 'No AK certificate is known' "$TEST_TMPDIR/attestd.log" | grep -q 'require_valid_aik_cert' ||
        fail "the warning does not say what to do"
stop_attestd
echo "ok: the missing AK certificate is pointed out once"
