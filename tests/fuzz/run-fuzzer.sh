#!/bin/bash
# Runs one libFuzzer harness for a bounded time on a fresh corpus: its seeds from tests/fuzz/seeds/
# plus the real inputs of tests/testdata that fit it. Crash inputs land in the build directory.
# usage: run-fuzzer.sh NAME SECONDS SRCDIR BUILDDIR
set -eu
name=$1 seconds=$2 srcdir=$3 builddir=$4
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

n=0
seed() {
        for f in "$@"; do
                [ -f "$f" ] || continue
                n=$((n + 1))
                cp "$f" "$corpus/seed-$n"
        done
}
seed "$srcdir/tests/fuzz/seeds/$name"/*
td="$srcdir/tests/testdata"
case $name in
eventlog) seed "$td"/eventlogs/*/*.bin "$td"/eventlogs/*/*/*.bin ;;
jwt) seed "$td"/maa/2022-05-31/tokens/*.jwt ;;
jwks) seed "$td"/maa/2022-05-31/jwks/*.json "$td"/maa/2022-05-31/openid/*.json ;;
config) seed "$srcdir/conf/attestd.conf" ;;
esac

exec "$builddir/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$builddir/fuzz-$name-" "$corpus"
