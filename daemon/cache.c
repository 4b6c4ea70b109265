/* SPDX-License-Identifier: MIT */
/* Atomic file replacement and reads under the runtime directory. Knows file names and modes,
 * not what a token or a state is; the manager decides the content. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cache.h"

static bool fd_on_tmpfs(int fd) {
        struct statfs sfs;
        return fstatfs(fd, &sfs) >= 0 && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
}

static int write_all(int fd, const void *data, size_t size) {
        const uint8_t *p = data;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int cache_write_atomic(const char *dir, const char *name, const void *data, size_t size, mode_t mode,
                       gid_t gid) {
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };

        return cache_write_atomic_iov(dir, name, &iov, 1, mode, gid);
}

/* Writes the pieces to a new temp file ".NAME.XXXXXX" in DFD with MODE and GID, synced unless on
 * tmpfs; its name goes to TMP. On failure nothing is left behind. */
static int stage_file(int dfd, const char *name, const struct iovec *iov, size_t n, mode_t mode, gid_t gid,
                      char tmp[static CACHE_TEMP_NAME_MAX]) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strchr(name, '/') || snprintf(tmp, CACHE_TEMP_NAME_MAX, ".%s.XXXXXX", name) >= CACHE_TEMP_NAME_MAX)
                return -EINVAL;

        /* mkostemp wants a path; build the temp name relative to the directory fd ourselves. */
        for (unsigned attempt = 0; fd < 0; attempt++) {
                static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                uint8_t rnd[6];

                if (attempt >= 100)
                        return -EEXIST;
                if (getentropy(rnd, sizeof rnd) < 0)
                        return -errno;
                for (size_t i = 0; i < 6; i++)
                        tmp[strlen(tmp) - 6 + i] = chars[rnd[i] % (sizeof chars - 1)];
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0 && errno != EEXIST)
                        return -errno;
        }

        r = 0;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = write_all(fd, iov[i].iov_base, iov[i].iov_len);
        if (r >= 0 && gid != (gid_t) -1 && fchown(fd, (uid_t) -1, gid) < 0)
                r = -errno;
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        /* tmpfs does not survive a crash anyway; elsewhere the data must be on disk before the
         * rename makes it visible, or a power loss could leave an empty token. */
        if (r >= 0 && !fd_on_tmpfs(fd) && fsync(fd) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dfd, tmp, 0);
        return r;
}

int cache_write_atomic_iov(const char *dir, const char *name, const struct iovec *iov, size_t n, mode_t mode,
                           gid_t gid) {
        _cleanup_close_ int dfd = -EBADF;
        char tmp[CACHE_TEMP_NAME_MAX];
        int r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = stage_file(dfd, name, iov, n, mode, gid, tmp);
        if (r < 0)
                return r;
        if (renameat(dfd, tmp, dfd, name) < 0) {
                r = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }
        if (!fd_on_tmpfs(dfd))
                (void) fsync(dfd);
        return 0;
}

