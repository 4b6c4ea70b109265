# The service-side checks of POST /attest/AzureGuest (AZURE-GUEST.md §12 steps 2-11):
# the AttestationInfo wrapper, OS fields, TpmInfo (AK certificate, AikPub, quote, PCRs,
# TCG log replay, EncKey and its certify) and IsolationInfo (TrustedLaunch, SevSnp).
# Every failure is a 400 whose message names the field. Returns the facts the token needs.
import datetime
import hashlib
import json

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import cvm_reports
import eventlog_replay
import policy as policy_mod
import tpm_public as tp
import tpm_structs
from common import b64any_decode, invalid, require, strict_json
from pki import _issued_by
from azure_pki import PLACEHOLDER_ISSUER

API_VERSIONS = ('2020-10-01', '2025-06-01')
PROTOCOL_VERSIONS = ('1.0', '2.0')

# The switches of §12 (its [I] items and MAA's unknowns). Defaults: a check any correct
# client passes is on; a behaviour where real clients differ and MAA accepts both is lenient.
DEFAULT_SETTINGS = {
    'require_secure_boot': 'cvm',        # 'cvm' (G11: CVMs are refused), 'always', 'never'
    'allow_empty_log': True,             # MAA's answer to an empty TcgLogs is unknown
    'require_empty_extra_data': False,   # Go puts its nonce there and is accepted
    'strict_enckey_attributes': True,    # userWithAuth and sign clear, fixed*/sensitiveDataOrigin
    'cross_check_attests': True,         # quote and certify: same signer, reset/restart counts
    'snp_strict': True,                  # SNP report: VMPL 0 and the debug policy bit clear
    'require_bearer': False,             # an AAD-mode provider (unknown whether any demands it)
    'bearer_tokens': [],
    'token_lifetime_sec': 28800,         # 8 h, as real azurevm tokens
    'vm_id': None,                       # x-ms-azurevm-vmid of Trusted Launch VMs (see README)
}
_CHOICES = {'require_secure_boot': ('cvm', 'always', 'never')}


def validate_settings(changes, base=None):
    """`base` (defaults) updated with `changes`; unknown names and wrong types are errors."""
    out = dict(base or DEFAULT_SETTINGS)
    if not isinstance(changes, dict):
        raise ValueError('AzureGuest settings must be a JSON object')
    for key, value in changes.items():
        if key not in DEFAULT_SETTINGS:
            raise ValueError('unknown AzureGuest setting "%s" (known: %s)'
                             % (key, ', '.join(sorted(DEFAULT_SETTINGS))))
        default = DEFAULT_SETTINGS[key]
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ValueError('%s must be one of %s' % (key, ', '.join(_CHOICES[key])))
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError('%s must be true or false' % key)
        if key == 'token_lifetime_sec' and (isinstance(value, bool) or
                                            not isinstance(value, int) or value <= 0):
            raise ValueError('token_lifetime_sec must be a positive integer')
        if key == 'bearer_tokens' and not (isinstance(value, list) and
                                           all(isinstance(t, str) for t in value)):
            raise ValueError('bearer_tokens must be a list of strings')
        if key == 'vm_id' and value is not None and not isinstance(value, str):
            raise ValueError('vm_id must be a string or null')
        out[key] = value
    return out


def check_authorization(settings, header):
    policy_mod.check_bearer(settings, header)


# ---- step 2: the wrapper
def decode_wrapper(body):
    env = strict_json(body, 'request body')
    if not isinstance(env, dict):
        raise invalid('The request body must be a JSON object {"AttestationInfo": ...}.')
    keys = [k for k in env if k.lower() == 'attestationinfo']
    if len(keys) != 1:
        raise invalid('The request body must have exactly one "AttestationInfo" member '
                      '(any case); it has %d.' % len(keys))
    raw = b64any_decode(env[keys[0]], 'AttestationInfo')
    info = strict_json(raw, 'decoded AttestationInfo')
    if not isinstance(info, dict):
        raise invalid('The decoded AttestationInfo must be a JSON object.')
    return info


# ---- step 3: scalar fields
def _b64_text(info, key):
    raw = b64any_decode(require(info, key, str, 'AttestationInfo'), 'AttestationInfo.' + key)
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise invalid('AttestationInfo.%s does not decode to UTF-8 text' % key) from None


def _version_number(info, key):
    value = info.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise invalid('AttestationInfo.%s must be a non-negative number or numeric string, got %s'
                  % (key, json.dumps(value)))


