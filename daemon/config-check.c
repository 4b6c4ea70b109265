/* SPDX-License-Identifier: MIT */
/* The checks behind test-config that need the host (users, groups, libraries, files) rather than
 * the configuration text. Never opens the TPM device, never talks to the network. */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <tss2/tss2_tctildr.h>

#include "config-check.h"
#include "credential.h"
#include "log.h"
#include "token-group.h"

static const char *user_name(uid_t uid, char *buf, size_t size) {
        struct passwd pwbuf, *pw = NULL;
        char pwstr[1024];

        if (getpwuid_r(uid, &pwbuf, pwstr, sizeof pwstr, &pw) == 0 && pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned) uid);
        return buf;
}

/* Whether the daemon's user (when it exists and is not us) has GID among its groups: run as root,
 * token_group_resolve() passes on CAP_CHOWN alone, but attestd has no capabilities. */
static int check_daemon_user_in_group(const char *group, gid_t gid) {
        struct passwd pwbuf, *pw = NULL;
        char pwstr[1024];
        gid_t groups[256];
        int n = (int) ELEMENTSOF(groups);

        if (getpwnam_r(CONFIG_DAEMON_USER, &pwbuf, pwstr, sizeof pwstr, &pw) != 0 || !pw || pw->pw_uid == geteuid())
                return 0;
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
                return 0; /* more than 256 groups: not worth a false alarm */
        for (int i = 0; i < n; i++)
                if (groups[i] == gid)
                        return 0;
        log_error("[Cache] TokenGroup=%s: user %s (which attestd.service runs as) is not a member of group %s, "
                  "so attestd would refuse to start; add it (\"usermod -aG %s %s\").", group, CONFIG_DAEMON_USER,
                  group, group, CONFIG_DAEMON_USER);
        return 1;
}

static int check_token_group(const Config *c) {
        _cleanup_free_ char *message = NULL;
        gid_t gid;
        int r;

        r = token_group_resolve(c->token_group, &gid, &message);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error("%s.", strna(message));
                return 1;
        }
        if (r > 0)
                return 0; /* no TokenGroup= and no default group: the files keep attestd's own group */
        return check_daemon_user_in_group(c->token_group && *c->token_group ? c->token_group : TOKEN_GROUP_DEFAULT,
                                          gid);
}

/* Asks tctildr for the module's info: that loads the library (libtss2-tcti-NAME.so.0 or the name as
 * given) but initializes nothing, so no device or socket is opened. */
static int check_tcti(const Config *c) {
        TSS2_TCTI_INFO *info = NULL;
        char name[256];
        size_t n = strcspn(c->tcti, ":");

        if (n == 0)
                return 0; /* "" or ":conf": tctildr's default list, tried at run time */
        if (n >= sizeof name) {
                log_error("[TPM] TCTI=%s: the module name is too long.", c->tcti);
                return 1;
        }
        memcpy(name, c->tcti, n);
        name[n] = '\0';
        (void) setenv("TSS2_LOG", "all+none", 0); /* we say it ourselves, once */
        if (Tss2_TctiLdr_GetInfo(name, &info) != TSS2_RC_SUCCESS) {
                log_error("[TPM] TCTI=%s: no TCTI module \"%s\" can be loaded (looked for %s and "
                          "libtss2-tcti-%s.so.0); is its package installed?", c->tcti, name, name, name);
                return 1;
        }
        Tss2_TctiLdr_FreeInfo(&info);
        return 0;
}

/* Opens the file the way a reader would (never blocking on a FIFO) and closes it unread. */
static int check_readable(const char *section, const char *key, const char *spec, bool credential) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char user[256];
        struct stat st;
        int r;

        if (!spec)
                return 0;
        r = credential ? credential_resolve(spec, &path) : (path = strdup(spec)) ? 0 : -ENOMEM;
        if (r == -ENOMEM)
                return r;
        if (r == -ENXIO) {
                log_notice("[%s] %s=%s names a systemd credential: $CREDENTIALS_DIRECTORY is set only inside "
                           "attestd.service (LoadCredential=), so it is not checked here.", section, key, spec);
                return 0;
        }
        if (r < 0) {
                log_error("[%s] %s=%s: not a usable path or credential name.", section, key, spec);
                return 1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0) {
                log_error("[%s] %s=%s: cannot be read by user %s: %s.", section, key, path,
                          user_name(geteuid(), user, sizeof user), strerror(errno));
                return 1;
        }
        if (!S_ISREG(st.st_mode)) {
                log_error("[%s] %s=%s: not a regular file.", section, key, path);
                return 1;
        }
        return 0;
}

static int check_files(const Config *c) {
        const struct {
                const char *section, *key, *value;
                bool credential;
        } files[] = {
                { "Service", "CAFile", c->ca_file, false },
                { "Service", "SharedProviders", c->shared_providers, false },
                { "Auth", "TokenFile", c->auth_method == AUTH_FILE ? c->auth_token_file : NULL, true },
                { "Auth", "ClientSecretFile", c->auth_method == AUTH_CLIENT_CREDENTIALS ? c->client_secret_file : NULL,
                  true },
                { "TPM", "AKCertFile", c->ak_cert_file, false },
        };
        int problems = 0;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int r = check_readable(files[i].section, files[i].key, files[i].value, files[i].credential);
                if (r < 0)
                        return r;
                problems += r;
        }
        return problems;
}

int config_check(const Config *c) {
        int (*const checks[])(const Config *c) = { check_token_group, check_tcti, check_files };
        int problems = 0;

        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                int r = checks[i](c);
                if (r < 0)
                        return log_oom();
                problems += r;
        }
        return problems;
}

int config_test(const char *path, FILE *out) {
        _cleanup_(config_freep) Config *c = NULL;
        char user[256];
        int r;

        r = config_load(path, &c);
        if (r < 0) {
                log_error("Configuration %s is invalid; attestd would refuse to start with it.",
                          path ?: CONFIG_FILE_DEFAULT);
                return -EINVAL;
        }
        config_dump(c, out);
        fprintf(out, "\n# Files and TokenGroup= checked as user %s (uid %u); attestd.service runs as user %s.\n",
                user_name(geteuid(), user, sizeof user), (unsigned) geteuid(), CONFIG_DAEMON_USER);
        (void) fflush(out);
        r = config_check(c);
        if (r < 0)
                return r;
        if (r > 0) {
                log_error("%d problem%s found in %s.", r, r == 1 ? "" : "s", path ?: CONFIG_FILE_DEFAULT);
                return -EINVAL;
        }
        return 0;
}
