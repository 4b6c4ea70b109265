/* SPDX-License-Identifier: MIT */
/* Unit tests for tpm_quote() and quote-verify.c against a fresh swtpm per test: good quotes (RSA,
 * ECC), every tampered field failing with its own errno, tpm2_checkquote agreeing, the AK sitting
 * under the standard EK, attestctl's quote/pcrs verbs, and no transient handle left by any error. */
#include <check.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "check-main.h"
#include "quote-verify.h"
#include "tpm-ak.h"
#include "tpm-test-util.h"
#include "tpm.h"

static bool have_tools;

static const uint8_t nonce[32] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint16_t two_banks[] = { TPM_ALG_SHA256, TPM_ALG_SHA1 };

/* Extends PCR 14 so the quote is over something other than reset values. */
static void make_quote(TpmContext *t, AkAlgorithm alg, TpmAk **ret_ak, TpmQuote *ret) {
        uint8_t d[32] = { 0x42 };
        int r;

        ck_assert_int_ge(tpm_ak_load_or_create(t, AK_HANDLE, alg, ret_ak), 0);
        ck_assert_int_eq(tpm_pcr_extend(t, 14, TPM_ALG_SHA256, d, sizeof d), 0);
        r = tpm_quote(t, *ret_ak, 0xFFFFFF, two_banks, 2, nonce, sizeof nonce, ret);
        ck_assert_msg(r == 0, "tpm_quote: %d %s", r, tpm_context_last_error(t));
}

static void check_good_quote(TpmContext *t, AkAlgorithm alg) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        QuoteInfo info = {};
        uint32_t counter;
        PcrSet now;

        make_quote(t, alg, &ak, &q);
        ck_assert_int_gt(q.attest.size, 100);
        ck_assert_int_gt(q.signature.size, 64);
        ck_assert_uint_eq(q.pcr_mask, 0xFFFFFF);
        ck_assert_int_eq(q.n_banks, 2);
        ck_assert_int_eq(q.banks[0], TPM_ALG_SHA256);

        /* The values travel with the quote and are those of the TPM right now. */
        ck_assert_int_eq(tpm_pcr_read(t, 0xFFFFFF, two_banks, 2, &now, &counter), 0);
        ck_assert_uint_eq(counter, q.pcr_update_counter);
        ck_assert(memcmp(&now, &q.pcrs, sizeof now) == 0);

        ck_assert_int_eq(quote_verify(q.attest.data, q.attest.size, q.signature.data, q.signature.size,
                                      tpm_ak_get_pkey(ak), nonce, sizeof nonce, &q.pcrs, &info, NULL), 0);
        ck_assert_int_eq(info.sig_hash_alg, TPM2_ALG_SHA256);
        ck_assert_int_eq(info.reset_count, 1);     /* a fresh swtpm has been started once */
        ck_assert_int_gt(info.clock, 0);
        ck_assert(info.safe);
        tpm_test_assert_no_transients(t);
}

START_TEST(test_quote_rsa) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        check_good_quote(t, AK_ALG_RSA);
}
END_TEST

START_TEST(test_quote_ecc) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        check_good_quote(t, AK_ALG_ECC);
}
END_TEST

/* A simulated power cycle shows in the quote: resetCount up by one, PCR 14 back to zero. */
START_TEST(test_quote_after_reboot) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        TpmQuote q = {};
        QuoteInfo before = {}, after = {};
        uint8_t zeros[32] = {};
        TpmContext *t = tpm_test_open();

        make_quote(t, AK_ALG_ECC, &ak, &q);
        ck_assert_int_eq(quote_verify(q.attest.data, q.attest.size, q.signature.data, q.signature.size,
                                      tpm_ak_get_pkey(ak), nonce, sizeof nonce, &q.pcrs, &before, NULL), 0);
        ck_assert(memcmp(q.pcrs.banks[0].values[14], zeros, 32) != 0);
        tpm_quote_done(&q);
        t = tpm_context_free(t);

        ck_assert_int_eq(swtpm_reboot(&tpm), 0);

        t = tpm_test_open();
        ck_assert_int_eq(tpm_quote(t, ak, 0xFFFFFF, two_banks, 2, nonce, sizeof nonce, &q), 0);
        ck_assert_int_eq(quote_verify(q.attest.data, q.attest.size, q.signature.data, q.signature.size,
                                      tpm_ak_get_pkey(ak), nonce, sizeof nonce, &q.pcrs, &after, NULL), 0);
        ck_assert_int_eq(after.reset_count, before.reset_count + 1);
        ck_assert(memcmp(q.pcrs.banks[0].values[14], zeros, 32) == 0);
        tpm_quote_done(&q);
        tpm_context_free(t);
}
END_TEST

