/* SPDX-License-Identifier: MIT */
/* The org.attestd.Attest1 object: read-only properties for everyone, Attest() and Reload() for
 * root only (the D-Bus policy says so, and the sender's credentials are checked here too). */
#include <inttypes.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "cache.h"
#include "log.h"
#include "utf8.h"

/* D-Bus refuses a whole message (GetAll included) over one string that is not UTF-8, so every
 * string property goes out through here: invalid bytes (from a server, a config file, a path)
 * become U+FFFD instead of making the property unreadable for everyone. */
static int append_string(sd_bus_message *reply, const char *s) {
        _cleanup_free_ char *valid = NULL;

        s = strempty(s);
        if (utf8_is_valid(s))
                return sd_bus_message_append(reply, "s", s);
        valid = utf8_make_valid(s);
        if (!valid)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", valid);
}

static int property_get_last_error(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return append_string(reply, m->last_error);
}

static int property_get_token_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *p = NULL;

        if (m->token && asprintf(&p, "%s/%s", m->config->runtime_directory, CACHE_TOKEN) < 0)
                return -ENOMEM;
        return append_string(reply, p);
}

static int property_get_endpoint(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return append_string(reply, strempty(attester_get_endpoint(m->attester)));
}

static int property_get_expires(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "t", m->token ? m->token->expires_usec : UINT64_C(0));
}

/* Every class, zero included: a collector sees the whole family from the first scrape on, and a
 * class that appears later is not mistaken for a reset. */
static int property_get_failure_counts(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{st}");
        if (r < 0)
                return r;
        for (AttestFailureClass c = 0; c < _ATTEST_FAILURE_CLASS_MAX; c++) {
                r = sd_bus_message_append(reply, "{st}", attest_failure_class_to_string(c),
                                          m->failure_counts[c]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_stale(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "b", m->token && (m->token_stale || m->state == MANAGER_STALE));
}

/* a(sus): bank name, PCR index, lower-case hex value, for every PCR the token attests. */
static int property_get_attested_pcrs(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sus)");
        if (r < 0)
                return r;
        for (size_t b = 0; m->token && b < m->token->pcrs.n_banks; b++) {
                const PcrBank *bank = &m->token->pcrs.banks[b];
                for (unsigned i = 0; i < PCR_COUNT; i++) {
                        char hex[PCR_HEX_MAX];
                        if (!pcr_bank_has(bank, i) || !(m->token->pcr_mask & (UINT32_C(1) << i)))
                                continue;
                        r = sd_bus_message_append(reply, "(sus)", tpm_alg_to_name(bank->alg), i,
                                                  pcr_hex(bank->values[i], bank->digest_size, hex));
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}

static int check_root(sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Only root may call %s().",
                                         sd_bus_message_get_member(msg));
        return 0;
}

static int method_attest(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        PendingAttest *p;
        int r;

        r = check_root(msg, error);
        if (r < 0)
                return r;
        p = reallocarray(m->pending_attest, m->n_pending_attest + 1, sizeof *p);
        if (!p)
                return -ENOMEM;
        m->pending_attest = p;
        /* The reply waits for an attempt that starts after this call: the next one. */
        m->pending_attest[m->n_pending_attest++] = (PendingAttest) {
                .message = sd_bus_message_ref(msg),
                .generation = m->attempt_generation + 1,
        };
        manager_attest_now(m, "requested over D-Bus");
        return 1; /* the reply comes from bus_reply_pending_attest() */
}

/* The error carries the reason (file:line: key: why), so "systemctl reload attestd", whose
 * ExecReload= is a busctl call, shows what to fix. */
static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *reason = NULL, *valid = NULL;
        int r;

        r = check_root(msg, error);
        if (r < 0)
                return r;
        r = manager_reload(m, &reason);
        if (r < 0) {
                valid = utf8_make_valid(reason ?: strerror(-r));
                return sd_bus_error_setf(error, BUS_ERROR_RELOAD_FAILED,
                                         "Reloading the configuration failed: %s; the running configuration "
                                         "stays in effect.", strna(valid));
        }
        return sd_bus_reply_method_return(msg, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("State", "s", NULL, offsetof(Manager, state_string), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastError", "s", property_get_last_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Endpoint", "s", property_get_endpoint, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TokenPath", "s", property_get_token_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TokenExpiresUSec", "t", property_get_expires, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Stale", "b", property_get_stale, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastAttestationUSec", "t", NULL, offsetof(Manager, last_attestation_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NextAttestationUSec", "t", NULL, offsetof(Manager, next_attestation_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AttestedPCRs", "a(sus)", property_get_attested_pcrs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AttestationCount", "t", NULL, offsetof(Manager, attestation_count),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FailureCount", "t", NULL, offsetof(Manager, failure_count), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FailureCounts", "a{st}", property_get_failure_counts, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Attest", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", state), method_attest,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Reload", NULL, NULL, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

void bus_emit_changed(Manager *m) {
        if (!m->bus)
                return;
        (void) sd_bus_emit_properties_changed(m->bus, BUS_PATH, BUS_INTERFACE, "State", "LastError", "TokenPath",
                                              "TokenExpiresUSec", "Stale", "LastAttestationUSec",
                                              "NextAttestationUSec", "AttestedPCRs", "AttestationCount",
                                              "FailureCount", "FailureCounts", "Endpoint", NULL);
}

void bus_reply_pending_attest(Manager *m) {
        size_t kept = 0;

        for (size_t i = 0; i < m->n_pending_attest; i++) {
                PendingAttest *p = &m->pending_attest[i];
                if (p->generation > m->attempt_generation) {
                        m->pending_attest[kept++] = *p;
                        continue;
                }
                if (m->state == MANAGER_ATTESTED)
                        (void) sd_bus_reply_method_return(p->message, "s", manager_state_to_string(m->state));
                else {
                        _cleanup_free_ char *why = utf8_make_valid(strempty(m->last_error));

                        (void) sd_bus_reply_method_errorf(p->message,
                                                          m->state == MANAGER_DENIED ? BUS_ERROR_DENIED : BUS_ERROR_FAILED,
                                                          "Attestation %s: %s", manager_state_to_string(m->state),
                                                          strna(why));
                }
                sd_bus_message_unref(p->message);
        }
        m->n_pending_attest = kept;
}

int bus_connect(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the D-Bus object: %m");
        r = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", BUS_NAME);
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}
