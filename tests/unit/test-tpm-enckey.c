/* SPDX-License-Identifier: MIT */
/* Unit tests for tpm-enckey.c against a fresh swtpm per test: the EncKey's template and policy, its
 * certification by the AK, a round trip (OpenSSL encrypts to the key's public part, the TPM
 * decrypts under PolicyPCR), a PCR change and a TPM reset as their own errors, and no transient
 * handle or session left by any path. */
#include <check.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "check-main.h"
#include "cleanup.h"
#include "tpm-ak.h"
#include "tpm-enckey.h"
#include "tpm-test-util.h"
#include "tpm.h"

#define MASK UINT32_C(0xFF)
static const uint16_t sha256[] = { TPM_ALG_SHA256 };

static void assert_no_sessions(TpmContext *t) {
        tpm_test_assert_no_transients(t);
        ck_assert_uint_eq(tpm_test_count_handles(t, TPM_HANDLE_LOADED_SESSION_FIRST), 0);
}

/* The RSA public key of a marshalled TPM2B_PUBLIC, for OpenSSL. */
static EVP_PKEY *pkey_of(const Buffer *pub) {
        TPM2B_PUBLIC p = {};
        size_t off = 0;
        uint8_t e[] = { 1, 0, 1 };

        ck_assert_int_eq(Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub->data, pub->size, &off, &p), TSS2_RC_SUCCESS);
        ck_assert_uint_eq(off, pub->size);
        _cleanup_(BN_freep) BIGNUM *n = BN_bin2bn(p.publicArea.unique.rsa.buffer, p.publicArea.unique.rsa.size, NULL);
        _cleanup_(BN_freep) BIGNUM *be = BN_bin2bn(e, sizeof e, NULL);
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM_BLD_push_BN(bld, "n", n);
        OSSL_PARAM_BLD_push_BN(bld, "e", be);
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        EVP_PKEY *k = NULL;
        ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
        ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
        return k;
}

static void rsaes_encrypt(const Buffer *pub, const void *msg, size_t n, uint8_t out[256]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = pkey_of(pub);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
        size_t outlen = 256;

        ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_encrypt(ctx, out, &outlen, msg, n), 1);
        ck_assert_uint_eq(outlen, 256);
}

typedef struct Setup {
        TpmContext *t;
        TpmAk *ak;
        PcrSet pcrs;
        TpmEncKey key;
} Setup;

static void setup(Setup *s) {
        uint8_t d[32] = { 0x42 };

        s->t = tpm_test_open();
        ck_assert_int_ge(tpm_ak_load_or_create(s->t, AK_HANDLE, AK_ALG_RSA, &s->ak), 0);
        ck_assert_int_eq(tpm_pcr_extend(s->t, 7, TPM_ALG_SHA256, d, sizeof d), 0);
        ck_assert_int_eq(tpm_pcr_read(s->t, MASK, sha256, 1, &s->pcrs, NULL), 0);
        ck_assert_int_eq(tpm_enckey_create(s->t, s->ak, MASK, &s->pcrs.banks[0], &s->key), 0);
}

static void teardown(Setup *s) {
        tpm_enckey_done(&s->key);
        tpm_ak_free(s->ak);
        tpm_context_free(s->t);
}

START_TEST(test_template_and_certify) {
        Setup s = {};
        TPM2B_PUBLIC p = {};
        TPMS_ATTEST att = {};
        uint8_t policy[32], name[34] = { 0x00, 0x0b };
        size_t off = 0;

        setup(&s);
        ck_assert_int_eq(Tss2_MU_TPM2B_PUBLIC_Unmarshal(s.key.public.data, s.key.public.size, &off, &p), 0);
        ck_assert_uint_eq(p.publicArea.objectAttributes, TPM_ENCKEY_ATTRIBUTES);
        ck_assert_uint_eq(p.publicArea.parameters.rsaDetail.keyBits, 2048);
        ck_assert_uint_eq(p.publicArea.parameters.rsaDetail.scheme.scheme, TPM2_ALG_NULL);
        ck_assert_int_eq(tpm_enckey_policy(MASK, &s.pcrs.banks[0], policy), 0);
        ck_assert_uint_eq(p.publicArea.authPolicy.size, 32);
        ck_assert_mem_eq(p.publicArea.authPolicy.buffer, policy, 32);

        /* The certify names this key: 000b || SHA-256(TPMT_PUBLIC). */
        off = 0;
        ck_assert_int_eq(Tss2_MU_TPMS_ATTEST_Unmarshal(s.key.certify_info.data, s.key.certify_info.size, &off, &att), 0);
        ck_assert_uint_eq(att.type, TPM2_ST_ATTEST_CERTIFY);
        ck_assert_uint_eq(att.extraData.size, 0);
        SHA256(s.key.public.data + 2, s.key.public.size - 2, name + 2);
        ck_assert_uint_eq(att.attested.certify.name.size, sizeof name);
        ck_assert_mem_eq(att.attested.certify.name.name, name, sizeof name);

        /* Signed by the AK, RSASSA-SHA256 over the attest bytes. */
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, tpm_ak_get_pkey(s.ak)), 1);
        ck_assert_int_eq(EVP_DigestVerify(md, s.key.certify_signature.data, s.key.certify_signature.size,
                                          s.key.certify_info.data, s.key.certify_info.size), 1);
        assert_no_sessions(s.t);
        teardown(&s);
}
END_TEST

