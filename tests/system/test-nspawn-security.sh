#!/bin/bash
# The hardened unit really runs: attestd.service as shipped (only ConditionSecurity reset, the TPM
# being a socket here) runs as user attestd (created by systemd-sysusers at install) with no
# capabilities, reaches the TPM through group tss, the event log and the network, and gets a
# token that is attestd:attestd-token 0640: the reader in attestd-token reads it, nobody else
# does. `systemd-analyze security` rates the exposure at most 1.5.
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
check "the exposure is at most 1.5" systemd-analyze security --no-pager --threshold=15 attestd.service

# Its own user, no capabilities.
uid=$(id -u attestd)
pid=$(unit_prop attestd.service MainPID)
check "systemd runs attestd.service as User=attestd" test "$(unit_prop attestd.service User)" = attestd
check "systemctl show -p UID is attestd's uid ($uid)" test "$(unit_prop attestd.service UID)" = "$uid"
check "ps shows the daemon as user attestd" test "$(ps -o user= -p "$pid")" = attestd
check "the daemon's real, effective, saved and fs uids are attestd's" \
        test "$(awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }' "/proc/$pid/status")" = "$uid $uid $uid $uid"
check "the daemon has no effective capabilities" grep -qx 'CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status"
check "the daemon has no bounding capabilities" grep -qx 'CapBnd:[[:space:]]*0000000000000000' "/proc/$pid/status"
groups=" $(sed -n 's/^Groups:[[:space:]]*//p' "/proc/$pid/status") "
check "the daemon is in group tss" sh -c "echo '$groups' | grep -q ' $(getent group tss | cut -d: -f3) '"
check "the daemon is in group attestd-token" sh -c "echo '$groups' | grep -q ' $(getent group attestd-token | cut -d: -f3) '"

# The files: the runtime directory and the token belong to attestd; the token is for attestd-token.
check "/run/attestd belongs to attestd" test "$(stat -c %U /run/attestd)" = attestd
check "the token is attestd:attestd-token 0640" test "$(stat -c '%U:%G %a' /run/attestd/token)" = "attestd:attestd-token 640"
check "token.json is attestd:attestd-token 0640" test "$(stat -c '%U:%G %a' /run/attestd/token.json)" = "attestd:attestd-token 640"
check "a member of attestd-token (tokenreader) reads the token" runuser -u tokenreader -- cat /run/attestd/token
check "another user (nobody) cannot read the token" not runuser -u nobody -- cat /run/attestd/token
EOF

sys_boot_start "$T/guest.sh"
sys_boot_wait || fail "checks failed inside the container"
score=$(grep 'Overall exposure level' "$OUT/out/security.txt" | sed 's/^[^O]*//')
echo "    systemd-analyze security (inside the container): $score"
pass "${score:-no score}"
