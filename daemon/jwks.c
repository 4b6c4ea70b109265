/* SPDX-License-Identifier: MIT */
/* JWKS and OpenID metadata parsing into OpenSSL keys. No fetching, no trust decisions beyond
 * "is this a well-formed key"; token.c decides which key may verify what. */
#include <assert.h>
#include <limits.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "b64.h"
#include "cleanup.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

/* OpenSSL's reason goes to the debug log here, where it is translated (house rule). */
static void log_openssl_debug(const char *what) {
        char buf[256];
        unsigned long e = ERR_get_error();

        ERR_error_string_n(e, buf, sizeof buf);
        log_debug("OpenSSL: %s: %s", what, e != 0 ? buf : "no error queued");
        ERR_clear_error();
}

static void jwks_key_done(JwksKey *k) {
        free(k->kid);
        free(k->kty);
        EVP_PKEY_free(k->pkey);
        free(k->cert_der);
        *k = (JwksKey) {};
}

Jwks *jwks_free(Jwks *jwks) {
        if (!jwks)
                return NULL;
        for (size_t i = 0; i < jwks->n_keys; i++)
                jwks_key_done(&jwks->keys[i]);
        free(jwks->keys);
        free(jwks);
        return NULL;
}

const JwksKey *jwks_find(const Jwks *jwks, const char *kid) {
        assert(jwks);

        if (!kid)
                return NULL;
        for (size_t i = 0; i < jwks->n_keys; i++)
                if (streq_ptr(jwks->keys[i].kid, kid))
                        return &jwks->keys[i];
        return NULL;
}

const JwksKey *jwks_find_by_cert(const Jwks *jwks, const void *der, size_t size) {
        assert(jwks);

        if (!der || size == 0)
                return NULL;
        for (size_t i = 0; i < jwks->n_keys; i++)
                if (jwks->keys[i].cert_der_size == size && memcmp(jwks->keys[i].cert_der, der, size) == 0)
                        return &jwks->keys[i];
        return NULL;
}

/* Public key of the single DER certificate in the standard-base64 string B64; the DER itself goes
 * to *ret_der. */
static int key_from_x5c(const char *b64, size_t idx, EVP_PKEY **ret, uint8_t **ret_der, size_t *ret_der_size,
                        char **reterr_reason) {
        _cleanup_free_ uint8_t *der = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        const unsigned char *p;
        size_t size, bad = 0;
        int r;

        r = b64_decode_full(B64_STANDARD, b64, strlen(b64), (void **) &der, &size, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] is not standard base64 (offset %zu)",
                                idx, bad);
        if (size == 0 || size > LONG_MAX)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] is empty", idx);

        p = der;
        cert = d2i_X509(NULL, &p, (long) size);
        if (!cert) {
                log_openssl_debug("d2i_X509");
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] is not a DER X.509 certificate",
                                idx);
        }
        if (p != der + size)
                return jwt_fail(reterr_reason, -EBADMSG,
                                "keys[%zu].x5c[0] has %zu bytes of trailing data after the certificate", idx,
                                (size_t) (der + size - p));

        pkey = X509_get_pubkey(cert);
        if (!pkey) {
                log_openssl_debug("X509_get_pubkey");
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] certificate has an unusable public key",
                                idx);
        }
        if (!EVP_PKEY_is_a(pkey, "RSA"))
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] certificate key is %s, not RSA", idx,
                                strna(EVP_PKEY_get0_type_name(pkey)));
        if (EVP_PKEY_get_bits(pkey) > JWKS_RSA_BITS_MAX)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[0] RSA key has %d bits, more than %d", idx,
                                EVP_PKEY_get_bits(pkey), JWKS_RSA_BITS_MAX);

        *ret = TAKE_PTR(pkey);
        *ret_der = TAKE_PTR(der);
        *ret_der_size = size;
        return 0;
}

/* Decodes the base64url big-endian integer member NAME of key IDX. */
static int bn_from_member(const char *s, size_t idx, const char *name, size_t max_bytes, BIGNUM **ret,
                          char **reterr_reason) {
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t size, bad = 0, skip = 0;
        BIGNUM *bn;
        int r;

        r = b64_decode_full(B64_URL, s, strlen(s), (void **) &bytes, &size, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].%s is not base64url (offset %zu)", idx, name,
                                bad);
        while (skip < size && bytes[skip] == 0)
                skip++;
        if (skip == size)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].%s is zero or empty", idx, name);
        if (size - skip > max_bytes)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].%s is %zu bytes, more than %zu", idx, name,
                                size - skip, max_bytes);

        bn = BN_bin2bn(bytes + skip, (int) (size - skip), NULL);
        if (!bn)
                return -ENOMEM;
        *ret = bn;
        return 0;
}

