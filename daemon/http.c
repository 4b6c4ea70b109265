/* SPDX-License-Identifier: MIT */
/* libcurl multi-socket transfers driven by sd-event I/O and timer sources, so the loop never blocks.
 * Owns every curl handle; callers only see HttpRequest handles and HttpResult values. */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "http.h"
#include "log.h"

#define HTTP_HEADER_VALUE_MAX 1024

#ifndef new0
#define new0(t, n) ((t *) calloc((n), sizeof(t)))
#endif

#define LIST_PREPEND(head, item)                         \
        do {                                             \
                (item)->prev = NULL;                     \
                (item)->next = (head);                   \
                if (head)                                \
                        (head)->prev = (item);           \
                (head) = (item);                         \
        } while (0)
#define LIST_REMOVE(head, item)                          \
        do {                                             \
                if ((item)->next)                        \
                        (item)->next->prev = (item)->prev; \
                if ((item)->prev)                        \
                        (item)->prev->next = (item)->next; \
                else                                     \
                        (head) = (item)->next;           \
                (item)->next = (item)->prev = NULL;      \
        } while (0)

typedef struct HttpSocket HttpSocket;

struct HttpSocket {
        HttpClient *client;
        sd_event_source *source;
        HttpSocket *prev, *next;
};

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        HttpSocket *sockets;
        HttpRequest *requests;          /* pending only */
        char *ca_file;
        char *proxy;
        char *user_agent;
        uint64_t connect_timeout_usec;
        uint64_t total_timeout_usec;
        size_t max_response_size;
        unsigned dispatching;           /* > 0 while completions are being delivered */
        bool free_requested;
};

struct HttpRequest {
        HttpClient *client;             /* NULL once completed, cancelled or detached */
        HttpRequest *prev, *next;
        CURL *easy;
        struct curl_slist *headers;
        uint8_t *body;
        size_t body_size;
        char *response;
        size_t response_size;
        size_t response_alloc;
        size_t max_response;
        bool too_large;
        char *retry_after;
        char *content_type;
        char *ms_error_code;
        char *request_id;
        char *service_version;
        http_done_fn callback;
        void *userdata;
        bool floating;                  /* owned by the client: freed after the callback */
        bool in_callback;
        char errbuf[CURL_ERROR_SIZE];
};

static const char *const http_method_table[_HTTP_METHOD_MAX] = {
        [HTTP_GET] = "GET",
        [HTTP_POST] = "POST",
};

