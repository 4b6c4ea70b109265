# The reply of POST /attest/AzureGuest: the azurevm claim set (AZURE-GUEST.md §7.2) from
# the verified facts, the RS256 JWT (§7.1 header: alg, jku, kid, typ) and the sealed
# envelope (§4, §12.13): AES-256-GCM with AAD "Transport Key", the AES key RSAES-PKCS1-v1_5
# encrypted to the request's EncKey. The AzureGuest faults act here.
import hashlib
import json
import secrets
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common import b64std_encode, b64url_encode, compact_json
from cvm_reports import POLICY_DEBUG, POLICY_MIGRATE_MA, POLICY_SMT, tcb_parts

AAD = b'Transport Key'
# Faults of the sealing and the claims (faults.py lists them; scope azureguest).
SEAL_FAULTS = ('bad-tag', 'wrong-inner-key', 'drop-nonce')
# The emulator's stand-in for the shared providers' default policy; x-ms-policy-hash is
# B64U(SHA256(B64U(text))) over it, as for the TPM route.
DEFAULT_POLICY_TEXT = ('version=1.0; maa-emulator: the default azurevm policy of shared '
                       'providers (every verified request is permitted)')


def policy_hash():
    inner = b64url_encode(DEFAULT_POLICY_TEXT.encode('utf-8')).encode('ascii')
    return b64url_encode(hashlib.sha256(inner).digest())


