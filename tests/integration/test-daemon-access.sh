# Access control: with attestd's own D-Bus policy, anyone may read properties but only root may
# call methods; with a permissive bus, attestd's own uid check still refuses non-root callers.
need_cmd setpriv
setup_attestation
start_system_bus
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# 1. A permissive bus (the harness's): attestd itself refuses.
chmod 755 "$TEST_TMPDIR" "$TEST_TMPDIR/bus"
start_attestd
wait_state attested
as_nobody busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 State ||
        fail "nobody cannot read State"
if as_nobody busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Attest 2>"$TEST_TMPDIR/err"; then
        fail "nobody could call Attest()"
fi
# busctl maps the standard error name to EACCES and prints that.
assert_contains "$(cat "$TEST_TMPDIR/err")" "Access denied" "daemon-side refusal"
# The standard error name, as the bus itself would send (it was org.attestd.Attest1.Error.AccessDenied),
# with attestd's own message.
if command -v dbus-send >/dev/null; then
        as_nobody dbus-send --system --print-reply --dest=org.attestd.Attest1 /org/attestd/Attest1 \
                org.attestd.Attest1.Attest 2>"$TEST_TMPDIR/err" && fail "dbus-send Attest() as nobody succeeded"
        assert_contains "$(cat "$TEST_TMPDIR/err")" "org.freedesktop.DBus.Error.AccessDenied" "standard error name"
        assert_contains "$(cat "$TEST_TMPDIR/err")" "Only root may call Attest()" "daemon-side message"
fi
r=0
as_nobody "$ATTESTCTL" attest 2>"$TEST_TMPDIR/err" || r=$?
assert_eq "$r" 1 "attestctl attest as nobody"
assert_eq "$(wc -l <"$TEST_TMPDIR/err")" 1 "one line from attestctl attest as nobody"
assert_contains "$(cat "$TEST_TMPDIR/err")" "needs root" "attestctl attest as nobody"
# The token is 0640: a reader outside the group is told which setting decides it.
r=0
as_nobody "$ATTESTCTL" --config "$CONF" token 2>"$TEST_TMPDIR/err" >/dev/null || r=$?
assert_eq "$r" 1 "attestctl token as nobody"
assert_contains "$(cat "$TEST_TMPDIR/err")" "TokenGroup=" "token permission hint"
assert_contains "$(cat "$TEST_TMPDIR/err")" "attestd-token" "token permission hint names the default group"
as_nobody "$ATTESTCTL" is-attested -q || fail "is-attested as nobody on an attested host"
"$ATTESTCTL" attest >/dev/null || fail "root cannot call Attest()"
stop_attestd

# 2. The shipped policy file on a bus that otherwise allows everything but owning our name.
start_policy_bus bus2 allow "$top_srcdir/conf/org.attestd.Attest1.conf"
start_attestd
wait_state attested
as_nobody busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 State ||
        fail "policy: nobody cannot read State"
as_nobody busctl --system introspect org.attestd.Attest1 /org/attestd/Attest1 >/dev/null ||
        fail "policy: nobody cannot introspect"
if as_nobody busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Reload 2>"$TEST_TMPDIR/err"; then
        fail "policy: nobody could call Reload()"
fi
assert_contains "$(cat "$TEST_TMPDIR/err")" "ccess denied" "bus-side refusal"
busctl --system call org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 Reload || fail "root cannot Reload()"
echo "ok: reads for everyone, methods for root only (bus policy and daemon check)"
