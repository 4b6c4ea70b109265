/* SPDX-License-Identifier: MIT */
/* Builds the AzureGuest request and takes its sealed reply apart. Every member of the reply is
 * checked before use, and a failure names the member: the reply is untrusted until the token in
 * it has been verified. */
#include <openssl/evp.h>

#include "azure-guest-msg.h"
#include "b64.h"
#include "cleanup.h"
#include "json-util.h"
#include "jwt.h"

static const char *const isolation_table[_AZURE_ISOLATION_MAX] = {
        [AZURE_ISOLATION_TRUSTED_LAUNCH] = "TrustedLaunch",
        [AZURE_ISOLATION_SEV_SNP] = "SevSnp",
        [AZURE_ISOLATION_TDX] = "Tdx",
};

const char *azure_isolation_to_string(AzureIsolation i) {
        return i >= 0 && i < _AZURE_ISOLATION_MAX ? isolation_table[i] : NULL;
}

/* ---- request ---- */

static int add_b64(json_object *o, const char *key, const void *p, size_t n) {
        _cleanup_free_ char *s = NULL;
        int r = b64_encode(p, n, &s);
        if (r < 0)
                return r;
        return json_add(o, key, json_object_new_string(s));
}

static int add_b64_buffer(json_object *o, const char *key, const Buffer *b) {
        if (!b || !b->data || b->size == 0)
                return -EINVAL;
        return add_b64(o, key, b->data, b->size);
}

static int add_b64_text(json_object *o, const char *key, const char *s) {
        return add_b64(o, key, s, strlen(s));
}

