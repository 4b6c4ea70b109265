/* SPDX-License-Identifier: MIT */
/* Unit tests for auth.c and credential.c: token files and credentials, IMDS and client credentials
 * against the loopback test server (tests/data/https-test-server.py), caching, and reply parsing. */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "auth.h"
#include "check-main.h"
#include "credential.h"
#include "https-server-fixture.h"
#include "log.h"

#define FILE_AUTH(f) (&(AuthOptions) { .method = AUTH_FILE, .token_file = (f) })
#define CC_CLIENT_ID "11111111-2222-3333-4444-555555555555"   /* as in the test server */
#define CC_SECRET "s3cr3t/+=&% ~.x"
#define CC_TENANT "contoso.onmicrosoft.com"
#define TOKEN_PREFIX "Bearer eyJ0eXAiOiJKV1QifQ."

static char *fmt(const char *format, ...) _printf_(1, 2);
static char *fmt(const char *format, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
        return s;
}

/* One test's world: a loop, an HTTP client trusting the test CA, a scratch dir, an Auth. */
typedef struct T {
        sd_event *event;
        HttpClient *http;
        Auth *auth;
        char dir[64];
} T;

static void t_init(T *t, const AuthOptions *o, const HttpOptions *ho) {
        char ca[128];
        HttpOptions h = ho ? *ho : (HttpOptions) {};

        snprintf(ca, sizeof ca, "%s/ca.pem", https_server.dir);
        if (!ho || !ho->ca_file)
                h.ca_file = ca;
        *t = (T) {};
        strcpy(t->dir, "/tmp/attestd-auth-case-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        ck_assert_int_ge(sd_event_new(&t->event), 0);
        ck_assert_int_eq(http_client_new(t->event, &h, &t->http), 0);
        if (o)
                ck_assert_int_eq(auth_new(t->http, o, &t->auth), 0);
}

static void t_done(T *t) {
        char cmd[128];

        auth_free(t->auth);
        http_client_free(t->http);
        sd_event_unref(t->event);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
        ck_assert_int_eq(system(cmd), 0);
}

static char *t_write(T *t, const char *name, const void *data, size_t size) {
        char *p = fmt("%s/%s", t->dir, name);
        int fd;

        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t) size);
        close(fd);
        return p;
}

typedef struct Got {
        bool done;
        unsigned calls;
        int error;
        long status;
        int64_t retry_after;
        char *authz, *reason;
} Got;

static void got_done(Got *g) {
        free(g->authz);
        free(g->reason);
        *g = (Got) {};
}

static void on_token(AuthRequest *q, const AuthResult *r, void *userdata) {
        Got *g = userdata;

        g->calls++;
        g->done = true;
        g->error = r->error;
        g->status = r->http_status;
        g->retry_after = r->retry_after_sec;
        g->authz = r->authorization ? strdup(r->authorization) : NULL;
        g->reason = r->reason ? strdup(r->reason) : NULL;
        ck_assert(r->error < 0 ? r->reason != NULL : r->reason == NULL);
}

static void on_token_never(AuthRequest *q, const AuthResult *r, void *userdata) {
        ck_abort_msg("callback of a cancelled token request fired");
}

/* Asks T's Auth for a token and waits for the answer, which must never come synchronously. */
static void t_get(T *t, Got *g) {
        got_done(g);
        ck_assert_int_eq(auth_get_token(t->auth, on_token, g, NULL), 0);
        ck_assert(!g->done);
        run_until(t->event, &g->done, 20 * USEC_PER_SEC);
        ck_assert_uint_eq(g->calls, 1);
}

static void on_stats(HttpRequest *r, HttpResult *res, void *userdata) {
        long *n = userdata;

        ck_assert_int_eq(res->error, 0);
        ck_assert_int_eq(sscanf(res->body, "{\"count\": %ld}", n), 1);
}

