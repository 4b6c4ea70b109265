/* SPDX-License-Identifier: MIT */
/* Unit tests for eventlog.c and eventlog-json.c: every log in tests/testdata/eventlogs
 * against INDEX.json and its .expected.json, plus broken variants built in memory. */
#include <check.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "check-main.h"
#include "eventlog-json.h"
#include "eventlog.h"
#include "file-test-util.h"
#include "pcrs.h"

#define EVENTLOGS TESTDATA "/eventlogs"
#define OVMF_LOG EVENTLOGS "/uefi-ovmf-swtpm-directkernel/binary_bios_measurements.bin"
#define SERVICES_LOG EVENTLOGS "/tpm2-tools/event-uefiservices.bin"  /* Spec ID (sha1, sha256) + 1 event */
#define NUC_LOG EVENTLOGS "/tpm2-tools/event-uefi-sha1-log.bin"      /* legacy SHA-1 */

static struct json_object *index_logs;  /* INDEX.json "logs", loaded before forking */

static void read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        *ret = (uint8_t *) tu_read_file(path, ret_size);
}

static struct json_object *get(struct json_object *o, const char *key) {
        struct json_object *v = NULL;

        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Parses DATA, expecting failure with ERROR and a message that contains WHAT. */
static void assert_rejected(const uint8_t *data, size_t size, int error, const char *what) {
        EventLog *log = NULL;
        char *msg = NULL;
        int r;

        r = eventlog_parse(data, size, &log, &msg);
        ck_assert_msg(r == error, "expected %d, got %d (%s) for \"%s\"", error, r, strna(msg), what);
        ck_assert_ptr_null(log);
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strncmp(msg, "offset ", 7) == 0, "message without offset: %s", msg);
        ck_assert_msg(strstr(msg, what), "message \"%s\" lacks \"%s\"", msg, what);
        free(msg);
}

/* ---- INDEX.json table ---- */

static void check_pcrs(const PcrSet *set, struct json_object *banks, const char *path) {
        json_object_object_foreach(banks, bank_name, values) {
                int alg = tpm_alg_from_name(bank_name);
                const PcrBank *b;

                ck_assert_int_ge(alg, 0);
                b = pcr_bank_find_const(set, (uint16_t) alg);
                ck_assert_msg(b, "%s: no %s bank in replay", path, bank_name);
                json_object_object_foreach(values, index, hex) {
                        char mine[PCR_HEX_MAX];
                        unsigned pcr = (unsigned) atoi(index);

                        ck_assert_msg(pcr_bank_has(b, pcr), "%s: %s PCR %u not replayed", path, bank_name, pcr);
                        pcr_hex(b->values[pcr], b->digest_size, mine);
                        ck_assert_msg(streq(mine, json_object_get_string(hex)),
                                      "%s: %s PCR %u: replay %s, expected %s", path, bank_name, pcr, mine,
                                      json_object_get_string(hex));
                }
        }
}

/* Builds the "TPM" side of a comparison from expected.json values. */
static void pcrs_from_json(struct json_object *banks, PcrSet *ret) {
        PcrSet set = {};

        json_object_object_foreach(banks, bank_name, values) {
                PcrBank *b;

                ck_assert_int_eq(pcr_set_add_bank(&set, (uint16_t) tpm_alg_from_name(bank_name), &b), 0);
                json_object_object_foreach(values, index, hex) {
                        uint8_t v[PCR_DIGEST_MAX];

                        ck_assert_int_eq(pcr_unhex(json_object_get_string(hex), v, b->digest_size), 0);
                        ck_assert_int_eq(pcr_bank_set(b, (unsigned) atoi(index), v, b->digest_size), 0);
                }
        }
        *ret = set;
}

