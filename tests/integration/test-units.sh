# The installed units: systemd-analyze verify prints nothing for each, paths are substituted, and
# the service's exposure score stays low (printed for the record).
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
systemd-analyze security --offline=true --threshold=30 "$TEST_TMPDIR/units/attestd.service" >/dev/null 2>&1 ||
        fail "exposure above 3.0: $score"

# Everything else lands where a distribution expects it.
for f in attestctl attestd attestd.conf org.attestd.Attest1.conf attestd.8 attestd.conf.5 attestctl.1; do
        [ -n "$(find "$stage" -name "$f")" ] || fail "$f was not installed"
done
echo "ok: units verify cleanly; $score"
