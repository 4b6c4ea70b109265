/* SPDX-License-Identifier: MIT */
/* Unit tests for http.c against a real loopback HTTPS server (tests/data/https-test-server.py) with
 * its own test CA: TLS checks, errno mapping, size caps, timeouts, Retry-After and cancellation. */
#include <check.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "check-main.h"
#include "http.h"
#include "https-server-fixture.h"
#include "log.h"

static char *file_in_dir(const char *name) {
        char *s;
        ck_assert_int_ge(asprintf(&s, "%s/%s", https_server.dir, name), 0);
        return s;
}

static char *url(const char *path) {
        char *s;
        ck_assert_int_ge(asprintf(&s, "https://127.0.0.1:%u%s", https_server.https_port, path), 0);
        return s;
}

/* What one request's callback saw. */
typedef struct Outcome {
        sd_event *event;
        unsigned *remaining;            /* exit the loop when it reaches 0 */
        unsigned calls;
        int error;
        long status;
        int64_t retry_after;
        char *error_text, *body, *content_type, *ms_error_code, *request_id;
        size_t body_size;
} Outcome;

static void outcome_done(Outcome *o) {
        free(o->error_text);
        free(o->body);
        free(o->content_type);
        free(o->ms_error_code);
        free(o->request_id);
}

static void on_done(HttpRequest *r, HttpResult *res, void *userdata) {
        Outcome *o = userdata;

        o->calls++;
        o->error = res->error;
        o->status = res->status;
        o->retry_after = res->retry_after_sec;
        o->error_text = TAKE_PTR(res->error_text);
        o->body = TAKE_PTR(res->body);
        o->body_size = res->body_size;
        o->content_type = TAKE_PTR(res->content_type);
        o->ms_error_code = TAKE_PTR(res->ms_error_code);
        o->request_id = TAKE_PTR(res->request_id);
        if (o->remaining && --*o->remaining == 0)
                sd_event_exit(o->event, 0);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), -ETIMEDOUT);
}

/* Runs E until a callback exits it; fails the test after 20 s. */
static void run_loop(sd_event *e) {
        sd_event_source *w = NULL;

        ck_assert_int_ge(sd_event_add_time_relative(e, &w, CLOCK_MONOTONIC, 20 * USEC_PER_SEC, 0, on_watchdog,
                                                    NULL), 0);
        ck_assert_int_eq(sd_event_loop(e), 0);
        sd_event_source_disable_unref(w);
}

static HttpClient *client_new(sd_event *e, const char *ca_name, const HttpOptions *extra) {
        _cleanup_free_ char *ca = ca_name ? file_in_dir(ca_name) : NULL;
        HttpOptions o = extra ? *extra : (HttpOptions) {};
        HttpClient *c = NULL;

        o.ca_file = ca_name ? ca : o.ca_file;
        ck_assert_int_eq(http_client_new(e, &o, &c), 0);
        return c;
}

/* One request on a fresh loop and client; the outcome goes to O. */
static void fetch(const char *ca_name, const HttpOptions *opts, const HttpRequestSpec *spec, Outcome *o) {
        sd_event *e = NULL;
        unsigned remaining = 1;

        ck_assert_int_ge(sd_event_new(&e), 0);
        HttpClient *c = client_new(e, ca_name, opts);
        *o = (Outcome) { .event = e, .remaining = &remaining };
        ck_assert_int_eq(http_request(c, spec, on_done, o, NULL), 0);
        run_loop(e);
        ck_assert_uint_eq(o->calls, 1);
        http_client_free(c);
        sd_event_unref(e);
}

static void get(const char *ca_name, const char *path, Outcome *o) {
        _cleanup_free_ char *u = url(path);
        fetch(ca_name, NULL, GET(u), o);
}

