/* SPDX-License-Identifier: MIT */
/* Unit tests for token.c: the real MAA tokens of tests/testdata (driven by INDEX.json) and tokens
 * minted here with a generated RSA key, for every check token_verify makes and every errno. */
#include <check.h>
#include <openssl/core_names.h>

#include "b64.h"
#include "check-main.h"
#include "jwt-test-util.h"
#include "token-claims.h"
#include "token.h"

#define TEST_ISSUER "https://test.attest.example"
#define TEST_KID "test-kid"
#define NOW_SEC INT64_C(1700000000)     /* 2023-11-14T22:13:20Z */
#define NOW (NOW_SEC * USEC_PER_SEC)
#define SKEW (60 * USEC_PER_SEC)
#define NONCE "bm9uY2UtMTI"             /* base64url("nonce-12") */

#define HDR "{\"alg\":\"RS256\",\"jku\":\"" TEST_ISSUER "/certs\",\"kid\":\"" TEST_KID "\",\"typ\":\"JWT\"}"
#define CLAIMS_OK "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1699999990,\"nbf\":1699999990,\"exp\":1700003600,\"jti\":\"j1\"}"

/* Generated once in the parent (unchecked fixture) and inherited by every forked test. */
static EVP_PKEY *key, *other_key;
static Jwks *own_jwks;

static void own_key_setup(void) {
        _cleanup_free_ char *text = NULL;

        key = tu_rsa_key(2048);
        other_key = tu_rsa_key(2048);
        text = tu_jwks_json(key, TEST_KID);
        ck_assert_int_eq(jwks_parse(text, strlen(text), &own_jwks, NULL), 0);
}

static void own_key_teardown(void) {
        own_jwks = jwks_free(own_jwks);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other_key);
}

/* Expects R from verifying COMPACT; REASON (when non-NULL) must appear in the reason. */
static void expect_verify(const char *compact, const Jwks *jwks, const TokenExpect *e, uint64_t now, int r,
                          const char *reason) {
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_free_ char *got = NULL;
        int k;

        k = token_verify(compact, jwks, e, now, &t, &got);
        ck_assert_msg(k == r, "token_verify() = %d (%s), expected %d", k, strna(got), r);
        if (r == 0) {
                ck_assert_ptr_nonnull(t);
                ck_assert_ptr_null(got);
                return;
        }
        ck_assert_ptr_null(t);
        ck_assert_ptr_nonnull(got);
        ck_assert_ptr_null(strchr(got, '\n'));
        if (reason)
                ck_assert_msg(strstr(got, reason), "reason '%s' lacks '%s'", got, reason);
}

/* ---- real MAA tokens ---- */

static const char *instance_jwks(const char *iss) {
        if (strstr(iss, "cplarryoattestationaad"))
                return "jwks/aad.json";
        if (strstr(iss, "cplarryoattestationiso"))
                return "jwks/isolated.json";
        return "jwks/shared.json";
}

START_TEST(test_maa_index) {
        _cleanup_(json_object_putp) json_object *index = tu_maa_index();
        json_object *tokens, *entry, *also;
        const char *file, *iss, *expect, *jwks_file;
        _cleanup_free_ char *compact = NULL, *iss_slash = NULL;

        ck_assert(json_object_object_get_ex(index, "tokens", &tokens));
        ck_assert_uint_eq(json_object_array_length(tokens), 60);
        entry = json_object_array_get_idx(tokens, _i);
        file = tu_json_str(entry, "file");
        iss = tu_json_str(entry, "iss");
        expect = tu_json_str(entry, "expect");
        jwks_file = tu_json_str(entry, "jwks_file");
        compact = tu_read_maa(file, NULL);

        TokenExpect e = { .issuer = iss, .skew_usec = SKEW };
        uint64_t now = (uint64_t) tu_json_int(entry, "iat") * USEC_PER_SEC;

        if (streq(expect, "reject-alg-none")) {
                _cleanup_(jwks_freep) Jwks *jwks = tu_load_jwks(instance_jwks(iss));

                ck_assert_str_eq(tu_json_str(entry, "alg"), "none");
                expect_verify(compact, jwks, &e, now, -EPROTONOSUPPORT, "alg \"none\" is not accepted (only RS256)");
                return;
        }

        ck_assert_str_eq(expect, "valid-signature");
        ck_assert_ptr_nonnull(jwks_file);
        {
                _cleanup_(jwks_freep) Jwks *jwks = tu_load_jwks(jwks_file);
                _cleanup_(token_freep) Token *t = NULL;
                _cleanup_free_ char *reason = NULL;
                int r = token_verify(compact, jwks, &e, now, &t, &reason);

                ck_assert_msg(r == 0, "%s: %s", file, strna(reason));
                ck_assert_str_eq(t->kid, tu_json_str(entry, "kid"));
                ck_assert_str_eq(t->iss, iss);
                ck_assert_uint_eq(t->iat_usec, now);
                ck_assert_uint_eq(t->nbf_usec, (uint64_t) tu_json_int(entry, "nbf") * USEC_PER_SEC);
                ck_assert_uint_eq(t->exp_usec, (uint64_t) tu_json_int(entry, "exp") * USEC_PER_SEC);
                ck_assert(json_object_is_type(t->claims, json_type_object));
                ck_assert(json_object_is_type(t->header, json_type_object));
        }

        /* The same key is served by every instance. */
        ck_assert(json_object_object_get_ex(entry, "also_verifies_with", &also));
        ck_assert_uint_gt(json_object_array_length(also), 0);
        for (size_t i = 0; i < json_object_array_length(also); i++) {
                _cleanup_(jwks_freep) Jwks *jwks = tu_load_jwks(json_object_get_string(json_object_array_get_idx(also, i)));

                expect_verify(compact, jwks, &e, now, 0, NULL);
        }

        /* A configured endpoint with a trailing '/' still matches iss and pins jku. */
        ck_assert_int_ge(asprintf(&iss_slash, "%s/", iss), 0);
        {
                _cleanup_(jwks_freep) Jwks *jwks = tu_load_jwks(jwks_file);
                TokenExpect e2 = { .issuer = iss_slash, .skew_usec = 0 };

                expect_verify(compact, jwks, &e2, now, 0, NULL);
        }
}
END_TEST

#define MAA_TOKEN "tokens/060_AttestTpm.jwt"
#define MAA_ISS "https://cplarryoattestationaad.wus.attest.azure.net"

typedef struct MaaFixture {
        char *compact;
        Jwks *jwks;
        json_object *index, *entry;
        uint64_t iat, nbf, exp;
} MaaFixture;

static void maa_load(MaaFixture *f) {
        f->compact = tu_read_maa(MAA_TOKEN, NULL);
        f->jwks = tu_load_jwks("jwks/aad.json");
        f->index = tu_maa_index();
        f->entry = tu_maa_token_entry(f->index, MAA_TOKEN);
        f->iat = (uint64_t) tu_json_int(f->entry, "iat") * USEC_PER_SEC;
        f->nbf = (uint64_t) tu_json_int(f->entry, "nbf") * USEC_PER_SEC;
        f->exp = (uint64_t) tu_json_int(f->entry, "exp") * USEC_PER_SEC;
}

