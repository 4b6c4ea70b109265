/* SPDX-License-Identifier: MIT */
/* Loads attestd.conf and its drop-ins through one key table into a Config. Tuning keys with bad
 * values are warned about and keep their default; security-relevant keys make the load fail. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <tss2/tss2_tpm2_types.h>

#include "conf-files.h"
#include "config.h"
#include "edit-distance.h"
#include "log.h"
#include "pcrs.h"

#define CONFIG_FILE_MAX (1024 * 1024)

typedef enum ConfigType {
        CONFIG_STRING,
        CONFIG_HTTPS_URL,
        CONFIG_HTTP_URL,
        CONFIG_ABS_PATH,
        CONFIG_PATH_OR_CREDENTIAL,
        CONFIG_TIMESPAN,
        CONFIG_BOOL,
        CONFIG_HANDLE,
        CONFIG_PERCENT,
        CONFIG_PCRS,
        CONFIG_BANKS,
        CONFIG_AUTH_METHOD,
        CONFIG_AK_ALGORITHM,
        CONFIG_PROVIDER,
} ConfigType;

typedef struct ConfigKey {
        const char *section;
        const char *key;
        ConfigType type;
        size_t offset;
        bool security; /* a bad value refuses to start instead of falling back to the default */
        uint64_t max;  /* CONFIG_TIMESPAN: the largest value allowed (usec); 0 = no bound */
} ConfigKey;

#define KEY(s, k, t, f, sec) { s, k, t, offsetof(Config, f), sec, 0 }
#define KEY_MAX(s, k, t, f, sec, m) { s, k, t, offsetof(Config, f), sec, m }

/* The one table of keys: parsing, --test-config output and the docs follow its order. */
static const ConfigKey config_keys[] = {
        KEY("Service", "Provider", CONFIG_PROVIDER, provider, true),
        KEY("Service", "Endpoint", CONFIG_HTTPS_URL, endpoint, true),
        KEY("Service", "ApiVersion", CONFIG_STRING, api_version, false),
        KEY("Service", "CAFile", CONFIG_ABS_PATH, ca_file, true),
        KEY("Service", "Proxy", CONFIG_STRING, proxy, true),
        KEY("Service", "ConnectTimeoutSec", CONFIG_TIMESPAN, connect_timeout_usec, false),
        KEY("Service", "RequestTimeoutSec", CONFIG_TIMESPAN, request_timeout_usec, false),
        /* A generous skew would let expired or not yet valid tokens through. */
        KEY_MAX("Service", "ClockSkewSec", CONFIG_TIMESPAN, clock_skew_usec, true, CONFIG_CLOCK_SKEW_MAX_USEC),
        KEY("Service", "RelyingPartyId", CONFIG_STRING, rp_id, false),
        KEY("Service", "SendNonce", CONFIG_BOOL, send_nonce, false),
        KEY("Service", "SharedProviders", CONFIG_ABS_PATH, shared_providers, true),

        KEY("Auth", "Method", CONFIG_AUTH_METHOD, auth_method, true),
        KEY("Auth", "TokenFile", CONFIG_PATH_OR_CREDENTIAL, auth_token_file, true),
        KEY("Auth", "TenantId", CONFIG_STRING, tenant_id, true),
        KEY("Auth", "ClientId", CONFIG_STRING, client_id, true),
        KEY("Auth", "ClientSecretFile", CONFIG_PATH_OR_CREDENTIAL, client_secret_file, true),
        KEY("Auth", "AuthorityURL", CONFIG_HTTPS_URL, authority_url, true),
        KEY("Auth", "IMDSURL", CONFIG_HTTP_URL, imds_url, true),

        KEY("TPM", "TCTI", CONFIG_STRING, tcti, true),
        KEY("TPM", "AKHandle", CONFIG_HANDLE, ak_handle, true),
        KEY("TPM", "AKAlgorithm", CONFIG_AK_ALGORITHM, ak_algorithm, true),
        KEY("TPM", "AKCertNVIndex", CONFIG_HANDLE, ak_cert_nv_index, true),
        KEY("TPM", "AKCertFile", CONFIG_ABS_PATH, ak_cert_file, true),
        KEY("TPM", "AKCertRenewal", CONFIG_BOOL, ak_cert_renewal, false),
        KEY("TPM", "PCRs", CONFIG_PCRS, pcr_mask, true),
        KEY("TPM", "Banks", CONFIG_BANKS, banks, true),
        KEY("TPM", "EventLog", CONFIG_ABS_PATH, event_log, true),
        KEY("TPM", "IMALog", CONFIG_ABS_PATH, ima_log, true),

        KEY("Schedule", "RefreshIntervalSec", CONFIG_TIMESPAN, refresh_interval_usec, false),
        KEY("Schedule", "RefreshPercent", CONFIG_PERCENT, refresh_percent, false),
        KEY("Schedule", "RetryMinSec", CONFIG_TIMESPAN, retry_min_usec, false),
        KEY("Schedule", "RetryMaxSec", CONFIG_TIMESPAN, retry_max_usec, false),
        KEY("Schedule", "PCRPollIntervalSec", CONFIG_TIMESPAN, pcr_poll_interval_usec, false),
        KEY("Schedule", "PCRDebounceSec", CONFIG_TIMESPAN, pcr_debounce_usec, false),
        KEY("Schedule", "PCRDebounceMaxSec", CONFIG_TIMESPAN, pcr_debounce_max_usec, false),
        KEY("Schedule", "PCRMinIntervalSec", CONFIG_TIMESPAN, pcr_min_interval_usec, false),

        KEY("Cache", "RuntimeDirectory", CONFIG_ABS_PATH, runtime_directory, true),
        KEY("Cache", "TokenGroup", CONFIG_STRING, token_group, false),
        KEY("Cache", "KeepTokenOnDenial", CONFIG_BOOL, keep_token_on_denial, false),
};

