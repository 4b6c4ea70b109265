# The booted system's side of the system tests: sourced by run-case (installed by fixture.sh) before
# the case's own script (also in the VM, by vm-run.sh). Checks are recorded as "ok"/"not ok" lines
# in /out/results; the case's status (0 = all passed) becomes nspawn's exit status (`systemctl exit`).

# tpm2-tools talk to the TPM attestd uses (the host's swtpm in nspawn, /dev/tpmrm0 in the VM).
TPM2TOOLS_TCTI=$(sed -n 's/^TCTI=//p' /etc/attestd/attestd.conf)
export TPM2TOOLS_TCTI
ATTEST_DEST=org.attestd.Attest1
ATTEST_PATH=/org/attestd/Attest1
ATTEST_IFACE=org.attestd.Attest1
FAILED=0
CHECKS=0

note() { echo "# $*" | tee -a /out/results; }

ok() {
        CHECKS=$((CHECKS + 1))
        echo "ok $CHECKS - $*" | tee -a /out/results
}

not_ok() {
        CHECKS=$((CHECKS + 1))
        FAILED=$((FAILED + 1))
        echo "not ok $CHECKS - $*" | tee -a /out/results
}

# check DESCRIPTION COMMAND...: one recorded check.
check() {
        local what=$1
        shift
        if "$@" >>/out/check-output.log 2>&1; then ok "$what"; else not_ok "$what"; fi
}

# die MESSAGE: a check that makes the rest of the case meaningless.
die() {
        not_ok "$*"
        finish
}

# wait_until SECONDS COMMAND...: poll every 100 ms; 1 on timeout.
wait_until() {
        local limit=$1 deadline
        shift
        deadline=$(($(date +%s%N) + limit * 1000000000))
        until "$@" >/dev/null 2>&1; do
                [ "$(date +%s%N)" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

# mark NAME / wait_ack NAME SECONDS: hand-shake with the host side of the case.
mark() {
        mkdir -p /out/marks
        touch "/out/marks/$1"
}

wait_ack() {
        wait_until "$2" test -e "/out/acks/$1"
}

# attest_prop NAME: a property of org.attestd.Attest1, value only (strings unquoted).
attest_prop() {
        busctl --system get-property "$ATTEST_DEST" "$ATTEST_PATH" "$ATTEST_IFACE" "$1" |
                sed -e 's/^[a-z]* //' -e 's/^"\(.*\)"$/\1/'
}

# not COMMAND...: for checks that something must fail.
not() {
        ! "$@"
}

job_queued() {
        systemctl list-jobs --no-legend | grep -q " $1 "
}

# state_is STATE: attestd's State property is STATE (re-read on every call, for wait_until).
state_is() {
        [ "$(attest_prop State)" = "$1" ]
}

# unit_state_is UNIT STATE: UNIT's ActiveState is STATE.
unit_state_is() {
        [ "$(unit_prop "$1" ActiveState)" = "$2" ]
}

unit_active() {
        [ "$(systemctl is-active "$1")" = active ]
}

# unit_settled UNIT: active or failed, or inactive with no job left for it (a failed dependency).
unit_settled() {
        case "$(systemctl show -P ActiveState "$1")" in
        active | failed) return 0 ;;
        inactive) ! job_queued "$1" ;;
        *) return 1 ;;
        esac
}

# wait_active UNIT SECONDS: wait until UNIT has settled (so a failure ends the wait at once);
# true if it is active.
wait_active() {
        wait_until "$2" unit_settled "$1"
        unit_active "$1"
}

# unit_status UNIT: "ActiveState/SubState, result Result" for messages.
unit_status() {
        echo "$(unit_prop "$1" ActiveState)/$(unit_prop "$1" SubState), result $(unit_prop "$1" Result)"
}

unit_prop() { # UNIT PROPERTY
        systemctl show -P "$2" "$1"
}

token_present() {
        [ -s /run/attestd/token ]
}

# dump_measured_boot: the firmware's event log and every PCR (sysfs) into /out, for the host's replay
# check (sys_check_replay). securityfs reports size 0, so the copy is what gets judged.
dump_measured_boot() {
        local bank i
        cp /sys/kernel/security/tpm0/binary_bios_measurements /out/eventlog.bin
        sha256sum /out/eventlog.bin | cut -d' ' -f1 >/out/eventlog.sha256
        for bank in sha1 sha256; do
                [ -d /sys/class/tpm/tpm0/pcr-$bank ] || continue
                for i in $(seq 0 23); do
                        echo "$bank $i $(tr A-F a-f </sys/class/tpm/tpm0/pcr-$bank/$i)"
                done
        done >/out/pcrs.txt
}

# finish: save the journal and the unit states for the host, then end the container with the status.
finish() {
        local rc=0
        [ $FAILED -eq 0 ] || rc=1
        [ $CHECKS -gt 0 ] || { echo "not ok - the case made no checks" >>/out/results; rc=1; }
        echo "# $CHECKS checks, $FAILED failed" >>/out/results
        systemctl list-units --all --no-pager 'attest*' >/out/units.txt 2>&1
        journalctl -b --no-pager -o short-monotonic >/out/journal.txt 2>&1
        echo "$rc" >/out/rc
        # The VM has no shared /out: its hook sends the files over a serial port first.
        [ -x /usr/lib/attestd-test/on-finish ] && /usr/lib/attestd-test/on-finish "$rc"
        # In a container nspawn exits with rc; a VM's manager refuses an exit code: power off.
        if systemd-detect-virt --container --quiet; then
                systemctl exit "$rc"
        else
                systemctl poweroff
        fi
        exit "$rc"
}