static void maa_done(MaaFixture *f) {
        free(f->compact);
        jwks_free(f->jwks);
        json_object_put(f->index);
}

START_TEST(test_maa_kid_removed) {
        _cleanup_(maa_done) MaaFixture f = {};
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(jwks_freep) Jwks *variant = NULL;
        _cleanup_free_ char *text = NULL;
        json_object *keys, *kept;
        const char *kid;
        TokenExpect e = { .issuer = MAA_ISS, .skew_usec = SKEW };

        maa_load(&f);
        kid = tu_json_str(f.entry, "kid");
        text = tu_read_maa("jwks/aad.json", NULL);
        root = json_tokener_parse(text);
        ck_assert(json_object_object_get_ex(root, "keys", &keys));
        kept = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
                json_object *k = json_object_array_get_idx(keys, i);

                if (!streq(tu_json_str(k, "kid"), kid))
                        json_object_array_add(kept, json_object_get(k));
        }
        ck_assert_uint_eq(json_object_array_length(kept), 2);
        json_object_object_add(root, "keys", kept);
        const char *s = json_object_to_json_string(root);
        ck_assert_int_eq(jwks_parse(s, strlen(s), &variant, NULL), 0);

        expect_verify(f.compact, variant, &e, f.iat, -ENOKEY,
                      "kid \"XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=\" not in key set (2 keys)");
        /* And a set with no keys at all. */
        {
                _cleanup_(jwks_freep) Jwks *empty = NULL;

                ck_assert_int_eq(jwks_parse("{\"keys\":[]}", 11, &empty, NULL), 0);
                expect_verify(f.compact, empty, &e, f.iat, -ENOKEY, "not in key set (0 keys)");
        }
}
END_TEST

START_TEST(test_maa_time) {
        _cleanup_(maa_done) MaaFixture f = {};
        TokenExpect e = { .issuer = MAA_ISS, .skew_usec = SKEW };

        maa_load(&f);
        expect_verify(f.compact, f.jwks, &e, f.nbf, 0, NULL);
        expect_verify(f.compact, f.jwks, &e, f.exp + SKEW - 1, 0, NULL);
        expect_verify(f.compact, f.jwks, &e, f.exp + SKEW, -ESTALE,
                      "token expired at 2022-05-31T23:47:56Z (now 2022-05-31T23:48:56Z, skew 60s)");
        expect_verify(f.compact, f.jwks, &e, NOW, -ESTALE, "token expired at 2022-05-31T23:47:56Z");
        expect_verify(f.compact, f.jwks, &e, f.nbf - SKEW, 0, NULL);
        expect_verify(f.compact, f.jwks, &e, f.nbf - SKEW - 1, -ETIME,
                      "token not valid before 2022-05-31T22:47:56Z (now 2022-05-31T22:46:55Z, skew 60s)");
        expect_verify(f.compact, f.jwks, &e, 0, -ETIME, NULL);

        /* Without skew the edges are exact; a huge skew must not overflow. */
        e.skew_usec = 0;
        expect_verify(f.compact, f.jwks, &e, f.exp - 1, 0, NULL);
        expect_verify(f.compact, f.jwks, &e, f.exp, -ESTALE, NULL);
        expect_verify(f.compact, f.jwks, &e, f.nbf - 1, -ETIME, NULL);
        e.skew_usec = UINT64_MAX;
        expect_verify(f.compact, f.jwks, &e, UINT64_MAX - 1, 0, NULL);
}
END_TEST

START_TEST(test_maa_wrong_issuer) {
        _cleanup_(maa_done) MaaFixture f = {};
        static const char *const wrong[] = {
                "https://sharedwus.wus.attest.azure.net",
                "https://cplarryoattestationaad.wus.attest.azure.net.evil",
                "https://CPLARRYOATTESTATIONAAD.wus.attest.azure.net",
                "http://cplarryoattestationaad.wus.attest.azure.net",
                "https://cplarryoattestationaad.wus.attest.azure.net//",
        };

        maa_load(&f);
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                /* endpoint stays right so jku passes and iss is what fails */
                TokenExpect e = { .issuer = wrong[i], .endpoint = MAA_ISS, .skew_usec = SKEW };

                expect_verify(f.compact, f.jwks, &e, f.iat, -EACCES, "does not match endpoint");
        }
        TokenExpect e = { .issuer = "https://sharedwus.wus.attest.azure.net", .endpoint = MAA_ISS };
        expect_verify(f.compact, f.jwks, &e, f.iat, -EACCES,
                      "iss \"" MAA_ISS "\" does not match endpoint \"https://sharedwus.wus.attest.azure.net\"");
}
END_TEST

START_TEST(test_maa_tampered) {
        _cleanup_(maa_done) MaaFixture f = {};
        TokenExpect e = { .issuer = MAA_ISS, .skew_usec = SKEW };
        size_t len;

        maa_load(&f);
        len = strlen(f.compact);

        /* One flipped signature byte: change a character in the middle of the third part. */
        {
                _cleanup_free_ char *bad = strdup(f.compact);
                size_t pos = len - 100;

                bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
                expect_verify(bad, f.jwks, &e, f.iat, -EKEYREJECTED,
                              "signature does not verify with key \"XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=\"");
        }
        /* A signature one block short. */
        {
                _cleanup_free_ char *bad = strndup(f.compact, len - 2);

                expect_verify(bad, f.jwks, &e, f.iat, -EKEYREJECTED, "signature is 255 bytes, key \"XxRc");
        }
        /* Payload re-encoded with a later exp: well-formed, signature no longer matches. */
        {
                _cleanup_free_ char *claims = tu_token_part(f.compact, 1), *enc = NULL, *bad = NULL;
                json_object *o = json_tokener_parse(claims);

                json_object_object_add(o, "exp", json_object_new_int64(4102444800));
                enc = tu_b64url_str(json_object_to_json_string(o));
                bad = tu_token_replace_part(f.compact, 1, enc);
                expect_verify(bad, f.jwks, &e, f.iat, -EKEYREJECTED, "signature does not verify");
                json_object_put(o);
        }
        /* jku pointing elsewhere is refused before any key is looked at. */
        static const char *const jkus[] = {
                "https://evil.example/certs",
                MAA_ISS "/certs/",
                MAA_ISS "/keys",
                "http://cplarryoattestationaad.wus.attest.azure.net/certs",
                MAA_ISS "/certs?x=1",
        };
        for (size_t i = 0; i < ELEMENTSOF(jkus); i++) {
                _cleanup_free_ char *hdr = tu_token_part(f.compact, 0), *enc = NULL, *bad = NULL;
                json_object *o = json_tokener_parse(hdr);

                json_object_object_add(o, "jku", json_object_new_string(jkus[i]));
                enc = tu_b64url_str(json_object_to_json_string(o));
                bad = tu_token_replace_part(f.compact, 0, enc);
                expect_verify(bad, f.jwks, &e, f.iat, -EACCES, "is not the pinned key set");
                json_object_put(o);
        }
}
END_TEST

