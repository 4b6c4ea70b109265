# Self-test of POST /attest/AzureGuest: Trusted Launch and SEV-SNP CVM attestations end to
# end from real swtpms provisioned by azure-vm-fixture (boot logs replayed into their PCRs),
# one negative case per service-side check, the faults, and the IMDS emulator.
# Run: /usr/bin/python3 -m unittest test_azure_guest (in this dir).
import base64
import copy
import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa

import cvm_reports
import eventlog_replay
from azure_guest_client import AzureGuestClient, ServiceRefused, b64, b64url, unb64url
from azure_pki import AzurePki, der, pem
from harness import HERE, TESTDATA, OVMF_LOG, Emulator, Swtpm, have_tpm_tools
from tpm2cmd import Tpm2Error, Tpm2Tools
from tpm_public import parse_public, rsa_public_key

FIXTURE = os.path.join(HERE, 'azure-vm-fixture')
IMDS = os.path.join(HERE, 'imds-emulator')
SNP_LOG = os.path.join(TESTDATA, 'eventlogs', 'go-tpm-tools', 'cos-101-amd-sev.bin')
TOOLS = ('tpm2_createprimary', 'tpm2_certify', 'tpm2_startauthsession', 'tpm2_policypcr',
         'tpm2_rsadecrypt', 'tpm2_nvdefine', 'tpm2_nvwrite', 'tpm2_nvread', 'tpm2_evictcontrol')


def have_tools():
    return have_tpm_tools() and all(shutil.which(t) for t in TOOLS)


