# The incoming claims of MAA's TPM endpoint, built from verified evidence (the facts that
# protocol.verify_attestation returns). Claims only: no policy logic, no evidence checks.
import json

import eventlog_replay
from maa_policy import SERVICE, Claim

# Windows boot state claims. The service derives them from Windows' SIPA events (EV_EVENT_TAG
# in PCRs 12-14 and 19-20), which a Linux/UEFI log never holds; the emulator does not decode
# SIPA. Each gets the value Microsoft's own v1.2 sample policies fall back to when the
# corresponding events are absent (their "![type==...] => issue(...)" rules), which is the
# most plausible answer of the real service for a log without them:
#   bootDebuggingDisabled false  (boot debugging sample: absent -> false)
#   notSafeMode           true   (safe mode sample: absent -> true)
#   notWinPE              true   (WinPE sample: absent -> true)
#   iommuEnabled          false  (IOMMU sample: absent -> false)
#   vbsEnabled            false  (VSM/VBS sample: absent -> false)
#   vbsReportPresent      false  (no VBS enclave report is ever sent on the TPM endpoint)
WINDOWS_DEFAULTS = (('bootDebuggingDisabled', False), ('notSafeMode', True),
                    ('notWinPE', True), ('iommuEnabled', False), ('vbsEnabled', False),
                    ('vbsReportPresent', False))


def _json(obj):
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False)


def pcrs_claim(pcrs):
    """{"PCRs":[{"Index":n,"Digests":{"SHA256":"<lower-case hex>"}}]} over all quoted banks;
    hex because Microsoft's golden-PCR sample compares SHA256 with lower-case hex."""
    indices = sorted({i for values in pcrs.values() for i in values})
    return {'PCRs': [{'Index': i, 'Digests': {bank.upper(): values[i].hex()
                                              for bank, values in sorted(pcrs.items())
                                              if i in values}} for i in indices]}


def incoming(facts):
    """Verified evidence -> [Claim], issuer "AttestationService".

    `facts` is protocol.verify_attestation's dict (pcrs, logs, aik_pub_hash, aik_validated),
    optionally with leg 2's request_key. JSON-valued claims (events, pcrs,
    x-ms-tpm-request-key) are JSON text, as the policy language sees them."""
    logs = facts.get('logs') or []
    claims = [('aikValidated', bool(facts['aik_validated'])),
              ('aikPubHash', facts['aik_pub_hash']),
              ('tpmVersion', 2),
              ('secureBootEnabled', any(eventlog_replay.secure_boot_enabled(lg) for lg in logs))]
    claims.extend(WINDOWS_DEFAULTS)
    if logs:
        claims.append(('events', _json(eventlog_replay.events_claim(logs))))
    claims.append(('pcrs', _json(pcrs_claim(facts['pcrs']))))
    if facts.get('request_key') is not None:
        claims.append(('x-ms-tpm-request-key', _json(facts['request_key'])))
    return [Claim(name, value, SERVICE) for name, value in claims]
