/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for systemd's userspace measurement log (JSON-SEQ): parse, replay, free. */
#include <stdint.h>

#include "measure-log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        MeasureLog *log = NULL;
        char *err = NULL;
        PcrSet set = {};

        if (measure_log_parse((const char *) data, size, &log, &err) >= 0) {
                (void) measure_log_replay(log, &set);
                measure_log_free(log);
        }
        free(err);
        return 0;
}
