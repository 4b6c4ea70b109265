/* SPDX-License-Identifier: MIT */
/* UTF-8 validation and repair. D-Bus refuses a message with a string that is not valid UTF-8, so
 * everything a server says must pass through here before it can reach the bus. */
#include "utf8.h"

size_t utf8_sequence_length(const uint8_t *p, size_t n) {
        uint32_t cp, min;
        size_t len;

        if (n == 0)
                return 0;
        if (p[0] < 0x80)
                return 1;
        if ((p[0] & 0xe0) == 0xc0)
                len = 2, cp = p[0] & 0x1f, min = 0x80;
        else if ((p[0] & 0xf0) == 0xe0)
                len = 3, cp = p[0] & 0x0f, min = 0x800;
        else if ((p[0] & 0xf8) == 0xf0)
                len = 4, cp = p[0] & 0x07, min = 0x10000;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((p[k] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

bool utf8_is_valid(const char *s) {
        size_t n = strlen(s);

        for (size_t i = 0, k; i < n; i += k) {
                k = utf8_sequence_length((const uint8_t *) s + i, n - i);
                if (k == 0)
                        return false;
        }
        return true;
}

char *utf8_make_valid(const char *s) {
        size_t n = strlen(s), o = 0;
        char *out;

        /* Worst case: every byte becomes the 3-byte replacement character. */
        out = malloc(n * 3 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t k = utf8_sequence_length((const uint8_t *) s + i, n - i);

                if (k == 0) {
                        memcpy(out + o, UTF8_REPLACEMENT, 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, k);
                o += k;
                i += k;
        }
        out[o] = '\0';
        return out;
}

size_t utf8_cut(const char *s, size_t n, size_t max) {
        if (n <= max)
                return n;
        while (max > 0 && ((uint8_t) s[max] & 0xc0) == 0x80)
                max--;
        return max;
}
