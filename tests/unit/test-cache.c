/* SPDX-License-Identifier: MIT */
/* Unit tests for cache.c: atomic replace, modes and group, failure leaves the old file and no temp
 * file, multi-file transactions undone on failure, the directory lock and trust check, reads with
 * caps, shell-safe state lines. */
#include <check.h>
#include <dirent.h>
#include <sys/stat.h>

#include "cache.h"
#include "check-main.h"

static char dir[64];

static void setup(void) {
        strcpy(dir, "/tmp/test-cache-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static unsigned count_entries(void) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_write_read_roundtrip) {
        _cleanup_free_ char *s = NULL;
        size_t n;
        struct stat st;
        char path[128];

        ck_assert_int_eq(cache_write_atomic(dir, "token", "abc.def.ghi", 11, 0640, (gid_t) -1), 0);
        ck_assert_int_eq(cache_read(dir, "token", 1024, &s, &n), 0);
        ck_assert_str_eq(s, "abc.def.ghi");
        ck_assert_uint_eq(n, 11);
        snprintf(path, sizeof path, "%s/token", dir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        ck_assert_uint_eq(count_entries(), 1);

        /* Replace: new content, still one file. */
        ck_assert_int_eq(cache_write_atomic(dir, "token", "new", 3, 0640, (gid_t) -1), 0);
        free(TAKE_PTR(s));
        ck_assert_int_eq(cache_read(dir, "token", 1024, &s, NULL), 0);
        ck_assert_str_eq(s, "new");
        ck_assert_uint_eq(count_entries(), 1);
}
END_TEST

/* Pieces are written in order into one file; a multi-MiB token (JWT_SIZE_MAX) round-trips, and
 * the cap of a read is exact. */
START_TEST(test_write_iov_large) {
        _cleanup_free_ char *big = malloc(JWT_SIZE_MAX), *s = NULL;
        struct iovec iov[2];
        size_t n;

        ck_assert_ptr_nonnull(big);
        memset(big, 'A', JWT_SIZE_MAX);
        iov[0] = (struct iovec) { .iov_base = big, .iov_len = JWT_SIZE_MAX - 1 };
        iov[1] = (struct iovec) { .iov_base = (void *) "\n", .iov_len = 1 };
        ck_assert_int_eq(cache_write_atomic_iov(dir, "token.json", iov, 2, 0640, (gid_t) -1), 0);
        ck_assert_int_eq(cache_read(dir, "token.json", JWT_SIZE_MAX, &s, &n), 0);
        ck_assert_uint_eq(n, JWT_SIZE_MAX);
        ck_assert_int_eq(memcmp(s, big, JWT_SIZE_MAX - 1), 0);
        ck_assert_int_eq(s[JWT_SIZE_MAX - 1], '\n');
        free(TAKE_PTR(s));
        ck_assert_int_eq(cache_read(dir, "token.json", JWT_SIZE_MAX - 1, &s, &n), -EFBIG);
        ck_assert_uint_eq(count_entries(), 1);
}
END_TEST

START_TEST(test_group) {
        struct stat st;
        char path[128];

        if (geteuid() != 0)
                return; /* chown to another group needs root; CI runs as root */
        ck_assert_int_eq(cache_write_atomic(dir, "token", "x", 1, 0640, 4242), 0);
        snprintf(path, sizeof path, "%s/token", dir);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_gid, 4242);
}
END_TEST

START_TEST(test_failed_write_keeps_old) {
        _cleanup_free_ char *s = NULL;
        char sub[128];

        ck_assert_int_eq(cache_write_atomic(dir, "token", "good", 4, 0640, (gid_t) -1), 0);
        /* A directory in the target's place makes the rename fail after the temp file exists. */
        snprintf(sub, sizeof sub, "%s/state", dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        snprintf(sub, sizeof sub, "%s/state/x", dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_lt(cache_write_atomic(dir, "state", "bad", 3, 0644, (gid_t) -1), 0);
        ck_assert_uint_eq(count_entries(), 2); /* token and the directory; no temp file */
        ck_assert_int_eq(cache_read(dir, "token", 1024, &s, NULL), 0);
        ck_assert_str_eq(s, "good");

        ck_assert_int_eq(cache_write_atomic("/nonexistent-dir", "token", "x", 1, 0640, (gid_t) -1), -ENOENT);
        ck_assert_int_eq(cache_write_atomic(dir, "../token", "x", 1, 0640, (gid_t) -1), -EINVAL);
}
END_TEST

static void txn_write(CacheTxn *t, const char *name, const char *text) {
        struct iovec iov = { .iov_base = (void *) text, .iov_len = strlen(text) };
        ck_assert_int_eq(cache_txn_write(t, name, &iov, 1, 0640, (gid_t) -1), 0);
}

static void assert_content(const char *name, const char *expected) {
        _cleanup_free_ char *s = NULL;
        ck_assert_int_eq(cache_read(dir, name, 1024, &s, NULL), 0);
        ck_assert_str_eq(s, expected);
}

/* All or nothing: the third step failing puts the first two back, removals included. */
START_TEST(test_txn) {
        CacheTxn t;
        char sub[128];

        ck_assert_int_eq(cache_write_atomic(dir, "token.json", "old-json", 8, 0640, (gid_t) -1), 0);
        ck_assert_int_eq(cache_write_atomic(dir, "token", "old-token", 9, 0640, (gid_t) -1), 0);
        /* A non-empty directory in state's place: staged fine, but it cannot be replaced. */
        snprintf(sub, sizeof sub, "%s/state", dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        snprintf(sub, sizeof sub, "%s/state/x", dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);

        ck_assert_int_eq(cache_txn_begin(&t, dir), 0);
        txn_write(&t, "token.json", "new-json");
        txn_write(&t, "token", "new-token");
        txn_write(&t, "state", "new-state");
        ck_assert_int_lt(cache_txn_commit(&t), 0);
        cache_txn_done(&t);
        assert_content("token.json", "old-json");
        assert_content("token", "old-token");
        ck_assert_uint_eq(count_entries(), 3); /* no temp file, no .old backup */

        ck_assert_int_eq(cache_txn_begin(&t, dir), 0);
        ck_assert_int_eq(cache_txn_remove(&t, "token"), 0);
        ck_assert_int_eq(cache_txn_remove(&t, "token.json"), 0);
        txn_write(&t, "state", "new-state");
        ck_assert_int_lt(cache_txn_commit(&t), 0);
        cache_txn_done(&t);
        assert_content("token", "old-token");
        assert_content("token.json", "old-json");

        snprintf(sub, sizeof sub, "rm -rf '%s/state'", dir);
        ck_assert_int_eq(system(sub), 0);
        ck_assert_int_eq(cache_txn_begin(&t, dir), 0);
        txn_write(&t, "token.json", "new-json");
        txn_write(&t, "token", "new-token");
        txn_write(&t, "state", "new-state");
        ck_assert_int_eq(cache_txn_commit(&t), 0);
        cache_txn_done(&t);
        assert_content("token.json", "new-json");
        assert_content("token", "new-token");
        assert_content("state", "new-state");
        ck_assert_uint_eq(count_entries(), 3);
}
END_TEST

START_TEST(test_lock_and_check) {
        int fd = -EBADF, fd2 = -EBADF;

        ck_assert_int_eq(cache_lock_dir(dir, &fd), 0);
        ck_assert_int_eq(cache_lock_dir(dir, &fd2), -EBUSY); /* flock: a second open file description */
        ck_assert_int_eq(chmod(dir, 0700), 0);
        ck_assert_int_eq(cache_check_dir(fd, geteuid()), 0);
        ck_assert_int_eq(cache_check_dir(fd, geteuid() + 1), -EPERM);
        ck_assert_int_eq(chmod(dir, 0770), 0);
        ck_assert_int_eq(cache_check_dir(fd, geteuid()), -EACCES);
        fd = safe_close(fd);
        ck_assert_int_eq(cache_lock_dir(dir, &fd2), 0);
        safe_close(fd2);
}
END_TEST

START_TEST(test_read_errors) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_eq(cache_read(dir, "missing", 10, &s, NULL), -ENOENT);
        ck_assert_int_eq(cache_write_atomic(dir, "token", "0123456789A", 11, 0600, (gid_t) -1), 0);
        ck_assert_int_eq(cache_read(dir, "token", 10, &s, NULL), -EFBIG);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(cache_remove(dir, "token"), 0);
        ck_assert_int_eq(cache_remove(dir, "token"), 0);
        ck_assert_int_eq(cache_read(dir, "token", 10, &s, NULL), -ENOENT);
}
END_TEST

START_TEST(test_clean_temp) {
        char p[128];
        static const char *const files[] = { ".token.Ab12Cd", ".state.zzzzzz", ".token.short", "token", ".other.abcdef" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(p, sizeof p, "%s/%s", dir, files[i]);
                FILE *f = fopen(p, "we");
                fclose(f);
        }
        ck_assert_int_eq(cache_clean_temp(dir), 0);
        ck_assert_uint_eq(count_entries(), 3); /* .token.short, token, .other.abcdef stay */
}
END_TEST

START_TEST(test_state_quoting) {
        char *buf = NULL, cmd[512];
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        cache_state_append(f, "STATE", "attested");
        cache_state_append(f, "LAST_ERROR", "it's \"bad\" $(reboot)\nline2");
        cache_state_append(f, "EMPTY", NULL);
        fclose(f);
        ck_assert_str_eq(buf, "STATE='attested'\nLAST_ERROR='it'\\''s \"bad\" $(reboot) line2'\nEMPTY=''\n");

        /* What a shell that sources the file sees. */
        ck_assert_int_eq(cache_write_atomic(dir, "state", buf, size, 0644, (gid_t) -1), 0);
        snprintf(cmd, sizeof cmd,
                 ". '%s/state' && [ \"$LAST_ERROR\" = 'it'\\''s \"bad\" $(reboot) line2' ] && [ -z \"$EMPTY\" ]", dir);
        ck_assert_int_eq(system(cmd), 0);
        free(buf);
}
END_TEST

START_TEST(test_group_lookup) {
        gid_t g;
        ck_assert_int_eq(cache_group_to_gid(NULL, &g), 0);
        ck_assert_uint_eq(g, (gid_t) -1);
        ck_assert_int_eq(cache_group_to_gid("root", &g), 0);
        ck_assert_uint_eq(g, 0);
        ck_assert_int_eq(cache_group_to_gid("no-such-group-attestd", &g), -ESRCH);
}
END_TEST

static Suite *cache_suite(void) {
        Suite *s = suite_create("cache");
        TCase *tc = tcase_create("files");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_write_read_roundtrip);
        tcase_add_test(tc, test_write_iov_large);
        tcase_add_test(tc, test_group);
        tcase_add_test(tc, test_failed_write_keeps_old);
        tcase_add_test(tc, test_read_errors);
        tcase_add_test(tc, test_txn);
        tcase_add_test(tc, test_lock_and_check);
        tcase_add_test(tc, test_clean_temp);
        tcase_add_test(tc, test_state_quoting);
        tcase_add_test(tc, test_group_lookup);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(cache_suite());
}
