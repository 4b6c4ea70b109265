/* SPDX-License-Identifier: MIT */
/* Unit tests for pcrs.c: the TPM algorithm table, PCR banks and sets, extend, comparison of a
 * replay with TPM values, hex helpers. */
#include <check.h>

#include <openssl/evp.h>

#include "check-main.h"
#include "pcrs.h"

START_TEST(test_alg_table) {
        static const struct { uint16_t alg; const char *name; size_t size; } t[] = {
                { 0x0004, "sha1", 20 }, { 0x000B, "sha256", 32 }, { 0x000C, "sha384", 48 },
                { 0x000D, "sha512", 64 }, { 0x0012, "sm3_256", 32 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                ck_assert_str_eq(tpm_alg_to_name(t[i].alg), t[i].name);
                ck_assert_int_eq(tpm_alg_from_name(t[i].name), t[i].alg);
                ck_assert_uint_eq(tpm_alg_digest_size(t[i].alg), t[i].size);
        }
        ck_assert_int_eq(tpm_alg_from_name("SHA256"), TPM_ALG_SHA256);
        ck_assert_int_eq(tpm_alg_from_name("sha3_256"), -EINVAL);
        ck_assert_int_eq(tpm_alg_from_name(NULL), -EINVAL);
        ck_assert_ptr_null(tpm_alg_to_name(0x0099));
        ck_assert_uint_eq(tpm_alg_digest_size(0x0099), 0);
        ck_assert(tpm_alg_hash_available(TPM_ALG_SHA256));
        ck_assert(!tpm_alg_hash_available(0x0099));
}
END_TEST

START_TEST(test_pcr_set) {
        PcrSet set = {};
        PcrBank *b, *again;
        uint8_t v[32] = { 1 }, want[32], in[64] = {};
        char hex[PCR_HEX_MAX];
        unsigned n;

        ck_assert_int_eq(pcr_set_add_bank(&set, 0x0099, &b), -EOPNOTSUPP);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA256, &b), 0);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA256, &again), 0);
        ck_assert_ptr_eq(b, again);
        ck_assert_uint_eq(set.n_banks, 1);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA1, NULL), 0);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA384, NULL), 0);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA512, NULL), 0);
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SM3_256, NULL), 0);
        ck_assert_uint_eq(set.n_banks, PCR_BANKS_MAX);
        ck_assert_ptr_null(pcr_bank_find(&set, 0x0099));

        ck_assert_int_eq(pcr_bank_set(b, 24, v, 32), -EINVAL);
        ck_assert_int_eq(pcr_bank_set(b, 1, v, 20), -EINVAL);
        ck_assert_int_eq(pcr_bank_extend(b, 24, v, 32), -EINVAL);
        ck_assert_int_eq(pcr_bank_extend(b, 1, v, 48), -EINVAL);
        ck_assert_int_eq(pcr_bank_set(b, 23, v, 32), 0);
        ck_assert(pcr_bank_has(b, 23));
        ck_assert(!pcr_bank_has(b, 22));
        ck_assert(!pcr_bank_has(b, 99));

        /* PCR 2 = SHA256(00..00 || 01 00..00) */
        ck_assert_int_eq(pcr_bank_extend(b, 2, v, 32), 0);
        in[32] = 1;
        ck_assert_int_eq(EVP_Digest(in, 64, want, &n, EVP_sha256(), NULL), 1);
        ck_assert_mem_eq(b->values[2], want, 32);
        ck_assert(pcr_bank_has(b, 2));

        ck_assert_str_eq(pcr_hex((const uint8_t *) "\x00\xab\xff", 3, hex), "00abff");
        ck_assert_int_eq(pcr_unhex("00ABff", v, 3), 0);
        ck_assert_mem_eq(v, "\x00\xab\xff", 3);
        ck_assert_int_eq(pcr_unhex("00abf", v, 3), -EINVAL);
        ck_assert_int_eq(pcr_unhex("00abfg", v, 3), -EINVAL);
        ck_assert_int_eq(pcr_unhex("00abff00", v, 3), -EINVAL);
        ck_assert_int_eq(pcr_unhex(NULL, v, 3), -EINVAL);
}
END_TEST

