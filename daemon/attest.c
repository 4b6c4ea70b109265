/* SPDX-License-Identifier: MIT */
/* One attestation as a chain of asynchronous steps: auth → leg 1 → evidence + leg 2 → JWKS (when
 * needed) → verify. Each step's failure is classified once, here, into an AttestOutcome and an
 * operator-facing message. */
#include <stdarg.h>
#include <time.h>

#include "attest.h"
#include "auth.h"
#include "b64.h"
#include "cleanup.h"
#include "evidence.h"
#include "http.h"
#include "jwks.h"
#include "maa-error.h"
#include "maa-msg.h"
#include "request-key.h"
#include "token.h"
#include "tpm-ak.h"

#define NONCE_SIZE 16

struct Attester {
        sd_event *event;
        const Config *config;
        HttpClient *http;
        Auth *auth;
        TpmAk *ak;                      /* loaded (or created) on the first run, then reused */
        Jwks *jwks;                     /* cached across runs, fetched again once on an unknown kid */
        char *jwks_text;                /* its document, handed on with a token verified against it */
        char *jwks_url;                 /* from the OpenID document, pinned to the endpoint */
        RequestKey *spare_key;          /* made while idle: RSA key generation takes 0.1-1 s */
        sd_event_source *keygen_source;

        /* The run in progress. */
        bool running;
        TpmContext *tpm;
        attest_done_fn cb;
        void *userdata;
        AuthRequest *auth_req;
        HttpRequest *http_req;
        sd_event_source *finish_source;
        char *authorization;
        Buffer challenge;
        char *service_context;
        RequestKey *key;
        char *rp_data;
        Evidence evidence;
        char *report;
        char *report_request_id;        /* leg 2's reply, for a token that is then rejected */
        bool jwks_fetched;
        AttestResult result;
};

static const char *const outcome_table[_ATTEST_OUTCOME_MAX] = {
        [ATTEST_OK] = "ok",
        [ATTEST_RETRY] = "retry",
        [ATTEST_DENIED] = "denied",
        [ATTEST_ERROR] = "error",
};

const char *attest_outcome_to_string(AttestOutcome o) {
        return o >= 0 && o < _ATTEST_OUTCOME_MAX ? outcome_table[o] : NULL;
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
        a->auth_req = auth_request_free(a->auth_req);
        a->http_req = http_request_free(a->http_req);
        a->finish_source = sd_event_source_disable_unref(a->finish_source);
        a->authorization = erase_and_free(a->authorization);
        buffer_done(&a->challenge);
        a->service_context = mfree(a->service_context);
        a->key = request_key_free(a->key);
        a->rp_data = mfree(a->rp_data);
        evidence_done(&a->evidence);
        a->report = mfree(a->report);
        a->report_request_id = mfree(a->report_request_id);
        a->jwks_fetched = false;
        attest_result_done(&a->result);
        a->tpm = NULL;
        a->running = false;
}

/* Makes the next run's request key while the loop has nothing else to do, so a PCR change or a
 * refresh does not wait for RSA key generation. The key never leaves memory. */
static int on_keygen(sd_event_source *s, void *userdata) {
        Attester *a = userdata;

        a->keygen_source = sd_event_source_disable_unref(a->keygen_source);
        /* Never while a run waits for the network: this blocks the loop for 0.1-1 s (more on a
         * loaded machine), and curl's timers would count it against the request. The run then
         * makes its key itself, between the legs, when nothing is in flight. */
        if (a->running)
                return 0;
        if (!a->spare_key && request_key_new(&a->spare_key) < 0)
                a->spare_key = NULL; /* made on demand then */
        return 0;
}

static void schedule_keygen(Attester *a) {
        if (a->spare_key || a->keygen_source)
                return;
        if (sd_event_add_defer(a->event, &a->keygen_source, on_keygen, a) >= 0)
                (void) sd_event_source_set_priority(a->keygen_source, SD_EVENT_PRIORITY_IDLE);
}

