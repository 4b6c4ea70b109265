/* SPDX-License-Identifier: MIT */
/* JWS compact split and strict decode of the header and payload. Everything here runs on
 * unauthenticated bytes, before any signature check, so it refuses rather than repairs. */
#include <assert.h>
#include <limits.h>
#include <stdarg.h>

#include "b64.h"
#include "jwt.h"
#include "log.h"
#include "utf8.h"

static const char *const jwt_part_names[3] = { "header", "payload", "signature" };

int jwt_fail(char **reterr_reason, int error, const char *format, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int k;

        assert(error < 0);

        va_start(ap, format);
        k = vasprintf(&m, format, ap);
        va_end(ap);
        if (k < 0)
                return error;           /* no message for the caller; the error code still says it */

        if (reterr_reason) {
                free(*reterr_reason);
                *reterr_reason = TAKE_PTR(m);
        } else
                log_debug("%s", m);
        return error;
}

const char *jwt_escape(const char *s, char buf[static JWT_ESCAPE_BUF]) {
        size_t o = 0, i;

        if (!s)
                return strcpy(buf, "(null)");

        for (i = 0; s[i] && i < 64; i++) {
                unsigned char c = (unsigned char) s[i];

                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                        buf[o++] = (char) c;
                else
                        o += (size_t) snprintf(buf + o, JWT_ESCAPE_BUF - o, "\\x%02x", c);
        }
        if (s[i])
                o += (size_t) snprintf(buf + o, JWT_ESCAPE_BUF - o, "...");
        buf[o] = 0;
        return buf;
}

/* A strict RFC 8259 syntax check that runs before json-c, because json-c's "strict" mode still
 * takes single quotes, NaN and Infinity. It allocates nothing and bounds nesting, and it tells
 * us the offset of the first offending byte. UTF-8 validity is left to json-c. */
typedef struct JsonScan {
        const char *s;
        size_t n, i;
        unsigned max_depth;
        const char *error;
} JsonScan;

static int scan_fail(JsonScan *j, const char *error) {
        j->error = error;
        return -EBADMSG;
}

static bool scan_peek(JsonScan *j, char c) {
        return j->i < j->n && j->s[j->i] == c;
}