int cache_txn_begin(CacheTxn *t, const char *dir) {
        *t = (CacheTxn) { .dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
        if (t->dfd < 0)
                return -errno;
        return 0;
}

static int txn_add(CacheTxn *t, const char *name, CacheTxnItem **ret) {
        CacheTxnItem *it = &t->items[t->n_items];

        if (t->n_items >= ELEMENTSOF(t->items) || strchr(name, '/'))
                return -EINVAL;
        *it = (CacheTxnItem) { .name = name };
        if (snprintf(it->backup, sizeof it->backup, ".%s.old", name) >= (int) sizeof it->backup)
                return -EINVAL;
        t->n_items++;
        *ret = it;
        return 0;
}

int cache_txn_write(CacheTxn *t, const char *name, const struct iovec *iov, size_t n, mode_t mode, gid_t gid) {
        CacheTxnItem *it;
        int r;

        r = txn_add(t, name, &it);
        if (r < 0)
                return r;
        r = stage_file(t->dfd, name, iov, n, mode, gid, it->tmp);
        if (r < 0) {
                t->n_items--;
                return r;
        }
        return 0;
}

int cache_txn_remove(CacheTxn *t, const char *name) {
        CacheTxnItem *it;

        return txn_add(t, name, &it);
}

/* Puts item I back as it was before the commit touched it. */
static void txn_undo(CacheTxn *t, CacheTxnItem *it) {
        if (it->had_old)
                (void) renameat(t->dfd, it->backup, t->dfd, it->name);
        else
                (void) unlinkat(t->dfd, it->name, 0);
}

int cache_txn_commit(CacheTxn *t) {
        size_t done;
        int r = 0;

        for (done = 0; done < t->n_items; done++) {
                CacheTxnItem *it = &t->items[done];

                /* Keep the current file under a second name, so a later step's failure can put it back. */
                (void) unlinkat(t->dfd, it->backup, 0);
                if (linkat(t->dfd, it->name, t->dfd, it->backup, 0) >= 0)
                        it->had_old = true;
                else if (errno != ENOENT) {
                        r = -errno;
                        break;
                }
                if (*it->tmp ? renameat(t->dfd, it->tmp, t->dfd, it->name) < 0 :
                               unlinkat(t->dfd, it->name, 0) < 0 && errno != ENOENT) {
                        r = -errno;
                        (void) unlinkat(t->dfd, it->backup, 0);
                        it->had_old = false;
                        break;
                }
                *it->tmp = '\0';
        }
        if (r < 0)
                while (done > 0)
                        txn_undo(t, &t->items[--done]);
        for (size_t i = 0; i < t->n_items; i++)
                (void) unlinkat(t->dfd, t->items[i].backup, 0);
        if (r >= 0 && !fd_on_tmpfs(t->dfd))
                (void) fsync(t->dfd);
        return r;
}

void cache_txn_done(CacheTxn *t) {
        for (size_t i = 0; i < t->n_items; i++)
                if (*t->items[i].tmp)
                        (void) unlinkat(t->dfd, t->items[i].tmp, 0);
        t->dfd = safe_close(t->dfd);
        t->n_items = 0;
}

int cache_lock_dir(const char *dir, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int cache_check_dir(int fd, uid_t uid) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != uid)
                return -EPERM;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return -EACCES;
        return 0;
}

int cache_read(const char *dir, const char *name, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char path[4096];
        size_t size = 0;
        struct stat st;

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((size_t) st.st_size > max)
                return -EFBIG;

        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (size < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + size, (size_t) st.st_size - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        buf[size] = '\0';

        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int cache_remove(const char *dir, const char *name) {
        char path[4096];

        if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int cache_ensure_dir(const char *dir) {
        struct stat st;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (stat(dir, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int cache_clean_temp(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                /* ".token.XXXXXX" (a leading dot, a known name, a dot and six characters) and ".token.old". */
                static const char *const names[] = { CACHE_TOKEN, CACHE_TOKEN_JSON, CACHE_STATE };
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        size_t l = strlen(names[i]);
                        if ((n == l + 8 || (n == l + 5 && streq(de->d_name + l + 2, "old"))) &&
                            de->d_name[0] == '.' && strncmp(de->d_name + 1, names[i], l) == 0 &&
                            de->d_name[l + 1] == '.')
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                }
        }
        closedir(d);
        return 0;
}

int cache_group_to_gid(const char *group, gid_t *ret) {
        if (!group || !*group) {
                *ret = (gid_t) -1;
                return 0;
        }

        struct group grbuf, *gr = NULL;
        char buf[4096];
        int r = getgrnam_r(group, &grbuf, buf, sizeof buf, &gr);
        if (r != 0)
                return -r;
        if (!gr)
                return -ESRCH;
        *ret = gr->gr_gid;
        return 0;
}

void cache_state_append(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s='", key);
        for (const char *p = strempty(value); *p; p++) {
                if (*p == '\'')
                        fputs("'\\''", f);
                else if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        fputc(' ', f);
                else
                        fputc(*p, f);
        }
        fputs("'\n", f);
}
