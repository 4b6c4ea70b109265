/* SPDX-License-Identifier: MIT */
/* attestd --test-config and attestctl test-config: one code path that loads the configuration and
 * then checks, without touching the TPM device or the network, what the text alone cannot show. */
#pragma once

#include "config.h"

/* The user attestd.service runs as (User= in the unit; sysusers.d creates it). */
#define CONFIG_DAEMON_USER "attestd"

/* Checks C against this host: TokenGroup= resolves and the daemon's user may give files to it, the
 * TCTI module exists for tctildr, the credential and certificate files the configuration names can
 * be read by the calling user. Logs each problem as an error and returns how many there were
 * (0 = fine), or -ENOMEM. */
int config_check(const Config *c);

/* Loads PATH (NULL = default) like the daemon, prints the effective configuration on OUT, runs
 * config_check() and says which user the checks ran as. Returns 0 when nothing was found wrong,
 * -EINVAL otherwise (every reason already logged). */
int config_test(const char *path, FILE *out);
