/* SPDX-License-Identifier: MIT */
/* The Manager: owns the event loop, the bus connection, the configuration, the TPM context, the
 * attester and the served token, and runs the state machine (starting → attesting →
 * attested/stale/denied/failed → stopped). Its files, each with one job:
 *   manager.c           lifecycle and the state machine: start an attempt, turn its result into a transition
 *   manager-publish.c   the one place a state or a token becomes visible (files, D-Bus, sd_notify), all or nothing
 *   manager-files.c     renders token.json and state and commits them to the runtime directory as one transaction
 *   manager-schedule.c  decides when to attest (timers, backoff, PCR watch) and reports it through ManagerHooks
 *   manager-startup.c   takes the runtime directory (owner, mode, lock) and verifies a token left by an earlier run
 * Calls go down: manager.c → publish → files/bus; schedule reports up only through the hooks. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "attest.h"
#include "config.h"
#include "netwatch.h"
#include "pcrs.h"
#include "token-record.h"
#include "tpm.h"

typedef enum ManagerState {
        MANAGER_STARTING,
        MANAGER_ATTESTING,
        MANAGER_ATTESTED,
        MANAGER_STALE,
        MANAGER_DENIED,
        MANAGER_FAILED,
        MANAGER_STOPPED,        /* written to the state file on a clean stop; never seen on the bus */
        _MANAGER_STATE_MAX,
        _MANAGER_STATE_INVALID = -EINVAL,
} ManagerState;

/* An Attest() call waiting for the attempt numbered GENERATION (or a later one) to end. */
typedef struct PendingAttest {
        sd_bus_message *message;
        uint64_t generation;
} PendingAttest;

typedef struct Manager Manager;

/* What the schedule tells the manager, set by manager_new(): the schedule never calls manager.c
 * or publishes anything itself. */
typedef struct ManagerHooks {
        void (*attest)(Manager *m, const char *reason);       /* a timer or a PCR change wants an attempt */
        void (*pcrs_changed)(Manager *m);                      /* the served token's PCRs moved: it is stale */
        void (*token_expired)(Manager *m);                     /* the served token reached its exp */
} ManagerHooks;

struct Manager {
        sd_event *event;
        sd_bus *bus;
        Config *config;
        char *config_path;              /* NULL = default */
        bool once;                      /* attestd --once: one attempt, then exit */
        int exit_status;
        bool warned_no_ak_cert;         /* the missing AK certificate was pointed out (once) */
        ManagerHooks hooks;
        int dir_fd;                     /* the runtime directory, flock()ed while this process runs */
        char boot_id[33];               /* for the state file: a reader tells a dead writer by PID + boot */

        TpmContext *tpm;                /* kept open for the daemon's life; reopened after a failure */
        Attester *attester;

        ManagerState state;
        char *state_string;             /* for the D-Bus property (points into a static table) */
        char *last_error;               /* "" when none; never NULL once started */
        uint64_t attestation_count;
        uint64_t failure_count;
        uint64_t failure_counts[_ATTEST_FAILURE_CLASS_MAX]; /* by AttestResult.failure_class; they sum
                                                             * to failure_count */
        unsigned consecutive_failures;
        uint64_t last_attestation_usec; /* CLOCK_REALTIME of the last success; 0 = never */
        uint64_t next_attestation_usec; /* CLOCK_REALTIME estimate of the next attempt; 0 = none */
        bool attest_again;              /* a trigger arrived while an attempt was running */
        char *attempt_reason;

        /* The token being served (NULL = none). Only manager_publish() changes it. */
        TokenRecord *token;
        bool token_stale;               /* the PCRs it attests moved since it was issued */
        bool published_stale;           /* what token.json on disk says */
        gid_t token_gid;

        /* PCR watch */
        uint32_t pcr_counter;
        bool have_pcr_counter;
        uint64_t boottime_offset_usec;  /* BOOTTIME - MONOTONIC at the last look; grows by suspends */
        uint64_t pcr_burst_start_usec;  /* BOOTTIME of the first change the debounce waits on; 0 = none */
        uint64_t last_pcr_attempt_usec; /* BOOTTIME when a PCR change last started an attempt; 0 = never */

        sd_event_source *refresh_timer;  /* CLOCK_BOOTTIME */
        sd_event_source *retry_timer;    /* CLOCK_BOOTTIME */
        sd_event_source *expiry_timer;   /* CLOCK_REALTIME, at the token's exp */
        sd_event_source *poll_timer;     /* CLOCK_BOOTTIME, PCR counter polling */
        sd_event_source *debounce_timer; /* CLOCK_BOOTTIME */
        sd_event_source *measure_watch;  /* inotify on systemd's tpm2-measure.log */

        /* Network watch: a retry after a failure that never reached the service goes at once when
         * a link comes up or a route appears, instead of when the backoff ends. */
        NetWatch *netwatch;
        bool retry_for_network;         /* the pending retry is for such a failure */
        bool network_changed;           /* the network changed during the running attempt */
        uint64_t last_network_attempt_usec; /* BOOTTIME of the last attempt it started; 0 = never */

        uint64_t attempt_generation;    /* number of attempts started */
        PendingAttest *pending_attest;
        size_t n_pending_attest;
};

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

