# Parser for the text grammar of MAA attestation policies, versions 1.0, 1.1 and 1.2
# (Microsoft's claim-rule-grammar, claim-rule-functions and policy-version-1-x articles).
# It only builds the syntax tree; maa_policy_eval.py runs it. Input is untrusted: every
# error names line and column, and size, rule count and nesting are bounded.
import collections

VERSIONS = ('1.0', '1.1', '1.2')
SECTIONS = ('configurationrules', 'authorizationrules', 'issuancerules')
# Function name -> number of arguments (all need version 1.2).
FUNCTIONS = {'JmesPath': 2, 'JsonToClaimValue': 1, 'IsSubsetOf': 2, 'AppendString': 2,
             'NegateBool': 1, 'ContainsOnlyValue': 2}
PROPERTIES = ('type', 'value', 'issuer', 'valueType')
OPERATORS = ('==', '!=', '<=', '>=', '<', '>')
VERBS = ('permit', 'deny', 'issue', 'add', 'issueproperty')
# Which actions each section takes. issue() in authorizationrules is used by Microsoft's
# key attestation sample; there it only adds to the incoming set (see maa_policy.py).
ALLOWED = {'configurationrules': ('issueproperty',),
           'authorizationrules': ('permit', 'deny', 'add', 'issue'),
           'issuancerules': ('add', 'issue', 'issueproperty')}

MAX_TEXT = 256 * 1024          # bytes of policy text
MAX_RULES = 2000               # rules in all sections
MAX_CONDITIONS = 64            # conditions in one rule
MAX_DEPTH = 16                 # nested function calls
MAX_STRING = 64 * 1024         # characters in one string literal

_PUNCT = ('=>', '==', '!=', '<=', '>=', '&&', '<', '>', '=', '!', ':', ';', ',', '[', ']',
          '{', '}', '(', ')', '.', '-')
_ESCAPES = {'"': '"', '\\': '\\', 'n': '\n', 't': '\t', 'r': '\r', '/': '/'}

Token = collections.namedtuple('Token', 'kind value line col')
Expr = collections.namedtuple('Expr', 'kind value args line col')   # lit | ref | call
Condition = collections.namedtuple('Condition', 'negated name props line col')
Action = collections.namedtuple('Action', 'verb claim type value line col')
Rule = collections.namedtuple('Rule', 'conditions action line col')
Ast = collections.namedtuple('Ast', 'version sections')   # sections: {name: [Rule]}


class PolicyParseError(ValueError):
    """A policy that does not parse. str() is "policy:LINE:COLUMN: message" (or the file
    name instead of "policy" when `source` is given)."""

    def __init__(self, message, line, column, source='policy'):
        super().__init__('%s:%d:%d: %s' % (source, line, column, message))
        self.message = message
        self.line = line
        self.column = column


def _describe(tok):
    if tok.kind == 'eof':
        return 'end of policy'
    if tok.kind == 'string':
        return 'a string'
    return "'%s'" % tok.value


