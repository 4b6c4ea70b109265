/* SPDX-License-Identifier: MIT */
/* MAA error replies classified by status and message, and their messages flattened to one line
 * for LastError and the journal. Never keys on an error code: the real service answers a missing
 * policy with code "Bad request" (with a space) and no x-ms-error-code header. */
#include <assert.h>

#include "maa-error.h"
#include "maa-msg.h"
#include "utf8.h"

#define TRACE_MARK "Msg:["
#define ELLIPSIS "..."

/* The text a policy's deny() puts into its PolicyEvaluationError trace. */
static bool message_is_policy_deny(const char *message) {
        return message && strstr(message, "A Deny claim was issued");
}

MaaErrorKind maa_error_classify(long status, const char *message, bool evidence) {
        switch (status) {
        case 400:
                if (maa_error_is_no_policy(message))
                        return MAA_ERROR_NO_POLICY;
                if (message_is_policy_deny(message))
                        return MAA_ERROR_POLICY_DENIED;
                return evidence ? MAA_ERROR_EVIDENCE_REFUSED : MAA_ERROR_BAD_REQUEST;
        case 401:
        case 403:
                return MAA_ERROR_UNAUTHORIZED;
        case 408:
        case 429:
                return MAA_ERROR_BUSY;
        default:
                return status >= 500 && status <= 599 ? MAA_ERROR_SERVER : MAA_ERROR_OTHER;
        }
}

/* Appends S[0..N) to F with whitespace and control characters folded into single spaces. */
static void put_folded(FILE *f, const char *s, size_t n, bool *space) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];

                if (c <= ' ' || c == 0x7f) {
                        *space = true;
                        continue;
                }
                if (*space && ftell(f) > 0)
                        fputc(' ', f);
                *space = false;
                fputc(c, f);
        }
}

/* The end of the "Msg:[" part starting at P (just after the mark): its matching ']', or NULL when
 * the message was cut before it. */
static const char *part_end(const char *p) {
        unsigned depth = 1;

        for (; *p; p++)
                if (*p == '[')
                        depth++;
                else if (*p == ']' && --depth == 0)
                        return p;
        return NULL;
}

/* Writes the texts of the complete "Msg:[...]" parts, each once, separated by "; ". Returns the
 * number written. */
static unsigned put_trace_parts(FILE *f, const char *message) {
        const char *seen[16];
        unsigned n = 0;

        for (const char *p = strstr(message, TRACE_MARK); p; p = strstr(p, TRACE_MARK)) {
                const char *start = p + strlen(TRACE_MARK), *end = part_end(start);
                bool dup = false;
                bool space = false;

                if (!end)
                        break;
                p = end + 1;
                for (unsigned i = 0; i < n && !dup; i++)
                        dup = strncmp(seen[i], start, end - start + 1) == 0;
                if (dup || start + strspn(start, " \t\r\n") >= end || n >= ELEMENTSOF(seen))
                        continue; /* repeated, blank, or past what one line can hold anyway */
                if (n > 0)
                        fputs(";", f);
                seen[n++] = start;
                space = n > 1;
                put_folded(f, start, end - start, &space);
        }
        return n;
}

/* Cuts S to at most MAX bytes, at a character boundary, ending in ELLIPSIS. */
static void cap_line(char *s, size_t max) {
        size_t n = strlen(s);

        if (n <= max)
                return;
        n = utf8_cut(s, n, max - strlen(ELLIPSIS));
        while (n > 0 && s[n - 1] == ' ')
                n--;
        strcpy(s + n, ELLIPSIS);
}

int maa_error_one_line(const char *message, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        bool space = false;
        FILE *f;

        assert(ret);

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        if (message && put_trace_parts(f, message) == 0)
                put_folded(f, message, strlen(message), &space);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        if (buf[0] == '\0') {
                free(buf);
                buf = strdup("(no message)");
                if (!buf)
                        return -ENOMEM;
        }
        cap_line(buf, MAA_ERROR_LINE_MAX);
        *ret = buf;
        return 0;
}
