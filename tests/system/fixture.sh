# What nspawn-run.sh and vm-run.sh put into a throw-away tree before it boots: the build installed
# with distribution paths, its users (systemd-sysusers: attestd, attestd-token), attestd's config,
# a token reader, a consumer unit, and the unit that runs a case's script (guest-lib.sh +
# case.sh). Sourced; functions die on error.

FIXTURE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOKEN_GROUP=attestd-token
TOKEN_READER=tokenreader

# fixture_tree ROOTFS OUT: OUT/root becomes an overlay of ROOTFS (≈20 ms), else a copy (≈3 s);
# fixture_tree_done undoes it. Sets ROOT.
fixture_tree() {
        local t0
        ROOT=$2/root
        mkdir -p "$2/upper" "$2/work" "$ROOT"
        t0=$(date +%s%N)
        if mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$ROOT" 2>/dev/null; then
                TREE_MODE=overlay
        else
                TREE_MODE=copy
                cp --reflink=auto -a "$1/." "$ROOT/"
        fi
        log "tree ready ($TREE_MODE) in $((($(date +%s%N) - t0) / 1000000)) ms"
}

fixture_tree_done() {
        if mountpoint -q "$ROOT"; then
                umount "$ROOT" || umount -l "$ROOT"
        fi
        [ "${TREE_MODE:-}" = copy ] && rm -rf "$ROOT"
        return 0
}

# fixture_install_build LOGDIR: `make install DESTDIR=$ROOT` from $BUILDDIR when it was configured
# with --prefix=/usr --sysconfdir=/etc, else from $NSPAWN_BUILDDIR (default $BUILDDIR-nspawn),
# configured that way from the same sources on first use.
fixture_install_build() {
        local bd=$BUILDDIR srcdir t0
        [ -f "$bd/Makefile" ] || die "BUILDDIR=$bd is not a configured build directory"
        if ! grep -qx 'prefix = /usr' "$bd/Makefile" || ! grep -qx 'sysconfdir = /etc' "$bd/Makefile"; then
                srcdir=$(sed -n 's/^abs_top_srcdir = //p' "$bd/Makefile")
                bd=${NSPAWN_BUILDDIR:-$BUILDDIR-nspawn}
                mkdir -p "$bd"
                if [ ! -f "$bd/Makefile" ]; then
                        log "configuring $bd (--prefix=/usr --sysconfdir=/etc)"
                        (cd "$bd" && "$srcdir/configure" -q --prefix=/usr --sysconfdir=/etc \
                                --localstatedir=/var) >"$1/configure.log" 2>&1 ||
                                die "configure of $bd failed; see $1/configure.log"
                fi
        fi
        t0=$(date +%s%N)
        # One install at a time per build dir: parallel cases would race on the build itself.
        (
                flock 8
                make -C "$bd" -j"$(nproc)" >"$1/build.log" 2>&1 || die "build in $bd failed; see $1/build.log"
                make -C "$bd" install DESTDIR="$ROOT" >"$1/install.log" 2>&1 ||
                        die "make install DESTDIR= failed; see $1/install.log"
        ) 8>"$bd/.system-test-install.lock"
        log "build + make install from $bd in $((($(date +%s%N) - t0) / 1000000)) ms"
}

# fixture_users: the users and groups of the installed sysusers.d files (attestd, attestd-token, its
# membership in tss), created by systemd-sysusers as a package's installation would.
fixture_users() {
        systemd-sysusers --root="$ROOT" >"$(dirname "$ROOT")/sysusers.log" 2>&1 ||
                die "systemd-sysusers --root=$ROOT failed: $(cat "$(dirname "$ROOT")/sysusers.log")"
        if [ -f "$ROOT/usr/lib/sysusers.d/attestd.conf" ]; then
                grep -q '^attestd:' "$ROOT/etc/passwd" || die "systemd-sysusers created no user attestd"
        fi
        return 0
}

# fixture_tpm_socket SWTPM_DIR: the host's swtpm sockets as udev leaves /dev/tpmrm0, tss:tss 0660
# (the container's tss gid), so attestd reaches them through its group membership alone.
fixture_tpm_socket() {
        local gid
        gid=$(awk -F: '$1 == "tss" { print $3 }' "$ROOT/etc/group")
        [ -n "$gid" ] || die "the tree has no group tss"
        chgrp "$gid" "$1/tpm.sock" "$1/tpm.sock.ctrl" && chmod 0660 "$1/tpm.sock" "$1/tpm.sock.ctrl" ||
                die "cannot give the swtpm sockets in $1 to group tss"
        chmod 0755 "$1"
}

