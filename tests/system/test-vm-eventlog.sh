#!/bin/bash
# A real measured boot (OVMF + swtpm vTPM + QEMU TCG): the guest reports the event log its firmware
# wrote and its PCRs (sysfs), and the host's replay of that log (tpm2_eventlog) must give exactly
# those PCRs. Also proves the guest reaches the host's MAA emulator over TLS.
. "$(dirname "$0")/lib.sh"
sys_init
sys_start_emulator
endpoint=$(cat "$EMU_DIR/endpoint")

cat >"$T/guest.sh" <<EOF
log=/sys/kernel/security/tpm0/binary_bios_measurements
check "systemd is PID 1" test "\$(cat /proc/1/comm)" = systemd
# securityfs reports size 0: judge the copy.
cp \$log /out/eventlog.bin
check "the firmware wrote an event log" test -s /out/eventlog.bin
sha256sum \$log | cut -d' ' -f1 >/out/eventlog.sha256
note "event log: \$(stat -c %s /out/eventlog.bin) bytes, sha256 \$(cat /out/eventlog.sha256)"
for bank in sha1 sha256; do
        for i in \$(seq 0 23); do
                echo "\$bank \$i \$(tr A-F a-f </sys/class/tpm/tpm0/pcr-\$bank/\$i)"
        done
done >/out/pcrs.txt
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

# The host's side: the log arrived intact, and its replay is what the guest's TPM holds.
got=$(sha256sum "$OUT/out/eventlog.bin" | cut -d' ' -f1)
[ "$got" = "$(cat "$OUT/out/eventlog.sha256")" ] || fail "event log damaged in transfer"
checked=0
for bank in sha1 sha256; do
        while read -r pcr want; do
                have=$(awk -v b=$bank -v i="$pcr" '$1 == b && $2 == i { print $3 }' "$OUT/out/pcrs.txt")
                [ "$have" = "$want" ] || fail "PCR $pcr ($bank): guest TPM has $have, replay of its log gives $want"
                checked=$((checked + 1))
        done < <(eventlog_replayed "$OUT/out/eventlog.bin" $bank)
done
for pcr in 0 1 2 3 4 5 6 7; do
        eventlog_replayed "$OUT/out/eventlog.bin" sha256 | grep -q "^$pcr " ||
                fail "the firmware log never extends PCR $pcr"
done
echo "    replay of the firmware log (sha256):"
eventlog_replayed "$OUT/out/eventlog.bin" sha256 | sed 's/^/      PCR /'
pass "$checked PCR values (sha1 + sha256) replayed from the firmware's log match the guest's TPM"
