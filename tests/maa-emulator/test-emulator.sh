#!/bin/sh
# make-check wrapper for the MAA emulator self-test (unittest, real swtpm + tpm2-tools).
# Exit 77 (automake "skipped") when swtpm, tpm2-tools, python3-cryptography or python3-jmespath
# is missing.
here=${top_srcdir:+$top_srcdir/tests/maa-emulator}
here=$(cd "${here:-$(dirname "$0")}" && pwd) || exit 99
for tool in swtpm swtpm_ioctl tpm2_createek tpm2_createak tpm2_quote tpm2_pcrextend tpm2_certify \
            tpm2_pcrread tpm2_flushcontext tpm2_createprimary tpm2_rsadecrypt tpm2_policypcr; do
        command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import cryptography, jmespath' 2>/dev/null ||
        { echo "SKIP: /usr/bin/python3 with python3-cryptography and python3-jmespath is not available"; exit 77; }
# The source tree may be read-only (distcheck): no __pycache__ next to the sources.
export PYTHONDONTWRITEBYTECODE=1
cd "$here" && exec /usr/bin/python3 -m unittest -v test_parsers test_emulator test_policy_lang test_azure_guest test_conf_policies
