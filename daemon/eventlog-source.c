/* SPDX-License-Identifier: MIT */
/* Chooses the file the firmware event log is read from (see eventlog-source.h). */
#include <sys/stat.h>

#include "eventlog-source.h"

int eventlog_source_path(const char *configured, char **ret) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *cred = NULL;
        struct stat st;

        if (streq(configured, EVENTLOG_SECURITYFS_PATH) && dir && dir[0] == '/') {
                if (asprintf(&cred, "%s/%s", dir, EVENTLOG_CREDENTIAL) < 0)
                        return -ENOMEM;
                if (stat(cred, &st) >= 0 && S_ISREG(st.st_mode) && st.st_size >= EVENTLOG_CREDENTIAL_MIN) {
                        *ret = TAKE_PTR(cred);
                        return 0;
                }
        }
        char *p = strdup(configured);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}
