/* SPDX-License-Identifier: MIT */
/* Unit tests for tpm.c, tpm-pcr.c and tpm-ak.c against a fresh swtpm per test: errors and their
 * errno, PCR reads past eight digests, extends and the update counter, the AK's life cycle, the AK
 * certificate from NV and from files. Quotes are in test-tpm-quote.c. */
#include <check.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include "b64.h"
#include "check-main.h"
#include "quote-verify.h"
#include "tpm-ak.h"
#include "tpm-test-util.h"
#include "tpm.h"

#define AK_CERT_NV UINT32_C(0x01C101D0)

static bool have_tools;

static void make_tmpdir(char *buf, size_t size) {
        snprintf(buf, size, "%s/test-tpm-XXXXXX", getenv("TMPDIR") ?: "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* ------------------------------------------------------------------ errors without a TPM */

typedef struct RcCase {
        TSS2_RC rc;
        int expect;
} RcCase;

static const RcCase rc_cases[] = {
        { TSS2_RC_SUCCESS, 0 },
        { TPM2_RC_FAILURE, -EIO },
        { TPM2_RC_INITIALIZE, -EIO },
        { TPM2_RC_RETRY, -EBUSY },
        { TPM2_RC_YIELDED, -EBUSY },
        { TPM2_RC_TESTING, -EBUSY },
        { TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_RETRY, -EBUSY },
        { TPM2_RC_OBJECT_MEMORY, -ENOSPC },
        { TPM2_RC_SESSION_MEMORY, -ENOSPC },
        { TPM2_RC_LOCKOUT, -EACCES },
        { TPM2_RC_HANDLE | TPM2_RC_P | TPM2_RC_1, -ENOENT },        /* 0x18b */
        { TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_1, -EACCES },      /* 0x9a2 */
        { TPM2_RC_AUTH_FAIL | TPM2_RC_S | TPM2_RC_1, -EACCES },
        { TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_2, -EINVAL },
        { TPM2_RC_HASH | TPM2_RC_P | TPM2_RC_1, -EOPNOTSUPP },
        { TPM2_RC_NV_DEFINED, -EEXIST },
        { TPM2_RC_NV_UNINITIALIZED, -ENODATA },
        { TPM2_RC_COMMAND_CODE, -EOPNOTSUPP },
        { TSS2_TCTI_RC_IO_ERROR, -EIO },
        { TSS2_TCTI_RC_NO_CONNECTION, -ENODEV },
        { TSS2_ESYS_RC_MEMORY, -ENOMEM },
        { TSS2_ESYS_RC_BAD_VALUE, -EINVAL },
        { TSS2_ESYS_RC_MALFORMED_RESPONSE, -EBADMSG },
        { TSS2_TCTI_RC_NOT_SUPPORTED, -EOPNOTSUPP },
        { TSS2_MU_RC_INSUFFICIENT_BUFFER, -EINVAL },
};

START_TEST(test_rc_to_errno) {
        for (size_t i = 0; i < ELEMENTSOF(rc_cases); i++)
                ck_assert_msg(tpm_rc_to_errno(rc_cases[i].rc) == rc_cases[i].expect,
                              "rc 0x%x: got %d, want %d", rc_cases[i].rc, tpm_rc_to_errno(rc_cases[i].rc),
                              rc_cases[i].expect);
}
END_TEST

typedef struct OpenCase {
        const char *tcti;               /* "@" is replaced by a private temp dir */
        int expect;
        const char *message_part;
} OpenCase;

static const OpenCase open_cases[] = {
        { "device:@/missing", -ENOENT, "no TPM" },
        { "device:/dev/null", -ENODEV, "does not answer" },
        { "device:@/regular", -ENODEV, "not a TPM device" },
        { "swtpm:path=@/missing.sock", -ENOENT, "missing.sock" },
        { "swtpm:path=@/regular", -ENODEV, "not a socket" },
        { "swtpm:path=@/unbound.sock", -ECONNREFUSED, "unbound.sock" },
        { "mssim:host=127.0.0.1,port=1", -ECONNREFUSED, "127.0.0.1" },
        { "nosuchtcti:x", -EINVAL, "unknown" },
        { "swtpm:garbage", -EINVAL, "bad options" },
};

START_TEST(test_open_errors) {
        char dir[80], path[128], tcti[256];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const OpenCase *c = &open_cases[_i];
        _cleanup_free_ char *msg = NULL;
        TpmContext *t = NULL;
        int fd, r;

        make_tmpdir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/regular", dir);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, "not a tpm", 9), 9);
        close(fd);
        /* A bound socket nobody listens on: connect() is refused. */
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/unbound.sock", dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);

        const char *at = strchr(c->tcti, '@');
        if (at)
                snprintf(tcti, sizeof tcti, "%.*s%s%s", (int) (at - c->tcti), c->tcti, dir, at + 1);
        else
                snprintf(tcti, sizeof tcti, "%s", c->tcti);
        r = tpm_context_new_full(tcti, &t, &msg);
        ck_assert_msg(r == c->expect, "%s: got %d (%s), want %d", tcti, r, strna(msg), c->expect);
        ck_assert_ptr_null(t);
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strstr(msg, c->message_part), "%s: message '%s' lacks '%s'", tcti, msg, c->message_part);

        close(fd);
        unlink(sa.sun_path);
        unlink(path);
        rmdir(dir);
}
END_TEST

START_TEST(test_open_permission_denied) {
        char dir[96], path[128], tcti[160];
        _cleanup_free_ char *msg = NULL;
        TpmContext *t = NULL;
        int fd, r;

        make_tmpdir(dir, sizeof dir);
        /* Traversable, so that open() itself is what gets refused. */
        ck_assert_int_eq(chmod(getenv("TMPDIR") ?: "/tmp", 0755) == 0 || !getenv("TMPDIR"), 1);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        snprintf(path, sizeof path, "%s/tpmrm0", dir);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);
        /* Root may open anything: drop to nobody, in this forked test process only. */
        if (geteuid() == 0)
                ck_assert(setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0);
        else
                ck_assert_int_eq(chmod(path, 0), 0);

        snprintf(tcti, sizeof tcti, "device:%s", path);
        r = tpm_context_new_full(tcti, &t, &msg);
        ck_assert_int_eq(r, -EACCES);
        ck_assert_ptr_nonnull(strstr(msg, path));
        ck_assert_ptr_nonnull(strstr(msg, "cannot open TPM device"));
}
END_TEST

