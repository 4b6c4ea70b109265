# The two legs of MAA's TPM protocol (../../doc/maa-protocol.md): the sealed service_context,
# the PS256 request JWS and every evidence check, each failing with a precise message.
import datetime
import hashlib
import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import eventlog_replay
import tpm_structs
from common import (b64std_encode, b64url_decode, b64url_encode, compact_json, invalid,
                    raw_member_text, require, strict_json)

CHALLENGE_BYTES = 16
_CONTEXT_AAD = b'maa-emulator service_context v1'
_CURVES = {'P-256': ec.SECP256R1, 'P-384': ec.SECP384R1, 'P-521': ec.SECP521R1}


def _iso(t):
    t = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


class ContextSealer:
    """service_context = B64U(JSON{ProtectionKeyName, ProtectedContext}) like MAA's;
    ProtectedContext is AES-256-GCM over {challenge, iat, exp}: opaque and MAC'd."""

    def __init__(self, key):
        self.aead = AESGCM(key)
        self.key_name = hashlib.sha256(key).hexdigest().upper()

    def seal(self, challenge, now, lifetime):
        body = compact_json({'challenge': b64url_encode(challenge), 'iat': int(now),
                             'exp': int(now) + int(lifetime)})
        nonce = secrets.token_bytes(12)
        sealed = nonce + self.aead.encrypt(nonce, body, _CONTEXT_AAD)
        return b64url_encode(compact_json({'ProtectionKeyName': self.key_name,
                                           'ProtectedContext': b64url_encode(sealed)}))

    def open(self, text, now):
        outer = strict_json(b64url_decode(text, 'att_data.service_context'),
                            'att_data.service_context')
        if not isinstance(outer, dict) or not isinstance(outer.get('ProtectedContext'), str):
            raise invalid('att_data.service_context is not a service context of this service')
        if outer.get('ProtectionKeyName') != self.key_name:
            raise invalid('att_data.service_context was protected with another key (%s)'
                          % outer.get('ProtectionKeyName'))
        sealed = b64url_decode(outer['ProtectedContext'], 'service_context.ProtectedContext')
        try:
            body = self.aead.decrypt(sealed[:12], sealed[12:], _CONTEXT_AAD)
        except (InvalidTag, ValueError):
            raise invalid('att_data.service_context is not authentic (MAC check failed)') from None
        ctx = strict_json(body, 'service_context body')
        if now >= ctx['exp']:
            raise invalid('att_data.service_context expired at %s (issued %s, now %s)'
                          % (_iso(ctx['exp']), _iso(ctx['iat']), _iso(now)))
        return b64url_decode(ctx['challenge'], 'service_context challenge')


def leg1(payload, sealer, now, lifetime):
    kind = payload.get('type')
    if kind != 'aikcert':
        raise invalid('payload.type is %r; only "aikcert" is supported' % (kind,))
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    return {'challenge': b64url_encode(challenge),
            'service_context': sealer.seal(challenge, now, lifetime)}


def _uint(jwk, name, where):
    raw = b64url_decode(require(jwk, name, str, where), '%s.%s' % (where, name))
    if not raw:
        raise invalid('%s.%s is empty' % (where, name))
    return int.from_bytes(raw, 'big')


def jwk_public_key(jwk, where, rsa_only=False):
    """JWK (RSA n/e or EC crv/x/y) -> cryptography public key."""
    kty = require(jwk, 'kty', str, where)
    if 'd' in jwk:
        raise invalid('%s contains the private member "d"' % where)
    try:
        if kty == 'RSA':
            n, e = _uint(jwk, 'n', where), _uint(jwk, 'e', where)
            if n.bit_length() < 2048:
                raise invalid('%s: RSA modulus has %d bits, at least 2048 are required'
                              % (where, n.bit_length()))
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == 'EC' and not rsa_only:
            crv = require(jwk, 'crv', str, where)
            if crv not in _CURVES:
                raise invalid('%s.crv "%s" is not supported' % (where, crv))
            return ec.EllipticCurvePublicNumbers(_uint(jwk, 'x', where), _uint(jwk, 'y', where),
                                                 _CURVES[crv]()).public_key()
    except ValueError as e:
        raise invalid('%s is not a valid public key: %s' % (where, e)) from None
    raise invalid('%s.kty "%s" is not supported%s' % (where, kty, ' (PS256 needs RSA)'
                                                         if rsa_only else ''))


