/* SPDX-License-Identifier: MIT */
/* The PCR-bound encryption key of AzureGuest: template, policy, creation + certification, and the
 * decryption of the service's wrapped key. Every handle is a TpmHandle: no path leaves one loaded. */
#include <assert.h>

#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include "log.h"
#include "tpm-ak.h"
#include "tpm-enckey.h"
#include "tpm-internal.h"

void tpm_enckey_done(TpmEncKey *k) {
        buffer_done(&k->public);
        buffer_done(&k->certify_info);
        buffer_done(&k->certify_signature);
        *k = (TpmEncKey) {};
}

static int sha256_selection(uint32_t mask, TPML_PCR_SELECTION *ret) {
        if (mask == 0 || mask > PCR_ALL_MASK)
                return -EINVAL;
        *ret = (TPML_PCR_SELECTION) {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = TPM2_ALG_SHA256,
                        .sizeofSelect = 3,
                        .pcrSelect = { mask & 0xFF, (mask >> 8) & 0xFF, (mask >> 16) & 0xFF },
                },
        };
        return 0;
}

/* SHA-256 over the values in index order: PolicyPCR's pcrDigest. */
static int pcr_digest(uint32_t mask, const PcrBank *pcrs, uint8_t ret[static 32]) {
        uint8_t buf[PCR_COUNT * 32];
        size_t n = 0;

        if (!pcrs || pcrs->alg != TPM_ALG_SHA256 || (pcrs->present_mask & mask) != mask)
                return -EINVAL;
        for (unsigned i = 0; i < PCR_COUNT; i++)
                if (mask & (UINT32_C(1) << i)) {
                        memcpy(buf + n, pcrs->values[i], 32);
                        n += 32;
                }
        SHA256(buf, n, ret);
        return 0;
}

int tpm_enckey_policy(uint32_t mask, const PcrBank *pcrs, uint8_t ret[static 32]) {
        uint8_t buf[32 + 4 + sizeof(TPML_PCR_SELECTION) + 32], digest[32];
        TPML_PCR_SELECTION sel;
        size_t off = 32;
        int r;

        r = sha256_selection(mask, &sel);
        if (r >= 0)
                r = pcr_digest(mask, pcrs, digest);
        if (r < 0)
                return r;
        /* policyDigest' = H(policyDigest (zeros) || TPM_CC_PolicyPCR || selection || pcrDigest) */
        memset(buf, 0, 32);
        if (Tss2_MU_UINT32_Marshal(TPM2_CC_PolicyPCR, buf, sizeof buf, &off) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        memcpy(buf + off, digest, sizeof digest);
        off += sizeof digest;
        SHA256(buf, off, ret);
        return 0;
}

static int template_for(uint32_t mask, const PcrBank *pcrs, TPM2B_PUBLIC *ret) {
        int r;

        *ret = (TPM2B_PUBLIC) {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPM_ENCKEY_ATTRIBUTES,
                        .authPolicy.size = 32,
                        .parameters.rsaDetail = {
                                .symmetric.algorithm = TPM2_ALG_NULL,
                                .scheme.scheme = TPM2_ALG_NULL,
                                .keyBits = 2048,
                                .exponent = 0,
                        },
                        /* 256 zero bytes, as Azure's client: the same template gives the same key. */
                        .unique.rsa.size = 256,
                },
        };
        r = tpm_enckey_policy(mask, pcrs, ret->publicArea.authPolicy.buffer);
        return r;
}