/* How many requests the server saw for PATH (asked over a separate client and loop). */
static unsigned server_count(const char *path) {
        char url[256], ca[128];
        HttpClient *c = NULL;
        HttpRequest *r = NULL;
        sd_event *e = NULL;
        long n = -1;

        snprintf(url, sizeof url, "https://127.0.0.1:%u/stats?path=%s", https_server.https_port, path);
        snprintf(ca, sizeof ca, "%s/ca.pem", https_server.dir);
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(http_client_new(e, &(HttpOptions) { .ca_file = ca }, &c), 0);
        ck_assert_int_eq(http_request(c, GET(url), on_stats, &n, &r), 0);
        for (unsigned i = 0; i < 200 && http_request_is_pending(r); i++)
                ck_assert_int_ge(sd_event_run(e, 100 * USEC_PER_MSEC), 0);
        ck_assert_int_ge(n, 0);
        http_request_free(r);
        http_client_free(c);
        sd_event_unref(e);
        return (unsigned) n;
}

static void expect_reason(const Got *g, const char *needle) {
        ck_assert_msg(g->reason && strstr(g->reason, needle), "reason '%s' lacks '%s'", strna(g->reason),
                      needle);
}

START_TEST(test_none) {
        T t;
        Got g = {};

        t_init(&t, &(AuthOptions) { .method = AUTH_NONE }, NULL);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, 0);
        ck_assert_ptr_null(g.authz);
        ck_assert_int_eq(g.status, 0);
        got_done(&g);
        t_done(&t);
}
END_TEST

START_TEST(test_file_path_reread) {
        T t;
        Got g = {};

        t_init(&t, NULL, NULL);
        _cleanup_free_ char *p = t_write(&t, "token", "tok.abc-123_~+/=\n", 17);
        ck_assert_int_eq(auth_new(t.http, FILE_AUTH(p), &t.auth), 0);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, 0);
        ck_assert_str_eq(g.authz, "Bearer tok.abc-123_~+/=");
        /* Rotated by someone else: the next request sees the new token. */
        free(t_write(&t, "token", "Bearer second\r\n", 15));
        t_get(&t, &g);
        ck_assert_str_eq(g.authz, "Bearer second");
        got_done(&g);
        t_done(&t);
}
END_TEST

START_TEST(test_file_credential) {
        T t;
        Got g = {};

        t_init(&t, NULL, NULL);
        free(t_write(&t, "attestd.token", "credtoken", 9));
        setenv("CREDENTIALS_DIRECTORY", t.dir, 1);
        ck_assert_int_eq(auth_new(t.http, FILE_AUTH("attestd.token"), &t.auth), 0);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, 0);
        ck_assert_str_eq(g.authz, "Bearer credtoken");

        unsetenv("CREDENTIALS_DIRECTORY");
        t_get(&t, &g);
        ck_assert_int_eq(g.error, -ENXIO);
        expect_reason(&g, "$CREDENTIALS_DIRECTORY");
        expect_reason(&g, "attestd.token");
        got_done(&g);
        t_done(&t);
}
END_TEST

typedef struct FileCase {
        const char *content;            /* NULL = no file; "<dir>" = a directory */
        size_t size;
        int expect;
        const char *reason;             /* substring; "@" = the file's path */
} FileCase;

static const FileCase file_cases[] = {
        { NULL, 0, -ENOENT, "@" },
        { "<dir>", 0, -EISDIR, "not a regular file" },
        { "", 0, -ENODATA, "empty" },
        { "\n\n", 2, -ENODATA, "empty" },
        { "a b", 3, -EBADMSG, "offset 1" },
        { "Bearer a\tb", 10, -EBADMSG, "offset 8" },
        { "Bearer ", 7, -EBADMSG, "offset 7" },
        { "tok\nen", 6, -EBADMSG, "offset 3" },
        { "a\0b", 3, -EBADMSG, "NUL" },
        { "caf\xc3\xa9", 5, -EBADMSG, "offset 3" },
        { "big", AUTH_TOKEN_SIZE_MAX + 1, -EFBIG, "too large" },
};

