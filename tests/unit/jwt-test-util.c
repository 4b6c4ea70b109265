/* SPDX-License-Identifier: MIT */
/* Test helpers for the token tests: file and INDEX.json access, and an RS256 signer built directly
 * on OpenSSL so the tokens it mints do not depend on the code under test. */
#include <check.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "b64.h"
#include "jwt-test-util.h"

char *tu_replace_all(const char *s, const char *from, const char *to) {
        char *out = strdup(s), *p;

        while ((p = strstr(out, from))) {
                char *n = NULL;

                ck_assert_int_ge(asprintf(&n, "%.*s%s%s", (int) (p - out), out, to, p + strlen(from)), 0);
                free(out);
                out = n;
        }
        return out;
}

char *tu_read_maa(const char *rel, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/%s", MAA_DIR, rel), 0);
        return tu_read_file(path, ret_size);
}

json_object *tu_maa_index(void) {
        _cleanup_free_ char *text = tu_read_maa("INDEX.json", NULL);
        json_object *o = json_tokener_parse(text);

        ck_assert_ptr_nonnull(o);
        return o;
}

const char *tu_json_str(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int64_t tu_json_int(json_object *o, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
        return json_object_get_int64(v);
}

json_object *tu_maa_token_entry(json_object *index, const char *rel) {
        json_object *tokens;

        ck_assert(json_object_object_get_ex(index, "tokens", &tokens));
        for (size_t i = 0; i < json_object_array_length(tokens); i++) {
                json_object *e = json_object_array_get_idx(tokens, i);

                if (streq_ptr(tu_json_str(e, "file"), rel))
                        return e;
        }
        ck_abort_msg("%s not in INDEX.json", rel);
        return NULL;
}

Jwks *tu_load_jwks(const char *rel) {
        _cleanup_free_ char *reason = NULL;
        size_t size;
        _cleanup_free_ char *text = tu_read_maa(rel, &size);
        Jwks *jwks = NULL;
        int r;

        r = jwks_parse(text, size, &jwks, &reason);
        ck_assert_msg(r == 0, "%s: %s", rel, strna(reason));
        return jwks;
}

char *tu_b64url(const void *p, size_t n) {
        char *s = NULL;

        ck_assert_int_eq(b64url_encode(p, n, &s), 0);
        return s;
}

static void part_bounds(const char *compact, unsigned part, size_t *ret_start, size_t *ret_len) {
        const char *s = compact, *e;

        for (unsigned i = 0; i < part; i++) {
                s = strchr(s, '.');
                ck_assert_ptr_nonnull(s);
                s++;
        }
        e = strchr(s, '.');
        *ret_start = (size_t) (s - compact);
        *ret_len = e ? (size_t) (e - s) : strlen(s);
}

char *tu_token_part(const char *compact, unsigned part) {
        size_t start, len, size;
        void *p = NULL;

        part_bounds(compact, part, &start, &len);
        ck_assert_int_eq(b64url_decode(compact + start, len, &p, &size), 0);
        return p;
}

char *tu_token_replace_part(const char *compact, unsigned part, const char *new_part) {
        size_t start, len;
        char *s = NULL;

        part_bounds(compact, part, &start, &len);
        ck_assert_int_ge(asprintf(&s, "%.*s%s%s", (int) start, compact, new_part, compact + start + len), 0);
        return s;
}

EVP_PKEY *tu_rsa_key(unsigned bits) {
        EVP_PKEY *pkey = EVP_RSA_gen(bits);

        ck_assert_ptr_nonnull(pkey);
        return pkey;
}

char *tu_rsa_param(EVP_PKEY *pkey, const char *name) {
        BIGNUM *bn = NULL;
        uint8_t buf[1024];
        int n;
        char *s;

        ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, name, &bn), 1);
        n = BN_bn2bin(bn, buf);
        ck_assert_int_gt(n, 0);
        s = tu_b64url(buf, (size_t) n);
        BN_free(bn);
        return s;
}

char *tu_jwk_json(EVP_PKEY *pkey) {
        _cleanup_free_ char *n = tu_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_N);
        _cleanup_free_ char *e = tu_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_E);
        char *s = NULL;

        ck_assert_int_ge(asprintf(&s, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e), 0);
        return s;
}

char *tu_jwks_json(EVP_PKEY *pkey, const char *kid) {
        _cleanup_free_ char *n = tu_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_N);
        _cleanup_free_ char *e = tu_rsa_param(pkey, OSSL_PKEY_PARAM_RSA_E);
        char *s = NULL;

        ck_assert_int_ge(asprintf(&s, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}]}",
                                  kid, n, e), 0);
        return s;
}

char *tu_sign(EVP_PKEY *pkey, const char *header_json, const char *claims_json) {
        _cleanup_free_ char *h = tu_b64url_str(header_json), *c = tu_b64url_str(claims_json);
        _cleanup_free_ char *input = NULL, *sig_b64 = NULL;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t sig[1024];
        size_t sig_len = sizeof sig;
        char *s = NULL;

        ck_assert_int_ge(asprintf(&input, "%s.%s", h, c), 0);
        ck_assert_ptr_nonnull(ctx);
        ck_assert_int_eq(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
        ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *) input, strlen(input)), 1);
        EVP_MD_CTX_free(ctx);

        sig_b64 = tu_b64url(sig, sig_len);
        ck_assert_int_ge(asprintf(&s, "%s.%s", input, sig_b64), 0);
        return s;
}

char *tu_cert_b64(EVP_PKEY *pkey, const char *cn) {
        X509 *x = X509_new();
        X509_NAME *name;
        uint8_t *der = NULL;
        char *s = NULL;
        int n;

        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(X509_set_version(x, 2), 1);
        ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
        ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
        ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
        name = X509_get_subject_name(x);
        ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const uint8_t *) cn, -1, -1, 0), 1);
        ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
        ck_assert_int_eq(X509_set_pubkey(x, pkey), 1);
        ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
        n = i2d_X509(x, &der);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(b64_encode(der, (size_t) n, &s), 0);
        OPENSSL_free(der);
        X509_free(x);
        return s;
}

char *tu_x5t(const char *cert_b64) {
        _cleanup_free_ void *der = NULL;
        uint8_t sha1[20];
        size_t size;

        ck_assert_int_eq(b64_decode_full(B64_STANDARD, cert_b64, strlen(cert_b64), &der, &size, NULL), 0);
        ck_assert_ptr_nonnull(SHA1(der, size, sha1));
        return tu_b64url(sha1, sizeof sha1);
}
