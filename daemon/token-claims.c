/* SPDX-License-Identifier: MIT */
/* Policy claims from a token's claims: which names the service itself adds, and decoding the JSON
 * texts MAA puts in x-ms-policy strings. A text that does not parse stays a string: it is the
 * policy author's data, not an error. */
#include <assert.h>

#include "cleanup.h"
#include "jwt.h"
#include "token-claims.h"
#include "util.h"

#define POLICY_CONTAINER "x-ms-policy"

/* Claims MAA adds to every TPM token whatever the policy says (REAL-SERVICE.md), plus the JWT
 * names a policy cannot set. Everything else at top level is policy output. */
static const char *const service_claims[] = {
        "aud", "cnf", "exp", "iat", "iss", "jti", "nbf", "nonce", "rp_data", "ver",
        "x-ms-policy-hash", "x-ms-tpm-other-keys", "x-ms-tpm-request-key", "x-ms-ver",
};

static bool is_service_claim(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(service_claims); i++)
                if (streq(name, service_claims[i]))
                        return true;
        return false;
}

int token_claims_decode_string(json_object *v, json_object **ret) {
        json_object *parsed = NULL;
        const char *s;
        size_t n, i = 0;
        int r;

        assert(ret);

        if (!json_object_is_type(v, json_type_string)) {
                *ret = json_object_get(v);
                return 0;
        }
        s = json_object_get_string(v);
        n = (size_t) json_object_get_string_len(v);
        while (i < n && strchr(" \t\r\n", s[i]) && s[i])
                i++;
        /* Only containers: "true" or "12" as strings are more likely meant as strings. */
        if (i == n || (s[i] != '{' && s[i] != '['))
                goto keep;
        r = jwt_json_parse_value(s, n, "claim", TOKEN_CLAIMS_NESTED_DEPTH_MAX, &parsed, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                goto keep;
        *ret = parsed;
        return 0;
keep:
        *ret = json_object_get(v);
        return 0;
}

/* Adds KEY → VALUE (consumed) to O, replacing an existing member. */
static int add_consume(json_object *o, const char *key, json_object *value) {
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

/* Adds VALUE under KEY to O, decoded when it is a string holding a JSON object or array. */
static int add_decoded(json_object *o, const char *key, json_object *value) {
        json_object *d;
        int r;

        r = token_claims_decode_string(value, &d);
        if (r < 0)
                return r;
        return add_consume(o, key, d);
}

/* Adds each member of CONTAINER, decoded, to O. A container that is not an object (or a string
 * holding one) is added as itself under its own name. */
static int add_container(json_object *o, json_object *container) {
        _cleanup_(json_object_putp) json_object *c = NULL;
        int r;

        r = token_claims_decode_string(container, &c);
        if (r < 0)
                return r;
        if (!json_object_is_type(c, json_type_object))
                return add_consume(o, POLICY_CONTAINER, TAKE_PTR(c));

        json_object_object_foreach(c, key, value) {
                r = add_decoded(o, key, value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Adds "x-ms-policy" to O for display: the container (decoded when it is a JSON text in a string)
 * with each of its members decoded. */
static int add_container_decoded(json_object *o, json_object *container) {
        _cleanup_(json_object_putp) json_object *c = NULL, *members = NULL;
        int r;

        r = token_claims_decode_string(container, &c);
        if (r < 0)
                return r;
        if (!json_object_is_type(c, json_type_object))
                return add_consume(o, POLICY_CONTAINER, TAKE_PTR(c));
        members = json_object_new_object();
        if (!members)
                return -ENOMEM;
        r = add_container(members, c);
        if (r < 0)
                return r;
        return add_consume(o, POLICY_CONTAINER, TAKE_PTR(members));
}

int token_policy_claims(json_object *claims, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *container = NULL;
        int r;

        assert(ret);

        if (!o)
                return -ENOMEM;
        if (json_object_is_type(claims, json_type_object)) {
                json_object_object_foreach(claims, key, value) {
                        if (streq(key, POLICY_CONTAINER)) {
                                container = value;
                                continue;
                        }
                        if (is_service_claim(key))
                                continue;
                        r = add_decoded(o, key, value);
                        if (r < 0)
                                return r;
                }
                if (container) {
                        r = add_container(o, container);
                        if (r < 0)
                                return r;
                }
        }

        *ret = TAKE_PTR(o);
        return 0;
}

int token_claims_decoded(json_object *claims, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        assert(ret);

        if (!o)
                return -ENOMEM;
        if (!json_object_is_type(claims, json_type_object)) {
                *ret = TAKE_PTR(o);
                return 0;
        }
        json_object_object_foreach(claims, key, value) {
                if (is_service_claim(key))
                        r = add_consume(o, key, json_object_get(value));
                else if (streq(key, POLICY_CONTAINER))
                        r = add_container_decoded(o, value);
                else
                        r = add_decoded(o, key, value);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(o);
        return 0;
}

int token_json_parse(const char *text, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(TOKEN_JSON_DEPTH_MAX + 1);
        size_t n = strlen(text);
        json_object *o;

        assert(ret);

        if (!tok)
                return -ENOMEM;
        if (n > INT32_MAX)
                return -EBADMSG;
        o = json_tokener_parse_ex(tok, text, (int) n);
        if (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}