def _uint_b64u(n):
    return b64url_encode(n.to_bytes((n.bit_length() + 7) // 8, 'big'))


def enc_key_jwk(key):
    n = key.public_numbers()
    return {'kid': 'TpmEphemeralEncryptionKey', 'kty': 'RSA', 'e': _uint_b64u(n.e),
            'n': _uint_b64u(n.n), 'key_ops': ['encrypt']}


def trusted_launch_vm_id(facts, settings):
    """Where MAA takes a Trusted Launch VM's id from is unknown (§10.3): the setting, or a
    stable upper-case GUID derived from the AK."""
    if settings['vm_id']:
        return settings['vm_id'].upper()
    return str(uuid.UUID(bytes=hashlib.sha256(facts['ak_pub']['modulus']).digest()[:16])).upper()


def _snp_claims(report):
    tcb = tcb_parts(report['current_tcb'])
    return {
        'x-ms-sevsnpvm-authorkeydigest': report['author_key_digest'].hex(),
        'x-ms-sevsnpvm-bootloader-svn': tcb['bootloader'],
        'x-ms-sevsnpvm-familyId': report['family_id'].hex(),
        'x-ms-sevsnpvm-guestsvn': report['guest_svn'],
        'x-ms-sevsnpvm-hostdata': report['host_data'].hex(),
        'x-ms-sevsnpvm-idkeydigest': report['id_key_digest'].hex(),
        'x-ms-sevsnpvm-imageId': report['image_id'].hex(),
        'x-ms-sevsnpvm-is-debuggable': bool(report['policy'] & POLICY_DEBUG),
        'x-ms-sevsnpvm-launchmeasurement': report['measurement'].hex(),
        'x-ms-sevsnpvm-microcode-svn': tcb['microcode'],
        'x-ms-sevsnpvm-migration-allowed': bool(report['policy'] & POLICY_MIGRATE_MA),
        'x-ms-sevsnpvm-reportdata': report['report_data'].hex(),
        'x-ms-sevsnpvm-reportid': report['report_id'].hex(),
        'x-ms-sevsnpvm-smt-allowed': bool(report['policy'] & POLICY_SMT),
        'x-ms-sevsnpvm-snpfw-svn': tcb['snp'],
        'x-ms-sevsnpvm-tee-svn': tcb['tee'],
        'x-ms-sevsnpvm-vmpl': report['vmpl'],
    }


def claims(facts, settings, faults):
    """The azurevm claims (everything but iat/nbf/exp/iss/jti)."""
    iso = facts['isolation']
    sb = facts['secure_boot']
    windows = facts['os_type'].lower() == 'windows'
    if iso['type'] == 'SevSnp':
        vm_id = str(iso['runtime_claims'].get('vm-configuration', {}).get('vmUniqueId') or
                    trusted_launch_vm_id(facts, settings)).upper()
    else:
        vm_id = trusted_launch_vm_id(facts, settings)
    out = {
        'x-ms-ver': '1.0',
        'x-ms-policy-hash': policy_hash(),
        'x-ms-attestation-type': 'azurevm',
        'secureboot': sb,
        'x-ms-azurevm-attestation-protocol-ver': facts['protocol'],
        'x-ms-azurevm-attested-pcrs': list(facts['pcr_set']),
        'x-ms-azurevm-vmid': vm_id,
        'x-ms-azurevm-ostype': facts['os_type'],
        'x-ms-azurevm-osdistro': facts['os_distro'],
        'x-ms-azurevm-osversion-major': facts['os_major'],
        'x-ms-azurevm-osversion-minor': facts['os_minor'],
        'x-ms-azurevm-osbuild': facts['os_build'],
        'x-ms-azurevm-is-windows': windows,
        # Windows-oriented flags: fixed values on Linux, as real Linux tokens carry them.
        'x-ms-azurevm-bootdebug-enabled': False,
        'x-ms-azurevm-kerneldebug-enabled': False,
        'x-ms-azurevm-hypervisordebug-enabled': False,
        'x-ms-azurevm-debuggersdisabled': True,
        'x-ms-azurevm-testsigning-enabled': False,
        'x-ms-azurevm-flightsigning-enabled': False,
        'x-ms-azurevm-signingdisabled': True,
        'x-ms-azurevm-elam-enabled': False,
        'x-ms-azurevm-hvci-policy': 0,
        'x-ms-azurevm-dbvalidated': sb,
        'x-ms-azurevm-dbxvalidated': sb,
        'x-ms-azurevm-default-securebootkeysvalidated': sb,
    }
    runtime = {'keys': [enc_key_jwk(facts['enc_key'])]}
    if facts['client_payload'] and 'drop-nonce' not in faults:
        runtime['client-payload'] = facts['client_payload']
    out['x-ms-runtime'] = runtime
    if iso['type'] == 'SevSnp':
        tee = {'x-ms-attestation-type': 'sevsnpvm',
               'x-ms-compliance-status': 'azure-compliant-cvm',
               'x-ms-runtime': iso['runtime_claims']}
        tee.update(_snp_claims(iso['report']))
        out['x-ms-isolation-tee'] = tee
    return out


def _times(now, lifetime, faults):
    iat = int(now)
    if 'expired' in faults:
        iat -= lifetime + int(faults['expired'] or 3600)
    if 'not-yet-valid' in faults:
        iat += int(faults['not-yet-valid'] or 3600)
    return {'iat': iat, 'nbf': iat, 'exp': iat + lifetime}


def mint(signer, issuer, body, now, lifetime, faults):
    """RS256 JWT signed by `signer` (pki.SelfSignedKey: kid = std-base64 SHA-256 of its
    certificate, 44 characters, as real azurevm tokens), header {alg, jku, kid, typ}.
    The token faults of pki.TOKEN_FAULTS that make sense here are honoured."""
    body = dict(body)
    body.update(_times(now, lifetime, faults))
    body.update({'iss': issuer, 'jti': secrets.token_hex(32)})
    if 'wrong-issuer' in faults:
        body['iss'] = faults['wrong-issuer'] or 'https://wrong-issuer.attest.azure.net'
    header = {'alg': 'RS256', 'jku': issuer + '/certs', 'kid': signer.kid, 'typ': 'JWT'}
    if 'wrong-jku' in faults:
        header['jku'] = faults['wrong-jku'] or 'https://wrong-issuer.attest.azure.net/certs'
    if 'unknown-kid' in faults:
        header['kid'] = b64std_encode(secrets.token_bytes(32))
    if 'alg-none' in faults:
        header['alg'] = 'none'
    signing_input = b64url_encode(compact_json(header)) + '.' + b64url_encode(
        json.dumps(body, separators=(',', ':'), sort_keys=True).encode('utf-8'))
    if 'alg-none' in faults:
        return signing_input + '.'
    sig = bytearray(signer.key.sign(signing_input.encode('ascii'), padding.PKCS1v15(),
                                    hashes.SHA256()))
    if 'bad-signature' in faults:
        sig[len(sig) // 2] ^= 0x01
    return signing_input + '.' + b64url_encode(bytes(sig))


def seal(jwt, enc_key, faults):
    """The envelope of §4 as the `token` string: base64url, unpadded."""
    key, iv = AESGCM.generate_key(256), secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(iv, jwt.encode('ascii'), AAD)
    ciphertext, tag = sealed[:-16], bytearray(sealed[-16:])
    if 'bad-tag' in faults:
        tag[0] ^= 0x01
    target = enc_key
    if 'wrong-inner-key' in faults:
        target = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    inner = target.encrypt(key, padding.PKCS1v15())
    envelope = {
        'Jwt': b64std_encode(ciphertext),
        'EncryptedInnerKey': b64std_encode(inner),
        'EncryptionParams': {'BlockMode': 'ChainingModeGCM', 'BlockPadding': 'PKCS7',
                             'Cipher': 'AES', 'KeySizeInBits': 256, 'Iv': b64std_encode(iv)},
        'AuthenticationData': b64std_encode(bytes(tag)),
    }
    return b64url_encode(compact_json(envelope))
