/* SPDX-License-Identifier: MIT */
/* attestd entry point: command line, configuration, then hand over to the manager's event loop.
 * Nothing else lives here. */
#include <getopt.h>

#include "config-check.h"
#include "config.h"
#include "log.h"
#include "manager.h"

/* --once while a daemon (or another --once) holds the runtime directory: sysexits' EX_TEMPFAIL,
 * "try again later", distinct from a failed attestation (1). */
#define EXIT_RUNTIME_DIR_BUSY 75
/* A bad command line: the same status as attestctl's (and systemd's tools'). */
#define EXIT_USAGE 2

static const char *arg_config = NULL;
static bool arg_test_config = false;
static bool arg_once = false;

static void help(void) {
        printf("Usage: attestd [OPTIONS]\n\n"
               "Attest this host's measured boot to Microsoft Azure Attestation and keep the\n"
               "signed token fresh under /run/attestd.\n\n"
               "  -c, --config FILE   configuration file (default " CONFIG_FILE_DEFAULT ")\n"
               "  -t, --test-config   check the configuration as attestd would at start (and the files,\n"
               "                      group and TCTI module it names), print the effective values, exit\n"
               "      --once          attest once, write the token files, print the result, exit\n"
               "                      (exit 75 while a running attestd holds the runtime directory)\n"
               "  -d, --debug         log debug messages\n"
               "  -h, --help          show this help\n"
               "      --version       show the version\n"
               "\nSee attestd(8) and attestd.conf(5).\n");
}

/* Returns 1 to continue, 0 to exit successfully, <0 on a bad command line. */
static int parse_argv(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_ONCE };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "test-config", no_argument, NULL, 't' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "once", no_argument, NULL, ARG_ONCE },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:tdh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 't':
                        arg_test_config = true;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("attestd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_ONCE:
                        arg_once = true;
                        break;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                log_error("attestd takes no positional arguments; see --help.");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char **argv) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_open();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        if (arg_test_config)
                return config_test(arg_config, stdout) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = manager_new(arg_config, arg_once, &m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r == -EBUSY && arg_once)
                return EXIT_RUNTIME_DIR_BUSY;
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : r;
}