def os_fields(info):
    proto = require(info, 'AttestationProtocolVersion', str, 'AttestationInfo')
    if proto not in PROTOCOL_VERSIONS:
        raise invalid('AttestationInfo.AttestationProtocolVersion "%s" is not one of %s'
                      % (proto, ', '.join(PROTOCOL_VERSIONS)))
    payload = info.get('ClientPayload')
    if payload is not None and not isinstance(payload, dict):
        raise invalid('AttestationInfo.ClientPayload must be null or a JSON object')
    return {'protocol': proto, 'os_type': _b64_text(info, 'OSType'),
            'os_distro': _b64_text(info, 'OSDistro'), 'os_build': _b64_text(info, 'OSBuild'),
            'os_major': _version_number(info, 'OSVersionMajor'),
            'os_minor': _version_number(info, 'OSVersionMinor'),
            'client_payload': payload}


# ---- steps 4-6: TpmInfo decoding, AK certificate, AikPub
def _bin(tpm, key):
    return b64any_decode(require(tpm, key, str, 'TpmInfo'), 'TpmInfo.' + key)


def _der_trim(data):
    """Cut trailing bytes (NV padding) after the outer DER SEQUENCE."""
    if len(data) < 4 or data[0] != 0x30:
        raise invalid('TpmInfo.AikCert is not a DER certificate (no outer SEQUENCE)')
    if data[1] < 0x80:
        total = 2 + data[1]
    else:
        n = data[1] & 0x7F
        total = 2 + n + int.from_bytes(data[2:2 + n], 'big')
    if total > len(data):
        raise invalid('TpmInfo.AikCert is truncated: its DER says %d bytes, %d sent'
                      % (total, len(data)))
    return data[:total]


def _utc(t):
    return datetime.datetime.utcfromtimestamp(t)


def check_ak_cert(der, ak_pub, pki, now):
    try:
        cert = x509.load_der_x509_certificate(_der_trim(der))
    except ValueError as e:
        raise invalid('TpmInfo.AikCert is not an X.509 DER certificate: %s' % e) from None
    issuer = cert.issuer.rfc4514_string()
    if PLACEHOLDER_ISSUER in issuer.upper():
        raise invalid('TpmInfo.AikCert is the not-yet-provisioned placeholder (issuer %s); '
                      'retry after the VM\'s AK certificate is provisioned' % issuer)
    if not _issued_by(cert, pki.ca):
        raise invalid('TpmInfo.AikCert does not chain to the AK CA "%s" (issuer %s)'
                      % (pki.ca.subject.rfc4514_string(), issuer))
    t = _utc(now)
    if not cert.not_valid_before <= t <= cert.not_valid_after:
        raise invalid('TpmInfo.AikCert is outside its validity (%s .. %s)'
                      % (cert.not_valid_before.isoformat(), cert.not_valid_after.isoformat()))
    key = cert.public_key().public_numbers()
    if (key.n, key.e) != (int.from_bytes(ak_pub['modulus'], 'big'), ak_pub['exponent'] or 65537):
        raise invalid('TpmInfo.AikCert: its public key is not the key in TpmInfo.AikPub')
    return cert


def check_aik_pub(pub):
    a = pub['attributes']
    if pub['keyBits'] != 2048:
        raise invalid('TpmInfo.AikPub: RSA-%d, expected RSA-2048' % pub['keyBits'])
    if pub['nameAlg'] != tp.ALG_SHA256:
        raise invalid('TpmInfo.AikPub: nameAlg 0x%04x, expected SHA-256' % pub['nameAlg'])
    if not (a & tp.RESTRICTED and a & tp.SIGN) or a & tp.DECRYPT:
        raise invalid('TpmInfo.AikPub: attributes %s; an AK must be restricted|sign and not '
                      'decrypt' % tp.attr_text(a))
    if pub['scheme'] != tp.ALG_RSASSA or pub['schemeHash'] != tp.ALG_SHA256:
        raise invalid('TpmInfo.AikPub: scheme 0x%04x/%s, expected RSASSA with SHA-256'
                      % (pub['scheme'], pub['schemeHash']))


def _verify_rsassa(key, sig, message, what):
    try:
        key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise invalid('%s: the RSASSA-PKCS1-v1_5/SHA-256 signature does not verify with '
                      'TpmInfo.AikPub' % what) from None


# ---- step 7: quote and PCRs
def _pcr_set(tpm):
    pcr_set = require(tpm, 'PcrSet', list, 'TpmInfo')
    if not pcr_set or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= 23
                          for i in pcr_set) or pcr_set != sorted(set(pcr_set)):
        raise invalid('TpmInfo.PcrSet must be a non-empty ascending list of PCR indices '
                      '0..23, got %s' % json.dumps(pcr_set))
    return pcr_set


