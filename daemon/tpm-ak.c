/* SPDX-License-Identifier: MIT */
/* The attestation key: loaded from its persistent handle, or created once under the TCG default
 * EK and persisted there. Never one key per boot or per attestation. Also the AK certificate. */
#include <assert.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "b64.h"
#include "cleanup.h"
#include "log.h"
#include "quote-verify.h"
#include "tpm-ak.h"
#include "tpm-internal.h"

#define TPM_AK_CERT_FILE_MAX (64 * 1024)

struct TpmAk {
        uint32_t handle;
        TPMT_PUBLIC public;
        TPM2B_NAME name;
        Buffer public_blob;
        Buffer spki;
        char *jwk;
        EVP_PKEY *pkey;
};

/* Moves an OPENSSL_malloc'd DER encoding into a malloc'd Buffer (Buffer owners use free()). */
static int der_to_buffer(unsigned char *der, int n, Buffer *ret) {
        uint8_t *p;

        if (n <= 0) {
                ERR_clear_error();
                return -ENOMEM;
        }
        p = malloc((size_t) n);
        if (p)
                memcpy(p, der, (size_t) n);
        OPENSSL_free(der);
        if (!p)
                return -ENOMEM;
        *ret = (Buffer) { .data = p, .size = (size_t) n };
        return 0;
}

/* TCG EK Credential Profile 2.x, template L-1 (RSA 2048, AES-128-CFB): the key the EK certificate
 * certifies. Its authPolicy is PolicySecret(TPM_RH_ENDORSEMENT), so using it as a parent needs a
 * policy session satisfied with the endorsement hierarchy's authorization. */
static const TPM2B_PUBLIC ek_template = {
        .publicArea = {
                .type = TPM2_ALG_RSA,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                        TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                        TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
                .authPolicy = {
                        .size = 32,
                        .buffer = { 0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                    0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                    0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA },
                },
                .parameters.rsaDetail = {
                        .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                        .scheme.scheme = TPM2_ALG_NULL,
                        .keyBits = 2048,
                        .exponent = 0,
                },
                .unique.rsa.size = 256,         /* 256 zero bytes */
        },
};

