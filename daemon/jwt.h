/* SPDX-License-Identifier: MIT */
/* JWS compact serialization: split into three parts and decode header and payload into json-c
 * objects, strictly. No key handling and no claim semantics here (that is token.c). */
#pragma once

#include <json-c/json.h>

#include "util.h"

/* The largest token accepted anywhere (verification, the token file, attestctl). Real MAA tokens
 * are ~11 KiB, but a policy that issues the parsed event log made one of 315,186 bytes, and db/dbx
 * certificate lists or IMA extracts grow that to MiBs. 8 MiB is 25 times the largest real token
 * seen and still bounds what one attestation holds in memory (a few copies of it, see jwt_decode). */
#define JWT_SIZE_MAX (8U * 1024U * 1024U)
#define JWT_JSON_DEPTH_MAX 32           /* nesting limit for every JSON text we parse */
#define JWT_ESCAPE_BUF 272              /* room for jwt_escape(): 64 chars, 4 bytes each, "..." */

typedef struct Jwt {
        const char *compact;            /* the caller's input, borrowed: not copied, since it may be MiBs */
        size_t signing_input_size;      /* compact[0, signing_input_size) is "header.payload" */
        json_object *header;            /* a JSON object */
        json_object *claims;            /* a JSON object */
        uint8_t *signature;             /* decoded third part; empty (size 0) for alg "none" */
        size_t signature_size;
} Jwt;

/* Splits and decodes LEN bytes of COMPACT. Strict: exactly three '.'-separated parts; header and
 * payload non-empty; every part unpadded base64url (a '=' anywhere is refused: RFC 7515 forbids
 * padding); header and payload each a single JSON object (json-c strict mode, valid UTF-8, no
 * NUL, nothing but whitespace after it, nesting <= JWT_JSON_DEPTH_MAX). The signature part may
 * be empty, so that an unsecured token can be decoded and then refused for its alg.
 * Duplicate member names: json-c keeps the last one; we accept that (the signature covers the
 * bytes, and MAA does not emit duplicates).
 * Returns 0, -EMSGSIZE (LEN > JWT_SIZE_MAX), -EBADMSG (malformed), -ENOMEM. On failure
 * *reterr_reason (when non-NULL) gets a malloc'd message naming the part and offset; it may be
 * left NULL on -ENOMEM. Nothing is logged above debug, and no token content is logged. */
int jwt_decode(const char *compact, size_t len, Jwt **ret, char **reterr_reason);
/* Memory: COMPACT is borrowed (it must outlive *ret); the payload is decoded into one temporary
 * buffer that is freed once json-c has built the claims tree. */

Jwt *jwt_free(Jwt *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Jwt *, jwt_free);

/* ---- helpers shared by jwt.c, jwks.c and token.c ---- */

/* Parses SIZE bytes of TEXT as exactly one JSON object, with the rules of jwt_decode. WHAT names
 * the text in the message ("header", "JWKS"...). -EBADMSG or -ENOMEM, reason as above. */
int jwt_json_parse_object(const char *text, size_t size, const char *what, json_object **ret,
                          char **reterr_reason);
/* The same for any JSON value (object, array, string, ...), with nesting limited to MAX_DEPTH
 * (at most JWT_JSON_DEPTH_MAX): for JSON texts found inside claims. */
int jwt_json_parse_value(const char *text, size_t size, const char *what, unsigned max_depth,
                         json_object **ret, char **reterr_reason);

/* Formats a failure reason into *reterr_reason (when non-NULL; debug log otherwise) and returns
 * ERROR, so "return jwt_fail(reterr_reason, -EBADMSG, ...);" is one statement. */
int jwt_fail(char **reterr_reason, int error, const char *format, ...) _printf_(3, 4);

/* Makes an untrusted string safe to quote in a message: printable ASCII is kept, '"' '\\' and
 * everything else are escaped (\xNN), and it is cut after 64 characters. Returns BUF. */
const char *jwt_escape(const char *s, char buf[static JWT_ESCAPE_BUF]);

/* Borrowed string member NAME of object O, or NULL when absent (or JSON null). -EBADMSG (with a
 * reason naming WHAT and NAME) when present but not a string, or containing an escaped NUL. */
int jwt_json_get_string(json_object *o, const char *what, const char *name, const char **ret,
                        char **reterr_reason);