def _pcr_values(tpm, pcr_set):
    pcrs = require(tpm, 'PCRs', list, 'TpmInfo')
    values = []
    for n, item in enumerate(pcrs):
        where = 'TpmInfo.PCRs[%d]' % n
        idx = require(item, 'Index', int, where)
        digest = b64any_decode(require(item, 'Digest', str, where), where + '.Digest')
        if len(digest) != 32:
            raise invalid('%s.Digest has %d bytes, a SHA-256 PCR has 32' % (where, len(digest)))
        values.append((idx, digest))
    if [i for i, _ in values] != pcr_set:
        raise invalid('TpmInfo.PCRs lists PCRs %s, TpmInfo.PcrSet is %s'
                      % ([i for i, _ in values], pcr_set))
    return dict(values)


def check_quote(tpm, ak_key, pcr_set, pcrs, settings):
    quote = _bin(tpm, 'PcrQuote')
    att = tpm_structs.parse_attest(quote, 'TpmInfo.PcrQuote')
    if att['type'] != tpm_structs.TPM_ST_ATTEST_QUOTE:
        raise invalid('TpmInfo.PcrQuote: type 0x%04x, expected 0x8018 (TPM_ST_ATTEST_QUOTE)'
                      % att['type'])
    _verify_rsassa(ak_key, _bin(tpm, 'PcrSignature'), quote, 'TpmInfo.PcrSignature')
    sel = att['pcrSelect']
    if len(sel) != 1 or sel[0][0] != tp.ALG_SHA256 or sel[0][1] != pcr_set:
        raise invalid('TpmInfo.PcrQuote selects %s, expected the SHA-256 bank with PcrSet %s'
                      % ([(tpm_structs.hash_name(a), i) for a, i in sel], pcr_set))
    digest = hashlib.sha256(b''.join(pcrs[i] for i in pcr_set)).digest()
    if att['pcrDigest'] != digest:
        raise invalid('TpmInfo.PcrQuote: pcrDigest %s is not SHA-256 of the TpmInfo.PCRs values '
                      '(%s)' % (att['pcrDigest'].hex(), digest.hex()))
    if settings['require_empty_extra_data'] and att['extraData']:
        raise invalid('TpmInfo.PcrQuote: extraData (qualifyingData) must be empty, it has %d '
                      'bytes' % len(att['extraData']))
    return att


# ---- step 8: the TCG log
def check_log(text, pcr_set, pcrs, settings):
    """-> (secure boot enabled, parsed log or None)."""
    raw = b64any_decode(text, 'AttestationInfo.TcgLogs') if isinstance(text, str) else None
    if text is not None and raw is None:
        raise invalid('AttestationInfo.TcgLogs must be a base64 string')
    if not raw:
        if not settings['allow_empty_log']:
            raise invalid('AttestationInfo.TcgLogs is empty (allow_empty_log is off)')
        return False, None
    log = eventlog_replay.parse(raw, 'AttestationInfo.TcgLogs')
    state, extended, unknown = eventlog_replay.replay(log)
    if 'sha256' not in state:
        raise invalid('AttestationInfo.TcgLogs has no SHA-256 digests')
    for idx in pcr_set:
        if idx in unknown['sha256']:
            raise invalid('AttestationInfo.TcgLogs: PCR %d has events without a SHA-256 digest'
                          % idx)
        if state['sha256'][idx] != pcrs[idx]:
            raise invalid('PCR %d (sha256) does not match the replay of AttestationInfo.TcgLogs: '
                          'TpmInfo.PCRs has %s, the log gives %s'
                          % (idx, pcrs[idx].hex(), state['sha256'][idx].hex()))
    return eventlog_replay.secure_boot_enabled(log), log


