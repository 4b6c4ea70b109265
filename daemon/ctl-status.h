/* SPDX-License-Identifier: MIT */
/* attestd's properties as attestctl reads them (one GetAll, plus token.json beside the token), for
 * the verbs that show them: status, is-attested, metrics. */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "util.h"

typedef struct Status {
        char *state, *last_error, *endpoint, *token_path;
        uint64_t expires, last, next, count, failures;
        int stale;
        json_object *pcrs; /* {"sha256":{"0":"hex",...},...} */
        json_object *failure_counts; /* {"class":count,...} in the daemon's order; NULL when the
                                      * daemon predates FailureCounts */
        char *provider;    /* from token.json; NULL when it cannot be read */
        json_object *vm;   /* the Azure VM claims worth showing, NULL when none */
} Status;

void status_done(Status *s);

/* Fills S from the running daemon. Returns CTL_EXIT_OK, or the exit status after saying why
 * (ctl_unavailable()). */
int ctl_status_read(Status *s);

/* Says attestd cannot be reached (on stderr unless -q; also as a JSON error object on stdout with
 * --json) and returns CTL_EXIT_UNAVAILABLE. E or R supplies the reason. */
int ctl_unavailable(const sd_bus_error *e, int r);
