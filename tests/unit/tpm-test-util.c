/* SPDX-License-Identifier: MIT */
/* The swtpm test fixture as Check fixtures (the unchecked one runs in the parent, the checked one in
 * each forked test) and the assertions both TPM test binaries make. Test code only. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tpm-test-util.h"
#include "util.h"

SwtpmFixture tpm;

bool tpm_test_init(void) {
        if (!swtpm_available()) {
                fprintf(stderr, "swtpm not found, skipping.\n");
                return false;
        }
        log_set_target_stderr();
        if (getenv("ATTESTD_TEST_DEBUG"))
                log_set_max_level(LOG_DEBUG);
        return true;
}

bool tpm_test_have_tools(const char *a, const char *b, const char *skipped) {
        if (program_available(a) && program_available(b))
                return true;
        fprintf(stderr, "tpm2-tools not found: skipping %s.\n", skipped);
        return false;
}

static void tpm_setup(void) {
        int r = swtpm_start(&tpm);
        ck_assert_msg(r == 0, "swtpm_start: %s", strerror(-r));
}

static void tpm_teardown(void) {
        swtpm_destroy(&tpm);
}

TCase *tpm_test_add_tcase(Suite *s, const char *name) {
        TCase *tc = tcase_create(name);

        tcase_add_unchecked_fixture(tc, test_tmpdir_setup, test_tmpdir_teardown);
        tcase_add_checked_fixture(tc, tpm_setup, tpm_teardown);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return tc;
}

TpmContext *tpm_test_open(void) {
        _cleanup_free_ char *msg = NULL;
        TpmContext *t = NULL;
        int r = tpm_context_new_full(tpm.tcti, &t, &msg);
        ck_assert_msg(r == 0, "tpm_context_new(%s): %s", tpm.tcti, strna(msg));
        return t;
}

size_t tpm_test_count_handles(TpmContext *t, uint32_t first) {
        _cleanup_free_ uint32_t *h = NULL;
        size_t n = 0;
        ck_assert_int_eq(tpm_get_handles(t, first, &h, &n), 0);
        return n;
}

void tpm_test_assert_no_transients(TpmContext *t) {
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_LOADED_SESSION_FIRST), 0);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_ACTIVE_SESSION_FIRST), 0);
}
