# The HTTPS side of the MAA emulator: /attest/Tpm, /certs and the OpenID document,
# CloudError answers, transport faults, request recording and counters.
import base64
import json
import random
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import azure_guest
import policy as policy_mod
import protocol
from common import (ServiceError, b64std_encode, b64url_decode, b64url_encode, compact_json,
                    invalid, strict_json)
from pki import TOKEN_FAULTS, jwks_document, mint_token

MAX_BODY = 16 * 1024 * 1024
CHUNK = 64 * 1024           # reply bodies go out as chunks of at most this size
SERVICE_VERSION = 'maa-emulator-1'
DEFAULT_TOKEN_LIFETIME = 345600     # 4 days, as in real MAA tokens
KNOWN_API_VERSIONS = ('2020-10-01', '2022-08-01', '2025-06-01', '2026-03-11-preview')


class TlsServer(ThreadingHTTPServer):
    """Threaded HTTPS server; the TLS handshake runs in the connection's own thread so a
    stalled client cannot hold up accept()."""
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128    # the default 5 drops SYNs when tests run in parallel

    def __init__(self, addr, handler, emulator):
        self.emulator = emulator
        if ':' in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            conn = self.emulator.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.emulator.log('connection %s: %s' % (client_address, _exc_text()))


def _exc_text():
    e = sys.exc_info()[1]
    return '%s: %s' % (type(e).__name__, e)


def new_request_id():
    """16 base64 characters, like MAA's x-ms-request-id ("9Fg1z/k/SkanRKrW")."""
    return base64.b64encode(secrets.token_bytes(12)).decode('ascii')


def guess_route(path, body):
    """leg1 / leg2 / attest (undecidable) / certs / openid / other, never raising."""
    if path == '/certs':
        return 'certs'
    if path == '/.well-known/openid-configuration':
        return 'openid'
    if path == '/attest/AzureGuest':
        return 'azureguest'
    if path != '/attest/Tpm':
        return 'other'
    try:
        inner = json.loads(b64url_decode(json.loads(body)['data']))['payload']
        if 'type' in inner:
            return 'leg1'
        if 'request' in inner:
            return 'leg2'
    except Exception:   # noqa: BLE001 - a guess only; the real parse reports errors
        pass
    return 'attest'


def decode_for_record(body):
    """Best-effort decoding of a request body for --record."""
    out = {}
    try:
        env = json.loads(body)
        if isinstance(env, dict) and 'data' not in env:     # /attest/AzureGuest
            out['attestation_info'] = azure_guest.decode_wrapper(body)
            return out
        data = env['data']
        out['data_json'] = json.loads(b64url_decode(data))
        request = out['data_json']['payload'].get('request')
        if isinstance(request, str):
            h, p, _ = request.split('.')
            out['jws_header'] = json.loads(b64url_decode(h))
            out['jws_payload'] = json.loads(b64url_decode(p))
    except Exception as e:   # noqa: BLE001 - recorded as text
        out['decode_error'] = '%s: %s' % (type(e).__name__, getattr(e, 'message', e))
    return out