#define AK_ATTRIBUTES                                                                       \
        (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | \
         TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

static const TPM2B_PUBLIC ak_template_rsa = {
        .publicArea = {
                .type = TPM2_ALG_RSA,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = AK_ATTRIBUTES,
                .parameters.rsaDetail = {
                        .symmetric.algorithm = TPM2_ALG_NULL,
                        .scheme = { .scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
                        .keyBits = 2048,
                        .exponent = 0,
                },
        },
};

static const TPM2B_PUBLIC ak_template_ecc = {
        .publicArea = {
                .type = TPM2_ALG_ECC,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = AK_ATTRIBUTES,
                .parameters.eccDetail = {
                        .symmetric.algorithm = TPM2_ALG_NULL,
                        .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                        .curveID = TPM2_ECC_NIST_P256,
                        .kdf.scheme = TPM2_ALG_NULL,
                },
        },
};

TpmAk *tpm_ak_free(TpmAk *ak) {
        if (!ak)
                return NULL;
        buffer_done(&ak->public_blob);
        buffer_done(&ak->spki);
        free(ak->jwk);
        EVP_PKEY_free(ak->pkey);
        free(ak);
        return NULL;
}

uint32_t tpm_ak_get_handle(const TpmAk *ak) {
        return ak->handle;
}

uint16_t tpm_ak_get_type(const TpmAk *ak) {
        return ak->public.type;
}

const Buffer *tpm_ak_get_public(const TpmAk *ak) {
        return &ak->public_blob;
}

const Buffer *tpm_ak_get_spki(const TpmAk *ak) {
        return &ak->spki;
}

const char *tpm_ak_get_jwk(const TpmAk *ak) {
        return ak->jwk;
}

EVP_PKEY *tpm_ak_get_pkey(const TpmAk *ak) {
        return ak->pkey;
}

const TPM2B_NAME *tpm_ak_name(const TpmAk *ak) {
        return &ak->name;
}

const TPMT_PUBLIC *tpm_ak_public(const TpmAk *ak) {
        return &ak->public;
}

static int b64url_member(const uint8_t *p, size_t n, bool minimal, char **ret) {
        /* Base64urlUInt (RFC 7518 §2) wants the shortest big-endian form for n and e. */
        while (minimal && n > 1 && p[0] == 0)
                p++, n--;
        return b64url_encode(p, n, ret);
}

static int ak_make_jwk(const TPMT_PUBLIC *pub, char **ret) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *jwk = NULL;
        int r;

        if (pub->type == TPM2_ALG_RSA) {
                uint32_t e = pub->parameters.rsaDetail.exponent ?: 65537;
                uint8_t ebytes[4] = { e >> 24, e >> 16, e >> 8, e };

                r = b64url_member(pub->unique.rsa.buffer, pub->unique.rsa.size, true, &a);
                if (r >= 0)
                        r = b64url_member(ebytes, sizeof ebytes, true, &b);
                if (r < 0)
                        return r;
                if (asprintf(&jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", a, b) < 0)
                        return -ENOMEM;
        } else {
                static const struct { uint16_t id; const char *crv; size_t size; } curves[] = {
                        { TPM2_ECC_NIST_P256, "P-256", 32 },
                        { TPM2_ECC_NIST_P384, "P-384", 48 },
                        { TPM2_ECC_NIST_P521, "P-521", 66 },
                };
                const TPMS_ECC_POINT *p = &pub->unique.ecc;
                uint8_t x[66] = {}, y[66] = {};
                size_t i;

                for (i = 0; i < ELEMENTSOF(curves) && curves[i].id != pub->parameters.eccDetail.curveID; i++)
                        ;
                if (i >= ELEMENTSOF(curves) || p->x.size > curves[i].size || p->y.size > curves[i].size)
                        return -EOPNOTSUPP;
                /* Coordinates are full width in a JWK (RFC 7518 §6.2.1.2), unlike n and e. */
                memcpy(x + curves[i].size - p->x.size, p->x.buffer, p->x.size);
                memcpy(y + curves[i].size - p->y.size, p->y.buffer, p->y.size);
                r = b64url_member(x, curves[i].size, false, &a);
                if (r >= 0)
                        r = b64url_member(y, curves[i].size, false, &b);
                if (r < 0)
                        return r;
                if (asprintf(&jwk, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
                             curves[i].crv, a, b) < 0)
                        return -ENOMEM;
        }

        *ret = jwk;
        return 0;
}

static int ak_check_public(TpmContext *t, uint32_t handle, const TPMT_PUBLIC *pub) {
        TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM;
        uint16_t scheme;

        if (pub->type != TPM2_ALG_RSA && pub->type != TPM2_ALG_ECC)
                return tpm_error(t, -EKEYREJECTED, "Key at 0x%08x is of type 0x%04x, not RSA or ECC.",
                                 handle, pub->type);
        if ((pub->objectAttributes & need) != need || (pub->objectAttributes & TPMA_OBJECT_DECRYPT))
                return tpm_error(t, -EKEYREJECTED,
                                 "Key at 0x%08x is not a restricted, TPM-bound signing key (attributes 0x%08x).",
                                 handle, pub->objectAttributes);

        scheme = pub->type == TPM2_ALG_RSA ? pub->parameters.rsaDetail.scheme.scheme :
                pub->parameters.eccDetail.scheme.scheme;
        if (!(scheme == TPM2_ALG_NULL ||
              (pub->type == TPM2_ALG_RSA && IN_SET(scheme, TPM2_ALG_RSASSA, TPM2_ALG_RSAPSS)) ||
              (pub->type == TPM2_ALG_ECC && scheme == TPM2_ALG_ECDSA)))
                return tpm_error(t, -EKEYREJECTED, "Key at 0x%08x has unsupported signing scheme 0x%04x.",
                                 handle, scheme);
        return 0;
}

static int ak_from_public(TpmContext *t, uint32_t handle, const TPM2B_PUBLIC *pub, const TPM2B_NAME *name,
                          TpmAk **ret) {
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        uint8_t blob[sizeof(TPM2B_PUBLIC)];
        unsigned char *der = NULL;
        size_t off = 0;
        int r, n;

        r = ak_check_public(t, handle, &pub->publicArea);
        if (r < 0)
                return r;

        ak = calloc(1, sizeof *ak);
        if (!ak)
                return -ENOMEM;
        ak->handle = handle;
        ak->public = pub->publicArea;
        ak->name = *name;

        r = quote_public_to_pkey(&pub->publicArea, &ak->pkey);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return tpm_error(t, -EKEYREJECTED, "Key at 0x%08x is unusable: %s", handle, strerror(-r));

        r = tpm_translate(t, Tss2_MU_TPM2B_PUBLIC_Marshal(pub, blob, sizeof blob, &off), "Marshalling TPM2B_PUBLIC");
        if (r < 0)
                return r;
        ak->public_blob.data = malloc(off);
        if (!ak->public_blob.data)
                return -ENOMEM;
        memcpy(ak->public_blob.data, blob, off);
        ak->public_blob.size = off;

        n = i2d_PUBKEY(ak->pkey, &der);
        r = der_to_buffer(der, n, &ak->spki);
        if (r < 0)
                return r;

        r = ak_make_jwk(&pub->publicArea, &ak->jwk);
        if (r < 0)
                return tpm_error(t, r, "Cannot express the key at 0x%08x as a JWK.", handle);

        *ret = TAKE_PTR(ak);
        return 0;
}

int tpm_handle_exists(TpmContext *t, uint32_t handle) {
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more = TPM2_NO;
        int r;

        r = TPM_CALL(t, "TPM2_GetCapability(HANDLES)",
                     Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                        handle, 1, &more, &cap));
        if (r < 0)
                return r;
        return cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle;
}

int tpm_ak_load(TpmContext *t, uint32_t handle, TpmAk **ret) {
        _cleanup_tpm_handle_ TpmHandle h = TPM_HANDLE_INIT(t, false);
        _cleanup_esys_ TPM2B_PUBLIC *pub = NULL;
        _cleanup_esys_ TPM2B_NAME *name = NULL;
        int r;

        assert(t);
        assert(ret);

        if ((handle & TPM_HANDLE_RANGE_MASK) != TPM_HANDLE_PERSISTENT_FIRST)
                return tpm_error(t, -EINVAL, "AK handle 0x%08x is not a persistent handle.", handle);

        r = tpm_handle_exists(t, handle);
        if (r < 0)
                return r;
        if (r == 0)
                return tpm_error(t, -ENOENT, "No key is persisted at handle 0x%08x.", handle);

        r = TPM_CALL(t, "Esys_TR_FromTPMPublic(AK)",
                     Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h.tr));
        if (r < 0)
                return r;
        r = TPM_CALL(t, "TPM2_ReadPublic(AK)",
                     Esys_ReadPublic(t->esys, h.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name, NULL));
        if (r < 0)
                return r;

        return ak_from_public(t, handle, pub, name, ret);
}

/* Satisfies the EK's PolicySecret(TPM_RH_ENDORSEMENT) in SESSION (a policy session that stays
 * open after each use, so it must be re-satisfied before every command). */
static int ek_policy_satisfy(TpmContext *t, ESYS_TR session) {
        _cleanup_esys_ TPM2B_TIMEOUT *timeout = NULL;
        _cleanup_esys_ TPMT_TK_AUTH *ticket = NULL;

        return TPM_CALL(t, "TPM2_PolicySecret(endorsement)",
                        Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD,
                                          ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, &timeout, &ticket));
}