/* ---- tokens minted with our own key ---- */

static char *own_token(const char *header, const char *claims) {
        return tu_sign(key, header, claims);
}

START_TEST(test_own_valid) {
        _cleanup_free_ char *jwk = tu_jwk_json(key), *claims = NULL, *compact = NULL, *reason = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW, .cnf_jwk_json = jwk, .rp_data = NONCE };

        ck_assert_int_ge(asprintf(&claims,
                                  "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1699999990,\"nbf\":1699999990,"
                                  "\"exp\":1700003600,\"jti\":\"j1\",\"cnf\":{\"jwk\":%s},\"rp_data\":\"" NONCE
                                  "\",\"x-ms-ver\":\"1.0\"}", jwk), 0);
        compact = own_token(HDR, claims);
        ck_assert_int_eq(token_verify(compact, own_jwks, &e, NOW, &t, &reason), 0);
        ck_assert_str_eq(t->kid, TEST_KID);
        ck_assert_str_eq(t->iss, TEST_ISSUER);
        ck_assert_str_eq(t->jti, "j1");
        ck_assert_uint_eq(t->iat_usec, UINT64_C(1699999990) * USEC_PER_SEC);
        ck_assert_uint_eq(t->nbf_usec, UINT64_C(1699999990) * USEC_PER_SEC);
        ck_assert_uint_eq(t->exp_usec, UINT64_C(1700003600) * USEC_PER_SEC);
        json_object *v;
        ck_assert(json_object_object_get_ex(t->claims, "x-ms-ver", &v));
        ck_assert_str_eq(json_object_get_string(v), "1.0");

        /* Signed by a key that is not the one the kid names. */
        {
                _cleanup_free_ char *forged = tu_sign(other_key, HDR, claims);

                expect_verify(forged, own_jwks, &e, NOW, -EKEYREJECTED, "signature does not verify");
        }
        /* Not checked when not asked for: a different nonce and key pass. */
        {
                TokenExpect loose = { .issuer = TEST_ISSUER, .skew_usec = SKEW };
                _cleanup_free_ char *c2 = own_token(HDR, CLAIMS_OK);

                expect_verify(c2, own_jwks, &loose, NOW, 0, NULL);
                expect_verify(c2, own_jwks, &e, NOW, -EBADE, "token has no cnf claim");
        }
}
END_TEST

static const ReasonCase header_cases[] = {
        { "baseline", HDR, 0, NULL },
        { "no jku", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\"}", 0, NULL },
        { "x5c beside a kid whose key has no certificate: the kid decides, jwk ignored",
          "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[\"AAAA\"],\"jwk\":{}}", 0, NULL },
        { "x5c string", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":\"AAAA\"}", -EBADMSG,
          "header x5c is a string, not an array of certificates" },
        { "x5c empty", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[]}", -EBADMSG, "header x5c is an empty array" },
        { "x5c number entry", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[1]}", -EBADMSG,
          "header x5c[0] is a int, not a string" },
        { "x5c base64url", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[\"A-_A\"]}", -EBADMSG,
          "header x5c[0] is not standard base64 DER (offset 1)" },
        { "x5c empty string", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[\"\"]}", -EBADMSG,
          "header x5c[0] is not standard base64 DER" },
        { "x5c second entry bad", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"x5c\":[\"AAAA\",\"!!\"]}", -EBADMSG,
          "header x5c[1] is not standard base64 DER" },
        { "x5c only, not in the key set", "{\"alg\":\"RS256\",\"x5c\":[\"AAAA\"]}", -ENOKEY,
          "header x5c[0] is none of the key set's certificates (1 key)" },
        { "HS256", "{\"alg\":\"HS256\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"HS256\" is not accepted (only RS256)" },
        { "RS384", "{\"alg\":\"RS384\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"RS384\" is not accepted" },
        { "RS512", "{\"alg\":\"RS512\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"RS512\"" },
        { "PS256", "{\"alg\":\"PS256\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"PS256\"" },
        { "ES256", "{\"alg\":\"ES256\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"ES256\"" },
        { "none", "{\"alg\":\"none\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"none\" is not accepted (only RS256)" },
        { "RS256 with space", "{\"alg\":\"RS256 \",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"RS256 \"" },
        { "lower case", "{\"alg\":\"rs256\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"rs256\"" },
        { "empty alg", "{\"alg\":\"\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"\"" },
        { "alg with NUL escape", "{\"alg\":\"RS256\\u0000x\",\"kid\":\"" TEST_KID "\"}", -EBADMSG,
          "header member \"alg\" contains a NUL character" },
        { "alg with newline", "{\"alg\":\"R\\nS\",\"kid\":\"" TEST_KID "\"}", -EPROTONOSUPPORT, "alg \"R\\x0aS\"" },
        { "alg number", "{\"alg\":256,\"kid\":\"" TEST_KID "\"}", -EBADMSG, "header member \"alg\" is a int, not a string" },
        { "alg array", "{\"alg\":[\"RS256\"],\"kid\":\"" TEST_KID "\"}", -EBADMSG, "\"alg\" is a array" },
        { "alg missing", "{\"kid\":\"" TEST_KID "\"}", -EBADMSG, "header has no alg" },
        { "alg null", "{\"alg\":null,\"kid\":\"" TEST_KID "\"}", -EBADMSG, "header has no alg" },
        { "crit", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"crit\":[\"exp\"]}", -EPROTONOSUPPORT, "crit" },
        { "kid missing", "{\"alg\":\"RS256\"}", -EBADMSG, "header has no kid" },
        { "kid number", "{\"alg\":\"RS256\",\"kid\":7}", -EBADMSG, "header member \"kid\" is a int" },
        { "kid unknown", "{\"alg\":\"RS256\",\"kid\":\"abc\"}", -ENOKEY, "kid \"abc\" not in key set (1 key)" },
        { "kid differs in case", "{\"alg\":\"RS256\",\"kid\":\"TEST-KID\"}", -ENOKEY, NULL },
        { "kid control chars escaped", "{\"alg\":\"RS256\",\"kid\":\"a\\u001bb\\\"\"}", -ENOKEY, "kid \"a\\x1bb\\x22\" not" },
        { "jku other host", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"jku\":\"https://evil.example/certs\"}", -EACCES,
          "jku \"https://evil.example/certs\" is not the pinned key set \"" TEST_ISSUER "/certs\"" },
        { "jku other path", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"jku\":\"" TEST_ISSUER "/keys\"}", -EACCES, NULL },
        { "jku number", "{\"alg\":\"RS256\",\"kid\":\"" TEST_KID "\",\"jku\":1}", -EBADMSG, "\"jku\" is a int" },
};

START_TEST(test_header_cases) {
        _cleanup_free_ char *compact = own_token(header_cases[_i].input, CLAIMS_OK);
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        expect_verify(compact, own_jwks, &e, NOW, header_cases[_i].r, header_cases[_i].reason);
}
END_TEST

/* An HS256 token "signed" with the public key as the HMAC secret (the classic key confusion). */
START_TEST(test_hs256_confusion) {
        _cleanup_free_ char *n = tu_rsa_param(key, OSSL_PKEY_PARAM_RSA_N);
        _cleanup_free_ char *h = tu_b64url_str("{\"alg\":\"HS256\",\"kid\":\"" TEST_KID "\"}");
        _cleanup_free_ char *c = tu_b64url_str(CLAIMS_OK), *input = NULL, *mac_b64 = NULL, *compact = NULL;
        uint8_t mac[EVP_MAX_MD_SIZE];
        size_t mac_len = 0;
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        ck_assert_int_ge(asprintf(&input, "%s.%s", h, c), 0);
        ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, n, strlen(n), (uint8_t *) input,
                                        strlen(input), mac, sizeof mac, &mac_len));
        mac_b64 = tu_b64url(mac, mac_len);
        ck_assert_int_ge(asprintf(&compact, "%s.%s", input, mac_b64), 0);
        expect_verify(compact, own_jwks, &e, NOW, -EPROTONOSUPPORT, "alg \"HS256\"");
}
END_TEST

