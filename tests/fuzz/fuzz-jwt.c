/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the token path: jwt_decode, token_decode and token_verify on raw input
 * against the real MAA key set, and (input starting with '{') on claims we sign ourselves, so the
 * checks after the signature (iss, time, cnf, nonce) and the policy-claims extraction see fuzzed
 * JSON too; our key set holds an x5c, so the key choice by x5c[0] runs as well. 'make fuzz-jwt'. */
#include <assert.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "b64.h"
#include "jwks.h"
#include "jwt.h"
#include "token-claims.h"
#include "token.h"

#define FUZZ_NOW (UINT64_C(1654037276) * USEC_PER_SEC)
#define FUZZ_MAA_ISS "https://cplarryoattestationaad.wus.attest.azure.net"
#define FUZZ_OWN_ISS "https://fuzz.example"
#define FUZZ_HEADER "{\"alg\":\"RS256\",\"kid\":\"fuzz\",\"jku\":\"" FUZZ_OWN_ISS "/certs\"}"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Jwks *maa_jwks, *own_jwks;
static EVP_PKEY *own_key;
static char *own_jwk, *own_x5c_header;

/* A self-signed certificate for our key, standard base64 of its DER. */
static char *own_cert_b64(void) {
        X509 *x = X509_new();
        uint8_t *der = NULL;
        char *s = NULL;
        int n;

        assert(x && X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
        assert(X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 3600));
        assert(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const uint8_t *) "fuzz", -1,
                                          -1, 0) == 1);
        assert(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1 && X509_set_pubkey(x, own_key) == 1);
        assert(X509_sign(x, own_key, EVP_sha256()) > 0);
        n = i2d_X509(x, &der);
        assert(n > 0 && b64_encode(der, (size_t) n, &s) == 0);
        OPENSSL_free(der);
        X509_free(x);
        return s;
}

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = calloc(1, JWKS_SIZE_MAX + 1);
        size_t n;

        assert(f && buf);
        n = fread(buf, 1, JWKS_SIZE_MAX, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static char *b64url_param(const char *name) {
        BIGNUM *bn = NULL;
        uint8_t bin[512];
        char *s = NULL;
        int n;

        assert(EVP_PKEY_get_bn_param(own_key, name, &bn) == 1);
        n = BN_bn2bin(bn, bin);
        assert(n > 0 && b64url_encode(bin, (size_t) n, &s) == 0);
        BN_free(bn);
        return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char *text = read_text(TESTDATA "/maa/2022-05-31/jwks/aad.json"), *n, *e, *own = NULL, *cert;

        assert(jwks_parse(text, strlen(text), &maa_jwks, NULL) == 0);
        free(text);

        own_key = EVP_RSA_gen(2048);
        assert(own_key);
        n = b64url_param(OSSL_PKEY_PARAM_RSA_N);
        e = b64url_param(OSSL_PKEY_PARAM_RSA_E);
        cert = own_cert_b64();
        assert(asprintf(&own, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"fuzz\",\"n\":\"%s\",\"e\":\"%s\",\"x5c\":[\"%s\"]}]}",
                        n, e, cert) > 0);
        /* A real TPM token's header shape: no jku, an x5t-like kid the set does not know, x5c. */
        assert(asprintf(&own_x5c_header, "{\"alg\":\"RS256\",\"kid\":\"D5DR62_fG0AlpALMbsP-wriTWjU\",\"typ\":\"JWT\","
                        "\"x5c\":[\"%s\",\"%s\"]}", cert, cert) > 0);
        free(cert);
        assert(asprintf(&own_jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e) > 0);
        assert(jwks_parse(own, strlen(own), &own_jwks, NULL) == 0);
        free(own);
        free(n);
        free(e);
        return 0;
}

/* token.h's list; anything else escaping token_verify is a bug. */
static bool documented_error(int r) {
        static const int errors[] = { -EMSGSIZE, -EBADMSG, -EPROTONOSUPPORT, -EACCES, -ENOKEY,
                                      -EKEYREJECTED, -ESTALE, -ETIME, -EBADE, -ENOMEM, -EIO };

        for (size_t i = 0; i < ELEMENTSOF(errors); i++)
                if (r == errors[i])
                        return true;
        return false;
}

/* Policy claims from any claims object: only -ENOMEM may fail, and the claims stay as they were. */
static void check_policy_claims(json_object *claims) {
        json_object *policy = NULL, *decoded = NULL;
        const char *before = strdup(json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
        int r;

        assert(before);
        r = token_policy_claims(claims, &policy);
        assert(r == 0 || r == -ENOMEM);
        assert(r < 0 || json_object_is_type(policy, json_type_object));
        r = token_claims_decoded(claims, &decoded);
        assert(r == 0 || r == -ENOMEM);
        assert(r < 0 || json_object_is_type(decoded, json_type_object));
        /* The serializations share nothing but references: freeing them leaves CLAIMS intact. */
        json_object_put(policy);
        json_object_put(decoded);
        assert(streq(before, json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN)));
        free((char *) before);
}

static void check_verify(const char *compact, const Jwks *jwks, const TokenExpect *expect) {
        Token *t = NULL;
        char *reason = NULL;
        int r;

        r = token_verify(compact, jwks, expect, FUZZ_NOW, &t, &reason);
        if (r < 0) {
                assert(documented_error(r));
                assert(!t);
                assert(reason || r == -ENOMEM);
                assert(!reason || !strchr(reason, '\n'));
                free(reason);
                return;
        }
        assert(!reason);
        assert(t && (t->kid || t->key_by_cert) && t->iss && t->exp_usec != USEC_INFINITY);
        assert(json_object_is_type(t->claims, json_type_object));
        check_policy_claims(t->claims);
        token_free(t);
}

/* Signs HEADER.CLAIMS (raw bytes, base64url-encoded here) with our key. */
static char *sign_own(const uint8_t *header, size_t hsize, const uint8_t *claims, size_t csize) {
        char *h = NULL, *c = NULL, *sig_b64 = NULL, *input = NULL, *out = NULL;
        uint8_t sig[512];
        size_t sig_len = sizeof sig;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();

        assert(ctx && b64url_encode(header, hsize, &h) == 0 && b64url_encode(claims, csize, &c) == 0);
        assert(asprintf(&input, "%s.%s", h, c) > 0);
        assert(EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, own_key, NULL) == 1);
        assert(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *) input, strlen(input)) == 1);
        assert(b64url_encode(sig, sig_len, &sig_b64) == 0);
        assert(asprintf(&out, "%s.%s", input, sig_b64) > 0);
        EVP_MD_CTX_free(ctx);
        free(h);
        free(c);
        free(sig_b64);
        free(input);
        return out;
}