START_TEST(test_file_bad) {
        const FileCase *c = &file_cases[_i];
        _cleanup_free_ char *p = NULL;
        T t;
        Got g = {};

        t_init(&t, NULL, NULL);
        p = fmt("%s/token", t.dir);
        if (c->content && streq(c->content, "<dir>"))
                ck_assert_int_eq(mkdir(p, 0700), 0);
        else if (c->content && c->size > 100) {
                char *big = malloc(c->size);
                memset(big, 'A', c->size);
                free(t_write(&t, "token", big, c->size));
                free(big);
        } else if (c->content)
                free(t_write(&t, "token", c->content, c->size));

        ck_assert_int_eq(auth_new(t.http, FILE_AUTH(p), &t.auth), 0);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, c->expect);
        ck_assert_ptr_null(g.authz);
        expect_reason(&g, streq(c->reason, "@") ? p : c->reason);
        got_done(&g);
        t_done(&t);
}
END_TEST

#define imds_url(scen) fmt("http://127.0.0.1:%u/%s/", https_server.http_port, scen)
#define imds_path(scen) fmt("/%s/metadata/identity/oauth2/token", scen)

START_TEST(test_imds_cache_and_invalidate) {
        _cleanup_free_ char *u = imds_url("ok-cache"), *path = imds_path("ok-cache");
        T t;
        Got g = {};

        /* A dead proxy proves IMDS bypasses proxies. */
        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = u },
               &(HttpOptions) { .proxy = "http://127.0.0.1:1" });
        t_get(&t, &g);
        ck_assert_msg(g.error == 0, "%s", strna(g.reason));
        ck_assert_int_eq(g.status, 200);
        ck_assert_str_eq(g.authz, TOKEN_PREFIX "imds-ok-cache-1.c2ln");
        t_get(&t, &g);
        ck_assert_str_eq(g.authz, TOKEN_PREFIX "imds-ok-cache-1.c2ln");
        ck_assert_int_eq(g.status, 0);                  /* from the cache */
        ck_assert_uint_eq(server_count(path), 1);
        auth_invalidate(t.auth);
        t_get(&t, &g);
        ck_assert_str_eq(g.authz, TOKEN_PREFIX "imds-ok-cache-2.c2ln");
        ck_assert_uint_eq(server_count(path), 2);
        got_done(&g);
        t_done(&t);
}
END_TEST

START_TEST(test_imds_client_id_and_coalescing) {
        _cleanup_free_ char *u = imds_url("ok-cid"), *path = imds_path("ok-cid");
        Got a = {}, b = {};
        T t;

        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = u, .client_id = CC_CLIENT_ID }, NULL);
        ck_assert_int_eq(auth_get_token(t.auth, on_token, &a, NULL), 0);
        ck_assert_int_eq(auth_get_token(t.auth, on_token, &b, NULL), 0);
        run_until(t.event, &a.done, 20 * USEC_PER_SEC);
        run_until(t.event, &b.done, 20 * USEC_PER_SEC);
        ck_assert_msg(a.error == 0, "%s", strna(a.reason));
        ck_assert_str_eq(a.authz, TOKEN_PREFIX "imds-ok-cid-1.c2ln");
        ck_assert_str_eq(b.authz, a.authz);
        ck_assert_uint_eq(server_count(path), 1);       /* one fetch served both */
        got_done(&a);
        got_done(&b);
        t_done(&t);
}
END_TEST

/* Caching follows the lifetime: "short" lasts 1 s, "noexpiry" is never cached. */
typedef struct LifetimeCase {
        const char *scen;
        unsigned after_two, after_sleep;
} LifetimeCase;

static const LifetimeCase lifetime_cases[] = {
        { "short-life", 1, 2 },
        { "noexpiry-life", 2, 3 },
        { "onlyexpireson-life", 1, 1 },
};

START_TEST(test_imds_lifetime) {
        const LifetimeCase *c = &lifetime_cases[_i];
        _cleanup_free_ char *u = imds_url(c->scen), *path = imds_path(c->scen);
        T t;
        Got g = {};

        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = u }, NULL);
        t_get(&t, &g);
        ck_assert_msg(g.error == 0, "%s", strna(g.reason));
        t_get(&t, &g);
        ck_assert_uint_eq(server_count(path), c->after_two);
        usleep(1100 * 1000);                            /* past 90 % of the 1 s lifetime */
        t_get(&t, &g);
        ck_assert_int_eq(g.error, 0);
        ck_assert_uint_eq(server_count(path), c->after_sleep);
        got_done(&g);
        t_done(&t);
}
END_TEST

