/* SPDX-License-Identifier: MIT */
/* A throw-away swtpm for one unit test: unix sockets in a private temp dir, started from C,
 * stopped by pid, with a simulated reboot. Test-only code. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct SwtpmFixture {
        char dir[96];                   /* state dir, also holds the sockets (sun_path is short) */
        char sock[112];                 /* data socket; the control socket is sock + ".ctrl" */
        char tcti[128];                 /* "swtpm:path=<sock>" for tpm_context_new() */
        pid_t pid;                      /* swtpm's pid, 0 when stopped */
        bool own_dir;                   /* the fixture made dir and removes it */
} SwtpmFixture;

/* For Check's unchecked fixtures, which run in the parent process: makes a private base dir and
 * points TMPDIR at it, so every forked test's swtpm dir lands inside; the teardown removes it all,
 * even what a test that failed an assertion (and so skipped its own teardown) left behind. */
void test_tmpdir_setup(void);
void test_tmpdir_teardown(void);

/* True if an swtpm binary can be found ($SWTPM, else PATH). */
bool swtpm_available(void);
/* True if program NAME is in PATH (e.g. "tpm2_nvdefine", "tpm2_checkquote"). */
bool program_available(const char *name);

/* Starts swtpm with fresh state in a new temp dir (an empty state gives the sha1, sha256 and
 * sha384 banks), or, with swtpm_start_in(), on the existing state in DIR (a second "boot" of the
 * same TPM). Waits until both sockets accept connections. 0 or -errno. */
int swtpm_start(SwtpmFixture *f);
int swtpm_start_in(SwtpmFixture *f, const char *dir);

/* Power cycle: _TPM_Init through the control socket, then TPM2_Startup(CLEAR) on the data socket.
 * PCRs reset and resetCount increments. No client may hold the data socket meanwhile (swtpm serves
 * one connection at a time): free the TpmContext first. */
int swtpm_reboot(SwtpmFixture *f);

/* Runs the shell command built from FORMAT with TPM2TOOLS_TCTI set to this swtpm, its output
 * appended to DIR/tools.log. Returns the exit status, or -errno. While a tool runs, no TpmContext may
 * be open on this swtpm. */
int swtpm_run(const SwtpmFixture *f, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* SIGTERM and wait; state stays on disk (swtpm_start_in() can pick it up). */
int swtpm_stop(SwtpmFixture *f);

/* swtpm_stop() and removal of the temp dir if the fixture created it. */
void swtpm_destroy(SwtpmFixture *f);
