/* SPDX-License-Identifier: MIT */
/* base64/base64url/hex codecs. Strict by design: a token or key set that a lenient decoder would
 * "repair" is one an attacker could have altered, so anything non-canonical is refused. */
#include <assert.h>

#include "b64.h"

static const char b64_table[_B64_ALPHABET_MAX][64] = {
        [B64_STANDARD] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        [B64_URL] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

/* 6-bit value of C in ALPHABET, or -1. Explicit ranges, not a table indexed by a signed char. */
static int b64_value(B64Alphabet alphabet, char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == b64_table[alphabet][62])
                return 62;
        if (c == b64_table[alphabet][63])
                return 63;
        return -1;
}

static int b64_encode_internal(B64Alphabet alphabet, const void *p, size_t n, bool pad, char **ret) {
        const uint8_t *in = p;
        const char *t = b64_table[alphabet];
        size_t full = n / 3, rest = n % 3, len;
        char *out, *o;

        assert(p || n == 0);
        assert(ret);

        /* 4 output characters per started group of 3, plus the NUL. */
        if (full >= (SIZE_MAX - 8) / 4)
                return -E2BIG;
        len = full * 4 + (rest == 0 ? 0 : pad ? 4 : rest + 1);

        out = o = malloc(len + 1);
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < full; i++, in += 3) {
                *o++ = t[in[0] >> 2];
                *o++ = t[((in[0] & 0x03) << 4) | (in[1] >> 4)];
                *o++ = t[((in[1] & 0x0f) << 2) | (in[2] >> 6)];
                *o++ = t[in[2] & 0x3f];
        }
        if (rest > 0) {
                *o++ = t[in[0] >> 2];
                if (rest == 1) {
                        *o++ = t[(in[0] & 0x03) << 4];
                        if (pad) {
                                *o++ = '=';
                                *o++ = '=';
                        }
                } else {
                        *o++ = t[((in[0] & 0x03) << 4) | (in[1] >> 4)];
                        *o++ = t[(in[1] & 0x0f) << 2];
                        if (pad)
                                *o++ = '=';
                }
        }
        *o = 0;
        assert((size_t) (o - out) == len);

        *ret = out;
        return 0;
}

int b64_encode(const void *p, size_t n, char **ret) {
        return b64_encode_internal(B64_STANDARD, p, n, /* pad= */ true, ret);
}

int b64url_encode(const void *p, size_t n, char **ret) {
        return b64_encode_internal(B64_URL, p, n, /* pad= */ false, ret);
}

static int fail_at(size_t *reterr_offset, size_t offset) {
        if (reterr_offset)
                *reterr_offset = offset;
        return -EINVAL;
}

int b64_decode_full(B64Alphabet alphabet, const char *s, size_t len, void **ret, size_t *ret_size,
                    size_t *reterr_offset) {
        size_t data_len = len, pad = 0, rem, out_size;
        uint32_t acc = 0;
        uint8_t *out, *o;
        int v = 0;

        assert(alphabet >= 0 && alphabet < _B64_ALPHABET_MAX);
        assert(s || len == 0);
        assert(ret);
        assert(ret_size);

        /* Peel at most two '=' off the end; a third one is then seen as a data character and
         * rejected at its own offset. */
        while (data_len > 0 && pad < 2 && s[data_len - 1] == '=') {
                data_len--;
                pad++;
        }
        /* Characters first: "bad character at offset N" is the more useful report. */
        for (size_t i = 0; i < data_len; i++)
                if (b64_value(alphabet, s[i]) < 0)
                        return fail_at(reterr_offset, i);
        if (pad > 0 && len % 4 != 0)
                return fail_at(reterr_offset, len);
        rem = data_len % 4;
        if (rem == 1)
                return fail_at(reterr_offset, len);

        out_size = data_len / 4 * 3 + (rem == 0 ? 0 : rem - 1);
        out = o = malloc(out_size + 1);
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < data_len; i++) {
                v = b64_value(alphabet, s[i]);
                assert(v >= 0);
                acc = (acc << 6) | (uint32_t) v;
                if (i % 4 == 3) {
                        *o++ = (uint8_t) (acc >> 16);
                        *o++ = (uint8_t) (acc >> 8);
                        *o++ = (uint8_t) acc;
                        acc = 0;
                }
        }

        /* Tail: 2 characters carry 1 byte (4 spare bits), 3 carry 2 bytes (2 spare bits). */
        if (rem == 2) {
                if (v & 0x0f) {
                        free(out);
                        return fail_at(reterr_offset, data_len - 1);
                }
                *o++ = (uint8_t) (acc >> 4);
        } else if (rem == 3) {
                if (v & 0x03) {
                        free(out);
                        return fail_at(reterr_offset, data_len - 1);
                }
                *o++ = (uint8_t) (acc >> 10);
                *o++ = (uint8_t) (acc >> 2);
        }
        assert((size_t) (o - out) == out_size);
        *o = 0;

        *ret = out;
        *ret_size = out_size;
        return 0;
}

int hex_encode(const void *p, size_t n, char **ret) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *in = p;
        char *out;

        assert(p || n == 0);
        assert(ret);

        if (n >= (SIZE_MAX - 1) / 2)
                return -E2BIG;
        out = malloc(n * 2 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 0x0f];
        }
        out[n * 2] = 0;

        *ret = out;
        return 0;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode_full(const char *s, size_t len, void **ret, size_t *ret_size, size_t *reterr_offset) {
        uint8_t *out;

        assert(s || len == 0);
        assert(ret);
        assert(ret_size);

        if (len % 2 != 0)
                return fail_at(reterr_offset, len);

        out = malloc(len / 2 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 2) {
                int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);

                if (hi < 0 || lo < 0) {
                        free(out);
                        return fail_at(reterr_offset, hi < 0 ? i : i + 1);
                }
                out[i / 2] = (uint8_t) (hi << 4 | lo);
        }
        out[len / 2] = 0;

        *ret = out;
        *ret_size = len / 2;
        return 0;
}
