/* SPDX-License-Identifier: MIT */
/* attestctl verbs: each verb lives in its own ctl-*.c file and is dispatched from attestctl.c.
 * A verb gets argv with argv[0] = the verb name and returns the process exit status. */
#pragma once

#include "util.h"

/* Exit statuses shared by every verb (documented in attestctl(1)). */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,   /* the operation failed (invalid token, mismatch, TPM error...) */
        CTL_EXIT_USAGE = 2,     /* bad command line */
        CTL_EXIT_TIMEOUT = 3,   /* wait: timed out */
        CTL_EXIT_UNAVAILABLE = 4, /* daemon or resource not reachable */
};

/* Prints O as one line of plain JSON on stdout. -ENOMEM, -EIO. */
struct json_object;
int ctl_print_json(struct json_object *o);

/* Set by attestctl.c from --config (NULL = default); verbs that need the Config load it. */
extern const char *ctl_config_path;

int verb_attest(int argc, char **argv);         /* ctl-bus.c */
int verb_status(int argc, char **argv);         /* ctl-bus.c */
int verb_wait(int argc, char **argv);           /* ctl-bus.c */
int verb_eventlog(int argc, char **argv);       /* ctl-eventlog.c */
int verb_token(int argc, char **argv);          /* ctl-token.c */
int verb_pcrs(int argc, char **argv);           /* ctl-tpm.c */
int verb_quote(int argc, char **argv);          /* ctl-tpm.c */
