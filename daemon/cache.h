/* SPDX-License-Identifier: MIT */
/* The files under the runtime directory (token, token.json, state): each replaced atomically
 * (temp file in the same directory, then rename), so readers see the old or the new file, never a mix. */
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include "jwt.h"
#include "util.h"

#define CACHE_TOKEN "token"
#define CACHE_TOKEN_JSON "token.json"
#define CACHE_STATE "state"
/* token.json holds the claims twice (as issued, and the policy's output with JSON strings
 * decoded), so it may be about twice the token's payload; the writer falls back to compact JSON
 * when the pretty form would be larger than this, and the readers accept up to it. (The token
 * file itself is capped by JWT_SIZE_MAX.) */
#define CACHE_TOKEN_JSON_MAX ((size_t) 3 * JWT_SIZE_MAX)

/* Writes DATA to DIR/NAME through a temp file in DIR that is renamed over NAME. MODE and GID
 * (gid (gid_t) -1 = leave the owner's group) are set before the rename, so the file never appears
 * with wider access. fsync()s file and directory unless DIR is on tmpfs. On failure the previous
 * file is untouched and no temp file is left. */
int cache_write_atomic(const char *dir, const char *name, const void *data, size_t size, mode_t mode,
                       gid_t gid);
/* The same with the content in N pieces, so a large text need not be copied to add a newline. */
int cache_write_atomic_iov(const char *dir, const char *name, const struct iovec *iov, size_t n, mode_t mode,
                           gid_t gid);

#define CACHE_TEMP_NAME_MAX 64

/* A set of file replacements and removals in one directory that become visible together or not
 * at all: every new file is written to a temp file first (the step that can run out of space),
 * then the commit renames them in the order they were added, keeping each replaced file as
 * ".NAME.old" until the end so that a failing step puts the earlier ones back. A reader may see
 * the files change one after the other, in that order, but never a failed transaction's files. */
typedef struct CacheTxnItem {
        const char *name;               /* borrowed: a CACHE_* constant */
        char tmp[CACHE_TEMP_NAME_MAX];  /* staged content; "" for a removal (or once renamed) */
        char backup[CACHE_TEMP_NAME_MAX];
        bool had_old;
} CacheTxnItem;

typedef struct CacheTxn {
        int dfd;
        CacheTxnItem items[4];
        size_t n_items;
} CacheTxn;

int cache_txn_begin(CacheTxn *t, const char *dir);
/* Stages NAME's new content (as cache_write_atomic_iov, without the rename). */
int cache_txn_write(CacheTxn *t, const char *name, const struct iovec *iov, size_t n, mode_t mode, gid_t gid);
/* Stages NAME's removal (absent is fine). */
int cache_txn_remove(CacheTxn *t, const char *name);
/* Applies the staged steps in order; on failure undoes the applied ones and returns -errno. */
int cache_txn_commit(CacheTxn *t);
/* Removes whatever is still staged and closes the directory. Always call it, committed or not. */
void cache_txn_done(CacheTxn *t);

/* Opens DIR and takes an exclusive flock() on it, held as long as *ret_fd stays open (a killed
 * holder releases it). -EBUSY when another process holds it. */
int cache_lock_dir(const char *dir, int *ret_fd);

/* Whether the directory FD is one attestd may trust: a directory (-ENOTDIR), owned by UID
 * (-EPERM), not writable by group or others (-EACCES). */
int cache_check_dir(int fd, uid_t uid);

/* Reads DIR/NAME (at most MAX bytes, else -EFBIG) into a NUL-terminated buffer. -ENOENT if absent. */
int cache_read(const char *dir, const char *name, size_t max, char **ret, size_t *ret_size);

/* Removes DIR/NAME; absent is success. */
int cache_remove(const char *dir, const char *name);

/* Creates DIR (mode 0755) if missing; an existing directory is accepted as it is. */
int cache_ensure_dir(const char *dir);

/* Removes temp files and backups a killed writer left behind (".NAME.XXXXXX", ".NAME.old"). */
int cache_clean_temp(const char *dir);

/* Resolves a group name to its gid; NULL or "" gives (gid_t) -1. -ESRCH if there is no such group. */
int cache_group_to_gid(const char *group, gid_t *ret);

/* Appends KEY='value' (shell single-quote escaping, control characters replaced by spaces) to a
 * state text being built with open_memstream. */
void cache_state_append(FILE *f, const char *key, const char *value);
