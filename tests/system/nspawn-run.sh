#!/bin/bash
# Boots a throw-away overlay of the cached rootfs with systemd as PID 1 (systemd-nspawn), the built
# attestd installed into it, and runs one test case inside; exits with the case's status.
# usage: nspawn-run.sh ROOTFS OUTDIR [--test SCRIPT] [--setup SCRIPT] [--no-install] [--timeout SEC]
#                      [--bind HOSTDIR:DIR]... [--netns PATH]
#
#   --test SCRIPT   run in the container (after guest-lib.sh) by attestd-test-case.service; it ends
#                   the boot with `finish` (systemctl exit N). Without it: boot, report, exit.
#   --setup SCRIPT  run on the host before the boot with ROOT (the container tree) and OUT set.
#   --bind H:D      also bind the host's directory H at D in the container (repeatable).
#   --netns PATH    boot in the network namespace PATH (e.g. /run/netns/NAME, made by the caller)
#                   instead of sharing the host's network; the endpoint must be reachable from it.
# Environment: BUILDDIR (default /work/main/build; a separate $BUILDDIR-nspawn is configured with
# --prefix=/usr --sysconfdir=/etc when BUILDDIR has other paths), SWTPM_DIR (bound at /srv/swtpm),
# EMU_DIR (the MAA emulator's state dir: endpoint and CA go into the config), EVENTLOG.
# OUTDIR gets root/ (the overlay, unmounted at exit), out/ (bound at /out: results, journal.txt).
set -eu
set -o pipefail

SYSTEM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILDDIR=${BUILDDIR:-/work/main/build}

usage() { sed -n '4,12p' "$0" >&2; exit 2; }
log() { echo "[$(date +%T.%3N)] nspawn-run: $*" >&2; }
die() { echo "nspawn-run: $*" >&2; exit 1; }

[ $# -ge 2 ] || usage
ROOTFS=$(readlink -f "$1")
OUT=$(readlink -m "$2")
shift 2
TEST_SCRIPT='' SETUP_SCRIPT='' INSTALL=yes TIMEOUT=180 EXTRA_BINDS=() NET_ARGS=()
while [ $# -gt 0 ]; do
        case $1 in
        --test) TEST_SCRIPT=$(readlink -f "$2"); shift 2 ;;
        --setup) SETUP_SCRIPT=$(readlink -f "$2"); shift 2 ;;
        --no-install) INSTALL=no; shift ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --bind) EXTRA_BINDS+=(--bind="$2"); shift 2 ;;
        --netns) NET_ARGS=(--network-namespace-path="$2"); shift 2 ;;
        *) usage ;;
        esac
done
[ -d "$ROOTFS/usr/lib/systemd" ] || die "$ROOTFS is not a rootfs with systemd (run rootfs.sh)"

. "$SYSTEM_DIR/fixture.sh"
mkdir -p "$OUT/out"
rm -rf "${OUT:?}/out/"*
chmod 1777 "$OUT/out"
trap fixture_tree_done EXIT
fixture_tree "$ROOTFS" "$OUT"
[ $INSTALL = yes ] && fixture_install_build "$OUT"
fixture_users
[ -n "${SWTPM_DIR:-}" ] && fixture_tpm_socket "$SWTPM_DIR"
endpoint=https://127.0.0.1:1
[ -n "${EMU_DIR:-}" ] && endpoint=$(cat "$EMU_DIR/endpoint")
fixture_config "$endpoint" swtpm:path=/srv/swtpm/tpm.sock "${EVENTLOG:-}"
mkdir -p "$ROOT/srv/swtpm"

# The container has no TPM device (the TPM is the host's swtpm on a bound socket), so the
# ConditionSecurity=tpm2 of the shipped unit is reset; everything else is the shipped unit.
mkdir -p "$ROOT/etc/systemd/system/attestd.service.d"
cat >"$ROOT/etc/systemd/system/attestd.service.d/50-nspawn-test.conf" <<'EOF'
[Unit]
ConditionSecurity=
EOF
fixture_units "$TEST_SCRIPT"

if [ -n "$SETUP_SCRIPT" ]; then
        ROOT=$ROOT OUT=$OUT bash "$SETUP_SCRIPT" || die "setup script $SETUP_SCRIPT failed"
fi

# ---- boot: results come back through /out; `systemctl exit N` inside makes nspawn exit N
binds=(--bind="$OUT/out:/out")
[ -n "${SWTPM_DIR:-}" ] && binds+=(--bind="$SWTPM_DIR:/srv/swtpm")
binds+=("${EXTRA_BINDS[@]}")
log "boot (timeout ${TIMEOUT}s)"
t0=$(date +%s%N)
rc=0
timeout --kill-after=10 "$TIMEOUT" systemd-nspawn -q -D "$ROOT" --machine="attestd-test-$$" \
        --boot --register=no --keep-unit --console=pipe "${binds[@]}" "${NET_ARGS[@]}" \
        </dev/null >"$OUT/nspawn.log" 2>&1 || rc=$?
log "container exited with $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
[ $rc -eq 124 ] && die "container did not finish within ${TIMEOUT}s"
# A clean exit without the case's own verdict (say, a poweroff) is not a pass.
[ -f "$OUT/out/rc" ] || die "the case did not run to the end (no /out/rc); see $OUT/out/case.log"
[ "$(cat "$OUT/out/rc")" = "$rc" ] || die "nspawn exited $rc but the case reported $(cat "$OUT/out/rc")"
exit "$rc"