static void check_renderers(const EventLog *log) {
        struct json_object *o = NULL;
        char *text = NULL;
        size_t text_size = 0;
        FILE *f;

        ck_assert_int_eq(eventlog_json_events(log, EVENTLOG_JSON_DATA, &o), 0);
        ck_assert_uint_eq(json_object_array_length(get(o, "events")), eventlog_n_events(log));
        json_object_put(o);

        f = open_memstream(&text, &text_size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(eventlog_text_events(log, f), 0);
        fclose(f);
        ck_assert(strstr(text, "#0 PCR "));
        free(text);
}

START_TEST(test_index_log) {
        struct json_object *entry = json_object_array_get_idx(index_logs, (size_t) _i), *expected = NULL;
        const char *rel = json_object_get_string(get(entry, "path"));
        const char *expect = json_object_get_string(get(entry, "expect"));
        char path[PATH_MAX], exp_path[PATH_MAX];
        EventLog *log = NULL;
        uint8_t *data = NULL;
        char *msg = NULL;
        size_t size, n_algs;
        const EventLogAlgorithm *algs;
        struct json_object *banks;
        PcrSet replay;
        int r;

        snprintf(path, sizeof(path), "%s/%s", EVENTLOGS, rel);
        snprintf(exp_path, sizeof(exp_path), "%s/%s", EVENTLOGS, json_object_get_string(get(entry, "expected")));
        read_file(path, &data, &size);
        ck_assert_uint_eq(size, (size_t) json_object_get_int64(get(entry, "bytes")));
        expected = json_object_from_file(exp_path);
        ck_assert_ptr_nonnull(expected);
        ck_assert_str_eq(json_object_get_string(get(expected, "expect")), expect);

        r = eventlog_parse(data, size, &log, &msg);
        if (streq(expect, "parse-error")) {
                ck_assert_msg(r < 0, "%s: accepted", path);
                ck_assert_ptr_nonnull(msg);
                ck_assert_msg(strncmp(msg, "offset ", 7) == 0, "%s: %s", path, msg);
                goto finish;
        }
        ck_assert_msg(r == 0, "%s: %d %s", path, r, strna(msg));

        /* Record count (Spec ID record included), format and banks as INDEX.json states them. */
        ck_assert_uint_eq(eventlog_n_events(log), (size_t) json_object_get_int64(get(entry, "events")));
        ck_assert_str_eq(eventlog_format_to_string(eventlog_format(log)),
                         json_object_get_string(get(entry, "format")));
        banks = get(entry, "banks");
        algs = eventlog_algorithms(log, &n_algs);
        ck_assert_uint_eq(n_algs, json_object_array_length(banks));
        for (size_t i = 0; i < n_algs; i++)
                ck_assert_str_eq(tpm_alg_to_name(algs[i].alg),
                                 json_object_get_string(json_object_array_get_idx(banks, i)));
        if (get(entry, "pcr0_initial_locality"))
                ck_assert_int_eq(eventlog_startup_locality(log),
                                 json_object_get_int(get(entry, "pcr0_initial_locality")));

        ck_assert_int_eq(eventlog_replay(log, &replay), 0);
        check_renderers(log);

        if (streq(expect, "match"))
                check_pcrs(&replay, get(expected, "pcrs"), path);
        else if (streq(expect, "mismatch-pcr5")) {
                PcrMismatch *m = NULL;
                PcrSet tpm;

                /* A plain replay gives plain_replay_pcrs, and the comparison with the machine's TPM
                 * values must flag PCR5 and nothing else. */
                check_pcrs(&replay, get(expected, "plain_replay_pcrs"), path);
                pcrs_from_json(get(expected, "pcrs"), &tpm);
                ck_assert_int_eq(pcr_set_compare(&replay, &tpm, &m), 1);
                ck_assert_uint_eq(m[0].pcr, 5);
                ck_assert_uint_eq(m[0].alg, TPM_ALG_SHA1);
                ck_assert_mem_eq(m[0].read, tpm.banks[0].values[5], 20);
                ck_assert_mem_eq(m[0].replayed, pcr_bank_find(&replay, TPM_ALG_SHA1)->values[5], 20);
                free(m);
        } else
                ck_assert_str_eq(expect, "parse-ok");

finish:
        eventlog_free(log);
        json_object_put(expected);
        free(msg);
        free(data);
}
END_TEST

/* ---- building logs in memory ---- */

typedef struct Builder {
        uint8_t buf[4096];
        size_t size;
} Builder;

static void put(Builder *b, const void *p, size_t n) {
        ck_assert_uint_le(b->size + n, sizeof(b->buf));
        memcpy(b->buf + b->size, p, n);
        b->size += n;
}

static void put8(Builder *b, uint8_t v) {
        put(b, &v, 1);
}

static void put16(Builder *b, uint16_t v) {
        put8(b, (uint8_t) v);
        put8(b, (uint8_t) (v >> 8));
}

static void put32(Builder *b, uint32_t v) {
        put16(b, (uint16_t) v);
        put16(b, (uint16_t) (v >> 16));
}

/* Spec ID Event03 header record for N algorithms (alg, size pairs). */
static void put_spec_id(Builder *b, size_t n, const uint16_t algs[][2]) {
        static const uint8_t zero[20];

        put32(b, 0);
        put32(b, EV_NO_ACTION);
        put(b, zero, 20);
        put32(b, (uint32_t) (28 + 4 * n + 1));
        put(b, "Spec ID Event03", 16);
        put32(b, 0);                                    /* platform class */
        put8(b, 0);                                     /* minor */
        put8(b, 2);                                     /* major */
        put8(b, 0);                                     /* errata */
        put8(b, 2);                                     /* uintnSize */
        put32(b, (uint32_t) n);
        for (size_t i = 0; i < n; i++) {
                put16(b, algs[i][0]);
                put16(b, algs[i][1]);
        }
        put8(b, 0);                                     /* vendorInfoSize */
}

/* TCG_PCR_EVENT2 with digests filled with FILL for each of the N algorithms. */
static void put_event2(Builder *b, uint32_t pcr, uint32_t type, size_t n, const uint16_t algs[][2],
                       uint8_t fill, const void *data, uint32_t data_size) {
        uint8_t digest[PCR_DIGEST_MAX];

        memset(digest, fill, sizeof(digest));
        put32(b, pcr);
        put32(b, type);
        put32(b, (uint32_t) n);
        for (size_t i = 0; i < n; i++) {
                put16(b, algs[i][0]);
                put(b, digest, algs[i][1]);
        }
        put32(b, data_size);
        put(b, data, data_size);
}

static void expected_extend(const char *md, size_t size, uint8_t initial_last, uint8_t fill, uint8_t ret[]) {
        uint8_t in[2 * PCR_DIGEST_MAX] = {};
        unsigned n = 0;

        in[size - 1] = initial_last;
        memset(in + size, fill, size);
        ck_assert_int_eq(EVP_Digest(in, 2 * size, ret, &n, EVP_get_digestbyname(md), NULL), 1);
        ck_assert_uint_eq(n, size);
}

static const uint16_t algs_sha1_sha256[][2] = { { TPM_ALG_SHA1, 20 }, { TPM_ALG_SHA256, 32 } };

/* ---- malformed input ---- */

START_TEST(test_empty) {
        EventLog *log = NULL;
        char *msg = NULL;

        ck_assert_int_eq(eventlog_parse(NULL, 0, &log, &msg), -ENODATA);
        ck_assert_ptr_null(log);
        ck_assert_str_eq(msg, "offset 0: empty event log");
        free(msg);
        /* The message is optional. */
        ck_assert_int_eq(eventlog_parse((const uint8_t *) "", 0, &log, NULL), -ENODATA);
}
END_TEST

/* Cutting a log anywhere but at a record boundary must fail cleanly; at a boundary it is a
 * shorter valid log. */
static void truncate_everywhere(const char *path) {
        EventLog *full = NULL;
        uint8_t *data;
        size_t size;

        read_file(path, &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &full, NULL), 0);

        for (size_t cut = 1; cut < size; cut++) {
                size_t boundary = SIZE_MAX;
                EventLog *log = NULL;
                char *msg = NULL;
                int r;

                for (size_t i = 1; i < eventlog_n_events(full); i++)
                        if (eventlog_event(full, i)->offset == cut)
                                boundary = i;

                /* A fresh allocation of exactly CUT bytes, so ASan sees any over-read. */
                uint8_t *copy = malloc(cut);
                ck_assert_ptr_nonnull(copy);
                memcpy(copy, data, cut);
                r = eventlog_parse(copy, cut, &log, &msg);
                if (boundary != SIZE_MAX) {
                        ck_assert_msg(r == 0, "%s cut at %zu: %d %s", path, cut, r, strna(msg));
                        ck_assert_uint_eq(eventlog_n_events(log), boundary);
                } else {
                        ck_assert_msg(r == -EBADMSG, "%s cut at %zu: %d", path, cut, r);
                        ck_assert_msg(strncmp(msg, "offset ", 7) == 0, "%s", msg);
                }
                eventlog_free(log);
                free(msg);
                free(copy);
        }
        eventlog_free(full);
        free(data);
}