START_TEST(test_get_json) {
        Outcome o;
        get("ca.pem", "/json", &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_ptr_null(o.error_text);
        ck_assert_int_eq(o.status, 200);
        ck_assert_str_eq(o.body, "{\"hello\": \"world\"}");
        ck_assert_uint_eq(o.body_size, strlen(o.body));
        ck_assert_str_eq(o.content_type, "application/json");
        ck_assert_ptr_null(o.ms_error_code);
        ck_assert_int_eq(o.retry_after, -1);
        outcome_done(&o);
}
END_TEST

static json_object *echo_field(json_object *j, const char *key) {
        json_object *v = NULL;
        ck_assert_msg(json_object_object_get_ex(j, key, &v), "echo reply lacks '%s'", key);
        return v;
}

START_TEST(test_post_echo) {
        static const char body[] = "a=b&c=%20\x01\xff end";
        const char *const headers[] = { "X-Test: one", "Content-Type: application/x-test", NULL };
        _cleanup_free_ char *u = url("/echo");
        Outcome o;

        fetch("ca.pem", NULL,
              &(HttpRequestSpec) { .method = HTTP_POST, .url = u, .headers = headers, .body = body,
                                   .body_size = sizeof body - 1 },
              &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_int_eq(o.status, 200);
        json_object *j = json_tokener_parse(o.body), *h;
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(json_object_get_string(echo_field(j, "method")), "POST");
        ck_assert(json_object_get_boolean(echo_field(j, "tls")));
        /* latin-1 round trip: every byte of the body arrived unchanged */
        json_object *b = echo_field(j, "body");
        ck_assert_int_eq(json_object_get_string_len(b), 16);
        h = echo_field(j, "headers");
        ck_assert_str_eq(json_object_get_string(echo_field(h, "x-test")), "one");
        ck_assert_str_eq(json_object_get_string(echo_field(h, "content-type")), "application/x-test");
        ck_assert_str_eq(json_object_get_string(echo_field(h, "user-agent")), "attestd/" PACKAGE_VERSION);
        ck_assert(!json_object_object_get_ex(h, "expect", NULL));
        json_object_put(j);
        outcome_done(&o);
}
END_TEST

START_TEST(test_get_echo_user_agent_and_empty_post) {
        _cleanup_free_ char *u = url("/echo");
        Outcome o;

        fetch("ca.pem", &(HttpOptions) { .user_agent = "probe/1" },
              &(HttpRequestSpec) { .method = HTTP_POST, .url = u }, &o);
        ck_assert_int_eq(o.status, 200);
        json_object *j = json_tokener_parse(o.body);
        ck_assert_str_eq(json_object_get_string(echo_field(j, "body")), "");
        json_object *h = echo_field(j, "headers");
        ck_assert_str_eq(json_object_get_string(echo_field(h, "user-agent")), "probe/1");
        json_object_put(j);
        outcome_done(&o);
}
END_TEST

/* Responses with an HTTP status are not transport errors: error stays 0. */
typedef struct StatusCase {
        const char *path;
        long status;
        int64_t retry_min, retry_max;
        const char *ms_error_code;
        const char *request_id;
        const char *body_contains;
} StatusCase;

static const StatusCase status_cases[] = {
        { "/status/500", 500, -1, -1, NULL },
        { "/status/404", 404, -1, -1, NULL },
        { "/ms-error", 400, -1, -1, "InvalidParameter" },
        { "/retry-after/delta", 429, 7, 7, NULL },
        { "/retry-after/date", 503, 115, 121, NULL },
        { "/retry-after/garbage", 503, -1, -1, NULL },
        { "/redirect", 302, -1, -1, NULL },    /* never followed */
        /* The real service: chunked, Connection: close, no x-ms-error-code, a request id. */
        { "/maa/nopolicy", 400, -1, -1, NULL, "Xq3v-Lp9_Tz0Wb8k", "\"Bad request\"" },
        { "/maa/deny", 400, -1, -1, NULL, "Xq3v-Lp9_Tz0Wb8k", "A Deny claim was issued" },
        { "/maa/unauthorized", 401, -1, -1, NULL, "Xq3v-Lp9_Tz0Wb8k", "Access denied." },
        { "/maa/ok", 200, -1, -1, NULL, "Xq3v-Lp9_Tz0Wb8k", "{\"data\": \"e30\"}" },
        /* Ids that could not be quoted to support, or would garble a log line, are dropped. */
        { "/maa/badid", 400, -1, -1, NULL, NULL, "Bad request" },
        { "/maa/longid", 400, -1, -1, NULL, NULL, "Bad request" },
};

START_TEST(test_status) {
        const StatusCase *t = &status_cases[_i];
        Outcome o;

        get("ca.pem", t->path, &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_int_eq(o.status, t->status);
        ck_assert_int_ge(o.retry_after, t->retry_min);
        ck_assert_int_le(o.retry_after, t->retry_max);
        if (t->ms_error_code)
                ck_assert_str_eq(o.ms_error_code, t->ms_error_code);
        else
                ck_assert_ptr_null(o.ms_error_code);
        if (t->request_id)
                ck_assert_str_eq(o.request_id, t->request_id);
        else
                ck_assert_ptr_null(o.request_id);
        ck_assert_ptr_nonnull(o.body);
        if (t->body_contains)
                ck_assert_ptr_nonnull(strstr(o.body, t->body_contains));
        outcome_done(&o);
}
END_TEST

typedef struct RetryCase {
        const char *value;
        int expect_r;
        int64_t expect_sec;
} RetryCase;

/* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT; "now" is 10 s earlier. */
static const RetryCase retry_cases[] = {
        { "7", 0, 7 },
        { " 120 \r\n", 0, 120 },
        { "0", 0, 0 },
        { "2147483647", 0, 2147483647 },
        { "Sun, 06 Nov 1994 08:49:37 GMT", 0, 10 },
        { "Sunday, 06-Nov-94 08:49:37 GMT", 0, 10 },
        { "Sun Nov  6 08:49:37 1994", 0, 10 },
        { "Sun, 06 Nov 1994 08:49:17 GMT", 0, 0 },      /* in the past */
        { "", -EINVAL, 0 },
        { "   ", -EINVAL, 0 },
        { "-5", -EINVAL, 0 },
        { "1.5", -EINVAL, 0 },
        { "0x10", -EINVAL, 0 },
        { "whenever", -EINVAL, 0 },
        { "Sun, 06 Nov 1994\x01 08:49:37 GMT", -EINVAL, 0 },
        { "2147483648", -ERANGE, 0 },
        { "99999999999", -ERANGE, 0 },
        { "Sun, 06 Nov 2150 08:49:37 GMT", -ERANGE, 0 },
        { "Sun, 06 Nov 1994 08:49:37 GMT and a very long tail that exceeds the buffer", -EINVAL, 0 },
};

START_TEST(test_parse_retry_after) {
        const RetryCase *t = &retry_cases[_i];
        int64_t v = -42;

        ck_assert_int_eq(http_parse_retry_after(t->value, 784111777 - 10, &v), t->expect_r);
        ck_assert_int_eq(v, t->expect_r == 0 ? t->expect_sec : -42);
}
END_TEST

START_TEST(test_request_id_is_valid) {
        char longest[HTTP_REQUEST_ID_MAX + 2];

        ck_assert(http_request_id_is_valid("Xq3v-Lp9_Tz0Wb8k"));
        ck_assert(http_request_id_is_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        ck_assert(http_request_id_is_valid("abc+/=="));
        ck_assert(!http_request_id_is_valid(""));
        ck_assert(!http_request_id_is_valid("two words"));
        ck_assert(!http_request_id_is_valid("id\"quoted"));
        ck_assert(!http_request_id_is_valid("id;ATTESTD_X=1"));
        ck_assert(!http_request_id_is_valid("caf\xc3\xa9"));
        memset(longest, 'A', HTTP_REQUEST_ID_MAX);
        longest[HTTP_REQUEST_ID_MAX] = 0;
        ck_assert(http_request_id_is_valid(longest));
        longest[HTTP_REQUEST_ID_MAX] = 'A';
        longest[HTTP_REQUEST_ID_MAX + 1] = 0;
        ck_assert(!http_request_id_is_valid(longest));
}
END_TEST

/* Transport failures and the errno each must map to. */
typedef enum PortKind { PORT_HTTPS, PORT_PLAIN, PORT_CLOSED } PortKind;

typedef struct ErrorCase {
        const char *name;
        const char *ca_name;            /* file in the server dir, or NULL = system store */
        const char *host;
        PortKind port;
        int expect;
} ErrorCase;

static const ErrorCase error_cases[] = {
        { "no CA", NULL, "127.0.0.1", PORT_HTTPS, -EPERM },
        { "wrong CA", "wrong-ca.pem", "127.0.0.1", PORT_HTTPS, -EPERM },
        { "unreadable CA", "missing.pem", "127.0.0.1", PORT_HTTPS, -ENOKEY },
        { "hostname mismatch", "ca.pem", "localhost", PORT_HTTPS, -EPERM },
        { "refused", "ca.pem", "127.0.0.1", PORT_CLOSED, -ECONNREFUSED },
        { "DNS", "ca.pem", "nonexistent.invalid", PORT_HTTPS, -ENXIO },
        { "plain http server behind https", "ca.pem", "127.0.0.1", PORT_PLAIN, -EPROTO },
};

static unsigned closed_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd); /* bound but never listening, then closed: nothing accepts there */
        return ntohs(a.sin_port);
}

START_TEST(test_transport_errors) {
        const ErrorCase *t = &error_cases[_i];
        _cleanup_free_ char *u = NULL;
        Outcome o;

        ck_assert_int_ge(asprintf(&u, "https://%s:%u/json", t->host,
                                  t->port == PORT_HTTPS ? https_server.https_port :
                                  t->port == PORT_PLAIN ? https_server.http_port : closed_port()), 0);

        fetch(t->ca_name, NULL, GET(u), &o);
        ck_assert_msg(o.error == t->expect, "%s: got %d (%s), want %d", t->name, o.error, strna(o.error_text),
                      t->expect);
        ck_assert_ptr_nonnull(o.error_text);
        ck_assert_int_eq(o.status, 0);
        ck_assert_ptr_null(o.body);
        outcome_done(&o);
}
END_TEST

START_TEST(test_timeout_stall) {
        _cleanup_free_ char *u = url("/stall");
        uint64_t t0 = now_usec();
        Outcome o;

        fetch("ca.pem", NULL,
              &(HttpRequestSpec) { .method = HTTP_GET, .url = u, .timeout_usec = USEC_PER_SEC }, &o);
        ck_assert_int_eq(o.error, -ETIMEDOUT);
        ck_assert_uint_ge(now_usec() - t0, 900 * USEC_PER_MSEC);
        ck_assert_uint_lt(now_usec() - t0, 3 * USEC_PER_SEC);
        outcome_done(&o);
}
END_TEST

START_TEST(test_timeout_slow_drip) {
        _cleanup_free_ char *u = url("/drip?n=50&delay=0.1");
        Outcome o;

        /* The client-wide total timeout applies when the spec sets none. */
        fetch("ca.pem", &(HttpOptions) { .total_timeout_usec = USEC_PER_SEC },
              GET(u), &o);
        ck_assert_int_eq(o.error, -ETIMEDOUT);
        outcome_done(&o);
}
END_TEST

START_TEST(test_drip_assembles_body) {
        Outcome o;
        get("ca.pem", "/drip?n=5&delay=0.05", &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_str_eq(o.body, "drip0;drip1;drip2;drip3;drip4;");
        outcome_done(&o);
}
END_TEST

typedef struct CapCase {
        const char *path;
        size_t cap;
        int expect;
} CapCase;

static const CapCase cap_cases[] = {
        { "/big", 1024 * 1024, -EFBIG },          /* Content-Length over the cap */
        { "/big-chunked", 1024 * 1024, -EFBIG },  /* no length: the write callback stops it */
        { "/big", 0, 0 },                         /* default cap (4 MiB) holds 2 MiB */
        { "/json", 18, 0 },                       /* exactly the cap */
        { "/json", 17, -EFBIG },
        { "/drip?n=5&delay=0", 29, -EFBIG },      /* 30 bytes, chunked */
};

START_TEST(test_size_cap) {
        const CapCase *t = &cap_cases[_i];
        _cleanup_free_ char *u = url(t->path);
        Outcome o;

        fetch("ca.pem", NULL,
              &(HttpRequestSpec) { .method = HTTP_GET, .url = u, .max_response_size = t->cap }, &o);
        ck_assert_int_eq(o.error, t->expect);
        if (t->expect == 0)
                ck_assert_uint_le(o.body_size, t->cap ?: HTTP_MAX_RESPONSE_DEFAULT);
        outcome_done(&o);
}
END_TEST

/* Specs http_request() must refuse synchronously (the callback never fires). */
typedef struct SpecCase {
        HttpRequestSpec spec;
        int expect;
} SpecCase;

static const char *const bad_header_crlf[] = { "X-A: 1\r\nX-Injected: 2", NULL };
static const char *const bad_header_nocolon[] = { "X-A 1", NULL };
static const char *const bad_header_noname[] = { ": 1", NULL };

static const SpecCase spec_cases[] = {
        { { .method = HTTP_GET, .url = NULL }, -EINVAL },
        { { .method = _HTTP_METHOD_MAX, .url = "https://127.0.0.1/" }, -EINVAL },
        { { .method = HTTP_GET, .url = "https://127.0.0.1/", .body = "x", .body_size = 1 }, -EINVAL },
        { { .method = HTTP_POST, .url = "https://127.0.0.1/", .body = NULL, .body_size = 3 }, -EINVAL },
        { { .method = HTTP_GET, .url = "not a url" }, -EINVAL },
        { { .method = HTTP_GET, .url = "http://127.0.0.1/" }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "http://example.com/", .allow_http = true }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "http://10.0.0.1/", .allow_http = true }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "http://[2001:db8::1]/", .allow_http = true }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "ftp://127.0.0.1/", .allow_http = true }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "file:///etc/passwd" }, -EPROTONOSUPPORT },
        { { .method = HTTP_GET, .url = "https://127.0.0.1/", .headers = bad_header_crlf }, -EINVAL },
        { { .method = HTTP_GET, .url = "https://127.0.0.1/", .headers = bad_header_nocolon }, -EINVAL },
        { { .method = HTTP_GET, .url = "https://127.0.0.1/", .headers = bad_header_noname }, -EINVAL },
};

