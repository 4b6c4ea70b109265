/* SPDX-License-Identifier: MIT */
/* TokenRecord: the served token as one value, and its token.json form both ways. The reader
 * trusts nothing in the file: it is attestd's own, but it is read back after a crash. */
#include <stdarg.h>

#include "cleanup.h"
#include "eventlog-json.h"
#include "json-util.h"
#include "token-claims.h"
#include "token-record.h"
#include "token.h"

TokenRecord *token_record_free(TokenRecord *t) {
        if (!t)
                return NULL;
        free(t->compact);
        json_object_put(t->header);
        json_object_put(t->claims);
        free(t->endpoint);
        free(t->provider);
        json_object_put(t->jwks);
        free(t);
        return NULL;
}

int token_record_to_json(const TokenRecord *t, bool stale, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *pcrs = NULL, *policy = NULL;
        char ts[TOKEN_TIMESTAMP_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        r = eventlog_json_pcr_banks(&t->pcrs, &pcrs);
        if (r < 0)
                return r;
        r = json_add(o, "pcrs", pcrs);
        if (r < 0)
                return r;
        r = token_policy_claims(t->claims, &policy);
        if (r < 0)
                return r;
        if (json_add(o, "header", json_object_get(t->header)) < 0 ||
            json_add(o, "claims", json_object_get(t->claims)) < 0 ||
            json_add(o, "policy_claims", policy) < 0 ||
            json_add(o, "endpoint", json_object_new_string(t->endpoint)) < 0 ||
            json_add(o, "provider", json_object_new_string(strempty(t->provider))) < 0 ||
            json_add(o, "issued_at_usec", json_object_new_uint64(t->issued_usec)) < 0 ||
            json_add(o, "expires_usec", json_object_new_uint64(t->expires_usec)) < 0 ||
            json_add(o, "expires", json_object_new_string(token_format_timestamp(t->expires_usec, ts))) < 0 ||
            json_add(o, "stale", json_object_new_boolean(stale)) < 0)
                return -ENOMEM;
        if (t->jwks && json_add(o, "jwks", json_object_get(t->jwks)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

_printf_(2, 3) static int bad(char **reterr_reason, const char *fmt, ...) {
        va_list ap;

        if (reterr_reason) {
                va_start(ap, fmt);
                if (vasprintf(reterr_reason, fmt, ap) < 0)
                        *reterr_reason = NULL;
                va_end(ap);
        }
        return -EBADMSG;
}

/* {"sha256":{"0":"hex",...},...} into SET and MASK. */
static int pcrs_from_json(json_object *o, PcrSet *set, uint32_t *mask, char **reterr_reason) {
        if (!json_object_is_type(o, json_type_object))
                return bad(reterr_reason, "\"pcrs\" is not an object");
        json_object_object_foreach(o, bank_name, bank) {
                PcrBank *b;
                int alg = tpm_alg_from_name(bank_name);

                if (alg < 0 || !json_object_is_type(bank, json_type_object) ||
                    pcr_set_add_bank(set, (uint16_t) alg, &b) < 0)
                        return bad(reterr_reason, "\"pcrs\" has an unknown or malformed bank");
                json_object_object_foreach(bank, index, value) {
                        uint8_t digest[PCR_DIGEST_MAX];
                        char *end;
                        unsigned long i;

                        errno = 0;
                        i = strtoul(index, &end, 10);
                        if (errno != 0 || end == index || *end || i >= PCR_COUNT ||
                            !json_object_is_type(value, json_type_string) ||
                            pcr_unhex(json_object_get_string(value), digest, b->digest_size) < 0 ||
                            pcr_bank_set(b, (unsigned) i, digest, b->digest_size) < 0)
                                return bad(reterr_reason, "\"pcrs\" has a malformed PCR value");
                        *mask |= UINT32_C(1) << i;
                }
        }
        if (set->n_banks == 0 || *mask == 0)
                return bad(reterr_reason, "\"pcrs\" is empty");
        return 0;
}

int token_record_from_json(const char *text, TokenRecord **ret, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(token_record_freep) TokenRecord *t = NULL;
        json_object *v;
        int r;

        r = token_json_parse(text, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(reterr_reason, "not a JSON object");
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;

        if (!json_object_object_get_ex(o, "endpoint", &v) || !json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0)
                return bad(reterr_reason, "\"endpoint\" is missing or not a non-empty string");
        t->endpoint = strdup(json_object_get_string(v));
        if (!t->endpoint)
                return -ENOMEM;
        /* Written since the provider seam; a token.json without it names the /attest/Tpm one. */
        if (!json_object_object_get_ex(o, "provider", &v))
                v = NULL;
        else if (!json_object_is_type(v, json_type_string))
                return bad(reterr_reason, "\"provider\" is not a string");
        t->provider = strdup(v ? json_object_get_string(v) : "tpm");
        if (!t->provider)
                return -ENOMEM;
        if (!json_object_object_get_ex(o, "pcrs", &v))
                return bad(reterr_reason, "\"pcrs\" is missing");
        r = pcrs_from_json(v, &t->pcrs, &t->pcr_mask, reterr_reason);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "jwks", &v) || !json_object_is_type(v, json_type_object))
                return bad(reterr_reason, "\"jwks\" is missing or not an object");
        t->jwks = json_object_get(v);

        *ret = TAKE_PTR(t);
        return 0;
}