START_TEST(test_truncate_agile) {
        truncate_everywhere(SERVICES_LOG);
        truncate_everywhere(OVMF_LOG);
}
END_TEST

START_TEST(test_truncate_legacy) {
        truncate_everywhere(NUC_LOG);
}
END_TEST

/* A 32-bit little-endian overwrite, a byte overwrite, or bytes appended; applied to a copy of a
 * real log. Offsets refer to event-uefiservices.bin: Spec ID data at 32 (numberOfAlgorithms at 56,
 * algorithms at 60 and 64, vendorInfoSize at 68); event 1 at 69 (digest count at 77, sha1 at 81,
 * sha256 at 103, event size at 137). */
typedef struct Mutation {
        const char *path;
        size_t offset;
        enum { SET32, SET16, SET8, APPEND } op;
        uint32_t value;
        size_t append_size;
        int error;
        const char *what;
} Mutation;

static const Mutation mutations[] = {
        { SERVICES_LOG, 137, SET32, 0xffffffff, 0, -EBADMSG, "offset 137: event 1: event data size 4294967295 exceeds remaining 84 bytes" },
        { SERVICES_LOG, 28, SET32, 0xffffffff, 0, -EBADMSG, "offset 28: event 0: event data size 4294967295 exceeds remaining 193 bytes" },
        { SERVICES_LOG, 77, SET32, 0xffffffff, 0, -EBADMSG, "offset 77: event 1: digest count 4294967295 does not match" },
        { SERVICES_LOG, 77, SET32, 0, 0, -EBADMSG, "digest count 0 does not match the 2 algorithms" },
        { SERVICES_LOG, 77, SET32, 3, 0, -EBADMSG, "digest count 3 does not match" },
        { SERVICES_LOG, 81, SET16, 0x0099, 0, -EBADMSG, "offset 81: event 1: digest algorithm 0x0099 is not in the Spec ID event" },
        { SERVICES_LOG, 103, SET16, TPM_ALG_SHA1, 0, -EBADMSG, "offset 103: event 1: duplicate sha1 digest" },
        { SERVICES_LOG, 69, SET32, 24, 0, -EBADMSG, "offset 69: event 1: PCR index 24 out of range" },
        { SERVICES_LOG, 69, SET32, 0x80000000, 0, -EBADMSG, "PCR index 2147483648 out of range" },
        { SERVICES_LOG, 53, SET8, 3, 0, -EPROTONOSUPPORT, "offset 52: event 0: unknown Spec ID version 3.0" },
        { SERVICES_LOG, 52, SET8, 1, 0, -EPROTONOSUPPORT, "unknown Spec ID version 2.1" },
        { SERVICES_LOG, 46, SET8, '4', 0, -EPROTONOSUPPORT, "offset 32: event 0: unknown Spec ID version \"Spec ID Event04?\"" },
        { SERVICES_LOG, 55, SET8, 3, 0, -EBADMSG, "offset 55: event 0: Spec ID event: invalid uintnSize 3" },
        { SERVICES_LOG, 56, SET32, 0, 0, -EBADMSG, "algorithm count 0 out of range 1..16" },
        { SERVICES_LOG, 56, SET32, 0xffffffff, 0, -EBADMSG, "algorithm count 4294967295 out of range" },
        { SERVICES_LOG, 56, SET32, 3, 0, -EBADMSG, "offset 56: event 0: Spec ID event: 3 algorithms need 41 bytes, event data has 37" },
        { SERVICES_LOG, 66, SET16, 20, 0, -EBADMSG, "offset 66: event 0: Spec ID event: sha256 digest size 20, expected 32" },
        { SERVICES_LOG, 66, SET16, 0, 0, -EBADMSG, "sha256 digest size 0 out of range 1..64" },
        { SERVICES_LOG, 64, SET32, 0x00410099, 0, -EBADMSG, "Spec ID event: 0x0099 digest size 65 out of range 1..64" },
        { SERVICES_LOG, 64, SET32, 0x00140004, 0, -EBADMSG, "offset 64: event 0: Spec ID event: algorithm sha1 listed twice" },
        { SERVICES_LOG, 68, SET8, 1, 0, -EBADMSG, "offset 68: event 0: Spec ID event: vendor info size 1 exceeds the remaining 0 bytes" },
        { SERVICES_LOG, 28, SET32, 20, 0, -EBADMSG, "offset 32: event 0: Spec ID event: 20 bytes, shorter than its 28 byte header" },
        { SERVICES_LOG, 0, APPEND, 0, 1, -EBADMSG, "offset 225: event 2: truncated event header: 1 of 12 bytes" },
        { SERVICES_LOG, 0, APPEND, 0, 11, -EBADMSG, "truncated event header: 11 of 12 bytes" },
        { SERVICES_LOG, 0, APPEND, 0xff, 64, -EBADMSG, "offset 233: event 2: digest count 4294967295" },
        { SERVICES_LOG, 0, APPEND, 0x00, 64, -EBADMSG, "offset 233: event 2: digest count 0" },
        { NUC_LOG, 28, SET32, 0xfffffff0, 0, -EBADMSG, "offset 28: event 0: event data size 4294967280 exceeds remaining" },
        { NUC_LOG, 0, SET32, 99, 0, -EBADMSG, "offset 0: event 0: PCR index 99 out of range 0..23" },
        { NUC_LOG, 0, APPEND, 0, 10, -EBADMSG, "offset 9870: event 17: truncated event header: 10 of 32 bytes" },
        { NUC_LOG, 0, APPEND, 0xff, 40, -EBADMSG, "offset 9898: event 17: event data size 4294967295 exceeds remaining 8 bytes" },
};

