# TCG PC Client event log parser and PCR replay for the MAA emulator. An independent
# implementation (from the TCG PC Client Platform Firmware Profile layouts, little-endian)
# so that it can cross-check attestd's own C replay.
import hashlib
import struct

from common import b64url_encode, invalid

EV_NO_ACTION = 0x3
EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001
NUM_PCRS = 24
SPEC_ID_03 = b'Spec ID Event03\0'
STARTUP_LOCALITY = b'StartupLocality\0'
EFI_GLOBAL_VARIABLE = '8BE4DF61-93CA-11D2-AA0D-00E098032B8C'

# TPM_ALG_ID -> (bank name, hashlib name, size)
BANKS = {0x0004: ('sha1', 'sha1', 20), 0x000B: ('sha256', 'sha256', 32),
         0x000C: ('sha384', 'sha384', 48), 0x000D: ('sha512', 'sha512', 64),
         0x0012: ('sm3_256', None, 32)}

EVENT_TYPES = {
    0x0: 'EV_PREBOOT_CERT', 0x1: 'EV_POST_CODE', 0x2: 'EV_UNUSED', 0x3: 'EV_NO_ACTION',
    0x4: 'EV_SEPARATOR', 0x5: 'EV_ACTION', 0x6: 'EV_EVENT_TAG', 0x7: 'EV_S_CRTM_CONTENTS',
    0x8: 'EV_S_CRTM_VERSION', 0x9: 'EV_CPU_MICROCODE', 0xA: 'EV_PLATFORM_CONFIG_FLAGS',
    0xB: 'EV_TABLE_OF_DEVICES', 0xC: 'EV_COMPACT_HASH', 0xD: 'EV_IPL',
    0xE: 'EV_IPL_PARTITION_DATA', 0xF: 'EV_NONHOST_CODE', 0x10: 'EV_NONHOST_CONFIG',
    0x11: 'EV_NONHOST_INFO', 0x12: 'EV_OMIT_BOOT_DEVICE_EVENTS',
    0x80000000: 'EV_EFI_EVENT_BASE', 0x80000001: 'EV_EFI_VARIABLE_DRIVER_CONFIG',
    0x80000002: 'EV_EFI_VARIABLE_BOOT', 0x80000003: 'EV_EFI_BOOT_SERVICES_APPLICATION',
    0x80000004: 'EV_EFI_BOOT_SERVICES_DRIVER', 0x80000005: 'EV_EFI_RUNTIME_SERVICES_DRIVER',
    0x80000006: 'EV_EFI_GPT_EVENT', 0x80000007: 'EV_EFI_ACTION',
    0x80000008: 'EV_EFI_PLATFORM_FIRMWARE_BLOB', 0x80000009: 'EV_EFI_HANDOFF_TABLES',
    0x8000000A: 'EV_EFI_PLATFORM_FIRMWARE_BLOB2', 0x8000000B: 'EV_EFI_HANDOFF_TABLES2',
    0x8000000C: 'EV_EFI_VARIABLE_BOOT2', 0x80000010: 'EV_EFI_HCRTM_EVENT',
    0x800000E0: 'EV_EFI_VARIABLE_AUTHORITY', 0x800000E1: 'EV_EFI_SPDM_FIRMWARE_BLOB',
    0x800000E2: 'EV_EFI_SPDM_FIRMWARE_CONFIG',
}


class _Cursor:
    def __init__(self, data, what):
        self.data = data
        self.off = 0
        self.what = what

    def left(self):
        return len(self.data) - self.off

    def take(self, n, field, rec):
        if n > self.left():
            raise invalid('%s: record %d: %s at offset %d needs %d bytes, only %d left'
                          % (self.what, rec, field, self.off, n, self.left()))
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def u16(self, field, rec):
        return struct.unpack('<H', self.take(2, field, rec))[0]

    def u32(self, field, rec):
        return struct.unpack('<I', self.take(4, field, rec))[0]


def _parse_spec_id(data, what):
    """TCG_EfiSpecIDEvent -> [(alg id, digest size)]. It must fill the event exactly."""
    c = _Cursor(data, what + ': Spec ID event')
    c.take(16 + 4 + 4, 'header', 0)
    count = c.u32('numberOfAlgorithms', 0)
    if count == 0 or count > 16:
        raise invalid('%s: Spec ID event: numberOfAlgorithms %d is out of range' % (what, count))
    algs = []
    for i in range(count):
        alg = c.u16('digestSizes[%d].algorithmId' % i, 0)
        size = c.u16('digestSizes[%d].digestSize' % i, 0)
        if alg in BANKS and BANKS[alg][2] != size:
            raise invalid('%s: Spec ID event: %s digest size %d, expected %d'
                          % (what, BANKS[alg][0], size, BANKS[alg][2]))
        if size == 0 or size > 64 or any(a == alg for a, _ in algs):
            raise invalid('%s: Spec ID event: bad or repeated algorithm 0x%04x' % (what, alg))
        algs.append((alg, size))
    vendor = c.take(1, 'vendorInfoSize', 0)[0]
    c.take(vendor, 'vendorInfo', 0)
    if c.left():
        raise invalid('%s: Spec ID event: %d unexpected bytes after vendorInfo' % (what, c.left()))
    return algs


