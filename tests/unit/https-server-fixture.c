/* SPDX-License-Identifier: MIT */
/* Starts https-test-server.py with a pipe on its stdin (it exits at EOF, so it dies with the test
 * binary however that ends) and reads its "READY <https> <http>" line. Test code only. */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "https-server-fixture.h"
#include "util.h"

#define PYTHON "/usr/bin/python3"
#define SERVER_SCRIPT TESTSRCDIR "/data/https-test-server.py"

HttpsServer https_server;

static pid_t server_pid = -1;
static int server_stdin_fd = -1;

static bool server_spawn(const char *name) {
        int in[2], out[2];
        char line[128] = {};
        size_t n = 0;

        snprintf(https_server.dir, sizeof https_server.dir, "/tmp/attestd-test-%s-XXXXXX", name);
        if (!mkdtemp(https_server.dir) || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return false;
        server_pid = fork();
        if (server_pid == 0) {
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execl(PYTHON, PYTHON, SERVER_SCRIPT, https_server.dir, (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        server_stdin_fd = in[1];
        while (n < sizeof line - 1 && !strchr(line, '\n')) {
                struct pollfd p = { .fd = out[0], .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, 30000) <= 0)
                        break;
                k = read(out[0], line + n, sizeof line - 1 - n);
                if (k <= 0)
                        break;
                n += k;
        }
        close(out[0]);
        return sscanf(line, "READY %u %u", &https_server.https_port, &https_server.http_port) == 2;
}

bool https_server_start(const char *name) {
        static const char *const proxy_vars[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                                  "ALL_PROXY", "no_proxy", "NO_PROXY" };

        for (size_t i = 0; i < ELEMENTSOF(proxy_vars); i++)
                unsetenv(proxy_vars[i]);
        if (access(PYTHON, X_OK) < 0 || !server_spawn(name)) {
                fprintf(stderr, "Cannot start %s with %s, skipping.\n", SERVER_SCRIPT, PYTHON);
                https_server_stop();
                return false;
        }
        return true;
}

void https_server_stop(void) {
        char cmd[128];

        if (server_stdin_fd >= 0)
                close(server_stdin_fd);         /* the server exits on EOF ... */
        if (server_pid > 0) {
                kill(server_pid, SIGTERM);      /* ... or now */
                waitpid(server_pid, NULL, 0);
        }
        server_stdin_fd = -1;
        server_pid = -1;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", https_server.dir);
        if (system(cmd) != 0)
                fprintf(stderr, "Failed to remove %s.\n", https_server.dir);
}

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

void run_until(sd_event *e, const bool *done, uint64_t usec) {
        uint64_t end = now_usec() + usec;

        while (!(done && *done)) {
                uint64_t n = now_usec();

                if (n >= end) {
                        ck_assert_msg(!done, "timed out waiting for a callback");
                        break;
                }
                ck_assert_int_ge(sd_event_run(e, end - n), 0);
        }
}
