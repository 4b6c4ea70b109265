/* SPDX-License-Identifier: MIT */
/* The /attest/Tpm provider (PROTOCOL.md): Entra token, leg 1 (challenge), TPM evidence bound to the
 * challenge and a request key, leg 2 (report). The token is then verified by the shared driver
 * against the request key (cnf) and the rp_data nonce. */
#include <malloc.h>

#include "attest-internal.h"
#include "b64.h"
#include "cleanup.h"
#include "evidence.h"
#include "log.h"
#include "maa-msg.h"
#include "request-key.h"
#include "tpm-ak.h"

#define NONCE_SIZE 16

/* Across runs. */
typedef struct TpmProvider {
        Attester *attester;
        TpmAk *ak;                      /* loaded (or created) on the first run, then reused */
        RequestKey *spare_key;          /* the next run's, made ahead on a worker thread */
        RequestKeyJob *keygen[2];       /* generations under way (two race when a run waits) */
        sd_event_source *idle_source;   /* starts it when the loop is idle */
} TpmProvider;

/* One run. */
typedef struct TpmRun {
        AuthRequest *auth_req;
        char *authorization;
        Buffer challenge;
        char *service_context;
        RequestKey *key;
        char *rp_data;
        Evidence evidence;
        bool waiting_for_key;           /* the challenge is here, the key generation not done yet */
} TpmRun;

static TpmProvider *state(Attester *a) {
        return a->state;
}

static TpmRun *run(Attester *a) {
        return a->run;
}

static void tpm_reset(Attester *a) {
        TpmRun *r = a->run;

        if (!r)
                return;
        auth_request_free(r->auth_req);
        erase_and_free(r->authorization);
        buffer_done(&r->challenge);
        free(r->service_context);
        request_key_free(r->key);
        free(r->rp_data);
        evidence_done(&r->evidence);
        free(r);
        a->run = NULL;
}

static void step_request(Attester *a);

static bool keygen_running(const TpmProvider *p) {
        return p->keygen[0] || p->keygen[1];
}

/* A key generated on a worker thread becomes the spare; a run waiting for it goes on. Of two racing
 * generations the first serves the run and the second the next run. */
static void on_key(RequestKeyJob *j, RequestKey *key, int error, void *userdata) {
        Attester *a = userdata;
        TpmProvider *p = state(a);
        bool waiting = a->running && run(a) && run(a)->waiting_for_key;

        for (size_t i = 0; i < ELEMENTSOF(p->keygen); i++)
                if (p->keygen[i] == j)
                        p->keygen[i] = request_key_job_free(j);
        if (error < 0) {
                if (waiting && !keygen_running(p))
                        attest_finish(a, ATTEST_ERROR, error, "cannot generate the request key: %s", strerror(-error));
                return;
        }
        if (p->spare_key) {
                request_key_free(key);  /* a run took none meanwhile: one spare is enough */
                return;
        }
        p->spare_key = key;
        if (waiting)
                step_request(a);
        else if (!a->running && !keygen_running(p))
                /* The last allocation until the next run: give the heap the attestation freed back
                 * to the kernel, or glibc keeps it as the idle daemon's private dirty memory. */
                (void) malloc_trim(0);
}

/* Starts making request keys on worker threads, up to N at once, unless a spare exists: RSA key
 * generation takes 0.1-1 s of CPU, which must not hold up the loop (D-Bus, curl's timers) nor,
 * at start, the network legs it does not depend on. Its time varies widely (a random prime
 * search), so a run that needs a key now races two and takes the first. The key never leaves
 * memory. */
static void start_keygen(Attester *a, size_t n) {
        TpmProvider *p = state(a);
        int r;

        if (p->spare_key)
                return;
        for (size_t i = 0; i < MIN(n, ELEMENTSOF(p->keygen)); i++) {
                if (p->keygen[i])
                        continue;
                r = request_key_generate_async(a->event, on_key, a, &p->keygen[i]);
                if (r < 0)
                        log_debug_errno(r, "Cannot generate the request key on a worker thread: %m");
        }
}

static int on_idle(sd_event_source *s, void *userdata) {
        Attester *a = userdata;

        state(a)->idle_source = sd_event_source_disable_unref(state(a)->idle_source);
        start_keygen(a, 1);
        return 0;
}

