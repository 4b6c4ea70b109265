/* SPDX-License-Identifier: MIT */
/* The driver shared by every provider: one run at a time, HTTP plumbing, classification of HTTP
 * failures, Retry-After capping, the OpenID/JWKS fetch and token verification. What is sent and how
 * the token comes back is the provider's business (provider-*.c). */
#include <stdarg.h>
#include <time.h>

#include "attest-internal.h"
#include "cleanup.h"
#include "log.h"
#include "maa-error.h"
#include "maa-msg.h"

static const char *const outcome_table[_ATTEST_OUTCOME_MAX] = {
        [ATTEST_OK] = "ok",
        [ATTEST_RETRY] = "retry",
        [ATTEST_DENIED] = "denied",
        [ATTEST_ERROR] = "error",
};

const char *attest_outcome_to_string(AttestOutcome o) {
        return o >= 0 && o < _ATTEST_OUTCOME_MAX ? outcome_table[o] : NULL;
}

static const char *const failure_class_table[_ATTEST_FAILURE_CLASS_MAX] = {
        [ATTEST_FAILURE_LOCAL] = "local",
        [ATTEST_FAILURE_UNREACHABLE] = "unreachable",
        [ATTEST_FAILURE_SERVICE] = "service",
        [ATTEST_FAILURE_DENIED] = "denied",
        [ATTEST_FAILURE_UNAUTHORIZED] = "unauthorized",
        [ATTEST_FAILURE_TOKEN] = "token",
};

const char *attest_failure_class_to_string(AttestFailureClass c) {
        return c >= 0 && c < _ATTEST_FAILURE_CLASS_MAX ? failure_class_table[c] : NULL;
}

void attest_result_done(AttestResult *r) {
        free(r->message);
        free(r->request_id);
        free(r->token);
        free(r->jwks);
        json_object_put(r->header);
        json_object_put(r->claims);
        *r = (AttestResult) {};
}

static void run_reset(Attester *a) {
        a->http_req = http_request_free(a->http_req);
        a->keys_req = http_request_free(a->keys_req);
        a->keys_quiet = false;
        a->finish_source = sd_event_source_disable_unref(a->finish_source);
        if (a->provider && a->provider->reset)
                a->provider->reset(a);
        a->report = mfree(a->report);
        a->report_request_id = mfree(a->report_request_id);
        a->expect = (TokenExpect) {};
        a->replay_mismatch = NULL;
        a->jwks_fetched = false;
        attest_result_done(&a->result);
        a->tpm = NULL;
        a->running = false;
}

static int on_finish(sd_event_source *s, void *userdata) {
        Attester *a = userdata;
        AttestResult result = a->result;
        attest_done_fn cb = a->cb;
        void *ud = a->userdata;

        a->result = (AttestResult) {};
        run_reset(a);
        if (a->provider && a->provider->idle)
                a->provider->idle(a);
        result.provider = a->provider ? a->provider->name : NULL;
        result.endpoint = a->endpoint;
        cb(a, &result, ud);
        attest_result_done(&result);
        return 0;
}

void attest_finish(Attester *a, AttestOutcome outcome, int error, const char *fmt, ...) {
        a->result.outcome = outcome;
        /* Two classes follow from what every path already records, so no call site can get them
         * wrong; the others are set by the caller in a->result.failure_class. */
        if (a->result.no_reply)
                a->result.failure_class = ATTEST_FAILURE_UNREACHABLE;
        else if (outcome == ATTEST_DENIED)
                a->result.failure_class = ATTEST_FAILURE_DENIED;
        a->result.error = error;
        if (fmt) {
                _cleanup_free_ char *text = NULL;
                va_list ap;
                int k;

                va_start(ap, fmt);
                k = vasprintf(&text, fmt, ap);
                va_end(ap);
                if (k >= 0 && a->result.request_id)
                        k = asprintf(&a->result.message, "%s (request id %s)", text, a->result.request_id);
                else if (k >= 0)
                        a->result.message = TAKE_PTR(text);
                if (k < 0)
                        a->result.message = NULL;
        }
        /* Nothing of the run may call back any more (a pending Entra request, say). */
        a->http_req = http_request_free(a->http_req);
        a->keys_req = http_request_free(a->keys_req);
        if (a->provider && a->provider->reset)
                a->provider->reset(a);
        if (sd_event_add_defer(a->event, &a->finish_source, on_finish, a) < 0)
                on_finish(NULL, a); /* cannot defer: deliver now rather than never */
}

