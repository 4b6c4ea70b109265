# Failures counted by class (org.attestd.Attest1(5) FailureCounts): a 503, a policy denial and a
# token with a bad signature each land in their class, on the bus, in attestctl status --json and in
# attestctl metrics, and the classes always add up to FailureCount.
setup_attestation --fault http-503,count=1
write_config "[Schedule]" "RetryMinSec=1s" "RetryMaxSec=2s"
start_system_bus
start_attestd
wait_state attested 15

# check_counts WHAT CLASS=N...: FailureCounts on the bus, status --json and metrics all say so,
# every class is present (zeros too) and they sum to FailureCount.
check_counts() {
        local what=$1; shift
        local failures bus json metrics
        failures=$(get_property FailureCount)
        bus=$(busctl --system --json=short get-property org.attestd.Attest1 /org/attestd/Attest1 \
                org.attestd.Attest1 FailureCounts) || fail "$what: no FailureCounts"
        json=$("$ATTESTCTL" --json=short status) || fail "$what: attestctl status --json"
        metrics=$("$ATTESTCTL" metrics) || fail "$what: attestctl metrics"
        python3 - "$failures" "$bus" "$json" "$metrics" "$@" <<'PY' || fail "$what: counts differ (bus: $bus)"
import json, sys
failures, bus, status, metrics = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
classes = ["local", "unreachable", "service", "denied", "unauthorized", "token"]
want = dict.fromkeys(classes, 0)
for a in sys.argv[5:]:
    k, v = a.split("=")
    want[k] = int(v)
assert bus["type"] == "a{st}", bus
assert bus["data"] == want, (bus["data"], want)
assert list(bus["data"]) == classes, list(bus["data"])
assert sum(want.values()) == failures, (want, failures)
assert status["FailureCounts"] == want, status["FailureCounts"]
assert status["FailureCount"] == failures, status
lines = metrics.splitlines()
assert "# TYPE attestd_failures counter" in lines, metrics
assert not any(l.startswith("attestd_failures_total ") for l in lines), "an unlabelled total beside the classes"
for k, v in want.items():
    assert 'attestd_failures_total{class="%s"} %d' % (k, v) in lines, (k, v, metrics)
PY
        echo "ok: $what: $*"
}

check_counts "a 503 at start, then attested" service=1

maa_ctl fault deny --count 1 >/dev/null
if "$ATTESTCTL" attest >/dev/null 2>&1; then fail "attested through a deny fault"; fi
check_counts "a policy denial" service=1 denied=1
# The retry after the denial must be over, or the next fault would hit it rather than our attempt.
wait_state attested 15

maa_ctl fault bad-signature --count 1 >/dev/null
if "$ATTESTCTL" attest >/dev/null 2>&1; then fail "attested with a bad token signature"; fi
check_counts "a token with a bad signature" service=1 denied=1 token=1

wait_state attested 15
echo "ok: failure classes on the bus, in status --json and in metrics"
