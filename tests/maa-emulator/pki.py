# Key material of the MAA emulator (test TLS CA, server certificate, the token-signing chain
# and the second /certs key, service_context key), kept in the state dir so a restart reuses
# it, and JWT minting in the shape of MAA's TPM tokens.
import datetime
import hashlib
import ipaddress
import json
import os
import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common import b64std_encode, b64url_encode, compact_json, write_atomic


def _load_key(path):
    with open(path, 'rb') as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def _load_cert(path):
    with open(path, 'rb') as f:
        return x509.load_pem_x509_certificate(f.read())


def _save(path_key, key, path_cert, cert):
    write_atomic(path_key, key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    write_atomic(path_cert, cert.public_bytes(serialization.Encoding.PEM))


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _org_name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'maa-emulator (test only)')])


def _builder(subject, issuer, pub, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(pub).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)))


class TlsMaterial:
    """Test CA (EC P-256, fast to make) and the 127.0.0.1/localhost server certificate, which
    also names BIND when the listener is on another address (a test network namespace)."""

    def __init__(self, state_dir, bind='127.0.0.1'):
        d = state_dir
        self.ca_cert_path = os.path.join(d, 'ca.pem')
        self.server_cert_path = os.path.join(d, 'server.pem')
        self.server_key_path = os.path.join(d, 'server-key.pem')
        ca_key_path = os.path.join(d, 'ca-key.pem')
        if os.path.exists(ca_key_path) and os.path.exists(self.ca_cert_path):
            ca_key, ca_cert = _load_key(ca_key_path), _load_cert(self.ca_cert_path)
        else:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            name = _name('maa-emulator test CA')
            ca_cert = (_builder(name, name, ca_key.public_key(), 3650)
                       .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                       .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                    False, False), critical=True)
                       .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                           ca_key.public_key()), critical=False)
                       .sign(ca_key, hashes.SHA256()))
            _save(ca_key_path, ca_key, self.ca_cert_path, ca_cert)
            for stale in (self.server_cert_path, self.server_key_path):
                if os.path.exists(stale):
                    os.unlink(stale)
        if not (os.path.exists(self.server_key_path) and os.path.exists(self.server_cert_path)):
            key = ec.generate_private_key(ec.SECP256R1())
            names = [x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
                     x509.IPAddress(ipaddress.ip_address('::1')),
                     x509.DNSName('localhost')]
            if bind not in ('127.0.0.1', '::1', 'localhost', '0.0.0.0', '::', ''):
                names.append(x509.IPAddress(ipaddress.ip_address(bind)))
            san = x509.SubjectAlternativeName(names)
            cert = (_builder(_name('127.0.0.1'), ca_cert.subject, key.public_key(), 3650)
                    .add_extension(san, critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                   critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                        ca_key.public_key()), critical=False)
                    .sign(ca_key, hashes.SHA256()))
            _save(self.server_key_path, key, self.server_cert_path, cert)


def _x5t(der):
    """JOSE x5t: base64url, unpadded, of SHA-1 over the certificate DER (27 characters)."""
    return b64url_encode(hashlib.sha1(der).digest())


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_usage(sign_certs):
    """digitalSignature for a token signer, keyCertSign + cRLSign for a CA."""
    return x509.KeyUsage(not sign_certs, False, False, False, False, sign_certs, sign_certs,
                         False, False)


