/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the cache reader: token_record_from_json() on any token.json a crash, a
 * bad disk or an intruder may leave behind. Only documented errors, a reason for each, and a
 * record whose members have the types the manager relies on. 'make fuzz-token-record'. */
#include <assert.h>

#include "token-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TokenRecord *t = NULL;
        char *text, *reason = NULL;
        int r;

        if (size > 1024 * 1024)
                return 0;
        text = strndup((const char *) data, size);
        assert(text);
        r = token_record_from_json(text, &t, &reason);
        if (r < 0) {
                assert(r == -EBADMSG || r == -ENOMEM);
                assert(!t && (reason || r == -ENOMEM));
                assert(!reason || !strchr(reason, '\n'));
        } else {
                assert(!reason && t && t->endpoint && *t->endpoint);
                assert(json_object_is_type(t->jwks, json_type_object));
                assert(t->pcrs.n_banks > 0 && t->pcr_mask != 0 && t->pcr_mask <= PCR_ALL_MASK);
                assert(!t->compact && !t->header && !t->claims);
        }
        token_record_free(t);
        free(reason);
        free(text);
        return 0;
}
