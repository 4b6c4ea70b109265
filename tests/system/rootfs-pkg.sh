#!/bin/bash
# The cached rootfs (rootfs.sh) plus what the Debian packages depend on beyond it, so that
# `apt install ./attestd_*.deb ./attestd-emulator_*.deb` inside a throw-away overlay needs no
# network: python3-cryptography and python3-jmespath (attestd-emulator). A copy, built once and
# cached beside the rootfs (rootfs-pkg/), rebuilt when the rootfs or this list changes; the
# rootfs itself is never modified.
# usage: rootfs-pkg.sh [CACHE_DIR]   prints the tree's path.
set -eu
set -o pipefail

SYSTEM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${1:-${ATTESTD_TEST_CACHE:-/var/cache/attestd-tests}}
PACKAGES="python3-cryptography python3-jmespath"

log() { echo "[$(date +%T)] rootfs-pkg: $*" >&2; }
die() { echo "rootfs-pkg: $*" >&2; exit 1; }

base=$("$SYSTEM_DIR/rootfs.sh" "$CACHE_DIR") || die "could not build the base rootfs"
tree=$CACHE_DIR/rootfs-pkg
exec 9>"$CACHE_DIR/rootfs.lock"
flock 9     # the base must not change while it is copied; parallel runs share one build
want=$(printf 'base=%s packages=%s\n' "$(cat "$CACHE_DIR/rootfs.stamp")" "$PACKAGES" | sha256sum | cut -d' ' -f1)
if [ -d "$tree" ] && [ "$(cat "$CACHE_DIR/rootfs-pkg.stamp" 2>/dev/null)" = "$want" ]; then
        echo "$tree"
        exit 0
fi

start=$(date +%s)
new=$CACHE_DIR/rootfs-pkg.new
rm -rf "$new"
cp --reflink=auto -a "$base" "$new"
# apt inside the tree, with the host's name resolution for the mirror; its sources are the
# rootfs's own (debootstrap wrote them).
mv "$new/etc/resolv.conf" "$new/etc/resolv.conf.saved"
cp /etc/resolv.conf "$new/etc/resolv.conf"
# shellcheck disable=SC2086
if ! { chroot "$new" apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive chroot "$new" apt-get install -y -q --no-install-recommends $PACKAGES
      } >"$CACHE_DIR/rootfs-pkg.log" 2>&1; then
        tail -n 20 "$CACHE_DIR/rootfs-pkg.log" >&2
        rm -rf "$new"
        die "apt-get in the tree failed; log: $CACHE_DIR/rootfs-pkg.log"
fi
mv -f "$new/etc/resolv.conf.saved" "$new/etc/resolv.conf"
# As small and quiet as the base: no docs, no apt lists or archives.
rm -rf "$new"/usr/share/doc/* "$new"/usr/share/man/* "$new"/var/lib/apt/lists/* \
        "$new"/var/cache/apt/*.bin "$new"/var/cache/apt/archives/*.deb
rm -rf "$tree"
mv "$new" "$tree"
echo "$want" >"$CACHE_DIR/rootfs-pkg.stamp"
log "built in $(($(date +%s) - start)) s: $PACKAGES"
echo "$tree"
