/* SPDX-License-Identifier: MIT */
/* attestctl verbs that talk to the running daemon over D-Bus: status, attest, wait. */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus.h"
#include "cache.h"
#include "cleanup.h"
#include "config.h"
#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "token-claims.h"

#define ATTEST_CALL_TIMEOUT_USEC (10 * 60 * USEC_PER_SEC)

typedef struct Status {
        char *state, *last_error, *endpoint, *token_path;
        uint64_t expires, last, next, count, failures;
        int stale;
        json_object *pcrs; /* [[bank, index, hex], ...] */
        char *provider;    /* from token.json; NULL when it cannot be read */
        json_object *vm;   /* the Azure VM claims worth showing, NULL when none */
} Status;

static void status_done(Status *s) {
        free(s->state);
        free(s->last_error);
        free(s->endpoint);
        free(s->token_path);
        json_object_put(s->pcrs);
        free(s->provider);
        json_object_put(s->vm);
}

/* The claims of an azurevm token an operator wants at a glance, wherever the policy put them (top
 * level or x-ms-policy, see token_policy_claims()). */
static const char *const vm_claims[] = {
        "secureboot",
        "x-ms-azurevm-debuggersdisabled",
        "x-ms-azurevm-bootdebug-enabled",
        "x-ms-azurevm-kerneldebug-enabled",
        "x-ms-azurevm-osdistro",
        "x-ms-azurevm-osversion-major",
        "x-ms-azurevm-osversion-minor",
        "x-ms-azurevm-vmid",
};

/* The provider and the VM claims from token.json beside the token; a file this user may not read
 * (mode 0640) just leaves them out. */
static void status_read_token_json(Status *s) {
        _cleanup_(json_object_putp) json_object *info = NULL, *policy = NULL, *vm = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        json_object *v, *claims, *tee, *type;
        const char *slash = strrchr(s->token_path, '/');
        size_t size;

        if (!slash || asprintf(&path, "%.*s/%s", (int) (slash - s->token_path), s->token_path, CACHE_TOKEN_JSON) < 0 ||
            read_full_file(path, CACHE_TOKEN_JSON_MAX, &text, &size) < 0 || token_json_parse(text, &info) < 0)
                return;
        if (json_object_object_get_ex(info, "provider", &v) && json_object_is_type(v, json_type_string))
                s->provider = strdup(json_object_get_string(v));
        if (!json_object_object_get_ex(info, "claims", &claims) || token_policy_claims(claims, &policy) < 0 ||
            !(vm = json_object_new_object()))
                return;
        for (size_t i = 0; i < ELEMENTSOF(vm_claims); i++)
                if (json_object_object_get_ex(policy, vm_claims[i], &v))
                        json_object_object_add(vm, vm_claims[i], json_object_get(v));
        if (json_object_object_get_ex(policy, "x-ms-isolation-tee", &tee) &&
            json_object_object_get_ex(tee, "x-ms-attestation-type", &type))
                json_object_object_add(vm, "x-ms-isolation-tee.x-ms-attestation-type", json_object_get(type));
        if (json_object_object_length(vm) > 0)
                s->vm = TAKE_PTR(vm);
}

static int open_bus(sd_bus **ret) {
        int r = sd_bus_open_system(ret);
        if (r < 0)
                fprintf(stderr, "attestctl: cannot connect to the system bus: %s\n", strerror(-r));
        return r;
}

static int unavailable(const sd_bus_error *e, int r) {
        fprintf(stderr, "attestctl: attestd is not reachable on the system bus (%s): %s\n", BUS_NAME,
                e && e->message ? e->message : strerror(-r));
        return CTL_EXIT_UNAVAILABLE;
}

static int read_pcrs(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        const char *bank, *hex;
        uint32_t index;
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(sus)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(sus)", &bank, &index, &hex)) > 0) {
                json_object *e = json_object_new_array();
                if (!e)
                        return -ENOMEM;
                json_object_array_add(e, json_object_new_string(bank));
                json_object_array_add(e, json_object_new_int((int32_t) index));
                json_object_array_add(e, json_object_new_string(hex));
                json_object_array_add(a, e);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return sd_bus_message_exit_container(m);
}

/* Reads every property with one GetAll. */
static int status_get(sd_bus *bus, Status *s, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll", error,
                               &reply, "s", BUS_INTERFACE);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                const char *sig = NULL;
                (void) sd_bus_message_peek_type(reply, NULL, &sig);
                r = sd_bus_message_enter_container(reply, 'v', sig);
                if (r < 0)
                        return r;

                const char *str;
                char **target = streq(name, "State") ? &s->state : streq(name, "LastError") ? &s->last_error :
                                streq(name, "Endpoint") ? &s->endpoint : streq(name, "TokenPath") ? &s->token_path : NULL;
                uint64_t *u = streq(name, "TokenExpiresUSec") ? &s->expires : streq(name, "LastAttestationUSec") ? &s->last :
                              streq(name, "NextAttestationUSec") ? &s->next : streq(name, "AttestationCount") ? &s->count :
                              streq(name, "FailureCount") ? &s->failures : NULL;
                if (target) {
                        r = sd_bus_message_read(reply, "s", &str);
                        if (r >= 0 && !(*target = strdup(str)))
                                r = -ENOMEM;
                } else if (u)
                        r = sd_bus_message_read(reply, "t", u);
                else if (streq(name, "Stale"))
                        r = sd_bus_message_read(reply, "b", &s->stale);
                else if (streq(name, "AttestedPCRs"))
                        r = read_pcrs(reply, &s->pcrs);
                else
                        r = sd_bus_message_skip(reply, sig);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return s->state ? 0 : -EBADMSG;
}

