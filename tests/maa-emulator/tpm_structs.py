# Parsing of the TPM 2.0 wire structures MAA receives (TPMS_ATTEST, TPMT_SIGNATURE)
# and the AK signature check. Written from the TPM 2.0 Part 2 layouts, big-endian.
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from common import invalid

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ST_ATTEST_CERTIFY = 0x8017

ALG_RSASSA = 0x0014
ALG_RSAPSS = 0x0016
ALG_ECDSA = 0x0018
ALG_NULL = 0x0010

# TPM_ALG_ID -> (name used in claims/JSON, hashlib name, digest size, cryptography hash)
HASH_ALGS = {
    0x0004: ('sha1', 'sha1', 20, hashes.SHA1),
    0x000B: ('sha256', 'sha256', 32, hashes.SHA256),
    0x000C: ('sha384', 'sha384', 48, hashes.SHA384),
    0x000D: ('sha512', 'sha512', 64, hashes.SHA512),
}
HASH_BY_NAME = {v[0]: k for k, v in HASH_ALGS.items()}
SIG_NAMES = {ALG_RSASSA: 'RSASSA', ALG_RSAPSS: 'RSAPSS', ALG_ECDSA: 'ECDSA'}


class Reader:
    """Bounds-checked big-endian reader; every error names the structure and offset."""

    def __init__(self, data, what):
        self.data = bytes(data)
        self.off = 0
        self.what = what

    def _take(self, n, field):
        if n < 0 or self.off + n > len(self.data):
            raise invalid('%s: %s at offset %d needs %d bytes, only %d left'
                          % (self.what, field, self.off, n, len(self.data) - self.off))
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def u8(self, field):
        return self._take(1, field)[0]

    def u16(self, field):
        return struct.unpack('>H', self._take(2, field))[0]

    def u32(self, field):
        return struct.unpack('>I', self._take(4, field))[0]

    def u64(self, field):
        return struct.unpack('>Q', self._take(8, field))[0]

    def tpm2b(self, field, limit=None):
        start = self.off
        size = self.u16(field + '.size')
        if limit is not None and size > limit:
            raise invalid('%s: %s at offset %d has size %d, more than %d'
                          % (self.what, field, start, size, limit))
        return self._take(size, field)

    def bytes(self, n, field):
        return self._take(n, field)

    def end(self):
        if self.off != len(self.data):
            raise invalid('%s: %d trailing bytes at offset %d'
                          % (self.what, len(self.data) - self.off, self.off))


def hash_name(alg):
    return HASH_ALGS[alg][0] if alg in HASH_ALGS else '0x%04x' % alg


def parse_pcr_selection(r):
    """TPML_PCR_SELECTION -> [(hash alg id, [indices ascending])] in wire order."""
    count = r.u32('pcrSelect.count')
    if count > 16:
        raise invalid('%s: pcrSelect.count %d is too large' % (r.what, count))
    out = []
    for i in range(count):
        alg = r.u16('pcrSelect[%d].hash' % i)
        size = r.u8('pcrSelect[%d].sizeofSelect' % i)
        if size > 32:
            raise invalid('%s: pcrSelect[%d].sizeofSelect %d is too large' % (r.what, i, size))
        bits = r.bytes(size, 'pcrSelect[%d].pcrSelect' % i)
        indices = [8 * byte + bit for byte in range(size) for bit in range(8)
                   if bits[byte] & (1 << bit)]
        out.append((alg, indices))
    return out


