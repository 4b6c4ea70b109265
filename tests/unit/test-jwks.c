/* SPDX-License-Identifier: MIT */
/* Unit tests for jwks.c: the real MAA key sets and OpenID documents, n/e keys, and one negative
 * case per malformed member, checking the key index and member the reason names. */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "b64.h"
#include "check-main.h"
#include "jwks.h"
#include "jwt-test-util.h"

static const char *const instances[] = { "aad", "isolated", "shared" };

START_TEST(test_real_jwks) {
        _cleanup_(json_object_putp) json_object *index = tu_maa_index();
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        json_object *inst, *kids;

        ck_assert(json_object_object_get_ex(index, "instances", &inst));
        ck_assert(json_object_object_get_ex(inst, instances[_i], &inst));
        ck_assert(json_object_object_get_ex(inst, "kids", &kids));
        jwks = tu_load_jwks(tu_json_str(inst, "jwks"));

        ck_assert_uint_eq(jwks->n_keys, json_object_array_length(kids));
        for (size_t i = 0; i < jwks->n_keys; i++) {
                const JwksKey *k = &jwks->keys[i];

                ck_assert_str_eq(k->kid, json_object_get_string(json_object_array_get_idx(kids, i)));
                ck_assert_str_eq(k->kty, "RSA");
                ck_assert_ptr_nonnull(k->pkey);
                ck_assert(EVP_PKEY_is_a(k->pkey, "RSA"));
                ck_assert_int_ge(EVP_PKEY_get_bits(k->pkey), 2048);
                ck_assert_ptr_eq(jwks_find(jwks, k->kid), k);
        }
        /* kids are opaque: no base64 normalisation, no case folding. */
        ck_assert_ptr_nonnull(jwks_find(jwks, "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE="));
        ck_assert_ptr_null(jwks_find(jwks, "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE"));
        ck_assert_ptr_null(jwks_find(jwks, "d5dr62_fg0alpalmbsp-writwju"));
        ck_assert_ptr_null(jwks_find(jwks, ""));
        ck_assert_ptr_null(jwks_find(jwks, NULL));
}
END_TEST

START_TEST(test_real_openid) {
        _cleanup_(json_object_putp) json_object *index = tu_maa_index();
        _cleanup_(openid_config_freep) OpenIdConfig *c = NULL;
        _cleanup_free_ char *text = NULL, *url = NULL, *url2 = NULL, *slash = NULL, *reason = NULL;
        json_object *inst;
        const char *issuer;
        size_t size;

        ck_assert(json_object_object_get_ex(index, "instances", &inst));
        ck_assert(json_object_object_get_ex(inst, instances[_i], &inst));
        issuer = tu_json_str(inst, "issuer");
        text = tu_read_maa(tu_json_str(inst, "openid_configuration"), &size);

        ck_assert_int_eq(openid_config_parse(text, size, &c, &reason), 0);
        ck_assert_str_eq(c->issuer, issuer);
        ck_assert_int_eq(jwks_url_for_endpoint(issuer, &url), 0);
        ck_assert_str_eq(c->jwks_uri, url);
        ck_assert_int_ge(asprintf(&slash, "%s/", issuer), 0);
        ck_assert_int_eq(jwks_url_for_endpoint(slash, &url2), 0);
        ck_assert_str_eq(url2, url);
        ck_assert(endpoint_equal(c->issuer, slash));
}
END_TEST

static const struct {
        const char *text;
        int r;
        const char *reason;
} openid_cases[] = {
        { "{\"jwks_uri\":\"https://x/certs\"}", 0, NULL },
        { "{}", -EBADMSG, "OpenID configuration has no \"jwks_uri\"" },
        { "{\"jwks_uri\":null}", -EBADMSG, "has no \"jwks_uri\"" },
        { "{\"jwks_uri\":5}", -EBADMSG, "OpenID configuration member \"jwks_uri\" is a int, not a string" },
        { "{\"jwks_uri\":\"https://x/certs\",\"issuer\":[]}", -EBADMSG, "member \"issuer\" is a array" },
        { "[]", -EBADMSG, "OpenID configuration is JSON but not an object" },
        { "<html>", -EBADMSG, "OpenID configuration is not valid JSON: unexpected character at offset 0" },
};