/* ------------------------------------------------------------------ basic commands */

START_TEST(test_random) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        uint8_t a[200] = {}, b[200] = {}, zero[200] = {};

        /* More than one TPM2_GetRandom's worth (the TPM caps each call at a digest size). */
        ck_assert_int_eq(tpm_get_random(t, a, sizeof a), 0);
        ck_assert_int_eq(tpm_get_random(t, b, sizeof b), 0);
        ck_assert(memcmp(a, zero, sizeof a) != 0);
        ck_assert(memcmp(a, b, sizeof a) != 0);
        ck_assert(memcmp(a + 150, zero, 50) != 0);
        ck_assert_int_eq(tpm_get_random(t, a, 0), 0);
        ck_assert_str_eq(tpm_context_last_error(t), "");
        ck_assert(!tpm_context_is_broken(t));
}
END_TEST

START_TEST(test_default_tcti) {
        /* Without a TPM, the default TCTI must say so rather than fail vaguely. */
        TpmContext *t = NULL;
        int r = tpm_context_new(NULL, &t);

        if (access("/dev/tpmrm0", F_OK) < 0) {
                ck_assert_int_eq(r, -ENOENT);
                ck_assert_int_eq(tpm_context_new("", &t), -ENOENT);
                ck_assert_int_eq(tpm_context_new("device", &t), -ENOENT);
        } else
                ck_assert_msg(r == 0 || r == -EACCES || r == -EIO || r == -EBUSY, "unexpected %d", r);
        tpm_context_free(t);
}
END_TEST