def parse_attest(data, what='quote'):
    """TPMS_ATTEST (no TPM2B size prefix). Returns a dict; raises on anything malformed.
    `what` names the field in the messages ("quote", "EncKeyCertifyInfo", ...)."""
    if len(data) >= 6 and struct.unpack('>I', data[:4])[0] != TPM_GENERATED_VALUE \
            and struct.unpack('>I', data[2:6])[0] == TPM_GENERATED_VALUE:
        raise invalid('%s: starts with a 2-byte size prefix (TPM2B_ATTEST); '
                      'send the TPMS_ATTEST without it' % what)
    r = Reader(data, '%s (TPMS_ATTEST)' % what)
    magic = r.u32('magic')
    if magic != TPM_GENERATED_VALUE:
        raise invalid('%s: magic is 0x%08x, expected 0x%08x (TPM_GENERATED_VALUE)'
                      % (r.what, magic, TPM_GENERATED_VALUE))
    st = r.u16('type')
    out = {'magic': magic, 'type': st}
    out['qualifiedSigner'] = r.tpm2b('qualifiedSigner', 2 + 64)
    out['extraData'] = r.tpm2b('extraData', 64)
    out['clock'] = r.u64('clockInfo.clock')
    out['resetCount'] = r.u32('clockInfo.resetCount')
    out['restartCount'] = r.u32('clockInfo.restartCount')
    out['safe'] = r.u8('clockInfo.safe')
    out['firmwareVersion'] = r.u64('firmwareVersion')
    if st == TPM_ST_ATTEST_QUOTE:
        out['pcrSelect'] = parse_pcr_selection(r)
        out['pcrDigest'] = r.tpm2b('pcrDigest', 64)
    elif st == TPM_ST_ATTEST_CERTIFY:
        out['name'] = r.tpm2b('certify.name', 2 + 64)
        out['qualifiedName'] = r.tpm2b('certify.qualifiedName', 2 + 64)
    else:
        raise invalid('%s: type is 0x%04x, expected 0x%04x (TPM_ST_ATTEST_QUOTE)'
                      % (r.what, st, TPM_ST_ATTEST_QUOTE))
    r.end()
    return out


def parse_signature(data):
    """TPMT_SIGNATURE for RSASSA, RSAPSS and ECDSA."""
    r = Reader(data, 'signature (TPMT_SIGNATURE)')
    alg = r.u16('sigAlg')
    if alg not in SIG_NAMES:
        raise invalid('signature (TPMT_SIGNATURE): sigAlg 0x%04x is not RSASSA, RSAPSS or ECDSA'
                      % alg)
    halg = r.u16('hash')
    if halg not in HASH_ALGS:
        raise invalid('signature (TPMT_SIGNATURE): hash 0x%04x is not supported' % halg)
    out = {'sigAlg': alg, 'hashAlg': halg}
    if alg == ALG_ECDSA:
        out['r'] = r.tpm2b('signatureR', 66)
        out['s'] = r.tpm2b('signatureS', 66)
    else:
        out['sig'] = r.tpm2b('sig', 512)
    r.end()
    return out


def verify_signature(public_key, sig, message, what='AIK signature'):
    """Check a parsed TPMT_SIGNATURE over `message` with the AK's public key."""
    h = HASH_ALGS[sig['hashAlg']][3]()
    alg = sig['sigAlg']
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if alg == ALG_RSASSA:
                public_key.verify(sig['sig'], message, padding.PKCS1v15(), h)
            elif alg == ALG_RSAPSS:
                # TPMs pick the salt length (hash size or maximum): let the verifier find it.
                public_key.verify(sig['sig'], message,
                                  padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.AUTO), h)
            else:
                raise invalid('%s: %s does not fit an RSA aik_pub' % (what, SIG_NAMES[alg]))
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if alg != ALG_ECDSA:
                raise invalid('%s: %s does not fit an EC aik_pub' % (what, SIG_NAMES[alg]))
            der = utils.encode_dss_signature(int.from_bytes(sig['r'], 'big'),
                                             int.from_bytes(sig['s'], 'big'))
            public_key.verify(der, message, ec.ECDSA(h))
        else:
            raise invalid('%s: unsupported aik_pub key type' % what)
    except InvalidSignature:
        raise invalid('%s (%s/%s) does not verify with aik_pub'
                      % (what, SIG_NAMES[alg], hash_name(sig['hashAlg']))) from None


def pcr_digest(hash_alg, digests):
    return hashlib.new(HASH_ALGS[hash_alg][1], b''.join(digests)).digest()