class _Lexer:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.line = 1
        self.col = 1

    def _advance(self, n):
        for ch in self.text[self.pos:self.pos + n]:
            if ch == '\n':
                self.line += 1
                self.col = 1
            else:
                self.col += 1
        self.pos += n

    def _skip(self):
        t = self.text
        while self.pos < len(t):
            if t[self.pos] in ' \t\r\n\f\v\ufeff':
                self._advance(1)
            elif t.startswith('//', self.pos):
                end = t.find('\n', self.pos)
                self._advance((len(t) if end < 0 else end) - self.pos)
            else:
                return

    def _string(self, line, col):
        t = self.text
        i = self.pos + 1
        out = []
        while True:
            if i >= len(t) or t[i] == '\n':
                raise PolicyParseError('unterminated string', line, col)
            ch = t[i]
            if ch == '"':
                break
            if ch == '\\':
                esc = t[i + 1] if i + 1 < len(t) else ''
                if esc not in _ESCAPES:
                    self._advance(i - self.pos)
                    raise PolicyParseError('unknown escape \\%s in a string' % esc,
                                           self.line, self.col)
                out.append(_ESCAPES[esc])
                i += 2
            else:
                out.append(ch)
                i += 1
            if len(out) > MAX_STRING:
                raise PolicyParseError('string longer than %d characters' % MAX_STRING, line, col)
        self._advance(i + 1 - self.pos)
        return Token('string', ''.join(out), line, col)

    def _number(self, line, col):
        t = self.text
        i = self.pos
        if t.startswith(('0x', '0X'), i):
            i += 2
            while i < len(t) and t[i] in '0123456789abcdefABCDEF':
                i += 1
            digits = t[self.pos:i]
            if len(digits) == 2:
                raise PolicyParseError('hexadecimal number without digits', line, col)
            self._advance(i - self.pos)
            return Token('int', int(digits, 16), line, col)
        while i < len(t) and t[i].isdigit() and t[i].isascii():
            i += 1
        kind = 'int'
        if i + 1 < len(t) and t[i] == '.' and t[i + 1].isdigit():
            i += 1
            while i < len(t) and t[i].isdigit() and t[i].isascii():
                i += 1
            kind = 'decimal'
        text = t[self.pos:i]
        if len(text) > 20:
            raise PolicyParseError('number too long', line, col)
        self._advance(i - self.pos)
        return Token(kind, int(text) if kind == 'int' else text, line, col)

    def next(self):
        self._skip()
        line, col, t = self.line, self.col, self.text
        if self.pos >= len(t):
            return Token('eof', None, line, col)
        ch = t[self.pos]
        if ch == '"':
            return self._string(line, col)
        if ch.isascii() and ch.isdigit():
            return self._number(line, col)
        if ch.isascii() and (ch.isalpha() or ch == '_'):
            i = self.pos
            while i < len(t) and t[i].isascii() and (t[i].isalnum() or t[i] == '_'):
                i += 1
            word = t[self.pos:i]
            self._advance(i - self.pos)
            return Token('ident', word, line, col)
        for p in _PUNCT:
            if t.startswith(p, self.pos):
                self._advance(len(p))
                return Token('op', p, line, col)
        raise PolicyParseError('unexpected character %r' % ch, line, col)


