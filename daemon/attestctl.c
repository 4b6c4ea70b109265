/* SPDX-License-Identifier: MIT */
/* attestctl: the command-line client. Parses every option in one pass (global options anywhere,
 * as systemd's tools do) and dispatches to a verb; the verbs themselves live in ctl-*.c. */
#include <getopt.h>
#include <json-c/json.h>
#include <time.h>

#include "config-check.h"
#include "config.h"
#include "ctl.h"
#include "log.h"

CtlArgs ctl_args = {};

int ctl_print_json(struct json_object *o) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (ctl_args.json == CTL_JSON_PRETTY ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN);
        const char *s = json_object_to_json_string_ext(o, flags);

        if (!s)
                return -ENOMEM;
        if (puts(s) < 0 || fflush(stdout) != 0)
                return -EIO;
        return 0;
}

struct json_object *ctl_json_timestamp(uint64_t usec) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        char buf[32];

        if (usec == 0 || !gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return NULL;
        return json_object_new_string(buf);
}

typedef struct Verb {
        const char *name;
        int (*run)(int argc, char **argv);
        unsigned min_args, max_args;    /* positional arguments after the verb */
        unsigned options;               /* CtlOption bits it takes */
        const char *usage;              /* after "attestctl VERB" */
        const char *help;
        int (*help_full)(int argc, char **argv); /* NULL = usage and help line */
} Verb;

static int verb_test_config(int argc, char **argv) {
        return config_test(ctl_args.config, stdout) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

static int verb_help(int argc, char **argv);

static int help_eventlog_v(int argc, char **argv) {
        return help_eventlog();
}
static int help_pcrs_v(int argc, char **argv) {
        return help_pcrs();
}
static int help_quote_v(int argc, char **argv) {
        return help_quote();
}

#define TPM_OPTIONS (CTL_OPT_TCTI | CTL_OPT_BANKS | CTL_OPT_PCRS)
#define VERIFY_OPTIONS (CTL_OPT_AT | CTL_OPT_T | CTL_OPT_JWKS | CTL_OPT_ISSUER | CTL_OPT_ENDPOINT | CTL_OPT_SKEW | \
                        CTL_OPT_RP_DATA | CTL_OPT_CNF_JWK)