/* swtpm going away under an open context: an error, and the context says it is unusable. */
START_TEST(test_tpm_gone) {
        TpmContext *t = tpm_test_open();
        uint32_t counter;

        ck_assert_int_eq(tpm_pcr_read_counter(t, &counter), 0);
        ck_assert_int_eq(swtpm_stop(&tpm), 0);
        ck_assert_int_lt(tpm_pcr_read_counter(t, &counter), 0);
        ck_assert(tpm_context_is_broken(t));
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "TPM2_PCR_Read"));
        tpm_context_free(t);
}
END_TEST

/* ------------------------------------------------------------------ PCRs */

static bool has_bank(const uint16_t *banks, size_t n, uint16_t alg) {
        for (size_t i = 0; i < n; i++)
                if (banks[i] == alg)
                        return true;
        return false;
}

START_TEST(test_active_banks) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        uint16_t banks[PCR_BANKS_MAX];
        size_t n = 0;

        ck_assert_int_eq(tpm_get_active_banks(t, banks, &n), 0);
        /* A fresh swtpm state allocates these (and sha512 in swtpm 0.7). */
        ck_assert(has_bank(banks, n, TPM_ALG_SHA1));
        ck_assert(has_bank(banks, n, TPM_ALG_SHA256));
        ck_assert(has_bank(banks, n, TPM_ALG_SHA384));
}
END_TEST

START_TEST(test_pcr_read_all_banks) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        uint16_t banks[PCR_BANKS_MAX];
        uint32_t counter = 0, counter2 = 0;
        uint8_t ones[PCR_DIGEST_MAX], zeros[PCR_DIGEST_MAX] = {};
        size_t n = 0;
        PcrSet set;

        memset(ones, 0xFF, sizeof ones);
        ck_assert_int_eq(tpm_get_active_banks(t, banks, &n), 0);
        ck_assert_int_ge(n, 3);

        /* 24 PCRs in 3+ banks is 72+ digests: nine or more TPM2_PCR_Read calls. */
        ck_assert_int_eq(tpm_pcr_read(t, 0xFFFFFF, banks, n, &set, &counter), 0);
        ck_assert_int_eq(set.n_banks, n);
        for (size_t i = 0; i < n; i++) {
                const PcrBank *b = &set.banks[i];
                ck_assert_int_eq(b->alg, banks[i]);
                ck_assert_int_eq(b->digest_size, tpm_alg_digest_size(banks[i]));
                ck_assert_uint_eq(b->present_mask, 0xFFFFFF);
                /* PC Client reset values: 0-16 zero, 17-22 all ones at locality 0, 23 zero. */
                ck_assert(memcmp(b->values[0], zeros, b->digest_size) == 0);
                ck_assert(memcmp(b->values[16], zeros, b->digest_size) == 0);
                ck_assert(memcmp(b->values[17], ones, b->digest_size) == 0);
                ck_assert(memcmp(b->values[22], ones, b->digest_size) == 0);
                ck_assert(memcmp(b->values[23], zeros, b->digest_size) == 0);
        }

        ck_assert_int_eq(tpm_pcr_read_counter(t, &counter2), 0);
        ck_assert_uint_eq(counter, counter2);

        /* Only what was asked for, in the order asked. */
        uint16_t two[] = { TPM_ALG_SHA384, TPM_ALG_SHA1 };
        ck_assert_int_eq(tpm_pcr_read(t, 0x804001, two, 2, &set, NULL), 0);
        ck_assert_int_eq(set.n_banks, 2);
        ck_assert_int_eq(set.banks[0].alg, TPM_ALG_SHA384);
        ck_assert_int_eq(set.banks[1].alg, TPM_ALG_SHA1);
        ck_assert_uint_eq(set.banks[0].present_mask, 0x804001);
        ck_assert_uint_eq(set.banks[1].present_mask, 0x804001);
}
END_TEST

