# Evaluation of a parsed MAA policy (maa_policy_parse.Ast) over a list of incoming claims:
# configuration rules -> properties, authorization rules -> permit/deny, issuance rules ->
# outgoing claims. JMESPath is Debian's python3-jmespath; nothing here parses text.
import collections
import json

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath import functions as jmespath_functions

SERVICE = 'AttestationService'
POLICY = 'AttestationPolicy'
DEFAULT_PROPERTIES = {'require_valid_aik_cert': True, 'required_pcr_mask': 0xFFFFFF}
# Known properties: type check (and range) applied when a policy sets one.
_PROPERTY_CHECKS = {
    'require_valid_aik_cert': (bool, None),
    'required_pcr_mask': (int, (0, 0xFFFFFF)),
    'report_validity_in_minutes': (int, (1, 525600)),   # claim-sets.md: at most one year
    'omit_x5c': (bool, None),
}
MAX_CLAIMS = 100000            # incoming claims, including those the policy adds
MAX_VALUES = 10000             # values one expression may produce
MAX_STRING = 8 * 1024 * 1024   # characters of one computed string


class Claim(collections.namedtuple('Claim', 'type value issuer')):
    """One claim. value is a bool, an int or a str (JSON claims such as `events` are str)."""

    @property
    def valueType(self):   # noqa: N802 - the policy language's property name
        return value_type(self.value)


def value_type(v):
    return 'Boolean' if isinstance(v, bool) else 'Integer' if isinstance(v, int) else 'String'


class PolicyEvaluationError(ValueError):
    """The policy failed while running (MAA answers 400 PolicyEvaluationError)."""

    def __init__(self, message, line, column):
        super().__init__('policy:%d:%d: %s' % (line, column, message))
        self.message = message
        self.line = line
        self.column = column


Result = collections.namedtuple('Result', 'permitted deny_reason claims properties outgoing '
                                          'incoming')


class _JmesFunctions(jmespath_functions.Functions):
    # MAA's JMESPath has this extension; Microsoft's sample policies call it.
    @jmespath_functions.signature({'types': ['string', 'null']}, {'types': ['string', 'null']})
    def _func_equals_ignore_case(self, a, b):
        return a is not None and b is not None and a.casefold() == b.casefold()


_JMES_OPTIONS = jmespath.Options(custom_functions=_JmesFunctions())


def _same(a, b):
    """Equality of claim values: true == 1 is false here, as types differ."""
    return type(a) is type(b) and a == b


def _compare(op, left, right):
    if op == '==':
        return _same(left, right)
    if op == '!=':
        return not _same(left, right)
    if type(left) is not int or type(right) is not int:
        return False
    return {'<': left < right, '<=': left <= right, '>': left > right, '>=': left >= right}[op]