#define C_(members) "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1699999990,\"nbf\":1699999990" members "}"
#define C_EXP(members) C_(",\"exp\":1700003600" members)

static const ReasonCase claims_cases[] = {
        { "baseline", C_EXP(""), 0, NULL },
        { "iss trailing slash", "{\"iss\":\"" TEST_ISSUER "/\",\"exp\":1700003600}", 0, NULL },
        { "iss missing", "{\"exp\":1700003600}", -EBADMSG, "claims have no iss" },
        { "iss number", "{\"iss\":5,\"exp\":1700003600}", -EBADMSG, "claims member \"iss\" is a int" },
        { "iss other", "{\"iss\":\"https://other.example\",\"exp\":1700003600}", -EACCES,
          "iss \"https://other.example\" does not match endpoint \"" TEST_ISSUER "\"" },
        { "iss prefix", "{\"iss\":\"" TEST_ISSUER ".evil\",\"exp\":1700003600}", -EACCES, NULL },
        { "iss path", "{\"iss\":\"" TEST_ISSUER "/x\",\"exp\":1700003600}", -EACCES, NULL },
        { "exp missing", C_(""), -EBADMSG, "claims have no exp" },
        { "exp null", C_(",\"exp\":null"), -EBADMSG, "claims have no exp" },
        { "exp string", C_(",\"exp\":\"1700003600\""), -EBADMSG, "claim exp is a string, not a NumericDate" },
        { "exp bool", C_(",\"exp\":true"), -EBADMSG, "claim exp is a boolean" },
        { "exp negative", C_(",\"exp\":-1"), -EBADMSG, "claim exp is out of range" },
        { "exp year 10000", C_(",\"exp\":253402300800"), -EBADMSG, "claim exp is out of range" },
        { "exp beyond uint64", C_(",\"exp\":99999999999999999999"), -EBADMSG, "out of range" },
        { "exp 1e400", C_(",\"exp\":1e400"), -EBADMSG, "out of range" },
        { "exp NaN", C_(",\"exp\":NaN"), -EBADMSG, NULL },
        { "exp fractional", C_(",\"exp\":1700003600.5"), 0, NULL },
        { "expired", C_(",\"exp\":1699996400"), -ESTALE,
          "token expired at 2023-11-14T21:13:20Z (now 2023-11-14T22:13:20Z, skew 60s)" },
        { "expired within skew", C_(",\"exp\":1699999950"), 0, NULL },
        { "nbf future", "{\"iss\":\"" TEST_ISSUER "\",\"nbf\":1700003600,\"exp\":1700007200}", -ETIME,
          "token not valid before 2023-11-14T23:13:20Z (now 2023-11-14T22:13:20Z, skew 60s)" },
        { "nbf within skew", "{\"iss\":\"" TEST_ISSUER "\",\"nbf\":1700000030,\"exp\":1700007200}", 0, NULL },
        { "nbf string", "{\"iss\":\"" TEST_ISSUER "\",\"nbf\":\"x\",\"exp\":1700007200}", -EBADMSG, "claim nbf is a string" },
        { "nbf absent", "{\"iss\":\"" TEST_ISSUER "\",\"exp\":1700007200}", 0, NULL },
        { "iat object", C_EXP(",\"iat\":{}"), -EBADMSG, "claim iat is a object" },
        { "MAA times: nbf = iat - 300, 4-day lifetime",
          "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1699999990,\"nbf\":1699999690,\"exp\":1700345590}", 0, NULL },
        { "iat future", "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1700003600,\"nbf\":1700003300,\"exp\":1700007200}", -ETIME,
          "token not valid before 2023-11-14T23:08:20Z" },
        { "iat future, nbf past", "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1700003600,\"nbf\":1699999690,\"exp\":1700007200}",
          -ETIME, "token issued in the future at 2023-11-14T23:13:20Z (now 2023-11-14T22:13:20Z, skew 60s)" },
        { "iat within skew", "{\"iss\":\"" TEST_ISSUER "\",\"iat\":1700000050,\"nbf\":1699999750,\"exp\":1700007200}", 0, NULL },
        { "jti number", C_EXP(",\"jti\":1"), -EBADMSG, "claims member \"jti\" is a int" },
};

/* ---- key choice by x5c, as real MAA TPM tokens need (no jku, x5t kid, 3-certificate x5c) ---- */

/* A key set like a real TPM provider's /certs: KEY's certificate under its x5t, and OTHER_KEY's
 * (self-signed, standard-base64 SHA-256-style kid) beside it. */
static Jwks *x5c_jwks(char **ret_cert, char **ret_other_cert, char **ret_x5t) {
        _cleanup_free_ char *cert = tu_cert_b64(key, "Test Attestation 2020");
        _cleanup_free_ char *other = tu_cert_b64(other_key, "Other");
        _cleanup_free_ char *x5t = tu_x5t(cert), *text = NULL;
        Jwks *jwks = NULL;

        ck_assert_int_ge(asprintf(&text, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"XxRc2vLh1E5FrsNa+/=\",\"x5c\":[\"%s\"]},"
                                         "{\"kty\":\"RSA\",\"kid\":\"%s\",\"x5c\":[\"%s\",\"%s\"]}]}",
                                  other, x5t, cert, other), 0);
        ck_assert_int_eq(jwks_parse(text, strlen(text), &jwks, NULL), 0);
        *ret_cert = TAKE_PTR(cert);
        *ret_other_cert = TAKE_PTR(other);
        *ret_x5t = TAKE_PTR(x5t);
        return jwks;
}

