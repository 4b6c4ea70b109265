/* SPDX-License-Identifier: MIT */
/* The token attestd serves, as one value (the compact JWT, what it says, the PCRs quoted for it,
 * the endpoint and key set that vouched for it), and its token.json form. Pure: no I/O, no clock. */
#pragma once

#include <json-c/json.h>

#include "pcrs.h"
#include "util.h"

typedef struct TokenRecord {
        char *compact;                  /* the JWT as issued */
        json_object *header;            /* decoded JOSE header */
        json_object *claims;            /* decoded claims */
        uint64_t issued_usec;           /* iat; 0 when absent */
        uint64_t expires_usec;          /* exp, CLOCK_REALTIME */
        PcrSet pcrs;                    /* the values attestd quoted for it (never taken from claims) */
        uint32_t pcr_mask;
        char *endpoint;                 /* the endpoint that issued it */
        char *provider;                 /* the provider that spoke to it ("tpm", "azure-guest") */
        json_object *jwks;              /* the key set it verified against; kept so a restart can
                                         * verify the cached token again without the network */
} TokenRecord;

TokenRecord *token_record_free(TokenRecord *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TokenRecord *, token_record_free);

/* token.json for T: header, claims, policy_claims, endpoint, provider, times, pcrs, stale, jwks.
 * -ENOMEM. */
int token_record_to_json(const TokenRecord *t, bool stale, json_object **ret);

/* Reads back the parts of a token.json that the token itself cannot vouch for: endpoint, pcrs
 * (with pcr_mask) and jwks. *ret has compact, header and claims NULL: the caller verifies the token
 * file against ret->jwks and fills them from the result. Every member is type-checked; anything
 * missing, of the wrong type or malformed is -EBADMSG with *reterr_reason naming it (when
 * non-NULL; may stay NULL on -ENOMEM). TEXT is NUL-terminated. */
int token_record_from_json(const char *text, TokenRecord **ret, char **reterr_reason);
