/* SPDX-License-Identifier: MIT */
/* The TPM through tpm2-tss ESAPI: context and TCTI, PCR reads, quotes, and the one place where a
 * TSS2_RC becomes an errno. Synchronous calls; logs at debug level only; never exits. */
#pragma once

#include <stdint.h>

#include <tss2/tss2_common.h>

#include "pcrs.h"
#include "util.h"

#define TPM_TCTI_DEFAULT "device:/dev/tpmrm0"
#define TPM_QUALIFYING_DATA_MAX 64      /* sizeof(TPMU_HA): the TPM2B_DATA limit of TPM2_Quote */

/* First handles of the TPM's handle ranges. Not tss2's TPM2_*_FIRST / TPM2_HR_* macros: those
 * shift a promoted int into the sign bit for 0x80 and 0x81, which UBSan rightly reports. */
#define TPM_HANDLE_NV_INDEX_FIRST UINT32_C(0x01000000)
#define TPM_HANDLE_LOADED_SESSION_FIRST UINT32_C(0x02000000)
#define TPM_HANDLE_ACTIVE_SESSION_FIRST UINT32_C(0x03000000)
#define TPM_HANDLE_TRANSIENT_FIRST UINT32_C(0x80000000)
#define TPM_HANDLE_PERSISTENT_FIRST UINT32_C(0x81000000)
#define TPM_HANDLE_RANGE_MASK UINT32_C(0xFF000000)

typedef struct TpmContext TpmContext;
typedef struct TpmAk TpmAk;

/* Opens the TPM through TCTI (a tctildr string such as "device:/dev/tpmrm0" or
 * "swtpm:path=/run/x/tpm.sock"; NULL or "" = TPM_TCTI_DEFAULT) and checks that it answers and is
 * not in failure mode. Errors: -ENOENT no such device or socket, -ENODEV not a TPM / no answer,
 * -EACCES permission denied, -ECONNREFUSED nobody listening on the socket, -EINVAL unknown TCTI or
 * bad TCTI options, -EIO TPM in failure mode or not started, -EBUSY still busy after retries,
 * -ENOMEM. On failure *reterr_message (when non-NULL) receives a malloc'd description naming the
 * cause. Sets TSS2_LOG=all+none in the environment unless already set: the TSS would otherwise
 * print every failed command to stderr, and every failure is translated and logged here. */
int tpm_context_new_full(const char *tcti, TpmContext **ret, char **reterr_message);
static inline int tpm_context_new(const char *tcti, TpmContext **ret) {
        return tpm_context_new_full(tcti, ret, NULL);
}
TpmContext *tpm_context_free(TpmContext *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TpmContext *, tpm_context_free);

/* Text of the last failure on this context (what failed and Tss2_RC_Decode's text), "" if none.
 * Valid until the next call on the context. */
const char *tpm_context_last_error(const TpmContext *t);

/* True once the TCTI or ESAPI reported a communication or internal error: the ESYS context then
 * refuses further commands, and the owner should free it and open a new one. */
bool tpm_context_is_broken(const TpmContext *t);

/* Maps a TSS2_RC (any layer) to a negative errno; 0 for TSS2_RC_SUCCESS. Transient TPM states
 * (RETRY, YIELDED, TESTING, NV_RATE) give -EBUSY, failure mode -EIO, exhausted object or session
 * memory -ENOSPC, a missing handle -ENOENT, authorization failures -EACCES. Pure; for tests too. */
int tpm_rc_to_errno(TSS2_RC rc);

/* Fills BUF with N bytes from TPM2_GetRandom (several calls if needed). */
int tpm_get_random(TpmContext *t, void *buf, size_t n);

/* The PCR banks the TPM has allocated (TPM2_GetCapability(TPM2_CAP_PCRS)), in the TPM's order;
 * banks of algorithms outside pcrs.h's table are left out. */
int tpm_get_active_banks(TpmContext *t, uint16_t ret_banks[PCR_BANKS_MAX], size_t *ret_n);

/* Every handle of the TPM's handle range that FIRST starts (TPM2_CAP_HANDLES), e.g.
 * TPM_HANDLE_TRANSIENT_FIRST or TPM_HANDLE_PERSISTENT_FIRST. *ret is malloc'd (NULL when *ret_n is 0). */
