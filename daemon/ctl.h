/* SPDX-License-Identifier: MIT */
/* attestctl verbs: each verb lives in its own ctl-*.c file and is dispatched from attestctl.c, which
 * parses every option in one pass into ctl_args. A verb gets only its positional arguments
 * (argv[0] = the verb name) and returns the process exit status. */
#pragma once

#include "util.h"

/* Exit statuses shared by every verb (documented in attestctl(1)). */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,   /* the operation failed (invalid token, mismatch, TPM error...) */
        CTL_EXIT_USAGE = 2,     /* bad command line (attestd uses 2 too) */
        CTL_EXIT_TIMEOUT = 3,   /* wait: timed out */
        CTL_EXIT_UNAVAILABLE = 4, /* daemon or resource not reachable */
        CTL_EXIT_DENIED = 5,    /* is-attested: the verifier refused this host's evidence */
};

typedef enum CtlJson {
        CTL_JSON_OFF,
        CTL_JSON_SHORT,
        CTL_JSON_PRETTY,
} CtlJson;

/* The options that belong to particular verbs; a verb lists those it takes in attestctl.c and any
 * other one is a usage error. Global options (--config, --json, -q ...) are not listed. */
typedef enum CtlOption {
        CTL_OPT_TCTI = 1 << 0,
        CTL_OPT_BANKS = 1 << 1,
        CTL_OPT_PCRS = 1 << 2,
        CTL_OPT_NONCE = 1 << 3,
        CTL_OPT_OUTPUT_DIR = 1 << 4,
        CTL_OPT_REPLAY = 1 << 5,
        CTL_OPT_CLAIMS = 1 << 6,
        CTL_OPT_TIMEOUT = 1 << 7,
        CTL_OPT_AT = 1 << 8,
        CTL_OPT_T = 1 << 9,     /* -t: --timeout for wait, --at for token verify */
        CTL_OPT_JWKS = 1 << 10,
        CTL_OPT_ISSUER = 1 << 11,
        CTL_OPT_ENDPOINT = 1 << 12,
        CTL_OPT_SKEW = 1 << 13,
        CTL_OPT_RP_DATA = 1 << 14,
        CTL_OPT_CNF_JWK = 1 << 15,
} CtlOption;

typedef struct CtlArgs {
        const char *config;     /* NULL = default */
        CtlJson json;
        bool quiet, no_pager, no_legend, help;
        bool tty;               /* stdout is a terminal: colour and symbols allowed */
        const char *tcti, *banks, *pcrs, *nonce, *output_dir;
        bool replay, claims;
        const char *timeout, *at, *jwks, *issuer, *endpoint, *skew, *rp_data, *cnf_jwk;
        unsigned given;         /* CtlOption bits seen on the command line */
} CtlArgs;

extern CtlArgs ctl_args;

/* Prints O on stdout as --json asked: pretty or one line. -ENOMEM, -EIO. */
struct json_object;
int ctl_print_json(struct json_object *o);

/* "2026-01-02T03:04:05Z" (RFC 3339, UTC) for USEC since the epoch; NULL for 0. */
struct json_object *ctl_json_timestamp(uint64_t usec);

/* Per-verb help texts; each returns CTL_EXIT_OK. */
int help_eventlog(void);                        /* ctl-eventlog.c */
int help_pcrs(void);                            /* ctl-tpm.c */
int help_quote(void);                           /* ctl-tpm.c */
int help_token(int argc, char **argv);          /* ctl-token.c */

int verb_attest(int argc, char **argv);         /* ctl-bus.c */
int verb_is_attested(int argc, char **argv);    /* ctl-bus.c */
int verb_status(int argc, char **argv);         /* ctl-bus.c */
int verb_wait(int argc, char **argv);           /* ctl-bus.c */
int verb_metrics(int argc, char **argv);        /* ctl-metrics.c */
int verb_eventlog(int argc, char **argv);       /* ctl-eventlog.c */
int verb_token(int argc, char **argv);          /* ctl-token.c */
int verb_pcrs(int argc, char **argv);           /* ctl-tpm.c */
int verb_quote(int argc, char **argv);          /* ctl-tpm.c */
