# Helpers for the AzureGuest tests, sourced after lib.sh. They drive the emulator side of issue 13
# (the /attest/AzureGuest route, azure-vm-fixture, imds-emulator) as tests/maa-emulator/README.md
# documents it. ATTESTD_AZURE_EMULATOR_DIR may point at another checkout's tests/maa-emulator
# (before the emulator branch is merged); without those files the tests SKIP.
AZ_EMU_DIR=${ATTESTD_AZURE_EMULATOR_DIR:-$top_srcdir/tests/maa-emulator}
[ -x "$AZ_EMU_DIR/azure-vm-fixture" ] && [ -x "$AZ_EMU_DIR/imds-emulator" ] ||
        skip "the AzureGuest emulator (azure-vm-fixture, imds-emulator in $AZ_EMU_DIR) is not there yet"
EMULATOR="$AZ_EMU_DIR/maa-emulator"
export PYTHONDONTWRITEBYTECODE=1

maa_ctl() {
        "$AZ_EMU_DIR/maa-emulator-ctl" "$MAA_DIR" "$@"
}

# azure_vm [FIXTURE OPTIONS...]: make the swtpm an Azure vTPM (AK 0x81000003, NV certificate, and
# with --cvm snp an HCL report).
azure_vm() {
        "$AZ_EMU_DIR/azure-vm-fixture" --tcti "$ATTEST_TCTI" --maa-state-dir "$MAA_DIR" "$@" \
                >"$TEST_TMPDIR/fixture.json" 2>"$TEST_TMPDIR/fixture.log" || fail "azure-vm-fixture $* failed"
}

# start_imds [OPTIONS...]: IMDS on loopback; exports IMDS_DIR and IMDS_URL. The region is
# "testregion", which $REGIONS maps to the emulator.
start_imds() {
        export IMDS_DIR="$TEST_TMPDIR/imds"
        "$AZ_EMU_DIR/imds-emulator" --state-dir "$IMDS_DIR" --maa-state-dir "$MAA_DIR" --port 0 \
                --location "Test Region" "$@" >"$TEST_TMPDIR/imds.log" 2>&1 &
        register_pid $!
        wait_until 20 test -e "$IMDS_DIR/ready" || fail "the IMDS emulator did not get ready"
        IMDS_URL=$(cat "$IMDS_DIR/endpoint")
        export IMDS_URL
}

imds_ctl() { # PATH JSON
        curl -sf -X POST -H 'Content-Type: application/json' --data "$2" "$IMDS_URL$1" >/dev/null ||
                fail "IMDS control $1 failed"
}

# write_azure_config [EXTRA...]: no Endpoint= and no Provider=: the zero-configuration case. The
# shared provider of "testregion" is the emulator (SharedProviders=), IMDS is the emulator's.
write_azure_config() {
        export CONF="$TEST_TMPDIR/attestd.conf" RUNDIR="$TEST_TMPDIR/run" REGIONS="$TEST_TMPDIR/regions.tsv"
        printf '# test table\ntestregion\tTest Region\t%s\n' "$MAA_ENDPOINT" >"$REGIONS"
        {
                echo "[Service]"
                echo "CAFile=$MAA_DIR/ca.pem"
                echo "RequestTimeoutSec=5s"
                echo "SharedProviders=$REGIONS"
                echo "[Auth]"
                echo "IMDSURL=$IMDS_URL"
                echo "[TPM]"
                echo "TCTI=$ATTEST_TCTI"
                echo "EventLog=$OVMF_LOG"
                echo "[Schedule]"
                echo "RetryMinSec=500ms"
                echo "RetryMaxSec=2s"
                echo "PCRPollIntervalSec=500ms"
                echo "PCRDebounceSec=200ms"
                echo "[Cache]"
                echo "RuntimeDirectory=$RUNDIR"
                for line in "$@"; do echo "$line"; done
        } >"$CONF"
}

# setup_azure_vm [FIXTURE OPTIONS...]: swtpm with the OVMF log, the emulator, the Azure vTPM, IMDS.
setup_azure_vm() {
        start_swtpm
        play_eventlog
        start_emulator
        azure_vm "$@"
        start_imds
        write_azure_config
}

no_transient_handles() {
        [ -z "$(tpm2_getcap handles-transient)" ] || fail "transient handles leaked: $(tpm2_getcap handles-transient)"
        [ -z "$(tpm2_getcap handles-loaded-session)" ] || fail "sessions leaked: $(tpm2_getcap handles-loaded-session)"
}

# once_fails WHAT NEEDLE: attestd --once must fail and print NEEDLE.
once_fails() {
        local out
        if out=$("$ATTESTD" --once --config "$CONF" 2>>"$TEST_TMPDIR/once.err"); then
                fail "$1: attestd --once succeeded: $out"
        fi
        assert_contains "$out" "$2" "$1"
        no_transient_handles
}