START_TEST(test_compare) {
        PcrSet replay = {}, tpm = {};
        PcrBank *r1, *r256, *t256, *t384;
        PcrMismatch *m = NULL;
        uint8_t a[32] = { 0xaa }, b[32] = { 0xbb };

        ck_assert_int_eq(pcr_set_add_bank(&replay, TPM_ALG_SHA1, &r1), 0);
        ck_assert_int_eq(pcr_set_add_bank(&replay, TPM_ALG_SHA256, &r256), 0);
        ck_assert_int_eq(pcr_set_add_bank(&tpm, TPM_ALG_SHA384, &t384), 0);
        ck_assert_int_eq(pcr_set_add_bank(&tpm, TPM_ALG_SHA256, &t256), 0);

        ck_assert_int_eq(pcr_bank_set(r1, 0, a, 20), 0);        /* bank only in replay */
        ck_assert_int_eq(pcr_bank_set(r256, 0, a, 32), 0);      /* equal */
        ck_assert_int_eq(pcr_bank_set(t256, 0, a, 32), 0);
        ck_assert_int_eq(pcr_bank_set(r256, 5, a, 32), 0);      /* differs */
        ck_assert_int_eq(pcr_bank_set(t256, 5, b, 32), 0);
        ck_assert_int_eq(pcr_bank_set(r256, 7, a, 32), 0);      /* not read */
        ck_assert_int_eq(pcr_bank_set(t256, 10, b, 32), 0);     /* not replayed */
        ck_assert_int_eq(pcr_bank_set(r256, 23, b, 32), 0);     /* differs */
        ck_assert_int_eq(pcr_bank_set(t256, 23, a, 32), 0);

        ck_assert_int_eq(pcr_set_compare(&replay, &tpm, NULL), 2);
        ck_assert_int_eq(pcr_set_compare(&replay, &tpm, &m), 2);
        ck_assert_uint_eq(m[0].alg, TPM_ALG_SHA256);
        ck_assert_uint_eq(m[0].pcr, 5);
        ck_assert_uint_eq(m[0].digest_size, 32);
        ck_assert_mem_eq(m[0].replayed, a, 32);
        ck_assert_mem_eq(m[0].read, b, 32);
        ck_assert_uint_eq(m[1].pcr, 23);
        free(m);

        m = (PcrMismatch *) 1;
        ck_assert_int_eq(pcr_set_compare(&replay, &replay, &m), 0);
        ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_extend_every_bank) {
        static const struct { uint16_t alg; const char *md; } t[] = {
                { TPM_ALG_SHA1, "SHA1" }, { TPM_ALG_SHA256, "SHA256" }, { TPM_ALG_SHA384, "SHA384" },
                { TPM_ALG_SHA512, "SHA512" }, { TPM_ALG_SM3_256, "SM3" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                EVP_MD *md = EVP_MD_fetch(NULL, t[i].md, NULL);
                uint8_t in[2 * PCR_DIGEST_MAX] = {}, want[PCR_DIGEST_MAX], d[PCR_DIGEST_MAX];
                PcrSet set = {};
                PcrBank *b;
                size_t size = tpm_alg_digest_size(t[i].alg);
                unsigned n;

                /* sm3_256 may be missing from a FIPS or trimmed OpenSSL; then extend says so. */
                ck_assert_int_eq(pcr_set_add_bank(&set, t[i].alg, &b), 0);
                memset(d, 0x5c, sizeof(d));
                if (!md) {
                        ck_assert(!tpm_alg_hash_available(t[i].alg));
                        ck_assert_int_eq(pcr_bank_extend(b, 0, d, size), -EOPNOTSUPP);
                        continue;
                }
                ck_assert(tpm_alg_hash_available(t[i].alg));
                ck_assert_int_eq(pcr_bank_extend(b, 16, d, size), 0);
                memset(in + size, 0x5c, size);
                ck_assert_int_eq(EVP_Digest(in, 2 * size, want, &n, md, NULL), 1);
                ck_assert_uint_eq(n, size);
                ck_assert_mem_eq(b->values[16], want, size);
                ck_assert_uint_eq(b->present_mask, 1u << 16);
                EVP_MD_free(md);
        }
}
END_TEST

static Suite *pcrs_suite(void) {
        Suite *s = suite_create("pcrs");
        TCase *tc = tcase_create("pcrs");

        tcase_add_test(tc, test_alg_table);
        tcase_add_test(tc, test_pcr_set);
        tcase_add_test(tc, test_extend_every_bank);
        tcase_add_test(tc, test_compare);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(pcrs_suite());
}