static char *x5c_header(const char *kid, const char *leaf, const char *rest) {
        char *h = NULL;

        ck_assert_int_ge(asprintf(&h, "{\"alg\":\"RS256\",%s%s%s\"typ\":\"JWT\",\"x5c\":[\"%s\",\"%s\",\"%s\"]}",
                                  kid ? "\"kid\":\"" : "", kid ?: "", kid ? "\"," : "", leaf, rest, rest), 0);
        return h;
}

START_TEST(test_x5c_key_choice) {
        _cleanup_free_ char *cert = NULL, *other = NULL, *x5t = NULL;
        _cleanup_(jwks_freep) Jwks *jwks = x5c_jwks(&cert, &other, &x5t);
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        /* The x5t kid is 27 base64url characters and is found as it is. */
        ck_assert_uint_eq(strlen(x5t), 27);
        {
                _cleanup_free_ char *h = x5c_header(x5t, cert, other), *c = own_token(h, CLAIMS_OK);
                _cleanup_(token_freep) Token *t = NULL;

                ck_assert_int_eq(token_verify(c, jwks, &e, NOW, &t, NULL), 0);
                ck_assert_str_eq(t->kid, x5t);
                ck_assert(!t->key_by_cert);
        }
        /* A kid the set does not know, but x5c[0] is byte for byte a certificate in the set. */
        {
                _cleanup_free_ char *h = x5c_header("not-in-the-set", cert, other), *c = own_token(h, CLAIMS_OK);
                _cleanup_(token_freep) Token *t = NULL;

                ck_assert_int_eq(token_verify(c, jwks, &e, NOW, &t, NULL), 0);
                ck_assert(t->key_by_cert);
        }
        /* No kid at all: x5c[0] alone names (never supplies) the key. */
        {
                _cleanup_free_ char *h = x5c_header(NULL, cert, other), *c = own_token(h, CLAIMS_OK);
                _cleanup_(token_freep) Token *t = NULL;

                ck_assert_int_eq(token_verify(c, jwks, &e, NOW, &t, NULL), 0);
                ck_assert(t->key_by_cert);
                ck_assert_ptr_null(t->kid);
        }
}
END_TEST

START_TEST(test_x5c_negative) {
        _cleanup_free_ char *cert = NULL, *other = NULL, *x5t = NULL;
        _cleanup_(jwks_freep) Jwks *jwks = x5c_jwks(&cert, &other, &x5t);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *attacker = tu_rsa_key(2048);
        _cleanup_free_ char *attacker_cert = tu_cert_b64(attacker, "Test Attestation 2020");
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        /* x5c[0] not in the set, signed by the key in that certificate: x5c is never trusted. */
        {
                _cleanup_free_ char *h = x5c_header(NULL, attacker_cert, cert), *c = tu_sign(attacker, h, CLAIMS_OK);

                expect_verify(c, jwks, &e, NOW, -ENOKEY, "header x5c[0] is none of the key set's certificates (2 keys)");
        }
        {
                _cleanup_free_ char *h = x5c_header("unknown", attacker_cert, cert), *c = tu_sign(attacker, h, CLAIMS_OK);

                expect_verify(c, jwks, &e, NOW, -ENOKEY, "kid \"unknown\" not in key set (2 keys), nor is its x5c[0] certificate");
        }
        /* The kid is in the set, but x5c[0] is another certificate than the set holds under it. */
        {
                _cleanup_free_ char *h = x5c_header(x5t, other, cert), *c = own_token(h, CLAIMS_OK);

                expect_verify(c, jwks, &e, NOW, -EKEYREJECTED,
                              "header x5c[0] is not the certificate the key set holds under kid");
        }
        {
                _cleanup_free_ char *h = x5c_header(x5t, attacker_cert, cert), *c = tu_sign(attacker, h, CLAIMS_OK);

                expect_verify(c, jwks, &e, NOW, -EKEYREJECTED, "not the certificate the key set holds");
        }
        /* x5c[0] names the other key in the set, but our key signed: the signature decides. */
        {
                _cleanup_free_ char *h = x5c_header(NULL, other, cert), *c = own_token(h, CLAIMS_OK);

                expect_verify(c, jwks, &e, NOW, -EKEYREJECTED, "signature does not verify with key \"(by x5c)\"");
        }
        /* A jku keeps its pinning rule even when x5c would find the key. */
        {
                _cleanup_free_ char *h = NULL, *c = NULL;

                ck_assert_int_ge(asprintf(&h, "{\"alg\":\"RS256\",\"jku\":\"https://evil.example/certs\",\"x5c\":[\"%s\"]}",
                                          cert), 0);
                c = own_token(h, CLAIMS_OK);
                expect_verify(c, jwks, &e, NOW, -EACCES, "is not the pinned key set");
        }
}
END_TEST

/* The real /certs of 2022: x5t kids (with '-' and '_') beside a standard-base64 one. Every key is
 * found by its own x5c[0], and an x5t kid is SHA-1 of that DER. A token naming a real certificate
 * by x5c only gets the real key, which our signature then fails. */
START_TEST(test_x5c_real_jwks) {
        _cleanup_(jwks_freep) Jwks *jwks = tu_load_jwks("jwks/aad.json");
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_free_ char *text = tu_read_maa("jwks/aad.json", NULL);
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };
        json_object *keys;
        bool saw_url_kid = false;

        root = json_tokener_parse(text);
        ck_assert(json_object_object_get_ex(root, "keys", &keys));
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
                json_object *k = json_object_array_get_idx(keys, i), *x5c, *kid;
                const char *leaf;
                _cleanup_free_ void *der = NULL;
                _cleanup_free_ char *x5t = NULL, *h = NULL, *c = NULL;
                size_t size;

                ck_assert(json_object_object_get_ex(k, "x5c", &x5c) && json_object_object_get_ex(k, "kid", &kid));
                leaf = json_object_get_string(json_object_array_get_idx(x5c, 0));
                ck_assert_int_eq(b64_decode(leaf, strlen(leaf), &der, &size), 0);
                ck_assert_ptr_eq(jwks_find_by_cert(jwks, der, size), &jwks->keys[i]);
                ck_assert_ptr_eq(jwks_find(jwks, json_object_get_string(kid)), &jwks->keys[i]);
                x5t = tu_x5t(leaf);
                if (json_object_array_length(x5c) == 3) {
                        ck_assert_str_eq(x5t, json_object_get_string(kid));
                        saw_url_kid |= strpbrk(x5t, "-_") != NULL;
                }

                ck_assert_int_ge(asprintf(&h, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5c\":[\"%s\"]}", leaf), 0);
                c = own_token(h, CLAIMS_OK);
                expect_verify(c, jwks, &e, NOW, -EKEYREJECTED, "signature does not verify");
        }
        ck_assert(saw_url_kid);
}
END_TEST

START_TEST(test_claims_cases) {
        _cleanup_free_ char *compact = own_token(HDR, claims_cases[_i].input);
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        expect_verify(compact, own_jwks, &e, NOW, claims_cases[_i].r, claims_cases[_i].reason);
}
END_TEST