START_TEST(test_openid_cases) {
        _cleanup_(openid_config_freep) OpenIdConfig *c = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *t = openid_cases[_i].text;
        int r;

        r = openid_config_parse(t, strlen(t), &c, &reason);
        ck_assert_msg(r == openid_cases[_i].r, "'%s': %d (%s)", t, r, strna(reason));
        if (r == 0) {
                ck_assert_str_eq(c->jwks_uri, "https://x/certs");
                ck_assert_ptr_null(c->issuer);
                return;
        }
        ck_assert_msg(strstr(reason, openid_cases[_i].reason), "reason '%s'", reason);
}
END_TEST

START_TEST(test_openid_size) {
        size_t n = OPENID_CONFIG_SIZE_MAX + 1;
        _cleanup_free_ char *big = malloc(n + 1), *reason = NULL;
        OpenIdConfig *c = NULL;

        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        big[n] = 0;
        ck_assert_int_eq(openid_config_parse(big, n, &c, &reason), -EMSGSIZE);
        ck_assert_str_eq(reason, "OpenID configuration is 65537 bytes, more than the 65536 allowed");
}
END_TEST

START_TEST(test_endpoint_helpers) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        ck_assert(endpoint_equal("https://a.example", "https://a.example/"));
        ck_assert(endpoint_equal("https://a.example/", "https://a.example/"));
        ck_assert(!endpoint_equal("https://a.example//", "https://a.example"));
        ck_assert(!endpoint_equal("https://a.example", "https://A.example"));
        ck_assert(!endpoint_equal("https://a.example", "https://a.example.evil"));
        ck_assert(!endpoint_equal("https://a.example", NULL));
        ck_assert(endpoint_equal(NULL, NULL));
        ck_assert_int_eq(endpoint_url("https://a.example/", "/certs", &a), 0);
        ck_assert_str_eq(a, "https://a.example/certs");
        ck_assert_int_eq(endpoint_url("https://a.example", "/.well-known/openid-configuration", &b), 0);
        ck_assert_str_eq(b, "https://a.example/.well-known/openid-configuration");
}
END_TEST

/* ---- synthetic key sets ---- */

static EVP_PKEY *key;
static char *n_b64, *e_b64, *x5c0, *x5c0_trailing, *ec_cert_b64;

/* Standard base64 of a self-signed DER certificate for PKEY. */
static char *self_signed_b64(EVP_PKEY *pkey) {
        X509 *x = X509_new();
        uint8_t *der = NULL;
        char *s = NULL;
        int len;

        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(X509_set_version(x, 2), 1);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const uint8_t *) "test", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(x));
        ck_assert_int_eq(X509_set_pubkey(x, pkey), 1);
        ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
        len = i2d_X509(x, &der);
        ck_assert_int_gt(len, 0);
        ck_assert_int_eq(b64_encode(der, (size_t) len, &s), 0);
        OPENSSL_free(der);
        X509_free(x);
        return s;
}

static void keys_setup(void) {
        _cleanup_free_ char *text = tu_read_maa("jwks/aad.json", NULL);
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(text);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = EVP_EC_gen("P-256");
        json_object *keys, *x5c;

        key = tu_rsa_key(2048);
        n_b64 = tu_rsa_param(key, OSSL_PKEY_PARAM_RSA_N);
        e_b64 = tu_rsa_param(key, OSSL_PKEY_PARAM_RSA_E);
        ck_assert(json_object_object_get_ex(o, "keys", &keys));
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(keys, 0), "x5c", &x5c));
        x5c0 = strdup(json_object_get_string(json_object_array_get_idx(x5c, 0)));
        {
                _cleanup_free_ uint8_t *der = NULL;
                size_t size;

                ck_assert_int_eq(b64_decode(x5c0, strlen(x5c0), (void **) &der, &size), 0);
                der = realloc(der, size + 3);
                memcpy(der + size, "\1\2\3", 3);
                ck_assert_int_eq(b64_encode(der, size + 3, &x5c0_trailing), 0);
        }
        ck_assert_ptr_nonnull(ec);
        ec_cert_b64 = self_signed_b64(ec);
}

static void keys_teardown(void) {
        EVP_PKEY_free(key);
        free(n_b64);
        free(e_b64);
        free(x5c0);
        free(x5c0_trailing);
        free(ec_cert_b64);
}

/* Placeholders: @N@ @E@ our key's n/e, @X@ the real x5c[0] of jwks/aad.json, @XT@ the same DER
 * followed by 3 bytes, @EC@ a certificate with an EC key. */