START_TEST(test_round_trip) {
        static const uint8_t secret[32] = "0123456789abcdef0123456789abcde";
        _cleanup_(buffer_done) Buffer out = {};
        uint8_t cipher[256];
        Setup s = {};

        setup(&s);
        rsaes_encrypt(&s.key.public, secret, sizeof secret, cipher);
        ck_assert_int_eq(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, cipher, sizeof cipher, &out), 0);
        ck_assert_uint_eq(out.size, sizeof secret);
        ck_assert_mem_eq(out.data, secret, sizeof secret);
        assert_no_sessions(s.t);
        teardown(&s);
}
END_TEST

START_TEST(test_pcr_changed) {
        static const uint8_t secret[32] = { 1 };
        _cleanup_(buffer_done) Buffer out = {};
        uint8_t cipher[256], d[32] = { 0x43 };
        Setup s = {};

        setup(&s);
        rsaes_encrypt(&s.key.public, secret, sizeof secret, cipher);
        ck_assert_int_eq(tpm_pcr_extend(s.t, 4, TPM_ALG_SHA256, d, sizeof d), 0);
        ck_assert_int_eq(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, cipher, sizeof cipher, &out),
                         -ESTALE);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(s.t), "PCR 4 changed"));
        assert_no_sessions(s.t);
        teardown(&s);
}
END_TEST

START_TEST(test_tpm_reset) {
        static const uint8_t secret[32] = { 2 };
        _cleanup_(buffer_done) Buffer out = {};
        uint8_t cipher[256];
        Setup s = {};

        setup(&s);
        rsaes_encrypt(&s.key.public, secret, sizeof secret, cipher);
        s.t = tpm_context_free(s.t);
        ck_assert_int_eq(swtpm_reboot(&tpm), 0);
        s.t = tpm_test_open();
        /* Same PCR values again (PCR 7 extended the same way), but a new NULL seed: another key. */
        uint8_t d[32] = { 0x42 };
        ck_assert_int_eq(tpm_pcr_extend(s.t, 7, TPM_ALG_SHA256, d, sizeof d), 0);
        ck_assert_int_eq(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, cipher, sizeof cipher, &out),
                         -ESTALE);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(s.t), "TPM was reset"));
        assert_no_sessions(s.t);
        teardown(&s);
}
END_TEST

START_TEST(test_errors_leak_nothing) {
        _cleanup_(buffer_done) Buffer out = {};
        uint8_t cipher[256] = { 0x55 }, wrong[256];
        Setup s = {};
        TpmEncKey k2 = {};
        PcrSet empty = {};

        setup(&s);
        /* Garbage ciphertext, and one for another key of the same shape: the TPM refuses both. */
        ck_assert_int_eq(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, cipher, sizeof cipher, &out),
                         -EBADMSG);
        assert_no_sessions(s.t);
        {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *other = EVP_RSA_gen(2048);
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(other, NULL);
                size_t n = sizeof wrong;
                ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
                ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
                ck_assert_int_eq(EVP_PKEY_encrypt(ctx, wrong, &n, (const uint8_t *) "k", 1), 1);
        }
        ck_assert_int_eq(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, wrong, sizeof wrong, &out),
                         -EBADMSG);
        assert_no_sessions(s.t);
        /* Too long, and no PCR values: refused before the TPM is asked. */
        ck_assert_int_lt(tpm_enckey_decrypt(s.t, MASK, &s.pcrs.banks[0], &s.key.public, cipher, 0, &out), 0);
        ck_assert_int_eq(tpm_enckey_create(s.t, s.ak, MASK, &empty.banks[0], &k2), -EINVAL);
        ck_assert_int_eq(tpm_enckey_create(s.t, s.ak, 0, &s.pcrs.banks[0], &k2), -EINVAL);
        assert_no_sessions(s.t);
        teardown(&s);
}
END_TEST

START_TEST(test_signature_to_raw) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        _cleanup_(buffer_done) Buffer raw = {};
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        Buffer cut;

        ck_assert_int_ge(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 0);
        ck_assert_int_eq(tpm_quote(t, ak, MASK, sha256, 1, NULL, 0, &q), 0);
        ck_assert_int_eq(tpm_signature_to_raw(&q.signature, &raw), 0);
        ck_assert_uint_eq(raw.size, 256);
        ck_assert_mem_eq(raw.data, q.signature.data + 6, 256);
        cut = (Buffer) { .data = q.signature.data, .size = q.signature.size - 1 };
        Buffer tmp = {};
        ck_assert_int_eq(tpm_signature_to_raw(&cut, &tmp), -EBADMSG);
}
END_TEST

static Suite *enckey_suite(void) {
        Suite *s = suite_create("tpm-enckey");
        TCase *tc = tpm_test_add_tcase(s, "enckey");

        tcase_add_test(tc, test_template_and_certify);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_pcr_changed);
        tcase_add_test(tc, test_tpm_reset);
        tcase_add_test(tc, test_errors_leak_nothing);
        tcase_add_test(tc, test_signature_to_raw);
        return s;
}

int main(void) {
        if (!tpm_test_init())
                return EXIT_TEST_SKIP;
        return check_run(enckey_suite());
}
