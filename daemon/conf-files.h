/* SPDX-License-Identifier: MIT */
/* Drop-in lists with systemd's precedence: the same file name in an earlier directory hides the
 * later ones, and the survivors are read in file-name order whatever their directory. */
#pragma once

#include "util.h"

/* Lists the regular "*.conf" files (no dot files) in DIRS (NULL-terminated, highest precedence
 * first; missing directories are skipped) into *ret: a NULL-terminated array of malloc'd paths
 * sorted by file name, free with strv_free(). A file name that resolves to /dev/null (a symbolic
 * link to it, as systemd's masking) hides the name and is not listed. Returns the number of paths,
 * -ENOMEM, or the errno of a directory that exists but cannot be read (*reterr_dir names it). */
int conf_files_list(const char *const *dirs, char ***ret, const char **reterr_dir);

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
