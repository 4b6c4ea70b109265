# Fault injection table of the MAA emulator: which faults are active, for how many
# requests (count) and on which routes (scope). Thread-safe; see README.md for the list.
import re
import threading

from azure_guest_token import SEAL_FAULTS
from pki import TOKEN_FAULTS

TRANSPORT = ('refuse', 'stall', 'garbage', 'oversized', 'error-page')   # plus http-NNN
POLICY = ('deny', 'no-policy')
ACTIONS = ('rotate-key',)
SCOPES = ('attest', 'leg1', 'leg2', 'azureguest', 'certs', 'openid', 'all')
GARBAGE_KINDS = ('html', 'data', 'inner', 'empty', 'truncated')
_HTTP_RE = re.compile(r'^http-([45][0-9][0-9])$')


class FaultError(ValueError):
    pass


def kind_of(name):
    if _HTTP_RE.match(name) or name in TRANSPORT:
        return 'transport'
    if name in TOKEN_FAULTS:
        return 'token'
    if name in SEAL_FAULTS:
        return 'seal'
    if name in POLICY:
        return 'policy'
    if name in ACTIONS:
        return 'action'
    raise FaultError('unknown fault "%s" (known: http-NNN, %s)'
                     % (name, ', '.join(TRANSPORT + TOKEN_FAULTS + SEAL_FAULTS + POLICY + ACTIONS)))


def _size(text):
    m = re.match(r'^([0-9]+)([KkMm]?)$', text)
    if not m:
        raise FaultError('oversized: "%s" is not a size (N, NK or NM)' % text)
    return int(m.group(1)) * {'': 1, 'k': 1024, 'm': 1024 * 1024}[m.group(2).lower()]


def normalize_arg(name, arg):
    """Check the argument of a fault and turn it into the type the server uses."""
    if arg is None or arg == '':
        return None
    arg = str(arg)
    if name in ('http-429', 'stall', 'refuse', 'expired', 'not-yet-valid') or _HTTP_RE.match(name):
        try:
            value = float(arg)
        except ValueError:
            raise FaultError('%s: argument "%s" is not a number of seconds' % (name, arg)) from None
        if value < 0:
            raise FaultError('%s: argument must not be negative' % name)
        return value
    if name == 'oversized':
        return _size(arg)
    if name == 'garbage' and arg not in GARBAGE_KINDS:
        raise FaultError('garbage: argument must be one of %s' % ', '.join(GARBAGE_KINDS))
    return arg


class Fault:
    def __init__(self, name, arg=None, count=None, scope=None):
        self.kind = kind_of(name)
        self.name = name
        self.arg = normalize_arg(name, arg)
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise FaultError('%s: count must be a positive integer' % name)
        self.count = count
        if scope is None:
            scope = {'token': 'leg2', 'seal': 'azureguest',
                     'policy': 'leg2' if name == 'deny' else 'attest'}.get(self.kind, 'attest')
        if scope not in SCOPES:
            raise FaultError('%s: scope must be one of %s' % (name, ', '.join(SCOPES)))
        self.scope = scope
        self.applied = 0
        self.cleared = threading.Event()

    def covers(self, route):
        if self.scope == 'all':
            return True
        if self.scope == 'attest':
            return route in ('leg1', 'leg2', 'attest', 'azureguest')
        return self.scope == route

    def describe(self):
        return {'fault': self.name, 'arg': self.arg, 'count': self.count, 'scope': self.scope,
                'applied': self.applied}


def parse_spec(spec):
    """Command-line form: NAME[=ARG][,count=N][,scope=S]."""
    head, *opts = spec.split(',')
    name, _, arg = head.partition('=')
    count, scope = None, None
    for opt in opts:
        key, _, value = opt.partition('=')
        if key == 'count':
            try:
                count = int(value)
            except ValueError:
                raise FaultError('%s: count "%s" is not an integer' % (name, value)) from None
        elif key == 'scope':
            scope = value
        else:
            raise FaultError('%s: unknown option "%s" (count=, scope=)' % (name, key))
    return Fault(name, arg or None, count, scope)


class FaultTable:
    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []
        self.applied_total = 0

    def add(self, fault):
        with self.lock:
            # One entry per name: setting a fault again replaces it.
            for old in self.faults:
                if old.name == fault.name:
                    old.cleared.set()
            self.faults = [f for f in self.faults if f.name != fault.name] + [fault]

    def clear(self, name=None):
        with self.lock:
            removed = [f for f in self.faults if name is None or f.name == name]
            self.faults = [f for f in self.faults if f not in removed]
        for f in removed:
            f.cleared.set()
        return [f.name for f in removed]

    def active(self, name):
        with self.lock:
            return next((f for f in self.faults if f.name == name), None)

    def _consume(self, f):
        f.applied += 1
        self.applied_total += 1
        if f.count is not None:
            f.count -= 1
            if f.count == 0:
                self.faults.remove(f)

    def take_transport(self, route):
        """The first transport fault (other than refuse) covering `route`, consumed."""
        with self.lock:
            for f in self.faults:
                if f.kind == 'transport' and f.name != 'refuse' and f.covers(route):
                    self._consume(f)
                    return f
        return None

    def take(self, names, route):
        """All active faults among `names` covering `route`, consumed: {name: arg}."""
        out = {}
        with self.lock:
            for f in list(self.faults):
                if f.name in names and f.covers(route):
                    out[f.name] = f.arg
                    self._consume(f)
        return out

    def describe(self):
        with self.lock:
            return [f.describe() for f in self.faults]
