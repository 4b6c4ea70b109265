/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for auth_parse_reply(), the IMDS / Entra token reply parser: the first input byte
 * picks the HTTP status, the rest is the body. Aborts when an output breaks the parser's promises. */
#include <stdint.h>
#include <stdlib.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 503, 302 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AuthToken tok = { .lifetime_sec = -1 };
        char *reason = NULL;
        long status;
        int r;

        if (size < 1)
                return 0;
        status = statuses[data[0] % ELEMENTSOF(statuses)];
        r = auth_parse_reply(status, (const char *) data + 1, size - 1, 1700000000, &tok, &reason);
        if (r == 0) {
                /* A token that could split or forge a header line must never get through. */
                const char *t = tok.access_token;

                if (!t || !*t || strlen(t) > AUTH_TOKEN_SIZE_MAX || strpbrk(t, " \t\r\n:") || reason ||
                    status != 200 || tok.lifetime_sec < -1)
                        abort();
        } else if (tok.access_token ||
                   (r != -ENOMEM && (!reason || strpbrk(reason, "\r\n") || strlen(reason) > 1024)))
                abort();
        auth_token_done(&tok);
        free(reason);
        return 0;
}
