/* SPDX-License-Identifier: MIT */
/* Builds and parses the MAA TPM protocol's JSON messages. Every parser treats its input as
 * hostile: sizes are capped, types checked, and the reason for a refusal names the field. */
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "b64.h"
#include "cleanup.h"
#include "json-util.h"
#include "maa-msg.h"
#include "utf8.h"


#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static int reason(char **ret, const char *fmt, ...) _printf_(2, 3);
static int reason(char **ret, const char *fmt, ...) {
        va_list ap;
        if (ret) {
                va_start(ap, fmt);
                if (vasprintf(ret, fmt, ap) < 0)
                        *ret = NULL;
                va_end(ap);
        }
        return -EBADMSG;
}

/* {"data":"<b64url(inner)>"} */
static int wrap_data(const char *inner, char **ret) {
        _cleanup_free_ char *enc = NULL;
        int r = b64url_encode(inner, strlen(inner), &enc);
        if (r < 0)
                return r;
        return asprintf(ret, "{\"data\":\"%s\"}", enc) < 0 ? -ENOMEM : 0;
}

int maa_build_init(char **ret) {
        return wrap_data("{\"payload\":{\"type\":\"aikcert\"}}", ret);
}

/* Parses TEXT as exactly one JSON value with nothing but whitespace after it. */
static json_object *parse_json_strict(const char *text, size_t size) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        json_object *o;

        if (size > INT32_MAX || memchr(text, '\0', size))
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (!o || json_tokener_get_error(tok) != json_tokener_success)
                return json_object_put(o), NULL;
        for (size_t i = json_tokener_get_parse_end(tok); i < size; i++)
                if (!strchr(" \t\r\n", text[i]))
                        return json_object_put(o), NULL;
        return o;
}

int maa_parse_envelope(const char *body, size_t size, json_object **ret_payload, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *outer = NULL, *inner = NULL;
        _cleanup_free_ char *decoded = NULL;
        json_object *data, *payload;
        size_t n;

        if (size > MAA_REPLY_MAX)
                return reason(reterr_reason, "reply of %zu bytes exceeds %zu", size, MAA_REPLY_MAX);
        outer = parse_json_strict(body, size);
        if (!outer || !json_object_is_type(outer, json_type_object))
                return reason(reterr_reason, "reply is not a JSON object");
        if (!json_object_object_get_ex(outer, "data", &data) || !json_object_is_type(data, json_type_string))
                return reason(reterr_reason, "reply has no \"data\" string");
        if (b64url_decode(json_object_get_string(data), (size_t) json_object_get_string_len(data),
                          (void **) &decoded, &n) < 0)
                return reason(reterr_reason, "reply \"data\" is not base64url");
        /* A report holds a token of up to JWT_SIZE_MAX: let go of each copy as soon as the next
         * one exists: at most two copies of it live here at any moment. */
        json_object_put(TAKE_PTR(outer));
        inner = parse_json_strict(decoded, n);
        decoded = mfree(decoded);
        if (!inner || !json_object_is_type(inner, json_type_object))
                return reason(reterr_reason, "reply \"data\" does not decode to a JSON object");
        if (!json_object_object_get_ex(inner, "payload", &payload) ||
            !json_object_is_type(payload, json_type_object))
                return reason(reterr_reason, "reply has no \"payload\" object");

        *ret_payload = json_object_get(payload);
        return 0;
}

static const char *get_string(json_object *o, const char *key, size_t max) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        size_t n = (size_t) json_object_get_string_len(v);
        if (n == 0 || n > max)
                return NULL;
        return json_object_get_string(v);
}

int maa_parse_challenge(json_object *payload, Buffer *ret_challenge, char **ret_service_context,
                        char **reterr_reason) {
        _cleanup_free_ void *challenge = NULL;
        _cleanup_free_ char *ctx = NULL;
        const char *c, *s;
        size_t n;

        c = get_string(payload, "challenge", MAA_CHALLENGE_MAX);
        if (!c)
                return reason(reterr_reason, "challenge reply lacks a \"challenge\" string");
        if (b64url_decode(c, strlen(c), &challenge, &n) < 0 || n < 8)
                return reason(reterr_reason, "\"challenge\" is not base64url of at least 8 bytes");
        s = get_string(payload, "service_context", 64 * 1024);
        if (!s)
                return reason(reterr_reason, "challenge reply lacks a \"service_context\" string");
        ctx = strdup(s);
        if (!ctx)
                return -ENOMEM;

        *ret_challenge = (Buffer) { .data = TAKE_PTR(challenge), .size = n };
        *ret_service_context = TAKE_PTR(ctx);
        return 0;
}

