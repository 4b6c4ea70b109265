/* SPDX-License-Identifier: MIT */
/* Unit tests for azure-guest-msg.c and azure-vm.c: the request decoded back member by member, the
 * sealed reply with one negative case per envelope member, AES-GCM with a vector made here with
 * OpenSSL, os-release, THIM, the region tables and the HCL report's checks. */
#include <check.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "azure-guest-msg.h"
#include "azure-vm.h"
#include "b64.h"
#include "check-main.h"
#include "cleanup.h"
#include "jwt.h"

static json_object *parse(const char *s) {
        json_object *o = json_tokener_parse(s);
        ck_assert_ptr_nonnull(o);
        return o;
}

static const char *get(json_object *o, const char *k) {
        json_object *v;
        ck_assert_msg(json_object_object_get_ex(o, k, &v), "no %s", k);
        return json_object_get_string(v);
}

/* ---- request ---- */

static uint8_t d1[] = { 1, 2, 3 }, d2[] = { 4, 5 }, d3[] = { 6 }, d4[] = { 7, 7 }, d5[] = { 8 }, d6[] = { 9, 9, 9 },
               d7[] = { 10 }, tcglog[] = { 0xAA, 0xBB };

static void fill(AzureGuestRequest *q, PcrBank *bank, Buffer *b) {
        memset(bank, 0, sizeof *bank);
        bank->alg = TPM_ALG_SHA256;
        bank->digest_size = 32;
        for (unsigned i = 0; i < 8; i++) {
                uint8_t v[32];
                memset(v, (int) i, sizeof v);
                ck_assert_int_eq(pcr_bank_set(bank, i, v, 32), 0);
        }
        b[0] = (Buffer) { d1, sizeof d1 };
        b[1] = (Buffer) { d2, sizeof d2 };
        b[2] = (Buffer) { d3, sizeof d3 };
        b[3] = (Buffer) { d4, sizeof d4 };
        b[4] = (Buffer) { d5, sizeof d5 };
        b[5] = (Buffer) { d6, sizeof d6 };
        b[6] = (Buffer) { d7, sizeof d7 };
        b[7] = (Buffer) { tcglog, sizeof tcglog };
        *q = (AzureGuestRequest) {
                .os_distro = "Debian GNU/Linux", .os_major = 12, .os_minor = 0, .tcg_log = &b[7],
                .nonce = "bm9uY2U=", .ak_cert = &b[0], .ak_pub = &b[1], .quote = &b[2], .quote_signature = &b[3],
                .pcr_mask = 0xFF, .pcrs = bank, .enc_key_pub = &b[4], .certify_info = &b[5],
                .certify_signature = &b[6], .isolation = AZURE_ISOLATION_TRUSTED_LAUNCH,
        };
}

/* The body decoded back to the inner object. */
static json_object *decode_body(const char *body) {
        _cleanup_(json_object_putp) json_object *outer = parse(body);
        _cleanup_free_ char *inner = NULL;
        size_t n;
        const char *a = get(outer, "AttestationInfo");

        ck_assert_ptr_null(strchr(a, '='));      /* base64url without padding */
        ck_assert_int_eq(b64url_decode(a, strlen(a), (void **) &inner, &n), 0);
        return parse(inner);
}

static void assert_b64(json_object *o, const char *k, const void *want, size_t n) {
        _cleanup_free_ char *e = NULL;
        ck_assert_int_eq(b64_encode(want, n, &e), 0);
        ck_assert_str_eq(get(o, k), e);
}

