/* SPDX-License-Identifier: MIT */
/* Entra bearer tokens on top of http.c: builds the IMDS and client-credentials requests, parses the
 * replies, caches the token until shortly before expiry. Tokens and secrets are wiped, never logged. */
#include <stdarg.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "auth.h"
#include "credential.h"
#include "log.h"
#include "utf8.h"

#define AUTH_REASON_MAX 300
#define AUTH_REFRESH_MARGIN_MAX_USEC (300 * USEC_PER_SEC)
#define AUTH_LIFETIME_MAX_SEC INT32_MAX

#ifndef new0
#define new0(t, n) ((t *) calloc((n), sizeof(t)))
#endif
#ifndef STRLEN
#define STRLEN(s) (sizeof(s) - 1)
#endif

struct AuthRequest {
        Auth *auth;                     /* NULL once delivered, cancelled or detached */
        AuthRequest *prev, *next;
        sd_event_source *defer;         /* delivers the result from the event loop */
        auth_done_fn callback;
        void *userdata;
        bool waiting;                   /* waits for the shared fetch */
        bool floating;
        bool in_callback;
        int error;
        char *authorization;
        char *reason;
        long http_status;
        int64_t retry_after_sec;
};

struct Auth {
        HttpClient *http;
        sd_event *event;
        AuthMethod method;
        char *token_file;
        char *tenant_id;
        char *client_id;
        char *client_secret_file;
        char *authority_url;
        char *imds_url;
        char *token;                    /* cached access token */
        uint64_t token_refresh_usec;    /* CLOCK_BOOTTIME: the cache is not used from then on */
        HttpRequest *fetch;             /* the one token request in flight */
        AuthRequest *requests;          /* not yet delivered */
};

static void request_prepend(Auth *a, AuthRequest *q) {
        q->prev = NULL;
        q->next = a->requests;
        if (a->requests)
                a->requests->prev = q;
        a->requests = q;
        q->auth = a;
}

static void request_unlink(AuthRequest *q) {
        if (!q->auth)
                return;
        if (q->next)
                q->next->prev = q->prev;
        if (q->prev)
                q->prev->next = q->next;
        else
                q->auth->requests = q->next;
        q->next = q->prev = NULL;
        q->auth = NULL;
}

static uint64_t now_boottime_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void request_wipe_result(AuthRequest *q) {
        q->authorization = erase_and_free(q->authorization);
        free(q->reason);
        q->reason = NULL;
}

static void request_destroy(AuthRequest *q) {
        request_unlink(q);
        q->defer = sd_event_source_disable_unref(q->defer);
        request_wipe_result(q);
        free(q);
}

AuthRequest *auth_request_free(AuthRequest *q) {
        if (!q)
                return NULL;
        if (q->in_callback)
                q->floating = true; /* freed by on_deliver() once the callback returns */
        else
                request_destroy(q);
        return NULL;
}

static int on_deliver(sd_event_source *s, void *userdata) {
        AuthRequest *q = userdata;
        AuthResult res = {
                .error = q->error,
                .authorization = q->authorization,
                .reason = q->reason,
                .http_status = q->http_status,
                .retry_after_sec = q->retry_after_sec,
        };

        request_unlink(q);
        q->in_callback = true;
        q->callback(q, &res, q->userdata);
        q->in_callback = false;
        request_wipe_result(q);
        if (q->floating)
                request_destroy(q);
        return 0;
}

/* Stores a result in Q (taking AUTHORIZATION and REASON) and schedules its delivery. */
static void request_finish(AuthRequest *q, int error, char *authorization, char *reason, long status,
                           int64_t retry_after_sec) {
        request_wipe_result(q);
        q->waiting = false;
        q->error = error;
        q->authorization = authorization;
        q->reason = reason;
        q->http_status = status;
        q->retry_after_sec = retry_after_sec;
        if (error < 0 && !reason)
                q->reason = strdup(strerror(-error)); /* NULL on OOM: callers cope with a NULL reason */
        (void) sd_event_source_set_enabled(q->defer, SD_EVENT_ONESHOT);
}