const char *http_method_to_string(HttpMethod m) {
        if (m < 0 || m >= _HTTP_METHOD_MAX)
                return NULL;
        return http_method_table[m];
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static long usec_to_msec_long(uint64_t usec) {
        uint64_t ms = usec / USEC_PER_MSEC + (usec % USEC_PER_MSEC != 0);

        return ms > LONG_MAX ? LONG_MAX : (long) ms;
}

/* Curl copies header strings into its own list; wipe them (one may carry a bearer token). */
static void slist_erase_free(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                explicit_erase(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

static void socket_free(HttpSocket *s) {
        if (!s)
                return;
        LIST_REMOVE(s->client->sockets, s);
        sd_event_source_disable_unref(s->source);
        free(s);
}

/* Releases everything curl-related of R and unlinks it from its client. R itself stays. */
static void request_detach(HttpRequest *r) {
        HttpClient *c = r->client;

        if (c) {
                if (r->easy)
                        (void) curl_multi_remove_handle(c->multi, r->easy);
                LIST_REMOVE(c->requests, r);
                r->client = NULL;
        }
        if (r->easy) {
                curl_easy_cleanup(r->easy);
                r->easy = NULL;
        }
        slist_erase_free(r->headers);
        r->headers = NULL;
        explicit_erase(r->body, r->body_size);
        r->body = mfree(r->body);
        explicit_erase(r->response, r->response_alloc);
        r->response = mfree(r->response);
        r->response_size = r->response_alloc = 0;
        r->retry_after = mfree(r->retry_after);
        r->content_type = mfree(r->content_type);
        r->ms_error_code = mfree(r->ms_error_code);
        r->request_id = mfree(r->request_id);
        r->service_version = mfree(r->service_version);
}

static void request_destroy(HttpRequest *r) {
        request_detach(r);
        free(r);
}

HttpRequest *http_request_free(HttpRequest *r) {
        if (!r)
                return NULL;
        /* Inside its own callback: the completion code frees it once the callback returns. */
        if (r->in_callback)
                r->floating = true;
        else
                request_destroy(r);
        return NULL;
}

bool http_request_is_pending(const HttpRequest *r) {
        return r && r->client && !r->in_callback;
}

static void result_done(HttpResult *res) {
        if (res->body)
                explicit_erase(res->body, res->body_size);
        free(res->body);
        free(res->error_text);
        free(res->content_type);
        free(res->ms_error_code);
        free(res->request_id);
        *res = (HttpResult) {};
}

static int curl_code_to_errno(HttpRequest *r, CURLcode code) {
        long os_errno = 0;

        switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -ENXIO;
        case CURLE_COULDNT_CONNECT:
                if (curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno > 0 &&
                    os_errno < 4096)
                        return (int) -os_errno;
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_ISSUER_ERROR:
                return -EPERM;
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
                return -ENOKEY;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_PROXY:
                return -EPROTO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_WRITE_ERROR:
                return r->too_large ? -EFBIG : -EIO;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_ABORTED_BY_CALLBACK:
                return -ECANCELED;
        default:
                return -EIO;
        }
}

static void request_complete(HttpRequest *r, CURLcode code) {
        _cleanup_(result_done) HttpResult res = { .retry_after_sec = -1 };

        if (code == CURLE_OK) {
                (void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
                if (!r->response) {
                        r->response = calloc(1, 1);
                        r->response_alloc = 1;
                }
                if (!r->response)
                        res.error = -ENOMEM;
        } else
                res.error = curl_code_to_errno(r, code);

        /* Also after a reply that broke off (too large): its headers did arrive. */
        if (r->request_id && http_request_id_is_valid(r->request_id))
                res.request_id = TAKE_PTR(r->request_id);
        if (res.error == 0) {
                if (r->retry_after &&
                    http_parse_retry_after(r->retry_after, (int64_t) time(NULL), &res.retry_after_sec) < 0)
                        res.retry_after_sec = -1;
                res.content_type = TAKE_PTR(r->content_type);
                res.ms_error_code = TAKE_PTR(r->ms_error_code);
                res.body = TAKE_PTR(r->response);
                res.body_size = r->response_size;
                r->response_alloc = r->response_size = 0;
                /* Support asks for the request id of any call, not only of failed ones. */
                log_debug("HTTP %ld, %zu bytes (request id %s, service version %s).", res.status,
                          res.body_size, strna(res.request_id), strna(r->service_version));
        } else {
                res.status = 0;
                if (asprintf(&res.error_text, "%s%s%s", curl_easy_strerror(code), r->errbuf[0] ? ": " : "",
                             r->errbuf) < 0)
                        res.error_text = NULL;
                log_debug_errno(res.error, "HTTP request failed: %s", strna(res.error_text));
        }

        request_detach(r);

        r->in_callback = true;
        r->callback(r, &res, r->userdata);
        r->in_callback = false;
        if (r->floating)
                request_destroy(r);
}

static void client_destroy(HttpClient *c) {
        while (c->requests)
                request_detach(c->requests);
        if (c->multi) {
                /* Our callbacks must not run against a half-freed client. */
                (void) curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
                (void) curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
                (void) curl_multi_cleanup(c->multi);
        }
        while (c->sockets)
                socket_free(c->sockets);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c->ca_file);
        free(c->proxy);
        free(c->user_agent);
        free(c);
        curl_global_cleanup();
}

/* Delivers every finished transfer. A callback may start, cancel or free requests and even free the
 * client; the latter is deferred until the outermost dispatch returns. */
static void client_process(HttpClient *c) {
        CURLMsg *m;
        int left;

        c->dispatching++;
        while (!c->free_requested && (m = curl_multi_info_read(c->multi, &left))) {
                HttpRequest *r = NULL;
                CURLcode code;

                if (m->msg != CURLMSG_DONE)
                        continue;
                code = m->data.result;
                if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &r) != CURLE_OK || !r)
                        continue;
                request_complete(r, code);
        }
        c->dispatching--;
        if (c->free_requested && c->dispatching == 0)
                client_destroy(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpSocket *hs = userdata;
        HttpClient *c = hs->client; /* hs may be freed by the socket callback below */
        int action = 0, running;

        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        client_process(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        client_process(c);
        return 0;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in FD onto an sd-event I/O source. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        HttpSocket *hs = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                socket_free(hs);
                return 0;
        }
        if (what & CURL_POLL_IN)
                events |= EPOLLIN;
        if (what & CURL_POLL_OUT)
                events |= EPOLLOUT;

        if (hs) {
                r = sd_event_source_set_io_events(hs->source, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(hs->source, SD_EVENT_ON);
                if (r < 0) {
                        log_debug_errno(r, "Failed to update I/O source for fd %d: %m", fd);
                        return -1;
                }
                return 0;
        }

        hs = new0(HttpSocket, 1);
        if (!hs)
                return -1;
        hs->client = c;
        r = sd_event_add_io(c->event, &hs->source, fd, events, on_io, hs);
        if (r < 0) {
                log_debug_errno(r, "Failed to add I/O source for fd %d: %m", fd);
                free(hs);
                return -1;
        }
        (void) sd_event_source_set_description(hs->source, "http-io");
        LIST_PREPEND(c->sockets, hs);
        if (curl_multi_assign(c->multi, fd, hs) != CURLM_OK) {
                socket_free(hs);
                return -1;
        }
        return 0;
}

/* CURLMOPT_TIMERFUNCTION: one one-shot CLOCK_MONOTONIC timer; -1 disarms it. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;
        uint64_t when;
        int r;

        if (timeout_ms < 0) {
                if (c->timer)
                        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return 0;
        }
        when = now_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_ms * USEC_PER_MSEC;

        if (c->timer) {
                r = sd_event_source_set_time(c->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(c->event, &c->timer, CLOCK_MONOTONIC, when, USEC_PER_MSEC, on_timer, c);
                if (r >= 0)
                        (void) sd_event_source_set_description(c->timer, "http-timer");
        }
        if (r < 0) {
                log_debug_errno(r, "Failed to arm the curl timer: %m");
                return -1;
        }
        return 0;
}

int http_client_new(sd_event *event, const HttpOptions *options, HttpClient **ret) {
        const HttpOptions empty = {};
        HttpClient *c;

        if (!event || !ret)
                return -EINVAL;
        if (!options)
                options = &empty;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return log_debug_errno(-EIO, "Failed to initialise libcurl.");

        c = new0(HttpClient, 1);
        if (!c) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        c->event = sd_event_ref(event);
        c->connect_timeout_usec = options->connect_timeout_usec ?: HTTP_CONNECT_TIMEOUT_DEFAULT_USEC;
        c->total_timeout_usec = options->total_timeout_usec ?: HTTP_TOTAL_TIMEOUT_DEFAULT_USEC;
        c->max_response_size = options->max_response_size ?: HTTP_MAX_RESPONSE_DEFAULT;
        c->ca_file = options->ca_file ? strdup(options->ca_file) : NULL;
        c->proxy = options->proxy ? strdup(options->proxy) : NULL;
        c->user_agent = strdup(options->user_agent ?: "attestd/" PACKAGE_VERSION);
        c->multi = curl_multi_init();
        if (!c->multi || !c->user_agent || (options->ca_file && !c->ca_file) ||
            (options->proxy && !c->proxy)) {
                client_destroy(c);
                return -ENOMEM;
        }

        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
                client_destroy(c);
                return log_debug_errno(-EIO, "Failed to configure the curl multi handle.");
        }

        *ret = c;
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c || c->free_requested)
                return NULL;

        c->free_requested = true;
        while (c->requests) {
                HttpRequest *r = c->requests;

                request_detach(r);
                if (r->floating)
                        free(r);
        }
        if (c->dispatching == 0)
                client_destroy(c);
        else if (c->timer)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        return NULL;
}

sd_event *http_client_get_event(HttpClient *c) {
        return c ? c->event : NULL;
}

/* Appends response bytes, never growing past the cap. realloc() is avoided on purpose: it could
 * leave unwiped copies of a token reply behind. */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpRequest *r = userdata;
        size_t n = size * nmemb;

        if (n > r->max_response - r->response_size) {
                r->too_large = true;
                return 0; /* != n: curl aborts with CURLE_WRITE_ERROR */
        }
        if (r->response_size + n + 1 > r->response_alloc) {
                size_t want = MAX(r->response_size + n + 1,
                                  MIN(MAX(r->response_alloc * 2, (size_t) 4096), r->max_response + 1));
                char *p = malloc(want);

                if (!p)
                        return 0;
                if (r->response) {
                        memcpy(p, r->response, r->response_size);
                        explicit_erase(r->response, r->response_alloc);
                        free(r->response);
                }
                r->response = p;
                r->response_alloc = want;
        }
        memcpy(r->response + r->response_size, ptr, n);
        r->response_size += n;
        r->response[r->response_size] = 0;
        return n;
}

static char **header_slot(HttpRequest *r, const char *name, size_t len) {
        static const struct {
                const char *name;
                size_t offset;
        } table[] = {
                { "Retry-After", offsetof(HttpRequest, retry_after) },
                { "Content-Type", offsetof(HttpRequest, content_type) },
                { "x-ms-error-code", offsetof(HttpRequest, ms_error_code) },
                { "x-ms-request-id", offsetof(HttpRequest, request_id) },
                { "x-ms-maa-service-version", offsetof(HttpRequest, service_version) },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strlen(table[i].name) == len && strncasecmp(table[i].name, name, len) == 0)
                        return (char **) ((uint8_t *) r + table[i].offset);
        return NULL;
}

/* Keeps the few response headers callers need. A new status line (after a 1xx interim response)
 * starts over, so only the final response's headers remain. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
        HttpRequest *r = userdata;
        size_t n = size * nitems, vlen;
        const char *colon, *v;
        char **slot, *copy;

        if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
                r->retry_after = mfree(r->retry_after);
                r->content_type = mfree(r->content_type);
                r->ms_error_code = mfree(r->ms_error_code);
                r->request_id = mfree(r->request_id);
                r->service_version = mfree(r->service_version);
                return n;
        }
        colon = memchr(buf, ':', n);
        if (!colon)
                return n;
        slot = header_slot(r, buf, colon - buf);
        if (!slot)
                return n;

        v = colon + 1;
        vlen = n - (v - buf);
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
                v++, vlen--;
        while (vlen > 0 && strchr(" \t\r\n", v[vlen - 1]))
                vlen--;
        if (vlen > HTTP_HEADER_VALUE_MAX)
                return n;
        for (size_t i = 0; i < vlen; i++)
                if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
                        return n; /* ignore values that could forge log lines */

        copy = strndup(v, vlen);
        if (!copy)
                return 0;
        free(*slot);
        *slot = copy;
        return n;
}