static void on_done_never(HttpRequest *r, HttpResult *res, void *userdata) {
        ck_abort_msg("callback of a refused or cancelled request fired");
}

START_TEST(test_bad_spec) {
        sd_event *e = NULL;
        HttpRequest *r = NULL;

        ck_assert_int_ge(sd_event_new(&e), 0);
        HttpClient *c = client_new(e, "ca.pem", NULL);
        ck_assert_int_eq(http_request(c, &spec_cases[_i].spec, on_done_never, NULL, &r),
                         spec_cases[_i].expect);
        ck_assert_ptr_null(r);
        ck_assert_int_ge(sd_event_run(e, 50 * USEC_PER_MSEC), 0);
        http_client_free(c);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_plain_http_link_local_only) {
        _cleanup_free_ char *u = NULL;
        Outcome o;

        ck_assert_int_ge(asprintf(&u, "http://127.0.0.1:%u/echo", https_server.http_port), 0);
        fetch(NULL, NULL, &(HttpRequestSpec) { .method = HTTP_GET, .url = u, .allow_http = true }, &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_int_eq(o.status, 200);
        ck_assert_ptr_nonnull(strstr(o.body, "\"tls\": false"));
        outcome_done(&o);
}
END_TEST

START_TEST(test_proxy_option_and_bypass) {
        _cleanup_free_ char *proxy = NULL, *u = url("/json");
        Outcome o;

        ck_assert_int_ge(asprintf(&proxy, "http://127.0.0.1:%u", closed_port()), 0);
        /* The (dead) proxy is used ... */
        fetch("ca.pem", &(HttpOptions) { .proxy = proxy }, GET(u), &o);
        ck_assert_int_eq(o.error, -ECONNREFUSED);
        outcome_done(&o);
        /* ... unless the request bypasses proxies. */
        fetch("ca.pem", &(HttpOptions) { .proxy = proxy },
              &(HttpRequestSpec) { .method = HTTP_GET, .url = u, .no_proxy = true }, &o);
        ck_assert_int_eq(o.error, 0);
        ck_assert_int_eq(o.status, 200);
        outcome_done(&o);
        /* The environment's proxy is honoured, and bypassed by no_proxy too. */
        setenv("https_proxy", proxy, 1);
        fetch("ca.pem", NULL, GET(u), &o);
        ck_assert_int_eq(o.error, -ECONNREFUSED);
        outcome_done(&o);
        fetch("ca.pem", NULL, &(HttpRequestSpec) { .method = HTTP_GET, .url = u, .no_proxy = true }, &o);
        ck_assert_int_eq(o.error, 0);
        outcome_done(&o);
        unsetenv("https_proxy");
}
END_TEST


typedef struct Lifecycle {
        sd_event *event;
        HttpClient *client;
        HttpRequest *a, *b;
        Outcome *out;
        unsigned calls;
        bool done;
} Lifecycle;

static int on_cancel_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Lifecycle *l = userdata;

        /* Cancel mid-request, from an event source of the same loop. */
        ck_assert(http_request_is_pending(l->a));
        l->a = http_request_free(l->a);
        l->done = true;
        return 0;
}