int tpm_get_handles(TpmContext *t, uint32_t first, uint32_t **ret, size_t *ret_n);

/* Reads the whole of the ordinary NV index NV_INDEX (in chunks of the TPM's NV buffer size), with
 * the index's own empty authorization when it allows that, else the owner's. Returns 1 and fills
 * *ret, or 0 and an empty *ret when the index is not defined or was never written. -EINVAL for a
 * handle outside the NV range, -EBADMSG for a counter/bits/extend index or an empty one, TPM
 * errors as above. */
int tpm_nv_read(TpmContext *t, uint32_t nv_index, Buffer *ret);

/* Replaces the owner-defined ordinary index NV_INDEX with one of exactly SIZE bytes holding DATA
 * (undefine if present, define with owner and empty-auth read/write, write in chunks). */
int tpm_nv_replace(TpmContext *t, uint32_t nv_index, const void *data, size_t size);

/* Reads the PCRs of MASK (bit n = PCR n) in each of the N_BANKS BANKS, looping past the TPM's
 * per-call limit, so that all values belong to one pcrUpdateCounter (the read restarts if the
 * counter moves). RET gets one bank per requested bank, in order, with exactly MASK present.
 * -EINVAL for an empty mask or bank list, duplicate or unknown banks; -EOPNOTSUPP when a bank is
 * not active or a PCR is not implemented; -EAGAIN if the PCRs kept changing. RET_UPDATE_COUNTER may
 * be NULL. */
int tpm_pcr_read(TpmContext *t, uint32_t mask, const uint16_t *banks, size_t n_banks, PcrSet *ret,
                 uint32_t *ret_update_counter);

/* Only the pcrUpdateCounter: one TPM2_PCR_Read with an empty selection. It moves on every
 * extend of PCR 0-15 (not 16-23), so it is a cheap change detector. */
int tpm_pcr_read_counter(TpmContext *t, uint32_t *ret_update_counter);

/* Extends PCR n of bank ALG with DIGEST (the bank's digest size). For tests and tools. */
int tpm_pcr_extend(TpmContext *t, unsigned pcr, uint16_t alg, const uint8_t *digest, size_t size);

/* One quote and the PCR values it covers. */
typedef struct TpmQuote {
        Buffer attest;                  /* TPMS_ATTEST: TPM2B_ATTEST's body, no size prefix */
        Buffer signature;               /* marshalled TPMT_SIGNATURE */
        PcrSet pcrs;                    /* the quoted PCRs, read right after the quote */
        uint32_t pcr_mask;
        uint16_t banks[PCR_BANKS_MAX];  /* selection order of the quote (= order of pcrs.banks) */
        size_t n_banks;
        uint32_t pcr_update_counter;
} TpmQuote;

void tpm_quote_done(TpmQuote *q);

/* Quotes the PCRs of MASK in BANKS with the AK, QUALIFYING (up to TPM_QUALIFYING_DATA_MAX bytes;
 * may be NULL when QSIZE is 0) as extraData, reads the PCR values, quotes once more if the PCRs
 * changed in between, and verifies the result with quote_verify() before returning it.
 * -EINVAL for bad arguments (qualifying data too long, empty selection), -EKEYREJECTED if the key
 * at the AK's handle is no longer the AK, -EAGAIN if the PCRs kept changing, quote_verify()'s
 * errors if the TPM's answer does not verify, or a TPM error. */
int tpm_quote(TpmContext *t, const TpmAk *ak, uint32_t mask, const uint16_t *banks, size_t n_banks,
              const void *qualifying, size_t qsize, TpmQuote *ret);

/* The quoted PCR values in tpm2_quote(1)'s default "serialized" PCR file format, which
 * tpm2_checkquote -f reads without -l: TPML_PCR_SELECTION, a 32-bit count, then TPML_DIGESTs of up
 * to eight digests each, all as little-endian in-memory structs of the tss2 headers. (tpm2-tools 5.4
 * mis-reads its "values" format beyond a handful of PCRs.) For tools and tests; *ret is malloc'd. */
int tpm_quote_export_pcrs(const TpmQuote *q, Buffer *ret);
