/* SPDX-License-Identifier: MIT */
/* The attestation key: a restricted signing key at a persistent handle, created once under the EK
 * and reused afterwards, its public parts (TPM2B_PUBLIC, SubjectPublicKeyInfo, JWK) and its
 * certificate from an NV index or a file. */
#pragma once

#include <stdint.h>

#include <openssl/evp.h>

#include "config.h"
#include "tpm.h"
#include "util.h"

#define TPM_AK_HANDLE_FIRST UINT32_C(0x81000000) /* owner-hierarchy persistent handles */
#define TPM_AK_HANDLE_LAST UINT32_C(0x817FFFFF)

/* Loads the key at persistent HANDLE. It must be a restricted signing key (RSA, or ECC on
 * P-256/384/521), otherwise -EKEYREJECTED; the key is never altered. -ENOENT if nothing is
 * persisted there, -EINVAL if HANDLE is outside the persistent range, TPM errors as in tpm.h. */
int tpm_ak_load(TpmContext *t, uint32_t handle, TpmAk **ret);

/* tpm_ak_load(), and if HANDLE is empty: creates an AK (RSA-2048 RSASSA-SHA256 or ECC P-256
 * ECDSA-SHA256, per ALG) under the TCG default RSA EK, persists it at HANDLE and flushes every
 * transient object and session it used. Returns 1 if it created the key, 0 if it was there.
 * Creating a key takes seconds on a real TPM: call this once at start-up, never per attestation. */
int tpm_ak_load_or_create(TpmContext *t, uint32_t handle, AkAlgorithm alg, TpmAk **ret);

TpmAk *tpm_ak_free(TpmAk *ak);
DEFINE_TRIVIAL_CLEANUP_FUNC(TpmAk *, tpm_ak_free);

/* A TpmAk holds no TPM resources: it may outlive the TpmContext it was loaded from.
 * The getters return borrowed data that lives as long as AK. */
uint32_t tpm_ak_get_handle(const TpmAk *ak);
/* TPM2_ALG_RSA or TPM2_ALG_ECC. */
uint16_t tpm_ak_get_type(const TpmAk *ak);
/* The marshalled TPM2B_PUBLIC. */
const Buffer *tpm_ak_get_public(const TpmAk *ak);
/* DER SubjectPublicKeyInfo. */
const Buffer *tpm_ak_get_spki(const TpmAk *ak);
/* {"kty":"RSA","n":"…","e":"AQAB"} or {"kty":"EC","crv":"P-256","x":"…","y":"…"}: compact JSON,
 * members in this order, base64url without padding; n and e minimal big-endian, x and y full
 * width (RFC 7518). The exact text is stable, so it can be hashed into qualifying data. */
const char *tpm_ak_get_jwk(const TpmAk *ak);
EVP_PKEY *tpm_ak_get_pkey(const TpmAk *ak);

/* Reads the DER certificate stored at NV_INDEX, in chunks of the TPM's NV buffer size, and cuts
 * it to the length of its DER encoding (NV indices are often larger and padded). Returns 1 and
 * fills *ret when found; 0 and an empty *ret when the index is not defined or never written.
 * -EBADMSG if the content is not an X.509 certificate, -EINVAL for a handle outside the NV range,
 * TPM errors as in tpm.h. */
int tpm_ak_read_cert_nv(TpmContext *t, uint32_t nv_index, Buffer *ret);

/* Reads an X.509 certificate from PATH, PEM or DER, as DER. -ENOENT and other open errors,
 * -EBADMSG if the content is not a certificate, -EFBIG above 64 KiB. */
int tpm_ak_read_cert_file(const char *path, Buffer *ret);

/* The configured certificate: the file when PATH is set, else the NV index when NV_INDEX is
 * non-zero. Returns 1 and *ret, or 0 (and an empty *ret) when neither is configured or the
 * NV index is absent. */
int tpm_ak_read_cert(TpmContext *t, uint32_t nv_index, const char *path, Buffer *ret);