class _Parser:
    def __init__(self, text):
        self.lex = _Lexer(text)
        self.tok = self.lex.next()
        self.version = None
        self.rules = 0

    def error(self, message, tok=None):
        tok = tok or self.tok
        return PolicyParseError(message, tok.line, tok.col)

    def take(self):
        tok = self.tok
        self.tok = self.lex.next()
        return tok

    def is_op(self, value):
        return self.tok.kind == 'op' and self.tok.value == value

    def expect_op(self, value, what):
        if not self.is_op(value):
            raise self.error("expected '%s' %s, found %s" % (value, what, _describe(self.tok)))
        return self.take()

    def expect_ident(self, what):
        if self.tok.kind != 'ident':
            raise self.error('expected %s, found %s' % (what, _describe(self.tok)))
        return self.take()

    def need_version(self, version, what, tok):
        if self.version < version:
            raise self.error('%s needs policy version %s or later (this policy is version %s)'
                             % (what, version, self.version), tok)

    # version=1.2;
    def parse_version(self):
        tok = self.tok
        if tok.kind != 'ident' or tok.value != 'version':
            raise self.error("a policy starts with 'version=1.x;', found %s" % _describe(tok))
        self.take()
        self.expect_op('=', "after 'version'")
        num = self.take()
        if num.kind not in ('decimal', 'int'):
            raise self.error('expected a version number such as 1.2, found %s'
                             % _describe(num), num)
        if str(num.value) not in VERSIONS:
            raise self.error('unknown policy version %s (known: %s)'
                             % (num.value, ', '.join(VERSIONS)), num)
        self.version = num.value
        self.expect_op(';', 'after the version')

    def parse(self):
        self.parse_version()
        sections = {}
        last = -1
        while self.tok.kind != 'eof':
            tok = self.expect_ident('a section name (%s)' % ', '.join(SECTIONS))
            if tok.value not in SECTIONS:
                raise self.error("unknown section '%s' (known: %s)"
                                 % (tok.value, ', '.join(SECTIONS)), tok)
            if tok.value in sections:
                raise self.error("section '%s' appears twice" % tok.value, tok)
            index = SECTIONS.index(tok.value)
            if index < last:
                raise self.error("section '%s' must come before '%s'"
                                 % (tok.value, SECTIONS[last]), tok)
            if tok.value == 'configurationrules':
                self.need_version('1.1', 'configurationrules', tok)
            last = index
            self.expect_op('{', "after '%s'" % tok.value)
            rules = []
            while not self.is_op('}'):
                if self.tok.kind == 'eof':
                    raise self.error("expected '}' to close '%s'" % tok.value)
                rules.append(self.parse_rule(tok.value))
            self.take()
            self.expect_op(';', "after the '%s' section" % tok.value)
            sections[tok.value] = rules
        if 'authorizationrules' not in sections:
            raise self.error('the policy has no authorizationrules section, so it can never '
                             'permit an attestation')
        return Ast(self.version, sections)

    def parse_rule(self, section):
        start = self.tok
        self.rules += 1
        if self.rules > MAX_RULES:
            raise self.error('more than %d rules' % MAX_RULES)
        conditions, bound = [], set()
        if not self.is_op('=>'):
            while True:
                if len(conditions) == MAX_CONDITIONS:
                    raise self.error('more than %d conditions in one rule' % MAX_CONDITIONS)
                cond = self.parse_condition(bound)
                if cond.name:
                    if cond.name in bound:
                        raise self.error("'%s' is bound twice in this rule" % cond.name, cond)
                    bound.add(cond.name)
                conditions.append(cond)
                if not self.is_op('&&'):
                    break
                self.take()
        self.expect_op('=>', 'between the conditions and the action')
        action = self.parse_action(section, bound)
        self.expect_op(';', 'after rule')
        return Rule(conditions, action, start.line, start.col)

    def parse_condition(self, bound):
        start = self.tok
        negated = False
        if self.is_op('!'):
            self.need_version('1.2', "the '!' (claim absent) operator", start)
            negated = True
            self.take()
        name = None
        if self.tok.kind == 'ident':
            name = self.take().value
            if negated:
                raise self.error('a negated condition matches no claim, so it cannot bind '
                                 "'%s'" % name, start)
            self.expect_op(':', "after the identifier '%s'" % name)
        self.expect_op('[', 'to open a condition')
        props = []
        while not self.is_op(']'):
            if props:
                self.expect_op(',', 'between claim property conditions')
            prop = self.expect_ident('a claim property (%s)' % ', '.join(PROPERTIES))
            if prop.value not in PROPERTIES:
                raise self.error("unknown claim property '%s' (known: %s)"
                                 % (prop.value, ', '.join(PROPERTIES)), prop)
            op = self.tok
            if op.kind != 'op' or op.value not in OPERATORS:
                raise self.error("expected a comparison (%s) after '%s', found %s"
                                 % (' '.join(OPERATORS), prop.value, _describe(op)))
            self.take()
            props.append((prop.value, op.value, self.parse_expr(bound, 0)))
        self.take()
        return Condition(negated, name, props, start.line, start.col)

    def parse_action(self, section, bound):
        tok = self.expect_ident('an action (%s)' % ', '.join(VERBS))
        if tok.value not in VERBS:
            raise self.error("unknown action '%s' (known: %s)" % (tok.value, ', '.join(VERBS)),
                             tok)
        if tok.value not in ALLOWED[section]:
            raise self.error("%s() is not allowed in %s (allowed: %s)"
                             % (tok.value, section, ', '.join(ALLOWED[section])), tok)
        self.expect_op('(', 'after %s' % tok.value)
        if tok.value in ('permit', 'deny'):
            self.expect_op(')', '%s() takes no arguments' % tok.value)
            return Action(tok.value, None, None, None, tok.line, tok.col)
        claim, args, first = None, {}, True
        if self.tok.kind == 'string':     # issue("name", value=...) as in policy-version-1-2
            args['type'] = self.parse_expr(bound, 0)
            first = False
        while not self.is_op(')'):
            if not first:
                self.expect_op(',', 'between arguments')
            first = False
            key = self.expect_ident('an argument name (type, value or claim)')
            if key.value not in ('type', 'value', 'claim'):
                raise self.error("unknown argument '%s' of %s() (known: type, value, claim)"
                                 % (key.value, tok.value), key)
            if key.value in args or (claim and key.value == 'claim'):
                raise self.error("argument '%s' given twice" % key.value, key)
            self.expect_op('=', "after '%s'" % key.value)
            if key.value == 'claim':
                ref = self.expect_ident('the identifier of a condition')
                if ref.value not in bound:
                    raise self.error("'%s' is not bound by a condition of this rule" % ref.value,
                                     ref)
                claim = ref.value
            else:
                args[key.value] = self.parse_expr(bound, 0)
        end = self.take()
        if claim and args:
            raise self.error('%s(claim=...) takes no other argument' % tok.value, tok)
        if tok.value == 'issueproperty' and claim:
            raise self.error('issueproperty() needs type= and value=', tok)
        if not claim and (set(args) != {'type', 'value'}):
            raise self.error('%s() needs type= and value=, or claim=' % tok.value, end)
        return Action(tok.value, claim, args.get('type'), args.get('value'), tok.line, tok.col)

    def parse_expr(self, bound, depth):
        tok = self.tok
        if depth > MAX_DEPTH:
            raise self.error('function calls nested deeper than %d' % MAX_DEPTH)
        if tok.kind == 'string' or tok.kind == 'int':
            self.take()
            return Expr('lit', tok.value, None, tok.line, tok.col)
        if self.is_op('-'):
            self.take()
            num = self.take()
            if num.kind != 'int':
                raise self.error("expected a number after '-'", num)
            return Expr('lit', -num.value, None, tok.line, tok.col)
        if tok.kind == 'decimal':
            raise self.error('claim values are integers; %s is not' % tok.value)
        if tok.kind != 'ident':
            raise self.error('expected a value (string, integer, true, false, a claim '
                             'property or a function call), found %s' % _describe(tok))
        self.take()
        if tok.value in ('true', 'false'):
            return Expr('lit', tok.value == 'true', None, tok.line, tok.col)
        if self.is_op('.'):
            self.take()
            prop = self.expect_ident('a claim property after %s.' % tok.value)
            if prop.value not in ('type', 'value', 'issuer', 'valueType'):
                raise self.error("unknown claim property '%s'" % prop.value, prop)
            if tok.value not in bound:
                raise self.error("'%s' is not bound by an earlier condition of this rule"
                                 % tok.value, tok)
            return Expr('ref', (tok.value, prop.value), None, tok.line, tok.col)
        if self.is_op('('):
            if tok.value not in FUNCTIONS:
                raise self.error("unknown function '%s' (known: %s)"
                                 % (tok.value, ', '.join(FUNCTIONS)), tok)
            self.need_version('1.2', 'function %s()' % tok.value, tok)
            self.take()
            args = []
            while not self.is_op(')'):
                if args:
                    self.expect_op(',', 'between function arguments')
                args.append(self.parse_expr(bound, depth + 1))
                if len(args) > FUNCTIONS[tok.value]:
                    break
            if len(args) != FUNCTIONS[tok.value]:
                raise self.error('%s() takes %d argument(s), got %d'
                                 % (tok.value, FUNCTIONS[tok.value], len(args)), tok)
            self.take()
            return Expr('call', tok.value, args, tok.line, tok.col)
        raise self.error("unexpected '%s': expected a value" % tok.value, tok)


def parse(text):
    """Policy text (str or UTF-8 bytes) -> Ast. Raises PolicyParseError."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_TEXT:
            raise PolicyParseError('policy is %d bytes, the limit is %d' % (len(text), MAX_TEXT),
                                   1, 1)
        try:
            text = bytes(text).decode('utf-8')
        except UnicodeDecodeError as e:
            before = bytes(text[:e.start])
            line = before.count(b'\n') + 1
            raise PolicyParseError('policy is not UTF-8: %s' % e.reason, line,
                                   e.start - (before.rfind(b'\n') + 1) + 1) from None
    if len(text.encode('utf-8')) > MAX_TEXT:
        raise PolicyParseError('policy is %d bytes, the limit is %d'
                               % (len(text.encode('utf-8')), MAX_TEXT), 1, 1)
    return _Parser(text).parse()
