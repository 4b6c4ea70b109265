/* SPDX-License-Identifier: MIT */
/* When to attest: retry backoff with jitter, refresh before expiry, withdrawal at expiry, PCR
 * change detection (update-counter polling, systemd's measurement log) with a bounded debounce and
 * a rate limit, and resume detection. Reports through m->hooks; publishes nothing itself. */
#include <sys/inotify.h>
#include <time.h>

#include "log-ids.h"
#include "log.h"
#include "manager.h"

#define MEASURE_LOG_PATH "/run/log/systemd/tpm2-measure.log"
#define RESUME_THRESHOLD_USEC (2 * USEC_PER_SEC)
/* How late a timer may fire, so the kernel can batch wake-ups: retries and refreshes do not care
 * about a second, polling about a tenth, the debounce that ends a PCR change's wait does. */
#define TIMER_ACCURACY_COARSE USEC_PER_SEC
#define TIMER_ACCURACY_POLL (USEC_PER_SEC / 10)
#define TIMER_ACCURACY_FINE (USEC_PER_MSEC * 5)
/* A flapping link must not turn into a stream of attempts. */
#define NETWORK_RETRY_MIN_USEC (250 * USEC_PER_MSEC)

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* Uniform in [0, n). Jitter only; no security value. */
static uint64_t random_below(uint64_t n) {
        uint64_t v = 0;
        if (n == 0)
                return 0;
        if (getentropy(&v, sizeof v) < 0)
                v = now_usec(CLOCK_MONOTONIC);
        return v % n;
}

