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