def spki_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _verify_issued_by(cert, issuer, now):
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    t = datetime.datetime.utcfromtimestamp(now)
    return cert.issuer == issuer.subject and cert.not_valid_before <= t <= cert.not_valid_after


def _pcr_values(pcrs, where):
    """pcrs[] -> [(alg id, [(index, digest)])] with per-bank checks."""
    if not isinstance(pcrs, list) or not pcrs:
        raise invalid('%s.pcrs must be a non-empty array' % where)
    out = []
    for b, bank in enumerate(pcrs):
        bw = '%s.pcrs[%d]' % (where, b)
        alg = require(bank, 'algorithm', int, bw)
        if alg not in tpm_structs.HASH_ALGS:
            raise invalid('%s.algorithm %d is not a supported TPM_ALG_ID' % (bw, alg))
        size = tpm_structs.HASH_ALGS[alg][2]
        vals = require(bank, 'values', list, bw)
        items = []
        for v, val in enumerate(vals):
            vw = '%s.values[%d]' % (bw, v)
            idx = require(val, 'index', int, vw)
            if not 0 <= idx <= 23:
                raise invalid('%s.index %d is out of range' % (vw, idx))
            digest = b64url_decode(require(val, 'digest', str, vw), vw + '.digest')
            if len(digest) != size:
                raise invalid('%s.digest has %d bytes, %s needs %d'
                              % (vw, len(digest), tpm_structs.hash_name(alg), size))
            items.append((idx, digest))
        out.append((alg, items))
    return out


def verify_attestation(cur, expected_qd, where, policy, now):
    """One tpm_att_data entry (current_attestation / boot_attestation)."""
    aik = jwk_public_key(require(cur, 'aik_pub', dict, where), where + '.aik_pub')
    quote = b64url_decode(require(cur, 'quote', str, where), where + '.quote')
    sig_raw = b64url_decode(require(cur, 'signature', str, where), where + '.signature')
    att = tpm_structs.parse_attest(quote)
    if att['type'] != tpm_structs.TPM_ST_ATTEST_QUOTE:
        raise invalid('%s.quote: type is 0x%04x, expected 0x%04x (TPM_ST_ATTEST_QUOTE)'
                      % (where, att['type'], tpm_structs.TPM_ST_ATTEST_QUOTE))
    if expected_qd is not None and att['extraData'] != expected_qd:
        raise invalid('%s.quote: extraData (qualifyingData) is %s, expected '
                      'SHA256(request_key.jwk text || 0x00 || challenge) = %s'
                      % (where, att['extraData'].hex() or '(empty)', expected_qd.hex()))
    banks = _pcr_values(cur.get('pcrs'), where)
    sel = att['pcrSelect']
    if len(sel) != len(banks):
        raise invalid('%s.pcrs has %d banks, the quote selects %d' % (where, len(banks), len(sel)))
    for b, ((salg, sidx), (alg, items)) in enumerate(zip(sel, banks)):
        if salg != alg:
            raise invalid('%s.pcrs[%d].algorithm is %s, the quote selection has %s there'
                          % (where, b, tpm_structs.hash_name(alg), tpm_structs.hash_name(salg)))
        if [i for i, _ in items] != sidx:
            raise invalid('%s.pcrs[%d] lists PCRs %s, the quote selects %s (same order required)'
                          % (where, b, [i for i, _ in items], sidx))
    sig = tpm_structs.parse_signature(sig_raw)
    digest = tpm_structs.pcr_digest(sig['hashAlg'], [d for _, items in banks for _, d in items])
    if digest != att['pcrDigest']:
        raise invalid('%s: pcrDigest in the quote (%s) is not %s of the pcrs[] digests (%s)'
                      % (where, att['pcrDigest'].hex(), tpm_structs.hash_name(sig['hashAlg']),
                         digest.hex()))
    tpm_structs.verify_signature(aik, sig, quote, '%s.signature' % where)
    pcrs = {tpm_structs.hash_name(alg): dict(items) for alg, items in banks}
    logs = _replay_logs(cur.get('logs'), pcrs, where, policy)
    aik_spki = spki_der(aik)
    cert_present, validated = False, False
    if cur.get('aik_cert') is not None:
        cert_present = True
        der = b64url_decode(require(cur, 'aik_cert', str, where), where + '.aik_cert')
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as e:
            raise invalid('%s.aik_cert is not an X.509 DER certificate: %s' % (where, e)) from None
        if spki_der(cert.public_key()) != aik_spki:
            raise invalid('%s.aik_cert: its public key is not aik_pub' % where)
        anchors = [x509.load_pem_x509_certificate(p.encode('ascii'))
                   for p in policy['aik_trust_anchors']]
        validated = any(_verify_issued_by(cert, a, now) for a in anchors)
    return {'pcrs': pcrs, 'logs': logs,
            'aik_pub_hash': b64std_encode(hashlib.sha256(aik_spki).digest()),
            'aik_cert_present': cert_present, 'aik_validated': validated, 'attest': att}


