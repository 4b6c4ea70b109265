/* SPDX-License-Identifier: MIT */
/* UTF-8 checks for text that came from elsewhere (servers, files, event logs): validation, repair
 * with U+FFFD and cutting at character boundaries. Pure; no allocation except utf8_make_valid(). */
#pragma once

#include "util.h"

/* U+FFFD REPLACEMENT CHARACTER */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Length (1-4) of the well-formed UTF-8 sequence at P, N bytes available, or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
size_t utf8_sequence_length(const uint8_t *p, size_t n);

bool utf8_is_valid(const char *s);

/* A malloc'd copy of S where every byte that does not start a well-formed sequence becomes U+FFFD;
 * NULL on OOM. A valid S is copied unchanged. */
char *utf8_make_valid(const char *s);

/* The largest length <= MAX at which S (N bytes) can be cut without splitting a character: MAX moved
 * back over continuation bytes. N when N <= MAX. */
size_t utf8_cut(const char *s, size_t n, size_t max);
