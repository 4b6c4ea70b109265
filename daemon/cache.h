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

/* Reads DIR/NAME (at most MAX bytes, else -EFBIG) into a NUL-terminated buffer. -ENOENT if absent. */
int cache_read(const char *dir, const char *name, size_t max, char **ret, size_t *ret_size);

/* Removes DIR/NAME; absent is success. */
int cache_remove(const char *dir, const char *name);

/* Creates DIR (mode 0755) if missing; an existing directory is accepted as it is. */
int cache_ensure_dir(const char *dir);

/* Removes temp files a killed writer left behind (".NAME.XXXXXX"). */
int cache_clean_temp(const char *dir);

/* Resolves a group name to its gid; NULL or "" gives (gid_t) -1. -ESRCH if there is no such group. */
int cache_group_to_gid(const char *group, gid_t *ret);

/* Appends KEY='value' (shell single-quote escaping, control characters replaced by spaces) to a
 * state text being built with open_memstream. */
void cache_state_append(FILE *f, const char *key, const char *value);