/* The next key is started once the loop has nothing else to do: not while the finished run's
 * result is being published, and never when the loop is about to exit (attestd --once). */
static void tpm_idle(Attester *a) {
        TpmProvider *p = state(a);

        if (p->spare_key || keygen_running(p) || p->idle_source)
                return;
        if (sd_event_add_defer(a->event, &p->idle_source, on_idle, a) >= 0)
                (void) sd_event_source_set_priority(p->idle_source, SD_EVENT_PRIORITY_IDLE);
}

static int tpm_init(Attester *a, void **ret_state) {
        TpmProvider *p = calloc(1, sizeof *p);

        if (!p)
                return -ENOMEM;
        p->attester = a;
        *ret_state = p;
        return 0;
}

static void tpm_free_state(void *s) {
        TpmProvider *p = s;

        if (!p)
                return;
        sd_event_source_disable_unref(p->idle_source);
        for (size_t i = 0; i < ELEMENTSOF(p->keygen); i++)
                request_key_job_free(p->keygen[i]);
        request_key_free(p->spare_key);
        tpm_ak_free(p->ak);
        free(p);
}

static int post_leg(Attester *a, const char *body, http_done_fn cb) {
        _cleanup_free_ char *suffix = NULL;
        const char *headers[4] = { "Content-Type: application/json", "Accept: application/json" };

        if (asprintf(&suffix, "/attest/Tpm?api-version=%s", a->config->api_version) < 0)
                return -ENOMEM;
        if (run(a)->authorization)
                headers[2] = run(a)->authorization;
        return attest_post(a, suffix, headers, body, cb);
}

static void on_report(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(json_object_putp) json_object *payload = NULL;
        _cleanup_free_ char *reason = NULL, *report = NULL;

        a->http_req = http_request_free(a->http_req);
        if (attest_reply_failed(a, res, "attestation request", true))
                return;
        if (maa_parse_envelope(res->body, res->body_size, &payload, &reason) < 0 ||
            maa_parse_report(payload, &report, &reason) < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, -EBADMSG, "malformed report from %s: %s", a->endpoint,
                                     strna(reason));
        }

        TpmRun *r = run(a);
        a->expect.cnf_jwk_json = request_key_jwk(r->key);
        a->expect.rp_data = r->rp_data;
        a->result.pcrs = r->evidence.quote.pcrs;
        a->result.pcr_mask = r->evidence.quote.pcr_mask;
        a->result.pcr_update_counter = r->evidence.quote.pcr_update_counter;
        attest_verify_token(a, TAKE_PTR(report));
}

static int make_nonce(char **ret) {
        uint8_t nonce[NONCE_SIZE];
        if (getentropy(nonce, sizeof nonce) < 0)
                return -errno;
        return b64url_encode(nonce, sizeof nonce, ret);
}

static void step_request(Attester *a) {
        _cleanup_free_ char *reason = NULL, *body = NULL;
        TpmRun *t = run(a);
        uint8_t qd[32];
        int r;

        t->waiting_for_key = false;
        t->key = TAKE_PTR(state(a)->spare_key);
        r = t->key ? 0 : request_key_new(&t->key); /* only when no worker thread could be started */
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "cannot generate the request key: %s", strerror(-r));
        r = maa_qualifying_data(request_key_jwk(t->key), &t->challenge, qd);
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "cannot hash the qualifying data: %s", strerror(-r));

        r = evidence_collect(a->tpm, state(a)->ak, a->config, qd, sizeof qd, &t->evidence, &reason);
        if (r < 0)
                return attest_finish(a, r == -EBUSY ? ATTEST_RETRY : ATTEST_ERROR, r, "%s",
                                     reason ?: strerror(-r));
        a->result.evidence_collected = true;
        a->result.ak_cert_sent = t->evidence.aik_cert.size > 0;
        a->replay_mismatch = t->evidence.replay_mismatch;
        if (a->config->send_nonce) {
                r = make_nonce(&t->rp_data);
                if (r < 0)
                        return attest_finish(a, ATTEST_ERROR, r, "cannot make a nonce: %s", strerror(-r));
        }

        MaaRequestParams p = {
                .evidence = &t->evidence,
                .key = t->key,
                .challenge = &t->challenge,
                .service_context = t->service_context,
                .rp_id = a->config->rp_id,
                .rp_data = t->rp_data,
        };
        r = maa_build_request(&p, &body);
        if (r >= 0)
                r = post_leg(a, body, on_report);
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot send the attestation request: %s", strerror(-r));
}

