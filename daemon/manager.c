/* SPDX-License-Identifier: MIT */
/* The Manager's lifecycle and state machine: starting an attempt, taking its result, and making
 * every transition visible (journal, state file, D-Bus, sd_notify). */
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "cache.h"
#include "http.h"
#include "log-ids.h"
#include "log.h"
#include "manager.h"
#include "token-group.h"

static const char *const manager_state_table[_MANAGER_STATE_MAX] = {
        [MANAGER_STARTING] = "starting",
        [MANAGER_ATTESTING] = "attesting",
        [MANAGER_ATTESTED] = "attested",
        [MANAGER_STALE] = "stale",
        [MANAGER_DENIED] = "denied",
        [MANAGER_FAILED] = "failed",
};

const char *manager_state_to_string(ManagerState s) {
        return s >= 0 && s < _MANAGER_STATE_MAX ? manager_state_table[s] : NULL;
}

static bool manager_token_valid(Manager *m) {
        return m->token && m->token_expires_usec > now_usec(CLOCK_REALTIME);
}

static void manager_publish(Manager *m) {
        (void) manager_write_state(m);
        bus_emit_changed(m);
        if (!m->once)
                (void) sd_notifyf(false, "STATUS=%s%s%s", manager_state_to_string(m->state),
                                  *m->last_error ? ": " : "", m->last_error);
}

static void manager_set_state(Manager *m, ManagerState s) {
        if (m->state != s) {
                log_debug("State %s → %s.", manager_state_to_string(m->state), manager_state_to_string(s));
                m->state = s;
                m->state_string = (char *) manager_state_to_string(s);
        }
        manager_publish(m);
}

static int manager_set_error(Manager *m, const char *message) {
        char *s = strdup(strempty(message));
        if (!s)
                return -ENOMEM;
        /* Services end their messages with a full stop; ours append "; retrying in …". */
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' '))
                s[--n] = '\0';
        free(m->last_error);
        m->last_error = s;
        return 0;
}

/* The token being served, as one value, so a new one can be tried and the old one put back. */
typedef struct HeldToken {
        char *compact;
        json_object *header, *claims;
        uint64_t issued_usec, expires_usec;
        PcrSet pcrs;
        uint32_t pcr_mask;
        bool pcrs_changed;
} HeldToken;

static HeldToken manager_swap_token(Manager *m, HeldToken t) {
        HeldToken old = {
                .compact = m->token,
                .header = m->token_header,
                .claims = m->token_claims,
                .issued_usec = m->token_issued_usec,
                .expires_usec = m->token_expires_usec,
                .pcrs = m->token_pcrs,
                .pcr_mask = m->token_pcr_mask,
                .pcrs_changed = m->token_pcrs_changed,
        };
        m->token = t.compact;
        m->token_header = t.header;
        m->token_claims = t.claims;
        m->token_issued_usec = t.issued_usec;
        m->token_expires_usec = t.expires_usec;
        m->token_pcrs = t.pcrs;
        m->token_pcr_mask = t.pcr_mask;
        m->token_pcrs_changed = t.pcrs_changed;
        return old;
}

static void held_token_done(HeldToken *t) {
        free(t->compact);
        json_object_put(t->header);
        json_object_put(t->claims);
        *t = (HeldToken) {};
}

static void manager_attest_failed(Manager *m, AttestResult *r);

