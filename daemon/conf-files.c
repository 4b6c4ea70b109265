/* SPDX-License-Identifier: MIT */
/* Collects drop-in files over several directories the way systemd does (see conf-files.h).
 * Lists names only; reading and parsing them is config.c's job. */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "conf-files.h"

char **strv_free(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
        return NULL;
}

static int dropin_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);
        return d->d_name[0] != '.' && n > 5 && streq(d->d_name + n - 5, ".conf");
}

/* /dev/null itself, reached through a symbolic link: systemd's way of masking a vendor file. */
static bool is_masked(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static int compare_names(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        return strcmp(strrchr(x, '/') + 1, strrchr(y, '/') + 1);
}

static bool name_seen(char *const *paths, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(strrchr(paths[i], '/') + 1, name))
                        return true;
        return false;
}

/* Appends DIR's files whose names are not taken yet (masked ones included, so they hide the
 * lower directories; the caller drops them after). */
static int add_dir(const char *dir, char ***paths, size_t *n) {
        struct dirent **entries = NULL;
        int k, r = 0;

        k = scandir(dir, &entries, dropin_filter, alphasort);
        if (k < 0)
                return IN_SET(errno, ENOENT, ENOTDIR) ? 0 : -errno;
        for (int i = 0; i < k; i++) {
                if (r >= 0 && !name_seen(*paths, *n, entries[i]->d_name)) {
                        char **grown = reallocarray(*paths, *n + 2, sizeof(char *));
                        if (!grown)
                                r = -ENOMEM;
                        else {
                                *paths = grown;
                                if (asprintf(&grown[*n], "%s/%s", dir, entries[i]->d_name) < 0)
                                        r = -ENOMEM;
                                else
                                        grown[++*n] = NULL;
                        }
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int conf_files_list(const char *const *dirs, char ***ret, const char **reterr_dir) {
        _cleanup_(strv_freep) char **paths = calloc(1, sizeof(char *));
        size_t n = 0, kept = 0;
        int r;

        if (!paths)
                return -ENOMEM;
        for (const char *const *d = dirs; *d; d++) {
                r = add_dir(*d, &paths, &n);
                if (r < 0) {
                        if (reterr_dir)
                                *reterr_dir = *d;
                        return r;
                }
        }
        qsort(paths, n, sizeof(char *), compare_names);
        for (size_t i = 0; i < n; i++)
                if (is_masked(paths[i]))
                        free(paths[i]);
                else
                        paths[kept++] = paths[i];
        paths[kept] = NULL;
        *ret = TAKE_PTR(paths);
        return (int) kept;
}
