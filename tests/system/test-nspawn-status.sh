#!/bin/bash
# Status from inside a booted system: busctl get-property/introspect and attestctl status
# (text and --json), as root and as an unprivileged user; privileged methods refused to the latter.
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
wait_active attested-consumer.service 90 ||
        die "the consumer did not start within 90 s: $(unit_status attested-consumer.service)"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
check "busctl get-property State = attested" test "$(attest_prop State)" = attested
busctl --system introspect "$ATTEST_DEST" "$ATTEST_PATH" "$ATTEST_IFACE" >/out/introspect.txt 2>&1
check "busctl introspect lists the State property" grep -Eq '^\.State +property' /out/introspect.txt
check "busctl introspect lists the LastError property" grep -Eq '^\.LastError +property' /out/introspect.txt
nobody_reads_state() {
        test "$(as_nobody busctl --system get-property "$ATTEST_DEST" "$ATTEST_PATH" "$ATTEST_IFACE" State)" = 's "attested"'
}
nobody_calls_attest() {
        as_nobody busctl --system call "$ATTEST_DEST" "$ATTEST_PATH" "$ATTEST_IFACE" Attest
}
check "an unprivileged user reads State" nobody_reads_state
check "an unprivileged user may not call Attest()" not nobody_calls_attest
attestctl status >/out/status.txt 2>&1; rc=$?
check "attestctl status exits 0" test $rc -eq 0
check "attestctl status says attested" grep -qw attested /out/status.txt
attestctl status --json >/out/status.json 2>&1; rc=$?
check "attestctl status --json exits 0" test $rc -eq 0
check "attestctl status --json is a JSON object naming the state" \
        sh -c 'head -c1 /out/status.json | grep -q "{" && grep -q "\"attested\"" /out/status.json'
as_nobody attestctl status >/out/status-nobody.txt 2>&1; rc=$?
check "attestctl status works unprivileged" test $rc -eq 0
check "attestctl wait returns at once when attested" timeout 5 attestctl wait --timeout=2s
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
echo "    attestctl status:"
sed 's/^/      /' "$OUT/out/status.txt"
pass "busctl and attestctl status inside the container"
