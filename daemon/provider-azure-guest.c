/* SPDX-License-Identifier: MIT */
/* The /attest/AzureGuest provider (AZURE-GUEST.md §11): finds the region's shared provider through
 * IMDS when no Endpoint= is set, gathers the Azure VM's evidence (AK certificate, quote of PCRs 0-7,
 * a PCR-bound encryption key certified by the AK, the HCL report of a CVM), posts it once, and
 * unwraps the sealed token in the TPM before the shared driver verifies it. */
#include <ctype.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest-internal.h"
#include "azure-guest-msg.h"
#include "azure-vm.h"
#include "b64.h"
#include "cleanup.h"
#include "evidence.h"
#include "fileio.h"
#include "log.h"
#include "tpm-ak.h"
#include "tpm-enckey.h"

#define NONCE_SIZE 16
#define IMDS_TEXT_MAX 256
#define OS_RELEASE_MAX (64 * 1024)
#define AK_CERT_PEM_MAX (64 * 1024)

/* Across runs. */
typedef struct AzureProvider {
        TpmAk *ak;                      /* 0x81000003, loaded on the first run */
} AzureProvider;

/* One run. */
typedef struct AzureRun {
        Buffer ak_cert;                 /* DER */
        AzureHclReport hcl;             /* CVMs only */
        char *vcek_chain;               /* SEV-SNP only */
        TpmQuote quote;
        TpmEncKey enc_key;
        char *nonce;                    /* ClientPayload.nonce as sent */
        char *renew_vm_id;              /* during an AK certificate renewal */
} AzureRun;

static AzureProvider *state(Attester *a) {
        return a->state;
}

static AzureRun *run(Attester *a) {
        return a->run;
}

static void azure_reset(Attester *a) {
        AzureRun *r = a->run;

        if (!r)
                return;
        buffer_done(&r->ak_cert);
        azure_hcl_report_done(&r->hcl);
        free(r->vcek_chain);
        tpm_quote_done(&r->quote);
        tpm_enckey_done(&r->enc_key);
        free(r->nonce);
        free(r->renew_vm_id);
        free(r);
        a->run = NULL;
}

static int azure_init(Attester *a, void **ret_state) {
        AzureProvider *p = calloc(1, sizeof *p);

        if (!p)
                return -ENOMEM;
        *ret_state = p;
        return 0;
}

static void azure_free_state(void *s) {
        AzureProvider *p = s;

        if (!p)
                return;
        tpm_ak_free(p->ak);
        free(p);
}

/* The TPM's own description of a failure when it has one. */
static const char *tpm_reason(Attester *a, int r) {
        const char *e = tpm_context_last_error(a->tpm);
        return *e ? e : strerror(-r);
}

static AttestOutcome tpm_outcome(int r) {
        return r == -EBUSY ? ATTEST_RETRY : ATTEST_ERROR;
}

static const char *imds_headers[] = { "Metadata: true", NULL };

/* An IMDS request that got no usable answer: no answer at all counts as unreachable, an error
 * status as the service's. */
static void imds_failed(Attester *a, const HttpResult *res) {
        a->result.failure_class = res->error < 0 ? ATTEST_FAILURE_UNREACHABLE : ATTEST_FAILURE_SERVICE;
}

static int imds_url(Attester *a, const char *path, char **ret) {
        return endpoint_url(a->config->imds_url, path, ret);
}

/* GET {IMDSURL}PATH (plain HTTP, "Metadata: true"), at most MAX bytes of reply, answered to CB. */
static int imds_get(Attester *a, const char *path, size_t max, http_done_fn cb) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = imds_url(a, path, &url);
        if (r < 0)
                return r;
        return attest_get(a, url, max, imds_headers, true, cb);
}

/* IMDS answers in plain text: one printable line at most. */
static int imds_text(HttpResult *res, const char **ret) {
        if (res->body_size == 0 || res->body_size > IMDS_TEXT_MAX || strlen(res->body) != res->body_size)
                return -EBADMSG;
        for (const char *p = res->body; *p; p++)
                if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
                        return -EBADMSG;
        *ret = res->body;
        return 0;
}

static void step_cert(Attester *a);
static void step_isolation(Attester *a);
static void step_evidence(Attester *a);

/* ---- the provider of the VM's region ---- */

