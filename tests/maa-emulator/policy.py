# The emulator's small, fixed-rule JSON policy: a test convenience standing in for an MAA
# policy (../../doc/maa-protocol.md), its validation, and its evaluation into the claims a
# token carries beyond the ones the service always adds. A provider starts with no policy.
import functools
import hashlib
import json

from cryptography import x509

import eventlog_replay
import maa_policy
import tpm_claims
from common import ServiceError, b64url_encode

# Real MAA answers every attest call this way while no policy is set: HTTP 400, code
# "Bad request" (with a space), no x-ms-error-code header, Connection: close. It says "VBS"
# even on the TPM endpoint.
NO_POLICY_CODE = 'Bad request'
NO_POLICY_MESSAGE = 'A VBS attestation policy has not been set on the attestation provider.'
DENY_MESSAGE = 'A Deny claim was issued, authorization failed.'

# Members that MAA also has (configurationrules) take MAA's defaults.
DEFAULTS = {
    'required_pcr_mask': 0xFFFFFF,      # MAA's default: all 24 PCRs
    'allowed_aik_pub_hashes': [],       # empty = any AIK
    'golden_pcrs': {},                  # {"sha256": {"7": "<hex>"}}
    'require_bearer': False,
    'bearer_tokens': [],
    'token_lifetime_sec': None,         # None: the service's --token-lifetime
    'require_valid_aik_cert': True,     # MAA's default
    'aik_trust_anchors': [],            # PEM certificates (text) that may issue aik_cert
    'require_secure_boot': False,
    'require_tcg_log': True,
    'issue': [],                        # incoming claims copied into the token (INCOMING)
    'issue_events': False,              # add the "events" claim to tokens
    'maa_policy': None,                 # policy text in MAA's language (maa_policy.py)
    'nest_claims': False,               # policy claims under an "x-ms-policy" object
}

# What a policy text decides itself (configurationrules, authorizationrules, issuancerules):
# beside one, these members must keep their defaults.
_TEXT_DECIDES = ('required_pcr_mask', 'require_valid_aik_cert', 'allowed_aik_pub_hashes',
                 'golden_pcrs', 'require_secure_boot', 'issue', 'issue_events')

_TYPES = {
    'required_pcr_mask': int, 'allowed_aik_pub_hashes': list,
    'golden_pcrs': dict, 'require_bearer': bool, 'bearer_tokens': list,
    'token_lifetime_sec': int, 'require_valid_aik_cert': bool, 'aik_trust_anchors': list,
    'require_secure_boot': bool, 'require_tcg_log': bool, 'issue': list, 'issue_events': bool,
    'maa_policy': str, 'nest_claims': bool,
}

# TPM incoming claims the "issue" member may name, and the verified fact each one reads.
INCOMING = {
    'aikValidated': lambda facts: facts['aik_validated'],
    'aikPubHash': lambda facts: facts['aik_pub_hash'],
    'tpmVersion': lambda facts: 2,
    'secureBootEnabled': lambda facts: facts['secure_boot'],
}

_BANK_SIZES = {'sha1': 20, 'sha256': 32, 'sha384': 48, 'sha512': 64}


class PolicyError(ValueError):
    pass


def _check_type(key, value):
    kind = _TYPES[key]
    if value is None and DEFAULTS[key] is None:
        return None
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
                                                                 dict: 'object',
                                                                 str: 'string'}[kind]))
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
    if out['maa_policy'] is not None:
        _check_text(out)
    if not 0 <= out['required_pcr_mask'] <= 0xFFFFFF:
        raise PolicyError('policy: required_pcr_mask must be within 0..0xFFFFFF')
    if out['token_lifetime_sec'] is not None and out['token_lifetime_sec'] <= 0:
        raise PolicyError('policy: token_lifetime_sec must be positive')
    for name in out['issue']:
        if name not in INCOMING:
            raise PolicyError('policy: issue: "%s" is not an incoming claim the emulator knows '
                              '(known: %s)' % (name, ', '.join(sorted(INCOMING))))
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


def from_text(text):
    """A policy file's content as the policy object: JSON (the convenience form, or null for
    no policy) when it is JSON, otherwise policy text in MAA's language."""
    try:
        return json.loads(text)
    except ValueError:
        return {'maa_policy': text}


@functools.lru_cache(maxsize=8)
def _parsed(text):
    return maa_policy.parse(text)


def _check_text(policy):
    try:
        _parsed(policy['maa_policy'])
    except maa_policy.PolicyParseError as e:
        raise PolicyError(str(e)) from None
    for key in _TEXT_DECIDES:
        if policy[key] != DEFAULTS[key]:
            raise PolicyError('policy: %s cannot be combined with maa_policy: the policy text '
                              'decides it' % key)


