/* SPDX-License-Identifier: MIT */
/* The Manager's lifecycle and state machine: starting an attempt and turning its result into one
 * transition, which manager_publish() makes visible. */
#include <signal.h>
#include <stdarg.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "bus.h"
#include "cache.h"
#include "http.h"
#include "jwks.h"
#include "log-ids.h"
#include "log.h"
#include "manager.h"
#include "token-group.h"
#include "token.h"

static const char *const manager_state_table[_MANAGER_STATE_MAX] = {
        [MANAGER_STARTING] = "starting",
        [MANAGER_ATTESTING] = "attesting",
        [MANAGER_ATTESTED] = "attested",
        [MANAGER_STALE] = "stale",
        [MANAGER_DENIED] = "denied",
        [MANAGER_FAILED] = "failed",
        [MANAGER_STOPPED] = "stopped",
};

const char *manager_state_to_string(ManagerState s) {
        return s >= 0 && s < _MANAGER_STATE_MAX ? manager_state_table[s] : NULL;
}

static bool manager_token_valid(Manager *m) {
        return m->token && m->token->expires_usec > now_usec(CLOCK_REALTIME);
}

static void manager_set_state(Manager *m, ManagerState s) {
        (void) manager_publish(m, s, PUBLISH_KEEP, NULL, NULL);
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

/* The result's token as the value the manager serves. */
static int token_record_from_result(Manager *m, AttestResult *r, TokenRecord **ret) {
        _cleanup_(token_record_freep) TokenRecord *t = calloc(1, sizeof *t);

        if (!t || !(t->endpoint = strdup(strempty(r->endpoint))) || !(t->provider = strdup(strempty(r->provider))))
                return -ENOMEM;
        if (r->jwks && !(t->jwks = json_tokener_parse(r->jwks)))
                return -EBADMSG;
        t->compact = TAKE_PTR(r->token);
        t->header = TAKE_PTR(r->header);
        t->claims = TAKE_PTR(r->claims);
        t->issued_usec = r->issued_usec;
        t->expires_usec = r->expires_usec;
        t->pcrs = r->pcrs;
        t->pcr_mask = r->pcr_mask;
        *ret = TAKE_PTR(t);
        return 0;
}

static void manager_attest_failed(Manager *m, AttestResult *r);

static void manager_attest_succeeded(Manager *m, AttestResult *r) {
        _cleanup_(token_record_freep) TokenRecord *t = NULL;
        char expiry[64], fexp[80], fcount[64];
        int k;

        k = token_record_from_result(m, r, &t);
        if (k < 0) {
                AttestResult f = { .outcome = ATTEST_ERROR, .error = k };
                manager_attest_failed(m, &f);
                return;
        }
        uint64_t expires = t->expires_usec;

        /* What the state file says about this success is set first, and put back if it does not
         * reach the disk. */
        uint64_t saved_last = m->last_attestation_usec, saved_next = m->next_attestation_usec;
        _cleanup_free_ char *saved_error = strdup(m->last_error);
        if (!saved_error)
                return (void) log_oom();
        m->attestation_count++;
        m->last_attestation_usec = now_usec(CLOCK_REALTIME);
        (void) manager_set_error(m, "");
        (void) manager_schedule_refresh(m, t);

        k = manager_publish(m, MANAGER_ATTESTED, PUBLISH_NEW, TAKE_PTR(t), NULL);
        if (k < 0) {
                /* Nobody can use a token that is not on disk: this is no success. The previous token
                 * and its files stay as they were. */
                m->attestation_count--;
                m->last_attestation_usec = saved_last;
                m->next_attestation_usec = saved_next;
                free(m->last_error);
                m->last_error = TAKE_PTR(saved_error);
                m->refresh_timer = sd_event_source_disable_unref(m->refresh_timer);
                AttestResult f = { .outcome = ATTEST_ERROR, .error = k };
                if (asprintf(&f.message, "cannot write the token to %s: %s", m->config->runtime_directory,
                             strerror(-k)) < 0)
                        f.message = NULL;
                manager_attest_failed(m, &f);
                attest_result_done(&f);
                return;
        }
        m->pcr_counter = r->pcr_update_counter;
        m->have_pcr_counter = true;
        m->consecutive_failures = 0;

        snprintf(fexp, sizeof fexp, "ATTESTD_TOKEN_EXPIRY_USEC=%" PRIu64, expires);
        snprintf(fcount, sizeof fcount, "ATTESTD_ROUND_TRIPS=%u", r->round_trips);
        const char *fields[] = { fexp, fcount, NULL };
        time_t tt = (time_t) (expires / USEC_PER_SEC);
        strftime(expiry, sizeof expiry, "%Y-%m-%d %H:%M:%S UTC", gmtime(&tt));
        log_struct(LOG_INFO, 0, ATTESTD_MESSAGE_ATTESTED, fields,
                   "Attested to %s (%s); token valid until %s.", strna(attester_get_endpoint(m->attester)),
                   attester_get_provider(m->attester), expiry);
        (void) manager_schedule_expiry(m);
}

static void manager_attest_failed(Manager *m, AttestResult *r) {
        char fverifier[512], frequest[32 + HTTP_REQUEST_ID_MAX], retry[96] = "";
        const char *fields[] = { fverifier, r->request_id ? frequest : NULL, NULL };
        uint64_t delay;

        m->failure_count++;
        if (r->failure_class >= 0 && r->failure_class < _ATTEST_FAILURE_CLASS_MAX)
                m->failure_counts[r->failure_class]++;
        else
                m->failure_counts[ATTEST_FAILURE_LOCAL]++; /* keep the sum equal to FailureCount */
        m->consecutive_failures++;
        /* Schedule first, so the published state already names the next attempt. */
        if (!m->once && manager_schedule_retry(m, r->retry_after_usec, &delay) >= 0) {
                char d[32];
                format_delay(delay, d);
                snprintf(retry, sizeof retry, "; retrying in %s%s", d,
                         r->no_reply && m->netwatch ? " or when the network changes" : "");
        }
        (void) manager_set_error(m, r->message ?: strerror(-r->error));
        snprintf(fverifier, sizeof fverifier, "ATTESTD_VERIFIER=%s", strempty(attester_get_endpoint(m->attester)));
        snprintf(frequest, sizeof frequest, "ATTESTD_REQUEST_ID=%s", strempty(r->request_id));

        if (r->outcome == ATTEST_DENIED) {
                log_struct(LOG_ERR, r->error, ATTESTD_MESSAGE_DENIED, fields, "Attestation denied: %s%s",
                           m->last_error, retry);
                (void) manager_publish(m, MANAGER_DENIED,
                                       m->config->keep_token_on_denial ? PUBLISH_KEEP : PUBLISH_WITHDRAW, NULL,
                                       "the service denied the current evidence");
        } else {
                log_struct(LOG_WARNING, r->error,
                           r->error == -ECONNREFUSED || r->error == -ENXIO || r->error == -ETIMEDOUT ?
                                   ATTESTD_MESSAGE_VERIFIER_UNREACHABLE : ATTESTD_MESSAGE_ATTEST_FAILED,
                           fields, "Attestation failed: %s%s", m->last_error, retry);
                manager_set_state(m, manager_token_valid(m) ? MANAGER_STALE : MANAGER_FAILED);
        }
        if (!m->once)
                manager_network_failed(m, r->no_reply);
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

        /* A failure may be the TPM's (swtpm restarted, a device error): a broken context is
         * opened anew, a sound one is kept. */
        manager_put_tpm(m, false);
        warn_no_ak_cert(m, r);
        if (r->outcome == ATTEST_OK)
                manager_attest_succeeded(m, r);
        else
                manager_attest_failed(m, r);
        bus_reply_pending_attest(m);

        if (m->once) {
                if (m->state == MANAGER_ATTESTED)
                        printf("attested: token valid until %" PRIu64 " (%s/%s), %u round trips\n",
                               m->token->expires_usec / USEC_PER_SEC, m->config->runtime_directory, CACHE_TOKEN,
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
        m->network_changed = false; /* this attempt sees the network as it is now */
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

/* Gives up the old runtime directory after a reload moved it: no token of ours stays there, and
 * the directory goes too when that empties it. */
static void manager_leave_runtime_dir(Manager *m) {
        manager_files_remove_all(m->config->runtime_directory);
        if (rmdir(m->config->runtime_directory) < 0 && errno != ENOTEMPTY && errno != EEXIST)
                log_debug_errno(errno, "Cannot remove %s, ignoring: %m", m->config->runtime_directory);
        m->dir_fd = safe_close(m->dir_fd);
}

/* Logs why a reload failed, keeps the reason for Reload()'s D-Bus error, returns ERROR. */
_printf_(3, 4) static int reload_failed(char **reterr_reason, int error, const char *format, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&reason, format, ap) < 0)
                reason = NULL;
        va_end(ap);
        log_struct(LOG_ERR, error, ATTESTD_MESSAGE_CONFIG_INVALID, NULL,
                   "Reloading the configuration failed: %s; keeping the running configuration.", strna(reason));
        if (reterr_reason)
                *reterr_reason = TAKE_PTR(reason);
        return error;
}

int manager_reload(Manager *m, char **reterr_reason) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(attester_freep) Attester *a = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        _cleanup_free_ char *reason = NULL;
        bool new_dir, new_endpoint;
        gid_t gid;
        int r;

        r = config_load_full(m->config_path, &c, &reason);
        if (r < 0)
                return reload_failed(reterr_reason, r, "%s", reason ?: strerror(-r));
        r = token_group_resolve(c->token_group, &gid, &reason);
        if (r < 0)
                return reload_failed(reterr_reason, r, "%s", reason ?: strerror(-r));
        new_dir = !streq(c->runtime_directory, m->config->runtime_directory);
        new_endpoint = !endpoint_equal(c->endpoint, m->config->endpoint);
        if (new_dir) {
                r = manager_take_runtime_dir(c->runtime_directory, &dir_fd);
                if (r < 0)
                        return reload_failed(reterr_reason, r, "[Cache] RuntimeDirectory=%s cannot be used: %s",
                                             c->runtime_directory, strerror(-r));
        }
        r = attester_new(m->event, c, &a);
        if (r < 0)
                return reload_failed(reterr_reason, r, "cannot set up the attester: %s", strerror(-r));

        /* A token of the old endpoint must not stay published, nor anything in a directory we leave. */
        if (new_endpoint || new_dir)
                (void) manager_publish(m, MANAGER_STARTING, PUBLISH_WITHDRAW, NULL,
                                       new_endpoint ? "Endpoint= changed" : "RuntimeDirectory= changed");
        if (new_dir) {
                manager_leave_runtime_dir(m);
                m->dir_fd = TAKE_FD(dir_fd);
                (void) cache_clean_temp(c->runtime_directory);
        }

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
        (void) manager_reload(userdata, NULL);
        return 0;
}

/* A clean stop says so in the state file; the token stays until its exp (attestd(8) says why). */
static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        (void) sd_notify(false, "STOPPING=1");
        attester_cancel(m->attester); /* stop mid-request: nothing is half-written, files are atomic */
        m->next_attestation_usec = 0;
        (void) manager_publish(m, MANAGER_STOPPED, PUBLISH_KEEP, NULL, NULL);
        return sd_event_exit(m->event, EXIT_SUCCESS);
}