static const char *const auth_method_table[_AUTH_METHOD_MAX] = {
        [AUTH_NONE] = "none",
        [AUTH_FILE] = "file",
        [AUTH_IMDS] = "imds",
        [AUTH_CLIENT_CREDENTIALS] = "client-credentials",
};

static const char *const ak_algorithm_table[_AK_ALG_MAX] = {
        [AK_ALG_RSA] = "rsa",
        [AK_ALG_ECC] = "ecc",
};

static const char *const provider_table[_PROVIDER_MAX] = {
        [PROVIDER_AUTO] = "auto",
        [PROVIDER_TPM] = "tpm",
        [PROVIDER_AZURE_GUEST] = "azure-guest",
};

const char *provider_kind_to_string(ProviderKind p) {
        return p >= 0 && p < _PROVIDER_MAX ? provider_table[p] : NULL;
}

ProviderKind provider_kind_from_string(const char *s) {
        for (int i = 0; i < _PROVIDER_MAX; i++)
                if (streq(provider_table[i], s))
                        return i;
        return _PROVIDER_INVALID;
}

ProviderKind config_resolve_provider(const Config *c) {
        if (c->provider == PROVIDER_AUTO)
                return c->endpoint ? PROVIDER_TPM : PROVIDER_AZURE_GUEST;
        return c->provider;
}

const char *auth_method_to_string(AuthMethod m) {
        return m >= 0 && m < _AUTH_METHOD_MAX ? auth_method_table[m] : NULL;
}

AuthMethod auth_method_from_string(const char *s) {
        for (int i = 0; i < _AUTH_METHOD_MAX; i++)
                if (streq(auth_method_table[i], s))
                        return i;
        return _AUTH_METHOD_INVALID;
}

const char *ak_algorithm_to_string(AkAlgorithm a) {
        return a >= 0 && a < _AK_ALG_MAX ? ak_algorithm_table[a] : NULL;
}

static int ak_algorithm_from_string(const char *s) {
        for (int i = 0; i < _AK_ALG_MAX; i++)
                if (streq(ak_algorithm_table[i], s))
                        return i;
        return -EINVAL;
}

static bool string_is_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f)
                        return false;
        return true;
}

/* scheme://host[:port][/path] with no whitespace, query, fragment or userinfo. */
static int check_url(const char *s, const char *scheme, const char **ret_reason) {
        size_t n = strlen(scheme);

        if (strncmp(s, scheme, n) != 0) {
                *ret_reason = streq(scheme, "https://") ? "must start with https://" : "must start with http:// or https://";
                return -EINVAL;
        }
        const char *host = s + n;
        if (*host == '\0' || *host == '/' || *host == ':') {
                *ret_reason = "has no host";
                return -EINVAL;
        }
        if (strpbrk(s, " \t?#@\\")) {
                *ret_reason = "must not contain spaces, a query, a fragment or user info";
                return -EINVAL;
        }
        return 0;
}

