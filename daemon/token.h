/* SPDX-License-Identifier: MIT */
/* Verification of the attestation token (RS256 JWT) against the verifier's JWKS and what this
 * attestation expects (issuer, time, cnf key, nonce). Pure: no I/O, no clock, no logging above debug. */
#pragma once

#include <json-c/json.h>

#include "jwks.h"
#include "util.h"

#define TOKEN_TIMESTAMP_MAX 32
#define TOKEN_RSA_BITS_MIN 2048
/* NumericDate values past 9999-12-31T23:59:59Z are refused, so usec arithmetic cannot overflow. */
#define TOKEN_NUMERIC_DATE_MAX INT64_C(253402300799)

typedef struct TokenExpect {
        const char *issuer;             /* required: "iss" must equal it (one trailing '/' ignored) */
        const char *endpoint;           /* a "jku" must equal endpoint + "/certs"; NULL = issuer */
        uint64_t skew_usec;             /* tolerance applied to exp and nbf */
        const char *cnf_jwk_json;       /* the request key's JWK text; NULL = cnf not checked */
        const char *rp_data;            /* the nonce sent (base64url); NULL = not checked */
        const char *client_payload_nonce; /* AzureGuest: x-ms-runtime.client-payload.nonce must be
                                         * exactly this (as sent); NULL = not checked */
} TokenExpect;

/* A decoded token. The strings are borrowed from header/claims and live as long as the Token. */
typedef struct Token {
        json_object *header;
        json_object *claims;            /* for token.json */
        const char *kid;                /* NULL if absent */
        bool key_by_cert;               /* token_verify found the key by x5c[0], not by kid */
        const char *iss;
        const char *jti;                /* NULL if absent */
        uint64_t iat_usec;              /* 0 if absent */
        uint64_t nbf_usec;              /* 0 if absent */
        uint64_t exp_usec;              /* USEC_INFINITY if absent (only possible from token_decode) */
} Token;

/* Verifies the NUL-terminated compact JWS COMPACT at time NOW_USEC (CLOCK_REALTIME, usec; the
 * caller supplies it so tests and "attestctl token verify --at" can pin the clock). Checks, in
 * this order: shape, alg/crit, jku, types of the extracted fields, x5c, key choice, signature,
 * iss, exp/nbf/iat, cnf, rp_data; the first failure wins.
 * Key choice: the JWKS key whose kid is the header's "kid"; when the set has no such kid (or the
 * token has none), the JWKS key whose x5c[0] is byte for byte the header's x5c[0] (real MAA TPM
 * tokens carry no jku and an x5t-style kid). The header's x5c never supplies a key by itself.
 * Errors:
 *   -EMSGSIZE         longer than JWT_SIZE_MAX
 *   -EBADMSG          malformed: not three base64url parts, header/payload not JSON objects, or
 *                     alg/jku/iss/exp/nbf/iat/jti/cnf/rp_data missing where required or of the
 *                     wrong type, neither kid nor x5c, or x5c not an array of standard-base64
 *                     strings
 *   -EPROTONOSUPPORT  "alg" is anything but exactly "RS256" ("none" included), or a "crit" header
 *   -EACCES           "jku" present and not {endpoint}/certs (it is never fetched), or "iss" is not
 *                     expect->issuer
 *   -ENOKEY           neither the kid nor x5c[0] is in JWKS: the caller should re-fetch the key
 *                     set once and retry
 *   -EKEYREJECTED     the chosen key cannot be used (not RSA, < TOKEN_RSA_BITS_MIN bits), the
 *                     kid is in JWKS but x5c[0] is not the certificate JWKS holds under it, or
 *                     the RSASSA-PKCS1-v1_5 SHA-256 signature does not verify
 *   -ESTALE           expired: now >= exp + skew
 *   -ETIME            not yet valid: now + skew < nbf, or issued in the future: now + skew < iat
 *                     (nbf = iat - 300, as MAA issues it, is normal)
 *   -EBADE            cnf.jwk is not the request key (kty/n/e compared as values, not as text), or
 *                     rp_data/nonce (or x-ms-runtime.client-payload.nonce) is not the nonce sent
 *   -EINVAL           expect->cnf_jwk_json is not an RSA or EC JWK object (caller bug)
 *   -ENOMEM, -EIO     (OpenSSL could not set up the verification)
 * A "jwk" in the token's own header is ignored: keys come only from JWKS. On failure
 * *reterr_reason (when non-NULL) gets a malloc'd one-line reason such as
 * 'kid "abc" not in key set' (untrusted strings escaped, no token contents, no keys); it may be
 * left NULL on -ENOMEM. On success *ret owns the decoded token. */
int token_verify(const char *compact, const Jwks *jwks, const TokenExpect *expect, uint64_t now_usec,
                 Token **ret, char **reterr_reason);

/* The shortest remaining lifetime worth publishing, whatever the token's own lifetime: see
 * token_check_usable(). */
#define TOKEN_REMAINING_MIN_USEC (60 * USEC_PER_SEC)

/* Whether a verified token T still has enough life left at NOW_USEC to be published: its expiry must
 * be at least max(10 % of its lifetime, min(TOKEN_REMAINING_MIN_USEC, half its lifetime)) away, the
 * lifetime being exp - iat (exp - now without a usable iat). No skew is granted here: a token that
 * expires in the next moments is no use to anyone, and accepting one makes the refresh timer fire
 * at once, again and again. Returns 0, or -ESTALE with a one-line reason in *reterr_reason (when
 * non-NULL; may be left NULL on -ENOMEM). */
int token_check_usable(const Token *t, uint64_t now_usec, char **reterr_reason);

/* Decodes without verifying anything but the shape: for display and for reading back a cached
 * token that was verified before it was cached. -EMSGSIZE, -EBADMSG, -ENOMEM. */
int token_decode(const char *compact, Token **ret, char **reterr_reason);

Token *token_free(Token *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Token *, token_free);

/* "2022-05-31T12:00:00Z" (UTC, seconds). Returns BUF. */
const char *token_format_timestamp(uint64_t usec, char buf[static TOKEN_TIMESTAMP_MAX]);
