# Test helpers for the MAA emulator self-test: a throw-away swtpm driven with tpm2-tools,
# the emulator as a subprocess, an independent MAA protocol client and JWT checks.
import base64
import hashlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import eventlog_replay

HERE = os.path.dirname(os.path.realpath(__file__))
EMULATOR = os.path.join(HERE, 'maa-emulator')
CTL = os.path.join(HERE, 'maa-emulator-ctl')
TEST_POLICY = os.path.join(HERE, 'policies', 'test-default.json')
TESTDATA = os.path.join(os.path.dirname(HERE), 'testdata')
OVMF_LOG = os.path.join(TESTDATA, 'eventlogs', 'uefi-ovmf-swtpm-directkernel',
                        'binary_bios_measurements.bin')
API = '?api-version=2022-08-01'


def have_tpm_tools():
    return all(shutil.which(t) for t in ('swtpm', 'swtpm_ioctl', 'tpm2_createek', 'tpm2_createak',
                                        'tpm2_quote', 'tpm2_pcrextend', 'tpm2_pcrread',
                                        'tpm2_flushcontext'))


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def unb64u(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def uint_b64u(n):
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, 'big'))


class Swtpm:
    """swtpm on unix sockets (TCTI swtpm:path=DIR/tpm.sock), like the shared fixture."""

    def __init__(self, workdir):
        self.dir = workdir
        sock = os.path.join(workdir, 'tpm.sock')
        self.env = dict(os.environ, TPM2TOOLS_TCTI='swtpm:path=' + sock)
        subprocess.run(['swtpm', 'socket', '--tpm2', '--tpmstate', 'dir=' + workdir,
                        '--server', 'type=unixio,path=' + sock,
                        '--ctrl', 'type=unixio,path=%s.ctrl' % sock,
                        '--flags', 'not-need-init,startup-clear',
                        '--pid', 'file=%s/swtpm.pid' % workdir,
                        '--log', 'file=%s/swtpm.log' % workdir, '--daemon'], check=True)
        for _ in range(250):
            if os.path.exists(sock) and os.path.exists(sock + '.ctrl'):
                break
            time.sleep(0.02)
        self.ctrl = sock + '.ctrl'

    def run(self, *args):
        r = subprocess.run(list(args), env=self.env, capture_output=True)
        if r.returncode:
            raise RuntimeError('%s failed: %s'
                               % (' '.join(args), r.stderr.decode(errors='replace')))
        return r.stdout.decode()

    def stop(self):
        subprocess.run(['swtpm_ioctl', '--unix', self.ctrl, '-s'], capture_output=True)

    def extend(self, specs):
        """specs: list of (pcr, {bank: digest}) in log order."""
        for i in range(0, len(specs), 16):
            self.run('tpm2_pcrextend', *['%d:%s' % (pcr, ','.join('%s=%s' % (b, d.hex())
                                                                   for b, d in sorted(dg.items())))
                                         for pcr, dg in specs[i:i + 16]])

    def play(self, log):
        """Extends every measured event of the TCG log LOG (bytes), sha1 and sha256, so the
        PCRs and the log agree as after a real boot."""
        events = eventlog_replay.parse(log).events
        self.extend([(ev['pcr'], {b: d for b, d in ev['digests'].items() if b in ('sha1', 'sha256')})
                     for ev in events if ev['type'] != eventlog_replay.EV_NO_ACTION])

    def pcrs(self, bank, indices):
        out = self.run('tpm2_pcrread', '%s:%s' % (bank, ','.join(map(str, indices))))
        values = {}
        for line in out.splitlines():
            if ':' in line and line.strip()[0].isdigit():
                idx, val = line.split(':')
                values[int(idx)] = bytes.fromhex(val.strip()[2:])
        return values

    def create_ak(self, name, alg, scheme):
        d = self.dir
        ek = os.path.join(d, 'ek.ctx')
        if not os.path.exists(ek):
            # An ECC EK: much faster for swtpm to derive than an RSA one.
            self.run('tpm2_createek', '-c', ek, '-G', 'ecc', '-u', os.path.join(d, 'ek.pub'))
            self.run('tpm2_flushcontext', '-t')
        ctx, pem = os.path.join(d, name + '.ctx'), os.path.join(d, name + '.pem')
        self.run('tpm2_createak', '-C', ek, '-c', ctx, '-G', alg, '-g', 'sha256', '-s', scheme,
                 '-u', pem, '-f', 'pem', '-n', os.path.join(d, name + '.name'))
        self.run('tpm2_flushcontext', '-t')
        with open(pem, 'rb') as f:
            return ctx, serialization.load_pem_public_key(f.read())

    def quote(self, ak_ctx, qualifying, selection, scheme=None):
        d = self.dir
        msg, sig = os.path.join(d, 'quote.msg'), os.path.join(d, 'quote.sig')
        try:
            self.run('tpm2_quote', '-c', ak_ctx, '-l', selection, '-q', qualifying.hex(),
                     '-m', msg, '-s', sig, '-g', 'sha256',
                     *(['--scheme', scheme] if scheme else []))
        finally:
            self.run('tpm2_flushcontext', '-t')
        with open(msg, 'rb') as f1, open(sig, 'rb') as f2:
            return f1.read(), f2.read()


