/* SPDX-License-Identifier: MIT */
/* Runs swtpm as a child of the (forked) test so that it dies with the test, whatever way the test
 * ends (PR_SET_PDEATHSIG); talks swtpm's control protocol directly for the reboot. Test-only. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "swtpm-fixture.h"

#define SWTPM_CMD_INIT UINT32_C(0x02)

static const char *swtpm_binary(void) {
        const char *e = getenv("SWTPM");
        return e && *e ? e : "swtpm";
}

bool swtpm_available(void) {
        return program_available(swtpm_binary());
}

bool program_available(const char *bin) {
        const char *path = getenv("PATH");
        char buf[PATH_MAX];

        if (strchr(bin, '/'))
                return access(bin, X_OK) == 0;
        for (const char *p = path ?: "/usr/bin:/bin"; *p;) {
                size_t n = strcspn(p, ":");
                if (n > 0 && snprintf(buf, sizeof buf, "%.*s/%s", (int) n, p, bin) < (int) sizeof buf &&
                    access(buf, X_OK) == 0)
                        return true;
                p += n;
                if (*p == ':')
                        p++;
        }
        return false;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static int unix_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Sends REQ and reads exactly RESP_SIZE bytes back on a fresh connection to PATH. */
static int exchange(const char *path, const uint8_t *req, size_t req_size, uint8_t *resp, size_t resp_size) {
        int fd = unix_connect(path), r = 0;
        size_t got = 0;

        if (fd < 0)
                return fd;
        if (write(fd, req, req_size) != (ssize_t) req_size)
                r = -EIO;
        while (r == 0 && got < resp_size) {
                ssize_t n = read(fd, resp + got, resp_size - got);
                if (n <= 0)
                        r = n < 0 ? -errno : -EPIPE;
                else
                        got += (size_t) n;
        }
        close(fd);
        return r;
}

static int wait_ready(SwtpmFixture *f) {
        char ctrl[sizeof f->sock + 8];

        snprintf(ctrl, sizeof ctrl, "%s.ctrl", f->sock);
        for (int i = 0; i < 500; i++) {
                int status;

                if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
                        f->pid = 0;
                        return -ECHILD;
                }
                /* The socket file appears at bind(), before listen(): connect to be sure. swtpm
                 * serves one client at a time, so close at once to free it for the test. */
                if (access(ctrl, F_OK) == 0) {
                        int fd = unix_connect(f->sock);
                        if (fd >= 0) {
                                close(fd);
                                return 0;
                        }
                }
                sleep_ms(10);
        }
        return -ETIMEDOUT;
}

int swtpm_start_in(SwtpmFixture *f, const char *dir) {
        char state[128], server[160], ctrl[160], log[128];
        pid_t pid;
        int r;

        if (strlen(dir) + strlen("/tpm.sock.ctrl") >= sizeof f->dir)
                return -ENAMETOOLONG;
        if (dir != f->dir)
                snprintf(f->dir, sizeof f->dir, "%s", dir);
        snprintf(f->sock, sizeof f->sock, "%s/tpm.sock", f->dir);
        snprintf(f->tcti, sizeof f->tcti, "swtpm:path=%s", f->sock);
        snprintf(state, sizeof state, "dir=%s", f->dir);
        snprintf(server, sizeof server, "type=unixio,path=%s", f->sock);
        snprintf(ctrl, sizeof ctrl, "type=unixio,path=%s.ctrl", f->sock);
        snprintf(log, sizeof log, "file=%s/swtpm.log", f->dir);

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Dies with the test process, even when a failed assertion ends it early. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                int null = open("/dev/null", O_RDWR);
                if (null >= 0) {
                        dup2(null, STDIN_FILENO);
                        dup2(null, STDOUT_FILENO);
                }
                execlp(swtpm_binary(), "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server,
                       "--ctrl", ctrl, "--flags", "not-need-init,startup-clear", "--log", log, (char *) NULL);
                _exit(127);
        }
        f->pid = pid;

        r = wait_ready(f);
        if (r < 0)
                swtpm_stop(f);
        return r;
}