START_TEST(test_concurrent) {
        _cleanup_free_ char *drip = url("/drip?n=3&delay=0.2"), *json = url("/json");
        unsigned remaining = 8;
        Outcome o[8];
        sd_event *e = NULL;
        uint64_t t0 = now_usec();

        ck_assert_int_ge(sd_event_new(&e), 0);
        HttpClient *c = client_new(e, "ca.pem", NULL);
        for (size_t i = 0; i < ELEMENTSOF(o); i++) {
                o[i] = (Outcome) { .event = e, .remaining = &remaining };
                ck_assert_int_eq(http_request(c, GET(i % 2 ? json : drip), on_done, &o[i], NULL), 0);
        }
        run_loop(e);
        /* Four 0.6 s transfers took clearly less than the 2.4 s they would take one after another. */
        ck_assert_uint_lt(now_usec() - t0, 1800 * USEC_PER_MSEC);
        for (size_t i = 0; i < ELEMENTSOF(o); i++) {
                ck_assert_uint_eq(o[i].calls, 1);
                ck_assert_int_eq(o[i].error, 0);
                ck_assert_str_eq(o[i].body, i % 2 ? "{\"hello\": \"world\"}" : "drip0;drip1;drip2;");
                outcome_done(&o[i]);
        }
        http_client_free(c);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_cancel_mid_request) {
        _cleanup_free_ char *u = url("/stall");
        Lifecycle l = {};
        sd_event *e = NULL;
        uint64_t t0 = now_usec();

        ck_assert_int_ge(sd_event_new(&e), 0);
        l.client = client_new(e, "ca.pem", NULL);
        ck_assert_int_eq(http_request(l.client, GET(u), on_done_never,
                                      NULL, &l.a), 0);
        ck_assert_int_ge(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 300 * USEC_PER_MSEC, 0,
                                                    on_cancel_timer, &l), 0);
        run_until(e, &l.done, 5 * USEC_PER_SEC);
        ck_assert_ptr_null(l.a);
        run_until(e, NULL, 100 * USEC_PER_MSEC);        /* nothing fires any more */
        http_client_free(l.client);
        ck_assert_uint_lt(now_usec() - t0, USEC_PER_SEC);
        sd_event_unref(e);
}
END_TEST

