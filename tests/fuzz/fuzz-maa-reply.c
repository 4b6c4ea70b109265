/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the MAA reply parsers: envelope, challenge, report and CloudError. */
#include <stdint.h>

#include "cleanup.h"
#include "maa-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *payload = NULL;
        _cleanup_free_ char *reason = NULL, *ctx = NULL, *report = NULL, *code = NULL, *message = NULL;
        _cleanup_buffer_ Buffer challenge = {};

        (void) maa_parse_error((const char *) data, size, &code, &message);
        if (maa_parse_envelope((const char *) data, size, &payload, &reason) < 0)
                return 0;
        if (maa_parse_challenge(payload, &challenge, &ctx, &reason) < 0)
                free(TAKE_PTR(reason));
        (void) maa_parse_report(payload, &report, &reason);
        return 0;
}
