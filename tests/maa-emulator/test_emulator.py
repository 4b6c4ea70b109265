# Self-test of the MAA emulator: complete attestations from a real swtpm driven by
# tpm2-tools (the OVMF boot log replayed into its PCRs), the evidence checks, the policy,
# token faults and the control channel. Run: /usr/bin/python3 -m unittest (in this dir).
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import eventlog_replay
import maa_policy
import policy as policy_mod
from harness import (API, CTL, OVMF_LOG, Attester, Emulator, HttpError, b64u, booted_swtpm,
                     check_issued_by, decode_jwt, have_tpm_tools, make_aik_cert, ps256, public_jwk, spki_hash,
                     test_policy, unb64u, verify_jwt, x5t)

with open(OVMF_LOG.replace('.bin', '.expected.json')) as _f:
    EXPECTED = json.load(_f)['pcrs']


_REQUEST_KEY = []
KEY_FILES = ('ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem', 'signing.pem',
             'signing-key.pem', 'token-ca.pem', 'token-ca-key.pem', 'token-root.pem',
             'token-root-key.pem', 'other.pem', 'other-key.pem')


def request_key():
    """One ephemeral RSA-2048 request key per test run (key generation is slow)."""
    if not _REQUEST_KEY:
        _REQUEST_KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _REQUEST_KEY[0]