START_TEST(test_request_trusted_launch) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *body = NULL;
        AzureGuestRequest q;
        PcrBank bank;
        Buffer b[8];
        json_object *tpm, *v, *iso, *pl;

        fill(&q, &bank, b);
        ck_assert_int_eq(azure_guest_build_request(&q, &body), 0);
        o = decode_body(body);
        ck_assert_str_eq(get(o, "AttestationProtocolVersion"), "2.0");
        ck_assert_str_eq(get(o, "OSType"), "TGludXg=");
        assert_b64(o, "OSDistro", "Debian GNU/Linux", 16);
        assert_b64(o, "OSBuild", "NotApplication", 14);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(o, "OSVersionMajor")), 12);
        ck_assert(json_object_is_type(json_object_object_get(o, "OSVersionMinor"), json_type_int));
        assert_b64(o, "TcgLogs", tcglog, sizeof tcglog);
        ck_assert(json_object_object_get_ex(o, "ClientPayload", &pl));
        ck_assert_str_eq(get(pl, "nonce"), "bm9uY2U=");

        ck_assert(json_object_object_get_ex(o, "TpmInfo", &tpm));
        assert_b64(tpm, "AikCert", d1, sizeof d1);
        assert_b64(tpm, "AikPub", d2, sizeof d2);
        assert_b64(tpm, "PcrQuote", d3, sizeof d3);
        assert_b64(tpm, "PcrSignature", d4, sizeof d4);
        assert_b64(tpm, "EncKeyPub", d5, sizeof d5);
        assert_b64(tpm, "EncKeyCertifyInfo", d6, sizeof d6);
        assert_b64(tpm, "EncKeyCertifyInfoSignature", d7, sizeof d7);
        ck_assert_str_eq(get(tpm, "PcrSet"), "[ 0, 1, 2, 3, 4, 5, 6, 7 ]");
        ck_assert(json_object_object_get_ex(tpm, "PCRs", &v));
        ck_assert_int_eq(json_object_array_length(v), 8);
        json_object *p5 = json_object_array_get_idx(v, 5);
        ck_assert_int_eq(json_object_get_int(json_object_object_get(p5, "Index")), 5);
        assert_b64(p5, "Digest", bank.values[5], 32);

        ck_assert(json_object_object_get_ex(o, "IsolationInfo", &iso));
        ck_assert_str_eq(get(iso, "Type"), "TrustedLaunch");
        ck_assert(!json_object_object_get_ex(iso, "Evidence", NULL));
}
END_TEST

START_TEST(test_request_snp) {
        _cleanup_(json_object_putp) json_object *o = NULL, *proof = NULL;
        _cleanup_free_ char *body = NULL, *text = NULL, *report_b64u = NULL;
        static uint8_t report[AZURE_SNP_REPORT_SIZE] = { 0xfb, 0xff };
        static const char claims[] = "{\"keys\":[]}";
        AzureGuestRequest q;
        PcrBank bank;
        Buffer b[8], hw = { report, sizeof report }, rc = { (uint8_t *) claims, strlen(claims) };
        json_object *iso, *ev;
        size_t n;

        fill(&q, &bank, b);
        q.isolation = AZURE_ISOLATION_SEV_SNP;
        q.hw_report = &hw;
        q.vcek_chain = "-----BEGIN CERTIFICATE-----\nVCEK\n-----END CERTIFICATE-----\n";
        q.runtime_claims = &rc;
        ck_assert_int_eq(azure_guest_build_request(&q, &body), 0);
        o = decode_body(body);
        ck_assert(json_object_object_get_ex(o, "IsolationInfo", &iso));
        ck_assert_str_eq(get(iso, "Type"), "SevSnp");
        ck_assert(json_object_object_get_ex(iso, "Evidence", &ev));
        assert_b64(ev, "RunTimeData", claims, strlen(claims));
        const char *p = get(ev, "Proof");
        ck_assert_int_eq(b64_decode(p, strlen(p), (void **) &text, &n), 0);
        proof = parse(text);
        ck_assert_int_eq(b64url_encode(report, sizeof report, &report_b64u), 0);
        ck_assert_str_eq(get(proof, "SnpReport"), report_b64u);
        assert_b64(proof, "VcekCertChain", q.vcek_chain, strlen(q.vcek_chain));

        /* A wrong-sized report or a missing chain is a caller bug, refused. */
        hw.size--;
        free(body);
        body = NULL;
        ck_assert_int_eq(azure_guest_build_request(&q, &body), -EINVAL);
}
END_TEST

START_TEST(test_request_incomplete) {
        _cleanup_free_ char *body = NULL;
        AzureGuestRequest q;
        PcrBank bank;
        Buffer b[8], empty = {};

        fill(&q, &bank, b);
        q.ak_cert = &empty;
        ck_assert_int_eq(azure_guest_build_request(&q, &body), -EINVAL);
        fill(&q, &bank, b);
        bank.present_mask &= ~(UINT32_C(1) << 3);
        ck_assert_int_eq(azure_guest_build_request(&q, &body), -EINVAL);
        fill(&q, &bank, b);
        q.nonce = NULL;
        ck_assert_int_eq(azure_guest_build_request(&q, &body), -EINVAL);
        ck_assert_ptr_null(body);
}
END_TEST

/* ---- sealed reply ---- */

