/* SPDX-License-Identifier: MIT */
/* Attestation token verification: alg, key choice by kid, RS256 signature, iss/exp/nbf, cnf and
 * nonce binding. Never fetches anything (jku is compared, not followed) and never reads a clock. */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "cleanup.h"
#include "jwt.h"
#include "log.h"
#include "token.h"

static uint64_t usec_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

const char *token_format_timestamp(uint64_t usec, char buf[static TOKEN_TIMESTAMP_MAX]) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == USEC_INFINITY)
                snprintf(buf, TOKEN_TIMESTAMP_MAX, "never");
        else if (usec / USEC_PER_SEC > (uint64_t) TOKEN_NUMERIC_DATE_MAX || !gmtime_r(&sec, &tm) ||
                 strftime(buf, TOKEN_TIMESTAMP_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, TOKEN_TIMESTAMP_MAX, "@%" PRIu64, usec / USEC_PER_SEC);
        return buf;
}

Token *token_free(Token *t) {
        if (!t)
                return NULL;
        json_object_put(t->header);
        json_object_put(t->claims);
        free(t);
        return NULL;
}

/* NumericDate claim NAME (RFC 7519: seconds since the epoch, possibly fractional) in usec.
 * Returns 1 if present, 0 if absent (*ret untouched), -EBADMSG. */
static int claim_numeric_date(json_object *claims, const char *name, uint64_t *ret, char **reterr_reason) {
        json_object *v;

        if (!json_object_object_get_ex(claims, name, &v) || !v)
                return 0;

        if (json_object_is_type(v, json_type_int)) {
                /* json-c saturates values beyond int64 to INT64_MAX; the range check catches that. */
                int64_t i = json_object_get_int64(v);

                if (i < 0 || i > TOKEN_NUMERIC_DATE_MAX)
                        return jwt_fail(reterr_reason, -EBADMSG, "claim %s is out of range", name);
                *ret = (uint64_t) i * USEC_PER_SEC;
                return 1;
        }
        if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);

                if (!isfinite(d) || d < 0 || d > (double) TOKEN_NUMERIC_DATE_MAX)
                        return jwt_fail(reterr_reason, -EBADMSG, "claim %s is out of range", name);
                *ret = (uint64_t) (d * (double) USEC_PER_SEC);
                return 1;
        }
        return jwt_fail(reterr_reason, -EBADMSG, "claim %s is a %s, not a NumericDate", name,
                        json_type_to_name(json_object_get_type(v)));
}

