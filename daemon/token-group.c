/* SPDX-License-Identifier: MIT */
/* Resolves TokenGroup= and checks that attestd can give its files to that group (see token-group.h). */
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/syscall.h>

#include "token-group.h"

bool token_group_is_member(gid_t gid) {
        if (gid == getegid())
                return true;

        int n = getgroups(0, NULL);
        if (n <= 0)
                return false;
        _cleanup_free_ gid_t *groups = calloc((size_t) n, sizeof *groups);
        if (!groups)
                return false;
        n = getgroups(n, groups);
        for (int i = 0; i < n; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

/* CAP_CHOWN in the effective set (root run by hand, tests): then any group will do. There is no
 * glibc wrapper for capget(); a seccomp filter that refuses it counts as "no capability". */
static bool has_cap_chown(void) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return false;
        return data[CAP_CHOWN / 32].effective & (UINT32_C(1) << (CAP_CHOWN % 32));
}

static int lookup_group(const char *name, gid_t *ret) {
        struct group grbuf, *gr = NULL;
        char buf[4096];
        int r = getgrnam_r(name, &grbuf, buf, sizeof buf, &gr);
        if (r != 0)
                return -r;
        if (!gr)
                return -ESRCH;
        *ret = gr->gr_gid;
        return 0;
}

static const char *user_name(char *buf, size_t size) {
        struct passwd pwbuf, *pw = NULL;
        char pwstr[1024];

        if (getpwuid_r(geteuid(), &pwbuf, pwstr, sizeof pwstr, &pw) == 0 && pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned) geteuid());
        return buf;
}

int token_group_resolve(const char *name, gid_t *ret_gid, char **reterr_message) {
        char user[256];
        gid_t gid;
        int r;

        if (!name || !*name) {
                r = lookup_group(TOKEN_GROUP_DEFAULT, &gid);
                if (r == -ESRCH) {
                        *ret_gid = (gid_t) -1;
                        return 1;
                }
                name = TOKEN_GROUP_DEFAULT;
        } else
                r = lookup_group(name, &gid);
        if (r == -ESRCH)
                return asprintf(reterr_message, "[Cache] TokenGroup=%s: there is no such group", name) < 0 ?
                        -ENOMEM : -ESRCH;
        if (r < 0)
                return asprintf(reterr_message, "[Cache] TokenGroup=%s cannot be looked up: %s", name,
                                strerror(-r)) < 0 ? -ENOMEM : r;

        if (!token_group_is_member(gid) && !has_cap_chown())
                return asprintf(reterr_message,
                                "[Cache] TokenGroup=%s: user %s is not a member of group %s, so it cannot "
                                "give the token to it. Make it one (\"usermod -aG %s %s\", or a line \"m %s %s\" "
                                "in /etc/sysusers.d/), then restart attestd; see TokenGroup= in attestd.conf(5)",
                                name, user_name(user, sizeof user), name, name, user, user, name) < 0 ?
                        -ENOMEM : -EPERM;

        *ret_gid = gid;
        return 0;
}