typedef struct ReplyCase {
        const char *scen;
        int expect;
        long status;
        int64_t retry_after;
        const char *reason;
} ReplyCase;

static const ReplyCase reply_cases[] = {
        { "err400", -EACCES, 400, -1, "HTTP 400: invalid_request: Identity not found" },
        { "busy", -EAGAIN, 429, 3, "HTTP 429: too_many_requests" },
        { "err500", -EAGAIN, 500, -1, "HTTP 500" },
        { "nojson", -EBADMSG, 200, -1, "not a JSON object" },
        { "array", -EBADMSG, 200, -1, "not a JSON object" },
        { "notoken", -EBADMSG, 200, -1, "no field 'access_token'" },
        { "numtoken", -EBADMSG, 200, -1, "'access_token' is not a string" },
        { "badchars", -EBADMSG, 200, -1, "at offset 3" },
        { "badtype", -EBADMSG, 200, -1, "'token_type'" },
        { "badexpiry", -EBADMSG, 200, -1, "'expires_in'" },
        { "huge", -EFBIG, 0, -1, "IMDS token endpoint" },
};

START_TEST(test_imds_bad_replies) {
        const ReplyCase *c = &reply_cases[_i];
        _cleanup_free_ char *u = imds_url(c->scen), *path = imds_path(c->scen);
        T t;
        Got g = {};

        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = u }, NULL);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, c->expect);
        ck_assert_int_eq(g.status, c->status);
        ck_assert_int_eq(g.retry_after, c->retry_after);
        ck_assert_ptr_null(g.authz);
        expect_reason(&g, c->reason);
        ck_assert_ptr_null(strstr(g.reason, "eyJ0"));   /* never a token in a reason */
        /* Nothing was cached: the next call asks again. */
        unsigned before = server_count(path);
        t_get(&t, &g);
        ck_assert_uint_eq(server_count(path), before + 1);
        got_done(&g);
        t_done(&t);
}
END_TEST

START_TEST(test_imds_unreachable) {
        T t;
        Got g = {};

        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = "http://127.0.0.1:1" }, NULL);
        t_get(&t, &g);
        ck_assert_int_eq(g.error, -ECONNREFUSED);
        expect_reason(&g, "IMDS token endpoint");
        got_done(&g);
        t_done(&t);
}
END_TEST

START_TEST(test_client_credentials) {
        _cleanup_free_ char *a = fmt("https://127.0.0.1:%u/ok-cc", https_server.https_port), *path = NULL;
        T t;
        Got g = {};

        t_init(&t, NULL, NULL);
        _cleanup_free_ char *secret = t_write(&t, "secret", CC_SECRET "\n", strlen(CC_SECRET) + 1);
        ck_assert_int_eq(auth_new(t.http,
                                  &(AuthOptions) { .method = AUTH_CLIENT_CREDENTIALS, .authority_url = a,
                                                   .tenant_id = CC_TENANT, .client_id = CC_CLIENT_ID,
                                                   .client_secret_file = secret },
                                  &t.auth), 0);
        t_get(&t, &g);
        ck_assert_msg(g.error == 0, "%s", strna(g.reason));
        ck_assert_str_eq(g.authz, TOKEN_PREFIX "cc-ok-cc-1.c2ln");
        t_get(&t, &g);
        ck_assert_str_eq(g.authz, TOKEN_PREFIX "cc-ok-cc-1.c2ln");
        path = fmt("/ok-cc/%s/oauth2/v2.0/token", CC_TENANT);
        ck_assert_uint_eq(server_count(path), 1);
        got_done(&g);
        t_done(&t);
}
END_TEST

typedef struct CcCase {
        const char *name;
        const char *secret;             /* file content; NULL = no file */
        bool credential;                /* name the secret as a credential */
        bool system_ca;                 /* HTTP client without the test CA */
        int expect;
        const char *reason;
} CcCase;

static const CcCase cc_cases[] = {
        { "credential", CC_SECRET, true, false, 0, NULL },
        { "wrong secret", "nope", false, false, -EACCES, "HTTP 401: invalid_client: AADSTS7000215" },
        { "missing secret", NULL, false, false, -ENOENT, "client secret" },
        { "missing credential", NULL, true, false, -ENOENT, "client secret" },
        { "untrusted server", CC_SECRET, false, true, -EPERM, "Entra token endpoint" },
};

