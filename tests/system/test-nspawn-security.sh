#!/bin/bash
# The hardened unit really runs: attestd.service as shipped (only ConditionSecurity reset, the TPM
# being a socket here) reaches the TPM, the event log and the network and gets a token; the
# `systemd-analyze security` exposure score is printed.
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
sys_start_swtpm
sys_start_emulator

cat >"$T/guest.sh" <<'EOF'
wait_active attested-consumer.service 90 ||
        die "the consumer did not start within 90 s: $(unit_status attested-consumer.service)"
check "the sandboxed attestd obtained a token" token_present
check "attestd.service restarted 0 times" test "$(unit_prop attestd.service NRestarts)" = 0
journalctl -b --no-pager -u attestd.service >/out/attestd-journal.txt
check "no sandbox set-up failure (status 2xx) in attestd's journal" \
        sh -c '! grep -Eq "status=2[0-9][0-9]/|Failed at step" /out/attestd-journal.txt'
systemd-analyze security --no-pager attestd.service >/out/security.txt 2>&1; rc=$?
check "systemd-analyze security ran" test $rc -eq 0
check "it printed an overall exposure level" grep -q 'Overall exposure level for attestd.service' /out/security.txt
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
score=$(grep 'Overall exposure level' "$OUT/out/security.txt" | sed 's/^[^O]*//')
echo "    systemd-analyze security (inside the container): $score"
pass "${score:-no score}"
