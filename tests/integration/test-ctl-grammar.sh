# attestctl's command line as systemd's tools have it: one option pass (global options anywhere),
# -h/--help on every verb, a help verb, --version, stray arguments and misplaced options refused
# with exit status 2, --json=MODE, and a JSON error object when attestd is not running.
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TEST_TMPDIR/no-bus"
status_of() { local r=0; "$@" >"$TEST_TMPDIR/out" 2>"$TEST_TMPDIR/err" || r=$?; echo $r; }

printf '[TPM]\nPCRs=0-7\n' >"$TEST_TMPDIR/a.conf"
# Global options before and after the verb alike.
assert_eq "$(status_of "$ATTESTCTL" test-config --config "$TEST_TMPDIR/a.conf")" 0 "--config after the verb"
assert_contains "$(cat "$TEST_TMPDIR/out")" "PCRs=0-7" "--config after the verb is used"
assert_eq "$(status_of "$ATTESTCTL" --no-pager test-config --no-legend -q -c "$TEST_TMPDIR/a.conf")" 0 \
        "--no-pager, --no-legend, -q accepted"

for verb in status is-attested attest wait metrics eventlog pcrs quote test-config token help; do
        assert_eq "$(status_of "$ATTESTCTL" $verb --help)" 0 "$verb --help"
        assert_contains "$(cat "$TEST_TMPDIR/out")" "Usage: attestctl $verb" "$verb --help"
        assert_eq "$(status_of "$ATTESTCTL" help $verb)" 0 "help $verb"
        assert_contains "$(cat "$TEST_TMPDIR/out")" "Usage: attestctl $verb" "help $verb"
        assert_eq "$(status_of "$ATTESTCTL" -h $verb)" 0 "-h $verb"
done
assert_eq "$(status_of "$ATTESTCTL" token verify -h)" 0 "token verify -h"
assert_contains "$(cat "$TEST_TMPDIR/out")" "Usage: attestctl token verify" "token verify -h"
assert_eq "$(status_of "$ATTESTCTL" help)" 0 "help"
assert_contains "$(cat "$TEST_TMPDIR/out")" "is-attested" "help lists the verbs"
assert_eq "$(status_of "$ATTESTCTL" --version)" 0 "attestctl --version"
assert_contains "$(cat "$TEST_TMPDIR/out")" "attestctl " "attestctl --version"
assert_eq "$(status_of "$ATTESTD" --version)" 0 "attestd --version"

# Usage errors: exit status 2, one message.
for args in "" "no-such-verb" "status extra" "attest now" "metrics x" "test-config x" "wait x" "help no-such-verb" \
        "status --nonce=00" "wait --replay" "token decode --jwks=x y" "token --claims verify x" \
        "--json=yaml status" "eventlog a b" "--no-such-option status" "wait --timeout=soon"; do
        assert_eq "$(status_of "$ATTESTCTL" $args)" 2 "attestctl $args"
        [ -s "$TEST_TMPDIR/err" ] || fail "attestctl $args: no message"
done

# attestd not running: exit 4; with --json an error object on stdout (the golden document).
for args in "status --json=short" "--json=short is-attested" "-j status"; do
        assert_eq "$(status_of "$ATTESTCTL" $args)" 4 "attestctl $args without attestd"
        /usr/bin/python3 - "$TEST_TMPDIR/out" <<'EOP' || fail "attestctl $args: not the error object"
import json, sys
doc = json.load(open(sys.argv[1]))
assert set(doc) == {"Error", "Message"} and doc["Error"] == "unavailable", doc
assert doc["Message"].startswith("attestd is not reachable on the system bus (org.attestd.Attest1)"), doc
EOP
done
assert_eq "$(status_of "$ATTESTCTL" --json=short status)" 4 "short"
assert_eq "$(wc -l <"$TEST_TMPDIR/out")" 1 "--json=short is one line"
assert_eq "$(status_of "$ATTESTCTL" --json=pretty status)" 4 "pretty"
[ "$(wc -l <"$TEST_TMPDIR/out")" -gt 1 ] || fail "--json=pretty is indented over several lines"
assert_eq "$(status_of "$ATTESTCTL" --json=off status)" 4 "off"
[ ! -s "$TEST_TMPDIR/out" ] || fail "--json=off printed JSON"
assert_eq "$(status_of "$ATTESTCTL" is-attested -q)" 4 "is-attested -q without attestd"
[ ! -s "$TEST_TMPDIR/out" ] && [ ! -s "$TEST_TMPDIR/err" ] || fail "is-attested -q printed something"
assert_eq "$(status_of "$ATTESTCTL" metrics)" 4 "metrics without attestd"
assert_contains "$(cat "$TEST_TMPDIR/out")" "attestd_up 0" "metrics says down"
assert_eq "$(tail -n1 "$TEST_TMPDIR/out")" "# EOF" "OpenMetrics ends with # EOF"

# TPM verbs take TPM2TOOLS_TCTI / TSS2_TCTI when no TCTI= is configured (an unknown module fails
# naming it, which shows the variable was used).
printf '[TPM]\n' >"$TEST_TMPDIR/b.conf"
TPM2TOOLS_TCTI=envmodule:x status_of "$ATTESTCTL" -c "$TEST_TMPDIR/b.conf" pcrs >/dev/null
assert_contains "$(cat "$TEST_TMPDIR/err")" "envmodule" "TPM2TOOLS_TCTI used"
TSS2_TCTI=otherenv:x status_of "$ATTESTCTL" -c "$TEST_TMPDIR/b.conf" pcrs >/dev/null
assert_contains "$(cat "$TEST_TMPDIR/err")" "otherenv" "TSS2_TCTI used"
echo "ok: attestctl grammar, exit statuses, --json modes, error object"
