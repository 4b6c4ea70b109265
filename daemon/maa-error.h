/* SPDX-License-Identifier: MIT */
/* What an MAA error reply means, decided by HTTP status and message text only (the service's error
 * codes vary and x-ms-error-code is often absent), and its message as one short readable line.
 * Pure: no I/O, no logging. */
#pragma once

#include "util.h"

/* LastError and the journal show at most this many bytes of the service's message. */
#define MAA_ERROR_LINE_MAX 400

typedef enum MaaErrorKind {
        MAA_ERROR_NO_POLICY,            /* 400: the provider has no TPM policy yet */
        MAA_ERROR_POLICY_DENIED,        /* 400: the policy issued a deny claim */
        MAA_ERROR_EVIDENCE_REFUSED,     /* 400 to the evidence: quote, log, AK certificate... */
        MAA_ERROR_BAD_REQUEST,          /* 400 to anything else: our request is wrong */
        MAA_ERROR_UNAUTHORIZED,         /* 401, 403: Entra token or role assignment */
        MAA_ERROR_BUSY,                 /* 408, 429 */
        MAA_ERROR_SERVER,               /* 5xx */
        MAA_ERROR_OTHER,                /* any other non-2xx status */
        _MAA_ERROR_KIND_MAX,
        _MAA_ERROR_KIND_INVALID = -EINVAL,
} MaaErrorKind;

/* STATUS is the reply's HTTP status (not 2xx), MESSAGE the error message (may be NULL), EVIDENCE
 * whether the request carried the evidence (leg 2). */
MaaErrorKind maa_error_classify(long status, const char *message, bool evidence);

/* MESSAGE as one line of at most MAA_ERROR_LINE_MAX bytes: a native trace is reduced to the texts
 * of its "Msg:[...]" parts, each once; runs of whitespace and control characters become one
 * space; a longer text is cut at a UTF-8 character boundary and ends in "...". */
int maa_error_one_line(const char *message, char **ret);
