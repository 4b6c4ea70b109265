/* SPDX-License-Identifier: MIT */
/* TCG PC Client event log parser and PCR replay. Works on a private copy of the input and never
 * reads past it; every malformed record is an error naming its offset. No I/O, debug logs only. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>

#include "eventlog.h"
#include "log.h"
#include "utf8.h"

struct EventLog {
        uint8_t *buffer;                /* our copy of the input; events point into it */
        size_t size;
        EventLogFormat format;
        EventLogSpecId spec_id;
        EventLogAlgorithm algorithms[EVENTLOG_ALGORITHMS_MAX];
        size_t n_algorithms;
        EventLogEvent *events;
        size_t n_events;
        EventLogDigest *digests;        /* all events' digests, in order */
        size_t n_digests;
        int startup_locality;           /* -1: none */
        bool has_hcrtm;
};

/* One record as read, before it is stored. */
typedef struct Record {
        size_t offset;
        uint32_t pcr;
        uint32_t type;
        EventLogDigest digests[EVENTLOG_ALGORITHMS_MAX];
        size_t n_digests;
        const uint8_t *data;
        uint32_t data_size;
} Record;

/* The log is walked twice: once to validate and count, once to fill exactly sized arrays. */
typedef struct Parser {
        const uint8_t *data;
        size_t size;
        EventLog *log;
        bool fill;
        size_t index;                   /* number of the record being read */
        size_t n_events;
        size_t n_digests;
        char *error;
} Parser;

#define SHA1_RECORD_HEADER_SIZE 32      /* pcr, type, sha1 digest, event size */
#define AGILE_RECORD_HEADER_SIZE 12     /* pcr, type, digest count */
#define SPEC_ID_HEADER_SIZE 28          /* up to and including numberOfAlgorithms */

static const char spec_id_signature_03[16] = "Spec ID Event03";
static const char startup_locality_signature[16] = "StartupLocality";

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
        return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static const char *alg_label(uint16_t alg, char buf[static 8]) {
        const char *n = tpm_alg_to_name(alg);

        if (n)
                return n;
        snprintf(buf, 8, "0x%04x", alg);
        return buf;
}