static bool host_is_local(const char *host) {
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        struct in_addr a4;
        size_t l = strlen(host);

        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1) {
                uint32_t a = ntohl(a4.s_addr);

                return (a >> 24) == 127 || (a >> 16) == 0xa9fe; /* 127/8, 169.254/16 */
        }
        if (l < 3 || host[0] != '[' || host[l - 1] != ']' || l - 2 >= sizeof buf)
                return false;
        memcpy(buf, host + 1, l - 2);
        buf[l - 2] = 0;
        return inet_pton(AF_INET6, buf, &a6) == 1 &&
               (IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_LINKLOCAL(&a6));
}

static void curl_freep(char **p) {
        curl_free(*p);
}

static void curl_url_cleanupp(CURLU **u) {
        if (*u)
                curl_url_cleanup(*u);
}

static int url_check(const char *url, bool allow_http) {
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL;
        bool https;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
                return log_debug_errno(-EINVAL, "Malformed URL '%s'.", url);

        https = strcasecmp(scheme, "https") == 0;
        if (!https && strcasecmp(scheme, "http") != 0)
                return log_debug_errno(-EPROTONOSUPPORT, "URL scheme '%s' is not allowed.", scheme);
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
                return log_debug_errno(-EINVAL, "URL '%s' has no host.", url);
        if (!https && !(allow_http && host_is_local(host)))
                return log_debug_errno(-EPROTONOSUPPORT,
                                       "Plain http is not allowed for host '%s'.", host);
        return 0;
}