/* "2026-11-28 12:00:00 UTC (in 7h 59min)" or "never". */
static const char *format_time(uint64_t usec, char *buf, size_t size) {
        if (usec == 0)
                return "never";
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        char when[64], rel[48];
        int64_t d = (int64_t) t - (int64_t) time(NULL);
        uint64_t a = (uint64_t) (d < 0 ? -d : d);

        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
        if (a == 0) {
                snprintf(buf, size, "%s (now)", when);
                return buf;
        }
        if (a >= 3600)
                snprintf(rel, sizeof rel, "%" PRIu64 "h %" PRIu64 "min", a / 3600, a % 3600 / 60);
        else if (a >= 60)
                snprintf(rel, sizeof rel, "%" PRIu64 "min %" PRIu64 "s", a / 60, a % 60);
        else
                snprintf(rel, sizeof rel, "%" PRIu64 "s", a);
        snprintf(buf, size, "%s (%s%s%s)", when, d < 0 ? "" : "in ", rel, d < 0 ? " ago" : "");
        return buf;
}

static void status_print_text(const Status *s) {
        char b[128];

        printf("         State: %s%s\n", s->state, s->stale ? " (token stale)" : "");
        if (s->provider)
                printf("      Provider: %s\n", s->provider);
        printf("      Endpoint: %s\n", s->endpoint);
        printf("         Token: %s\n", *s->token_path ? s->token_path : "none");
        if (*s->token_path)
                printf("       Expires: %s\n", format_time(s->expires, b, sizeof b));
        printf(" Last attested: %s\n", format_time(s->last, b, sizeof b));
        printf("  Next attempt: %s\n", format_time(s->next, b, sizeof b));
        printf("  Attestations: %" PRIu64 " succeeded, %" PRIu64 " failed\n", s->count, s->failures);
        printf("    Last error: %s\n", *s->last_error ? s->last_error : "-");
        if (s->vm) {
                const char *prefix = "      Azure VM: ";
                json_object_object_foreach(s->vm, k, v) {
                        printf("%s%s=%s\n", prefix, strncmp(k, "x-ms-azurevm-", 13) == 0 ? k + 13 : k,
                               json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
                        prefix = "                ";
                }
        }
        size_t n = s->pcrs ? json_object_array_length(s->pcrs) : 0;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(s->pcrs, i);
                printf("%s%-6s %2d: %s\n", i ? "                " : " Attested PCRs: ",
                       json_object_get_string(json_object_array_get_idx(e, 0)),
                       json_object_get_int(json_object_array_get_idx(e, 1)),
                       json_object_get_string(json_object_array_get_idx(e, 2)));
        }
}

static void status_print_json(const Status *s) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        json_object_object_add(o, "State", json_object_new_string(s->state));
        json_object_object_add(o, "Stale", json_object_new_boolean(s->stale));
        if (s->provider)
                json_object_object_add(o, "Provider", json_object_new_string(s->provider));
        json_object_object_add(o, "Endpoint", json_object_new_string(strempty(s->endpoint)));
        if (s->vm)
                json_object_object_add(o, "AzureVM", json_object_get(s->vm));
        json_object_object_add(o, "TokenPath", json_object_new_string(strempty(s->token_path)));
        json_object_object_add(o, "TokenExpiresUSec", json_object_new_uint64(s->expires));
        json_object_object_add(o, "LastAttestationUSec", json_object_new_uint64(s->last));
        json_object_object_add(o, "NextAttestationUSec", json_object_new_uint64(s->next));
        json_object_object_add(o, "AttestationCount", json_object_new_uint64(s->count));
        json_object_object_add(o, "FailureCount", json_object_new_uint64(s->failures));
        json_object_object_add(o, "LastError", json_object_new_string(strempty(s->last_error)));
        json_object_object_add(o, "AttestedPCRs", json_object_get(s->pcrs));
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int verb_status(int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(status_done) Status s = {};
        bool json = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "j", options, NULL)) >= 0)
                if (c == 'j')
                        json = true;
                else
                        return CTL_EXIT_USAGE;
        if (open_bus(&bus) < 0)
                return CTL_EXIT_UNAVAILABLE;
        r = status_get(bus, &s, &error);
        if (r < 0)
                return unavailable(&error, r);
        if (*s.token_path)
                status_read_token_json(&s);
        if (json)
                status_print_json(&s);
        else
                status_print_text(&s);
        return CTL_EXIT_OK;
}