/* Records the failure as "offset N: event M: what" and returns ERROR (or -ENOMEM). */
_printf_(4, 5)
static int parse_fail(Parser *p, int error, size_t offset, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&what, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        free(p->error);
        if (asprintf(&p->error, "offset %zu: event %zu: %s", offset, p->index, what) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return log_debug_errno(error, "Rejecting event log: %s", p->error);
}

static int check_data_size(Parser *p, size_t field_offset, uint32_t size, size_t left) {
        if (size > left)
                return parse_fail(p, -EBADMSG, field_offset,
                                  "event data size %" PRIu32 " exceeds remaining %zu bytes", size, left);
        if (size > EVENTLOG_EVENT_DATA_MAX)
                return parse_fail(p, -E2BIG, field_offset,
                                  "event data size %" PRIu32 " exceeds the limit of %u bytes",
                                  size, EVENTLOG_EVENT_DATA_MAX);
        return 0;
}

/* TCG_PCR_EVENT: the format of legacy logs and of the first record of every log. */
static int read_sha1_record(Parser *p, size_t offset, Record *ret) {
        const uint8_t *d = p->data + offset;
        size_t left = p->size - offset;
        uint32_t size;
        int r;

        if (left < SHA1_RECORD_HEADER_SIZE)
                return parse_fail(p, -EBADMSG, offset, "truncated event header: %zu of %u bytes",
                                  left, SHA1_RECORD_HEADER_SIZE);

        size = le32(d + 28);
        r = check_data_size(p, offset + 28, size, left - SHA1_RECORD_HEADER_SIZE);
        if (r < 0)
                return r;

        *ret = (Record) {
                .offset = offset,
                .pcr = le32(d),
                .type = le32(d + 4),
                .digests[0] = { .alg = TPM_ALG_SHA1, .size = 20, .data = d + 8 },
                .n_digests = 1,
                .data = d + SHA1_RECORD_HEADER_SIZE,
                .data_size = size,
        };
        return 0;
}

static int find_algorithm(const EventLog *log, uint16_t alg) {
        for (size_t i = 0; i < log->n_algorithms; i++)
                if (log->algorithms[i].alg == alg)
                        return (int) i;
        return -ENOENT;
}

static int read_digests(Parser *p, size_t offset, uint32_t count, Record *rec, size_t *ret_end) {
        uint32_t seen = 0;
        char buf[8];

        /* Some firmware logs only a subset of the Spec ID banks (tpm2-tools' event-uefiaction.bin);
         * the replay then leaves the missing banks' PCR unexplained. */
        if (count == 0 || count > p->log->n_algorithms)
                return parse_fail(p, -EBADMSG, offset - 4,
                                  "digest count %" PRIu32 " does not match the %zu algorithms of the Spec ID event",
                                  count, p->log->n_algorithms);

        for (uint32_t i = 0; i < count; i++) {
                size_t left = p->size - offset;
                uint16_t alg, size;
                int k;

                if (left < 2)
                        return parse_fail(p, -EBADMSG, offset, "truncated digest %" PRIu32 ": algorithm id missing", i);
                alg = le16(p->data + offset);
                k = find_algorithm(p->log, alg);
                if (k < 0)
                        return parse_fail(p, -EBADMSG, offset, "digest algorithm %s is not in the Spec ID event",
                                          alg_label(alg, buf));
                if (seen & (UINT32_C(1) << k))
                        return parse_fail(p, -EBADMSG, offset, "duplicate %s digest", alg_label(alg, buf));
                seen |= UINT32_C(1) << k;

                size = p->log->algorithms[k].digest_size;
                if (left - 2 < size)
                        return parse_fail(p, -EBADMSG, offset + 2, "truncated %s digest: %zu of %u bytes",
                                          alg_label(alg, buf), left - 2, size);
                rec->digests[i] = (EventLogDigest) { .alg = alg, .size = size, .data = p->data + offset + 2 };
                offset += 2 + (size_t) size;
        }
        rec->n_digests = count;
        *ret_end = offset;
        return 0;
}

/* TCG_PCR_EVENT2, the records after the Spec ID event of a crypto-agile log. */
static int read_agile_record(Parser *p, size_t offset, Record *ret) {
        const uint8_t *d = p->data + offset;
        size_t left = p->size - offset, q = 0;
        Record rec = { .offset = offset };
        uint32_t size;
        int r;

        if (left < AGILE_RECORD_HEADER_SIZE)
                return parse_fail(p, -EBADMSG, offset, "truncated event header: %zu of %u bytes",
                                  left, AGILE_RECORD_HEADER_SIZE);
        rec.pcr = le32(d);
        rec.type = le32(d + 4);

        r = read_digests(p, offset + AGILE_RECORD_HEADER_SIZE, le32(d + 8), &rec, &q);
        if (r < 0)
                return r;

        if (p->size - q < 4)
                return parse_fail(p, -EBADMSG, q, "truncated event header: event data size missing");
        size = le32(p->data + q);
        r = check_data_size(p, q, size, p->size - q - 4);
        if (r < 0)
                return r;

        rec.data = p->data + q + 4;
        rec.data_size = size;
        *ret = rec;
        return 0;
}

/* TCG_EfiSpecIdEvent of a crypto-agile log; fills the log's algorithm list. BASE is the file
 * offset of the event data, for messages. */
static int parse_spec_id(Parser *p, size_t base, const uint8_t *d, uint32_t size) {
        EventLog *log = p->log;
        uint32_t n;
        size_t need;
        char buf[8];

        if (size < SPEC_ID_HEADER_SIZE)
                return parse_fail(p, -EBADMSG, base, "Spec ID event: %" PRIu32 " bytes, shorter than its %u byte header",
                                  size, SPEC_ID_HEADER_SIZE);

        log->spec_id = (EventLogSpecId) {
                .platform_class = le32(d + 16),
                .version_minor = d[20],
                .version_major = d[21],
                .errata = d[22],
                .uintn_size = d[23],
        };
        if (log->spec_id.version_major != 2 || log->spec_id.version_minor != 0)
                return parse_fail(p, -EPROTONOSUPPORT, base + 20, "unknown Spec ID version %u.%u",
                                  log->spec_id.version_major, log->spec_id.version_minor);
        if (log->spec_id.uintn_size != 1 && log->spec_id.uintn_size != 2)
                return parse_fail(p, -EBADMSG, base + 23, "Spec ID event: invalid uintnSize %u",
                                  log->spec_id.uintn_size);

        n = le32(d + 24);
        if (n == 0 || n > EVENTLOG_ALGORITHMS_MAX)
                return parse_fail(p, -EBADMSG, base + 24, "Spec ID event: algorithm count %" PRIu32 " out of range 1..%u",
                                  n, EVENTLOG_ALGORITHMS_MAX);
        need = SPEC_ID_HEADER_SIZE + 4 * (size_t) n + 1;
        if (size < need)
                return parse_fail(p, -EBADMSG, base + 24,
                                  "Spec ID event: %" PRIu32 " algorithms need %zu bytes, event data has %" PRIu32,
                                  n, need, size);

        log->n_algorithms = 0;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *a = d + SPEC_ID_HEADER_SIZE + 4 * i;
                uint16_t alg = le16(a), ds = le16(a + 2);
                size_t known = tpm_alg_digest_size(alg);

                if (ds == 0 || ds > PCR_DIGEST_MAX)
                        return parse_fail(p, -EBADMSG, base + (size_t) (a + 2 - d),
                                          "Spec ID event: %s digest size %u out of range 1..%u",
                                          alg_label(alg, buf), ds, PCR_DIGEST_MAX);
                if (known != 0 && known != ds)
                        return parse_fail(p, -EBADMSG, base + (size_t) (a + 2 - d),
                                          "Spec ID event: %s digest size %u, expected %zu",
                                          alg_label(alg, buf), ds, known);
                if (find_algorithm(log, alg) >= 0)
                        return parse_fail(p, -EBADMSG, base + (size_t) (a - d),
                                          "Spec ID event: algorithm %s listed twice", alg_label(alg, buf));
                log->algorithms[log->n_algorithms++] = (EventLogAlgorithm) { .alg = alg, .digest_size = ds };
        }

        log->spec_id.vendor_info_size = d[need - 1];
        log->spec_id.vendor_info = d + need;
        if (need + log->spec_id.vendor_info_size > size)
                return parse_fail(p, -EBADMSG, base + need - 1,
                                  "Spec ID event: vendor info size %u exceeds the remaining %zu bytes of the event",
                                  log->spec_id.vendor_info_size, size - need);
        if (need + log->spec_id.vendor_info_size < size)
                return parse_fail(p, -EBADMSG, base + need + log->spec_id.vendor_info_size,
                                  "Spec ID event: %zu trailing bytes after the vendor info",
                                  size - need - log->spec_id.vendor_info_size);
        return 0;
}