int attest_http(Attester *a, const HttpRequestSpec *spec, http_done_fn cb) {
        a->result.round_trips++;
        return http_request(a->http, spec, cb, a, &a->http_req);
}

int attest_post(Attester *a, const char *suffix, const char *const *headers, const char *body, http_done_fn cb) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = endpoint_url(a->endpoint, suffix, &url);
        if (r < 0)
                return r;
        HttpRequestSpec spec = {
                .method = HTTP_POST,
                .url = url,
                .headers = headers,
                .body = body,
                .body_size = strlen(body),
                .max_response_size = MAA_REPLY_MAX,
        };
        return attest_http(a, &spec, cb);
}

int attest_get(Attester *a, const char *url, size_t max, const char *const *extra_headers, bool allow_http,
               http_done_fn cb) {
        static const char *const json_headers[] = { "Accept: application/json", NULL };
        HttpRequestSpec spec = {
                .method = HTTP_GET,
                .url = url,
                .headers = extra_headers ?: json_headers,
                .max_response_size = max,
                .allow_http = allow_http,
                .no_proxy = allow_http,
        };
        return attest_http(a, &spec, cb);
}

void attest_keep_retry_after(Attester *a, int64_t sec) {
        /* A server (or anyone on the plain-HTTP path to IMDS) must not park attestd for years. */
        if (sec > 0)
                a->result.retry_after_usec = MIN((uint64_t) sec * USEC_PER_SEC, a->config->retry_max_usec);
}

/* The reply's request id becomes the run's, for the message and the journal. */
static void keep_request_id(Attester *a, HttpResult *res) {
        free(a->result.request_id);
        a->result.request_id = TAKE_PTR(res->request_id);
}

void attest_forget_request_id(Attester *a) {
        a->result.request_id = mfree(a->result.request_id);
}

/* Only a 400 to the evidence itself, or the "no policy" reply, is a verdict on the host; a 400
 * elsewhere means our request was wrong (api-version...). Classified by status and message only:
 * the real service's codes vary ("Bad request" with a space) and it often sends no x-ms-error-code. */