START_TEST(test_client_free_with_pending) {
        _cleanup_free_ char *u = url("/stall");
        HttpRequest *owned = NULL;
        sd_event *e = NULL;
        uint64_t t0;

        ck_assert_int_ge(sd_event_new(&e), 0);
        HttpClient *c = client_new(e, "ca.pem", NULL);
        for (unsigned i = 0; i < 3; i++)
                ck_assert_int_eq(http_request(c, GET(u), on_done_never,
                                              NULL, i == 0 ? &owned : NULL), 0);
        run_until(e, NULL, 300 * USEC_PER_MSEC);
        ck_assert(http_request_is_pending(owned));
        t0 = now_usec();
        http_client_free(c);
        ck_assert_uint_lt(now_usec() - t0, USEC_PER_SEC);
        ck_assert(!http_request_is_pending(owned));     /* detached, still ours to free */
        run_until(e, NULL, 100 * USEC_PER_MSEC);
        http_request_free(owned);
        sd_event_unref(e);
}
END_TEST

/* A stalled request, then a /json one whose callback ON_JSON frees things; runs until that callback
 * is done. With OWN, l->b and l->a hold the two requests. */
static void start_free_from_callback(Lifecycle *l, http_done_fn on_json, bool own) {
        _cleanup_free_ char *json = url("/json"), *stall = url("/stall");

        ck_assert_int_ge(sd_event_new(&l->event), 0);
        l->client = client_new(l->event, "ca.pem", NULL);
        ck_assert_int_eq(http_request(l->client, GET(stall), on_done_never, NULL, own ? &l->b : NULL), 0);
        ck_assert_int_eq(http_request(l->client, GET(json), on_json, l, own ? &l->a : NULL), 0);
        run_until(l->event, &l->done, 20 * USEC_PER_SEC);
        ck_assert_uint_eq(l->calls, 1);
}