/* Decides the format from the first record (SHA1 layout in both formats). */
static int parse_header(Parser *p, Record *rec) {
        char sig[17];

        p->log->format = EVENTLOG_FORMAT_SHA1;
        p->log->algorithms[0] = (EventLogAlgorithm) { .alg = TPM_ALG_SHA1, .digest_size = 20 };
        p->log->n_algorithms = 1;

        if (rec->type != EV_NO_ACTION || rec->data_size < 16 || memcmp(rec->data, "Spec ID Event", 13) != 0)
                return 0;

        if (memcmp(rec->data, spec_id_signature_03, 16) == 0) {
                p->log->format = EVENTLOG_FORMAT_CRYPTO_AGILE;
                return parse_spec_id(p, rec->offset + SHA1_RECORD_HEADER_SIZE, rec->data, rec->data_size);
        }
        /* TPM 1.2 era headers ("Spec ID Event00", TCG EFI Platform 1.2 "Spec ID Event02") announce
         * a SHA-1 log like the one without any header. */
        if (memcmp(rec->data, "Spec ID Event00", 16) == 0 || memcmp(rec->data, "Spec ID Event02", 16) == 0)
                return 0;

        for (size_t i = 0; i < 16; i++)
                sig[i] = rec->data[i] >= 0x20 && rec->data[i] < 0x7f ? (char) rec->data[i] : '?';
        sig[16] = '\0';
        return parse_fail(p, -EPROTONOSUPPORT, rec->offset + SHA1_RECORD_HEADER_SIZE,
                          "unknown Spec ID version \"%s\"", sig);
}