START_TEST(test_client_credentials_cases) {
        const CcCase *c = &cc_cases[_i];
        _cleanup_free_ char *a = fmt("https://127.0.0.1:%u/ok-case%d", https_server.https_port, _i),
                            *secret = NULL, *path = NULL;
        T t;
        Got g = {};

        t_init(&t, NULL, c->system_ca ? &(HttpOptions) { .ca_file = "/etc/ssl/certs/ca-certificates.crt" } :
                                        NULL);
        secret = c->secret ? t_write(&t, "cc.secret", c->secret, strlen(c->secret)) : NULL;
        setenv("CREDENTIALS_DIRECTORY", t.dir, 1);
        ck_assert_int_eq(auth_new(t.http,
                                  &(AuthOptions) { .method = AUTH_CLIENT_CREDENTIALS, .authority_url = a,
                                                   .tenant_id = CC_TENANT, .client_id = CC_CLIENT_ID,
                                                   .client_secret_file = c->credential ? "cc.secret" :
                                                                         secret ?: "/nonexistent/cc.secret" },
                                  &t.auth), 0);
        t_get(&t, &g);
        ck_assert_msg(g.error == c->expect, "%s: %d %s", c->name, g.error, strna(g.reason));
        if (c->reason)
                expect_reason(&g, c->reason);
        if (c->expect == -ENOENT) {
                expect_reason(&g, "cc.secret");        /* names the file */
                path = fmt("/ok-case%d/%s/oauth2/v2.0/token", _i, CC_TENANT);
                ck_assert_uint_eq(server_count(path), 0);
        }
        ck_assert_ptr_null(g.reason ? strstr(g.reason, CC_SECRET) : NULL);
        unsetenv("CREDENTIALS_DIRECTORY");
        got_done(&g);
        t_done(&t);
}
END_TEST

#define CC_OPTIONS(t) \
        { AUTH_CLIENT_CREDENTIALS, .tenant_id = (t), .client_id = "c", .client_secret_file = "s" }

typedef struct NewCase {
        AuthOptions o;
        int expect;
} NewCase;

static const NewCase new_cases[] = {
        { { .method = AUTH_NONE }, 0 },
        { { .method = AUTH_IMDS }, 0 },
        { { .method = AUTH_FILE }, -EINVAL },
        { { .method = AUTH_FILE, .token_file = "" }, -EINVAL },
        { { .method = AUTH_CLIENT_CREDENTIALS, .client_id = "c", .client_secret_file = "s" }, -EINVAL },
        { { .method = AUTH_CLIENT_CREDENTIALS, .tenant_id = "t", .client_secret_file = "s" }, -EINVAL },
        { { .method = AUTH_CLIENT_CREDENTIALS, .tenant_id = "t", .client_id = "c" }, -EINVAL },
        { CC_OPTIONS("a/b"), -EINVAL },
        { CC_OPTIONS("a?b"), -EINVAL },
        { CC_OPTIONS(""), -EINVAL },
        { CC_OPTIONS("t"), 0 },
        { { .method = _AUTH_METHOD_MAX }, -EINVAL },
};

START_TEST(test_auth_new) {
        Auth *a = NULL;
        T t;

        t_init(&t, NULL, NULL);
        ck_assert_int_eq(auth_new(t.http, &new_cases[_i].o, &a), new_cases[_i].expect);
        ck_assert(new_cases[_i].expect == 0 ? a != NULL : a == NULL);
        auth_free(a);
        t_done(&t);
}
END_TEST

typedef struct ParseCase {
        long status;
        const char *body;
        int expect;
        int64_t lifetime;               /* when expect == 0 */
        const char *reason;             /* substring when expect < 0 */
} ParseCase;

#define NOW INT64_C(1000000)

