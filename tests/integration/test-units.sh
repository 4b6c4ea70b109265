# The installed units: systemd-analyze verify prints nothing for each, paths are substituted, the
# service runs as user attestd with no capabilities and a private /dev holding only the TPM, its
# exposure score is at most 1.5 (1.4 with AF_NETLINK for the network watch), and the
# sysusers.d file that creates the user and its groups is installed.
need_cmd systemd-analyze
stage="$TEST_TMPDIR/stage"
make -C "$top_builddir" install DESTDIR="$stage" >"$TEST_TMPDIR/install.log" 2>&1 || fail "make install failed"
unitdir=$(dirname "$(find "$stage" -name attestd.service | head -n 1)")
[ -d "$unitdir" ] || fail "attestd.service was not installed"

# verify resolves ExecStart= on the host: point the copies at the staged binaries.
mkdir -p "$TEST_TMPDIR/units"
for u in attestd.service attestd-wait.service attested.target; do
        [ -f "$unitdir/$u" ] || fail "$u was not installed"
        grep -q '@[a-z]*@' "$unitdir/$u" && fail "$u has unsubstituted @variables@"
        sed -e "s|ExecStart=/|ExecStart=$stage/|" "$unitdir/$u" >"$TEST_TMPDIR/units/$u"
done
for u in attestd.service attestd-wait.service attested.target; do
        out=$(cd "$TEST_TMPDIR/units" && systemd-analyze verify --man=no "$u" 2>&1)
        [ -z "$out" ] || fail "systemd-analyze verify $u: $out"
done
score=$(systemd-analyze security --offline=true "$TEST_TMPDIR/units/attestd.service" 2>&1 | grep 'Overall exposure')
echo "$score"
systemd-analyze security --offline=true --threshold=15 "$TEST_TMPDIR/units/attestd.service" >/dev/null 2>&1 ||
        fail "exposure above 1.5: $score"

# Unprivileged: its own user, an empty capability bounding set, no ambient capabilities.
svc="$unitdir/attestd.service"
grep -qx 'User=attestd' "$svc" || fail "attestd.service does not run as User=attestd"
caps=$(grep '^CapabilityBoundingSet=' "$svc") || fail "attestd.service sets no CapabilityBoundingSet="
assert_eq "$caps" "CapabilityBoundingSet=" "attestd.service's capabilities"
grep -q '^AmbientCapabilities=.' "$svc" && fail "attestd.service grants ambient capabilities"
grep -q '^LoadCredential=eventlog:/sys/kernel/security/tpm0/binary_bios_measurements$' "$svc" ||
        fail "attestd.service does not pass the firmware event log as a credential"

# The user, its groups (tss for /dev/tpmrm0, attestd-token for TokenGroup=), where systemd finds it.
sysusersdir=$(pkg-config --variable=sysusersdir systemd 2>/dev/null || echo /usr/lib/sysusers.d)
sysusers="$stage$sysusersdir/attestd.conf"
[ -f "$sysusers" ] || fail "sysusers.d/attestd.conf was not installed in $sysusersdir"
for line in '^u attestd ' '^g attestd-token ' '^m attestd tss$' '^m attestd attestd-token$'; do
        grep -Eq "$line" "$sysusers" || fail "sysusers.d/attestd.conf has no line matching '$line'"
done
if command -v systemd-sysusers >/dev/null; then
        root="$TEST_TMPDIR/sysroot"
        mkdir -p "$root/etc"
        systemd-sysusers --root="$root" "$sysusers" >"$TEST_TMPDIR/sysusers.log" 2>&1 ||
                fail "systemd-sysusers refused attestd.conf: $(cat "$TEST_TMPDIR/sysusers.log")"
        grep -q '^attestd:' "$root/etc/passwd" || fail "systemd-sysusers created no user attestd"
        grep -Eq '^attestd-token:x:[0-9]+:attestd$' "$root/etc/group" || fail "attestd is not in attestd-token"
        grep -Eq '^tss:x:[0-9]+:attestd$' "$root/etc/group" || fail "attestd is not in tss"
fi

# Everything else lands where a distribution expects it.
for f in attestctl attestd attestd.conf org.attestd.Attest1.conf attestd.8 attestd.conf.5 attestctl.1 \
                80-attestd.preset org.attestd.Attest1.xml linux-secure-boot.policy linux-bare-metal.policy; do
        [ -n "$(find "$stage" -name "$f")" ] || fail "$f was not installed"
done
echo "ok: units verify cleanly, attestd.service runs as attestd without capabilities; $score"
