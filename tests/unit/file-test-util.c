/* SPDX-License-Identifier: MIT */
/* Whole-file reads for the unit tests, asserting on every step so a missing or unreadable file
 * fails the test with its name. Test code only. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "file-test-util.h"
#include "util.h"

char *tu_read_file(const char *path, size_t *ret_size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf;
        long n;

        ck_assert_msg(f, "cannot open %s", path);
        ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        ck_assert_int_ge(n, 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        ck_assert_ptr_nonnull(buf);
        ck_assert_uint_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = 0;
        if (ret_size)
                *ret_size = (size_t) n;
        return buf;
}
