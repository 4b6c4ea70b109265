/* SPDX-License-Identifier: MIT */
/* base64 (RFC 4648 §4, for x5c), base64url (§5, for JWS/JWK) and lower-case hex codecs.
 * Pure functions over buffers: no I/O, no logging. Decoders are strict (see b64_decode_full). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef enum B64Alphabet {
        B64_STANDARD,   /* A-Z a-z 0-9 + /  */
        B64_URL,        /* A-Z a-z 0-9 - _  */
        _B64_ALPHABET_MAX,
        _B64_ALPHABET_INVALID = -EINVAL,
} B64Alphabet;

/* Encodes N bytes of P. base64url output is unpadded (JWS style), standard base64 is padded.
 * The result is a NUL-terminated string the caller frees. Returns 0, -ENOMEM, or -E2BIG when the
 * output size would overflow size_t. N may be 0 (gives ""). */
int b64_encode(const void *p, size_t n, char **ret);
int b64url_encode(const void *p, size_t n, char **ret);

/* Strict decoder shared by b64_decode and b64url_decode. Accepts LEN characters of S (which need
 * not be NUL-terminated and may contain no NUL) either unpadded, or padded with '=' to a multiple
 * of four. Rejects, with -EINVAL:
 *   - a character outside ALPHABET (this includes whitespace, and the other alphabet's '+' '/' or
 *     '-' '_'), or a '=' anywhere but in the final one or two positions of a padded input;
 *   - a length that cannot come from an encoder (LEN % 4 == 1 unpadded; padding that does not
 *     bring the length to a multiple of four);
 *   - non-canonical final bits: the bits of the last character that do not belong to an output
 *     byte must be zero, so each byte string has exactly one accepted encoding per padding style.
 * On failure, *reterr_offset (when non-NULL) receives the offset of the offending character (or
 * LEN for a length problem). On success *ret is a malloc'd buffer of *ret_size bytes followed by
 * one extra NUL byte not counted in the size (handy for text); an empty input yields size 0. */
int b64_decode_full(B64Alphabet alphabet, const char *s, size_t len, void **ret, size_t *ret_size,
                    size_t *reterr_offset);

static inline int b64_decode(const char *s, size_t len, void **ret, size_t *ret_size) {
        return b64_decode_full(B64_STANDARD, s, len, ret, ret_size, NULL);
}
static inline int b64url_decode(const char *s, size_t len, void **ret, size_t *ret_size) {
        return b64_decode_full(B64_URL, s, len, ret, ret_size, NULL);
}

/* Lower-case hex of N bytes, NUL-terminated, caller frees. -ENOMEM, -E2BIG. */
int hex_encode(const void *p, size_t n, char **ret);

/* Decodes LEN hex digits (either case accepted, nothing else: no "0x", no separators). -EINVAL for
 * an odd length or a non-hex character (*reterr_offset, when non-NULL, gets its offset). The
 * result carries the same hidden NUL as b64_decode_full's. */
int hex_decode_full(const char *s, size_t len, void **ret, size_t *ret_size, size_t *reterr_offset);

static inline int hex_decode(const char *s, size_t len, void **ret, size_t *ret_size) {
        return hex_decode_full(s, len, ret, ret_size, NULL);
}
