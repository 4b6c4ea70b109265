# attestd as attestd.service runs it: an unprivileged user with no capabilities, in group tss for
# the TPM and in the token's group. On a fresh swtpm (reached, like /dev/tpmrm0, through group tss)
# it creates the AK under the EK (owner hierarchy with empty auth, as Debian leaves it), persists
# it, quotes and attests against the emulator; it owns the bus name through the shipped D-Bus
# policy; the token is 0640 in TokenGroup=, readable by a member and by nobody else; a TokenGroup=
# attestd is not a member of stops it at start with a message that says so.
# timeout: 120
need_cmd setpriv tpm2_getcap
[ "$(id -u)" -eq 0 ] || skip "switching to an unprivileged user needs root"
getent group tss >/dev/null || skip "no group tss (tpm-udev) on this host"
for g in users staff nogroup; do getent group "$g" >/dev/null || skip "no group $g on this host"; done

# The daemon's user: nobody stands in for "attestd" (no user is created on the host).
DAEMON_USER=nobody
TOKEN_GROUP=users
# (an array, not a function: "setpriv ... &" must be the process whose PID $! holds)
AS_ATTESTD=(setpriv --reuid="$DAEMON_USER" --regid=nogroup --groups="tss,$TOKEN_GROUP"
        --inh-caps=-all --bounding-set=-all --no-new-privs)

setup_attestation
# The TPM socket as udev leaves /dev/tpmrm0: group tss, 0660; what the user must read is readable.
chmod 0711 "$TEST_TMPDIR"
# (the swtpm TCTI also talks to the control socket)
chgrp tss "$SWTPM_DIR/tpm.sock" "$SWTPM_DIR/tpm.sock.ctrl"
chmod 0660 "$SWTPM_DIR/tpm.sock" "$SWTPM_DIR/tpm.sock.ctrl"
chmod 0755 "$SWTPM_DIR" "$MAA_DIR" && chmod 0644 "$MAA_DIR/ca.pem" "$CONF"
# The runtime directory as RuntimeDirectory= makes it: owned by the service's user.
mkdir -p "$RUNDIR" && chown "$DAEMON_USER:nogroup" "$RUNDIR" && chmod 0755 "$RUNDIR"
echo "TokenGroup=$TOKEN_GROUP" >>"$CONF"

# A bus that, like Debian's system bus, lets nobody own a name unless a policy says so, with the
# shipped policy for user attestd applied to the stand-in user.
sed -e "s/user=\"attestd\"/user=\"$DAEMON_USER\"/" "$top_srcdir/conf/org.attestd.Attest1.conf" \
        >"$TEST_TMPDIR/policy.conf"
start_policy_bus bus deny "$TEST_TMPDIR/policy.conf"

# 1. A TokenGroup= it is not a member of: a clear refusal at start, before anything is written.
sed -e "s/^TokenGroup=.*/TokenGroup=staff/" "$CONF" >"$TEST_TMPDIR/staff.conf"
chmod 0644 "$TEST_TMPDIR/staff.conf"
rc=0
timeout 10 setpriv --reuid="$DAEMON_USER" --regid=nogroup --groups=tss --inh-caps=-all --bounding-set=-all \
        "$ATTESTD" --config "$TEST_TMPDIR/staff.conf" >"$TEST_TMPDIR/staff.log" 2>&1 || rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "attestd with TokenGroup=staff did not refuse to start (status $rc)"
assert_contains "$(cat "$TEST_TMPDIR/staff.log")" "is not a member of group staff" "refusal message"
assert_contains "$(cat "$TEST_TMPDIR/staff.log")" "usermod -aG staff $DAEMON_USER" "refusal names the fix"
[ -z "$(ls -A "$RUNDIR")" ] || fail "the refused start wrote into $RUNDIR: $(ls -A "$RUNDIR")"

