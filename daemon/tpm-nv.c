/* SPDX-License-Identifier: MIT */
/* NV indices: reading an ordinary index whole (AK certificates, Azure's HCL report) and replacing
 * one (a renewed AK certificate). */
#include <assert.h>

#include "log.h"
#include "tpm-internal.h"

static int tpm_nv_buffer_max(TpmContext *t, uint32_t *ret) {
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more = TPM2_NO;
        int r;

        if (t->nv_buffer_max == 0) {
                r = TPM_CALL(t, "TPM2_GetCapability(NV_BUFFER_MAX)",
                             Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap));
                if (r < 0)
                        return r;
                const TPML_TAGGED_TPM_PROPERTY *p = &cap->data.tpmProperties;
                /* 512 is what the PC Client profile requires at least. */
                t->nv_buffer_max = p->count > 0 && p->tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX ?
                        p->tpmProperty[0].value : 512;
                t->nv_buffer_max = MIN(MAX(t->nv_buffer_max, 64u), (uint32_t) TPM2_MAX_NV_BUFFER_SIZE);
        }
        *ret = t->nv_buffer_max;
        return 0;
}

static int nv_read_all(TpmContext *t, ESYS_TR index, ESYS_TR auth, size_t size, uint8_t *buf) {
        uint32_t chunk;
        int r;

        r = tpm_nv_buffer_max(t, &chunk);
        if (r < 0)
                return r;

        for (size_t off = 0; off < size;) {
                _cleanup_esys_ TPM2B_MAX_NV_BUFFER *data = NULL;
                uint16_t n = (uint16_t) MIN(size - off, (size_t) chunk);

                r = TPM_CALL(t, "TPM2_NV_Read",
                             Esys_NV_Read(t->esys, auth, index, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                          n, (uint16_t) off, &data));
                if (r < 0)
                        return r;
                if (data->size != n)
                        return tpm_error(t, -EBADMSG, "TPM2_NV_Read returned %u bytes instead of %u.",
                                         data->size, n);
                memcpy(buf + off, data->buffer, n);
                off += n;
        }
        return 0;
}

static int nv_check_handle(TpmContext *t, uint32_t nv_index) {
        if ((nv_index & TPM_HANDLE_RANGE_MASK) != TPM_HANDLE_NV_INDEX_FIRST)
                return tpm_error(t, -EINVAL, "0x%08x is not an NV index handle.", nv_index);
        return 0;
}

int tpm_nv_read(TpmContext *t, uint32_t nv_index, Buffer *ret) {
        _cleanup_tpm_handle_ TpmHandle h = TPM_HANDLE_INIT(t, false);
        _cleanup_esys_ TPM2B_NV_PUBLIC *pub = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        int r;

        assert(t);
        assert(ret);

        r = nv_check_handle(t, nv_index);
        if (r < 0)
                return r;
        r = tpm_handle_exists(t, nv_index);
        if (r < 0)
                return r;
        if (r == 0) {
                log_debug("NV index 0x%08x is not defined.", nv_index);
                *ret = (Buffer) {};
                return 0;
        }

        r = TPM_CALL(t, "Esys_TR_FromTPMPublic(NV)",
                     Esys_TR_FromTPMPublic(t->esys, nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h.tr));
        if (r < 0)
                return r;
        r = TPM_CALL(t, "TPM2_NV_ReadPublic",
                     Esys_NV_ReadPublic(t->esys, h.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL));
        if (r < 0)
                return r;

        TPMA_NV attrs = pub->nvPublic.attributes;
        if (((attrs & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) != TPM2_NT_ORDINARY)
                return tpm_error(t, -EBADMSG, "NV index 0x%08x is not an ordinary data index.", nv_index);
        if (!(attrs & TPMA_NV_WRITTEN)) {
                log_debug("NV index 0x%08x was never written.", nv_index);
                *ret = (Buffer) {};
                return 0;
        }
        if (pub->nvPublic.dataSize == 0)
                return tpm_error(t, -EBADMSG, "NV index 0x%08x is empty.", nv_index);

        buf = malloc(pub->nvPublic.dataSize);
        if (!buf)
                return -ENOMEM;
        /* Read with the index's own (empty) authorization when allowed, else the owner's. */
        r = nv_read_all(t, h.tr, (attrs & TPMA_NV_AUTHREAD) || !(attrs & TPMA_NV_OWNERREAD) ?
                        h.tr : ESYS_TR_RH_OWNER, pub->nvPublic.dataSize, buf);
        if (r < 0)
                return r;

        *ret = (Buffer) { .data = TAKE_PTR(buf), .size = pub->nvPublic.dataSize };
        return 1;
}

int tpm_nv_replace(TpmContext *t, uint32_t nv_index, const void *data, size_t size) {
        _cleanup_tpm_handle_ TpmHandle h = TPM_HANDLE_INIT(t, false);
        uint32_t chunk;
        int r;

        assert(t);
        assert(data);

        r = nv_check_handle(t, nv_index);
        if (r < 0)
                return r;
        if (size == 0 || size > UINT16_MAX)
                return tpm_error(t, -EINVAL, "%zu bytes do not fit an NV index.", size);
        r = tpm_nv_buffer_max(t, &chunk);
        if (r < 0)
                return r;

        r = tpm_handle_exists(t, nv_index);
        if (r < 0)
                return r;
        if (r > 0) {
                r = TPM_CALL(t, "Esys_TR_FromTPMPublic(NV)",
                             Esys_TR_FromTPMPublic(t->esys, nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                   &h.tr));
                if (r < 0)
                        return r;
                r = TPM_CALL(t, "TPM2_NV_UndefineSpace",
                             Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, h.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                   ESYS_TR_NONE));
                if (r < 0)
                        return r;
                h.tr = ESYS_TR_NONE; /* ESAPI dropped it with the index */
        }

        TPM2B_NV_PUBLIC pub = {
                .nvPublic = {
                        .nvIndex = nv_index,
                        .nameAlg = TPM2_ALG_SHA256,
                        .attributes = TPMA_NV_OWNERREAD | TPMA_NV_OWNERWRITE | TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE,
                        .dataSize = (UINT16) size,
                },
        };
        TPM2B_AUTH auth = {};
        r = TPM_CALL(t, "TPM2_NV_DefineSpace",
                     Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &auth, &pub, &h.tr));
        if (r < 0)
                return r;

        for (size_t off = 0; off < size;) {
                TPM2B_MAX_NV_BUFFER b = { .size = (UINT16) MIN(size - off, (size_t) chunk) };

                memcpy(b.buffer, (const uint8_t *) data + off, b.size);
                r = TPM_CALL(t, "TPM2_NV_Write",
                             Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, h.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &b, (UINT16) off));
                if (r < 0)
                        return r;
                off += b.size;
        }
        return 0;
}