class ServiceHandler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'maa-emulator'
    sys_version = ''
    timeout = 60
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        self.server.emulator.log('%s %s' % (self.client_address[0], fmt % args))

    def do_GET(self):
        self.serve('GET')

    def do_POST(self):
        self.serve('POST')

    def do_PUT(self):
        self.serve('PUT')

    def do_DELETE(self):
        self.serve('DELETE')

    # ---- responses
    def log_request(self, code='-', size='-'):
        # Also called by http.server for a request line it refuses before serve() runs.
        err = getattr(self, 'outcome', {}).get('code')
        self.server.emulator.log('%s "%s" %s request-id %s%s' % (
            self.client_address[0], self.requestline, code, getattr(self, 'request_id', '-'),
            ' (%s)' % err if err else ''))

    def settle(self, outcome):
        """Count and record the request once, before its answer leaves, so that a test
        reading /control/stats or the record dir right after the answer sees it."""
        self.outcome = dict(outcome, request_id=self.request_id)
        if self.settled:
            return
        self.settled = True
        em = self.server.emulator
        em.count_response(self.outcome, self.url_path)
        em.record(self.command, self.path, self.headers, self.body, self.outcome)

    def start_reply(self, status, headers=None, length=None):
        """Status line and headers as MAA sends them: JSON, request id and service version,
        and Transfer-Encoding: chunked unless `length` asks for a Content-Length."""
        self.send_response(status)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        if length is None:
            self.send_header('Transfer-Encoding', 'chunked')
        else:
            self.send_header('Content-Length', str(length))
        self.send_header('x-ms-maa-service-version', SERVICE_VERSION)
        self.send_header('x-ms-request-id', self.request_id)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
            if k.lower() == 'connection' and v.lower() == 'close':
                self.close_connection = True
        self.end_headers()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b'%x\r\n' % len(data) + data + b'\r\n')

    def end_chunks(self):
        self.wfile.write(b'0\r\n\r\n')

    def send_body(self, status, body, headers=None, outcome=None):
        self.settle(outcome or {'status': status})
        self.start_reply(status, headers)
        for i in range(0, len(body), CHUNK):
            self.write_chunk(body[i:i + CHUNK])
        self.end_chunks()

    def send_json(self, status, obj, headers=None, outcome=None):
        self.send_body(status, compact_json(obj), headers=headers, outcome=outcome)

    def send_error_json(self, err):
        headers = dict(err.headers)
        if self.server.emulator.error_code_header:
            headers['x-ms-error-code'] = err.code
        self.send_json(err.status, {'error': {'code': err.code, 'message': err.message}}, headers,
                       {'status': err.status, 'code': err.code, 'message': err.message})

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (bad request line, headers too long) as CloudError
        JSON too, never its HTML page."""
        self.request_id = getattr(self, 'request_id', None) or new_request_id()
        self.outcome = {'status': code, 'code': 'BadRequest', 'message': message or ''}
        self.close_connection = True
        self.request_version = 'HTTP/1.1'     # http.server sends no headers to "HTTP/0.9"
        body = compact_json({'error': {'code': 'BadRequest', 'message': message or
                                       'The request could not be parsed.'}})
        self.start_reply(code, {'Connection': 'close'})
        self.write_chunk(body)
        self.end_chunks()

    # ---- dispatch
    def serve(self, method):
        em = self.server.emulator
        self.request_id = new_request_id()
        self.outcome = {'status': None}
        self.settled = False
        self.body = b''
        url = urlsplit(self.path)
        self.url_path = url.path
        if em.refusing:
            self.close_connection = True
            return
        try:
            self.body = self.read_body()
            em.delay()
            route = guess_route(url.path, self.body)
            em.count_request(route)
            fault = em.faults.take_transport(route) if route != 'other' else None
            if fault is not None and self.apply_transport_fault(fault, route):
                return
            self.route(method, url, self.body, route)
        except ServiceError as e:
            self.send_error_json(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception:   # noqa: BLE001 - an emulator bug must still answer, visibly
            em.log('BUG: %s' % traceback.format_exc())
            self.send_error_json(ServiceError(500, 'EmulatorBug', 'Unhandled error in the '
                                              'emulator: %s' % _exc_text()))
        finally:
            self.settle(self.outcome)

    def read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            self.close_connection = True
            raise ServiceError(411, 'LengthRequired', 'Chunked request bodies are not supported.')
        length = self.headers.get('Content-Length')
        if length is None:
            return b''
        if not length.isdigit():
            self.close_connection = True
            raise ServiceError(400, 'InvalidParameter', 'Content-Length is not a number.')
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise ServiceError(413, 'RequestEntityTooLarge',
                               'The request body is larger than %d bytes.' % MAX_BODY)
        return self.rfile.read(int(length))

    def route(self, method, url, body, route):
        em = self.server.emulator
        if url.path == '/attest/Tpm':
            if method != 'POST':
                raise ServiceError(405, 'MethodNotAllowed', 'Use POST on /attest/Tpm.',
                                   {'Allow': 'POST'})
            em.check_api_version(parse_qs(url.query).get('api-version'))
            with em.lock:
                pol = em.policy
            policy_mod.check_bearer(pol, self.headers.get('Authorization'))
            self.send_json(200, {'data': b64url_encode(compact_json(em.attest(body, route)))})
            return
        if url.path == '/attest/AzureGuest':
            if method != 'POST':
                raise ServiceError(405, 'MethodNotAllowed', 'Use POST on /attest/AzureGuest.',
                                   {'Allow': 'POST'})
            self.send_json(200, {'token': em.attest_azure_guest(
                parse_qs(url.query).get('api-version'), self.headers.get('Authorization'),
                body)})
            return
        if url.path in ('/certs', '/.well-known/openid-configuration'):
            if method != 'GET':
                raise ServiceError(405, 'MethodNotAllowed', 'Use GET on %s.' % url.path,
                                   {'Allow': 'GET'})
            doc = em.jwks() if url.path == '/certs' else em.openid()
            self.send_json(200, doc)
            return
        raise ServiceError(404, 'NotFound', 'No route for %s %s.' % (method, url.path))

    def apply_transport_fault(self, fault, route):
        """Returns True when the fault produced the (non-)answer."""
        em = self.server.emulator
        name, arg = fault.name, fault.arg
        em.log('fault %s (%s) on %s' % (name, arg, route))
        if name == 'stall':
            fault.cleared.wait(30 if arg is None else arg)
            return False
        if name.startswith('http-'):
            status = int(name[5:])
            headers = {}
            if status == 429 or arg is not None:
                headers['Retry-After'] = str(int(1 if arg is None else arg))
            code = {429: 'TooManyRequests', 500: 'InternalServerError', 502: 'BadGateway',
                    503: 'ServiceUnavailable', 504: 'GatewayTimeout'}.get(status,
                                                                          'Fault%d' % status)
            self.send_error_json(ServiceError(status, code, 'Injected fault %s.' % name, headers))
            return True
        if name == 'garbage':
            kind = arg or 'html'
            if kind == 'truncated':
                # The one reply with a Content-Length: it promises more than it sends.
                self.settle({'status': 200, 'code': 'fault:garbage=truncated'})
                self.start_reply(200, length=1000)
                self.wfile.write(b'{"data":"eyJwYXlsb2Fk')
                self.close_connection = True
                return True
            body = {'html': b'<!DOCTYPE html><html><body>502 Bad Gateway?</body></html>\n',
                    'data': b'{"data":"***not base64url***"}',
                    'inner': compact_json({'data': b64url_encode(b'this is not json')}),
                    'empty': b''}[kind]
            self.send_body(200, body, outcome={'status': 200, 'code': 'fault:garbage=%s' % kind})
            return True
        if name == 'error-page':
            # A gateway's error page in Latin-1: bytes that are not UTF-8, as some proxies send.
            text = arg or 'Passerelle indisponible : r\u00e9essayez plus tard (\u00e9t\u00e9 \u00e0 \u00e9chou\u00e9)'
            body = ('<html><body>%s</body></html>\n' % text).encode('latin-1', 'replace')
            self.send_body(502, body, outcome={'status': 502, 'code': 'fault:error-page'})
            return True
        if name == 'oversized':
            size = arg or 64 * 1024 * 1024
            self.settle({'status': 200, 'code': 'fault:oversized'})
            self.start_reply(200)
            self.close_connection = True
            self.write_chunk(b'{"data":"')
            chunk = b'A' * CHUNK
            left = size
            while left > 0:
                self.write_chunk(chunk[:min(left, len(chunk))])
                left -= len(chunk)
            self.write_chunk(b'"}')
            self.end_chunks()
            return True
        return False


class Emulator:
    """Shared state of the service: keys, policy, faults, counters, clock."""

    def __init__(self, state_dir, tls, sealer, policy, faults, context_lifetime,
                 api_versions, record_dir, logger, token_lifetime=DEFAULT_TOKEN_LIFETIME,
                 error_code_header=False):
        self.state_dir = state_dir
        self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_ctx.load_cert_chain(tls.server_cert_path, tls.server_key_path)
        self.sealer = sealer
        self.policy = policy
        self.faults = faults
        self.context_lifetime = context_lifetime
        self.token_lifetime = token_lifetime
        self.error_code_header = error_code_header
        self.api_versions = api_versions
        self.record_dir = record_dir
        self.log = logger
        self.lock = threading.Lock()
        self.clock_offset = 0.0
        self.latency = (0.0, 0.0)   # (seconds, ± jitter seconds) before each HTTPS answer
        self.refusing = False
        self.signing = None
        self.other_key = None       # the self-signed second key of /certs
        self.issuer = None
        self.record_seq = 0
        self.azure_guest = None     # azure_guest_route.AzureGuestRoute, set by maa-emulator
        self.reset_stats()

    def now(self):
        return time.time() + self.clock_offset

    def delay(self):
        """A real provider's round trip: the latency, spread uniformly by its jitter."""
        base, jitter = self.latency
        if base > 0 or jitter > 0:
            time.sleep(max(0.0, base + random.uniform(-jitter, jitter)))

    def reset_stats(self):
        with self.lock:
            self.faults_base = self.faults.applied_total
            self.stats = {'requests': 0, 'leg1_requests': 0, 'leg2_requests': 0,
                          'leg1_ok': 0, 'leg2_ok': 0, 'tokens_issued': 0,
                          'certs_requests': 0, 'openid_requests': 0, 'errors': 0,
                          'azureguest_requests': 0, 'azureguest_ok': 0,
                          'by_status': {}, 'last_error': None}

    def count_request(self, route):
        with self.lock:
            self.stats['requests'] += 1
            if route in ('leg1', 'leg2', 'certs', 'openid', 'azureguest'):
                self.stats[route + '_requests'] += 1

    def count_response(self, outcome, path):
        status = outcome.get('status')
        with self.lock:
            key = str(status) if status else 'none'
            self.stats['by_status'][key] = self.stats['by_status'].get(key, 0) + 1
            if status and status >= 400:
                self.stats['errors'] += 1
                self.stats['last_error'] = dict(outcome, path=path, time=int(self.now()))

    def stats_snapshot(self):
        with self.lock:
            out = json.loads(json.dumps(self.stats))
        out['faults_applied'] = self.faults.applied_total - self.faults_base
        return out

    def check_api_version(self, values):
        if not values or not values[0]:
            raise ServiceError(400, 'MissingApiVersionParameter',
                               'The api-version query parameter (?api-version=) is required for '
                               'all requests.')
        if self.api_versions is not None and values[0] not in self.api_versions:
            raise ServiceError(400, 'InvalidApiVersionParameter',
                               "The api-version '%s' is invalid. The supported versions are '%s'."
                               % (values[0], ','.join(self.api_versions)))

    def attest(self, body, route):
        """One /attest/Tpm leg: request body bytes -> reply message (dict)."""
        with self.lock:
            pol = self.policy
        env = strict_json(body, 'request body')
        if not isinstance(env, dict) or not isinstance(env.get('data'), str):
            raise invalid('The request body must be a JSON object with a "data" string.')
        msg = strict_json(b64url_decode(env['data'], 'data'), 'decoded data')
        if not isinstance(msg, dict) or not isinstance(msg.get('payload'), dict):
            raise invalid('The decoded data must be a JSON object with a "payload" object.')
        payload = msg['payload']
        leg = 'leg1' if 'type' in payload else 'leg2' if 'request' in payload else None
        if leg is None:
            raise invalid('payload has neither "type" (leg 1) nor "request" (leg 2).')
        if self.faults.take(('no-policy',), leg):
            pol = None
        policy_mod.check_policy_set(pol)
        now = self.now()
        if leg == 'leg1':
            reply = protocol.leg1(payload, self.sealer, now, self.context_lifetime)
            with self.lock:
                self.stats['leg1_ok'] += 1
            return {'payload': reply}
        facts = protocol.leg2(payload, self.sealer, pol, now)
        if self.faults.take(('deny',), leg):
            raise policy_mod.deny_error()
        issued = policy_mod.evaluate(pol, facts)
        token = self.issue_token(facts, pol, issued, now)
        with self.lock:
            self.stats['leg2_ok'] += 1
        return {'payload': {'report': token}}

    def attest_azure_guest(self, api_version, authorization, body):
        """POST /attest/AzureGuest -> the sealed token (azure_guest_route.py)."""
        ag = self.azure_guest
        ag.check_api_version(api_version, self.api_versions)
        with self.lock:
            signer, issuer = self.other_key, self.issuer
        token = ag.attest(body, authorization, self.now(), signer, issuer, self.faults)
        with self.lock:
            self.stats['azureguest_ok'] += 1
            self.stats['tokens_issued'] += 1
        return token

    @staticmethod
    def service_claims(facts, pol):
        """The claims MAA adds to every TPM token, whatever the policy (iat, nbf, exp, iss
        and jti are added by mint_token)."""
        claims = {
            'ver': '1.0', 'x-ms-ver': '1.0',
            'x-ms-policy-hash': policy_mod.policy_hash(pol),
            'cnf': {'jwk': facts['jwk']},
            'x-ms-tpm-request-key': facts['request_key'],
        }
        if facts['rp_data'] is not None:
            # As sent, re-encoded without padding; MAA repeats it as "nonce".
            claims['rp_data'] = claims['nonce'] = b64url_encode(b64url_decode(facts['rp_data']))
        if facts['other_keys']:
            claims['x-ms-tpm-other-keys'] = facts['other_keys']
        return claims

    def issue_token(self, facts, pol, issued, now):
        """Mint the token: the policy's claims (`issued`, from policy.evaluate) over the
        service's own."""
        claims = self.service_claims(facts, pol)
        claims.update(issued)
        lifetime = pol['token_lifetime_sec'] or self.token_lifetime
        tf = self.faults.take(TOKEN_FAULTS, 'leg2')
        with self.lock:
            signing, issuer = self.signing, self.issuer
        token = mint_token(signing, issuer, claims, now, lifetime, tf)
        with self.lock:
            self.stats['tokens_issued'] += 1
        return token

    def jwks(self):
        """/certs as MAA's: the self-signed key first, then the signing chain under its x5t."""
        with self.lock:
            return jwks_document([self.other_key, self.signing])

    def openid(self):
        iss = self.issuer
        return {'response_types_supported': ['token', 'none'],
                'id_token_signing_alg_values_supported': ['RS256'],
                'revocation_endpoint': iss + '/revoke', 'issuer': iss,
                'jwks_uri': iss + '/certs',
                'claims_supported': ['cnf', 'nonce', 'rp_data', 'ver', 'x-ms-ver',
                                     'x-ms-policy-hash', 'x-ms-tpm-request-key']}

    def record(self, method, path, headers, body, outcome):
        if not self.record_dir:
            return
        with self.lock:
            self.record_seq += 1
            seq = self.record_seq
        base = os.path.join(self.record_dir, '%04d' % seq)
        try:
            text = body.decode('utf-8')
            raw = {'body': text}
        except UnicodeDecodeError:
            raw = {'body_base64': b64std_encode(body)}
        entry = dict({'seq': seq, 'time': time.time(), 'method': method, 'path': path,
                      'headers': dict(headers.items()), 'response': outcome}, **raw)
        if body:
            entry['decoded'] = decode_for_record(body)
        with open(base + '.body', 'wb') as f:
            f.write(body)
        with open(base + '.json', 'w') as f:
            json.dump(entry, f, indent=1, sort_keys=True)
