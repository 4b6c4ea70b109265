# The confidential-VM report formats of Azure guest attestation: the AMD SEV-SNP
# ATTESTATION_REPORT (1184 bytes, SEV-SNP ABI spec, little-endian) and the HCL report that
# Azure's paravisor keeps in TPM NV 0x01400001 (AZURE-GUEST.md §6.1). Parsing for the
# service, building for the test fixture.
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from common import invalid

SNP_REPORT_SIZE = 0x4A0          # 1184
SNP_SIGNED_SIZE = 0x2A0          # the signature covers bytes 0..0x29F
SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1
POLICY_SMT = 1 << 16
POLICY_MIGRATE_MA = 1 << 18
POLICY_DEBUG = 1 << 19

HCL_SIGNATURE = b'HCLA'
HCL_HEADER_SIZE = 32
HCL_RUNTIME_OFFSET = HCL_HEADER_SIZE + SNP_REPORT_SIZE      # 1216
HCL_CLAIMS_OFFSET = HCL_RUNTIME_OFFSET + 20                 # 1236
HCL_NV_SIZE = 2600
HCL_REQUEST_AK_CERT = 2
REPORT_TYPE_SNP = 2
REPORT_TYPE_TDX = 4
HASH_TYPE_SHA256 = 1

# (name, offset, size) of the fields the service reads; integers are little-endian.
_SNP_FIELDS = (
    ('version', 0x00, 4), ('guest_svn', 0x04, 4), ('policy', 0x08, 8),
    ('family_id', 0x10, 16), ('image_id', 0x20, 16), ('vmpl', 0x30, 4),
    ('signature_algo', 0x34, 4), ('current_tcb', 0x38, 8), ('platform_info', 0x40, 8),
    ('report_data', 0x50, 64), ('measurement', 0x90, 48), ('host_data', 0xC0, 32),
    ('id_key_digest', 0xE0, 48), ('author_key_digest', 0x110, 48), ('report_id', 0x140, 32),
    ('report_id_ma', 0x160, 32), ('reported_tcb', 0x180, 8), ('chip_id', 0x1A0, 64),
    ('committed_tcb', 0x1E0, 8), ('launch_tcb', 0x1F0, 8),
)
_INT_FIELDS = ('version', 'guest_svn', 'policy', 'vmpl', 'signature_algo', 'current_tcb',
               'platform_info', 'reported_tcb', 'committed_tcb', 'launch_tcb')
_SIG_R, _SIG_S, _SIG_COMPONENT = 0x2A0, 0x2E8, 72


def tcb_parts(tcb):
    """TCB_VERSION u64 -> bootloader, tee, snp, microcode SVNs."""
    b = tcb.to_bytes(8, 'little')
    return {'bootloader': b[0], 'tee': b[1], 'snp': b[6], 'microcode': b[7]}


def parse_snp_report(data, what='SnpReport'):
    if len(data) != SNP_REPORT_SIZE:
        raise invalid('%s has %d bytes, an SEV-SNP ATTESTATION_REPORT has %d'
                      % (what, len(data), SNP_REPORT_SIZE))
    out = {}
    for name, off, size in _SNP_FIELDS:
        raw = data[off:off + size]
        out[name] = int.from_bytes(raw, 'little') if name in _INT_FIELDS else bytes(raw)
    out['signature_r'] = int.from_bytes(data[_SIG_R:_SIG_R + _SIG_COMPONENT], 'little')
    out['signature_s'] = int.from_bytes(data[_SIG_S:_SIG_S + _SIG_COMPONENT], 'little')
    out['signed'] = bytes(data[:SNP_SIGNED_SIZE])
    return out


