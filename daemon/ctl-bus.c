/* SPDX-License-Identifier: MIT */
/* attestctl verbs that talk to the running daemon over D-Bus: status, is-attested, attest, wait. */
#include <inttypes.h>
#include <json-c/json.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus.h"
#include "cache.h"
#include "cleanup.h"
#include "config.h"
#include "ctl-status.h"
#include "ctl.h"
#include "fileio.h"
#include "log.h"
#include "token-claims.h"

#define ATTEST_CALL_TIMEOUT_USEC (10 * 60 * USEC_PER_SEC)

void status_done(Status *s) {
        free(s->state);
        free(s->last_error);
        free(s->endpoint);
        free(s->token_path);
        json_object_put(s->pcrs);
        json_object_put(s->failure_counts);
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


/* With --json the reason also goes to stdout as {"Error":"unavailable","Message":...}, so a script
 * parsing the output gets a document either way. */
int ctl_unavailable(const sd_bus_error *e, int r) {
        _cleanup_free_ char *message = NULL;

        if (asprintf(&message, "attestd is not reachable on the system bus (%s): %s", BUS_NAME,
                     e && e->message ? e->message : strerror(-r)) < 0)
                return log_oom(), CTL_EXIT_UNAVAILABLE;
        if (!ctl_args.quiet)
                fprintf(stderr, "attestctl: %s\n", message);
        if (ctl_args.json != CTL_JSON_OFF) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                if (o && json_object_object_add(o, "Error", json_object_new_string("unavailable")) >= 0 &&
                    json_object_object_add(o, "Message", json_object_new_string(message)) >= 0)
                        (void) ctl_print_json(o);
        }
        return CTL_EXIT_UNAVAILABLE;
}

/* AttestedPCRs a(sus) as {"sha256":{"0":"hex",...},...}: the shape of every PCR set attestctl
 * prints (pcrs, quote, eventlog --replay). */
static int read_pcrs(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *bank, *hex;
        uint32_t index;
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "(sus)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "(sus)", &bank, &index, &hex)) > 0) {
                json_object *values;
                char key[16];

                if (!json_object_object_get_ex(o, bank, &values)) {
                        values = json_object_new_object();
                        if (!values || json_object_object_add(o, bank, values) < 0)
                                return -ENOMEM;
                }
                snprintf(key, sizeof key, "%" PRIu32, index);
                if (json_object_object_add(values, key, json_object_new_string(hex)) < 0)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return sd_bus_message_exit_container(m);
}

/* FailureCounts a{st} as {"class":count,...}. The class names are the daemon's: a class added
 * there shows up here without a new attestctl. */
static int read_failure_counts(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *class;
        uint64_t n;
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', "{st}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "{st}", &class, &n)) > 0)
                if (json_object_object_add(o, class, json_object_new_uint64(n)) < 0)
                        return -ENOMEM;
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
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
                else if (streq(name, "FailureCounts"))
                        r = read_failure_counts(reply, &s->failure_counts);
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
        /* During an attempt there is no next one scheduled yet: say what is happening. */
        printf("  Next attempt: %s\n", streq(s->state, "attesting") ? "now (in progress)" : format_time(s->next, b, sizeof b));
        printf("  Attestations: %" PRIu64 " succeeded, %" PRIu64 " failed", s->count, s->failures);
        if (s->failures > 0 && s->failure_counts) {
                const char *sep = " (";
                json_object_object_foreach(s->failure_counts, class, n) {
                        if (json_object_get_uint64(n) == 0)
                                continue;
                        printf("%s%" PRIu64 " %s", sep, json_object_get_uint64(n), class);
                        sep = ", ";
                }
                if (!streq(sep, " ("))
                        printf(")");
        }
        printf("\n");
        printf("    Last error: %s\n", *s->last_error ? s->last_error : "-");
        if (s->vm) {
                const char *prefix = "      Azure VM: ";
                json_object_object_foreach(s->vm, k, v) {
                        printf("%s%s=%s\n", prefix, strncmp(k, "x-ms-azurevm-", 13) == 0 ? k + 13 : k,
                               json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
                        prefix = "                ";
                }
        }
        const char *prefix = " Attested PCRs: ";
        if (!s->pcrs)
                return;
        json_object_object_foreach(s->pcrs, bank, values) {
                json_object_object_foreach(values, index, hex) {
                        printf("%s%-6s %2s: %s\n", prefix, bank, index, json_object_get_string(hex));
                        prefix = "                ";
                }
        }
}

/* The stable JSON of attestctl(1): the D-Bus property names, an RFC 3339 string beside each
 * microsecond time (null when there is none), PCRs as {"bank":{"index":"hex"}}. */
static int status_print_json(const Status *s) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "State", json_object_new_string(s->state));
        json_object_object_add(o, "Stale", json_object_new_boolean(s->stale));
        if (s->provider)
                json_object_object_add(o, "Provider", json_object_new_string(s->provider));
        json_object_object_add(o, "Endpoint", json_object_new_string(strempty(s->endpoint)));
        if (s->vm)
                json_object_object_add(o, "AzureVM", json_object_get(s->vm));
        json_object_object_add(o, "TokenPath", json_object_new_string(strempty(s->token_path)));
        json_object_object_add(o, "TokenExpiresUSec", json_object_new_uint64(s->expires));
        json_object_object_add(o, "TokenExpires", ctl_json_timestamp(s->expires));
        json_object_object_add(o, "LastAttestationUSec", json_object_new_uint64(s->last));
        json_object_object_add(o, "LastAttestation", ctl_json_timestamp(s->last));
        json_object_object_add(o, "NextAttestationUSec", json_object_new_uint64(s->next));
        json_object_object_add(o, "NextAttestation", ctl_json_timestamp(s->next));
        json_object_object_add(o, "AttestationCount", json_object_new_uint64(s->count));
        json_object_object_add(o, "FailureCount", json_object_new_uint64(s->failures));
        json_object_object_add(o, "FailureCounts", s->failure_counts ? json_object_get(s->failure_counts) :
                                                                       json_object_new_object());
        json_object_object_add(o, "LastError", json_object_new_string(strempty(s->last_error)));
        json_object_object_add(o, "AttestedPCRs", s->pcrs ? json_object_get(s->pcrs) : json_object_new_object());
        return ctl_print_json(o);
}

