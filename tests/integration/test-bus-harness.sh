# The private system bus works: a process owns a name on it through sd-bus and busctl reads
# its property, both finding the bus through DBUS_SYSTEM_BUS_ADDRESS only.
start_system_bus
"$top_builddir/tests/tools/bus-fixture" org.attestd.Test >"$TEST_TMPDIR/fixture.log" 2>&1 &
register_pid $!
wait_until 5 grep -q ready "$TEST_TMPDIR/fixture.log" || fail "bus fixture did not get ready"

names=$(busctl --system list --no-legend)
assert_contains "$names" org.attestd.Test "busctl list"
value=$(busctl --system get-property org.attestd.Test /org/attestd/Test org.attestd.Test Answer)
assert_eq "$value" "u 42" "Answer property"
# The host's real system bus is not involved.
[ "$DBUS_SYSTEM_BUS_ADDRESS" != "unix:path=/run/dbus/system_bus_socket" ] || fail "not a private bus"
echo "ok: private bus, name owned, property read"
