/* SPDX-License-Identifier: MIT */
/* PCR values per hash bank, shared by the event-log replay, the TPM module and the daemon, plus
 * the TPM2_ALG_ID <-> name/digest-size table. Pure data helpers: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define PCR_COUNT 24
#define PCR_ALL_MASK UINT32_C(0xFFFFFF)
/* PCRs 16-23: the PC Client profile puts them in the TPM's "no increment" group, so extending them
 * does not move pcrUpdateCounter (verified on swtpm for 16 and 23; 17-22 need locality 4 or a
 * D-RTM event). A change watch must compare their values. */
#define PCR_NO_INCREMENT_MASK UINT32_C(0xFF0000)
#define PCR_DIGEST_MAX 64               /* SHA-512 */
#define PCR_BANKS_MAX 5                 /* sha1, sha256, sha384, sha512, sm3_256 */

/* TPM2_ALG_ID values of the banks we know (TCG Algorithm Registry). */
#define TPM_ALG_SHA1 UINT16_C(0x0004)
#define TPM_ALG_SHA256 UINT16_C(0x000B)
#define TPM_ALG_SHA384 UINT16_C(0x000C)
#define TPM_ALG_SHA512 UINT16_C(0x000D)
#define TPM_ALG_SM3_256 UINT16_C(0x0012)

/* One bank: bit n of present_mask says values[n] is meaningful (extended by a replay, or read
 * from the TPM). Only the first digest_size bytes of each value are used. */
typedef struct PcrBank {
        uint16_t alg;
        size_t digest_size;
        uint32_t present_mask;
        uint8_t values[PCR_COUNT][PCR_DIGEST_MAX];
} PcrBank;

/* Up to one bank per algorithm, in the order they were added. Plain value type: zero-init it
 * (PcrSet s = {};) and copy it freely; nothing to free. */
typedef struct PcrSet {
        PcrBank banks[PCR_BANKS_MAX];
        size_t n_banks;
} PcrSet;

/* One PCR whose replayed value differs from the value read from the TPM. */
typedef struct PcrMismatch {
        uint16_t alg;
        unsigned pcr;
        size_t digest_size;
        uint8_t replayed[PCR_DIGEST_MAX];
        uint8_t read[PCR_DIGEST_MAX];
} PcrMismatch;

/* "sha256" etc., or NULL for an algorithm outside the table. */
const char *tpm_alg_to_name(uint16_t alg);
/* TPM2_ALG_ID for a bank name (case-insensitive), or -EINVAL. */
int tpm_alg_from_name(const char *name);
/* Digest size in bytes, or 0 for an algorithm outside the table. */
size_t tpm_alg_digest_size(uint16_t alg);
/* Whether OpenSSL can compute ALG's hash here (sm3_256 may be missing). */
bool tpm_alg_hash_available(uint16_t alg);

/* The bank for ALG, or NULL. */
PcrBank *pcr_bank_find(PcrSet *set, uint16_t alg);
const PcrBank *pcr_bank_find_const(const PcrSet *set, uint16_t alg);

/* Adds an empty (all-zero, nothing present) bank for ALG, or returns the existing one.
 * -EOPNOTSUPP for an unknown algorithm, -E2BIG when the set is full. */
int pcr_set_add_bank(PcrSet *set, uint16_t alg, PcrBank **ret);

/* Stores VALUE (digest_size bytes) as PCR n of the bank and marks it present. -EINVAL if pcr is
 * out of range or size does not match the bank. */
int pcr_bank_set(PcrBank *bank, unsigned pcr, const uint8_t *value, size_t size);

static inline bool pcr_bank_has(const PcrBank *bank, unsigned pcr) {
        return pcr < PCR_COUNT && (bank->present_mask & (UINT32_C(1) << pcr));
}

/* Extends PCR n of the bank with DIGEST (digest_size bytes): value = H(value || digest), and
 * marks it present. -EINVAL for a bad pcr/size, -EOPNOTSUPP if the hash is unavailable (e.g.
 * sm3_256 in a FIPS OpenSSL), -EIO if OpenSSL fails. */
int pcr_bank_extend(PcrBank *bank, unsigned pcr, const uint8_t *digest, size_t size);

/* Compares every PCR present in both REPLAYED and READ, bank by bank (banks present in only one
 * set are skipped). Returns the number of mismatches (>= 0) and, if ret is non-NULL, a malloc'd
 * array of them (NULL when there are none), ordered by bank of REPLAYED then PCR. -ENOMEM. */
int pcr_set_compare(const PcrSet *replayed, const PcrSet *read, PcrMismatch **ret);

/* Lower-case hex of SIZE bytes into BUF, which must hold 2*size+1 bytes. Returns BUF. */
char *pcr_hex(const uint8_t *data, size_t size, char *buf);
#define PCR_HEX_MAX (2 * PCR_DIGEST_MAX + 1)

/* Parses hex (either case, no separators) of exactly SIZE bytes into RET. -EINVAL otherwise. */
int pcr_unhex(const char *s, uint8_t *ret, size_t size);