static void manager_attest_succeeded(Manager *m, AttestResult *r) {
        char expiry[64], fexp[80], fcount[64];
        int k;

        HeldToken old = manager_swap_token(m, (HeldToken) {
                .compact = TAKE_PTR(r->token),
                .header = TAKE_PTR(r->header),
                .claims = TAKE_PTR(r->claims),
                .issued_usec = r->issued_usec,
                .expires_usec = r->expires_usec,
                .pcrs = r->pcrs,
                .pcr_mask = r->pcr_mask,
        });
        k = manager_write_token(m, true);
        if (k < 0) {
                /* Nobody can use a token that is not on disk: this is no success. The previous token
                 * (whose file the failed atomic write left in place) stays served. */
                HeldToken failed = manager_swap_token(m, old);
                held_token_done(&failed);
                if (m->token)
                        (void) manager_write_token(m, false);
                AttestResult f = { .outcome = ATTEST_ERROR, .error = k };
                if (asprintf(&f.message, "cannot write the token to %s: %s", m->config->runtime_directory,
                             strerror(-k)) < 0)
                        f.message = NULL;
                manager_attest_failed(m, &f);
                attest_result_done(&f);
                return;
        }
        held_token_done(&old);
        m->pcr_counter = r->pcr_update_counter;
        m->have_pcr_counter = true;
        m->attestation_count++;
        m->consecutive_failures = 0;
        m->last_attestation_usec = now_usec(CLOCK_REALTIME);
        (void) manager_set_error(m, "");

        snprintf(fexp, sizeof fexp, "ATTESTD_TOKEN_EXPIRY_USEC=%" PRIu64, m->token_expires_usec);
        snprintf(fcount, sizeof fcount, "ATTESTD_ROUND_TRIPS=%u", r->round_trips);
        const char *fields[] = { fexp, fcount, NULL };
        time_t t = (time_t) (m->token_expires_usec / USEC_PER_SEC);
        strftime(expiry, sizeof expiry, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
        log_struct(LOG_INFO, 0, ATTESTD_MESSAGE_ATTESTED, fields,
                   "Attested to %s (%s); token valid until %s.", strna(attester_get_endpoint(m->attester)),
                   attester_get_provider(m->attester), expiry);

        (void) manager_schedule_refresh(m);
        (void) manager_schedule_expiry(m);
        manager_set_state(m, MANAGER_ATTESTED);
}

static void manager_attest_failed(Manager *m, AttestResult *r) {
        char fverifier[512], frequest[32 + HTTP_REQUEST_ID_MAX], retry[64] = "";
        const char *fields[] = { fverifier, r->request_id ? frequest : NULL, NULL };
        uint64_t delay;

        m->failure_count++;
        m->consecutive_failures++;
        /* Schedule first, so the published state already names the next attempt. */
        if (!m->once && manager_schedule_retry(m, r->retry_after_usec, &delay) >= 0) {
                char d[32];
                format_delay(delay, d);
                snprintf(retry, sizeof retry, "; retrying in %s", d);
        }
        (void) manager_set_error(m, r->message ?: strerror(-r->error));
        snprintf(fverifier, sizeof fverifier, "ATTESTD_VERIFIER=%s", strempty(attester_get_endpoint(m->attester)));
        snprintf(frequest, sizeof frequest, "ATTESTD_REQUEST_ID=%s", strempty(r->request_id));

        if (r->outcome == ATTEST_DENIED) {
                log_struct(LOG_ERR, r->error, ATTESTD_MESSAGE_DENIED, fields, "Attestation denied: %s%s",
                           m->last_error, retry);
                if (!m->config->keep_token_on_denial)
                        manager_drop_token(m, "the service denied the current evidence");
                manager_set_state(m, MANAGER_DENIED);
        } else {
                log_struct(LOG_WARNING, r->error,
                           r->error == -ECONNREFUSED || r->error == -ENXIO || r->error == -ETIMEDOUT ?
                                   ATTESTD_MESSAGE_VERIFIER_UNREACHABLE : ATTESTD_MESSAGE_ATTEST_FAILED,
                           fields, "Attestation failed: %s%s", m->last_error, retry);
                manager_set_state(m, manager_token_valid(m) ? MANAGER_STALE : MANAGER_FAILED);
        }
}

/* Said once per process, before the outcome it may explain: MAA's default configuration rule
 * require_valid_aik_cert=true refuses evidence without an AK certificate. */
static void warn_no_ak_cert(Manager *m, const AttestResult *r) {
        char nv[64] = "none";

        if (m->warned_no_ak_cert || !r->evidence_collected || r->ak_cert_sent)
                return;
        m->warned_no_ak_cert = true;
        if (m->config->ak_cert_nv_index)
                snprintf(nv, sizeof nv, "0x%08x, not defined or never written", m->config->ak_cert_nv_index);
        log_struct(LOG_WARNING, 0, ATTESTD_MESSAGE_NO_AK_CERT, NULL,
                   "No AK certificate is known (AKCertNVIndex=%s, no AKCertFile=): a provider whose policy "
                   "keeps the default require_valid_aik_cert=true will refuse the evidence. Set AKCertNVIndex= "
                   "or AKCertFile=, or let the policy's configurationrules issue "
                   "issueproperty(type=\"require_valid_aik_cert\", value=false).", nv);
}

static void on_attest_done(Attester *a, AttestResult *r, void *userdata) {
        Manager *m = userdata;

        manager_put_tpm(m);
        warn_no_ak_cert(m, r);
        if (r->outcome == ATTEST_OK)
                manager_attest_succeeded(m, r);
        else
                manager_attest_failed(m, r);
        bus_reply_pending_attest(m);

        if (m->once) {
                if (m->state == MANAGER_ATTESTED)
                        printf("attested: token valid until %" PRIu64 " (%s/%s), %u round trips\n",
                               m->token_expires_usec / USEC_PER_SEC, m->config->runtime_directory, CACHE_TOKEN,
                               r->round_trips);
                else
                        printf("%s: %s\n", attest_outcome_to_string(r->outcome == ATTEST_OK ? ATTEST_ERROR : r->outcome),
                               m->last_error);
                m->exit_status = m->state == MANAGER_ATTESTED ? EXIT_SUCCESS : EXIT_FAILURE;
                (void) sd_event_exit(m->event, m->exit_status);
                return;
        }
        if (m->attest_again) {
                m->attest_again = false;
                manager_attest_now(m, m->attempt_reason ?: "a trigger arrived during the last attempt");
        }
}

void manager_attest_now(Manager *m, const char *reason) {
        _cleanup_free_ char *err = NULL;
        TpmContext *tpm;

        if (attester_is_running(m->attester)) {
                m->attest_again = true;
                free(m->attempt_reason);
                m->attempt_reason = reason ? strdup(reason) : NULL;
                return;
        }
        log_debug("Attesting: %s.", strna(reason));
        m->attempt_generation++;
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        m->refresh_timer = sd_event_source_disable_unref(m->refresh_timer);
        m->next_attestation_usec = 0;

        tpm = manager_get_tpm(m, &err);
        if (!tpm) {
                AttestResult r = { .outcome = ATTEST_ERROR, .error = -ENODEV, .message = TAKE_PTR(err) };
                log_struct(LOG_ERR, -ENODEV, ATTESTD_MESSAGE_TPM_UNAVAILABLE, NULL, "TPM unavailable: %s",
                           strna(r.message));
                on_attest_done(m->attester, &r, m);
                attest_result_done(&r);
                return;
        }
        int k = attester_run(m->attester, tpm, on_attest_done, m);
        if (k < 0) {
                AttestResult r = { .outcome = ATTEST_ERROR, .error = k };
                on_attest_done(m->attester, &r, m);
                return;
        }
        manager_set_state(m, MANAGER_ATTESTING);
}

int manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(attester_freep) Attester *a = NULL;
        gid_t gid;
        int r;

        r = config_load(m->config_path, &c);
        if (r < 0)
                return log_struct(LOG_ERR, r, ATTESTD_MESSAGE_CONFIG_INVALID, NULL,
                                  "Reloading the configuration failed, keeping the old one.");
        _cleanup_free_ char *group_error = NULL;
        r = token_group_resolve(c->token_group, &gid, &group_error);
        if (r < 0)
                return log_error_errno(r, "Reloading: %s; keeping the old configuration.", group_error);
        r = attester_new(m->event, c, &a);
        if (r < 0)
                return log_error_errno(r, "Reloading: cannot set up the attester: %m");

        /* Swap everything that depends on the configuration, then attest with it. */
        attester_free(m->attester);
        m->attester = TAKE_PTR(a);
        config_free(m->config);
        m->config = TAKE_PTR(c);
        m->token_gid = gid;
        m->tpm = tpm_context_free(m->tpm);
        manager_disarm_timers(m);
        (void) manager_schedule_expiry(m);
        (void) manager_watch_pcrs(m);
        log_info("Configuration reloaded.");
        manager_attest_now(m, "configuration reloaded");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        (void) sd_notify(false, "STOPPING=1");
        attester_cancel(m->attester); /* stop mid-request: nothing is half-written, files are atomic */
        return sd_event_exit(m->event, EXIT_SUCCESS);
}

