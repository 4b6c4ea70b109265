# Boot attestation: attestd on a private system bus attests at start, tells systemd READY=1 and
# STATUS=, publishes token/token.json/state, and answers busctl and attestctl; its introspection
# data equals the golden file.
setup_attestation
start_system_bus

# A fake NOTIFY_SOCKET records what attestd tells systemd.
notify="$TEST_TMPDIR/notify.sock"
/usr/bin/python3 - "$notify" "$TEST_TMPDIR/notify.log" <<'EOPY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
EOPY
register_pid $!
wait_until 5 test -S "$notify" || fail "notify socket did not appear"

NOTIFY_SOCKET="$notify" start_attestd
wait_state attested
wait_until 5 grep -q "^READY=1$" "$TEST_TMPDIR/notify.log" || fail "no READY=1"
grep -q "^STATUS=attested$" "$TEST_TMPDIR/notify.log" || fail "no STATUS=attested: $(cat "$TEST_TMPDIR/notify.log")"

verify_token
assert_eq "$(get_property TokenPath)" "$RUNDIR/token" "TokenPath"
assert_eq "$(get_property Endpoint)" "$MAA_ENDPOINT" "Endpoint"
assert_eq "$(get_property AttestationCount)" 1 "AttestationCount"
assert_eq "$(get_property FailureCount)" 0 "FailureCount"
assert_eq "$(get_property FailureCounts)" \
        '6 "local" 0 "unreachable" 0 "service" 0 "denied" 0 "unauthorized" 0 "token" 0' "FailureCounts"
assert_eq "$(get_property Stale)" false "Stale"
exp_claim=$(json_get "$RUNDIR/token.json" "d['claims']['exp']")
assert_eq "$(get_property TokenExpiresUSec)" "${exp_claim}000000" "TokenExpiresUSec equals the token's exp"
pcrs=$(get_property AttestedPCRs)
assert_contains "$pcrs" "\"sha256\" 7 \"$(pcr_value sha256 7)\"" "AttestedPCRs carries PCR 7"
assert_contains "$pcrs" "\"sha256\" 14 " "AttestedPCRs carries PCR 14"

# The state file is shell-sourceable.
( . "$RUNDIR/state" && [ "$STATE" = attested ] && [ "$EXPIRES_USEC" = "${exp_claim}000000" ] &&
  [ -z "$LAST_ERROR" ] && [ "$NEXT_ATTESTATION_USEC" -gt "$LAST_SUCCESS_USEC" ] ) || fail "state file: $(cat "$RUNDIR/state")"

status=$("$ATTESTCTL" status) || fail "attestctl status"
assert_contains "$status" "State: attested" "attestctl status"
json=$("$ATTESTCTL" status --json) || fail "attestctl status --json"
assert_eq "$(echo "$json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["State"])')" attested "status --json"
# The stable shape (attestctl(1) JSON OUTPUT): property names, RFC 3339 beside the microseconds,
# PCRs as {"bank":{"index":"hex"}} like pcrs/quote/eventlog --replay.
echo "$json" | /usr/bin/python3 -c '
import json, sys, datetime
d = json.load(sys.stdin)
need = {"State", "Stale", "Endpoint", "TokenPath", "TokenExpiresUSec", "TokenExpires", "LastAttestationUSec",
        "LastAttestation", "NextAttestationUSec", "NextAttestation", "AttestationCount", "FailureCount",
        "LastError", "AttestedPCRs", "FailureCounts"}
assert need <= set(d), need - set(d)
assert d["FailureCounts"] == dict.fromkeys(["local", "unreachable", "service", "denied", "unauthorized", "token"], 0), d["FailureCounts"]
for k in ("TokenExpires", "LastAttestation"):
    t = datetime.datetime.strptime(d[k], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert int(t.timestamp()) == d[k + "USec"] // 1000000, (k, d[k])
assert set(d["AttestedPCRs"]) == {"sha256"}, d["AttestedPCRs"]
assert "7" in d["AttestedPCRs"]["sha256"] and "14" in d["AttestedPCRs"]["sha256"], d["AttestedPCRs"]
' || fail "status --json shape"
assert_eq "$("$ATTESTCTL" --json=short status | wc -l)" 1 "status --json=short"
"$ATTESTCTL" is-attested -q || fail "is-attested on an attested host"
assert_eq "$("$ATTESTCTL" is-attested)" yes "is-attested output"
metrics=$("$ATTESTCTL" metrics) || fail "attestctl metrics"
assert_contains "$metrics" 'attestd_state{attestd_state="attested"} 1' "metrics state"
assert_contains "$metrics" "attestd_attestations_total 1" "metrics count"
assert_contains "$metrics" "# TYPE attestd_failures counter" "metrics failures family"
assert_contains "$metrics" 'attestd_failures_total{class="unreachable"} 0' "metrics failures by class, zeros too"

# The live object matches the golden introspection data (properties' values aside).
busctl --system introspect --xml-interface org.attestd.Attest1 /org/attestd/Attest1 |
        sed -n '/<interface name="org.attestd.Attest1">/,/<\/interface>/p' >"$TEST_TMPDIR/introspect.xml"
diff -u "$top_srcdir/tests/data/org.attestd.Attest1.xml" "$TEST_TMPDIR/introspect.xml" ||
        fail "introspection differs from tests/data/org.attestd.Attest1.xml"

# SIGTERM ends it promptly and cleanly.
kill "$ATTESTD_PID"
wait_until 2 sh -c "! kill -0 $ATTESTD_PID 2>/dev/null" || fail "attestd did not exit within 2 s of SIGTERM"
grep -q "^STOPPING=1$" "$TEST_TMPDIR/notify.log" || fail "no STOPPING=1"
echo "ok: boot attestation, notify, properties, state file, status, introspection, SIGTERM"