class EventLog:
    """A parsed log: `format` ('legacy' or 'crypto-agile'), `banks` (names), `events`
    (dicts with seq, pcr, type, digests {bank: bytes}, data, offset)."""

    def __init__(self, fmt, banks, events):
        self.format = fmt
        self.banks = banks
        self.events = events


def parse(data, what='TCG log'):
    data = bytes(data)
    if not data:
        raise invalid('%s is empty' % what)
    c = _Cursor(data, what)
    events = []
    # First record is always in the SHA1 (TCG_PCR_EVENT) format.
    off = c.off
    pcr = c.u32('pcrIndex', 0)
    etype = c.u32('eventType', 0)
    digest = c.take(20, 'digest', 0)
    size = c.u32('eventSize', 0)
    edata = c.take(size, 'event', 0)
    agile = etype == EV_NO_ACTION and pcr == 0 and edata.startswith(SPEC_ID_03)
    if agile:
        if digest != bytes(20):
            raise invalid('%s: Spec ID event has a non-zero digest' % what)
        algs = _parse_spec_id(edata, what)
        banks = [BANKS[a][0] if a in BANKS else '0x%04x' % a for a, _ in algs]
        sizes = dict(algs)
    else:
        banks = ['sha1']
    events.append({'seq': 0, 'pcr': pcr, 'type': etype, 'digests': {'sha1': digest},
                   'data': edata, 'offset': off})
    seq = 1
    while c.left():
        off = c.off
        pcr = c.u32('pcrIndex', seq)
        etype = c.u32('eventType', seq)
        digests = {}
        if agile:
            count = c.u32('digests.count', seq)
            if count == 0 or count > len(algs):
                raise invalid('%s: record %d at offset %d: %d digests, the Spec ID event '
                              'declares %d' % (what, seq, off, count, len(algs)))
            for i in range(count):
                alg = c.u16('digests[%d].hashAlg' % i, seq)
                if alg not in sizes:
                    raise invalid('%s: record %d at offset %d: digest algorithm 0x%04x is not '
                                  'in the Spec ID event' % (what, seq, off, alg))
                name = BANKS[alg][0] if alg in BANKS else '0x%04x' % alg
                if name in digests:
                    raise invalid('%s: record %d at offset %d: two %s digests'
                                  % (what, seq, off, name))
                digests[name] = c.take(sizes[alg], 'digests[%d]' % i, seq)
        else:
            digests['sha1'] = c.take(20, 'digest', seq)
        size = c.u32('eventSize', seq)
        edata = c.take(size, 'event', seq)
        if etype != EV_NO_ACTION and pcr >= NUM_PCRS:
            raise invalid('%s: record %d at offset %d: pcrIndex %d is out of range'
                          % (what, seq, off, pcr))
        events.append({'seq': seq, 'pcr': pcr, 'type': etype, 'digests': digests,
                       'data': edata, 'offset': off})
        seq += 1
    if not agile and events[0]['type'] != EV_NO_ACTION and events[0]['pcr'] >= NUM_PCRS:
        raise invalid('%s: record 0: pcrIndex %d is out of range' % (what, events[0]['pcr']))
    return EventLog('crypto-agile' if agile else 'legacy', banks, events)


def replay(log, state=None):
    """Replay into `state` ({bank: [24 digests]}, created when None). Returns
    (state, extended, unknown): extended = {bank: PCR indices the log extends};
    unknown = {bank: PCR indices extended by an event that carries no digest for
    that bank, so the log cannot predict them}."""
    if state is None:
        state = {}
    extended = {}
    unknown = {}
    for bank in log.banks:
        if bank not in state:
            size = next((v[2] for v in BANKS.values() if v[0] == bank), None)
            if size is None:
                continue
            state[bank] = [bytes(size)] * NUM_PCRS
        extended.setdefault(bank, set())
        unknown.setdefault(bank, set())
    for ev in log.events:
        if ev['type'] == EV_NO_ACTION:
            if ev['pcr'] == 0 and ev['data'][:16] == STARTUP_LOCALITY and len(ev['data']) >= 17:
                for bank in state:
                    if 0 not in extended.get(bank, ()):
                        size = len(state[bank][0])
                        state[bank][0] = bytes(size - 1) + ev['data'][16:17]
            continue
        pcr = ev['pcr']
        for bank in log.banks:
            hname = next((v[1] for v in BANKS.values() if v[0] == bank), None)
            if hname is None or bank not in state:
                continue
            if bank not in ev['digests']:
                unknown[bank].add(pcr)
                continue
            state[bank][pcr] = hashlib.new(hname, state[bank][pcr] + ev['digests'][bank]).digest()
            extended[bank].add(pcr)
    return state, extended, unknown


