#!/bin/bash
# The Debian packages, as an operator installs them: the .debs that scripts/build-deb builds from
# this tree (reused when the sources have not changed) go into a throw-away overlay of the cached
# rootfs with `apt install ./attestd_*.deb ./attestd-emulator_*.deb` while it runs systemd, and
# (a) with no TPM attestd.service is enabled but skipped by ConditionSecurity=tpm2, not failed;
# (b) with the host's swtpm (the condition reset by a drop-in, the TPM being a socket here) and
#     the host's emulator, the installed attestd, run as the user the package's sysusers.d made,
#     attests and a consumer with Requires=/After=attested.target starts;
# (c) attestd-emulator's commands run from /usr/bin: the emulator serves, maa-policy-check
#     judges the request attestd sent with the shipped policies;
# (d) `apt purge` of both leaves the tree as it was: the file lists before install and after
#     purge are equal but for the named exceptions (apt's own caches; and the system user
#     attestd, which Debian keeps, in /etc/passwd and group).
. "$(dirname "$0")/lib.sh"
sys_init
sys_need_daemon
need_cmd dpkg-buildpackage dh systemd-nspawn
command -v dh_python3 >/dev/null || skip "dh-python is not installed (scripts/setup installs it)"
t_start=$(date +%s)

DEBS=$BUILDDIR/debs
"$TOP_SRCDIR/scripts/build-deb" "$DEBS" >"$T/build-deb.log" 2>&1 ||
        fail "scripts/build-deb failed: $(tail -n 20 "$T/build-deb.log")"
log "$(tail -n 1 "$T/build-deb.log")"
t_debs=$(date +%s)
ROOTFS_PKG=$("$SYSTEM_DIR/rootfs-pkg.sh" "$CACHE_DIR") || fail "could not build the rootfs with the packages' dependencies"

sys_start_swtpm
mkdir -p "$T/record"
sys_start_emulator --record "$T/record"

# Host side, before the boot: the fixture's attestd configuration and the drop-in that resets the
# unit's TPM condition are put aside (the guest installs them after the package), so the tree
# holds nothing of attestd when the case starts, and the .debs are offered at /srv/debs.
cat >"$T/setup.sh" <<'EOF'
set -e
mkdir -p "$ROOT/srv/attestd-test" "$ROOT/srv/debs"
mv "$ROOT/etc/attestd" "$ROOT/srv/attestd-test/etc-attestd"
mv "$ROOT/etc/systemd/system/attestd.service.d" "$ROOT/srv/attestd-test/attestd.service.d"
EOF

cat >"$T/guest.sh" <<'EOF'
export DEBIAN_FRONTEND=noninteractive
# The tree's files, with type and owner: what a package may add, remove or leave behind.
# Not: the API file systems and tmpfs (/proc /sys /dev /run /tmp), the test's own binds.
snapshot() {
        find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
                -o -path /out -o -path /srv -o -path /var/tmp \) -prune -o -printf '%p %y %u:%g\n' |
                LC_ALL=C sort
}
snapshot >/out/files-before
check "nothing of attestd is installed before the case" not test -e /usr/libexec/attestd -o -e /etc/attestd

# ---- install
t0=$(date +%s%N)
apt-get install -y -q --no-install-recommends /srv/debs/attestd_*.deb /srv/debs/attestd-emulator_*.deb \
        >/out/apt-install.log 2>&1
rc=$?
note "apt install took $((($(date +%s%N) - t0) / 1000000)) ms"
check "apt install ./attestd_*.deb ./attestd-emulator_*.deb succeeded" test $rc -eq 0
[ $rc -eq 0 ] || die "install failed: $(tail -n 5 /out/apt-install.log)"
check "dpkg knows attestd as installed" sh -c 'dpkg-query -W -f="\${Status}" attestd | grep -qx "install ok installed"'
check "the conffile is /etc/attestd/attestd.conf" sh -c 'dpkg-query -W -f="\${Conffiles}" attestd | grep -q "/etc/attestd/attestd.conf "'
check "the package's sysusers.d made user attestd, in tss and attestd-token" \
        sh -c 'id -nG attestd | grep -qw tss && id -nG attestd | grep -qw attestd-token'