static int add_record(Parser *p, const Record *rec) {
        EventLog *log = p->log;
        int k;

        if (rec->type != EV_NO_ACTION && rec->pcr >= PCR_COUNT)
                return parse_fail(p, -EBADMSG, rec->offset, "PCR index %" PRIu32 " out of range 0..%u",
                                  rec->pcr, PCR_COUNT - 1);

        if (p->fill) {
                EventLogEvent *e = &log->events[p->n_events];

                memcpy(&log->digests[p->n_digests], rec->digests, rec->n_digests * sizeof(EventLogDigest));
                *e = (EventLogEvent) {
                        .index = p->index,
                        .offset = rec->offset,
                        .pcr = rec->pcr,
                        .type = rec->type,
                        .digests = &log->digests[p->n_digests],
                        .n_digests = rec->n_digests,
                        .data = rec->data,
                        .data_size = rec->data_size,
                };
                k = eventlog_decode_startup_locality(e);
                if (k >= 0 && log->startup_locality < 0)
                        log->startup_locality = k;
                if (rec->type == EV_EFI_HCRTM_EVENT)
                        log->has_hcrtm = true;
        }

        p->n_events++;
        p->n_digests += rec->n_digests;
        p->index++;
        return 0;
}

static int parser_walk(Parser *p) {
        size_t offset;
        Record rec;
        int r;

        p->index = p->n_events = p->n_digests = 0;

        r = read_sha1_record(p, 0, &rec);
        if (r < 0)
                return r;
        r = parse_header(p, &rec);
        if (r < 0)
                return r;
        r = add_record(p, &rec);
        if (r < 0)
                return r;
        offset = SHA1_RECORD_HEADER_SIZE + (size_t) rec.data_size;

        while (offset < p->size) {
                if (p->index >= EVENTLOG_EVENTS_MAX)
                        return parse_fail(p, -E2BIG, offset, "more than %u events", EVENTLOG_EVENTS_MAX);

                if (p->log->format == EVENTLOG_FORMAT_CRYPTO_AGILE)
                        r = read_agile_record(p, offset, &rec);
                else
                        r = read_sha1_record(p, offset, &rec);
                if (r < 0)
                        return r;
                r = add_record(p, &rec);
                if (r < 0)
                        return r;
                offset = (size_t) (rec.data - p->data) + rec.data_size;
        }
        return 0;
}