def booted_swtpm(tmp):
    """A swtpm in TMP/tpm with the real OVMF boot log played in: (Swtpm, the log bytes)."""
    os.mkdir(os.path.join(tmp, 'tpm'))
    tpm = Swtpm(os.path.join(tmp, 'tpm'))
    with open(OVMF_LOG, 'rb') as f:
        log = f.read()
    tpm.play(log)
    return tpm, log


def public_jwk(key):
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return {'kty': 'RSA', 'n': uint_b64u(n.n), 'e': uint_b64u(n.e)}
    n = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    return {'kty': 'EC', 'crv': {256: 'P-256', 384: 'P-384'}[key.curve.key_size],
            'x': b64u(n.x.to_bytes(size, 'big')), 'y': b64u(n.y.to_bytes(size, 'big'))}


def spki_hash(key):
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def ps256(key, signing_input):
    return key.sign(signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                    hashes.SHA256())


class HttpError(Exception):
    def __init__(self, status, headers, body):
        super().__init__('HTTP %d: %s' % (status, body[:300]))
        self.status = status
        self.headers = headers
        self.body = body

    def cloud_error(self):
        return json.loads(self.body)['error']


def test_policy(**changes):
    """The tests' policy (policies/test-default.json) with some members changed."""
    with open(TEST_POLICY) as f:
        return dict(json.load(f), **changes)


class Emulator:
    """The emulator as a subprocess with its own state dir. It gets the tests' policy
    unless `policy` is None (then it starts as a new provider does: with none)."""

    def __init__(self, state_dir, *args, policy=TEST_POLICY):
        self.dir = state_dir
        self.args = list(args) + (['--policy', policy] if policy else [])
        self.proc = None

    def start(self, timeout=10):
        ready = os.path.join(self.dir, 'ready')
        self.log = open(os.path.join(os.path.dirname(self.dir), 'emulator.log'), 'ab')
        t0 = time.monotonic()
        self.proc = subprocess.Popen([EMULATOR, '--state-dir', self.dir, *self.args],
                                     stdout=self.log, stderr=self.log)
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() - t0 > timeout:
                raise RuntimeError('emulator did not become ready (rc %s)' % self.proc.poll())
            time.sleep(0.01)
        self.startup_time = time.monotonic() - t0
        self.endpoint = self.read('endpoint')
        self.ssl = ssl.create_default_context(cafile=os.path.join(self.dir, 'ca.pem'))
        return self

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read().strip()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()
        return self.proc.returncode

    def connection(self, timeout=10):
        host, port = self.endpoint[len('https://'):].rsplit(':', 1)
        return http.client.HTTPSConnection(host, int(port), context=self.ssl, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        conn = self.connection(timeout)
        try:
            hdrs = {'Content-Type': 'application/json', 'Accept': 'application/json'}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            self.last_headers = resp.getheaders()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
        finally:
            conn.close()

    def post_data(self, message, headers=None, api=API, padded=False):
        text = json.dumps(message).encode() if not isinstance(message, bytes) else message
        data = base64.urlsafe_b64encode(text).decode() if padded else b64u(text)
        status, hdrs, body = self.request('POST', '/attest/Tpm' + api,
                                          json.dumps({'data': data}).encode(), headers)
        if status != 200:
            raise HttpError(status, hdrs, body.decode(errors='replace'))
        return json.loads(unb64u(json.loads(body)['data']))

    def get_json(self, path):
        status, _, body = self.request('GET', path)
        if status != 200:
            raise HttpError(status, {}, body.decode(errors='replace'))
        return json.loads(body)

    def ctl(self, method, path, body=None):
        port = int(self.read('control-port'))
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), method=method,
                                     data=data)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


def decode_jwt(token):
    """(header, claims) of a compact JWT, unverified."""
    h, p, _ = token.split('.')
    return json.loads(unb64u(h)), json.loads(unb64u(p))


def x5t(der):
    return b64u(hashlib.sha1(der).digest())


def verify_jwt(token, jwks):
    """Independent RS256 check against a JWKS whose keys carry only x5c: the key is the one
    /certs lists under the header's kid, never the header's own x5c."""
    h, p, s = token.split('.')
    header, claims = decode_jwt(token)
    if header.get('alg') != 'RS256':
        raise ValueError('alg %r' % header.get('alg'))
    key = next((k for k in jwks['keys'] if k['kid'] == header['kid']), None)
    if key is None:
        raise KeyError('kid %s not in JWKS' % header['kid'])
    cert = x509.load_der_x509_certificate(base64.b64decode(key['x5c'][0]))
    cert.public_key().verify(unb64u(s), (h + '.' + p).encode(), padding.PKCS1v15(),
                             hashes.SHA256())
    return header, claims


