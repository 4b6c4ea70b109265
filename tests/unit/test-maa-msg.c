/* SPDX-License-Identifier: MIT */
/* Unit tests for maa-msg.c against the real recorded MAA leg-1 exchanges, plus the request JWS
 * (signature, exact JWK text, qualifying data) and every malformed reply we can think of. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "check-main.h"
#include "cleanup.h"
#include "maa-msg.h"

static json_object *load_json(const char *name) {
        char path[512];
        snprintf(path, sizeof path, "%s/maa/leg1/%s", TESTDATA, name);
        json_object *o = json_object_from_file(path);
        ck_assert_ptr_nonnull(o);
        return o;
}

static json_object *get_path(json_object *o, const char *const *keys) {
        for (; *keys; keys++) {
                json_object *next;
                if (json_object_is_type(o, json_type_array))
                        next = json_object_array_get_idx(o, (size_t) atoi(*keys));
                else
                        ck_assert(json_object_object_get_ex(o, *keys, &next));
                o = next;
        }
        return o;
}

START_TEST(test_init_matches_recorded_request) {
        _cleanup_(json_object_putp) json_object *rec = load_json("azure-sdk-for-net_AttestTpmMinimalAad.json");
        _cleanup_free_ char *body = NULL;
        const char *const path[] = { "entries", "1", "RequestBody", "data", NULL };

        ck_assert_int_eq(maa_build_init(&body), 0);
        char expected[256];
        snprintf(expected, sizeof expected, "{\"data\":\"%s\"}", json_object_get_string(get_path(rec, path)));
        ck_assert_str_eq(body, expected);
}
END_TEST

/* The real leg-1 replies of the recordings: the challenge decodes to 16 bytes and the
 * service_context is kept byte for byte. */
START_TEST(test_parse_recorded_challenges) {
        static const struct {
                const char *file;
                const char *const path[6];
        } cases[] = {
                { "azure-sdk-for-cpp_AttestTpm_2022-05-31.json", { "response", "body", NULL } },
                { "azure-sdk-for-cpp_AttestTpm_2022-04-21.json", { "response", "body", NULL } },
                { "azure-sdk-for-net_AttestTpmMinimalAad.json", { "entries", "1", "ResponseBody", NULL } },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(json_object_putp) json_object *rec = load_json(cases[i].file), *payload = NULL;
                _cleanup_free_ char *ctx = NULL, *reason = NULL;
                _cleanup_buffer_ Buffer challenge = {};
                json_object *b = get_path(rec, cases[i].path);
                const char *body = json_object_is_type(b, json_type_string) ? json_object_get_string(b) :
                        json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);

                ck_assert_msg(maa_parse_envelope(body, strlen(body), &payload, &reason) == 0, "%s: %s",
                              cases[i].file, reason);
                ck_assert_int_eq(maa_parse_challenge(payload, &challenge, &ctx, &reason), 0);
                ck_assert_uint_eq(challenge.size, 16);
                json_object *sc;
                ck_assert(json_object_object_get_ex(payload, "service_context", &sc));
                ck_assert_str_eq(ctx, json_object_get_string(sc));
        }
}
END_TEST

/* The payload of a reply whose data is INNER; the envelope itself must parse. */
static json_object *payload_of(const char *inner) {
        _cleanup_free_ char *enc = NULL, *body = NULL;
        json_object *p = NULL;

        ck_assert_int_eq(b64url_encode(inner, strlen(inner), &enc), 0);
        ck_assert_int_ge(asprintf(&body, "{\"data\":\"%s\"}", enc), 0);
        ck_assert_int_eq(maa_parse_envelope(body, strlen(body), &p, NULL), 0);
        return p;
}