static int on_finish(sd_event_source *s, void *userdata) {
        Attester *a = userdata;
        AttestResult result = a->result;
        attest_done_fn cb = a->cb;
        void *ud = a->userdata;

        a->result = (AttestResult) {};
        run_reset(a);
        schedule_keygen(a);
        cb(a, &result, ud);
        attest_result_done(&result);
        return 0;
}

/* Ends the run: the callback fires from the event loop, never from within attester_run(). A request
 * id kept with keep_request_id() ends the message: support needs it to find the call. */
static void finish(Attester *a, AttestOutcome outcome, int error, const char *fmt, ...) _printf_(4, 5);
static void finish(Attester *a, AttestOutcome outcome, int error, const char *fmt, ...) {
        a->result.outcome = outcome;
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
        a->auth_req = auth_request_free(a->auth_req);
        a->http_req = http_request_free(a->http_req);
        if (sd_event_add_defer(a->event, &a->finish_source, on_finish, a) < 0)
                on_finish(NULL, a); /* cannot defer: deliver now rather than never */
}

static int post_leg(Attester *a, const char *body, http_done_fn cb) {
        _cleanup_free_ char *url = NULL, *suffix = NULL;
        const char *headers[4] = { "Content-Type: application/json", "Accept: application/json" };
        int r;

        if (asprintf(&suffix, "/attest/Tpm?api-version=%s", a->config->api_version) < 0)
                return -ENOMEM;
        r = endpoint_url(a->config->endpoint, suffix, &url);
        if (r < 0)
                return r;
        if (a->authorization)
                headers[2] = a->authorization;

        HttpRequestSpec spec = {
                .method = HTTP_POST,
                .url = url,
                .headers = headers,
                .body = body,
                .body_size = strlen(body),
                .max_response_size = MAA_REPLY_MAX,
        };
        a->result.round_trips++;
        return http_request(a->http, &spec, cb, a, &a->http_req);
}

static int get_url(Attester *a, const char *url, size_t max, http_done_fn cb) {
        static const char *const headers[] = { "Accept: application/json", NULL };
        HttpRequestSpec spec = {
                .method = HTTP_GET,
                .url = url,
                .headers = headers,
                .max_response_size = max,
        };
        a->result.round_trips++;
        return http_request(a->http, &spec, cb, a, &a->http_req);
}

/* The reply's request id becomes the run's, for the message and the journal. */
static void keep_request_id(Attester *a, HttpResult *res) {
        free(a->result.request_id);
        a->result.request_id = TAKE_PTR(res->request_id);
}

/* A reply that is not a usable 200: transport failure or HTTP error. Returns true (and finishes the
 * run) when the reply must not be used. Only a 400 to the evidence itself (leg 2), or the "no policy"
 * reply, is a verdict on the host; a 400 elsewhere means our request was wrong (api-version...).
 * Classified by status and message only: the real service's codes vary ("Bad request" with a
 * space) and it often sends no x-ms-error-code. */
