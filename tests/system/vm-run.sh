#!/bin/bash
# Real measured boot: OVMF + a swtpm vTPM + QEMU (TCG) boot a Debian kernel with an overlay of the
# cached rootfs as initramfs and systemd as PID 1, then run one test case inside; exits with its status.
# usage: vm-run.sh ROOTFS OUTDIR [--test SCRIPT] [--setup SCRIPT] [--no-install] [--secure-boot]
#                  [--timeout SEC]
#   --test / --setup / --no-install: as nspawn-run.sh (same fixture, same guest-lib.sh).
#   --secure-boot: Secure Boot on (OVMF with Microsoft's keys enrolled), booting Debian's signed
#                  chain shim -> grub -> kernel from a FAT ESP instead of QEMU's direct kernel boot.
# Environment: BUILDDIR, CACHE_DIR (kernel cache, default /var/cache/attestd-tests), EMU_DIR (the
# guest reaches the host's emulator at the same https://127.0.0.1:PORT through QEMU user networking
# and a socket proxy, so the endpoint, TLS name and token issuer are the host's).
# OUTDIR gets out/ (files the guest sent over its second serial port), console.log, swtpm state.
set -eu
set -o pipefail

SYSTEM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILDDIR=${BUILDDIR:-/work/main/build}
CACHE_DIR=${CACHE_DIR:-${ATTESTD_TEST_CACHE:-/var/cache/attestd-tests}}
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}

usage() { sed -n '4,9p' "$0" >&2; exit 2; }
log() { echo "[$(date +%T.%3N)] vm-run: $*" >&2; }
die() { echo "vm-run: $*" >&2; exit 1; }

[ $# -ge 2 ] || usage
ROOTFS=$(readlink -f "$1")
OUT=$(readlink -m "$2")
shift 2
TEST_SCRIPT='' SETUP_SCRIPT='' INSTALL=yes TIMEOUT=600 SECURE_BOOT=no
while [ $# -gt 0 ]; do
        case $1 in
        --test) TEST_SCRIPT=$(readlink -f "$2"); shift 2 ;;
        --setup) SETUP_SCRIPT=$(readlink -f "$2"); shift 2 ;;
        --no-install) INSTALL=no; shift ;;
        --secure-boot) SECURE_BOOT=yes; shift ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        *) usage ;;
        esac
done
if [ $SECURE_BOOT = yes ]; then
        OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
        OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
        for c in mkfs.vfat mcopy mmd; do
                command -v "$c" >/dev/null || die "$c is not installed (apt-get install dosfstools mtools)"
        done
fi
[ -d "$ROOTFS/usr/lib/systemd" ] || die "$ROOTFS is not a rootfs with systemd (run rootfs.sh)"
for c in qemu-system-x86_64 swtpm swtpm_setup cpio zstd apt-get dpkg-deb; do
        command -v "$c" >/dev/null || die "$c is not installed"
done
[ -f "$OVMF_CODE" ] || die "$OVMF_CODE is missing (apt-get install ovmf)"