/* Builds the Token from a decoded JWT, checking the types of the fields we extract. */
static int token_from_jwt(Jwt *jwt, Token **ret, char **reterr_reason) {
        _cleanup_(token_freep) Token *t = NULL;
        int r;

        t = calloc(1, sizeof(Token));
        if (!t)
                return -ENOMEM;
        t->header = json_object_get(jwt->header);
        t->claims = json_object_get(jwt->claims);
        t->exp_usec = USEC_INFINITY;

        r = jwt_json_get_string(t->header, "header", "kid", &t->kid, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(t->claims, "claims", "iss", &t->iss, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(t->claims, "claims", "jti", &t->jti, reterr_reason);
        if (r < 0)
                return r;
        r = claim_numeric_date(t->claims, "iat", &t->iat_usec, reterr_reason);
        if (r < 0)
                return r;
        r = claim_numeric_date(t->claims, "nbf", &t->nbf_usec, reterr_reason);
        if (r < 0)
                return r;
        r = claim_numeric_date(t->claims, "exp", &t->exp_usec, reterr_reason);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(t);
        return 0;
}

int token_decode(const char *compact, Token **ret, char **reterr_reason) {
        _cleanup_(jwt_freep) Jwt *jwt = NULL;
        int r;

        assert(compact);
        assert(ret);

        r = jwt_decode(compact, strlen(compact), &jwt, reterr_reason);
        if (r < 0)
                return r;
        return token_from_jwt(jwt, ret, reterr_reason);
}

/* alg, crit and jku: everything in the unverified header that could steer the verification. */
static int check_header(json_object *header, const TokenExpect *expect, char **reterr_reason) {
        _cleanup_free_ char *pinned = NULL;
        const char *alg, *jku;
        char b1[JWT_ESCAPE_BUF], b2[JWT_ESCAPE_BUF];
        int r;

        r = jwt_json_get_string(header, "header", "alg", &alg, reterr_reason);
        if (r < 0)
                return r;
        if (!alg)
                return jwt_fail(reterr_reason, -EBADMSG, "header has no alg");
        if (!streq(alg, "RS256"))
                return jwt_fail(reterr_reason, -EPROTONOSUPPORT, "alg \"%s\" is not accepted (only RS256)",
                                jwt_escape(alg, b1));

        /* RFC 7515 §4.1.11: a recipient must refuse extensions it does not understand; we know none. */
        if (json_object_object_get_ex(header, "crit", NULL))
                return jwt_fail(reterr_reason, -EPROTONOSUPPORT, "header has \"crit\"; no extensions are supported");

        r = jwt_json_get_string(header, "header", "jku", &jku, reterr_reason);
        if (r < 0)
                return r;
        if (jku) {
                r = endpoint_url(expect->endpoint ?: expect->issuer, "/certs", &pinned);
                if (r < 0)
                        return r;
                if (!streq(jku, pinned))
                        return jwt_fail(reterr_reason, -EACCES,
                                        "jku \"%s\" is not the pinned key set \"%s\"; it is not followed",
                                        jwt_escape(jku, b1), jwt_escape(pinned, b2));
        }
        return 0;
}

/* The header's x5c, if any: an array of standard-base64 DER certificates, leaf first (RFC 7515
 * §4.1.6). Only x5c[0]'s DER is returned (*ret NULL when there is no x5c): it may name the key,
 * never supply it. */
static int header_x5c_leaf(json_object *header, uint8_t **ret, size_t *ret_size, char **reterr_reason) {
        _cleanup_free_ uint8_t *leaf = NULL;
        size_t leaf_size = 0, n;
        json_object *x5c;

        *ret = NULL;
        *ret_size = 0;
        if (!json_object_object_get_ex(header, "x5c", &x5c) || !x5c)
                return 0;
        if (!json_object_is_type(x5c, json_type_array))
                return jwt_fail(reterr_reason, -EBADMSG, "header x5c is a %s, not an array of certificates",
                                json_type_to_name(json_object_get_type(x5c)));
        n = json_object_array_length(x5c);
        if (n == 0)
                return jwt_fail(reterr_reason, -EBADMSG, "header x5c is an empty array");

        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(x5c, i);
                _cleanup_free_ void *der = NULL;
                size_t size = 0, bad = 0;
                int r;

                if (!json_object_is_type(c, json_type_string))
                        return jwt_fail(reterr_reason, -EBADMSG, "header x5c[%zu] is a %s, not a string", i,
                                        json_type_to_name(json_object_get_type(c)));
                r = b64_decode_full(B64_STANDARD, json_object_get_string(c), (size_t) json_object_get_string_len(c),
                                    &der, &size, &bad);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || size == 0)
                        return jwt_fail(reterr_reason, -EBADMSG,
                                        "header x5c[%zu] is not standard base64 DER (offset %zu)", i, bad);
                if (i == 0) {
                        leaf = TAKE_PTR(der);
                        leaf_size = size;
                }
        }

        *ret = TAKE_PTR(leaf);
        *ret_size = leaf_size;
        return 0;
}

/* The key comes only from JWKS: by kid, or, when the set has no such kid (real MAA TPM tokens use
 * an x5t-style kid), by a certificate in the set that is byte for byte the token's x5c[0]. A kid
 * that is in the set but contradicts x5c[0] is refused: one of the two is lying. */