/* cnf cases: @N@/@E@ are our key's n/e, @N0@ is n with a leading zero octet, @M@ another key's n. */
static const ReasonCase cnf_cases[] = {
        { "same text", "{\"jwk\":{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"@E@\"}}", 0, NULL },
        { "reordered, extra members", "{ \"jwk\" : {\"e\":\"@E@\", \"alg\":\"PS256\",\"n\":\"@N@\",\"kty\":\"RSA\",\"kid\":\"k\"} }", 0, NULL },
        { "n with leading zero octet", "{\"jwk\":{\"kty\":\"RSA\",\"n\":\"@N0@\",\"e\":\"@E@\"}}", 0, NULL },
        { "other n", "{\"jwk\":{\"kty\":\"RSA\",\"n\":\"@M@\",\"e\":\"@E@\"}}", -EBADE, "cnf.jwk \"n\" differs from the request key" },
        { "other e", "{\"jwk\":{\"kty\":\"RSA\",\"n\":\"@N@\",\"e\":\"AQAD\"}}", -EBADE, "cnf.jwk \"e\" differs" },
        { "kty EC", "{\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}}", -EBADE,
          "cnf.jwk kty \"EC\" differs from the request key's \"RSA\"" },
        { "no kty", "{\"jwk\":{\"n\":\"@N@\",\"e\":\"@E@\"}}", -EBADE, "kty \"(null)\"" },
        { "no n", "{\"jwk\":{\"kty\":\"RSA\",\"e\":\"@E@\"}}", -EBADE, "cnf.jwk has no \"n\"" },
        { "n not base64url", "{\"jwk\":{\"kty\":\"RSA\",\"n\":\"@N@+\",\"e\":\"@E@\"}}", -EBADMSG, "cnf.jwk \"n\" is not base64url" },
        { "n number", "{\"jwk\":{\"kty\":\"RSA\",\"n\":1,\"e\":\"@E@\"}}", -EBADMSG, "cnf.jwk member \"n\" is a int" },
        { "cnf without jwk", "{\"kid\":\"x\"}", -EBADE, "cnf has no jwk" },
        { "cnf string", "\"@N@\"", -EBADMSG, "claim cnf is not an object" },
        { "jwk string", "{\"jwk\":\"@N@\"}", -EBADMSG, "cnf.jwk is not an object" },
};

START_TEST(test_cnf_cases) {
        _cleanup_free_ char *n = tu_rsa_param(key, OSSL_PKEY_PARAM_RSA_N), *e = tu_rsa_param(key, OSSL_PKEY_PARAM_RSA_E);
        _cleanup_free_ char *m = tu_rsa_param(other_key, OSSL_PKEY_PARAM_RSA_N), *jwk = tu_jwk_json(key);
        _cleanup_free_ char *n0 = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL, *claims = NULL, *compact = NULL;
        _cleanup_free_ void *raw = NULL;
        uint8_t buf[600];
        size_t size;
        TokenExpect ex = { .issuer = TEST_ISSUER, .skew_usec = SKEW, .cnf_jwk_json = jwk };

        ck_assert_int_eq(b64url_decode(n, strlen(n), &raw, &size), 0);
        buf[0] = 0;
        memcpy(buf + 1, raw, size);
        n0 = tu_b64url(buf, size + 1);

        t1 = tu_replace_all(cnf_cases[_i].input, "@N0@", n0);
        t2 = tu_replace_all(t1, "@N@", n);
        t3 = tu_replace_all(t2, "@E@", e);
        t4 = tu_replace_all(t3, "@M@", m);
        ck_assert_int_ge(asprintf(&claims, C_EXP(",\"cnf\":%s"), t4), 0);
        compact = own_token(HDR, claims);
        expect_verify(compact, own_jwks, &ex, NOW, cnf_cases[_i].r, cnf_cases[_i].reason);
}
END_TEST

START_TEST(test_cnf_bad_expectation) {
        _cleanup_free_ char *compact = own_token(HDR, C_EXP(",\"cnf\":{\"jwk\":{\"kty\":\"RSA\"}}"));
        static const char *const bad[] = { "not json", "[]", "{\"n\":\"AQAB\"}", "{\"kty\":\"oct\",\"k\":\"AA\"}" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW, .cnf_jwk_json = bad[i] };

                expect_verify(compact, own_jwks, &e, NOW, -EINVAL, NULL);
        }
}
END_TEST

START_TEST(test_cnf_ec) {
        static const char want[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAEC\",\"y\":\"AwQF\"}";
        static const struct {
                const char *jwk;
                int r;
        } cases[] = {
                { "{\"y\":\"AwQF\",\"x\":\"AAEC\",\"crv\":\"P-256\",\"kty\":\"EC\"}", 0 },
                { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAEC\",\"y\":\"AwQG\"}", -EBADE },
                { "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AAEC\",\"y\":\"AwQF\"}", -EBADE },
                /* Coordinates are fixed-length octets: a dropped leading zero is a different key. */
                { "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQI\",\"y\":\"AwQF\"}", -EBADE },
                { "{\"kty\":\"EC\",\"x\":\"AAEC\",\"y\":\"AwQF\"}", -EBADE },
        };
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW, .cnf_jwk_json = want };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *claims = NULL, *compact = NULL;

                ck_assert_int_ge(asprintf(&claims, C_EXP(",\"cnf\":{\"jwk\":%s}"), cases[i].jwk), 0);
                compact = own_token(HDR, claims);
                expect_verify(compact, own_jwks, &e, NOW, cases[i].r, cases[i].r < 0 ? "differs" : NULL);
        }
}
END_TEST

static const ReasonCase nonce_cases[] = {
        { "rp_data equal", ",\"rp_data\":\"" NONCE "\"", 0, NULL },
        { "rp_data padded", ",\"rp_data\":\"" NONCE "=\"", 0, NULL },
        { "nonce only", ",\"nonce\":\"" NONCE "\"", 0, NULL },
        { "both equal", ",\"rp_data\":\"" NONCE "\",\"nonce\":\"" NONCE "\"", 0, NULL },
        { "rp_data differs", ",\"rp_data\":\"bm9uY2UtMTM\"", -EBADE, "claim rp_data does not match the nonce sent" },
        { "rp_data prefix", ",\"rp_data\":\"bm9uY2UtMT\"", -EBADE, "claim rp_data does not match" },
        { "nonce differs", ",\"rp_data\":\"" NONCE "\",\"nonce\":\"eA\"", -EBADE, "claim nonce does not match" },
        { "absent", "", -EBADE, "token has no rp_data claim, but a nonce was sent" },
        { "rp_data number", ",\"rp_data\":12", -EBADMSG, "claims member \"rp_data\" is a int" },
};

START_TEST(test_nonce_cases) {
        _cleanup_free_ char *claims = NULL, *compact = NULL;
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW, .rp_data = NONCE };

        ck_assert_int_ge(asprintf(&claims, C_EXP("%s"), nonce_cases[_i].input), 0);
        compact = own_token(HDR, claims);
        expect_verify(compact, own_jwks, &e, NOW, nonce_cases[_i].r, nonce_cases[_i].reason);
}
END_TEST