def _ca_cert(subject, issuer_cert, issuer_key, key, days, path_length):
    issuer = issuer_cert.subject if issuer_cert is not None else subject
    return (_builder(subject, issuer, key.public_key(), days)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_key_usage(True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def _load_pair(state_dir, base):
    kp, cp = os.path.join(state_dir, base + '-key.pem'), os.path.join(state_dir, base + '.pem')
    if os.path.exists(kp) and os.path.exists(cp):
        return _load_key(kp), _load_cert(cp)
    return None, None


def _save_pair(state_dir, base, key, cert):
    _save(os.path.join(state_dir, base + '-key.pem'), key,
          os.path.join(state_dir, base + '.pem'), cert)


def _issued_by(cert, ca_cert):
    """True when ca_cert's RSA key signed cert (Debian 12's cryptography 38 has no
    verify_directly_issued_by)."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        ca_cert.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                    padding.PKCS1v15(), cert.signature_hash_algorithm)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


class TokenCa:
    """The chain above the token-signing certificate, as MAA's: a test root and an
    intermediate ("PCA"), both RSA-2048, kept in the state dir (token-root*.pem,
    token-ca*.pem). They do not rotate; rotate-key issues a new leaf under them."""

    def __init__(self, state_dir):
        root_key, root = _load_pair(state_dir, 'token-root')
        ca_key, ca = _load_pair(state_dir, 'token-ca')
        if root is None:
            root_key = _rsa()
            root = _ca_cert(_org_name('maa-emulator Test Root Certificate Authority'), None,
                            root_key, root_key, 9125, None)
            _save_pair(state_dir, 'token-root', root_key, root)
            ca = None
        if ca is None or not _issued_by(ca, root):
            ca_key = _rsa()
            ca = _ca_cert(_org_name('maa-emulator Test Attestation PCA'), root, root_key, ca_key,
                          5475, 0)
            _save_pair(state_dir, 'token-ca', ca_key, ca)
        self.root, self.cert, self.key = root, ca, ca_key
        self.chain_der = [c.public_bytes(serialization.Encoding.DER) for c in (ca, root)]


class SigningKey:
    """The token-signing RSA-2048 key. Its certificate is issued by the intermediate of
    TokenCa; x5c = [leaf, intermediate, root] and kid = the leaf's x5t, as MAA's TPM tokens
    carry them."""

    def __init__(self, key, cert, ca):
        self.key = key
        self.cert = cert
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.x5c = [b64std_encode(d) for d in [self.der] + ca.chain_der]
        self.kid = _x5t(self.der)

    @classmethod
    def generate(cls, ca):
        key = _rsa()
        cert = (_builder(_org_name('maa-emulator Attestation Token Signing'), ca.cert.subject,
                         key.public_key(), 3650)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_key_usage(False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca.key.public_key()), critical=False)
                .sign(ca.key, hashes.SHA256()))
        return cls(key, cert, ca)

    @classmethod
    def load_or_create(cls, state_dir, ca):
        """The leaf in the state dir, unless it is missing or not issued by `ca` (a state dir
        from an older emulator held a self-signed one)."""
        key, cert = _load_pair(state_dir, 'signing')
        if cert is not None and _issued_by(cert, ca.cert):
            return cls(key, cert, ca)
        sk = cls.generate(ca)
        sk.save(state_dir)
        return sk

    def save(self, state_dir):
        _save_pair(state_dir, 'signing', self.key, self.cert)

    def jwk(self):
        return {'x5c': list(self.x5c), 'kid': self.kid, 'kty': 'RSA'}


class SelfSignedKey:
    """The second key MAA lists in /certs: self-signed, CN = the issuer, kid = standard
    base64 of SHA-256 over the certificate DER. Real MAA signs other token kinds with it,
    azurevm tokens among them (a 44-character kid); so does the emulator's /attest/AzureGuest
    (other-key.pem, other.pem)."""

    def __init__(self, state_dir, issuer):
        key, cert = _load_pair(state_dir, 'other')
        if cert is None:
            key = _rsa()
            name = _name(issuer)
            cert = (_builder(name, name, key.public_key(), 3650)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                   critical=False)
                    .sign(key, hashes.SHA256()))
            _save_pair(state_dir, 'other', key, cert)
        self.key = key      # signs azurevm tokens (/attest/AzureGuest)
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64std_encode(hashlib.sha256(self.der).digest())

    def jwk(self):
        return {'x5c': [b64std_encode(self.der)], 'kid': self.kid, 'kty': 'RSA'}


def context_key(state_dir):
    """32-byte AES-GCM key that seals service_context; persistent across restarts."""
    path = os.path.join(state_dir, 'context.key')
    if os.path.exists(path):
        with open(path, 'rb') as f:
            key = f.read()
        if len(key) == 32:
            return key
    key = secrets.token_bytes(32)
    write_atomic(path, key, 0o600)
    return key


def jwks_document(keys):
    return {'keys': [k.jwk() for k in keys]}


# Token faults (see faults.py) that change what mint_token produces.
TOKEN_FAULTS = ('bad-signature', 'wrong-issuer', 'expired', 'not-yet-valid', 'wrong-rp-data',
                'unknown-kid', 'alg-none', 'wrong-cnf', 'wrong-jku')

NBF_BACKDATE_SEC = 300      # MAA's nbf is iat - 300 in every real token seen


def _random_rsa_jwk():
    n = bytearray(secrets.token_bytes(256))
    n[0] |= 0x80
    n[-1] |= 0x01
    return {'kty': 'RSA', 'n': b64url_encode(bytes(n)), 'e': 'AQAB'}


def _time_claims(now, lifetime, faults):
    """iat/nbf/exp; `expired` puts exp ARG s in the past, `not-yet-valid` nbf ARG s ahead."""
    iat = int(now)
    if 'expired' in faults:
        iat -= lifetime + int(faults['expired'] or 3600)
    if 'not-yet-valid' in faults:
        iat += int(faults['not-yet-valid'] or 3600) + NBF_BACKDATE_SEC
    return {'iat': iat, 'nbf': iat - NBF_BACKDATE_SEC, 'exp': iat + lifetime}


def _claim_faults(claims, faults):
    if 'wrong-issuer' in faults:
        claims['iss'] = faults['wrong-issuer'] or 'https://wrong-issuer.attest.azure.net'
    if 'wrong-rp-data' in faults:
        claims['rp_data'] = claims['nonce'] = b64url_encode(secrets.token_bytes(32))
    if 'wrong-cnf' in faults:
        other = _random_rsa_jwk()
        claims['cnf'] = {'jwk': other}
        if isinstance(claims.get('x-ms-tpm-request-key'), dict):
            claims['x-ms-tpm-request-key'] = dict(claims['x-ms-tpm-request-key'], jwk=other)


def _header(signing, faults):
    """{"typ","alg","x5c","kid"} and no jku, in MAA's member order."""
    header = {'typ': 'JWT', 'alg': 'RS256', 'x5c': list(signing.x5c), 'kid': signing.kid}
    if 'wrong-jku' in faults:
        header['jku'] = faults['wrong-jku'] or 'https://wrong-issuer.attest.azure.net/certs'
    if 'unknown-kid' in faults:
        header['kid'] = b64url_encode(hashlib.sha1(secrets.token_bytes(32)).digest())
    if 'alg-none' in faults:
        header['alg'] = 'none'
        del header['x5c']
    return header


def mint_token(signing, issuer, claims, now, lifetime, faults=None):
    """RS256 JWT as MAA issues it: `claims` (everything but the times, iss and jti) plus
    iat, nbf = iat - 300, exp = iat + lifetime, iss, jti (40 hex). `faults` maps token
    fault names to their argument."""
    faults = faults or {}
    claims = dict(claims)
    claims.update(_time_claims(now, lifetime, faults))
    claims.update({'iss': issuer, 'jti': secrets.token_hex(20)})
    _claim_faults(claims, faults)
    header = _header(signing, faults)
    body = b64url_encode(compact_json(header)) + '.' + b64url_encode(
        json.dumps(claims, separators=(',', ':'), sort_keys=True).encode('utf-8'))
    if 'alg-none' in faults:
        return body + '.'
    sig = bytearray(signing.key.sign(body.encode('ascii'), padding.PKCS1v15(), hashes.SHA256()))
    if 'bad-signature' in faults:
        sig[len(sig) // 2] ^= 0x01
    return body + '.' + b64url_encode(bytes(sig))