static void hook_attest(Manager *m, const char *reason) {
        manager_attest_now(m, reason);
}

static void hook_pcrs_changed(Manager *m) {
        m->token_stale = true;
        (void) manager_publish(m, m->state, PUBLISH_KEEP, NULL, NULL);
}

static void hook_token_expired(Manager *m) {
        char field[64];
        const char *fields[] = { field, NULL };
        bool running = attester_is_running(m->attester);

        snprintf(field, sizeof field, "ATTESTD_TOKEN_EXPIRY_USEC=%" PRIu64, m->token->expires_usec);
        log_struct(LOG_WARNING, 0, ATTESTD_MESSAGE_TOKEN_EXPIRED, fields,
                   "The attestation token expired before it could be refreshed; withdrawing it.");
        m->expiry_timer = sd_event_source_disable_unref(m->expiry_timer);
        (void) manager_publish(m, running ? m->state : MANAGER_FAILED, PUBLISH_WITHDRAW, NULL, "expired");
        if (!running)
                manager_attest_now(m, "the token expired");
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
        m->dir_fd = -EBADF;
        m->hooks = (ManagerHooks) {
                .attest = hook_attest,
                .pcrs_changed = hook_pcrs_changed,
                .token_expired = hook_token_expired,
        };
        sd_id128_t boot;
        if (sd_id128_get_boot(&boot) >= 0)
                sd_id128_to_string(boot, m->boot_id);
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

/* Serves the token an earlier run left when it still verifies and describes this host; otherwise
 * removes its files and says why. */
static void manager_serve_cached_token(Manager *m) {
        _cleanup_(token_record_freep) TokenRecord *t = NULL;
        _cleanup_free_ char *why = NULL;
        int r;

        r = manager_load_cached_token(m, &t, &why);
        if (r > 0) {
                log_info("Serving the cached attestation token (valid until %s) while attesting again.",
                         token_format_timestamp(t->expires_usec, (char[TOKEN_TIMESTAMP_MAX]) {}));
                if (manager_publish(m, MANAGER_ATTESTED, PUBLISH_NEW, TAKE_PTR(t), NULL) >= 0)
                        (void) manager_schedule_expiry(m);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Cannot read the cached token, ignoring it: %m");
        else if (why)
                log_warning("Not serving the cached token in %s: %s.", m->config->runtime_directory, why);
        (void) manager_publish(m, MANAGER_STARTING, PUBLISH_WITHDRAW, NULL, why ?: "unreadable");
}

int manager_start(Manager *m) {
        int r;

        /* Both modes lock the directory: --once must not overwrite a running daemon's files. */
        r = manager_take_runtime_dir(m->config->runtime_directory, &m->dir_fd);
        if (r < 0)
                return r;
        (void) cache_clean_temp(m->config->runtime_directory);

        if (!m->once) {
                r = bus_connect(m);
                if (r < 0)
                        return r;
                manager_serve_cached_token(m);
                (void) manager_watch_pcrs(m);
                (void) manager_watch_network(m);
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
        netwatch_free(m->netwatch);
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
        token_record_free(m->token);
        safe_close(m->dir_fd);
        free(m);
        return NULL;
}