static int request_build_headers(HttpRequest *req, const char *const *headers) {
        /* "Expect:" suppresses the 100-continue round trip curl would add for large bodies. */
        struct curl_slist *l = curl_slist_append(NULL, "Expect:");

        if (!l)
                return -ENOMEM;
        for (const char *const *h = headers; h && *h; h++) {
                struct curl_slist *n;

                if (strpbrk(*h, "\r\n") || !strchr(*h, ':') || **h == ':') {
                        slist_erase_free(l);
                        return log_debug_errno(-EINVAL, "Malformed request header at index %zu.",
                                               (size_t) (h - headers));
                }
                n = curl_slist_append(l, *h);
                if (!n) {
                        slist_erase_free(l);
                        return -ENOMEM;
                }
                l = n;
        }
        req->headers = l;
        return 0;
}

static int request_setup_easy(HttpClient *c, HttpRequest *req, const HttpRequestSpec *spec) {
        uint64_t total = spec->timeout_usec ?: c->total_timeout_usec;
#if LIBCURL_VERSION_NUM >= 0x075500
        const char *protocols = spec->allow_http ? "http,https" : "https";
#else
        long protocol_mask = spec->allow_http ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS;
#endif
        long connect_ms = usec_to_msec_long(c->connect_timeout_usec);
        bool ok;
        CURL *e;

        e = req->easy = curl_easy_init();
        if (!e)
                return -ENOMEM;

        ok = curl_easy_setopt(e, CURLOPT_PRIVATE, req) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_URL, spec->url) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
             curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols) == CURLE_OK &&
