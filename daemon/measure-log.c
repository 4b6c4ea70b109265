/* SPDX-License-Identifier: MIT */
/* Reader and replay of systemd's JSON-SEQ userspace measurement log. Reads one file under a
 * shared lock; everything else is pure. Logs at debug level only. */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"
#include "measure-log.h"

#define RECORD_SEPARATOR '\x1e'

typedef struct Parser {
        size_t index;
        char *error;
} Parser;

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
        if (asprintf(&p->error, "offset %zu: record %zu: %s", offset, p->index, what) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return log_debug_errno(error, "Rejecting measurement log: %s", p->error);
}

static void record_done(MeasureLogRecord *r) {
        free(r->content_type);
        free(r->description);
        free(r->event_type);
}

MeasureLog *measure_log_free(MeasureLog *log) {
        if (!log)
                return NULL;
        for (size_t i = 0; i < log->n_records; i++)
                record_done(&log->records[i]);
        free(log->records);
        free(log);
        return NULL;
}

/* Copies an optional string member KEY of O into *ret (NULL if absent). */
static int get_string(Parser *p, size_t offset, struct json_object *o, const char *key, char **ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return parse_fail(p, -EBADMSG, offset, "'%s' is not a string", key);
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int parse_digest(Parser *p, size_t offset, struct json_object *d, MeasureLogRecord *rec) {
        struct json_object *a, *h;
        MeasureLogDigest *out;
        const char *name;
        size_t size;
        int alg;

        if (!json_object_is_type(d, json_type_object))
                return parse_fail(p, -EBADMSG, offset, "'digests' element is not an object");
        if (!json_object_object_get_ex(d, "hashAlg", &a) || !json_object_is_type(a, json_type_string))
                return parse_fail(p, -EBADMSG, offset, "'digests' element lacks a 'hashAlg' string");
        name = json_object_get_string(a);
        alg = tpm_alg_from_name(name);
        if (alg < 0) {
                log_debug("Measurement log record %zu: skipping digest of unknown hash '%s'.", p->index, name);
                return 0;
        }
        for (size_t i = 0; i < rec->n_digests; i++)
                if (rec->digests[i].alg == alg)
                        return parse_fail(p, -EBADMSG, offset, "duplicate %s digest", name);
        if (rec->n_digests >= PCR_BANKS_MAX)    /* cannot happen: one slot per known algorithm */
                return parse_fail(p, -EBADMSG, offset, "too many digests");

        if (!json_object_object_get_ex(d, "digest", &h) || !json_object_is_type(h, json_type_string))
                return parse_fail(p, -EBADMSG, offset, "%s digest lacks a 'digest' string", name);
        size = tpm_alg_digest_size((uint16_t) alg);
        out = &rec->digests[rec->n_digests];
        if (pcr_unhex(json_object_get_string(h), out->data, size) < 0)
                return parse_fail(p, -EBADMSG, offset, "%s digest is not %zu bytes of hex", name, size);
        out->alg = (uint16_t) alg;
        out->size = size;
        rec->n_digests++;
        return 0;
}

static int parse_record_object(Parser *p, size_t offset, struct json_object *o, MeasureLogRecord *rec) {
        struct json_object *v, *content;
        size_t n;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return parse_fail(p, -EBADMSG, offset, "record is not a JSON object");

        rec->pcr = MEASURE_LOG_NO_PCR;
        if (json_object_object_get_ex(o, "pcr", &v)) {
                int64_t pcr;

                if (!json_object_is_type(v, json_type_int))
                        return parse_fail(p, -EBADMSG, offset, "'pcr' is not an integer");
                pcr = json_object_get_int64(v);
                if (pcr < 0 || pcr >= PCR_COUNT)
                        return parse_fail(p, -EBADMSG, offset, "'pcr' %" PRId64 " out of range 0..%u",
                                          pcr, PCR_COUNT - 1);
                rec->pcr = (unsigned) pcr;
        }

        if (!json_object_object_get_ex(o, "digests", &v) || !json_object_is_type(v, json_type_array))
                return parse_fail(p, -EBADMSG, offset, "'digests' array missing");
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                r = parse_digest(p, offset, json_object_array_get_idx(v, i), rec);
                if (r < 0)
                        return r;
        }

        r = get_string(p, offset, o, "content_type", &rec->content_type);
        if (r < 0)
                return r;
        if (!streq_ptr(rec->content_type, "systemd") || !json_object_object_get_ex(o, "content", &content))
                return 0;
        if (!json_object_is_type(content, json_type_object))
                return parse_fail(p, -EBADMSG, offset, "'content' is not an object");
        r = get_string(p, offset, content, "string", &rec->description);
        if (r < 0)
                return r;
        return get_string(p, offset, content, "eventType", &rec->event_type);
}

static bool all_space(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!strchr(" \t\r\n", s[i]))
                        return false;
        return true;
}