static bool reply_failed(Attester *a, HttpResult *res, const char *what, bool evidence) {
        _cleanup_free_ char *code = NULL, *message = NULL, *line = NULL, *status = NULL;
        const char *c;

        keep_request_id(a, res);
        if (res->error == -EFBIG) {
                finish(a, ATTEST_RETRY, res->error, "%s: the reply from %s is larger than allowed; refusing it",
                       what, a->config->endpoint);
                return true;
        }
        if (res->error < 0) {
                finish(a, ATTEST_RETRY, res->error, "%s: cannot reach %s: %s", what, a->config->endpoint,
                       res->error_text ?: strerror(-res->error));
                return true;
        }
        if (res->status == 200)
                return false;

        if (maa_parse_error(res->body, res->body_size, &code, &message) < 0 ||
            maa_error_one_line(message, &line) < 0) {
                finish(a, ATTEST_RETRY, -ENOMEM, "%s: out of memory", what);
                return true;
        }
        if (res->retry_after_sec > 0)
                a->result.retry_after_usec = (uint64_t) res->retry_after_sec * USEC_PER_SEC;
        /* The code is shown, never relied on. */
        c = code ?: res->ms_error_code;
        if (asprintf(&status, "HTTP %ld%s%s", res->status, c ? " " : "", strempty(c)) < 0) {
                finish(a, ATTEST_RETRY, -ENOMEM, "%s: out of memory", what);
                return true;
        }

        switch (maa_error_classify(res->status, message, evidence)) {
        case MAA_ERROR_NO_POLICY:
                finish(a, ATTEST_DENIED, -EPERM,
                       "%s: the attestation provider has no TPM policy; upload one "
                       "(az attestation policy set --attestation-type TPM ...) (%s): %s", what, status, line);
                break;
        case MAA_ERROR_POLICY_DENIED:
                finish(a, ATTEST_DENIED, -EPERM, "%s: the attestation policy denied the evidence (%s): %s%s%s",
                       what, status, line, a->evidence.replay_mismatch ? "; local replay differs: " : "",
                       strempty(a->evidence.replay_mismatch));
                break;
        case MAA_ERROR_EVIDENCE_REFUSED:
                finish(a, ATTEST_DENIED, -EPERM, "%s: the service refused the evidence (%s): %s%s%s",
                       what, status, line, a->evidence.replay_mismatch ? "; local replay differs: " : "",
                       strempty(a->evidence.replay_mismatch));
                break;
        case MAA_ERROR_BAD_REQUEST:
                finish(a, ATTEST_ERROR, -EINVAL, "%s: the service rejected the request (%s): %s", what, status,
                       line);
                break;
        case MAA_ERROR_UNAUTHORIZED:
                auth_invalidate(a->auth);
                finish(a, ATTEST_ERROR, -EACCES,
                       "%s: not authorized (%s): %s; check AuthMethod= and the identity's role on the provider",
                       what, status, line);
                break;
        case MAA_ERROR_BUSY:
                finish(a, ATTEST_RETRY, -EAGAIN, "%s: service busy (HTTP %ld): %s", what, res->status, line);
                break;
        default:
                finish(a, res->status >= 500 ? ATTEST_RETRY : ATTEST_ERROR, -EPROTO,
                       "%s: unexpected HTTP %ld from %s: %s", what, res->status, a->config->endpoint, line);
        }
        return true;
}

static void step_verify(Attester *a);

static void on_jwks(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_free_ char *reason = NULL;
        Jwks *jwks = NULL;

        a->http_req = http_request_free(a->http_req);
        if (reply_failed(a, res, "key set", false))
                return;
        if (jwks_parse(res->body, res->body_size, &jwks, &reason) < 0)
                return finish(a, ATTEST_RETRY, -EBADMSG, "key set from %s is malformed: %s", a->jwks_url,
                              strna(reason));
        char *text = strndup(res->body, res->body_size);
        if (!text) {
                jwks_free(jwks);
                return finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        }
        jwks_free(a->jwks);
        a->jwks = jwks;
        free(a->jwks_text);
        a->jwks_text = text;
        step_verify(a);
}

static void fetch_jwks(Attester *a) {
        int r = get_url(a, a->jwks_url, JWKS_SIZE_MAX, on_jwks);
        if (r < 0)
                finish(a, ATTEST_ERROR, r, "cannot request the key set %s: %s", a->jwks_url, strerror(-r));
}