START_TEST(test_mutation) {
        const Mutation *m = &mutations[_i];
        uint8_t *data, *copy;
        size_t size;

        read_file(m->path, &data, &size);
        copy = calloc(1, size + m->append_size);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, size);
        switch (m->op) {
        case SET32:
                for (size_t k = 0; k < 4; k++)
                        copy[m->offset + k] = (uint8_t) (m->value >> (8 * k));
                break;
        case SET16:
                copy[m->offset] = (uint8_t) m->value;
                copy[m->offset + 1] = (uint8_t) (m->value >> 8);
                break;
        case SET8:
                copy[m->offset] = (uint8_t) m->value;
                break;
        case APPEND:
                memset(copy + size, (int) m->value, m->append_size);
                break;
        }
        assert_rejected(copy, size + m->append_size, m->error, m->what);
        free(copy);
        free(data);
}
END_TEST

START_TEST(test_spec_id_trailing_bytes) {
        Builder b = {};

        put_spec_id(&b, 2, algs_sha1_sha256);
        /* One byte beyond the vendor info, inside the record. */
        b.buf[28]++;
        put8(&b, 0xaa);
        assert_rejected(b.buf, b.size, -EBADMSG, "offset 69: event 0: Spec ID event: 1 trailing bytes after the vendor info");
}
END_TEST

START_TEST(test_data_size_limit) {
        size_t size = 32 + EVENTLOG_EVENT_DATA_MAX + 1;
        uint8_t *data = calloc(1, size);

        ck_assert_ptr_nonnull(data);
        data[4] = 0x01;                                 /* EV_POST_CODE, PCR 0 */
        data[28] = 0x01, data[29] = 0x00, data[30] = 0x00, data[31] = 0x01;  /* 16 MiB + 1 */
        assert_rejected(data, size, -E2BIG, "offset 28: event 0: event data size 16777217 exceeds the limit of 16777216 bytes");
        free(data);
}
END_TEST

START_TEST(test_event_count_limit) {
        size_t n = EVENTLOG_EVENTS_MAX + 1, size = 32 * n;
        uint8_t *data = calloc(1, size);
        char what[64];

        ck_assert_ptr_nonnull(data);
        for (size_t i = 0; i < n; i++)
                data[32 * i + 4] = 0x01;                /* EV_POST_CODE, no data */
        snprintf(what, sizeof(what), "offset %zu: event %u: more than %u events", 32 * (n - 1),
                 EVENTLOG_EVENTS_MAX, EVENTLOG_EVENTS_MAX);
        assert_rejected(data, size, -E2BIG, what);
        /* One fewer is fine. */
        EventLog *log = NULL;
        ck_assert_int_eq(eventlog_parse(data, size - 32, &log, NULL), 0);
        ck_assert_uint_eq(eventlog_n_events(log), EVENTLOG_EVENTS_MAX);
        eventlog_free(log);
        free(data);
}
END_TEST

