/* SPDX-License-Identifier: MIT */
/* The ephemeral request key of one attestation (PROTOCOL.md §2.5): a software RSA-2048 key whose
 * JWK text is bound into the quote and which signs the PS256 request JWS. Never stored. */
#pragma once

#include <openssl/types.h>

#include "util.h"

typedef struct RequestKey RequestKey;

/* Generates a fresh RSA-2048 key (e = 65537). -ENOMEM, -EIO if OpenSSL fails. */
int request_key_new(RequestKey **ret);
RequestKey *request_key_free(RequestKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(RequestKey *, request_key_free);

/* {"kty":"RSA","n":"…","e":"AQAB"}: the exact text sent and hashed (borrowed). */
const char *request_key_jwk(const RequestKey *k);

/* RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt over DATA. */
int request_key_sign_ps256(const RequestKey *k, const void *data, size_t size, Buffer *ret);
