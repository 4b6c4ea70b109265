/* SPDX-License-Identifier: MIT */
/* Reading whole files with a size cap. sysfs and securityfs report a size of 0, so these read to
 * EOF instead of trusting st_size. Not for secrets: buffers are not wiped (see credential.h). */
#pragma once

#include "util.h"

/* Reads FD to EOF into a malloc'd, NUL-terminated buffer (the NUL is not counted in *ret_size).
 * -EFBIG when there is more than MAX bytes; nothing is returned then. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* read_full_fd() on PATH; open errors as -errno (-ENOENT, -EACCES, ...). */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