static void on_done_free_both(HttpRequest *r, HttpResult *res, void *userdata) {
        Lifecycle *l = userdata;

        ck_assert_ptr_eq(r, l->a);
        ck_assert_int_eq(res->error, 0);
        l->calls++;
        l->b = http_request_free(l->b);                 /* another, still pending */
        l->a = http_request_free(l->a);                 /* itself */
        l->done = true;
}

START_TEST(test_free_from_callback) {
        Lifecycle l = {};

        start_free_from_callback(&l, on_done_free_both, true);
        ck_assert_ptr_null(l.a);
        ck_assert_ptr_null(l.b);
        run_until(l.event, NULL, 100 * USEC_PER_MSEC);
        http_client_free(l.client);
        sd_event_unref(l.event);
}
END_TEST

static void on_done_free_client(HttpRequest *r, HttpResult *res, void *userdata) {
        Lifecycle *l = userdata;

        l->calls++;
        l->client = http_client_free(l->client);
        ck_assert_int_eq(http_request(NULL, GET("https://127.0.0.1/"), on_done_never, NULL, NULL), -EINVAL);
        l->done = true;
}

START_TEST(test_client_free_from_callback) {
        Lifecycle l = {};

        start_free_from_callback(&l, on_done_free_client, false);
        ck_assert_ptr_null(l.client);
        run_until(l.event, NULL, 100 * USEC_PER_MSEC);
        sd_event_unref(l.event);
}
END_TEST