static int choose_key(const Jwks *jwks, const char *kid, const uint8_t *leaf, size_t leaf_size, EVP_PKEY **ret,
                      bool *ret_by_cert, char **reterr_reason) {
        const JwksKey *key = NULL;
        const char *name;
        char b1[JWT_ESCAPE_BUF], b2[JWT_ESCAPE_BUF];
        bool by_cert = false;
        int bits;

        if (!kid && !leaf)
                return jwt_fail(reterr_reason, -EBADMSG, "header has no kid (and no x5c)");
        if (kid)
                key = jwks_find(jwks, kid);
        if (key && leaf && key->cert_der &&
            (key->cert_der_size != leaf_size || memcmp(key->cert_der, leaf, leaf_size) != 0))
                return jwt_fail(reterr_reason, -EKEYREJECTED,
                                "header x5c[0] is not the certificate the key set holds under kid \"%s\"",
                                jwt_escape(kid, b1));
        if (!key && leaf) {
                key = jwks_find_by_cert(jwks, leaf, leaf_size);
                by_cert = !!key;
        }
        if (!key && kid)
                return jwt_fail(reterr_reason, -ENOKEY, "kid \"%s\" not in key set (%zu key%s)%s",
                                jwt_escape(kid, b1), jwks->n_keys, jwks->n_keys == 1 ? "" : "s",
                                leaf ? ", nor is its x5c[0] certificate" : "");
        if (!key)
                return jwt_fail(reterr_reason, -ENOKEY, "header x5c[0] is none of the key set's certificates (%zu key%s)",
                                jwks->n_keys, jwks->n_keys == 1 ? "" : "s");

        name = key->kid ?: "(no kid)";
        if (!key->pkey)
                return jwt_fail(reterr_reason, -EKEYREJECTED, "key \"%s\" has kty \"%s\"; RS256 needs RSA",
                                jwt_escape(name, b1), jwt_escape(key->kty, b2));
        bits = EVP_PKEY_get_bits(key->pkey);
        if (bits < TOKEN_RSA_BITS_MIN)
                return jwt_fail(reterr_reason, -EKEYREJECTED, "key \"%s\" has %d bits, fewer than %d",
                                jwt_escape(name, b1), bits, TOKEN_RSA_BITS_MIN);

        *ret = key->pkey;
        *ret_by_cert = by_cert;
        return 0;
}

static int verify_rs256(const Jwt *jwt, EVP_PKEY *pkey, const char *kid, char **reterr_reason) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        EVP_PKEY_CTX *pctx = NULL;
        char b1[JWT_ESCAPE_BUF];
        int size, k;

        size = EVP_PKEY_get_size(pkey);
        if (size <= 0 || jwt->signature_size != (size_t) size)
                return jwt_fail(reterr_reason, -EKEYREJECTED, "signature is %zu bytes, key \"%s\" needs %d",
                                jwt->signature_size, jwt_escape(kid, b1), size);

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
                char buf[256];

                ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
                log_debug("OpenSSL: RS256 verification setup failed: %s", buf);
                ERR_clear_error();
                return jwt_fail(reterr_reason, -EIO, "OpenSSL could not set up RS256 verification");
        }

        k = EVP_DigestVerify(ctx, jwt->signature, jwt->signature_size, (const unsigned char *) jwt->compact,
                             jwt->signing_input_size);
        if (k != 1) {
                ERR_clear_error();
                return jwt_fail(reterr_reason, -EKEYREJECTED, "signature does not verify with key \"%s\"",
                                jwt_escape(kid, b1));
        }
        return 0;
}

static int check_time(const Token *t, const TokenExpect *expect, uint64_t now_usec, char **reterr_reason) {
        char b1[TOKEN_TIMESTAMP_MAX], b2[TOKEN_TIMESTAMP_MAX];

        if (t->exp_usec == USEC_INFINITY)
                return jwt_fail(reterr_reason, -EBADMSG, "claims have no exp");
        if (now_usec >= usec_add(t->exp_usec, expect->skew_usec))
                return jwt_fail(reterr_reason, -ESTALE, "token expired at %s (now %s, skew %" PRIu64 "s)",
                                token_format_timestamp(t->exp_usec, b1), token_format_timestamp(now_usec, b2),
                                expect->skew_usec / USEC_PER_SEC);
        if (usec_add(now_usec, expect->skew_usec) < t->nbf_usec)
                return jwt_fail(reterr_reason, -ETIME, "token not valid before %s (now %s, skew %" PRIu64 "s)",
                                token_format_timestamp(t->nbf_usec, b1), token_format_timestamp(now_usec, b2),
                                expect->skew_usec / USEC_PER_SEC);
        /* nbf = iat - 300 is what MAA issues, so nbf alone would let a token "issued" in the
         * future pass; that means our clock or the service's is wrong, and the lifetime we would
         * schedule from iat is not what it claims. */
        if (usec_add(now_usec, expect->skew_usec) < t->iat_usec)
                return jwt_fail(reterr_reason, -ETIME, "token issued in the future at %s (now %s, skew %" PRIu64 "s)",
                                token_format_timestamp(t->iat_usec, b1), token_format_timestamp(now_usec, b2),
                                expect->skew_usec / USEC_PER_SEC);
        return 0;
}