# ---- steps 9-10: EncKey and its certify
def check_enc_key(tpm, pcr_set, pcrs, settings):
    pub = tp.parse_public(_bin(tpm, 'EncKeyPub'), 'TpmInfo.EncKeyPub')
    a = pub['attributes']
    if pub['keyBits'] != 2048 or pub['nameAlg'] != tp.ALG_SHA256:
        raise invalid('TpmInfo.EncKeyPub: RSA-%d with nameAlg 0x%04x, expected RSA-2048 and '
                      'SHA-256' % (pub['keyBits'], pub['nameAlg']))
    if not a & tp.DECRYPT or a & tp.RESTRICTED:
        raise invalid('TpmInfo.EncKeyPub: attributes %s; decrypt must be set and restricted '
                      'clear' % tp.attr_text(a))
    if pub['scheme'] not in (tp.ALG_NULL, tp.ALG_RSAES):
        raise invalid('TpmInfo.EncKeyPub: scheme 0x%04x, expected NULL or RSAES' % pub['scheme'])
    if settings['strict_enckey_attributes']:
        need = tp.FIXED_TPM | tp.FIXED_PARENT | tp.SENSITIVE_DATA_ORIGIN
        if a & (tp.SIGN | tp.USER_WITH_AUTH) or a & need != need:
            raise invalid('TpmInfo.EncKeyPub: attributes %s; sign and userWithAuth must be '
                          'clear (only the PCR policy may authorize decryption), fixedTPM, '
                          'fixedParent and sensitiveDataOrigin set' % tp.attr_text(a))
    want = tp.policy_pcr(pcr_set, b''.join(pcrs[i] for i in pcr_set))
    if pub['authPolicy'] != want:
        raise invalid('TpmInfo.EncKeyPub: authPolicy %s is not PolicyPCR over PcrSet %s with '
                      'the TpmInfo.PCRs values (%s)'
                      % (pub['authPolicy'].hex() or '(empty)', pcr_set, want.hex()))
    return pub


def check_certify(tpm, ak_key, enc_pub, quote_att, settings):
    info = _bin(tpm, 'EncKeyCertifyInfo')
    att = tpm_structs.parse_attest(info, 'TpmInfo.EncKeyCertifyInfo')
    if att['type'] != tpm_structs.TPM_ST_ATTEST_CERTIFY:
        raise invalid('TpmInfo.EncKeyCertifyInfo: type 0x%04x, expected 0x8017 '
                      '(TPM_ST_ATTEST_CERTIFY)' % att['type'])
    _verify_rsassa(ak_key, _bin(tpm, 'EncKeyCertifyInfoSignature'), info,
                   'TpmInfo.EncKeyCertifyInfoSignature')
    name = tp.object_name(enc_pub['tpmt'])
    if att['name'] != name:
        raise invalid('TpmInfo.EncKeyCertifyInfo: attested name %s is not the Name of '
                      'TpmInfo.EncKeyPub (%s)' % (att['name'].hex(), name.hex()))
    if settings['cross_check_attests']:
        for field in ('qualifiedSigner', 'resetCount', 'restartCount'):
            if att[field] != quote_att[field]:
                raise invalid('TpmInfo.EncKeyCertifyInfo: %s differs from TpmInfo.PcrQuote\'s'
                              % field)


# ---- step 11: isolation
def _pem_chain(text):
    marker = '-----END CERTIFICATE-----'
    certs = []
    for block in text.split(marker)[:-1]:
        try:
            certs.append(x509.load_pem_x509_certificate((block.strip() + '\n' + marker + '\n')
                                                        .encode('ascii')))
        except (ValueError, UnicodeEncodeError) as e:
            raise invalid('VcekCertChain: certificate %d is not PEM: %s' % (len(certs), e)) \
                from None
    return certs


def _check_vcek_chain(text, pki, now):
    certs = _pem_chain(text)
    if len(certs) != 3:
        raise invalid('VcekCertChain must hold 3 PEM certificates (VCEK, ASK, ARK), it has %d'
                      % len(certs))
    vcek, ask, ark = certs
    if ark.public_key().public_numbers() != pki.ark.public_key().public_numbers():
        raise invalid('VcekCertChain: the ARK is not the emulator\'s test ARK (%s)'
                      % pki.ark.subject.rfc4514_string())
    for cert, issuer, name in ((ask, ark, 'ASK'), (vcek, ask, 'VCEK')):
        if not _issued_by(cert, issuer):
            raise invalid('VcekCertChain: the %s is not signed by the next certificate' % name)
        if not cert.not_valid_before <= _utc(now) <= cert.not_valid_after:
            raise invalid('VcekCertChain: the %s is outside its validity' % name)
    return vcek


def _hcl_ak_pub(claims_raw, ak_pub):
    claims = strict_json(claims_raw, 'IsolationInfo.Evidence.RunTimeData')
    if not isinstance(claims, dict) or not isinstance(claims.get('keys'), list):
        raise invalid('IsolationInfo.Evidence.RunTimeData must be a JSON object with "keys"')
    key = next((k for k in claims['keys'] if isinstance(k, dict) and k.get('kid') == 'HCLAkPub'),
               None)
    if key is None:
        raise invalid('IsolationInfo.Evidence.RunTimeData.keys has no kid "HCLAkPub"')
    where = 'IsolationInfo.Evidence.RunTimeData.keys[HCLAkPub]'
    n = int.from_bytes(b64any_decode(require(key, 'n', str, where), where + '.n'), 'big')
    e = int.from_bytes(b64any_decode(require(key, 'e', str, where), where + '.e'), 'big')
    if (n, e) != (int.from_bytes(ak_pub['modulus'], 'big'), ak_pub['exponent'] or 65537):
        raise invalid('%s (n, e) is not the key in TpmInfo.AikPub' % where)
    return claims


