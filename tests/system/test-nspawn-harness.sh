#!/bin/bash
# The nspawn harness itself, without attestd: systemd is PID 1 in the container, the host's swtpm
# (holding the replayed firmware log) and the MAA emulator (TLS with the test CA) are reachable,
# the fixture (token group, reader, units) is in place, and `systemctl exit` carries the verdict.
. "$(dirname "$0")/lib.sh"
sys_init
sys_start_swtpm
sys_start_emulator

# Values the container must see, embedded into its script.
pcr0=$(eventlog_replayed "$EVENTLOG" sha256 | awk '$1 == 0 { print $2 }')
pcr7=$(eventlog_replayed "$EVENTLOG" sha256 | awk '$1 == 7 { print $2 }')
endpoint=$(cat "$EMU_DIR/endpoint")
# Install only a completed build: the harness must work before the daemon does.
installed=no install_opt=--no-install
[ -x "$BUILDDIR/attestd" ] && [ -x "$BUILDDIR/attestctl" ] && installed=yes install_opt=
cat >"$T/guest.sh" <<EOF
check "systemd is PID 1" test "\$(cat /proc/1/comm)" = systemd
check "the system bus answers" busctl --system status org.freedesktop.systemd1
pcr() { tpm2_pcrread "sha256:\$1" | awk '/0x/ { v = \$3; sub(/^0x/, "", v); print tolower(v) }'; }
check "swtpm over the bound socket: PCR 0 is the replayed log's" test "\$(pcr 0)" = "$pcr0"
check "swtpm over the bound socket: PCR 7 is the replayed log's" test "\$(pcr 7)" = "$pcr7"
check "host emulator over TLS with the test CA" \
        sh -c 'curl -sSf --cacert /etc/attestd/test-ca.pem $endpoint/.well-known/openid-configuration | grep -q "\"issuer\""'
check "the emulator's TLS certificate is refused without the test CA" \
        sh -c '! curl -sS $endpoint/.well-known/openid-configuration'
check "token group and reader exist" sh -c 'id -nG tokenreader | grep -qw attestd-token'
check "the config names the swtpm and the emulator" \
        sh -c 'grep -qx "TCTI=swtpm:path=/srv/swtpm/tpm.sock" /etc/attestd/attestd.conf && grep -qx "Endpoint=$endpoint" /etc/attestd/attestd.conf'
if [ $installed = yes ]; then
        check "installed attestctl runs (its libraries are in the rootfs)" /usr/bin/attestctl --version
        check "installed attestd resolves its libraries" sh -c '! ldd /usr/libexec/attestd | grep -q "not found"'
        check "attestd.service is installed with the test drop-in" \
                sh -c 'systemctl cat attestd.service | grep -q 50-nspawn-test.conf'
        check "attested.target and attestd-wait.service are installed" \
                systemctl cat attested.target attestd-wait.service
        check "the D-Bus policy is installed" test -f /usr/share/dbus-1/system.d/org.attestd.Attest1.conf
        check "the shipped sandbox lets a process reach the swtpm, the event log, the emulator and /run/attestd" \
                systemctl start attestd-sandbox-probe.service
        journalctl -b --no-pager -u attestd-sandbox-probe.service >/out/sandbox-probe.txt
else
        note "no build in $BUILDDIR: install checks skipped"
fi
EOF

# The shipped unit's sandbox ([Unit] and [Service] minus what makes it attestd) around a probe that
# needs what attestd needs, so a sandboxing option that breaks TPM, log or network shows up now.
cat >"$T/setup.sh" <<EOF
unit=\$ROOT/usr/lib/systemd/system/attestd.service
[ -f "\$unit" ] || exit 0
sed -e '/^\[Install\]/,\$d' -e '/^Condition/d' \\
        -e '/^\(Type\|NotifyAccess\|BusName\|ExecStart\|ExecReload\|Restart\|RestartSec\|WatchdogSec\)=/d' \\
        -e 's|^\[Service\]\$|[Service]\nType=oneshot\nExecStart=/usr/lib/attestd-test/sandbox-probe|' \\
        "\$unit" >"\$ROOT/etc/systemd/system/attestd-sandbox-probe.service"
cat >"\$ROOT/usr/lib/attestd-test/sandbox-probe" <<'EOP'
#!/bin/sh
set -e
tpm2_pcrread -T swtpm:path=/srv/swtpm/tpm.sock sha256:0
head -c 64 /etc/attestd/test-eventlog.bin >/dev/null
curl -sSf --cacert /etc/attestd/test-ca.pem -o /dev/null $endpoint/certs
echo probe >/run/attestd/sandbox-probe
echo SANDBOX-PROBE-OK
EOP
chmod 0755 "\$ROOT/usr/lib/attestd-test/sandbox-probe"
EOF

sys_boot_start "$T/guest.sh" $install_opt --setup "$T/setup.sh"
sys_boot_wait || fail "checks failed inside the container"
pass "$(grep -c '^ok' "$OUT/out/results") checks"