static void sha256_extend(const uint8_t old[32], const uint8_t data[32], uint8_t out[32]) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned n = 0;
        ck_assert(md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
        ck_assert(EVP_DigestUpdate(md, old, 32) == 1 && EVP_DigestUpdate(md, data, 32) == 1);
        ck_assert(EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32);
        EVP_MD_CTX_free(md);
}

START_TEST(test_pcr_extend_counter) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        uint16_t banks[] = { TPM_ALG_SHA256, TPM_ALG_SHA1 };
        uint8_t digest[32], expect[32];
        uint32_t c0, c1, c2;
        PcrSet before, after;

        for (size_t i = 0; i < sizeof digest; i++)
                digest[i] = (uint8_t) (i * 7 + 1);

        ck_assert_int_eq(tpm_pcr_read(t, UINT32_C(1) << 14, banks, 2, &before, &c0), 0);
        ck_assert_int_eq(tpm_pcr_extend(t, 14, TPM_ALG_SHA256, digest, sizeof digest), 0);
        ck_assert_int_eq(tpm_pcr_read(t, UINT32_C(1) << 14, banks, 2, &after, &c1), 0);

        ck_assert_uint_gt(c1, c0);
        sha256_extend(before.banks[0].values[14], digest, expect);
        ck_assert(memcmp(after.banks[0].values[14], expect, 32) == 0);
        /* Only the sha256 bank was extended. */
        ck_assert(memcmp(after.banks[1].values[14], before.banks[1].values[14], 20) == 0);

        /* PCR 16 (debug) does not move the counter: change polling must use 0-15. */
        ck_assert_int_eq(tpm_pcr_extend(t, 16, TPM_ALG_SHA256, digest, sizeof digest), 0);
        ck_assert_int_eq(tpm_pcr_read_counter(t, &c2), 0);
        ck_assert_uint_eq(c2, c1);

        /* Bad extends. */
        ck_assert_int_eq(tpm_pcr_extend(t, 24, TPM_ALG_SHA256, digest, sizeof digest), -EINVAL);
        ck_assert_int_eq(tpm_pcr_extend(t, 14, TPM_ALG_SHA256, digest, 20), -EINVAL);
        ck_assert_int_eq(tpm_pcr_extend(t, 14, 0x1234, digest, 32), -EINVAL);
        /* PCR 17 cannot be extended at locality 0: the TPM refuses, mapped to an errno. */
        ck_assert_int_lt(tpm_pcr_extend(t, 17, TPM_ALG_SHA256, digest, sizeof digest), 0);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "TPM2_PCR_Extend"));
}
END_TEST

typedef struct SelCase {
        uint32_t mask;
        uint16_t banks[3];
        size_t n;
        int expect;
} SelCase;

static const SelCase sel_cases[] = {
        { 0, { TPM_ALG_SHA256 }, 1, -EINVAL },
        { UINT32_C(1) << 24, { TPM_ALG_SHA256 }, 1, -EINVAL },
        { 1, { 0 }, 0, -EINVAL },
        { 1, { 0x1234 }, 1, -EINVAL },
        { 1, { TPM_ALG_SHA256, TPM_ALG_SHA256 }, 2, -EINVAL },
        { 1, { TPM_ALG_SM3_256 }, 1, -EOPNOTSUPP },   /* known algorithm, bank not allocated */
        { 1, { TPM_ALG_SHA256, TPM_ALG_SM3_256 }, 2, -EOPNOTSUPP },
};

START_TEST(test_pcr_read_bad_selection) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        const SelCase *c = &sel_cases[_i];
        PcrSet set;

        int r = tpm_pcr_read(t, c->mask, c->banks, c->n, &set, NULL);
        ck_assert_msg(r == c->expect, "case %d: got %d, want %d (%s)", _i, r, c->expect, tpm_context_last_error(t));
        ck_assert_str_ne(tpm_context_last_error(t), "");
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
}
END_TEST