/* (Re)arms *S on CLOCK to fire once after DELAY_USEC. */
static int arm_timer(Manager *m, sd_event_source **s, clockid_t clock, uint64_t delay_usec,
                     uint64_t accuracy_usec, sd_event_time_handler_t cb, const char *what) {
        int r;

        if (*s) {
                r = sd_event_source_set_time_relative(*s, delay_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, s, clock, delay_usec, accuracy_usec, cb, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the %s timer: %m", what);
        return 0;
}

void format_delay(uint64_t usec, char buf[static 32]) {
        if (usec >= 3600 * USEC_PER_SEC)
                snprintf(buf, 32, "%.1fh", (double) usec / (3600.0 * USEC_PER_SEC));
        else if (usec >= 60 * USEC_PER_SEC)
                snprintf(buf, 32, "%.1fmin", (double) usec / (60.0 * USEC_PER_SEC));
        else
                snprintf(buf, 32, "%.1fs", (double) usec / USEC_PER_SEC);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->hooks.attest(m, "retrying after a failure");
        return 0;
}

int manager_schedule_retry(Manager *m, uint64_t retry_after_usec, uint64_t *ret_delay) {
        uint64_t delay = m->config->retry_min_usec;

        for (unsigned i = 1; i < m->consecutive_failures && delay < m->config->retry_max_usec; i++)
                delay *= 2;
        delay = MIN(delay, m->config->retry_max_usec);
        /* Full jitter over the upper half: a fleet that lost its verifier does not return in step. */
        delay = delay / 2 + random_below(delay / 2 + 1);
        delay = MAX(delay, retry_after_usec);

        m->next_attestation_usec = now_usec(CLOCK_REALTIME) + delay;
        *ret_delay = delay;
        return arm_timer(m, &m->retry_timer, CLOCK_BOOTTIME, delay, TIMER_ACCURACY_COARSE, on_retry, "retry");
}

static int on_refresh(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->hooks.attest(m, "refreshing the token");
        return 0;
}

int manager_schedule_refresh(Manager *m, const TokenRecord *t) {
        uint64_t now = now_usec(CLOCK_REALTIME), issued, lifetime, target;

        if (!t || t->expires_usec <= now)
                return 0;
        issued = t->issued_usec && t->issued_usec < t->expires_usec ? t->issued_usec : now;
        lifetime = t->expires_usec - issued;

        /* RefreshPercent of the lifetime, ±10 % of it. */
        target = issued + lifetime * m->config->refresh_percent / 100;
        target = target - lifetime / 10 + random_below(lifetime / 5 + 1);
        if (m->config->refresh_interval_usec > 0)
                target = MIN(target, now + m->config->refresh_interval_usec);
        target = MIN(target, t->expires_usec - MIN(lifetime / 20, 60 * USEC_PER_SEC));
        target = MAX(target, now + USEC_PER_SEC);

        m->next_attestation_usec = target;
        return arm_timer(m, &m->refresh_timer, CLOCK_BOOTTIME, target - now, TIMER_ACCURACY_COARSE, on_refresh,
                         "refresh");
}

static int on_expiry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (!m->token || m->token->expires_usec > now_usec(CLOCK_REALTIME))
                return manager_schedule_expiry(m);
        m->hooks.token_expired(m);
        return 0;
}

int manager_schedule_expiry(Manager *m) {
        int r;

        if (!m->token)
                return 0;
        if (m->expiry_timer) {
                r = sd_event_source_set_time(m->expiry_timer, m->token->expires_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->expiry_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(m->event, &m->expiry_timer, CLOCK_REALTIME, m->token->expires_usec,
                                      TIMER_ACCURACY_POLL, on_expiry, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the expiry timer: %m");
        return 0;
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->pcr_burst_start_usec = 0;
        /* A pending retry owns the next attempt (it honours the service's Retry-After), and its
         * quote carries the new values anyway. */
        if (m->retry_timer && sd_event_source_get_enabled(m->retry_timer, NULL) > 0)
                return 0;
        m->last_pcr_attempt_usec = now_usec(CLOCK_BOOTTIME);
        m->hooks.attest(m, "measured-boot PCRs changed");
        return 0;
}

/* When the attempt for a PCR change seen now is due (CLOCK_BOOTTIME): PCRDebounceSec= after this
 * change, but no later than PCRDebounceMaxSec= after the first change of the burst, so PCRs that
 * never settle still get a fresh token; and never sooner than PCRMinIntervalSec= after the last
 * PCR-triggered attempt, so a PCR that moves all the time (IMA's PCR 10) cannot make attestd
 * hammer the service. The token stays marked stale meanwhile. */
static uint64_t pcr_attempt_due(Manager *m, uint64_t now) {
        const Config *c = m->config;
        uint64_t due;

        if (m->pcr_burst_start_usec == 0)
                m->pcr_burst_start_usec = now;
        /* A maximum below the debounce itself acts as the debounce. */
        due = MIN(now + c->pcr_debounce_usec,
                  m->pcr_burst_start_usec + MAX(c->pcr_debounce_max_usec, c->pcr_debounce_usec));
        if (m->last_pcr_attempt_usec > 0)
                due = MAX(due, m->last_pcr_attempt_usec + c->pcr_min_interval_usec);
        return MAX(due, now);
}

/* Reads the attested PCRs of MASK again and compares them with the token's. Returns 1 if they
 * differ. */
static int attested_pcrs_changed(Manager *m, TpmContext *tpm, uint32_t mask) {
        PcrSet now = {};
        uint16_t banks[PCR_BANKS_MAX];
        size_t n = 0;
        int r;

        for (size_t i = 0; i < m->token->pcrs.n_banks; i++)
                banks[n++] = m->token->pcrs.banks[i].alg;
        mask &= m->token->pcr_mask;
        if (n == 0 || mask == 0)
                return 0;
        r = tpm_pcr_read(tpm, mask, banks, n, &now, NULL);
        if (r < 0)
                return r;
        r = pcr_set_compare(&m->token->pcrs, &now, NULL);
        return r > 0 ? 1 : r;
}

/* BOOTTIME - MONOTONIC: constant while running, grows by the time spent suspended. MONOTONIC is
 * read first so the difference cannot go negative. */
static uint64_t boottime_offset(void) {
        uint64_t mono = now_usec(CLOCK_MONOTONIC), boot = now_usec(CLOCK_BOOTTIME);
        return boot > mono ? boot - mono : 0;
}

static void check_resume(Manager *m) {
        uint64_t offset = boottime_offset();

        if (offset > m->boottime_offset_usec + RESUME_THRESHOLD_USEC) {
                log_info("Resumed from suspend; attesting again.");
                m->boottime_offset_usec = offset;
                m->hooks.attest(m, "resumed from suspend");
                return;
        }
        m->boottime_offset_usec = offset;
}

static int pcr_poll_tpm(Manager *m, TpmContext *tpm);

/* The TPM context stays open between polls: a poll is one TPM2_PCR_Read, not a TCTI load and an
 * ESAPI start-up. A TPM shared with other programs needs a resource manager (/dev/tpmrm0, the
 * default), which every TPM client needs anyway. */
static void pcr_poll(Manager *m) {
        _cleanup_free_ char *err = NULL;
        TpmContext *tpm;

        check_resume(m);
        if (attester_is_running(m->attester))
                return; /* the attempt's own quote will carry the newest values */
        tpm = manager_get_tpm(m, &err);
        if (!tpm)
                return;
        manager_put_tpm(m, pcr_poll_tpm(m, tpm) < 0);
}

/* Returns < 0 when the TPM failed (the context is then opened anew for the next poll). */
static int pcr_poll_tpm(Manager *m, TpmContext *tpm) {
        uint32_t counter;
        int r;

        r = tpm_pcr_read_counter(tpm, &counter);
        if (r < 0)
                return log_debug_errno(r, "Reading the PCR update counter failed: %m");
        /* An unmoved counter still leaves PCRs 16-23 to look at: their extends do not count. Once
         * the token is known stale, only the counter triggers again (the values differ until the
         * next token, and the retry schedule owns the attempts meanwhile). */
        bool moved = !m->have_pcr_counter || counter != m->pcr_counter;
        m->pcr_counter = counter;
        m->have_pcr_counter = true;
        if (!m->token || (!moved && (m->token_stale || !(m->token->pcr_mask & PCR_NO_INCREMENT_MASK))))
                return 0;

        r = attested_pcrs_changed(m, tpm, moved ? UINT32_MAX : PCR_NO_INCREMENT_MASK);
        if (r < 0)
                return log_warning_errno(r, "Re-reading the attested PCRs failed, ignoring: %m");
        if (r == 0)
                return 0;
        if (!m->token_stale) {
                log_struct(LOG_NOTICE, 0, ATTESTD_MESSAGE_PCRS_CHANGED, NULL,
                           "Attested PCRs changed; the token is stale until attested again.");
                m->hooks.pcrs_changed(m);
        }
        uint64_t now = now_usec(CLOCK_BOOTTIME);
        (void) arm_timer(m, &m->debounce_timer, CLOCK_BOOTTIME, pcr_attempt_due(m, now) - now,
                         TIMER_ACCURACY_FINE, on_debounce, "debounce");
        return 0;
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t next = usec + m->config->pcr_poll_interval_usec;
        int r;

        pcr_poll(m);
        /* The next poll one period after this one was due, not after it ran: counted from "now",
         * the timer's slack (TIMER_ACCURACY_POLL) would stretch every period and drop polls. After
         * a suspend or a long stall the period starts afresh. */
        if (next <= now_usec(CLOCK_BOOTTIME))
                return arm_timer(m, &m->poll_timer, CLOCK_BOOTTIME, m->config->pcr_poll_interval_usec,
                                 TIMER_ACCURACY_POLL, NULL, "poll");
        r = sd_event_source_set_time(s, next);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the poll timer: %m");
        return 0;
}

static int on_measure_log(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        pcr_poll(userdata);
        return 0;
}

int manager_watch_pcrs(Manager *m) {
        int r;

        m->boottime_offset_usec = boottime_offset();
        if (m->config->pcr_poll_interval_usec > 0) {
                r = arm_timer(m, &m->poll_timer, CLOCK_BOOTTIME, m->config->pcr_poll_interval_usec,
                              TIMER_ACCURACY_POLL, on_poll, "poll");
                if (r < 0)
                        return r;
        }
        /* systemd (255+) appends here whenever it extends a PCR: look at once instead of at the
         * next poll. Older systems have no such file; polling covers them. */
        if (!m->measure_watch && access(MEASURE_LOG_PATH, F_OK) >= 0) {
                r = sd_event_add_inotify(m->event, &m->measure_watch, MEASURE_LOG_PATH, IN_MODIFY | IN_CLOSE_WRITE,
                                         on_measure_log, m);
                if (r < 0)
                        log_warning_errno(r, "Cannot watch %s, relying on polling: %m", MEASURE_LOG_PATH);
        }
        return 0;
}

void manager_disarm_timers(Manager *m) {
        m->refresh_timer = sd_event_source_disable_unref(m->refresh_timer);
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        m->expiry_timer = sd_event_source_disable_unref(m->expiry_timer);
        m->poll_timer = sd_event_source_disable_unref(m->poll_timer);
        m->debounce_timer = sd_event_source_disable_unref(m->debounce_timer);
}

/* A link came up or a route appeared. Only a retry for a failure that never reached the service is
 * brought forward: service-side failures (4xx, 5xx, 429) keep their backoff and Retry-After. */
static void on_network_change(NetWatch *w, void *userdata) {
        Manager *m = userdata;
        uint64_t now, due, armed;

        if (attester_is_running(m->attester)) {
                m->network_changed = true; /* manager_network_failed() looks at it */
                return;
        }
        if (!m->retry_for_network || !m->retry_timer || sd_event_source_get_enabled(m->retry_timer, NULL) <= 0)
                return;
        now = now_usec(CLOCK_BOOTTIME);
        due = m->last_network_attempt_usec + NETWORK_RETRY_MIN_USEC;
        if (m->last_network_attempt_usec > 0 && now < due) {
                if (sd_event_source_get_time(m->retry_timer, &armed) >= 0 && armed > due)
                        (void) sd_event_source_set_time(m->retry_timer, due);
                return;
        }
        m->last_network_attempt_usec = now;
        log_info("The network changed; attesting now instead of waiting out the retry delay.");
        m->hooks.attest(m, "the network changed");
}

int manager_watch_network(Manager *m) {
        int r;

        if (m->netwatch)
                return 0;
        r = netwatch_new(m->event, on_network_change, m, &m->netwatch);
        if (r < 0)
                return log_warning_errno(r, "Cannot watch the network (rtnetlink), relying on the retry timer: %m");
        return 0;
}

void manager_network_failed(Manager *m, bool no_reply) {
        bool changed = m->network_changed;

        m->network_changed = false;
        m->retry_for_network = no_reply;
        if (no_reply && changed)
                on_network_change(m->netwatch, m);
}

TpmContext *manager_get_tpm(Manager *m, char **reterr_message) {
        int r;

        if (m->tpm)
                return m->tpm;
        log_debug("Opening the TPM %s.", strna(m->config->tcti)); /* tests count these */
        r = tpm_context_new_full(m->config->tcti, &m->tpm, reterr_message);
        if (r < 0) {
                if (reterr_message && !*reterr_message && asprintf(reterr_message, "cannot open TPM %s: %s",
                                                                      m->config->tcti, strerror(-r)) < 0)
                        *reterr_message = NULL;
                return NULL;
        }
        return m->tpm;
}

void manager_put_tpm(Manager *m, bool failed) {
        if (m->tpm && (failed || tpm_context_is_broken(m->tpm))) {
                log_debug("Closing the TPM context after a failure; it is opened again at the next use.");
                m->tpm = tpm_context_free(m->tpm);
        }
}