def check_issued_by(cert, issuer):
    """Raises unless `issuer` (an RSA certificate) signed `cert`."""
    if cert.issuer != issuer.subject:
        raise ValueError('issuer %s is not %s' % (cert.issuer, issuer.subject))
    issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                               cert.signature_hash_algorithm)


def make_aik_cert(ak_pub, ca_key=None, ca_name='test AIK CA'):
    """A CA and an AIK certificate for `ak_pub`, both made here with cryptography."""
    import datetime
    from cryptography.x509.oid import NameOID
    ca_key = ca_key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    now = datetime.datetime.utcnow()

    def build(subject, pub):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(name)
                .public_key(pub).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30)))
    ca = build(name, ca_key.public_key()).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key,
                                                                              hashes.SHA256())
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'AIK')]), ak_pub).sign(
        ca_key, hashes.SHA256())
    return ca.public_bytes(serialization.Encoding.PEM).decode(), \
        leaf.public_bytes(serialization.Encoding.DER)


class Attester:
    """A complete MAA TPM client built from tpm2-tools output and python-cryptography:
    leg 1, quote with qualifyingData = SHA256(jwk text || 0 || challenge), leg 2.
    `pre(parts)` may change inputs before the quote, `post(parts)` the evidence after."""

    SELECTION = 'sha256:0,1,2,3,4,5,6,7'

    def __init__(self, tpm, emu, ak_ctx, ak_pub, log, request_key, pcr_values, scheme=None):
        self.tpm, self.emu, self.ak_ctx, self.ak_pub = tpm, emu, ak_ctx, ak_pub
        self.scheme = scheme
        self.log, self.key, self.pcr_values = log, request_key, pcr_values

    def jwk_text(self):
        n = self.key.public_key().public_numbers()
        # Unusual spacing and member order on purpose: the service must hash this text
        # exactly as received, not a re-serialization.
        return '{ "e" : "%s",\n  "kty": "RSA", "n":"%s" }' % (uint_b64u(n.e), uint_b64u(n.n))

    def leg1(self, headers=None):
        reply = self.emu.post_data({'payload': {'type': 'aikcert'}}, headers)['payload']
        return unb64u(reply['challenge']), reply['service_context']

    def evidence(self, pre=None, post=None, headers=None):
        challenge, sc = self.leg1(headers)
        parts = {'challenge': challenge, 'qd_challenge': challenge, 'service_context': sc,
                 'jwk_text': self.jwk_text(), 'rp_data': b64u(b'relying party nonce'),
                 'aik_pub': public_jwk(self.ak_pub), 'aik_cert': None, 'log': self.log,
                 'selection': self.SELECTION, 'header': {'alg': 'PS256', 'typ': 'attReqV2'},
                 'sign_key': self.key}
        parts['qd_jwk_text'] = parts['jwk_text']
        if pre:
            pre(parts)
        qd = parts.get('qd') or hashlib.sha256(parts['qd_jwk_text'].encode() + b'\0' +
                                               parts['qd_challenge']).digest()
        parts['quote'], parts['signature'] = self.tpm.quote(self.ak_ctx, qd, parts['selection'],
                                                            self.scheme)
        parts['pcrs'] = [{'algorithm': 11, 'values': [{'index': i, 'digest': b64u(d)}
                                                      for i, d in sorted(self.pcr_values.items())]}]
        if post:
            post(parts)
        return parts

    def payload_text(self, parts):
        cur = {'logs': [{'type': 'TCG', 'log': b64u(parts['log'])}],
               'aik_pub': parts['aik_pub'], 'pcrs': parts['pcrs'],
               'quote': b64u(parts['quote']), 'signature': b64u(parts['signature'])}
        if parts['aik_cert'] is not None:
            cur['aik_cert'] = b64u(parts['aik_cert'])
        rest = {'rp_id': 'https://attestd.test', 'rp_data': parts['rp_data'],
                'challenge': b64u(parts['challenge']), 'tpm_att_data': {'current_attestation': cur},
                'service_context': parts['service_context']}
        if parts['rp_data'] is None:
            del rest['rp_data']
        return ('{"att_type": "basic", "att_data": {"request_key": {"jwk": %s, '
                '"info": {"tpm_quote": {"hash_alg": "sha-256"}}}, %s}}'
                % (parts['jwk_text'], json.dumps(rest)[1:-1]))

    def request_jws(self, parts):
        signing_input = (b64u(json.dumps(parts['header']).encode()) + '.' +
                         b64u(self.payload_text(parts).encode()))
        return signing_input + '.' + b64u(ps256(parts['sign_key'], signing_input.encode()))

    def attest(self, pre=None, post=None, headers=None):
        """Returns (token, parts); raises HttpError on a non-200 answer."""
        parts = self.evidence(pre, post, headers)
        reply = self.emu.post_data({'payload': {'request': self.request_jws(parts)}}, headers)
        return reply['payload']['report'], parts
