/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for quote-verify.c: TPMS_ATTEST, TPMT_SIGNATURE and TPM2B_PUBLIC unmarshalling
 * and the whole verification path over arbitrary bytes. Must never crash, leak or read out of bounds.
 * Input: flags(1) | u16 attest_len | attest | u16 sig_len | sig | u16 pub_len | pub | nonce (rest).
 * With flag 0x40 the harness signs the attest bytes itself (ECDSA P-256), so the checks behind the
 * signature (PCR selection, pcrDigest) are reachable from fuzzed TPMS_ATTEST bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "log.h"
#include "quote-verify.h"

static EVP_PKEY *rsa_key, *ec_key;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        log_set_target_stderr();
        log_set_max_level(LOG_CRIT);    /* the debug messages are the point of failure paths */
        /* Before any tss2-mu call (sign() below marshals): the TSS reads it on its first log call. */
        setenv("TSS2_LOG", "all+none", 0);
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

/* A marshalled ECDSA-SHA256 TPMT_SIGNATURE over DATA by ec_key; 0 on failure. */
static size_t sign(const uint8_t *data, size_t size, uint8_t *buf, size_t buf_size) {
        TPMT_SIGNATURE s = { .sigAlg = TPM2_ALG_ECDSA, .signature.ecdsa.hash = TPM2_ALG_SHA256 };
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char der[128];
        const unsigned char *p = der;
        size_t der_size = sizeof der, off = 0;
        ECDSA_SIG *es = NULL;

        if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec_key) == 1 &&
            EVP_DigestSign(md, der, &der_size, data, size) == 1)
                es = d2i_ECDSA_SIG(NULL, &p, (long) der_size);
        EVP_MD_CTX_free(md);
        if (!es)
                return 0;
        s.signature.ecdsa.signatureR.size = (UINT16) BN_bn2binpad(ECDSA_SIG_get0_r(es), s.signature.ecdsa.signatureR.buffer, 32);
        s.signature.ecdsa.signatureS.size = (UINT16) BN_bn2binpad(ECDSA_SIG_get0_s(es), s.signature.ecdsa.signatureS.buffer, 32);
        ECDSA_SIG_free(es);
        return Tss2_MU_TPMT_SIGNATURE_Marshal(&s, buf, buf_size, &off) == TSS2_RC_SUCCESS ? off : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *p = data, *attest, *sig, *pub;
        size_t left = size, attest_size, sig_size, pub_size;
        EVP_PKEY *key = NULL, *own = NULL;
        uint8_t signed_sig[256];
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
        if (flags & 0x40) {
                sig_size = sign(attest, attest_size, signed_sig, sizeof signed_sig);
                sig = signed_sig;
                key = ec_key;
        } else if (quote_public_from_blob(pub, pub_size, NULL, &own) >= 0)
                key = own;
        else
                key = flags & 0x20 ? ec_key : rsa_key;

        make_pcrs(flags, &pcrs);
        (void) quote_verify(attest, attest_size, sig, sig_size, key, p, left > 64 ? 64 : left, &pcrs, &info, &msg);

        free(msg);
        EVP_PKEY_free(own);
        return 0;
}