START_TEST(test_quote_nonce_sizes) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        uint8_t big[65] = { 1 };
        uint16_t bank = TPM_ALG_SHA256;
        TpmQuote q = {};

        ck_assert_int_ge(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 0);
        ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, NULL, 0, &q), 0);
        tpm_quote_done(&q);
        ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, big, 64, &q), 0);
        tpm_quote_done(&q);
        ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, big, 65, &q), -EINVAL);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "65 bytes"));
        ck_assert_ptr_null(q.attest.data);
}
END_TEST

/* ------------------------------------------------------------------ tampering */

typedef struct Material {
        uint8_t attest[1024];
        size_t attest_size;
        uint8_t sig[1024];
        size_t sig_size;
        uint8_t nonce[64];
        size_t nonce_size;
        PcrSet pcrs;
        EVP_PKEY *key;
} Material;

static void m_magic(Material *m) { m->attest[0] ^= 0x01; }
static void m_type(Material *m) { m->attest[5] ^= 0x01; }                /* 0x8018 -> 0x8019 */
static void m_clock(Material *m) { m->attest[4 + 2 + 2 + 34 + 2 + 32 + 3] ^= 0x10; }
static void m_pcr_digest(Material *m) { m->attest[m->attest_size - 1] ^= 0x01; }
static void m_extra_data(Material *m) { m->attest[4 + 2 + 2 + 34 + 2] ^= 0x01; }
static void m_nonce(Material *m) { m->nonce[0] ^= 0x01; }
static void m_nonce_short(Material *m) { m->nonce_size--; }
static void m_sig_byte(Material *m) { m->sig[m->sig_size - 1] ^= 0x01; }
static void m_sig_hash(Material *m) { m->sig[3] = TPM2_ALG_SHA1; }      /* RSASSA-SHA1 claimed */
static void m_sig_pss(Material *m) { m->sig[1] = TPM2_ALG_RSAPSS; }
static void m_sig_ecdsa(Material *m) { m->sig[1] = TPM2_ALG_ECDSA; }
static void m_sig_unknown(Material *m) { m->sig[1] = 0x77; }
static void m_pcr_value(Material *m) { m->pcrs.banks[0].values[3][0] ^= 0x01; }
static void m_pcr_value_sha1(Material *m) { m->pcrs.banks[1].values[23][19] ^= 0x80; }
static void m_pcr_missing(Material *m) { m->pcrs.banks[1].present_mask &= ~UINT32_C(1); }
static void m_pcr_extra_bank(Material *m) { ck_assert_int_eq(pcr_set_add_bank(&m->pcrs, TPM_ALG_SHA384, NULL), 0);
                                            m->pcrs.banks[2].present_mask = 1; }
static void m_pcr_bank_missing(Material *m) { m->pcrs.n_banks = 1; }
static void m_attest_short(Material *m) { m->attest_size--; }
static void m_attest_long(Material *m) { m->attest_size++; }
static void m_attest_empty(Material *m) { m->attest_size = 0; }
static void m_sig_short(Material *m) { m->sig_size--; }
static void m_sig_long(Material *m) { m->sig_size++; }
static void m_sig_empty(Material *m) { m->sig_size = 0; }
static void m_other_rsa_key(Material *m) { EVP_PKEY_free(m->key); m->key = EVP_RSA_gen(2048); }
static void m_ecc_key(Material *m) { EVP_PKEY_free(m->key); m->key = EVP_EC_gen("P-256"); }

typedef struct TamperCase {
        const char *name;
        void (*mutate)(Material *m);
        int expect;
        const char *message_part;
} TamperCase;

