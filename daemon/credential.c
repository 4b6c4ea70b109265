/* SPDX-License-Identifier: MIT */
/* Reads small secrets (bearer tokens, client secrets) from a path or a systemd credential without
 * leaving copies behind in freed memory. Never blocks on FIFOs; never logs content. */
#include <fcntl.h>
#include <sys/stat.h>

#include "credential.h"
#include "log.h"

int credential_resolve(const char *spec, char **ret_path) {
        const char *dir;
        char *p;

        if (!spec || !ret_path || !*spec)
                return -EINVAL;
        if (strchr(spec, '/')) {
                p = strdup(spec);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        if (streq(spec, ".") || streq(spec, ".."))
                return log_debug_errno(-EINVAL, "Invalid credential name '%s'.", spec);

        dir = getenv("CREDENTIALS_DIRECTORY");
        if (!dir || dir[0] != '/')
                return log_debug_errno(-ENXIO, "Credential '%s' requested but $CREDENTIALS_DIRECTORY is %s.",
                                       spec, dir ? "not an absolute path" : "not set");
        if (asprintf(&p, "%s/%s", dir, spec) < 0)
                return -ENOMEM;
        *ret_path = p;
        return 0;
}

/* Reads at most MAX + 1 bytes into BUF (MAX + 1 bytes large) so an oversized file is detected. */
static int read_bounded(int fd, char *buf, size_t max, size_t *ret_size) {
        size_t n = 0;

        while (n <= max) {
                ssize_t k = read(fd, buf + n, max + 1 - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > max)
                return -EFBIG;
        *ret_size = n;
        return 0;
}

int credential_read_file(const char *path, size_t max_size, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char *buf, *copy = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        if (!path || !ret)
                return -EINVAL;
        if (max_size == 0)
                max_size = CREDENTIAL_SIZE_MAX;

        /* O_NONBLOCK: opening a FIFO for reading must not hang the event loop. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return log_debug_errno(-errno, "Failed to open secret file '%s': %m", path);
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return log_debug_errno(S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD,
                                       "Secret file '%s' is not a regular file.", path);

        buf = malloc(max_size + 1);
        if (!buf)
                return -ENOMEM;
        r = read_bounded(fd, buf, max_size, &n);
        if (r >= 0) {
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                        n--;
                if (n == 0)
                        r = -ENODATA;
                else if (memchr(buf, 0, n))
                        r = -EBADMSG;
                else {
                        copy = strndup(buf, n);
                        if (!copy)
                                r = -ENOMEM;
                }
        }
        explicit_erase(buf, max_size + 1);
        free(buf);
        if (r < 0)
                return log_debug_errno(r, "Failed to read secret file '%s': %s", path,
                                       r == -EFBIG ? "too large" : r == -ENODATA ? "empty" :
                                       r == -EBADMSG ? "contains a NUL byte" : strerror(-r));
        *ret = copy;
        return 0;
}

int credential_read(const char *spec, size_t max_size, char **ret) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = credential_resolve(spec, &path);
        if (r < 0)
                return r;
        return credential_read_file(path, max_size, ret);
}