def check_snp(evidence, ak_pub, pki, settings, now):
    where = 'IsolationInfo.Evidence'
    proof = strict_json(b64any_decode(require(evidence, 'Proof', str, where), where + '.Proof'),
                        where + '.Proof')
    if not isinstance(proof, dict):
        raise invalid('%s.Proof must decode to a JSON object' % where)
    report_raw = b64any_decode(require(proof, 'SnpReport', str, where + '.Proof'),
                               where + '.Proof.SnpReport')
    chain_text = b64any_decode(require(proof, 'VcekCertChain', str, where + '.Proof'),
                               where + '.Proof.VcekCertChain').decode('ascii', 'replace')
    vcek = _check_vcek_chain(chain_text, pki, now)
    report = cvm_reports.parse_snp_report(report_raw, where + '.Proof.SnpReport')
    cvm_reports.verify_snp_signature(report, vcek.public_key(), where + '.Proof.SnpReport')
    runtime = b64any_decode(require(evidence, 'RunTimeData', str, where), where + '.RunTimeData')
    if report['report_data'] != hashlib.sha256(runtime).digest() + bytes(32):
        raise invalid('%s.Proof.SnpReport: report_data is not SHA-256(RunTimeData) followed by '
                      '32 zero bytes' % where)
    claims = _hcl_ak_pub(runtime, ak_pub)
    if settings['snp_strict']:
        if report['vmpl'] != 0:
            raise invalid('%s.Proof.SnpReport: VMPL %d, expected 0' % (where, report['vmpl']))
        if report['policy'] & cvm_reports.POLICY_DEBUG:
            raise invalid('%s.Proof.SnpReport: the guest policy allows debugging' % where)
    return {'type': 'SevSnp', 'report': report, 'runtime_claims': claims}


def check_isolation(info, os_facts, ak_pub, pki, settings, now):
    iso = info.get('IsolationInfo')
    if iso is None:
        if os_facts['protocol'] == '2.0':
            raise invalid('AttestationInfo.IsolationInfo is missing (protocol 2.0)')
        return {'type': 'TrustedLaunch'}
    kind = require(iso, 'Type', str, 'IsolationInfo')
    if kind == 'TrustedLaunch':
        return {'type': kind}
    if kind == 'SevSnp':
        return check_snp(require(iso, 'Evidence', dict, 'IsolationInfo'), ak_pub, pki,
                         settings, now)
    if kind == 'Tdx':
        raise invalid('IsolationInfo.Type "Tdx" is not supported by the emulator')
    raise invalid('IsolationInfo.Type "%s" is not TrustedLaunch, SevSnp or Tdx' % kind)


def verify(body, pki, settings, now):
    """Steps 2-11: request body -> facts for the token (raises ServiceError)."""
    info = decode_wrapper(body)
    facts = os_fields(info)
    tpm = require(info, 'TpmInfo', dict, 'AttestationInfo')
    ak_pub = tp.parse_public(_bin(tpm, 'AikPub'), 'TpmInfo.AikPub')
    check_ak_cert(_bin(tpm, 'AikCert'), ak_pub, pki, now)
    check_aik_pub(ak_pub)
    ak_key = tp.rsa_public_key(ak_pub)
    pcr_set = _pcr_set(tpm)
    pcrs = _pcr_values(tpm, pcr_set)
    quote_att = check_quote(tpm, ak_key, pcr_set, pcrs, settings)
    secure_boot, _ = check_log(info.get('TcgLogs'), pcr_set, pcrs, settings)
    enc_pub = check_enc_key(tpm, pcr_set, pcrs, settings)
    check_certify(tpm, ak_key, enc_pub, quote_att, settings)
    isolation = check_isolation(info, facts, ak_pub, pki, settings, now)
    rule = settings['require_secure_boot']
    if not secure_boot and (rule == 'always' or (rule == 'cvm' and
                                                  isolation['type'] != 'TrustedLaunch')):
        raise policy_mod.deny_error('secure boot is off (the TCG log has no SecureBoot=1 '
                                    'event in PCR 7) and require_secure_boot is "%s"' % rule)
    facts.update({'pcr_set': pcr_set, 'secure_boot': secure_boot, 'ak_pub': ak_pub,
                  'enc_key': tp.rsa_public_key(enc_pub), 'isolation': isolation})
    return facts
