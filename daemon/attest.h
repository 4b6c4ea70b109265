/* SPDX-License-Identifier: MIT */
/* One attestation, start to finish, through the configured provider (the /attest/Tpm protocol, or
 * Azure's guest attestation), then token verification against the service's JWKS. Asynchronous on
 * sd-event; knows nothing of schedules, files or D-Bus (the manager's business). */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "pcrs.h"
#include "tpm.h"

typedef struct Attester Attester;

typedef enum AttestOutcome {
        ATTEST_OK,
        ATTEST_RETRY,   /* no verdict: network, DNS, 5xx, 429, timeout, TPM busy, bad reply or token */
        ATTEST_DENIED,  /* the service refused the evidence (final 400: policy or evidence) */
        ATTEST_ERROR,   /* a local or authorization problem (TPM, event log, 401/403); retried too */
        _ATTEST_OUTCOME_MAX,
} AttestOutcome;

/* Why a run failed, in terms an operator of a fleet acts on (FailureCounts, attestctl metrics). Set
 * where the failure is understood: the HTTP and token paths in attest.c and the providers. LOCAL is
 * the zero value, so a failure nobody classified (out of memory, a file the manager cannot write)
 * counts as this host's own. The names are a stable API: add, never rename. */
typedef enum AttestFailureClass {
        ATTEST_FAILURE_LOCAL,           /* "local": TPM, event log, configuration, files, memory */
        ATTEST_FAILURE_UNREACHABLE,     /* "unreachable": no reply at all (DNS, connect, TLS, timeout) */
        ATTEST_FAILURE_SERVICE,         /* "service": a reply but no verdict (5xx, 408, 429, 400 to a
                                         * request without evidence, oversized or malformed reply) */
        ATTEST_FAILURE_DENIED,          /* "denied": the policy denied or refused the evidence, or the
                                         * provider has no policy (ATTEST_DENIED) */
        ATTEST_FAILURE_UNAUTHORIZED,    /* "unauthorized": HTTP 401/403, or no Entra token */
        ATTEST_FAILURE_TOKEN,           /* "token": the service's token failed verification (signature,
                                         * issuer, claims, lifetime, size) */
        _ATTEST_FAILURE_CLASS_MAX,
        _ATTEST_FAILURE_CLASS_INVALID = -EINVAL,
} AttestFailureClass;

typedef struct AttestResult {
        AttestOutcome outcome;
        AttestFailureClass failure_class; /* meaningless on ATTEST_OK */
        int error;                      /* 0 on ATTEST_OK, else -errno */
        char *message;                  /* operator-facing reason (LastError); NULL on success */
        uint64_t retry_after_usec;      /* the service's or the token endpoint's Retry-After, at most
                                         * RetryMaxSec=; 0 = none */
        char *request_id;               /* x-ms-request-id of the reply that failed the run (also in
                                         * message); NULL when none or the run succeeded */
        bool no_reply;                  /* the service was not reached at all (no route, DNS,
                                         * connection refused or timed out): the network may be the cause */
        bool evidence_collected;        /* the TPM evidence was gathered (whatever happened next) */
        bool ak_cert_sent;              /* ... and it carried an AK certificate */

        /* ATTEST_OK only: the verified token and what it attests. */
        char *token;                    /* compact JWT */
        json_object *header;            /* decoded JOSE header */
        json_object *claims;            /* decoded claims */
        char *jwks;                     /* the key set document the token verified against */
        uint64_t issued_usec;           /* iat, CLOCK_REALTIME */
        uint64_t expires_usec;          /* exp, CLOCK_REALTIME */
        PcrSet pcrs;                    /* the quoted PCR values */
        uint32_t pcr_mask;
        uint32_t pcr_update_counter;
        unsigned round_trips;           /* HTTP requests made (legs, JWKS, auth) */

        /* Always set, borrowed from the attester (valid until it is freed). */
        const char *provider;           /* "tpm" or "azure-guest" */
        const char *endpoint;           /* the provider's base URL; NULL when it is not known yet */
} AttestResult;

void attest_result_done(AttestResult *r);

/* Called exactly once per attester_run() unless attester_cancel() came first. RESULT is the
 * callee's to keep: it may TAKE_PTR() fields; the attester frees the rest after the call. */
typedef void (*attest_done_fn)(Attester *a, AttestResult *result, void *userdata);

/* Creates an attester for CONFIG (borrowed; must outlive it) on EVENT. It owns the HTTP client,
 * the Entra token cache and the JWKS cache across runs. */
int attester_new(sd_event *event, const Config *config, Attester **ret);
Attester *attester_free(Attester *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Attester *, attester_free);

/* Starts one attestation with TPM (borrowed for the duration of the run; the TPM is used
 * synchronously for the quote only). -EBUSY if one is already running. */
int attester_run(Attester *a, TpmContext *tpm, attest_done_fn cb, void *userdata);

/* Stops a running attestation at once (pending HTTP requests are cancelled); its callback
 * will not fire. No-op when idle. */
void attester_cancel(Attester *a);

bool attester_is_running(const Attester *a);

/* The provider this attester speaks to ("tpm", "azure-guest") and its base URL: Endpoint=, or the
 * one found at run time (NULL until then). Borrowed. */
const char *attester_get_provider(const Attester *a);
const char *attester_get_endpoint(const Attester *a);

const char *attest_outcome_to_string(AttestOutcome o);
const char *attest_failure_class_to_string(AttestFailureClass c);