int token_check_usable(const Token *t, uint64_t now_usec, char **reterr_reason) {
        char b1[TOKEN_TIMESTAMP_MAX], b2[TOKEN_TIMESTAMP_MAX];
        uint64_t lifetime, left, need;

        assert(t);

        if (t->exp_usec == USEC_INFINITY)
                return jwt_fail(reterr_reason, -ESTALE, "token has no expiry");
        if (t->exp_usec <= now_usec)
                return jwt_fail(reterr_reason, -ESTALE, "token already expired at %s (now %s)",
                                token_format_timestamp(t->exp_usec, b1), token_format_timestamp(now_usec, b2));
        left = t->exp_usec - now_usec;
        lifetime = t->iat_usec > 0 && t->iat_usec < t->exp_usec ? t->exp_usec - t->iat_usec : left;
        need = MAX(lifetime / 10, MIN(TOKEN_REMAINING_MIN_USEC, lifetime / 2));
        if (left < need)
                return jwt_fail(reterr_reason, -ESTALE,
                                "token expires at %s, only %" PRIu64 "s from now (%s), less than the %" PRIu64
                                "s required of a token valid for %" PRIu64 "s",
                                token_format_timestamp(t->exp_usec, b1), left / USEC_PER_SEC,
                                token_format_timestamp(now_usec, b2), (need + USEC_PER_SEC - 1) / USEC_PER_SEC,
                                lifetime / USEC_PER_SEC);
        return 0;
}

/* Member NAME of both JWKs as octets. Base64urlUInt values (STRIP_ZEROS) compare as integers, so a
 * leading zero octet on one side does not matter; EC coordinates are fixed-length octets. */
static int jwk_member_equal(json_object *got, json_object *want, const char *name, bool strip_zeros,
                            char **reterr_reason) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL;
        const char *sa, *sb;
        size_t na, nb, ia = 0, ib = 0;
        int r;

        r = jwt_json_get_string(want, "request key", name, &sb, reterr_reason);
        if (r < 0 || !sb)
                return r < 0 ? -EINVAL : jwt_fail(reterr_reason, -EINVAL, "request key has no \"%s\"", name);
        r = b64url_decode(sb, strlen(sb), (void **) &b, &nb);
        if (r < 0)
                return r == -ENOMEM ? r : jwt_fail(reterr_reason, -EINVAL, "request key \"%s\" is not base64url", name);

        r = jwt_json_get_string(got, "cnf.jwk", name, &sa, reterr_reason);
        if (r < 0)
                return r;
        if (!sa)
                return jwt_fail(reterr_reason, -EBADE, "cnf.jwk has no \"%s\"", name);
        r = b64url_decode(sa, strlen(sa), (void **) &a, &na);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "cnf.jwk \"%s\" is not base64url", name);

        if (strip_zeros) {
                while (ia < na && a[ia] == 0)
                        ia++;
                while (ib < nb && b[ib] == 0)
                        ib++;
        }
        if (na - ia != nb - ib || memcmp(a + ia, b + ib, na - ia) != 0)
                return jwt_fail(reterr_reason, -EBADE, "cnf.jwk \"%s\" differs from the request key", name);
        return 0;
}