@unittest.skipUnless(have_tpm_tools(), 'swtpm or tpm2-tools is missing')
class AttestWithSwtpm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='maa-emu-test.')
        cls.tpm, cls.log = booted_swtpm(cls.tmp)
        cls.pcr_values = cls.tpm.pcrs('sha256', range(8))
        cls.aks = {'rsa': cls.tpm.create_ak('ak-rsa', 'rsa', 'rsassa'),
                   'ecc': cls.tpm.create_ak('ak-ecc', 'ecc', 'ecdsa'),
                   'rsapss': cls.tpm.create_ak('ak-rsapss', 'rsa', 'rsapss')}
        cls.request_key = request_key()
        cls.record = os.path.join(cls.tmp, 'record')
        cls.emu = Emulator(os.path.join(cls.tmp, 'state'), '--record', cls.record).start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        cls.tpm.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.ctl('POST', '/control/clear', {})
        self.set_policy()
        self.emu.ctl('POST', '/control/clock', {'offset_sec': 0})

    def set_policy(self, **changes):
        """The tests' policy (test-default.json) with `changes`."""
        return self.emu.ctl('POST', '/control/policy', test_policy(**changes))

    def attester(self, ak='rsa'):
        ctx, pub = self.aks[ak]
        return Attester(self.tpm, self.emu, ctx, pub, self.log, self.request_key, self.pcr_values,
                        'rsapss' if ak == 'rsapss' else None)

    def assertRejected(self, status, code, fragment, **kw):
        with self.assertRaises(HttpError) as cm:
            self.attester(kw.pop('ak', 'rsa')).attest(**kw)
        err = cm.exception
        self.assertEqual(err.status, status, err.body)
        self.assertEqual(err.cloud_error()['code'], code, err.body)
        self.assertNotIn('x-ms-error-code', err.headers)     # MAA sends none
        self.assertIn(fragment, err.cloud_error()['message'])
        return err.cloud_error()['message']

    def check_token(self, token, parts, ak='rsa'):
        """The token as MAA shapes it, with the claims test-default.json issues."""
        header, claims = verify_jwt(token, self.emu.get_json('/certs'))
        self.assertEqual(list(header), ['typ', 'alg', 'x5c', 'kid'])     # no jku
        self.assertEqual(len(header['x5c']), 3)
        self.assertEqual(header['kid'], x5t(base64.b64decode(header['x5c'][0])))
        self.assertEqual(claims['iss'], self.emu.endpoint)
        self.assertEqual(claims['exp'] - claims['iat'], 345600)       # 4 days
        self.assertEqual(claims['nbf'], claims['iat'] - 300)
        self.assertLessEqual(abs(claims['iat'] - time.time()), 5)
        self.assertRegex(claims['jti'], r'^[0-9a-f]{40}$')
        self.assertEqual((claims['ver'], claims['x-ms-ver']), ('1.0', '1.0'))
        self.assertEqual(claims['cnf']['jwk'], json.loads(parts['jwk_text']))
        self.assertEqual(claims['x-ms-tpm-request-key'],
                         {'jwk': json.loads(parts['jwk_text']),
                          'info': {'tpm_quote': {'hash_alg': 'sha-256'}}})
        self.assertEqual(claims['rp_data'], parts['rp_data'])
        self.assertEqual(claims['nonce'], parts['rp_data'])
        self.assertRegex(claims['x-ms-policy-hash'], r'^[A-Za-z0-9_-]{43}$')
        # Issued by test-default.json's "issue" list, not by the service:
        self.assertEqual(claims['tpmVersion'], 2)
        self.assertEqual(claims['aikPubHash'], spki_hash(self.aks[ak][1]))
        self.assertIs(claims['secureBootEnabled'], False)    # OVMF ran with Secure Boot off
        self.assertIn('aikValidated', claims)
        for absent in ('jku', 'x-ms-attestation-type', 'x-ms-attested-pcrs', 'pcrs', 'events'):
            self.assertNotIn(absent, claims)
        return header, claims

    # ---- the good path
    def test_swtpm_replay_matches_the_real_boot(self):
        for i in range(8):
            self.assertEqual(self.pcr_values[i].hex(), EXPECTED['sha256'][str(i)])

    def test_rsa_ak_full_attestation(self):
        before = self.emu.ctl('GET', '/control/stats')
        token, parts = self.attester('rsa').attest()
        _, claims = self.check_token(token, parts)
        self.assertIs(claims['aikValidated'], False)
        after = self.emu.ctl('GET', '/control/stats')
        for key in ('leg1_ok', 'leg2_ok', 'tokens_issued', 'leg1_requests', 'leg2_requests'):
            self.assertEqual(after[key] - before[key], 1, key)

    def test_ecc_ak_full_attestation(self):
        token, parts = self.attester('ecc').attest()
        self.check_token(token, parts, 'ecc')

    def test_rsapss_ak_full_attestation(self):
        token, parts = self.attester('rsapss').attest()
        self.assertEqual(parts['signature'][:2], b'\x00\x16')     # TPM_ALG_RSAPSS
        self.check_token(token, parts, 'rsapss')

    def test_no_rp_data_means_no_claim(self):
        token, parts = self.attester().attest(pre=lambda p: p.update(rp_data=None))
        self.assertNotIn('rp_data', verify_jwt(token, self.emu.get_json('/certs'))[1])

    def test_record_has_decoded_leg2(self):
        self.attester().attest()
        files = sorted(f for f in os.listdir(self.record) if f.endswith('.json'))
        with open(os.path.join(self.record, files[-1])) as f:
            last = json.load(f)
        self.assertEqual(last['decoded']['jws_header'], {'alg': 'PS256', 'typ': 'attReqV2'})
        self.assertEqual(last['decoded']['jws_payload']['att_type'], 'basic')
        self.assertEqual(last['response']['status'], 200)
        self.assertRegex(last['response']['request_id'], r'^[A-Za-z0-9+/]{16}$')
        with open(os.path.join(self.record, files[-1][:-5] + '.body'), 'rb') as f:
            self.assertEqual(json.loads(f.read())['data'], last['body'] and json.loads(
                last['body'])['data'])

    # ---- evidence checks
    def test_tampered_quote_byte(self):
        def flip(p):
            q = bytearray(p['quote'])
            signer = int.from_bytes(q[6:8], 'big')
            extra = int.from_bytes(q[8 + signer:10 + signer], 'big')
            q[10 + signer + extra + 3] ^= 0x01    # clockInfo.clock: only the AK signature covers it
            p['quote'] = bytes(q)
        self.assertRejected(400, 'InvalidParameter', 'does not verify with aik_pub', post=flip)

    def test_tampered_pcr_digest_in_quote(self):
        def flip(p):
            p['quote'] = p['quote'][:-1] + bytes([p['quote'][-1] ^ 1])
        self.assertRejected(400, 'InvalidParameter', 'pcrDigest in the quote', post=flip)

    def test_quote_as_tpm2b_attest(self):
        def prefix(p):
            p['quote'] = len(p['quote']).to_bytes(2, 'big') + p['quote']
        self.assertRejected(400, 'InvalidParameter', 'TPM2B_ATTEST', post=prefix)

    def test_wrong_challenge(self):
        def other(p):
            p['challenge'] = p['qd_challenge'] = os.urandom(16)
        self.assertRejected(400, 'InvalidParameter',
                            'does not match the challenge in service_context', pre=other)

    def test_quote_not_bound_to_challenge(self):
        self.assertRejected(400, 'InvalidParameter', 'extraData',
                            pre=lambda p: p.update(qd_challenge=os.urandom(16)))

    def test_reserialized_jwk_text_is_not_the_binding(self):
        def compact(p):
            p['qd_jwk_text'] = json.dumps(json.loads(p['jwk_text']), separators=(',', ':'))
        self.assertRejected(400, 'InvalidParameter', 'extraData', pre=compact)

    def test_expired_service_context(self):
        a = self.attester()
        self.emu.ctl('POST', '/control/clock', {'offset_sec': -400})   # leg 1 "400 s ago"

        def back_to_now(p):
            self.emu.ctl('POST', '/control/clock', {'offset_sec': 0})
        with self.assertRaises(HttpError) as cm:
            parts = a.evidence(post=back_to_now)
            a.emu.post_data({'payload': {'request': a.request_jws(parts)}})
        self.assertIn('service_context expired', cm.exception.cloud_error()['message'])

    def test_forged_service_context(self):
        def forge(p):
            outer = json.loads(unb64u(p['service_context']))
            sealed = bytearray(unb64u(outer['ProtectedContext']))
            sealed[20] ^= 1
            outer['ProtectedContext'] = b64u(bytes(sealed))
            p['service_context'] = b64u(json.dumps(outer).encode())
        self.assertRejected(400, 'InvalidParameter', 'not authentic', post=forge)

    def test_pcr_mismatch_against_log(self):
        log = eventlog_replay.parse(self.log)
        ev = next(e for e in log.events if e['pcr'] == 4 and e['type'] != 3)
        digest = ev['digests']['sha256']
        self.assertEqual(self.log.count(digest), 1)
        bad = self.log.replace(digest, bytes([digest[0] ^ 1]) + digest[1:])
        msg = self.assertRejected(400, 'InvalidParameter',
                                  'PCR 4 (sha256) does not match the TCG log',
                                  post=lambda p: p.update(log=bad))
        self.assertIn(EXPECTED['sha256']['4'], msg)

    def test_pcr_values_in_wrong_order(self):
        def swap(p):
            p['pcrs'][0]['values'].reverse()
        self.assertRejected(400, 'InvalidParameter', 'the quote selects', post=swap)

    def test_jws_signed_by_another_key(self):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.assertRejected(400, 'InvalidParameter', 'JWS signature does not verify',
                            pre=lambda p: p.update(sign_key=other))

    def test_jws_v1_typ(self):
        self.assertRejected(400, 'InvalidParameter', 'attReqV2',
                            pre=lambda p: p.update(header={'alg': 'PS256', 'typ': 'attReq'}))

    def test_aik_cert_validated_and_mismatched(self):
        ca_pem, cert = make_aik_cert(self.aks['rsa'][1])
        self.set_policy(aik_trust_anchors=[ca_pem], require_valid_aik_cert=True)
        token, parts = self.attester().attest(post=lambda p: p.update(aik_cert=cert))
        self.assertIs(self.check_token(token, parts)[1]['aikValidated'], True)
        self.assertRejected(400, 'InvalidParameter', 'require_valid_aik_cert')
        _, wrong = make_aik_cert(self.aks['ecc'][1])
        self.assertRejected(400, 'InvalidParameter', 'its public key is not aik_pub',
                            post=lambda p: p.update(aik_cert=wrong))

    def test_malformed_payloads_are_400_never_a_crash(self):
        """Delete or retype every member of a valid leg-2 payload: always a CloudError 400
        (or 200 for optional members), never a 500 or a dropped connection."""
        a = self.attester()
        jwk_text = json.dumps(json.loads(a.jwk_text()))
        parts = a.evidence(pre=lambda p: p.update(jwk_text=jwk_text, qd_jwk_text=jwk_text))
        base = json.loads(a.payload_text(parts))
        conn = self.emu.connection()

        def send(payload):
            signing_input = (b64u(b'{"alg":"PS256","typ":"attReqV2"}') + '.' +
                             b64u(json.dumps(payload).encode()))
            jws = signing_input + '.' + b64u(ps256(self.request_key, signing_input.encode()))
            body = json.dumps({'data': b64u(json.dumps({'payload': {'request': jws}}).encode())})
            conn.request('POST', '/attest/Tpm' + API, body=body,
                         headers={'Content-Type': 'application/json'})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())

        def paths(node, prefix=()):
            items = node.items() if isinstance(node, dict) else enumerate(node[:1])
            for key, child in items:
                yield prefix + (key,)
                if isinstance(child, (dict, list)) and child:
                    yield from paths(child, prefix + (key,))

        self.assertEqual(send(base)[0], 200)
        optional = {'rp_id', 'rp_data'}
        count = 0
        for path in paths(base):
            for variant in ('<delete>', None, 'x'):
                mutated = json.loads(json.dumps(base))
                node = mutated
                for key in path[:-1]:
                    node = node[key]
                if node[path[-1]] == variant and type(node[path[-1]]) is type(variant):
                    continue
                if variant == '<delete>':
                    del node[path[-1]]
                else:
                    node[path[-1]] = variant
                status, reply = send(mutated)
                count += 1
                with self.subTest(path=path, variant=variant):
                    if status == 200:
                        self.assertIn(path[-1], optional, reply)
                    else:
                        self.assertEqual(status, 400, reply)
                        self.assertEqual(reply['error']['code'], 'InvalidParameter')
        conn.close()
        self.assertGreater(count, 80)

    # ---- policy
    def test_required_pcr_mask(self):
        self.set_policy(required_pcr_mask='0xFFFF')
        self.assertRejected(400, 'InvalidParameter', 'lacks PCR 8, 9, 10, 11, 12, 13, 14, 15')

    def test_golden_pcrs(self):
        good = {'sha256': {'7': EXPECTED['sha256']['7'], '0': EXPECTED['sha256']['0']}}
        self.set_policy(golden_pcrs=good)
        self.attester().attest()
        self.set_policy(golden_pcrs={'sha256': {'7': '00' * 32}})
        self.assertRejected(400, 'PolicyEvaluationError', 'A Deny claim was issued')

    def test_allowed_aik_pub_hashes(self):
        self.set_policy(allowed_aik_pub_hashes=[spki_hash(self.aks['ecc'][1])])
        self.attester('ecc').attest()
        self.assertRejected(400, 'PolicyEvaluationError', 'aikPubHash')

    def test_bearer_required(self):
        self.set_policy(require_bearer=True, bearer_tokens=['t0k'])
        self.assertRejected(401, 'Unauthorized', 'no Authorization header')
        self.assertRejected(401, 'Unauthorized', 'not valid', headers={'Authorization': 'Bearer x'})
        self.attester().attest(headers={'Authorization': 'Bearer t0k'})

    def test_policy_not_set(self):
        self.emu.ctl('POST', '/control/policy', b'null')
        self.assertIsNone(self.emu.ctl('GET', '/control/policy'))
        msg = self.assertRejected(400, 'Bad request', 'policy has not been set')
        self.assertEqual(msg, 'A VBS attestation policy has not been set on the attestation '
                              'provider.')

    def test_defaults_mirror_maa(self):
        """An empty JSON policy has MAA's configuration defaults: all 24 PCRs and a valid
        AIK certificate required."""
        self.emu.ctl('POST', '/control/policy', {})
        self.assertRejected(400, 'InvalidParameter', 'required_pcr_mask 0xFFFFFF')
        self.emu.ctl('POST', '/control/policy', {'required_pcr_mask': 0xFF})
        self.assertRejected(400, 'InvalidParameter', 'require_valid_aik_cert')

    def test_policy_issues_nothing_beyond_the_service_claims(self):
        self.set_policy(issue=[])
        token, parts = self.attester().attest()
        _, claims = verify_jwt(token, self.emu.get_json('/certs'))
        self.assertEqual(sorted(claims), sorted([
            'cnf', 'exp', 'iat', 'iss', 'jti', 'nbf', 'nonce', 'rp_data', 'ver', 'x-ms-ver',
            'x-ms-policy-hash', 'x-ms-tpm-request-key']))

    def test_issue_events_and_lifetime_from_policy(self):
        self.set_policy(issue_events=True, token_lifetime_sec=3600)
        token, _ = self.attester().attest()
        _, claims = verify_jwt(token, self.emu.get_json('/certs'))
        self.assertEqual(claims['exp'] - claims['iat'], 3600)
        self.assertEqual(len(claims['events']['Events']),
                         len(eventlog_replay.parse(self.log).events))

    # ---- policies in MAA's language (maa_policy.py), the form uploaded to Azure
    def set_text_policy(self, name_or_text, **members):
        path = os.path.join(os.path.dirname(CTL), 'policies', name_or_text)
        text = open(path).read() if os.path.exists(path) else name_or_text
        return self.emu.ctl('POST', '/control/policy', dict(members, maa_policy=text))

    def test_text_policy_issues_its_claims(self):
        text = open(os.path.join(os.path.dirname(CTL), 'policies', 'test-default.policy')).read()
        self.set_text_policy('test-default.policy')
        token, parts = self.attester().attest()
        _, claims = self.check_token(token, parts)
        self.assertIs(claims['aikValidated'], False)
        self.assertEqual(claims['x-ms-policy-hash'], maa_policy.policy_hash(text))

    def test_text_policy_events_claim_is_the_log(self):
        self.set_text_policy('issue-events.policy')
        token, _ = self.attester().attest()
        _, claims = verify_jwt(token, self.emu.get_json('/certs'))
        events = json.loads(claims['events'])['Events']     # a JSON string, as MAA issues it
        self.assertEqual(len(events), len(eventlog_replay.parse(self.log).events))
        self.assertEqual(events[0]['PcrIndex'], 0)

    def test_text_policy_configuration_rules_apply(self):
        """Without configurationrules, MAA's defaults hold: all 24 PCRs are required."""
        self.set_text_policy('version=1.2; authorizationrules { => permit(); }; '
                             'issuancerules { };')
        self.assertRejected(400, 'InvalidParameter', 'required_pcr_mask 0xFFFFFF')

    def test_text_policy_deny_and_missing_permit(self):
        rules = ('version=1.1; configurationrules { => issueproperty(type="required_pcr_mask", '
                 'value=255); => issueproperty(type="require_valid_aik_cert", value=false); }; '
                 'authorizationrules { %s }; issuancerules { };')
        self.set_text_policy(rules % '[type=="secureBootEnabled", value==false] => deny(); '
                                     '=> permit();')
        msg = self.assertRejected(400, 'PolicyEvaluationError', 'A Deny claim was issued')
        self.assertIn('deny()', msg)
        self.set_text_policy(rules % '[type=="secureBootEnabled", value==true] => permit();')
        self.assertRejected(400, 'PolicyEvaluationError', 'A Deny claim was issued')

    def test_text_policy_claims_nested_under_x_ms_policy(self):
        self.set_text_policy('test-default.policy', nest_claims=True)
        token, _ = self.attester().attest()
        _, claims = verify_jwt(token, self.emu.get_json('/certs'))
        self.assertEqual(claims['x-ms-policy']['tpmVersion'], 2)
        self.assertNotIn('tpmVersion', claims)

    def test_text_policy_errors(self):
        """A policy that does not parse is refused with line and column, and the one in
        force stays."""
        for text, members, fragment in (
                ('version=1.2;\nauthorizationrules {\n  => permit()\n};', {}, 'policy:4:'),
                ('test-default.policy', {'require_secure_boot': True},
                 'cannot be combined with maa_policy')):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                self.set_text_policy(text, **members)
            self.assertEqual(cm.exception.code, 400)
            self.assertIn(fragment, cm.exception.read().decode())
        self.assertEqual(self.emu.ctl('GET', '/control/policy'),
                         policy_mod.validate(test_policy()))

    def test_padded_rp_data_comes_back_unpadded(self):
        padded = base64.urlsafe_b64encode(b'a nonce').decode()
        self.assertTrue(padded.endswith('='))
        token, _ = self.attester().attest(pre=lambda p: p.update(rp_data=padded))
        _, claims = verify_jwt(token, self.emu.get_json('/certs'))
        self.assertEqual((claims['rp_data'], claims['nonce']), (b64u(b'a nonce'),) * 2)

    def test_certificate_chain(self):
        """x5c = signing cert <- intermediate <- root, each signature valid, the root
        self-signed; /certs lists the same chain under the same kid."""
        token, _ = self.attester().attest()
        header, _ = decode_jwt(token)
        certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header['x5c']]
        leaf, pca, root = certs
        check_issued_by(leaf, pca)
        check_issued_by(pca, root)
        check_issued_by(root, root)
        self.assertFalse(leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertTrue(pca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertEqual(len(header['kid']), 27)
        self.assertEqual(header['kid'],
                         b64u(hashlib.sha1(base64.b64decode(header['x5c'][0])).digest()))
        key = [k for k in self.emu.get_json('/certs')['keys'] if k['kid'] == header['kid']]
        self.assertEqual(key, [{'x5c': header['x5c'], 'kid': header['kid'], 'kty': 'RSA'}])

    # ---- token faults
    def test_token_faults(self):
        jwks = self.emu.get_json('/certs')
        a = self.attester()
        kid = decode_jwt(a.attest()[0])[0]['kid']
        cases = {
            'bad-signature': lambda h, c, t: self.assertRaises(Exception, verify_jwt, t, jwks),
            'unknown-kid': lambda h, c, t: (self.assertRaises(KeyError, verify_jwt, t, jwks),
                                            self.assertEqual(len(h['kid']), 27)),
            'alg-none': lambda h, c, t: (self.assertEqual(h['alg'], 'none'),
                                         self.assertEqual(h['kid'], kid),
                                         self.assertNotIn('x5c', h),
                                         self.assertTrue(t.endswith('.'))),
            'wrong-issuer': lambda h, c, t: self.assertNotEqual(c['iss'], self.emu.endpoint),
            'expired': lambda h, c, t: self.assertLess(c['exp'], time.time()),
            'not-yet-valid': lambda h, c, t: (self.assertGreater(c['nbf'], time.time() + 3000),
                                              self.assertEqual(c['nbf'], c['iat'] - 300)),
            'wrong-rp-data': lambda h, c, t: (self.assertNotEqual(c['rp_data'],
                                                                  b64u(b'relying party nonce')),
                                              self.assertEqual(c['nonce'], c['rp_data'])),
            'wrong-cnf': lambda h, c, t: (self.assertNotEqual(c['cnf']['jwk'],
                                                              json.loads(a.jwk_text())),
                                          self.assertEqual(c['x-ms-tpm-request-key']['jwk'],
                                                           c['cnf']['jwk'])),
            'wrong-jku': lambda h, c, t: (self.assertEqual(h['jku'],
                                                           'https://wrong-issuer.attest.azure.net'
                                                           '/certs'),
                                          verify_jwt(t, jwks)),
        }
        for name, check in cases.items():
            with self.subTest(fault=name):
                self.emu.ctl('POST', '/control/fault', {'fault': name, 'count': 1})
                token, _ = a.attest()
                h, c = decode_jwt(token)
                check(h, c, token)
        self.assertEqual(self.emu.ctl('GET', '/control/faults')['active'], [])
        token, parts = a.attest()                  # every fault had count 1: sound again
        self.check_token(token, parts)

    def test_deny_and_no_policy_faults(self):
        self.emu.ctl('POST', '/control/fault', {'fault': 'deny', 'count': 1})
        msg = self.assertRejected(400, 'PolicyEvaluationError', 'Deny')
        self.assertIn('\nInner error: PolicyEvaluationError: A Deny claim was issued, '
                      'authorization failed.', msg)
        self.emu.ctl('POST', '/control/fault', {'fault': 'no-policy', 'count': 1})
        self.assertRejected(400, 'Bad request', 'has not been set')
        self.attester().attest()

    def test_deny_message_keeps_the_reason(self):
        self.set_policy(require_secure_boot=True)
        msg = self.assertRejected(400, 'PolicyEvaluationError', 'A Deny claim was issued')
        self.assertEqual(msg.splitlines()[-1], 'emulator: secureBootEnabled is false')

    def test_rotate_key(self):
        before = self.emu.get_json('/certs')['keys']
        other, old = [k['kid'] for k in before]
        out = self.emu.ctl('POST', '/control/rotate-key', {})
        self.assertEqual(out['old_kid'], old)
        jwks = self.emu.get_json('/certs')
        # The leaf is new; the self-signed key, the intermediate and the root stay.
        self.assertEqual([k['kid'] for k in jwks['keys']], [other, out['kid']])
        token, parts = self.attester().attest()
        header = self.check_token(token, parts)[0]
        self.assertEqual(header['kid'], out['kid'])
        self.assertEqual(header['x5c'][1:], before[1]['x5c'][1:])
        self.assertEqual(self.emu.ctl('GET', '/control/info')['kid'], out['kid'])
        with open(os.path.join(self.emu.dir, 'jwks.json')) as f:
            self.assertEqual(json.load(f), jwks)

    def test_leg2_scoped_http_fault(self):
        self.emu.ctl('POST', '/control/fault', {'fault': 'http-503', 'count': 1, 'scope': 'leg2',
                                                'arg': 2})
        with self.assertRaises(HttpError) as cm:
            self.attester().attest()
        self.assertEqual(cm.exception.status, 503)
        self.assertEqual(cm.exception.headers['retry-after'], '2')
        self.attester().attest()


LEG1_BODY = json.dumps({'data': b64u(b'{"payload":{"type":"aikcert"}}')})


class EmulatorService(unittest.TestCase):
    """Transport behaviour, faults and lifecycle; needs no TPM (leg 1 only)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='maa-emu-svc.')
        cls.emu = Emulator(os.path.join(cls.tmp, 'state'), '--fault', 'http-500,count=1').start()
        # The --fault given at start applies to the first request only.
        cls.first = [cls.attempt_leg1(), cls.attempt_leg1()]

    @classmethod
    def attempt_leg1(cls):
        try:
            return cls.emu.post_data({'payload': {'type': 'aikcert'}})['payload']
        except HttpError as e:
            return e

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.ctl('POST', '/control/clear', {})
        self.emu.ctl('POST', '/control/stats/reset', {})

    def leg1(self, **kw):
        return self.emu.post_data({'payload': {'type': 'aikcert'}}, **kw)['payload']

    def test_start_fault_applies_once(self):
        self.assertIsInstance(self.first[0], HttpError)
        self.assertEqual(self.first[0].status, 500)
        self.assertEqual(self.first[0].cloud_error()['code'], 'InternalServerError')
        self.assertEqual(len(unb64u(self.first[1]['challenge'])), 16)

    def test_files_in_state_dir(self):
        for name in ('ca.pem', 'jwks.json', 'port', 'pid', 'endpoint', 'ready', 'control-port'):
            self.assertTrue(os.path.exists(os.path.join(self.emu.dir, name)), name)
        self.assertEqual(self.emu.endpoint, 'https://127.0.0.1:%s' % self.emu.read('port'))
        jwks = self.emu.get_json('/certs')
        # As MAA's /certs: a self-signed key (kid = std-base64 SHA-256 of its certificate),
        # then the signing chain (kid = x5t of the leaf); members x5c, kid, kty in that order.
        other, signing = jwks['keys']
        for key in jwks['keys']:
            self.assertEqual(list(key), ['x5c', 'kid', 'kty'])
            self.assertEqual(key['kty'], 'RSA')
        der = base64.b64decode(other['x5c'][0], validate=True)
        self.assertEqual(len(other['x5c']), 1)
        self.assertEqual(other['kid'], base64.b64encode(hashlib.sha256(der).digest()).decode())
        self.assertEqual(len(signing['x5c']), 3)
        self.assertEqual(signing['kid'], x5t(base64.b64decode(signing['x5c'][0], validate=True)))
        self.assertRegex(signing['kid'], r'^[A-Za-z0-9_-]{27}$')
        oid = self.emu.get_json('/.well-known/openid-configuration')
        self.assertEqual(oid['jwks_uri'], oid['issuer'] + '/certs')
        self.assertEqual(oid['id_token_signing_alg_values_supported'], ['RS256'])

    def test_padded_and_unpadded_data(self):
        self.leg1(padded=True)
        self.leg1()

    def test_cloud_errors(self):
        cases = [('POST', '/attest/Tpm', 400, 'MissingApiVersionParameter'),
                 ('POST', '/attest/Tpm?api-version=1999-01-01', 400, 'InvalidApiVersionParameter'),
                 ('GET', '/attest/Tpm' + API, 405, 'MethodNotAllowed'),
                 ('GET', '/nope', 404, 'NotFound')]
        for method, path, status, code in cases:
            with self.subTest(path=path):
                st, hdrs, body = self.emu.request(method, path, b'{"data":"e30"}')
                self.assertEqual(st, status)
                self.assertEqual(json.loads(body)['error']['code'], code)
                self.assertNotIn('x-ms-error-code', hdrs)
        for message, fragment in [(b'not json', 'not valid JSON'),
                                  ({'payload': {'type': 'other'}}, 'only "aikcert"'),
                                  ({'payload': {}}, 'neither'),
                                  ({'payload': {'request': 'a.b'}}, 'compact JWS')]:
            with self.subTest(message=message):
                with self.assertRaises(HttpError) as cm:
                    self.emu.post_data(message)
                self.assertIn(fragment, cm.exception.cloud_error()['message'])
        self.assertEqual(self.emu.ctl('GET', '/control/stats')['last_error']['status'], 400)

    def test_replies_are_chunked_with_a_request_id(self):
        ids = set()
        for method, path, body in [('GET', '/certs', None),
                                   ('POST', '/attest/Tpm' + API, LEG1_BODY),
                                   ('POST', '/attest/Tpm', LEG1_BODY)]:        # an error
            with self.subTest(path=path):
                self.emu.request(method, path, body)
                hdrs = dict((k.lower(), v) for k, v in self.emu.last_headers)
                self.assertEqual(hdrs['transfer-encoding'], 'chunked')
                self.assertNotIn('content-length', hdrs)
                self.assertEqual(hdrs['content-type'], 'application/json; charset=utf-8')
                self.assertIn('x-ms-maa-service-version', hdrs)
                self.assertRegex(hdrs['x-ms-request-id'], r'^[A-Za-z0-9+/]{16}$')
                ids.add(hdrs['x-ms-request-id'])
        self.assertEqual(len(ids), 3)
        last = self.emu.ctl('GET', '/control/stats')['last_error']
        self.assertEqual(last['request_id'], hdrs['x-ms-request-id'])
        with open(os.path.join(self.tmp, 'emulator.log')) as f:
            self.assertIn('request-id %s' % hdrs['x-ms-request-id'], f.read())

    def raw_exchange(self, request):
        """Send raw bytes over TLS, read until the server closes: (head, body bytes)."""
        host, port = self.emu.endpoint[len('https://'):].rsplit(':', 1)
        raw = b''
        with socket.create_connection((host, int(port)), timeout=10) as plain:
            with self.emu.ssl.wrap_socket(plain, server_hostname=host) as s:
                s.sendall(request)
                while True:
                    try:
                        data = s.recv(65536)
                    except ssl.SSLError:
                        break
                    if not data:
                        break
                    raw += data
        head, _, rest = raw.partition(b'\r\n\r\n')
        return head, rest

    def dechunk(self, rest):
        """Chunk sizes in hex, each chunk followed by CRLF, a final 0 chunk."""
        body = b''
        while True:
            size, _, rest = rest.partition(b'\r\n')
            n = int(size, 16)
            if n == 0:
                break
            body, rest = body + rest[:n], rest[n:]
            self.assertEqual(rest[:2], b'\r\n')
            rest = rest[2:]
        self.assertEqual(rest, b'\r\n')
        return body

    def test_chunked_framing_on_the_wire(self):
        head, rest = self.raw_exchange(b'GET /certs HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                                       b'Connection: close\r\n\r\n')
        self.assertIn(b'\r\nTransfer-Encoding: chunked', head)
        self.assertNotIn(b'Content-Length', head)
        self.assertEqual(json.loads(self.dechunk(rest)), self.emu.get_json('/certs'))

    def test_unparsable_request_gets_a_cloud_error(self):
        head, rest = self.raw_exchange(b'GARBAGE\r\n\r\n')
        self.assertTrue(head.startswith(b'HTTP/1.1 400 '), head)
        self.assertIn(b'\r\nx-ms-request-id: ', head)
        self.assertEqual(json.loads(self.dechunk(rest))['error']['code'], 'BadRequest')

    def test_http_429_with_retry_after_via_ctl(self):
        subprocess.run([CTL, self.emu.dir, 'fault', 'http-429=3', '--count', '2'], check=True,
                       capture_output=True)
        for _ in range(2):
            with self.assertRaises(HttpError) as cm:
                self.leg1()
            self.assertEqual(cm.exception.status, 429)
            self.assertEqual(cm.exception.headers['retry-after'], '3')
        self.leg1()
        out = subprocess.run([CTL, self.emu.dir, 'stats', 'leg1_requests'], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), '3')
        self.assertEqual(self.emu.ctl('GET', '/control/stats')['faults_applied'], 2)

    def test_garbage_bodies(self):
        for kind in ('html', 'data', 'inner', 'empty'):
            with self.subTest(kind=kind):
                self.emu.ctl('POST', '/control/fault',
                             {'fault': 'garbage', 'arg': kind, 'count': 1})
                leg1 = json.dumps({'data': b64u(b'{"payload":{"type":"aikcert"}}')})
                st, _, body = self.emu.request('POST', '/attest/Tpm' + API, leg1)
                self.assertEqual(st, 200)
                with self.assertRaises(ValueError):
                    json.loads(unb64u(json.loads(body)['data']))
        # The one reply with a Content-Length, which promises more than it sends.
        self.emu.ctl('POST', '/control/fault', {'fault': 'garbage', 'arg': 'truncated', 'count': 1})
        with self.assertRaises(http.client.IncompleteRead):
            self.emu.request('POST', '/attest/Tpm' + API, LEG1_BODY)
        self.assertEqual(dict(self.emu.last_headers)['Content-Length'], '1000')

    def test_oversized_and_certs_scope(self):
        self.emu.ctl('POST', '/control/fault', {'fault': 'oversized', 'arg': '1M', 'scope': 'certs',
                                                'count': 1})
        self.leg1()                                   # not in scope
        st, _, body = self.emu.request('GET', '/certs')
        self.assertEqual((st, len(body)), (200, 1024 * 1024 + 11))

    def test_stall(self):
        self.emu.ctl('POST', '/control/fault', {'fault': 'stall', 'arg': 5})
        t0 = time.monotonic()
        with self.assertRaises(OSError):               # socket.timeout
            self.leg1_timeout(0.3)
        self.assertLess(time.monotonic() - t0, 2)
        self.emu.ctl('POST', '/control/clear', {'fault': 'stall'})
        self.leg1()

    def test_latency(self):
        """An emulated round trip: every answer waits at least the latency (a lower bound
        only: the machine may add to it, never take from it)."""
        self.assertEqual(self.emu.ctl('POST', '/control/latency',
                                      {'latency': '150ms', 'jitter': '20ms'}),
                         {'latency_sec': 0.15, 'jitter_sec': 0.02})
        try:
            t0 = time.monotonic()
            self.leg1()
            self.assertGreaterEqual(time.monotonic() - t0, 0.13)
            self.assertEqual(self.emu.ctl('GET', '/control/info')['latency_sec'], 0.15)
            for bad in ({'latency': '10ms', 'jitter': '20ms'}, {'latency': 'soon'},
                        {'latency': '-5ms'}):
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    self.emu.ctl('POST', '/control/latency', bad)
                self.assertEqual(cm.exception.code, 400)
        finally:
            self.emu.ctl('POST', '/control/latency', {'latency': 0})

    def leg1_timeout(self, timeout):
        self.emu.request('POST', '/attest/Tpm' + API,
                         json.dumps({'data': b64u(b'{"payload":{"type":"aikcert"}}')}),
                         timeout=timeout)

    def test_refuse_and_reopen(self):
        port = self.emu.read('port')
        self.emu.ctl('POST', '/control/fault', {'fault': 'refuse'})
        with self.assertRaises(ConnectionRefusedError):
            self.leg1()
        self.emu.ctl('POST', '/control/clear', {})
        self.leg1()
        self.emu.ctl('POST', '/control/fault', {'fault': 'refuse', 'arg': 0.3})
        with self.assertRaises(ConnectionRefusedError):
            self.leg1()
        time.sleep(0.6)
        self.leg1()
        self.assertEqual(self.emu.read('port'), port)

    def fresh_dir(self, name):
        """A state dir holding this instance's keys (key generation is not under test)."""
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        for key in KEY_FILES:
            shutil.copy(os.path.join(self.emu.dir, key), d)
        return d

    def test_no_policy_by_default(self):
        """Without --policy the provider answers every attest call as a real one without a
        TPM policy does, until a policy is set."""
        emu = Emulator(self.fresh_dir('nopolicy'), '--token-lifetime', '7200', policy=None).start()
        try:
            self.assertIsNone(emu.ctl('GET', '/control/policy'))
            status, hdrs, body = emu.request('POST', '/attest/Tpm' + API, LEG1_BODY)
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(body), {'error': {
                'code': 'Bad request',
                'message': 'A VBS attestation policy has not been set on the attestation '
                           'provider.'}})
            self.assertEqual(hdrs['connection'], 'close')
            self.assertNotIn('x-ms-error-code', hdrs)
            self.assertEqual(hdrs['transfer-encoding'], 'chunked')
            self.assertEqual(emu.ctl('GET', '/control/info')['token_lifetime_sec'], 7200)
            # maa-emulator-ctl: --set starts from {} (MAA's defaults), a FILE replaces it,
            # --unset removes it.
            ctl = [CTL, emu.dir, 'policy']
            out = subprocess.run(ctl + ['--set', 'require_valid_aik_cert=false'], check=True,
                                 capture_output=True, text=True).stdout
            self.assertEqual(json.loads(out)['required_pcr_mask'], 0xFFFFFF)
            emu.post_data({'payload': {'type': 'aikcert'}})
            subprocess.run(ctl + ['--unset'], check=True, capture_output=True)
            self.assertRaises(HttpError, emu.post_data, {'payload': {'type': 'aikcert'}})
            subprocess.run(ctl + [os.path.join(os.path.dirname(CTL), 'policies',
                                               'test-default.json')], check=True,
                           capture_output=True)
            out = subprocess.run(ctl + ['--set', 'require_bearer=true'], check=True,
                                 capture_output=True, text=True).stdout
            self.assertEqual(json.loads(out)['required_pcr_mask'], 0xFF)     # kept
            self.assertEqual(json.loads(out)['require_bearer'], True)
        finally:
            emu.stop()

    def test_error_code_header_option(self):
        emu = Emulator(self.fresh_dir('errcode'), '--error-code-header', policy=None).start()
        try:
            _, hdrs, _ = emu.request('POST', '/attest/Tpm' + API, LEG1_BODY)
            self.assertEqual(hdrs['x-ms-error-code'], 'Bad request')
        finally:
            emu.stop()

    def test_bad_policy_file_is_named(self):
        bad = os.path.join(self.tmp, 'bad-policy.json')
        with open(bad, 'w') as f:
            json.dump({'issue': ['pcrs']}, f)
        r = subprocess.run([os.path.join(os.path.dirname(CTL), 'maa-emulator'), '--state-dir',
                            os.path.join(self.tmp, 'never'), '--policy', bad],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn(bad, r.stderr)
        self.assertIn('"pcrs" is not an incoming claim', r.stderr)

    def test_restart_keeps_ca_and_contexts(self):
        d = self.fresh_dir('restart')
        first = Emulator(d).start()
        ca = first.read('ca.pem')
        kids = [k['kid'] for k in first.get_json('/certs')['keys']]
        challenge = first.post_data({'payload': {'type': 'aikcert'}})['payload']
        self.assertEqual(first.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(d, 'ready')))
        second = Emulator(d, '--port', first.read('port')).start()
        try:
            self.assertLess(second.startup_time, 1.5)    # target < 1 s; margin for loaded hosts
            self.assertEqual(second.read('ca.pem'), ca)
            self.assertEqual([k['kid'] for k in second.get_json('/certs')['keys']], kids)
            self.assertEqual(second.endpoint, first.endpoint)
            # A context sealed before the restart still opens (the context key persists):
            # leg 2 gets past the context and challenge checks and fails on request_key.info.
            key = request_key()
            body = {'att_type': 'basic', 'att_data': {
                'request_key': {'jwk': public_jwk(key.public_key())},
                'challenge': challenge['challenge'],
                'service_context': challenge['service_context']}}
            signing_input = b64u(b'{"alg":"PS256","typ":"attReqV2"}') + '.' + \
                b64u(json.dumps(body).encode())
            jws = signing_input + '.' + b64u(ps256(key, signing_input.encode()))
            with self.assertRaises(HttpError) as cm:
                second.post_data({'payload': {'request': jws}})
            self.assertIn('request_key.info is missing', cm.exception.cloud_error()['message'])
            # The same leg 2 against another instance (other context key) fails on the context.
            with self.assertRaises(HttpError) as cm:
                self.emu.post_data({'payload': {'request': jws}})
            self.assertIn('protected with another key', cm.exception.cloud_error()['message'])
        finally:
            second.stop()


if __name__ == '__main__':
    unittest.main()