int ctl_status_read(Status *s) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return ctl_unavailable(NULL, r);
        r = status_get(bus, s, &error);
        if (r < 0)
                return ctl_unavailable(&error, r);
        if (*s->token_path)
                status_read_token_json(s);
        return CTL_EXIT_OK;
}

int verb_status(int argc, char **argv) {
        _cleanup_(status_done) Status s = {};
        int r;

        r = ctl_status_read(&s);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl_args.json == CTL_JSON_OFF) {
                status_print_text(&s);
                return CTL_EXIT_OK;
        }
        return status_print_json(&s) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
}

/* For scripts and health checks: the host holds a valid token (attestd publishes one) or not. */
int verb_is_attested(int argc, char **argv) {
        _cleanup_(status_done) Status s = {};
        int r;

        r = ctl_status_read(&s);
        if (r != CTL_EXIT_OK)
                return r;
        if (!ctl_args.quiet)
                printf("%s\n", *s.token_path ? "yes" : s.state);
        if (*s.token_path)
                return CTL_EXIT_OK;
        return streq(s.state, "denied") ? CTL_EXIT_DENIED : CTL_EXIT_FAILURE;
}

int verb_attest(int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *state;
        int r;

        /* Say it in one line before the bus policy says it in three hundred characters. */
        if (geteuid() != 0) {
                fprintf(stderr, "attestctl attest: needs root (attestd's Attest() is for root only); try sudo.\n");
                return CTL_EXIT_FAILURE;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0)
                return ctl_unavailable(NULL, r);
        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, "Attest");
        if (r >= 0)
                r = sd_bus_call(bus, m, ATTEST_CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                if (sd_bus_error_has_names(&error, BUS_ERROR_DENIED, BUS_ERROR_FAILED, SD_BUS_ERROR_ACCESS_DENIED)) {
                        fprintf(stderr, "attestctl: %s\n", error.message);
                        return CTL_EXIT_FAILURE;
                }
                return ctl_unavailable(&error, r);
        }
        r = sd_bus_message_read(reply, "s", &state);
        if (r < 0)
                return ctl_unavailable(NULL, r);
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
        int r = config_load(ctl_args.config, &c);
        log_set_max_level(level);
        if (r < 0 || strncmp(c->tcti, "device:", 7) != 0)
                return false;
        static char device[256];
        snprintf(device, sizeof device, "%s", c->tcti + 7);
        *ret_device = device;
        return access(device, F_OK) < 0 && errno == ENOENT;
}

int verb_wait(int argc, char **argv) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Waiter w = { .result = -1, .quiet = ctl_args.quiet };
        uint64_t timeout = 0;
        int r;

        if (ctl_args.timeout && parse_timespan(ctl_args.timeout, &timeout) < 0) {
                fprintf(stderr, "attestctl wait: invalid --timeout '%s'.\n", ctl_args.timeout);
                return CTL_EXIT_USAGE;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return ctl_unavailable(NULL, r);
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
