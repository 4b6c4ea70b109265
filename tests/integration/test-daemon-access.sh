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
assert_contains "$(cat "$TEST_TMPDIR/err")" "Only root may call Attest()" "daemon-side refusal"
if as_nobody "$ATTESTCTL" attest 2>/dev/null; then fail "attestctl attest as nobody succeeded"; fi
"$ATTESTCTL" attest >/dev/null || fail "root cannot call Attest()"
stop_attestd

# 2. The shipped policy file on a bus that otherwise allows everything but owning our name.
dir="$TEST_TMPDIR/bus2"
mkdir -p "$dir" && chmod 755 "$dir"
cat >"$dir/bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
  <include>$top_srcdir/conf/org.attestd.Attest1.conf</include>
</busconfig>
EOC
out=$(dbus-daemon --config-file="$dir/bus.conf" --print-address=1 --print-pid=1 --fork) || fail "second bus"
register_pid "$(echo "$out" | sed -n 2p)"
export DBUS_SYSTEM_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
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