static void on_location(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        const char *region, *url;

        a->http_req = http_request_free(a->http_req);
        if (res->error < 0 || res->status != 200) {
                attest_keep_retry_after(a, res->retry_after_sec);
                imds_failed(a, res);
                return attest_finish(a, ATTEST_RETRY, res->error ?: -EPROTO,
                                     "no Endpoint= is set and IMDS at %s did not tell the VM's region (%s%s); "
                                     "on a machine that is not an Azure VM set Endpoint= in [Service]",
                                     a->config->imds_url, res->error < 0 ? "" : "HTTP ",
                                     res->error < 0 ? (res->error_text ?: strerror(-res->error)) :
                                                      (res->status >= 500 ? "server error" : "refused"));
        }
        if (imds_text(res, &region) < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, -EBADMSG, "IMDS at %s gave no usable region name",
                                     a->config->imds_url);
        }
        if (a->config->shared_providers) {
                _cleanup_free_ char *text = NULL, *found = NULL;
                unsigned line = 0;
                size_t size;
                int r;

                r = read_full_file(a->config->shared_providers, OS_RELEASE_MAX, &text, &size);
                if (r >= 0)
                        r = azure_region_table_lookup(text, size, region, &found, &line);
                if (r == -EBADMSG)
                        return attest_finish(a, ATTEST_ERROR, r, "%s:%u: not \"location<TAB>https://provider\"",
                                             a->config->shared_providers, line);
                if (r < 0)
                        return attest_finish(a, ATTEST_ERROR, r, "cannot read SharedProviders=%s: %s",
                                             a->config->shared_providers, strerror(-r));
                if (r > 0) {
                        a->endpoint = TAKE_PTR(found);
                        log_debug("Region \"%s\": attesting to %s (SharedProviders=).", region, a->endpoint);
                        return step_cert(a);
                }
        }
        url = azure_region_shared_provider(region);
        if (!url)
                return attest_finish(a, ATTEST_ERROR, -ENOENT,
                                     "the VM's region \"%s\" has no known shared attestation provider; set "
                                     "Endpoint= (with Provider=azure-guest) in [Service] to the provider to use, "
                                     "or list the region in a SharedProviders= table", region);
        a->endpoint = strdup(url);
        if (!a->endpoint)
                return attest_finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        log_debug("Region \"%s\": attesting to %s.", region, a->endpoint);
        step_cert(a);
}

static void step_locate(Attester *a) {
        int r;

        r = imds_get(a, "/metadata/instance/compute/location?api-version=2021-01-01&format=text", IMDS_TEXT_MAX,
                     on_location);
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot ask IMDS at %s for the VM's region: %s",
                              a->config->imds_url, strerror(-r));
}

/* ---- the AK and its certificate ---- */

static bool cert_is_placeholder(X509 *x) {
        const X509_NAME *issuer = X509_get_issuer_name(x);

        for (int i = -1; (i = X509_NAME_get_index_by_NID(issuer, NID_commonName, i)) >= 0;) {
                const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, i));
                const unsigned char *d = ASN1_STRING_get0_data(s);
                int n = ASN1_STRING_length(s);
                size_t k = strlen(AZURE_AK_CERT_PLACEHOLDER_CN);

                for (int j = 0; j + (int) k <= n; j++)
                        if (strncasecmp((const char *) d + j, AZURE_AK_CERT_PLACEHOLDER_CN, k) == 0)
                                return true;
        }
        return false;
}

/* 0 = usable; -EAGAIN placeholder; -EKEYREJECTED not the AK's; -EBADMSG not parsable. Days left in
 * *ret_days (negative once expired). */
static int cert_check(const Buffer *der, const TpmAk *ak, int *ret_days) {
        const unsigned char *p = der->data;
        _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long) der->size);
        int days = 0, secs = 0;

        if (!x) {
                ERR_clear_error();
                return -EBADMSG;
        }
        if (cert_is_placeholder(x))
                return -EAGAIN;
        if (EVP_PKEY_eq(X509_get0_pubkey(x), tpm_ak_get_pkey(ak)) != 1) {
                ERR_clear_error();
                return -EKEYREJECTED;
        }
        if (ret_days && ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
                *ret_days = days;
        return 0;
}

/* ---- AK certificate renewal through IMDS (§5.3), only with AKCertRenewal=yes ---- */