static const TamperCase tamper_cases[] = {
        { "magic", m_magic, -EBADMSG, "magic" },
        { "type", m_type, -EBADMSG, "TPMS_ATTEST" },
        { "clock", m_clock, -EKEYREJECTED, "does not verify" },
        { "pcrDigest byte", m_pcr_digest, -EKEYREJECTED, "does not verify" },
        { "extraData byte", m_extra_data, -EBADE, "extraData" },
        { "nonce", m_nonce, -EBADE, "extraData" },
        { "nonce length", m_nonce_short, -EBADE, "extraData" },
        { "signature byte", m_sig_byte, -EKEYREJECTED, "does not verify" },
        { "signature hash", m_sig_hash, -EKEYREJECTED, "SHA1" },
        { "signature RSAPSS", m_sig_pss, -EKEYREJECTED, "does not verify" },
        { "signature ECDSA vs RSA key", m_sig_ecdsa, -EBADMSG, "TPMT_SIGNATURE" },
        { "signature unknown alg", m_sig_unknown, -EBADMSG, "TPMT_SIGNATURE" },
        { "PCR value sha256", m_pcr_value, -ESTALE, "pcrDigest" },
        { "PCR value sha1", m_pcr_value_sha1, -ESTALE, "pcrDigest" },
        { "PCR missing", m_pcr_missing, -ENODATA, "sha1" },
        { "bank not quoted", m_pcr_extra_bank, -ENODATA, "sha384" },
        { "bank missing", m_pcr_bank_missing, -ENODATA, "sha1" },
        { "attest truncated", m_attest_short, -EBADMSG, "malformed TPMS_ATTEST" },
        { "attest trailing byte", m_attest_long, -EBADMSG, "trailing" },
        { "attest empty", m_attest_empty, -EBADMSG, "malformed TPMS_ATTEST" },
        { "signature truncated", m_sig_short, -EBADMSG, "malformed TPMT_SIGNATURE" },
        { "signature trailing byte", m_sig_long, -EBADMSG, "trailing" },
        { "signature empty", m_sig_empty, -EBADMSG, "malformed TPMT_SIGNATURE" },
        { "other RSA key", m_other_rsa_key, -EKEYREJECTED, "does not verify" },
        { "ECC key for RSA signature", m_ecc_key, -EKEYREJECTED, "does not match" },
};

START_TEST(test_quote_tampered) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        static Material orig;

        make_quote(t, AK_ALG_RSA, &ak, &q);
        ck_assert_int_lt(q.attest.size, sizeof orig.attest);
        memcpy(orig.attest, q.attest.data, q.attest.size);
        orig.attest_size = q.attest.size;
        memcpy(orig.sig, q.signature.data, q.signature.size);
        orig.sig_size = q.signature.size;
        memcpy(orig.nonce, nonce, sizeof nonce);
        orig.nonce_size = sizeof nonce;
        orig.pcrs = q.pcrs;
        /* The layout the offsets above assume: sha256 name (34 bytes), 32-byte extraData. */
        ck_assert_int_eq(orig.attest[6] << 8 | orig.attest[7], 34);
        ck_assert_int_eq(orig.attest[42] << 8 | orig.attest[43], 32);
        ck_assert_int_eq(orig.sig[1], TPM2_ALG_RSASSA);

        for (size_t i = 0; i < ELEMENTSOF(tamper_cases); i++) {
                const TamperCase *c = &tamper_cases[i];
                _cleanup_free_ char *msg = NULL;
                static Material m;
                int r;

                m = orig;
                m.key = tpm_ak_get_pkey(ak);
                EVP_PKEY_up_ref(m.key);
                c->mutate(&m);
                ck_assert_ptr_nonnull(m.key);

                r = quote_verify(m.attest, m.attest_size, m.sig, m.sig_size, m.key, m.nonce, m.nonce_size,
                                 &m.pcrs, NULL, &msg);
                ck_assert_msg(r == c->expect, "%s: got %d (%s), want %d", c->name, r, strna(msg), c->expect);
                ck_assert_msg(msg && strstr(msg, c->message_part), "%s: message '%s' lacks '%s'", c->name,
                              strna(msg), c->message_part);
                EVP_PKEY_free(m.key);
        }

        /* And the untouched material still verifies. */
        ck_assert_int_eq(quote_verify(orig.attest, orig.attest_size, orig.sig, orig.sig_size, tpm_ak_get_pkey(ak),
                                      nonce, sizeof nonce, &orig.pcrs, NULL, NULL), 0);
}
END_TEST