static const uint8_t aes_key[32] = "0123456789abcdef0123456789abcdef";
static const char jwt_text[] = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln";

typedef struct Seal {
        uint8_t iv[12], tag[16], ct[sizeof jwt_text - 1], inner[256];
} Seal;

/* The reference: OpenSSL encrypts as the service does (AES-256-GCM, AAD "Transport Key"). */
static void seal(Seal *s) {
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0;

        memset(s->iv, 0x11, sizeof s->iv);
        memset(s->inner, 0x22, sizeof s->inner);
        ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, aes_key, s->iv), 1);
        ck_assert_int_eq(EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *) "Transport Key", 13), 1);
        ck_assert_int_eq(EVP_EncryptUpdate(c, s->ct, &n, (const uint8_t *) jwt_text, sizeof jwt_text - 1), 1);
        ck_assert_int_eq(EVP_EncryptFinal_ex(c, s->ct + n, &n), 1);
        ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, s->tag), 1);
}

static char *b64b(const void *p, size_t n) {
        char *r = NULL;
        ck_assert_int_eq(b64_encode(p, n, &r), 0);
        return r;
}

/* {"token": b64url(envelope)} with the envelope's text passed through EDIT (sed-like: replace FROM
 * with TO, once) first. */
static char *reply(const Seal *s, const char *from, const char *to) {
        _cleanup_free_ char *jwt = b64b(s->ct, sizeof s->ct), *inner = b64b(s->inner, sizeof s->inner),
                            *iv = b64b(s->iv, sizeof s->iv), *tag = b64b(s->tag, sizeof s->tag), *env = NULL,
                            *edited = NULL, *tok = NULL;
        char *out = NULL;

        ck_assert_int_ge(asprintf(&env, "{\"Jwt\":\"%s\",\"EncryptedInnerKey\":\"%s\",\"EncryptionParams\":"
                                  "{\"BlockMode\":\"ChainingModeGCM\",\"BlockPadding\":\"PKCS7\",\"Cipher\":\"AES\","
                                  "\"KeySizeInBits\":256,\"Iv\":\"%s\"},\"AuthenticationData\":\"%s\"}",
                                  jwt, inner, iv, tag), 0);
        if (from) {
                char *at = strstr(env, from);
                ck_assert_msg(at, "no '%s' in the envelope", from);
                ck_assert_int_ge(asprintf(&edited, "%.*s%s%s", (int) (at - env), env, to, at + strlen(from)), 0);
        }
        ck_assert_int_eq(b64url_encode(edited ?: env, strlen(edited ?: env), &tok), 0);
        ck_assert_int_ge(asprintf(&out, "{\"token\":\"%s\"}", tok), 0);
        return out;
}

START_TEST(test_reply_and_unseal) {
        _cleanup_(azure_sealed_done) AzureSealed sealed = {};
        _cleanup_free_ char *body = NULL, *jwt = NULL, *reason = NULL;
        Seal s;

        seal(&s);
        body = reply(&s, NULL, NULL);
        ck_assert_int_eq(azure_guest_parse_reply(body, strlen(body), &sealed, &reason), 0);
        ck_assert_uint_eq(sealed.key_bits, 256);
        ck_assert_uint_eq(sealed.inner_key.size, 256);
        ck_assert_mem_eq(sealed.inner_key.data, s.inner, 256);
        ck_assert_int_eq(azure_guest_unseal(&sealed, aes_key, sizeof aes_key, &jwt, &reason), 0);
        ck_assert_str_eq(jwt, jwt_text);
}
END_TEST

START_TEST(test_unseal_failures) {
        _cleanup_(azure_sealed_done) AzureSealed sealed = {};
        _cleanup_free_ char *body = NULL;
        uint8_t key[32];
        Seal s;

        seal(&s);
        body = reply(&s, NULL, NULL);
        ck_assert_int_eq(azure_guest_parse_reply(body, strlen(body), &sealed, NULL), 0);
        /* Wrong key, flipped tag, flipped ciphertext, wrong AAD-equivalent (another IV): all -EBADMSG. */
        memcpy(key, aes_key, sizeof key);
        key[0] ^= 1;
        const struct { uint8_t *p; } flips[] = { { sealed.tag.data }, { sealed.jwt.data + 5 }, { sealed.iv.data } };
        for (size_t i = 0; i <= ELEMENTSOF(flips); i++) {
                _cleanup_free_ char *jwt = NULL, *reason = NULL;
                if (i < ELEMENTSOF(flips))
                        *flips[i].p ^= 0x80;
                ck_assert_int_eq(azure_guest_unseal(&sealed, i < ELEMENTSOF(flips) ? aes_key : key, 32, &jwt, &reason),
                                 -EBADMSG);
                ck_assert_ptr_null(jwt);
                ck_assert_ptr_nonnull(strstr(reason, "authentication tag"));
                if (i < ELEMENTSOF(flips))
                        *flips[i].p ^= 0x80;
        }
        /* A key of another size than KeySizeInBits. */
        _cleanup_free_ char *jwt = NULL;
        ck_assert_int_eq(azure_guest_unseal(&sealed, aes_key, 16, &jwt, NULL), -EINVAL);
}
END_TEST