START_TEST(test_envelope_rejects) {
        static const char *const bodies[] = {
                "",
                "null",
                "[]",
                "{}",
                "{\"data\":1}",
                "{\"data\":\"!!!\"}",
                "{\"data\":\"e30\"} trailing",
                "{\"data\":\"e30\"",
                "{\"data\":\"e30\"}", /* {} : no payload */
                "{\"data\":\"WzFd\"}", /* [1] */
                "{\"data\":\"eyJwYXlsb2FkIjoxfQ\"}", /* {"payload":1} */
                "<html>Service Unavailable</html>",
        };
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                _cleanup_(json_object_putp) json_object *p = NULL;
                _cleanup_free_ char *reason = NULL;
                ck_assert_msg(maa_parse_envelope(bodies[i], strlen(bodies[i]), &p, &reason) == -EBADMSG,
                              "accepted: %s", bodies[i]);
                ck_assert_ptr_nonnull(reason);
                ck_assert_ptr_null(p);
        }
        /* A NUL inside the body. */
        _cleanup_(json_object_putp) json_object *p = NULL;
        ck_assert_int_eq(maa_parse_envelope("{\"data\":\"e30\"}\0x", 15, &p, NULL), -EBADMSG);
        /* Oversized. */
        char *big = calloc(1, MAA_REPLY_MAX + 2);
        memset(big, ' ', MAA_REPLY_MAX + 1);
        ck_assert_int_eq(maa_parse_envelope(big, MAA_REPLY_MAX + 1, &p, NULL), -EBADMSG);
        free(big);
}
END_TEST

START_TEST(test_envelope_padding_accepted) {
        _cleanup_(json_object_putp) json_object *p = NULL;
        /* base64url of {"payload":{}} with and without '=' padding. */
        static const char unpadded[] = "{\"data\":\"eyJwYXlsb2FkIjp7fX0\"}", padded[] = "{\"data\":\"eyJwYXlsb2FkIjp7fX0=\"}";
        ck_assert_int_eq(maa_parse_envelope(unpadded, strlen(unpadded), &p, NULL), 0);
        json_object_put(TAKE_PTR(p));
        ck_assert_int_eq(maa_parse_envelope(padded, strlen(padded), &p, NULL), 0);
}
END_TEST

START_TEST(test_challenge_rejects) {
        static const char *const inners[] = {
                "{\"payload\":{}}",
                "{\"payload\":{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\"}}",
                "{\"payload\":{\"service_context\":\"x\"}}",
                "{\"payload\":{\"challenge\":\"AAAA\",\"service_context\":\"x\"}}", /* 3 bytes */
                "{\"payload\":{\"challenge\":\"A*AAAAAAAAAAAA\",\"service_context\":\"x\"}}",
                "{\"payload\":{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"service_context\":\"\"}}",
                "{\"payload\":{\"challenge\":[],\"service_context\":\"x\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(inners); i++) {
                _cleanup_(json_object_putp) json_object *p = payload_of(inners[i]);
                _cleanup_free_ char *ctx = NULL, *reason = NULL;
                _cleanup_buffer_ Buffer c = {};
                ck_assert_msg(maa_parse_challenge(p, &c, &ctx, &reason) == -EBADMSG, "accepted %s", inners[i]);
                ck_assert_ptr_nonnull(reason);
        }
}
END_TEST