/* Renewal never stops an attestation: the old certificate is still sent. */
static void renew_failed(Attester *a, const char *fmt, ...) _printf_(2, 3);
static void renew_failed(Attester *a, const char *fmt, ...) {
        _cleanup_free_ char *why = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                why = NULL;
        va_end(ap);
        /* Above debug on purpose: the manager never hears of it, and the operator asked for it. */
        log_warning("Renewing the AK certificate failed, attesting with the current one: %s", strna(why));
        attest_forget_request_id(a);
        step_isolation(a);
}

static int random_uuid(char ret[static 37]) {
        uint8_t u[16];

        if (getentropy(u, sizeof u) < 0)
                return -errno;
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        return 0;
}

/* application/x-www-form-urlencoded body, as Azure's client sends the PEM. */
static char *url_escape(const char *s) {
        char *out = malloc(strlen(s) * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (isascii(c) && (isalnum(c) || strchr("-._~", c)))
                        *o++ = (char) c;
                else
                        o += sprintf(o, "%%%02X", c);
        }
        *o = '\0';
        return out;
}

static int der_to_pem(const Buffer *der, char **ret) {
        _cleanup_free_ char *b64 = NULL;
        int r = b64_encode(der->data, der->size, &b64);
        if (r < 0)
                return r;
        return asprintf(ret, "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----", b64) < 0 ? -ENOMEM : 0;
}

static int pem_to_der(const char *pem, Buffer *ret) {
        _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(pem, -1);
        _cleanup_(X509_freep) X509 *x = NULL;
        unsigned char *der = NULL;
        int n;

        if (!bio)
                return -ENOMEM;
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) {
                ERR_clear_error();
                return -EBADMSG;
        }
        n = i2d_X509(x, &der);
        if (n <= 0)
                return -EBADMSG;
        ret->data = malloc(n);
        if (ret->data) {
                memcpy(ret->data, der, n);
                ret->size = (size_t) n;
        }
        OPENSSL_free(der);
        return ret->data ? 0 : -ENOMEM;
}

static void on_renewed(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(buffer_done) Buffer der = {};
        json_object *pem;
        int r;

        a->http_req = http_request_free(a->http_req);
        if (res->error < 0)
                return renew_failed(a, "IMDS: %s", res->error_text ?: strerror(-res->error));
        if (res->status != 200)
                return renew_failed(a, "IMDS answered HTTP %ld", res->status);
        o = json_tokener_parse(res->body);
        if (!o || !json_object_object_get_ex(o, "AkCertPem", &pem) || !json_object_is_type(pem, json_type_string))
                return renew_failed(a, "IMDS's reply has no AkCertPem");
        r = pem_to_der(json_object_get_string(pem), &der);
        if (r < 0)
                return renew_failed(a, "IMDS's AkCertPem is not a PEM certificate");
        r = cert_check(&der, state(a)->ak, NULL);
        if (r < 0)
                return renew_failed(a, "the renewed certificate is %s", r == -EAGAIN ? "a placeholder" :
                                    r == -EKEYREJECTED ? "not for this AK" : "malformed");
        r = tpm_nv_replace(a->tpm, AZURE_AK_CERT_NV_INDEX, der.data, der.size);
        if (r < 0)
                return renew_failed(a, "cannot write NV 0x%08x: %s", AZURE_AK_CERT_NV_INDEX, tpm_reason(a, r));
        log_info("Renewed the AK certificate in NV 0x%08x through IMDS.", AZURE_AK_CERT_NV_INDEX);
        buffer_done(&run(a)->ak_cert);
        run(a)->ak_cert = der;
        der = (Buffer) {};
        attest_forget_request_id(a);
        step_isolation(a);
}