int maa_qualifying_data(const char *jwk_text, const Buffer *challenge, uint8_t ret[32]) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        static const uint8_t zero = 0;
        unsigned n = 0;

        if (!md)
                return -ENOMEM;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, jwk_text, strlen(jwk_text)) != 1 || EVP_DigestUpdate(md, &zero, 1) != 1 ||
            EVP_DigestUpdate(md, challenge->data, challenge->size) != 1 || EVP_DigestFinal_ex(md, ret, &n) != 1)
                return -EIO;
        return 0;
}

/* Builders that attach each new value to its parent at once, so the root owns everything and a
 * failed allocation needs no unwinding beyond the root. */
static json_object *add_object(json_object *parent, const char *key) {
        json_object *o = json_object_new_object();
        if (o && json_object_object_add(parent, key, o) < 0)
                return json_object_put(o), NULL;
        return o;
}

static json_object *add_array(json_object *parent, const char *key) {
        json_object *o = json_object_new_array();
        if (o && json_object_object_add(parent, key, o) < 0)
                return json_object_put(o), NULL;
        return o;
}

static json_object *append_object(json_object *array) {
        json_object *o = json_object_new_object();
        if (o && json_object_array_add(array, o) < 0)
                return json_object_put(o), NULL;
        return o;
}

static int add_string(json_object *parent, const char *key, const char *value) {
        return json_add(parent, key, json_object_new_string(value));
}

static int add_b64url(json_object *parent, const char *key, const void *data, size_t size) {
        _cleanup_free_ char *s = NULL;
        int r = b64url_encode(data, size, &s);
        if (r < 0)
                return r;
        return add_string(parent, key, s);
}

