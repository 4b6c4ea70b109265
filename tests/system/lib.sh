# Host side of the system tests, sourced by every tests/system/test-*.sh: temp dir and cleanup,
# a swtpm holding a replayed real firmware log, the MAA emulator, a systemd-nspawn or QEMU boot of
# one case, and an openssl check of the token. Exit codes: 0 PASS, 1 FAIL, 77 SKIP.

set -eu
set -o pipefail

SYSTEM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_SRCDIR=$(cd "$SYSTEM_DIR/../.." && pwd)
BUILDDIR=${BUILDDIR:-/work/main/build}
CACHE_DIR=${ATTESTD_TEST_CACHE:-/var/cache/attestd-tests}
# A genuine OVMF + swtpm direct-kernel boot log whose TPM values are known (testdata README):
# replayed into the test swtpm it makes PCRs 0-7 and 9 what a real firmware would have left.
EVENTLOG=${EVENTLOG:-$TOP_SRCDIR/tests/testdata/eventlogs/uefi-ovmf-swtpm-directkernel/binary_bios_measurements.bin}
TEST_NAME=$(basename "$0" .sh)
export BUILDDIR CACHE_DIR EVENTLOG

log() { echo "[$(date +%T.%3N)] $*" >&2; }

fail() {
        echo "FAIL: $TEST_NAME: $*"
        exit 1
}

skip() {
        echo "SKIP: $TEST_NAME: $*"
        exit 77
}

need_cmd() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
        done
}

# sys_init: root check, tools, a fresh $T, and a trap that stops everything this test started.
sys_init() {
        [ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn, overlay mounts)"
        need_cmd debootstrap swtpm swtpm_setup swtpm_ioctl tpm2_pcrextend tpm2_eventlog openssl
        [ -x /usr/bin/python3 ] || skip "/usr/bin/python3 is missing (MAA emulator)"
        T=$(mktemp -d "${TMPDIR:-/tmp}/attestd-system.XXXXXX")
        export T
        : >"$T/pids"
        trap sys_cleanup EXIT
        log "$TEST_NAME: work dir $T"
}

# sys_need_daemon: the cases need attestd with D-Bus and attestctl's wait verb; skip until then.
sys_need_daemon() {
        [ -x "$BUILDDIR/attestd" ] && [ -x "$BUILDDIR/attestctl" ] ||
                skip "no attestd/attestctl in BUILDDIR=$BUILDDIR (build first)"
        "$BUILDDIR/attestctl" --help 2>&1 | grep -Eq '^[[:space:]]+wait([[:space:]]|$)' ||
                skip "attestctl in $BUILDDIR has no 'wait' verb yet (daemon without D-Bus)"
}

# sys_make_netns NAME: a new network namespace (/run/netns/NAME), deleted by sys_cleanup. Skips where
# namespaces cannot be made.
sys_make_netns() {
        need_cmd ip
        ip netns add "$1" 2>/dev/null || skip "cannot create a network namespace here"
        echo "$1" >>"$T/netns"
}

register_pid() {
        echo "$1" >>"$T/pids"
}

sys_cleanup() {
        local rc=$? pid
        set +e
        [ -n "${NSPAWN_PID:-}" ] && kill "$NSPAWN_PID" 2>/dev/null && wait "$NSPAWN_PID" 2>/dev/null
        while read -r pid; do
                kill "$pid" 2>/dev/null
        done <"$T/pids"
        # After the container: deleting a namespace takes its veth ends (and their peers) with it.
        if [ -f "$T/netns" ]; then
                while read -r ns; do
                        ip netns del "$ns" 2>/dev/null
                done <"$T/netns"
        fi
        mountpoint -q "$T/nspawn/root" 2>/dev/null && umount "$T/nspawn/root"
        if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
                [ -n "${KEEP:-}" ] || rm -rf "$T"
        else
                echo "--- work dir kept: $T"
        fi
        exit $rc
}

