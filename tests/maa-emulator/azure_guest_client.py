# Reference client of POST /attest/AzureGuest for the emulator's tests (not a product):
# the recipe of AZURE-GUEST.md §11 with tpm2-tools against a TPM provisioned by
# azure-vm-fixture, then the unwrap in the TPM (PolicyPCR session + RSA decrypt), the
# AES-GCM decryption and the JWT check against /certs. Each step is a method, so tests can
# change the evidence between collect() and post().
import base64
import hashlib
import http.client
import json
import os
import ssl
import time
import urllib.request
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import cvm_reports
from tpm2cmd import Tpm2Tools

AK = '0x81000003'
AK_CERT_INDEX = 0x01C101D0
HCL_REPORT_INDEX = 0x01400001
ENC_KEY_ATTRS = 'decrypt|fixedtpm|fixedparent|sensitivedataorigin|noda'
PCRS = list(range(8))


def b64(data):
    return base64.b64encode(data).decode('ascii')


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def unb64url(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


class ServiceRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__('HTTP %d: %s' % (status, body[:400]))
        self.status, self.headers, self.body = status, headers, body

    def error(self):
        return json.loads(self.body)['error']


class AzureGuestClient:
    def __init__(self, tcti, workdir, endpoint, cafile, imds=None, tcg_log=b''):
        self.t = Tpm2Tools(tcti, workdir)
        self.endpoint = endpoint.rstrip('/')
        self.cafile = cafile
        self.imds = imds            # http://127.0.0.1:PORT of imds-emulator, for CVMs
        self.tcg_log = tcg_log

    # ---- TPM steps (§11 2-9)
    def selection(self, pcrs=None):
        return 'sha256:' + ','.join(map(str, pcrs or PCRS))

    def read_pcrs(self, pcrs=None):
        out = self.t.path('pcrs.bin')
        self.t.run('tpm2_pcrread', self.selection(pcrs), '-o', out)
        raw = self.t.read_file('pcrs.bin')
        return raw

    def pcr_policy(self, pcrs=None):
        """PolicyPCR digest from a trial session in the TPM (not the closed form)."""
        s = self.t.path('trial.ctx')
        self.t.run('tpm2_startauthsession', '-S', s)
        try:
            self.t.run('tpm2_policypcr', '-S', s, '-l', self.selection(pcrs),
                       '-L', self.t.path('policy.bin'))
        finally:
            self.t.run('tpm2_flushcontext', s)
        return self.t.path('policy.bin')

    def create_enc_key(self, pcrs=None):
        """The §3.1 EncKey: a primary of the NULL hierarchy under the PCR policy. Its
        context is saved at enc.ctx."""
        self.t.run('tpm2_createprimary', '-C', 'n', '-g', 'sha256', '-G', 'rsa2048:null:null',
                   '-a', ENC_KEY_ATTRS, '-L', self.pcr_policy(pcrs), '-c', self.t.path('enc.ctx'))
        self.t.flush_transient()    # no resource manager: the tools reload enc.ctx themselves
        self.t.run('tpm2_readpublic', '-c', self.t.path('enc.ctx'), '-o', self.t.path('enc.pub'))
        return self.t.read_file('enc.pub')

    def quote(self):
        self.t.run('tpm2_quote', '-c', AK, '-l', self.selection(), '-g', 'sha256',
                   '-m', self.t.path('quote.msg'), '-s', self.t.path('quote.sig'), '-f', 'plain')
        return self.t.read_file('quote.msg'), self.t.read_file('quote.sig')

    def certify(self, signer=AK):
        self.t.run('tpm2_certify', '-c', self.t.path('enc.ctx'), '-C', signer, '-g', 'sha256',
                   '-o', self.t.path('certify.msg'), '-s', self.t.path('certify.sig'),
                   '-f', 'plain')
        return self.t.read_file('certify.msg'), self.t.read_file('certify.sig')

    def ak_public(self):
        self.t.run('tpm2_readpublic', '-c', AK, '-o', self.t.path('ak.pub'))
        return self.t.read_file('ak.pub')

    # ---- isolation (§11 12)
    def imds_get(self, path):
        req = urllib.request.Request(self.imds + path, headers={'Metadata': 'true'})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def isolation(self):
        hcl = self.t.nv_read(HCL_REPORT_INDEX)
        if hcl is None:
            return {'Type': 'TrustedLaunch'}
        rep = cvm_reports.parse_hcl_report(hcl)
        if hashlib.sha256(rep['claims']).digest() != rep['hw_report'][0x50:0x70]:
            raise RuntimeError('HCL report: SHA-256(claims) is not in report_data')
        certs = self.imds_get('/metadata/THIM/amd/certification')
        inner = {'SnpReport': b64url(rep['hw_report']),
                 'VcekCertChain': b64((certs['vcekCert'] + certs['certificateChain']).encode())}
        return {'Type': 'SevSnp', 'Evidence': {'Proof': b64(json.dumps(inner).encode()),
                                               'RunTimeData': b64(rep['claims'])}}

    # ---- the request (§11 13)
    def collect(self, nonce, enc_pcrs=None, certify_signer=AK):
        """The inner AttestationInfo object. `enc_pcrs` and `certify_signer` exist for the
        negative tests (an EncKey policy over other PCRs, a certify by another key)."""
        cert = self.t.nv_read(AK_CERT_INDEX)
        if cert is None:
            raise RuntimeError('no AK certificate in NV 0x%08x' % AK_CERT_INDEX)
        ak_pub = self.ak_public()
        quote, quote_sig = self.quote()
        values = self.read_pcrs()
        try:
            enc_pub = self.create_enc_key(enc_pcrs)
            cinfo, csig = self.certify(certify_signer)
        finally:
            self.t.flush_transient()
        self.pcr_values = values
        return {
            'AttestationProtocolVersion': '2.0',
            'OSType': b64(b'Linux'), 'OSDistro': b64(b'Debian GNU/Linux'),
            'OSVersionMajor': 12, 'OSVersionMinor': 0, 'OSBuild': b64(b'NotApplication'),
            'TcgLogs': b64(self.tcg_log),
            'ClientPayload': {'nonce': b64(nonce)},
            'TpmInfo': {
                'AikCert': b64(cert), 'AikPub': b64(ak_pub),
                'PcrQuote': b64(quote), 'PcrSignature': b64(quote_sig),
                'PcrSet': PCRS,
                'PCRs': [{'Index': i, 'Digest': b64(values[32 * n:32 * n + 32])}
                         for n, i in enumerate(PCRS)],
                'EncKeyPub': b64(enc_pub), 'EncKeyCertifyInfo': b64(cinfo),
                'EncKeyCertifyInfoSignature': b64(csig)},
            'IsolationInfo': self.isolation(),
        }

    # ---- transport (§11 14)
    def post(self, info, api='2020-10-01', body=None, headers=None):
        """-> the `token` string; raises ServiceRefused on a non-200 answer."""
        url = urlsplit(self.endpoint)
        conn = http.client.HTTPSConnection(url.hostname, url.port,
                                           context=ssl.create_default_context(cafile=self.cafile),
                                           timeout=30)
        if body is None:
            body = json.dumps({'AttestationInfo': b64url(json.dumps(info).encode())}).encode()
        try:
            conn.request('POST', '/attest/AzureGuest?api-version=' + api, body=body,
                         headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
            resp = conn.getresponse()
            self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise ServiceRefused(resp.status, self.last_headers, data.decode(errors='replace'))
        return json.loads(data)['token']

    # ---- unwrap (§11 15-17)
    def decrypt_inner_key(self, cipher):
        self.create_enc_key()
        s = self.t.path('policy.ctx')
        try:
            self.t.run('tpm2_startauthsession', '--policy-session', '-S', s)
            try:
                self.t.run('tpm2_policypcr', '-S', s, '-l', self.selection())
                self.t.run('tpm2_rsadecrypt', '-c', self.t.path('enc.ctx'), '-p', 'session:' + s,
                           '-s', 'rsaes', '-o', self.t.path('inner.key'),
                           self.t.write_file('inner.cipher', cipher))
            finally:
                self.t.run('tpm2_flushcontext', s)
        finally:
            self.t.flush_transient()
        return self.t.read_file('inner.key')

    def unseal(self, token):
        """-> the compact JWT; raises (cryptography.exceptions.InvalidTag, Tpm2Error) when
        the envelope cannot be opened."""
        env = json.loads(unb64url(token))
        params = env['EncryptionParams']
        if (params['Cipher'], params['BlockMode']) != ('AES', 'ChainingModeGCM'):
            raise ValueError('unexpected EncryptionParams %s' % params)
        key = self.decrypt_inner_key(base64.b64decode(env['EncryptedInnerKey']))
        plain = AESGCM(key).decrypt(base64.b64decode(params['Iv']),
                                    base64.b64decode(env['Jwt']) +
                                    base64.b64decode(env['AuthenticationData']), b'Transport Key')
        return plain.decode('ascii')

    # ---- validation (§11 18)
    def verify(self, jwt, nonce):
        """RS256 with the /certs key of the header's kid, iss, times, type, nonce."""
        h, p, s = jwt.split('.')
        header, claims = json.loads(unb64url(h)), json.loads(unb64url(p))
        if header.get('alg') != 'RS256':
            raise ValueError('alg %r' % header.get('alg'))
        ctx = ssl.create_default_context(cafile=self.cafile)
        with urllib.request.urlopen(self.endpoint + '/certs', context=ctx, timeout=10) as r:
            jwks = json.loads(r.read())
        key = next((k for k in jwks['keys'] if k['kid'] == header.get('kid')), None)
        if key is None:
            raise ValueError('kid %s is not in /certs' % header.get('kid'))
        cert = x509.load_der_x509_certificate(base64.b64decode(key['x5c'][0]))
        cert.public_key().verify(unb64url(s), (h + '.' + p).encode(), padding.PKCS1v15(),
                                 hashes.SHA256())
        if claims.get('iss') != self.endpoint:
            raise ValueError('iss %r is not %s' % (claims.get('iss'), self.endpoint))
        if not claims['nbf'] - 5 <= time.time() <= claims['exp']:
            raise ValueError('token outside nbf/exp')
        if claims.get('x-ms-attestation-type') != 'azurevm':
            raise ValueError('x-ms-attestation-type %r' % claims.get('x-ms-attestation-type'))
        sent = b64(nonce)
        got = claims.get('x-ms-runtime', {}).get('client-payload', {}).get('nonce')
        if got != sent:
            raise ValueError('nonce not echoed: sent %s, token has %r' % (sent, got))
        return header, claims

    def attest(self, nonce=None):
        nonce = nonce or os.urandom(16)
        jwt = self.unseal(self.post(self.collect(nonce)))
        return jwt, self.verify(jwt, nonce)[1]