static int ek_policy_session(TpmContext *t, TpmHandle *session) {
        static const TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
        int r;

        r = TPM_CALL(t, "TPM2_StartAuthSession(policy)",
                     Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256,
                                           &session->tr));
        if (r < 0)
                return r;
        /* Keep it loaded after each command: we flush it ourselves, on every path. */
        return tpm_translate(t, Esys_TRSess_SetAttributes(t->esys, session->tr, TPMA_SESSION_CONTINUESESSION,
                                                          TPMA_SESSION_CONTINUESESSION),
                             "Esys_TRSess_SetAttributes");
}

static int ak_create(TpmContext *t, uint32_t handle, AkAlgorithm alg) {
        _cleanup_tpm_handle_ TpmHandle ek = TPM_HANDLE_INIT(t, true);
        _cleanup_tpm_handle_ TpmHandle session = TPM_HANDLE_INIT(t, true);
        _cleanup_tpm_handle_ TpmHandle key = TPM_HANDLE_INIT(t, true);
        _cleanup_tpm_handle_ TpmHandle persistent = TPM_HANDLE_INIT(t, false);
        _cleanup_esys_ TPM2B_PRIVATE *private = NULL;
        _cleanup_esys_ TPM2B_PUBLIC *public = NULL;
        const TPM2B_PUBLIC *template = alg == AK_ALG_ECC ? &ak_template_ecc : &ak_template_rsa;
        const TPM2B_SENSITIVE_CREATE sensitive = {};
        const TPML_PCR_SELECTION no_pcrs = {};
        const TPM2B_DATA no_data = {};
        int r;

        r = TPM_CALL(t, "TPM2_CreatePrimary(EK)",
                     Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &sensitive, &ek_template, &no_data, &no_pcrs, &ek.tr,
                                        NULL, NULL, NULL, NULL));
        if (r < 0)
                return r;

        r = ek_policy_session(t, &session);
        if (r < 0)
                return r;

        r = ek_policy_satisfy(t, session.tr);
        if (r < 0)
                return r;
        r = TPM_CALL(t, "TPM2_Create(AK)",
                     Esys_Create(t->esys, ek.tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, template,
                                 &no_data, &no_pcrs, &private, &public, NULL, NULL, NULL));
        if (r < 0)
                return r;

        r = ek_policy_satisfy(t, session.tr);
        if (r < 0)
                return r;
        r = TPM_CALL(t, "TPM2_Load(AK)",
                     Esys_Load(t->esys, ek.tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, private, public, &key.tr));
        if (r < 0)
                return r;

        r = TPM_CALL(t, "TPM2_EvictControl(AK)",
                     Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, key.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE, handle, &persistent.tr));
        if (r < 0)
                return r;

        log_debug("Created %s attestation key and persisted it at 0x%08x.", ak_algorithm_to_string(alg), handle);
        return 0;
}

