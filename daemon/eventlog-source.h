/* SPDX-License-Identifier: MIT */
/* Where the firmware event log is read from. securityfs gives it to root only (0440), and
 * attestd.service runs attestd as an unprivileged user, so the unit has the service manager read it
 * at start and pass it as the credential "eventlog" (LoadCredential=): the log is final once the
 * firmware hands over, so a copy taken at start is the log. */
#pragma once

#include "util.h"

#define EVENTLOG_SECURITYFS_PATH "/sys/kernel/security/tpm0/binary_bios_measurements"
#define EVENTLOG_CREDENTIAL "eventlog"
/* The first event of any TCG log (even a legacy SHA-1 one: PCR index, type, SHA-1 digest, size) is
 * this long. A shorter credential is the unit's fallback (SetCredential=eventlog:none, used when the
 * log could not be loaded), not a log. */
#define EVENTLOG_CREDENTIAL_MIN 32

/* The file to read for EventLog=CONFIGURED: $CREDENTIALS_DIRECTORY/eventlog when CONFIGURED is the
 * securityfs path (the default) and that credential is a regular file of at least
 * EVENTLOG_CREDENTIAL_MIN bytes; else CONFIGURED. *ret is malloc'd. */
int eventlog_source_path(const char *configured, char **ret);
