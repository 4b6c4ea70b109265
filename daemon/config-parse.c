/* SPDX-License-Identifier: MIT */
/* Value parsers for the configuration and the command line: booleans, time spans, PCR lists,
 * bank lists. Pure functions; no logging. */
#include <ctype.h>
#include <inttypes.h>
#include <tss2/tss2_tpm2_types.h>

#include "config.h"

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* "90", "90s", "5min", "1h 30min", "250ms", "2d". A bare number is seconds. */
int parse_timespan(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "usec", 1 },
                { "us", 1 },
                { "msec", USEC_PER_MSEC },
                { "ms", USEC_PER_MSEC },
                { "seconds", USEC_PER_SEC },
                { "second", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "minutes", 60 * USEC_PER_SEC },
                { "minute", 60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC },
                { "hours", 3600 * USEC_PER_SEC },
                { "hour", 3600 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "days", 86400 * USEC_PER_SEC },
                { "day", 86400 * USEC_PER_SEC },
                { "d", 86400 * USEC_PER_SEC },
        };
        uint64_t total = 0;
        bool any = false;

        for (const char *p = s;;) {
                while (isspace((unsigned char) *p))
                        p++;
                if (*p == '\0')
                        break;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;

                errno = 0;
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (errno != 0)
                        return -ERANGE;
                p = end;

                size_t n = 0;
                while (isalpha((unsigned char) p[n]))
                        n++;
                uint64_t mult = USEC_PER_SEC;
                if (n > 0) {
                        size_t i;
                        for (i = 0; i < ELEMENTSOF(units); i++)
                                if (strlen(units[i].suffix) == n && strncmp(p, units[i].suffix, n) == 0)
                                        break;
                        if (i == ELEMENTSOF(units))
                                return -EINVAL;
                        mult = units[i].usec;
                }
                p += n;

                if (v > (UINT64_MAX - total) / mult)
                        return -ERANGE;
                total += v * mult;
                any = true;
        }

        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

/* "0-7,11,14" → bit mask; PCR indices 0..23. */
int parse_pcr_list(const char *s, uint32_t *ret_mask) {
        uint32_t mask = 0;
        const char *p = s;

        for (;;) {
                char *end;
                unsigned long a, b;

                while (isspace((unsigned char) *p))
                        p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                a = strtoul(p, &end, 10);
                p = end;
                b = a;
                if (*p == '-') {
                        p++;
                        if (!isdigit((unsigned char) *p))
                                return -EINVAL;
                        b = strtoul(p, &end, 10);
                        p = end;
                }
                if (a > 23 || b > 23 || b < a)
                        return -ERANGE;
                for (unsigned long i = a; i <= b; i++)
                        mask |= UINT32_C(1) << i;

                while (isspace((unsigned char) *p))
                        p++;
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }

        *ret_mask = mask;
        return 0;
}

static const struct {
        const char *name;
        uint16_t alg;
} bank_names[] = {
        { "sha1", TPM2_ALG_SHA1 },
        { "sha256", TPM2_ALG_SHA256 },
        { "sha384", TPM2_ALG_SHA384 },
        { "sha512", TPM2_ALG_SHA512 },
        { "sm3_256", TPM2_ALG_SM3_256 },
};

const char *bank_to_string(uint16_t alg) {
        for (size_t i = 0; i < ELEMENTSOF(bank_names); i++)
                if (bank_names[i].alg == alg)
                        return bank_names[i].name;
        return NULL;
}

int bank_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(bank_names); i++)
                if (strcasecmp(bank_names[i].name, s) == 0)
                        return bank_names[i].alg;
        return -EINVAL;
}

/* "sha256" or "sha1,sha256": each bank once, order kept (it is the quote's selection order). */
int parse_bank_list(const char *s, uint16_t ret_banks[CONFIG_MAX_BANKS], size_t *ret_n) {
        uint16_t banks[CONFIG_MAX_BANKS];
        size_t n = 0;
        const char *p = s;

        for (;;) {
                char name[16];
                size_t len = strcspn(p, ", \t");

                if (len == 0 || len >= sizeof name)
                        return -EINVAL;
                memcpy(name, p, len);
                name[len] = '\0';
                int alg = bank_from_string(name);
                if (alg < 0)
                        return alg;
                for (size_t i = 0; i < n; i++)
                        if (banks[i] == alg)
                                return -EEXIST;
                if (n >= CONFIG_MAX_BANKS)
                        return -E2BIG;
                banks[n++] = (uint16_t) alg;

                p += len;
                p += strspn(p, " \t");
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
                p += strspn(p, " \t");
        }

        memcpy(ret_banks, banks, n * sizeof banks[0]);
        *ret_n = n;
        return 0;
}
