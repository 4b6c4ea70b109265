/* SPDX-License-Identifier: MIT */
/* attestctl: the command-line client. Parses global options and dispatches to a verb;
 * the verbs themselves live in ctl-*.c. */
#include <getopt.h>
#include <json-c/json.h>

#include "config-check.h"
#include "config.h"
#include "ctl.h"
#include "log.h"

const char *ctl_config_path = NULL;

int ctl_print_json(struct json_object *o) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!s)
                return -ENOMEM;
        if (puts(s) < 0 || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *help;
} Verb;


static int verb_test_config(int argc, char **argv);

/* One line per verb; ctl-*.c files provide the run functions declared in ctl.h. */
static const Verb verbs[] = {
        { "status", verb_status, "Show attestd's state (--json for JSON)" },
        { "attest", verb_attest, "Attest again now and wait for the result (root)" },
        { "wait", verb_wait, "Wait until the host is attested (--timeout=SEC)" },
        { "eventlog", verb_eventlog, "Print or replay a TCG event log" },
        { "pcrs", verb_pcrs, "Read PCR values from the TPM" },
        { "quote", verb_quote, "Make and check a TPM quote with the attestation key" },
        { "test-config", verb_test_config, "Show the effective configuration" },
        { "token", verb_token, "Print the cached token (--claims), or verify/decode one offline" },
};

static int help(void) {
        printf("Usage: attestctl [--config FILE] [--debug] VERB [ARGS...]\n\n"
               "Query and drive attestd, and inspect TPM evidence offline.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-14s %s\n", verbs[i].name, verbs[i].help);
        printf("\nOptions:\n"
               "  -c, --config FILE  configuration file (default " CONFIG_FILE_DEFAULT ")\n"
               "  -d, --debug        debug messages on stderr\n"
               "  -h, --help         this help\n"
               "      --version      version\n"
               "\nSee attestctl(1).\n");
        return CTL_EXIT_OK;
}

static int verb_test_config(int argc, char **argv) {
        return config_test(ctl_config_path, stdout) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        log_set_target_stderr();
        /* '+': stop at the verb so each verb parses its own options. */
        while ((c = getopt_long(argc, argv, "+c:dh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        ctl_config_path = optarg;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        return help();
                case ARG_VERSION:
                        printf("attestctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                default:
                        return CTL_EXIT_USAGE;
                }

        if (optind >= argc) {
                fprintf(stderr, "attestctl: missing verb; see 'attestctl --help'.\n");
                return CTL_EXIT_USAGE;
        }

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, argv[optind]))
                        continue;
                /* Reset getopt for the verb's own option parsing. */
                int vargc = argc - optind;
                char **vargv = argv + optind;
                optind = 0;
                return verbs[i].run(vargc, vargv);
        }

        fprintf(stderr, "attestctl: unknown verb '%s'; see 'attestctl --help'.\n", argv[optind]);
        return CTL_EXIT_USAGE;
}
