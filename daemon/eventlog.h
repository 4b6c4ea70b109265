/* SPDX-License-Identifier: MIT */
/* TCG PC Client firmware event log (binary_bios_measurements): a strict parser over a buffer, PCR
 * replay and decoders for the event data an operator reads. No I/O; logs at debug level only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcrs.h"
#include "util.h"

/* Limits that turn absurd input into errors instead of huge allocations or long loops. */
#define EVENTLOG_EVENT_DATA_MAX (16U * 1024U * 1024U)
#define EVENTLOG_EVENTS_MAX 65536U
#define EVENTLOG_ALGORITHMS_MAX 16U     /* in the Spec ID event */

/* Event types (TCG PC Client Platform Firmware Profile, "Events"). */
#define EV_PREBOOT_CERT UINT32_C(0x00000000)
#define EV_POST_CODE UINT32_C(0x00000001)
#define EV_NO_ACTION UINT32_C(0x00000003)
#define EV_SEPARATOR UINT32_C(0x00000004)
#define EV_ACTION UINT32_C(0x00000005)
#define EV_EVENT_TAG UINT32_C(0x00000006)
#define EV_S_CRTM_CONTENTS UINT32_C(0x00000007)
#define EV_S_CRTM_VERSION UINT32_C(0x00000008)
#define EV_IPL UINT32_C(0x0000000D)
#define EV_EFI_VARIABLE_DRIVER_CONFIG UINT32_C(0x80000001)
#define EV_EFI_VARIABLE_BOOT UINT32_C(0x80000002)
#define EV_EFI_ACTION UINT32_C(0x80000007)
#define EV_EFI_PLATFORM_FIRMWARE_BLOB UINT32_C(0x80000008)
#define EV_EFI_VARIABLE_BOOT2 UINT32_C(0x8000000C)
#define EV_EFI_HCRTM_EVENT UINT32_C(0x80000010)
#define EV_EFI_VARIABLE_AUTHORITY UINT32_C(0x800000E0)

typedef enum EventLogFormat {
        EVENTLOG_FORMAT_SHA1,           /* legacy TCG_PCR_EVENT records, SHA-1 only */
        EVENTLOG_FORMAT_CRYPTO_AGILE,   /* Spec ID Event03 header, then TCG_PCR_EVENT2 records */
        _EVENTLOG_FORMAT_MAX,
        _EVENTLOG_FORMAT_INVALID = -EINVAL,
} EventLogFormat;

/* One bank of the log: from the Spec ID event (crypto-agile) or implied sha1 (legacy).
 * alg may be an algorithm outside pcrs.h's table; such digests are carried but never replayed. */
typedef struct EventLogAlgorithm {
        uint16_t alg;
        uint16_t digest_size;
} EventLogAlgorithm;

/* A digest of one event; data points into the EventLog's own copy of the input. */
typedef struct EventLogDigest {
        uint16_t alg;
        uint16_t size;
        const uint8_t *data;
} EventLogDigest;

/* One record. index counts every record from 0, including the Spec ID header record; offset is
 * the record's first byte in the input. Pointers stay valid until the EventLog is freed. */
typedef struct EventLogEvent {
        size_t index;
        size_t offset;
        uint32_t pcr;                   /* < PCR_COUNT unless type is EV_NO_ACTION */
        uint32_t type;
        const EventLogDigest *digests;
        size_t n_digests;
        const uint8_t *data;
        uint32_t data_size;
} EventLogEvent;

/* The Spec ID Event03 header of a crypto-agile log. */
typedef struct EventLogSpecId {
        uint32_t platform_class;
        uint8_t version_major;
        uint8_t version_minor;
        uint8_t errata;
        uint8_t uintn_size;
        const uint8_t *vendor_info;
        uint8_t vendor_info_size;
} EventLogSpecId;

typedef struct EventLog EventLog;