static void on_vm_id(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_free_ char *url = NULL, *path = NULL, *pem = NULL, *body = NULL;
        const char *vm_id;
        char uuid[37];
        int r;

        a->http_req = http_request_free(a->http_req);
        if (res->error < 0 || res->status != 200 || imds_text(res, &vm_id) < 0 ||
            strspn(vm_id, "0123456789abcdefABCDEF-") != strlen(vm_id))
                return renew_failed(a, "IMDS gave no VM id");
        r = random_uuid(uuid);
        if (r >= 0 && asprintf(&path, "/metadata/THIM/tvm/certificate/renew?api-version=2023-07-01&vmId=%s&requestId=%s",
                               vm_id, uuid) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = imds_url(a, path, &url);
        if (r >= 0)
                r = der_to_pem(&run(a)->ak_cert, &pem);
        if (r >= 0 && !(body = url_escape(pem)))
                r = -ENOMEM;
        if (r < 0)
                return renew_failed(a, "%s", strerror(-r));

        HttpRequestSpec spec = {
                .method = HTTP_POST,
                .url = url,
                .headers = imds_headers,
                .body = body,
                .body_size = strlen(body),
                .max_response_size = AK_CERT_PEM_MAX,
                .allow_http = true,
                .no_proxy = true,
        };
        r = attest_http(a, &spec, on_renewed);
        if (r < 0)
                renew_failed(a, "%s", strerror(-r));
}

static void step_renew(Attester *a) {
        int r;

        r = imds_get(a, "/metadata/instance/compute/vmId?api-version=2019-03-11&format=text", IMDS_TEXT_MAX, on_vm_id);
        if (r < 0)
                renew_failed(a, "%s", strerror(-r));
}

static void step_cert(Attester *a) {
        AzureProvider *p = state(a);
        AzureRun *t = run(a);
        int r, days = INT_MAX;

        if (!p->ak) {
                r = tpm_ak_load(a->tpm, AZURE_AK_HANDLE, &p->ak);
                if (r == -ENOENT)
                        return attest_finish(a, ATTEST_ERROR, r, "no Azure attestation key at 0x%08x%s",
                                             AZURE_AK_HANDLE, a->config->provider == PROVIDER_AUTO ?
                                             " (Provider=auto without Endpoint= needs an Azure VM with Trusted "
                                             "Launch or a confidential VM; elsewhere set Endpoint=)" : "");
                if (r < 0)
                        return attest_finish(a, tpm_outcome(r), r, "cannot load the attestation key at 0x%08x: %s",
                                             AZURE_AK_HANDLE, tpm_reason(a, r));
        }
        r = tpm_ak_read_cert_nv(a->tpm, AZURE_AK_CERT_NV_INDEX, &t->ak_cert);
        if (r == 0)
                return attest_finish(a, ATTEST_ERROR, -ENOENT, "no AK certificate in NV 0x%08x",
                                     AZURE_AK_CERT_NV_INDEX);
        if (r < 0)
                return attest_finish(a, tpm_outcome(r), r, "cannot read the AK certificate from NV 0x%08x: %s",
                                     AZURE_AK_CERT_NV_INDEX, tpm_reason(a, r));
        r = cert_check(&t->ak_cert, p->ak, &days);
        if (r == -EAGAIN)
                return attest_finish(a, ATTEST_RETRY, r, "AK certificate not provisioned yet, retrying (NV 0x%08x "
                                     "holds Azure's placeholder, issuer CN=%s)", AZURE_AK_CERT_NV_INDEX,
                                     AZURE_AK_CERT_PLACEHOLDER_CN);
        if (r == -EKEYREJECTED)
                return attest_finish(a, ATTEST_ERROR, r, "the AK certificate in NV 0x%08x is not for the key at 0x%08x",
                                     AZURE_AK_CERT_NV_INDEX, AZURE_AK_HANDLE);
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "NV 0x%08x holds no X.509 certificate", AZURE_AK_CERT_NV_INDEX);
        a->result.ak_cert_sent = true;

        if (a->config->ak_cert_renewal && days <= AZURE_AK_CERT_RENEW_DAYS) {
                log_debug("The AK certificate expires in %d days: renewing it through IMDS.", days);
                return step_renew(a);
        }
        step_isolation(a);
}

/* ---- isolation: Trusted Launch, or the HCL report of a CVM ---- */

static void on_thim(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_free_ char *reason = NULL;

        a->http_req = http_request_free(a->http_req);
        if (res->error < 0 || res->status != 200) {
                attest_keep_retry_after(a, res->retry_after_sec);
                imds_failed(a, res);
                return attest_finish(a, ATTEST_RETRY, res->error ?: -EPROTO,
                                     "cannot get the VCEK certificate chain from IMDS at %s: %s%s",
                                     a->config->imds_url, res->error < 0 ? "" : "HTTP error ",
                                     res->error < 0 ? (res->error_text ?: strerror(-res->error)) : "");
        }
        if (azure_thim_parse(res->body, res->body_size, &run(a)->vcek_chain, &reason) < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, -EBADMSG, "IMDS's VCEK reply is malformed: %s", strna(reason));
        }
        attest_forget_request_id(a);
        step_evidence(a);
}

