#!/bin/bash
# Runs one integration test (automake's SH_LOG_COMPILER): a fresh temp dir, the helpers of lib.sh,
# a time limit, and afterwards every process the test registered is killed by PID, pass or fail.
set -u
test_script=$1
: "${top_srcdir:?run through make check}" "${top_builddir:?run through make check}"

TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/attestd-test.XXXXXX")
export TEST_TMPDIR
export ATTESTD="$top_builddir/attestd" ATTESTCTL="$top_builddir/attestctl"
export TEST_LIB="$top_srcdir/tests/integration/lib.sh"

# A test may ask for more time with a "# timeout: SECONDS" line.
limit=$(sed -n 's/^# timeout: *\([0-9][0-9]*\)$/\1/p' "$test_script" | head -n 1)
TEST_TIMEOUT=${limit:-${TEST_TIMEOUT:-300}}

timeout --kill-after=10 "$TEST_TIMEOUT" \
        bash -c 'set -eu; source "$TEST_LIB"; source "$1"' integration-test "$test_script"
rc=$?
[ $rc -eq 124 ] && echo "FAIL: $test_script exceeded ${TEST_TIMEOUT}s"

# Kill whatever is left: the test's own cleanup may not have run (failure, timeout).
if [ -f "$TEST_TMPDIR/pids" ]; then
        while read -r pid; do
                kill "$pid" 2>/dev/null
        done <"$TEST_TMPDIR/pids"
        sleep 0.2
        while read -r pid; do
                kill -9 "$pid" 2>/dev/null
        done <"$TEST_TMPDIR/pids"
fi

# Network namespaces made by make_netns (their veth ends go with them).
if [ -f "$TEST_TMPDIR/netns" ]; then
        while read -r ns; do
                ip netns del "$ns" 2>/dev/null
        done <"$TEST_TMPDIR/netns"
fi

if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
        echo "--- test directory kept: $TEST_TMPDIR"
        for f in "$TEST_TMPDIR"/*.log "$TEST_TMPDIR"/*/*.log; do
                [ -f "$f" ] || continue
                echo "--- tail of $f"; tail -n 30 "$f"
        done
else
        rm -rf "$TEST_TMPDIR"
fi
exit $rc
