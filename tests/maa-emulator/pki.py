# Key material of the MAA emulator (test TLS CA, server certificate, token-signing key,
# service_context key), kept in the state dir so a restart reuses it, and JWT minting.
import datetime
import hashlib
import ipaddress
import json
import os
import secrets

from cryptography import x509
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


def _builder(subject, issuer, pub, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(pub).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)))


class TlsMaterial:
    """Test CA (EC P-256, fast to make) and the 127.0.0.1/localhost server certificate."""

    def __init__(self, state_dir):
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
            san = x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address('127.0.0.1')),
                x509.IPAddress(ipaddress.ip_address('::1')),
                x509.DNSName('localhost')])
            cert = (_builder(_name('127.0.0.1'), ca_cert.subject, key.public_key(), 3650)
                    .add_extension(san, critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                   critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                        ca_key.public_key()), critical=False)
                    .sign(ca_key, hashes.SHA256()))
            _save(self.server_key_path, key, self.server_cert_path, cert)


class SigningKey:
    """RSA-2048 token-signing key with a self-signed certificate (like MAA's). kid is
    base64 (standard alphabet, padded) of SHA-256 over the certificate DER."""

    def __init__(self, key, cert):
        self.key = key
        self.cert = cert
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64std_encode(hashlib.sha256(self.der).digest())

    @classmethod
    def generate(cls, issuer):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = _name(issuer)
        cert = (_builder(name, name, key.public_key(), 3650)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, state_dir, issuer):
        kp, cp = os.path.join(state_dir, 'signing-key.pem'), os.path.join(state_dir, 'signing.pem')
        if os.path.exists(kp) and os.path.exists(cp):
            return cls(_load_key(kp), _load_cert(cp))
        sk = cls.generate(issuer)
        sk.save(state_dir)
        return sk

    def save(self, state_dir):
        _save(os.path.join(state_dir, 'signing-key.pem'), self.key,
              os.path.join(state_dir, 'signing.pem'), self.cert)

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


def mint_token(signing, issuer, claims, now, lifetime, faults=None):
    """RS256 JWT as MAA issues it. `faults` maps token fault names to their argument."""
    faults = faults or {}
    claims = dict(claims)
    iat = int(now)
    if 'expired' in faults:
        iat -= lifetime + int(faults['expired'] or 3600)
    if 'not-yet-valid' in faults:
        iat += int(faults['not-yet-valid'] or 3600)
    claims.update({'iat': iat, 'nbf': iat, 'exp': iat + lifetime, 'iss': issuer,
                   'jti': secrets.token_hex(32)})
    if 'wrong-issuer' in faults:
        claims['iss'] = faults['wrong-issuer'] or 'https://wrong-issuer.attest.azure.net'
    if 'wrong-rp-data' in faults:
        claims['rp_data'] = b64url_encode(secrets.token_bytes(32))
    if 'wrong-cnf' in faults:
        n = bytearray(secrets.token_bytes(256))
        n[0] |= 0x80
        n[-1] |= 0x01
        claims['cnf'] = {'jwk': {'kty': 'RSA', 'n': b64url_encode(bytes(n)), 'e': 'AQAB'}}
    header = {'alg': 'RS256', 'jku': issuer + '/certs', 'kid': signing.kid, 'typ': 'JWT',
              'x5c': [b64std_encode(signing.der)]}
    if 'wrong-jku' in faults:
        header['jku'] = faults['wrong-jku'] or 'https://wrong-issuer.attest.azure.net/certs'
    if 'unknown-kid' in faults:
        header['kid'] = b64std_encode(secrets.token_bytes(32))
    if 'alg-none' in faults:
        header['alg'] = 'none'
        del header['x5c']
    body = b64url_encode(compact_json(header)) + '.' + b64url_encode(
        json.dumps(claims, separators=(',', ':'), sort_keys=True).encode('utf-8'))
    if 'alg-none' in faults:
        return body + '.'
    sig = bytearray(signing.key.sign(body.encode('ascii'), padding.PKCS1v15(), hashes.SHA256()))
    if 'bad-signature' in faults:
        sig[len(sig) // 2] ^= 0x01
    return body + '.' + b64url_encode(bytes(sig))
