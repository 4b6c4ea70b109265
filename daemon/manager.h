/* SPDX-License-Identifier: MIT */
/* The Manager: owns the event loop, the bus connection, the configuration, the TPM context and
 * the attester, and runs the state machine (starting → attesting → attested/stale/denied/failed). */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "attest.h"
#include "config.h"
#include "pcrs.h"
#include "tpm.h"

typedef enum ManagerState {
        MANAGER_STARTING,
        MANAGER_ATTESTING,
        MANAGER_ATTESTED,
        MANAGER_STALE,
        MANAGER_DENIED,
        MANAGER_FAILED,
        _MANAGER_STATE_MAX,
        _MANAGER_STATE_INVALID = -EINVAL,
} ManagerState;

/* An Attest() call waiting for the attempt numbered GENERATION (or a later one) to end. */
typedef struct PendingAttest {
        sd_bus_message *message;
        uint64_t generation;
} PendingAttest;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config *config;
        char *config_path;              /* NULL = default */
        bool once;                      /* attestd --once: one attempt, then exit */
        int exit_status;
        bool warned_no_ak_cert;         /* the missing AK certificate was pointed out (once) */

        TpmContext *tpm;                /* open only while in use */
        Attester *attester;

        ManagerState state;
        char *state_string;             /* for the D-Bus property (points into a static table) */
        char *last_error;               /* "" when none; never NULL once started */
        uint64_t attestation_count;
        uint64_t failure_count;
        unsigned consecutive_failures;
        uint64_t last_attestation_usec; /* CLOCK_REALTIME of the last success; 0 = never */
        uint64_t next_attestation_usec; /* CLOCK_REALTIME estimate of the next attempt; 0 = none */
        bool attest_again;              /* a trigger arrived while an attempt was running */
        char *attempt_reason;

        /* The token being served (NULL = none). */
        char *token;
        json_object *token_header;
        json_object *token_claims;
        uint64_t token_issued_usec;
        uint64_t token_expires_usec;    /* CLOCK_REALTIME */
        PcrSet token_pcrs;              /* the PCR values the token attests */
        uint32_t token_pcr_mask;
        bool token_pcrs_changed;        /* the PCRs moved since: the token is stale */
        gid_t token_gid;

        /* PCR watch */
        uint32_t pcr_counter;
        bool have_pcr_counter;
        uint64_t boottime_offset_usec;  /* BOOTTIME - MONOTONIC at the last look; grows by suspends */

        sd_event_source *refresh_timer;  /* CLOCK_BOOTTIME */
        sd_event_source *retry_timer;    /* CLOCK_BOOTTIME */
        sd_event_source *expiry_timer;   /* CLOCK_REALTIME, at the token's exp */
        sd_event_source *poll_timer;     /* CLOCK_BOOTTIME, PCR counter polling */
        sd_event_source *debounce_timer; /* CLOCK_BOOTTIME */
        sd_event_source *measure_watch;  /* inotify on systemd's tpm2-measure.log */

        uint64_t attempt_generation;    /* number of attempts started */
        PendingAttest *pending_attest;
        size_t n_pending_attest;
} Manager;

int manager_new(const char *config_path, bool once, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects to the bus (unless --once), serves a cached token that is still good, starts the
 * first attestation and tells systemd READY=1. */
int manager_start(Manager *m);

/* Runs the event loop until SIGTERM/SIGINT (or the end of --once). Returns the exit status. */
int manager_run(Manager *m);

/* Starts an attempt now (or right after the running one). REASON goes to the journal. */
void manager_attest_now(Manager *m, const char *reason);

/* Re-reads the configuration; on error keeps the old one and returns it. */
int manager_reload(Manager *m);

const char *manager_state_to_string(ManagerState s);

/* --- manager-schedule.c -------------------------------------------------------------------- */
uint64_t now_usec(clockid_t clock);
/* Arms the retry timer for the next attempt after a failure (exponential backoff with jitter,
 * never sooner than RETRY_AFTER_USEC); *ret_delay gets the delay chosen. */
int manager_schedule_retry(Manager *m, uint64_t retry_after_usec, uint64_t *ret_delay);
/* "4.5s", "3.0min", "1.2h". */
void format_delay(uint64_t usec, char buf[static 32]);
/* Arms the refresh timer from the token's lifetime and RefreshIntervalSec=. */
int manager_schedule_refresh(Manager *m);
/* Arms the timer that withdraws the token at its exp. */
int manager_schedule_expiry(Manager *m);
/* Starts PCR change detection (counter polling, tpm2-measure.log watch). */
int manager_watch_pcrs(Manager *m);
void manager_disarm_timers(Manager *m);
/* Returns the TPM context, opening it if needed; NULL (and *reterr_message) when unavailable. */
TpmContext *manager_get_tpm(Manager *m, char **reterr_message);
/* Closes the TPM context after use (manager_get_tpm() opens it again). */
void manager_put_tpm(Manager *m);

/* --- manager-files.c ----------------------------------------------------------------------- */
/* Writes token.json and state for the current token, and the token file itself when NEW_TOKEN. */
int manager_write_token(Manager *m, bool new_token);
int manager_write_state(Manager *m);
/* Withdraws the token files (and the in-memory token). */
void manager_drop_token(Manager *m, const char *why);
/* Loads token + token.json written by an earlier run; kept when unexpired and the PCRs it attests
 * still hold. Returns 1 when a token is now served. */
int manager_load_cached_token(Manager *m);