START_TEST(test_reboot) {
        TpmContext *t = tpm_test_open();
        uint16_t bank = TPM_ALG_SHA256;
        uint8_t digest[32] = { 1 }, zeros[32] = {};
        PcrSet set;

        ck_assert_int_eq(tpm_pcr_extend(t, 14, bank, digest, sizeof digest), 0);
        ck_assert_int_eq(tpm_pcr_read(t, UINT32_C(1) << 14, &bank, 1, &set, NULL), 0);
        ck_assert(memcmp(set.banks[0].values[14], zeros, 32) != 0);
        t = tpm_context_free(t);

        ck_assert_int_eq(swtpm_reboot(&tpm), 0);

        t = tpm_test_open();
        ck_assert_int_eq(tpm_pcr_read(t, UINT32_C(1) << 14, &bank, 1, &set, NULL), 0);
        ck_assert(memcmp(set.banks[0].values[14], zeros, 32) == 0);
        tpm_context_free(t);
}
END_TEST

/* ------------------------------------------------------------------ attestation key */

static void check_jwk_rsa(const TpmAk *ak) {
        TPMT_PUBLIC pub;
        const Buffer *blob = tpm_ak_get_public(ak);
        ck_assert_int_eq(quote_public_from_blob(blob->data, blob->size, &pub, NULL), 0);

        struct json_object *o = json_tokener_parse(tpm_ak_get_jwk(ak)), *v;
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "kty", &v) && streq(json_object_get_string(v), "RSA"));
        ck_assert(json_object_object_get_ex(o, "e", &v) && streq(json_object_get_string(v), "AQAB"));
        ck_assert(json_object_object_get_ex(o, "n", &v));
        _cleanup_free_ void *n = NULL;
        size_t size = 0;
        ck_assert_int_eq(b64url_decode(json_object_get_string(v), strlen(json_object_get_string(v)), &n, &size), 0);
        ck_assert_int_eq(size, 256);
        ck_assert(memcmp(n, pub.unique.rsa.buffer, 256) == 0);
        json_object_put(o);
        /* Member order and compactness are part of the contract (the text gets hashed). */
        ck_assert(strncmp(tpm_ak_get_jwk(ak), "{\"kty\":\"RSA\",\"n\":\"", 18) == 0);
        ck_assert(strstr(tpm_ak_get_jwk(ak), "\",\"e\":\"AQAB\"}"));
}

static void check_spki(const TpmAk *ak) {
        const Buffer *spki = tpm_ak_get_spki(ak);
        const unsigned char *p = spki->data;
        EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long) spki->size);
        ck_assert_ptr_nonnull(k);
        ck_assert_ptr_eq(p, spki->data + spki->size);
        ck_assert_int_eq(EVP_PKEY_eq(k, tpm_ak_get_pkey(ak)), 1);
        EVP_PKEY_free(k);
}

START_TEST(test_ak_created_once) {
        TpmContext *t = tpm_test_open();
        TpmAk *ak = NULL, *again = NULL;
        size_t persistent = tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST);

        ck_assert_int_eq(tpm_ak_load(t, AK_HANDLE, &ak), -ENOENT);
        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak), 1);
        ck_assert_int_eq(tpm_ak_get_handle(ak), AK_HANDLE);
        ck_assert_int_eq(tpm_ak_get_type(ak), TPM2_ALG_RSA);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST), persistent + 1);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_LOADED_SESSION_FIRST), 0);
        check_jwk_rsa(ak);
        check_spki(ak);
        t = tpm_context_free(t);

        /* A second start of the same TPM (the daemon restarting after a reboot): reused, not re-created. */
        ck_assert_int_eq(swtpm_stop(&tpm), 0);
        ck_assert_int_eq(swtpm_start_in(&tpm, tpm.dir), 0);
        t = tpm_test_open();
        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &again), 0);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST), persistent + 1);
        ck_assert_int_eq(tpm_ak_get_public(ak)->size, tpm_ak_get_public(again)->size);
        ck_assert(memcmp(tpm_ak_get_public(ak)->data, tpm_ak_get_public(again)->data, tpm_ak_get_public(ak)->size) == 0);
        ck_assert_str_eq(tpm_ak_get_jwk(ak), tpm_ak_get_jwk(again));

        /* Asking for ECC does not replace an existing RSA key. */
        tpm_ak_free(again);
        ck_assert_int_eq(tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_ECC, &again), 0);
        ck_assert_int_eq(tpm_ak_get_type(again), TPM2_ALG_RSA);

        tpm_ak_free(again);
        tpm_ak_free(ak);
        tpm_context_free(t);
}
END_TEST

