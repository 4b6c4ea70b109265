# Test PKI of the Azure guest attestation side of the emulator, kept in the state dir and
# shared by the service, the IMDS emulator and the VM fixture:
#  - azure-vm-ca.pem (+ -key): stands in for "Global Virtual TPM CA - 01", issues AK certs;
#  - snp-ark.pem, snp-ask.pem, snp-vcek.pem (+ -key): the AMD chain ARK -> ASK -> VCEK.
# Created on first use under a file lock, so the processes that share a state dir agree.
import datetime
import fcntl
import os
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from pki import _builder, _ca_cert, _load_pair, _rsa, _save_pair

PLACEHOLDER_ISSUER = 'MICROSOFT AZURE TRUSTED VM RSA'   # not-yet-provisioned AK certificates
AK_CERT_DAYS = 600                                      # ~20 months, as the 2024 certificates
EKU_AZURE_AK = ObjectIdentifier('1.3.6.1.4.1.311.10.3.12')
EKU_TCG_AIK = ObjectIdentifier('2.23.133.8.3')


def _org(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'maa-emulator (test only)')])


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


class AzurePki:
    """The AK CA and the SNP chain of one state dir (attributes ca, ark, ask, vcek and
    their *_key)."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        with open(os.path.join(state_dir, 'azure-pki.lock'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._load_or_create()

    def path(self, name):
        return os.path.join(self.state_dir, name)

    def _load_or_create(self):
        d = self.state_dir
        self.ca_key, self.ca = _load_pair(d, 'azure-vm-ca')
        if self.ca is None:
            self.ca_key = _rsa()
            self.ca = _ca_cert(_org('maa-emulator Global Virtual TPM CA - 01'), None,
                               self.ca_key, self.ca_key, 3650, 0)
            _save_pair(d, 'azure-vm-ca', self.ca_key, self.ca)
        self.ark_key, self.ark = _load_pair(d, 'snp-ark')
        self.ask_key, self.ask = _load_pair(d, 'snp-ask')
        self.vcek_key, self.vcek = _load_pair(d, 'snp-vcek')
        if self.ark is None:
            self.ark_key = _rsa()
            self.ark = _ca_cert(_org('maa-emulator ARK-Milan'), None, self.ark_key,
                                self.ark_key, 9125, None)
            _save_pair(d, 'snp-ark', self.ark_key, self.ark)
            self.ask = None
        if self.ask is None:
            self.ask_key = _rsa()
            self.ask = _ca_cert(_org('maa-emulator SEV-Milan'), self.ark, self.ark_key,
                                self.ask_key, 9125, 0)
            _save_pair(d, 'snp-ask', self.ask_key, self.ask)
            self.vcek = None
        if self.vcek is None:
            self.vcek_key = ec.generate_private_key(ec.SECP384R1())
            self.vcek = (_builder(_org('maa-emulator SEV-VCEK'), self.ask.subject,
                                  self.vcek_key.public_key(), 3650)
                         .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                        critical=True)
                         .sign(self.ask_key, hashes.SHA384()))
            _save_pair(d, 'snp-vcek', self.vcek_key, self.vcek)

    def thim_certification(self):
        """The body of IMDS GET /metadata/THIM/amd/certification (AZURE-GUEST.md §6.3)."""
        return {'vcekCert': pem(self.vcek), 'tcbm': 'DB18000000000004',
                'certificateChain': pem(self.ask) + pem(self.ark)}

    def issue_ak_cert(self, public_key, subject_cn=None, not_before=None, not_after=None,
                      placeholder=False):
        """An AK certificate for `public_key` from the test CA (as Azure's 2024 certificates:
        EKUs Azure AK + TCG AIK, ~20 months). `placeholder` gives the not-yet-provisioned
        issuer name instead (still signed with the CA key, so only the name tells)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        nb = not_before or now - datetime.timedelta(days=1)
        na = not_after or now + datetime.timedelta(days=AK_CERT_DAYS)
        cn = subject_cn or '%s.TrustedVM.maa-emulator.test' % secrets.token_hex(6)
        issuer = _org(PLACEHOLDER_ISSUER) if placeholder else self.ca.subject
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(nb).not_valid_after(na)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([EKU_AZURE_AK, EKU_TCG_AIK]),
                               critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        return cert