# wait_until SECONDS COMMAND...: poll every 100 ms; 1 on timeout.
wait_until() {
        local limit=$1 deadline
        shift
        deadline=$(($(date +%s%N) + limit * 1000000000))
        until "$@"; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

# sys_start_swtpm: a fresh swtpm (sha1 + sha256 banks, like OVMF's) on unix sockets in $T/swtpm,
# then $EVENTLOG replayed into it. Exports SWTPM_DIR and TPM2TOOLS_TCTI.
sys_start_swtpm() {
        SWTPM_DIR=$T/swtpm
        mkdir -p "$SWTPM_DIR"
        swtpm_setup --tpm2 --tpmstate "$SWTPM_DIR" --pcr-banks sha1,sha256 --overwrite \
                >"$SWTPM_DIR/setup.log" 2>&1 || fail "swtpm_setup failed: $(tail -n 3 "$SWTPM_DIR/setup.log")"
        swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
                --server type=unixio,path="$SWTPM_DIR/tpm.sock" \
                --ctrl type=unixio,path="$SWTPM_DIR/tpm.sock.ctrl" \
                --flags not-need-init,startup-clear --pid file="$SWTPM_DIR/swtpm.pid" \
                --log file="$SWTPM_DIR/swtpm.log" --daemon || fail "swtpm did not start"
        wait_until 5 test -S "$SWTPM_DIR/tpm.sock.ctrl" || fail "swtpm sockets did not appear"
        wait_until 5 test -s "$SWTPM_DIR/swtpm.pid" || fail "swtpm wrote no pid file"
        register_pid "$(cat "$SWTPM_DIR/swtpm.pid")"
        TPM2TOOLS_TCTI="swtpm:path=$SWTPM_DIR/tpm.sock"
        export SWTPM_DIR TPM2TOOLS_TCTI
        sys_replay_eventlog "$EVENTLOG"
}

# eventlog_extends LOG: one "PCR alg=hex,alg=hex" line per measured event (EV_NO_ACTION skipped),
# from tpm2_eventlog's YAML.
eventlog_extends() {
        tpm2_eventlog "$1" | awk '
                function flush() { if (pcr != "" && type != "EV_NO_ACTION" && dig != "") print pcr " " dig
                                   pcr = ""; type = ""; dig = ""; alg = "" }
                /^- EventNum:/ { flush() }
                /^  PCRIndex:/ { pcr = $2 }
                /^  EventType:/ { type = $2 }
                /^  - AlgorithmId:/ { alg = $3 }
                /^    Digest:/ { if (alg != "") { gsub(/"/, "", $2); dig = dig (dig == "" ? "" : ",") alg "=" $2; alg = "" } }
                /^pcrs:/ { flush(); exit }
                END { flush() }'
}

# eventlog_replayed LOG BANK: "PCR hex" lines of tpm2_eventlog's own replay of LOG.
eventlog_replayed() {
        tpm2_eventlog "$1" | awk -v bank="$2" '
                /^pcrs:/ { in_pcrs = 1; next }
                in_pcrs && /^  [a-z0-9]+:$/ { cur = substr($1, 1, length($1) - 1); next }
                in_pcrs && cur == bank && /^    [0-9]+ *:/ { v = $3; sub(/^0x/, "", v); print $1 " " tolower(v) }'
}

# sys_replay_eventlog LOG: extend every event of LOG into the swtpm, then require that the TPM
# holds exactly what a replay of LOG gives, so a verifier sees a consistent log and quote.
sys_replay_eventlog() {
        local pcr digests n=0 want got
        while read -r pcr digests; do
                tpm2_pcrextend "$pcr:$digests" || fail "tpm2_pcrextend $pcr:$digests failed"
                n=$((n + 1))
        done < <(eventlog_extends "$1")
        [ $n -gt 0 ] || fail "no measured events in $1"
        while read -r pcr want; do
                got=$(tpm2_pcrread "sha256:$pcr" | awk '/0x/ { v = $3; sub(/^0x/, "", v); print tolower(v) }')
                [ "$got" = "$want" ] || fail "swtpm PCR $pcr (sha256) is $got after replay, log gives $want"
        done < <(eventlog_replayed "$1" sha256)
        log "replayed $n events of $(basename "$1") into the swtpm; PCRs match the log"
}

# sys_start_emulator [MAA-EMULATOR ARGS...]: the MAA emulator on host loopback with the test
# policy (it starts with none, like a new MAA provider; a --policy in ARGS overrides it);
# exports EMU_DIR.
sys_start_emulator() {
        EMU_DIR=$T/emulator
        "$TOP_SRCDIR/tests/maa-emulator/maa-emulator" --state-dir "$EMU_DIR" --port 0 \
                --log-file "$T/emulator.log" \
                --policy "$TOP_SRCDIR/tests/maa-emulator/policies/test-default.json" "$@" &
        register_pid $!
        wait_until 20 test -s "$EMU_DIR/ready" || fail "MAA emulator not ready after 20 s: $(tail -n 5 "$T/emulator.log")"
        export EMU_DIR
        log "MAA emulator at $(cat "$EMU_DIR/endpoint")"
}

sys_emulator_ctl() {
        "$TOP_SRCDIR/tests/maa-emulator/maa-emulator-ctl" "$EMU_DIR" "$@" >>"$T/emulator-ctl.log"
}

# sys_boot_start GUEST_SCRIPT [nspawn-run.sh options...]: boot the cached rootfs in the background
# with the case's in-container script; sys_boot_wait collects the result.
sys_boot_start() {
        local guest=$1 rootfs
        shift
        need_cmd systemd-nspawn
        rootfs=$("$SYSTEM_DIR/rootfs.sh" "$CACHE_DIR") || fail "could not build the rootfs"
        OUT=$T/nspawn
        "$SYSTEM_DIR/nspawn-run.sh" "$rootfs" "$OUT" --test "$guest" "$@" >"$T/nspawn-run.log" 2>&1 &
        NSPAWN_PID=$!
}

# sys_boot_wait: wait for the container; prints the case's results; returns the case's status.
sys_boot_wait() {
        local rc=0
        wait "$NSPAWN_PID" || rc=$?
        NSPAWN_PID=
        [ -f "$OUT/out/results" ] && sed 's/^/    /' "$OUT/out/results"
        if [ $rc -ne 0 ]; then
                echo "--- nspawn-run.sh (exit $rc):"
                tail -n 20 "$T/nspawn-run.log"
                [ -f "$OUT/out/journal.txt" ] &&
                        { echo "--- container journal (last 60 lines):"; tail -n 60 "$OUT/out/journal.txt"; }
        fi
        return $rc
}

# sys_vm_run GUEST_SCRIPT [vm-run.sh options...]: one measured boot in QEMU with the case's script;
# prints the case's results; returns its status.
sys_vm_run() {
        local guest=$1 rootfs rc=0
        shift
        need_cmd qemu-system-x86_64 cpio zstd
        [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "OVMF is not installed"
        rootfs=$("$SYSTEM_DIR/rootfs.sh" "$CACHE_DIR") || fail "could not build the rootfs"
        OUT=$T/vm
        CACHE_DIR=$CACHE_DIR "$SYSTEM_DIR/vm-run.sh" "$rootfs" "$OUT" --test "$guest" "$@" \
                >"$T/vm-run.log" 2>&1 || rc=$?
        sed 's/^/  /' "$T/vm-run.log"
        [ -f "$OUT/out/results" ] && sed 's/^/    /' "$OUT/out/results"
        if [ $rc -ne 0 ]; then
                echo "--- VM console (last 40 lines):"
                tr -d '\r' <"$OUT/console.log" 2>/dev/null | tail -n 40
                [ -f "$OUT/out/journal.txt" ] &&
                        { echo "--- guest journal (last 60 lines):"; tail -n 60 "$OUT/out/journal.txt"; }
        fi
        return $rc
}

# sys_check_replay DIR: DIR/eventlog.bin (a guest's firmware log, see dump_measured_boot) arrived
# intact, and tpm2_eventlog's replay of it gives exactly the guest's PCRs (DIR/pcrs.txt) in every
# bank, for every PCR the log extends, which must include 0-7. Sets REPLAYED (values compared).
sys_check_replay() {
        local dir=$1 bank pcr want have
        [ "$(sha256sum "$dir/eventlog.bin" | cut -d' ' -f1)" = "$(cat "$dir/eventlog.sha256")" ] ||
                fail "the event log was damaged in transfer"
        REPLAYED=0
        for bank in sha1 sha256; do
                while read -r pcr want; do
                        have=$(awk -v b=$bank -v i="$pcr" '$1 == b && $2 == i { print $3 }' "$dir/pcrs.txt")
                        [ "$have" = "$want" ] ||
                                fail "PCR $pcr ($bank): the guest's TPM has '$have', a replay of its log gives $want"
                        REPLAYED=$((REPLAYED + 1))
                done < <(eventlog_replayed "$dir/eventlog.bin" $bank)
        done
        for pcr in 0 1 2 3 4 5 6 7; do
                eventlog_replayed "$dir/eventlog.bin" sha256 | grep -q "^$pcr " ||
                        fail "the firmware log never extends PCR $pcr"
        done
}

# jwt_payload FILE: the decoded claims of a compact JWT.
jwt_payload() {
        cut -d. -f2 "$1" | b64url_decode
}

# sys_wait_mark NAME SECONDS: wait until the case inside wrote /out/marks/NAME.
sys_wait_mark() {
        wait_until "$2" test -e "$OUT/out/marks/$1" ||
                { [ -z "${NSPAWN_PID:-}" ] || kill "$NSPAWN_PID" 2>/dev/null; sys_boot_wait || true
                  fail "the container never reached mark '$1'"; }
}

# sys_ack NAME: let the case inside continue past wait_ack NAME.
sys_ack() {
        mkdir -p "$OUT/out/acks"
        touch "$OUT/out/acks/$1"
}

b64url_decode() {
        local s
        s=$(tr '_-' '/+')
        case $((${#s} % 4)) in
        2) s="$s==" ;;
        3) s="$s=" ;;
        esac
        printf '%s' "$s" | base64 -d
}

# sys_verify_jwt FILE: the token is a compact RS256 JWT, its signature verifies with one of the
# emulator's JWKS keys (checked with openssl against every x5c), and iss is the emulator.
sys_verify_jwt() {
        local jwt h p s kid iss i=0 cert
        jwt=$(cat "$1")
        case $jwt in
        *[!A-Za-z0-9._-]*) fail "token file $1 holds more than a compact JWT" ;;
        esac
        IFS=. read -r h p s <<<"$jwt"
        [ -n "$h" ] && [ -n "$p" ] && [ -n "$s" ] || fail "token in $1 does not have three parts"
        b64url_decode <<<"$h" >"$T/jwt.header"
        b64url_decode <<<"$p" >"$T/jwt.payload"
        b64url_decode <<<"$s" >"$T/jwt.sig"
        grep -q '"alg" *: *"RS256"' "$T/jwt.header" || fail "token alg is not RS256: $(cat "$T/jwt.header")"
        iss=$(grep -o '"iss" *: *"[^"]*"' "$T/jwt.payload" | sed 's/.*"\([^"]*\)"$/\1/')
        [ "$iss" = "$(cat "$EMU_DIR/issuer")" ] || fail "token iss '$iss' is not the emulator's"
        printf '%s.%s' "$h" "$p" >"$T/jwt.signed"
        # Every certificate in the JWKS: the token must verify with one of them.
        grep -o '"x5c" *: *\[ *"[^"]*"' "$EMU_DIR/jwks.json" | sed 's/.*"\([^"]*\)"$/\1/' |
        while read -r cert; do
                i=$((i + 1))
                printf '%s' "$cert" | base64 -d | openssl x509 -inform DER -pubkey -noout >"$T/jwk$i.pem" || continue
                if openssl dgst -sha256 -verify "$T/jwk$i.pem" -signature "$T/jwt.sig" "$T/jwt.signed" >/dev/null 2>&1; then
                        echo verified >"$T/jwt.ok"
                fi
        done
        [ -f "$T/jwt.ok" ] || fail "token signature does not verify with any key of the emulator's JWKS"
        rm -f "$T/jwt.ok"
}

pass() {
        echo "PASS: $TEST_NAME${1:+ ($1)}"
        exit 0
}