def _json_text(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


class _Run:
    def __init__(self, incoming):
        self.incoming = list(incoming)
        self.outgoing = []
        self.properties = dict(DEFAULT_PROPERTIES)
        self.permits, self.denies = [], []
        self.json_cache = {}
        self.query_cache = {}

    def fail(self, node, message):
        return PolicyEvaluationError(message, node.line, node.col)

    # ---- values: every expression yields a list (a set of values, usually of one)
    def expr(self, node, binds):
        if node.kind == 'lit':
            return [node.value]
        if node.kind == 'ref':
            name, prop = node.value
            return [getattr(c, prop) for c in binds[name]]
        args = [self.expr(a, binds) for a in node.args]
        return self.call(node, args)

    def call(self, node, args):
        name = node.value
        if name == 'IsSubsetOf':
            return [all(any(_same(a, b) for b in args[1]) for a in args[0])]
        if name == 'ContainsOnlyValue':
            if len(args[1]) != 1:
                raise self.fail(node, 'ContainsOnlyValue(): the second argument must be one '
                                'value, it has %d' % len(args[1]))
            return [bool(args[0]) and all(_same(a, args[1][0]) for a in args[0])]
        combos = [[]]
        for values in args:    # scalar functions run once per combination of values
            combos = [c + [v] for c in combos for v in values]
            if len(combos) > MAX_VALUES:
                raise self.fail(node, '%s(): more than %d argument combinations'
                                % (name, MAX_VALUES))
        out = []
        for combo in combos:
            out.extend(getattr(self, '_fn_' + name)(node, *combo))
        if len(out) > MAX_VALUES:
            raise self.fail(node, '%s(): more than %d values' % (name, MAX_VALUES))
        return out

    def _string_arg(self, node, value, what):
        if not isinstance(value, str):
            raise self.fail(node, '%s(): %s must be a string, got %s %r'
                            % (node.value, what, value_type(value), value))
        return value

    def _json_arg(self, node, text, what):
        self._string_arg(node, text, what)
        if text not in self.json_cache:
            try:
                self.json_cache[text] = json.loads(text)
            except ValueError as e:
                raise self.fail(node, '%s(): %s is not JSON: %s' % (node.value, what, e)) from None
        return self.json_cache[text]

    def _fn_JmesPath(self, node, doc, query):   # noqa: N802 - policy function names
        if doc == '':
            raise self.fail(node, 'JmesPath(): the JSON argument is empty')
        data = self._json_arg(node, doc, 'the first argument')
        self._string_arg(node, query, 'the query')
        try:
            if query not in self.query_cache:
                self.query_cache[query] = jmespath.compile(query)
            result = self.query_cache[query].search(data, _JMES_OPTIONS)
        except jmespath_errors.JMESPathError as e:
            raise self.fail(node, 'JmesPath(): query %r: %s' % (query, str(e).splitlines()[0])) \
                from None
        return [_json_text(result)]

    def _fn_JsonToClaimValue(self, node, text):   # noqa: N802
        value = self._json_arg(node, text, 'the argument')
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if item is None:
                continue   # null: an empty value; adding or issuing it is a no-op
            if isinstance(item, float):
                if not item.is_integer():
                    raise self.fail(node, 'JsonToClaimValue(): %r is not an integer' % item)
                item = int(item)
            if isinstance(item, (dict, list)):
                raise self.fail(node, 'JsonToClaimValue(): JSON %s values are not supported'
                                % ('object' if isinstance(item, dict) else 'nested array'))
            out.append(item)
        return out

    def _fn_AppendString(self, node, a, b):   # noqa: N802
        self._string_arg(node, a, 'the first argument')
        self._string_arg(node, b, 'the second argument')
        if len(a) + len(b) > MAX_STRING:
            raise self.fail(node, 'AppendString(): result longer than %d characters' % MAX_STRING)
        return [a + b]

    def _fn_NegateBool(self, node, b):   # noqa: N802
        if not isinstance(b, bool):
            raise self.fail(node, 'NegateBool(): argument must be a Boolean, got %s'
                            % value_type(b))
        return [not b]

    # ---- rules
    def matches(self, cond, binds):
        tests = [(prop, op, self.expr(e, binds)) for prop, op, e in cond.props]
        out = []
        for claim in self.incoming:
            for prop, op, rhs in tests:
                left = getattr(claim, prop)
                if not rhs:
                    break
                if op == '!=':
                    if not all(_compare(op, left, r) for r in rhs):
                        break
                elif not any(_compare(op, left, r) for r in rhs):
                    break
            else:
                out.append(claim)
        return out

    def rule(self, rule, section):
        binds = {}
        for cond in rule.conditions:
            found = self.matches(cond, binds)
            if cond.negated == bool(found):
                return
            if cond.name:
                binds[cond.name] = found
        self.action(rule.action, binds, section)

    def action(self, act, binds, section):
        if act.verb == 'permit':
            self.permits.append(act)
            return
        if act.verb == 'deny':
            self.denies.append(act)
            return
        if act.claim:
            new = list(binds[act.claim])
        else:
            types = self.expr(act.type, binds)
            if len(types) != 1 or not isinstance(types[0], str) or not types[0]:
                raise self.fail(act, '%s(): type must be one non-empty string, got %r'
                                % (act.verb, types))
            new = [Claim(types[0], v, POLICY) for v in self.expr(act.value, binds)]
        if len(self.incoming) + len(new) > MAX_CLAIMS:
            raise self.fail(act, 'more than %d claims' % MAX_CLAIMS)
        self.incoming.extend(new)
        if act.verb == 'issue' and section == 'issuancerules':
            self.outgoing.extend(new)
        elif act.verb == 'issueproperty':
            for claim in new:
                self.set_property(act, claim.type, claim.value)

    def set_property(self, act, name, value):
        kind, bounds = _PROPERTY_CHECKS.get(name, (None, None))
        if kind is not None and type(value) is not kind:
            raise self.fail(act, 'property %s must be %s, got %s'
                            % (name, {bool: 'Boolean', int: 'Integer'}[kind], value_type(value)))
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise self.fail(act, 'property %s: %d is outside %d..0x%X'
                            % (name, value, bounds[0], bounds[1]))
        self.properties[name] = value


def token_claims(outgoing):
    """Outgoing claims -> token claims: name -> value, in issue order; a name issued more
    than once becomes an array of its values, in issue order."""
    out = {}
    for claim in outgoing:
        if claim.type not in out:
            out[claim.type] = claim.value
        elif isinstance(out[claim.type], _Many):
            out[claim.type].append(claim.value)
        else:
            out[claim.type] = _Many([out[claim.type], claim.value])
    return {k: list(v) if isinstance(v, _Many) else v for k, v in out.items()}


class _Many(list):
    """Marks an array made from repeated claims (a claim value is never a list)."""


def configuration(ast):
    """Run configurationrules alone (no incoming claims): {property: value}, defaults filled."""
    run = _Run([])
    for rule in ast.sections.get('configurationrules', []):
        run.rule(rule, 'configurationrules')
    return run.properties


def evaluate(ast, incoming):
    """Run the whole policy over `incoming` (Claim list). Returns Result."""
    for c in incoming:
        if not isinstance(c, Claim):
            raise TypeError('incoming claims must be Claim tuples, got %r' % (c,))
    run = _Run([])
    for rule in ast.sections.get('configurationrules', []):
        run.rule(rule, 'configurationrules')
    run.incoming.extend(incoming)
    for rule in ast.sections.get('authorizationrules', []):
        run.rule(rule, 'authorizationrules')
        if run.denies:
            break
    if run.denies:
        d = run.denies[0]
        reason = 'deny() at policy:%d:%d' % (d.line, d.col)
    elif not run.permits:
        reason = 'no authorization rule issued permit()'
    else:
        reason = None
        for rule in ast.sections.get('issuancerules', []):
            run.rule(rule, 'issuancerules')
    return Result(reason is None, reason, token_claims(run.outgoing) if reason is None else {},
                  run.properties, run.outgoing, run.incoming)
