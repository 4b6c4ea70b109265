/* SPDX-License-Identifier: MIT */
/* Unit tests for config.c and config-parse.c: every key with good and bad values, drop-in order,
 * unknown keys, garbage bytes, empty files. */
#include <check.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <tss2/tss2_tpm2_types.h>

#include "check-main.h"
#include "conf-files.h"
#include "config.h"
#include "edit-distance.h"
#include "log.h"

static Config *parse(const char *text, int *ret_r) {
        Config *c = NULL;
        ck_assert_int_eq(config_new_default(&c), 0);
        *ret_r = config_parse_text(c, "test.conf", text, strlen(text));
        return c;
}

/* One row: a config text and what must come of it. */
typedef struct KeyCase {
        const char *text;
        int expect_r;                 /* of config_parse_text */
        const char *dump_line;        /* a line config_dump must print afterwards; NULL = unchecked */
} KeyCase;

static const KeyCase key_cases[] = {
        /* [Service] */
        { "[Service]\nProvider=azure-guest", 0, "Provider=azure-guest" },
        { "[Service]\nProvider=tpm", 0, "Provider=tpm" },
        { "[Service]\nProvider=auto", 0, "Provider=auto" },
        { "[Service]\nProvider=azure", -EINVAL, NULL },
        { "[Service]\nEndpoint=https://a.eus.attest.azure.net", 0, "Endpoint=https://a.eus.attest.azure.net" },
        { "[Service]\nEndpoint=https://a.example:8443//", 0, "Endpoint=https://a.example:8443" },
        { "[Service]\nEndpoint=http://a.example", -EINVAL, NULL },
        { "[Service]\nEndpoint=https://", -EINVAL, NULL },
        { "[Service]\nEndpoint=https://a.example/?x=1", -EINVAL, NULL },
        { "[Service]\nEndpoint=https://user@a.example", -EINVAL, NULL },
        { "[Service]\nEndpoint=https://a b", -EINVAL, NULL },
        { "[Service]\nApiVersion=2025-06-01", 0, "ApiVersion=2025-06-01" },
        { "[Service]\nCAFile=/etc/ssl/ca.pem", 0, "CAFile=/etc/ssl/ca.pem" },
        { "[Service]\nCAFile=relative.pem", -EINVAL, NULL },
        { "[Service]\nProxy=http://proxy:3128", 0, "Proxy=http://proxy:3128" },
        { "[Service]\nProxy=a\x01", -EINVAL, NULL },
        { "[Service]\nConnectTimeoutSec=3", 0, "ConnectTimeoutSec=3s" },
        { "[Service]\nConnectTimeoutSec=500ms", 0, "ConnectTimeoutSec=500ms" },
        { "[Service]\nConnectTimeoutSec=fast", 0, "ConnectTimeoutSec=10s" },
        { "[Service]\nRequestTimeoutSec=1h 30min", 0, "RequestTimeoutSec=5400s" },
        { "[Service]\nRequestTimeoutSec=-1", 0, "RequestTimeoutSec=60s" },
        { "[Service]\nClockSkewSec=2min", 0, "ClockSkewSec=120s" },
        { "[Service]\nClockSkewSec=5min", 0, "ClockSkewSec=300s" },
        /* A larger skew lets expired tokens through: refused, not defaulted. */
        { "[Service]\nClockSkewSec=301s", -EINVAL, NULL },
        { "[Service]\nClockSkewSec=1d", -EINVAL, NULL },
        { "[Service]\nClockSkewSec=soon", -EINVAL, NULL },
        { "[Service]\nRelyingPartyId=https://contoso.com", 0, "RelyingPartyId=https://contoso.com" },
        { "[Service]\nSendNonce=no", 0, "SendNonce=no" },
        { "[Service]\nSharedProviders=/etc/attestd/regions.tsv", 0, "SharedProviders=/etc/attestd/regions.tsv" },
        { "[Service]\nSharedProviders=regions.tsv", -EINVAL, NULL },
        { "[Service]\nSendNonce=maybe", 0, "SendNonce=yes" },
        /* [Auth] */
        { "[Auth]\nMethod=imds", 0, "Method=imds" },
        { "[Auth]\nMethod=client-credentials", 0, "Method=client-credentials" },
        { "[Auth]\nMethod=kerberos", -EINVAL, NULL },
        { "[Auth]\nTokenFile=/run/token", 0, "TokenFile=/run/token" },
        { "[Auth]\nTokenFile=maa-token", 0, "TokenFile=maa-token" },
        { "[Auth]\nTokenFile=dir/token", -EINVAL, NULL },
        { "[Auth]\nTenantId=72f988bf-86f1-41af-91ab-2d7cd011db47", 0, "TenantId=72f988bf-86f1-41af-91ab-2d7cd011db47" },
        { "[Auth]\nClientId=abc", 0, "ClientId=abc" },
        { "[Auth]\nClientSecretFile=/etc/attestd/secret", 0, "ClientSecretFile=/etc/attestd/secret" },
        { "[Auth]\nClientSecretFile=x/y", -EINVAL, NULL },
        { "[Auth]\nAuthorityURL=https://login.example", 0, "AuthorityURL=https://login.example" },
        { "[Auth]\nAuthorityURL=http://login.example", -EINVAL, NULL },
        { "[Auth]\nIMDSURL=http://127.0.0.1:8080", 0, "IMDSURL=http://127.0.0.1:8080" },
        { "[Auth]\nIMDSURL=ftp://x", -EINVAL, NULL },
        /* [TPM] */
        { "[TPM]\nTCTI=swtpm:path=/tmp/s", 0, "TCTI=swtpm:path=/tmp/s" },
        { "[TPM]\nTCTI=dev\x7f", -EINVAL, NULL },
        { "[TPM]\nAKHandle=0x81010002", 0, "AKHandle=0x81010002" },
        { "[TPM]\nAKHandle=0x1ffffffff", -EINVAL, NULL },
        { "[TPM]\nAKHandle=handle", -EINVAL, NULL },
        { "[TPM]\nAKAlgorithm=ecc", 0, "AKAlgorithm=ecc" },
        { "[TPM]\nAKAlgorithm=dsa", -EINVAL, NULL },
        { "[TPM]\nAKCertNVIndex=0", 0, "AKCertNVIndex=0x00000000" },
        { "[TPM]\nAKCertFile=/etc/ak.pem", 0, "AKCertFile=/etc/ak.pem" },
        { "[TPM]\nAKCertRenewal=yes", 0, "AKCertRenewal=yes" },
        { "[TPM]\nAKCertRenewal=later", 0, "AKCertRenewal=no" },
        { "[TPM]\nPCRs=0-7,14", 0, "PCRs=0-7,14" },
        { "[TPM]\nPCRs=0, 2 ,4-5", 0, "PCRs=0,2,4-5" },
        { "[TPM]\nPCRs=0-24", -EINVAL, NULL },
        { "[TPM]\nPCRs=7-3", -EINVAL, NULL },
        { "[TPM]\nPCRs=1,,2", -EINVAL, NULL },
        { "[TPM]\nBanks=sha1,sha256,sha384", 0, "Banks=sha1,sha256,sha384" },
        { "[TPM]\nBanks=sha256,sha256", -EINVAL, NULL },
        { "[TPM]\nBanks=md5", -EINVAL, NULL },
        { "[TPM]\nEventLog=/tmp/log.bin", 0, "EventLog=/tmp/log.bin" },
        { "[TPM]\nIMALog=ima", -EINVAL, NULL },
        /* [Schedule] */
        { "[Schedule]\nRefreshIntervalSec=1h", 0, "RefreshIntervalSec=3600s" },
        { "[Schedule]\nRefreshPercent=75%", 0, "RefreshPercent=75" },
        { "[Schedule]\nRefreshPercent=100", 0, "RefreshPercent=80" },
        { "[Schedule]\nRetryMinSec=1s", 0, "RetryMinSec=1s" },
        { "[Schedule]\nRetryMaxSec=1d", 0, "RetryMaxSec=86400s" },
        { "[Schedule]\nPCRPollIntervalSec=0", 0, "PCRPollIntervalSec=0s" },
        { "[Schedule]\nPCRDebounceSec=250ms", 0, "PCRDebounceSec=250ms" },
        { "[Schedule]\nPCRDebounceMaxSec=1min", 0, "PCRDebounceMaxSec=60s" },
        { "[Schedule]\nPCRMinIntervalSec=0", 0, "PCRMinIntervalSec=0s" },
        /* [Cache] */
        { "[Cache]\nRuntimeDirectory=/tmp/rt", 0, "RuntimeDirectory=/tmp/rt" },
        { "[Cache]\nRuntimeDirectory=rt", -EINVAL, NULL },
        { "[Cache]\nTokenGroup=attest", 0, "TokenGroup=attest" },
        { "[Cache]\nKeepTokenOnDenial=yes", 0, "KeepTokenOnDenial=yes" },
};

