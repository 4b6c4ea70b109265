# timeout: 900
# attestd under a real systemd PID 1 (systemd-nspawn): unit ordering on attested.target, the
# emulator late or down, the network late (a private netns), busctl/attestctl inside,
# reload/restart, the hardened unit really running.
# The cases are tests/system/test-nspawn-*.sh (see tests/system/README.md); the first run builds
# the cached Debian rootfs (1-4 min), later runs take about a minute.
[ -z "${ATTESTD_NO_SYSTEM_TESTS:-}" ] || skip "ATTESTD_NO_SYSTEM_TESTS is set (a package build: debian/rules)"
[ "$(id -u)" = 0 ] || skip "systemd-nspawn needs root"
need_cmd systemd-nspawn debootstrap
bash "$top_srcdir/tests/system/run-system-tests.sh" "$top_builddir" "$top_srcdir"/tests/system/test-nspawn-*.sh
