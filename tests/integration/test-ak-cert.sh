# The AK certificate: without one, a provider that requires a valid AK certificate (MAA's default
# require_valid_aik_cert=true) refuses the evidence and attestd has warned why; with AKCertFile=
# the certificate goes out as aik_cert, the provider validates it, and no warning is given.
setup_attestation --record "$TEST_TMPDIR/rec"

# 1. No certificate (the test config has AKCertNVIndex=0): the warning, then the refusal.
if out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once1.err"); then :; fi
assert_eq "$(grep -c 'No AK certificate is known' "$TEST_TMPDIR/once1.err")" 1 "warning without a certificate"
tpm2_readpublic -c 0x81000003 -f pem -o "$TEST_TMPDIR/ak.pem" >/dev/null || fail "cannot read the AK"

# A test CA issues a certificate for the AK; the emulator trusts that CA and requires it.
python3 - "$TEST_TMPDIR" <<'PY' || fail "cannot make the AK certificate"
import datetime, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
d = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
ak = serialization.load_pem_public_key(open(d + '/ak.pem', 'rb').read())
ca_key = ec.generate_private_key(ec.SECP256R1())
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(subject, key, ca):
    return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name('attestd test AIK CA'))
            .public_key(key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
ca = cert('attestd test AIK CA', ca_key.public_key(), True)
pem = serialization.Encoding.PEM
open(d + '/ak-cert.pem', 'wb').write(cert('attestd test AK', ak, False).public_bytes(pem))
json.dump({'require_valid_aik_cert': True, 'aik_trust_anchors': [ca.public_bytes(pem).decode()],
           'required_pcr_mask': 0xFF, 'issue': ['aikValidated']},
          open(d + '/policy.json', 'w'))
PY
maa_ctl policy "$TEST_TMPDIR/policy.json" >/dev/null || fail "cannot set the policy"
rm -rf "$RUNDIR"
if out=$("$ATTESTD" --once --config "$CONF" 2>/dev/null); then fail "attested without the required AK certificate"; fi
assert_contains "$out" "denied: attestation request: the service refused the evidence (HTTP 400" "no certificate"
assert_contains "$out" "require_valid_aik_cert" "the service's reason"
echo "ok: without an AK certificate: warned once, refused by require_valid_aik_cert"

# 2. AKCertFile=: sent as aik_cert, validated, no warning.
write_config "[TPM]" "AKCertFile=$TEST_TMPDIR/ak-cert.pem"
out=$("$ATTESTD" --once --config "$CONF" 2>"$TEST_TMPDIR/once2.err") || fail "AKCertFile= was refused: $out"
assert_eq "$(grep -c 'No AK certificate is known' "$TEST_TMPDIR/once2.err")" 0 "warning with a certificate"
leg2=$(grep -l '"jws_payload"' "$TEST_TMPDIR"/rec/*.json | tail -n 1)
sent=$(json_get "$leg2" "d['decoded']['jws_payload']['att_data']['tpm_att_data']['current_attestation']['aik_cert']")
want=$(openssl x509 -in "$TEST_TMPDIR/ak-cert.pem" -outform DER | basenc --base64url | tr -d '=\n')
assert_eq "$sent" "$want" "aik_cert sent"
assert_eq "$(json_get "$RUNDIR/token.json" "d['claims']['aikValidated']")" True "aikValidated"
echo "ok: AKCertFile= is sent as aik_cert and validated; no warning"