/* Parses a whole event log. The input is copied, so DATA may be freed afterwards. Every record
 * must be complete and well formed: no trailing bytes, sizes within the input and the limits
 * above, 1..n digests of algorithms the Spec ID event lists (any order, no duplicates; some
 * firmware omits banks), measured events in PCRs 0-23.
 * Returns 0, or:
 *   -ENODATA          empty input;
 *   -EBADMSG          malformed or truncated record, trailing garbage;
 *   -EPROTONOSUPPORT  a Spec ID event of an unknown version;
 *   -E2BIG            event data over EVENTLOG_EVENT_DATA_MAX, more than EVENTLOG_EVENTS_MAX records;
 *   -ENOMEM.
 * On failure other than -ENOMEM, *reterr_message (if non-NULL) receives a malloc'd sentence naming
 * the byte offset, the record and what was wrong, e.g.
 * "offset 1234: event 17: event data size 4294967295 exceeds remaining 80 bytes". */
int eventlog_parse(const uint8_t *data, size_t size, EventLog **ret, char **reterr_message);

EventLog *eventlog_free(EventLog *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventLog *, eventlog_free);

EventLogFormat eventlog_format(const EventLog *log);
const char *eventlog_format_to_string(EventLogFormat f);
size_t eventlog_n_events(const EventLog *log);
/* Event I, or NULL if out of range. */
const EventLogEvent *eventlog_event(const EventLog *log, size_t i);
/* The log's banks in Spec ID order (just sha1 for a legacy log). */
const EventLogAlgorithm *eventlog_algorithms(const EventLog *log, size_t *ret_n);
/* The Spec ID header, or NULL for a legacy log. */
const EventLogSpecId *eventlog_spec_id(const EventLog *log);
/* Locality of the first StartupLocality event, or -ENODATA if the log has none. */
int eventlog_startup_locality(const EventLog *log);

/* Replays the log into a fresh PcrSet with one bank per algorithm of the log that pcrs.h knows
 * (banks whose hash OpenSSL cannot compute are left out). EV_NO_ACTION records are not extended;
 * PCR0 starts at 00..0N after a StartupLocality event of locality N, at 00..04 if the log has an
 * EV_EFI_HCRTM_EVENT and no StartupLocality event; everything else starts at zero. present_mask
 * marks the PCRs the log extends, minus those extended by an event that lacks the bank's digest
 * (their value is unknown). Compare with TPM values using pcr_set_compare().
 * Returns 0, -EIO if OpenSSL fails. */
int eventlog_replay(const EventLog *log, PcrSet *ret);

/* "EV_EFI_VARIABLE_DRIVER_CONFIG" etc., or NULL for a type outside the table. */
const char *eventlog_event_type_to_string(uint32_t type);

/* ---- decoders for event data (best effort: firmware is messy, so a failure here never makes
 * the log invalid; callers fall back to showing sizes or hex) ---- */

#define EVENTLOG_GUID_STRING_MAX 37
/* Canonical upper-case form "8BE4DF61-93CA-11D2-AA0D-00E098032B8C" of a little-endian EFI_GUID. */
char *eventlog_guid_to_string(const uint8_t guid[16], char buf[EVENTLOG_GUID_STRING_MAX]);

/* UTF-16LE (SIZE bytes, stops at a NUL character) to a malloc'd UTF-8 string. Unpaired
 * surrogates become U+FFFD. -EBADMSG for an odd size, -ENOMEM. */
int eventlog_utf16_to_utf8(const uint8_t *data, size_t size, char **ret);

/* Text of EV_IPL, EV_EFI_ACTION, EV_POST_CODE, EV_S_CRTM_VERSION and similar events: UTF-8/ASCII
 * (trailing NULs dropped) or UTF-16LE. -EBADMSG if the data is not text (binary, embedded NULs,
 * control characters, invalid UTF-8), -ENOMEM. */
int eventlog_decode_string(const uint8_t *data, size_t size, char **ret);

/* UEFI_VARIABLE_DATA of the EV_EFI_VARIABLE_* events. */
typedef struct EventLogVariable {
        uint8_t guid[16];
        char *name;                     /* UTF-8 */
        const uint8_t *data;            /* points into the event */
        size_t data_size;
} EventLogVariable;

/* -EBADMSG if the sizes inside the structure do not fit the event data, -ENOMEM. */
int eventlog_decode_variable(const uint8_t *data, size_t size, EventLogVariable *ret);
void eventlog_variable_done(EventLogVariable *v);

/* The locality byte of a "StartupLocality" EV_NO_ACTION event, or -ENODATA if E is not one. */
int eventlog_decode_startup_locality(const EventLogEvent *e);