static char *expand(const char *t) {
        static const char *const names[] = { "@N@", "@E@", "@XT@", "@X@", "@EC@" };
        const char *values[] = { n_b64, e_b64, x5c0_trailing, x5c0, ec_cert_b64 };
        char *out = strdup(t);

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *n = tu_replace_all(out, names[i], values[i]);

                free(out);
                out = n;
        }
        return out;
}

#define NE "\"n\":\"@N@\",\"e\":\"@E@\""

static const ReasonCase jwks_cases[] = {
        { "n/e key", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\"," NE "}]}", 0, NULL },
        { "x5c key", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"x5c\":[\"@X@\"]}]}", 0, NULL },
        { "extra members", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"use\":\"sig\",\"alg\":\"RS256\",\"x5t\":\"q\"," NE "}],\"x\":1}", 0, NULL },
        { "empty keys", "{\"keys\":[]}", 0, NULL },
        { "EC key kept", "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"a\",\"crv\":\"P-256\"}]}", 0, NULL },
        { "no kid", "{\"keys\":[{\"kty\":\"RSA\"," NE "}]}", 0, NULL },
        { "null kid", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":null," NE "}]}", 0, NULL },
        { "not JSON", "keys", -EBADMSG, "JWKS is not valid JSON" },
        { "array", "[{\"keys\":[]}]", -EBADMSG, "JWKS is JSON but not an object" },
        { "no keys", "{}", -EBADMSG, "JWKS has no \"keys\" member" },
        { "null keys", "{\"keys\":null}", -EBADMSG, "JWKS has no \"keys\" member" },
        { "keys object", "{\"keys\":{}}", -EBADMSG, "JWKS \"keys\" is a object, not an array" },
        { "keys string", "{\"keys\":\"x\"}", -EBADMSG, "JWKS \"keys\" is a string, not an array" },
        { "key not object", "{\"keys\":[1]}", -EBADMSG, "keys[0] is not an object" },
        { "second key bad", "{\"keys\":[{\"kty\":\"RSA\"," NE "},[]]}", -EBADMSG, "keys[1] is not an object" },
        { "kid int", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":1," NE "}]}", -EBADMSG, "keys[0] member \"kid\" is a int, not a string" },
        { "kid array", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":[\"a\"]," NE "}]}", -EBADMSG, "keys[0] member \"kid\" is a array" },
        { "kid object", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":{}," NE "}]}", -EBADMSG, "keys[0] member \"kid\" is a object" },
        { "kid bool", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":true," NE "}]}", -EBADMSG, "keys[0] member \"kid\" is a boolean" },
        { "kid double", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":1.5," NE "}]}", -EBADMSG, "keys[0] member \"kid\" is a double" },
        { "duplicate kid", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\"," NE "},{\"kty\":\"EC\",\"kid\":\"a\"}]}", -EBADMSG,
          "keys[1] repeats the kid \"a\" of keys[0]" },
        { "no kty", "{\"keys\":[{\"kid\":\"a\"," NE "}]}", -EBADMSG, "keys[0] has no kty" },
        { "kty int", "{\"keys\":[{\"kty\":1," NE "}]}", -EBADMSG, "keys[0] member \"kty\" is a int" },
        { "RSA without material", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\"}]}", -EBADMSG, "keys[0] is an RSA key with neither x5c nor n/e" },
        { "x5c object", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":{}}]}", -EBADMSG, "keys[0].x5c is not an array" },
        { "x5c string", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":\"@X@\"}]}", -EBADMSG, "keys[0].x5c is not an array" },
        { "x5c empty", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[]}]}", -EBADMSG, "keys[0].x5c is empty" },
        { "x5c[0] int", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[1]}]}", -EBADMSG, "keys[0].x5c[0] is not a string" },
        { "x5c[0] empty", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"\"]}]}", -EBADMSG, "keys[0].x5c[0] is empty" },
        { "x5c[0] base64url", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"MIIV-_\"]}]}", -EBADMSG, "keys[0].x5c[0] is not standard base64 (offset 4)" },
        { "x5c[0] with newline", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"MIIV\\nZzCC\"]}]}", -EBADMSG, "keys[0].x5c[0] is not standard base64 (offset 4)" },
        { "x5c[0] not DER", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"AAAA\"]}]}", -EBADMSG, "keys[0].x5c[0] is not a DER X.509 certificate" },
        { "x5c[0] trailing data", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"@XT@\"]}]}", -EBADMSG, "keys[0].x5c[0] has 3 bytes of trailing data" },
        { "x5c[0] EC cert", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"@EC@\"]}]}", -EBADMSG, "keys[0].x5c[0] certificate key is EC, not RSA" },
        { "x5c[1] int", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"@X@\",2]}]}", -EBADMSG, "keys[0].x5c[1] is not a string" },
        { "x5c[1] bad", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"@X@\",\"***\"]}]}", -EBADMSG, "keys[0].x5c[1] is not standard base64 (offset 0)" },
        { "x5c and other n/e", "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"@X@\"]," NE "}]}", -EBADMSG,
          "keys[0] n/e differ from the x5c[0] certificate's key" },
        { "n without e", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"@N@\"}]}", -EBADMSG, "keys[0] has n without e" },
        { "e without n", "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"@E@\"}]}", -EBADMSG, "keys[0] has e without n" },
        { "n int", "{\"keys\":[{\"kty\":\"RSA\",\"n\":1,\"e\":\"@E@\"}]}", -EBADMSG, "keys[0] member \"n\" is a int" },
        { "n standard base64", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"ab+/\",\"e\":\"@E@\"}]}", -EBADMSG, "keys[0].n is not base64url (offset 2)" },
        { "n empty", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"@E@\"}]}", -EBADMSG, "keys[0].n is zero or empty" },
        { "e zero", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"AA\"}]}", -EBADMSG, "keys[0].e is zero or empty" },
        { "e one", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"AQ\"}]}", -EBADMSG, "keys[0] n/e do not form an RSA public key" },
        { "e even", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"AQAA\"}]}", -EBADMSG, "keys[0] n/e do not form an RSA public key" },
        { "e 9 bytes", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"AQEBAQEBAQEB\"}]}", -EBADMSG, "keys[0].e is 9 bytes, more than 8" },
        { "n even", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAA\",\"e\":\"@E@\"}]}", -EBADMSG, "keys[0] n/e do not form an RSA public key" },
};

