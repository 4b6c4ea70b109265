/* SPDX-License-Identifier: MIT */
/* What the manager publishes under the runtime directory (token, token.json, state) and how a
 * restart picks a still-good token up again. */
#include <inttypes.h>
#include <time.h>

#include "cache.h"
#include "cleanup.h"
#include "eventlog-json.h"
#include "json-util.h"
#include "log.h"
#include "manager.h"
#include "token-claims.h"
#include "token.h"

#define TOKEN_MODE 0640

/* token.json: the decoded header and claims, the policy's output (token_policy_claims()), the
 * expiry, the PCR values attestd quoted for this token (never taken from the token's claims), and
 * whether they have changed since (stale). */
static int token_json_build(Manager *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *pcrs = NULL, *policy = NULL;
        char ts[TOKEN_TIMESTAMP_MAX];
        int r;

        if (!o)
                return -ENOMEM;
        r = eventlog_json_pcr_banks(&m->token_pcrs, &pcrs);
        if (r < 0)
                return r;
        r = json_add(o, "pcrs", pcrs);
        if (r < 0)
                return r;
        r = token_policy_claims(m->token_claims, &policy);
        if (r < 0)
                return r;
        if (json_add(o, "header", json_object_get(m->token_header)) < 0 ||
            json_add(o, "claims", json_object_get(m->token_claims)) < 0 ||
            json_add(o, "policy_claims", policy) < 0 ||
            json_add(o, "endpoint", json_object_new_string(strempty(attester_get_endpoint(m->attester)))) < 0 ||
            json_add(o, "provider", json_object_new_string(attester_get_provider(m->attester))) < 0 ||
            json_add(o, "issued_at_usec", json_object_new_uint64(m->token_issued_usec)) < 0 ||
            json_add(o, "expires_usec", json_object_new_uint64(m->token_expires_usec)) < 0 ||
            json_add(o, "expires", json_object_new_string(token_format_timestamp(m->token_expires_usec, ts))) < 0 ||
            json_add(o, "stale", json_object_new_boolean(m->token_pcrs_changed)) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(o);
        return 0;
}

/* Serializes O once, pretty when that fits in CACHE_TOKEN_JSON_MAX (indentation can multiply a
 * deeply nested claim), compact otherwise. The text belongs to O. */
static int token_json_text(json_object *o, const char **ret, size_t *ret_size) {
        static const int flags[] = {
                JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE,
                JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
        };

        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                size_t n = 0;
                const char *s = json_object_to_json_string_length(o, flags[i], &n);

                if (!s)
                        return -ENOMEM;
                if (n + 1 <= CACHE_TOKEN_JSON_MAX) {
                        *ret = s;
                        *ret_size = n;
                        return 0;
                }
        }
        return -EFBIG;
}

int manager_write_token(Manager *m, bool new_token) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *dir = m->config->runtime_directory, *text;
        struct iovec iov[2];
        size_t size;
        int r;

        if (!m->token)
                return 0;
        r = token_json_build(m, &o);
        if (r < 0)
                return r;
        r = token_json_text(o, &text, &size);
        if (r < 0)
                return r;
        iov[0] = (struct iovec) { .iov_base = (void *) text, .iov_len = size };
        iov[1] = (struct iovec) { .iov_base = (void *) "\n", .iov_len = 1 };
        /* token.json first: a reader that sees the new token finds its description already there. */
        r = cache_write_atomic_iov(dir, CACHE_TOKEN_JSON, iov, ELEMENTSOF(iov), TOKEN_MODE, m->token_gid);
        if (r < 0)
                return r;
        /* Its text is written: free the tree (and the decoded policy claims) before the next file. */
        json_object_put(TAKE_PTR(o));
        /* Only a new token replaces the token file: watchers of IN_MOVED_TO take a rename for news. */
        if (new_token) {
                r = cache_write_atomic(dir, CACHE_TOKEN, m->token, strlen(m->token), TOKEN_MODE, m->token_gid);
                if (r < 0)
                        return r;
        }
        return manager_write_state(m);
}

int manager_write_state(Manager *m) {
        char *buf = NULL, num[32];
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        cache_state_append(f, "STATE", manager_state_to_string(m->state));
        cache_state_append(f, "STALE", m->token_pcrs_changed || m->state == MANAGER_STALE ? "1" : "0");
#define APPEND_U64(key, v) (snprintf(num, sizeof num, "%" PRIu64, (uint64_t) (v)), cache_state_append(f, key, num))
        APPEND_U64("EXPIRES_USEC", m->token ? m->token_expires_usec : 0);
        APPEND_U64("LAST_SUCCESS_USEC", m->last_attestation_usec);
        APPEND_U64("NEXT_ATTESTATION_USEC", m->next_attestation_usec);
        APPEND_U64("ATTESTATION_COUNT", m->attestation_count);
        APPEND_U64("FAILURE_COUNT", m->failure_count);
#undef APPEND_U64
        cache_state_append(f, "LAST_ERROR", m->last_error);
        cache_state_append(f, "ENDPOINT", strempty(attester_get_endpoint(m->attester)));
        cache_state_append(f, "PROVIDER", attester_get_provider(m->attester));
        cache_state_append(f, "TOKEN", m->token ? CACHE_TOKEN : "");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        r = cache_write_atomic(m->config->runtime_directory, CACHE_STATE, buf, size, 0644, (gid_t) -1);
        free(buf);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/%s: %m", m->config->runtime_directory, CACHE_STATE);
        return r;
}

