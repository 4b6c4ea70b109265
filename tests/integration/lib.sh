# Helpers for integration tests, sourced by run-integration.sh before the test. Everything started
# here lives in $TEST_TMPDIR and is recorded in $TEST_TMPDIR/pids so the runner can stop it.

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

need_cmd() {
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
        done
}

register_pid() {
        echo "$1" >>"$TEST_TMPDIR/pids"
}

# make_netns NAME: a new network namespace, deleted by the runner after the test (with the veth
# ends inside it). Skips without root or iproute2.
make_netns() {
        need_cmd ip
        [ "$(id -u)" = 0 ] || skip "network namespaces need root"
        ip netns add "$1" 2>/dev/null || skip "cannot create a network namespace here"
        echo "$1" >>"$TEST_TMPDIR/netns"
}

assert_eq() { # ACTUAL EXPECTED WHAT
        [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
        case "$1" in
        *"$2"*) ;;
        *) fail "$3: '$2' not found in: $1" ;;
        esac
}

# wait_until SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds; fail on timeout.
wait_until() {
        local limit=$1; shift
        local deadline=$(($(date +%s%N) + limit * 1000000000))
        until "$@"; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.05
        done
}

# start_swtpm [NAME]: a fresh swtpm on unix sockets; exports TPM2TOOLS_TCTI and ATTEST_TCTI.
start_swtpm() {
        need_cmd swtpm swtpm_ioctl
        local dir="$TEST_TMPDIR/${1:-tpm}"
        mkdir -p "$dir"
        swtpm socket --tpm2 --tpmstate dir="$dir" \
                --server type=unixio,path="$dir/tpm.sock" --ctrl type=unixio,path="$dir/tpm.sock.ctrl" \
                --flags not-need-init,startup-clear --pid file="$dir/swtpm.pid" \
                --log file="$dir/swtpm.log" --daemon || fail "swtpm did not start"
        wait_until 5 test -S "$dir/tpm.sock.ctrl" || fail "swtpm sockets did not appear"
        wait_until 5 test -s "$dir/swtpm.pid" || fail "swtpm wrote no pid file"
        register_pid "$(cat "$dir/swtpm.pid")"
        export SWTPM_DIR="$dir"
        export TPM2TOOLS_TCTI="swtpm:path=$dir/tpm.sock" ATTEST_TCTI="swtpm:path=$dir/tpm.sock"
}

# reboot_swtpm: simulated power cycle (PCRs reset, resetCount increments).
reboot_swtpm() {
        swtpm_ioctl --unix "$SWTPM_DIR/tpm.sock.ctrl" -i || fail "swtpm reset failed"
        tpm2_startup -c || fail "TPM2_Startup after reset failed"
}

# start_policy_bus NAME OWN POLICY: a private system bus whose default policy allows everything but
# owning names when OWN is "deny" (like Debian's), everything when "allow", and includes the policy
# file POLICY; exports DBUS_SYSTEM_BUS_ADDRESS.
start_policy_bus() {
        local dir="$TEST_TMPDIR/$1" out
        mkdir -p "$dir" && chmod 0755 "$dir"
        cat >"$dir/bus.conf" <<EOC
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <$2 own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
  <include>$3</include>
</busconfig>
EOC
        out=$(dbus-daemon --config-file="$dir/bus.conf" --print-address=1 --print-pid=1 --fork) ||
                fail "dbus-daemon ($1) did not start"
        register_pid "$(echo "$out" | sed -n 2p)"
        DBUS_SYSTEM_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
        export DBUS_SYSTEM_BUS_ADDRESS
}

# start_system_bus: a private dbus-daemon with a system-bus configuration;
# exports DBUS_SYSTEM_BUS_ADDRESS (honoured by sd-bus and busctl --system).
start_system_bus() {
        need_cmd dbus-daemon busctl
        local dir="$TEST_TMPDIR/bus" out
        mkdir -p "$dir"
        sed -e "s|@SOCKET@|$dir/system_bus_socket|" "$top_srcdir/tests/data/system-bus.conf.in" \
                >"$dir/system-bus.conf"
        out=$(dbus-daemon --config-file="$dir/system-bus.conf" --print-address=1 --print-pid=1 --fork) ||
                fail "dbus-daemon did not start"
        DBUS_SYSTEM_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
        register_pid "$(echo "$out" | sed -n 2p)"
        export DBUS_SYSTEM_BUS_ADDRESS
}

OVMF_LOG="$top_srcdir/tests/testdata/eventlogs/uefi-ovmf-swtpm-directkernel/binary_bios_measurements.bin"
EMULATOR="$top_srcdir/tests/maa-emulator/maa-emulator"