def _guid(b):
    d1, d2, d3 = struct.unpack('<IHH', b[:8])
    return '%08X-%04X-%04X-%s-%s' % (d1, d2, d3, b[8:10].hex().upper(), b[10:16].hex().upper())


def parse_variable(data):
    """UEFI_VARIABLE_DATA -> (guid, name, value) or None if it does not parse."""
    if len(data) < 32:
        return None
    nlen, dlen = struct.unpack('<QQ', data[16:32])
    if nlen > 1024 or 32 + 2 * nlen + dlen > len(data):
        return None
    try:
        name = data[32:32 + 2 * nlen].decode('utf-16-le')
    except UnicodeDecodeError:
        return None
    return _guid(data[:16]), name, data[32 + 2 * nlen:32 + 2 * nlen + dlen]


def secure_boot_enabled(log):
    """True when PCR7's last EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot event holds 0x01."""
    enabled = False
    for ev in log.events:
        if ev['pcr'] != 7 or ev['type'] != EV_EFI_VARIABLE_DRIVER_CONFIG:
            continue
        var = parse_variable(ev['data'])
        if var and var[0] == EFI_GLOBAL_VARIABLE and var[1] == 'SecureBoot':
            enabled = var[2] == b'\x01'
    return enabled


# Event types the service leaves without an EventTypeString (REAL-SERVICE.md: 7 and 8).
_UNNAMED_TYPES = (0x7, 0x8)
_VARIABLE_TYPES = (0x80000001, 0x80000002, 0x8000000C, 0x800000E0)
_IMAGE_TYPES = (0x80000003, 0x80000004, 0x80000005)


def _processed_data(etype, data):
    """ProcessedData of one event, named as the service names it for policies."""
    if etype in _VARIABLE_TYPES:
        var = parse_variable(data)
        if var:
            return {'UnicodeName': var[1], 'VariableGuid': var[0],
                    'VariableData': b64url_encode(var[2])}
    elif etype == 0x80000008 and len(data) == 16:          # UEFI_PLATFORM_FIRMWARE_BLOB
        base, length = struct.unpack('<QQ', data)
        return {'BlobBase': base, 'BlobLength': length}
    elif etype == 0x8000000A and data and len(data) == 1 + data[0] + 16:   # ..._BLOB2
        base, length = struct.unpack('<QQ', data[1 + data[0]:])
        return {'BlobDescription': data[1:1 + data[0]].decode('latin-1'),
                'BlobBase': base, 'BlobLength': length}
    elif etype in _IMAGE_TYPES and len(data) >= 32:        # UEFI_IMAGE_LOAD_EVENT
        loc, size, link, dplen = struct.unpack('<QQQQ', data[:32])
        if 32 + dplen == len(data):
            return {'ImageLocationInMemory': loc, 'ImageLengthInMemory': size,
                    'ImageLinkTimeAddress': link, 'DevicePath': b64url_encode(data[32:])}
    return {}


def events_claim(logs):
    """The `events` incoming claim (policy v1.2) in the shape REAL-SERVICE.md shows:
    {"Events":[{EventSeq, PcrIndex, EventType, EventTypeString, Digests, RawData,
    ProcessedData}]}, every record of every log in order, EventSeq counting from 0 (the
    Spec ID record included). Digests: every bank the record carries, upper-case names."""
    out = []
    seq = 0
    for log in logs:
        for ev in log.events:
            item = {'EventSeq': seq, 'PcrIndex': ev['pcr'], 'EventType': ev['type']}
            if ev['type'] in EVENT_TYPES and ev['type'] not in _UNNAMED_TYPES:
                item['EventTypeString'] = EVENT_TYPES[ev['type']]
            item['Digests'] = {bank.upper(): b64url_encode(d) for bank, d in ev['digests'].items()}
            item['RawData'] = b64url_encode(ev['data'])
            item['ProcessedData'] = _processed_data(ev['type'], ev['data'])
            out.append(item)
            seq += 1
    return {'Events': out}