START_TEST(test_jwks_cases) {
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        _cleanup_free_ char *reason = NULL, *text = expand(jwks_cases[_i].input);
        int r;

        r = jwks_parse(text, strlen(text), &jwks, &reason);
        ck_assert_msg(r == jwks_cases[_i].r, "%s: %d (%s)", jwks_cases[_i].name, r, strna(reason));
        if (r < 0) {
                ck_assert_ptr_null(jwks);
                ck_assert_msg(strstr(reason, jwks_cases[_i].reason), "%s: reason '%s' lacks '%s'",
                              jwks_cases[_i].name, reason, jwks_cases[_i].reason);
                return;
        }
        ck_assert_ptr_null(reason);
        for (size_t i = 0; i < jwks->n_keys; i++)
                ck_assert(streq(jwks->keys[i].kty, "RSA") == !!jwks->keys[i].pkey);
}
END_TEST

START_TEST(test_ne_key) {
        _cleanup_free_ char *text = expand("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\"," NE "},"
                                           "{\"kty\":\"EC\",\"kid\":\"b\"},{\"kty\":\"RSA\",\"x5c\":[\"@X@\"]}]}");
        _cleanup_(jwks_freep) Jwks *jwks = NULL;

        ck_assert_int_eq(jwks_parse(text, strlen(text), &jwks, NULL), 0);
        ck_assert_uint_eq(jwks->n_keys, 3);
        ck_assert_int_eq(EVP_PKEY_eq(jwks_find(jwks, "a")->pkey, key), 1);
        ck_assert_ptr_null(jwks_find(jwks, "b")->pkey);
        ck_assert_str_eq(jwks_find(jwks, "b")->kty, "EC");
        ck_assert_ptr_null(jwks->keys[2].kid);
        ck_assert_ptr_nonnull(jwks->keys[2].pkey);
}
END_TEST

