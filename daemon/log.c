/* SPDX-License-Identifier: MIT */
/* Log sink: journal with code location and structured fields, or plain stderr lines.
 * Never exits; a failed log write is dropped. */
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX 2048
#define LOG_FIELDS_MAX 16

static int log_max_level = LOG_INFO;
static bool log_to_journal = false;

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_target_stderr(void) {
        log_to_journal = false;
}

/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected to stderr; only trust it when
 * stderr really is that stream (a child that redirected stderr must not log to the journal). */
void log_open(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        log_to_journal = false;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        log_to_journal = (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

static void log_write(int level, const char *message_id, const char *const *fields, const char *file,
                      int line, const char *func, const char *msg) {
        if (!log_to_journal) {
                fprintf(stderr, "%s\n", msg);
                return;
        }

        char prio[32], codefile[256], codeline[32], codefunc[128], mid[64];
        struct iovec iov[6 + LOG_FIELDS_MAX];
        _cleanup_free_ char *m = NULL;
        size_t n = 0;

        if (asprintf(&m, "MESSAGE=%s", msg) < 0)
                return;
        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        snprintf(codefile, sizeof codefile, "CODE_FILE=%s", file);
        snprintf(codeline, sizeof codeline, "CODE_LINE=%d", line);
        snprintf(codefunc, sizeof codefunc, "CODE_FUNC=%s", func);
        iov[n++] = (struct iovec) { m, strlen(m) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { codefile, strlen(codefile) };
        iov[n++] = (struct iovec) { codeline, strlen(codeline) };
        iov[n++] = (struct iovec) { codefunc, strlen(codefunc) };
        if (message_id) {
                snprintf(mid, sizeof mid, "MESSAGE_ID=%s", message_id);
                iov[n++] = (struct iovec) { mid, strlen(mid) };
        }
        for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
                iov[n++] = (struct iovec) { (void *) fields[i], strlen(fields[i]) };

        (void) sd_journal_sendv(iov, (int) n);
}

static int log_dispatch(int level, int error, const char *message_id, const char *const *fields,
                        const char *file, int line, const char *func, const char *format, va_list ap) {
        char msg[LOG_LINE_MAX];

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        /* Let %m print the error we were given, not whatever errno happens to be. */
        errno = error;
        vsnprintf(msg, sizeof msg, format, ap);
        log_write(level, message_id, fields, file, line, func, msg);
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, NULL, NULL, file, line, func, format, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, int error, const char *message_id, const char *const *fields,
                        const char *file, int line, const char *func, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_dispatch(level, error, message_id, fields, file, line, func, format, ap);
        va_end(ap);
        return r;
}
