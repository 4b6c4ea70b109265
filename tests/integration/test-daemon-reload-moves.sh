# A reload that changes RuntimeDirectory= leaves nothing in the old directory; one that changes
# Endpoint= withdraws the old endpoint's token at once. Regression: the old code kept serving the
# old endpoint's token (State stale, file present) and left the old directory's files behind.
setup_attestation
start_system_bus
start_attestd
wait_state attested
old=$RUNDIR

new=$TEST_TMPDIR/run2
write_config "[Cache]" "RuntimeDirectory=$new"
RUNDIR=$new # write_config resets it
kill -HUP "$ATTESTD_PID"
wait_until 15 test -e "$RUNDIR/token" || fail "no token in the new directory"
wait_state attested
check_token_files --settled
assert_eq "$(get_property TokenPath)" "$RUNDIR/token" "TokenPath"
[ ! -e "$old" ] || [ -z "$(ls -A "$old")" ] || fail "left behind in $old: $(ls -A "$old")"
echo "ok: RuntimeDirectory= moved, nothing left in the old one"

# An endpoint nobody answers: the old endpoint's token must not stay published meanwhile.
write_config "[Cache]" "RuntimeDirectory=$new" "[Service]" "Endpoint=https://127.0.0.1:9"
RUNDIR=$new
kill -HUP "$ATTESTD_PID"
wait_state failed 10
[ ! -e "$RUNDIR/token" ] || fail "the old endpoint's token is still published"
assert_eq "$(get_property TokenPath)" "" "TokenPath after the endpoint changed"
check_token_files --settled
assert_eq "$(state_get ENDPOINT)" "https://127.0.0.1:9" "ENDPOINT="
echo "ok: Endpoint= changed, the old endpoint's token withdrawn"