static void scan_ws(JsonScan *j) {
        while (j->i < j->n && strchr(" \t\n\r", j->s[j->i]) && j->s[j->i])
                j->i++;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static int scan_digits(JsonScan *j) {
        if (j->i >= j->n || !is_digit(j->s[j->i]))
                return scan_fail(j, "digit expected");
        while (j->i < j->n && is_digit(j->s[j->i]))
                j->i++;
        return 0;
}

static int scan_number(JsonScan *j) {
        if (scan_peek(j, '-'))
                j->i++;
        if (scan_peek(j, '0'))
                j->i++;         /* no leading zeros: "01" fails at the '1' as trailing data */
        else if (scan_digits(j) < 0)
                return -EBADMSG;
        if (scan_peek(j, '.')) {
                j->i++;
                if (scan_digits(j) < 0)
                        return -EBADMSG;
        }
        if (scan_peek(j, 'e') || scan_peek(j, 'E')) {
                j->i++;
                if (scan_peek(j, '+') || scan_peek(j, '-'))
                        j->i++;
                if (scan_digits(j) < 0)
                        return -EBADMSG;
        }
        return 0;
}

static int scan_string(JsonScan *j) {
        j->i++;                 /* opening quote */
        while (j->i < j->n) {
                unsigned char c = (unsigned char) j->s[j->i];

                if (c == '"') {
                        j->i++;
                        return 0;
                }
                if (c < 0x20)
                        return scan_fail(j, "control character in string");
                if (c >= 0x80) {
                        size_t k = utf8_sequence_length((const uint8_t *) j->s + j->i, j->n - j->i);

                        if (k == 0)
                                return scan_fail(j, "invalid UTF-8 in string");
                        j->i += k;
                        continue;
                }
                if (c != '\\') {
                        j->i++;
                        continue;
                }
                j->i++;
                if (j->i >= j->n)
                        break;
                c = (unsigned char) j->s[j->i];
                if (c == 'u') {
                        for (unsigned k = 1; k <= 4; k++)
                                if (j->i + k >= j->n || !strchr("0123456789abcdefABCDEF", j->s[j->i + k]) ||
                                    !j->s[j->i + k]) {
                                        j->i += k;
                                        return scan_fail(j, "bad \\u escape");
                                }
                        j->i += 5;
                } else if (c && strchr("\"\\/bfnrt", c))
                        j->i++;
                else
                        return scan_fail(j, "bad escape");
        }
        return scan_fail(j, "unterminated string");
}

static int scan_value(JsonScan *j, unsigned depth);

/* Object or array: OPEN was seen; members are "string ws : value" for objects. */
static int scan_container(JsonScan *j, unsigned depth, bool object) {
        char close = object ? '}' : ']';

        if (depth >= j->max_depth)
                return scan_fail(j, "nesting too deep");
        j->i++;
        scan_ws(j);
        if (scan_peek(j, close)) {
                j->i++;
                return 0;
        }
        for (;;) {
                if (object) {
                        scan_ws(j);
                        if (!scan_peek(j, '"'))
                                return scan_fail(j, "member name expected");
                        if (scan_string(j) < 0)
                                return -EBADMSG;
                        scan_ws(j);
                        if (!scan_peek(j, ':'))
                                return scan_fail(j, "':' expected");
                        j->i++;
                }
                if (scan_value(j, depth + 1) < 0)
                        return -EBADMSG;
                if (scan_peek(j, ',')) {
                        j->i++;
                        continue;
                }
                if (scan_peek(j, close)) {
                        j->i++;
                        return 0;
                }
                return scan_fail(j, object ? "',' or '}' expected" : "',' or ']' expected");
        }
}

static int scan_literal(JsonScan *j, const char *lit) {
        size_t n = strlen(lit);

        if (j->n - j->i < n || memcmp(j->s + j->i, lit, n) != 0)
                return scan_fail(j, "unexpected character");
        j->i += n;
        return 0;
}

static int scan_value(JsonScan *j, unsigned depth) {
        int r;

        scan_ws(j);
        if (j->i >= j->n)
                return scan_fail(j, "unexpected end");
        switch (j->s[j->i]) {
        case '{':
                r = scan_container(j, depth, true);
                break;
        case '[':
                r = scan_container(j, depth, false);
                break;
        case '"':
                r = scan_string(j);
                break;
        case 't':
                r = scan_literal(j, "true");
                break;
        case 'f':
                r = scan_literal(j, "false");
                break;
        case 'n':
                r = scan_literal(j, "null");
                break;
        default:
                if (j->s[j->i] == '-' || is_digit(j->s[j->i]))
                        r = scan_number(j);
                else
                        r = scan_fail(j, "unexpected character");
        }
        if (r < 0)
                return r;
        scan_ws(j);
        return 0;
}

/* Both public parsers: the strict scan first (offsets in messages), then json-c for the tree. */
static int json_parse(const char *text, size_t size, const char *what, unsigned max_depth, bool object_only,
                      json_object **ret, char **reterr_reason) {
        JsonScan scan = { .s = text, .n = size, .max_depth = MIN(max_depth, (unsigned) JWT_JSON_DEPTH_MAX) };
        json_tokener *tok = NULL;
        json_object *o = NULL;
        enum json_tokener_error jerr;
        const char *nul;
        size_t end;

        assert(text || size == 0);
        assert(what);
        assert(ret);

        /* json-c stops at a NUL; refuse it instead of silently parsing a prefix. */
        nul = size > 0 ? memchr(text, 0, size) : NULL;
        if (nul)
                return jwt_fail(reterr_reason, -EBADMSG, "%s contains a NUL byte at offset %zu", what,
                                (size_t) (nul - text));
        if (size > INT_MAX)
                return jwt_fail(reterr_reason, -EBADMSG, "%s is too large to parse (%zu bytes)", what,
                                size);

        if (scan_value(&scan, 0) < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "%s is not valid JSON: %s at offset %zu", what,
                                scan.error, scan.i);
        if (scan.i != size)
                return jwt_fail(reterr_reason, -EBADMSG,
                                "%s has trailing data after the JSON value at offset %zu", what, scan.i);
        scan.i = 0;
        scan_ws(&scan);
        if (object_only && !scan_peek(&scan, '{'))
                return jwt_fail(reterr_reason, -EBADMSG, "%s is JSON but not an object", what);

        tok = json_tokener_new_ex((int) scan.max_depth + 1);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) size);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        /* After the syntax check, what json-c can still refuse is bad UTF-8 (or memory). A JSON
         * null is a valid value but json-c returns NULL for it; callers get a null object as NULL. */
        if (jerr != json_tokener_success || (object_only && !json_object_is_type(o, json_type_object))) {
                json_object_put(o);
                return jwt_fail(reterr_reason, -EBADMSG, "%s is not valid JSON: %s at offset %zu", what,
                                jerr == json_tokener_success ? "not an object" : json_tokener_error_desc(jerr), end);
        }

        *ret = o;
        return 0;
}

int jwt_json_parse_object(const char *text, size_t size, const char *what, json_object **ret,
                          char **reterr_reason) {
        return json_parse(text, size, what, JWT_JSON_DEPTH_MAX, true, ret, reterr_reason);
}

int jwt_json_parse_value(const char *text, size_t size, const char *what, unsigned max_depth,
                         json_object **ret, char **reterr_reason) {
        return json_parse(text, size, what, max_depth, false, ret, reterr_reason);
}

