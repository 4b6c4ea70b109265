# The firmware event log as attestd.service passes it: securityfs gives it to root only, so the unit
# loads it as the credential "eventlog" (LoadCredential=) for the unprivileged daemon. With the
# default EventLog= attestd reads $CREDENTIALS_DIRECTORY/eventlog; the unit's fallback "none"
# (SetCredential=, when there is no log to load) is passed over for EventLog= itself.
# timeout: 60
setup_attestation
start_system_bus
creds="$TEST_TMPDIR/credentials"
mkdir -p "$creds"
cp "$OVMF_LOG" "$creds/eventlog"
write_config "[TPM]" "EventLog="

CREDENTIALS_DIRECTORY="$creds" start_attestd
wait_state attested
verify_token
stop_attestd

# The fallback credential is not read as a log (it would be "malformed").
printf none >"$creds/eventlog"
rm -rf "$RUNDIR"
CREDENTIALS_DIRECTORY="$creds" start_attestd
wait_until 20 sh -c '[ -n "$(busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 LastError | sed "s/^s \"//; s/\"$//")" ]' ||
        fail "no attestation attempt was made"
case $(get_property LastError) in
*"$creds"*) fail "the fallback credential was read: $(get_property LastError)" ;;
esac
stop_attestd
echo "ok: the event log from the credential attests; the fallback credential is passed over"