int eventlog_parse(const uint8_t *data, size_t size, EventLog **ret, char **reterr_message) {
        _cleanup_(eventlog_freep) EventLog *log = NULL;
        Parser p = {};
        int r;

        assert(data || size == 0);
        assert(ret);

        if (size == 0) {
                if (reterr_message) {
                        *reterr_message = strdup("offset 0: empty event log");
                        if (!*reterr_message)
                                return -ENOMEM;
                }
                return log_debug_errno(-ENODATA, "Rejecting empty event log.");
        }

        log = calloc(1, sizeof(EventLog));
        if (!log)
                return -ENOMEM;
        log->startup_locality = -1;
        log->buffer = malloc(size);
        if (!log->buffer)
                return -ENOMEM;
        memcpy(log->buffer, data, size);
        log->size = size;

        p = (Parser) { .data = log->buffer, .size = size, .log = log };
        r = parser_walk(&p);
        if (r < 0) {
                if (reterr_message)
                        *reterr_message = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        log->events = calloc(p.n_events, sizeof(EventLogEvent));
        log->digests = calloc(MAX(p.n_digests, (size_t) 1), sizeof(EventLogDigest));
        if (!log->events || !log->digests)
                return -ENOMEM;

        p.fill = true;
        r = parser_walk(&p);
        free(p.error);
        if (r < 0)      /* cannot happen: the first pass accepted the same bytes */
                return r;
        log->n_events = p.n_events;
        log->n_digests = p.n_digests;

        log_debug("Parsed %s event log: %zu bytes, %zu events.",
                  eventlog_format_to_string(log->format), size, log->n_events);
        *ret = TAKE_PTR(log);
        return 0;
}

EventLog *eventlog_free(EventLog *log) {
        if (!log)
                return NULL;
        free(log->events);
        free(log->digests);
        free(log->buffer);
        free(log);
        return NULL;
}

EventLogFormat eventlog_format(const EventLog *log) {
        return log->format;
}

const char *eventlog_format_to_string(EventLogFormat f) {
        switch (f) {
        case EVENTLOG_FORMAT_SHA1:
                return "legacy-sha1";
        case EVENTLOG_FORMAT_CRYPTO_AGILE:
                return "crypto-agile";
        default:
                return NULL;
        }
}

size_t eventlog_n_events(const EventLog *log) {
        return log->n_events;
}

const EventLogEvent *eventlog_event(const EventLog *log, size_t i) {
        return i < log->n_events ? &log->events[i] : NULL;
}

const EventLogAlgorithm *eventlog_algorithms(const EventLog *log, size_t *ret_n) {
        *ret_n = log->n_algorithms;
        return log->algorithms;
}

const EventLogSpecId *eventlog_spec_id(const EventLog *log) {
        return log->format == EVENTLOG_FORMAT_CRYPTO_AGILE ? &log->spec_id : NULL;
}

int eventlog_startup_locality(const EventLog *log) {
        return log->startup_locality >= 0 ? log->startup_locality : -ENODATA;
}

static const EventLogDigest *find_digest(const EventLogEvent *e, uint16_t alg) {
        for (size_t i = 0; i < e->n_digests; i++)
                if (e->digests[i].alg == alg)
                        return &e->digests[i];
        return NULL;
}

int eventlog_replay(const EventLog *log, PcrSet *ret) {
        uint32_t unexplained[PCR_BANKS_MAX] = {};
        PcrSet set = {};
        uint8_t locality;
        int r;

        assert(log);
        assert(ret);

        /* PC Client PFP: PCR0 is reset to the locality the TPM was started from; an H-CRTM
         * without a StartupLocality event implies locality 4. */
        locality = log->startup_locality >= 0 ? (uint8_t) log->startup_locality : log->has_hcrtm ? 4 : 0;

        for (size_t i = 0; i < log->n_algorithms; i++) {
                PcrBank *b;

                if (!tpm_alg_hash_available(log->algorithms[i].alg))
                        continue;
                r = pcr_set_add_bank(&set, log->algorithms[i].alg, &b);
                if (r < 0)
                        return r;
                b->values[0][b->digest_size - 1] = locality;
        }

        for (size_t i = 0; i < log->n_events; i++) {
                const EventLogEvent *e = &log->events[i];

                if (e->type == EV_NO_ACTION)
                        continue;
                for (size_t b = 0; b < set.n_banks; b++) {
                        const EventLogDigest *d = find_digest(e, set.banks[b].alg);

                        if (!d) {
                                unexplained[b] |= UINT32_C(1) << e->pcr;
                                continue;
                        }
                        r = pcr_bank_extend(&set.banks[b], e->pcr, d->data, d->size);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to extend PCR %" PRIu32 " of event %zu: %m",
                                                       e->pcr, e->index);
                }
        }

        /* A PCR extended by an event that lacks this bank's digest has an unknown value. */
        for (size_t b = 0; b < set.n_banks; b++)
                set.banks[b].present_mask &= ~unexplained[b];

        *ret = set;
        return 0;
}