START_TEST(test_key) {
        const KeyCase *k = &key_cases[_i];
        int r;
        _cleanup_(config_freep) Config *c = parse(k->text, &r);

        ck_assert_msg(r == k->expect_r, "'%s': got %d, expected %d", k->text, r, k->expect_r);
        if (!k->dump_line)
                return;

        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        config_dump(c, f);
        fclose(f);
        char needle[256];
        snprintf(needle, sizeof needle, "\n%s\n", k->dump_line);
        ck_assert_msg(strstr(buf, needle), "'%s': dump lacks '%s':\n%s", k->text, k->dump_line, buf);
        free(buf);
}
END_TEST

START_TEST(test_every_key_in_table_is_tested) {
        /* Each key of the dump appears in at least one test row, so new keys get tests. */
        _cleanup_(config_freep) Config *c = NULL;
        char *buf = NULL, *save = NULL;
        size_t size = 0;

        ck_assert_int_eq(config_new_default(&c), 0);
        FILE *f = open_memstream(&buf, &size);
        config_dump(c, f);
        fclose(f);
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (l[0] == '[' || l[0] == '#')
                        continue;
                char key[64];
                snprintf(key, sizeof key, "\n%.*s=", (int) strcspn(l, "="), l);
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(key_cases) && !found; i++)
                        found = strstr(key_cases[i].text, key) != NULL;
                ck_assert_msg(found, "key %s has no test row", key + 1);
        }
        free(buf);
}
END_TEST

