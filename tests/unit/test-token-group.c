/* SPDX-License-Identifier: MIT */
/* Unit tests for token-group.c: the default group, an unknown group, a group of the process, and a
 * group it is not in once CAP_CHOWN is gone (what attestd.service's empty capability set gives). */
#include <check.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include "check-main.h"
#include "token-group.h"

/* Clears CAP_CHOWN from the effective set of this (forked) test process. */
static void drop_cap_chown(void) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        ck_assert_int_eq(syscall(SYS_capget, &header, data), 0);
        data[CAP_CHOWN / 32].effective &= ~(UINT32_C(1) << (CAP_CHOWN % 32));
        ck_assert_int_eq(syscall(SYS_capset, &header, data), 0);
}

/* A group that exists and that this process is not a member of. */
static const struct group *foreign_group(void) {
        struct group *gr;

        setgrent();
        while ((gr = getgrent()))
                if (!token_group_is_member(gr->gr_gid))
                        break;
        endgrent();
        return gr;
}

START_TEST(test_own_group) {
        const struct group *gr = getgrgid(getegid());
        _cleanup_free_ char *msg = NULL;
        gid_t gid = 4242;

        if (!gr)
                return; /* a gid without a name: nothing to look up */
        drop_cap_chown();
        ck_assert_int_eq(token_group_resolve(gr->gr_name, &gid, &msg), 0);
        ck_assert_uint_eq(gid, getegid());
        ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(test_unknown_group) {
        _cleanup_free_ char *msg = NULL;
        gid_t gid = 4242;

        ck_assert_int_eq(token_group_resolve("no-such-group-attestd", &gid, &msg), -ESRCH);
        ck_assert_uint_eq(gid, 4242);
        ck_assert_ptr_nonnull(strstr(msg, "TokenGroup=no-such-group-attestd"));
}
END_TEST

START_TEST(test_not_a_member) {
        _cleanup_free_ char *msg = NULL, *name = NULL;
        const struct group *gr = foreign_group();
        gid_t gid = 4242;

        if (!gr)
                return;
        ck_assert_ptr_nonnull(name = strdup(gr->gr_name));
        drop_cap_chown();
        ck_assert_int_eq(token_group_resolve(name, &gid, &msg), -EPERM);
        ck_assert_uint_eq(gid, 4242);
        ck_assert_ptr_nonnull(strstr(msg, "is not a member of group"));
        ck_assert_ptr_nonnull(strstr(msg, "usermod -aG"));
}
END_TEST

/* With CAP_CHOWN (root started by hand), any group will do. */
START_TEST(test_not_a_member_cap_chown) {
        _cleanup_free_ char *msg = NULL, *name = NULL;
        const struct group *gr;
        gid_t gid = 4242;

        if (geteuid() != 0)
                return;
        gr = foreign_group();
        if (!gr)
                return;
        gid_t want = gr->gr_gid;
        ck_assert_ptr_nonnull(name = strdup(gr->gr_name));
        ck_assert_int_eq(token_group_resolve(name, &gid, &msg), 0);
        ck_assert_uint_eq(gid, want);
}
END_TEST

/* Not set: the default group when it exists, else none (and 1, so the caller can say so). */
START_TEST(test_default) {
        _cleanup_free_ char *msg = NULL;
        const struct group *gr = getgrnam(TOKEN_GROUP_DEFAULT);
        gid_t gid = 4242;
        int r = token_group_resolve(NULL, &gid, &msg);

        if (gr) {
                ck_assert_int_ge(r, 0);
                ck_assert_uint_eq(gid, gr->gr_gid);
        } else {
                ck_assert_int_eq(r, 1);
                ck_assert_uint_eq(gid, (gid_t) -1);
        }
        gid = 4242;
        ck_assert_int_eq(token_group_resolve("", &gid, &msg), r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("token-group");
        TCase *tc = tcase_create("resolve");

        tcase_add_test(tc, test_own_group);
        tcase_add_test(tc, test_unknown_group);
        tcase_add_test(tc, test_not_a_member);
        tcase_add_test(tc, test_not_a_member_cap_chown);
        tcase_add_test(tc, test_default);
        suite_add_tcase(s, tc);
        return check_run(s);
}