START_TEST(test_ak_ecc) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        struct json_object *o, *v;

        ck_assert_int_eq(tpm_ak_load_or_create(t, 0x81000010, AK_ALG_ECC, &ak), 1);
        ck_assert_int_eq(tpm_ak_get_type(ak), TPM2_ALG_ECC);
        check_spki(ak);
        o = json_tokener_parse(tpm_ak_get_jwk(ak));
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "kty", &v) && streq(json_object_get_string(v), "EC"));
        ck_assert(json_object_object_get_ex(o, "crv", &v) && streq(json_object_get_string(v), "P-256"));
        for (const char *k = "x"; k; k = streq(k, "x") ? "y" : NULL) {
                _cleanup_free_ void *coord = NULL;
                size_t size = 0;
                ck_assert(json_object_object_get_ex(o, k, &v));
                ck_assert_int_eq(b64url_decode(json_object_get_string(v), strlen(json_object_get_string(v)), &coord, &size), 0);
                ck_assert_int_eq(size, 32);    /* full width, even with a leading zero byte */
        }
        json_object_put(o);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
}
END_TEST

START_TEST(test_ak_bad_handles) {
        _cleanup_(tpm_context_freep) TpmContext *t = tpm_test_open();
        TpmAk *ak = NULL;

        ck_assert_int_eq(tpm_ak_load(t, 0x80000001, &ak), -EINVAL);          /* transient range */
        ck_assert_int_eq(tpm_ak_load(t, 0x01C101D0, &ak), -EINVAL);          /* NV index */
        ck_assert_int_eq(tpm_ak_load(t, 0x81000099, &ak), -ENOENT);
        ck_assert_int_eq(tpm_ak_load_or_create(t, 0x81800000, AK_ALG_RSA, &ak), -EINVAL); /* platform range */
        ck_assert_int_eq(tpm_ak_load_or_create(t, 0x81000003, (AkAlgorithm) 7, &ak), -EINVAL);
        ck_assert_ptr_null(ak);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST), 0);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
}
END_TEST

/* Needs tpm2-tools to put something that is not an AK at a persistent handle. */
START_TEST(test_ak_refuses_non_ak_key) {
        TpmContext *t;
        TpmAk *ak = NULL;

        ck_assert_int_eq(swtpm_run(&tpm, "cd %s && tpm2_createprimary -Q -C o -c p.ctx && "
                                   "tpm2_evictcontrol -Q -C o -c p.ctx 0x81000005 && tpm2_flushcontext -t", tpm.dir), 0);
        t = tpm_test_open();
        ck_assert_int_eq(tpm_ak_load(t, 0x81000005, &ak), -EKEYREJECTED);
        ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "not a restricted"));
        /* Never replaced: load_or_create refuses too, and the key is still there. */
        ck_assert_int_eq(tpm_ak_load_or_create(t, 0x81000005, AK_ALG_RSA, &ak), -EKEYREJECTED);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST), 1);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
        tpm_context_free(t);
}
END_TEST

/* With an owner password, TPM2_EvictControl fails after the EK, the session and the AK were
 * loaded: the last step of the longest path. Repeated more often than swtpm has object slots. */