# ---- the Debian kernel and its e1000 module, cached per package version
kernel_fetch() {
        local pkg ver dir=$CACHE_DIR/kernel
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
        [ -n "$pkg" ] || die "cannot resolve linux-image-amd64 (apt-get update?)"
        ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
        mkdir -p "$dir"
        exec 7>"$dir/.lock"
        flock 7
        if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$pkg=$ver layout=2" ]; then
                log "kernel: downloading $pkg $ver"
                rm -rf "$dir/deb" "$dir/tree" "$dir/vmlinuz" "$dir/modules"
                mkdir -p "$dir/deb" "$dir/tree"
                (cd "$dir/deb" && apt-get download "$pkg=$ver" >/dev/null 2>&1) || die "apt-get download $pkg failed"
                dpkg-deb --fsys-tarfile "$dir"/deb/*.deb | tar -x -C "$dir/tree" --wildcards \
                        './boot/vmlinuz-*' '*/modules/*/modules.order' '*/modules/*/modules.builtin*' \
                        '*/modules/*/kernel/drivers/net/ethernet/intel/e1000/*'
                cp "$dir"/tree/boot/vmlinuz-* "$dir/vmlinuz"
                mv "$dir"/tree/lib/modules "$dir/modules" 2>/dev/null || mv "$dir"/tree/usr/lib/modules "$dir/modules"
                rm -rf "$dir/deb" "$dir/tree"
                echo "$pkg=$ver layout=2" >"$dir/stamp"
        fi
        exec 7>&-
        KERNEL=$dir/vmlinuz
        KVER=$(ls "$dir/modules")
}

# ---- Debian's signed shim and grub, cached per version (only for --secure-boot)
signed_fetch() {
        local pkg ver stamp="" dir=$CACHE_DIR/secureboot
        for pkg in shim-signed grub-efi-amd64-signed; do
                ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
                [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate for $pkg (apt-get update?)"
                stamp="$stamp $pkg=$ver"
        done
        mkdir -p "$dir"
        exec 7>"$dir/.lock"
        flock 7
        if [ "$(cat "$dir/stamp" 2>/dev/null)" != "$stamp" ]; then
                log "secure boot: downloading$stamp"
                rm -rf "$dir/deb" "$dir/tree"
                mkdir -p "$dir/deb" "$dir/tree"
                # shellcheck disable=SC2086
                (cd "$dir/deb" && apt-get download $stamp >/dev/null 2>&1) || die "apt-get download$stamp failed"
                for deb in "$dir"/deb/*.deb; do
                        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/tree" --wildcards '*.efi.signed'
                done
                cp "$dir/tree/usr/lib/shim/shimx64.efi.signed" "$dir/shimx64.efi"
                cp "$dir/tree/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$dir/grubx64.efi"
                rm -rf "$dir/deb" "$dir/tree"
                echo "$stamp" >"$dir/stamp"
        fi
        exec 7>&-
}

# esp_build CMDLINE: a FAT ESP with shim as the removable-media loader, grub beside it (shim loads
# grubx64.efi from its own directory), grub.cfg where Debian's signed grub looks ($cmdpath), the
# signed kernel and the initramfs.
esp_build() {
        local dir=$CACHE_DIR/secureboot img=$OUT/esp.img size
        size=$((($(stat -c %s "$KERNEL") + $(stat -c %s "$OUT/initrd.cpio")) / 1024 + 16384))
        rm -f "$img"
        mkfs.vfat -C -n ESP "$img" "$size" >/dev/null
        cat >"$OUT/grub.cfg" <<EOF
set timeout=0
linux /vmlinuz $1
initrd /initrd.img
boot
EOF
        mmd -i "$img" ::/EFI ::/EFI/BOOT ::/EFI/debian
        mcopy -i "$img" "$dir/shimx64.efi" ::/EFI/BOOT/BOOTX64.EFI
        mcopy -i "$img" "$dir/grubx64.efi" ::/EFI/BOOT/grubx64.efi
        mcopy -i "$img" "$OUT/grub.cfg" ::/EFI/BOOT/grub.cfg
        mcopy -i "$img" "$OUT/grub.cfg" ::/EFI/debian/grub.cfg
        mcopy -i "$img" "$KERNEL" ::/vmlinuz
        mcopy -i "$img" "$OUT/initrd.cpio" ::/initrd.img
}

. "$SYSTEM_DIR/fixture.sh"
mkdir -p "$OUT/out"
rm -rf "${OUT:?}/out/"* "$OUT/console.log" "$OUT/channel.log"
t_all=$(date +%s%N)
kernel_fetch
[ $SECURE_BOOT = yes ] && signed_fetch
trap fixture_tree_done EXIT
fixture_tree "$ROOTFS" "$OUT"
[ $INSTALL = yes ] && fixture_install_build "$OUT"
fixture_users

# ---- what only the VM needs: the NIC module, a static address, the proxy to the host's emulator
mkdir -p "$ROOT/usr/lib/modules"
cp -a "$CACHE_DIR/kernel/modules/$KVER" "$ROOT/usr/lib/modules/"
chroot "$ROOT" depmod -a "$KVER"
mkdir -p "$ROOT/etc/modules-load.d" "$ROOT/etc/systemd/network"
echo e1000 >"$ROOT/etc/modules-load.d/e1000.conf"
# QEMU user networking: the guest is 10.0.2.15, the host's loopback is 10.0.2.2.
cat >"$ROOT/etc/systemd/network/10-qemu.network" <<'EOF'
[Match]
Name=e*

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
EOF
systemctl --root="$ROOT" enable systemd-networkd.service >/dev/null 2>&1
# Housekeeping that only costs emulated CPU time here.
for u in e2scrub_reap.service e2scrub_all.timer fstrim.timer apt-daily.timer apt-daily-upgrade.timer \
                dpkg-db-backup.timer systemd-update-utmp.service systemd-update-utmp-runlevel.service; do
        ln -sf /dev/null "$ROOT/etc/systemd/system/$u"
done

endpoint=https://127.0.0.1:1
if [ -n "${EMU_DIR:-}" ]; then
        endpoint=$(cat "$EMU_DIR/endpoint")
        port=${endpoint##*:}
        # Guest 127.0.0.1:PORT -> host 127.0.0.1:PORT: TLS passes through untouched, so the
        # certificate's 127.0.0.1 name and the token issuer are right inside the guest too.
        cat >"$ROOT/etc/systemd/system/emulator-proxy.socket" <<EOF
[Unit]
Description=Forward 127.0.0.1:$port to the host's MAA emulator

[Socket]
ListenStream=127.0.0.1:$port

[Install]
WantedBy=sockets.target
EOF
        cat >"$ROOT/etc/systemd/system/emulator-proxy.service" <<EOF
[Unit]
Description=Forward to the host's MAA emulator
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/lib/systemd/systemd-socket-proxyd 10.0.2.2:$port
EOF
        systemctl --root="$ROOT" enable emulator-proxy.socket >/dev/null 2>&1
fi
fixture_config "$endpoint" device:/dev/tpmrm0
fixture_units "$TEST_SCRIPT"
# No shared directory: at the end the case's /out goes over the second serial port (ttyS1).
cat >"$ROOT/usr/lib/attestd-test/on-finish" <<'EOF'
#!/bin/sh
# Sends /out (tar.gz, base64) and the case's status over ttyS1 to the host. QEMU paces its 16550
# at the line rate, so: the fastest standard rate and compressed (≈11 KB/s).
stty -F /dev/ttyS1 115200 raw -echo
exec >/dev/ttyS1
echo "=== BEGIN OUT"
tar -czf - -C /out . | base64
echo "=== END OUT"
echo "=== UPTIME $(cut -d' ' -f1 /proc/uptime)"
echo "=== RC $1"
EOF
chmod 0755 "$ROOT/usr/lib/attestd-test/on-finish"
if [ -n "$SETUP_SCRIPT" ]; then
        ROOT=$ROOT OUT=$OUT bash "$SETUP_SCRIPT" || die "setup script $SETUP_SCRIPT failed"
fi

# Every initrd byte is hashed by the firmware (PCR 9, two banks) in emulated code: leave out what
# a booted test system never reads, and compress (the kernel's zstd is fast even under TCG).
t0=$(date +%s%N)
(cd "$ROOT" && find . -xdev \( -path ./usr/lib/x86_64-linux-gnu/gconv -o -path ./usr/lib/x86_64-linux-gnu/perl-base \
        -o -path ./usr/share/perl5 -o -path ./var/lib/dpkg -o -path ./var/cache -o -path ./usr/lib/udev/hwdb.bin \
        -o -path ./usr/share/i18n -o -path ./usr/share/zoneinfo \) -prune -o -print0 |
        cpio --null -o -H newc --quiet | zstd -q -T0 -10) >"$OUT/initrd.cpio"
log "initramfs: $(du -h "$OUT/initrd.cpio" | cut -f1) in $((($(date +%s%N) - t0) / 1000000)) ms"
fixture_tree_done
stop_swtpm() {
        [ -f "$OUT/swtpm.pid" ] && kill "$(cat "$OUT/swtpm.pid")" 2>/dev/null
        rm -f "$OUT/swtpm.pid" "$OUT/initrd.cpio" "$OUT/esp.img"
        return 0
}
trap stop_swtpm EXIT

# ---- a fresh vTPM with OVMF's banks; a fresh UEFI variable store
rm -rf "$OUT/tpm"
mkdir -p "$OUT/tpm"
swtpm_setup --tpm2 --tpmstate "$OUT/tpm" --pcr-banks sha1,sha256 --overwrite >"$OUT/swtpm_setup.log" 2>&1 ||
        die "swtpm_setup failed; see $OUT/swtpm_setup.log"
rm -f "$OUT/swtpm.sock"
swtpm socket --tpm2 --tpmstate dir="$OUT/tpm" --ctrl type=unixio,path="$OUT/swtpm.sock" \
        --log file="$OUT/swtpm.log" --pid file="$OUT/swtpm.pid" --terminate --daemon ||
        die "swtpm did not start"
for _ in $(seq 100); do [ -S "$OUT/swtpm.sock" ] && break; sleep 0.05; done
cp "$OVMF_VARS" "$OUT/vars.fd"

cmdline="console=ttyS0,115200 rdinit=/sbin/init panic=-1 ${VM_CMDLINE:-systemd.show_status=1 loglevel=4}"
machine=(-machine q35)
boot=(-kernel "$KERNEL" -initrd "$OUT/initrd.cpio" -append "$cmdline")
if [ $SECURE_BOOT = yes ]; then
        esp_build "$cmdline"
        # The secure-boot OVMF build keeps its variables behind SMM. (Commas: QEMU's syntax.)
        # shellcheck disable=SC2054
        machine=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on)
        # shellcheck disable=SC2054
        boot=(-drive if=none,id=esp,format=raw,file="$OUT/esp.img" -device virtio-blk-pci,drive=esp)
fi

log "boot (secure boot: $SECURE_BOOT): TCG, no KVM (about 70-100 s; timeout ${TIMEOUT}s)"
t0=$(date +%s%N)
rc=0
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 "${machine[@]}" -accel tcg -cpu max -m 2048 -smp 2 \
        -display none -no-reboot -monitor none \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
        -drive if=pflash,format=raw,unit=1,file="$OUT/vars.fd" \
        -chardev socket,id=chrtpm,path="$OUT/swtpm.sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
        -device tpm-tis,tpmdev=tpm0 \
        -netdev user,id=net0 -device e1000,netdev=net0 \
        -serial file:"$OUT/console.log" -serial file:"$OUT/channel.log" \
        "${boot[@]}" </dev/null >"$OUT/qemu.log" 2>&1 || rc=$?
log "VM exited with $rc after $((($(date +%s%N) - t0) / 1000000)) ms"
stop_swtpm
[ $rc -eq 124 ] && die "VM did not finish within ${TIMEOUT}s; see $OUT/console.log"
[ $rc -eq 0 ] || die "qemu failed ($rc): $(tail -n 5 "$OUT/qemu.log")"

# ---- the files the guest sent
tr -d '\r' <"$OUT/channel.log" >"$OUT/channel.txt"
rc=$(sed -n 's/^=== RC \([0-9]*\)$/\1/p' "$OUT/channel.txt")
[ -n "$rc" ] || die "the case did not run to the end (nothing on the result port); see $OUT/console.log"
sed -n '/^=== BEGIN OUT$/,/^=== END OUT$/{/^===/d;p}' "$OUT/channel.txt" | base64 -d | tar -xz -C "$OUT/out" ||
        die "the guest's /out arrived damaged; see $OUT/channel.txt"
[ "$(cat "$OUT/out/rc" 2>/dev/null)" = "$rc" ] || die "the transfer of /out is incomplete"
uptime=$(sed -n 's/^=== UPTIME \([0-9.]*\)$/\1/p' "$OUT/channel.txt")
log "guest uptime at the end ${uptime}s; firmware, initrd load and measurement took the rest of the boot"
log "whole run $((($(date +%s%N) - t_all) / 1000000)) ms, case status $rc"
exit "$rc"