/* Keys token_verify must refuse to use even when the kid matches. */
START_TEST(test_unusable_keys) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *small = tu_rsa_key(1024);
        _cleanup_free_ char *small_jwks = tu_jwks_json(small, TEST_KID);
        _cleanup_free_ char *compact = tu_sign(small, HDR, CLAIMS_OK), *compact2 = own_token(HDR, CLAIMS_OK);
        _cleanup_(jwks_freep) Jwks *j1 = NULL, *j2 = NULL;
        static const char ec_jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"" TEST_KID "\",\"crv\":\"P-256\"}]}";
        TokenExpect e = { .issuer = TEST_ISSUER, .skew_usec = SKEW };

        ck_assert_int_eq(jwks_parse(small_jwks, strlen(small_jwks), &j1, NULL), 0);
        expect_verify(compact, j1, &e, NOW, -EKEYREJECTED, "key \"" TEST_KID "\" has 1024 bits, fewer than 2048");
        ck_assert_int_eq(jwks_parse(ec_jwks, strlen(ec_jwks), &j2, NULL), 0);
        expect_verify(compact2, j2, &e, NOW, -EKEYREJECTED, "key \"" TEST_KID "\" has kty \"EC\"; RS256 needs RSA");
}
END_TEST

START_TEST(test_decode_and_format) {
        _cleanup_free_ char *compact = own_token("{\"alg\":\"none\"}", "{\"iss\":\"x\"}");
        _cleanup_(token_freep) Token *t = NULL;
        char buf[TOKEN_TIMESTAMP_MAX];

        /* token_decode only checks the shape: alg none and missing exp are fine here. */
        ck_assert_int_eq(token_decode(compact, &t, NULL), 0);
        ck_assert_ptr_null(t->kid);
        ck_assert_str_eq(t->iss, "x");
        ck_assert_uint_eq(t->exp_usec, USEC_INFINITY);
        ck_assert_uint_eq(t->nbf_usec, 0);

        ck_assert_str_eq(token_format_timestamp(NOW, buf), "2023-11-14T22:13:20Z");
        ck_assert_str_eq(token_format_timestamp(0, buf), "1970-01-01T00:00:00Z");
        ck_assert_str_eq(token_format_timestamp(USEC_INFINITY, buf), "never");
        ck_assert_str_eq(token_format_timestamp(UINT64_C(253402300800) * USEC_PER_SEC, buf), "@253402300800");
}
END_TEST

/* ---- policy claims: top level or nested under x-ms-policy, possibly as JSON strings ---- */

static json_object *parse(const char *text) {
        json_object *o = json_tokener_parse(text);

        ck_assert_msg(o, "test JSON does not parse: %s", text);
        return o;
}

static void expect_json(json_object *got, const char *want_text) {
        _cleanup_(json_object_putp) json_object *want = parse(want_text);

        ck_assert_msg(json_object_equal(got, want), "got %s, want %s",
                      json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN), want_text);
}

static const struct {
        const char *name, *claims, *policy, *decoded;
} policy_cases[] = {
        { "service claims only",
          "{\"iss\":\"x\",\"exp\":2,\"iat\":1,\"nbf\":0,\"jti\":\"ab\",\"ver\":\"1.0\",\"x-ms-ver\":\"1.0\","
          "\"rp_data\":\"n\",\"nonce\":\"n\",\"cnf\":{},\"x-ms-policy-hash\":\"h\",\"x-ms-tpm-request-key\":{}}",
          "{}", NULL },
        { "top level (secure-boot sample)",
          "{\"iss\":\"x\",\"secureBootEnabled\":true,\"notSafeMode\":true,\"x-ms-attestation-type\":\"tpm\"}",
          "{\"secureBootEnabled\":true,\"notSafeMode\":true,\"x-ms-attestation-type\":\"tpm\"}", NULL },
        { "nested, a JSON string decoded",
          "{\"iss\":\"x\",\"x-ms-policy\":{\"outputEvents\":\"{\\\"Events\\\":[{\\\"EventSeq\\\":0}]}\"}}",
          "{\"outputEvents\":{\"Events\":[{\"EventSeq\":0}]}}",
          "{\"iss\":\"x\",\"x-ms-policy\":{\"outputEvents\":{\"Events\":[{\"EventSeq\":0}]}}}" },
        { "nested, an array string and plain values",
          "{\"x-ms-policy\":{\"a\":\" [1,2]\",\"b\":true,\"c\":{\"d\":\"{}\"},\"e\":\"12\",\"f\":\"text\"}}",
          "{\"a\":[1,2],\"b\":true,\"c\":{\"d\":\"{}\"},\"e\":\"12\",\"f\":\"text\"}",
          "{\"x-ms-policy\":{\"a\":[1,2],\"b\":true,\"c\":{\"d\":\"{}\"},\"e\":\"12\",\"f\":\"text\"}}" },
        { "string that is not valid JSON stays a string",
          "{\"x-ms-policy\":{\"bad\":\"{not json\",\"trailing\":\"{} x\",\"single\":\"{'a':1}\"}}",
          "{\"bad\":\"{not json\",\"trailing\":\"{} x\",\"single\":\"{'a':1}\"}",
          "{\"x-ms-policy\":{\"bad\":\"{not json\",\"trailing\":\"{} x\",\"single\":\"{'a':1}\"}}" },
        { "both places: x-ms-policy wins",
          "{\"secureBootEnabled\":false,\"top\":1,\"x-ms-policy\":{\"secureBootEnabled\":true}}",
          "{\"secureBootEnabled\":true,\"top\":1}", NULL },
        { "x-ms-policy itself a JSON string",
          "{\"x-ms-policy\":\"{\\\"k\\\":\\\"[true]\\\"}\"}",
          "{\"k\":[true]}", "{\"x-ms-policy\":{\"k\":[true]}}" },
        { "x-ms-policy not an object", "{\"x-ms-policy\":[1]}", "{\"x-ms-policy\":[1]}", "{\"x-ms-policy\":[1]}" },
        { "null members", "{\"x-ms-policy\":{\"n\":null},\"t\":null}", "{\"t\":null,\"n\":null}", NULL },
        { "top level, a JSON string decoded (issue(claim=c) of the events claim); service claims kept",
          "{\"iss\":\"x\",\"cnf\":\"{}\",\"events\":\"{\\\"Events\\\":[]}\",\"name\":\"[x\"}",
          "{\"events\":{\"Events\":[]},\"name\":\"[x\"}",
          "{\"iss\":\"x\",\"cnf\":\"{}\",\"events\":{\"Events\":[]},\"name\":\"[x\"}" },
};

