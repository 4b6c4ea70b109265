# Unit tests of the emulator's own parsers (no TPM needed): the TCG log replay against
# every log in tests/testdata, TPM structures, base64url, raw JWK text, policy, faults.
import hashlib
import json
import os
import random
import struct
import unittest

import eventlog_replay
import tpm_structs
from common import ServiceError, b64url_decode, raw_member_text, strict_json
from faults import FaultError, parse_spec
from policy import PolicyError, validate
from protocol import ContextSealer
from harness import TEST_POLICY, TESTDATA

LOGS = os.path.join(TESTDATA, 'eventlogs')


class EventLogCorpus(unittest.TestCase):
    def test_every_log_in_the_index(self):
        with open(os.path.join(LOGS, 'INDEX.json')) as f:
            index = json.load(f)['logs']
        self.assertGreater(len(index), 40)
        for entry in index:
            with self.subTest(log=entry['path']):
                with open(os.path.join(LOGS, entry['path']), 'rb') as f:
                    data = f.read()
                with open(os.path.join(LOGS, entry['expected'])) as f:
                    expected = json.load(f)
                if entry['expect'] == 'parse-error':
                    with self.assertRaises(ServiceError) as cm:
                        eventlog_replay.parse(data)
                    self.assertEqual(cm.exception.status, 400)
                    continue
                log = eventlog_replay.parse(data)
                self.assertEqual(len(log.events), entry['events'])
                self.assertEqual(log.banks, entry['banks'])
                state, extended, _ = eventlog_replay.replay(log)
                for bank, values in expected.get('pcrs', {}).items():
                    for idx, hexval in values.items():
                        got = state[bank][int(idx)].hex()
                        if entry['expect'] == 'mismatch-pcr5' and idx == '5':
                            self.assertNotEqual(got, hexval)
                            self.assertEqual(got, expected['plain_replay_pcrs'][bank][idx])
                        elif entry['expect'] in ('match', 'mismatch-pcr5'):
                            self.assertEqual(got, hexval, '%s PCR %s' % (bank, idx))
                            self.assertIn(int(idx), extended[bank])

    def test_secure_boot_detection(self):
        for path, want in [('uefi-ovmf-swtpm-directkernel/binary_bios_measurements.bin', False),
                           ('keylime/binary_bios_measurements-secureboot.bin', True),
                           ('go-tpm-tools/ubuntu-2104-no-secure-boot.bin', False)]:
            with open(os.path.join(LOGS, path), 'rb') as f:
                log = eventlog_replay.parse(f.read())
            self.assertIs(eventlog_replay.secure_boot_enabled(log), want, path)
            claim = eventlog_replay.events_claim([log])
            self.assertEqual(len(claim['Events']), len(log.events))

    def test_truncations_and_flips_never_crash(self):
        with open(os.path.join(LOGS, 'uefi-ovmf-swtpm-directkernel/binary_bios_measurements.bin'),
                  'rb') as f:
            data = f.read()
        boundaries = {ev['offset'] for ev in eventlog_replay.parse(data).events} | {len(data)}
        for n in range(len(data)):
            if n in boundaries and n:
                eventlog_replay.parse(data[:n])
                continue
            with self.assertRaises(ServiceError, msg='prefix %d' % n):
                eventlog_replay.parse(data[:n])
        rnd = random.Random(4)
        for _ in range(400):
            mutated = bytearray(data)
            for _ in range(rnd.randint(1, 4)):
                mutated[rnd.randrange(len(data))] = rnd.randrange(256)
            try:
                eventlog_replay.replay(eventlog_replay.parse(bytes(mutated)))
            except ServiceError:
                pass


def make_quote(extra=b'\x11' * 32, sel=((0x000B, b'\xff\x00\x00'),), digest=b'\x22' * 32):
    out = struct.pack('>IH', 0xFF544347, 0x8018)
    out += struct.pack('>H', 34) + b'\x00\x0b' + b'\x33' * 32
    out += struct.pack('>H', len(extra)) + extra
    out += struct.pack('>QIIB', 1234, 1, 2, 1) + struct.pack('>Q', 0x2019)
    out += struct.pack('>I', len(sel))
    for alg, bits in sel:
        out += struct.pack('>HB', alg, len(bits)) + bits
    return out + struct.pack('>H', len(digest)) + digest