void manager_drop_token(Manager *m, const char *why) {
        const char *dir = m->config->runtime_directory;

        if (m->token)
                log_info("Withdrawing the attestation token: %s.", why);
        /* The token first, so no reader finds a token without its description. */
        (void) cache_remove(dir, CACHE_TOKEN);
        (void) cache_remove(dir, CACHE_TOKEN_JSON);
        m->token = mfree(m->token);
        json_object_put(m->token_header);
        json_object_put(m->token_claims);
        m->token_header = m->token_claims = NULL;
        m->token_expires_usec = m->token_issued_usec = 0;
        m->token_pcrs = (PcrSet) {};
        m->token_pcr_mask = 0;
        m->token_pcrs_changed = false;
        m->expiry_timer = sd_event_source_disable_unref(m->expiry_timer);
        (void) manager_write_state(m);
}

/* Reads the PCR values token.json recorded ({"sha256":{"0":"hex",...},...}). */
static int pcrs_from_json(json_object *o, PcrSet *ret, uint32_t *ret_mask) {
        PcrSet set = {};
        uint32_t mask = 0;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        json_object_object_foreach(o, bank_name, bank) {
                PcrBank *b;
                int alg = tpm_alg_from_name(bank_name);
                if (alg < 0 || !json_object_is_type(bank, json_type_object) || pcr_set_add_bank(&set, (uint16_t) alg, &b) < 0)
                        return -EBADMSG;
                json_object_object_foreach(bank, index, value) {
                        uint8_t digest[PCR_DIGEST_MAX];
                        char *end;
                        unsigned long i = strtoul(index, &end, 10);
                        if (*end || i >= PCR_COUNT || !json_object_is_type(value, json_type_string) ||
                            pcr_unhex(json_object_get_string(value), digest, b->digest_size) < 0 ||
                            pcr_bank_set(b, (unsigned) i, digest, b->digest_size) < 0)
                                return -EBADMSG;
                        mask |= UINT32_C(1) << i;
                }
        }
        *ret = set;
        *ret_mask = mask;
        return 0;
}

int manager_load_cached_token(Manager *m) {
        _cleanup_free_ char *token = NULL, *json = NULL, *err = NULL;
        _cleanup_(json_object_putp) json_object *info = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        const char *dir = m->config->runtime_directory;
        json_object *pcrs, *endpoint;
        PcrSet attested = {}, now = {};
        uint32_t mask = 0, counter = 0;
        uint16_t banks[PCR_BANKS_MAX];
        TpmContext *tpm;
        int r;

        if (cache_read(dir, CACHE_TOKEN, JWT_SIZE_MAX, &token, NULL) < 0 ||
            cache_read(dir, CACHE_TOKEN_JSON, CACHE_TOKEN_JSON_MAX, &json, NULL) < 0)
                return 0;
        (void) token_json_parse(json, &info);
        json = mfree(json);     /* the tree holds what we need; do not keep the text beside it */
        r = token_decode(token, &t, NULL);
        if (r < 0 || !info || !json_object_object_get_ex(info, "pcrs", &pcrs) ||
            pcrs_from_json(pcrs, &attested, &mask) < 0 || !json_object_object_get_ex(info, "endpoint", &endpoint) ||
            /* An endpoint found at run time (azure-guest) is not known yet: the next run checks it. */
            (attester_get_endpoint(m->attester) &&
             !streq(json_object_get_string(endpoint), attester_get_endpoint(m->attester)))) {
                manager_drop_token(m, "the cached token files are unusable or for another endpoint");
                return 0;
        }
        if (t->exp_usec <= now_usec(CLOCK_REALTIME)) {
                manager_drop_token(m, "the cached token has expired");
                return 0;
        }

        /* Only serve it if the host still is what it attests. */
        tpm = manager_get_tpm(m, &err);
        if (!tpm)
                return 0;
        for (size_t i = 0; i < attested.n_banks; i++)
                banks[i] = attested.banks[i].alg;
        r = tpm_pcr_read(tpm, mask, banks, attested.n_banks, &now, &counter);
        manager_put_tpm(m);
        if (r < 0 || pcr_set_compare(&attested, &now, NULL) != 0) {
                manager_drop_token(m, "the PCRs changed since the cached token was issued");
                return 0;
        }

        m->token = TAKE_PTR(token);
        m->token_header = json_object_get(t->header);
        m->token_claims = json_object_get(t->claims);
        m->token_issued_usec = t->iat_usec;
        m->token_expires_usec = t->exp_usec;
        m->token_pcrs = attested;
        m->token_pcr_mask = mask;
        m->pcr_counter = counter;
        m->have_pcr_counter = true;
        log_info("Serving the cached attestation token (valid until %s) while attesting again.",
                 token_format_timestamp(t->exp_usec, (char[TOKEN_TIMESTAMP_MAX]) {}));
        (void) manager_schedule_expiry(m);
        return 1;
}