/* One negative case per member of the envelope and of the outer reply. */
static const struct {
        const char *from, *to, *reason;
} bad_envelopes[] = {
        { "\"Cipher\":\"AES\"", "\"Cipher\":\"DES\"", "Cipher is \"DES\"" },
        { "\"Cipher\":\"AES\",", "", "no Cipher" },
        { "\"BlockMode\":\"ChainingModeGCM\"", "\"BlockMode\":\"ChainingModeCBC\"", "BlockMode is" },
        { "\"BlockMode\":\"ChainingModeGCM\",", "", "no BlockMode" },
        { "\"KeySizeInBits\":256", "\"KeySizeInBits\":255", "KeySizeInBits 255" },
        { "\"KeySizeInBits\":256", "\"KeySizeInBits\":\"256\"", "integer KeySizeInBits" },
        { "\"Iv\":\"ERERERERERERERER\"", "\"Iv\":\"ERERERERERERERERERERERE=\"", "Iv has 17 bytes, not 12" },
        { "\"Iv\":\"ERERERERERERERER\"", "\"Iv\":\"ERERERERERERERER!\"", "Iv is not base64" },
        { ",\"Iv\":\"ERERERERERERERER\"", "", "no Iv" },
        { "\"AuthenticationData\":\"", "\"AuthenticationData\":\"AAAA", "AuthenticationData has 19 bytes" },
        { "\"AuthenticationData\":\"", "\"AuthenticationData\":5,\"x\":\"", "AuthenticationData" },
        { "\"EncryptedInnerKey\":\"", "\"EncryptedInnerKey\":\"AAAA", "EncryptedInnerKey has 259 bytes" },
        { "\"EncryptedInnerKey\":\"", "\"Encrypted\":\"", "no EncryptedInnerKey" },
        { "\"Jwt\":\"", "\"Jwt\":\"\",\"x\":\"", "Jwt is empty" },
        { "\"Jwt\":\"", "\"Jwt\":\"-_", "Jwt is not base64" },
        { "\"EncryptionParams\":{", "\"EncryptionParams\":[],\"y\":{", "no EncryptionParams object" },
};

START_TEST(test_reply_bad_envelope) {
        _cleanup_(azure_sealed_done) AzureSealed sealed = {};
        _cleanup_free_ char *body = NULL, *reason = NULL;
        Seal s;

        seal(&s);
        body = reply(&s, bad_envelopes[_i].from, bad_envelopes[_i].to);
        ck_assert_int_eq(azure_guest_parse_reply(body, strlen(body), &sealed, &reason), -EBADMSG);
        ck_assert_msg(reason && strstr(reason, bad_envelopes[_i].reason), "case %d: '%s', want '%s'", _i,
                      strna(reason), bad_envelopes[_i].reason);
        ck_assert_ptr_null(sealed.jwt.data);
}
END_TEST

START_TEST(test_reply_bad_outer) {
        static const char *const bodies[] = {
                "", "[]", "{\"Token\":\"abc\"}", "{\"token\":5}", "{\"token\":\"a+b\"}", "{\"token\":\"e30\"} x",
                "{\"token\":\"W10\"}", /* "[]" */
        };
        for (size_t i = 0; i < ELEMENTSOF(bodies); i++) {
                _cleanup_(azure_sealed_done) AzureSealed sealed = {};
                _cleanup_free_ char *reason = NULL;
                ck_assert_msg(azure_guest_parse_reply(bodies[i], strlen(bodies[i]), &sealed, &reason) == -EBADMSG,
                              "'%s' accepted", bodies[i]);
                ck_assert_ptr_nonnull(reason);
        }
}
END_TEST