static const ParseCase parse_cases[] = {
        { 200, "{\"access_token\":\"a.b\",\"expires_in\":3599,\"token_type\":\"Bearer\"}", 0, 3599, NULL },
        { 200, "{\"access_token\":\"a.b\",\"expires_in\":\"60\",\"token_type\":\"bearer\"}", 0, 60, NULL },
        { 200, "{\"access_token\":\"a.b\",\"expires_on\":\"1000100\"}", 0, 100, NULL },
        { 200, "{\"access_token\":\"a.b\",\"expires_on\":999}", 0, 0, NULL },
        { 200, "{\"access_token\":\"a.b\",\"expires_in\":\"60\",\"expires_on\":\"12/31/2024 1 PM\"}", 0, 60,
          NULL },
        { 200, "{\"access_token\":\"a.b\",\"expires_on\":\"12/31/2024\"}", 0, -1, NULL },
        { 200, "{\"access_token\":\"a-b_c~d+e/f==\"} \r\n", 0, -1, NULL },
        { 200, "{\"access_token\":\"a.b\"} x", -EBADMSG, 0, "not a JSON object" },
        { 200, "{\"access_token\":\"a.b\" /* c */}", -EBADMSG, 0, "not a JSON object" },
        { 200, "{'access_token':'a.b'}", -EBADMSG, 0, "not a JSON object" },
        { 200, "{\"access_token\":\"a.b\"", -EBADMSG, 0, "not a JSON object" },
        { 200, "", -EBADMSG, 0, "not a JSON object" },
        { 200, "null", -EBADMSG, 0, "not a JSON object" },
        { 200, "\"a.b\"", -EBADMSG, 0, "not a JSON object" },
        { 200, "{}", -EBADMSG, 0, "no field 'access_token'" },
        { 200, "{\"access_token\":\"\"}", -EBADMSG, 0, "empty" },
        { 200, "{\"access_token\":\"a\\u0000b\"}", -EBADMSG, 0, "NUL" },
        { 200, "{\"access_token\":\"a b\"}", -EBADMSG, 0, "offset 1" },
        { 200, "{\"access_token\":\"\\u00e9\"}", -EBADMSG, 0, "offset 0" },
        { 200, "{\"access_token\":[\"a\"]}", -EBADMSG, 0, "not a string" },
        { 200, "{\"access_token\":null}", -EBADMSG, 0, "not a string" },
        { 200, "{\"access_token\":\"a\",\"token_type\":\"pop\"}", -EBADMSG, 0, "'token_type'" },
        { 200, "{\"access_token\":\"a\",\"token_type\":1}", -EBADMSG, 0, "'token_type'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":-5}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":\"-5\"}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":\"\"}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":\"12345678901\"}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":99999999999}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":1.5}", -EBADMSG, 0, "'expires_in'" },
        { 200, "{\"access_token\":\"a\",\"expires_in\":\"60\\u0000\"}", -EBADMSG, 0, "'expires_in'" },
        { 400, "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}", -EACCES, 0,
          "HTTP 400: invalid_request: Identity not found" },
        { 401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Bad.\\r\\nTrace: 1\"}",
          -EACCES, 0, "HTTP 401: invalid_client: AADSTS7000215: Bad." },
        { 403, "<html>denied</html>", -EACCES, 0, "HTTP 403" },
        { 429, "", -EAGAIN, 0, "HTTP 429" },
        { 503, "{\"error\":\"x\\u0001y\",\"error_description\":5}", -EAGAIN, 0, "HTTP 503: x?y" },
        { 404, "{}", -EPROTO, 0, "HTTP 404" },
        { 302, "{\"access_token\":\"a\"}", -EPROTO, 0, "HTTP 302" },
};

START_TEST(test_parse_reply) {
        const ParseCase *c = &parse_cases[_i];
        AuthToken tok = { .lifetime_sec = -7 };
        char *reason = NULL;
        int r;

        r = auth_parse_reply(c->status, c->body, strlen(c->body), NOW, &tok, &reason);
        ck_assert_msg(r == c->expect, "case %d: %d (%s)", _i, r, strna(reason));
        if (r == 0) {
                ck_assert_ptr_null(reason);
                ck_assert_ptr_nonnull(tok.access_token);
                ck_assert_int_eq(tok.lifetime_sec, c->lifetime);
        } else {
                ck_assert_ptr_null(tok.access_token);
                ck_assert_msg(reason && strstr(reason, c->reason), "reason '%s' lacks '%s'", strna(reason),
                              c->reason);
                ck_assert_ptr_null(strchr(reason, '\n'));
        }
        auth_token_done(&tok);
        free(reason);
}
END_TEST

