/* SPDX-License-Identifier: MIT */
/* attestctl eventlog: print or replay a TCG event log file, by default the running system's.
 * Reads the file (size-capped) here; parsing and rendering live in eventlog*.c. */
#include <fcntl.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "config.h"
#include "ctl.h"
#include "eventlog-json.h"
#include "eventlog.h"
#include "fileio.h"
#include "log.h"

/* Firmware logs are tens of KiB; anything this large is not one. */
#define CTL_EVENTLOG_FILE_MAX (64U * 1024U * 1024U)



static int show(const EventLog *log, bool replay, bool json) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        PcrSet pcrs;
        int r;

        if (replay) {
                r = eventlog_replay(log, &pcrs);
                if (r < 0)
                        return log_error_errno(r, "Failed to replay the event log: %m");
                r = json ? eventlog_json_pcrs(&pcrs, &o) : eventlog_text_pcrs(&pcrs, stdout);
        } else
                r = json ? eventlog_json_events(log, 0, &o) : eventlog_text_events(log, stdout);
        if (r >= 0 && o)
                r = ctl_print_json(o);
        if (r < 0)
                return log_error_errno(r, "Failed to write the output: %m");
        return 0;
}

int help_eventlog(void) {
        printf("Usage: attestctl eventlog [--json] [--replay] [FILE]\n\n"
               "Print the events of a TCG firmware event log, or the PCR values it replays to.\n"
               "Without FILE, the log named by EventLog= in the configuration (by default\n"
               "/sys/kernel/security/tpm0/binary_bios_measurements).\n\n"
               "  -j, --json[=MODE]  JSON output (pretty, short, off)\n"
               "  -r, --replay       print the replayed PCRs instead of the events\n"
               "  -h, --help         this help\n");
        return CTL_EXIT_OK;
}

int verb_eventlog(int argc, char **argv) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(eventlog_freep) EventLog *log = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *message = NULL;
        bool json = ctl_args.json != CTL_JSON_OFF, replay = ctl_args.replay, named = argc > 1;
        const char *path;
        size_t size = 0;
        int r;

        if (named)
                path = argv[1];
        else {
                if (config_load(ctl_args.config, &config) < 0)
                        return CTL_EXIT_FAILURE;
                path = config->event_log;
        }

        r = read_full_file(path, CTL_EVENTLOG_FILE_MAX, (char **) &data, &size);
        if (r == -EFBIG) {
                log_error("Event log %s is larger than %u bytes, refusing.", path, CTL_EVENTLOG_FILE_MAX);
                return CTL_EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to read event log %s: %m", path);
                return r == -ENOENT && !named ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_FAILURE;
        }

        r = eventlog_parse(data, size, &log, &message);
        if (r < 0) {
                if (message)
                        log_error("Invalid event log %s: %s", path, message);
                else
                        log_error_errno(r, "Failed to parse event log %s: %m", path);
                return CTL_EXIT_FAILURE;
        }

        return show(log, replay, json) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}
