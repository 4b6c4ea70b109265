# TPM 2.0 public areas (TPM2B_PUBLIC / TPMT_PUBLIC of RSA keys), object names and the
# policy digests the Azure guest attestation protocol uses (PolicyPCR for the ephemeral
# encryption key, the Windows-style AK policy). Written from TPM 2.0 Part 2/3, big-endian.
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric import rsa

from common import invalid
from tpm_structs import HASH_ALGS, Reader

ALG_RSA = 0x0001
ALG_SHA256 = 0x000B
ALG_NULL = 0x0010
ALG_RSASSA = 0x0014
ALG_RSAES = 0x0015
ALG_OAEP = 0x0017

# TPMA_OBJECT bits
FIXED_TPM = 1 << 1
FIXED_PARENT = 1 << 4
SENSITIVE_DATA_ORIGIN = 1 << 5
USER_WITH_AUTH = 1 << 6
ADMIN_WITH_POLICY = 1 << 7
NO_DA = 1 << 10
RESTRICTED = 1 << 16
DECRYPT = 1 << 17
SIGN = 1 << 18

ATTR_NAMES = {FIXED_TPM: 'fixedTPM', FIXED_PARENT: 'fixedParent',
              SENSITIVE_DATA_ORIGIN: 'sensitiveDataOrigin', USER_WITH_AUTH: 'userWithAuth',
              ADMIN_WITH_POLICY: 'adminWithPolicy', NO_DA: 'noDA', RESTRICTED: 'restricted',
              DECRYPT: 'decrypt', SIGN: 'sign'}

# Command codes used in policy digests
TPM_CC_ACTIVATE_CREDENTIAL = 0x147
TPM_CC_CERTIFY = 0x148
TPM_CC_OBJECT_CHANGE_AUTH = 0x150
TPM_CC_POLICY_AUTH_VALUE = 0x16B
TPM_CC_POLICY_COMMAND_CODE = 0x16C
TPM_CC_POLICY_OR = 0x171
TPM_CC_POLICY_PCR = 0x17F
TPM_RH_ENDORSEMENT = 0x4000000B
TPM_RH_NULL = 0x40000007


def attr_text(attrs):
    return '|'.join(n for bit, n in sorted(ATTR_NAMES.items()) if attrs & bit) or '(none)'


def parse_public(data, what):
    """TPM2B_PUBLIC of an RSA key -> dict with type, nameAlg, attributes, authPolicy,
    symmetric, scheme, schemeHash, keyBits, exponent (0 means 65537), modulus and `tpmt`
    (the TPMT_PUBLIC bytes, for the Name). Anything else is an error naming `what`."""
    r = Reader(data, '%s (TPM2B_PUBLIC)' % what)
    size = r.u16('size')
    if size != len(data) - 2:
        raise invalid('%s (TPM2B_PUBLIC): size field says %d bytes, %d follow'
                      % (what, size, len(data) - 2))
    out = {'tpmt': bytes(data[2:])}
    out['type'] = r.u16('type')
    if out['type'] != ALG_RSA:
        raise invalid('%s: type is 0x%04x, expected 0x%04x (TPM_ALG_RSA)'
                      % (what, out['type'], ALG_RSA))
    out['nameAlg'] = r.u16('nameAlg')
    out['attributes'] = r.u32('objectAttributes')
    out['authPolicy'] = r.tpm2b('authPolicy', 64)
    out['symmetric'] = r.u16('parameters.symmetric.algorithm')
    if out['symmetric'] != ALG_NULL:
        r.u16('parameters.symmetric.keyBits')
        r.u16('parameters.symmetric.mode')
    out['scheme'] = r.u16('parameters.scheme.scheme')
    out['schemeHash'] = r.u16('parameters.scheme.hashAlg') if out['scheme'] != ALG_NULL else None
    out['keyBits'] = r.u16('parameters.keyBits')
    out['exponent'] = r.u32('parameters.exponent')
    out['modulus'] = r.tpm2b('unique.rsa', 512)
    r.end()
    if len(out['modulus']) * 8 != out['keyBits']:
        raise invalid('%s: unique.rsa has %d bytes, keyBits says %d bits'
                      % (what, len(out['modulus']), out['keyBits']))
    return out


def rsa_public_key(pub):
    return rsa.RSAPublicNumbers(pub['exponent'] or 65537,
                                int.from_bytes(pub['modulus'], 'big')).public_key()


def object_name(tpmt, name_alg=ALG_SHA256):
    """Name = nameAlg || H(TPMT_PUBLIC)."""
    if name_alg not in HASH_ALGS:
        raise invalid('nameAlg 0x%04x is not supported' % name_alg)
    return struct.pack('>H', name_alg) + hashlib.new(HASH_ALGS[name_alg][1], tpmt).digest()


def qualified_name(parent_qualified_name_or_handle, name):
    """QN = nameAlg(SHA-256) || SHA-256(QN(parent) || Name); a hierarchy's QN is its handle."""
    parent = parent_qualified_name_or_handle
    if isinstance(parent, int):
        parent = struct.pack('>I', parent)
    return struct.pack('>H', ALG_SHA256) + hashlib.sha256(parent + name).digest()


def pcr_selection_bytes(indices, hash_alg=ALG_SHA256, size_of_select=3):
    """TPML_PCR_SELECTION with one bank: count=1, hash, sizeofSelect, bitmap."""
    bitmap = bytearray(size_of_select)
    for i in indices:
        bitmap[i // 8] |= 1 << (i % 8)
    return struct.pack('>IHB', 1, hash_alg, size_of_select) + bytes(bitmap)


def _extend(digest, data):
    return hashlib.sha256(digest + data).digest()


def policy_pcr(indices, pcr_values_concat):
    """Closed form of a trial session's TPM2_PolicyPCR from the zero digest (SHA-256):
    H(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || H(PCR values in index order))."""
    return _extend(bytes(32), struct.pack('>I', TPM_CC_POLICY_PCR) +
                   pcr_selection_bytes(indices) + hashlib.sha256(pcr_values_concat).digest())


def _command_code(cc, digest=bytes(32)):
    return _extend(digest, struct.pack('>II', TPM_CC_POLICY_COMMAND_CODE, cc))


def _auth_value(digest=bytes(32)):
    return _extend(digest, struct.pack('>I', TPM_CC_POLICY_AUTH_VALUE))


def azure_ak_policy():
    """The authPolicy of Azure's AK (attrs 0x00050472), the Windows AIK policy:
    PolicyOR(AuthValue, CC(ObjectChangeAuth)+AuthValue, CC(Certify)+AuthValue,
    CC(ActivateCredential)+AuthValue, CC(Certify)) = 9dffcbf3...22ae."""
    branches = [_auth_value(),
                _auth_value(_command_code(TPM_CC_OBJECT_CHANGE_AUTH)),
                _auth_value(_command_code(TPM_CC_CERTIFY)),
                _auth_value(_command_code(TPM_CC_ACTIVATE_CREDENTIAL)),
                _command_code(TPM_CC_CERTIFY)]
    return _extend(bytes(32), struct.pack('>I', TPM_CC_POLICY_OR) + b''.join(branches))