def verify_snp_signature(report, vcek_public_key, what='SnpReport'):
    if report['signature_algo'] != SNP_SIG_ALGO_ECDSA_P384_SHA384:
        raise invalid('%s: signature_algo is %d, expected %d (ECDSA P-384 with SHA-384)'
                      % (what, report['signature_algo'], SNP_SIG_ALGO_ECDSA_P384_SHA384))
    if not isinstance(vcek_public_key, ec.EllipticCurvePublicKey) or \
            vcek_public_key.curve.name != 'secp384r1':
        raise invalid('%s: the VCEK certificate does not hold an EC P-384 key' % what)
    der = utils.encode_dss_signature(report['signature_r'], report['signature_s'])
    try:
        vcek_public_key.verify(der, report['signed'], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise invalid('%s: the ECDSA P-384/SHA-384 signature does not verify with the VCEK'
                      % what) from None


def build_snp_report(vcek_key, report_data, policy=0x30000, vmpl=0, measurement=None,
                     tcb=0xDB18000000000004, guest_svn=1):
    """A signed ATTESTATION_REPORT (version 2) for tests, with `report_data` (64 bytes)."""
    if len(report_data) != 64:
        raise ValueError('report_data must be 64 bytes')
    buf = bytearray(SNP_REPORT_SIZE)

    def put(off, raw):
        buf[off:off + len(raw)] = raw
    put(0x00, struct.pack('<IIQ', 2, guest_svn, policy))
    put(0x10, b'maa-emulator-fam'[:16])
    put(0x20, b'maa-emulator-img'[:16])
    put(0x30, struct.pack('<IIQQ', vmpl, SNP_SIG_ALGO_ECDSA_P384_SHA384, tcb, 1))
    put(0x50, report_data)
    put(0x90, measurement or hashlib.sha384(b'maa-emulator launch measurement').digest())
    put(0x140, hashlib.sha256(b'maa-emulator report id').digest())
    put(0x180, struct.pack('<Q', tcb))
    put(0x1A0, hashlib.sha512(b'maa-emulator chip id').digest())
    put(0x1E0, struct.pack('<Q', tcb))
    put(0x1F0, struct.pack('<Q', tcb))
    r, s = utils.decode_dss_signature(
        vcek_key.sign(bytes(buf[:SNP_SIGNED_SIZE]), ec.ECDSA(hashes.SHA384())))
    put(_SIG_R, r.to_bytes(_SIG_COMPONENT, 'little'))
    put(_SIG_S, s.to_bytes(_SIG_COMPONENT, 'little'))
    return bytes(buf)


def parse_hcl_report(data, what='HCL report'):
    """-> {'report_type', 'hash_type', 'hw_report' (1184 bytes), 'claims' (bytes)}."""
    if len(data) < HCL_CLAIMS_OFFSET:
        raise invalid('%s has %d bytes, fewer than the %d of its fixed part'
                      % (what, len(data), HCL_CLAIMS_OFFSET))
    if data[:4] != HCL_SIGNATURE:
        raise invalid('%s: signature is %r, expected %r' % (what, bytes(data[:4]), HCL_SIGNATURE))
    rt_size, _, rtype, htype, n = struct.unpack('<5I', data[HCL_RUNTIME_OFFSET:HCL_CLAIMS_OFFSET])
    if HCL_CLAIMS_OFFSET + n > len(data) or rt_size != 20 + n:
        raise invalid('%s: claims size %d (runtime data size %d) does not fit its %d bytes'
                      % (what, n, rt_size, len(data)))
    return {'report_type': rtype, 'hash_type': htype,
            'hw_report': bytes(data[HCL_HEADER_SIZE:HCL_RUNTIME_OFFSET]),
            'claims': bytes(data[HCL_CLAIMS_OFFSET:HCL_CLAIMS_OFFSET + n])}


def build_hcl_report(snp_report, claims, pad_to=None):
    """HCL report: header (HCLA, version 2, size, request type, status), the SNP report,
    the runtime data header and the claims JSON bytes; zero-padded to `pad_to` if given."""
    total = HCL_CLAIMS_OFFSET + len(claims)
    head = struct.pack('<4sIIII', HCL_SIGNATURE, 2, total, HCL_REQUEST_AK_CERT, 0)
    head += bytes(HCL_HEADER_SIZE - len(head))
    runtime = struct.pack('<5I', 20 + len(claims), 1, REPORT_TYPE_SNP, HASH_TYPE_SHA256,
                          len(claims))
    out = head + snp_report + runtime + claims
    if pad_to:
        out += bytes(max(0, pad_to - len(out)))
    return out