static void step_isolation(Attester *a) {
        _cleanup_(buffer_done) Buffer raw = {};
        _cleanup_free_ char *reason = NULL, *url = NULL;
        AzureRun *t = run(a);
        int r;

        r = tpm_nv_read(a->tpm, AZURE_HCL_REPORT_NV_INDEX, &raw);
        if (r < 0)
                return attest_finish(a, tpm_outcome(r), r, "cannot read the HCL report from NV 0x%08x: %s",
                                     AZURE_HCL_REPORT_NV_INDEX, tpm_reason(a, r));
        if (r == 0)
                return step_evidence(a); /* no HCL report: Trusted Launch */

        r = azure_hcl_report_parse(raw.data, raw.size, tpm_ak_get_jwk(state(a)->ak), &t->hcl, &reason);
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "the HCL report in NV 0x%08x is unusable: %s",
                                     AZURE_HCL_REPORT_NV_INDEX, strna(reason));
        if (t->hcl.type == AZURE_ISOLATION_TDX)
                return attest_finish(a, ATTEST_ERROR, -EOPNOTSUPP, "TDX confidential VMs are not supported yet "
                                     "(the HCL report in NV 0x%08x is a TDREPORT)", AZURE_HCL_REPORT_NV_INDEX);

        r = imds_get(a, "/metadata/THIM/amd/certification", AZURE_THIM_REPLY_MAX, on_thim);
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot ask IMDS for the VCEK chain: %s", strerror(-r));
}

/* ---- evidence, request, sealed reply ---- */

static void on_reply(HttpRequest *req, HttpResult *res, void *userdata) {
        Attester *a = userdata;
        _cleanup_(azure_sealed_done) AzureSealed sealed = {};
        _cleanup_(buffer_erase_done) Buffer key = {};
        _cleanup_free_ char *reason = NULL, *jwt = NULL;
        AzureRun *t = run(a);
        int r;

        a->http_req = http_request_free(a->http_req);
        if (attest_reply_failed(a, res, "attestation request", true))
                return;
        r = azure_guest_parse_reply(res->body, res->body_size, &sealed, &reason);
        if (r < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, r, "malformed reply from %s: %s", a->endpoint, strna(reason));
        }

        r = tpm_enckey_decrypt(a->tpm, AZURE_GUEST_PCR_MASK, &t->quote.pcrs.banks[0], &t->enc_key.public,
                               sealed.inner_key.data, sealed.inner_key.size, &key);
        if (r == -ESTALE)
                return attest_finish(a, ATTEST_RETRY, r, "the measured PCRs changed while attesting, so the sealed "
                                     "token cannot be opened; attesting again: %s", tpm_reason(a, r));
        if (r == -EBADMSG) {
                /* The key was recreated as bound; what the service sealed to it does not open. */
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, r, "sealed token could not be decrypted: %s", tpm_reason(a, r));
        }
        if (r < 0)
                return attest_finish(a, tpm_outcome(r), r, "cannot unwrap the sealed token in the TPM: %s",
                                     tpm_reason(a, r));
        r = azure_guest_unseal(&sealed, key.data, key.size, &jwt, &reason);
        if (r < 0) {
                a->result.failure_class = ATTEST_FAILURE_SERVICE;
                return attest_finish(a, ATTEST_RETRY, r, "sealed token could not be decrypted: %s", strna(reason));
        }

        a->expect.client_payload_nonce = t->nonce;
        a->result.pcrs = t->quote.pcrs;
        a->result.pcr_mask = t->quote.pcr_mask;
        a->result.pcr_update_counter = t->quote.pcr_update_counter;
        attest_verify_token(a, TAKE_PTR(jwt));
}

static int make_nonce(char **ret) {
        uint8_t n[NONCE_SIZE];
        _cleanup_free_ char *hex = NULL;
        int r;

        if (getentropy(n, sizeof n) < 0)
                return -errno;
        /* The payload's values are base64 of the caller's text; the text here is hex. */
        r = hex_encode(n, sizeof n, &hex);
        return r < 0 ? r : b64_encode(hex, strlen(hex), ret);
}

static int read_os_info(AzureOsInfo *ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_full_file("/etc/os-release", OS_RELEASE_MAX, &text, &size);
        if (r == -ENOENT)
                r = read_full_file("/usr/lib/os-release", OS_RELEASE_MAX, &text, &size);
        if (r < 0) {
                text = NULL;
                size = 0;
        }
        return azure_os_info_parse(strempty(text), size, ret);
}

