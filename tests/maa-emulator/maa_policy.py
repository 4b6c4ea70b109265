# The MAA policy language for the emulator: the API the service uses. Grammar in
# maa_policy_parse.py, semantics in maa_policy_eval.py, TPM incoming claims in tpm_claims.py.
"""
API
---
parse(text) -> Policy
    `text` is str or UTF-8 bytes (at most 256 KiB). Raises PolicyParseError, whose str() is
    "policy:LINE:COLUMN: message" and which has .line, .column and .message. Versions 1.0,
    1.1 and 1.2; configurationrules need 1.1, functions and '!' need 1.2.

Policy.version              '1.0' | '1.1' | '1.2'
Policy.hash                 x-ms-policy-hash of the text (below)
Policy.configuration()      {property: value}: configurationrules run alone, before any
                            evidence is checked, with the defaults filled in:
                            require_valid_aik_cert=True, required_pcr_mask=0xFFFFFF. Other
                            properties (report_validity_in_minutes, omit_x5c, anything
                            else a policy sets) are passed through; known ones are
                            type- and range-checked.
Policy.evaluate(incoming) -> Result
    `incoming` is a list of Claim(type, value, issuer) (tpm_claims.incoming(facts) builds it).
    Raises PolicyEvaluationError (str "policy:LINE:COLUMN: message") when a rule fails at
    run time (bad JMESPath query, JsonToClaimValue on an object, a property of the wrong
    type): the service answers that as 400 PolicyEvaluationError.
    Result fields:
      permitted    bool: at least one permit() fired and no deny() did
      deny_reason  None, or the detail to append to MAA's "A Deny claim was issued,
                   authorization failed." (e.g. "deny() at policy:4:5", "no authorization
                   rule issued permit()")
      claims       the token claims the policy issued: {name: value} in issue order; a name
                   issued more than once becomes a JSON array of its values in issue order
                   (MAA renders repeated claim types as arrays). Values are bool/int/str;
                   JSON claims (events, pcrs, JmesPath results) stay JSON *strings*, as the
                   real service puts them in tokens. Empty when not permitted. The service
                   merges these over its always-present claims.
      properties   as configuration(), plus issueproperty() from issuancerules
      outgoing     the issued Claim list;  incoming  the final incoming set (for debugging)

Semantics chosen where the documentation is silent
  * A condition binds its identifier to *all* matching claims; c.value is that set of
    values. Functions taking single values run once per combination of argument values;
    add()/issue() with several values create one claim each; an empty value is a no-op.
  * Comparisons are type-strict (true is not 1, "1" is not 1); <, <=, >, >= need integers.
  * Authorization stops at the first deny(). Without any permit() the attestation is
    refused with the same MAA message (troubleshoot-guide.md shows it for unmet rules).
  * issue() in authorizationrules (Microsoft's key attestation sample uses it) only adds to
    the incoming set: the documents say no claim is issued from that section.
  * issue(claim=c)/add(claim=c) copy c's claims with their issuer unchanged; claims made by
    type=/value= have issuer "AttestationPolicy". Incoming claims have "AttestationService".
  * configurationrules see no incoming claims (their properties steer evidence checks that
    run before any claim exists).

x-ms-policy-hash
    claim-sets.md: BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text))))). The text is hashed
    exactly as given (no normalisation of whitespace or line ends); bytes are hashed as is.
"""
import hashlib

from common import b64url_encode
from maa_policy_eval import (DEFAULT_PROPERTIES, POLICY, SERVICE, Claim,  # noqa: F401 - API
                             PolicyEvaluationError, Result, configuration, evaluate)
from maa_policy_parse import MAX_TEXT, VERSIONS, PolicyParseError  # noqa: F401 - API
from maa_policy_parse import parse as _parse


def policy_hash(text):
    raw = text if isinstance(text, (bytes, bytearray)) else text.encode('utf-8')
    inner = b64url_encode(bytes(raw)).encode('ascii')
    return b64url_encode(hashlib.sha256(inner).digest())


class Policy:
    """A parsed policy; see the module documentation."""

    def __init__(self, text, ast):
        self.text = text
        self.version = ast.version
        self.hash = policy_hash(text)
        self._ast = ast

    def configuration(self):
        return configuration(self._ast)

    def evaluate(self, incoming):
        return evaluate(self._ast, incoming)


def parse(text):
    return Policy(text, _parse(text))


def load(path):
    """Read and parse a policy file; errors carry the file name instead of 'policy'."""
    with open(path, 'rb') as f:
        data = f.read(MAX_TEXT + 1)
    try:
        return parse(data)
    except PolicyParseError as e:
        raise PolicyParseError(e.message, e.line, e.column, path) from None
