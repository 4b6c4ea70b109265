/* SPDX-License-Identifier: MIT */
/* The end of every unit test's main(): run its Check suite and turn the outcome into the exit status
 * automake's test driver reads (0 pass, 1 fail, 77 skip). Test code only. */
#pragma once

#include <check.h>
#include <stdlib.h>

/* Exit status that makes automake's test driver report SKIP. */
#define EXIT_TEST_SKIP 77

/* Runs every test of S in Check's default fork mode with normal output and frees the runner (and S
 * with it). EXIT_SUCCESS if all passed, else EXIT_FAILURE. */
static inline int check_run(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
