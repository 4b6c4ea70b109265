#!/bin/bash
# A real measured boot (OVMF + swtpm vTPM + QEMU TCG): the guest reports the event log its firmware
# wrote and its PCRs (sysfs), and the host's replay of that log (tpm2_eventlog) must give exactly
# those PCRs. Also proves the guest reaches the host's MAA emulator over TLS.
. "$(dirname "$0")/lib.sh"
sys_init
sys_start_emulator
endpoint=$(cat "$EMU_DIR/endpoint")

cat >"$T/guest.sh" <<EOF
check "systemd is PID 1" test "\$(cat /proc/1/comm)" = systemd
dump_measured_boot
check "the firmware wrote an event log" test -s /out/eventlog.bin
note "event log: \$(stat -c %s /out/eventlog.bin) bytes, sha256 \$(cat /out/eventlog.sha256)"
check "48 PCR values read from sysfs" test "\$(grep -Ec '^sha(1|256) [0-9]+ [0-9a-f]+$' /out/pcrs.txt)" -eq 48
pcr7_sysfs=\$(awk '\$1 == "sha256" && \$2 == 7 { print \$3 }' /out/pcrs.txt)
pcr7_tpm=\$(tpm2_pcrread sha256:7 | awk '/0x/ { v = \$3; sub(/^0x/, "", v); print tolower(v) }')
check "tpm2_pcrread over /dev/tpmrm0 agrees with sysfs (PCR 7)" test "\$pcr7_tpm" = "\$pcr7_sysfs"
cat /out/pcrs.txt >/dev/ttyS0
fetch() { curl -sSf --max-time 5 --cacert /etc/attestd/test-ca.pem $endpoint/.well-known/openid-configuration; }
if wait_until 60 fetch; then ok "the guest reaches the host's emulator at $endpoint over TLS"
else not_ok "the guest cannot reach $endpoint: \$(fetch 2>&1)"; fi
EOF

sys_vm_run "$T/guest.sh" --no-install || fail "checks failed inside the VM"
sys_check_replay "$OUT/out"
echo "    replay of the firmware log (sha256):"
eventlog_replayed "$OUT/out/eventlog.bin" sha256 | sed 's/^/      PCR /'
pass "$REPLAYED PCR values (sha1 + sha256) replayed from the firmware's log match the guest's TPM"