class TpmStructs(unittest.TestCase):
    def test_quote_fields(self):
        q = tpm_structs.parse_attest(make_quote())
        self.assertEqual(q['extraData'], b'\x11' * 32)
        self.assertEqual(q['pcrSelect'], [(0x000B, list(range(8)))])
        self.assertEqual((q['clock'], q['resetCount'], q['restartCount']), (1234, 1, 2))

    def test_every_truncation_is_rejected(self):
        quote = make_quote()
        for n in range(len(quote)):
            with self.assertRaises(ServiceError, msg='prefix %d' % n):
                tpm_structs.parse_attest(quote[:n])
        with self.assertRaisesRegex(ServiceError, 'trailing'):
            tpm_structs.parse_attest(quote + b'\0')

    def test_bad_magic_type_and_prefix(self):
        quote = make_quote()
        cases = [(b'\0' + quote[1:], 'magic'), (quote[:4] + b'\x80\x14' + quote[6:], 'type'),
                 (struct.pack('>H', len(quote)) + quote, 'TPM2B_ATTEST')]
        for data, fragment in cases:
            with self.assertRaisesRegex(ServiceError, fragment):
                tpm_structs.parse_attest(data)

    def test_signature(self):
        sig = struct.pack('>HHH', 0x0014, 0x000B, 4) + b'abcd'
        self.assertEqual(tpm_structs.parse_signature(sig)['sig'], b'abcd')
        ecdsa = struct.pack('>HHH', 0x0018, 0x000B, 2) + b'rr' + struct.pack('>H', 2) + b'ss'
        self.assertEqual(tpm_structs.parse_signature(ecdsa)['s'], b'ss')
        for bad, fragment in [(sig[:-1], 'needs'), (sig + b'x', 'trailing'),
                              (struct.pack('>HH', 0x0001, 0x000B), 'sigAlg'),
                              (struct.pack('>HH', 0x0014, 0x0099), 'hash')]:
            with self.assertRaisesRegex(ServiceError, fragment):
                tpm_structs.parse_signature(bad)

    def test_pcr_digest(self):
        self.assertEqual(tpm_structs.pcr_digest(0x000B, [b'a', b'b']),
                         hashlib.sha256(b'ab').digest())


class Encodings(unittest.TestCase):
    def test_b64url(self):
        self.assertEqual(b64url_decode('AQAB'), b'\x01\x00\x01')
        self.assertEqual(b64url_decode('YQ'), b'a')
        self.assertEqual(b64url_decode('YQ=='), b'a')
        self.assertEqual(b64url_decode('-_8'), b'\xfb\xff')
        for bad in ('YQ=', 'Y', 'a+b/', 'YQ===', '!!', 5):
            with self.assertRaises(ServiceError, msg=repr(bad)):
                b64url_decode(bad)

    def test_raw_member_text(self):
        text = '{"att_data" : {"x":[1,{"jwk":0}], "request_key":{ "jwk" :  {"n": "a" , "e":"b"} }}}'
        self.assertEqual(raw_member_text(text, ['att_data', 'request_key', 'jwk']),
                         '{"n": "a" , "e":"b"}')
        for bad, fragment in [('{"att_data":{}}', 'missing'), ('[]', 'not a JSON object'),
                              ('{"att_data":{"request_key":{"jwk":1,"jwk":2}}}', 'twice')]:
            with self.assertRaisesRegex(ServiceError, fragment):
                raw_member_text(bad, ['att_data', 'request_key', 'jwk'])

    def test_strict_json(self):
        for bad in (b'{"a":1,"a":2}', b'NaN', b'\xff', b'{'):
            with self.assertRaises(ServiceError):
                strict_json(bad, 'x')

    def test_service_context(self):
        sealer = ContextSealer(b'k' * 32)
        ctx = sealer.seal(b'c' * 16, 1000, 300)
        self.assertEqual(sealer.open(ctx, 1299), b'c' * 16)
        with self.assertRaisesRegex(ServiceError, 'expired'):
            sealer.open(ctx, 1300)
        with self.assertRaisesRegex(ServiceError, 'another key'):
            ContextSealer(b'j' * 32).open(ctx, 1000)


class PolicyAndFaults(unittest.TestCase):
    def test_policy_defaults_and_errors(self):
        pol = validate({'required_pcr_mask': '0xFF'})
        self.assertEqual(pol['required_pcr_mask'], 0xFF)
        # Where MAA has the same setting, the default is MAA's.
        self.assertEqual(validate({})['required_pcr_mask'], 0xFFFFFF)
        self.assertIs(validate({})['require_valid_aik_cert'], True)
        self.assertIsNone(validate({})['token_lifetime_sec'])
        with open(TEST_POLICY) as f:
            self.assertEqual(validate(json.load(f))['issue'],
                             ['aikValidated', 'aikPubHash', 'tpmVersion', 'secureBootEnabled'])
        for bad in ({'nope': 1}, {'required_pcr_mask': 1 << 24}, {'policy_set': True},
                    {'golden_pcrs': {'sha256': {'7': 'abcd'}}}, {'golden_pcrs': {'md5': {}}},
                    {'aik_trust_anchors': ['not pem']}, {'token_lifetime_sec': 0},
                    {'issue': ['pcrs']}, {'issue': 'tpmVersion'}, []):
            with self.assertRaises(PolicyError, msg=repr(bad)):
                validate(bad)

    def test_fault_specs(self):
        f = parse_spec('http-429=5,count=2,scope=leg2')
        self.assertEqual((f.name, f.arg, f.count, f.scope), ('http-429', 5.0, 2, 'leg2'))
        self.assertEqual(parse_spec('oversized=2M').arg, 2 * 1024 * 1024)
        self.assertEqual(parse_spec('expired').scope, 'leg2')
        for bad in ('nonsense', 'http-200', 'stall=x', 'garbage=xml', 'deny,count=0',
                    'refuse,scope=moon', 'http-500,when=now'):
            with self.assertRaises(FaultError, msg=bad):
                parse_spec(bad)


if __name__ == '__main__':
    unittest.main()