int jwt_json_get_string(json_object *o, const char *what, const char *name, const char **ret,
                        char **reterr_reason) {
        json_object *v;

        assert(o);
        assert(ret);

        if (!json_object_object_get_ex(o, name, &v) || !v) {
                /* A JSON null counts as absent too: json-c hands it back as a NULL member. */
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return jwt_fail(reterr_reason, -EBADMSG, "%s member \"%s\" is a %s, not a string", what,
                                name, json_type_to_name(json_object_get_type(v)));
        /* "RS256\u0000x" must not compare equal to "RS256" in C. */
        if (strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v))
                return jwt_fail(reterr_reason, -EBADMSG, "%s member \"%s\" contains a NUL character", what,
                                name);
        *ret = json_object_get_string(v);
        return 0;
}

Jwt *jwt_free(Jwt *j) {
        if (!j)
                return NULL;
        json_object_put(j->header);
        json_object_put(j->claims);
        free(j->signature);
        free(j);
        return NULL;
}

static bool is_b64url_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Decodes one base64url part; PART indexes jwt_part_names, START is its offset in the token. */
static int jwt_decode_part(const char *s, size_t len, unsigned part, size_t start, uint8_t **ret,
                           size_t *ret_size, char **reterr_reason) {
        const char *eq;
        size_t bad = 0, size;
        void *p;
        int r;

        eq = len > 0 ? memchr(s, '=', len) : NULL;
        if (eq)
                return jwt_fail(reterr_reason, -EBADMSG,
                                "%s part has '=' padding at offset %zu (JWS forbids padding)",
                                jwt_part_names[part], start + (size_t) (eq - s));

        r = b64_decode_full(B64_URL, s, len, &p, &size, &bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (bad < len && is_b64url_char(s[bad]))
                        return jwt_fail(reterr_reason, -EBADMSG,
                                        "%s part is not canonical base64url: stray bits in the last character at offset %zu",
                                        jwt_part_names[part], start + bad);
                if (bad < len)
                        return jwt_fail(reterr_reason, -EBADMSG,
                                        "%s part is not base64url: bad character 0x%02x at offset %zu",
                                        jwt_part_names[part], (unsigned char) s[bad], start + bad);
                return jwt_fail(reterr_reason, -EBADMSG,
                                "%s part is not base64url: impossible length %zu", jwt_part_names[part], len);
        }

        *ret = p;
        *ret_size = size;
        return 0;
}

int jwt_decode(const char *compact, size_t len, Jwt **ret, char **reterr_reason) {
        _cleanup_(jwt_freep) Jwt *j = NULL;
        size_t start[3], end[3], n = 0;
        const char *nul;
        int r;

        assert(compact || len == 0);
        assert(ret);

        if (len > JWT_SIZE_MAX)
                return jwt_fail(reterr_reason, -EMSGSIZE, "token is %zu bytes, more than the %u allowed",
                                len, JWT_SIZE_MAX);

        /* Split on '.', counting all of them so "a.b.c.d" is reported as four parts. */
        start[0] = 0;
        for (size_t i = 0; i < len; i++) {
                if (compact[i] != '.')
                        continue;
                if (n < 2) {
                        end[n] = i;
                        start[n + 1] = i + 1;
                }
                n++;
        }
        if (n != 2)
                return jwt_fail(reterr_reason, -EBADMSG,
                                "token has %zu part%s, a JWS needs exactly 3 separated by '.'", n + 1,
                                n == 0 ? "" : "s");
        end[2] = len;
        for (unsigned p = 0; p < 2; p++)
                if (end[p] == start[p])
                        return jwt_fail(reterr_reason, -EBADMSG, "%s part is empty (offset %zu)",
                                        jwt_part_names[p], start[p]);

        j = calloc(1, sizeof(Jwt));
        if (!j)
                return -ENOMEM;
        nul = memchr(compact, 0, len);
        if (nul)
                return jwt_fail(reterr_reason, -EBADMSG, "token contains a NUL byte at offset %zu",
                                (size_t) (nul - compact));
        j->compact = compact;
        j->signing_input_size = end[1];

        for (unsigned p = 0; p < 3; p++) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size = 0;

                r = jwt_decode_part(compact + start[p], end[p] - start[p], p, start[p], &data, &size,
                                    reterr_reason);
                if (r < 0)
                        return r;

                /* The decoded text is freed at the end of this iteration, before the next part. */
                if (p == 2) {
                        j->signature = TAKE_PTR(data);
                        j->signature_size = size;
                        break;
                }
                r = jwt_json_parse_object((const char *) data, size, jwt_part_names[p],
                                          p == 0 ? &j->header : &j->claims, reterr_reason);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(j);
        return 0;
}
