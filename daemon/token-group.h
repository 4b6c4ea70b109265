/* SPDX-License-Identifier: MIT */
/* TokenGroup=: the group the token files are given to. attestd runs without capabilities, so it
 * can only give a file to a group it is a member of; this module resolves the name and checks that
 * before anything is written, so a wrong setting stops the start instead of every write. */
#pragma once

#include <sys/types.h>

#include "util.h"

/* The group sysusers.d/attestd.conf creates and makes the attestd user a member of. */
#define TOKEN_GROUP_DEFAULT "attestd-token"

/* Resolves TokenGroup= (NAME; NULL or "" = not set) into *ret_gid:
 *  - not set: TOKEN_GROUP_DEFAULT, or (gid_t) -1 (the files keep attestd's own group) when no such
 *    group exists, which returns 1 so the caller can say so;
 *  - set: the group must exist (-ESRCH) and the process must be able to give files to it: it is
 *    its effective or a supplementary group, or the process holds CAP_CHOWN (-EPERM otherwise).
 * On failure *reterr_message (malloc'd) says what is wrong and how to fix it; *ret_gid is untouched. */
int token_group_resolve(const char *name, gid_t *ret_gid, char **reterr_message);

/* Whether the calling process may chown a file it owns to GID without a capability: GID is its
 * effective group or one of its supplementary groups. */
bool token_group_is_member(gid_t gid);