START_TEST(test_parse_reply_limits) {
        size_t n = AUTH_TOKEN_SIZE_MAX + 1, m = 2000;
        char *body = malloc(n + 64), *reason = NULL;
        AuthToken tok = {};

        /* A token longer than the cap, and an error description that must be cut short. */
        strcpy(body, "{\"access_token\":\"");
        memset(body + strlen(body), 'A', n);
        strcpy(body + 17 + n, "\"}");
        ck_assert_int_eq(auth_parse_reply(200, body, strlen(body), NOW, &tok, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(reason, "longer than"));
        free(reason);

        strcpy(body, "{\"error\":\"e\",\"error_description\":\"");
        memset(body + strlen(body), 'D', m);
        strcpy(body + 35 + m, "\"}");
        ck_assert_int_eq(auth_parse_reply(400, body, strlen(body), NOW, &tok, &reason), -EACCES);
        ck_assert_uint_lt(strlen(reason), 400);
        free(reason);

        /* Bytes after an embedded NUL are not ignored. */
        ck_assert_int_eq(auth_parse_reply(200, "{\"access_token\":\"a\"}\0{", 22, NOW, &tok, &reason),
                         -EBADMSG);
        free(reason);
        ck_assert_int_eq(auth_parse_reply(200, NULL, 0, NOW, &tok, NULL), -EBADMSG);
        free(body);
}
END_TEST

START_TEST(test_cache_lifetime) {
        ck_assert_uint_eq(auth_cache_lifetime_usec(3600), 3300 * USEC_PER_SEC);   /* 5 min margin */
        ck_assert_uint_eq(auth_cache_lifetime_usec(3000), 2700 * USEC_PER_SEC);   /* both equal */
        ck_assert_uint_eq(auth_cache_lifetime_usec(1000), 900 * USEC_PER_SEC);    /* 10 % margin */
        ck_assert_uint_eq(auth_cache_lifetime_usec(1), 900 * USEC_PER_MSEC);
        ck_assert_uint_eq(auth_cache_lifetime_usec(0), 0);
        ck_assert_uint_eq(auth_cache_lifetime_usec(-1), 0);
}
END_TEST

START_TEST(test_credential_resolve) {
        char *p = NULL;

        ck_assert_int_eq(credential_resolve("/etc/x", &p), 0);
        ck_assert_str_eq(p, "/etc/x");
        free(p);
        ck_assert_int_eq(credential_resolve("./rel/x", &p), 0);
        ck_assert_str_eq(p, "./rel/x");
        free(p);
        setenv("CREDENTIALS_DIRECTORY", "/run/credentials/attestd.service", 1);
        ck_assert_int_eq(credential_resolve("tok", &p), 0);
        ck_assert_str_eq(p, "/run/credentials/attestd.service/tok");
        free(p);
        p = NULL;
        ck_assert_int_eq(credential_resolve("", &p), -EINVAL);
        ck_assert_int_eq(credential_resolve("..", &p), -EINVAL);
        ck_assert_int_eq(credential_resolve(".", &p), -EINVAL);
        setenv("CREDENTIALS_DIRECTORY", "relative", 1);
        ck_assert_int_eq(credential_resolve("tok", &p), -ENXIO);
        unsetenv("CREDENTIALS_DIRECTORY");
        ck_assert_int_eq(credential_resolve("tok", &p), -ENXIO);
        ck_assert_ptr_null(p);
        ck_assert_int_eq(credential_read_file("/dev/null", 0, &p), -EBADFD);
        ck_assert_int_eq(credential_read("/nonexistent/x", 0, &p), -ENOENT);
        ck_assert_ptr_null(p);
}
END_TEST

typedef struct Cancel {
        T *t;
        AuthRequest *q;
        bool done;
} Cancel;

static void on_token_free_auth(AuthRequest *q, const AuthResult *r, void *userdata) {
        Cancel *c = userdata;

        ck_assert_ptr_eq(q, c->q);
        c->q = auth_request_free(c->q);                 /* itself, from within */
        c->t->auth = auth_free(c->t->auth);             /* and the whole Auth */
        c->done = true;
}

START_TEST(test_cancel) {
        _cleanup_free_ char *u = imds_url("stall-cancel");
        AuthRequest *q1 = NULL, *q2 = NULL, *none = NULL;
        Auth *a_none = NULL;
        uint64_t t0;
        T t;

        t_init(&t, &(AuthOptions) { .method = AUTH_IMDS, .imds_url = u }, NULL);
        ck_assert_int_eq(auth_new(t.http, &(AuthOptions) { .method = AUTH_NONE }, &a_none), 0);
        /* A result already scheduled, cancelled before its delivery. */
        ck_assert_int_eq(auth_get_token(a_none, on_token_never, NULL, &none), 0);
        none = auth_request_free(none);
        /* Two waiters of a stalled fetch: one cancelled, then the Auth freed under the other. */
        ck_assert_int_eq(auth_get_token(t.auth, on_token_never, NULL, &q1), 0);
        ck_assert_int_eq(auth_get_token(t.auth, on_token_never, NULL, &q2), 0);
        run_until(t.event, NULL, 300 * USEC_PER_MSEC);
        q1 = auth_request_free(q1);
        t0 = now_usec();
        t.auth = auth_free(t.auth);
        ck_assert_uint_lt(now_usec() - t0, USEC_PER_SEC);
        run_until(t.event, NULL, 200 * USEC_PER_MSEC);
        q2 = auth_request_free(q2);                     /* detached, still ours */
        auth_free(a_none);
        t_done(&t);
}
END_TEST

START_TEST(test_free_from_callback) {
        T t;
        Cancel c = { .t = &t };

        t_init(&t, &(AuthOptions) { .method = AUTH_NONE }, NULL);
        ck_assert_int_eq(auth_get_token(t.auth, on_token_free_auth, &c, &c.q), 0);
        ck_assert_int_eq(auth_get_token(t.auth, on_token_never, NULL, NULL), 0); /* dies with the Auth */
        run_until(t.event, &c.done, 5 * USEC_PER_SEC);
        ck_assert_ptr_null(t.auth);
        run_until(t.event, NULL, 100 * USEC_PER_MSEC);
        t_done(&t);
}
END_TEST

static Suite *auth_suite(void) {
        Suite *s = suite_create("auth");
        TCase *tc = tcase_create("file");
        tcase_add_test(tc, test_none);
        tcase_add_test(tc, test_file_path_reread);
        tcase_add_test(tc, test_file_credential);
        tcase_add_loop_test(tc, test_file_bad, 0, ELEMENTSOF(file_cases));
        tcase_add_test(tc, test_credential_resolve);
        suite_add_tcase(s, tc);

        tc = tcase_create("imds");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_imds_cache_and_invalidate);
        tcase_add_test(tc, test_imds_client_id_and_coalescing);
        tcase_add_loop_test(tc, test_imds_lifetime, 0, ELEMENTSOF(lifetime_cases));
        tcase_add_loop_test(tc, test_imds_bad_replies, 0, ELEMENTSOF(reply_cases));
        tcase_add_test(tc, test_imds_unreachable);
        suite_add_tcase(s, tc);

        tc = tcase_create("client-credentials");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_client_credentials);
        tcase_add_loop_test(tc, test_client_credentials_cases, 0, ELEMENTSOF(cc_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("api");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_auth_new, 0, ELEMENTSOF(new_cases));
        tcase_add_loop_test(tc, test_parse_reply, 0, ELEMENTSOF(parse_cases));
        tcase_add_test(tc, test_parse_reply_limits);
        tcase_add_test(tc, test_cache_lifetime);
        tcase_add_test(tc, test_cancel);
        tcase_add_test(tc, test_free_from_callback);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int r;

        unsetenv("CREDENTIALS_DIRECTORY");
        if (!https_server_start("auth"))
                return EXIT_TEST_SKIP;
        log_set_max_level(LOG_ERR);
        r = check_run(auth_suite());
        https_server_stop();
        return r;
}