/* "pcrs": one entry per bank in the quote's selection order, the quoted indices only. */
static int add_pcrs(json_object *parent, const TpmQuote *q) {
        json_object *banks = add_array(parent, "pcrs");
        if (!banks)
                return -ENOMEM;

        for (size_t b = 0; b < q->pcrs.n_banks; b++) {
                const PcrBank *bank = &q->pcrs.banks[b];
                json_object *entry = append_object(banks), *values;
                if (!entry || json_add(entry, "algorithm", json_object_new_int(bank->alg)) < 0 ||
                    !(values = add_array(entry, "values")))
                        return -ENOMEM;
                for (unsigned i = 0; i < PCR_COUNT; i++) {
                        if (!(q->pcr_mask & (UINT32_C(1) << i)))
                                continue;
                        json_object *v = append_object(values);
                        if (!v || json_add(v, "index", json_object_new_int((int32_t) i)) < 0 ||
                            add_b64url(v, "digest", bank->values[i], bank->digest_size) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int add_current_attestation(json_object *parent, const Evidence *e) {
        static const char *const log_types[] = { "TCG", "IMA" };
        const Buffer *log_bufs[] = { &e->tcg_log, &e->ima_log };
        json_object *ca = add_object(parent, "current_attestation"), *logs;
        int r;

        if (!ca || !(logs = add_array(ca, "logs")))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(log_types); i++) {
                if (log_bufs[i]->size == 0)
                        continue;
                json_object *l = append_object(logs);
                if (!l || add_string(l, "type", log_types[i]) < 0)
                        return -ENOMEM;
                r = add_b64url(l, "log", log_bufs[i]->data, log_bufs[i]->size);
                if (r < 0)
                        return r;
        }
        if (e->aik_cert.size > 0) {
                r = add_b64url(ca, "aik_cert", e->aik_cert.data, e->aik_cert.size);
                if (r < 0)
                        return r;
        }
        json_object *aik_pub = json_tokener_parse(e->aik_jwk);
        if (!aik_pub)
                return -EINVAL;
        r = json_add(ca, "aik_pub", aik_pub);
        if (r < 0)
                return r;
        r = add_pcrs(ca, &e->quote);
        if (r < 0)
                return r;
        r = add_b64url(ca, "quote", e->quote.attest.data, e->quote.attest.size);
        if (r < 0)
                return r;
        return add_b64url(ca, "signature", e->quote.signature.data, e->quote.signature.size);
}

/* The request key's "jwk" must appear in the signed payload as exactly the text that was hashed
 * into the quote. json-c could re-format it, so a unique placeholder string is serialized in its
 * place and then replaced by the text itself. */
#define JWK_PLACEHOLDER "attestd-request-key-jwk-placeholder"

static int build_payload_text(const MaaRequestParams *p, char **ret) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *att_data, *tad, *rk, *info, *tq;
        int r;

        if (!root || add_string(root, "att_type", "basic") < 0 || !(att_data = add_object(root, "att_data")))
                return -ENOMEM;
        if ((p->rp_id && add_string(att_data, "rp_id", p->rp_id) < 0) ||
            (p->rp_data && add_string(att_data, "rp_data", p->rp_data) < 0))
                return -ENOMEM;
        r = add_b64url(att_data, "challenge", p->challenge->data, p->challenge->size);
        if (r < 0)
                return r;
        if (!(tad = add_object(att_data, "tpm_att_data")))
                return -ENOMEM;
        r = add_current_attestation(tad, p->evidence);
        if (r < 0)
                return r;
        if (!(rk = add_object(att_data, "request_key")) || add_string(rk, "jwk", JWK_PLACEHOLDER) < 0 ||
            !(info = add_object(rk, "info")) || !(tq = add_object(info, "tpm_quote")) ||
            add_string(tq, "hash_alg", "sha-256") < 0 ||
            add_string(att_data, "service_context", p->service_context) < 0)
                return -ENOMEM;

        const char *text = json_object_to_json_string_ext(root, JSON_FLAGS);
        const char *at = text ? strstr(text, "\"" JWK_PLACEHOLDER "\"") : NULL;
        if (!at)
                return -ENOMEM;
        size_t head = (size_t) (at - text), ph = strlen(JWK_PLACEHOLDER) + 2;
        if (asprintf(ret, "%.*s%s%s", (int) head, text, request_key_jwk(p->key), at + ph) < 0)
                return -ENOMEM;
        return 0;
}

int maa_build_request(const MaaRequestParams *p, char **ret) {
        static const char header[] = "{\"alg\":\"PS256\",\"typ\":\"attReqV2\"}";
        _cleanup_free_ char *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *signing = NULL,
                            *inner = NULL;
        _cleanup_buffer_ Buffer sig = {};
        int r;

        r = build_payload_text(p, &payload);
        if (r < 0)
                return r;
        r = b64url_encode(header, strlen(header), &h64);
        if (r < 0)
                return r;
        r = b64url_encode(payload, strlen(payload), &p64);
        if (r < 0)
                return r;
        if (asprintf(&signing, "%s.%s", h64, p64) < 0)
                return -ENOMEM;
        r = request_key_sign_ps256(p->key, signing, strlen(signing), &sig);
        if (r < 0)
                return r;
        r = b64url_encode(sig.data, sig.size, &s64);
        if (r < 0)
                return r;
        if (asprintf(&inner, "{\"payload\":{\"request\":\"%s.%s\"}}", signing, s64) < 0)
                return -ENOMEM;
        return wrap_data(inner, ret);
}

int maa_parse_report(json_object *payload, char **ret_report, char **reterr_reason) {
        const char *s = get_string(payload, "report", MAA_REPLY_MAX);
        if (!s)
                return reason(reterr_reason, "report reply lacks a \"report\" string");
        char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret_report = copy;
        return 0;
}

/* Copies at most MAA_ERROR_MESSAGE_MAX bytes of S, control characters turned into spaces. */
/* A bounded copy of server text with control characters blanked, cut at a character boundary and
 * with bytes that are not UTF-8 (a Latin-1 error page...) replaced: it ends up on D-Bus. */
static char *printable_copy(const char *s, size_t n) {
        _cleanup_free_ char *c = NULL;

        n = utf8_cut(s, n, MAA_ERROR_MESSAGE_MAX);
        c = malloc(n + 1);
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                c[i] = ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
        c[n] = '\0';
        /* Trim trailing spaces left by a final newline. */
        while (n > 0 && c[n - 1] == ' ')
                c[--n] = '\0';
        return utf8_is_valid(c) ? TAKE_PTR(c) : utf8_make_valid(c);
}

int maa_parse_error(const char *body, size_t size, char **ret_code, char **ret_message) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *code = NULL, *message = NULL;
        json_object *err;

        if (size <= MAA_REPLY_MAX)
                o = parse_json_strict(body, size);
        if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "error", &err) &&
            json_object_is_type(err, json_type_object)) {
                const char *c = get_string(err, "code", 256), *m = get_string(err, "message", 64 * 1024);
                if (c && !(code = printable_copy(c, strlen(c))))
                        return -ENOMEM;
                if (m && !(message = printable_copy(m, strlen(m))))
                        return -ENOMEM;
        }
        if (!message) {
                /* Not a CloudError: keep the start of whatever text came back. */
                message = size > 0 && !memchr(body, '\0', MIN(size, (size_t) MAA_ERROR_MESSAGE_MAX)) ?
                        printable_copy(body, size) : strdup("(empty reply)");
                if (!message)
                        return -ENOMEM;
        }

        *ret_code = TAKE_PTR(code);
        *ret_message = TAKE_PTR(message);
        return 0;
}

bool maa_error_is_no_policy(const char *message) {
        return message && strstr(message, "policy has not been set");
}