static int key_from_ne(const char *n_b64, const char *e_b64, size_t idx, EVP_PKEY **ret,
                       char **reterr_reason) {
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        int r;

        r = bn_from_member(n_b64, idx, "n", JWKS_RSA_BITS_MAX / 8, &n, reterr_reason);
        if (r < 0)
                return r;
        /* OpenSSL refuses exponents over 64 bits for big moduli anyway; say so precisely here. */
        r = bn_from_member(e_b64, idx, "e", 8, &e, reterr_reason);
        if (r < 0)
                return r;
        if (!BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e))
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] n/e do not form an RSA public key", idx);

        bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
                return -ENOMEM;
        params = OSSL_PARAM_BLD_to_param(bld);
        if (!params)
                return -ENOMEM;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                log_openssl_debug("EVP_PKEY_fromdata");
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] n/e do not form an RSA public key", idx);
        }

        *ret = pkey;
        return 0;
}

/* x5c: an array of standard-base64 strings; every entry must decode, x5c[0] gives the key. */
static int key_parse_x5c(json_object *x5c, size_t idx, EVP_PKEY **ret, uint8_t **ret_der, size_t *ret_der_size,
                         char **reterr_reason) {
        size_t n;

        if (!json_object_is_type(x5c, json_type_array))
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c is not an array", idx);
        n = json_object_array_length(x5c);
        if (n == 0)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c is empty", idx);

        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(x5c, i);
                _cleanup_free_ void *der = NULL;
                size_t size, bad = 0;
                int r;

                if (!json_object_is_type(c, json_type_string))
                        return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu].x5c[%zu] is not a string", idx, i);
                if (i == 0)
                        continue;       /* decoded, and more, by key_from_x5c() below */
                r = b64_decode_full(B64_STANDARD, json_object_get_string(c),
                                    (size_t) json_object_get_string_len(c), &der, &size, &bad);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return jwt_fail(reterr_reason, -EBADMSG,
                                        "keys[%zu].x5c[%zu] is not standard base64 (offset %zu)", idx, i, bad);
        }

        return key_from_x5c(json_object_get_string(json_object_array_get_idx(x5c, 0)), idx, ret, ret_der,
                            ret_der_size, reterr_reason);
}

static int jwks_parse_rsa(json_object *o, size_t idx, JwksKey *key, char **reterr_reason) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *from_cert = NULL, *from_ne = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        size_t der_size = 0;
        const char *n = NULL, *e = NULL;
        json_object *x5c;
        char what[32];
        int r;

        snprintf(what, sizeof what, "keys[%zu]", idx);
        r = jwt_json_get_string(o, what, "n", &n, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(o, what, "e", &e, reterr_reason);
        if (r < 0)
                return r;
        if (!n != !e)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] has %s without %s", idx, n ? "n" : "e",
                                n ? "e" : "n");

        if (json_object_object_get_ex(o, "x5c", &x5c) && x5c) {
                r = key_parse_x5c(x5c, idx, &from_cert, &der, &der_size, reterr_reason);
                if (r < 0)
                        return r;
        }
        if (n) {
                r = key_from_ne(n, e, idx, &from_ne, reterr_reason);
                if (r < 0)
                        return r;
        }
        if (!from_cert && !from_ne)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] is an RSA key with neither x5c nor n/e", idx);
        if (from_cert && from_ne && EVP_PKEY_eq(from_cert, from_ne) != 1) {
                ERR_clear_error();
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] n/e differ from the x5c[0] certificate's key",
                                idx);
        }

        key->pkey = from_cert ? TAKE_PTR(from_cert) : TAKE_PTR(from_ne);
        key->cert_der = TAKE_PTR(der);
        key->cert_der_size = der_size;
        return 0;
}

static int jwks_parse_key(json_object *o, size_t idx, JwksKey *ret, char **reterr_reason) {
        _cleanup_(jwks_key_done) JwksKey key = {};
        const char *kid, *kty;
        char what[32];
        int r;

        if (!json_object_is_type(o, json_type_object))
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] is not an object", idx);

        snprintf(what, sizeof what, "keys[%zu]", idx);
        r = jwt_json_get_string(o, what, "kid", &kid, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(o, what, "kty", &kty, reterr_reason);
        if (r < 0)
                return r;
        if (!kty)
                return jwt_fail(reterr_reason, -EBADMSG, "keys[%zu] has no kty", idx);

        if (streq(kty, "RSA")) {
                r = jwks_parse_rsa(o, idx, &key, reterr_reason);
                if (r < 0)
                        return r;
        } else
                log_debug("JWKS keys[%zu] has kty other than RSA; kept, but unusable for RS256.", idx);

        key.kty = strdup(kty);
        if (!key.kty || (kid && !(key.kid = strdup(kid))))
                return -ENOMEM;

        *ret = key;
        key = (JwksKey) {};
        return 0;
}

