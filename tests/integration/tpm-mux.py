#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Many clients to one swtpm, as /dev/tpmrm0 is to a TPM chip: swtpm serves one connection at a
time, so a daemon that keeps its TPM context open would lock tpm2-tools out. Listens on
LISTEN (the swtpm TCTI's path; LISTEN.ctrl is linked to the swtpm's control socket) and passes
each whole command to swtpm's data socket over one connection, one command at a time. No handle
virtualisation: fine for clients that flush what they load, as attestd and tpm2-tools do. When
the swtpm connection breaks (swtpm restarted), the client whose command failed is disconnected,
as a TPM reset would fail its command, and the next command connects again. Test code only."""

import os
import socket
import struct
import sys
import threading

HEADER = 10  # tag (2), size (4), code (4)


def read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('closed')
        buf += chunk
    return buf


def read_message(sock):
    head = read_exact(sock, HEADER)
    size = struct.unpack('>I', head[2:6])[0]
    if size < HEADER or size > 1 << 20:
        raise ConnectionError('bad size')
    return head + read_exact(sock, size - HEADER)


class Mux:
    def __init__(self, upstream):
        self.upstream_path = upstream
        self.upstream = None
        self.lock = threading.Lock()

    def transact(self, command):
        with self.lock:
            try:
                if self.upstream is None:
                    self.upstream = socket.socket(socket.AF_UNIX)
                    self.upstream.connect(self.upstream_path)
                self.upstream.sendall(command)
                return read_message(self.upstream)
            except OSError:
                if self.upstream is not None:
                    self.upstream.close()
                self.upstream = None
                raise

    def serve(self, client):
        with client:
            try:
                while True:
                    client.sendall(self.transact(read_message(client)))
            except OSError:
                pass


def main():
    listen, upstream = sys.argv[1], sys.argv[2]
    for p in (listen, listen + '.ctrl'):
        if os.path.lexists(p):
            os.unlink(p)
    # Relative, so that a container seeing the directory elsewhere follows it too.
    os.symlink(os.path.relpath(upstream + '.ctrl', os.path.dirname(os.path.abspath(listen))), listen + '.ctrl')
    server = socket.socket(socket.AF_UNIX)
    server.bind(listen + '.tmp')
    server.listen(16)
    os.rename(listen + '.tmp', listen)  # ready once the path exists
    mux = Mux(upstream)
    while True:
        client, _ = server.accept()
        print('accepted a client', file=sys.stderr, flush=True)  # the benchmark counts TCTI loads
        threading.Thread(target=mux.serve, args=(client,), daemon=True).start()


if __name__ == '__main__':
    main()