/* ---- names and decoders ---- */

typedef struct EventTypeName {
        uint32_t type;
        const char *name;
} EventTypeName;

static const EventTypeName event_type_names[] = {
        { 0x00000000, "EV_PREBOOT_CERT" },
        { 0x00000001, "EV_POST_CODE" },
        { 0x00000002, "EV_UNUSED" },
        { 0x00000003, "EV_NO_ACTION" },
        { 0x00000004, "EV_SEPARATOR" },
        { 0x00000005, "EV_ACTION" },
        { 0x00000006, "EV_EVENT_TAG" },
        { 0x00000007, "EV_S_CRTM_CONTENTS" },
        { 0x00000008, "EV_S_CRTM_VERSION" },
        { 0x00000009, "EV_CPU_MICROCODE" },
        { 0x0000000A, "EV_PLATFORM_CONFIG_FLAGS" },
        { 0x0000000B, "EV_TABLE_OF_DEVICES" },
        { 0x0000000C, "EV_COMPACT_HASH" },
        { 0x0000000D, "EV_IPL" },
        { 0x0000000E, "EV_IPL_PARTITION_DATA" },
        { 0x0000000F, "EV_NONHOST_CODE" },
        { 0x00000010, "EV_NONHOST_CONFIG" },
        { 0x00000011, "EV_NONHOST_INFO" },
        { 0x00000012, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { 0x00000013, "EV_POST_CODE2" },
        { 0x80000000, "EV_EFI_EVENT_BASE" },
        { 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { 0x80000002, "EV_EFI_VARIABLE_BOOT" },
        { 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { 0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { 0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { 0x80000006, "EV_EFI_GPT_EVENT" },
        { 0x80000007, "EV_EFI_ACTION" },
        { 0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { 0x80000009, "EV_EFI_HANDOFF_TABLES" },
        { 0x8000000A, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        { 0x8000000B, "EV_EFI_HANDOFF_TABLES2" },
        { 0x8000000C, "EV_EFI_VARIABLE_BOOT2" },
        { 0x8000000D, "EV_EFI_GPT_EVENT2" },
        { 0x80000010, "EV_EFI_HCRTM_EVENT" },
        { 0x800000E0, "EV_EFI_VARIABLE_AUTHORITY" },
        { 0x800000E1, "EV_EFI_SPDM_FIRMWARE_BLOB" },
        { 0x800000E2, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
        { 0x800000E3, "EV_EFI_SPDM_DEVICE_POLICY" },
        { 0x800000E4, "EV_EFI_SPDM_DEVICE_AUTHORITY" },
};

const char *eventlog_event_type_to_string(uint32_t type) {
        for (size_t i = 0; i < ELEMENTSOF(event_type_names); i++)
                if (event_type_names[i].type == type)
                        return event_type_names[i].name;
        return NULL;
}

char *eventlog_guid_to_string(const uint8_t guid[16], char buf[EVENTLOG_GUID_STRING_MAX]) {
        /* EFI_GUID: three little-endian fields, then eight bytes in order. */
        snprintf(buf, EVENTLOG_GUID_STRING_MAX, "%08" PRIX32 "-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                 le32(guid), le16(guid + 4), le16(guid + 6), guid[8], guid[9],
                 guid[10], guid[11], guid[12], guid[13], guid[14], guid[15]);
        return buf;
}

static size_t utf8_put(char *out, uint32_t c) {
        if (c < 0x80) {
                out[0] = (char) c;
                return 1;
        }
        if (c < 0x800) {
                out[0] = (char) (0xc0 | c >> 6);
                out[1] = (char) (0x80 | (c & 0x3f));
                return 2;
        }
        if (c < 0x10000) {
                out[0] = (char) (0xe0 | c >> 12);
                out[1] = (char) (0x80 | (c >> 6 & 0x3f));
                out[2] = (char) (0x80 | (c & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | c >> 18);
        out[1] = (char) (0x80 | (c >> 12 & 0x3f));
        out[2] = (char) (0x80 | (c >> 6 & 0x3f));
        out[3] = (char) (0x80 | (c & 0x3f));
        return 4;
}

int eventlog_utf16_to_utf8(const uint8_t *data, size_t size, char **ret) {
        size_t n = size / 2, k = 0;
        char *s;

        if (size % 2 != 0)
                return -EBADMSG;

        /* Each unit gives at most 3 bytes; a surrogate pair (2 units) gives 4. */
        s = malloc(n * 3 + 1);
        if (!s)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                uint32_t c = le16(data + 2 * i);

                if (c == 0)
                        break;
                if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
                        uint32_t lo = le16(data + 2 * (i + 1));

                        if (lo >= 0xdc00 && lo <= 0xdfff) {
                                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                                i++;
                        } else
                                c = 0xfffd;
                } else if (c >= 0xd800 && c <= 0xdfff)
                        c = 0xfffd;
                k += utf8_put(s + k, c);
        }
        s[k] = '\0';
        *ret = s;
        return 0;
}

/* Printable UTF-8 text: no NUL or other control characters except tab and newlines. */
static bool is_text(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n;) {
                size_t len;

                if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
                        return false;
                if (s[i] == 0x7f)
                        return false;
                len = utf8_sequence_length(s + i, n - i);
                if (len == 0)
                        return false;
                i += len;
        }
        return true;
}

int eventlog_decode_string(const uint8_t *data, size_t size, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t n = size;
        int r;

        /* "a\0b\0..." is UTF-16LE (systemd-boot, S-CRTM versions); grub and most firmware
         * strings are 8-bit, optionally NUL-terminated. */
        if (size >= 2 && size % 2 == 0 && data[0] != 0 && data[1] == 0) {
                r = eventlog_utf16_to_utf8(data, size, &s);
                if (r < 0)
                        return r;
                if (!is_text((const uint8_t *) s, strlen(s)))
                        return -EBADMSG;
                *ret = TAKE_PTR(s);
                return 0;
        }

        while (n > 0 && data[n - 1] == 0)
                n--;
        if (!is_text(data, n))
                return -EBADMSG;
        s = strndup((const char *) data, n);
        if (!s)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int eventlog_decode_variable(const uint8_t *data, size_t size, EventLogVariable *ret) {
        /* UEFI_VARIABLE_DATA: GUID, UINT64 name length in CHAR16s, UINT64 data length, name, data */
        uint64_t name_len, data_len;
        size_t rest;
        char *name;
        int r;

        if (size < 32)
                return -EBADMSG;
        name_len = le64(data + 16);
        data_len = le64(data + 24);
        if (name_len > (size - 32) / 2)
                return -EBADMSG;
        rest = size - 32 - 2 * (size_t) name_len;
        if (data_len > rest)
                return -EBADMSG;

        r = eventlog_utf16_to_utf8(data + 32, 2 * (size_t) name_len, &name);
        if (r < 0)
                return r;

        *ret = (EventLogVariable) {
                .name = name,
                .data = data + 32 + 2 * (size_t) name_len,
                .data_size = (size_t) data_len,
        };
        memcpy(ret->guid, data, 16);
        return 0;
}

void eventlog_variable_done(EventLogVariable *v) {
        free(v->name);
        *v = (EventLogVariable) {};
}

int eventlog_decode_startup_locality(const EventLogEvent *e) {
        /* TCG_EfiStartupLocalityEvent: signature, then one byte of locality. */
        if (e->type != EV_NO_ACTION || e->data_size < 17 ||
            memcmp(e->data, startup_locality_signature, 16) != 0)
                return -ENODATA;
        return e->data[16];
}
