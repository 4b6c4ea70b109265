/* SPDX-License-Identifier: MIT */
/* The MAA TPM protocol's messages (PROTOCOL.md §1–2, §6): the {"data": base64url(JSON)} envelope,
 * the init, challenge, request and report legs, the PS256 request JWS and CloudError replies.
 * Pure: builds and parses text, no I/O, no logging. */
#pragma once

#include <json-c/json.h>

#include "evidence.h"
#include "jwt.h"
#include "request-key.h"
#include "util.h"

#define MAA_CHALLENGE_MAX 1024
/* Leg 2's reply is base64url({"payload":{"report":"<token>"}}): 4/3 of the largest token
 * (JWT_SIZE_MAX) plus slack. The slack (1 MiB of token) lets a token somewhat over the cap arrive
 * whole, so its refusal can name its size; a reply far over it is cut off while it streams. */
#define MAA_REPLY_SLACK ((size_t) 1024 * 1024)
#define MAA_REPLY_MAX (((size_t) JWT_SIZE_MAX + MAA_REPLY_SLACK + 2) / 3 * 4)
/* A denial's message is a native trace of several KiB whose verdict ("A Deny claim was issued")
 * may come late: keep enough of it for maa-error.c to classify, which then shortens it. */
#define MAA_ERROR_MESSAGE_MAX (16U * 1024U)

/* {"data":"<b64url({"payload":{"type":"aikcert"}})>"} */
int maa_build_init(char **ret);

/* Unwraps {"data":"<base64url>"} (padded or not) and parses the decoded JSON, which must be an
 * object with a "payload" object. *ret_payload is a new reference to that payload object. */
int maa_parse_envelope(const char *body, size_t size, json_object **ret_payload, char **reterr_reason);

/* Leg 1 reply: the challenge (decoded bytes) and the service_context (kept verbatim). */
int maa_parse_challenge(json_object *payload, Buffer *ret_challenge, char **ret_service_context,
                        char **reterr_reason);

/* SHA-256(jwk_text || 0x00 || challenge): the quote's qualifying data for a request key bound
 * with "tpm_quote". RET must hold 32 bytes. */
int maa_qualifying_data(const char *jwk_text, const Buffer *challenge, uint8_t ret[32]);

typedef struct MaaRequestParams {
        const Evidence *evidence;
        const RequestKey *key;
        const Buffer *challenge;
        const char *service_context;
        const char *rp_id;              /* NULL = not sent */
        const char *rp_data;            /* base64url nonce; NULL = not sent */
} MaaRequestParams;

/* The leg-2 body {"data": b64url({"payload":{"request": JWS}})}, where JWS is the PS256-signed
 * attReqV2 payload carrying the evidence, with request_key.jwk spliced in as the key's exact text. */
int maa_build_request(const MaaRequestParams *p, char **ret);

/* Leg 2 reply: the report JWT (borrowed from PAYLOAD's strings → copied). Its size is checked
 * against JWT_SIZE_MAX by jwt_decode(), which names it; here only against the reply's cap. */
int maa_parse_report(json_object *payload, char **ret_report, char **reterr_reason);

/* A non-2xx reply: CloudError {"error":{"code":..,"message":..}} or any text (old services send
 * plain text for 401). *ret_code may be NULL; *ret_message is printable, at most
 * MAA_ERROR_MESSAGE_MAX bytes, never NULL. */
int maa_parse_error(const char *body, size_t size, char **ret_code, char **ret_message);

/* True for the reply that means the provider has no TPM policy yet. */
bool maa_error_is_no_policy(const char *message);
