/* SPDX-License-Identifier: MIT */
/* attestd's configuration: /etc/attestd/attestd.conf plus drop-ins, parsed through one key table
 * into an immutable Config. Lower modules read fields; only config.c writes them. */
#pragma once

#include <stdint.h>

#include "util.h"

#define CONFIG_FILE_DEFAULT SYSCONFDIR "/attestd/attestd.conf"
/* Drop-ins of the default file, highest precedence first (systemd's order: /etc, /run, /usr/lib). */
#define CONFIG_DROPIN_DIR_ETC CONFIG_FILE_DEFAULT ".d"
#define CONFIG_DROPIN_DIR_RUN RUNSTATEDIR "/attestd/attestd.conf.d"
#define CONFIG_DROPIN_DIR_LIB LIBCONFDIR "/attestd/attestd.conf.d"
#define CONFIG_MAX_BANKS 5
#define CONFIG_CLOCK_SKEW_MAX_USEC (5 * 60 * USEC_PER_SEC)

typedef enum AuthMethod {
        AUTH_NONE,
        AUTH_FILE,
        AUTH_IMDS,
        AUTH_CLIENT_CREDENTIALS,
        _AUTH_METHOD_MAX,
        _AUTH_METHOD_INVALID = -EINVAL,
} AuthMethod;

typedef enum AkAlgorithm {
        AK_ALG_RSA,
        AK_ALG_ECC,
        _AK_ALG_MAX,
        _AK_ALG_INVALID = -EINVAL,
} AkAlgorithm;

typedef enum ProviderKind {
        PROVIDER_AUTO,                  /* tpm with Endpoint=, else azure-guest on an Azure VM */
        PROVIDER_TPM,                   /* /attest/Tpm (PROTOCOL.md) */
        PROVIDER_AZURE_GUEST,           /* /attest/AzureGuest (AZURE-GUEST.md) */
        _PROVIDER_MAX,
        _PROVIDER_INVALID = -EINVAL,
} ProviderKind;

typedef struct Config {
        /* [Service] */
        ProviderKind provider;
        char *endpoint;                 /* https://<provider>.<region>.attest.azure.net, no trailing '/';
                                         * NULL = found at run time (azure-guest only) */
        char *api_version;
        char *ca_file;                  /* CA bundle replacing the system store; NULL = system store */
        char *proxy;                    /* NULL = libcurl's usual environment variables */
        uint64_t connect_timeout_usec;
        uint64_t request_timeout_usec;
        uint64_t clock_skew_usec;       /* tolerance for exp/nbf */
        char *rp_id;                    /* relying-party id sent as rp_id; NULL = not sent */
        bool send_nonce;                /* send a fresh rp_data nonce and check it in the token */
        char *shared_providers;         /* azure-guest: a region -> provider table over the built-in one */

        /* [Auth] */
        AuthMethod auth_method;
        char *auth_token_file;          /* Method=file: path, or credential name */
        char *tenant_id;
        char *client_id;                /* client-credentials, or a user-assigned identity for imds */
        char *client_secret_file;       /* path, or credential name */
        char *authority_url;            /* https://login.microsoftonline.com */
        char *imds_url;                 /* http://169.254.169.254 */

        /* [TPM] */
        char *tcti;
        uint32_t ak_handle;             /* persistent handle: used if present, else created there */
        AkAlgorithm ak_algorithm;
        uint32_t ak_cert_nv_index;      /* 0 = none */
        char *ak_cert_file;             /* NULL = none */
        bool ak_cert_renewal;           /* azure-guest: renew a certificate near expiry through IMDS */
        uint32_t pcr_mask;              /* bit n = PCR n */
        uint16_t banks[CONFIG_MAX_BANKS]; /* TPM2_ALG_ID, in quote order */
        size_t n_banks;
        char *event_log;
        char *ima_log;                  /* NULL = not sent */

        /* [Schedule] */
        uint64_t refresh_interval_usec; /* 0 = only by token lifetime */
        unsigned refresh_percent;       /* of the token lifetime */
        uint64_t retry_min_usec;
        uint64_t retry_max_usec;
        uint64_t pcr_poll_interval_usec; /* 0 = no polling */
        uint64_t pcr_debounce_usec;
        uint64_t pcr_debounce_max_usec; /* the debounce never delays a PCR change's attempt longer */
        uint64_t pcr_min_interval_usec; /* between two PCR-triggered attempts */

        /* [Cache] */
        char *runtime_directory;
        char *token_group;              /* NULL = root only */
        bool keep_token_on_denial;
} Config;

/* Builds a Config with every default filled in. */
int config_new_default(Config **ret);

/* Loads PATH and its drop-ins over the defaults. PATH NULL means the default file (optional) with
 * the drop-ins of CONFIG_DROPIN_DIR_ETC, _RUN and _LIB: the same file name in an earlier directory
 * hides the later ones, and all are read in file-name order (systemd's rules); an explicit PATH must
 * exist and gets PATH.d/ *.conf only. Unknown sections, unknown keys outside [Service], [Auth] and
 * [TPM], and bad values of keys that only tune behaviour, are logged as warnings with file:line
 * and ignored. A bad value of a security-relevant key, an unknown key (or a misspelt section) where
 * one could hide such a key, or a failed cross-field check fails with -EINVAL after logging file,
 * line, key and why. The first such reason also goes to *reterr_reason (malloc'd) when that is not
 * NULL, for a D-Bus error; the caller says what happens next (refusing to start, keeping the
 * running configuration). */
int config_load_full(const char *path, Config **ret, char **reterr_reason);
int config_load(const char *path, Config **ret);

/* Parses one file's text over an existing Config (used by config_load and the tests).
 * FILENAME only labels messages. */
int config_parse_text(Config *c, const char *filename, const char *text, size_t size);

/* Cross-field validation after all files; -EINVAL with a logged reason. */
int config_verify(const Config *c);

/* Writes the effective configuration in config-file syntax (attestd --test-config). */
void config_dump(const Config *c, FILE *f);

Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

const char *auth_method_to_string(AuthMethod m);
AuthMethod auth_method_from_string(const char *s);
const char *ak_algorithm_to_string(AkAlgorithm a);
const char *provider_kind_to_string(ProviderKind p);
ProviderKind provider_kind_from_string(const char *s);

/* The provider Provider= resolves to from the configuration alone: PROVIDER_TPM, or
 * PROVIDER_AZURE_GUEST (Provider=auto without Endpoint=: whether this is an Azure VM is then found
 * out at run time, and the run fails with a reason when it is not). */
ProviderKind config_resolve_provider(const Config *c);

/* Small parsers shared with attestctl and the tests. All return 0 or -EINVAL/-ERANGE. */
int parse_timespan(const char *s, uint64_t *ret_usec);
int parse_boolean(const char *s, bool *ret);
int parse_pcr_list(const char *s, uint32_t *ret_mask);
int parse_bank_list(const char *s, uint16_t ret_banks[CONFIG_MAX_BANKS], size_t *ret_n);
const char *bank_to_string(uint16_t alg);
int bank_from_string(const char *s); /* TPM2_ALG_ID or -EINVAL */
