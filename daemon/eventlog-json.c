/* SPDX-License-Identifier: MIT */
/* JSON and text rendering of event logs, replayed PCRs and mismatches. Decoding of event data is
 * best effort (eventlog.c's decoders); whatever does not decode is shown by size only. */
#include <inttypes.h>

#include "b64.h"
#include "cleanup.h"
#include "eventlog-json.h"
#include "json-util.h"

#define _cleanup_json_ _cleanup_(json_object_putp)

typedef enum DecodedKind {
        DECODED_NONE,
        DECODED_SPEC_ID,
        DECODED_LOCALITY,
        DECODED_VARIABLE,
        DECODED_STRING,
        DECODED_SEPARATOR,
        DECODED_GUID,
        DECODED_BLOB,
} DecodedKind;

/* What an event's data says, in the one form its type suggests. */
typedef struct Decoded {
        DecodedKind kind;
        EventLogVariable variable;
        char *string;
        uint32_t number;
        uint64_t blob_base;
        uint64_t blob_length;
} Decoded;

static void decoded_done(Decoded *d) {
        eventlog_variable_done(&d->variable);
        free(d->string);
        *d = (Decoded) {};
}

static uint64_t le64(const uint8_t *p) {
        uint64_t v = 0;

        for (size_t i = 8; i > 0; i--)
                v = v << 8 | p[i - 1];
        return v;
}

static bool type_is_variable(uint32_t type) {
        return type == EV_EFI_VARIABLE_DRIVER_CONFIG || type == EV_EFI_VARIABLE_BOOT ||
               type == EV_EFI_VARIABLE_BOOT2 || type == EV_EFI_VARIABLE_AUTHORITY;
}

static bool type_is_text(uint32_t type) {
        switch (type) {
        case EV_POST_CODE:
        case EV_ACTION:
        case EV_S_CRTM_CONTENTS:
        case EV_S_CRTM_VERSION:
        case EV_IPL:
        case 0x00000012:                /* EV_OMIT_BOOT_DEVICE_EVENTS */
        case EV_EFI_ACTION:
        case EV_EFI_HCRTM_EVENT:
                return true;
        default:
                return false;
        }
}

/* Returns 0 (kind may be DECODED_NONE) or -ENOMEM. */
static int decode_event(const EventLog *log, const EventLogEvent *e, Decoded *ret) {
        Decoded d = {};
        int r;

        if (e->type == EV_NO_ACTION) {
                r = eventlog_decode_startup_locality(e);
                if (r >= 0) {
                        d.kind = DECODED_LOCALITY;
                        d.number = (uint32_t) r;
                } else if (e->index == 0 && eventlog_spec_id(log))
                        d.kind = DECODED_SPEC_ID;
        } else if (type_is_variable(e->type)) {
                r = eventlog_decode_variable(e->data, e->data_size, &d.variable);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        d.kind = DECODED_VARIABLE;
        } else if (e->type == EV_SEPARATOR && e->data_size == 4) {
                d.kind = DECODED_SEPARATOR;
                d.number = (uint32_t) e->data[0] | (uint32_t) e->data[1] << 8 |
                           (uint32_t) e->data[2] << 16 | (uint32_t) e->data[3] << 24;
        } else if (type_is_text(e->type) && e->data_size > 0) {
                r = eventlog_decode_string(e->data, e->data_size, &d.string);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        d.kind = DECODED_STRING;
        }

        /* Binary fallbacks: S-CRTM versions that are GUIDs, UEFI_PLATFORM_FIRMWARE_BLOBs. */
        if (d.kind == DECODED_NONE && e->data_size == 16) {
                if (e->type == EV_S_CRTM_VERSION)
                        d.kind = DECODED_GUID;
                else if (e->type == EV_POST_CODE || e->type == EV_S_CRTM_CONTENTS ||
                         e->type == EV_EFI_PLATFORM_FIRMWARE_BLOB) {
                        d.kind = DECODED_BLOB;
                        d.blob_base = le64(e->data);
                        d.blob_length = le64(e->data + 8);
                }
        }

        *ret = d;
        return 0;
}

static const char *alg_key(uint16_t alg, char buf[static 8]) {
        const char *n = tpm_alg_to_name(alg);

        if (n)
                return n;
        snprintf(buf, 8, "0x%04x", alg);
        return buf;
}

