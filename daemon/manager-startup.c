/* SPDX-License-Identifier: MIT */
/* Start-up: takes the runtime directory (owner, mode, lock) and decides whether a token an earlier
 * run left there may be served again: verified like a new one, for this endpoint and these PCRs. */
#include "cache.h"
#include "cleanup.h"
#include "jwks.h"
#include "log.h"
#include "manager.h"
#include "token.h"

/* A cached token with less left than this is not worth serving: the refresh would be due at once. */
#define CACHED_TOKEN_LIFETIME_MIN_USEC (60 * USEC_PER_SEC)

int manager_take_runtime_dir(const char *dir, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = cache_ensure_dir(dir);
        if (r < 0)
                return log_error_errno(r, "Cannot create the runtime directory %s: %m", dir);
        r = cache_lock_dir(dir, &fd);
        if (r == -EBUSY)
                return log_error_errno(r, "The runtime directory %s is in use by another attestd (the daemon or "
                                       "attestd --once); refusing to write beside it.", dir);
        if (r < 0)
                return log_error_errno(r, "Cannot lock the runtime directory %s: %m", dir);
        r = cache_check_dir(fd, geteuid());
        if (r == -EPERM)
                return log_error_errno(r, "The runtime directory %s is not owned by attestd's user (uid %u); "
                                       "refusing to use it.", dir, (unsigned) geteuid());
        if (r == -EACCES)
                return log_error_errno(r, "The runtime directory %s is writable by group or others; refusing to "
                                       "use it (chmod go-w it).", dir);
        if (r < 0)
                return log_error_errno(r, "Cannot use the runtime directory %s: %m", dir);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

_printf_(2, 3) static int why(char **ret_why, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_why, fmt, ap) < 0)
                *ret_why = NULL;
        va_end(ap);
        return 0;
}

/* Verifies COMPACT as the attester verified it when it arrived, with the key set cached beside it
 * (token.json's "jwks"; nothing is fetched) and what the configuration expects now. */
static int verify_cached(Manager *m, TokenRecord *rec, const char *compact, char **ret_why) {
        _cleanup_(jwks_freep) Jwks *jwks = NULL;
        _cleanup_(token_freep) Token *t = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *text;
        size_t size;
        uint64_t now = now_usec(CLOCK_REALTIME);
        int r;

        /* An endpoint found at run time (azure-guest without Endpoint=) is not known before the
         * first run, which checks it: until then the token's own stands (the runtime directory is
         * attestd's alone, see manager_take_runtime_dir()). */
        const char *endpoint = attester_get_endpoint(m->attester) ?: rec->endpoint;

        if (!endpoint_equal(rec->endpoint, endpoint))
                return why(ret_why, "it was issued for another endpoint");
        text = json_object_to_json_string_length(rec->jwks, JSON_C_TO_STRING_PLAIN, &size);
        if (!text)
                return -ENOMEM;
        r = jwks_parse(text, size, &jwks, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return why(ret_why, "its cached key set is unusable: %s", strna(reason));
        TokenExpect expect = {
                .issuer = endpoint,
                .endpoint = endpoint,
                .skew_usec = m->config->clock_skew_usec,
        };
        r = token_verify(compact, jwks, &expect, now, &t, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return why(ret_why, "it does not verify: %s", strna(reason));
        if (t->exp_usec < now + CACHED_TOKEN_LIFETIME_MIN_USEC)
                return why(ret_why, "it expires within a minute");

        rec->compact = strdup(compact);
        if (!rec->compact)
                return -ENOMEM;
        rec->header = json_object_get(t->header);
        rec->claims = json_object_get(t->claims);
        rec->issued_usec = t->iat_usec;
        rec->expires_usec = t->exp_usec;
        return 1;
}

/* Whether the TPM still holds the PCR values REC attests; the counter is kept for the PCR watch. */
static int pcrs_still_hold(Manager *m, const TokenRecord *rec, char **ret_why) {
        _cleanup_free_ char *err = NULL;
        uint16_t banks[PCR_BANKS_MAX];
        PcrSet now = {};
        uint32_t counter = 0;
        TpmContext *tpm;
        int r;

        tpm = manager_get_tpm(m, &err);
        if (!tpm)
                return why(ret_why, "the TPM cannot be read to compare its PCRs: %s", strna(err));
        for (size_t i = 0; i < rec->pcrs.n_banks; i++)
                banks[i] = rec->pcrs.banks[i].alg;
        r = tpm_pcr_read(tpm, rec->pcr_mask, banks, rec->pcrs.n_banks, &now, &counter);
        manager_put_tpm(m, r < 0);
        if (r < 0)
                return why(ret_why, "reading the PCRs failed: %s", strerror(-r));
        if (pcr_set_compare(&rec->pcrs, &now, NULL) != 0)
                return why(ret_why, "the PCRs changed since it was issued");
        m->pcr_counter = counter;
        m->have_pcr_counter = true;
        return 1;
}

int manager_load_cached_token(Manager *m, TokenRecord **ret, char **ret_why) {
        _cleanup_free_ char *compact = NULL, *json = NULL, *reason = NULL;
        _cleanup_(token_record_freep) TokenRecord *rec = NULL;
        const char *dir = m->config->runtime_directory;
        int r;

        *ret_why = NULL;
        r = cache_read(dir, CACHE_TOKEN, JWT_SIZE_MAX, &compact, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return why(ret_why, "%s/%s cannot be read: %s", dir, CACHE_TOKEN, strerror(-r));
        r = cache_read(dir, CACHE_TOKEN_JSON, CACHE_TOKEN_JSON_MAX, &json, NULL);
        if (r < 0)
                return why(ret_why, "%s/%s cannot be read: %s", dir, CACHE_TOKEN_JSON, strerror(-r));
        r = token_record_from_json(json, &rec, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return why(ret_why, "%s/%s is malformed: %s", dir, CACHE_TOKEN_JSON, strna(reason));
        json = mfree(json);     /* the record holds what we need; do not keep the text beside it */

        r = verify_cached(m, rec, compact, ret_why);
        if (r <= 0)
                return r;
        r = pcrs_still_hold(m, rec, ret_why);
        if (r <= 0)
                return r;
        *ret = TAKE_PTR(rec);
        return 1;
}