static int set_string(char **field, const char *value) {
        char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

/* Logs why the configuration is refused and keeps the first reason for the caller (Reload()'s D-Bus
 * error, test-config's summary); RETERR may be NULL. The caller says what happens next: refusing
 * to start, or keeping the running configuration. Returns ERROR. */
_printf_(3, 4) static int config_refuse(char **reterr, int error, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        if (!message)
                return log_oom();
        log_error("%s", message);
        if (reterr && !*reterr)
                *reterr = TAKE_PTR(message);
        return error;
}

/* Parses VALUE into the field the key points at. On failure *ret_reason says why. */
static int config_key_parse(Config *c, const ConfigKey *k, const char *value, const char **ret_reason) {
        void *field = (uint8_t *) c + k->offset;
        int r;

        *ret_reason = "invalid value";
        switch (k->type) {
        case CONFIG_STRING:
                if (!string_is_printable(value)) {
                        *ret_reason = "contains control characters";
                        return -EINVAL;
                }
                return set_string(field, value);

        case CONFIG_HTTPS_URL:
        case CONFIG_HTTP_URL: {
                if (check_url(value, "https://", ret_reason) < 0 &&
                    (k->type == CONFIG_HTTPS_URL || check_url(value, "http://", ret_reason) < 0))
                        return -EINVAL;
                r = set_string(field, value);
                if (r < 0)
                        return r;
                /* The issuer in tokens carries no trailing slash; store it the same way. */
                char *s = *(char **) field;
                size_t len = strlen(s);
                while (len > 0 && s[len - 1] == '/')
                        s[--len] = '\0';
                return 0;
        }

        case CONFIG_ABS_PATH:
                if (value[0] != '/' || !string_is_printable(value)) {
                        *ret_reason = "must be an absolute path";
                        return -EINVAL;
                }
                return set_string(field, value);

        case CONFIG_PATH_OR_CREDENTIAL:
                if (!string_is_printable(value) || (strchr(value, '/') && value[0] != '/')) {
                        *ret_reason = "must be an absolute path or a credential name";
                        return -EINVAL;
                }
                return set_string(field, value);

        case CONFIG_TIMESPAN: {
                uint64_t v;

                r = parse_timespan(value, &v);
                if (r < 0) {
                        *ret_reason = "must be a time span such as 30s, 5min or 1h";
                        return r;
                }
                if (k->max > 0 && v > k->max) {
                        *ret_reason = "is out of range (at most 5min)";
                        return -ERANGE;
                }
                *(uint64_t *) field = v;
                return 0;
        }

        case CONFIG_BOOL:
                r = parse_boolean(value, field);
                if (r < 0)
                        *ret_reason = "must be yes or no";
                return r;

        case CONFIG_HANDLE: {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(value, &end, 0);
                if (errno != 0 || *end != '\0' || end == value || v > UINT32_MAX) {
                        *ret_reason = "must be a 32-bit handle such as 0x81000003";
                        return -EINVAL;
                }
                *(uint32_t *) field = (uint32_t) v;
                return 0;
        }

        case CONFIG_PERCENT: {
                char *end;
                errno = 0;
                unsigned long v = strtoul(value, &end, 10);
                if (*end == '%')
                        end++;
                if (errno != 0 || *end != '\0' || end == value || v < 1 || v > 99) {
                        *ret_reason = "must be a percentage between 1 and 99";
                        return -EINVAL;
                }
                *(unsigned *) field = (unsigned) v;
                return 0;
        }

        case CONFIG_PCRS:
                r = parse_pcr_list(value, field);
                if (r >= 0 && *(uint32_t *) field == 0)
                        r = -EINVAL;
                if (r < 0)
                        *ret_reason = "must be a list of PCR indices 0-23 such as 0-7,14";
                return r;

        case CONFIG_BANKS:
                r = parse_bank_list(value, c->banks, &c->n_banks);
                if (r < 0)
                        *ret_reason = "must be a list of distinct banks out of sha1, sha256, sha384, sha512, sm3_256";
                return r;

        case CONFIG_AUTH_METHOD: {
                AuthMethod m = auth_method_from_string(value);
                if (m < 0) {
                        *ret_reason = "must be one of none, file, imds, client-credentials";
                        return -EINVAL;
                }
                *(AuthMethod *) field = m;
                return 0;
        }

        case CONFIG_AK_ALGORITHM:
                r = ak_algorithm_from_string(value);
                if (r < 0) {
                        *ret_reason = "must be rsa or ecc";
                        return r;
                }
                *(AkAlgorithm *) field = r;
                return 0;

        case CONFIG_PROVIDER: {
                ProviderKind p = provider_kind_from_string(value);
                if (p < 0) {
                        *ret_reason = "must be one of auto, tpm, azure-guest";
                        return -EINVAL;
                }
                *(ProviderKind *) field = p;
                return 0;
        }
        }
        return -EINVAL;
}

int config_new_default(Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;

        *c = (Config) {
                .connect_timeout_usec = 10 * USEC_PER_SEC,
                .request_timeout_usec = 60 * USEC_PER_SEC,
                .clock_skew_usec = 60 * USEC_PER_SEC,
                .send_nonce = true,
                .auth_method = AUTH_NONE,
                .ak_handle = 0x81000003,
                .ak_algorithm = AK_ALG_RSA,
                .ak_cert_nv_index = 0x01C101D0,
                /* All 24: MAA's default configuration rule required_pcr_mask is 0xFFFFFF, and a quote
                 * over fewer is refused unless the policy lowers it. */
                .pcr_mask = PCR_ALL_MASK,
                .banks = { TPM2_ALG_SHA256 },
                .n_banks = 1,
                .refresh_percent = 80,
                .retry_min_usec = 5 * USEC_PER_SEC,
                .retry_max_usec = 10 * 60 * USEC_PER_SEC,
                .pcr_poll_interval_usec = 5 * USEC_PER_SEC,
                .pcr_debounce_usec = 2 * USEC_PER_SEC,
                .pcr_debounce_max_usec = 30 * USEC_PER_SEC,
                .pcr_min_interval_usec = 30 * USEC_PER_SEC,
        };
        if (!(c->api_version = strdup("2022-08-01")) ||
            !(c->authority_url = strdup("https://login.microsoftonline.com")) ||
            !(c->imds_url = strdup("http://169.254.169.254")) ||
            !(c->tcti = strdup("device:/dev/tpmrm0")) ||
            !(c->event_log = strdup("/sys/kernel/security/tpm0/binary_bios_measurements")))
                return -ENOMEM;

        *ret = TAKE_PTR(c);
        return 0;
}

static bool config_type_is_string(ConfigType t) {
        return IN_SET(t, CONFIG_STRING, CONFIG_HTTPS_URL, CONFIG_HTTP_URL, CONFIG_ABS_PATH,
                      CONFIG_PATH_OR_CREDENTIAL);
}

/* "Key=" with an empty value puts the built-in default back, as in systemd's unit files. */
static int config_key_reset(Config *c, const ConfigKey *k) {
        _cleanup_(config_freep) Config *d = NULL;
        int r;

        r = config_new_default(&d);
        if (r < 0)
                return r;

        void *field = (uint8_t *) c + k->offset, *def = (uint8_t *) d + k->offset;
        if (config_type_is_string(k->type)) {
                free(*(char **) field);
                *(char **) field = TAKE_PTR(*(char **) def);
        } else if (k->type == CONFIG_BANKS) {
                memcpy(c->banks, d->banks, sizeof c->banks);
                c->n_banks = d->n_banks;
        } else if (k->type == CONFIG_TIMESPAN)
                *(uint64_t *) field = *(uint64_t *) def;
        else if (k->type == CONFIG_BOOL)
                *(bool *) field = *(bool *) def;
        else /* handles, percentages, PCR masks and enums are all 32-bit */
                memcpy(field, def, sizeof(uint32_t));
        return 0;
}

static const ConfigKey *config_key_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section) && streq(config_keys[i].key, key))
                        return &config_keys[i];
        return NULL;
}

