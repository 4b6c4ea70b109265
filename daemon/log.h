/* SPDX-License-Identifier: MIT */
/* Logging to the journal (structured, with MESSAGE_IDs) under systemd, to stderr otherwise.
 * The *_errno variants return the negative error so a failure is logged and returned in one line. */
#pragma once

#include <syslog.h>

#include "util.h"

/* Pick the journal when stderr is connected to it (JOURNAL_STREAM), stderr otherwise. */
void log_open(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Force stderr (tools, tests) regardless of JOURNAL_STREAM. */
void log_set_target_stderr(void);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

/* Structured entry: MESSAGE_ID plus extra "KEY=value" fields (NULL-terminated array, may be NULL).
 * On stderr only the message is printed. Returns -abs(error) (0 when error is 0). */
int log_struct_internal(int level, int error, const char *message_id, const char *const *fields,
                        const char *file, int line, const char *func, const char *format, ...)
        _printf_(8, 9);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_struct(level, error, message_id, fields, ...)                                   \
        log_struct_internal((level), (error), (message_id), (fields), __FILE__, __LINE__, \
                            __func__, __VA_ARGS__)

/* Convenience for returning an allocation failure from the top layers. */
#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")