/* The real certificate plus its own n/e (also with a leading zero octet on n) is one key. */
START_TEST(test_x5c_with_matching_ne) {
        _cleanup_(jwks_freep) Jwks *real = tu_load_jwks("jwks/aad.json");
        _cleanup_free_ char *n = tu_rsa_param(real->keys[0].pkey, OSSL_PKEY_PARAM_RSA_N);
        _cleanup_free_ char *e = tu_rsa_param(real->keys[0].pkey, OSSL_PKEY_PARAM_RSA_E);
        _cleanup_free_ void *raw = NULL;
        _cleanup_free_ char *n0 = NULL;
        uint8_t buf[600];
        size_t size;

        ck_assert_int_eq(b64url_decode(n, strlen(n), &raw, &size), 0);
        buf[0] = 0;
        memcpy(buf + 1, raw, size);
        n0 = tu_b64url(buf, size + 1);

        const char *ns[] = { n, n0 };
        for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
                _cleanup_(jwks_freep) Jwks *jwks = NULL;
                _cleanup_free_ char *text = NULL, *reason = NULL;

                ck_assert_int_ge(asprintf(&text, "{\"keys\":[{\"kty\":\"RSA\",\"x5c\":[\"%s\"],\"n\":\"%s\",\"e\":\"%s\"}]}",
                                          x5c0, ns[i], e), 0);
                ck_assert_msg(jwks_parse(text, strlen(text), &jwks, &reason) == 0, "%s", strna(reason));
                ck_assert_int_eq(EVP_PKEY_eq(jwks->keys[0].pkey, real->keys[0].pkey), 1);
        }
}
END_TEST

START_TEST(test_limits) {
        _cleanup_free_ char *reason = NULL, *many = NULL, *big = NULL, *huge_n = NULL, *text = NULL;
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        uint8_t nbuf[1025];
        size_t len = 0, cap = 1 << 20;

        /* JWKS_KEYS_MAX + 1 keys */
        many = malloc(cap);
        len += (size_t) snprintf(many + len, cap - len, "{\"keys\":[");
        for (unsigned i = 0; i <= JWKS_KEYS_MAX; i++)
                len += (size_t) snprintf(many + len, cap - len, "%s{\"kty\":\"EC\",\"kid\":\"k%u\"}", i ? "," : "", i);
        snprintf(many + len, cap - len, "]}");
        ck_assert_int_eq(jwks_parse(many, strlen(many), &jwks, &reason), -E2BIG);
        ck_assert_str_eq(reason, "JWKS has 65 keys, more than the 64 allowed");

        /* One byte over the size cap. */
        big = malloc(JWKS_SIZE_MAX + 2);
        memset(big, ' ', JWKS_SIZE_MAX + 1);
        memcpy(big, "{\"keys\":[]}", 11);
        big[JWKS_SIZE_MAX + 1] = 0;
        ck_assert_int_eq(jwks_parse(big, JWKS_SIZE_MAX, &jwks, NULL), 0);
        jwks = jwks_free(jwks);
        ck_assert_int_eq(jwks_parse(big, JWKS_SIZE_MAX + 1, &jwks, &reason), -EMSGSIZE);
        ck_assert_str_eq(reason, "JWKS is 1048577 bytes, more than the 1048576 allowed");

        /* An 8200-bit modulus is refused before OpenSSL sees it. */
        memset(nbuf, 0xff, sizeof nbuf);
        huge_n = tu_b64url(nbuf, sizeof nbuf);
        ck_assert_int_ge(asprintf(&text, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}", huge_n), 0);
        ck_assert_int_eq(jwks_parse(text, strlen(text), &jwks, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "keys[0].n is 1025 bytes, more than 1024");
}
END_TEST

static Suite *jwks_suite(void) {
        Suite *s = suite_create("jwks");
        TCase *tc;

        tc = tcase_create("maa-real");
        tcase_add_loop_test(tc, test_real_jwks, 0, ELEMENTSOF(instances));
        tcase_add_loop_test(tc, test_real_openid, 0, ELEMENTSOF(instances));
        suite_add_tcase(s, tc);

        tc = tcase_create("openid");
        tcase_add_loop_test(tc, test_openid_cases, 0, ELEMENTSOF(openid_cases));
        tcase_add_test(tc, test_openid_size);
        tcase_add_test(tc, test_endpoint_helpers);
        suite_add_tcase(s, tc);

        tc = tcase_create("parse");
        tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
        tcase_add_loop_test(tc, test_jwks_cases, 0, ELEMENTSOF(jwks_cases));
        tcase_add_test(tc, test_ne_key);
        tcase_add_test(tc, test_x5c_with_matching_ne);
        tcase_add_test(tc, test_limits);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return check_run(jwks_suite());
}