/* Re-reads the configuration; on error keeps the running one, returns the error and, when
 * RETERR_REASON is not NULL, a malloc'd reason ("file:line: Invalid [Section] Key=: why"). A new
 * Endpoint= or RuntimeDirectory= withdraws the token (and empties the old directory) before
 * attesting again. */
int manager_reload(Manager *m, char **reterr_reason);

const char *manager_state_to_string(ManagerState s);

/* --- manager-publish.c ------------------------------------------------------------------------ */
typedef enum PublishToken {
        PUBLISH_KEEP,           /* the served token stays (token.json rewritten if its stale flag moved) */
        PUBLISH_NEW,            /* TOKEN replaces it */
        PUBLISH_WITHDRAW,       /* it is removed */
} PublishToken;

/* Makes STATE (and with PUBLISH_NEW/WITHDRAW the token change) visible: the files as one
 * transaction, then PropertiesChanged, then sd_notify STATUS=. TOKEN is consumed (PUBLISH_NEW only).
 * A PUBLISH_NEW whose files cannot be written changes nothing, not even memory, and returns -errno;
 * any other failed write is logged and memory follows the decision anyway (a withdrawn token is
 * gone, a state is what it is). WHY (may be NULL) is logged when a token is withdrawn. */
int manager_publish(Manager *m, ManagerState state, PublishToken what, TokenRecord *token, const char *why);

/* --- manager-schedule.c -------------------------------------------------------------------- */
uint64_t now_usec(clockid_t clock);
/* Arms the retry timer for the next attempt after a failure (exponential backoff with jitter,
 * never sooner than RETRY_AFTER_USEC); *ret_delay gets the delay chosen. */
int manager_schedule_retry(Manager *m, uint64_t retry_after_usec, uint64_t *ret_delay);
/* "4.5s", "3.0min", "1.2h". */
void format_delay(uint64_t usec, char buf[static 32]);
/* Arms the refresh timer from T's lifetime and RefreshIntervalSec=. */
int manager_schedule_refresh(Manager *m, const TokenRecord *t);
/* Arms the timer that withdraws the token at its exp. */
int manager_schedule_expiry(Manager *m);
/* Starts PCR change detection (counter polling, tpm2-measure.log watch). A change marks the token
 * stale through hooks.pcrs_changed and asks for an attempt after PCRDebounceSec= of quiet, but
 * no later than PCRDebounceMaxSec= after the first change, never sooner than PCRMinIntervalSec=
 * after the last PCR-triggered attempt, and never while a retry (which honours Retry-After) is
 * pending. */
int manager_watch_pcrs(Manager *m);
void manager_disarm_timers(Manager *m);
/* Watches the kernel's links and routes: after a failure that never reached the service, a change
 * starts the next attempt at once (at most one such attempt per 250 ms). */
int manager_watch_network(Manager *m);
/* Called when an attempt failed and its retry is scheduled: NO_REPLY says whether the service was
 * reached at all. A network change seen during the attempt retries at once. */
void manager_network_failed(Manager *m, bool no_reply);
/* Returns the TPM context, opening it if needed; NULL (and *reterr_message) when unavailable. */
TpmContext *manager_get_tpm(Manager *m, char **reterr_message);
/* Ends a use of the TPM context. It stays open for the next one (no TCTI load per PCR poll) unless
 * FAILED or the context broke (a TCTI or ESAPI failure: swtpm restarted, a device error): then it
 * is closed, and the next manager_get_tpm() opens a new one. */
void manager_put_tpm(Manager *m, bool failed);

/* --- manager-files.c ----------------------------------------------------------------------- */
typedef enum FilesToken {
        FILES_TOKEN_KEEP,       /* token and token.json untouched */
        FILES_TOKEN_JSON,       /* token.json rewritten (the stale flag moved) */
        FILES_TOKEN_NEW,        /* token.json, then token */
        FILES_TOKEN_REMOVE,     /* token, then token.json */
} FilesToken;

/* Writes what the runtime directory must say for STATE with token T (NULL = none), stale flag
 * STALE: the token files as WHAT says, then state, in one transaction (cache_txn). Only
 * manager-publish.c calls it. */
int manager_files_commit(Manager *m, ManagerState state, const TokenRecord *t, bool stale, FilesToken what);
/* Removes every file attestd writes from DIR (a runtime directory given up by a reload). */
void manager_files_remove_all(const char *dir);

/* --- manager-startup.c ---------------------------------------------------------------------- */
/* Creates DIR if needed, refuses one not owned by our euid or writable by group/others, and
 * takes its lock: -EBUSY while another attestd (daemon or --once) holds it. *ret_fd holds the lock. */
int manager_take_runtime_dir(const char *dir, int *ret_fd);
/* The token an earlier run left in the runtime directory, verified again as if just received
 * (signature against the key set cached with it, iss = Endpoint=, exp/nbf/iat with ClockSkewSec=,
 * enough lifetime left) and still describing this host's PCRs. Returns 1 and *ret, or 0 with a
 * reason in *ret_why (malloc'd) when there is none or it must not be served. */
int manager_load_cached_token(Manager *m, TokenRecord **ret, char **ret_why);
