# The emulator's small, fixed-rule attestation policy: a JSON object of knobs that stand
# in for an MAA policy (PROTOCOL.md §5.2/§5.6), validation of it, and its evaluation.
import hashlib
import json

from cryptography import x509

from common import ServiceError, b64url_encode

# Real MAA answers this on /attest/Tpm when no policy is set; the service says "VBS"
# even on the TPM endpoint (Azure/azure-sdk-for-js#34816, PROTOCOL.md §5.1 / S17).
NO_POLICY_MESSAGE = 'A VBS attestation policy has not been set on the attestation provider.'
DENY_MESSAGE = 'A Deny claim was issued, authorization failed.'

DEFAULTS = {
    'policy_set': True,
    'required_pcr_mask': 0xFF,          # real MAA: 0xFFFFFF (all 24 PCRs)
    'allowed_aik_pub_hashes': [],       # empty = any AIK
    'golden_pcrs': {},                  # {"sha256": {"7": "<hex>"}}
    'require_bearer': False,
    'bearer_tokens': [],
    'token_lifetime_sec': 28800,
    'require_valid_aik_cert': False,    # real MAA: true
    'aik_trust_anchors': [],            # PEM certificates (text) that may issue aik_cert
    'require_secure_boot': False,
    'require_tcg_log': True,
    'issue_events': False,              # add the §5.4 "events" claim to tokens
}

_TYPES = {
    'policy_set': bool, 'required_pcr_mask': int, 'allowed_aik_pub_hashes': list,
    'golden_pcrs': dict, 'require_bearer': bool, 'bearer_tokens': list,
    'token_lifetime_sec': int, 'require_valid_aik_cert': bool, 'aik_trust_anchors': list,
    'require_secure_boot': bool, 'require_tcg_log': bool, 'issue_events': bool,
}

_BANK_SIZES = {'sha1': 20, 'sha256': 32, 'sha384': 48, 'sha512': 64}


class PolicyError(ValueError):
    pass


def _check_type(key, value):
    kind = _TYPES[key]
    if kind is int:
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                raise PolicyError('policy: %s must be an integer, got "%s"'
                                  % (key, value)) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise PolicyError('policy: %s must be an integer' % key)
    elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise PolicyError('policy: %s must be a JSON %s' % (key, {bool: 'boolean', list: 'array',
                                                                 dict: 'object'}[kind]))
    return value


def validate(obj):
    """Fill in defaults and check every member. Unknown members are errors."""
    if not isinstance(obj, dict):
        raise PolicyError('policy: must be a JSON object')
    out = json.loads(json.dumps(DEFAULTS))
    for key, value in obj.items():
        if key not in _TYPES:
            raise PolicyError('policy: unknown member "%s" (known: %s)'
                              % (key, ', '.join(sorted(_TYPES))))
        out[key] = _check_type(key, value)
    if not 0 <= out['required_pcr_mask'] <= 0xFFFFFF:
        raise PolicyError('policy: required_pcr_mask must be within 0..0xFFFFFF')
    if out['token_lifetime_sec'] <= 0:
        raise PolicyError('policy: token_lifetime_sec must be positive')
    for key in ('allowed_aik_pub_hashes', 'bearer_tokens', 'aik_trust_anchors'):
        if not all(isinstance(x, str) and x for x in out[key]):
            raise PolicyError('policy: %s must be an array of non-empty strings' % key)
    for pem in out['aik_trust_anchors']:
        try:
            x509.load_pem_x509_certificate(pem.encode('ascii'))
        except ValueError as e:
            raise PolicyError('policy: aik_trust_anchors entry is not a PEM certificate: %s'
                              % e) from None
    for bank, values in out['golden_pcrs'].items():
        if bank not in _BANK_SIZES or not isinstance(values, dict):
            raise PolicyError('policy: golden_pcrs.%s: unknown bank or not an object' % bank)
        for idx, hexval in values.items():
            if not idx.isdigit() or int(idx) > 23:
                raise PolicyError('policy: golden_pcrs.%s: "%s" is not a PCR index' % (bank, idx))
            try:
                ok = isinstance(hexval, str) and len(bytes.fromhex(hexval)) == _BANK_SIZES[bank]
            except ValueError:
                ok = False
            if not ok:
                raise PolicyError('policy: golden_pcrs.%s.%s is not a %d-byte hex digest'
                                  % (bank, idx, _BANK_SIZES[bank]))
    return out


def policy_hash(policy):
    """x-ms-policy-hash as MAA computes it over its policy text: B64U(SHA256(B64U(text)))."""
    text = json.dumps(policy, sort_keys=True, separators=(',', ':'))
    inner = b64url_encode(text.encode('utf-8')).encode('ascii')
    return b64url_encode(hashlib.sha256(inner).digest())


def check_bearer(policy, header):
    """Authorization check for /attest/Tpm (401 Unauthorized like MAA)."""
    if not policy['require_bearer']:
        return
    if not header:
        raise ServiceError(401, 'Unauthorized', 'The request has no Authorization header.',
                           {'WWW-Authenticate': 'Bearer'})
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise ServiceError(401, 'Unauthorized', 'The Authorization header is not a Bearer token.',
                           {'WWW-Authenticate': 'Bearer'})
    if token.strip() not in policy['bearer_tokens']:
        raise ServiceError(401, 'Unauthorized', 'The bearer token is not valid for this provider.',
                           {'WWW-Authenticate': 'Bearer error="invalid_token"'})


def check_policy_set(policy):
    if not policy['policy_set']:
        raise ServiceError(400, 'InvalidOperation', NO_POLICY_MESSAGE)


def _deny(detail):
    return ServiceError(400, 'PolicyEvaluationError', '%s (emulator: %s)' % (DENY_MESSAGE, detail))


def evaluate(policy, facts):
    """Authorization rules on the verified evidence. `facts` carries pcrs
    ({bank: {index: bytes}}), aik_pub_hash, aik_validated, secure_boot, aik_cert_present."""
    mask = policy['required_pcr_mask']
    wanted = [i for i in range(24) if mask & (1 << i)]
    for bank, values in facts['pcrs'].items():
        missing = [i for i in wanted if i not in values]
        if missing:
            # MAA checks this as a configuration rule before authorization: InvalidParameter.
            raise ServiceError(400, 'InvalidParameter',
                               'The quote does not cover the PCRs required by required_pcr_mask '
                               '0x%06X: %s bank lacks PCR %s'
                               % (mask, bank, ', '.join(str(i) for i in missing)))
    if policy['require_valid_aik_cert'] and not facts['aik_validated']:
        raise ServiceError(400, 'InvalidParameter',
                           'require_valid_aik_cert is set and the AIK certificate is %s'
                           % ('not valid for a trusted AIK CA' if facts['aik_cert_present']
                              else 'missing (aik_cert)'))
    allowed = policy['allowed_aik_pub_hashes']
    if allowed and facts['aik_pub_hash'] not in allowed:
        raise _deny('aikPubHash %s is not in allowed_aik_pub_hashes' % facts['aik_pub_hash'])
    if policy['require_secure_boot'] and not facts['secure_boot']:
        raise _deny('secureBootEnabled is false')
    for bank, values in sorted(policy['golden_pcrs'].items()):
        for idx, hexval in sorted(values.items(), key=lambda kv: int(kv[0])):
            got = facts['pcrs'].get(bank, {}).get(int(idx))
            if got is None:
                raise _deny('golden PCR %s (%s) is not in the quote' % (idx, bank))
            if got.hex() != hexval.lower():
                raise _deny('PCR %s (%s) is %s, the golden value is %s'
                            % (idx, bank, got.hex(), hexval.lower()))