bool attest_reply_failed(Attester *a, HttpResult *res, const char *what, bool evidence) {
        _cleanup_free_ char *code = NULL, *message = NULL, *line = NULL, *status = NULL;
        const char *c, *endpoint = strna(a->endpoint);
        const char *hint = a->replay_mismatch;

        keep_request_id(a, res);
        if (res->error == -EFBIG) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                attest_finish(a, ATTEST_RETRY, res->error, "%s: the reply from %s is larger than allowed; refusing it",
                              what, endpoint);
                return true;
        }
        if (res->error < 0) {
                a->result.no_reply = true;
                attest_finish(a, ATTEST_RETRY, res->error, "%s: cannot reach %s: %s", what, endpoint,
                              res->error_text ?: strerror(-res->error));
                return true;
        }
        if (res->status == 200)
                return false;
        /* An error reply is the service's, unless the cases below say otherwise. */
        a->result.failure_class = ATTEST_FAILURE_SERVICE;

        if (maa_parse_error(res->body, res->body_size, &code, &message) < 0 ||
            maa_error_one_line(message, &line) < 0) {
                attest_finish(a, ATTEST_RETRY, -ENOMEM, "%s: out of memory", what);
                return true;
        }
        attest_keep_retry_after(a, res->retry_after_sec);
        /* The code is shown, never relied on. */
        c = code ?: res->ms_error_code;
        if (asprintf(&status, "HTTP %ld%s%s", res->status, c ? " " : "", strempty(c)) < 0) {
                attest_finish(a, ATTEST_RETRY, -ENOMEM, "%s: out of memory", what);
                return true;
        }

        switch (maa_error_classify(res->status, message, evidence)) {
        case MAA_ERROR_NO_POLICY:
                attest_finish(a, ATTEST_DENIED, -EPERM,
                              "%s: the attestation provider has no TPM policy; upload one "
                              "(az attestation policy set --attestation-type TPM ...) (%s): %s", what, status, line);
                break;
        case MAA_ERROR_POLICY_DENIED:
                attest_finish(a, ATTEST_DENIED, -EPERM, "%s: the attestation policy denied the evidence (%s): %s%s%s",
                              what, status, line, hint ? "; local replay differs: " : "", strempty(hint));
                break;
        case MAA_ERROR_EVIDENCE_REFUSED:
                attest_finish(a, ATTEST_DENIED, -EPERM, "%s: the service refused the evidence (%s): %s%s%s",
                              what, status, line, hint ? "; local replay differs: " : "", strempty(hint));
                break;
        case MAA_ERROR_BAD_REQUEST:
                attest_finish(a, ATTEST_ERROR, -EINVAL, "%s: the service rejected the request (%s): %s", what,
                              status, line);
                break;
        case MAA_ERROR_UNAUTHORIZED:
                auth_invalidate(a->auth);
                a->result.failure_class = ATTEST_FAILURE_UNAUTHORIZED;
                attest_finish(a, ATTEST_ERROR, -EACCES,
                              "%s: not authorized (%s): %s; check AuthMethod= and the identity's role on the provider",
                              what, status, line);
                break;
        case MAA_ERROR_BUSY:
                attest_finish(a, ATTEST_RETRY, -EAGAIN, "%s: service busy (HTTP %ld): %s", what, res->status, line);
                break;
        default:
                attest_finish(a, res->status >= 500 ? ATTEST_RETRY : ATTEST_ERROR, -EPROTO,
                              "%s: unexpected HTTP %ld from %s: %s", what, res->status, endpoint, line);
        }
        return true;
}

static void step_verify(Attester *a);
static void step_fetch_keys(Attester *a);

/* The key set is fetched on a->keys_req, beside the provider's request, so a fetch started ahead
 * of the token (keys_quiet) overlaps the legs. A failure of that early fetch is not the run's: it
 * is dropped, and the token, when it comes, fetches again with the usual errors. Returns true when
 * the reply must not be used (the run finished, or the early fetch was dropped). */
static bool keys_reply_failed(Attester *a, HttpResult *res, const char *what) {
        if (!a->keys_quiet)
                return attest_reply_failed(a, res, what, false);
        if (res->error >= 0 && res->status == 200)
                return false;
        log_debug("Fetching the key set ahead of the token failed (%s), will fetch it after.", what);
        a->keys_quiet = false;
        a->jwks_fetched = false;
        return true;
}

/* The same for a reply that came but cannot be used: finishes the run with the message, or drops an
 * early fetch. */
_printf_(4, 5) static void keys_bad_reply(Attester *a, AttestOutcome outcome, int error, const char *fmt, ...) {
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (a->keys_quiet) {
                log_debug("Fetching the key set ahead of the token failed (%s), will fetch it after.", strna(text));
                a->keys_quiet = false;
                a->jwks_fetched = false;
                return;
        }
        /* A reply that cannot be used is retried and the service's; a request that cannot be made is
         * ours. */
        a->result.failure_class = outcome == ATTEST_RETRY ? ATTEST_FAILURE_SERVICE : ATTEST_FAILURE_LOCAL;
        attest_finish(a, outcome, error, "%s", k >= 0 ? text : "out of memory");
}

