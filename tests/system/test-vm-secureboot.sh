#!/bin/bash
# Secure Boot on: OVMF with Microsoft's keys boots Debian's signed shim -> grub -> kernel from an ESP
# under a swtpm vTPM. The guest sees Secure Boot enabled and kernel lockdown, the firmware's log
# (now with shim's and grub's measurements) replays to the guest's PCRs, and, once attestd exists,
# its token says secureBootEnabled: true.
. "$(dirname "$0")/lib.sh"
sys_init
need_cmd mkfs.vfat mcopy mmd
with_attestd=yes install_opt=
( sys_need_daemon ) >/dev/null 2>&1 || { with_attestd=no install_opt=--no-install; }
[ $with_attestd = yes ] && sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
# efivarfs is a module the initramfs lacks; the kernel reports what the firmware told it.
check "the kernel found Secure Boot enabled" sh -c 'journalctl -k -b | grep -q "secureboot: Secure boot enabled"'
note "kernel lockdown: $(cat /sys/kernel/security/lockdown)"
check "the kernel is locked down (as it is when Secure Boot verified it)" \
        grep -Eq '\[(integrity|confidentiality)\]' /sys/kernel/security/lockdown
dump_measured_boot
check "the firmware wrote an event log" test -s /out/eventlog.bin
if [ -x /usr/libexec/attestd ]; then
        wait_active attested-consumer.service 300 ||
                die "the consumer did not start within 300 s: $(unit_status attested-consumer.service)"
        ok "the consumer ran after attested.target"
        check "State is attested" test "$(attest_prop State)" = attested
        cp /run/attestd/token /out/token
fi
EOF

sys_vm_run "$T/guest.sh" --secure-boot $install_opt || fail "checks failed inside the VM"
sys_check_replay "$OUT/out"
tpm2_eventlog "$OUT/out/eventlog.bin" >"$T/eventlog.yaml"
grep -q 'UnicodeName: SecureBoot' "$T/eventlog.yaml" || fail "the log has no SecureBoot variable measurement"
grep -Eq 'EV_EFI_BOOT_SERVICES_APPLICATION' "$T/eventlog.yaml" || fail "the log has no boot application (shim, grub) measurement"
apps=$(grep -c 'EV_EFI_BOOT_SERVICES_APPLICATION' "$T/eventlog.yaml")
if [ $with_attestd = yes ]; then
        sys_verify_jwt "$OUT/out/token"
        jwt_payload "$OUT/out/token" | tr -d ' \n' | grep -q '"secureBootEnabled":true' ||
                fail "the token does not claim secureBootEnabled: true"
        pass "shim -> grub -> kernel, $apps boot applications measured, $REPLAYED PCR values replay; token secureBootEnabled: true"
fi
pass "shim -> grub -> kernel, $apps boot applications measured, $REPLAYED PCR values replay (attestd part not run: no daemon with D-Bus yet)"
