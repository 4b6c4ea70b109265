/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the event-log parser: parse, replay, render as JSON and text, free.
 * Built and run by 'make fuzz-eventlog' (not part of make check). */
#include <assert.h>

#include <json-c/json.h>

#include "eventlog-json.h"
#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render(const EventLog *log, const PcrSet *set) {
        static FILE *null;
        struct json_object *o = NULL;

        if (!null)
                null = fopen("/dev/null", "we");
        assert(null);

        if (eventlog_json_events(log, EVENTLOG_JSON_DATA, &o) == 0) {
                assert(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        }
        if (eventlog_json_pcrs(set, &o) == 0) {
                assert(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        }
        (void) eventlog_text_events(log, null);
        (void) eventlog_text_pcrs(set, null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        EventLog *log = NULL;
        char *message = NULL;
        PcrSet set;
        int r;

        r = eventlog_parse(data, size, &log, &message);
        if (r < 0) {
                /* Every rejection but an allocation failure explains itself with an offset. */
                assert(r == -ENOMEM || (message && strncmp(message, "offset ", 7) == 0));
                assert(!log);
                free(message);
                return 0;
        }
        assert(!message);

        for (size_t i = 0; i < eventlog_n_events(log); i++) {
                const EventLogEvent *e = eventlog_event(log, i);

                assert(e->index == i);
                assert(e->type == EV_NO_ACTION || e->pcr < PCR_COUNT);
                assert(e->n_digests > 0);
        }

        if (eventlog_replay(log, &set) == 0)
                render(log, &set);
        eventlog_free(log);
        return 0;
}
