/* SPDX-License-Identifier: MIT */
/* The ephemeral encryption key of Azure's guest attestation (AZURE-GUEST.md §3): an RSA-2048
 * decrypt key, primary in the NULL hierarchy, usable only under a PolicyPCR over the quoted PCRs,
 * certified by the AK. It is recreated (same template, same PCRs, same boot) to unwrap the reply. */
#pragma once

#include "pcrs.h"
#include "tpm.h"
#include "util.h"

#define TPM_ENCKEY_ATTRIBUTES UINT32_C(0x00020432) /* decrypt|noDA|sensitiveDataOrigin|fixedParent|fixedTPM */

typedef struct TpmEncKey {
        Buffer public;                  /* marshalled TPM2B_PUBLIC (the request's EncKeyPub) */
        Buffer certify_info;            /* TPMS_ATTEST of TPM2_Certify by the AK */
        Buffer certify_signature;       /* its raw RSASSA-SHA256 signature bytes */
} TpmEncKey;

void tpm_enckey_done(TpmEncKey *k);

/* The key's authPolicy: PolicyPCR over the PCRs of MASK in the SHA-256 bank with the values in
 * PCRS (which must hold each of them), in closed form, as the service recomputes it. */
int tpm_enckey_policy(uint32_t mask, const PcrBank *pcrs, uint8_t ret[static 32]);

/* Creates the key bound to PCRS (the SHA-256 values of MASK just quoted), certifies it with AK
 * (empty qualifying data) and flushes it. Every transient handle is flushed on every path. */
int tpm_enckey_create(TpmContext *t, const TpmAk *ak, uint32_t mask, const PcrBank *pcrs, TpmEncKey *ret);

/* Recreates the key and RSAES-decrypts CIPHER with it in a PolicyPCR session. The PCRs are read
 * again first: -ESTALE when one differs from PCRS (what the key was bound to), or when the
 * recreated key is not PUBLIC (the TPM was reset since: the NULL seed changed). -EBADMSG when the
 * TPM cannot decrypt CIPHER with the key. *ret (the secret) is the caller's to wipe. Nothing stays
 * loaded on any path. */
int tpm_enckey_decrypt(TpmContext *t, uint32_t mask, const PcrBank *pcrs, const Buffer *public,
                       const void *cipher, size_t size, Buffer *ret);

/* The raw RSA signature bytes of a marshalled RSASSA-SHA256 TPMT_SIGNATURE (a quote's), as the
 * AzureGuest request carries them. -EBADMSG for anything else. */
int tpm_signature_to_raw(const Buffer *marshalled, Buffer *ret);
