#!/bin/bash
# Builds (once, cached) the Debian 12 minbase rootfs that the nspawn and VM system tests boot.
# usage: rootfs.sh [CACHE_DIR]   (default /var/cache/attestd-tests); prints the rootfs path.
# Rebuilt only when the package list changes: CACHE_DIR/rootfs.stamp holds a hash of it.
set -eu
set -o pipefail

CACHE_DIR=${1:-${ATTESTD_TEST_CACHE:-/var/cache/attestd-tests}}
BUILDDIR=${BUILDDIR:-/work/main/build}
SUITE=bookworm
# Bump when the way the tree is post-processed changes, so caches built the old way are redone.
LAYOUT_VERSION=1

log() { echo "[$(date +%T)] rootfs: $*" >&2; }
die() { echo "rootfs: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

# What the daemon, the CLI, the tests and the probes need at run time. libtss2-esys-3.0.2-0 is
# tpm2-tss 3.2's ESAPI; tpm2-tools does the in-guest extends and reads; curl probes the emulator.
# The VM also needs udev + kmod (the NIC module; networkd waits for udev outside containers) and
# iproute2; in nspawn they stay idle (systemd-udevd needs a writable /sys). procps: /bin/kill, which
# unit files (attestd's ExecReload=) expect as on any standard Debian system.
BASE_PACKAGES="systemd systemd-sysv dbus udev kmod iproute2 procps ca-certificates curl tpm2-tools
libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-tcti-swtpm0 libtss2-tcti-device0 libtss2-mu0
libtss2-rc0 libcurl4 libjson-c5 libssl3 libsystemd0"

# The mirror this machine is configured with: deb822 sources first, then one-line ones.
# Only active files (*.sources / *.list), only entries that carry Debian's own suite.
debian_mirror() {
        local f m
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                m=$(awk -v suite="$SUITE" '
                        /^[ \t]*$/ { if (uri != "" && has) { print uri; exit } uri = ""; has = 0; next }
                        /^URIs:/ { uri = $2 }
                        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
                        END { if (uri != "" && has) print uri }' "$f" | head -n1)
                [ -n "$m" ] && { echo "$m"; return 0; }
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -f "$f" ] || continue
                m=$(sed -E 's/\[[^]]*\]//' "$f" |
                        awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }')
                [ -n "$m" ] && { echo "$m"; return 0; }
        done
        return 1
}

# Runtime packages of the built binaries (ldd → owning package), so a new library dependency of
# attestd lands in the rootfs without editing the list above.
binary_packages() {
        local bin lib paths=()
        for bin in "$BUILDDIR/attestd" "$BUILDDIR/attestctl"; do
                [ -x "$bin" ] || continue
                for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
                        # dpkg knows a library by one of its merged-/usr spellings.
                        paths+=("$lib" "$(readlink -f "$lib")")
                        case $lib in
                        /usr/*) paths+=("${lib#/usr}") ;;
                        *) paths+=("/usr$lib") ;;
                        esac
                done
        done
        [ ${#paths[@]} -gt 0 ] || return 0
        # One dpkg -S for all (it reads every file list once): "pkg:arch, pkg2:arch: /path".
        { dpkg -S "${paths[@]}" 2>/dev/null || true; } | sed 's/: \/.*//' | tr ',' '\n' | sed 's/^ *//; s/:.*//' | sort -u
}

# The stamp covers the fixed list; the binaries' packages are checked against the tree's own dpkg
# database, so a new link dependency adds to the tree while a changed link order does not rebuild it.
base=$(printf '%s\n' $BASE_PACKAGES | sort -u)
stamp_want=$(printf 'layout=%s suite=%s packages=%s\n' "$LAYOUT_VERSION" "$SUITE" "$(echo $base)" |
        sha256sum | cut -d' ' -f1)
extra=$(binary_packages | sort -u | comm -23 - <(echo "$base"))

installed() { # PACKAGE...: all installed in the cached tree
        local p
        for p in "$@"; do
                grep -qx "Package: $p" "$CACHE_DIR/rootfs/var/lib/dpkg/status" || return 1
        done
}

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/rootfs.lock"
flock 9     # parallel test runs share one build

# shellcheck disable=SC2086
if [ -d "$CACHE_DIR/rootfs" ] && [ "$(cat "$CACHE_DIR/rootfs.stamp" 2>/dev/null)" = "$stamp_want" ] &&
                installed $extra; then
        echo "$CACHE_DIR/rootfs"
        exit 0
fi
packages=$(echo $base $extra)

mirror=$(debian_mirror) || die "no Debian $SUITE mirror in /etc/apt/sources.list{,.d}"
log "debootstrap $SUITE from $mirror (about a minute); packages: $packages"
start=$(date +%s)
new="$CACHE_DIR/rootfs.new"
rm -rf "$new"
if ! debootstrap --variant=minbase --include="$(echo $packages | tr ' ' ',')" \
                "$SUITE" "$new" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
        tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
        die "debootstrap failed; log: $CACHE_DIR/debootstrap.log"
fi

# Smaller and quieter: no docs, no apt lists, no gettys, no first-boot prompt.
rm -rf "$new"/usr/share/doc/* "$new"/usr/share/man/* "$new"/usr/share/locale/* \
        "$new"/var/lib/apt/lists/* "$new"/var/cache/apt/*.bin "$new"/var/cache/apt/archives/*.deb
echo attestd-test >"$new/etc/hostname"
: >"$new/etc/machine-id"   # empty: systemd generates a transient one on every boot
ln -sf /dev/null "$new/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$new/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$new/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$new/etc/systemd/system/systemd-firstboot.service"
# Volatile journal under /run: nothing accumulates in the cached tree, tests read it via journalctl.
mkdir -p "$new/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$new/etc/systemd/journald.conf.d/10-volatile.conf"

rm -rf "$CACHE_DIR/rootfs"
mv "$new" "$CACHE_DIR/rootfs"
echo "$stamp_want" >"$CACHE_DIR/rootfs.stamp"
echo "$packages" >"$CACHE_DIR/rootfs.packages"
log "done in $(($(date +%s) - start)) s, $(du -sh "$CACHE_DIR/rootfs" | cut -f1)"
echo "$CACHE_DIR/rootfs"
