#!/bin/bash
# SPDX-License-Identifier: MIT
# Plays a TCG event log into a TPM (an swtpm in tests): extends the digests of every measured
# event, in log order, into each PCR bank the TPM has active and the log carries, so that the
# TPM's PCRs equal the log's replay. Start from freshly reset PCRs.
#
# usage: TPM2TOOLS_TCTI=swtpm:path=... play-eventlog.sh LOG
# attestctl comes from $ATTESTCTL or $top_builddir/attestctl; python3 from $PYTHON3 or
# /usr/bin/python3. PLAY_BATCH (default 32) PCR extends go into one tpm2_pcrextend call.
set -euo pipefail

prog=play-eventlog.sh
log=${1:-}
[ $# -eq 1 ] && [ -n "$log" ] || { echo "usage: $prog LOG" >&2; exit 2; }
[ -n "${TPM2TOOLS_TCTI:-}" ] || { echo "$prog: TPM2TOOLS_TCTI is not set" >&2; exit 2; }
attestctl=${ATTESTCTL:-${top_builddir:-.}/attestctl}
python=${PYTHON3:-/usr/bin/python3}
batch=${PLAY_BATCH:-32}
[ -x "$attestctl" ] || { echo "$prog: $attestctl is not executable (set ATTESTCTL)" >&2; exit 2; }

# Active banks: tpm2_getcap lists every bank, with an empty selection for inactive ones.
banks=$(tpm2_getcap pcrs | "$python" -c '
import re, sys
active = [m.group(1) for m in re.finditer(r"-\s*(\w+)\s*:\s*\[([^\]]*)\]", sys.stdin.read())
          if m.group(2).strip()]
print(" ".join(active))')
[ -n "$banks" ] || { echo "$prog: the TPM reports no active PCR bank" >&2; exit 1; }

events=$("$attestctl" eventlog --json "$log")

# One tpm2_pcrextend argument ("PCR:alg=hex,alg=hex") per measured event, in log order.
specs=$(printf '%s' "$events" | "$python" -c '
import json, sys
tpm_banks = sys.argv[1].split()
doc = json.load(sys.stdin)
log_banks = [a["alg"] for a in doc["algorithms"]]
use = [b for b in tpm_banks if b in log_banks]
if not use:
    sys.exit("play-eventlog.sh: the log carries none of the TPM banks (%s)" % " ".join(tpm_banks))
for b in tpm_banks:
    if b not in log_banks:
        print("play-eventlog.sh: bank %s is active but not in the log; it will not match" % b, file=sys.stderr)
for e in doc["events"]:
    if "startup_locality" in e and e["startup_locality"] != 0:
        print("play-eventlog.sh: the log starts PCR0 at locality %d, which extends cannot reproduce"
              % e["startup_locality"], file=sys.stderr)
    if e.get("type_name") == "EV_EFI_HCRTM_EVENT":
        print("play-eventlog.sh: the log has an H-CRTM event; PCR0 will not match", file=sys.stderr)
    if e.get("type_name") == "EV_NO_ACTION":
        continue
    digests = ["%s=%s" % (b, e["digests"][b]) for b in use if b in e["digests"]]
    if digests:
        print("%d:%s" % (e["pcr"], ",".join(digests)))
' "$banks")

n=0
args=()
while IFS= read -r spec; do
        [ -n "$spec" ] || continue
        args+=("$spec")
        n=$((n + 1))
        if [ ${#args[@]} -ge "$batch" ]; then
                tpm2_pcrextend "${args[@]}"
                args=()
        fi
done <<<"$specs"
if [ ${#args[@]} -gt 0 ]; then
        tpm2_pcrextend "${args[@]}"
fi
echo "$prog: extended $n events of $log" >&2
