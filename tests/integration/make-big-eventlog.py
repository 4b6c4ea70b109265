#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes a large, well-formed crypto-agile TCG event log for size tests: a real log (BASE, never
# modified) followed by EV_EFI_VARIABLE_AUTHORITY events (UEFI_VARIABLE_DATA "db" holding BYTES of
# filler in all, the way db certificates are measured) in PCR N, each with a digest for every bank
# BASE's Spec ID event declares. A variable event, because MAA renders its data in the events
# claim (ProcessedData.VariableData, RawData), so the token grows with BYTES. Played into a TPM
# (play-eventlog.sh), PCRs and log agree.
import argparse
import hashlib
import struct
import sys

EV_NO_ACTION = 0x3
EV_EFI_VARIABLE_AUTHORITY = 0x800000E0
# EFI_IMAGE_SECURITY_DATABASE_GUID d719b2cb-3d3a-4596-a3bc-dad00e67656f, in its byte order.
DB_GUID = bytes.fromhex('cbb219d73a3d9645a3bcdad00e67656f')
ALGS = {0x0004: 'sha1', 0x000B: 'sha256', 0x000C: 'sha384', 0x000D: 'sha512', 0x0012: 'sm3'}


def spec_id_event(log):
    """Length of the legacy-format first event and the (alg id, digest size) list it declares."""
    if len(log) < 32:
        sys.exit('log too short for a Spec ID event')
    pcr, etype = struct.unpack_from('<II', log, 0)
    size, = struct.unpack_from('<I', log, 28)
    data = log[32:32 + size]
    if etype != EV_NO_ACTION or not data.startswith(b'Spec ID Event03\0'):
        sys.exit('not a crypto-agile log (no Spec ID Event03 first)')
    n, = struct.unpack_from('<I', data, 24)
    banks = [struct.unpack_from('<HH', data, 28 + 4 * i) for i in range(n)]
    for alg, _ in banks:
        if alg not in ALGS:
            sys.exit('bank 0x%04x is not supported by this generator' % alg)
    return 32 + size, banks


def variable_data(value):
    name = 'db'.encode('utf-16-le')
    return DB_GUID + struct.pack('<QQ', len(name) // 2, len(value)) + name + value


def event(pcr, data, banks):
    out = struct.pack('<III', pcr, EV_EFI_VARIABLE_AUTHORITY, len(banks))
    for alg, size in banks:
        digest = hashlib.new(ALGS[alg], data).digest()
        assert len(digest) == size
        out += struct.pack('<H', alg) + digest
    return out + struct.pack('<I', len(data)) + data


def filler(tag, index, size):
    """Deterministic, incompressible-looking data: SHA-512 in counter mode."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha512(b'%s/%d/%d' % (tag.encode(), index, block)).digest()
        block += 1
    return bytes(out[:size])


def main():
    p = argparse.ArgumentParser(description='Writes a large TCG event log for size tests.')
    p.add_argument('--base', required=True, help='real crypto-agile log to start from (read only)')
    p.add_argument('--out', required=True)
    p.add_argument('--bytes', type=int, required=True, help='event data to add, in total')
    p.add_argument('--event-size', type=int, default=64 * 1024)
    p.add_argument('--pcr', type=int, default=14)
    p.add_argument('--tag', default='attestd', help='varies the filler, so two runs differ')
    a = p.parse_args()

    with open(a.base, 'rb') as f:
        base = f.read()
    _, banks = spec_id_event(base)
    with open(a.out, 'wb') as f:
        f.write(base)
        left, i = a.bytes, 0
        while left > 0:
            size = min(left, a.event_size)
            f.write(event(a.pcr, variable_data(filler(a.tag, i, size)), banks))
            left -= size
            i += 1


if __name__ == '__main__':
    main()