/* One JSON text between separators; OFFSET is that of its 0x1E. */
static int parse_record(Parser *p, size_t offset, const char *text, size_t n, MeasureLogRecord *rec) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        enum json_tokener_error e;
        size_t end;

        if (memchr(text, 0, n))
                return parse_fail(p, -EBADMSG, offset, "NUL byte inside the record");
        if (n > INT_MAX)
                return parse_fail(p, -EBADMSG, offset, "record too long");

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) n);
        e = json_tokener_get_error(tok);
        if (e == json_tokener_continue)
                return parse_fail(p, -EBADMSG, offset + 1 + n, "truncated JSON text");
        if (!o && e == json_tokener_success)    /* the JSON text "null" */
                return parse_fail(p, -EBADMSG, offset, "record is not a JSON object");
        if (!o || e != json_tokener_success)
                return parse_fail(p, -EBADMSG, offset + 1 + json_tokener_get_parse_end(tok),
                                  "invalid JSON: %s", json_tokener_error_desc(e));
        end = json_tokener_get_parse_end(tok);
        if (!all_space(text + end, n - end))
                return parse_fail(p, -EBADMSG, offset + 1 + end, "trailing data after the JSON object");

        return parse_record_object(p, offset, o, rec);
}

int measure_log_parse(const char *data, size_t size, MeasureLog **ret, char **reterr_message) {
        _cleanup_(measure_log_freep) MeasureLog *log = NULL;
        size_t offset = 0, allocated = 0;
        Parser p = {};
        int r = 0;

        assert(data || size == 0);
        assert(ret);

        log = calloc(1, sizeof(MeasureLog));
        if (!log)
                return -ENOMEM;

        if (size > 0 && data[0] != RECORD_SEPARATOR)
                r = parse_fail(&p, -EBADMSG, 0, "data does not start with a record separator (0x1E)");

        while (r >= 0 && offset < size) {
                const char *start = data + offset + 1, *sep;
                size_t n;

                sep = memchr(start, RECORD_SEPARATOR, size - offset - 1);
                n = sep ? (size_t) (sep - start) : size - offset - 1;

                if (!all_space(start, n)) {     /* RFC 7464: empty texts are skipped */
                        MeasureLogRecord *rec;

                        if (log->n_records >= MEASURE_LOG_RECORDS_MAX) {
                                r = parse_fail(&p, -E2BIG, offset, "more than %u records", MEASURE_LOG_RECORDS_MAX);
                                break;
                        }
                        if (log->n_records >= allocated) {
                                allocated = MAX(allocated * 2, (size_t) 16);
                                rec = reallocarray(log->records, allocated, sizeof(MeasureLogRecord));
                                if (!rec) {
                                        r = -ENOMEM;
                                        break;
                                }
                                log->records = rec;
                        }
                        rec = &log->records[log->n_records];
                        *rec = (MeasureLogRecord) { .index = p.index, .offset = offset };
                        log->n_records++;       /* counted first so a failure frees its strings */
                        r = parse_record(&p, offset, start, n, rec);
                        p.index++;
                }
                offset += 1 + n;
        }

        if (r < 0) {
                if (reterr_message && r != -ENOMEM)
                        *reterr_message = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }
        *ret = TAKE_PTR(log);
        return 0;
}

int measure_log_read(const char *path, MeasureLog **ret, char **reterr_message) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size = 0;
        int r;

        path = path ?: MEASURE_LOG_PATH_DEFAULT;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_debug_errno(-errno, "Failed to open '%s': %m", path);
        if (fstat(fd, &st) < 0)
                return log_debug_errno(-errno, "Failed to stat '%s': %m", path);
        if (!S_ISREG(st.st_mode))
                return log_debug_errno(-EBADF, "'%s' is not a regular file.", path);
        /* systemd appends under LOCK_EX; a shared lock makes us see whole records only. */
        while (flock(fd, LOCK_SH) < 0)
                if (errno != EINTR)
                        return log_debug_errno(-errno, "Failed to lock '%s': %m", path);

        r = read_full_fd(fd, MEASURE_LOG_SIZE_MAX, &buf, &size);
        if (r == -EFBIG)
                r = -E2BIG;
        if (r < 0)
                return log_debug_errno(r, "Failed to read '%s': %m", path);
        (void) flock(fd, LOCK_UN);

        return measure_log_parse(buf, size, ret, reterr_message);
}

static const MeasureLogDigest *find_digest(const MeasureLogRecord *rec, uint16_t alg) {
        for (size_t i = 0; i < rec->n_digests; i++)
                if (rec->digests[i].alg == alg)
                        return &rec->digests[i];
        return NULL;
}

int measure_log_replay(const MeasureLog *log, PcrSet *set) {
        uint32_t unexplained[PCR_BANKS_MAX] = {};
        int r;

        assert(log);
        assert(set);

        if (set->n_banks == 0)
                for (size_t i = 0; i < log->n_records; i++)
                        for (size_t j = 0; j < log->records[i].n_digests; j++) {
                                uint16_t alg = log->records[i].digests[j].alg;

                                if (tpm_alg_hash_available(alg))
                                        (void) pcr_set_add_bank(set, alg, NULL);
                        }

        for (size_t i = 0; i < log->n_records; i++) {
                const MeasureLogRecord *rec = &log->records[i];

                if (rec->pcr == MEASURE_LOG_NO_PCR)
                        continue;
                for (size_t b = 0; b < set->n_banks; b++) {
                        const MeasureLogDigest *d = find_digest(rec, set->banks[b].alg);

                        if (!d) {
                                unexplained[b] |= UINT32_C(1) << rec->pcr;
                                continue;
                        }
                        r = pcr_bank_extend(&set->banks[b], rec->pcr, d->data, d->size);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to extend PCR %u of record %zu: %m",
                                                       rec->pcr, rec->index);
                }
        }

        for (size_t b = 0; b < set->n_banks; b++)
                set->banks[b].present_mask &= ~unexplained[b];
        return 0;
}
