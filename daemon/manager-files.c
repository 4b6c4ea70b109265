/* SPDX-License-Identifier: MIT */
/* Renders token.json and state and commits them, with the token file, to the runtime directory as
 * one transaction. Decides nothing: manager-publish.c says what the directory must show. */
#include <assert.h>
#include <inttypes.h>
#include <unistd.h>

#include "cache.h"
#include "cleanup.h"
#include "log.h"
#include "manager.h"

#define TOKEN_MODE 0640
#define STATE_MODE 0644

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

static int stage_token_json(Manager *m, CacheTxn *txn, const TokenRecord *t, bool stale) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        size_t size;
        int r;

        r = token_record_to_json(t, stale, &o);
        if (r < 0)
                return r;
        r = token_json_text(o, &text, &size);
        if (r < 0)
                return r;
        struct iovec iov[] = {
                { .iov_base = (void *) text, .iov_len = size },
                { .iov_base = (void *) "\n", .iov_len = 1 },
        };
        return cache_txn_write(txn, CACHE_TOKEN_JSON, iov, ELEMENTSOF(iov), TOKEN_MODE, m->token_gid);
}

static int stage_token(Manager *m, CacheTxn *txn, const TokenRecord *t) {
        struct iovec iov = { .iov_base = t->compact, .iov_len = strlen(t->compact) };

        return cache_txn_write(txn, CACHE_TOKEN, &iov, 1, TOKEN_MODE, m->token_gid);
}

/* The state file's text: KEY='value' lines, see attestd(8). PID and BOOT_ID name the writer, so a
 * reader can tell a state left by a dead process (crash, power loss of a persistent directory). */
static int state_text(Manager *m, ManagerState state, const TokenRecord *t, bool stale, char **ret, size_t *ret_size) {
        char *buf = NULL, num[32];
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        cache_state_append(f, "STATE", manager_state_to_string(state));
        cache_state_append(f, "STALE", t && (stale || state == MANAGER_STALE) ? "1" : "0");
#define APPEND_U64(key, v) (snprintf(num, sizeof num, "%" PRIu64, (uint64_t) (v)), cache_state_append(f, key, num))
        APPEND_U64("EXPIRES_USEC", t ? t->expires_usec : 0);
        APPEND_U64("LAST_SUCCESS_USEC", m->last_attestation_usec);
        APPEND_U64("NEXT_ATTESTATION_USEC", state == MANAGER_STOPPED ? 0 : m->next_attestation_usec);
        APPEND_U64("ATTESTATION_COUNT", m->attestation_count);
        APPEND_U64("FAILURE_COUNT", m->failure_count);
        APPEND_U64("PID", getpid());
#undef APPEND_U64
        cache_state_append(f, "BOOT_ID", m->boot_id);
        cache_state_append(f, "LAST_ERROR", m->last_error);
        cache_state_append(f, "ENDPOINT", strempty(attester_get_endpoint(m->attester)));
        cache_state_append(f, "PROVIDER", attester_get_provider(m->attester));
        cache_state_append(f, "TOKEN", t ? CACHE_TOKEN : "");
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

static int stage_state(Manager *m, CacheTxn *txn, ManagerState state, const TokenRecord *t, bool stale) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = state_text(m, state, t, stale, &text, &size);
        if (r < 0)
                return r;
        struct iovec iov = { .iov_base = text, .iov_len = size };
        return cache_txn_write(txn, CACHE_STATE, &iov, 1, STATE_MODE, (gid_t) -1);
}

/* The order is the readers' guarantee: a new token's description is there before the token, a
 * withdrawn token disappears before its description, and state comes last, saying what is there. */
static int stage_all(Manager *m, CacheTxn *txn, ManagerState state, const TokenRecord *t, bool stale,
                     FilesToken what) {
        int r = 0;

        switch (what) {
        case FILES_TOKEN_KEEP:
                break;
        case FILES_TOKEN_JSON:
                r = stage_token_json(m, txn, t, stale);
                break;
        case FILES_TOKEN_NEW:
                r = stage_token_json(m, txn, t, stale);
                if (r >= 0)
                        r = stage_token(m, txn, t);
                break;
        case FILES_TOKEN_REMOVE:
                r = cache_txn_remove(txn, CACHE_TOKEN);
                if (r >= 0)
                        r = cache_txn_remove(txn, CACHE_TOKEN_JSON);
                break;
        }
        if (r < 0)
                return r;
        return stage_state(m, txn, state, t, stale);
}

int manager_files_commit(Manager *m, ManagerState state, const TokenRecord *t, bool stale, FilesToken what) {
        _cleanup_(cache_txn_done) CacheTxn txn = { .dfd = -EBADF };
        int r;

        assert(t || what == FILES_TOKEN_KEEP || what == FILES_TOKEN_REMOVE);
        r = cache_txn_begin(&txn, m->config->runtime_directory);
        if (r < 0)
                return r;
        r = stage_all(m, &txn, state, t, stale, what);
        if (r < 0)
                return r;
        return cache_txn_commit(&txn);
}

void manager_files_remove_all(const char *dir) {
        static const char *const names[] = { CACHE_TOKEN, CACHE_TOKEN_JSON, CACHE_STATE };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                (void) cache_remove(dir, names[i]);
        (void) cache_clean_temp(dir);
}