static void on_openid(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(openid_config_freep) OpenIdConfig *oc = NULL;
        _cleanup_free_ char *reason = NULL, *pinned = NULL;

        a->http_req = http_request_free(a->http_req);
        if (reply_failed(a, res, "OpenID metadata", false))
                return;
        if (openid_config_parse(res->body, res->body_size, &oc, &reason) < 0)
                return finish(a, ATTEST_RETRY, -EBADMSG, "OpenID metadata of %s is malformed: %s",
                              a->config->endpoint, strna(reason));
        if (jwks_url_for_endpoint(a->config->endpoint, &pinned) < 0)
                return finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        /* The key set must come from the configured endpoint, whatever the document says. */
        if (!endpoint_equal(oc->jwks_uri, pinned))
                return finish(a, ATTEST_RETRY, -EPERM,
                              "OpenID metadata names key set %s, not %s under the configured endpoint; refusing it",
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
        r = endpoint_url(a->config->endpoint, "/.well-known/openid-configuration", &url);
        if (r >= 0)
                r = get_url(a, url, OPENID_CONFIG_SIZE_MAX, on_openid);
        if (r < 0)
                finish(a, ATTEST_ERROR, r, "cannot request the OpenID metadata: %s", strerror(-r));
}

static void step_verify(Attester *a) {
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_free_ char *reason = NULL;
        struct timespec ts;
        int r;

        if (!a->jwks) {
                step_fetch_keys(a);
                return;
        }

        TokenExpect expect = {
                .issuer = a->config->endpoint,
                .endpoint = a->config->endpoint,
                .skew_usec = a->config->clock_skew_usec,
                .cnf_jwk_json = request_key_jwk(a->key),
                .rp_data = a->rp_data,
        };
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;

        r = token_verify(a->report, a->jwks, &expect, now, &t, &reason);
        if (r == -ENOKEY && !a->jwks_fetched) {
                /* The service may have rotated its signing key: fetch the key set once more. */
                step_fetch_keys(a);
                return;
        }
        free(a->result.request_id); /* a key set fetch's: that call went well */
        a->result.request_id = r < 0 ? TAKE_PTR(a->report_request_id) : NULL;
        if (r < 0)
                return finish(a, ATTEST_RETRY, r, "the service's token was rejected: %s", strna(reason));

        AttestResult *res = &a->result;
        res->token = TAKE_PTR(a->report);
        res->header = json_object_get(t->header);
        res->claims = json_object_get(t->claims);
        res->jwks = strdup(a->jwks_text);
        if (!res->jwks)
                return finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        res->issued_usec = t->iat_usec;
        res->expires_usec = t->exp_usec;
        res->pcrs = a->evidence.quote.pcrs;
        res->pcr_mask = a->evidence.quote.pcr_mask;
        res->pcr_update_counter = a->evidence.quote.pcr_update_counter;
        finish(a, ATTEST_OK, 0, NULL);
}

static void on_report(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(json_object_putp) json_object *payload = NULL;
        _cleanup_free_ char *reason = NULL;

        a->http_req = http_request_free(a->http_req);
        if (reply_failed(a, res, "attestation request", true))
                return;
        if (maa_parse_envelope(res->body, res->body_size, &payload, &reason) < 0 ||
            maa_parse_report(payload, &a->report, &reason) < 0)
                return finish(a, ATTEST_RETRY, -EBADMSG, "malformed report from %s: %s", a->config->endpoint,
                              strna(reason));
        a->report_request_id = TAKE_PTR(a->result.request_id);
        step_verify(a);
}

static int make_nonce(char **ret) {
        uint8_t nonce[NONCE_SIZE];
        if (getentropy(nonce, sizeof nonce) < 0)
                return -errno;
        return b64url_encode(nonce, sizeof nonce, ret);
}

static void step_request(Attester *a) {
        _cleanup_free_ char *reason = NULL, *body = NULL;
        uint8_t qd[32];
        int r;

        a->key = TAKE_PTR(a->spare_key);
        r = a->key ? 0 : request_key_new(&a->key);
        if (r < 0)
                return finish(a, ATTEST_ERROR, r, "cannot generate the request key: %s", strerror(-r));
        r = maa_qualifying_data(request_key_jwk(a->key), &a->challenge, qd);
        if (r < 0)
                return finish(a, ATTEST_ERROR, r, "cannot hash the qualifying data: %s", strerror(-r));

        r = evidence_collect(a->tpm, a->ak, a->config, qd, sizeof qd, &a->evidence, &reason);
        if (r < 0)
                return finish(a, r == -EBUSY ? ATTEST_RETRY : ATTEST_ERROR, r, "%s",
                              reason ?: strerror(-r));
        a->result.evidence_collected = true;
        a->result.ak_cert_sent = a->evidence.aik_cert.size > 0;
        if (a->config->send_nonce) {
                r = make_nonce(&a->rp_data);
                if (r < 0)
                        return finish(a, ATTEST_ERROR, r, "cannot make a nonce: %s", strerror(-r));
        }

        MaaRequestParams p = {
                .evidence = &a->evidence,
                .key = a->key,
                .challenge = &a->challenge,
                .service_context = a->service_context,
                .rp_id = a->config->rp_id,
                .rp_data = a->rp_data,
        };
        r = maa_build_request(&p, &body);
        if (r >= 0)
                r = post_leg(a, body, on_report);
        if (r < 0)
                finish(a, ATTEST_ERROR, r, "cannot send the attestation request: %s", strerror(-r));
}

static void on_challenge(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(json_object_putp) json_object *payload = NULL;
        _cleanup_free_ char *reason = NULL;

        a->http_req = http_request_free(a->http_req);
        if (reply_failed(a, res, "challenge request", false))
                return;
        if (maa_parse_envelope(res->body, res->body_size, &payload, &reason) < 0 ||
            maa_parse_challenge(payload, &a->challenge, &a->service_context, &reason) < 0)
                return finish(a, ATTEST_RETRY, -EBADMSG, "malformed challenge from %s: %s",
                              a->config->endpoint, strna(reason));
        a->result.request_id = mfree(a->result.request_id); /* a later local failure is not this call's */
        step_request(a);
}

static void step_init(Attester *a) {
        _cleanup_free_ char *body = NULL;
        int r = maa_build_init(&body);
        if (r >= 0)
                r = post_leg(a, body, on_challenge);
        if (r < 0)
                finish(a, ATTEST_ERROR, r, "cannot send the challenge request: %s", strerror(-r));
}

static void on_auth(AuthRequest *q, const AuthResult *res, void *userdata) {
        Attester *a = userdata;

        a->auth_req = auth_request_free(a->auth_req);
        if (res->error < 0) {
                bool transient = res->error == -EAGAIN || res->http_status >= 500 ||
                                 IN_SET(res->error, -ETIMEDOUT, -ECONNREFUSED, -ENXIO, -ECONNRESET, -EPROTO);
                if (res->retry_after_sec > 0)
                        a->result.retry_after_usec = (uint64_t) res->retry_after_sec * USEC_PER_SEC;
                return finish(a, transient ? ATTEST_RETRY : ATTEST_ERROR, res->error,
                              "cannot get an Entra token (%s): %s", auth_method_to_string(a->config->auth_method),
                              res->reason ?: strerror(-res->error));
        }
        if (res->authorization) {
                if (asprintf(&a->authorization, "Authorization: %s", res->authorization) < 0)
                        return finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        }
        step_init(a);
}

int attester_run(Attester *a, TpmContext *tpm, attest_done_fn cb, void *userdata) {
        int r;

        if (a->running)
                return -EBUSY;
        a->running = true;
        a->tpm = tpm;
        a->cb = cb;
        a->userdata = userdata;

        if (!a->ak) {
                r = tpm_ak_load_or_create(tpm, a->config->ak_handle, a->config->ak_algorithm, &a->ak);
                if (r < 0) {
                        finish(a, r == -EBUSY ? ATTEST_RETRY : ATTEST_ERROR, r,
                               "cannot load or create the attestation key at 0x%08x: %s", a->config->ak_handle,
                               *tpm_context_last_error(tpm) ? tpm_context_last_error(tpm) : strerror(-r));
                        return 0;
                }
        }

        r = auth_get_token(a->auth, on_auth, a, &a->auth_req);
        if (r < 0)
                finish(a, ATTEST_ERROR, r, "cannot request an Entra token: %s", strerror(-r));
        return 0;
}

void attester_cancel(Attester *a) {
        if (a->running)
                run_reset(a);
}

bool attester_is_running(const Attester *a) {
        return a->running;
}

int attester_new(sd_event *event, const Config *config, Attester **ret) {
        _cleanup_(attester_freep) Attester *a = NULL;
        int r;

        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);
        a->config = config;

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
        schedule_keygen(a);

        *ret = TAKE_PTR(a);
        return 0;
}

Attester *attester_free(Attester *a) {
        if (!a)
                return NULL;
        run_reset(a);
        sd_event_source_disable_unref(a->keygen_source);
        request_key_free(a->spare_key);
        auth_free(a->auth);
        http_client_free(a->http);
        tpm_ak_free(a->ak);
        jwks_free(a->jwks);
        free(a->jwks_text);
        free(a->jwks_url);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}