START_TEST(test_errors) {
        static const struct {
                const char *body;
                const char *code, *message;
        } cases[] = {
                { "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"Bad quote\"}}", "InvalidParameter", "Bad quote" },
                { "{\"error\":{\"message\":\"A TPM attestation policy has not been set on the attestation provider.\"}}",
                  NULL, "A TPM attestation policy has not been set on the attestation provider." },
                { "Unauthorized\r\n", NULL, "Unauthorized" },
                { "", NULL, "(empty reply)" },
                { "{\"error\":\"flat\"}", NULL, "{\"error\":\"flat\"}" },
                { "{\"error\":{\"code\":\"X\",\"message\":\"line1\\nline2\"}}", "X", "line1 line2" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *code = NULL, *message = NULL;
                ck_assert_int_eq(maa_parse_error(cases[i].body, strlen(cases[i].body), &code, &message), 0);
                if (cases[i].code)
                        ck_assert_str_eq(code, cases[i].code);
                else
                        ck_assert_ptr_null(code);
                ck_assert_str_eq(message, cases[i].message);
        }
        ck_assert(maa_error_is_no_policy(cases[1].message));
        ck_assert(!maa_error_is_no_policy(cases[0].message));

        /* A huge error text is cut to the limit. */
        size_t n = 2 * MAA_ERROR_MESSAGE_MAX;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        _cleanup_free_ char *code = NULL, *message = NULL;
        ck_assert_int_eq(maa_parse_error(big, n, &code, &message), 0);
        ck_assert_uint_eq(strlen(message), MAA_ERROR_MESSAGE_MAX);
        free(big);
}
END_TEST

static void fake_evidence(Evidence *e) {
        PcrBank *b;
        *e = (Evidence) {};
        e->quote.attest = (Buffer) { .data = (uint8_t *) strdup("QUOTE"), .size = 5 };
        e->quote.signature = (Buffer) { .data = (uint8_t *) strdup("SIG"), .size = 3 };
        e->quote.pcr_mask = 0x81; /* PCR 0 and 7 */
        ck_assert_int_eq(pcr_set_add_bank(&e->quote.pcrs, TPM_ALG_SHA256, &b), 0);
        for (unsigned i = 0; i < 24; i++) {
                uint8_t v[32];
                memset(v, (int) i, sizeof v);
                ck_assert_int_eq(pcr_bank_set(b, i, v, 32), 0);
        }
        e->tcg_log = (Buffer) { .data = (uint8_t *) strdup("LOG"), .size = 3 };
        e->aik_jwk = strdup("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
}

/* Splits the leg-2 body down to the JWS parts and checks the signature with the key's public part. */
START_TEST(test_request_jws) {
        _cleanup_(request_key_freep) RequestKey *key = NULL;
        _cleanup_(evidence_done) Evidence e;
        _cleanup_free_ char *body = NULL;
        _cleanup_(json_object_putp) json_object *outer = NULL, *payload = NULL;
        uint8_t ch[16] = { 1, 2, 3 };
        Buffer challenge = { .data = ch, .size = sizeof ch };

        fake_evidence(&e);
        ck_assert_int_eq(request_key_new(&key), 0);
        MaaRequestParams p = {
                .evidence = &e,
                .key = key,
                .challenge = &challenge,
                .service_context = "opaque-context",
                .rp_id = "https://contoso.com",
                .rp_data = "bm9uY2U",
        };
        ck_assert_int_eq(maa_build_request(&p, &body), 0);
        ck_assert_int_eq(maa_parse_envelope(body, strlen(body), &outer, NULL), 0);
        json_object *req;
        ck_assert(json_object_object_get_ex(outer, "request", &req));
        const char *jws = json_object_get_string(req);
        const char *dot1 = strchr(jws, '.'), *dot2 = strchr(dot1 + 1, '.');
        ck_assert_ptr_nonnull(dot2);

        _cleanup_free_ char *hdr = NULL, *pl = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        size_t n, sn;
        ck_assert_int_eq(b64url_decode(jws, (size_t) (dot1 - jws), (void **) &hdr, &n), 0);
        ck_assert_str_eq(hdr, "{\"alg\":\"PS256\",\"typ\":\"attReqV2\"}");
        ck_assert_int_eq(b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), (void **) &pl, &n), 0);
        ck_assert_int_eq(b64url_decode(dot2 + 1, strlen(dot2 + 1), (void **) &sig, &sn), 0);

        /* The JWK is present verbatim, as the hashed text. */
        _cleanup_free_ char *needle = NULL;
        ck_assert_int_ge(asprintf(&needle, "\"request_key\":{\"jwk\":%s,\"info\":{\"tpm_quote\":{\"hash_alg\":\"sha-256\"}}}",
                                  request_key_jwk(key)), 0);
        ck_assert_msg(strstr(pl, needle), "payload lacks the exact jwk: %s", pl);
        ck_assert(strstr(pl, "\"att_type\":\"basic\""));
        ck_assert(strstr(pl, "\"service_context\":\"opaque-context\""));
        ck_assert(strstr(pl, "\"rp_data\":\"bm9uY2U\""));
        ck_assert(strstr(pl, "\"rp_id\":\"https://contoso.com\""));
        ck_assert(strstr(pl, "\"pcrs\":[{\"algorithm\":11,\"values\":[{\"index\":0,"));
        ck_assert(strstr(pl, "{\"index\":7,"));
        ck_assert(!strstr(pl, "{\"index\":1,"));
        ck_assert(strstr(pl, "\"logs\":[{\"type\":\"TCG\",\"log\":\"TE9H\"}]"));
        ck_assert(strstr(pl, "\"quote\":\"UVVPVEU\""));
        ck_assert(!strstr(pl, "aik_cert"));

        /* PS256 over "header.payload" with the public key taken from the JWK's n/e. */
        json_object *parsed = json_tokener_parse(pl), *jwk, *n_o;
        ck_assert(json_object_object_get_ex(json_object_object_get(json_object_object_get(parsed, "att_data"),
                                                                    "request_key"), "jwk", &jwk));
        ck_assert(json_object_object_get_ex(jwk, "n", &n_o));
        _cleanup_free_ uint8_t *nbin = NULL;
        size_t nlen;
        ck_assert_int_eq(b64url_decode(json_object_get_string(n_o), (size_t) json_object_get_string_len(n_o),
                                       (void **) &nbin, &nlen), 0);
        ck_assert_uint_eq(nlen, 256);
        json_object_put(parsed);

        EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        BIGNUM *bn_n = BN_bin2bn(nbin, (int) nlen, NULL), *bn_e = BN_new();
        BN_set_word(bn_e, 65537);
        OSSL_PARAM_BLD_push_BN(bld, "n", bn_n);
        OSSL_PARAM_BLD_push_BN(bld, "e", bn_e);
        OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        EVP_PKEY *pub = NULL;
        ck_assert_int_eq(EVP_PKEY_fromdata_init(kctx), 1);
        ck_assert_int_eq(EVP_PKEY_fromdata(kctx, &pub, EVP_PKEY_PUBLIC_KEY, params), 1);

        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *vctx = NULL;
        ck_assert_int_eq(EVP_DigestVerifyInit(md, &vctx, EVP_sha256(), NULL, pub), 1);
        EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx, 32);
        ck_assert_int_eq(EVP_DigestVerify(md, sig, sn, (const uint8_t *) jws, (size_t) (dot2 - jws)), 1);
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(pub);
        EVP_PKEY_CTX_free(kctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn_n);
        BN_free(bn_e);
}
END_TEST