START_TEST(test_public_blob) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        uint8_t buf[1024];
        TPMT_PUBLIC pub;
        EVP_PKEY *k = NULL;

        ck_assert_int_ge(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 0);
        const Buffer *b = tpm_ak_get_public(ak);
        ck_assert_int_eq(quote_public_from_blob(b->data, b->size, &pub, &k), 0);
        ck_assert_int_eq(EVP_PKEY_eq(k, tpm_ak_get_pkey(ak)), 1);
        EVP_PKEY_free(k);
        ck_assert(pub.objectAttributes & TPMA_OBJECT_RESTRICTED);

        memcpy(buf, b->data, b->size);
        ck_assert_int_eq(quote_public_from_blob(buf, b->size - 1, NULL, NULL), -EBADMSG);
        ck_assert_int_eq(quote_public_from_blob(buf, b->size + 1, NULL, NULL), -EBADMSG);
        ck_assert_int_eq(quote_public_from_blob(buf, 0, NULL, NULL), -EBADMSG);
        /* A modulus whose length disagrees with keyBits. */
        pub.unique.rsa.size = 128;
        ck_assert_int_eq(quote_public_to_pkey(&pub, &k), -EBADMSG);
        pub.type = TPM2_ALG_KEYEDHASH;
        ck_assert_int_eq(quote_public_to_pkey(&pub, &k), -EOPNOTSUPP);
}
END_TEST

/* ------------------------------------------------------------------ no leaks on error paths */

START_TEST(test_quote_errors_leak_nothing) {
        TpmContext *t = tpm_test_open();
        TpmAk *ak = NULL, *other = NULL;
        uint16_t bank = TPM_ALG_SHA256, sm3 = TPM_ALG_SM3_256, bad = 0x1234;
        uint8_t big[65] = {};
        TpmQuote q = {};

        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 1);
        /* swtpm has three object slots: ten rounds would exhaust them if any path leaked. */
        for (int i = 0; i < 10; i++) {
                ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, big, sizeof big, &q), -EINVAL);
                ck_assert_int_eq(tpm_quote(t, ak, 0, &bank, 1, NULL, 0, &q), -EINVAL);
                ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bad, 1, NULL, 0, &q), -EINVAL);
                ck_assert_int_lt(tpm_quote(t, ak, 0xFF, &sm3, 1, NULL, 0, &q), 0);
                ck_assert_int_eq(tpm_ak_load(t, 0x81000077, &other), -ENOENT);
                ck_assert_int_eq(tpm_ak_load(t, 0x40000001, &other), -EINVAL);
                ck_assert_int_eq(tpm_ak_load_or_create(t, 0x81800001, AK_ALG_RSA, &other), -EINVAL);
                Buffer cert = {};
                ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x01C101D0, &cert), 0);
                ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x81000003, &cert), -EINVAL);
                tpm_test_assert_no_transients(t);
        }
        ck_assert_ptr_null(q.attest.data);
        ck_assert(!tpm_context_is_broken(t));
        ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, NULL, 0, &q), 0);
        tpm_quote_done(&q);
        tpm_test_assert_no_transients(t);
        tpm_context_free(t);
        tpm_ak_free(ak);
}
END_TEST

/* The AK's handle emptied, then refilled with another key: the old TpmAk must be refused. */
START_TEST(test_quote_ak_replaced) {
        TpmContext *t = tpm_test_open();
        TpmAk *ak = NULL, *other = NULL;
        uint16_t bank = TPM_ALG_SHA256;
        TpmQuote q = {};

        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 1);
        t = tpm_context_free(t);
        ck_assert_int_eq(swtpm_run(&tpm, "tpm2_evictcontrol -Q -C o -c 0x%x", AK_HANDLE), 0);

        t = tpm_test_open();
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, NULL, 0, &q), -ENOENT);
        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_ECC, &other), 1);
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(tpm_quote(t, ak, 0xFF, &bank, 1, NULL, 0, &q), -EKEYREJECTED);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "no longer holds"));
        tpm_test_assert_no_transients(t);
        ck_assert_int_eq(tpm_quote(t, other, 0xFF, &bank, 1, NULL, 0, &q), 0);
        tpm_quote_done(&q);
        tpm_ak_free(other);
        tpm_ak_free(ak);
        tpm_context_free(t);
}
END_TEST

/* ------------------------------------------------------------------ independent checks */

static void write_bytes(const char *dir, const char *name, const void *p, size_t n) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fwrite(p, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
}

static void write_pem(const char *dir, EVP_PKEY *k) {
        char path[256];
        snprintf(path, sizeof path, "%s/ak.pub.pem", dir);
        FILE *f = fopen(path, "we");
        ck_assert(f && PEM_write_PUBKEY(f, k) == 1);
        ck_assert_int_eq(fclose(f), 0);
}