static void step_evidence(Attester *a) {
        static const uint16_t sha256[] = { TPM_ALG_SHA256 };
        static const char *const headers[] = { "Content-Type: application/json", NULL };
        _cleanup_(buffer_done) Buffer log = {}, quote_sig = {};
        _cleanup_(azure_os_info_done) AzureOsInfo os = {};
        _cleanup_free_ char *body = NULL, *suffix = NULL;
        AzureRun *t = run(a);
        const TpmAk *ak = state(a)->ak;
        int r;

        r = tpm_quote(a->tpm, ak, AZURE_GUEST_PCR_MASK, sha256, 1, NULL, 0, &t->quote);
        if (r < 0)
                return attest_finish(a, tpm_outcome(r), r, "TPM quote failed: %s", tpm_reason(a, r));
        r = tpm_signature_to_raw(&t->quote.signature, &quote_sig);
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "the AK at 0x%08x does not sign RSASSA-SHA256",
                                     AZURE_AK_HANDLE);
        r = tpm_enckey_create(a->tpm, ak, AZURE_GUEST_PCR_MASK, &t->quote.pcrs.banks[0], &t->enc_key);
        if (r < 0)
                return attest_finish(a, tpm_outcome(r), r, "cannot create the encryption key: %s", tpm_reason(a, r));

        r = read_full_file(a->config->event_log, EVIDENCE_LOG_MAX, (char **) &log.data, &log.size);
        if (r < 0 && r != -ENOENT)
                return attest_finish(a, ATTEST_ERROR, r, "cannot read event log %s: %s", a->config->event_log,
                                     strerror(-r));
        r = read_os_info(&os);
        if (r >= 0)
                r = make_nonce(&t->nonce);
        if (r < 0)
                return attest_finish(a, ATTEST_ERROR, r, "cannot prepare the request: %s", strerror(-r));
        a->result.evidence_collected = true;

        AzureGuestRequest q = {
                .os_distro = os.distro,
                .os_major = os.major,
                .os_minor = os.minor,
                .tcg_log = &log,
                .nonce = t->nonce,
                .ak_cert = &t->ak_cert,
                .ak_pub = tpm_ak_get_public(ak),
                .quote = &t->quote.attest,
                .quote_signature = &quote_sig,
                .pcr_mask = AZURE_GUEST_PCR_MASK,
                .pcrs = &t->quote.pcrs.banks[0],
                .enc_key_pub = &t->enc_key.public,
                .certify_info = &t->enc_key.certify_info,
                .certify_signature = &t->enc_key.certify_signature,
                .isolation = t->hcl.claims.size > 0 ? t->hcl.type : AZURE_ISOLATION_TRUSTED_LAUNCH,
                .hw_report = &t->hcl.hw_report,
                .vcek_chain = t->vcek_chain,
                .runtime_claims = &t->hcl.claims,
        };
        r = azure_guest_build_request(&q, &body);
        if (r >= 0 && asprintf(&suffix, "/attest/AzureGuest?api-version=%s", AZURE_GUEST_API_VERSION) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = attest_post(a, suffix, headers, body, on_reply); /* no Authorization: shared providers */
        if (r < 0)
                attest_finish(a, ATTEST_ERROR, r, "cannot send the attestation request: %s", strerror(-r));
}

static void azure_start(Attester *a) {
        a->run = calloc(1, sizeof(AzureRun));
        if (!a->run)
                return attest_finish(a, ATTEST_ERROR, -ENOMEM, "out of memory");
        if (!a->endpoint) {
                /* Say what this is before asking the network: no AK, no Azure VM. */
                int r = tpm_ak_load(a->tpm, AZURE_AK_HANDLE, &state(a)->ak);
                if (r < 0 && r != -ENOENT)
                        return attest_finish(a, tpm_outcome(r), r, "cannot load the attestation key at 0x%08x: %s",
                                             AZURE_AK_HANDLE, tpm_reason(a, r));
                if (r == -ENOENT && a->config->provider == PROVIDER_AUTO)
                        return attest_finish(a, ATTEST_ERROR, -ENOENT,
                                             "no Endpoint= is set and this is not an Azure VM with an attestation key "
                                             "(nothing at 0x%08x); set Endpoint= in [Service]", AZURE_AK_HANDLE);
                return step_locate(a);
        }
        step_cert(a);
}

const AttestProvider attest_provider_azure_guest = {
        .name = "azure-guest",
        .init = azure_init,
        .free_state = azure_free_state,
        .start = azure_start,
        .reset = azure_reset,
};
