/* SPDX-License-Identifier: MIT */
/* Shared by the tpm*.c files only: the TpmContext layout, the retry wrapper around
 * ESAPI calls, and TpmHandle, whose cleanup flushes a transient object so no path leaks one. */
#pragma once

#include <time.h>

#include <tss2/tss2_esys.h>

#include "tpm.h"

struct TpmContext {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        bool broken;
        uint32_t nv_buffer_max;         /* TPM2_PT_NV_BUFFER_MAX, 0 until asked */
        char last_error[512];
};

/* Transient states are retried this often, with this pause, before giving up with -EBUSY.
 * ESAPI already resubmits a few times without pausing; this covers a self-test that runs long. */
#define TPM_RETRY_MAX 20
#define TPM_RETRY_PAUSE_NSEC (50 * 1000 * 1000L)

bool tpm_rc_is_transient(TSS2_RC rc);

/* Records WHAT and RC's decoded text as the context's last error, logs it at debug level and
 * returns tpm_rc_to_errno(RC); returns 0 (and records nothing) for success. */
int tpm_translate(TpmContext *t, TSS2_RC rc, const char *what);

/* Records a failure that did not come from the TSS (bad argument, unexpected answer) as the last
 * error, logs it at debug level, returns ERROR (negative). */
int tpm_error(TpmContext *t, int error, const char *format, ...) _printf_(3, 4);

static inline void tpm_retry_pause(void) {
        struct timespec ts = { .tv_nsec = TPM_RETRY_PAUSE_NSEC };
        (void) nanosleep(&ts, NULL);
}

/* Evaluates the ESAPI call EXPR, repeating it while the TPM answers with a transient state, and
 * yields tpm_translate()'s result. EXPR must be safe to repeat (ESAPI writes no outputs on error). */
#define TPM_CALL(t, what, expr)                                                         \
        ({                                                                              \
                TSS2_RC _rc;                                                            \
                for (unsigned _try = 1;; _try++) {                                      \
                        _rc = (expr);                                                   \
                        if (!tpm_rc_is_transient(_rc) || _try >= TPM_RETRY_MAX)         \
                                break;                                                  \
                        tpm_retry_pause();                                              \
                }                                                                       \
                tpm_translate((t), _rc, (what));                                        \
        })

static inline void esys_freep(void *p) {
        Esys_Free(*(void **) p);
}
#define _cleanup_esys_ _cleanup_(esys_freep)

/* An ESYS_TR that is either flushed from the TPM (transient objects and sessions) or only closed
 * in ESAPI (persistent objects) when the variable goes out of scope. */
typedef struct TpmHandle {
        TpmContext *tpm;
        ESYS_TR tr;
        bool flush;
} TpmHandle;

#define TPM_HANDLE_INIT(t, f) ((TpmHandle) { .tpm = (t), .tr = ESYS_TR_NONE, .flush = (f) })

void tpm_handle_done(TpmHandle *h);
#define _cleanup_tpm_handle_ _cleanup_(tpm_handle_done)

/* Byte-compares two TPM2B_NAMEs. */
static inline bool tpm_name_equal(const TPM2B_NAME *a, const TPM2B_NAME *b) {
        return a->size == b->size && memcmp(a->name, b->name, a->size) == 0;
}

/* Builds a TPML_PCR_SELECTION for MASK over BANKS after validating both (-EINVAL). */
int tpm_pcr_selection(TpmContext *t, uint32_t mask, const uint16_t *banks, size_t n_banks,
                      TPML_PCR_SELECTION *ret);

/* 1 if HANDLE exists (a persistent object or NV index), 0 if not. Asking avoids a failing
 * command, which a TPM may count and which ESAPI would report as an error. */
int tpm_handle_exists(TpmContext *t, uint32_t handle);

/* Opens the AK's persistent handle into H and makes sure it still holds the AK (same name):
 * -EKEYREJECTED if not. */
int tpm_ak_open(TpmContext *t, const TpmAk *ak, TpmHandle *h);

/* The raw signature bytes of an RSASSA-SHA256 TPMT_SIGNATURE; -EBADMSG for any other kind. */
int tpm_signature_rsassa_raw(TpmContext *t, const TPMT_SIGNATURE *sig, Buffer *ret);

/* The AK's name and public area, for the quote in tpm-pcr.c. */
const TPM2B_NAME *tpm_ak_name(const TpmAk *ak);
const TPMT_PUBLIC *tpm_ak_public(const TpmAk *ak);
