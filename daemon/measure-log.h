/* SPDX-License-Identifier: MIT */
/* systemd's userspace TPM measurement log (/run/log/systemd/tpm2-measure.log): JSON-SEQ
 * (RFC 7464) records close to TCG CEL-JSON, read under a shared lock, parsed and replayed. */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"
#include "util.h"

#define MEASURE_LOG_PATH_DEFAULT "/run/log/systemd/tpm2-measure.log"
#define MEASURE_LOG_SIZE_MAX (16U * 1024U * 1024U)
#define MEASURE_LOG_RECORDS_MAX 65536U
#define MEASURE_LOG_NO_PCR UINT_MAX     /* record without a "pcr" field (not a PCR measurement) */

typedef struct MeasureLogDigest {
        uint16_t alg;
        size_t size;
        uint8_t data[PCR_DIGEST_MAX];
} MeasureLogDigest;

/* One record, e.g. {"pcr":11,"digests":[{"hashAlg":"sha256","digest":"…"}],
 * "content_type":"systemd","content":{"string":"enter-initrd","eventType":"phase"}}.
 * Digests of hash algorithms pcrs.h does not know are skipped, as systemd does. */
typedef struct MeasureLogRecord {
        size_t index;                   /* 0-based */
        size_t offset;                  /* of the record's 0x1E separator */
        unsigned pcr;                   /* 0..23 or MEASURE_LOG_NO_PCR */
        MeasureLogDigest digests[PCR_BANKS_MAX];
        size_t n_digests;
        char *content_type;             /* NULL if absent */
        char *description;              /* content.string of "systemd" records, NULL if absent */
        char *event_type;               /* content.eventType ("phase", "machine-id", ...), or NULL */
} MeasureLogRecord;

typedef struct MeasureLog {
        MeasureLogRecord *records;
        size_t n_records;
} MeasureLog;

/* Parses the log text. An empty input is a valid log without records. Every record must start
 * with 0x1E and hold one JSON object with a "digests" array of {"hashAlg","digest"}; "pcr" must
 * be 0..23 when present; a known hash's digest must be hex of its exact size, once per record.
 * Returns 0, -EBADMSG for malformed input, -E2BIG for more than MEASURE_LOG_RECORDS_MAX records,
 * -ENOMEM. On -EBADMSG/-E2BIG *reterr_message (if non-NULL) gets a malloc'd sentence naming the
 * byte offset, the record and the problem. */
int measure_log_parse(const char *data, size_t size, MeasureLog **ret, char **reterr_message);

/* Opens PATH (NULL = MEASURE_LOG_PATH_DEFAULT), takes a shared flock() so that no record is read
 * half-written, reads at most MEASURE_LOG_SIZE_MAX bytes and parses them. -ENOENT if the file does
 * not exist (no userspace measurements), -E2BIG if it is larger, -EBADF if it is not a regular
 * file, other -errno from open/flock/read, or measure_log_parse()'s errors. */
int measure_log_read(const char *path, MeasureLog **ret, char **reterr_message);

MeasureLog *measure_log_free(MeasureLog *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(MeasureLog *, measure_log_free);

/* Extends every record with a PCR into SET, on top of its current values (normally the
 * firmware log's replay, whose PCR 11 systemd-stub may already have extended). With an empty
 * SET, banks are added for the algorithms the records carry. A PCR extended by a record that
 * lacks one of SET's banks loses that bank's present bit (its value is unknown). 0, -EIO. */
int measure_log_replay(const MeasureLog *log, PcrSet *set);