static bool config_section_known(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section))
                        return true;
        return false;
}

/* Sections whose keys decide whom attestd trusts and what it proves: a misspelt key there would
 * silently fall back to a default (no Endpoint=, Method=none, another TCTI), so it is an error.
 * A misspelling in [Schedule] or [Cache] only tunes timing or file placement and is warned about. */
static bool config_section_is_strict(const char *section) {
        return streq(section, "Service") || streq(section, "Auth") || streq(section, "TPM");
}

/* " (it belongs in [TPM]).", "; did you mean Method=?" or ".": the end of the message. */
static void config_key_hint(const char *section, const char *key, char *buf, size_t size) {
        const char *names[ELEMENTSOF(config_keys)];
        size_t n = 0;

        snprintf(buf, size, ".");
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].key, key)) {
                        snprintf(buf, size, " (it belongs in [%s]).", config_keys[i].section);
                        return;
                }
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (streq(config_keys[i].section, section))
                        names[n++] = config_keys[i].key;
        const char *near = edit_distance_suggest(key, names, n);
        if (near)
                snprintf(buf, size, "; did you mean %s=?", near);
}

static int config_unknown_key(const char *filename, unsigned line, const char *section, const char *key,
                              char **reterr) {
        char hint[96];

        config_key_hint(section, key, hint, sizeof hint);
        if (config_section_is_strict(section))
                return config_refuse(reterr, -EINVAL, "%s:%u: Unknown key '%s' in section [%s]%s", filename, line,
                                     key, section, hint);
        log_warning("%s:%u: Unknown key '%s' in section [%s], ignoring it%s", filename, line, key, section, hint);
        return 0;
}