static void write_pcr_values(const char *dir, const TpmQuote *q) {
        _cleanup_buffer_ Buffer b = {};
        ck_assert_int_eq(tpm_quote_export_pcrs(q, &b), 0);
        write_bytes(dir, "pcrs.bin", b.data, b.size);
}

#define NONCE_HEX "deadbeef01020304050607080900000000000000000000000000000000000000"
#define WRONG_NONCE_HEX "deadbeef01020304050607080900000000000000000000000000000000000001"

START_TEST(test_tpm2_checkquote) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        TpmContext *t = tpm_test_open();

        make_quote(t, AK_ALG_RSA, &ak, &q);
        t = tpm_context_free(t);
        write_bytes(tpm.dir, "quote.bin", q.attest.data, q.attest.size);
        write_bytes(tpm.dir, "sig.bin", q.signature.data, q.signature.size);
        write_pcr_values(tpm.dir, &q);
        write_pem(tpm.dir, tpm_ak_get_pkey(ak));

#define CHECKQUOTE "cd %s && tpm2_checkquote -u ak.pub.pem -m quote.bin -s sig.bin -f pcrs.bin -g sha256 -q %s"
        ck_assert_int_eq(swtpm_run(&tpm, CHECKQUOTE, tpm.dir, NONCE_HEX), 0);
        /* tpm2_checkquote must also reject what we reject. */
        ck_assert_int_ne(swtpm_run(&tpm, CHECKQUOTE, tpm.dir, WRONG_NONCE_HEX), 0);
        q.pcrs.banks[1].values[7][0] ^= 1;
        write_pcr_values(tpm.dir, &q);
        ck_assert_int_ne(swtpm_run(&tpm, CHECKQUOTE, tpm.dir, NONCE_HEX), 0);
}
END_TEST

static void sha256(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32]) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ck_assert(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, a, an) == 1 &&
                  EVP_DigestUpdate(md, b, bn) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1);
        EVP_MD_CTX_free(md);
}

/* The quote's qualifiedSigner is H(H(endorsement handle || Name(EK)) || Name(AK)): computed from
 * the EK that tpm2_createek makes from the TCG default template, it proves our AK's parent is that
 * EK (the one an EK certificate certifies) and not some other primary. */
START_TEST(test_ak_parent_is_standard_ek) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        uint8_t ek_name[64], qn_eh[4] = { 0x40, 0x00, 0x00, 0x0B }, qn_ek[34] = { 0x00, 0x0B },
                qn_ak[34] = { 0x00, 0x0B }, ak_name[34] = { 0x00, 0x0B };
        char path[256];
        TPMS_ATTEST a = {};
        size_t off = 0, n;
        TpmContext *t;
        FILE *f;

        ck_assert_int_eq(swtpm_run(&tpm, "cd %s && tpm2_createek -Q -c ek.ctx -G rsa && "
                                   "tpm2_readpublic -Q -c ek.ctx -n ek.name && tpm2_flushcontext -t", tpm.dir), 0);
        snprintf(path, sizeof path, "%s/ek.name", tpm.dir);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        n = fread(ek_name, 1, sizeof ek_name, f);
        fclose(f);
        ck_assert_int_eq(n, 34);

        t = tpm_test_open();
        make_quote(t, AK_ALG_RSA, &ak, &q);
        tpm_context_free(t);

        const Buffer *pub = tpm_ak_get_public(ak);     /* TPM2B_PUBLIC: skip the size to get TPMT_PUBLIC */
        sha256(pub->data + 2, pub->size - 2, NULL, 0, ak_name + 2);
        sha256(qn_eh, sizeof qn_eh, ek_name, n, qn_ek + 2);
        sha256(qn_ek, sizeof qn_ek, ak_name, sizeof ak_name, qn_ak + 2);

        ck_assert_int_eq(Tss2_MU_TPMS_ATTEST_Unmarshal(q.attest.data, q.attest.size, &off, &a), TSS2_RC_SUCCESS);
        ck_assert_int_eq(a.qualifiedSigner.size, sizeof qn_ak);
        ck_assert(memcmp(a.qualifiedSigner.name, qn_ak, sizeof qn_ak) == 0);
}
END_TEST