static int build_pcrs(const AzureGuestRequest *req, json_object *tpm) {
        json_object *set = json_object_new_array(), *values = json_object_new_array();
        int r;

        r = json_add(tpm, "PcrSet", set);
        if (r >= 0)
                r = json_add(tpm, "PCRs", values);
        if (r < 0)
                return r;
        if (!req->pcrs || req->pcrs->alg != TPM_ALG_SHA256 || req->pcr_mask == 0)
                return -EINVAL;
        for (unsigned i = 0; i < PCR_COUNT; i++) {
                if (!(req->pcr_mask & (UINT32_C(1) << i)))
                        continue;
                if (!pcr_bank_has(req->pcrs, i))
                        return -EINVAL;
                json_object *v = json_object_new_object();
                if (json_object_array_add(set, json_object_new_int((int) i)) < 0 ||
                    json_object_array_add(values, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
                r = json_add(v, "Index", json_object_new_int((int) i));
                if (r >= 0)
                        r = add_b64(v, "Digest", req->pcrs->values[i], req->pcrs->digest_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int build_tpm_info(const AzureGuestRequest *req, json_object *top) {
        json_object *tpm = json_object_new_object();
        int r;

        r = json_add(top, "TpmInfo", tpm);
        if (r >= 0)
                r = add_b64_buffer(tpm, "AikCert", req->ak_cert);
        if (r >= 0)
                r = add_b64_buffer(tpm, "AikPub", req->ak_pub);
        if (r >= 0)
                r = add_b64_buffer(tpm, "PcrQuote", req->quote);
        if (r >= 0)
                r = add_b64_buffer(tpm, "PcrSignature", req->quote_signature);
        if (r >= 0)
                r = build_pcrs(req, tpm);
        if (r >= 0)
                r = add_b64_buffer(tpm, "EncKeyPub", req->enc_key_pub);
        if (r >= 0)
                r = add_b64_buffer(tpm, "EncKeyCertifyInfo", req->certify_info);
        if (r >= 0)
                r = add_b64_buffer(tpm, "EncKeyCertifyInfoSignature", req->certify_signature);
        return r;
}

/* SEV-SNP's Proof is itself JSON: the report (base64url) and the VCEK chain, the whole std base64. */
static int snp_proof(const AzureGuestRequest *req, json_object *evidence) {
        _cleanup_(json_object_putp) json_object *inner = json_object_new_object();
        _cleanup_free_ char *report = NULL;
        const char *text;
        int r;

        if (!inner)
                return -ENOMEM;
        if (!req->hw_report || req->hw_report->size != AZURE_SNP_REPORT_SIZE || !req->vcek_chain)
                return -EINVAL;
        r = b64url_encode(req->hw_report->data, req->hw_report->size, &report);
        if (r >= 0)
                r = json_add(inner, "SnpReport", json_object_new_string(report));
        if (r >= 0)
                r = add_b64_text(inner, "VcekCertChain", req->vcek_chain);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(inner, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return text ? add_b64_text(evidence, "Proof", text) : -ENOMEM;
}

static int build_isolation(const AzureGuestRequest *req, json_object *top) {
        json_object *iso = json_object_new_object(), *evidence;
        int r;

        r = json_add(top, "IsolationInfo", iso);
        if (r >= 0)
                r = json_add(iso, "Type", json_object_new_string(strempty(azure_isolation_to_string(req->isolation))));
        if (r < 0 || req->isolation == AZURE_ISOLATION_TRUSTED_LAUNCH)
                return r;
        if (req->isolation != AZURE_ISOLATION_SEV_SNP && req->isolation != AZURE_ISOLATION_TDX)
                return -EINVAL;

        evidence = json_object_new_object();
        r = json_add(iso, "Evidence", evidence);
        if (r < 0)
                return r;
        if (req->isolation == AZURE_ISOLATION_SEV_SNP)
                r = snp_proof(req, evidence);
        else
                r = add_b64_buffer(evidence, "Proof", req->hw_report);
        if (r >= 0)
                r = add_b64_buffer(evidence, "RunTimeData", req->runtime_claims);
        return r;
}

static int build_inner(const AzureGuestRequest *req, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *payload = json_object_new_object();
        int r;

        if (!o) {
                json_object_put(payload);
                return -ENOMEM;
        }
        if (!req->os_distro || !req->nonce || !req->tcg_log)
                return json_object_put(payload), -EINVAL;

        r = json_add(o, "AttestationProtocolVersion", json_object_new_string(AZURE_GUEST_PROTOCOL_VERSION));
        if (r >= 0)
                r = add_b64_text(o, "OSType", "Linux");
        if (r >= 0)
                r = add_b64_text(o, "OSDistro", req->os_distro);
        if (r >= 0)
                r = json_add(o, "OSVersionMajor", json_object_new_int((int) MIN(req->os_major, (unsigned) INT32_MAX)));
        if (r >= 0)
                r = json_add(o, "OSVersionMinor", json_object_new_int((int) MIN(req->os_minor, (unsigned) INT32_MAX)));
        /* The Linux value of Azure's own client, spelling included. */
        if (r >= 0)
                r = add_b64_text(o, "OSBuild", "NotApplication");
        if (r >= 0)
                r = req->tcg_log->size > 0 ? add_b64_buffer(o, "TcgLogs", req->tcg_log) :
                                             json_add(o, "TcgLogs", json_object_new_string(""));
        if (r >= 0)
                r = json_add(o, "ClientPayload", payload);
        else
                json_object_put(payload);
        if (r >= 0)
                r = json_add(payload, "nonce", json_object_new_string(req->nonce));
        if (r >= 0)
                r = build_tpm_info(req, o);
        if (r >= 0)
                r = build_isolation(req, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int azure_guest_build_request(const AzureGuestRequest *req, char **ret_body) {
        _cleanup_(json_object_putp) json_object *inner = NULL;
        _cleanup_free_ char *encoded = NULL;
        const char *text;
        int r;

        r = build_inner(req, &inner);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(inner, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        r = b64url_encode(text, strlen(text), &encoded);
        if (r < 0)
                return r;
        return asprintf(ret_body, "{\"AttestationInfo\":\"%s\"}", encoded) < 0 ? -ENOMEM : 0;
}

/* ---- sealed reply ---- */

void azure_sealed_done(AzureSealed *s) {
        buffer_done(&s->jwt);
        buffer_done(&s->inner_key);
        buffer_done(&s->iv);
        buffer_done(&s->tag);
        *s = (AzureSealed) {};
}

/* A required standard-base64 member of the envelope, decoded; SIZE 0 = any non-empty size. */
static int get_b64_member(json_object *o, const char *name, size_t size, Buffer *ret, char **reterr_reason) {
        const char *s;
        size_t off = 0;
        int r;

        r = jwt_json_get_string(o, "sealed token", name, &s, reterr_reason);
        if (r < 0)
                return r;
        if (!s)
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token has no %s", name);
        r = b64_decode_full(B64_STANDARD, s, strlen(s), (void **) &ret->data, &ret->size, &off);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's %s is not base64 (offset %zu)", name, off);
        if (ret->size == 0 || (size > 0 && ret->size != size)) {
                size_t got = ret->size;
                buffer_done(ret);
                if (size > 0)
                        return jwt_fail(reterr_reason, -EBADMSG, "sealed token's %s has %zu bytes, not %zu",
                                        name, got, size);
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's %s is empty", name);
        }
        return 0;
}

static int expect_literal(json_object *o, const char *name, const char *want, char **reterr_reason) {
        char buf[JWT_ESCAPE_BUF];
        const char *s;
        int r;

        r = jwt_json_get_string(o, "EncryptionParams", name, &s, reterr_reason);
        if (r < 0)
                return r;
        if (!s)
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's EncryptionParams has no %s", name);
        if (!streq(s, want))
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's EncryptionParams.%s is \"%s\", not \"%s\"",
                                name, jwt_escape(s, buf), want);
        return 0;
}

static int parse_params(json_object *env, AzureSealed *s, char **reterr_reason) {
        json_object *params, *bits;
        int r;

        if (!json_object_object_get_ex(env, "EncryptionParams", &params) ||
            !json_object_is_type(params, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token has no EncryptionParams object");
        r = expect_literal(params, "Cipher", "AES", reterr_reason);
        if (r >= 0)
                r = expect_literal(params, "BlockMode", "ChainingModeGCM", reterr_reason);
        if (r < 0)
                return r;
        /* BlockPadding ("PKCS7") is nominal: GCM pads nothing, and no client strips anything. */
        if (!json_object_object_get_ex(params, "KeySizeInBits", &bits) || !json_object_is_type(bits, json_type_int))
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's EncryptionParams has no integer KeySizeInBits");
        int64_t b = json_object_get_int64(bits);
        if (!IN_SET(b, 128, 192, 256))
                return jwt_fail(reterr_reason, -EBADMSG, "sealed token's KeySizeInBits %" PRIi64 " is not 128, 192 or 256", b);
        s->key_bits = (unsigned) b;
        return get_b64_member(params, "Iv", AZURE_GUEST_IV_SIZE, &s->iv, reterr_reason);
}

int azure_guest_parse_reply(const char *body, size_t size, AzureSealed *ret, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *outer = NULL, *env = NULL;
        _cleanup_(azure_sealed_done) AzureSealed s = {};
        _cleanup_free_ char *text = NULL;
        const char *token;
        size_t text_size, off = 0;
        int r;

        r = jwt_json_parse_object(body, size, "reply", &outer, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(outer, "reply", "token", &token, reterr_reason);
        if (r < 0)
                return r;
        if (!token)
                return jwt_fail(reterr_reason, -EBADMSG, "reply has no \"token\" string");
        /* base64 of AES-GCM output: about 4/3 of the JWT, twice over. */
        if (strlen(token) / 2 > JWT_SIZE_MAX)
                return jwt_fail(reterr_reason, -EMSGSIZE, "sealed token is larger than allowed");
        r = b64_decode_full(B64_URL, token, strlen(token), (void **) &text, &text_size, &off);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "reply's token is not base64url (offset %zu)", off);
        r = jwt_json_parse_object(text, text_size, "sealed token", &env, reterr_reason);
        if (r < 0)
                return r;

        r = parse_params(env, &s, reterr_reason);
        if (r >= 0)
                r = get_b64_member(env, "AuthenticationData", AZURE_GUEST_TAG_SIZE, &s.tag, reterr_reason);
        if (r >= 0)
                r = get_b64_member(env, "EncryptedInnerKey", AZURE_GUEST_INNER_KEY_SIZE, &s.inner_key, reterr_reason);
        if (r >= 0)
                r = get_b64_member(env, "Jwt", 0, &s.jwt, reterr_reason);
        if (r < 0)
                return r;
        if (s.jwt.size > JWT_SIZE_MAX)
                return jwt_fail(reterr_reason, -EMSGSIZE, "sealed JWT has %zu bytes, more than allowed", s.jwt.size);

        *ret = s;
        s = (AzureSealed) {};
        return 0;
}

static const EVP_CIPHER *gcm_for(size_t key_size) {
        switch (key_size) {
        case 16:
                return EVP_aes_128_gcm();
        case 24:
                return EVP_aes_192_gcm();
        case 32:
                return EVP_aes_256_gcm();
        default:
                return NULL;
        }
}


int azure_guest_unseal(const AzureSealed *s, const void *key, size_t key_size, char **ret_jwt,
                       char **reterr_reason) {
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        _cleanup_free_ char *out = NULL;
        const EVP_CIPHER *cipher = gcm_for(key_size);
        int n = 0, m = 0;

        if (!cipher || key_size * 8 != s->key_bits)
                return jwt_fail(reterr_reason, -EINVAL, "the inner key has %zu bytes, KeySizeInBits says %u",
                                key_size, s->key_bits);
        if (s->iv.size != AZURE_GUEST_IV_SIZE || s->tag.size != AZURE_GUEST_TAG_SIZE || s->jwt.size == 0 ||
            s->jwt.size > INT_MAX)
                return -EINVAL;
        ctx = EVP_CIPHER_CTX_new();
        out = malloc(s->jwt.size + 1);
        if (!ctx || !out)
                return -ENOMEM;

        if (EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int) s->iv.size, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, s->iv.data) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *) AZURE_GUEST_AAD,
                              (int) strlen(AZURE_GUEST_AAD)) != 1 ||
            EVP_DecryptUpdate(ctx, (unsigned char *) out, &n, s->jwt.data, (int) s->jwt.size) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int) s->tag.size, s->tag.data) != 1)
                return jwt_fail(reterr_reason, -EIO, "OpenSSL cannot set up AES-GCM");
        if (EVP_DecryptFinal_ex(ctx, (unsigned char *) out + n, &m) != 1) {
                explicit_erase(out, s->jwt.size);
                return jwt_fail(reterr_reason, -EBADMSG, "the authentication tag does not match "
                                "(wrong key, or the token was altered)");
        }
        n += m;
        out[n] = '\0';
        /* A compact JWS is base64url and dots only; anything else is no token of the service's. */
        if ((size_t) n != strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
                return jwt_fail(reterr_reason, -EBADMSG, "the decrypted text is not a compact JWT");
        *ret_jwt = TAKE_PTR(out);
        return 0;
}

/* ---- os-release ---- */

void azure_os_info_done(AzureOsInfo *o) {
        free(o->distro);
        *o = (AzureOsInfo) {};
}

/* The value of KEY= on one line of os-release, quotes removed (no escapes: NAME and VERSION_ID
 * never carry any worth keeping). */
static char *os_release_value(const char *line, size_t len, const char *key) {
        size_t k = strlen(key);

        if (len <= k || strncmp(line, key, k) != 0 || line[k] != '=')
                return NULL;
        line += k + 1;
        len -= k + 1;
        if (len >= 2 && (line[0] == '"' || line[0] == '\'') && line[len - 1] == line[0]) {
                line++;
                len -= 2;
        }
        return strndup(line, len);
}

static unsigned parse_version_part(const char *s, char **end) {
        unsigned long v;

        if (!s || *s < '0' || *s > '9')
                return UINT_MAX;
        errno = 0;
        v = strtoul(s, end, 10);
        return errno || v > INT32_MAX ? UINT_MAX : (unsigned) v;
}

int azure_os_info_parse(const char *text, size_t size, AzureOsInfo *ret) {
        _cleanup_free_ char *name = NULL, *version = NULL;
        unsigned major = 1, minor = 0;

        for (const char *p = text, *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = (nl ?: end) - p;
                char *v;

                if ((v = os_release_value(p, len, "NAME"))) {
                        free(name);
                        name = v;
                } else if ((v = os_release_value(p, len, "VERSION_ID"))) {
                        free(version);
                        version = v;
                }
                p += len + 1;
        }
        if (version) {
                char *e = NULL;
                unsigned a = parse_version_part(version, &e);
                if (a != UINT_MAX && a > 0) {
                        major = a;
                        if (e && *e == '.') {
                                unsigned b = parse_version_part(e + 1, NULL);
                                if (b != UINT_MAX)
                                        minor = b;
                        }
                }
        }
        if (!name || !*name || strlen(name) > 256) {
                free(name);
                name = strdup("Linux");
                if (!name)
                        return -ENOMEM;
        }
        *ret = (AzureOsInfo) { .distro = TAKE_PTR(name), .major = major, .minor = minor };
        return 0;
}

/* ---- THIM ---- */

int azure_thim_parse(const char *body, size_t size, char **ret_chain, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *vcek, *chain;
        int r;

        r = jwt_json_parse_object(body, size, "THIM reply", &o, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(o, "THIM reply", "vcekCert", &vcek, reterr_reason);
        if (r >= 0)
                r = jwt_json_get_string(o, "THIM reply", "certificateChain", &chain, reterr_reason);
        if (r < 0)
                return r;
        if (!vcek || !strstr(vcek, "-----BEGIN CERTIFICATE-----"))
                return jwt_fail(reterr_reason, -EBADMSG, "THIM reply has no PEM vcekCert");
        if (!chain || !strstr(chain, "-----BEGIN CERTIFICATE-----"))
                return jwt_fail(reterr_reason, -EBADMSG, "THIM reply has no PEM certificateChain");
        return asprintf(ret_chain, "%s%s", vcek, chain) < 0 ? -ENOMEM : 0;
}