START_TEST(test_qualifying_data) {
        /* SHA-256("{}" || 0x00 || 0x01 0x02), computed independently with OpenSSL's one-shot API. */
        uint8_t ch[2] = { 1, 2 }, qd[32], expect[32];
        const uint8_t input[] = { '{', '}', 0, 1, 2 };
        Buffer challenge = { .data = ch, .size = 2 };
        unsigned n;

        ck_assert_int_eq(maa_qualifying_data("{}", &challenge, qd), 0);
        ck_assert_int_eq(EVP_Digest(input, sizeof input, expect, &n, EVP_sha256(), NULL), 1);
        ck_assert_mem_eq(qd, expect, 32);
}
END_TEST

START_TEST(test_report) {
        static const char *const bad[] = {
                "{\"payload\":{}}",
                "{\"payload\":{\"report\":5}}",
                "{\"payload\":{\"report\":\"\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(json_object_putp) json_object *p = payload_of(bad[i]);
                _cleanup_free_ char *report = NULL, *reason = NULL;
                ck_assert_int_eq(maa_parse_report(p, &report, &reason), -EBADMSG);
                ck_assert_ptr_nonnull(reason);
        }
        _cleanup_(json_object_putp) json_object *p = payload_of("{\"payload\":{\"report\":\"a.b.c\"}}");
        _cleanup_free_ char *report = NULL;
        ck_assert_int_eq(maa_parse_report(p, &report, NULL), 0);
        ck_assert_str_eq(report, "a.b.c");
}
END_TEST

static Suite *maa_msg_suite(void) {
        Suite *s = suite_create("maa-msg");
        TCase *tc = tcase_create("recorded");
        tcase_add_test(tc, test_init_matches_recorded_request);
        tcase_add_test(tc, test_parse_recorded_challenges);
        suite_add_tcase(s, tc);
        tc = tcase_create("parsers");
        tcase_add_test(tc, test_envelope_rejects);
        tcase_add_test(tc, test_envelope_padding_accepted);
        tcase_add_test(tc, test_challenge_rejects);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_report);
        suite_add_tcase(s, tc);
        tc = tcase_create("request");
        tcase_add_test(tc, test_request_jws);
        tcase_add_test(tc, test_qualifying_data);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(maa_msg_suite());
}
