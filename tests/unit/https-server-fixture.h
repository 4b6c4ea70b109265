/* SPDX-License-Identifier: MIT */
/* The loopback test server (tests/data/https-test-server.py) shared by the http and auth unit tests:
 * one per test binary, started in main() and inherited by the forked tests. Test code only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "http.h"

#define GET(u) (&(HttpRequestSpec) { .method = HTTP_GET, .url = (u) })

typedef struct HttpsServer {
        char dir[64];                   /* the server's ca.pem (the CA it trusts), wrong-ca.pem, ... */
        unsigned https_port, http_port; /* on 127.0.0.1 */
} HttpsServer;

extern HttpsServer https_server;

/* Clears the proxy variables from the environment (the tests talk to 127.0.0.1 directly) and starts
 * the server on a new temp dir named after NAME. Returns false when it cannot run here (no python3
 * or python3-cryptography), after saying so and cleaning up: main() then exits EXIT_TEST_SKIP. */
bool https_server_start(const char *name);
/* Stops the server and removes its dir. */
void https_server_stop(void);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_usec(void);

/* Runs E with sd_event_run() until *DONE is set, failing the test after USEC; with DONE == NULL
 * simply runs it for USEC. (An sd_event_loop() that was exited cannot be entered again.) */
void run_until(sd_event *e, const bool *done, uint64_t usec);