check "attestd.service is enabled" test "$(systemctl is-enabled attestd.service)" = enabled
check "attestd-wait.service is enabled" test "$(systemctl is-enabled attestd-wait.service)" = enabled
systemctl disable --quiet attestd.service attestd-wait.service
systemctl preset --quiet attestd.service attestd-wait.service
check "the preset file enables both again after a disable" \
        test "$(systemctl is-enabled attestd.service attestd-wait.service | sort -u)" = enabled
check "the installation did not start attestd (no Endpoint= yet)" \
        test "$(unit_prop attestd.service ConditionTimestampMonotonic)" = 0
check "the interface XML is installed" grep -q '<interface name="org.attestd.Attest1">' \
        /usr/share/dbus-1/interfaces/org.attestd.Attest1.xml
check "the journal catalog knows attestd's messages" \
        sh -c 'journalctl --list-catalog | grep -q 6e1f1c2a9c7e4b0f8d4b5d3a2f60a101'
check "the man pages are installed" test -f /usr/share/man/man8/attestd.8.gz -a -f /usr/share/man/man1/maa-emulator.1.gz

# ---- (a) no TPM here: started as a boot would start it, attestd.service is skipped, not failed
systemctl start attestd.service
rc=$?
check "systemctl start attestd.service without a TPM returns 0" test $rc -eq 0
check "ConditionResult=no" test "$(unit_prop attestd.service ConditionResult)" = no
check "attestd.service is inactive (dead), result success" \
        test "$(unit_status attestd.service)" = "inactive/dead, result success"
check "attestd.service is not failed" not systemctl is-failed --quiet attestd.service
check "the journal says the TPM condition skipped it" sh -c \
        'journalctl -b -u attestd.service --no-pager | grep -q "unmet condition check (ConditionSecurity=tpm2)"'
check "no unit failed" test -z "$(systemctl list-units --failed --no-legend --plain)"