class Vm:
    """A swtpm that looks like an Azure VM (azure-vm-fixture), its boot log and a client."""

    def __init__(self, tmp, name, log_path, emu, imds, *fixture_args):
        d = os.path.join(tmp, name)
        os.makedirs(os.path.join(d, 'tpm'))
        os.makedirs(os.path.join(d, 'client'))
        self.tpm = Swtpm(os.path.join(d, 'tpm'))
        with open(log_path, 'rb') as f:
            self.log = f.read()
        self.tpm.play(self.log)
        self.tcti = self.tpm.env['TPM2TOOLS_TCTI']
        self.emu = emu
        self.fixture(*fixture_args)
        self.client = AzureGuestClient(self.tcti, os.path.join(d, 'client'), emu.endpoint,
                                       os.path.join(emu.dir, 'ca.pem'), imds, self.log)
        self.tools = Tpm2Tools(self.tcti, os.path.join(d, 'client'))

    def fixture(self, *args):
        r = subprocess.run([FIXTURE, '--tcti', self.tcti, '--maa-state-dir', self.emu.dir,
                            *args], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError('azure-vm-fixture: %s' % r.stderr)
        return json.loads(r.stdout)


@unittest.skipUnless(have_tools(), 'swtpm or tpm2-tools is missing')
class AzureGuest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='maa-azureguest-test.')
        cls.emu = Emulator(os.path.join(cls.tmp, 'maa')).start()
        imds_dir = os.path.join(cls.tmp, 'imds')
        cls.imds_proc = subprocess.Popen([IMDS, '--state-dir', imds_dir, '--maa-state-dir',
                                          cls.emu.dir, '--quiet'])
        cls.tl = Vm(cls.tmp, 'tl', OVMF_LOG, cls.emu, None)
        ready = os.path.join(imds_dir, 'ready')
        for _ in range(500):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        with open(ready) as f:
            cls.imds = f.read().strip()
        cls.snp = Vm(cls.tmp, 'snp', SNP_LOG, cls.emu, cls.imds, '--cvm', 'snp')
        cls.pki = AzurePki(cls.emu.dir)
        cls.nonce = b'nonce-' + os.urandom(8)
        cls.tl_info = cls.tl.client.collect(cls.nonce)
        cls.snp_info = cls.snp.client.collect(cls.nonce)

    @classmethod
    def tearDownClass(cls):
        cls.imds_proc.send_signal(signal.SIGTERM)
        cls.imds_proc.wait(10)
        cls.emu.stop()
        cls.tl.tpm.stop()
        cls.snp.tpm.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.ctl('POST', '/control/clear', {})
        self.emu.ctl('POST', '/control/azureguest', {'reset': True})

    def tearDown(self):
        # Every TPM object made in a test is flushed (no resource manager on swtpm).
        for vm in (self.tl, self.snp):
            self.assertEqual(vm.tools.handles('transient'), [])

    # ---- helpers
    def rejected(self, info, fragment, code='InvalidParameter', vm=None):
        with self.assertRaises(ServiceRefused) as cm:
            (vm or self.tl).client.post(info)
        err = cm.exception
        self.assertEqual(err.status, 400, err.body)
        self.assertEqual(err.error()['code'], code, err.body)
        self.assertIn(fragment, err.error()['message'])
        return err.error()['message']

    def tl_changed(self, fn):
        info = copy.deepcopy(self.tl_info)
        fn(info, info['TpmInfo'])
        return info

    def snp_evidence(self, claims=None, report=None, chain=None):
        """The SNP info with its evidence rebuilt: other claims, report or VCEK chain."""
        info = copy.deepcopy(self.snp_info)
        ev = info['IsolationInfo']['Evidence']
        proof = json.loads(base64.b64decode(ev['Proof']))
        if claims is not None:
            ev['RunTimeData'] = b64(claims)
            report = report or cvm_reports.build_snp_report(
                self.pki.vcek_key, hashlib.sha256(claims).digest() + bytes(32))
        if report is not None:
            proof['SnpReport'] = b64url(report)
        if chain is not None:
            proof['VcekCertChain'] = b64(chain.encode())
        ev['Proof'] = b64(json.dumps(proof).encode())
        return info

    def snp_claims(self):
        return json.loads(base64.b64decode(self.snp_info['IsolationInfo']['Evidence']
                                           ['RunTimeData']))

    # ---- end to end
    def test_trusted_launch_end_to_end(self):
        c = self.tl.client
        token = c.post(c.collect(self.nonce))
        hdrs = c.last_headers
        self.assertEqual(hdrs.get('transfer-encoding'), 'chunked')
        self.assertRegex(hdrs.get('x-ms-request-id', ''), r'^[A-Za-z0-9+/]{16}$')
        self.assertNotIn('=', token)                       # base64url, never padded
        env = json.loads(unb64url(token))
        self.assertEqual(list(env), ['Jwt', 'EncryptedInnerKey', 'EncryptionParams',
                                     'AuthenticationData'])
        self.assertEqual(len(base64.b64decode(env['EncryptedInnerKey'])), 256)
        self.assertEqual(len(base64.b64decode(env['AuthenticationData'])), 16)
        params = dict(env['EncryptionParams'])
        self.assertEqual(len(base64.b64decode(params.pop('Iv'))), 12)
        self.assertEqual(params, {'BlockMode': 'ChainingModeGCM', 'BlockPadding': 'PKCS7',
                                  'Cipher': 'AES', 'KeySizeInBits': 256})
        jwt = c.unseal(token)
        header, claims = c.verify(jwt, self.nonce)
        self.assertEqual(list(header), ['alg', 'jku', 'kid', 'typ'])
        self.assertEqual(header['jku'], self.emu.endpoint + '/certs')
        self.assertEqual(len(header['kid']), 44)
        self.assertEqual((claims['nbf'], claims['exp'] - claims['iat']), (claims['iat'], 28800))
        self.assertRegex(claims['jti'], r'^[0-9a-f]{64}$')
        self.assertIs(claims['secureboot'], False)          # the OVMF boot had it off
        self.assertEqual(claims['x-ms-azurevm-attested-pcrs'], list(range(8)))
        self.assertEqual(claims['x-ms-azurevm-ostype'], 'Linux')
        self.assertEqual(claims['x-ms-azurevm-osversion-major'], 12)
        self.assertRegex(claims['x-ms-azurevm-vmid'], r'^[0-9A-F-]{36}$')
        self.assertNotIn('x-ms-isolation-tee', claims)
        key = claims['x-ms-runtime']['keys'][0]
        self.assertEqual((key['kid'], key['key_ops']), ('TpmEphemeralEncryptionKey', ['encrypt']))
        stats = self.emu.ctl('GET', '/control/stats')
        self.assertGreaterEqual(stats['azureguest_ok'], 1)

    def test_snp_cvm_end_to_end(self):
        jwt, claims = self.snp.client.attest(self.nonce)
        self.assertIs(claims['secureboot'], True)           # cos-101 booted with it on
        tee = claims['x-ms-isolation-tee']
        self.assertEqual(tee['x-ms-compliance-status'], 'azure-compliant-cvm')
        self.assertEqual(tee['x-ms-attestation-type'], 'sevsnpvm')
        self.assertEqual(tee['x-ms-runtime'], self.snp_claims())
        self.assertEqual(claims['x-ms-azurevm-vmid'],
                         self.snp_claims()['vm-configuration']['vmUniqueId'])
        self.assertIs(tee['x-ms-sevsnpvm-is-debuggable'], False)
        self.assertEqual(tee['x-ms-sevsnpvm-vmpl'], 0)

    def test_wrapper_variants(self):
        c = self.tl.client
        text = json.dumps(self.tl_info).encode()
        padded = base64.urlsafe_b64encode(text).decode()
        for body, api in ((json.dumps({'attestationInfo': b64url(text)}), '2025-06-01'),
                          (json.dumps({'AttestationInfo': padded}), '2020-10-01')):
            c.unseal(c.post(None, api=api, body=body.encode()))
        with self.assertRaises(ServiceRefused) as cm:
            c.post(self.tl_info, api='2022-08-01')
        self.assertEqual(cm.exception.error()['code'], 'InvalidApiVersionParameter')
        with self.assertRaises(ServiceRefused) as cm:
            c.post(None, body=b'{"data":"x"}')
        self.assertIn('"AttestationInfo"', cm.exception.error()['message'])

    def test_empty_log_switch(self):
        info = self.tl_changed(lambda i, t: i.update(TcgLogs=''))
        self.tl.client.unseal(self.tl.client.post(info))    # allowed by default
        self.emu.ctl('POST', '/control/azureguest', {'allow_empty_log': False})
        self.rejected(info, 'TcgLogs is empty')

    # ---- one negative case per service-side check (§12.14 and more)
    def test_wrong_pcr_value(self):
        def change(i, t):
            t['PCRs'][3]['Digest'] = b64(bytes(32))
        self.rejected(self.tl_changed(change), 'pcrDigest')

    def test_pcr_value_and_quote_disagree_with_log(self):
        log = bytearray(self.tl.log)
        ev = next(e for e in eventlog_replay.parse(self.tl.log).events if e['pcr'] == 4)
        at = bytes(log).find(ev['digests']['sha256'], ev['offset'])
        log[at] ^= 0x01
        self.rejected(self.tl_changed(lambda i, t: i.update(TcgLogs=b64(bytes(log)))),
                      'PCR 4 (sha256) does not match the replay of AttestationInfo.TcgLogs')

    def test_quote_signature(self):
        def change(i, t):
            sig = bytearray(base64.b64decode(t['PcrSignature']))
            sig[10] ^= 1
            t['PcrSignature'] = b64(bytes(sig))
        self.rejected(self.tl_changed(change), 'TpmInfo.PcrSignature')

    def test_pcr_set_differs_from_quote(self):
        def change(i, t):
            t['PcrSet'] = list(range(7))
            t['PCRs'] = t['PCRs'][:7]
        self.rejected(self.tl_changed(change), 'TpmInfo.PcrQuote selects')

    def test_enc_key_policy_for_other_pcrs(self):
        info = self.tl.client.collect(self.nonce, enc_pcrs=list(range(7)))
        self.rejected(info, 'TpmInfo.EncKeyPub: authPolicy')

    def test_certify_by_another_key(self):
        t = self.tl.tools
        if 0x81000004 not in t.handles('persistent'):
            t.run('tpm2_createprimary', '-C', 'o', '-G', 'rsa2048:rsassa-sha256:null',
                  '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign',
                  '-c', t.path('other.ctx'))
            t.run('tpm2_evictcontrol', '-C', 'o', '-c', t.path('other.ctx'), '0x81000004')
            t.flush_transient()
        info = self.tl.client.collect(self.nonce, certify_signer='0x81000004')
        self.rejected(info, 'TpmInfo.EncKeyCertifyInfoSignature')

    def test_certify_of_another_key(self):
        other = self.tl.client.collect(self.nonce, enc_pcrs=list(range(7)))
        self.rejected(self.tl_changed(lambda i, t: t.update(
            EncKeyCertifyInfo=other['TpmInfo']['EncKeyCertifyInfo'],
            EncKeyCertifyInfoSignature=other['TpmInfo']['EncKeyCertifyInfoSignature'])),
            'attested name')

    def with_cert(self, cert):
        return self.tl_changed(lambda i, t: t.update(AikCert=b64(der(cert))))

    def tl_ak_public_key(self):
        return x509.load_der_x509_certificate(
            base64.b64decode(self.tl_info['TpmInfo']['AikCert'])).public_key()

    def test_expired_ak_cert(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = self.pki.issue_ak_cert(self.tl_ak_public_key(),
                                      not_before=now - datetime.timedelta(days=400),
                                      not_after=now - datetime.timedelta(days=1))
        self.rejected(self.with_cert(cert), 'TpmInfo.AikCert is outside its validity')

    def test_placeholder_ak_cert(self):
        cert = self.pki.issue_ak_cert(self.tl_ak_public_key(), placeholder=True)
        self.rejected(self.with_cert(cert), 'placeholder')

    def test_ak_cert_for_another_key_or_ca(self):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rejected(self.with_cert(self.pki.issue_ak_cert(other.public_key())),
                      'not the key in TpmInfo.AikPub')
        foreign = AzurePki(os.path.join(self.tmp, 'foreign-pki'))
        self.rejected(self.with_cert(foreign.issue_ak_cert(self.tl_ak_public_key())),
                      'does not chain to the AK CA')

    def test_aik_pub_shape(self):
        # The EncKey (a decrypt key) sent as the AK: its certificate no longer matches first;
        # with a matching certificate the shape check names the attributes.
        enc = self.tl_info['TpmInfo']['EncKeyPub']
        cert = self.pki.issue_ak_cert(rsa_public_key(parse_public(base64.b64decode(enc), 'x')))
        self.rejected(self.tl_changed(lambda i, t: t.update(AikPub=enc, AikCert=b64(der(cert)))),
                      'TpmInfo.AikPub: attributes')

    def test_mismatched_hcl_ak_pub(self):
        claims = self.snp_claims()
        n = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() \
            .public_numbers().n
        claims['keys'][0]['n'] = b64url(n.to_bytes(256, 'big'))
        self.rejected(self.snp_evidence(json.dumps(claims).encode()), 'HCLAkPub', vm=self.snp)

    def test_bad_snp_signature(self):
        proof = json.loads(base64.b64decode(self.snp_info['IsolationInfo']['Evidence']['Proof']))
        report = bytearray(unb64url(proof['SnpReport']))
        report[0x90] ^= 1                                   # the launch measurement
        self.rejected(self.snp_evidence(report=bytes(report)), 'signature does not verify',
                      vm=self.snp)

    def test_snp_report_data_binding(self):
        info = self.snp_evidence()
        ev = info['IsolationInfo']['Evidence']
        ev['RunTimeData'] = b64(base64.b64decode(ev['RunTimeData']) + b' ')
        self.rejected(info, 'report_data is not SHA-256(RunTimeData)', vm=self.snp)

    def test_snp_chain_from_another_ark(self):
        foreign = AzurePki(os.path.join(self.tmp, 'foreign-pki'))
        chain = pem(foreign.vcek) + pem(foreign.ask) + pem(foreign.ark)
        self.rejected(self.snp_evidence(chain=chain), 'the ARK is not', vm=self.snp)

    def test_snp_debug_policy(self):
        claims = base64.b64decode(self.snp_info['IsolationInfo']['Evidence']['RunTimeData'])
        report = cvm_reports.build_snp_report(self.pki.vcek_key,
                                              hashlib.sha256(claims).digest() + bytes(32),
                                              policy=0x30000 | cvm_reports.POLICY_DEBUG)
        info = self.snp_evidence(claims, report)
        self.rejected(info, 'allows debugging', vm=self.snp)
        self.emu.ctl('POST', '/control/azureguest', {'snp_strict': False})
        self.snp.client.post(info)

    def test_secure_boot_switch(self):
        self.emu.ctl('POST', '/control/azureguest', {'require_secure_boot': 'always'})
        self.rejected(self.tl_info, 'secure boot is off', code='PolicyEvaluationError')
        self.snp.client.post(self.snp_info)                 # its log has Secure Boot on

    # ---- faults
    def fault(self, name, **kw):
        self.emu.ctl('POST', '/control/fault', dict({'fault': name}, **kw))

    def test_fault_bad_tag(self):
        self.fault('bad-tag', count=1)
        token = self.tl.client.post(self.tl_info)
        with self.assertRaises(InvalidTag):
            self.tl.client.unseal(token)
        self.tl.client.unseal(self.tl.client.post(self.tl_info))    # count=1: next is fine

    def test_fault_wrong_inner_key(self):
        self.fault('wrong-inner-key', count=1)
        with self.assertRaises(Tpm2Error):
            self.tl.client.unseal(self.tl.client.post(self.tl_info))

    def test_fault_drop_nonce(self):
        self.fault('drop-nonce', count=1)
        jwt = self.tl.client.unseal(self.tl.client.post(self.tl_info))
        with self.assertRaisesRegex(ValueError, 'nonce not echoed'):
            self.tl.client.verify(jwt, self.nonce)

    def test_token_faults(self):
        c = self.tl.client
        for name, error in (('bad-signature', InvalidSignature), ('expired', ValueError),
                            ('wrong-issuer', ValueError), ('unknown-kid', ValueError)):
            self.fault(name, count=1, scope='azureguest')
            with self.assertRaises(error, msg=name):
                c.verify(c.unseal(c.post(self.tl_info)), self.nonce)
        self.fault('expired', count=1)                      # default scope leg2: not here
        c.verify(c.unseal(c.post(self.tl_info)), self.nonce)

    def test_transport_and_policy_faults(self):
        self.fault('http-503', count=1, arg=2)
        with self.assertRaises(ServiceRefused) as cm:
            self.tl.client.post(self.tl_info)
        self.assertEqual((cm.exception.status, cm.exception.headers.get('retry-after')),
                         (503, '2'))
        self.fault('deny', count=1, scope='azureguest')
        self.rejected(self.tl_info, 'A Deny claim was issued', code='PolicyEvaluationError')
        self.tl.client.post(self.tl_info)

    # ---- IMDS
    def imds_get(self, path, headers=None):
        req = urllib.request.Request(self.imds + path, headers={'Metadata': 'true'} if headers is None else headers)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode()

    def imds_ctl(self, path, body):
        req = urllib.request.Request(self.imds + path, data=json.dumps(body).encode(),
                                     method='POST')
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def test_imds_routes_and_faults(self):
        q = '?api-version=2021-01-01&format=text'
        self.assertEqual(self.imds_get('/metadata/instance/compute/location' + q), 'eastus')
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.imds_get('/metadata/instance/compute/location' + q, headers={})
        self.assertEqual(cm.exception.code, 400)
        compute = json.loads(self.imds_get('/metadata/instance?api-version=2021-02-01'))['compute']
        self.assertEqual(compute['vmId'], self.imds_get('/metadata/instance/compute/vmId' + q))
        self.assertEqual(compute['azEnvironment'], 'AzurePublicCloud')
        self.imds_ctl('/control/fault', {'fault': 'http-500', 'count': 1,
                                         'path': '/metadata/THIM'})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.imds_get('/metadata/THIM/amd/certification')
        self.assertEqual(cm.exception.code, 500)
        certs = json.loads(self.imds_get('/metadata/THIM/amd/certification'))
        self.assertEqual(certs['vcekCert'], pem(self.pki.vcek))

    def test_imds_ak_cert_renewal(self):
        vm = self.tl
        summary = vm.fixture('--keep-ak', '--expiring', '20')
        vm_id = json.loads(self.imds_get('/metadata/instance?api-version=2021-02-01'))[
            'compute']['vmId']
        body = urllib.parse.quote(summary['ak_cert_pem'], safe='').encode()
        req = urllib.request.Request(
            self.imds + '/metadata/THIM/tvm/certificate/renew?api-version=2023-07-01&vmId=%s'
            '&requestId=%s' % (vm_id, 'a6b0ce0e-1f6c-4a7e-9d21-3f1b5c7a8e90'), data=body,
            headers={'Metadata': 'true'}, method='POST')
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = json.loads(r.read())
        new = x509.load_pem_x509_certificate(reply['AkCertPem'].encode())
        self.assertEqual(new.public_key().public_numbers(),
                         self.tl_ak_public_key().public_numbers())
        self.assertGreater(new.not_valid_after - datetime.datetime.utcnow(),
                           datetime.timedelta(days=500))
        vm.tools.nv_write(0x01C101D0, der(new))
        jwt, claims = vm.client.attest(self.nonce)
        self.assertEqual(claims['x-ms-attestation-type'], 'azurevm')