int swtpm_start(SwtpmFixture *f) {
        const char *tmp = getenv("TMPDIR");

        *f = (SwtpmFixture) {};
        if (!tmp || !*tmp || strlen(tmp) > 48)
                tmp = "/tmp";
        snprintf(f->dir, sizeof f->dir, "%s/attestd-swtpm-XXXXXX", tmp);
        if (!mkdtemp(f->dir))
                return -errno;
        f->own_dir = true;
        return swtpm_start_in(f, f->dir);
}

int swtpm_reboot(SwtpmFixture *f) {
        static const uint8_t init[] = { 0, 0, 0, SWTPM_CMD_INIT, 0, 0, 0, 0 };
        static const uint8_t startup[] = { 0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x44, 0, 0 };
        char ctrl[sizeof f->sock + 8];
        uint8_t res[10];
        int r;

        snprintf(ctrl, sizeof ctrl, "%s.ctrl", f->sock);
        r = exchange(ctrl, init, sizeof init, res, 4);
        if (r < 0)
                return r;
        if (res[0] | res[1] | res[2] | res[3])
                return -EIO;

        r = exchange(f->sock, startup, sizeof startup, res, sizeof res);
        if (r < 0)
                return r;
        /* Response code at offset 6: success, or TPM_RC_INITIALIZE if swtpm already started it. */
        uint32_t rc = (uint32_t) res[6] << 24 | res[7] << 16 | res[8] << 8 | res[9];
        return rc == 0 || rc == 0x100 ? 0 : -EIO;
}

int swtpm_stop(SwtpmFixture *f) {
        int status;

        if (f->pid <= 0)
                return 0;
        (void) kill(f->pid, SIGTERM);
        for (int i = 0; i < 300; i++) {
                if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
                        f->pid = 0;
                        return 0;
                }
                sleep_ms(10);
        }
        (void) kill(f->pid, SIGKILL);
        (void) waitpid(f->pid, &status, 0);
        f->pid = 0;
        return -ETIMEDOUT;
}

int swtpm_run(const SwtpmFixture *f, const char *format, ...) {
        char *cmd = NULL, *full = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&cmd, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = asprintf(&full, "TPM2TOOLS_TCTI='%s' sh -c '%s' >>'%s/tools.log' 2>&1", f->tcti, cmd, f->dir);
        free(cmd);
        if (r < 0)
                return -ENOMEM;
        r = system(full);
        free(full);
        if (r < 0)
                return -errno;
        r = WIFEXITED(r) ? WEXITSTATUS(r) : 128 + WTERMSIG(r);
        if (r != 0 && getenv("ATTESTD_TEST_DEBUG")) {
                char log[sizeof f->dir + 16];
                snprintf(log, sizeof log, "%s/tools.log", f->dir);
                FILE *l = fopen(log, "re");
                fprintf(stderr, "--- %s (exit %d):\n", log, r);
                for (int c; l && (c = fgetc(l)) != EOF;)
                        fputc(c, stderr);
                if (l)
                        fclose(l);
        }
        return r;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path) < 0 ? -1 : 0;
}

static char base_dir[64];

void test_tmpdir_setup(void) {
        snprintf(base_dir, sizeof base_dir, "/tmp/attestd-test-XXXXXX");
        if (!mkdtemp(base_dir)) {
                base_dir[0] = '\0';
                return;
        }
        setenv("TMPDIR", base_dir, 1);
}

void test_tmpdir_teardown(void) {
        if (!base_dir[0])
                return;
        (void) nftw(base_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        base_dir[0] = '\0';
}

void swtpm_destroy(SwtpmFixture *f) {
        swtpm_stop(f);
        if (f->own_dir && f->dir[0])
                (void) nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        f->own_dir = false;
}
