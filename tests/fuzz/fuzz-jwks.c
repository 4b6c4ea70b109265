/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the key-set and OpenID metadata parsers: every input goes through both;
 * a parsed key set must be internally consistent, including the x5c[0] certificates it keeps for
 * jwks_find_by_cert(). Built and run by 'make fuzz-jwks'. */
#include <assert.h>

#include <openssl/evp.h>

#include "jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        OpenIdConfig *oc = NULL;
        Jwks *jwks = NULL;
        char *reason = NULL;
        int r;

        r = jwks_parse((const char *) data, size, &jwks, &reason);
        if (r < 0) {
                assert(r == -EBADMSG || r == -EMSGSIZE || r == -E2BIG || r == -ENOMEM);
                assert(!jwks && (reason || r == -ENOMEM));
                assert(!reason || !strchr(reason, '\n'));
                free(reason);
                reason = NULL;
        } else {
                assert(!reason && jwks->n_keys <= JWKS_KEYS_MAX);
                for (size_t i = 0; i < jwks->n_keys; i++) {
                        const JwksKey *k = &jwks->keys[i];

                        assert(k->kty);
                        /* RSA keys always carry a usable key, other types never do. */
                        assert(streq(k->kty, "RSA") == !!k->pkey);
                        assert(!k->pkey || EVP_PKEY_get_bits(k->pkey) <= JWKS_RSA_BITS_MAX);
                        if (k->kid)
                                assert(jwks_find(jwks, k->kid) == k);
                        /* Only keys from x5c keep a certificate, and each is found by it. */
                        assert(!k->cert_der == !k->cert_der_size);
                        assert(!k->cert_der || k->pkey);
                        if (k->cert_der) {
                                const JwksKey *f = jwks_find_by_cert(jwks, k->cert_der, k->cert_der_size);

                                assert(f && f <= k && f->cert_der_size == k->cert_der_size &&
                                       memcmp(f->cert_der, k->cert_der, k->cert_der_size) == 0);
                        }
                }
                jwks_free(jwks);
        }

        r = openid_config_parse((const char *) data, size, &oc, &reason);
        if (r < 0) {
                assert(!oc && (reason || r == -ENOMEM));
                free(reason);
        } else {
                assert(oc->jwks_uri);
                openid_config_free(oc);
        }
        return 0;
}