int jwks_parse(const char *text, size_t size, Jwks **ret, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        json_object *keys;
        size_t n;
        int r;

        assert(text || size == 0);
        assert(ret);

        if (size > JWKS_SIZE_MAX)
                return jwt_fail(reterr_reason, -EMSGSIZE, "JWKS is %zu bytes, more than the %u allowed", size,
                                JWKS_SIZE_MAX);
        r = jwt_json_parse_object(text, size, "JWKS", &root, reterr_reason);
        if (r < 0)
                return r;

        if (!json_object_object_get_ex(root, "keys", &keys) || !keys)
                return jwt_fail(reterr_reason, -EBADMSG, "JWKS has no \"keys\" member");
        if (!json_object_is_type(keys, json_type_array))
                return jwt_fail(reterr_reason, -EBADMSG, "JWKS \"keys\" is a %s, not an array",
                                json_type_to_name(json_object_get_type(keys)));
        n = json_object_array_length(keys);
        if (n > JWKS_KEYS_MAX)
                return jwt_fail(reterr_reason, -E2BIG, "JWKS has %zu keys, more than the %u allowed", n,
                                JWKS_KEYS_MAX);

        jwks = calloc(1, sizeof(Jwks));
        if (!jwks)
                return -ENOMEM;
        jwks->keys = calloc(MAX(n, 1u), sizeof(JwksKey));
        if (!jwks->keys)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                char buf[JWT_ESCAPE_BUF];

                r = jwks_parse_key(json_object_array_get_idx(keys, i), i, &jwks->keys[i], reterr_reason);
                if (r < 0)
                        return r;
                jwks->n_keys++;

                /* An ambiguous kid would let the set pick a key for us; refuse it. */
                if (jwks->keys[i].kid)
                        for (size_t k = 0; k < i; k++)
                                if (streq_ptr(jwks->keys[k].kid, jwks->keys[i].kid))
                                        return jwt_fail(reterr_reason, -EBADMSG,
                                                        "keys[%zu] repeats the kid \"%s\" of keys[%zu]", i,
                                                        jwt_escape(jwks->keys[i].kid, buf), k);
        }

        *ret = TAKE_PTR(jwks);
        return 0;
}

OpenIdConfig *openid_config_free(OpenIdConfig *c) {
        if (!c)
                return NULL;
        free(c->jwks_uri);
        free(c->issuer);
        free(c);
        return NULL;
}

int openid_config_parse(const char *text, size_t size, OpenIdConfig **ret, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(openid_config_freep) OpenIdConfig *c = NULL;
        const char *jwks_uri, *issuer;
        int r;

        assert(text || size == 0);
        assert(ret);

        if (size > OPENID_CONFIG_SIZE_MAX)
                return jwt_fail(reterr_reason, -EMSGSIZE,
                                "OpenID configuration is %zu bytes, more than the %u allowed", size,
                                OPENID_CONFIG_SIZE_MAX);
        r = jwt_json_parse_object(text, size, "OpenID configuration", &root, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_get_string(root, "OpenID configuration", "jwks_uri", &jwks_uri, reterr_reason);
        if (r < 0)
                return r;
        if (!jwks_uri)
                return jwt_fail(reterr_reason, -EBADMSG, "OpenID configuration has no \"jwks_uri\"");
        r = jwt_json_get_string(root, "OpenID configuration", "issuer", &issuer, reterr_reason);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(OpenIdConfig));
        if (!c)
                return -ENOMEM;
        c->jwks_uri = strdup(jwks_uri);
        if (!c->jwks_uri)
                return -ENOMEM;
        if (issuer) {
                c->issuer = strdup(issuer);
                if (!c->issuer)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

static size_t endpoint_len(const char *s) {
        size_t n = strlen(s);

        return n > 0 && s[n - 1] == '/' ? n - 1 : n;
}

int endpoint_url(const char *endpoint, const char *suffix, char **ret) {
        char *s;

        assert(endpoint);
        assert(suffix);
        assert(ret);

        if (asprintf(&s, "%.*s%s", (int) endpoint_len(endpoint), endpoint, suffix) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

bool endpoint_equal(const char *a, const char *b) {
        size_t na, nb;

        if (!a || !b)
                return a == b;
        na = endpoint_len(a);
        nb = endpoint_len(b);
        return na == nb && memcmp(a, b, na) == 0;
}