START_TEST(test_ak_create_failure_leaks_nothing) {
        TpmContext *t;
        TpmAk *ak = NULL;

        ck_assert_int_eq(swtpm_run(&tpm, "tpm2_changeauth -c o ownerpass"), 0);
        t = tpm_test_open();
        for (int i = 0; i < 5; i++) {
                int r = tpm_ak_load_or_create(t, AK_HANDLE, AK_ALG_RSA, &ak);
                ck_assert_msg(r == -EACCES, "attempt %d: %d %s", i, r, tpm_context_last_error(t));
                ck_assert_ptr_nonnull(strstr(tpm_context_last_error(t), "EvictControl"));
                tpm_test_assert_no_transients(t);
        }
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_PERSISTENT_FIRST), 0);
        ck_assert(!tpm_context_is_broken(t));
        tpm_context_free(t);
}
END_TEST

/* ------------------------------------------------------------------ AK certificate */

/* A real certificate: x5c[0] of the second key of a recorded MAA JWKS (1514 bytes DER). */
static void load_real_cert(Buffer *ret) {
        struct json_object *o = json_object_from_file(TESTDATA "/maa/2022-05-31/jwks/shared.json"), *keys, *x5c;
        void *der = NULL;
        size_t size = 0;

        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "keys", &keys));
        ck_assert(json_object_object_get_ex(json_object_array_get_idx(keys, 1), "x5c", &x5c));
        const char *s = json_object_get_string(json_object_array_get_idx(x5c, 0));
        ck_assert_int_eq(b64_decode(s, strlen(s), &der, &size), 0);
        json_object_put(o);
        *ret = (Buffer) { .data = der, .size = size };
}

static void write_bytes(const char *path, const void *p, size_t n) {
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fwrite(p, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_ak_cert_nv) {
        _cleanup_buffer_ Buffer cert = {}, got = {};
        _cleanup_free_ uint8_t *padded = NULL;
        char path[256];
        TpmContext *t;

        load_real_cert(&cert);
        ck_assert_int_gt(cert.size, 1024);     /* longer than one NV read on swtpm */
        padded = calloc(1, cert.size + 100);
        memcpy(padded, cert.data, cert.size);
        snprintf(path, sizeof path, "%s/cert.nv", tpm.dir);
        write_bytes(path, padded, cert.size + 100);
        snprintf(path, sizeof path, "%s/junk.nv", tpm.dir);
        write_bytes(path, "\x30\x82\x01\x00junkjunk", 12);
        ck_assert_int_eq(swtpm_run(&tpm, "cd %s && tpm2_nvdefine -Q 0x%x -C o -s %zu -a ownerread\\|ownerwrite\\|authread\\|authwrite "
                                   "&& tpm2_nvwrite -Q 0x%x -C o -i cert.nv "
                                   "&& tpm2_nvdefine -Q 0x01C10100 -C o -s 12 -a ownerread\\|ownerwrite "
                                   "&& tpm2_nvwrite -Q 0x01C10100 -C o -i junk.nv "
                                   "&& tpm2_nvdefine -Q 0x01C10101 -C o -s 64 -a ownerread\\|ownerwrite",
                                   tpm.dir, AK_CERT_NV, cert.size + 100, AK_CERT_NV), 0);

        t = tpm_test_open();
        ck_assert_int_eq(tpm_ak_read_cert_nv(t, AK_CERT_NV, &got), 1);
        ck_assert_int_eq(got.size, cert.size);
        ck_assert(memcmp(got.data, cert.data, cert.size) == 0);
        buffer_done(&got);

        ck_assert_int_eq(tpm_ak_read_cert(t, AK_CERT_NV, NULL, &got), 1);
        ck_assert_int_eq(got.size, cert.size);
        buffer_done(&got);

        /* Absent or never written: "no certificate", not an error. */
        ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x01C10199, &got), 0);
        ck_assert_ptr_null(got.data);
        ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x01C10101, &got), 0);
        ck_assert_int_eq(tpm_ak_read_cert(t, 0, NULL, &got), 0);
        /* Not a certificate; not an NV handle. */
        ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x01C10100, &got), -EBADMSG);
        ck_assert_int_eq(tpm_ak_read_cert_nv(t, 0x81000003, &got), -EINVAL);
        ck_assert_int_eq(tpm_test_count_handles(t, TPM_HANDLE_TRANSIENT_FIRST), 0);
        tpm_context_free(t);
}
END_TEST