/* An unknown section is ignored with a warning, unless it looks like a misspelt strict section:
 * then every key in it would be lost, so it is an error. */
static int config_unknown_section(const char *filename, unsigned line, const char *section, char **reterr) {
        const char *names[ELEMENTSOF(config_keys)];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (i == 0 || !streq(config_keys[i].section, config_keys[i - 1].section))
                        names[n++] = config_keys[i].section;
        const char *near = edit_distance_suggest(section, names, n);
        if (near && config_section_is_strict(near))
                return config_refuse(reterr, -EINVAL, "%s:%u: Unknown section [%s]; did you mean [%s]?", filename,
                                     line, section, near);
        if (near)
                log_warning("%s:%u: Unknown section [%s], ignoring its keys; did you mean [%s]?", filename, line,
                            section, near);
        else
                log_warning("%s:%u: Unknown section [%s], ignoring its keys.", filename, line, section);
        return 0;
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = '\0';
        return s;
}

/* One line, already NUL-terminated and stripped. SECTION is updated on "[...]" lines. */
static int config_parse_line(Config *c, const char *filename, unsigned line, char *l, char section[64],
                             char **reterr) {
        if (*l == '\0' || *l == '#' || *l == ';')
                return 0;

        if (*l == '[') {
                size_t n = strlen(l);
                if (n < 3 || l[n - 1] != ']' || n - 2 >= 64) {
                        log_warning("%s:%u: Invalid section header, ignoring.", filename, line);
                        section[0] = '\0';
                        return 0;
                }
                memcpy(section, l + 1, n - 2);
                section[n - 2] = '\0';
                if (!config_section_known(section))
                        return config_unknown_section(filename, line, section, reterr);
                return 0;
        }

        char *eq = strchr(l, '=');
        if (!eq) {
                log_warning("%s:%u: Line is not of the form Key=Value, ignoring.", filename, line);
                return 0;
        }
        *eq = '\0';
        char *key = strip(l), *value = strip(eq + 1);

        if (section[0] == '\0') {
                log_warning("%s:%u: Key '%s' outside of any section, ignoring.", filename, line, key);
                return 0;
        }
        if (!config_section_known(section))
                return 0;

        const ConfigKey *k = config_key_find(section, key);
        if (!k)
                return config_unknown_key(filename, line, section, key, reterr);

        if (*value == '\0')
                return config_key_reset(c, k);

        const char *reason;
        int r = config_key_parse(c, k, value, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (k->security)
                        return config_refuse(reterr, -EINVAL, "%s:%u: Invalid [%s] %s=: %s", filename, line,
                                             section, key, reason);
                log_warning("%s:%u: Invalid [%s] %s=: %s; keeping the default.", filename, line, section,
                            key, reason);
        }
        return 0;
}

static int config_parse_text_full(Config *c, const char *filename, const char *text, size_t size,
                                  char **reterr) {
        unsigned line = 0;
        char section[64] = "";

        for (size_t pos = 0; pos < size;) {
                const char *nl = memchr(text + pos, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - (text + pos)) : size - pos;

                line++;
                if (memchr(text + pos, '\0', len))
                        log_warning("%s:%u: Line contains a NUL byte, ignoring.", filename, line);
                else {
                        _cleanup_free_ char *l = strndup(text + pos, len);
                        if (!l)
                                return -ENOMEM;
                        int r = config_parse_line(c, filename, line, strip(l), section, reterr);
                        if (r < 0)
                                return r;
                }
                pos += len + 1;
        }
        return 0;
}

