/* SPDX-License-Identifier: MIT */
/* Unit tests for jwt.c: the strict compact split and JSON decode, one negative case per way a
 * token can be malformed, with the part and offset the reason must name. */
#include <check.h>

#include "b64.h"
#include "check-main.h"
#include "jwt-test-util.h"
#include "jwt.h"

#define H "eyJhbGciOiJSUzI1NiJ9"        /* {"alg":"RS256"} */
#define P "e30"                         /* {} */
#define S "c2ln"                        /* "sig" */

static const ReasonCase compact_cases[] = {
        { "minimal", H "." P "." S, 0, NULL },
        { "empty signature (unsecured JWS)", H "." P ".", 0, NULL },
        { "empty", "", -EBADMSG, "token has 1 part, a JWS needs exactly 3 separated by '.'" },
        { "one part", H, -EBADMSG, "token has 1 part" },
        { "two parts", H "." P, -EBADMSG, "token has 2 parts" },
        { "four parts", H "." P "." S "." S, -EBADMSG, "token has 4 parts" },
        { "five parts", H "." P "." S ".." , -EBADMSG, "token has 5 parts" },
        { "only dots", "..", -EBADMSG, "header part is empty (offset 0)" },
        { "empty header", "." P "." S, -EBADMSG, "header part is empty (offset 0)" },
        { "empty payload", H ".." S, -EBADMSG, "payload part is empty (offset 21)" },
        { "plus in payload", H ".e3+." S, -EBADMSG, "payload part is not base64url: bad character 0x2b at offset 23" },
        { "slash in signature", H "." P ".c2/n", -EBADMSG, "signature part is not base64url: bad character 0x2f at offset 27" },
        { "space in header", "eyJhbGciOiJSU zI1NiJ9." P "." S, -EBADMSG, "bad character 0x20 at offset 13" },
        { "newline at end", H "." P "." S "\n", -EBADMSG, "signature part is not base64url: bad character 0x0a at offset 29" },
        { "high byte", H "." P ".c2\xffn", -EBADMSG, "bad character 0xff at offset 27" },
        { "padding", H ".e30=." S, -EBADMSG, "payload part has '=' padding at offset 24 (JWS forbids padding)" },
        { "padding in the middle", H ".e3=0." S, -EBADMSG, "payload part has '=' padding at offset 23" },
        { "padded signature", H "." P ".c2ln=", -EBADMSG, "signature part has '=' padding" },
        { "impossible length", H ".e30AB." S, -EBADMSG, "payload part is not base64url: impossible length 5" },
        { "non-canonical tail", H ".e31." S, -EBADMSG,
          "payload part is not canonical base64url: stray bits in the last character at offset 23" },
        { "header array", "W10." P "." S, -EBADMSG, "header is JSON but not an object" },                    /* [] */
        { "header string", "InMi." P "." S, -EBADMSG, "header is JSON but not an object" },                  /* "s" */
        { "header null", "bnVsbA." P "." S, -EBADMSG, "header is JSON but not an object" },                  /* null */
        { "header number", "MTIz." P "." S, -EBADMSG, "header is JSON but not an object" },              /* 123 */
        { "payload true", H ".dHJ1ZQ." S, -EBADMSG, "payload is JSON but not an object" },                   /* true */
        { "trailing garbage", H ".e314." S, -EBADMSG, "payload has trailing data after the JSON value at offset 2" }, /* {}x */
        { "two objects", H ".e317fQ." S, -EBADMSG, "payload has trailing data after the JSON value at offset 2" },    /* {}{} */
        { "trailing whitespace", H ".e30gCg." S, 0, NULL },                                                  /* "{} \n" */
        { "unterminated", H ".eyJhIjox." S, -EBADMSG, "payload is not valid JSON: ',' or '}' expected at offset 6" },             /* {"a":1 */
        { "single quotes", H ".eydhJzoxfQ." S, -EBADMSG, "payload is not valid JSON: member name expected at offset 1" },                      /* {'a':1} */
        { "trailing comma", H ".eyJhIjoxLH0." S, -EBADMSG, "payload is not valid JSON: member name expected at offset 7" },                    /* {"a":1,} */
        { "comment", H ".ey8qeCovfQ." S, -EBADMSG, "payload is not valid JSON: member name expected at offset 1" },                            /* {/x/} */
        { "NUL inside JSON", H ".e30A." S, -EBADMSG, "payload contains a NUL byte at offset 2" },             /* {}\0 */
        { "invalid UTF-8", H ".eyJhIjoi_yJ9." S, -EBADMSG, "payload is not valid JSON: invalid UTF-8 in string at offset 6" },                     /* {"a":"\xff"} */
        { "binary header", "AAEC." P "." S, -EBADMSG, "header contains a NUL byte at offset 0" },
};

