#!/bin/bash
# Runs system tests one after another (each boots a container or a VM; they share the cached rootfs)
# and prints each verdict with its duration and a final "N passed, N failed, N skipped" line.
# usage: run-system-tests.sh BUILDDIR TEST...   (make check-nspawn / make check-vm)
set -u

[ $# -ge 2 ] || { echo "usage: $0 BUILDDIR TEST..." >&2; exit 2; }
export BUILDDIR=$1
shift
passed=0 failed=0 skipped=0 failures=
start_all=$(date +%s)
for t in "$@"; do
        name=$(basename "$t" .sh)
        log=$BUILDDIR/tests/system/$name.log
        mkdir -p "$(dirname "$log")"
        start=$(date +%s)
        bash "$t" >"$log" 2>&1
        rc=$?
        secs=$(($(date +%s) - start))
        case $rc in
        0) passed=$((passed + 1)); verdict=PASS ;;
        77) skipped=$((skipped + 1)); verdict=SKIP ;;
        *) failed=$((failed + 1)); verdict=FAIL; failures="$failures $name" ;;
        esac
        printf '%s: %s (%d s)  %s\n' "$verdict" "$name" "$secs" \
                "$(grep -E '^(PASS|FAIL|SKIP): ' "$log" | tail -n 1 | sed 's/^[A-Z]*: [^ ]*:\{0,1\} *//')"
        [ $rc -eq 0 ] || [ $rc -eq 77 ] || sed 's/^/    | /' "$log"
done
echo "$passed passed, $failed failed, $skipped skipped ($(($(date +%s) - start_all)) s)"
[ $failed -eq 0 ] || { echo "failed:$failures (logs in $BUILDDIR/tests/system/)"; exit 1; }
exit 0
