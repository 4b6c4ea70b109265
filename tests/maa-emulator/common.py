# Small helpers shared by the MAA emulator modules: base64 flavours, strict JSON,
# the CloudError exception that every verification failure turns into, atomic writes.
import base64
import binascii
import json
import os
import re

_B64URL_RE = re.compile(r'^[A-Za-z0-9_-]*={0,2}$')
_B64STD_RE = re.compile(r'^[A-Za-z0-9+/]*={0,2}$')


class ServiceError(Exception):
    """An error answered as CloudError JSON: {"error":{"code":..,"message":..}}."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid(message):
    """The 400 InvalidParameter every evidence check raises."""
    return ServiceError(400, 'InvalidParameter', message)


def b64url_encode(data):
    """JOSE style: URL-safe alphabet, no padding (what the service sends)."""
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64url_decode(text, what='value'):
    """Accept base64url with or without '=' padding; reject anything else."""
    if not isinstance(text, str):
        raise invalid('%s is not a string' % what)
    if not _B64URL_RE.match(text):
        raise invalid('%s is not base64url' % what)
    stripped = text.rstrip('=')
    if len(stripped) % 4 == 1:
        raise invalid('%s has an impossible base64url length %d' % (what, len(stripped)))
    padded = stripped + '=' * (-len(stripped) % 4)
    if text != stripped and text != padded:
        raise invalid('%s has wrong base64url padding' % what)
    try:
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError) as e:
        raise invalid('%s is not base64url: %s' % (what, e)) from None


def b64std_encode(data):
    return base64.b64encode(data).decode('ascii')


def b64std_decode(text, what='value'):
    if not isinstance(text, str) or not _B64STD_RE.match(text) or len(text) % 4:
        raise invalid('%s is not standard base64' % what)
    return base64.b64decode(text)


_B64ANY_RE = re.compile(r'^[A-Za-z0-9+/_-]*={0,2}$')


def b64any_decode(text, what='value'):
    """Lenient base64 as the Azure guest protocol needs: standard or URL alphabet, padding
    optional (clients differ). Mixed alphabets and bad lengths are still refused."""
    if not isinstance(text, str):
        raise invalid('%s is not a string' % what)
    if not _B64ANY_RE.match(text) or (('+' in text or '/' in text) and
                                      ('-' in text or '_' in text)):
        raise invalid('%s is not base64 (standard or URL alphabet)' % what)
    stripped = text.rstrip('=')
    if len(stripped) % 4 == 1 or (text != stripped and len(text) % 4):
        raise invalid('%s has an impossible base64 length %d' % (what, len(text)))
    padded = stripped + '=' * (-len(stripped) % 4)
    try:
        return base64.b64decode(padded.replace('-', '+').replace('_', '/'), validate=True)
    except (binascii.Error, ValueError) as e:
        raise invalid('%s is not base64: %s' % (what, e)) from None


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError('duplicate member "%s"' % k)
        obj[k] = v
    return obj


def _no_constant(name):
    raise ValueError('%s is not JSON' % name)


def strict_json(data, what):
    """Parse UTF-8 JSON; duplicate keys and NaN/Infinity are errors (a verifier must
    not silently pick one of two values)."""
    try:
        text = data.decode('utf-8') if isinstance(data, (bytes, bytearray)) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise invalid('%s is not UTF-8: %s' % (what, e)) from None
    except ValueError as e:
        raise invalid('%s is not valid JSON: %s' % (what, e)) from None


def require(obj, key, kind, where):
    """obj[key] with a type check; the message names the full member path."""
    if not isinstance(obj, dict):
        raise invalid('%s is not a JSON object' % where)
    if key not in obj:
        raise invalid('%s.%s is missing' % (where, key))
    value = obj[key]
    if kind is int and isinstance(value, bool):
        raise invalid('%s.%s must be %s' % (where, key, kind.__name__))
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else '/'.join(k.__name__ for k in kind)
        raise invalid('%s.%s must be %s' % (where, key, name))
    return value


def compact_json(obj):
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def write_atomic(path, data, mode=0o644):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.replace(tmp, path)


def raw_member_text(text, path):
    """Return the exact source text of the JSON value at `path` (a list of object keys)
    inside the JSON document `text`, without re-serializing anything. Used for the
    request_key binding, where the service must hash the jwk text as received."""
    decoder = json.JSONDecoder()
    ws = ' \t\n\r'

    def skip(i):
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    def find(start, keys, where):
        i = skip(start)
        if i >= len(text) or text[i] != '{':
            raise invalid('%s is not a JSON object' % where)
        i = skip(i + 1)
        found = None
        if i < len(text) and text[i] == '}':
            raise invalid('%s.%s is missing' % (where, keys[0]))
        while True:
            if i >= len(text) or text[i] != '"':
                raise invalid('%s: expected a member name at offset %d' % (where, i))
            key, i = json.decoder.scanstring(text, i + 1)
            i = skip(i)
            if i >= len(text) or text[i] != ':':
                raise invalid('%s: expected ":" at offset %d' % (where, i))
            vstart = skip(i + 1)
            try:
                _, vend = decoder.raw_decode(text, vstart)
            except ValueError as e:
                raise invalid('%s.%s: %s' % (where, key, e)) from None
            if key == keys[0]:
                if found is not None:
                    raise invalid('%s.%s appears twice' % (where, key))
                found = (vstart, vend)
            i = skip(vend)
            if i < len(text) and text[i] == ',':
                i = skip(i + 1)
                continue
            if i < len(text) and text[i] == '}':
                break
            raise invalid('%s: expected "," or "}" at offset %d' % (where, i))
        if found is None:
            raise invalid('%s.%s is missing' % (where, keys[0]))
        if len(keys) == 1:
            return found
        return find(found[0], keys[1:], '%s.%s' % (where, keys[0]))

    s, e = find(0, list(path), 'payload')
    return text[s:e]


def parse_duration(value, what):
    """'80ms', '0.2s' or a bare number of milliseconds -> seconds (float, >= 0)."""
    text = str(value).strip()
    scale = 0.001
    if text.endswith('ms'):
        text = text[:-2]
    elif text.endswith('s'):
        text, scale = text[:-1], 1.0
    try:
        seconds = float(text) * scale
    except ValueError:
        raise ValueError('%s: "%s" is not a duration (e.g. 80ms, 0.2s)' % (what, value)) from None
    if not 0 <= seconds <= 60:
        raise ValueError('%s: %s is outside 0..60 s' % (what, value))
    return seconds


def parse_latency(latency, jitter=0):
    """(seconds, jitter seconds) of the emulated round trip; the jitter may not exceed it."""
    base, spread = parse_duration(latency, 'latency'), parse_duration(jitter, 'jitter')
    if spread > base:
        raise ValueError('jitter (%g s) is larger than the latency (%g s)' % (spread, base))
    return base, spread