def policy_hash(policy):
    """x-ms-policy-hash as MAA computes it over its policy text: B64U(SHA256(B64U(text)))."""
    if policy['maa_policy'] is not None:
        return maa_policy.policy_hash(policy['maa_policy'])
    text = json.dumps(policy, sort_keys=True, separators=(',', ':'))
    inner = b64url_encode(text.encode('utf-8')).encode('ascii')
    return b64url_encode(hashlib.sha256(inner).digest())


def check_bearer(policy, header):
    """Authorization check for /attest/Tpm (401 Unauthorized like MAA). Without a policy
    there is nothing to check here: the no-policy answer comes next."""
    if policy is None or not policy['require_bearer']:
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


def no_policy_error():
    return ServiceError(400, NO_POLICY_CODE, NO_POLICY_MESSAGE, {'Connection': 'close'})


def check_policy_set(policy):
    if policy is None:
        raise no_policy_error()


def deny_error(detail=None):
    """400 PolicyEvaluationError with a multi-line message, as MAA's native trace is; the
    emulator's reason, when there is one, is its last line."""
    lines = ['Policy evaluation failed for the TPM attestation request.',
             'Inner error: PolicyEvaluationError: ' + DENY_MESSAGE]
    if detail:
        lines.append('emulator: ' + detail)
    return ServiceError(400, 'PolicyEvaluationError', '\n'.join(lines))


def _check_configuration(properties, facts):
    """The configurationrules MAA has: required_pcr_mask and require_valid_aik_cert."""
    mask = properties['required_pcr_mask']
    wanted = [i for i in range(24) if mask & (1 << i)]
    for bank, values in facts['pcrs'].items():
        missing = [i for i in wanted if i not in values]
        if missing:
            # MAA checks this as a configuration rule before authorization: InvalidParameter.
            raise ServiceError(400, 'InvalidParameter',
                               'The quote does not cover the PCRs required by required_pcr_mask '
                               '0x%06X: %s bank lacks PCR %s'
                               % (mask, bank, ', '.join(str(i) for i in missing)))
    if properties['require_valid_aik_cert'] and not facts['aik_validated']:
        raise ServiceError(400, 'InvalidParameter',
                           'require_valid_aik_cert is set and the AIK certificate is %s'
                           % ('not valid for a trusted AIK CA' if facts['aik_cert_present']
                              else 'missing (aik_cert)'))


def _authorize(policy, facts):
    allowed = policy['allowed_aik_pub_hashes']
    if allowed and facts['aik_pub_hash'] not in allowed:
        raise deny_error('aikPubHash %s is not in allowed_aik_pub_hashes' % facts['aik_pub_hash'])
    if policy['require_secure_boot'] and not facts['secure_boot']:
        raise deny_error('secureBootEnabled is false')
    for bank, values in sorted(policy['golden_pcrs'].items()):
        for idx, hexval in sorted(values.items(), key=lambda kv: int(kv[0])):
            got = facts['pcrs'].get(bank, {}).get(int(idx))
            if got is None:
                raise deny_error('golden PCR %s (%s) is not in the quote' % (idx, bank))
            if got.hex() != hexval.lower():
                raise deny_error('PCR %s (%s) is %s, the golden value is %s'
                                 % (idx, bank, got.hex(), hexval.lower()))


def _evaluate_text(text, facts):
    """The policy text on the verified evidence: its properties, then its rules over the
    incoming claims."""
    parsed = _parsed(text)
    _check_configuration(parsed.configuration(), facts)
    try:
        result = parsed.evaluate(tpm_claims.incoming(facts))
    except maa_policy.PolicyEvaluationError as e:
        raise ServiceError(400, 'PolicyEvaluationError', str(e)) from None
    if not result.permitted:
        raise deny_error(result.deny_reason)
    return dict(result.claims)


def _evaluate_json(policy, facts):
    _check_configuration(policy, facts)
    _authorize(policy, facts)
    claims = {name: INCOMING[name](facts) for name in policy['issue']}
    if policy['issue_events']:
        claims['events'] = eventlog_replay.events_claim(facts['logs'])
    return claims


def evaluate(policy, facts):
    """Run the policy on the verified evidence and return the claims it issues (a dict,
    merged by the service over the claims it always adds; under "x-ms-policy" when the
    policy says nest_claims). Raises ServiceError for a configuration rule that fails
    (400 InvalidParameter), a denial or a rule that fails at run time (400
    PolicyEvaluationError). `facts` carries pcrs ({bank: {index: bytes}}), logs,
    aik_pub_hash, aik_validated, aik_cert_present, secure_boot, request_key."""
    if policy['maa_policy'] is not None:
        claims = _evaluate_text(policy['maa_policy'], facts)
    else:
        claims = _evaluate_json(policy, facts)
    return {'x-ms-policy': claims} if policy['nest_claims'] and claims else claims