START_TEST(test_no_action_any_pcr) {
        Builder b = {};
        EventLog *log = NULL;
        PcrSet set;

        /* EV_NO_ACTION records are not extended, so their PCR index may be anything (0xffffffff
         * appears in real legacy logs). */
        put_spec_id(&b, 2, algs_sha1_sha256);
        put_event2(&b, 0xffffffff, EV_NO_ACTION, 2, algs_sha1_sha256, 0, "x", 1);
        ck_assert_int_eq(eventlog_parse(b.buf, b.size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        ck_assert_uint_eq(set.n_banks, 2);
        ck_assert_uint_eq(set.banks[0].present_mask | set.banks[1].present_mask, 0);
        eventlog_free(log);
}
END_TEST

/* ---- replay rules ---- */

START_TEST(test_replay_hcrtm) {
        Builder b = {};
        EventLog *log = NULL;
        uint8_t want[32];
        PcrSet set;

        put_spec_id(&b, 2, algs_sha1_sha256);
        put_event2(&b, 0, EV_EFI_HCRTM_EVENT, 2, algs_sha1_sha256, 0x11, "HCRTM", 5);
        ck_assert_int_eq(eventlog_parse(b.buf, b.size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_startup_locality(log), -ENODATA);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        expected_extend("SHA256", 32, 4, 0x11, want);
        ck_assert_mem_eq(pcr_bank_find(&set, TPM_ALG_SHA256)->values[0], want, 32);
        expected_extend("SHA1", 20, 4, 0x11, want);
        ck_assert_mem_eq(pcr_bank_find(&set, TPM_ALG_SHA1)->values[0], want, 20);
        eventlog_free(log);
}
END_TEST

START_TEST(test_replay_startup_locality) {
        static const uint8_t locality[17] = "StartupLocality\0\3";
        Builder b = {};
        EventLog *log = NULL;
        uint8_t want[32];
        PcrSet set;

        /* StartupLocality wins over the H-CRTM default; other PCRs start at zero. */
        put_spec_id(&b, 2, algs_sha1_sha256);
        put_event2(&b, 0, EV_NO_ACTION, 2, algs_sha1_sha256, 0, locality, sizeof(locality));
        put_event2(&b, 0, EV_EFI_HCRTM_EVENT, 2, algs_sha1_sha256, 0x22, "HCRTM", 5);
        put_event2(&b, 3, EV_POST_CODE, 2, algs_sha1_sha256, 0x33, "", 0);
        ck_assert_int_eq(eventlog_parse(b.buf, b.size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_startup_locality(log), 3);
        ck_assert_int_eq(eventlog_decode_startup_locality(eventlog_event(log, 1)), 3);
        ck_assert_int_eq(eventlog_decode_startup_locality(eventlog_event(log, 2)), -ENODATA);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        expected_extend("SHA256", 32, 3, 0x22, want);
        ck_assert_mem_eq(pcr_bank_find(&set, TPM_ALG_SHA256)->values[0], want, 32);
        expected_extend("SHA256", 32, 0, 0x33, want);
        ck_assert_mem_eq(pcr_bank_find(&set, TPM_ALG_SHA256)->values[3], want, 32);
        ck_assert_uint_eq(pcr_bank_find(&set, TPM_ALG_SHA256)->present_mask, (1u << 0) | (1u << 3));
        eventlog_free(log);
}
END_TEST

START_TEST(test_replay_unknown_algorithm) {
        static const uint16_t algs[][2] = { { 0x0099, 16 }, { TPM_ALG_SHA256, 32 } };
        Builder b = {};
        EventLog *log = NULL;
        uint8_t want[32];
        size_t n;
        PcrSet set;

        /* An algorithm we do not know is skipped by the size the Spec ID event gives it. */
        put_spec_id(&b, 2, algs);
        put_event2(&b, 7, EV_SEPARATOR, 2, algs, 0x44, "\0\0\0\0", 4);
        ck_assert_int_eq(eventlog_parse(b.buf, b.size, &log, NULL), 0);
        ck_assert_uint_eq(eventlog_algorithms(log, &n)[0].digest_size, 16);
        ck_assert_uint_eq(eventlog_event(log, 1)->digests[0].size, 16);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        ck_assert_uint_eq(set.n_banks, 1);
        expected_extend("SHA256", 32, 0, 0x44, want);
        ck_assert_mem_eq(set.banks[0].values[7], want, 32);
        eventlog_free(log);
}
END_TEST

START_TEST(test_replay_missing_bank) {
        uint8_t *data;
        size_t size;
        EventLog *log = NULL;
        PcrSet set;

        /* event-uefiaction.bin's Spec ID lists four banks, its event carries sha1 and sha256 only:
         * PCR4 of sha384/sha512 is unknown, not zero-extended. */
        read_file(EVENTLOGS "/tpm2-tools/event-uefiaction.bin", &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        ck_assert_uint_eq(set.n_banks, 4);
        ck_assert(pcr_bank_has(pcr_bank_find(&set, TPM_ALG_SHA256), 4));
        ck_assert(!pcr_bank_has(pcr_bank_find(&set, TPM_ALG_SHA384), 4));
        ck_assert(!pcr_bank_has(pcr_bank_find(&set, TPM_ALG_SHA512), 4));
        eventlog_free(log);
        free(data);
}
END_TEST

START_TEST(test_replay_speed) {
        uint8_t *data;
        size_t size, events = 0;
        struct timespec a, b;
        double per_event_us;
        const int rounds = 50;

        /* The largest log by record count. */
        read_file(EVENTLOGS "/keylime/binary_bios_measurements.bin", &data, &size);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int i = 0; i < rounds; i++) {
                EventLog *log = NULL;
                PcrSet set;

                ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
                ck_assert_int_eq(eventlog_replay(log, &set), 0);
                events += eventlog_n_events(log);
                eventlog_free(log);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        per_event_us = ((double) (b.tv_sec - a.tv_sec) * 1e6 + (double) (b.tv_nsec - a.tv_nsec) / 1e3) / (double) events;
        printf("parse+replay: %.2f us per event\n", per_event_us);
        ck_assert_msg(per_event_us < 100.0, "%.2f us per event", per_event_us);
        free(data);
}
END_TEST

/* ---- decoders ---- */

START_TEST(test_guid) {
        static const uint8_t efi_global[16] = {
                0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c
        };
        char buf[EVENTLOG_GUID_STRING_MAX];

        ck_assert_str_eq(eventlog_guid_to_string(efi_global, buf), "8BE4DF61-93CA-11D2-AA0D-00E098032B8C");
}
END_TEST

/* A decoder's input (SIZE bytes, NULs included), its return value and, if not NULL, its output. */
typedef struct DecodeCase {
        const char *in;
        size_t size;
        int r;
        const char *out;
} DecodeCase;

static void check_decoder(int (*decode)(const uint8_t *, size_t, char **), const DecodeCase *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char *s = NULL;
                int r = decode((const uint8_t *) t[i].in, t[i].size, &s);

                ck_assert_msg(r == t[i].r, "case %zu: %d", i, r);
                if (t[i].out)
                        ck_assert_str_eq(s, t[i].out);
                free(s);
        }
}

START_TEST(test_utf16) {
        static const DecodeCase t[] = {
                { "B\0o\0o\0t\0", 8, 0, "Boot" },
                { "d\0b\0\0\0x\0", 8, 0, "db" },                        /* stops at NUL */
                { "\xe9\0", 2, 0, "\xc3\xa9" },                         /* é */
                { "\xac\x20", 2, 0, "\xe2\x82\xac" },                   /* € */
                { "\x3d\xd8\x00\xde", 4, 0, "\xf0\x9f\x98\x80" },       /* U+1F600 via surrogates */
                { "\x3d\xd8" "A\0", 4, 0, "\xef\xbf\xbd" "A" },         /* lone high surrogate */
                { "\x00\xdc", 2, 0, "\xef\xbf\xbd" },                   /* lone low surrogate */
                { "\x3d\xd8", 2, 0, "\xef\xbf\xbd" },                   /* high surrogate at the end */
                { "", 0, 0, "" },
                { "A\0B", 3, -EBADMSG, NULL },
        };

        check_decoder(eventlog_utf16_to_utf8, t, ELEMENTSOF(t));
}
END_TEST

START_TEST(test_decode_string) {
        static const DecodeCase t[] = {
                { "grub_cmd: linux /vmlinuz", 25, 0, "grub_cmd: linux /vmlinuz" },
                { "MokList\0", 8, 0, "MokList" },
                { "Calling EFI Application from Boot Option", 40, 0, "Calling EFI Application from Boot Option" },
                { ".\0l\0i\0n\0u\0x\0\0\0", 14, 0, ".linux" },             /* UTF-16 (systemd-stub) */
                { "caf\xc3\xa9", 5, 0, "caf\xc3\xa9" },
                { "\0\0", 2, 0, "" },
                { "", 0, 0, "" },
                { "a\0b", 3, -EBADMSG, NULL },                            /* embedded NUL */
                { "\x01\x02\x03\x04", 4, -EBADMSG, NULL },                /* binary */
                { "caf\xe9", 4, -EBADMSG, NULL },                         /* Latin-1, not UTF-8 */
                { "\xc0\xaf", 2, -EBADMSG, NULL },                        /* overlong */
                { "\xed\xa0\x80", 3, -EBADMSG, NULL },                    /* encoded surrogate */
                { "\xf4\x90\x80\x80", 4, -EBADMSG, NULL },                /* above U+10FFFF */
                { "ab\xe2\x82", 4, -EBADMSG, NULL },                      /* truncated sequence */
                { "a\0\x01\0", 4, -EBADMSG, NULL },                       /* UTF-16 control character */
                { "x\x7f", 2, -EBADMSG, NULL },
        };

        check_decoder(eventlog_decode_string, t, ELEMENTSOF(t));
}
END_TEST

START_TEST(test_decode_variable) {
        uint8_t *data;
        size_t size;
        EventLog *log = NULL;
        const EventLogEvent *e;
        EventLogVariable v = {};
        char guid[EVENTLOG_GUID_STRING_MAX];
        uint8_t bad[64];

        read_file(EVENTLOGS "/tpm2-tools/event-uefivar.bin", &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
        e = eventlog_event(log, 1);
        ck_assert_uint_eq(e->type, EV_EFI_VARIABLE_DRIVER_CONFIG);
        ck_assert_str_eq(eventlog_event_type_to_string(e->type), "EV_EFI_VARIABLE_DRIVER_CONFIG");
        ck_assert_uint_eq(e->pcr, 7);
        ck_assert_int_eq(eventlog_decode_variable(e->data, e->data_size, &v), 0);
        ck_assert_str_eq(v.name, "SecureBoot");
        ck_assert_str_eq(eventlog_guid_to_string(v.guid, guid), "8BE4DF61-93CA-11D2-AA0D-00E098032B8C");
        ck_assert_uint_eq(v.data_size, 1);
        ck_assert_uint_eq(v.data[0], 1);
        eventlog_variable_done(&v);
        ck_assert_ptr_null(v.name);

        /* Malformed: too short for the header; name or data longer than the event; lengths that
         * would overflow a size_t multiplication. */
        ck_assert_int_eq(eventlog_decode_variable(e->data, 31, &v), -EBADMSG);
        memcpy(bad, e->data, MIN((size_t) e->data_size, sizeof(bad)));
        bad[16] = 17;                                   /* name: 17 CHAR16 > 32 - 32 bytes left */
        ck_assert_int_eq(eventlog_decode_variable(bad, 32 + 32, &v), -EBADMSG);
        memset(bad + 16, 0, 16);
        bad[24] = 33;                                   /* data: 33 > 32 bytes left */
        ck_assert_int_eq(eventlog_decode_variable(bad, 64, &v), -EBADMSG);
        memset(bad + 16, 0xff, 8);                      /* name length 2^64-1 */
        ck_assert_int_eq(eventlog_decode_variable(bad, 64, &v), -EBADMSG);
        memset(bad + 16, 0, 8);
        memset(bad + 24, 0xff, 8);                      /* data length 2^64-1 */
        ck_assert_int_eq(eventlog_decode_variable(bad, 64, &v), -EBADMSG);
        bad[24] = 32;                                   /* exactly fits, empty name */
        memset(bad + 25, 0, 7);
        ck_assert_int_eq(eventlog_decode_variable(bad, 64, &v), 0);
        ck_assert_str_eq(v.name, "");
        ck_assert_uint_eq(v.data_size, 32);
        eventlog_variable_done(&v);

        ck_assert_str_eq(eventlog_event_type_to_string(EV_NO_ACTION), "EV_NO_ACTION");
        ck_assert_str_eq(eventlog_event_type_to_string(EV_EFI_HCRTM_EVENT), "EV_EFI_HCRTM_EVENT");
        ck_assert_str_eq(eventlog_event_type_to_string(EV_EFI_VARIABLE_AUTHORITY), "EV_EFI_VARIABLE_AUTHORITY");
        ck_assert_ptr_null(eventlog_event_type_to_string(0x12345678));
        eventlog_free(log);
        free(data);
}
END_TEST

/* ---- rendering ---- */

static struct json_object *event_json(struct json_object *doc, size_t i) {
        return json_object_array_get_idx(get(doc, "events"), i);
}

START_TEST(test_json_events) {
        uint8_t *data;
        size_t size;
        EventLog *log = NULL;
        struct json_object *doc = NULL, *e;

        read_file(OVMF_LOG, &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_json_events(log, 0, &doc), 0);
        ck_assert_str_eq(json_object_get_string(get(doc, "format")), "crypto-agile");
        ck_assert_str_eq(json_object_get_string(get(json_object_array_get_idx(get(doc, "algorithms"), 1), "alg")), "sha256");

        e = event_json(doc, 0);
        ck_assert_str_eq(json_object_get_string(get(e, "type_name")), "EV_NO_ACTION");
        ck_assert_str_eq(json_object_get_string(get(get(e, "spec_id"), "version")), "2.0");

        e = event_json(doc, 4);                         /* SecureBoot */
        ck_assert_int_eq(json_object_get_int(get(e, "pcr")), 7);
        ck_assert_int_eq(json_object_get_int64(get(e, "type")), 0x80000001);
        ck_assert_str_eq(json_object_get_string(get(get(e, "variable"), "name")), "SecureBoot");
        ck_assert_str_eq(json_object_get_string(get(get(e, "variable"), "guid")), "8BE4DF61-93CA-11D2-AA0D-00E098032B8C");
        ck_assert_str_eq(json_object_get_string(get(get(e, "variable"), "data")), "00");
        ck_assert_str_eq(json_object_get_string(get(get(e, "digests"), "sha1")), "57cd4dc19442475aa82743484f3b1caa88e142b8");
        ck_assert_ptr_null(get(e, "data"));

        e = event_json(doc, 9);
        ck_assert_int_eq(json_object_get_int(get(e, "separator")), 0);
        e = event_json(doc, 14);
        ck_assert_str_eq(json_object_get_string(get(e, "string")), "Calling EFI Application from Boot Option");
        e = event_json(doc, 2);
        ck_assert_int_eq(json_object_get_int64(get(get(e, "blob"), "length")), 917504);
        json_object_put(doc);

        ck_assert_int_eq(eventlog_json_events(log, EVENTLOG_JSON_DATA, &doc), 0);
        ck_assert_str_eq(json_object_get_string(get(event_json(doc, 9), "data")), "00000000");
        json_object_put(doc);
        eventlog_free(log);
        free(data);
}
END_TEST

START_TEST(test_json_pcrs) {
        uint8_t *data;
        size_t size;
        EventLog *log = NULL;
        struct json_object *doc = NULL, *expected, *pcrs;
        PcrSet set;
        const char *s;

        read_file(OVMF_LOG, &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
        ck_assert_int_eq(eventlog_replay(log, &set), 0);
        ck_assert_int_eq(eventlog_json_pcrs(&set, &doc), 0);

        /* Exactly {"pcrs":{bank:{index:hex}}}, with just the PCRs the log extends. */
        ck_assert_int_eq(json_object_object_length(doc), 1);
        s = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
        ck_assert_msg(strncmp(s, "{\"pcrs\":{\"sha1\":{\"0\":\"9ca656fabf8da94dd88e874744db59bc579a4355\",\"1\":", 67) == 0, "%s", s);
        expected = json_object_from_file(EVENTLOGS "/uefi-ovmf-swtpm-directkernel/binary_bios_measurements.expected.json");
        ck_assert_ptr_nonnull(expected);
        pcrs = get(doc, "pcrs");
        ck_assert(json_object_equal(pcrs, get(expected, "pcrs")));
        json_object_put(expected);
        json_object_put(doc);
        eventlog_free(log);
        free(data);
}
END_TEST

START_TEST(test_text_and_mismatches) {
        PcrSet a = {}, b = {};
        PcrBank *ba, *bb;
        PcrMismatch *m = NULL;
        struct json_object *doc = NULL;
        uint8_t x[20] = { 0x12 }, y[20] = { 0x34 };
        char *text = NULL;
        size_t text_size = 0;
        FILE *f;
        int n;

        ck_assert_int_eq(pcr_set_add_bank(&a, TPM_ALG_SHA1, &ba), 0);
        ck_assert_int_eq(pcr_set_add_bank(&b, TPM_ALG_SHA1, &bb), 0);
        ck_assert_int_eq(pcr_bank_set(ba, 5, x, 20), 0);
        ck_assert_int_eq(pcr_bank_set(bb, 5, y, 20), 0);
        n = pcr_set_compare(&a, &b, &m);
        ck_assert_int_eq(n, 1);

        ck_assert_int_eq(eventlog_json_mismatches(m, (size_t) n, &doc), 0);
        ck_assert_str_eq(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN),
                         "[{\"pcr\":5,\"bank\":\"sha1\",\"replayed\":\"1200000000000000000000000000000000000000\","
                         "\"read\":\"3400000000000000000000000000000000000000\"}]");
        json_object_put(doc);

        f = open_memstream(&text, &text_size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(eventlog_text_mismatches(m, (size_t) n, f), 0);
        ck_assert_int_eq(eventlog_text_pcrs(&a, f), 0);
        fclose(f);
        ck_assert_str_eq(text, "PCR 5 sha1: replayed 1200000000000000000000000000000000000000, TPM 3400000000000000000000000000000000000000\n"
                               "sha1:\n   5: 1200000000000000000000000000000000000000\n");
        free(text);
        free(m);
}
END_TEST

START_TEST(test_text_events) {
        uint8_t *data;
        size_t size;
        EventLog *log = NULL;
        char *text = NULL;
        size_t text_size = 0;
        FILE *f;

        read_file(EVENTLOGS "/tpm2-tools/event-bootorder.bin", &data, &size);
        ck_assert_int_eq(eventlog_parse(data, size, &log, NULL), 0);
        f = open_memstream(&text, &text_size);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(eventlog_text_events(log, f), 0);
        fclose(f);
        ck_assert(strstr(text, "Format: crypto-agile, 104 events, banks: sha1 sha256\n"));
        ck_assert(strstr(text, "EV_EFI_VARIABLE_BOOT (0x80000002)"));
        ck_assert(strstr(text, "\"BootOrder\""));
        ck_assert(strstr(text, "    string: \"grub_cmd: "));
        ck_assert(strstr(text, "    separator: 0x00000000\n"));
        free(text);
        eventlog_free(log);
        free(data);
}
END_TEST

static Suite *eventlog_suite(size_t n_logs) {
        Suite *s = suite_create("eventlog");
        TCase *tc;

        tc = tcase_create("testdata");
        tcase_add_loop_test(tc, test_index_log, 0, (int) n_logs);
        suite_add_tcase(s, tc);

        tc = tcase_create("malformed");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_truncate_agile);
        tcase_add_test(tc, test_truncate_legacy);
        tcase_add_loop_test(tc, test_mutation, 0, (int) ELEMENTSOF(mutations));
        tcase_add_test(tc, test_spec_id_trailing_bytes);
        tcase_add_test(tc, test_data_size_limit);
        tcase_add_test(tc, test_event_count_limit);
        tcase_add_test(tc, test_no_action_any_pcr);
        suite_add_tcase(s, tc);

        tc = tcase_create("replay");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_replay_hcrtm);
        tcase_add_test(tc, test_replay_startup_locality);
        tcase_add_test(tc, test_replay_unknown_algorithm);
        tcase_add_test(tc, test_replay_missing_bank);
        tcase_add_test(tc, test_replay_speed);
        suite_add_tcase(s, tc);

        tc = tcase_create("decode");
        tcase_add_test(tc, test_guid);
        tcase_add_test(tc, test_utf16);
        tcase_add_test(tc, test_decode_string);
        tcase_add_test(tc, test_decode_variable);
        suite_add_tcase(s, tc);

        tc = tcase_create("render");
        tcase_add_test(tc, test_json_events);
        tcase_add_test(tc, test_json_pcrs);
        tcase_add_test(tc, test_text_and_mismatches);
        tcase_add_test(tc, test_text_events);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        struct json_object *index = json_object_from_file(EVENTLOGS "/INDEX.json");
        int r;

        if (!index || !json_object_object_get_ex(index, "logs", &index_logs)) {
                fprintf(stderr, "cannot read %s/INDEX.json\n", EVENTLOGS);
                return EXIT_FAILURE;
        }
        r = check_run(eventlog_suite(json_object_array_length(index_logs)));
        json_object_put(index);
        return r;
}
