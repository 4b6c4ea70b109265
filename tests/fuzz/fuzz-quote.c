/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for quote-verify.c: TPMS_ATTEST, TPMT_SIGNATURE and TPM2B_PUBLIC unmarshalling
 * and the whole verification path over arbitrary bytes. Must never crash, leak or read out of bounds.
 * Input: flags(1) | u16 attest_len | attest | u16 sig_len | sig | u16 pub_len | pub | nonce (rest). */
#include <stdint.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "log.h"
#include "quote-verify.h"

static EVP_PKEY *rsa_key, *ec_key;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        log_set_target_stderr();
        log_set_max_level(LOG_CRIT);    /* the debug messages are the point of failure paths */
        rsa_key = EVP_RSA_gen(2048);
        ec_key = EVP_EC_gen("P-256");
        return rsa_key && ec_key ? 0 : -1;
}

/* Takes a u16-length-prefixed chunk off the front. */
static bool take(const uint8_t **p, size_t *left, const uint8_t **ret, size_t *ret_size) {
        size_t n;

        if (*left < 2)
                return false;
        n = (size_t) (*p)[0] << 8 | (*p)[1];
        *p += 2, *left -= 2;
        if (n > *left)
                n = *left;
        *ret = *p, *ret_size = n;
        *p += n, *left -= n;
        return true;
}

/* PCR values for the banks the flags pick: all 24 PCRs, value bytes derived from the flags. */
static void make_pcrs(uint8_t flags, PcrSet *set) {
        static const uint16_t algs[] = { TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384 };

        *set = (PcrSet) {};
        for (size_t i = 0; i < 3; i++) {
                PcrBank *b;

                if (!(flags & (1u << i)) || pcr_set_add_bank(set, algs[i], &b) < 0)
                        continue;
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        uint8_t v[PCR_DIGEST_MAX];
                        memset(v, pcr >= 17 && pcr <= 22 && (flags & 0x08) ? 0xFF : 0, sizeof v);
                        (void) pcr_bank_set(b, pcr, v, b->digest_size);
                }
                /* Sometimes only PCRs 0-7, to exercise the selection comparison. */
                if (flags & 0x10)
                        b->present_mask = 0xFF;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *p = data, *attest, *sig, *pub;
        size_t left = size, attest_size, sig_size, pub_size;
        EVP_PKEY *key = NULL, *own = NULL;
        char *msg = NULL;
        QuoteInfo info;
        PcrSet pcrs;
        uint8_t flags;

        if (left < 1)
                return 0;
        flags = *p++, left--;
        if (!take(&p, &left, &attest, &attest_size) || !take(&p, &left, &sig, &sig_size) ||
            !take(&p, &left, &pub, &pub_size))
                return 0;

        /* A key from the input when it parses, else one of ours. */
        if (quote_public_from_blob(pub, pub_size, NULL, &own) >= 0)
                key = own;
        else
                key = flags & 0x20 ? ec_key : rsa_key;

        make_pcrs(flags, &pcrs);
        (void) quote_verify(attest, attest_size, sig, sig_size, key, p, left > 64 ? 64 : left, &pcrs, &info, &msg);

        free(msg);
        EVP_PKEY_free(own);
        return 0;
}