int config_parse_text(Config *c, const char *filename, const char *text, size_t size) {
        return config_parse_text_full(c, filename, text, size, NULL);
}

static int config_parse_file(Config *c, const char *path, bool must_exist, char **reterr) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                return config_refuse(reterr, -errno, "%s: cannot open: %s", path, strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return config_refuse(reterr, -errno, "%s: cannot stat: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return config_refuse(reterr, -EINVAL, "%s: not a regular file", path);
        if (st.st_size > CONFIG_FILE_MAX)
                return config_refuse(reterr, -EFBIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);

        text = malloc((size_t) st.st_size + 1);
        if (!text)
                return log_oom();
        while (size < (size_t) st.st_size) {
                ssize_t n = read(fd, text + size, (size_t) st.st_size - size);
                if (n < 0)
                        return config_refuse(reterr, -errno, "%s: cannot read: %s", path, strerror(errno));
                if (n == 0)
                        break;
                size += (size_t) n;
        }

        return config_parse_text_full(c, path, text, size, reterr);
}

/* The drop-in directories of PATH, highest precedence first. The default file gets systemd's
 * three (an administrator's /etc over a deployment's /run over the image's /usr/lib); a file given
 * with --config only its own PATH.d. */
static int config_dropin_dirs(const char *path, char *ret[4]) {
        if (path) {
                ret[0] = NULL;
                if (asprintf(&ret[0], "%s.d", path) < 0)
                        return -ENOMEM;
                ret[1] = NULL;
                return 0;
        }
        ret[0] = strdup(CONFIG_DROPIN_DIR_ETC);
        ret[1] = strdup(CONFIG_DROPIN_DIR_RUN);
        ret[2] = strdup(CONFIG_DROPIN_DIR_LIB);
        ret[3] = NULL;
        return ret[0] && ret[1] && ret[2] ? 0 : -ENOMEM;
}

static int config_parse_dropins(Config *c, const char *path, char **reterr) {
        _cleanup_(strv_freep) char **files = NULL;
        char *dirs[4] = {};
        const char *bad_dir = NULL;
        int r;

        r = config_dropin_dirs(path, dirs);
        if (r >= 0)
                r = conf_files_list((const char *const *) dirs, &files, &bad_dir);
        if (r < 0 && bad_dir)
                r = config_refuse(reterr, r, "%s: cannot read the drop-in directory: %s", bad_dir, strerror(-r));
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                free(dirs[i]);
        if (r == -ENOMEM)
                return log_oom();
        for (char **f = files; r >= 0 && f && *f; f++)
                r = config_parse_file(c, *f, true, reterr);
        return r;
}

static int config_verify_full(const Config *c, char **reterr) {
        switch (c->auth_method) {
        case AUTH_FILE:
                if (!c->auth_token_file)
                        return config_refuse(reterr, -EINVAL, "[Auth] Method=file needs TokenFile=.");
                break;
        case AUTH_CLIENT_CREDENTIALS:
                if (!c->tenant_id || !c->client_id || !c->client_secret_file)
                        return config_refuse(reterr, -EINVAL,
                                             "[Auth] Method=client-credentials needs TenantId=, ClientId= and "
                                             "ClientSecretFile=.");
                break;
        default:
                break;
        }
        if (c->provider == PROVIDER_TPM && !c->endpoint)
                return config_refuse(reterr, -EINVAL, "[Service] Provider=tpm needs Endpoint=.");
        if (c->retry_min_usec == 0 || c->retry_min_usec > c->retry_max_usec)
                return config_refuse(reterr, -EINVAL,
                                     "[Schedule] RetryMinSec= must be non-zero and not above RetryMaxSec=.");
        if (c->request_timeout_usec == 0 || c->connect_timeout_usec == 0)
                return config_refuse(reterr, -EINVAL,
                                     "[Service] ConnectTimeoutSec= and RequestTimeoutSec= must be non-zero.");
        return 0;
}

int config_verify(const Config *c) {
        return config_verify_full(c, NULL);
}

int config_load_full(const char *path, Config **ret, char **reterr_reason) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        r = config_new_default(&c);
        if (r < 0)
                return log_oom();

        /* An explicitly named file must exist; the default one is optional. */
        r = config_parse_file(c, path ?: CONFIG_FILE_DEFAULT, path != NULL, reterr_reason);
        if (r < 0)
                return r;
        r = config_parse_dropins(c, path, reterr_reason);
        if (r < 0)
                return r;

        if (!c->runtime_directory) {
                /* systemd's RuntimeDirectory= wins over the built-in default; the key wins over both. */
                const char *e = getenv("RUNTIME_DIRECTORY");
                if (set_string(&c->runtime_directory, e && e[0] == '/' ? e : RUNSTATEDIR "/attestd") < 0)
                        return log_oom();
        }

        r = config_verify_full(c, reterr_reason);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, Config **ret) {
        return config_load_full(path, ret, NULL);
}

