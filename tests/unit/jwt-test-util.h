/* SPDX-License-Identifier: MIT */
/* Helpers shared by the JWT/JWKS/token unit tests: test data access and minting our own RS256
 * tokens with an OpenSSL key generated in the test. Test code only; failures abort the test. */
#pragma once

#include <json-c/json.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "file-test-util.h"
#include "jwks.h"
#include "util.h"

#define MAA_DIR TESTDATA "/maa/2022-05-31"

/* One row of a table-driven test: INPUT must give R and, on failure, a reason containing REASON
 * (when non-NULL). NAME says which row failed. */
typedef struct ReasonCase {
        const char *name, *input;
        int r;
        const char *reason;
} ReasonCase;

/* S with every FROM replaced by TO: fills in the placeholders of test tables. */
char *tu_replace_all(const char *s, const char *from, const char *to);

/* tu_read_file() (file-test-util.h) for a path relative to MAA_DIR. */
char *tu_read_maa(const char *rel, size_t *ret_size);

/* MAA_DIR/INDEX.json, parsed. */
json_object *tu_maa_index(void);
/* The INDEX.json entry for token file REL ("tokens/060_AttestTpm.jwt"). Borrowed from INDEX. */
json_object *tu_maa_token_entry(json_object *index, const char *rel);
const char *tu_json_str(json_object *o, const char *key);
int64_t tu_json_int(json_object *o, const char *key);

/* Parses MAA_DIR/REL as a JWKS; fails the test if that fails. */
Jwks *tu_load_jwks(const char *rel);

char *tu_b64url(const void *p, size_t n);
static inline char *tu_b64url_str(const char *s) {
        return tu_b64url(s, strlen(s));
}
/* base64url-decodes part PART (0..2) of a compact token into a NUL-terminated string. */
char *tu_token_part(const char *compact, unsigned part);
/* Replaces part PART of COMPACT with NEW_PART (already encoded). */
char *tu_token_replace_part(const char *compact, unsigned part, const char *new_part);

EVP_PKEY *tu_rsa_key(unsigned bits);
/* base64url of the RSA key's big-endian n or e ("n"/"e"). */
char *tu_rsa_param(EVP_PKEY *pkey, const char *name);
/* {"kty":"RSA","n":"...","e":"..."} */
char *tu_jwk_json(EVP_PKEY *pkey);
/* {"keys":[{"kty":"RSA","kid":KID,"n":"...","e":"..."}]} */
char *tu_jwks_json(EVP_PKEY *pkey, const char *kid);
/* A self-signed certificate for PKEY (CN = CN) as standard base64 of its DER, as x5c holds it. */
char *tu_cert_b64(EVP_PKEY *pkey, const char *cn);
/* The x5t of a standard-base64 DER certificate: base64url(SHA-1(DER)), as MAA's TPM kids are. */
char *tu_x5t(const char *cert_b64);
/* b64url(HEADER).b64url(CLAIMS).b64url(RS256 signature by PKEY); the JSON texts are used verbatim. */
char *tu_sign(EVP_PKEY *pkey, const char *header_json, const char *claims_json);