int verb_attest(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *state;
        int r;

        if (argc > 1) {
                fprintf(stderr, "attestctl attest: takes no arguments.\n");
                return CTL_EXIT_USAGE;
        }
        if (open_bus(&bus) < 0)
                return CTL_EXIT_UNAVAILABLE;
        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, "Attest");
        if (r >= 0)
                r = sd_bus_call(bus, m, ATTEST_CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                if (sd_bus_error_has_names(&error, BUS_ERROR_DENIED, BUS_ERROR_FAILED, BUS_ERROR_ACCESS_DENIED,
                                           SD_BUS_ERROR_ACCESS_DENIED)) {
                        fprintf(stderr, "attestctl: %s\n", error.message);
                        return CTL_EXIT_FAILURE;
                }
                return unavailable(&error, r);
        }
        r = sd_bus_message_read(reply, "s", &state);
        if (r < 0)
                return unavailable(NULL, r);
        printf("%s\n", state);
        return CTL_EXIT_OK;
}

typedef struct Waiter {
        sd_bus *bus;
        int result; /* -1 while waiting */
        bool quiet;
} Waiter;

/* Checks State; ends the loop when it is "attested". A daemon not (yet) on the bus is waited for. */
static void waiter_check(Waiter *w) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;

        if (sd_bus_get_property_string(w->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "State", &error, &state) < 0)
                return;
        if (streq(state, "attested")) {
                w->result = CTL_EXIT_OK;
                (void) sd_event_exit(sd_bus_get_event(w->bus), 0);
        }
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        waiter_check(userdata);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Waiter *w = userdata;
        w->result = CTL_EXIT_TIMEOUT;
        return sd_event_exit(sd_bus_get_event(w->bus), 0);
}

/* A host without a TPM can never be attested: attestd.service is skipped there
 * (ConditionSecurity=tpm2), so waiting would only stall the consumers for the whole timeout. */
static bool host_has_no_tpm(const char **ret_device) {
        _cleanup_(config_freep) Config *c = NULL;
        int level = log_get_max_level();

        log_set_max_level(LOG_CRIT); /* a broken config is attestd's to report, not ours */
        int r = config_load(ctl_config_path, &c);
        log_set_max_level(level);
        if (r < 0 || strncmp(c->tcti, "device:", 7) != 0)
                return false;
        static char device[256];
        snprintf(device, sizeof device, "%s", c->tcti + 7);
        *ret_device = device;
        return access(device, F_OK) < 0 && errno == ENOENT;
}

int verb_wait(int argc, char **argv) {
        static const struct option options[] = {
                { "timeout", required_argument, NULL, 't' },
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Waiter w = { .result = -1 };
        uint64_t timeout = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "t:q", options, NULL)) >= 0)
                switch (c) {
                case 't':
                        if (parse_timespan(optarg, &timeout) < 0) {
                                fprintf(stderr, "attestctl wait: invalid --timeout '%s'.\n", optarg);
                                return CTL_EXIT_USAGE;
                        }
                        break;
                case 'q':
                        w.quiet = true;
                        break;
                default:
                        return CTL_EXIT_USAGE;
                }

        if (open_bus(&bus) < 0)
                return CTL_EXIT_UNAVAILABLE;
        w.bus = bus;
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        /* Keep the connection after the loop ends: the timeout message asks for the state. */
        if (r >= 0)
                r = sd_bus_set_close_on_exit(bus, false);
        /* Subscribe first, then look: no change can slip between the two. */
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_signal, &w);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameOwnerChanged", on_signal, &w);
        if (r >= 0 && timeout > 0)
                r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, timeout, 0, on_timeout, &w);
        if (r < 0) {
                fprintf(stderr, "attestctl wait: %s\n", strerror(-r));
                return CTL_EXIT_FAILURE;
        }

        waiter_check(&w);
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *owner = NULL;
        const char *device;
        if (w.result < 0 && sd_bus_get_name_creds(bus, BUS_NAME, 0, &owner) < 0 && host_has_no_tpm(&device)) {
                fprintf(stderr, "attestctl wait: this host has no TPM (%s is missing); it cannot be attested.\n",
                        device);
                return CTL_EXIT_UNAVAILABLE;
        }
        if (w.result < 0) {
                r = sd_event_loop(event);
                if (r < 0) {
                        fprintf(stderr, "attestctl wait: %s\n", strerror(-r));
                        return CTL_EXIT_FAILURE;
                }
        }
        if (w.result == CTL_EXIT_TIMEOUT && !w.quiet) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_free_ char *state = NULL, *last = NULL;
                if (sd_bus_get_property_string(bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "State", &error, &state) < 0)
                        fprintf(stderr, "attestctl wait: timed out; attestd is not on the bus.\n");
                else {
                        (void) sd_bus_get_property_string(bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "LastError", NULL, &last);
                        fprintf(stderr, "attestctl wait: timed out in state %s%s%s\n", state,
                                last && *last ? ": " : "", strempty(last));
                }
        }
        return w.result;
}