/* ---- os-release, THIM ---- */

START_TEST(test_os_release) {
        static const struct {
                const char *text, *distro;
                unsigned major, minor;
        } cases[] = {
                { "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n", "Debian GNU/Linux", 12, 0 },
                { "NAME=Ubuntu\nVERSION_ID=\"22.04\"", "Ubuntu", 22, 4 },
                { "VERSION_ID=0.9\n", "Linux", 1, 0 },         /* major 0 is refused by the service */
                { "NAME=''\nVERSION_ID=rolling", "Linux", 1, 0 },
                { "", "Linux", 1, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(azure_os_info_done) AzureOsInfo o = {};
                ck_assert_int_eq(azure_os_info_parse(cases[i].text, strlen(cases[i].text), &o), 0);
                ck_assert_str_eq(o.distro, cases[i].distro);
                ck_assert_uint_eq(o.major, cases[i].major);
                ck_assert_uint_eq(o.minor, cases[i].minor);
        }
}
END_TEST

START_TEST(test_thim) {
        static const char good[] = "{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\\nA\\n-----END CERTIFICATE-----\\n\","
                                   "\"certificateChain\":\"-----BEGIN CERTIFICATE-----\\nB\\n-----END CERTIFICATE-----\\n\","
                                   "\"tcbm\":\"x\"}";
        _cleanup_free_ char *chain = NULL, *reason = NULL;

        ck_assert_int_eq(azure_thim_parse(good, strlen(good), &chain, NULL), 0);
        ck_assert_ptr_nonnull(strstr(chain, "A\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nB"));
        ck_assert_int_eq(azure_thim_parse("{\"vcekCert\":\"x\"}", 16, &chain, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(reason, "vcekCert"));
        ck_assert_int_eq(azure_thim_parse("{\"vcekCert\":\"-----BEGIN CERTIFICATE-----\"}", 41, &chain, NULL), -EBADMSG);
}
END_TEST

/* ---- regions ---- */

START_TEST(test_regions) {
        char buf[AZURE_REGION_MAX + 1];
        _cleanup_free_ char *url = NULL;
        unsigned line = 0;

        ck_assert_str_eq(azure_region_shared_provider("eastus"), "https://sharedeus.eus.attest.azure.net");
        ck_assert_str_eq(azure_region_shared_provider("West Europe"), "https://sharedweu.weu.attest.azure.net");
        ck_assert_str_eq(azure_region_shared_provider("usgovvirginia"), "https://sharedugv.ugv.attest.azure.us");
        ck_assert_ptr_null(azure_region_shared_provider("marscentral"));
        ck_assert_ptr_null(azure_region_shared_provider(""));
        ck_assert_ptr_null(azure_region_shared_provider("east/us"));
        ck_assert_int_eq(azure_region_normalize("East US 2", buf), 0);
        ck_assert_str_eq(buf, "eastus2");
        ck_assert_int_eq(azure_region_normalize("eastus\n", buf), -EINVAL);

        static const char table[] = "# comment\n\ntestregion\tTest Region\thttps://127.0.0.1:8443\r\n"
                                    "eastus\thttps://example.test\n";
        ck_assert_int_eq(azure_region_table_lookup(table, strlen(table), "Test Region", &url, NULL), 1);
        ck_assert_str_eq(url, "https://127.0.0.1:8443");
        free(url);
        url = NULL;
        ck_assert_int_eq(azure_region_table_lookup(table, strlen(table), "eastus", &url, NULL), 1);
        ck_assert_str_eq(url, "https://example.test");
        ck_assert_int_eq(azure_region_table_lookup(table, strlen(table), "westus", &url, NULL), 0);
        static const char bad[] = "ok\thttps://a\nnotab https://b\n";
        ck_assert_int_eq(azure_region_table_lookup(bad, strlen(bad), "x", &url, &line), -EBADMSG);
        ck_assert_uint_eq(line, 2);
        static const char http[] = "a\thttp://b\n";
        ck_assert_int_eq(azure_region_table_lookup(http, strlen(http), "a", &url, &line), -EBADMSG);
}
END_TEST

/* ---- HCL report ---- */

static const char ak_jwk[] = "{\"kty\":\"RSA\",\"n\":\"AQID\",\"e\":\"AQAB\"}";

/* A minimal HCL report: header, an SNP report whose report data binds CLAIMS, the claims. */
static size_t hcl(uint8_t *buf, size_t size, const char *claims, uint32_t type) {
        size_t n = strlen(claims);
        uint32_t sig = 0x414C4348, cs = (uint32_t) n;

        ck_assert_uint_ge(size, 1236 + n);
        memset(buf, 0, size);
        memcpy(buf, &sig, 4);
        memcpy(buf + 1224, &type, 4);
        memcpy(buf + 1232, &cs, 4);
        memcpy(buf + 1236, claims, n);
        SHA256((const uint8_t *) claims, n, buf + 32 + (type == 2 ? 0x50 : 128));
        return 1236 + n;
}

START_TEST(test_hcl_report) {
        static const char claims[] = "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"n\":\"AAECAw\",\"e\":\"AQAB\"}]}";
        static const char other[] = "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"n\":\"AQIE\",\"e\":\"AQAB\"}]}";
        static const char nokey[] = "{\"keys\":[{\"kid\":\"HCLEkPub\",\"kty\":\"RSA\",\"n\":\"AQID\",\"e\":\"AQAB\"}]}";
        static uint8_t buf[2048];
        size_t n;

        {
                _cleanup_(azure_hcl_report_done) AzureHclReport r = {};
                n = hcl(buf, sizeof buf, claims, 2);
                ck_assert_int_eq(azure_hcl_report_parse(buf, n, ak_jwk, &r, NULL), 0);
                ck_assert_int_eq(r.type, AZURE_ISOLATION_SEV_SNP);
                ck_assert_uint_eq(r.hw_report.size, AZURE_SNP_REPORT_SIZE);
                ck_assert_uint_eq(r.claims.size, strlen(claims));
                ck_assert_mem_eq(r.claims.data, claims, r.claims.size);
        }
        {
                _cleanup_(azure_hcl_report_done) AzureHclReport r = {};
                n = hcl(buf, sizeof buf, claims, 4);
                ck_assert_int_eq(azure_hcl_report_parse(buf, n, ak_jwk, &r, NULL), 0);
                ck_assert_int_eq(r.type, AZURE_ISOLATION_TDX);
        }

        static const struct {
                int what;
                const char *reason;
        } bad[] = {
                { 0, "does not start with" }, { 1, "type 3" }, { 2, "do not hash" }, { 3, "non-zero second half" },
                { 4, "claims size" }, { 5, "is not the AK" }, { 6, "no HCLAkPub" }, { 7, "fewer than" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(azure_hcl_report_done) AzureHclReport r = {};
                _cleanup_free_ char *reason = NULL;
                uint32_t v;

                n = hcl(buf, sizeof buf, bad[i].what == 5 ? other : bad[i].what == 6 ? nokey : claims, 2);
                switch (bad[i].what) {
                case 0: buf[0] = 'X'; break;
                case 1: v = 3; memcpy(buf + 1224, &v, 4); break;
                case 2: buf[1240] ^= 1; break;
                case 3: buf[32 + 0x50 + 40] = 1; break;
                case 4: v = 5000; memcpy(buf + 1232, &v, 4); break;
                case 7: n = 1000; break;
                }
                ck_assert_int_lt(azure_hcl_report_parse(buf, n, ak_jwk, &r, &reason), 0);
                ck_assert_msg(reason && strstr(reason, bad[i].reason), "case %zu: '%s'", i, strna(reason));
                ck_assert_ptr_null(r.claims.data);
        }
}
END_TEST

static Suite *azure_suite(void) {
        Suite *s = suite_create("azure-guest");
        TCase *tc = tcase_create("request");

        tcase_add_test(tc, test_request_trusted_launch);
        tcase_add_test(tc, test_request_snp);
        tcase_add_test(tc, test_request_incomplete);
        suite_add_tcase(s, tc);

        tc = tcase_create("reply");
        tcase_add_test(tc, test_reply_and_unseal);
        tcase_add_test(tc, test_unseal_failures);
        tcase_add_loop_test(tc, test_reply_bad_envelope, 0, ELEMENTSOF(bad_envelopes));
        tcase_add_test(tc, test_reply_bad_outer);
        suite_add_tcase(s, tc);

        tc = tcase_create("vm");
        tcase_add_test(tc, test_os_release);
        tcase_add_test(tc, test_thim);
        tcase_add_test(tc, test_regions);
        tcase_add_test(tc, test_hcl_report);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(azure_suite());
}
