/* SPDX-License-Identifier: MIT */
/* attestctl token: offline verification and decoding of an attestation token, with the same
 * checks the daemon makes (token.c). Reads files here; no network, no D-Bus. */
#include <inttypes.h>
#include <time.h>

#include <json-c/json.h>

#include "cache.h"
#include "cleanup.h"
#include "config.h"
#include "credential.h"
#include "ctl.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"
#include "token-claims.h"
#include "token-group.h"
#include "token.h"

/* Reads a token or key file: regular file, size-capped, trailing newline dropped (so a token saved
 * with "echo" works), no NUL. WHAT names it in messages. */
static int read_input(const char *path, size_t max, const char *what, char **ret) {
        int r;

        r = credential_read_file(path, max, ret);
        if (r == -EFBIG)
                return log_error_errno(r, "%s %s is larger than %zu bytes, refusing.", what, path, max);
        if (r == -ENODATA)
                return log_error_errno(r, "%s %s is empty.", what, path);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s %s contains a NUL byte.", what, path);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s %s: %m", what, path);
        return 0;
}

/* "1d 2h 3min 4s"; "0s" for zero. */
static const char *format_duration(uint64_t sec, char *buf, size_t size) {
        static const struct {
                const char *unit;
                uint64_t sec;
        } units[] = { { "d", 86400 }, { "h", 3600 }, { "min", 60 }, { "s", 1 } };
        size_t o = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && o < size; i++) {
                if (sec < units[i].sec)
                        continue;
                o += (size_t) snprintf(buf + o, size - o, "%s%" PRIu64 "%s", o > 0 ? " " : "",
                                       sec / units[i].sec, units[i].unit);
                sec %= units[i].sec;
        }
        if (o == 0)
                snprintf(buf, size, "0s");
        return buf;
}

/* Options of "token verify" that "token decode" must not be given. */
#define VERIFY_ONLY_OPTIONS (CTL_OPT_AT | CTL_OPT_T | CTL_OPT_JWKS | CTL_OPT_ISSUER | CTL_OPT_ENDPOINT | \
                             CTL_OPT_SKEW | CTL_OPT_RP_DATA | CTL_OPT_CNF_JWK)

static int parse_unix_time(const char *s, uint64_t *ret_usec) {
        char *end;
        unsigned long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0 || v > (unsigned long long) TOKEN_NUMERIC_DATE_MAX)
                return -ERANGE;
        *ret_usec = (uint64_t) v * USEC_PER_SEC;
        return 0;
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int help_verify(void) {
        printf("Usage: attestctl token verify --jwks FILE [--issuer URL] [--at UNIXTIME] [--skew TIME]\n"
               "                              [--endpoint URL] [--rp-data NONCE] [--cnf-jwk FILE] TOKENFILE\n\n"
               "Check a token offline exactly as attestd does: RS256 only, key chosen by kid from the\n"
               "key set in FILE (or, if the set lacks that kid, the key whose certificate is the token's\n"
               "x5c[0]), signature, iss, exp/nbf/iat, and a jku (if any) pinned to the endpoint.\n"
               "Tokens up to 8 MiB, key sets up to 1 MiB.\n\n"
               "  -k, --jwks FILE      the verifier's key set (GET {endpoint}/certs)\n"
               "  -i, --issuer URL     expected iss (default: Endpoint= from the configuration)\n"
               "  -e, --endpoint URL   endpoint a jku must point into (default: the issuer)\n"
               "  -t, --at UNIXTIME    verify as of this time (default: now)\n"
               "  -s, --skew TIME      clock skew allowed for exp/nbf (default: ClockSkewSec= default)\n"
               "      --rp-data NONCE  require rp_data to equal this base64url nonce\n"
               "      --cnf-jwk FILE   require cnf.jwk to be the key in this JWK file\n"
               "  -h, --help           this help\n");
        return CTL_EXIT_OK;
}