static void config_key_dump(const Config *c, const ConfigKey *k, FILE *f) {
        const void *field = (const uint8_t *) c + k->offset;

        fprintf(f, "%s=", k->key);
        switch (k->type) {
        case CONFIG_STRING:
        case CONFIG_HTTPS_URL:
        case CONFIG_HTTP_URL:
        case CONFIG_ABS_PATH:
        case CONFIG_PATH_OR_CREDENTIAL:
                fputs(strempty(*(char *const *) field), f);
                break;
        case CONFIG_TIMESPAN: {
                uint64_t u = *(const uint64_t *) field;
                if (u % USEC_PER_SEC == 0)
                        fprintf(f, "%" PRIu64 "s", u / USEC_PER_SEC);
                else
                        fprintf(f, "%" PRIu64 "ms", u / USEC_PER_MSEC);
                break;
        }
        case CONFIG_BOOL:
                fputs(*(const bool *) field ? "yes" : "no", f);
                break;
        case CONFIG_HANDLE:
                fprintf(f, "0x%08" PRIx32, *(const uint32_t *) field);
                break;
        case CONFIG_PERCENT:
                fprintf(f, "%u", *(const unsigned *) field);
                break;
        case CONFIG_PCRS: {
                uint32_t m = *(const uint32_t *) field;
                bool first = true;
                for (unsigned i = 0; i < 24; i++) {
                        if (!(m & (UINT32_C(1) << i)))
                                continue;
                        unsigned j = i;
                        while (j + 1 < 24 && (m & (UINT32_C(1) << (j + 1))))
                                j++;
                        fprintf(f, first ? "%u" : ",%u", i);
                        if (j > i)
                                fprintf(f, "-%u", j);
                        first = false;
                        i = j;
                }
                break;
        }
        case CONFIG_BANKS:
                for (size_t i = 0; i < c->n_banks; i++)
                        fprintf(f, i ? ",%s" : "%s", bank_to_string(c->banks[i]));
                break;
        case CONFIG_AUTH_METHOD:
                fputs(auth_method_to_string(*(const AuthMethod *) field), f);
                break;
        case CONFIG_AK_ALGORITHM:
                fputs(ak_algorithm_to_string(*(const AkAlgorithm *) field), f);
                break;
        case CONFIG_PROVIDER:
                fputs(provider_kind_to_string(*(const ProviderKind *) field), f);
                /* What auto means here, so an operator need not work it out. */
                if (c->provider == PROVIDER_AUTO && c->endpoint)
                        fputs("\n# resolved: tpm (Endpoint= is set)", f);
                else if (c->provider != PROVIDER_TPM && !c->endpoint)
                        fprintf(f, "\n# resolved at run time: azure-guest%s, endpoint = the shared provider of the "
                                "VM's region (IMDS at %s)", c->provider == PROVIDER_AUTO ?
                                " if this is an Azure VM (IMDS answers, AK 0x81000003 and its certificate "
                                "in NV 0x01C101D0 exist)" : "", strna(c->imds_url));
                break;
        }
        fputc('\n', f);
}

void config_dump(const Config *c, FILE *f) {
        const char *section = NULL;

        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
                if (!streq_ptr(section, config_keys[i].section)) {
                        section = config_keys[i].section;
                        fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
                }
                config_key_dump(c, &config_keys[i], f);
        }
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (config_type_is_string(config_keys[i].type))
                        free(*(char **) ((uint8_t *) c + config_keys[i].offset));
        free(c);
        return NULL;
}