def _replay_logs(logs, pcrs, where, policy):
    if logs is None:
        logs = []
    if not isinstance(logs, list):
        raise invalid('%s.logs must be an array' % where)
    parsed, state = [], {}
    extended, unknown = {}, {}
    for i, entry in enumerate(logs):
        lw = '%s.logs[%d]' % (where, i)
        kind = require(entry, 'type', str, lw)
        raw = b64url_decode(require(entry, 'log', str, lw), lw + '.log')
        if kind == 'IMA':
            continue   # accepted, not replayed (README: PCR 10 stays unconstrained)
        if kind != 'TCG':
            raise invalid('%s.type "%s" is not TCG or IMA' % (lw, kind))
        log = eventlog_replay.parse(raw, lw + ' (TCG log)')
        state, ext, unk = eventlog_replay.replay(log, state)
        for bank in ext:
            extended.setdefault(bank, set()).update(ext[bank])
            unknown.setdefault(bank, set()).update(unk[bank])
        parsed.append(log)
    if not parsed:
        if policy['require_tcg_log']:
            raise invalid('%s.logs has no TCG log' % where)
        return parsed
    for bank, values in pcrs.items():
        if bank not in state or bank not in extended:
            raise invalid('%s: the TCG log has no %s digests, but the quote selects the %s bank'
                          % (where, bank, bank))
        for idx, digest in sorted(values.items()):
            if idx in unknown[bank]:
                raise invalid('%s: PCR %d (%s): the TCG log has events without a %s digest'
                              % (where, idx, bank, bank))
            if idx in extended[bank] and state[bank][idx] != digest:
                raise invalid('%s: PCR %d (%s) does not match the TCG log replay: quoted %s, '
                              'log gives %s' % (where, idx, bank, digest.hex(),
                                                state[bank][idx].hex()))
    return parsed


def parse_request(jws):
    """Split and decode the request JWS: (header, payload text, signing input, signature)."""
    if not isinstance(jws, str):
        raise invalid('payload.request must be a JWS string')
    parts = jws.split('.')
    if len(parts) != 3:
        raise invalid('payload.request is not a compact JWS (%d parts, expected 3)' % len(parts))
    header = strict_json(b64url_decode(parts[0], 'JWS header'), 'JWS header')
    if not isinstance(header, dict):
        raise invalid('JWS header is not a JSON object')
    try:
        text = b64url_decode(parts[1], 'JWS payload').decode('utf-8')
    except UnicodeDecodeError as e:
        raise invalid('JWS payload is not UTF-8: %s' % e) from None
    return header, text, (parts[0] + '.' + parts[1]).encode('ascii'), \
        b64url_decode(parts[2], 'JWS signature')