/* Creates the primary into H and returns its marshalled public part. */
static int create_primary(TpmContext *t, uint32_t mask, const PcrBank *pcrs, TpmHandle *h, Buffer *ret_public) {
        _cleanup_esys_ TPM2B_PUBLIC *out = NULL;
        TPM2B_SENSITIVE_CREATE sensitive = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION creation = {};
        TPM2B_PUBLIC in;
        uint8_t buf[sizeof(TPM2B_PUBLIC)];
        size_t off = 0;
        int r;

        r = template_for(mask, pcrs, &in);
        if (r < 0)
                return tpm_error(t, r, "Bad PCR selection or values for the encryption key.");
        r = TPM_CALL(t, "TPM2_CreatePrimary(NULL hierarchy, encryption key)",
                     Esys_CreatePrimary(t->esys, ESYS_TR_RH_NULL, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &sensitive, &in, &outside, &creation, &h->tr, &out, NULL, NULL, NULL));
        if (r < 0)
                return r;
        r = tpm_translate(t, Tss2_MU_TPM2B_PUBLIC_Marshal(out, buf, sizeof buf, &off), "Marshalling TPM2B_PUBLIC");
        if (r < 0)
                return r;
        ret_public->data = malloc(off);
        if (!ret_public->data)
                return -ENOMEM;
        memcpy(ret_public->data, buf, off);
        ret_public->size = off;
        return 0;
}

int tpm_signature_rsassa_raw(TpmContext *t, const TPMT_SIGNATURE *sig, Buffer *ret) {
        if (sig->sigAlg != TPM2_ALG_RSASSA || sig->signature.rsassa.hash != TPM2_ALG_SHA256 ||
            sig->signature.rsassa.sig.size == 0)
                return tpm_error(t, -EBADMSG, "The AK's signature is not RSASSA-SHA256 (algorithm 0x%04x).",
                                 sig->sigAlg);
        ret->data = malloc(sig->signature.rsassa.sig.size);
        if (!ret->data)
                return -ENOMEM;
        memcpy(ret->data, sig->signature.rsassa.sig.buffer, sig->signature.rsassa.sig.size);
        ret->size = sig->signature.rsassa.sig.size;
        return 0;
}

int tpm_signature_to_raw(const Buffer *marshalled, Buffer *ret) {
        TPMT_SIGNATURE sig = {};
        size_t off = 0;

        if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(marshalled->data, marshalled->size, &off, &sig) != TSS2_RC_SUCCESS ||
            off != marshalled->size || sig.sigAlg != TPM2_ALG_RSASSA || sig.signature.rsassa.hash != TPM2_ALG_SHA256 ||
            sig.signature.rsassa.sig.size == 0)
                return -EBADMSG;
        ret->data = malloc(sig.signature.rsassa.sig.size);
        if (!ret->data)
                return -ENOMEM;
        memcpy(ret->data, sig.signature.rsassa.sig.buffer, sig.signature.rsassa.sig.size);
        ret->size = sig.signature.rsassa.sig.size;
        return 0;
}

int tpm_enckey_create(TpmContext *t, const TpmAk *ak, uint32_t mask, const PcrBank *pcrs, TpmEncKey *ret) {
        _cleanup_tpm_handle_ TpmHandle key = TPM_HANDLE_INIT(t, true), signer = TPM_HANDLE_INIT(t, false);
        _cleanup_(tpm_enckey_done) TpmEncKey k = {};
        _cleanup_esys_ TPM2B_ATTEST *info = NULL;
        _cleanup_esys_ TPMT_SIGNATURE *sig = NULL;
        TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
        TPM2B_DATA qd = {};
        int r;

        assert(t);
        assert(ak);
        assert(ret);

        r = tpm_ak_open(t, ak, &signer);
        if (r < 0)
                return r;
        r = create_primary(t, mask, pcrs, &key, &k.public);
        if (r < 0)
                return r;
        /* Certify needs the key's ADMIN role: a password session works since adminWithPolicy is clear. */
        r = TPM_CALL(t, "TPM2_Certify(encryption key, AK)",
                     Esys_Certify(t->esys, key.tr, signer.tr, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  &qd, &scheme, &info, &sig));
        if (r < 0)
                return r;
        r = tpm_signature_rsassa_raw(t, sig, &k.certify_signature);
        if (r < 0)
                return r;
        k.certify_info.data = malloc(MAX(info->size, 1));
        if (!k.certify_info.data)
                return -ENOMEM;
        memcpy(k.certify_info.data, info->attestationData, info->size);
        k.certify_info.size = info->size;

        *ret = k;
        k = (TpmEncKey) {};
        return 0;
}

