# The starting policies attestd ships (conf/policies/*.policy) on the emulator's policy engine:
# they parse, set the configuration properties their comments promise, and permit exactly the
# real event logs of tests/testdata/eventlogs that booted with Secure Boot on.
# Run: /usr/bin/python3 -m unittest test_conf_policies -v  (in this directory)
import json
import os
import unittest

import eventlog_replay
import maa_policy
import tpm_claims
from common import b64url_decode

HERE = os.path.dirname(os.path.realpath(__file__))
CONF_POLICIES = os.path.join(HERE, '..', '..', 'conf', 'policies')
LOGS = os.path.join(HERE, '..', 'testdata', 'eventlogs')
SB_ON = 'go-tpm-tools/cos-101-amd-sev.bin'                                      # GCE, SB on
SB_OFF = 'go-attestation/ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin'   # GCE, SB off
AIK_HASH = 'q8yLqLhtrmX0Z4o1Uf0oGpnV1zSR3lW4L3Ykh2u9f0o='


def load(name):
    return maa_policy.load(os.path.join(CONF_POLICIES, name + '.policy'))


def parse_log(path):
    with open(os.path.join(LOGS, path), 'rb') as f:
        return eventlog_replay.parse(f.read())


def incoming(log, aik_validated=False):
    """The claims the service derives from a verified quote over the log's replayed PCRs."""
    state, _, _ = eventlog_replay.replay(log)
    bank = 'sha256' if 'sha256' in state else 'sha1'
    facts = {'pcrs': {bank: {i: state[bank][i] for i in range(8)}}, 'logs': [log],
             'aik_pub_hash': AIK_HASH, 'aik_validated': aik_validated,
             'aik_cert_present': aik_validated}
    return tpm_claims.incoming(facts)


def real_logs():
    """(path, log) of every log in INDEX.json that parses and boots a machine (at least one
    measured event in PCR 7, where Secure Boot state is measured)."""
    with open(os.path.join(LOGS, 'INDEX.json')) as f:
        index = json.load(f)['logs']
    for entry in index:
        if entry['expect'] == 'parse-error':
            continue
        log = parse_log(entry['path'])
        events = eventlog_replay.events_claim([log])['Events']
        if any(e['PcrIndex'] == 7 for e in events):
            yield entry['path'], log


class Configuration(unittest.TestCase):
    def test_secure_boot_requires_a_certified_ak_and_all_pcrs(self):
        self.assertEqual(load('linux-secure-boot').configuration(),
                         {'require_valid_aik_cert': True, 'required_pcr_mask': 0xFFFFFF})

    def test_bare_metal_accepts_an_uncertified_ak_knowingly(self):
        p = load('linux-bare-metal')
        self.assertEqual(p.configuration(),
                         {'require_valid_aik_cert': False, 'required_pcr_mask': 0xFFFFFF})
        self.assertIn(b'Accepted knowingly', p.text)

    def test_version_and_our_own_text(self):
        for name in ('linux-secure-boot', 'linux-bare-metal'):
            p = load(name)
            self.assertEqual(p.version, '1.2')
            self.assertTrue(p.text.startswith(b'// SPDX-License-Identifier: MIT\n'), name)


class Verdicts(unittest.TestCase):
    def test_secure_boot_on_is_permitted_off_is_denied(self):
        for name in ('linux-secure-boot', 'linux-bare-metal'):
            p = load(name)
            on = p.evaluate(incoming(parse_log(SB_ON), aik_validated=True))
            off = p.evaluate(incoming(parse_log(SB_OFF), aik_validated=True))
            self.assertTrue(on.permitted, name)
            self.assertFalse(off.permitted, name)
            self.assertEqual(off.deny_reason, 'no authorization rule issued permit()')
            self.assertEqual(off.claims, {})

    def test_every_real_log(self):
        """Across every booting log of the test data: permitted exactly when the firmware
        measured SecureBoot=1, for both policies."""
        seen = {True: 0, False: 0}
        for path, log in real_logs():
            sb = eventlog_replay.secure_boot_enabled(log)
            seen[sb] += 1
            for name in ('linux-secure-boot', 'linux-bare-metal'):
                r = load(name).evaluate(incoming(log))
                self.assertEqual(r.permitted, sb, '%s on %s' % (name, path))
        self.assertGreaterEqual(seen[True], 10)
        self.assertGreaterEqual(seen[False], 10)


class Claims(unittest.TestCase):
    def test_secure_boot_claims(self):
        r = load('linux-secure-boot').evaluate(incoming(parse_log(SB_ON), aik_validated=True))
        self.assertEqual(list(r.claims), ['secureBootEnabled', 'aikValidated', 'tpmVersion',
                                          'aikPubHash', 'bootLoaderAuthority'])
        self.assertEqual((r.claims['secureBootEnabled'], r.claims['aikValidated'],
                          r.claims['tpmVersion'], r.claims['aikPubHash']),
                         (True, True, 2, AIK_HASH))
        self.check_authorities(r.claims['bootLoaderAuthority'])

    def check_authorities(self, claim):
        """A JSON array of EFI_SIGNATURE_DATA (owner GUID + DER certificate), base64url."""
        authorities = json.loads(claim)
        self.assertGreaterEqual(len(authorities), 1)
        for a in authorities:
            data = b64url_decode(a)
            self.assertEqual(data[16], 0x30, 'a DER SEQUENCE after the owner GUID')
            self.assertGreater(len(data), 16 + 400)

    def test_bare_metal_claims(self):
        r = load('linux-bare-metal').evaluate(incoming(parse_log(SB_ON)))
        self.assertEqual(r.claims['aikValidated'], False)
        self.assertEqual(r.claims['aikPubHash'], AIK_HASH)
        self.assertEqual(json.loads(r.claims['secureBootVariable']), ['AQ'])
        self.check_authorities(r.claims['bootLoaderAuthority'])

    def test_bare_metal_enrolled_ak_rule(self):
        """The commented rule that admits only enrolled AKs works when put in place."""
        text = load('linux-bare-metal').text.decode()
        lines = text.split('\n')
        start = next(i for i, line in enumerate(lines) if '// [type=="secureBootEnabled"' in line)
        rule = '\n'.join(line.replace('//', '', 1) for line in lines[start:start + 3])
        permit_any = ('    [type=="secureBootEnabled", value==true, issuer=="AttestationService"]'
                      ' => permit();')
        self.assertIn(permit_any, text)
        for pinned, want in ((AIK_HASH, True), ('AAAA' + AIK_HASH[4:], False)):
            changed = text.replace(permit_any, rule.replace(
                '<base64 SHA-256 of the AK\'s public key>', pinned))
            r = maa_policy.parse(changed).evaluate(incoming(parse_log(SB_ON)))
            self.assertEqual(r.permitted, want, pinned)


if __name__ == '__main__':
    unittest.main()
