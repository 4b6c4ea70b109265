/* SPDX-License-Identifier: MIT */
/* Renders parsed event logs, replayed PCRs and replay/TPM mismatches as json-c objects (for
 * attestctl --json and the daemon's token.json) and as readable text. No parsing, no logging. */
#pragma once

#include <stdio.h>

#include <json-c/json.h>

#include "eventlog.h"
#include "pcrs.h"

typedef enum EventLogJsonFlags {
        EVENTLOG_JSON_DATA = 1 << 0,    /* add each event's raw data as "data" (lower-case hex) */
} EventLogJsonFlags;

/* {"format":"crypto-agile","algorithms":[{"alg":"sha1","id":4,"digest_size":20},...],
 *  "events":[<event>,...]}. -ENOMEM. */
int eventlog_json_events(const EventLog *log, EventLogJsonFlags flags, struct json_object **ret);

/* One event: {"index","offset","pcr","type","type_name","digests":{"<bank>":"<hex>"},"data_size"}
 * plus, where the data decodes, one of "spec_id", "startup_locality", "variable" {guid, name,
 * data_size[, data]}, "string", "separator", "guid", "blob" {base, length}. Digests of
 * algorithms without a name use "0x<id>" as key. -ENOMEM. */
int eventlog_json_event(const EventLog *log, const EventLogEvent *e, EventLogJsonFlags flags,
                        struct json_object **ret);

/* {"<bank>":{"<pcr>":"<lower-case hex>",...},...}: the present PCRs of every bank, banks in set
 * order, PCRs ascending. -ENOMEM. */
int eventlog_json_pcr_banks(const PcrSet *set, struct json_object **ret);

/* {"pcrs":<eventlog_json_pcr_banks>}: the attestctl eventlog --replay --json document. */
int eventlog_json_pcrs(const PcrSet *set, struct json_object **ret);

/* [{"pcr":5,"bank":"sha1","replayed":"<hex>","read":"<hex>"},...]. -ENOMEM. */
int eventlog_json_mismatches(const PcrMismatch *m, size_t n, struct json_object **ret);

/* Text forms of the same, for people. Return 0 or -EIO if writing fails, -ENOMEM. */
int eventlog_text_events(const EventLog *log, FILE *f);
int eventlog_text_pcrs(const PcrSet *set, FILE *f);
int eventlog_text_mismatches(const PcrMismatch *m, size_t n, FILE *f);
