/* SPDX-License-Identifier: MIT */
/* Non-blocking HTTPS client: libcurl's multi-socket API driven by sd-event. Certificate checks are
 * always on, responses are size-capped, redirects are never followed. Logs only at debug level. */
#pragma once

#include <systemd/sd-event.h>

#include "util.h"

typedef struct HttpClient HttpClient;
typedef struct HttpRequest HttpRequest;

typedef struct HttpOptions {
        const char *ca_file;            /* PEM bundle that replaces the system trust store; NULL = system */
        const char *proxy;              /* NULL = libcurl's environment variables (https_proxy...) */
        uint64_t connect_timeout_usec;  /* 0 = HTTP_CONNECT_TIMEOUT_DEFAULT_USEC */
        uint64_t total_timeout_usec;    /* whole transfer; 0 = HTTP_TOTAL_TIMEOUT_DEFAULT_USEC */
        size_t max_response_size;       /* body cap in bytes; 0 = HTTP_MAX_RESPONSE_DEFAULT */
        const char *user_agent;         /* NULL = "attestd/<version>" */
} HttpOptions;

#define HTTP_CONNECT_TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)
#define HTTP_TOTAL_TIMEOUT_DEFAULT_USEC (60 * USEC_PER_SEC)
#define HTTP_MAX_RESPONSE_DEFAULT ((size_t) 4 * 1024 * 1024)
#define HTTP_REQUEST_ID_MAX 128

typedef enum HttpMethod {
        HTTP_GET,
        HTTP_POST,
        _HTTP_METHOD_MAX,
        _HTTP_METHOD_INVALID = -EINVAL,
} HttpMethod;

typedef struct HttpRequestSpec {
        HttpMethod method;
        const char *url;
        const char *const *headers;     /* "Name: value" strings, NULL-terminated; may be NULL */
        const void *body;               /* POST body, copied (and wiped when the request is freed) */
        size_t body_size;
        uint64_t timeout_usec;          /* 0 = the client's total timeout */
        size_t max_response_size;       /* 0 = the client's cap */
        bool no_proxy;                  /* bypass every proxy, including the environment's (IMDS) */
        bool allow_http;                /* also permit plain http://, but only to a literal loopback
                                         * or link-local address or "localhost" (IMDS) */
} HttpRequestSpec;

/* What a finished request delivers. error is 0 whenever an HTTP response arrived, whatever its
 * status; otherwise a transport failure:
 *   -ENXIO            the host name (or proxy name) did not resolve
 *   -ECONNREFUSED     nothing listens on the port (or another connect() errno: -ENETUNREACH,
 *                     -EHOSTUNREACH, ...)
 *   -ETIMEDOUT        connect or total timeout expired
 *   -EPERM            TLS peer verification failed (unknown CA, hostname mismatch, expired cert)
 *   -ENOKEY           the configured CA bundle could not be loaded
 *   -EPROTO           TLS handshake or HTTP protocol failure
 *   -EFBIG            the response body exceeded the size cap
 *   -ECONNRESET       the connection broke while sending or receiving
 *   -EPROTONOSUPPORT  the URL's scheme is not allowed (plain http without allow_http, ...)
 *   -EINVAL           malformed URL
 *   -ENOMEM, -EIO     out of memory, anything else
 * The callback may steal any pointer (set it to NULL); the rest is freed, the body wiped, once the
 * callback returns. */
typedef struct HttpResult {
        int error;
        char *error_text;               /* curl's description for the log; NULL when error == 0 */
        long status;                    /* HTTP status; 0 when error != 0 */
        int64_t retry_after_sec;        /* Retry-After in seconds from now; -1 when absent/invalid */
        char *content_type;             /* NULL when absent */
        char *ms_error_code;            /* x-ms-error-code; NULL when absent */
        char *request_id;               /* x-ms-request-id, the id Microsoft support asks for; NULL when
                                         * absent or not a plausible id (http_request_id_is_valid()) */
        char *body;                     /* always NUL-terminated (empty body: ""), NULL on error */
        size_t body_size;               /* without the terminating NUL */
} HttpResult;

typedef void (*http_done_fn)(HttpRequest *r, HttpResult *result, void *userdata);

/* Creates a client attached to EVENT (a reference is taken) with a copy of OPTIONS (NULL = all
 * defaults). Returns 0 or -errno. */
int http_client_new(sd_event *event, const HttpOptions *options, HttpClient **ret);

/* Cancels every pending request (their callbacks never fire), frees requests nobody else owns and
 * detaches the ones callers still hold. Safe from within a done callback (the final release is
 * then deferred until the callback returns). Never blocks. Returns NULL. */
HttpClient *http_client_free(HttpClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);

sd_event *http_client_get_event(HttpClient *c);

/* Starts a request. On success returns 0 and CB fires exactly once, later, from the event loop,
 * unless the request is freed or the client is freed first; on failure returns -errno (bad spec:
 * -EINVAL; disallowed scheme: -EPROTONOSUPPORT) and CB never fires.
 * RET (optional): when given, the caller owns the request and must release it with
 * http_request_free(), at any time, before or after completion, including from within CB. When NULL
 * the request is owned by the client and freed after CB returns. */
int http_request(HttpClient *c, const HttpRequestSpec *spec, http_done_fn cb, void *userdata,
                 HttpRequest **ret);

/* Cancels R if still pending (its callback will not fire) and releases the caller's ownership.
 * Safe at any time, also from within any done callback. NULL is a no-op. Returns NULL. */
HttpRequest *http_request_free(HttpRequest *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpRequest *, http_request_free);

/* True between http_request() and the start of R's callback. */
bool http_request_is_pending(const HttpRequest *r);

/* Parses a Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime),
 * the latter relative to NOW (seconds since the epoch); a date in the past gives 0.
 * Returns 0, or -EINVAL for anything else, -ERANGE for absurd values. */
int http_parse_retry_after(const char *value, int64_t now, int64_t *ret_sec);

/* True when ID is 1..HTTP_REQUEST_ID_MAX characters of base64, base64url, hex or GUID text. */
bool http_request_id_is_valid(const char *id);

const char *http_method_to_string(HttpMethod m);
