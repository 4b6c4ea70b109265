/* SPDX-License-Identifier: MIT */
/* attestctl metrics: attestd's state as OpenMetrics text, for node_exporter's textfile collector
 * (a timer writes it to a .prom file). Reads the properties; computes nothing the daemon does not. */
#include <inttypes.h>

#include "ctl-status.h"
#include "ctl.h"

/* Every State value, so the stateset always has all its samples (one of them 1). */
static const char *const states[] = { "starting", "attesting", "attested", "stale", "denied", "failed", "stopped" };

static void metric(const char *name, const char *type, const char *help) {
        printf("# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

static void seconds(const char *name, const char *help, uint64_t usec) {
        metric(name, "gauge", help);
        printf("%s %" PRIu64 ".%06" PRIu64 "\n", name, usec / USEC_PER_SEC, usec % USEC_PER_SEC);
}

/* One counter family with a sample per class (org.attestd.Attest1(5) FailureCounts): no unlabelled total
 * beside them, or sum(attestd_failures_total) would count every failure twice. A daemon without
 * FailureCounts still gets its total, unlabelled. */
static void print_failures(const Status *s) {
        metric("attestd_failures", "counter", "Attempts that failed since attestd started, by class.");
        if (!s->failure_counts) {
                printf("attestd_failures_total %" PRIu64 "\n", s->failures);
                return;
        }
        json_object_object_foreach(s->failure_counts, class, n)
                printf("attestd_failures_total{class=\"%s\"} %" PRIu64 "\n", class,
                       json_object_get_uint64(n));
}

static void print_metrics(const Status *s) {
        metric("attestd_up", "gauge", "Whether attestd answered on the system bus.");
        printf("attestd_up 1\n");
        metric("attestd_state", "stateset", "attestd's state (attestd(8) STATES).");
        for (size_t i = 0; i < ELEMENTSOF(states); i++)
                printf("attestd_state{attestd_state=\"%s\"} %d\n", states[i], streq(s->state, states[i]));
        metric("attestd_token_valid", "gauge", "Whether a valid attestation token is published.");
        printf("attestd_token_valid %d\n", *s->token_path ? 1 : 0);
        metric("attestd_token_stale", "gauge", "Whether the published token no longer matches the PCRs.");
        printf("attestd_token_stale %d\n", s->stale ? 1 : 0);
        seconds("attestd_token_expiry_timestamp_seconds", "When the published token expires (0: none).", s->expires);
        seconds("attestd_last_success_timestamp_seconds", "When the last attestation succeeded (0: never).", s->last);
        seconds("attestd_next_attempt_timestamp_seconds", "When the next attempt is due (0: none scheduled).", s->next);
        metric("attestd_attestations", "counter", "Attestations that succeeded since attestd started.");
        printf("attestd_attestations_total %" PRIu64 "\n", s->count);
        print_failures(s);
}

int verb_metrics(int argc, char **argv) {
        _cleanup_(status_done) Status s = {};
        int r;

        r = ctl_status_read(&s);
        if (r == CTL_EXIT_OK)
                print_metrics(&s);
        else {
                /* A collector still gets a document: down is a value worth alerting on. */
                metric("attestd_up", "gauge", "Whether attestd answered on the system bus.");
                printf("attestd_up 0\n");
        }
        printf("# EOF\n");
        return fflush(stdout) == 0 ? r : CTL_EXIT_FAILURE;
}