/* What Provider= resolves to, and what --test-config says about it. */
START_TEST(test_provider_resolution) {
        static const struct {
                const char *text;
                ProviderKind want;
                const char *comment;
        } cases[] = {
                { "", PROVIDER_AZURE_GUEST, "# resolved at run time: azure-guest if this is an Azure VM" },
                { "[Service]\nEndpoint=https://a.example", PROVIDER_TPM, "# resolved: tpm (Endpoint= is set)" },
                { "[Service]\nProvider=azure-guest", PROVIDER_AZURE_GUEST, "# resolved at run time: azure-guest, endpoint" },
                { "[Service]\nProvider=azure-guest\nEndpoint=https://a.example", PROVIDER_AZURE_GUEST, NULL },
                { "[Service]\nProvider=tpm\nEndpoint=https://a.example", PROVIDER_TPM, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r;
                _cleanup_(config_freep) Config *c = parse(cases[i].text, &r);
                char *buf = NULL;
                size_t size = 0;

                ck_assert_int_eq(r, 0);
                ck_assert_int_eq(config_resolve_provider(c), cases[i].want);
                ck_assert_int_eq(config_verify(c), 0);
                FILE *f = open_memstream(&buf, &size);
                config_dump(c, f);
                fclose(f);
                if (cases[i].comment)
                        ck_assert_msg(strstr(buf, cases[i].comment), "'%s': no '%s' in:\n%s", cases[i].text,
                                      cases[i].comment, buf);
                else
                        ck_assert_ptr_null(strstr(buf, "# resolved"));
                free(buf);
        }
}
END_TEST

START_TEST(test_provider_tpm_needs_endpoint) {
        int r;
        _cleanup_(config_freep) Config *c = parse("[Service]\nProvider=tpm", &r);

        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(config_verify(c), -EINVAL);
}
END_TEST

START_TEST(test_defaults) {
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_int_eq(config_new_default(&c), 0);
        ck_assert_ptr_null(c->endpoint);
        ck_assert_str_eq(c->tcti, "device:/dev/tpmrm0");
        ck_assert_uint_eq(c->ak_handle, 0x81000003);
        ck_assert_uint_eq(c->pcr_mask, 0xFFFFFF);
        ck_assert_uint_eq(c->n_banks, 1);
        ck_assert_uint_eq(c->banks[0], TPM2_ALG_SHA256);
        ck_assert_int_eq(c->auth_method, AUTH_NONE);
        ck_assert_uint_eq(c->refresh_percent, 80);
        ck_assert_int_eq(config_verify(c), 0);
}
END_TEST

START_TEST(test_unknown_and_malformed_lines) {
        static const char text[] =
                "# comment\n; other comment\n\n"
                "Endpoint=https://outside.section\n"
                "[Nope]\nEndpoint=http://ignored-because-section-unknown\n"
                "[Service\n"
                "[Service]\njust words\n   ApiVersion  =  v9  \r\n"
                "[Schedule]\nNoSuchKey=1\n[Cache]\nEndpoint=https://misplaced.example\n";
        int r;
        _cleanup_(config_freep) Config *c = parse(text, &r);

        ck_assert_int_eq(r, 0);
        ck_assert_ptr_null(c->endpoint);
        ck_assert_str_eq(c->api_version, "v9");
}
END_TEST

/* A misspelt key where it could hide a security setting refuses the load (it used to be ignored,
 * leaving Method=none or no Endpoint= in force), with the reason kept for Reload()'s error. */
START_TEST(test_unknown_key_in_strict_section) {
        static const struct {
                const char *text;
                int expect_r;
        } cases[] = {
                { "[Auth]\nMethd=imds\n", -EINVAL },
                { "[Service]\nEndpont=https://a.example\n", -EINVAL },
                { "[TPM]\nNoSuchKey=1\n", -EINVAL },
                { "[Servce]\nEndpoint=https://a.example\n", -EINVAL },
                { "[Schedule]\nRetryMinSecs=1\n", 0 },
                { "[Cache]\nRelyingPartyId=x\n", 0 },
                { "[Whatever]\nX=1\n", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r;
                _cleanup_(config_freep) Config *c = parse(cases[i].text, &r);
                ck_assert_msg(r == cases[i].expect_r, "'%s': got %d", cases[i].text, r);
        }
}
END_TEST

START_TEST(test_load_reason) {
        char dir[] = "/tmp/test-config-XXXXXX", path[256];
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *reason = NULL;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/attestd.conf", dir);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("[Auth]\n\nMethd=imds\n", f);
        fclose(f);
        ck_assert_int_eq(config_load_full(path, &c, &reason), -EINVAL);
        ck_assert_ptr_nonnull(reason);
        ck_assert_msg(strstr(reason, "attestd.conf:3: Unknown key 'Methd' in section [Auth]; did you mean Method=?"),
                      "reason: %s", reason);
        reason = mfree(reason);

        f = fopen(path, "we");
        fputs("[Service]\nProvider=tpm\n", f);
        fclose(f);
        ck_assert_int_eq(config_load_full(path, &c, &reason), -EINVAL);
        ck_assert_str_eq(reason, "[Service] Provider=tpm needs Endpoint=.");
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_edit_distance) {
        static const char *const keys[] = { "Method", "TokenFile", "TenantId", "ClientId" };

        ck_assert_uint_eq(edit_distance("", ""), 0);
        ck_assert_uint_eq(edit_distance("Methd", "Method"), 1);
        ck_assert_uint_eq(edit_distance("method", "Method"), 0);
        ck_assert_uint_eq(edit_distance("kitten", "sitting"), 3);
        ck_assert_uint_eq(edit_distance("abc", ""), 3);
        ck_assert_str_eq(edit_distance_suggest("Methd", keys, ELEMENTSOF(keys)), "Method");
        ck_assert_str_eq(edit_distance_suggest("TennantID", keys, ELEMENTSOF(keys)), "TenantId");
        ck_assert_ptr_null(edit_distance_suggest("Endpoint", keys, ELEMENTSOF(keys)));
        char longname[EDIT_DISTANCE_NAME_MAX + 2];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        ck_assert_uint_eq(edit_distance(longname, "a"), SIZE_MAX);
}
END_TEST

START_TEST(test_garbage_bytes) {
        uint8_t junk[4096];
        _cleanup_(config_freep) Config *c = NULL;
        unsigned seed = 12345;

        for (size_t i = 0; i < sizeof junk; i++) {
                seed = seed * 1103515245 + 12345;
                junk[i] = (uint8_t) (seed >> 16);
        }
        ck_assert_int_eq(config_new_default(&c), 0);
        /* Garbage may hit a security key by chance only if it forms "[TPM]\nTCTI=..."; it cannot. */
        ck_assert_int_eq(config_parse_text(c, "junk", (const char *) junk, sizeof junk), 0);
        ck_assert_str_eq(c->tcti, "device:/dev/tpmrm0");

        static const char with_nul[] = "[Service]\nApiVersion=a\0b\nConnectTimeoutSec=7\n";
        ck_assert_int_eq(config_parse_text(c, "nul", with_nul, sizeof with_nul - 1), 0);
        ck_assert_str_eq(c->api_version, "2022-08-01");
        ck_assert_uint_eq(c->connect_timeout_usec, 7 * USEC_PER_SEC);
}
END_TEST

START_TEST(test_empty_file_and_reset) {
        int r;
        _cleanup_(config_freep) Config *c = parse("", &r);

        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(config_parse_text(c, "a", "[TPM]\nTCTI=mssim\nPCRs=1\n", 23), 0);
        ck_assert_str_eq(c->tcti, "mssim");
        ck_assert_int_eq(config_parse_text(c, "b", "[TPM]\nTCTI=\nPCRs=\n", 18), 0);
        ck_assert_str_eq(c->tcti, "device:/dev/tpmrm0");
        ck_assert_uint_eq(c->pcr_mask, 0xFFFFFF);
}
END_TEST

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

START_TEST(test_load_dropins_in_order) {
        char dir[] = "/tmp/test-config-XXXXXX", path[256], dropins[300], p[400];
        _cleanup_(config_freep) Config *c = NULL;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/attestd.conf", dir);
        snprintf(dropins, sizeof dropins, "%s.d", path);
        write_file(path, "[Service]\nApiVersion=main\nEndpoint=https://main.example\n");
        ck_assert_int_eq(mkdir(dropins, 0755), 0);
        snprintf(p, sizeof p, "%s/50-b.conf", dropins);
        write_file(p, "[Service]\nApiVersion=b\n");
        snprintf(p, sizeof p, "%s/10-a.conf", dropins);
        write_file(p, "[Service]\nApiVersion=a\nEndpoint=https://a.example\n");
        snprintf(p, sizeof p, "%s/99-z.conf.disabled", dropins);
        write_file(p, "[Service]\nApiVersion=z\n");
        snprintf(p, sizeof p, "%s/.hidden.conf", dropins);
        write_file(p, "[Service]\nApiVersion=hidden\n");

        unsetenv("RUNTIME_DIRECTORY");
        ck_assert_int_eq(config_load(path, &c), 0);
        ck_assert_str_eq(c->api_version, "b");
        ck_assert_str_eq(c->endpoint, "https://a.example");
        ck_assert_str_eq(c->runtime_directory, "/run/attestd");
        config_free(TAKE_PTR(c));

        setenv("RUNTIME_DIRECTORY", "/run/custom", 1);
        ck_assert_int_eq(config_load(path, &c), 0);
        ck_assert_str_eq(c->runtime_directory, "/run/custom");
        config_free(TAKE_PTR(c));

        /* A bad security value in a drop-in refuses the whole load. */
        snprintf(p, sizeof p, "%s/60-bad.conf", dropins);
        write_file(p, "[TPM]\nAKHandle=nope\n");
        ck_assert_int_eq(config_load(path, &c), -EINVAL);
        ck_assert_ptr_null(c);

        snprintf(p, sizeof p, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(p), 0);
}
END_TEST

static void write_at(const char *dir, const char *name, const char *text) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        write_file(p, text);
}

/* systemd's rules over /etc, /run and /usr/lib: a name in a higher directory hides the same name
 * below, a /dev/null link masks it, and all are read in file-name order. */
START_TEST(test_conf_files_precedence) {
        char root[] = "/tmp/test-conf-files-XXXXXX", etc[300], run[300], lib[300], p[600];
        _cleanup_(strv_freep) char **files = NULL;

        ck_assert_ptr_nonnull(mkdtemp(root));
        snprintf(etc, sizeof etc, "%s/etc", root);
        snprintf(run, sizeof run, "%s/run", root);
        snprintf(lib, sizeof lib, "%s/lib", root);
        ck_assert_int_eq(mkdir(etc, 0755), 0);
        ck_assert_int_eq(mkdir(lib, 0755), 0); /* run/ stays missing at first */
        write_at(lib, "10-vendor.conf", "");
        write_at(lib, "50-both.conf", "");
        write_at(etc, "50-both.conf", "");
        write_at(lib, "60-masked.conf", "");
        snprintf(p, sizeof p, "%s/60-masked.conf", etc);
        ck_assert_int_eq(symlink("/dev/null", p), 0);
        write_at(etc, "90-admin.conf", "");
        write_at(etc, "README", "");
        const char *const dirs[] = { etc, run, lib, NULL };

        ck_assert_int_eq(conf_files_list(dirs, &files, NULL), 3);
        snprintf(p, sizeof p, "%s/10-vendor.conf", lib);
        ck_assert_str_eq(files[0], p);
        snprintf(p, sizeof p, "%s/50-both.conf", etc);
        ck_assert_str_eq(files[1], p);
        snprintf(p, sizeof p, "%s/90-admin.conf", etc);
        ck_assert_str_eq(files[2], p);
        ck_assert_ptr_null(files[3]);
        files = strv_free(files);

        ck_assert_int_eq(mkdir(run, 0755), 0);
        write_at(run, "10-vendor.conf", "");
        write_at(run, "20-cloud-init.conf", "");
        ck_assert_int_eq(conf_files_list(dirs, &files, NULL), 4);
        snprintf(p, sizeof p, "%s/10-vendor.conf", run);
        ck_assert_str_eq(files[0], p);
        snprintf(p, sizeof p, "%s/20-cloud-init.conf", run);
        ck_assert_str_eq(files[1], p);

        snprintf(p, sizeof p, "rm -rf '%s'", root);
        ck_assert_int_eq(system(p), 0);
}
END_TEST

START_TEST(test_load_missing) {
        _cleanup_(config_freep) Config *c = NULL;
        ck_assert_int_eq(config_load("/nonexistent/attestd.conf", &c), -ENOENT);
        ck_assert_int_eq(config_load("/tmp", &c), -EINVAL);
}
END_TEST

START_TEST(test_cross_field_checks) {
        int r;
        _cleanup_(config_freep) Config *a = parse("[Auth]\nMethod=file\n", &r);
        ck_assert_int_eq(config_verify(a), -EINVAL);
        _cleanup_(config_freep) Config *b = parse("[Auth]\nMethod=client-credentials\nTenantId=t\nClientId=c\n", &r);
        ck_assert_int_eq(config_verify(b), -EINVAL);
        _cleanup_(config_freep) Config *d = parse("[Schedule]\nRetryMinSec=2h\n", &r);
        ck_assert_int_eq(config_verify(d), -EINVAL);
        _cleanup_(config_freep) Config *e = parse("[Auth]\nMethod=client-credentials\nTenantId=t\n"
                                                  "ClientId=c\nClientSecretFile=s\n", &r);
        ck_assert_int_eq(config_verify(e), 0);
}
END_TEST

START_TEST(test_parse_helpers) {
        uint64_t u;
        uint32_t m;
        uint16_t banks[CONFIG_MAX_BANKS];
        size_t n;
        bool b;

        ck_assert_int_eq(parse_timespan("1d 2h 3min 4s 5ms 6us", &u), 0);
        ck_assert_uint_eq(u, 86400000000ULL + 7200000000ULL + 180000000ULL + 4000000ULL + 5000ULL + 6ULL);
        ck_assert_int_eq(parse_timespan("", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan("5 parsecs", &u), -EINVAL);
        ck_assert_int_eq(parse_timespan("99999999999999999999", &u), -ERANGE);
        ck_assert_int_eq(parse_timespan("18446744073709d", &u), -ERANGE);
        ck_assert_int_eq(parse_pcr_list("23", &m), 0);
        ck_assert_uint_eq(m, 1u << 23);
        ck_assert_int_eq(parse_pcr_list("", &m), -EINVAL);
        ck_assert_int_eq(parse_pcr_list("1-", &m), -EINVAL);
        ck_assert_int_eq(parse_pcr_list("3 4", &m), -EINVAL);
        ck_assert_int_eq(parse_bank_list("SHA384, sha1", banks, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(banks[0], TPM2_ALG_SHA384);
        ck_assert_int_eq(parse_bank_list("sha1,", banks, &n), -EINVAL);
        ck_assert_int_eq(parse_bank_list("averyveryverylongname", banks, &n), -EINVAL);
        ck_assert_int_eq(parse_boolean("On", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(parse_boolean("2", &b), -EINVAL);
        ck_assert_str_eq(bank_to_string(TPM2_ALG_SM3_256), "sm3_256");
        ck_assert_ptr_null(bank_to_string(0x1234));
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("keys");
        tcase_add_loop_test(tc, test_key, 0, ELEMENTSOF(key_cases));
        tcase_add_test(tc, test_every_key_in_table_is_tested);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_provider_resolution);
        tcase_add_test(tc, test_provider_tpm_needs_endpoint);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_test(tc, test_unknown_and_malformed_lines);
        tcase_add_test(tc, test_unknown_key_in_strict_section);
        tcase_add_test(tc, test_load_reason);
        tcase_add_test(tc, test_conf_files_precedence);
        tcase_add_test(tc, test_garbage_bytes);
        tcase_add_test(tc, test_empty_file_and_reset);
        tcase_add_test(tc, test_load_dropins_in_order);
        tcase_add_test(tc, test_load_missing);
        tcase_add_test(tc, test_cross_field_checks);
        suite_add_tcase(s, tc);

        tc = tcase_create("parsers");
        tcase_add_test(tc, test_parse_helpers);
        tcase_add_test(tc, test_edit_distance);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        log_set_max_level(LOG_ERR); /* the warnings under test would drown the output */
        return check_run(config_suite());
}