# fixture_config ENDPOINT TCTI [EVENTLOG]: /etc/attestd/attestd.conf for the test TPM and emulator
# (CA from $EMU_DIR when set). Short retries so the cases run in seconds, not minutes.
fixture_config() {
        mkdir -p "$ROOT/etc/attestd/attestd.conf.d"
        [ -n "${EMU_DIR:-}" ] && install -m 0644 "$EMU_DIR/ca.pem" "$ROOT/etc/attestd/test-ca.pem"
        [ -n "${3:-}" ] && install -m 0644 "$3" "$ROOT/etc/attestd/test-eventlog.bin"
        {
                echo "# Written by tests/system/fixture.sh for a system test."
                echo "[Service]"
                echo "Endpoint=$1"
                echo "CAFile=/etc/attestd/test-ca.pem"
                echo
                echo "[TPM]"
                echo "TCTI=$2"
                [ -n "${3:-}" ] && echo "EventLog=/etc/attestd/test-eventlog.bin"
                echo
                echo "[Schedule]"
                echo "RetryMinSec=1s"
                echo "RetryMaxSec=2s"
                echo "PCRPollIntervalSec=1s"
                echo "PCRDebounceSec=1s"
                echo
                echo "# [Cache] TokenGroup= is left at its default, $TOKEN_GROUP."
        } >"$ROOT/etc/attestd/attestd.conf"
}

# fixture_units TEST_SCRIPT: the reader (in the token group, which fixture_users made, or made here
# when attestd is not installed), the consumer, the case unit; enables them (and attestd.service
# when installed).
fixture_units() {
        local enable
        grep -q "^$TOKEN_GROUP:" "$ROOT/etc/group" || chroot "$ROOT" groupadd --system "$TOKEN_GROUP"
        chroot "$ROOT" useradd --system --no-create-home --gid "$TOKEN_GROUP" \
                --shell /usr/sbin/nologin "$TOKEN_READER"
        mkdir -p "$ROOT/usr/lib/attestd-test" "$ROOT/out"

        # A consumer as the documentation tells users to write one; it records what it found at start.
        cat >"$ROOT/etc/systemd/system/attested-consumer.service" <<EOF
[Unit]
Description=Consumer of the attestation token
Requires=attested.target
After=attested.target

[Service]
Type=oneshot
RemainAfterExit=yes
User=$TOKEN_READER
ExecStart=/bin/sh -c 'date +%%s%%N >/out/consumer-started; if test -s /run/attestd/token; then echo present; else echo missing; fi >/out/consumer-token-at-start; cat /run/attestd/token >/out/consumer-token'

[Install]
WantedBy=multi-user.target
EOF
        # The consumer runs as tokenreader and writes its record to /out.
        chmod 1777 "$ROOT/out"

        cp "$FIXTURE_DIR/guest-lib.sh" "$ROOT/usr/lib/attestd-test/guest-lib.sh"
        if [ -n "$1" ]; then
                cp "$1" "$ROOT/usr/lib/attestd-test/case.sh"
        else
                echo 'check "booted with systemd as PID 1" test "$(cat /proc/1/comm)" = systemd' \
                        >"$ROOT/usr/lib/attestd-test/case.sh"
        fi
        cat >"$ROOT/usr/lib/attestd-test/run-case" <<'EOF'
#!/bin/bash
# Runs the case script with the guest helpers; `finish` ends the boot with its status.
cd /
. /usr/lib/attestd-test/guest-lib.sh
# A case that ends early (a shell error, a stray exit) still reports, instead of hanging the boot.
trap 'rc=$?; [ -f /out/rc ] || { not_ok "case script ended early (status $rc)"; finish; }' EXIT
. /usr/lib/attestd-test/case.sh
finish
EOF
        chmod 0755 "$ROOT/usr/lib/attestd-test/run-case"
        cat >"$ROOT/etc/systemd/system/attestd-test-case.service" <<'EOF'
[Unit]
Description=attestd system test case
After=dbus.service basic.target

[Service]
Type=exec
ExecStart=/usr/lib/attestd-test/run-case
StandardOutput=append:/out/case.log
StandardError=append:/out/case.log

[Install]
WantedBy=multi-user.target
EOF
        enable="attestd-test-case.service"
        [ -f "$ROOT/usr/lib/systemd/system/attestd.service" ] &&
                enable="$enable attestd.service attested-consumer.service"
        # shellcheck disable=SC2086
        systemctl --root="$ROOT" enable $enable >/dev/null 2>&1 || die "enabling $enable failed"
}
