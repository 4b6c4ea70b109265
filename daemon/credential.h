/* SPDX-License-Identifier: MIT */
/* Secrets from files or systemd credentials ($CREDENTIALS_DIRECTORY): bounded reads, wiped buffers.
 * Nothing here logs a secret's content. */
#pragma once

#include "util.h"

#define CREDENTIAL_SIZE_MAX ((size_t) 64 * 1024)

/* Maps SPEC to a file path. A value containing '/' is a path and is returned as is; anything else is
 * a credential name, looked up as $CREDENTIALS_DIRECTORY/SPEC. Returns 0 and a newly allocated path;
 * -EINVAL for an empty value or the names "." and ".."; -ENXIO when a name is given but
 * $CREDENTIALS_DIRECTORY is unset or not an absolute path. */
int credential_resolve(const char *spec, char **ret_path);

/* Reads the secret stored at PATH: a regular file of at most MAX_SIZE bytes (0 = CREDENTIAL_SIZE_MAX),
 * trailing "\n"/"\r\n" removed. Returns 0 and a NUL-terminated copy that the caller must release with
 * erase_and_free(); the errno of open() (-ENOENT, -EACCES, ...), -EISDIR or -EBADFD for something that
 * is not a regular file, -EFBIG when larger than MAX_SIZE, -ENODATA when empty, -EBADMSG when it
 * contains a NUL byte. Every intermediate buffer is wiped. */
int credential_read_file(const char *path, size_t max_size, char **ret);

/* credential_resolve() followed by credential_read_file(). Callers that must name the file in an
 * error message call the two themselves. */
int credential_read(const char *spec, size_t max_size, char **ret);