static int verify_report(const char *path, const Token *t) {
        char ts[TOKEN_TIMESTAMP_MAX], kid[JWT_ESCAPE_BUF], iss[JWT_ESCAPE_BUF], life[64];
        uint64_t start = t->iat_usec ?: t->nbf_usec;

        printf("%s: valid, kid \"%s\"%s, iss %s, expires %s (lifetime %s)\n", path, jwt_escape(t->kid, kid),
               t->key_by_cert ? " (key found by its x5c certificate)" : "",
               jwt_escape(t->iss, iss), token_format_timestamp(t->exp_usec, ts),
               start > 0 && start <= t->exp_usec ? format_duration((t->exp_usec - start) / USEC_PER_SEC, life, sizeof life)
                                                 : "unknown");
        return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

static int token_verb_verify(int argc, char **argv) {
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_erase_ char *compact = NULL;
        _cleanup_free_ char *jwks_text = NULL, *cnf = NULL, *reason = NULL;
        const char *jwks_path = ctl_args.jwks, *cnf_path = ctl_args.cnf_jwk, *path;
        TokenExpect expect = {
                .issuer = ctl_args.issuer,
                .endpoint = ctl_args.endpoint,
                .rp_data = ctl_args.rp_data,
        };
        uint64_t now = 0;
        bool have_at = ctl_args.at, have_skew = ctl_args.skew;
        int r;

        if (ctl_args.at && parse_unix_time(ctl_args.at, &now) < 0) {
                log_error("Invalid --at value '%s': expected seconds since the epoch.", ctl_args.at);
                return CTL_EXIT_USAGE;
        }
        if (ctl_args.skew && parse_timespan(ctl_args.skew, &expect.skew_usec) < 0) {
                log_error("Invalid --skew value '%s'.", ctl_args.skew);
                return CTL_EXIT_USAGE;
        }
        if (argc != 2 || !jwks_path) {
                log_error("token verify: need --jwks FILE and one TOKENFILE; see 'attestctl token verify --help'.");
                return CTL_EXIT_USAGE;
        }
        path = argv[1];

        /* The configuration supplies only what the command line leaves out. */
        if (!expect.issuer || !have_skew) {
                r = expect.issuer ? config_new_default(&config) : config_load(ctl_args.config, &config);
                if (r < 0)
                        return CTL_EXIT_FAILURE;
                if (!expect.issuer)
                        expect.issuer = config->endpoint;
                if (!have_skew)
                        expect.skew_usec = config->clock_skew_usec;
        }
        if (!expect.issuer) {
                log_error("token verify: no --issuer given and no Endpoint= configured.");
                return CTL_EXIT_USAGE;
        }
        if (!have_at)
                now = now_realtime_usec();

        if (read_input(jwks_path, JWKS_SIZE_MAX, "Key set", &jwks_text) < 0 ||
            read_input(path, JWT_SIZE_MAX, "Token file", &compact) < 0 ||
            (cnf_path && read_input(cnf_path, JWT_SIZE_MAX, "JWK file", &cnf) < 0))
                return CTL_EXIT_FAILURE;
        expect.cnf_jwk_json = cnf;

        r = jwks_parse(jwks_text, strlen(jwks_text), &jwks, &reason);
        if (r < 0) {
                log_error("Key set %s is not usable: %s", jwks_path, reason ?: strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        r = token_verify(compact, jwks, &expect, now, &t, &reason);
        if (r < 0) {
                log_error("%s: NOT valid: %s%s", path, reason ?: strerror(-r),
                          r == -ENOKEY ? " (is the key set current?)" : "");
                return CTL_EXIT_FAILURE;
        }
        return verify_report(path, t);
}

static int help_decode(void) {
        printf("Usage: attestctl token decode TOKENFILE\n\n"
               "Print the header and claims of a token as JSON, WITHOUT verifying anything.\n");
        return CTL_EXIT_OK;
}

static int token_verb_decode(int argc, char **argv) {
        _cleanup_(jwt_freep) Jwt *jwt = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_erase_ char *compact = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *s;
        int r;

        if (ctl_args.given & VERIFY_ONLY_OPTIONS) {
                log_error("token decode: takes no verify options; see 'attestctl token decode --help'.");
                return CTL_EXIT_USAGE;
        }
        if (argc != 2) {
                log_error("token decode: need one TOKENFILE; see 'attestctl token decode --help'.");
                return CTL_EXIT_USAGE;
        }

        if (read_input(argv[1], JWT_SIZE_MAX, "Token file", &compact) < 0)
                return CTL_EXIT_FAILURE;
        r = jwt_decode(compact, strlen(compact), &jwt, &reason);
        if (r < 0) {
                log_error("%s: cannot decode: %s", argv[1], reason ?: strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        o = json_object_new_object();
        if (!o || json_object_object_add(o, "header", json_object_get(jwt->header)) < 0 ||
            json_object_object_add(o, "claims", json_object_get(jwt->claims)) < 0) {
                log_oom();
                return CTL_EXIT_FAILURE;
        }
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                log_oom();
                return CTL_EXIT_FAILURE;
        }

        fprintf(stderr, "NOT VERIFIED: decoded only; signature, issuer and expiry were not checked.\n");
        if (puts(s) < 0 || fflush(stdout) != 0)
                return CTL_EXIT_FAILURE;
        return CTL_EXIT_OK;
}

static int help_commands(void) {
        printf("Usage: attestctl token COMMAND ...\n\n"
               "Commands:\n"
               "  (none) [--claims]  print the token attestd cached (or its claims, x-ms-policy's\n"
               "                     JSON strings decoded)\n"
               "  verify --jwks FILE [--issuer URL] [--at UNIXTIME] [--skew TIME] TOKENFILE\n"
               "                     check a token offline as attestd does\n"
               "  decode TOKENFILE   print header and claims, NOT verified\n\n"
               "See 'attestctl token COMMAND --help'.\n");
        return CTL_EXIT_OK;
}

/* attestctl token [--claims]: the token attestd cached (its claims from token.json with --claims),
 * read from the configured runtime directory; works without the daemon running. */
static int token_show(bool claims) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL;
        const char *name = claims ? CACHE_TOKEN_JSON : CACHE_TOKEN;
        int r;

        if (config_load(ctl_args.config, &c) < 0)
                return CTL_EXIT_FAILURE;
        r = cache_read(c->runtime_directory, name, claims ? CACHE_TOKEN_JSON_MAX : JWT_SIZE_MAX, &text, NULL);
        if (r == -ENOENT) {
                log_error("No attestation token in %s: the host is not attested (see 'attestctl status').",
                          c->runtime_directory);
                return CTL_EXIT_UNAVAILABLE;
        }
        if (r == -EACCES) {
                /* The files are mode 0640, attestd's and the token group's. */
                const char *group = c->token_group && *c->token_group ? c->token_group : TOKEN_GROUP_DEFAULT;
                log_error("Permission denied reading %s/%s: only attestd and the group TokenGroup= names in "
                          "attestd.conf (here %s; default %s) may read it. Join that group (\"usermod -aG %s $USER\", "
                          "then log in again) or use sudo.", c->runtime_directory, name, group, TOKEN_GROUP_DEFAULT,
                          group);
                return CTL_EXIT_FAILURE;
        }
        if (r == -EFBIG) {
                log_error("%s/%s is larger than %zu bytes, refusing.", c->runtime_directory, name,
                          claims ? CACHE_TOKEN_JSON_MAX : (size_t) JWT_SIZE_MAX);
                return CTL_EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to read %s/%s: %m", c->runtime_directory, name);
                return CTL_EXIT_FAILURE;
        }
        if (!claims) {
                printf("%s\n", text);
                return CTL_EXIT_OK;
        }

        /* The claims as issued, except that x-ms-policy's JSON strings are shown decoded. */
        _cleanup_(json_object_putp) json_object *o = NULL, *decoded = NULL;
        json_object *cl;
        r = token_json_parse(text, &o);
        text = mfree(text);
        if (r == -ENOMEM || (r >= 0 && json_object_object_get_ex(o, "claims", &cl) &&
                             token_claims_decoded(cl, &decoded) == -ENOMEM)) {
                log_oom();
                return CTL_EXIT_FAILURE;
        }
        if (!decoded) {
                log_error("%s/%s is not what attestd writes.", c->runtime_directory, name);
                return CTL_EXIT_FAILURE;
        }
        const char *s = json_object_to_json_string_ext(decoded, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s) {
                log_oom();
                return CTL_EXIT_FAILURE;
        }
        if (puts(s) < 0 || fflush(stdout) != 0)
                return CTL_EXIT_FAILURE;
        return CTL_EXIT_OK;
}

int help_token(int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "verify"))
                return help_verify();
        if (argc >= 2 && streq(argv[1], "decode"))
                return help_decode();
        return help_commands();
}

int verb_token(int argc, char **argv) {
        static const struct {
                const char *name;
                int (*run)(int argc, char **argv);
        } commands[] = {
                { "decode", token_verb_decode },
                { "verify", token_verb_verify },
        };

        if (argc < 2) {
                if (ctl_args.given & ~CTL_OPT_CLAIMS) {
                        log_error("token: the verify options need 'token verify'; see 'attestctl token --help'.");
                        return CTL_EXIT_USAGE;
                }
                return token_show(ctl_args.claims);
        }
        if (ctl_args.claims) {
                log_error("token: --claims applies to the cached token only; see 'attestctl token --help'.");
                return CTL_EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[1], commands[i].name))
                        return commands[i].run(argc - 1, argv + 1);

        log_error("token: unknown command '%s'; see 'attestctl token --help'.", argv[1]);
        return CTL_EXIT_USAGE;
}
