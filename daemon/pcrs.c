/* SPDX-License-Identifier: MIT */
/* PCR banks: the algorithm table, extend (OpenSSL), comparison and hex helpers.
 * No I/O and no logging; callers decide what a mismatch means. */
#include <strings.h>

#include <openssl/evp.h>

#include "pcrs.h"

typedef struct TpmAlgInfo {
        uint16_t alg;
        const char *name;
        size_t digest_size;
        const char *ossl_name;  /* for EVP_MD_fetch */
} TpmAlgInfo;

static const TpmAlgInfo tpm_algs[] = {
        { TPM_ALG_SHA1, "sha1", 20, "SHA1" },
        { TPM_ALG_SHA256, "sha256", 32, "SHA256" },
        { TPM_ALG_SHA384, "sha384", 48, "SHA384" },
        { TPM_ALG_SHA512, "sha512", 64, "SHA512" },
        { TPM_ALG_SM3_256, "sm3_256", 32, "SM3" },
};

static const TpmAlgInfo *tpm_alg_info(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(tpm_algs); i++)
                if (tpm_algs[i].alg == alg)
                        return &tpm_algs[i];
        return NULL;
}

const char *tpm_alg_to_name(uint16_t alg) {
        const TpmAlgInfo *i = tpm_alg_info(alg);
        return i ? i->name : NULL;
}

int tpm_alg_from_name(const char *name) {
        if (!name)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(tpm_algs); i++)
                if (strcasecmp(tpm_algs[i].name, name) == 0)
                        return tpm_algs[i].alg;
        return -EINVAL;
}

size_t tpm_alg_digest_size(uint16_t alg) {
        const TpmAlgInfo *i = tpm_alg_info(alg);
        return i ? i->digest_size : 0;
}

PcrBank *pcr_bank_find(PcrSet *set, uint16_t alg) {
        for (size_t i = 0; i < MIN(set->n_banks, (size_t) PCR_BANKS_MAX); i++)
                if (set->banks[i].alg == alg)
                        return &set->banks[i];
        return NULL;
}

const PcrBank *pcr_bank_find_const(const PcrSet *set, uint16_t alg) {
        return pcr_bank_find((PcrSet *) set, alg);
}

int pcr_set_add_bank(PcrSet *set, uint16_t alg, PcrBank **ret) {
        PcrBank *b;
        size_t size;

        b = pcr_bank_find(set, alg);
        if (!b) {
                size = tpm_alg_digest_size(alg);
                if (size == 0)
                        return -EOPNOTSUPP;
                if (set->n_banks >= PCR_BANKS_MAX)
                        return -E2BIG;
                b = &set->banks[set->n_banks++];
                *b = (PcrBank) { .alg = alg, .digest_size = size };
        }
        if (ret)
                *ret = b;
        return 0;
}

int pcr_bank_set(PcrBank *bank, unsigned pcr, const uint8_t *value, size_t size) {
        if (pcr >= PCR_COUNT || size != bank->digest_size || size > PCR_DIGEST_MAX)
                return -EINVAL;
        memcpy(bank->values[pcr], value, size);
        bank->present_mask |= UINT32_C(1) << pcr;
        return 0;
}

/* Fetched once per algorithm and kept for the process lifetime: an implicit fetch per extend
 * costs more than the hash itself on long logs. */
static const EVP_MD *tpm_alg_md(uint16_t alg) {
        static EVP_MD *cache[ELEMENTSOF(tpm_algs)];

        for (size_t i = 0; i < ELEMENTSOF(tpm_algs); i++) {
                if (tpm_algs[i].alg != alg)
                        continue;
                if (!cache[i])
                        cache[i] = EVP_MD_fetch(NULL, tpm_algs[i].ossl_name, NULL);
                return cache[i];
        }
        return NULL;
}

bool tpm_alg_hash_available(uint16_t alg) {
        return tpm_alg_md(alg) != NULL;
}

int pcr_bank_extend(PcrBank *bank, unsigned pcr, const uint8_t *digest, size_t size) {
        uint8_t buf[2 * PCR_DIGEST_MAX];
        unsigned out_size = 0;
        const EVP_MD *md;

        if (pcr >= PCR_COUNT || size != bank->digest_size || size > PCR_DIGEST_MAX)
                return -EINVAL;
        md = tpm_alg_md(bank->alg);
        if (!md)
                return -EOPNOTSUPP;

        memcpy(buf, bank->values[pcr], size);
        memcpy(buf + size, digest, size);
        if (EVP_Digest(buf, 2 * size, bank->values[pcr], &out_size, md, NULL) != 1 || out_size != size)
                return -EIO;
        bank->present_mask |= UINT32_C(1) << pcr;
        return 0;
}

int pcr_set_compare(const PcrSet *replayed, const PcrSet *read, PcrMismatch **ret) {
        _cleanup_free_ PcrMismatch *list = NULL;
        size_t n = 0;

        for (size_t i = 0; i < MIN(replayed->n_banks, (size_t) PCR_BANKS_MAX); i++) {
                const PcrBank *a = &replayed->banks[i], *b;

                b = pcr_bank_find_const(read, a->alg);
                if (!b || b->digest_size != a->digest_size)
                        continue;
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        PcrMismatch *m;

                        if (!pcr_bank_has(a, pcr) || !pcr_bank_has(b, pcr))
                                continue;
                        if (memcmp(a->values[pcr], b->values[pcr], a->digest_size) == 0)
                                continue;
                        if (!ret) {
                                n++;
                                continue;
                        }
                        m = reallocarray(list, n + 1, sizeof(PcrMismatch));
                        if (!m)
                                return -ENOMEM;
                        list = m;
                        list[n] = (PcrMismatch) { .alg = a->alg, .pcr = pcr, .digest_size = a->digest_size };
                        memcpy(list[n].replayed, a->values[pcr], a->digest_size);
                        memcpy(list[n].read, b->values[pcr], a->digest_size);
                        n++;
                }
        }

        if (ret)
                *ret = TAKE_PTR(list);
        return (int) n;
}

char *pcr_hex(const uint8_t *data, size_t size, char *buf) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < size; i++) {
                buf[2 * i] = digits[data[i] >> 4];
                buf[2 * i + 1] = digits[data[i] & 0xf];
        }
        buf[2 * size] = '\0';
        return buf;
}

static int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int pcr_unhex(const char *s, uint8_t *ret, size_t size) {
        uint8_t buf[PCR_DIGEST_MAX];

        if (!s || size > sizeof(buf) || strlen(s) != 2 * size)
                return -EINVAL;
        for (size_t i = 0; i < size; i++) {
                int hi = unhexchar(s[2 * i]), lo = unhexchar(s[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                buf[i] = (uint8_t) (hi << 4 | lo);
        }
        memcpy(ret, buf, size);
        return 0;
}
