/* SPDX-License-Identifier: MIT */
/* The verifier's key set (GET {endpoint}/certs) and its OpenID metadata document, parsed into
 * OpenSSL keys. Parsing only: fetching is http.c's job, and trust comes from the pinned endpoint. */
#pragma once

#include <openssl/types.h>

#include "util.h"

#define JWKS_SIZE_MAX (1024U * 1024U)   /* the real MAA key set is ~30 KiB */
#define JWKS_KEYS_MAX 64U
#define JWKS_RSA_BITS_MAX 8192          /* bounds the cost of a verification with a hostile key */
#define OPENID_CONFIG_SIZE_MAX (64U * 1024U)

typedef struct JwksKey {
        char *kid;                      /* opaque string, compared byte for byte; NULL if absent */
        char *kty;                      /* "RSA", "EC", ... */
        EVP_PKEY *pkey;                 /* RSA public key; NULL for a kty we cannot use */
        uint8_t *cert_der;              /* DER of x5c[0], kept so a token's x5c[0] can be matched
                                         * byte for byte; NULL when the key has no x5c */
        size_t cert_der_size;
} JwksKey;

typedef struct Jwks {
        JwksKey *keys;
        size_t n_keys;
} Jwks;

/* Parses a JWKS document: {"keys":[{"kty":"RSA","kid":"...","x5c":["<std base64 DER>",...]},...]}.
 * For an RSA key the public key comes from the certificate in x5c[0] (its dates and issuer are
 * not checked: MAA's signing certificates are self-signed and one served in 2022 had expired;
 * trust comes from fetching the set over TLS from the configured endpoint); without x5c it comes
 * from the "n"/"e" members (base64url, big-endian). With both, they must be the same key.
 * Keys of another kty are kept with pkey NULL, so a token naming one gets a precise error.
 * Refused with -EBADMSG (reason names the key index and member): not an object, "keys" missing or
 * not an array, a key that is not an object, kid/kty/x5c of the wrong type, a duplicate kid, an RSA
 * key with neither x5c nor n/e, x5c not standard base64, x5c[0] not exactly one DER certificate or
 * not an RSA key, n/e not base64url or out of range (n at most JWKS_RSA_BITS_MAX bits). An empty
 * "keys" array is valid (every lookup then fails with -ENOKEY).
 * -EMSGSIZE above JWKS_SIZE_MAX, -E2BIG above JWKS_KEYS_MAX keys, -ENOMEM. */
int jwks_parse(const char *text, size_t size, Jwks **ret, char **reterr_reason);

/* The key whose kid equals KID exactly, or NULL. */
const JwksKey *jwks_find(const Jwks *jwks, const char *kid);

/* The first key whose x5c[0] is byte for byte the DER certificate DER (SIZE bytes), or NULL. */
const JwksKey *jwks_find_by_cert(const Jwks *jwks, const void *der, size_t size);

Jwks *jwks_free(Jwks *jwks);
DEFINE_TRIVIAL_CLEANUP_FUNC(Jwks *, jwks_free);

typedef struct OpenIdConfig {
        char *jwks_uri;                 /* required */
        char *issuer;                   /* NULL when the document has none */
} OpenIdConfig;

/* Parses GET {endpoint}/.well-known/openid-configuration. "jwks_uri" must be a string,
 * "issuer" a string when present; other members are ignored. -EBADMSG, -EMSGSIZE, -ENOMEM.
 * The caller decides whether jwks_uri is acceptable (see jwks_url_for_endpoint). */
int openid_config_parse(const char *text, size_t size, OpenIdConfig **ret, char **reterr_reason);

OpenIdConfig *openid_config_free(OpenIdConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpenIdConfig *, openid_config_free);

/* ENDPOINT with one trailing '/' dropped, followed by SUFFIX ("/certs",
 * "/.well-known/openid-configuration"). The JWKS URL we trust is always derived this way,
 * never taken from a token. -ENOMEM. */
int endpoint_url(const char *endpoint, const char *suffix, char **ret);

static inline int jwks_url_for_endpoint(const char *endpoint, char **ret) {
        return endpoint_url(endpoint, "/certs", ret);
}

/* Compares two endpoint/issuer URLs exactly, except that one trailing '/' on either is ignored. */
bool endpoint_equal(const char *a, const char *b);