static void fuzz_signed(const uint8_t *data, size_t size) {
        const uint8_t *sep = memchr(data, 0x01, size);
        const uint8_t *header = (const uint8_t *) FUZZ_HEADER, *claims = data;
        size_t hsize = strlen(FUZZ_HEADER), csize = size;
        char *compact;

        /* "HEADER\x01CLAIMS" fuzzes the header as well. */
        if (sep) {
                header = data;
                hsize = (size_t) (sep - data);
                claims = sep + 1;
                csize = size - hsize - 1;
        }
        compact = sign_own(header, hsize, claims, csize);

        TokenExpect plain = { .issuer = FUZZ_OWN_ISS, .skew_usec = 60 * USEC_PER_SEC };
        TokenExpect bound = { .issuer = FUZZ_OWN_ISS, .skew_usec = 60 * USEC_PER_SEC, .cnf_jwk_json = own_jwk,
                              .rp_data = "bm9uY2U" };
        check_verify(compact, own_jwks, &plain);
        check_verify(compact, own_jwks, &bound);
        free(compact);

        /* The same claims under a real TPM token's header: the key is found by x5c[0]. */
        if (!sep) {
                compact = sign_own((const uint8_t *) own_x5c_header, strlen(own_x5c_header), claims, csize);
                check_verify(compact, own_jwks, &plain);
                free(compact);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *compact, *reason = NULL;
        Jwt *jwt = NULL;
        Token *t = NULL;
        int r;

        if (size > 2 * JWT_SIZE_MAX)
                return 0;

        r = jwt_decode((const char *) data, size, &jwt, &reason);
        if (r < 0) {
                assert(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
                assert(!jwt && (reason || r == -ENOMEM));
                free(reason);
        } else {
                assert(!reason && jwt->signing_input_size < size);
                assert(memcmp(jwt->compact, data, size) == 0);
                jwt_free(jwt);
        }

        if (size > 0 && data[0] == '{' && size <= JWT_SIZE_MAX / 2) {
                fuzz_signed(data, size);
                return 0;
        }

        compact = strndup((const char *) data, size);
        assert(compact);
        if (token_decode(compact, &t, NULL) == 0) {
                check_policy_claims(t->claims);
                token_free(t);
        }

        TokenExpect maa = { .issuer = FUZZ_MAA_ISS, .skew_usec = 60 * USEC_PER_SEC };
        TokenExpect bound = { .issuer = FUZZ_MAA_ISS, .skew_usec = 0, .cnf_jwk_json = own_jwk, .rp_data = "bm9uY2U" };
        check_verify(compact, maa_jwks, &maa);
        check_verify(compact, maa_jwks, &bound);
        free(compact);
        return 0;
}