int tpm_ak_load_or_create(TpmContext *t, uint32_t handle, AkAlgorithm alg, TpmAk **ret) {
        int r;

        assert(t);
        assert(ret);

        if (alg != AK_ALG_RSA && alg != AK_ALG_ECC)
                return tpm_error(t, -EINVAL, "Unknown AK algorithm %d.", alg);

        r = tpm_ak_load(t, handle, ret);
        if (r != -ENOENT)
                return r;

        if (handle < TPM_AK_HANDLE_FIRST || handle > TPM_AK_HANDLE_LAST)
                return tpm_error(t, -EINVAL, "AK handle 0x%08x is outside the owner's persistent range.", handle);

        r = ak_create(t, handle, alg);
        if (r < 0)
                return r;

        r = tpm_ak_load(t, handle, ret);
        if (r < 0)
                return r;
        return 1;
}

/* Cuts DATA to the DER certificate at its start. */
static int cert_der_length(const uint8_t *data, size_t size, size_t *ret) {
        const unsigned char *p = data;
        _cleanup_(X509_freep) X509 *x = d2i_X509(NULL, &p, (long) size);

        if (!x) {
                ERR_clear_error();
                return -EBADMSG;
        }
        *ret = (size_t) (p - data);
        return 0;
}

int tpm_ak_read_cert_nv(TpmContext *t, uint32_t nv_index, Buffer *ret) {
        _cleanup_(buffer_done) Buffer b = {};
        size_t len;
        int r;

        assert(t);
        assert(ret);

        r = tpm_nv_read(t, nv_index, &b);
        if (r < 0)
                return r;
        if (r == 0) {
                log_debug("No AK certificate in NV index 0x%08x.", nv_index);
                *ret = (Buffer) {};
                return 0;
        }
        r = cert_der_length(b.data, b.size, &len);
        if (r < 0)
                return tpm_error(t, r, "NV index 0x%08x does not hold a DER X.509 certificate.", nv_index);
        b.size = len;
        *ret = b;
        b = (Buffer) {};
        return 1;
}

int tpm_ak_read_cert_file(const char *path, Buffer *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_(X509_freep) X509 *x = NULL;
        unsigned char *der = NULL;
        size_t size, len;
        int n, r;

        assert(path);
        assert(ret);

        f = fopen(path, "re");
        if (!f)
                return log_debug_errno(-errno, "Cannot open AK certificate %s: %m", path);
        data = malloc(TPM_AK_CERT_FILE_MAX + 1);
        if (!data)
                return -ENOMEM;
        size = fread(data, 1, TPM_AK_CERT_FILE_MAX + 1, f);
        if (ferror(f))
                return log_debug_errno(-EIO, "Cannot read AK certificate %s.", path);
        if (size > TPM_AK_CERT_FILE_MAX)
                return log_debug_errno(-EFBIG, "AK certificate %s is larger than %d bytes.", path,
                                       TPM_AK_CERT_FILE_MAX);

        if (size >= 10 && memcmp(data, "-----BEGIN", 10) == 0) {
                _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(data, (int) size);
                if (!bio)
                        return -ENOMEM;
                x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                ERR_clear_error();
                if (!x)
                        return log_debug_errno(-EBADMSG, "AK certificate %s is not a PEM certificate.", path);
                n = i2d_X509(x, &der);
                return der_to_buffer(der, n, ret);
        }

        r = cert_der_length(data, size, &len);
        if (r < 0 || len != size)
                return log_debug_errno(-EBADMSG, "AK certificate %s is neither PEM nor a single DER certificate.",
                                       path);
        *ret = (Buffer) { .data = TAKE_PTR(data), .size = size };
        return 0;
}

int tpm_ak_read_cert(TpmContext *t, uint32_t nv_index, const char *path, Buffer *ret) {
        int r;

        if (path) {
                r = tpm_ak_read_cert_file(path, ret);
                return r < 0 ? r : 1;
        }
        if (nv_index != 0)
                return tpm_ak_read_cert_nv(t, nv_index, ret);
        *ret = (Buffer) {};
        return 0;
}