int manager_new(const char *config_path, bool once, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        sigset_t ss;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return log_oom();
        m->once = once;
        m->state = MANAGER_STARTING;
        m->state_string = (char *) manager_state_to_string(m->state);
        m->token_gid = (gid_t) -1;
        if (!(m->last_error = strdup("")) || (config_path && !(m->config_path = strdup(config_path))))
                return log_oom();

        r = config_load(config_path, &m->config);
        if (r < 0)
                return log_struct(LOG_ERR, r, ATTESTD_MESSAGE_CONFIG_INVALID, NULL,
                                  "Configuration %s is invalid (see above); refusing to start.",
                                  config_path ?: CONFIG_FILE_DEFAULT);
        _cleanup_free_ char *group_error = NULL;
        r = token_group_resolve(m->config->token_group, &m->token_gid, &group_error);
        if (r < 0)
                return log_error_errno(r, "%s; refusing to start.", group_error);
        if (r > 0)
                log_notice("Group %s does not exist: the token files keep attestd's own group.", TOKEN_GROUP_DEFAULT);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate the event loop: %m");
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog, ignoring: %m");

        r = attester_new(m->event, m->config, &m->attester);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the attester: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = cache_ensure_dir(m->config->runtime_directory);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", m->config->runtime_directory);
        (void) cache_clean_temp(m->config->runtime_directory);

        if (!m->once) {
                r = bus_connect(m);
                if (r < 0)
                        return r;
                if (manager_load_cached_token(m) > 0)
                        manager_set_state(m, MANAGER_ATTESTED);
                (void) manager_watch_pcrs(m);
        }
        manager_attest_now(m, "start-up");
        /* Ready once on the bus with the first attestation started: busctl works during boot
         * even when the verifier is not reachable yet. */
        if (!m->once)
                (void) sd_notify(false, "READY=1");
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        manager_disarm_timers(m);
        m->measure_watch = sd_event_source_disable_unref(m->measure_watch);
        for (size_t i = 0; i < m->n_pending_attest; i++)
                sd_bus_message_unref(m->pending_attest[i].message);
        free(m->pending_attest);
        attester_free(m->attester);
        tpm_context_free(m->tpm);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        free(m->last_error);
        free(m->attempt_reason);
        free(m->token);
        json_object_put(m->token_header);
        json_object_put(m->token_claims);
        free(m);
        return NULL;
}
