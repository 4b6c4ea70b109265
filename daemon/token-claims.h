/* SPDX-License-Identifier: MIT */
/* The policy's output in a token's claims, wherever MAA put it: at top level or inside the
 * "x-ms-policy" object, whose values may be JSON texts in strings. Pure json-c; no verification. */
#pragma once

#include <json-c/json.h>

#include "jwt.h"

/* JSON texts inside claim strings are decoded only this deep, so that token.json (which nests
 * them two levels down) stays within TOKEN_JSON_DEPTH_MAX. */
#define TOKEN_CLAIMS_NESTED_DEPTH_MAX 24
/* token.json nests the token's claims (up to JWT_JSON_DEPTH_MAX deep) one level down. */
#define TOKEN_JSON_DEPTH_MAX (JWT_JSON_DEPTH_MAX + 2)

/* If V is a string holding a JSON object or array, that value parsed (strictly, nesting at most
 * TOKEN_CLAIMS_NESTED_DEPTH_MAX); otherwise (any other value, or a string that is not such a JSON
 * text) a new reference to V itself, unchanged. Only -ENOMEM fails. */
int token_claims_decode_string(json_object *v, json_object **ret);

/* The claims a policy issued, as one object: every top-level claim except those the service adds
 * itself (iss, exp, cnf, x-ms-ver, ...: see token-claims.c), then the members of "x-ms-policy",
 * each with token_claims_decode_string() applied. A member of x-ms-policy wins over a top-level claim
 * of the same name: it is unambiguously policy output. Values are shared with CLAIMS (json-c
 * references), decoded strings are new. -ENOMEM. */
int token_policy_claims(json_object *claims, json_object **ret);

/* CLAIMS for display: the same members, except that the policy's output (the values inside
 * "x-ms-policy" and the top-level claims the service does not add itself) is decoded as above.
 * CLAIMS is not modified. -ENOMEM. */
int token_claims_decoded(json_object *claims, json_object **ret);

/* Parses the NUL-terminated text of token.json as attestd wrote it (a JSON object, nesting up to
 * TOKEN_JSON_DEPTH_MAX; attestd's own file, so json-c's rules suffice). -EBADMSG, -ENOMEM. */
int token_json_parse(const char *text, json_object **ret);