START_TEST(test_compact_cases) {
        _cleanup_(jwt_freep) Jwt *j = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *in = compact_cases[_i].input;
        int r;

        r = jwt_decode(in, strlen(in), &j, &reason);
        ck_assert_msg(r == compact_cases[_i].r, "%s: %d (%s)", compact_cases[_i].name, r, strna(reason));
        if (r == 0) {
                ck_assert_ptr_nonnull(j);
                ck_assert_ptr_null(reason);
                ck_assert(json_object_is_type(j->header, json_type_object));
                ck_assert(json_object_is_type(j->claims, json_type_object));
                return;
        }
        ck_assert_ptr_null(j);
        ck_assert_msg(reason && strstr(reason, compact_cases[_i].reason), "%s: reason '%s' lacks '%s'",
                      compact_cases[_i].name, strna(reason), compact_cases[_i].reason);
}
END_TEST

/* The syntax check in front of json-c: standard JSON passes, json-c's extensions do not. */
static const struct {
        const char *text;
        int r;
        const char *reason;
} json_cases[] = {
        { "{}", 0, NULL },
        { " \t\r\n{ } \n", 0, NULL },
        { "{\"a\":[1,-0,0.5,-1.25e+10,2E-3,1e400,true,false,null,\"\",{}],\"b\":{\"c\":[[]]}}", 0, NULL },
        { "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00 \xc3\xa9\"}", 0, NULL },
        { "{\"a\":NaN}", -EBADMSG, "not valid JSON: unexpected character at offset 5" },
        { "{\"a\":Infinity}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":-Infinity}", -EBADMSG, "digit expected at offset 6" },
        { "{\"a\":01}", -EBADMSG, "',' or '}' expected at offset 6" },
        { "{\"a\":+1}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":1.}", -EBADMSG, "digit expected at offset 7" },
        { "{\"a\":.5}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":1e}", -EBADMSG, "digit expected at offset 7" },
        { "{\"a\":-}", -EBADMSG, "digit expected at offset 6" },
        { "{\"a\":tru}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":True}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":nul}", -EBADMSG, "unexpected character at offset 5" },
        { "{\"a\":\"\\x\"}", -EBADMSG, "bad escape at offset 7" },
        { "{\"a\":\"\\u12G4\"}", -EBADMSG, "bad \\u escape at offset 10" },
        { "{\"a\":\"\\u12\"}", -EBADMSG, "bad \\u escape at offset 10" },
        { "{\"a\":\"tab\there\"}", -EBADMSG, "control character in string at offset 9" },
        { "{\"a\":\"open}", -EBADMSG, "unterminated string at offset 11" },
        { "{\"a\":\"x\\", -EBADMSG, "unterminated string at offset 8" },
        { "{a:1}", -EBADMSG, "member name expected at offset 1" },
        { "{\"a\" 1}", -EBADMSG, "':' expected at offset 5" },
        { "{\"a\":1 \"b\":2}", -EBADMSG, "',' or '}' expected at offset 7" },
        { "{\"a\":[1,]}", -EBADMSG, "unexpected character at offset 8" },
        { "{\"a\":[1 2]}", -EBADMSG, "',' or ']' expected at offset 8" },
        { "{\"a\":1}}", -EBADMSG, "trailing data after the JSON value at offset 7" },
        { "", -EBADMSG, "unexpected end at offset 0" },
        { "   ", -EBADMSG, "unexpected end at offset 3" },
        { "[{}]", -EBADMSG, "is JSON but not an object" },
        { "{\"a\":\"\xc3\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },
        { "{\"a\":\"\xed\xa0\x80\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },   /* surrogate */
        { "{\"a\":\"\xc0\xaf\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },       /* overlong */
        { "{\"a\":\"\xe0\x80\xaf\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },
        { "{\"a\":\"\xf4\x90\x80\x80\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" }, /* > U+10FFFF */
        { "{\"a\":\"\xff\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },
        { "{\"a\":\"\xe2\x82\"}", -EBADMSG, "invalid UTF-8 in string at offset 6" },
        { "{\"\xf0\x9f\x98\x80\":\"\xe2\x82\xac\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf\"}", 0, NULL },
};

START_TEST(test_json_cases) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *t = json_cases[_i].text;
        int r;

        r = jwt_json_parse_object(t, strlen(t), "doc", &o, &reason);
        ck_assert_msg(r == json_cases[_i].r, "'%s': %d (%s)", t, r, strna(reason));
        if (r == 0) {
                ck_assert(json_object_is_type(o, json_type_object));
                return;
        }
        ck_assert_ptr_null(o);
        ck_assert_msg(strstr(reason, json_cases[_i].reason), "'%s': reason '%s' lacks '%s'", t, reason,
                      json_cases[_i].reason);
}
END_TEST

START_TEST(test_decode_fields) {
        _cleanup_(jwt_freep) Jwt *j = NULL;
        const char *in = H "." P "." S;
        json_object *alg;

        ck_assert_int_eq(jwt_decode(in, strlen(in), &j, NULL), 0);
        ck_assert_str_eq(j->compact, in);
        ck_assert_uint_eq(j->signing_input_size, strlen(H "." P));
        ck_assert_uint_eq(j->signature_size, 3);
        ck_assert_mem_eq(j->signature, "sig", 3);
        ck_assert(json_object_object_get_ex(j->header, "alg", &alg));
        ck_assert_str_eq(json_object_get_string(alg), "RS256");
        ck_assert_int_eq(json_object_object_length(j->claims), 0);
}
END_TEST

/* json-c keeps the last of duplicate members; jwt.h documents that we accept it. */
START_TEST(test_duplicate_members) {
        _cleanup_free_ char *h = tu_b64url_str("{\"alg\":\"none\",\"alg\":\"RS256\"}"), *in = NULL;
        _cleanup_(jwt_freep) Jwt *j = NULL;
        const char *alg;

        ck_assert_int_ge(asprintf(&in, "%s." P "." S, h), 0);
        ck_assert_int_eq(jwt_decode(in, strlen(in), &j, NULL), 0);
        ck_assert_int_eq(jwt_json_get_string(j->header, "header", "alg", &alg, NULL), 0);
        ck_assert_str_eq(alg, "RS256");
}
END_TEST

static char *token_with_payload(size_t payload_json_size) {
        _cleanup_free_ char *json = malloc(payload_json_size + 1), *p = NULL;
        char *s = NULL;

        ck_assert_ptr_nonnull(json);
        /* {"a":"xxxx...x"} */
        memset(json, 'x', payload_json_size);
        memcpy(json, "{\"a\":\"", 6);
        memcpy(json + payload_json_size - 2, "\"}", 2);
        json[payload_json_size] = 0;
        p = tu_b64url_str(json);
        ck_assert_int_ge(asprintf(&s, H ".%s." S, p), 0);
        return s;
}

START_TEST(test_size_cap) {
        _cleanup_(jwt_freep) Jwt *j = NULL;
        _cleanup_free_ char *reason = NULL, *big = NULL, *at_cap = NULL, *over = NULL;
        size_t overhead = strlen(H ".." S);

        /* The largest payload that fits exactly in JWT_SIZE_MAX. */
        at_cap = token_with_payload((JWT_SIZE_MAX - overhead) / 4 * 3);
        ck_assert_uint_le(strlen(at_cap), JWT_SIZE_MAX);
        ck_assert_int_eq(jwt_decode(at_cap, strlen(at_cap), &j, NULL), 0);
        j = jwt_free(j);

        over = malloc(JWT_SIZE_MAX + 2);
        memset(over, 'A', JWT_SIZE_MAX + 1);
        over[JWT_SIZE_MAX + 1] = 0;
        ck_assert_int_eq(jwt_decode(over, JWT_SIZE_MAX + 1, &j, &reason), -EMSGSIZE);
        ck_assert_str_eq(reason, "token is 8388609 bytes, more than the 8388608 allowed");

        /* Far over the cap is refused just as fast, without being decoded. */
        big = token_with_payload(JWT_SIZE_MAX);
        ck_assert_int_eq(jwt_decode(big, strlen(big), &j, NULL), -EMSGSIZE);
}
END_TEST

/* Regression: the real TPM token of 315,186 bytes (REAL-SERVICE.md) was refused at 64 KiB. Tokens
 * of that size and of 4 MiB decode, and the Jwt borrows the input rather than copying it. */
START_TEST(test_real_sizes) {
        static const size_t sizes[] = { 315186, 4 * 1024 * 1024 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_(jwt_freep) Jwt *j = NULL;
                _cleanup_free_ char *in = token_with_payload(sizes[i] / 4 * 3);

                ck_assert_uint_ge(strlen(in), sizes[i] - 16);
                ck_assert_int_eq(jwt_decode(in, strlen(in), &j, NULL), 0);
                ck_assert_ptr_eq(j->compact, in);
        }
}
END_TEST

START_TEST(test_depth_cap) {
        char json[256] = "{\"a\":";
        _cleanup_free_ char *p = NULL, *in = NULL, *reason = NULL;
        _cleanup_(jwt_freep) Jwt *j = NULL;
        size_t n = strlen(json);

        for (unsigned i = 0; i < JWT_JSON_DEPTH_MAX + 8; i++)
                json[n++] = '[';
        for (unsigned i = 0; i < JWT_JSON_DEPTH_MAX + 8; i++)
                json[n++] = ']';
        json[n++] = '}';
        json[n] = 0;
        p = tu_b64url_str(json);
        ck_assert_int_ge(asprintf(&in, H ".%s." S, p), 0);
        ck_assert_int_eq(jwt_decode(in, strlen(in), &j, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(reason, "payload is not valid JSON"));
}
END_TEST

/* A NUL inside the compact string (LEN counts past it) is refused, not truncated. */
START_TEST(test_embedded_nul) {
        static const char in[] = H "." P "\0." S;
        _cleanup_(jwt_freep) Jwt *j = NULL;
        _cleanup_free_ char *reason = NULL;

        ck_assert_int_eq(jwt_decode(in, sizeof in - 1, &j, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "token contains a NUL byte at offset 24");
}
END_TEST

START_TEST(test_helpers) {
        char buf[JWT_ESCAPE_BUF];
        char long_s[200];
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *v = (const char *) 0x1;

        ck_assert_str_eq(jwt_escape("plain-kid_1=", buf), "plain-kid_1=");
        ck_assert_str_eq(jwt_escape("a\"b\\c\n\x7f\xc3\xa9", buf), "a\\x22b\\x5cc\\x0a\\x7f\\xc3\\xa9");
        ck_assert_str_eq(jwt_escape(NULL, buf), "(null)");
        memset(long_s, 'k', sizeof long_s - 1);
        long_s[sizeof long_s - 1] = 0;
        ck_assert_uint_eq(strlen(jwt_escape(long_s, buf)), 67);
        memset(long_s, 0x01, sizeof long_s - 1);
        ck_assert_uint_eq(strlen(jwt_escape(long_s, buf)), 64 * 4 + 3);

        ck_assert_int_eq(jwt_json_parse_object("{\"s\":\"x\",\"n\":1,\"z\":null}", 24, "doc", &o, NULL), 0);
        ck_assert_int_eq(jwt_json_get_string(o, "doc", "s", &v, NULL), 0);
        ck_assert_str_eq(v, "x");
        ck_assert_int_eq(jwt_json_get_string(o, "doc", "absent", &v, NULL), 0);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(jwt_json_get_string(o, "doc", "z", &v, NULL), 0);
        ck_assert_ptr_null(v);
        ck_assert_int_eq(jwt_json_get_string(o, "doc", "n", &v, &reason), -EBADMSG);
        ck_assert_str_eq(reason, "doc member \"n\" is a int, not a string");

        ck_assert_int_eq(jwt_fail(NULL, -EBADMSG, "logged at debug only"), -EBADMSG);
}
END_TEST

static Suite *jwt_suite(void) {
        Suite *s = suite_create("jwt");
        TCase *tc;

        tc = tcase_create("decode");
        tcase_add_loop_test(tc, test_compact_cases, 0, ELEMENTSOF(compact_cases));
        tcase_add_loop_test(tc, test_json_cases, 0, ELEMENTSOF(json_cases));
        tcase_add_test(tc, test_decode_fields);
        tcase_add_test(tc, test_duplicate_members);
        tcase_add_test(tc, test_size_cap);
        tcase_add_test(tc, test_real_sizes);
        tcase_add_test(tc, test_depth_cap);
        tcase_add_test(tc, test_embedded_nul);
        suite_add_tcase(s, tc);

        tc = tcase_create("helpers");
        tcase_add_test(tc, test_helpers);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return check_run(jwt_suite());
}