static void on_challenge(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(json_object_putp) json_object *payload = NULL;
        _cleanup_free_ char *reason = NULL;

        a->http_req = http_request_free(a->http_req);
        if (attest_reply_failed(a, res, "challenge request", false))
                return;
        if (maa_parse_envelope(res->body, res->body_size, &payload, &reason) < 0 ||
            maa_parse_challenge(payload, &run(a)->challenge, &run(a)->service_context, &reason) < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, -EBADMSG, "malformed challenge from %s: %s", a->endpoint,
                                     strna(reason));
        }
        attest_forget_request_id(a); /* a later local failure is not this call's */
        if (!state(a)->spare_key && keygen_running(state(a))) {
                run(a)->waiting_for_key = true; /* on_key() goes on */
                return;
        }
        step_request(a);
}

static void step_init(Attester *a) {
        _cleanup_free_ char *body = NULL;
        int r = maa_build_init(&body);
        if (r >= 0)
                r = post_leg(a, body, on_challenge);
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot send the challenge request: %s", strerror(-r));
}

static void on_auth(AuthRequest *q, const AuthResult *res, void *userdata) {
        Attester *a = userdata;
        TpmRun *t = run(a);

        t->auth_req = auth_request_free(t->auth_req);
        if (res->error < 0) {
                bool transient = res->error == -EAGAIN || res->http_status >= 500 ||
                                 IN_SET(res->error, -ETIMEDOUT, -ECONNREFUSED, -ENXIO, -ECONNRESET, -EPROTO);
                attest_keep_retry_after(a, res->retry_after_sec);
                a->result.no_reply = transient && res->http_status == 0;
                /* Entra busy or failing is the service side; anything final is the identity's. */
                a->result.failure_class = transient ? ATTEST_FAILURE_SERVICE : ATTEST_FAILURE_UNAUTHORIZED;
                return attest_finish(a, transient ? ATTEST_RETRY : ATTEST_ERROR, res->error,
                                     "cannot get an Entra token (%s): %s",
                                     auth_method_to_string(a->config->auth_method),
                                     res->reason ?: strerror(-res->error));
        }
        if (res->authorization) {
                /* Sized up front, not asprintf(): its growing buffer would leave unwiped copies of
                 * the bearer token in freed memory. tpm_reset() wipes this one. */
                static const char prefix[] = "Authorization: ";
                size_t n = strlen(res->authorization);

                t->authorization = malloc(sizeof prefix + n);
                if (!t->authorization)
                        return attest_finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
                memcpy(stpcpy(t->authorization, prefix), res->authorization, n + 1);
        }
        step_init(a);
}

static void tpm_start(Attester *a) {
        TpmProvider *p = state(a);
        int r;

        a->run = calloc(1, sizeof(TpmRun));
        if (!a->run)
                return attest_finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        /* What does not depend on the challenge runs while the legs are in flight: the request key
         * on its thread, the key set prefetch (the driver's), the AK load right here. */
        start_keygen(a, 2);
        if (!p->ak) {
                r = tpm_ak_load_or_create(a->tpm, a->config->ak_handle, a->config->ak_algorithm, &p->ak);
                if (r < 0)
                        return attest_finish(a, r == -EBUSY ? ATTEST_RETRY : ATTEST_ERROR, r,
                                             "cannot load or create the attestation key at 0x%08x: %s",
                                             a->config->ak_handle,
                                             *tpm_context_last_error(a->tpm) ? tpm_context_last_error(a->tpm) :
                                                                                strerror(-r));
        }

        r = auth_get_token(a->auth, on_auth, a, &run(a)->auth_req);
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot request an Entra token: %s", strerror(-r));
}

const AttestProvider attest_provider_maa_tpm = {
        .name = "tpm",
        .init = tpm_init,
        .free_state = tpm_free_state,
        .start = tpm_start,
        .reset = tpm_reset,
        .idle = tpm_idle,
};
