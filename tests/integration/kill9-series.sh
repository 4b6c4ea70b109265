# kill -9 at KILL9_ROUNDS (default 100) random moments during attestation, refresh and PCR change.
# After every kill the runtime directory holds no partial or unverified token (a token file
# verifies and token.json describes that very token), and the restarted daemon is attested again
# with files that agree with its state. Too slow for make check: 'make check-kill9'.
# timeout: 900
rounds=${KILL9_ROUNDS:-100}
setup_attestation
start_system_bus
# Refreshes all the time, so a random moment often falls inside one.
write_config "[Schedule]" "RefreshIntervalSec=1s"
start_attestd
wait_state attested

modes="attest refresh pcr"
declare -A kills=([attest]=0 [refresh]=0 [pcr]=0)
partial=0
for i in $(seq "$rounds"); do
        mode=$(echo $modes | cut -d' ' -f$((i % 3 + 1)))
        case $mode in
        attest) "$ATTESTCTL" attest >/dev/null 2>&1 & ;;
        refresh) ;; # the 1 s refresh timer is running
        pcr) tpm2_pcrextend "14:sha256=$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)" >/dev/null ;;
        esac
        sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
        kill -9 "$ATTESTD_PID"
        wait "$ATTESTD_PID" 2>/dev/null || true
        kills[$mode]=$((kills[$mode] + 1))
        ls -A "$RUNDIR" | grep -q '^\.' && partial=$((partial + 1))
        check_token_files || fail "round $i ($mode): the runtime directory breaks the contract"
        [ -e "$RUNDIR/token" ] && [ ! -e "$RUNDIR/token.json" ] && fail "round $i: token without token.json"
        start_attestd
        wait_state attested 20
        check_token_files --settled
done
[ -z "$(ls -A "$RUNDIR" | grep '^\.')" ] || fail "temp files left behind: $(ls -A "$RUNDIR")"
echo "ok: $rounds kill -9s (attest ${kills[attest]}, refresh ${kills[refresh]}, pcr ${kills[pcr]}), temp files seen after $partial of them; every token on disk verified and matched token.json; attested again after each"