static int keys_get(Attester *a, const char *url, size_t max, http_done_fn cb) {
        static const char *const json_headers[] = { "Accept: application/json", NULL };
        HttpRequestSpec spec = {
                .method = HTTP_GET,
                .url = url,
                .headers = json_headers,
                .max_response_size = max,
        };
        a->result.round_trips++;
        return http_request(a->http, &spec, cb, a, &a->keys_req);
}

static void on_jwks(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_free_ char *reason = NULL;
        Jwks *jwks = NULL;

        a->keys_req = http_request_free(a->keys_req);
        if (keys_reply_failed(a, res, "key set"))
                return;
        if (jwks_parse(res->body, res->body_size, &jwks, &reason) < 0)
                return keys_bad_reply(a, ATTEST_RETRY, -EBADMSG, "key set from %s is malformed: %s", a->jwks_url,
                                      strna(reason));
        char *text = strndup(res->body, res->body_size);
        if (!text) {
                jwks_free(jwks);
                return keys_bad_reply(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        }
        jwks_free(a->jwks);
        a->jwks = jwks;
        free(a->jwks_text);
        a->jwks_text = text;
        a->keys_quiet = false;
        if (a->report)
                step_verify(a);
}

static void fetch_jwks(Attester *a) {
        int r = keys_get(a, a->jwks_url, JWKS_SIZE_MAX, on_jwks);
        if (r < 0)
                keys_bad_reply(a, ATTEST_ERROR, r, "cannot request the key set %s: %s", a->jwks_url, strerror(-r));
}

static void on_openid(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(openid_config_freep) OpenIdConfig *oc = NULL;
        _cleanup_free_ char *reason = NULL, *pinned = NULL;

        a->keys_req = http_request_free(a->keys_req);
        if (keys_reply_failed(a, res, "OpenID metadata"))
                return;
        if (openid_config_parse(res->body, res->body_size, &oc, &reason) < 0)
                return keys_bad_reply(a, ATTEST_RETRY, -EBADMSG, "OpenID metadata of %s is malformed: %s",
                                      a->endpoint, strna(reason));
        if (jwks_url_for_endpoint(a->endpoint, &pinned) < 0)
                return keys_bad_reply(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        /* The key set must come from the endpoint, whatever the document says. */
        if (!endpoint_equal(oc->jwks_uri, pinned))
                return keys_bad_reply(a, ATTEST_RETRY, -EPERM,
                                      "OpenID metadata names key set %s, not %s under the endpoint; refusing it",
                                      oc->jwks_uri, pinned);
        a->jwks_url = TAKE_PTR(pinned);
        fetch_jwks(a);
}

static void step_fetch_keys(Attester *a) {
        _cleanup_free_ char *url = NULL;
        int r;

        a->jwks_fetched = true;
        if (a->jwks_url)
                return fetch_jwks(a);
        r = endpoint_url(a->endpoint, "/.well-known/openid-configuration", &url);
        if (r >= 0)
                r = keys_get(a, url, OPENID_CONFIG_SIZE_MAX, on_openid);
        if (r < 0)
                keys_bad_reply(a, ATTEST_ERROR, r, "cannot request the OpenID metadata: %s", strerror(-r));
}

/* With no key set cached and the endpoint known, fetches it while the provider's legs run. */
static void prefetch_keys(Attester *a) {
        if (a->jwks || !a->endpoint || a->keys_req)
                return;
        a->keys_quiet = true;
        step_fetch_keys(a);
}

static void step_verify(Attester *a) {
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_free_ char *reason = NULL;
        struct timespec ts;
        int r;

        if (!a->jwks) {
                if (a->keys_req) {
                        a->keys_quiet = false; /* the early fetch is the run's now: its reply goes on */
                        return;
                }
                step_fetch_keys(a);
                return;
        }

        TokenExpect expect = a->expect;
        expect.issuer = a->endpoint;
        expect.endpoint = a->endpoint;
        expect.skew_usec = a->config->clock_skew_usec;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;

        r = token_verify(a->report, a->jwks, &expect, now, &t, &reason);
        if (r == -ENOKEY && !a->jwks_fetched) {
                /* The service may have rotated its signing key: fetch the key set once more. */
                step_fetch_keys(a);
                return;
        }
        attest_forget_request_id(a); /* a key set fetch's: that call went well */
        if (r < 0) {
                a->result.request_id = TAKE_PTR(a->report_request_id);
                a->result.failure_class = ATTEST_FAILURE_TOKEN;
                return attest_finish(a, ATTEST_RETRY, r, "the service's token was rejected: %s", strna(reason));
        }
        /* A verified token that is (nearly) expired is still no result: publishing it would only
         * withdraw it again moments later, and re-attest in a loop. */
        r = token_check_usable(t, now, &reason);
        if (r < 0) {
                a->result.request_id = TAKE_PTR(a->report_request_id);
                a->result.failure_class = ATTEST_FAILURE_TOKEN;
                return attest_finish(a, ATTEST_RETRY, r, "the service's token is too short-lived to use "
                                     "(check the clocks of this host and the service): %s", strna(reason));
        }

        AttestResult *res = &a->result;
        res->token = TAKE_PTR(a->report);
        res->header = json_object_get(t->header);
        res->claims = json_object_get(t->claims);
        res->jwks = strdup(a->jwks_text);
        if (!res->jwks)
                return attest_finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        res->issued_usec = t->iat_usec;
        res->expires_usec = t->exp_usec;
        attest_finish(a, ATTEST_OK, 0, NULL);
}

void attest_verify_token(Attester *a, char *token) {
        free(a->report);
        a->report = token;
        a->report_request_id = TAKE_PTR(a->result.request_id);
        step_verify(a);
}

int attester_run(Attester *a, TpmContext *tpm, attest_done_fn cb, void *userdata) {
        if (a->running)
                return -EBUSY;
        a->running = true;
        a->tpm = tpm;
        a->cb = cb;
        a->userdata = userdata;
        prefetch_keys(a);
        a->provider->start(a);
        return 0;
}

void attester_cancel(Attester *a) {
        if (a->running)
                run_reset(a);
}

bool attester_is_running(const Attester *a) {
        return a->running;
}

const char *attester_get_provider(const Attester *a) {
        return a->provider->name;
}

const char *attester_get_endpoint(const Attester *a) {
        return a->endpoint;
}

int attester_new(sd_event *event, const Config *config, Attester **ret) {
        _cleanup_(attester_freep) Attester *a = NULL;
        int r;

        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);
        a->config = config;
        a->provider = config_resolve_provider(config) == PROVIDER_TPM ? &attest_provider_maa_tpm :
                                                                      &attest_provider_azure_guest;
        if (config->endpoint) {
                a->endpoint = strdup(config->endpoint);
                if (!a->endpoint)
                        return -ENOMEM;
        }

        HttpOptions ho = {
                .ca_file = config->ca_file,
                .proxy = config->proxy,
                .connect_timeout_usec = config->connect_timeout_usec,
                .total_timeout_usec = config->request_timeout_usec,
        };
        r = http_client_new(event, &ho, &a->http);
        if (r < 0)
                return r;
        AuthOptions ao = auth_options_from_config(config);
        r = auth_new(a->http, &ao, &a->auth);
        if (r < 0)
                return r;
        if (a->provider->init) {
                r = a->provider->init(a, &a->state);
                if (r < 0)
                        return r;
        }
        if (a->provider->idle)
                a->provider->idle(a);

        *ret = TAKE_PTR(a);
        return 0;
}

Attester *attester_free(Attester *a) {
        if (!a)
                return NULL;
        run_reset(a);
        if (a->provider && a->provider->free_state)
                a->provider->free_state(a->state);
        auth_free(a->auth);
        http_client_free(a->http);
        jwks_free(a->jwks);
        free(a->jwks_text);
        free(a->jwks_url);
        free(a->endpoint);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}
