/* SPDX-License-Identifier: MIT */
/* Shared by attest.c (the driver) and the providers only: the Attester layout, the provider
 * interface, and the driver's services a provider uses to talk HTTP, end a run and verify a token. */
#pragma once

#include "attest.h"
#include "auth.h"
#include "http.h"
#include "jwks.h"
#include "token.h"

/* One attestation protocol. A run is the provider's start() followed by asynchronous steps of its
 * own; it ends in exactly one attest_finish() or attest_verify_token() (which finishes itself). */
typedef struct AttestProvider {
        const char *name;               /* "tpm", "azure-guest": token.json, D-Bus, --test-config */
        /* Per-attester state (keys, caches) into *ret_state; NULL hooks are skipped. */
        int (*init)(Attester *a, void **ret_state);
        void (*free_state)(void *state);
        /* Begins a run; a->tpm is lent until the run finishes. */
        void (*start)(Attester *a);
        /* Drops the current run's state: after a finish, or on cancel. Must cancel nothing itself:
         * the driver frees the pending HTTP request. */
        void (*reset)(Attester *a);
        /* Called when the attester is idle again (prepare the next run cheaply). */
        void (*idle)(Attester *a);
} AttestProvider;

extern const AttestProvider attest_provider_maa_tpm;
extern const AttestProvider attest_provider_azure_guest;

struct Attester {
        sd_event *event;
        const Config *config;
        HttpClient *http;
        Auth *auth;
        const AttestProvider *provider;
        void *state;                    /* the provider's, across runs */
        char *endpoint;                 /* the provider's base URL: Endpoint=, or found at run time;
                                         * NULL until known */
        Jwks *jwks;                     /* cached across runs, fetched again once on an unknown kid */
        char *jwks_text;                /* its document, handed on with a token verified against it */
        char *jwks_url;                 /* from the OpenID document, pinned to the endpoint */

        /* The run in progress. */
        bool running;
        TpmContext *tpm;
        attest_done_fn cb;
        void *userdata;
        HttpRequest *http_req;
        sd_event_source *finish_source;
        void *run;                      /* the provider's per-run state (its reset() frees it) */
        char *report;                   /* the token to verify */
        char *report_request_id;        /* the reply that carried it, for a token then rejected */
        TokenExpect expect;             /* the provider's parts (cnf, nonces); the driver adds the rest */
        const char *replay_mismatch;    /* borrowed from the provider's evidence: shown with a denial */
        bool jwks_fetched;
        HttpRequest *keys_req;          /* the OpenID/JWKS fetch, beside the provider's own request */
        bool keys_quiet;                /* ... started ahead of the token: a failure only drops it */
        AttestResult result;
};

/* Ends the run with OUTCOME: the callback fires from the event loop, never from within the caller.
 * A request id kept by attest_reply_failed() ends the message. */
void attest_finish(Attester *a, AttestOutcome outcome, int error, const char *fmt, ...) _printf_(4, 5);

/* Starts SPEC; the reply goes to CB (userdata = the attester), the request is a->http_req. */
int attest_http(Attester *a, const HttpRequestSpec *spec, http_done_fn cb);

/* POST BODY to a->endpoint + SUFFIX with HEADERS (NULL-terminated; NULL = none); the reply goes to CB. */
int attest_post(Attester *a, const char *suffix, const char *const *headers, const char *body, http_done_fn cb);

/* GET URL (absolute), reply capped at MAX bytes. EXTRA_HEADERS (NULL-terminated) replace the default
 * Accept header; ALLOW_HTTP permits plain http:// to a link-local or loopback address, never
 * through a proxy (IMDS). */
int attest_get(Attester *a, const char *url, size_t max, const char *const *extra_headers, bool allow_http,
               http_done_fn cb);

/* A reply that is not a usable 200: transport failure or HTTP error. Returns true (and finishes the
 * run) when the reply must not be used. EVIDENCE: the request carried the evidence, so a 400 is a
 * verdict on the host. */
bool attest_reply_failed(Attester *a, HttpResult *res, const char *what, bool evidence);

/* Keeps a Retry-After (seconds; <= 0 = none) for the manager's backoff, capped at RetryMaxSec=. */
void attest_keep_retry_after(Attester *a, int64_t sec);

/* Verifies TOKEN (taken over) against the endpoint's key set (fetched through the OpenID metadata
 * when needed) with a->expect, fills the result and finishes the run either way. The provider
 * sets a->result.pcrs, pcr_mask and pcr_update_counter beforehand. */
void attest_verify_token(Attester *a, char *token);

/* The run's request id goes with the next failure; forgets it. */
void attest_forget_request_id(Attester *a);
