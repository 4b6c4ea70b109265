/* SPDX-License-Identifier: MIT */
/* The one place where the manager's state and token become visible: the runtime directory (as one
 * transaction), then D-Bus PropertiesChanged, then sd_notify STATUS=. Nothing else publishes. */
#include <assert.h>
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "log.h"
#include "manager.h"

static FilesToken files_change(Manager *m, PublishToken what, bool stale) {
        switch (what) {
        case PUBLISH_NEW:
                return FILES_TOKEN_NEW;
        case PUBLISH_WITHDRAW:
                return FILES_TOKEN_REMOVE; /* also files nobody holds in memory (a rejected cached token) */
        default:
                return m->token && stale != m->published_stale ? FILES_TOKEN_JSON : FILES_TOKEN_KEEP;
        }
}

int manager_publish(Manager *m, ManagerState state, PublishToken what, TokenRecord *token, const char *why) {
        _cleanup_(token_record_freep) TokenRecord *t = token;
        const TokenRecord *next = what == PUBLISH_NEW ? t : what == PUBLISH_WITHDRAW ? NULL : m->token;
        bool stale = what == PUBLISH_NEW ? false : next && m->token_stale;
        int r;

        assert((what == PUBLISH_NEW) == !!t);

        if (what == PUBLISH_WITHDRAW && m->token)
                log_info("Withdrawing the attestation token: %s.", strna(why));
        r = manager_files_commit(m, state, next, stale, files_change(m, what, stale));
        if (r < 0) {
                /* A new token nobody can read is no success: leave everything as it was. */
                if (what == PUBLISH_NEW)
                        return r;
                log_warning_errno(r, "Failed to update the files in %s, the state '%s' is not on disk: %m",
                                  m->config->runtime_directory, manager_state_to_string(state));
        }

        if (what != PUBLISH_KEEP) {
                token_record_free(m->token);
                m->token = TAKE_PTR(t);
                m->token_stale = false;
        }
        m->published_stale = stale;
        if (m->state != state)
                log_debug("State %s → %s.", manager_state_to_string(m->state), manager_state_to_string(state));
        m->state = state;
        m->state_string = (char *) manager_state_to_string(state);

        bus_emit_changed(m);
        if (!m->once)
                (void) sd_notifyf(false, "STATUS=%s%s%s", manager_state_to_string(state),
                                  *m->last_error ? ": " : "", m->last_error);
        return r < 0 ? r : 0;
}