START_TEST(test_ak_cert_file) {
        _cleanup_buffer_ Buffer cert = {}, got = {};
        char dir[96], path[128];
        const unsigned char *p;
        X509 *x;
        FILE *f;

        load_real_cert(&cert);
        make_tmpdir(dir, sizeof dir);

        snprintf(path, sizeof path, "%s/c.der", dir);
        write_bytes(path, cert.data, cert.size);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), 0);
        ck_assert(got.size == cert.size && memcmp(got.data, cert.data, cert.size) == 0);
        buffer_done(&got);
        ck_assert_int_eq(tpm_ak_read_cert(NULL, AK_CERT_NV, path, &got), 1);   /* the file wins */
        buffer_done(&got);

        snprintf(path, sizeof path, "%s/c.pem", dir);
        p = cert.data;
        x = d2i_X509(NULL, &p, (long) cert.size);
        f = fopen(path, "we");
        ck_assert(x && f && PEM_write_X509(f, x) == 1);
        fclose(f);
        X509_free(x);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), 0);
        ck_assert(got.size == cert.size && memcmp(got.data, cert.data, cert.size) == 0);
        buffer_done(&got);

        /* Negative cases: DER with trailing bytes, truncated DER, garbage PEM, empty, missing. */
        snprintf(path, sizeof path, "%s/bad", dir);
        write_bytes(path, cert.data, cert.size - 1);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), -EBADMSG);
        uint8_t *longer = calloc(1, cert.size + 1);
        memcpy(longer, cert.data, cert.size);
        write_bytes(path, longer, cert.size + 1);
        free(longer);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), -EBADMSG);
        write_bytes(path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 59);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), -EBADMSG);
        write_bytes(path, "", 0);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), -EBADMSG);
        unlink(path);
        ck_assert_int_eq(tpm_ak_read_cert_file(path, &got), -ENOENT);
        ck_assert_ptr_null(got.data);

        snprintf(path, sizeof path, "%s/c.der", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/c.pem", dir);
        unlink(path);
        rmdir(dir);
}
END_TEST

static Suite *tpm_suite(void) {
        Suite *s = suite_create("tpm");
        TCase *tc;

        tc = tcase_create("errors");
        tcase_add_unchecked_fixture(tc, test_tmpdir_setup, test_tmpdir_teardown);
        tcase_add_test(tc, test_rc_to_errno);
        tcase_add_loop_test(tc, test_open_errors, 0, ELEMENTSOF(open_cases));
        tcase_add_test(tc, test_open_permission_denied);
        tcase_add_test(tc, test_default_tcti);
        tcase_add_test(tc, test_ak_cert_file);
        suite_add_tcase(s, tc);

        tc = tpm_test_add_tcase(s, "swtpm");
        tcase_add_test(tc, test_random);
        tcase_add_test(tc, test_tpm_gone);
        tcase_add_test(tc, test_active_banks);
        tcase_add_test(tc, test_pcr_read_all_banks);
        tcase_add_test(tc, test_pcr_extend_counter);
        tcase_add_loop_test(tc, test_pcr_read_bad_selection, 0, ELEMENTSOF(sel_cases));
        tcase_add_test(tc, test_reboot);
        tcase_add_test(tc, test_ak_created_once);
        tcase_add_test(tc, test_ak_ecc);
        tcase_add_test(tc, test_ak_bad_handles);

        if (have_tools) {
                tc = tpm_test_add_tcase(s, "swtpm+tpm2-tools");
                tcase_add_test(tc, test_ak_refuses_non_ak_key);
                tcase_add_test(tc, test_ak_create_failure_leaks_nothing);
                tcase_add_test(tc, test_ak_cert_nv);
        }
        return s;
}

int main(void) {
        if (!tpm_test_init())
                return EXIT_TEST_SKIP;
        have_tools = tpm_test_have_tools("tpm2_nvdefine", "tpm2_changeauth",
                                         "the tests that provision with them");
        return check_run(tpm_suite());
}
