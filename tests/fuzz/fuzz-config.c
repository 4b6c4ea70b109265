/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the configuration parser: parse over the defaults, cross-check, dump. */
#include <stdint.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        static FILE *null;

        if (!null) {
                null = fopen("/dev/null", "we");
                log_set_max_level(LOG_EMERG); /* every bad line warns; keep the output readable */
        }
        if (config_new_default(&c) < 0)
                return 0;
        if (config_parse_text(c, "fuzz", (const char *) data, size) < 0)
                return 0;
        (void) config_verify(c);
        config_dump(c, null);
        return 0;
}