# ---- (b) the host's swtpm and emulator: the installed attestd attests, the consumer starts
cp -a /srv/attestd-test/etc-attestd/test-ca.pem /srv/attestd-test/etc-attestd/test-eventlog.bin /etc/attestd/
mkdir -p /etc/attestd/attestd.conf.d /etc/systemd/system/attestd.service.d
cp /srv/attestd-test/etc-attestd/attestd.conf /etc/attestd/attestd.conf.d/50-test.conf
cp /srv/attestd-test/attestd.service.d/* /etc/systemd/system/attestd.service.d/
systemctl daemon-reload
systemctl start --no-block attested-consumer.service
wait_active attested-consumer.service 90 ||
        not_ok "the consumer did not start within 90 s: $(unit_status attested-consumer.service)"
check "the consumer found the token at its start" test "$(cat /out/consumer-token-at-start 2>/dev/null)" = present
check "attested.target is active" unit_active attested.target
check "State is attested" test "$(attest_prop State)" = attested
check "the installed daemon runs as user attestd" test "$(ps -o user= -p "$(unit_prop attestd.service MainPID)")" = attestd
check "the token is attestd:attestd-token 0640" test "$(stat -c '%U:%G %a' /run/attestd/token)" = "attestd:attestd-token 640"
cp /run/attestd/token /out/token 2>/dev/null

# ---- (c) attestd-emulator from /usr/bin
check "maa-emulator --help" sh -c 'maa-emulator --help | grep -q -- --state-dir'
check "maa-emulator-ctl --help" sh -c 'maa-emulator-ctl --help | grep -q wait-ready'
check "maa-policy-check --help" sh -c 'maa-policy-check --help | grep -q RECORD'
maa-emulator --state-dir /tmp/emu --quiet --policy /usr/share/attestd-emulator/policies/test-default.policy &
emu=$!
check "the installed emulator becomes ready" maa-emulator-ctl /tmp/emu wait-ready 20
check "it serves /certs over TLS with its CA" \
        sh -c 'curl -sSf --cacert /tmp/emu/ca.pem "$(cat /tmp/emu/endpoint)/certs" | grep -q x5c'
check "maa-emulator-ctl info says a policy is set" sh -c 'maa-emulator-ctl /tmp/emu info | grep -q "\"policy_set\": true"'
maa-emulator-ctl /tmp/emu shutdown >/dev/null 2>&1
wait "$emu"
check "it stops cleanly on shutdown" test $? -eq 0
rm -rf /tmp/emu
# The request attestd sent, recorded by the host's emulator: judged by the shipped policies.
maa-policy-check /usr/share/attestd-emulator/policies/test-default.policy /srv/record \
        >/out/policy-check-default.json 2>/out/policy-check-default.err
check "maa-policy-check permits attestd's request with the emulator's test policy" test $? -eq 0
check "and prints the claims (secureBootEnabled false: the OVMF log's Secure Boot is off)" \
        grep -q '"secureBootEnabled": false' /out/policy-check-default.json
maa-policy-check /usr/share/attestd/policies/linux-bare-metal.policy /srv/record \
        >/out/policy-check-bare-metal.json 2>/out/policy-check-bare-metal.err
check "maa-policy-check: linux-bare-metal.policy denies it (exit 1), Secure Boot being off" test $? -eq 1
check "naming the reason" grep -q 'no authorization rule issued permit()' /out/policy-check-bare-metal.err

# ---- (d) purge: the test's own files go first, then the packages
rm -f /etc/attestd/attestd.conf.d/50-test.conf /etc/attestd/test-ca.pem /etc/attestd/test-eventlog.bin
rm -rf /etc/systemd/system/attestd.service.d
t0=$(date +%s%N)
apt-get purge -y -q attestd attestd-emulator >/out/apt-purge.log 2>&1
rc=$?
note "apt purge took $((($(date +%s%N) - t0) / 1000000)) ms"
check "apt purge attestd attestd-emulator succeeded" test $rc -eq 0
systemctl daemon-reload
check "attestd.service is gone" sh -c '! systemctl cat attestd.service >/dev/null 2>&1'
check "no attestd process is left" not pgrep -u attestd
check "/run/attestd is gone" not test -e /run/attestd
check "/etc/attestd is gone" not test -e /etc/attestd
check "the journal catalog no longer has attestd's messages" \
        sh -c '! journalctl --list-catalog | grep -q 6e1f1c2a9c7e4b0f8d4b5d3a2f60a101'
check "no unit failed" test -z "$(systemctl list-units --failed --no-legend --plain)"
check "user attestd is kept, as Debian does with system users" id attestd
snapshot >/out/files-after
# What changed, less the exceptions, which are apt's own: its package caches (pkgcache.bin,
# srcpkgcache.bin; the rootfs is built without them) and lists/auxfiles (where apt keeps the
# .debs named on its command line). /etc/passwd, group, shadow and gshadow change in content
# only (the kept user attestd), which a file list does not show.
diff /out/files-before /out/files-after | sed -n 's/^\([<>]\) /\1 /p' >/out/files-diff
grep -Ev '^> (/var/cache/apt/(src)?pkgcache\.bin f|/var/lib/apt/lists/auxfiles d) ' /out/files-diff >/out/files-left
check "purge leaves nothing behind: the file lists differ only by the named exceptions" test ! -s /out/files-left
[ -s /out/files-left ] && note "left behind or removed: $(head -n 20 /out/files-left | tr '\n' ' ')"
note "the named exceptions seen: $(grep -c . /out/files-diff) ($(cut -d' ' -f2 /out/files-diff | tr '\n' ' '))"
EOF

# As sys_boot_start, but on the tree with the packages' dependencies, and without make install.
OUT=$T/nspawn
"$SYSTEM_DIR/nspawn-run.sh" "$ROOTFS_PKG" "$OUT" --test "$T/guest.sh" --no-install --setup "$T/setup.sh" \
        --bind "$DEBS:/srv/debs" --bind "$T/record:/srv/record" >"$T/nspawn-run.log" 2>&1 &
NSPAWN_PID=$!
sys_boot_wait || fail "checks failed inside the container"
sys_verify_jwt "$OUT/out/token"
t_end=$(date +%s)
echo "    durations: packages $((t_debs - t_start)) s, the rest $((t_end - t_debs)) s"
pass "$(grep -c '^ok' "$OUT/out/results") checks; installed, attested, purged clean"