static int check_pcrs_unchanged(TpmContext *t, uint32_t mask, const PcrBank *pcrs) {
        static const uint16_t sha256[] = { TPM_ALG_SHA256 };
        PcrSet now = {};
        int r;

        r = tpm_pcr_read(t, mask, sha256, 1, &now, NULL);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < PCR_COUNT; i++)
                if ((mask & (UINT32_C(1) << i)) && memcmp(now.banks[0].values[i], pcrs->values[i], 32) != 0)
                        return tpm_error(t, -ESTALE, "PCR %u changed since the evidence was sent.", i);
        return 0;
}

int tpm_enckey_decrypt(TpmContext *t, uint32_t mask, const PcrBank *pcrs, const Buffer *public,
                       const void *cipher, size_t size, Buffer *ret) {
        _cleanup_tpm_handle_ TpmHandle key = TPM_HANDLE_INIT(t, true), session = TPM_HANDLE_INIT(t, true);
        _cleanup_(buffer_done) Buffer again = {};
        _cleanup_esys_ TPM2B_PUBLIC_KEY_RSA *message = NULL;
        TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
        TPMT_RSA_DECRYPT scheme = { .scheme = TPM2_ALG_RSAES };
        TPM2B_PUBLIC_KEY_RSA in = {};
        TPM2B_DIGEST digest = { .size = 32 };
        TPM2B_DATA label = {};
        TPML_PCR_SELECTION sel;
        TSS2_RC rc;
        int r;

        assert(t);
        assert(ret);

        if (size == 0 || size > sizeof in.buffer)
                return tpm_error(t, -EBADMSG, "A wrapped key of %zu bytes cannot be for an RSA-2048 key.", size);
        r = sha256_selection(mask, &sel);
        if (r >= 0)
                r = pcr_digest(mask, pcrs, digest.buffer);
        if (r < 0)
                return tpm_error(t, r, "Bad PCR selection or values for the encryption key.");

        r = check_pcrs_unchanged(t, mask, pcrs);
        if (r < 0)
                return r;
        r = create_primary(t, mask, pcrs, &key, &again);
        if (r < 0)
                return r;
        if (again.size != public->size || memcmp(again.data, public->data, again.size) != 0)
                return tpm_error(t, -ESTALE, "The encryption key cannot be recreated: the TPM was reset since "
                                 "the evidence was sent.");

        r = TPM_CALL(t, "TPM2_StartAuthSession(policy)",
                     Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session.tr));
        if (r < 0)
                return r;
        /* Kept open after use, so that the cleanup's flush is what ends it on every path. */
        r = tpm_translate(t, Esys_TRSess_SetAttributes(t->esys, session.tr, TPMA_SESSION_CONTINUESESSION, 0xff),
                          "Esys_TRSess_SetAttributes");
        if (r < 0)
                return r;
        r = TPM_CALL(t, "TPM2_PolicyPCR",
                     Esys_PolicyPCR(t->esys, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &sel));
        if (r < 0)
                return r;

        memcpy(in.buffer, cipher, size);
        in.size = (UINT16) size;
        for (unsigned attempt = 1;; attempt++) {
                rc = Esys_RSA_Decrypt(t->esys, key.tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme, &label,
                                      &message);
                if (!tpm_rc_is_transient(rc) || attempt >= TPM_RETRY_MAX)
                        break;
                tpm_retry_pause();
        }
        r = tpm_translate(t, rc, "TPM2_RSA_Decrypt(RSAES)");
        /* Any answer of the TPM itself means this ciphertext is not for this key: libtpms even says
         * TPM_RC_FAILURE for bad padding, without entering failure mode. Transport errors stay. */
        if (r < 0 && (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && r != -EBUSY) {
                char why[sizeof t->last_error];

                snprintf(why, sizeof why, "%s", tpm_context_last_error(t));
                return tpm_error(t, -EBADMSG, "The TPM cannot decrypt the wrapped key: %s", why);
        }
        if (r < 0)
                return r;

        ret->data = malloc(MAX(message->size, 1));
        if (!ret->data) {
                explicit_erase(message->buffer, message->size);
                return -ENOMEM;
        }
        memcpy(ret->data, message->buffer, message->size);
        ret->size = message->size;
        explicit_erase(message->buffer, message->size);
        return 0;
}