static int jwk_equal_rsa(json_object *got, json_object *want, char **reterr_reason) {
        int r;

        r = jwk_member_equal(got, want, "n", true, reterr_reason);
        if (r < 0)
                return r;
        return jwk_member_equal(got, want, "e", true, reterr_reason);
}

/* EC: the same curve and the same fixed-length coordinates. */
static int jwk_equal_ec(json_object *got, json_object *want, char **reterr_reason) {
        const char *crv_got, *crv_want;
        int r;

        r = jwt_json_get_string(want, "request key", "crv", &crv_want, reterr_reason);
        if (r < 0 || !crv_want)
                return r < 0 ? -EINVAL : jwt_fail(reterr_reason, -EINVAL, "request key has no crv");
        r = jwt_json_get_string(got, "cnf.jwk", "crv", &crv_got, reterr_reason);
        if (r < 0)
                return r;
        if (!streq_ptr(crv_got, crv_want))
                return jwt_fail(reterr_reason, -EBADE, "cnf.jwk crv differs from the request key's");
        r = jwk_member_equal(got, want, "x", false, reterr_reason);
        if (r < 0)
                return r;
        return jwk_member_equal(got, want, "y", false, reterr_reason);
}

static int check_cnf(json_object *claims, const char *want_json, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *want = NULL;
        json_object *cnf, *jwk;
        const char *kty_got, *kty_want;
        char b1[JWT_ESCAPE_BUF], b2[JWT_ESCAPE_BUF];
        int r;

        r = jwt_json_parse_object(want_json, strlen(want_json), "request key", &want, reterr_reason);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        r = jwt_json_get_string(want, "request key", "kty", &kty_want, reterr_reason);
        if (r < 0 || !kty_want)
                return r < 0 ? -EINVAL : jwt_fail(reterr_reason, -EINVAL, "request key has no kty");
        if (!streq(kty_want, "RSA") && !streq(kty_want, "EC"))
                return jwt_fail(reterr_reason, -EINVAL, "request key kty \"%s\" cannot be compared",
                                jwt_escape(kty_want, b1));

        if (!json_object_object_get_ex(claims, "cnf", &cnf) || !cnf)
                return jwt_fail(reterr_reason, -EBADE, "token has no cnf claim, but a request key was sent");
        if (!json_object_is_type(cnf, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "claim cnf is not an object");
        if (!json_object_object_get_ex(cnf, "jwk", &jwk) || !jwk)
                return jwt_fail(reterr_reason, -EBADE, "cnf has no jwk, but a request key was sent");
        if (!json_object_is_type(jwk, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "cnf.jwk is not an object");

        r = jwt_json_get_string(jwk, "cnf.jwk", "kty", &kty_got, reterr_reason);
        if (r < 0)
                return r;
        if (!streq_ptr(kty_got, kty_want))
                return jwt_fail(reterr_reason, -EBADE, "cnf.jwk kty \"%s\" differs from the request key's \"%s\"",
                                jwt_escape(kty_got, b1), jwt_escape(kty_want, b2));

        if (streq(kty_want, "RSA"))
                return jwk_equal_rsa(jwk, want, reterr_reason);
        return jwk_equal_ec(jwk, want, reterr_reason);
}

/* The nonce is echoed as "rp_data" and, by newer service versions, as "nonce"; every copy present
 * must match and at least one must be there. Equal octets count as equal even if one side is
 * padded. Values are never put in the reason. */
static bool nonce_equal(const char *got, const char *want) {
        _cleanup_free_ void *a = NULL, *b = NULL;
        size_t na, nb;

        if (streq(got, want))
                return true;
        if (b64url_decode(got, strlen(got), &a, &na) < 0 || b64url_decode(want, strlen(want), &b, &nb) < 0)
                return false;
        return na == nb && memcmp(a, b, na) == 0;
}

static int check_nonce(json_object *claims, const char *want, char **reterr_reason) {
        static const char *const names[] = { "rp_data", "nonce" };
        bool found = false;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *got;
                int r;

                r = jwt_json_get_string(claims, "claims", names[i], &got, reterr_reason);
                if (r < 0)
                        return r;
                if (!got)
                        continue;
                if (!nonce_equal(got, want))
                        return jwt_fail(reterr_reason, -EBADE, "claim %s does not match the nonce sent", names[i]);
                found = true;
        }
        if (!found)
                return jwt_fail(reterr_reason, -EBADE, "token has no rp_data claim, but a nonce was sent");
        return 0;
}

/* AzureGuest echoes ClientPayload verbatim (values still base64) in x-ms-runtime.client-payload. */
static int check_client_payload_nonce(json_object *claims, const char *want, char **reterr_reason) {
        json_object *runtime, *payload;
        const char *got;
        int r;

        if (!json_object_object_get_ex(claims, "x-ms-runtime", &runtime) || !runtime)
                return jwt_fail(reterr_reason, -EBADE, "token has no x-ms-runtime claim, but a nonce was sent");
        if (!json_object_is_type(runtime, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "claim x-ms-runtime is not an object");
        if (!json_object_object_get_ex(runtime, "client-payload", &payload) || !payload)
                return jwt_fail(reterr_reason, -EBADE, "token has no x-ms-runtime.client-payload, but a nonce was sent");
        if (!json_object_is_type(payload, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "claim x-ms-runtime.client-payload is not an object");
        r = jwt_json_get_string(payload, "x-ms-runtime.client-payload", "nonce", &got, reterr_reason);
        if (r < 0)
                return r;
        if (!got)
                return jwt_fail(reterr_reason, -EBADE, "token has no x-ms-runtime.client-payload.nonce, but a nonce was sent");
        if (!streq(got, want))
                return jwt_fail(reterr_reason, -EBADE, "x-ms-runtime.client-payload.nonce does not match the nonce sent");
        return 0;
}

static int check_claims(const Token *t, const TokenExpect *expect, uint64_t now_usec, char **reterr_reason) {
        char b1[JWT_ESCAPE_BUF], b2[JWT_ESCAPE_BUF];
        int r;

        if (!t->iss)
                return jwt_fail(reterr_reason, -EBADMSG, "claims have no iss");
        if (!endpoint_equal(t->iss, expect->issuer))
                return jwt_fail(reterr_reason, -EACCES, "iss \"%s\" does not match endpoint \"%s\"",
                                jwt_escape(t->iss, b1), jwt_escape(expect->issuer, b2));

        r = check_time(t, expect, now_usec, reterr_reason);
        if (r < 0)
                return r;

        if (expect->cnf_jwk_json) {
                r = check_cnf(t->claims, expect->cnf_jwk_json, reterr_reason);
                if (r < 0)
                        return r;
        }
        if (expect->rp_data) {
                r = check_nonce(t->claims, expect->rp_data, reterr_reason);
                if (r < 0)
                        return r;
        }
        if (expect->client_payload_nonce) {
                r = check_client_payload_nonce(t->claims, expect->client_payload_nonce, reterr_reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int token_verify(const char *compact, const Jwks *jwks, const TokenExpect *expect, uint64_t now_usec,
                 Token **ret, char **reterr_reason) {
        _cleanup_(jwt_freep) Jwt *jwt = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_free_ uint8_t *leaf = NULL;
        size_t leaf_size;
        EVP_PKEY *pkey;
        int r;

        assert(compact);
        assert(jwks);
        assert(expect);
        assert(expect->issuer);
        assert(ret);

        r = jwt_decode(compact, strlen(compact), &jwt, reterr_reason);
        if (r < 0)
                return r;
        r = check_header(jwt->header, expect, reterr_reason);
        if (r < 0)
                return r;
        r = token_from_jwt(jwt, &t, reterr_reason);
        if (r < 0)
                return r;
        r = header_x5c_leaf(jwt->header, &leaf, &leaf_size, reterr_reason);
        if (r < 0)
                return r;
        r = choose_key(jwks, t->kid, leaf, leaf_size, &pkey, &t->key_by_cert, reterr_reason);
        if (r < 0)
                return r;
        r = verify_rs256(jwt, pkey, t->kid ?: "(by x5c)", reterr_reason);
        if (r < 0)
                return r;
        r = check_claims(t, expect, now_usec, reterr_reason);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(t);
        return 0;
}
