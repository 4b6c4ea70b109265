/* SPDX-License-Identifier: MIT */
/* Ephemeral RSA request key: generation, JWK text, PS256 signatures (OpenSSL 3 EVP). */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "cleanup.h"
#include "request-key.h"

struct RequestKey {
        EVP_PKEY *pkey;
        char *jwk;
};

/* Base64urlUInt (RFC 7518 §2): big-endian, minimal length. */
static int bn_to_b64url(const EVP_PKEY *pkey, const char *param, char **ret) {
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        _cleanup_free_ uint8_t *bin = NULL;
        int n;

        if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
                return -EIO;
        n = BN_num_bytes(bn);
        bin = malloc(n > 0 ? (size_t) n : 1);
        if (!bin)
                return -ENOMEM;
        BN_bn2bin(bn, bin);
        return b64url_encode(bin, (size_t) n, ret);
}

int request_key_new(RequestKey **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_free_ char *n = NULL, *e = NULL;
        RequestKey *k;
        int r;

        pkey = EVP_RSA_gen(2048);
        if (!pkey)
                return -EIO;
        r = bn_to_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, &n);
        if (r < 0)
                return r;
        r = bn_to_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
        if (r < 0)
                return r;

        k = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        if (asprintf(&k->jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e) < 0) {
                free(k);
                return -ENOMEM;
        }
        k->pkey = TAKE_PTR(pkey);
        *ret = k;
        return 0;
}

RequestKey *request_key_free(RequestKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k->jwk);
        free(k);
        return NULL;
}

const char *request_key_jwk(const RequestKey *k) {
        return k->jwk;
}

int request_key_sign_ps256(const RequestKey *k, const void *data, size_t size, Buffer *ret) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ uint8_t *sig = NULL;
        EVP_PKEY_CTX *pctx = NULL; /* owned by md */
        size_t len = 0;

        if (!md)
                return -ENOMEM;
        if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
            EVP_DigestSign(md, NULL, &len, data, size) != 1)
                return -EIO;
        sig = malloc(len);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(md, sig, &len, data, size) != 1)
                return -EIO;

        *ret = (Buffer) { .data = TAKE_PTR(sig), .size = len };
        return 0;
}
