# One success, one transaction: when the state file cannot be replaced after the new token was
# staged, nothing of the new token is visible (token, token.json, D-Bus all keep the old one), and
# the next attempt publishes all of it. Regression: the old code renamed the new token into place
# and then rolled back memory and token.json only.
setup_attestation
start_system_bus
start_attestd
wait_state attested
check_token_files --settled
old_token=$(cat "$RUNDIR/token")
old_expires=$(get_property TokenExpiresUSec)
sleep 1.1 # a new token gets a new iat/exp

# A non-empty directory where the state file goes: staging works, the rename over it cannot.
rm "$RUNDIR/state"
mkdir -p "$RUNDIR/state/blocked"
"$ATTESTCTL" attest >/dev/null 2>&1 && fail "Attest() succeeded although the state file cannot be written"
assert_eq "$(sha256sum <"$RUNDIR/token")" "$(printf %s "$old_token" | sha256sum)" "token file (sha256) after a failed publish"
check_token_files
assert_eq "$(get_property TokenExpiresUSec)" "$old_expires" "TokenExpiresUSec after a failed publish"
assert_contains "$(get_property LastError)" "cannot write the token" "LastError"
assert_eq "$(get_property State)" stale "State after a failed publish with a valid token"
[ -z "$(ls -A "$RUNDIR" | grep '^\.')" ] || fail "temp files or backups left behind: $(ls -A "$RUNDIR")"

rm -r "$RUNDIR/state"
"$ATTESTCTL" attest >/dev/null || fail "Attest() failed once the state file could be written"
[ "$(cat "$RUNDIR/token")" != "$old_token" ] || fail "no new token"
check_token_files --settled
assert_eq "$(state_get STATE)" attested "STATE="
assert_eq "$(get_property TokenExpiresUSec)" "$(state_get EXPIRES_USEC)" "TokenExpiresUSec = EXPIRES_USEC"
echo "ok: a failed state write publishes nothing of the new token; the next success publishes all"
