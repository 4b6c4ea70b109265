/* SPDX-License-Identifier: MIT */
/* Local verification of a TPM2_Quote with OpenSSL: TPMS_ATTEST and TPMT_SIGNATURE unmarshalling,
 * magic, type, extraData, pcrDigest against PCR values, and the AK's signature. Pure: no TPM. */
#pragma once

#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrs.h"
#include "util.h"

/* What a verified quote says besides the PCRs (TPMS_CLOCK_INFO and the firmware version). */
typedef struct QuoteInfo {
        uint64_t clock;                 /* ms the TPM has been powered, roughly */
        uint32_t reset_count;           /* TPM resets (reboots) */
        uint32_t restart_count;         /* TPM restarts (resume from hibernate) since the reset */
        bool safe;
        uint64_t firmware_version;
        uint16_t sig_hash_alg;          /* hash of the signature scheme, also that of pcrDigest */
} QuoteInfo;

/* Builds an OpenSSL public key from a TPM public area: RSA (any size the modulus gives, exponent 0
 * meaning 65537) or ECC on NIST P-256/P-384/P-521. -EOPNOTSUPP for other key types or curves,
 * -EBADMSG for inconsistent sizes, -ENOMEM, -EIO if OpenSSL refuses the key. */
int quote_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret);

/* Unmarshals a TPM2B_PUBLIC (all SIZE bytes, nothing may trail). -EBADMSG if malformed.
 * Either output may be NULL. */
int quote_public_from_blob(const uint8_t *blob, size_t size, TPMT_PUBLIC *ret_public, EVP_PKEY **ret_pkey);

/* Verifies a quote made with KEY:
 *   ATTEST (TPMS_ATTEST) and SIG (marshalled TPMT_SIGNATURE) are well-formed and nothing trails,
 *     the magic is TPM_GENERATED_VALUE and the type TPM_ST_ATTEST_QUOTE         -> else -EBADMSG
 *   extraData equals QUALIFYING (QSIZE bytes, may be 0)                          -> else -EBADE
 *   SIG is RSASSA, RSAPSS or ECDSA matching KEY's type, with SHA-1/256/384/512 and verifies over
 *     ATTEST                                                                     -> else -EKEYREJECTED
 *     (-EOPNOTSUPP for another scheme or hash)
 *   the quote's PCR selection and the PCRs present in PCRS are the same set      -> else -ENODATA
 *   pcrDigest equals the hash (the signature's hash algorithm) of the PCR values in the quote's
 *     selection order                                                            -> else -ESTALE
 * On success fills *ret_info when non-NULL. On failure *reterr_message (when non-NULL) receives a
 * malloc'd text naming the field that was wrong. -ENOMEM. */
int quote_verify(const uint8_t *attest, size_t attest_size, const uint8_t *sig, size_t sig_size,
                 EVP_PKEY *key, const void *qualifying, size_t qsize, const PcrSet *pcrs,
                 QuoteInfo *ret_info, char **reterr_message);