def leg2(payload, sealer, policy, now):
    """Verify leg 2 and return the facts the token is built from."""
    header, text, signing_input, signature = parse_request(payload.get('request'))
    if header.get('alg') != 'PS256':
        raise invalid('JWS header alg is %r, expected "PS256"' % (header.get('alg'),))
    if header.get('typ') == 'attReq':
        raise invalid('JWS header typ "attReq" (protocol v1) is not supported; use "attReqV2"')
    if header.get('typ') != 'attReqV2':
        raise invalid('JWS header typ is %r, expected "attReqV2"' % (header.get('typ'),))
    if 'crit' in header:
        raise invalid('JWS header "crit" is not supported')
    body = strict_json(text, 'JWS payload')
    if not isinstance(body, dict):
        raise invalid('JWS payload is not a JSON object')
    att_type = require(body, 'att_type', str, 'payload')
    if att_type != 'basic':
        raise invalid('payload.att_type "%s" is not supported (only "basic")' % att_type)
    att = require(body, 'att_data', dict, 'payload')
    rk = require(att, 'request_key', dict, 'payload.att_data')
    jwk = require(rk, 'jwk', dict, 'payload.att_data.request_key')
    rk_pub = jwk_public_key(jwk, 'att_data.request_key.jwk', rsa_only=True)
    try:
        rk_pub.verify(signature, signing_input,
                      padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                      hashes.SHA256())
    except InvalidSignature:
        raise invalid('JWS signature does not verify with att_data.request_key.jwk '
                      '(PS256: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32)') from None
    challenge = sealer.open(require(att, 'service_context', str, 'payload.att_data'), now)
    sent = b64url_decode(require(att, 'challenge', str, 'payload.att_data'), 'att_data.challenge')
    if sent != challenge:
        raise invalid('att_data.challenge %s does not match the challenge in service_context (%s)'
                      % (sent.hex(), challenge.hex()))
    info = rk.get('info')
    if not isinstance(info, dict) or not info:
        raise invalid('att_data.request_key.info is missing: request_key must be TPM-bound')
    if 'tpm_certify' in info:
        raise invalid('att_data.request_key.info.tpm_certify is not supported by the emulator; '
                      'use tpm_quote')
    tq = require(info, 'tpm_quote', dict, 'att_data.request_key.info')
    if tq.get('hash_alg') != 'sha-256':
        raise invalid('att_data.request_key.info.tpm_quote.hash_alg is %r, expected "sha-256"'
                      % (tq.get('hash_alg'),))
    jwk_text = raw_member_text(text, ['att_data', 'request_key', 'jwk'])
    expected_qd = hashlib.sha256(jwk_text.encode('utf-8') + b'\0' + challenge).digest()
    tpm = require(att, 'tpm_att_data', dict, 'payload.att_data')
    cur = require(tpm, 'current_attestation', dict, 'payload.att_data.tpm_att_data')
    facts = verify_attestation(cur, expected_qd, 'att_data.tpm_att_data.current_attestation',
                               policy, now)
    if tpm.get('boot_attestation') is not None:
        boot = require(tpm, 'boot_attestation', dict, 'payload.att_data.tpm_att_data')
        verify_attestation(boot, None, 'att_data.tpm_att_data.boot_attestation', policy, now)
    other = att.get('other_keys', [])
    if not isinstance(other, list) or len(other) > 2:
        raise invalid('att_data.other_keys must be an array of at most 2 keys')
    for i, key in enumerate(other):
        ow = 'att_data.other_keys[%d]' % i
        jwk_public_key(require(key, 'jwk', dict, ow), ow + '.jwk')
        if isinstance(key.get('info'), dict) and 'tpm_quote' in key['info']:
            raise invalid('%s.info.tpm_quote is not allowed for other_keys' % ow)
    if 'rp_data' in att:
        b64url_decode(require(att, 'rp_data', str, 'payload.att_data'), 'att_data.rp_data')
    facts.update({'jwk': jwk, 'request_key': rk, 'other_keys': other,
                  'rp_data': att.get('rp_data'), 'rp_id': att.get('rp_id'),
                  'secure_boot': any(eventlog_replay.secure_boot_enabled(log)
                                     for log in facts['logs'])})
    return facts