START_TEST(test_policy_claims) {
        _cleanup_(json_object_putp) json_object *claims = parse(policy_cases[_i].claims), *before = NULL;
        _cleanup_(json_object_putp) json_object *policy = NULL, *decoded = NULL;

        before = json_tokener_parse(policy_cases[_i].claims);
        ck_assert_int_eq(token_policy_claims(claims, &policy), 0);
        expect_json(policy, policy_cases[_i].policy);
        ck_assert_int_eq(token_claims_decoded(claims, &decoded), 0);
        expect_json(decoded, policy_cases[_i].decoded ?: policy_cases[_i].claims);
        /* The token's own claims are left as they were. */
        ck_assert(json_object_equal(claims, before));
}
END_TEST

/* A JSON text nested deeper than TOKEN_CLAIMS_NESTED_DEPTH_MAX stays a string, so token.json, which
 * holds it two levels down, still parses with json-c's default limit. */
START_TEST(test_policy_claims_depth) {
        char deep[2 * (TOKEN_CLAIMS_NESTED_DEPTH_MAX + 1) + 1] = {}, ok[2 * TOKEN_CLAIMS_NESTED_DEPTH_MAX + 1] = {};
        _cleanup_(json_object_putp) json_object *s1 = NULL, *s2 = NULL, *d1 = NULL, *d2 = NULL;

        memset(deep, '[', TOKEN_CLAIMS_NESTED_DEPTH_MAX + 1);
        memset(deep + TOKEN_CLAIMS_NESTED_DEPTH_MAX + 1, ']', TOKEN_CLAIMS_NESTED_DEPTH_MAX + 1);
        memset(ok, '[', TOKEN_CLAIMS_NESTED_DEPTH_MAX);
        memset(ok + TOKEN_CLAIMS_NESTED_DEPTH_MAX, ']', TOKEN_CLAIMS_NESTED_DEPTH_MAX);
        s1 = json_object_new_string(deep);
        s2 = json_object_new_string(ok);
        ck_assert_int_eq(token_claims_decode_string(s1, &d1), 0);
        ck_assert_ptr_eq(d1, s1);
        ck_assert_int_eq(token_claims_decode_string(s2, &d2), 0);
        ck_assert(json_object_is_type(d2, json_type_array));
}
END_TEST

/* token_check_usable(): a token is published only with max(10 % of its life, min(60 s, half its
 * life)) left. Times in seconds from an arbitrary epoch; iat 0 = absent. */
typedef struct UsableCase {
        uint64_t iat, exp, now;
        int expect_r;
} UsableCase;

#define T0 UINT64_C(1700000000)
static const UsableCase usable_cases[] = {
        { T0, T0 + 345600, T0, 0 },                     /* MAA's 4 days, fresh */
        { T0, T0 + 345600, T0 + 311040, 0 },            /* exactly 10 % left */
        { T0, T0 + 345600, T0 + 311041, -ESTALE },      /* just under 10 % */
        { T0, T0 + 600, T0 + 540, 0 },                  /* 10 min: 60 s left is enough */
        { T0, T0 + 600, T0 + 541, -ESTALE },
        { T0, T0 + 6, T0 + 1, 0 },                      /* 6 s (tests): half is enough */
        { T0, T0 + 6, T0 + 4, -ESTALE },
        { T0, T0 - 30, T0, -ESTALE },                   /* the "expired=30" fault: exp before iat */
        { T0 - 3600, T0 - 30, T0, -ESTALE },            /* expired 30 s ago (within any skew) */
        { T0, T0, T0, -ESTALE },                        /* expires now */
        { 0, T0 + 120, T0, 0 },                         /* no iat: the life left is the life */
        { 0, T0 - 1, T0, -ESTALE },
        { T0 + 100, T0 + 3600, T0, 0 },                 /* iat a little ahead of our clock */
};

START_TEST(test_usable) {
        const UsableCase *c = &usable_cases[_i];
        Token t = {
                .iat_usec = c->iat * USEC_PER_SEC,
                .exp_usec = c->exp * USEC_PER_SEC,
        };
        _cleanup_free_ char *reason = NULL;
        int r;

        r = token_check_usable(&t, c->now * USEC_PER_SEC, &reason);
        ck_assert_msg(r == c->expect_r, "case %d: got %d (%s), expected %d", _i, r, strna(reason), c->expect_r);
        ck_assert(r == 0 ? !reason : reason && strstr(reason, "token"));
}
END_TEST

START_TEST(test_usable_message) {
        Token t = { .iat_usec = T0 * USEC_PER_SEC, .exp_usec = (T0 + 345600) * USEC_PER_SEC };
        _cleanup_free_ char *reason = NULL;

        ck_assert_int_eq(token_check_usable(&t, (T0 + 345000) * USEC_PER_SEC, &reason), -ESTALE);
        ck_assert_str_eq(reason, "token expires at 2023-11-18T22:13:20Z, only 600s from now "
                         "(2023-11-18T22:03:20Z), less than the 34560s required of a token valid for 345600s");
        t.exp_usec = USEC_INFINITY;
        ck_assert_int_eq(token_check_usable(&t, T0 * USEC_PER_SEC, NULL), -ESTALE);
}
END_TEST

static Suite *token_suite(void) {
        Suite *s = suite_create("token");
        TCase *tc;

        tc = tcase_create("maa-real");
        tcase_add_loop_test(tc, test_maa_index, 0, 60);
        tcase_add_test(tc, test_maa_kid_removed);
        tcase_add_test(tc, test_maa_time);
        tcase_add_test(tc, test_maa_wrong_issuer);
        tcase_add_test(tc, test_maa_tampered);
        suite_add_tcase(s, tc);

        tc = tcase_create("own-key");
        tcase_add_unchecked_fixture(tc, own_key_setup, own_key_teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_own_valid);
        tcase_add_loop_test(tc, test_header_cases, 0, ELEMENTSOF(header_cases));
        tcase_add_test(tc, test_hs256_confusion);
        tcase_add_test(tc, test_x5c_key_choice);
        tcase_add_test(tc, test_x5c_negative);
        tcase_add_test(tc, test_x5c_real_jwks);
        tcase_add_loop_test(tc, test_claims_cases, 0, ELEMENTSOF(claims_cases));
        tcase_add_loop_test(tc, test_cnf_cases, 0, ELEMENTSOF(cnf_cases));
        tcase_add_test(tc, test_cnf_bad_expectation);
        tcase_add_test(tc, test_cnf_ec);
        tcase_add_loop_test(tc, test_nonce_cases, 0, ELEMENTSOF(nonce_cases));
        tcase_add_test(tc, test_unusable_keys);
        tcase_add_test(tc, test_decode_and_format);
        suite_add_tcase(s, tc);

        tc = tcase_create("usable");
        tcase_add_loop_test(tc, test_usable, 0, ELEMENTSOF(usable_cases));
        tcase_add_test(tc, test_usable_message);
        suite_add_tcase(s, tc);

        tc = tcase_create("policy claims");
        tcase_add_loop_test(tc, test_policy_claims, 0, ELEMENTSOF(policy_cases));
        tcase_add_test(tc, test_policy_claims_depth);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return check_run(token_suite());
}