/* attestctl end to end: quote --output-dir, checked by tpm2_checkquote; pcrs --json. */
START_TEST(test_attestctl) {
        const char *top = getenv("top_builddir");
        char conf[256], out[256], cmd[1024];
        struct json_object *o, *v;

        snprintf(conf, sizeof conf, "%s/attestd.conf", tpm.dir);
        snprintf(out, sizeof out, "%s/out", tpm.dir);
        FILE *f = fopen(conf, "we");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "[TPM]\nTCTI=%s\nAKHandle=0x81000004\nPCRs=0-7,14\nBanks=sha256,sha1\n", tpm.tcti);
        fclose(f);

        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s quote --nonce %s --output-dir %s --json > %s/quote.json",
                 top, conf, NONCE_HEX, out, tpm.dir);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 0);
        ck_assert_int_eq(swtpm_run(&tpm, CHECKQUOTE, out, NONCE_HEX), 0);
        /* pcrs.values: the 18 digests back to back. */
        snprintf(cmd, sizeof cmd, "%s/pcrs.values", out);
        struct stat st;
        ck_assert_int_eq(stat(cmd, &st), 0);
        ck_assert_int_eq(st.st_size, 9 * 32 + 9 * 20);
        /* The TSS-format public key is accepted too. */
        ck_assert_int_eq(swtpm_run(&tpm, "cd %s && tpm2_checkquote -u ak.pub -m quote.bin -s sig.bin -g sha256 -q %s",
                                   out, NONCE_HEX), 0);

        snprintf(cmd, sizeof cmd, "%s/quote.json", tpm.dir);
        o = json_object_from_file(cmd);
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "quote", &v) && json_object_get_string_len(v) > 100);
        ck_assert(json_object_object_get_ex(o, "signature", &v));
        ck_assert(json_object_object_get_ex(o, "ak_jwk", &v) && json_object_object_get_ex(v, "n", &v));
        ck_assert(json_object_object_get_ex(o, "pcrs", &v) && json_object_object_get_ex(v, "sha1", &v) &&
                  json_object_object_length(v) == 9);
        json_object_put(o);

        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s pcrs --json --banks sha384 --pcrs 0-23 > %s/pcrs.json",
                 top, conf, tpm.dir);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 0);
        snprintf(cmd, sizeof cmd, "%s/pcrs.json", tpm.dir);
        o = json_object_from_file(cmd);
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "pcrUpdateCounter", &v));
        ck_assert(json_object_object_get_ex(o, "pcrs", &v) && json_object_object_get_ex(v, "sha384", &v) &&
                  json_object_object_length(v) == 24);
        ck_assert(json_object_object_get_ex(v, "17", &v) && strspn(json_object_get_string(v), "f") == 96);
        json_object_put(o);

        /* Usage errors and an absent TPM have their own exit statuses. */
        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s quote --nonce 0g", top, conf);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 2);
        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s quote", top, conf);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 2);
        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s pcrs --pcrs 0-24", top, conf);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 2);
        snprintf(cmd, sizeof cmd, "%s/attestctl --config %s pcrs --tcti device:%s/none", top, conf, tpm.dir);
        ck_assert_int_eq(swtpm_run(&tpm, "%s", cmd), 4);
}
END_TEST

static Suite *quote_suite(void) {
        Suite *s = suite_create("tpm-quote");
        TCase *tc;

        tc = tpm_test_add_tcase(s, "quote");
        tcase_add_test(tc, test_quote_rsa);
        tcase_add_test(tc, test_quote_ecc);
        tcase_add_test(tc, test_quote_after_reboot);
        tcase_add_test(tc, test_quote_nonce_sizes);
        tcase_add_test(tc, test_quote_tampered);
        tcase_add_test(tc, test_public_blob);
        tcase_add_test(tc, test_quote_errors_leak_nothing);

        if (have_tools) {
                tc = tpm_test_add_tcase(s, "quote+tpm2-tools");
                tcase_add_test(tc, test_quote_ak_replaced);
                tcase_add_test(tc, test_tpm2_checkquote);
                tcase_add_test(tc, test_ak_parent_is_standard_ek);
                /* Only under make check, which exports top_builddir and has built attestctl. */
                if (getenv("top_builddir"))
                        tcase_add_test(tc, test_attestctl);
        }
        return s;
}

int main(void) {
        if (!tpm_test_init())
                return EXIT_TEST_SKIP;
        have_tools = tpm_test_have_tools("tpm2_checkquote", "tpm2_createek",
                                         "the cross-checks with tpm2_checkquote");
        return check_run(quote_suite());
}