/* Sized up front (no asprintf()): a reallocation could leave an unwiped copy of the token behind. */
static char *make_authorization(const char *token) {
        size_t n = strlen(token);
        char *s = malloc(STRLEN("Bearer ") + n + 1);

        if (s)
                memcpy(stpcpy(s, "Bearer "), token, n + 1);
        return s;
}

/* Copies VALUE into a one-line, printable, bounded, valid UTF-8 string: it comes from a remote
 * server (IMDS over plain HTTP) and may end up on D-Bus, which refuses invalid UTF-8. */
static char *sanitize(const char *value) {
        _cleanup_free_ char *s = NULL;
        size_t n = strcspn(value, "\r\n");

        s = strndup(value, utf8_cut(value, n, AUTH_REASON_MAX));
        if (!s)
                return NULL;
        for (char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return utf8_is_valid(s) ? TAKE_PTR(s) : utf8_make_valid(s);
}

static bool token_char_ok(char c) {
        /* RFC 6750 b64token: ALPHA DIGIT - . _ ~ + / and trailing '=' */
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr("-._~+/=", c);
}

/* Returns the offset of the first character that may not appear in a bearer token, or -1. */
static ssize_t token_find_bad_char(const char *t) {
        for (size_t i = 0; t[i]; i++)
                if (!token_char_ok(t[i]))
                        return (ssize_t) i;
        return -1;
}

void auth_token_done(AuthToken *t) {
        t->access_token = erase_and_free(t->access_token);
        t->lifetime_sec = -1;
}

/* Seconds as JSON: a non-negative integer or a string of 1-10 decimal digits (IMDS uses strings). */
static int json_get_seconds(json_object *o, int64_t *ret) {
        if (json_object_is_type(o, json_type_int)) {
                int64_t v = json_object_get_int64(o);

                if (v < 0)
                        return -ERANGE;
                *ret = v;
                return 0;
        }
        if (json_object_is_type(o, json_type_string)) {
                const char *s = json_object_get_string(o);
                size_t n = strlen(s);

                if (n == 0 || n > 10 || strspn(s, "0123456789") != n ||
                    (size_t) json_object_get_string_len(o) != n)
                        return -EINVAL;
                *ret = strtoll(s, NULL, 10);
                return 0;
        }
        return -EINVAL;
}

static int parse_json_object(const char *body, size_t size, json_object **ret) {
        json_tokener *tok;
        json_object *o;
        size_t end;

        if (!body || size == 0 || size > INT32_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no comments, single quotes, ... */
        o = json_tokener_parse_ex(tok, body, (int) size);
        end = json_tokener_get_parse_end(tok);
        if (json_tokener_get_error(tok) != json_tokener_success || !o) {
                json_tokener_free(tok);
                json_object_put(o);
                return -EBADMSG;
        }
        json_tokener_free(tok);
        while (end < size && strchr(" \t\r\n", body[end]))
                end++;
        if (end != size || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* Builds "HTTP <status>[: <error>[: <error_description>]]" from an error reply. */
static char *error_reason(long status, json_object *o) {
        _cleanup_free_ char *code = NULL, *desc = NULL;
        json_object *v;
        char *s;

        if (o && json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string))
                code = sanitize(json_object_get_string(v));
        if (o && json_object_object_get_ex(o, "error_description", &v) &&
            json_object_is_type(v, json_type_string))
                desc = sanitize(json_object_get_string(v));
        if (asprintf(&s, "HTTP %ld%s%s%s%s", status, code ? ": " : "", strempty(code), desc ? ": " : "",
                     strempty(desc)) < 0)
                return NULL;
        return s;
}

static int fail_reason(char **reterr_reason, int error, const char *format, ...) _printf_(3, 4);
static int fail_reason(char **reterr_reason, int error, const char *format, ...) {
        va_list ap;
        char *s;

        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        if (reterr_reason)
                *reterr_reason = s;
        else
                free(s);
        return error;
}

static int parse_token_fields(json_object *o, int64_t now, AuthToken *ret, char **reterr_reason) {
        int64_t lifetime = -1, expires_on;
        const char *token;
        json_object *v;
        ssize_t bad;

        if (!json_object_object_get_ex(o, "access_token", &v))
                return fail_reason(reterr_reason, -EBADMSG, "token reply has no field 'access_token'");
        if (!json_object_is_type(v, json_type_string))
                return fail_reason(reterr_reason, -EBADMSG,
                                   "token reply field 'access_token' is not a string");
        token = json_object_get_string(v);
        if ((size_t) json_object_get_string_len(v) != strlen(token) || !*token)
                return fail_reason(reterr_reason, -EBADMSG,
                                   "token reply field 'access_token' is empty or has a NUL byte");
        if (strlen(token) > AUTH_TOKEN_SIZE_MAX)
                return fail_reason(reterr_reason, -EBADMSG,
                                   "token reply field 'access_token' is longer than %zu bytes",
                                   AUTH_TOKEN_SIZE_MAX);
        bad = token_find_bad_char(token);
        if (bad >= 0)
                return fail_reason(reterr_reason, -EBADMSG,
                                   "token reply field 'access_token' has a character not allowed in a bearer "
                                   "token at offset %zd", bad);

        if (json_object_object_get_ex(o, "token_type", &v) &&
            (!json_object_is_type(v, json_type_string) ||
             strcasecmp(json_object_get_string(v), "Bearer") != 0))
                return fail_reason(reterr_reason, -EBADMSG,
                                   "token reply field 'token_type' is not \"Bearer\"");

        if (json_object_object_get_ex(o, "expires_in", &v)) {
                if (json_get_seconds(v, &lifetime) < 0 || lifetime > AUTH_LIFETIME_MAX_SEC)
                        return fail_reason(reterr_reason, -EBADMSG,
                                           "token reply field 'expires_in' is not a number of seconds");
        } else if (json_object_object_get_ex(o, "expires_on", &v) && json_get_seconds(v, &expires_on) >= 0)
                /* Some identity endpoints send expires_on as a date string: then the lifetime is unknown. */
                lifetime = expires_on > now ? MIN(expires_on - now, (int64_t) AUTH_LIFETIME_MAX_SEC) : 0;

        ret->access_token = strdup(token);
        if (!ret->access_token)
                return -ENOMEM;
        ret->lifetime_sec = lifetime;
        return 0;
}

/* Wipes the access token's text inside the parsed reply O (ours alone) before it is freed. json-c
 * has no such hook; its parser's scratch buffer is beyond reach (attestd(8), SECURITY CONSIDERATIONS). */
static void wipe_access_token(json_object *o) {
        json_object *v;

        if (o && json_object_object_get_ex(o, "access_token", &v) && json_object_is_type(v, json_type_string))
                explicit_erase((char *) json_object_get_string(v), (size_t) json_object_get_string_len(v));
}

int auth_parse_reply(long status, const char *body, size_t size, int64_t now, AuthToken *ret,
                     char **reterr_reason) {
        json_object *o = NULL;
        int r;

        if (!ret)
                return -EINVAL;

        r = parse_json_object(body, size, &o);
        if (status != 200) {
                char *reason = error_reason(status, r >= 0 ? o : NULL);

                wipe_access_token(o);
                json_object_put(o);
                if (reterr_reason)
                        *reterr_reason = reason;
                else
                        free(reason);
                if (status == 429 || status >= 500)
                        return -EAGAIN;
                if (status == 400 || status == 401 || status == 403)
                        return -EACCES;
                return -EPROTO;
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail_reason(reterr_reason, -EBADMSG, "token reply is not a JSON object");

        r = parse_token_fields(o, now, ret, reterr_reason);
        wipe_access_token(o);
        json_object_put(o);
        return r;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static char *url_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(strlen(s) * 3 + 1), *p = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char c = *s;

                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    strchr("-._~", c))
                        *p++ = c;
                else {
                        *p++ = '%';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 15];
                }
        }
        *p = 0;
        return out;
}

static int strdup_trimmed_url(const char *s, const char *def, char **ret) {
        size_t n;

        s = s ?: def;
        n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                n--;
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

static int strdup_opt(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return !s || *ret ? 0 : -ENOMEM;
}

static bool tenant_valid(const char *t) {
        size_t n = strlen(t);

        return n > 0 && n <= 256 &&
               strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static int auth_check_options(const AuthOptions *o) {
        switch (o->method) {
        case AUTH_NONE:
        case AUTH_IMDS:
                return 0;
        case AUTH_FILE:
                if (!o->token_file || !*o->token_file)
                        return log_debug_errno(-EINVAL, "Auth method 'file' needs a token file.");
                return 0;
        case AUTH_CLIENT_CREDENTIALS:
                if (!o->tenant_id || !tenant_valid(o->tenant_id))
                        return log_debug_errno(-EINVAL, "Client credentials need a valid tenant id.");
                if (!o->client_id || !*o->client_id)
                        return log_debug_errno(-EINVAL, "Client credentials need a client id.");
                if (!o->client_secret_file || !*o->client_secret_file)
                        return log_debug_errno(-EINVAL, "Client credentials need a client secret file.");
                return 0;
        default:
                return log_debug_errno(-EINVAL, "Unknown auth method %d.", (int) o->method);
        }
}

int auth_new(HttpClient *http, const AuthOptions *options, Auth **ret) {
        _cleanup_(auth_freep) Auth *a = NULL;
        int r;

        if (!http || !options || !ret)
                return -EINVAL;
        r = auth_check_options(options);
        if (r < 0)
                return r;

        a = new0(Auth, 1);
        if (!a)
                return -ENOMEM;
        a->http = http;
        a->event = sd_event_ref(http_client_get_event(http));
        a->method = options->method;
        if (strdup_opt(options->token_file, &a->token_file) < 0 ||
            strdup_opt(options->tenant_id, &a->tenant_id) < 0 ||
            strdup_opt(options->client_id, &a->client_id) < 0 ||
            strdup_opt(options->client_secret_file, &a->client_secret_file) < 0 ||
            strdup_trimmed_url(options->authority_url, AUTH_AUTHORITY_DEFAULT, &a->authority_url) < 0 ||
            strdup_trimmed_url(options->imds_url, AUTH_IMDS_URL_DEFAULT, &a->imds_url) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(a);
        return 0;
}

void auth_invalidate(Auth *a) {
        if (!a)
                return;
        a->token = erase_and_free(a->token);
        a->token_refresh_usec = 0;
}

Auth *auth_free(Auth *a) {
        if (!a)
                return NULL;
        while (a->requests) {
                AuthRequest *q = a->requests;

                request_unlink(q);
                q->defer = sd_event_source_disable_unref(q->defer);
                if (q->floating)
                        request_destroy(q);
        }
        a->fetch = http_request_free(a->fetch);
        auth_invalidate(a);
        sd_event_unref(a->event);
        free(a->token_file);
        free(a->tenant_id);
        free(a->client_id);
        free(a->client_secret_file);
        free(a->authority_url);
        free(a->imds_url);
        free(a);
        return NULL;
}

static const char *credential_strerror(int r) {
        switch (r) {
        case -EFBIG:
                return "the file is too large";
        case -ENODATA:
                return "the file is empty";
        case -EBADMSG:
                return "the file contains a NUL byte";
        case -EISDIR:
        case -EBADFD:
                return "not a regular file";
        case -ENXIO:
                return "$CREDENTIALS_DIRECTORY is not set";
        default:
                return strerror(-r);
        }
}

/* Reads the secret named by SPEC (path or credential). On failure the reason names the file. */
static int read_secret(const char *what, const char *spec, size_t max, char **ret, char **reterr_reason) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = credential_resolve(spec, &path);
        if (r < 0)
                return fail_reason(reterr_reason, r, "Cannot locate the %s '%s': %s", what, spec,
                                   credential_strerror(r));
        r = credential_read_file(path, max, ret);
        if (r < 0)
                return fail_reason(reterr_reason, r, "Failed to read the %s from '%s': %s", what, path,
                                   credential_strerror(r));
        return 0;
}

static void deliver_file_token(Auth *a, AuthRequest *q) {
        _cleanup_erase_ char *token = NULL;
        char *reason = NULL, *authz;
        const char *t;
        ssize_t bad;
        int r;

        r = read_secret("bearer token file", a->token_file, AUTH_TOKEN_SIZE_MAX, &token, &reason);
        if (r < 0)
                return request_finish(q, r, NULL, reason, 0, -1);

        t = token;
        if (strncasecmp(t, "Bearer ", 7) == 0)
                t += 7;
        bad = *t ? token_find_bad_char(t) : 0;
        if (bad >= 0) {
                r = fail_reason(&reason, -EBADMSG,
                                "The bearer token in '%s' has a character not allowed in a token at "
                                "offset %zd", a->token_file, bad + (t - token));
                return request_finish(q, r, NULL, reason, 0, -1);
        }
        authz = make_authorization(t);
        request_finish(q, authz ? 0 : -ENOMEM, authz, NULL, 0, -1);
}

static const char *endpoint_name(const Auth *a) {
        return a->method == AUTH_IMDS ? "IMDS token endpoint" : "Entra token endpoint";
}

static int build_imds_url(Auth *a, char **ret) {
        _cleanup_free_ char *resource = url_encode(AUTH_RESOURCE), *cid = NULL;

        if (!resource)
                return -ENOMEM;
        if (a->client_id) {
                cid = url_encode(a->client_id);
                if (!cid)
                        return -ENOMEM;
        }
        if (asprintf(ret, "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
                     a->imds_url, resource, cid ? "&client_id=" : "", strempty(cid)) < 0)
                return -ENOMEM;
        return 0;
}

/* The form carries the secret: sized up front and filled with stpcpy() so no reallocation leaves an
 * unwiped copy behind. */
static int build_client_credentials_form(Auth *a, const char *secret, char **ret) {
        _cleanup_free_ char *cid = url_encode(a->client_id), *scope = url_encode(AUTH_RESOURCE "/.default");
        _cleanup_erase_ char *sec = url_encode(secret);
        static const char p1[] = "grant_type=client_credentials&client_id=", p2[] = "&client_secret=",
                          p3[] = "&scope=";
        char *form, *p;

        if (!cid || !scope || !sec)
                return -ENOMEM;
        form = malloc(strlen(p1) + strlen(cid) + strlen(p2) + strlen(sec) + strlen(p3) + strlen(scope) + 1);
        if (!form)
                return -ENOMEM;
        p = stpcpy(form, p1);
        p = stpcpy(p, cid);
        p = stpcpy(p, p2);
        p = stpcpy(p, sec);
        p = stpcpy(p, p3);
        (void) stpcpy(p, scope);
        *ret = form;
        return 0;
}

static void deliver_waiters(Auth *a, int error, const char *token, const char *reason, long status,
                            int64_t retry_after_sec) {
        for (AuthRequest *q = a->requests; q; q = q->next) {
                char *authz = NULL, *rs = NULL;
                int e = error;

                if (!q->waiting)
                        continue;
                if (e >= 0) {
                        authz = make_authorization(token);
                        if (!authz)
                                e = -ENOMEM;
                } else if (reason)
                        rs = strdup(reason);
                request_finish(q, e, authz, rs, status, retry_after_sec);
        }
}

uint64_t auth_cache_lifetime_usec(int64_t lifetime_sec) {
        uint64_t life;

        if (lifetime_sec <= 0)
                return 0;
        life = (uint64_t) lifetime_sec * USEC_PER_SEC;
        return life - MIN(AUTH_REFRESH_MARGIN_MAX_USEC, life / 10);
}

static void auth_cache_token(Auth *a, const AuthToken *tok) {
        uint64_t keep = auth_cache_lifetime_usec(tok->lifetime_sec);

        auth_invalidate(a);
        if (keep == 0)
                return;
        a->token = strdup(tok->access_token);
        if (a->token)
                a->token_refresh_usec = now_boottime_usec() + keep;
}

static void on_fetch_done(HttpRequest *hr, HttpResult *res, void *userdata) {
        _cleanup_(auth_token_done) AuthToken tok = { .lifetime_sec = -1 };
        _cleanup_free_ char *reason = NULL, *why = NULL;
        Auth *a = userdata;
        int r;

        a->fetch = http_request_free(a->fetch); /* released once this callback returns */

        if (res->error < 0)
                r = fail_reason(&reason, res->error, "Token request to the %s failed: %s", endpoint_name(a),
                                res->error_text ?: strerror(-res->error));
        else {
                r = auth_parse_reply(res->status, res->body, res->body_size, (int64_t) time(NULL), &tok,
                                     &why);
                if (r < 0)
                        (void) fail_reason(&reason, r, "Token request to the %s failed: %s", endpoint_name(a),
                                           why ?: strerror(-r));
        }
        if (r >= 0) {
                log_debug("Got a bearer token from the %s, lifetime %" PRIi64 "s.", endpoint_name(a),
                          tok.lifetime_sec);
                auth_cache_token(a, &tok);
        } else
                log_debug_errno(r, "%s", strna(reason));

        deliver_waiters(a, r, tok.access_token, reason, res->status, res->retry_after_sec);
}

static int auth_start_fetch(Auth *a, char **reterr_reason) {
        static const char *const imds_headers[] = { "Metadata: true", "Accept: application/json", NULL };
        static const char *const cc_headers[] = { "Content-Type: application/x-www-form-urlencoded",
                                                  "Accept: application/json", NULL };
        HttpRequestSpec spec = { .max_response_size = AUTH_REPLY_SIZE_MAX };
        _cleanup_erase_ char *secret = NULL, *form = NULL;
        _cleanup_free_ char *url = NULL;
        int r;

        if (a->method == AUTH_IMDS) {
                r = build_imds_url(a, &url);
                if (r < 0)
                        return r;
                spec.method = HTTP_GET;
                spec.headers = imds_headers;
                spec.no_proxy = true;   /* IMDS is link-local; a proxy would only leak the request */
                spec.allow_http = true;
        } else {
                r = read_secret("client secret", a->client_secret_file, 0, &secret, reterr_reason);
                if (r < 0)
                        return r;
                r = build_client_credentials_form(a, secret, &form);
                if (r < 0)
                        return r;
                if (asprintf(&url, "%s/%s/oauth2/v2.0/token", a->authority_url, a->tenant_id) < 0)
                        return -ENOMEM;
                spec.method = HTTP_POST;
                spec.headers = cc_headers;
                spec.body = form;
                spec.body_size = strlen(form);
        }
        spec.url = url;

        r = http_request(a->http, &spec, on_fetch_done, a, &a->fetch);
        if (r < 0)
                return fail_reason(reterr_reason, r, "Cannot send a token request to '%s': %s", url,
                                   strerror(-r));
        return 0;
}

int auth_get_token(Auth *a, auth_done_fn cb, void *userdata, AuthRequest **ret) {
        _cleanup_(auth_request_freep) AuthRequest *q = NULL;
        int r;

        if (!a || !cb)
                return -EINVAL;

        q = new0(AuthRequest, 1);
        if (!q)
                return -ENOMEM;
        q->callback = cb;
        q->userdata = userdata;
        q->retry_after_sec = -1;
        r = sd_event_add_defer(a->event, &q->defer, on_deliver, q);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(q->defer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(q->defer, "auth-deliver");
        request_prepend(a, q);

        switch (a->method) {
        case AUTH_NONE:
                request_finish(q, 0, NULL, NULL, 0, -1);
                break;
        case AUTH_FILE:
                deliver_file_token(a, q);
                break;
        default:
                if (a->token && now_boottime_usec() < a->token_refresh_usec) {
                        char *authz = make_authorization(a->token);

                        if (!authz)
                                return -ENOMEM;
                        request_finish(q, 0, authz, NULL, 0, -1);
                        break;
                }
                q->waiting = true;
                if (!a->fetch) {
                        _cleanup_free_ char *reason = NULL;

                        r = auth_start_fetch(a, &reason);
                        if (r < 0)
                                deliver_waiters(a, r, NULL, reason, 0, -1);
                }
        }

        q->floating = !ret;
        if (ret)
                *ret = q;
        TAKE_PTR(q);
        return 0;
}