static void on_done_chain(HttpRequest *r, HttpResult *res, void *userdata) {
        Lifecycle *l = userdata;
        _cleanup_free_ char *u = url("/json");

        l->calls++;
        ck_assert_int_eq(res->status, 200);
        /* Start the next request from within the callback, on the same client. */
        ck_assert_int_eq(http_request(l->client, GET(u), on_done, l->out,
                                      NULL), 0);
}

START_TEST(test_chain_from_callback) {
        _cleanup_free_ char *u = url("/json");
        unsigned remaining = 1;
        HttpRequest *first = NULL;
        Lifecycle l = {};
        Outcome o;

        ck_assert_int_ge(sd_event_new(&l.event), 0);
        l.client = client_new(l.event, "ca.pem", NULL);
        o = (Outcome) { .event = l.event, .remaining = &remaining };
        l.out = &o;
        ck_assert_int_eq(http_request(l.client, GET(u), on_done_chain,
                                      &l, &first), 0);
        run_loop(l.event);
        ck_assert_uint_eq(l.calls, 1);
        ck_assert_uint_eq(o.calls, 1);
        ck_assert_str_eq(o.body, "{\"hello\": \"world\"}");
        ck_assert(!http_request_is_pending(first));
        http_request_free(first);                       /* completed, owned: freed late */
        outcome_done(&o);
        http_client_free(l.client);
        sd_event_unref(l.event);
}
END_TEST

static void add_lifecycle_tests(TCase *tc) {
        tcase_add_test(tc, test_concurrent);
        tcase_add_test(tc, test_cancel_mid_request);
        tcase_add_test(tc, test_client_free_with_pending);
        tcase_add_test(tc, test_free_from_callback);
        tcase_add_test(tc, test_client_free_from_callback);
        tcase_add_test(tc, test_chain_from_callback);
}

static Suite *http_suite(void) {
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("requests");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_get_json);
        tcase_add_test(tc, test_post_echo);
        tcase_add_test(tc, test_get_echo_user_agent_and_empty_post);
        tcase_add_loop_test(tc, test_status, 0, ELEMENTSOF(status_cases));
        tcase_add_test(tc, test_drip_assembles_body);
        tcase_add_test(tc, test_plain_http_link_local_only);
        tcase_add_test(tc, test_proxy_option_and_bypass);
        suite_add_tcase(s, tc);

        tc = tcase_create("failures");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_transport_errors, 0, ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_timeout_stall);
        tcase_add_test(tc, test_timeout_slow_drip);
        tcase_add_loop_test(tc, test_size_cap, 0, ELEMENTSOF(cap_cases));
        tcase_add_loop_test(tc, test_bad_spec, 0, ELEMENTSOF(spec_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("parsers");
        tcase_add_loop_test(tc, test_parse_retry_after, 0, ELEMENTSOF(retry_cases));
        tcase_add_test(tc, test_request_id_is_valid);
        suite_add_tcase(s, tc);

        tc = tcase_create("lifecycle");
        tcase_set_timeout(tc, 30);
        add_lifecycle_tests(tc);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int r;

        if (!https_server_start("http"))
                return EXIT_TEST_SKIP;
        log_set_max_level(LOG_ERR);
        r = check_run(http_suite());
        https_server_stop();
        return r;
}
