/* SPDX-License-Identifier: MIT */
/* Microsoft Entra bearer tokens for the MAA TPM endpoint (PROTOCOL.md §4): none, a token file or
 * credential, the IMDS managed identity, or client credentials. Tokens are cached, wiped, never logged. */
#pragma once

#include "config.h"
#include "http.h"
#include "util.h"

typedef struct Auth Auth;
typedef struct AuthRequest AuthRequest;

#define AUTH_RESOURCE "https://attest.azure.net"
#define AUTH_AUTHORITY_DEFAULT "https://login.microsoftonline.com"
#define AUTH_IMDS_URL_DEFAULT "http://169.254.169.254"
#define AUTH_REPLY_SIZE_MAX ((size_t) 64 * 1024)
#define AUTH_TOKEN_SIZE_MAX ((size_t) 32 * 1024)

typedef struct AuthOptions {
        AuthMethod method;
        const char *token_file;         /* file: a path (contains '/') or a systemd credential name */
        const char *tenant_id;          /* client-credentials */
        const char *client_id;          /* client-credentials; for imds an optional user-assigned identity */
        const char *client_secret_file; /* client-credentials: a path or a credential name */
        const char *authority_url;      /* client-credentials; NULL = AUTH_AUTHORITY_DEFAULT */
        const char *imds_url;           /* imds; NULL = AUTH_IMDS_URL_DEFAULT */
} AuthOptions;

static inline AuthOptions auth_options_from_config(const Config *c) {
        return (AuthOptions) {
                .method = c->auth_method,
                .token_file = c->auth_token_file,
                .tenant_id = c->tenant_id,
                .client_id = c->client_id,
                .client_secret_file = c->client_secret_file,
                .authority_url = c->authority_url,
                .imds_url = c->imds_url,
        };
}

/* What a token request delivers. On failure, error is one of
 *   -EACCES     the token endpoint refused the identity (HTTP 400/401/403; reason has Entra's words)
 *   -EAGAIN     the token endpoint is busy or failing (HTTP 429 or 5xx; see retry_after_sec)
 *   -EPROTO     any other unexpected HTTP status
 *   -EBADMSG    a malformed reply or token file (reason names the field or offset)
 *   -EFBIG      the reply exceeded AUTH_REPLY_SIZE_MAX (or the token file AUTH_TOKEN_SIZE_MAX)
 *   -ENOENT, -EACCES, -EISDIR, -ENODATA ...  reading the token or secret file (reason names the path)
 *   -ENXIO      a credential name is configured but $CREDENTIALS_DIRECTORY is not set, or (from http)
 *               the endpoint's host name did not resolve
 *   any other transport error of HttpResult (-ETIMEDOUT, -ECONNREFUSED, -EPERM, ...)
 * reason is a one-line description safe to log (it never contains a token or secret). */
typedef struct AuthResult {
        int error;
        const char *authorization;      /* "Bearer <token>" for the Authorization header; NULL for
                                         * method none and on failure. Wiped after the callback. */
        const char *reason;             /* NULL on success */
        long http_status;               /* of the token endpoint's reply; 0 when none was made */
        int64_t retry_after_sec;        /* the token endpoint's Retry-After; -1 when absent */
} AuthResult;

typedef void (*auth_done_fn)(AuthRequest *q, const AuthResult *result, void *userdata);

/* Creates an Auth that issues its requests through HTTP (borrowed: it must outlive the Auth) and
 * delivers results on HTTP's event loop. OPTIONS is copied. Returns 0, or -EINVAL (with a debug log
 * naming the option) when the method's required options are missing or invalid. */
int auth_new(HttpClient *http, const AuthOptions *options, Auth **ret);

/* Cancels every pending request (their callbacks never fire) and wipes the cached token. Safe from
 * within a done callback. Returns NULL. */
Auth *auth_free(Auth *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Auth *, auth_free);

/* Asks for an Authorization header value. CB fires exactly once, always later from the event loop
 * (never from within this call), unless the request or the Auth is freed first. A cached token that
 * is not close to expiry is delivered without a network request; concurrent requests share one
 * fetch. File-based tokens are re-read on every call (the file may be rotated at any time).
 * RET (optional): when given, the caller owns the request and releases it with auth_request_free()
 * at any time, also from within CB; when NULL the request is freed after CB returns.
 * Returns 0, or -EINVAL/-ENOMEM (then CB never fires). */
int auth_get_token(Auth *a, auth_done_fn cb, void *userdata, AuthRequest **ret);

/* Cancels Q if its callback has not run yet and releases the caller's ownership. Safe at any time.
 * Returns NULL. */
AuthRequest *auth_request_free(AuthRequest *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(AuthRequest *, auth_request_free);

/* Forgets (and wipes) the cached token, e.g. after the attestation service answered 401. */
void auth_invalidate(Auth *a);

/* How long a token with LIFETIME_SEC is served from the cache: its lifetime minus 10 % of it or
 * 5 minutes, whichever is smaller. 0 (not cached) for an unknown or zero lifetime. */
uint64_t auth_cache_lifetime_usec(int64_t lifetime_sec);

/* The parsed token endpoint reply. access_token must be released with auth_token_done(). */
typedef struct AuthToken {
        char *access_token;
        int64_t lifetime_sec;           /* from expires_in, else expires_on - now; -1 when unknown */
} AuthToken;

void auth_token_done(AuthToken *t);

/* Parses a reply of the IMDS or Entra token endpoint with HTTP status STATUS. NOW is the current
 * time in seconds since the epoch (for expires_on). A 200 reply must be a JSON object with a string
 * access_token made only of bearer-token characters, an optional token_type "Bearer", and
 * expires_in / expires_on as a number or a decimal string. Returns 0 and fills RET; on failure
 * returns -EBADMSG (malformed 200 reply) or the status class error listed at AuthResult and stores
 * a one-line reason (Entra's error and error_description when present) in RETERR_REASON. */
int auth_parse_reply(long status, const char *body, size_t size, int64_t now, AuthToken *ret,
                     char **reterr_reason);