#else
             curl_easy_setopt(e, CURLOPT_PROTOCOLS, protocol_mask) == CURLE_OK &&
#endif
#if LIBCURL_VERSION_NUM >= 0x075700
             /* Cancelling must not wait for a threaded getaddrinfo() to return. */
             curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L) == CURLE_OK &&
#endif
             curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, usec_to_msec_long(total)) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_WRITEDATA, req) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_HEADERDATA, req) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->max_response) == CURLE_OK;
        if (ok && c->ca_file)
                /* The configured bundle replaces the system store (no CAPATH fallback). */
                ok = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_CAPATH, NULL) == CURLE_OK;
        if (ok && spec->no_proxy)
                ok = curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK; /* "" also ignores the environment */
        else if (ok && c->proxy)
                ok = curl_easy_setopt(e, CURLOPT_PROXY, c->proxy) == CURLE_OK;
        if (ok && spec->method == HTTP_POST)
                ok = curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size) ==
                             CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body) == CURLE_OK;
        else if (ok)
                ok = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
        if (!ok)
                return log_debug_errno(-EIO, "Failed to configure the curl handle.");
        return 0;
}

int http_request(HttpClient *c, const HttpRequestSpec *spec, http_done_fn cb, void *userdata,
                 HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *req = NULL;
        int r;

        if (!c || !spec || !spec->url || !cb || c->free_requested || !http_method_to_string(spec->method))
                return -EINVAL;
        if ((spec->method == HTTP_GET && spec->body_size > 0) || (spec->body_size > 0 && !spec->body))
                return -EINVAL;
        r = url_check(spec->url, spec->allow_http);
        if (r < 0)
                return r;

        req = new0(HttpRequest, 1);
        if (!req)
                return -ENOMEM;
        req->callback = cb;
        req->userdata = userdata;
        req->max_response = spec->max_response_size ?: c->max_response_size;
        if (spec->method == HTTP_POST) {
                req->body = malloc(MAX(spec->body_size, (size_t) 1));
                if (!req->body)
                        return -ENOMEM;
                if (spec->body_size > 0)
                        memcpy(req->body, spec->body, spec->body_size);
                req->body_size = spec->body_size;
        }
        r = request_build_headers(req, spec->headers);
        if (r < 0)
                return r;
        r = request_setup_easy(c, req, spec);
        if (r < 0)
                return r;

        if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK)
                return log_debug_errno(-EIO, "Failed to add the transfer to the curl multi handle.");
        req->client = c;
        LIST_PREPEND(c->requests, req);
        req->floating = !ret;

        log_debug("HTTP %s %s started.", http_method_to_string(spec->method), spec->url);
        if (ret)
                *ret = req;
        TAKE_PTR(req);
        return 0;
}

bool http_request_id_is_valid(const char *id) {
        size_t n = strlen(id);

        /* It lands in LastError and a journal field: no spaces, quotes or separators. */
        return n > 0 && n <= HTTP_REQUEST_ID_MAX &&
               strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.:-") == n;
}

int http_parse_retry_after(const char *value, int64_t now, int64_t *ret_sec) {
        bool alpha = false;
        char buf[64];
        time_t t;
        size_t n;

        if (!value || !ret_sec)
                return -EINVAL;
        value += strspn(value, " \t");
        n = strlen(value);
        while (n > 0 && strchr(" \t\r\n", value[n - 1]))
                n--;
        if (n == 0 || n >= sizeof buf)
                return -EINVAL;
        memcpy(buf, value, n);
        buf[n] = 0;

        if (strspn(buf, "0123456789") == n) {
                unsigned long long v;

                if (n > 10)
                        return -ERANGE;
                v = strtoull(buf, NULL, 10);
                if (v > INT32_MAX)
                        return -ERANGE;
                *ret_sec = (int64_t) v;
                return 0;
        }

        /* An HTTP-date always names a weekday or month; curl_getdate() knows all three forms. */
        for (size_t i = 0; i < n; i++) {
                if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
                        return -EINVAL;
                if (isalpha((unsigned char) buf[i]))
                        alpha = true;
        }
        if (!alpha)
                return -EINVAL;
        t = curl_getdate(buf, NULL);
        if (t == (time_t) -1)
                return -EINVAL;
        if ((int64_t) t <= now) {
                *ret_sec = 0;
                return 0;
        }
        if ((int64_t) t - now > INT32_MAX)
                return -ERANGE;
        *ret_sec = (int64_t) t - now;
        return 0;
}