# maa_ctl ARGS...: drive the running emulator (faults, policy, stats).
maa_ctl() {
        "$top_srcdir/tests/maa-emulator/maa-emulator-ctl" "$MAA_DIR" "$@"
}

# The emulator starts with no policy, like a new MAA provider; the tests load this one
# (PCRs 0-7 required, no AIK certificate needed, the usual TPM claims issued).
MAA_TEST_POLICY="$top_srcdir/tests/maa-emulator/policies/test-default.json"

# start_emulator [OPTIONS...]: the MAA emulator on a free loopback port with $MAA_TEST_POLICY (a
# --policy among OPTIONS overrides it); exports MAA_DIR and MAA_ENDPOINT. The state dir survives
# a restart_emulator (same CA, keys and port).
start_emulator() {
        [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import cryptography, jmespath' 2>/dev/null ||
                skip "/usr/bin/python3 with python3-cryptography and python3-jmespath are needed for the MAA emulator"
        export MAA_DIR="$TEST_TMPDIR/maa"
        local port=0
        [ -f "$MAA_DIR/port" ] && port=$(cat "$MAA_DIR/port")
        "$EMULATOR" --state-dir "$MAA_DIR" --port "$port" --log-file "$TEST_TMPDIR/maa.log" \
                --policy "$MAA_TEST_POLICY" "$@" &
        register_pid $!
        maa_ctl wait-ready 20 >/dev/null || fail "the MAA emulator did not get ready"
        MAA_ENDPOINT=$(cat "$MAA_DIR/endpoint")
        export MAA_ENDPOINT
}

stop_emulator() {
        kill "$(cat "$MAA_DIR/pid")" 2>/dev/null
        wait_until 10 test ! -e "$MAA_DIR/pid" || fail "the MAA emulator did not stop"
}

# play_eventlog [LOG]: extend a real firmware log into the swtpm, so PCRs and log agree.
play_eventlog() {
        ATTESTCTL="$ATTESTCTL" bash "$top_srcdir/tests/integration/play-eventlog.sh" "${1:-$OVMF_LOG}" \
                >"$TEST_TMPDIR/play.log" 2>&1 || fail "playing the event log into swtpm failed"
}

# write_config [EXTRA...]: $CONF for swtpm + emulator with short schedules; each EXTRA argument
# is one more line (a later "[Section]" + "Key=" overrides).
write_config() {
        export CONF="$TEST_TMPDIR/attestd.conf" RUNDIR="$TEST_TMPDIR/run"
        {
                echo "[Service]"
                echo "Endpoint=$MAA_ENDPOINT"
                echo "CAFile=$MAA_DIR/ca.pem"
                echo "RequestTimeoutSec=5s"
                echo "[TPM]"
                echo "TCTI=$ATTEST_TCTI"
                echo "AKCertNVIndex=0"
                echo "PCRs=0-7,14"
                echo "EventLog=$OVMF_LOG"
                echo "[Schedule]"
                echo "RetryMinSec=500ms"
                echo "RetryMaxSec=2s"
                echo "PCRPollIntervalSec=500ms"
                echo "PCRDebounceSec=200ms"
                echo "PCRMinIntervalSec=1s"
                echo "[Cache]"
                echo "RuntimeDirectory=$RUNDIR"
                for line in "$@"; do echo "$line"; done
        } >"$CONF"
}

# setup_attestation: swtpm with the OVMF log played in, the emulator, the config.
setup_attestation() {
        start_swtpm
        play_eventlog
        start_emulator "$@"
        write_config
}

# start_attestd [OPTIONS...]: the daemon on the private bus; exports ATTESTD_PID.
start_attestd() {
        "$ATTESTD" --config "$CONF" "$@" >>"$TEST_TMPDIR/attestd.log" 2>&1 &
        ATTESTD_PID=$!
        register_pid "$ATTESTD_PID"
        export ATTESTD_PID
        wait_until 10 busctl --system status org.attestd.Attest1 >/dev/null 2>&1 ||
                fail "attestd did not appear on the bus"
}

stop_attestd() {
        kill "$ATTESTD_PID" 2>/dev/null
        wait "$ATTESTD_PID" 2>/dev/null
        return 0
}

get_property() { # NAME -> the value as busctl prints it, without the type
        busctl --system get-property org.attestd.Attest1 /org/attestd/Attest1 org.attestd.Attest1 "$1" |
                sed -e 's/^[a-z(){}]* //' -e 's/^"\(.*\)"$/\1/'
}

state_is() {
        [ "$(get_property State 2>/dev/null)" = "$1" ]
}

# wait_state STATE [SECONDS]
wait_state() {
        wait_until "${2:-20}" state_is "$1" ||
                fail "State did not become $1 (is '$(get_property State)', LastError '$(get_property LastError)')"
}

# verify_token [FILE]: the token verifies against the emulator's key set and issuer.
verify_token() {
        "$ATTESTCTL" token verify --jwks "$MAA_DIR/jwks.json" --issuer "$MAA_ENDPOINT" "${1:-$RUNDIR/token}" ||
                fail "token ${1:-$RUNDIR/token} does not verify"
}

# json_get FILE EXPR: a value from a JSON file (EXPR is Python, applied to 'd').
json_get() {
        /usr/bin/python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

# pcr_value BANK INDEX: lower-case hex of one PCR, read with tpm2-tools.
pcr_value() {
        tpm2_pcrread "$1:$2" | sed -n "s/^ *$2 *: *0x//p" | tr 'A-F' 'a-f'
}

# start_token_server: tests/data/https-test-server.py (its emulated IMDS and Entra token endpoints);
# exports TOKEN_SERVER_HTTP (http://127.0.0.1:PORT) and TOKEN_SERVER_HTTPS. It stops when its
# stdin, a FIFO held open by this shell, closes, or by PID.
start_token_server() {
        local dir="$TEST_TMPDIR/token-server"
        mkdir -p "$dir"
        mkfifo "$dir/stdin"
        /usr/bin/python3 "$top_srcdir/tests/data/https-test-server.py" "$dir" <"$dir/stdin" >"$dir/out" 2>&1 &
        register_pid $!
        exec 8>"$dir/stdin"
        wait_until 20 grep -q '^READY' "$dir/out" || fail "the token test server did not start"
        TOKEN_SERVER_HTTPS="https://127.0.0.1:$(awk '/^READY/ { print $2 }' "$dir/out")"
        TOKEN_SERVER_HTTP="http://127.0.0.1:$(awk '/^READY/ { print $3 }' "$dir/out")"
        export TOKEN_SERVER_HTTP TOKEN_SERVER_HTTPS
}

# next_attestation_in: seconds from now until NextAttestationUSec (negative when past).
next_attestation_in() {
        echo $(( ($(get_property NextAttestationUSec) - $(date +%s%6N)) / 1000000 ))
}

# state_get KEY [DIR]: one value of the state file (shell-sourceable, so let a shell read it).
state_get() {
        (. "${2:-$RUNDIR}/state" && eval "printf '%s' \"\${$1-}\"")
}

# check_token_files [--settled] [DIR]: attestd(8)'s file contract. A token file is a token that
# verifies, with a token.json describing that very token (same claims, same exp). With --settled
# (a live daemon, not right after a kill -9) the state file agrees too: TOKEN=, EXPIRES_USEC=, and
# STATE is one that has a token exactly when the file exists.
check_token_files() {
        local settled=false dir
        [ "${1-}" = --settled ] && { settled=true; shift; }
        dir=${1:-$RUNDIR}
        if [ -e "$dir/token" ]; then
                verify_token "$dir/token" >/dev/null
                /usr/bin/python3 - "$dir/token" "$dir/token.json" <<'PY' || fail "token and token.json disagree"
import base64, json, sys
tok = open(sys.argv[1]).read()
assert "\n" not in tok, "newline in token"
p = tok.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
d = json.load(open(sys.argv[2]))
assert d["claims"] == claims, "claims differ"
assert d["expires_usec"] == claims["exp"] * 1000000, "expires_usec differs"
PY
        fi
        $settled || return 0
        local state token expires
        state=$(state_get STATE "$dir") token=$(state_get TOKEN "$dir") expires=$(state_get EXPIRES_USEC "$dir")
        if [ -e "$dir/token" ]; then
                assert_eq "$token" token "state TOKEN= with a token file"
                assert_eq "$expires" "$(json_get "$dir/token.json" "d['expires_usec']")" "state EXPIRES_USEC="
                case $state in attested | attesting | stale | denied | stopped) ;;
                *) fail "state STATE='$state' with a token file" ;;
                esac
        else
                [ ! -e "$dir/token.json" ] || fail "token.json without a token"
                assert_eq "$token" "" "state TOKEN= without a token file"
                assert_eq "$expires" 0 "state EXPIRES_USEC= without a token file"
                case $state in attested | stale) fail "state STATE='$state' without a token file" ;; esac
        fi
}