static int add_hex(struct json_object *o, const char *key, const uint8_t *data, size_t size) {
        _cleanup_free_ char *h = NULL;

        if (hex_encode(data, size, &h) < 0)
                return -ENOMEM;
        return json_add(o, key, json_object_new_string(h));
}

static int append(struct json_object *a, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_algorithms(const EventLog *log, struct json_object **ret) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        const EventLogAlgorithm *algs;
        size_t n;
        int r;

        if (!a)
                return -ENOMEM;
        algs = eventlog_algorithms(log, &n);
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();
                char buf[8];

                r = append(a, o);
                if (r < 0)
                        return r;
                if (json_add(o, "alg", json_object_new_string(alg_key(algs[i].alg, buf))) < 0 ||
                    json_add(o, "id", json_object_new_int(algs[i].alg)) < 0 ||
                    json_add(o, "digest_size", json_object_new_int(algs[i].digest_size)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int json_spec_id(const EventLog *log, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *algs = NULL;
        const EventLogSpecId *s = eventlog_spec_id(log);
        char version[8];
        int r;

        if (!o)
                return -ENOMEM;
        snprintf(version, sizeof(version), "%u.%u", s->version_major, s->version_minor);
        r = json_algorithms(log, &algs);
        if (r < 0)
                return r;
        if (json_add(o, "signature", json_object_new_string("Spec ID Event03")) < 0 ||
            json_add(o, "platform_class", json_object_new_int64(s->platform_class)) < 0 ||
            json_add(o, "version", json_object_new_string(version)) < 0 ||
            json_add(o, "errata", json_object_new_int(s->errata)) < 0 ||
            json_add(o, "uintn_size", json_object_new_int(s->uintn_size)) < 0 ||
            json_add(o, "algorithms", TAKE_PTR(algs)) < 0 ||
            add_hex(o, "vendor_info", s->vendor_info, s->vendor_info_size) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_variable(const EventLogVariable *v, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char guid[EVENTLOG_GUID_STRING_MAX];

        if (!o)
                return -ENOMEM;
        if (json_add(o, "guid", json_object_new_string(eventlog_guid_to_string(v->guid, guid))) < 0 ||
            json_add(o, "name", json_object_new_string(v->name)) < 0 ||
            json_add(o, "data_size", json_object_new_int64((int64_t) v->data_size)) < 0)
                return -ENOMEM;
        /* Small values (SecureBoot, BootOrder, ...) are what an operator looks for; certificate
         * databases would only bloat the output. */
        if (v->data_size <= 64 && add_hex(o, "data", v->data, v->data_size) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int json_decoded(const EventLog *log, const EventLogEvent *e, const Decoded *d, struct json_object *o) {
        struct json_object *v = NULL;
        char guid[EVENTLOG_GUID_STRING_MAX];
        int r;

        switch (d->kind) {
        case DECODED_NONE:
                return 0;
        case DECODED_SPEC_ID:
                r = json_spec_id(log, &v);
                return r < 0 ? r : json_add(o, "spec_id", v);
        case DECODED_LOCALITY:
                return json_add(o, "startup_locality", json_object_new_int64(d->number));
        case DECODED_VARIABLE:
                r = json_variable(&d->variable, &v);
                return r < 0 ? r : json_add(o, "variable", v);
        case DECODED_STRING:
                return json_add(o, "string", json_object_new_string(d->string));
        case DECODED_SEPARATOR:
                return json_add(o, "separator", json_object_new_int64(d->number));
        case DECODED_GUID:
                return json_add(o, "guid", json_object_new_string(eventlog_guid_to_string(e->data, guid)));
        case DECODED_BLOB:
                v = json_object_new_object();
                if (!v)
                        return -ENOMEM;
                r = json_add(o, "blob", v);
                if (r < 0)
                        return r;
                if (json_add(v, "base", json_object_new_uint64(d->blob_base)) < 0 ||
                    json_add(v, "length", json_object_new_uint64(d->blob_length)) < 0)
                        return -ENOMEM;
                return 0;
        }
        return 0;
}

int eventlog_json_event(const EventLog *log, const EventLogEvent *e, EventLogJsonFlags flags,
                        struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *digests = json_object_new_object();
        _cleanup_(decoded_done) Decoded d = {};
        const char *name = eventlog_event_type_to_string(e->type);
        int r;

        if (!o || !digests)
                return -ENOMEM;

        for (size_t i = 0; i < e->n_digests; i++) {
                char buf[8];

                r = add_hex(digests, alg_key(e->digests[i].alg, buf), e->digests[i].data, e->digests[i].size);
                if (r < 0)
                        return r;
        }

        if (json_add(o, "index", json_object_new_int64((int64_t) e->index)) < 0 ||
            json_add(o, "offset", json_object_new_int64((int64_t) e->offset)) < 0 ||
            json_add(o, "pcr", json_object_new_int64(e->pcr)) < 0 ||
            json_add(o, "type", json_object_new_int64(e->type)) < 0 ||
            (name && json_add(o, "type_name", json_object_new_string(name)) < 0) ||
            json_add(o, "digests", TAKE_PTR(digests)) < 0 ||
            json_add(o, "data_size", json_object_new_int64(e->data_size)) < 0)
                return -ENOMEM;

        r = decode_event(log, e, &d);
        if (r < 0)
                return r;
        r = json_decoded(log, e, &d, o);
        if (r < 0)
                return r;
        if ((flags & EVENTLOG_JSON_DATA) && add_hex(o, "data", e->data, e->data_size) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

int eventlog_json_events(const EventLog *log, EventLogJsonFlags flags, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *events = json_object_new_array();
        struct json_object *algs = NULL;
        int r;

        if (!o || !events)
                return -ENOMEM;
        r = json_algorithms(log, &algs);
        if (r < 0)
                return r;
        if (json_add(o, "format", json_object_new_string(eventlog_format_to_string(eventlog_format(log)))) < 0 ||
            json_add(o, "algorithms", algs) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < eventlog_n_events(log); i++) {
                struct json_object *e = NULL;

                r = eventlog_json_event(log, eventlog_event(log, i), flags, &e);
                if (r < 0)
                        return r;
                r = append(events, e);
                if (r < 0)
                        return r;
        }
        if (json_add(o, "events", TAKE_PTR(events)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

int eventlog_json_pcr_banks(const PcrSet *set, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        for (size_t b = 0; b < set->n_banks; b++) {
                const PcrBank *bank = &set->banks[b];
                struct json_object *values = json_object_new_object();
                char key[8];
                int r;

                if (!bank->present_mask) {
                        json_object_put(values);
                        continue;
                }
                r = json_add(o, alg_key(bank->alg, key), values);
                if (r < 0)
                        return r;
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        if (!pcr_bank_has(bank, pcr))
                                continue;
                        snprintf(key, sizeof(key), "%u", pcr);
                        r = add_hex(values, key, bank->values[pcr], bank->digest_size);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int eventlog_json_pcrs(const PcrSet *set, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *banks = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = eventlog_json_pcr_banks(set, &banks);
        if (r < 0)
                return r;
        r = json_add(o, "pcrs", banks);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int eventlog_json_mismatches(const PcrMismatch *m, size_t n, struct json_object **ret) {
        _cleanup_json_ struct json_object *a = json_object_new_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_new_object();
                char key[8];
                int r;

                r = append(a, o);
                if (r < 0)
                        return r;
                if (json_add(o, "pcr", json_object_new_int(m[i].pcr)) < 0 ||
                    json_add(o, "bank", json_object_new_string(alg_key(m[i].alg, key))) < 0 ||
                    add_hex(o, "replayed", m[i].replayed, m[i].digest_size) < 0 ||
                    add_hex(o, "read", m[i].read, m[i].digest_size) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* ---- text ---- */

/* Prints S in double quotes with C escapes for quotes, backslashes and control characters. */
static void print_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static int text_decoded(const EventLog *log, const EventLogEvent *e, const Decoded *d, FILE *f) {
        char guid[EVENTLOG_GUID_STRING_MAX], buf[8];
        const EventLogSpecId *s;
        const EventLogAlgorithm *algs;
        size_t n;

        switch (d->kind) {
        case DECODED_NONE:
                break;
        case DECODED_SPEC_ID:
                s = eventlog_spec_id(log);
                algs = eventlog_algorithms(log, &n);
                fprintf(f, "    Spec ID Event03: version %u.%u errata %u, platform class %" PRIu32 ", uintn size %u, banks",
                        s->version_major, s->version_minor, s->errata, s->platform_class, s->uintn_size);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, " %s/%u", alg_key(algs[i].alg, buf), algs[i].digest_size);
                fputc('\n', f);
                break;
        case DECODED_LOCALITY:
                fprintf(f, "    StartupLocality: %" PRIu32 "\n", d->number);
                break;
        case DECODED_VARIABLE: {
                _cleanup_free_ char *h = NULL;

                fprintf(f, "    variable: %s ", eventlog_guid_to_string(d->variable.guid, guid));
                print_quoted(f, d->variable.name);
                fprintf(f, ", size %zu", d->variable.data_size);
                if (d->variable.data_size > 0 && d->variable.data_size <= 16) {
                        if (hex_encode(d->variable.data, d->variable.data_size, &h) < 0)
                                return -ENOMEM;
                        fprintf(f, ": %s", h);
                }
                fputc('\n', f);
                break;
        }
        case DECODED_STRING:
                fputs("    string: ", f);
                print_quoted(f, d->string);
                fputc('\n', f);
                break;
        case DECODED_SEPARATOR:
                fprintf(f, "    separator: 0x%08" PRIx32 "%s\n", d->number, d->number == 0 ? "" : " (error)");
                break;
        case DECODED_GUID:
                fprintf(f, "    guid: %s\n", eventlog_guid_to_string(e->data, guid));
                break;
        case DECODED_BLOB:
                fprintf(f, "    blob: base 0x%" PRIx64 ", length %" PRIu64 "\n", d->blob_base, d->blob_length);
                break;
        }
        return 0;
}

int eventlog_text_events(const EventLog *log, FILE *f) {
        const EventLogAlgorithm *algs;
        size_t n;
        char buf[8];
        int r;

        algs = eventlog_algorithms(log, &n);
        fprintf(f, "Format: %s, %zu events, banks:", eventlog_format_to_string(eventlog_format(log)),
                eventlog_n_events(log));
        for (size_t i = 0; i < n; i++)
                fprintf(f, " %s", alg_key(algs[i].alg, buf));
        fputc('\n', f);

        for (size_t i = 0; i < eventlog_n_events(log); i++) {
                const EventLogEvent *e = eventlog_event(log, i);
                const char *name = eventlog_event_type_to_string(e->type);
                _cleanup_(decoded_done) Decoded d = {};

                fprintf(f, "\n#%zu PCR %" PRIu32 " %s (0x%08" PRIx32 "), size %" PRIu32 ", offset %zu\n",
                        e->index, e->pcr, name ?: "unknown", e->type, e->data_size, e->offset);
                for (size_t j = 0; j < e->n_digests; j++) {
                        _cleanup_free_ char *h = NULL;

                        if (hex_encode(e->digests[j].data, e->digests[j].size, &h) < 0)
                                return -ENOMEM;
                        fprintf(f, "    %-7s %s\n", alg_key(e->digests[j].alg, buf), h);
                }
                r = decode_event(log, e, &d);
                if (r < 0)
                        return r;
                r = text_decoded(log, e, &d, f);
                if (r < 0)
                        return r;
        }
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int eventlog_text_pcrs(const PcrSet *set, FILE *f) {
        for (size_t b = 0; b < set->n_banks; b++) {
                const PcrBank *bank = &set->banks[b];
                char buf[8], hex[PCR_HEX_MAX];

                if (!bank->present_mask)
                        continue;
                fprintf(f, "%s:\n", alg_key(bank->alg, buf));
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++)
                        if (pcr_bank_has(bank, pcr))
                                fprintf(f, "  %2u: %s\n", pcr, pcr_hex(bank->values[pcr], bank->digest_size, hex));
        }
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int eventlog_text_mismatches(const PcrMismatch *m, size_t n, FILE *f) {
        for (size_t i = 0; i < n; i++) {
                char buf[8], a[PCR_HEX_MAX], b[PCR_HEX_MAX];

                fprintf(f, "PCR %u %s: replayed %s, TPM %s\n", m[i].pcr, alg_key(m[i].alg, buf),
                        pcr_hex(m[i].replayed, m[i].digest_size, a), pcr_hex(m[i].read, m[i].digest_size, b));
        }
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
