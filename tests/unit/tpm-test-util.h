/* SPDX-License-Identifier: MIT */
/* Helpers shared by the swtpm-backed unit tests (test-tpm, test-tpm-quote): a fresh swtpm per test,
 * a TpmContext on it, handle counts, and main()'s skip check and logging. Test code only. */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swtpm-fixture.h"
#include "tpm.h"

/* The persistent handle the tests create their AK at. */
#define AK_HANDLE UINT32_C(0x81000003)

/* The swtpm of the running test: started before, and destroyed after, each test of a TCase made by
 * tpm_test_add_tcase(). */
extern SwtpmFixture tpm;

/* For main(): false if no swtpm can be found (said on stderr; main() then exits EXIT_TEST_SKIP).
 * Otherwise sends logs to stderr, at debug level when $ATTESTD_TEST_DEBUG is set. */
bool tpm_test_init(void);

/* True if the tpm2-tools programs A and B are in PATH; if not, says on stderr that SKIPPED (the
 * tests that need them) are skipped. */
bool tpm_test_have_tools(const char *a, const char *b, const char *skipped);

/* Creates TCase NAME in S: a private TMPDIR for its run, a fresh swtpm for each test, 60 s each. */
TCase *tpm_test_add_tcase(Suite *s, const char *name);

/* A TpmContext on the test's swtpm; fails the test if it cannot be opened. */
TpmContext *tpm_test_open(void);

/* How many handles the TPM lists from FIRST on, within FIRST's handle type. */
size_t tpm_test_count_handles(TpmContext *t, uint32_t first);

/* No transient object and no loaded or active session is left on the TPM. */
void tpm_test_assert_no_transients(TpmContext *t);
