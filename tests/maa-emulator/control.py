# Process lifecycle of the MAA emulator (listeners, state-dir files, refuse/reopen,
# key rotation, SIGTERM) and its plain-HTTP loopback control API used by tests.
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import policy as policy_mod
from common import compact_json, parse_latency, write_atomic
from faults import Fault, FaultError
from pki import SelfSignedKey, SigningKey, TokenCa
from service import ServiceHandler, TlsServer


class Runner:
    def __init__(self, emulator, state_dir, bind, port, control_port, issuer):
        self.em = emulator
        self.state_dir = state_dir
        self.bind = bind
        self.port = port
        self.control_port = control_port
        self.issuer_override = issuer
        self.httpd = None
        self.control = None
        self.listener_lock = threading.Lock()
        self.stopped = threading.Event()
        self.refuse_timer = None
        self.token_ca = None

    def path(self, name):
        return os.path.join(self.state_dir, name)

    # ---- service listener
    def open_listener(self):
        with self.listener_lock:
            if self.httpd is not None:
                return
            self.httpd = TlsServer((self.bind, self.port), ServiceHandler, self.em)
            self.port = self.httpd.server_address[1]
            threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05},
                             name='service', daemon=True).start()
            self.em.refusing = False

    def close_listener(self):
        with self.listener_lock:
            self.em.refusing = True
            if self.httpd is None:
                return
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def clear_faults(self, name=None):
        removed = self.em.faults.clear(name)
        if 'refuse' in removed and not self.stopped.is_set():
            if self.refuse_timer:
                self.refuse_timer.cancel()
            self.open_listener()
        return removed

    def apply_fault(self, fault):
        if fault.name == 'rotate-key':
            return self.rotate_key()
        self.em.faults.add(fault)
        if fault.name == 'refuse':
            self.close_listener()
            if fault.arg:
                self.refuse_timer = threading.Timer(fault.arg, self.clear_faults, ('refuse',))
                self.refuse_timer.daemon = True
                self.refuse_timer.start()
        return {'active': self.em.faults.describe()}

    # ---- keys and published documents
    def rotate_key(self):
        new = SigningKey.generate(self.token_ca)
        new.save(self.state_dir)
        with self.em.lock:
            old, self.em.signing = self.em.signing, new
        self.write_documents()
        self.em.log('signing key rotated: kid %s -> %s' % (old.kid, new.kid))
        return {'old_kid': old.kid, 'kid': new.kid}

    def write_documents(self):
        write_atomic(self.path('jwks.json'), compact_json(self.em.jwks()) + b'\n')
        write_atomic(self.path('openid-configuration.json'), compact_json(self.em.openid()) + b'\n')

    def info(self):
        return {'endpoint': self.endpoint, 'port': self.port,
                'control_port': self.control_port, 'issuer': self.em.issuer,
                'kid': self.em.signing.kid, 'refusing': self.em.refusing,
                'clock_offset_sec': self.em.clock_offset,
                'latency_sec': self.em.latency[0], 'jitter_sec': self.em.latency[1],
                'context_lifetime_sec': self.em.context_lifetime,
                'token_lifetime_sec': self.em.token_lifetime,
                'policy_set': self.em.policy is not None, 'pid': os.getpid()}

    # ---- lifecycle
    def start(self, initial_faults):
        for name in ('ready', 'pid'):
            if os.path.exists(self.path(name)):
                os.unlink(self.path(name))
        self.open_listener()
        self.endpoint = endpoint = 'https://%s:%d' % (
            self.bind if ':' not in self.bind else '[%s]' % self.bind, self.port)
        self.em.issuer = (self.issuer_override or endpoint).rstrip('/')
        self.token_ca = TokenCa(self.state_dir)
        self.em.signing = SigningKey.load_or_create(self.state_dir, self.token_ca)
        self.em.other_key = SelfSignedKey(self.state_dir, self.em.issuer)
        self.control = ThreadingHTTPServer(('127.0.0.1', self.control_port), ControlHandler)
        self.control.daemon_threads = True
        self.control.runner = self
        self.control_port = self.control.server_address[1]
        threading.Thread(target=self.control.serve_forever, kwargs={'poll_interval': 0.05},
                         name='control', daemon=True).start()
        for fault in initial_faults:
            self.apply_fault(fault)
        self.write_documents()
        write_atomic(self.path('port'), '%d\n' % self.port)
        write_atomic(self.path('control-port'), '%d\n' % self.control_port)
        write_atomic(self.path('endpoint'), endpoint + '\n')
        write_atomic(self.path('issuer'), self.em.issuer + '\n')
        write_atomic(self.path('pid'), '%d\n' % os.getpid())
        write_atomic(self.path('ready'), endpoint + '\n')
        self.em.log('ready: %s (control 127.0.0.1:%d, issuer %s)'
                    % (endpoint, self.control_port, self.em.issuer))

    def stop(self, *_):
        self.stopped.set()

    def run(self, initial_faults):
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.start(initial_faults)
        while not self.stopped.wait(0.2):
            pass
        if self.refuse_timer:
            self.refuse_timer.cancel()
        self.em.faults.clear()      # wakes stalled handlers
        self.close_listener()
        self.control.shutdown()
        self.control.server_close()
        for name in ('ready', 'pid'):
            if os.path.exists(self.path(name)):
                os.unlink(self.path(name))
        self.em.log('stopped')


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'maa-emulator-control'
    sys_version = ''

    def log_message(self, fmt, *args):
        self.server.runner.em.log('control: ' + fmt % args)

    def reply(self, status, obj):
        body = compact_json(obj) + b'\n'
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_json(self, empty=None):
        length = int(self.headers.get('Content-Length') or 0)
        if not length:
            return {} if empty is None else empty
        return json.loads(self.rfile.read(length))

    def do_GET(self):
        runner = self.server.runner
        em = runner.em
        path = urlsplit(self.path).path
        if path == '/control/stats':
            self.reply(200, em.stats_snapshot())
        elif path == '/control/faults':
            self.reply(200, {'active': em.faults.describe()})
        elif path == '/control/policy':
            with em.lock:
                self.reply(200, em.policy)
        elif path == '/control/info':
            self.reply(200, runner.info())
        elif path == '/control/azureguest':
            self.reply(200, em.azure_guest.get_settings())
        else:
            self.reply(404, {'error': 'no such control route: GET %s' % path})

    def do_POST(self):
        runner = self.server.runner
        em = runner.em
        path = urlsplit(self.path).path
        try:
            body = self.body_json()
            if body is None and path != '/control/policy':
                raise ValueError('body must be a JSON object')
            if path == '/control/fault':
                if not isinstance(body, dict) or not isinstance(body.get('fault'), str):
                    raise FaultError('body must be {"fault": NAME, "arg"?, "count"?, "scope"?}')
                fault = Fault(body['fault'], body.get('arg'), body.get('count'), body.get('scope'))
                self.reply(200, runner.apply_fault(fault))
            elif path == '/control/clear':
                self.reply(200, {'cleared': runner.clear_faults(body.get('fault'))})
            elif path == '/control/policy':
                # null removes the policy: the provider is back to its first state.
                new = None if body is None else policy_mod.validate(body)
                with em.lock:
                    em.policy = new
                self.reply(200, new)
            elif path == '/control/azureguest':
                # Changes some settings of /attest/AzureGuest; {"reset": true} restores all.
                reset = bool(body.pop('reset', False))
                self.reply(200, em.azure_guest.update_settings(body, reset))
            elif path == '/control/rotate-key':
                self.reply(200, runner.rotate_key())
            elif path == '/control/latency':
                em.latency = parse_latency(body.get('latency', 0), body.get('jitter', 0))
                self.reply(200, {'latency_sec': em.latency[0], 'jitter_sec': em.latency[1]})
            elif path == '/control/clock':
                em.clock_offset = float(body.get('offset_sec', 0))
                self.reply(200, {'offset_sec': em.clock_offset})
            elif path == '/control/stats/reset':
                em.reset_stats()
                self.reply(200, em.stats_snapshot())
            elif path == '/control/shutdown':
                self.reply(200, {'stopping': True})
                runner.stop()
            else:
                self.reply(404, {'error': 'no such control route: POST %s' % path})
        except (FaultError, policy_mod.PolicyError, ValueError, TypeError) as e:
            self.reply(400, {'error': str(e)})
