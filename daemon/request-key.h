/* SPDX-License-Identifier: MIT */
/* The ephemeral request key of one attestation (PROTOCOL.md §2.5): a software RSA-2048 key whose
 * JWK text is bound into the quote and which signs the PS256 request JWS. Never stored. */
#pragma once

#include <openssl/types.h>
#include <systemd/sd-event.h>

#include "util.h"

typedef struct RequestKey RequestKey;
typedef struct RequestKeyJob RequestKeyJob;

/* Generates a fresh RSA-2048 key (e = 65537). -ENOMEM, -EIO if OpenSSL fails. */
int request_key_new(RequestKey **ret);
RequestKey *request_key_free(RequestKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(RequestKey *, request_key_free);

/* Called on the event loop when a job ends: KEY (taken over by the callee) on success, else NULL and
 * ERROR < 0. The callee may free the job. */
typedef void (*request_key_done_fn)(RequestKeyJob *j, RequestKey *key, int error, void *userdata);

/* Generates a key as request_key_new() does, on a worker thread, so that the loop goes on serving
 * D-Bus and HTTP meanwhile; CB fires on EVENT when it is done, never from within this call. */
int request_key_generate_async(sd_event *event, request_key_done_fn cb, void *userdata, RequestKeyJob **ret);
/* Cancels: CB will not fire. A generation in progress finishes on its thread and is discarded. */
RequestKeyJob *request_key_job_free(RequestKeyJob *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(RequestKeyJob *, request_key_job_free);
/* The thread id the key was generated on (for tests); 0 before the job ended. */
pid_t request_key_job_get_tid(const RequestKeyJob *j);

/* {"kty":"RSA","n":"…","e":"AQAB"}: the exact text sent and hashed (borrowed). */
const char *request_key_jwk(const RequestKey *k);

/* RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt over DATA. */
int request_key_sign_ps256(const RequestKey *k, const void *data, size_t size, Buffer *ret);