/* One line per verb; ctl-*.c files provide the run functions declared in ctl.h. */
static const Verb verbs[] = {
        { "status", verb_status, 0, 0, 0, "[--json=MODE]", "Show attestd's state", NULL },
        { "is-attested", verb_is_attested, 0, 0, 0, "[-q]",
          "Exit 0 if the host holds a valid token (5 denied, 1 not attested, 4 not running)", NULL },
        { "attest", verb_attest, 0, 0, 0, "", "Attest again now and wait for the result (root)", NULL },
        { "wait", verb_wait, 0, 0, CTL_OPT_TIMEOUT | CTL_OPT_T, "[--timeout=TIME] [-q]",
          "Wait until the host is attested", NULL },
        { "metrics", verb_metrics, 0, 0, 0, "", "Print OpenMetrics text for node_exporter's textfile collector", NULL },
        { "eventlog", verb_eventlog, 0, 1, CTL_OPT_REPLAY, "[--json=MODE] [--replay] [FILE]",
          "Print or replay a TCG event log", help_eventlog_v },
        { "pcrs", verb_pcrs, 0, 0, TPM_OPTIONS, "[--json=MODE] [--tcti=T] [--banks=LIST] [--pcrs=LIST]",
          "Read PCR values from the TPM", help_pcrs_v },
        { "quote", verb_quote, 0, 0, TPM_OPTIONS | CTL_OPT_NONCE | CTL_OPT_OUTPUT_DIR,
          "--nonce=HEX [--output-dir=DIR] [--json=MODE] [--tcti=T] [--banks=LIST] [--pcrs=LIST]",
          "Make and check a TPM quote with the attestation key", help_quote_v },
        { "test-config", verb_test_config, 0, 0, 0, "",
          "Check the configuration as attestd would and show the effective values", NULL },
        { "token", verb_token, 0, 2, CTL_OPT_CLAIMS | VERIFY_OPTIONS, "[--claims] | verify ... | decode ...",
          "Print the cached token, or verify/decode one offline", help_token },
        { "help", verb_help, 0, 1, 0, "[VERB]", "Show this help, or a verb's", NULL },
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static int help(void) {
        printf("Usage: attestctl [OPTIONS...] VERB [ARGS...]\n\n"
               "Query and drive attestd, and inspect TPM evidence offline.\n\nVerbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-12s %s\n", verbs[i].name, verbs[i].help);
        printf("\nOptions (anywhere on the command line):\n"
               "  -c, --config=FILE     configuration file (default " CONFIG_FILE_DEFAULT ")\n"
               "      --json=MODE       JSON output: pretty, short or off (-j: pretty on a terminal,\n"
               "                        short otherwise)\n"
               "  -q, --quiet           print nothing, only the exit status (wait, is-attested)\n"
               "      --no-pager        accepted for systemd habits (attestctl never pages)\n"
               "      --no-legend       accepted for systemd habits (attestctl prints no legends)\n"
               "  -d, --debug           debug messages on stderr\n"
               "  -h, --help            this help, or with a verb that verb's\n"
               "      --version         version\n"
               "\nExit status: 0 success, 1 failure, 2 usage error, 3 timeout, 4 attestd or the TPM\n"
               "not reachable, 5 denied (is-attested). See attestctl(1).\n");
        return CTL_EXIT_OK;
}

static int help_verb(const Verb *v, int argc, char **argv) {
        if (v->help_full)
                return v->help_full(argc, argv);
        printf("Usage: attestctl %s%s%s\n\n%s.\n\nSee attestctl(1) and 'attestctl --help' for the global options.\n",
               v->name, *v->usage ? " " : "", v->usage, v->help);
        return CTL_EXIT_OK;
}

static int verb_help(int argc, char **argv) {
        const Verb *v;

        if (argc < 2)
                return help();
        v = verb_find(argv[1]);
        if (!v) {
                log_error("help: unknown verb '%s'; see 'attestctl --help'.", argv[1]);
                return CTL_EXIT_USAGE;
        }
        return help_verb(v, argc - 1, argv + 1);
}

static int parse_json(const char *s) {
        if (!s)
                return ctl_args.tty ? CTL_JSON_PRETTY : CTL_JSON_SHORT;
        if (streq(s, "pretty"))
                return CTL_JSON_PRETTY;
        if (streq(s, "short"))
                return CTL_JSON_SHORT;
        if (streq(s, "off"))
                return CTL_JSON_OFF;
        return -EINVAL;
}

static const char *option_name(unsigned bit) {
        static const char *const names[] = {
                "--tcti", "--banks", "--pcrs", "--nonce", "--output-dir", "--replay", "--claims", "--timeout",
                "--at", "-t", "--jwks", "--issuer", "--endpoint", "--skew", "--rp-data", "--cnf-jwk",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (bit == 1u << i)
                        return names[i];
        return "?";
}

/* Returns 1 to run a verb, or an exit status. */
static int parse_argv(int argc, char **argv) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_PAGER,
                ARG_NO_LEGEND,
                ARG_CLAIMS,
                ARG_RP_DATA,
                ARG_CNF_JWK,
                ARG_AT,
                ARG_TIMEOUT,
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", optional_argument, NULL, ARG_JSON },
                { "quiet", no_argument, NULL, 'q' },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "tcti", required_argument, NULL, 'T' },
                { "banks", required_argument, NULL, 'b' },
                { "pcrs", required_argument, NULL, 'p' },
                { "nonce", required_argument, NULL, 'n' },
                { "output-dir", required_argument, NULL, 'o' },
                { "replay", no_argument, NULL, 'r' },
                { "claims", no_argument, NULL, ARG_CLAIMS },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "at", required_argument, NULL, ARG_AT },
                { "jwks", required_argument, NULL, 'k' },
                { "issuer", required_argument, NULL, 'i' },
                { "endpoint", required_argument, NULL, 'e' },
                { "skew", required_argument, NULL, 's' },
                { "rp-data", required_argument, NULL, ARG_RP_DATA },
                { "cnf-jwk", required_argument, NULL, ARG_CNF_JWK },
                {}
        };
        int c, j;

        /* getopt permutes: options may come before or after the verb and its arguments ("--" ends them). */
        while ((c = getopt_long(argc, argv, "c:dhjqT:b:p:n:o:rt:k:i:e:s:", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        ctl_args.config = optarg;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case 'h':
                        ctl_args.help = true;
                        break;
                case ARG_VERSION:
                        printf("attestctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_OK;
                case 'j':
                case ARG_JSON:
                        j = parse_json(c == 'j' ? NULL : optarg);
                        if (j < 0) {
                                log_error("Invalid --json=%s: expected pretty, short or off.", optarg);
                                return CTL_EXIT_USAGE;
                        }
                        ctl_args.json = j;
                        break;
                case 'q':
                        ctl_args.quiet = true;
                        break;
                case ARG_NO_PAGER:
                        ctl_args.no_pager = true;
                        break;
                case ARG_NO_LEGEND:
                        ctl_args.no_legend = true;
                        break;
                case 'T':
                        ctl_args.tcti = optarg;
                        ctl_args.given |= CTL_OPT_TCTI;
                        break;
                case 'b':
                        ctl_args.banks = optarg;
                        ctl_args.given |= CTL_OPT_BANKS;
                        break;
                case 'p':
                        ctl_args.pcrs = optarg;
                        ctl_args.given |= CTL_OPT_PCRS;
                        break;
                case 'n':
                        ctl_args.nonce = optarg;
                        ctl_args.given |= CTL_OPT_NONCE;
                        break;
                case 'o':
                        ctl_args.output_dir = optarg;
                        ctl_args.given |= CTL_OPT_OUTPUT_DIR;
                        break;
                case 'r':
                        ctl_args.replay = true;
                        ctl_args.given |= CTL_OPT_REPLAY;
                        break;
                case ARG_CLAIMS:
                        ctl_args.claims = true;
                        ctl_args.given |= CTL_OPT_CLAIMS;
                        break;
                case 't':
                        ctl_args.timeout = ctl_args.at = optarg;
                        ctl_args.given |= CTL_OPT_T;
                        break;
                case ARG_TIMEOUT:
                        ctl_args.timeout = optarg;
                        ctl_args.given |= CTL_OPT_TIMEOUT;
                        break;
                case ARG_AT:
                        ctl_args.at = optarg;
                        ctl_args.given |= CTL_OPT_AT;
                        break;
                case 'k':
                        ctl_args.jwks = optarg;
                        ctl_args.given |= CTL_OPT_JWKS;
                        break;
                case 'i':
                        ctl_args.issuer = optarg;
                        ctl_args.given |= CTL_OPT_ISSUER;
                        break;
                case 'e':
                        ctl_args.endpoint = optarg;
                        ctl_args.given |= CTL_OPT_ENDPOINT;
                        break;
                case 's':
                        ctl_args.skew = optarg;
                        ctl_args.given |= CTL_OPT_SKEW;
                        break;
                case ARG_RP_DATA:
                        ctl_args.rp_data = optarg;
                        ctl_args.given |= CTL_OPT_RP_DATA;
                        break;
                case ARG_CNF_JWK:
                        ctl_args.cnf_jwk = optarg;
                        ctl_args.given |= CTL_OPT_CNF_JWK;
                        break;
                default:
                        return CTL_EXIT_USAGE; /* getopt said what */
                }
        return 1;
}

int main(int argc, char **argv) {
        const Verb *v;
        int r;

        log_set_target_stderr();
        ctl_args.tty = isatty(STDOUT_FILENO) > 0;
        r = parse_argv(argc, argv);
        if (r != 1)
                return r;
        /* getopt has moved every option in front of the positional arguments. */
        argc -= optind;
        argv += optind;

        if (argc == 0) {
                if (ctl_args.help)
                        return help();
                log_error("Missing verb; see 'attestctl --help'.");
                return CTL_EXIT_USAGE;
        }
        v = verb_find(argv[0]);
        if (!v) {
                log_error("Unknown verb '%s'; see 'attestctl --help'.", argv[0]);
                return CTL_EXIT_USAGE;
        }
        if (ctl_args.help)
                return help_verb(v, argc, argv);
        if (ctl_args.given & ~v->options) {
                unsigned bit = ctl_args.given & ~v->options;
                log_error("Option %s does not apply to '%s'; see 'attestctl %s --help'.",
                          option_name(bit & -bit), v->name, v->name);
                return CTL_EXIT_USAGE;
        }
        if ((unsigned) argc - 1 < v->min_args || (unsigned) argc - 1 > v->max_args) {
                if ((unsigned) argc - 1 > v->max_args)
                        log_error("'%s' takes %s arguments; unexpected '%s'.", v->name,
                                  v->max_args == 0 ? "no" : "fewer", argv[v->max_args + 1]);
                else
                        log_error("'%s' needs more arguments; see 'attestctl %s --help'.", v->name, v->name);
                return CTL_EXIT_USAGE;
        }
        return v->run(argc, argv);
}