# 2. The daemon as that user: creates and persists the AK, attests, owns its bus name.
[ -z "$(tpm2_getcap handles-persistent)" ] || fail "the fresh swtpm already holds a persistent object"
"${AS_ATTESTD[@]}" "$ATTESTD" --config "$CONF" >>"$TEST_TMPDIR/attestd.log" 2>&1 &
ATTESTD_PID=$!
register_pid "$ATTESTD_PID"
wait_until 10 busctl --system status org.attestd.Attest1 >/dev/null 2>&1 ||
        fail "attestd did not own org.attestd.Attest1 as user $DAEMON_USER"
wait_state attested 60
verify_token
status=$(cat "/proc/$ATTESTD_PID/status")
assert_eq "$(echo "$status" | awk '/^Uid:/ { print $2 $3 $4 $5 }')" "$(id -u "$DAEMON_USER" | sed 's/.*/&&&&/')" "daemon uids"
assert_eq "$(echo "$status" | awk '/^CapEff:/ { print $2 }')" 0000000000000000 "daemon's effective capabilities"
assert_eq "$(echo "$status" | awk '/^CapPrm:/ { print $2 }')" 0000000000000000 "daemon's permitted capabilities"
tpm2_getcap handles-persistent | grep -qi 0x81000003 || fail "the AK was not persisted at 0x81000003"
[ -z "$(tpm2_getcap handles-transient)" ] || fail "transient objects left in the TPM"

# 3. The files: owned by the daemon's user, the token and its decoded form 0640 in TokenGroup=.
for f in token token.json; do
        assert_eq "$(stat -c '%U:%G %a' "$RUNDIR/$f")" "$DAEMON_USER:$TOKEN_GROUP 640" "owner, group and mode of $f"
done
assert_eq "$(stat -c '%U' "$RUNDIR/state")" "$DAEMON_USER" "owner of state"
setpriv --reuid=61001 --regid=61001 --groups="$TOKEN_GROUP" cat "$RUNDIR/token" >"$TEST_TMPDIR/read" 2>&1 ||
        fail "a member of $TOKEN_GROUP cannot read the token: $(cat "$TEST_TMPDIR/read")"
cmp -s "$TEST_TMPDIR/read" "$RUNDIR/token" || fail "a member of $TOKEN_GROUP read something else"
if setpriv --reuid=61002 --regid=61002 --clear-groups cat "$RUNDIR/token" >/dev/null 2>&1; then
        fail "a user outside $TOKEN_GROUP can read the token"
fi

# 4. attestctl as the same user quotes with the persisted AK (no second key), and the daemon,
# restarted, attests again with it.
"${AS_ATTESTD[@]}" "$ATTESTCTL" --config "$CONF" quote --nonce 00112233 >"$TEST_TMPDIR/quote.txt" 2>&1 ||
        fail "attestctl quote as $DAEMON_USER failed: $(cat "$TEST_TMPDIR/quote.txt")"
grep -q '^quote: ' "$TEST_TMPDIR/quote.txt" || fail "no quote printed: $(cat "$TEST_TMPDIR/quote.txt")"
assert_eq "$(tpm2_getcap handles-persistent | grep -c 0x)" 1 "persistent objects after the quote"
stop_attestd
"${AS_ATTESTD[@]}" "$ATTESTD" --config "$CONF" >>"$TEST_TMPDIR/attestd.log" 2>&1 &
ATTESTD_PID=$!
register_pid "$ATTESTD_PID"
wait_until 10 busctl --system status org.attestd.Attest1 >/dev/null 2>&1 || fail "attestd did not come back"
wait_until 20 sh -c "[ \"\$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 AttestationCount)\" != 'u 0' ]" ||
        fail "the restarted attestd did not attest: $(get_property LastError)"
wait_state attested
verify_token
stop_attestd
echo "ok: unprivileged attestd without capabilities: AK created and persisted, quote, token for $TOKEN_GROUP only, bus name by policy, foreign TokenGroup= refused"
