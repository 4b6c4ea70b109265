/* SPDX-License-Identifier: MIT */
/* Reading test data files whole, for the unit tests that load real logs, tokens and key sets from
 * tests/testdata. Test code only; a file that cannot be read fails the test. */
#pragma once

#include <stddef.h>

/* The whole file, NUL-terminated (*ret_size, when asked for, excludes the NUL). */
char *tu_read_file(const char *path, size_t *ret_size);
