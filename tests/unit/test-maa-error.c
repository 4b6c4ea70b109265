/* SPDX-License-Identifier: MIT */
/* maa-error: classification of MAA error replies by status and message, and the one-line form of
 * their messages, including the multi-line traces of a real policy denial. */
#include <check.h>

#include "check-main.h"
#include "maa-error.h"
#include "maa-msg.h"

#define NO_POLICY "A VBS attestation policy has not been set on the attestation provider."

/* The shape of a real denial (REAL-SERVICE.md, Errors): a native trace over several lines. */
#define DENY_BODY                                                                                          \
        "{\"error\":{\"code\":\"PolicyEvaluationError\",\"message\":\"Native operation failed with 65518: " \
        "D:\\\\src\\\\PolicyEngine.cpp(42)\\\\x!0000000000001234: (caller: 0000000000005678) Exception(0) "  \
        "83FFFFEE Policy Evaluation Error has occurred Msg:[Policy Engine Exception: A Deny claim was "     \
        "issued, authorization failed.]\\r\\n\\nD:\\\\src\\\\api.cpp(99)\\\\x!0000000000009abc: LogHr(0) "   \
        "83FFFFEE Msg:[Unhandled Exception: \\\"Policy Evaluation Error has occurred\\\"]\\n\"}}"

typedef struct ClassifyCase {
        long status;
        const char *message;
        bool evidence;
        MaaErrorKind expect;
} ClassifyCase;

static const ClassifyCase classify_cases[] = {
        { 400, NO_POLICY, true, MAA_ERROR_NO_POLICY },
        { 400, NO_POLICY, false, MAA_ERROR_NO_POLICY },
        { 400, "x Msg:[Policy Engine Exception: A Deny claim was issued, authorization failed.]", true,
          MAA_ERROR_POLICY_DENIED },
        { 400, "Quote signature does not verify", true, MAA_ERROR_EVIDENCE_REFUSED },
        { 400, "Unsupported api-version", false, MAA_ERROR_BAD_REQUEST },
        { 400, NULL, true, MAA_ERROR_EVIDENCE_REFUSED },
        { 400, NULL, false, MAA_ERROR_BAD_REQUEST },
        /* A code is no verdict: only status and message count. */
        { 400, "InvalidParameter", true, MAA_ERROR_EVIDENCE_REFUSED },
        { 401, "Access denied.", true, MAA_ERROR_UNAUTHORIZED },
        { 403, NULL, false, MAA_ERROR_UNAUTHORIZED },
        { 408, NULL, true, MAA_ERROR_BUSY },
        { 429, NULL, true, MAA_ERROR_BUSY },
        { 500, NO_POLICY, true, MAA_ERROR_SERVER },
        { 503, NULL, true, MAA_ERROR_SERVER },
        { 404, NULL, true, MAA_ERROR_OTHER },
        { 302, NULL, false, MAA_ERROR_OTHER },
        { 600, NULL, false, MAA_ERROR_OTHER },
};

START_TEST(test_classify) {
        const ClassifyCase *t = &classify_cases[_i];

        ck_assert_int_eq(maa_error_classify(t->status, t->message, t->evidence), t->expect);
}
END_TEST

typedef struct LineCase {
        const char *message;
        const char *expect;
} LineCase;

static const LineCase line_cases[] = {
        { NO_POLICY, NO_POLICY },
        { "  two\r\nlines\t\tand\x7f tabs \n", "two lines and tabs" },
        { "x Msg:[first] y Msg:[second [nested]] z Msg:[first]", "first; second [nested]" },
        /* Cut before its end: the part is incomplete, so the whole text stays. */
        { "Exception Msg:[Policy Engine Exception: A Deny", "Exception Msg:[Policy Engine Exception: A Deny" },
        { "empty Msg:[] part", "empty Msg:[] part" },
        { "Msg:[ \n spaced \n ]", "spaced" },
        { "Msg:[one] Msg:[ \r\n ] Msg:[two]", "one; two" },
        { "", "(no message)" },
        { " \r\n\t", "(no message)" },
        { NULL, "(no message)" },
};

START_TEST(test_one_line) {
        const LineCase *t = &line_cases[_i];
        _cleanup_free_ char *line = NULL;

        ck_assert_int_eq(maa_error_one_line(t->message, &line), 0);
        ck_assert_str_eq(line, t->expect);
}
END_TEST

/* The whole path a denial takes: the reply body, maa_parse_error(), then one line. */
START_TEST(test_policy_deny_trace) {
        _cleanup_free_ char *code = NULL, *message = NULL, *line = NULL;

        ck_assert_int_eq(maa_parse_error(DENY_BODY, strlen(DENY_BODY), &code, &message), 0);
        ck_assert_str_eq(code, "PolicyEvaluationError");
        ck_assert_int_eq(maa_error_classify(400, message, true), MAA_ERROR_POLICY_DENIED);
        ck_assert_int_eq(maa_error_one_line(message, &line), 0);
        ck_assert_str_eq(line, "Policy Engine Exception: A Deny claim was issued, authorization failed.; "
                               "Unhandled Exception: \"Policy Evaluation Error has occurred\"");
}
END_TEST

/* A native trace longer than the old 512-byte message cap, its deny text far in: still a denial
 * (the cut used to fall before the text, so the reply read as refused evidence). */
START_TEST(test_policy_deny_deep_in_a_long_trace) {
        _cleanup_free_ char *body = NULL, *code = NULL, *message = NULL, *line = NULL;
        char frames[3000];
        size_t n = 0;

        while (n + 60 < sizeof frames)
                n += (size_t) snprintf(frames + n, sizeof frames - n,
                                       "D:\\\\src\\\\f%04zu.cpp(1) LogHr(0) 83FFFFEE\\n", n);
        ck_assert_int_gt(asprintf(&body, "{\"error\":{\"code\":\"PolicyEvaluationError\",\"message\":\"%s"
                                         "Msg:[A Deny claim was issued, authorization failed.]\"}}", frames), 0);
        ck_assert_int_eq(maa_parse_error(body, strlen(body), &code, &message), 0);
        ck_assert_uint_gt(strlen(message), 2048);
        ck_assert_int_eq(maa_error_classify(400, message, true), MAA_ERROR_POLICY_DENIED);
        ck_assert_int_eq(maa_error_one_line(message, &line), 0);
        ck_assert_str_eq(line, "A Deny claim was issued, authorization failed.");
}
END_TEST

START_TEST(test_cap) {
        char big[3 * MAA_ERROR_LINE_MAX];
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t n;

        /* ASCII: exactly the cap, ending in the ellipsis. */
        memset(big, 'a', sizeof big - 1);
        big[sizeof big - 1] = 0;
        ck_assert_int_eq(maa_error_one_line(big, &a), 0);
        ck_assert_uint_eq(strlen(a), MAA_ERROR_LINE_MAX);
        ck_assert_str_eq(a + MAA_ERROR_LINE_MAX - 3, "...");

        /* Two-byte characters: never cut inside one. */
        for (n = 0; n + 2 < sizeof big; n += 2)
                memcpy(big + n, "\xc3\xa9", 2);
        big[n] = 0;
        ck_assert_int_eq(maa_error_one_line(big, &b), 0);
        n = strlen(b);
        ck_assert_uint_le(n, MAA_ERROR_LINE_MAX);
        ck_assert_str_eq(b + n - 3, "...");
        ck_assert_uint_eq((n - 3) % 2, 0);
}
END_TEST

static Suite *maa_error_suite(void) {
        Suite *s = suite_create("maa-error");
        TCase *tc = tcase_create("maa-error");

        tcase_add_loop_test(tc, test_classify, 0, ELEMENTSOF(classify_cases));
        tcase_add_loop_test(tc, test_one_line, 0, ELEMENTSOF(line_cases));
        tcase_add_test(tc, test_policy_deny_trace);
        tcase_add_test(tc, test_policy_deny_deep_in_a_long_trace);
        tcase_add_test(tc, test_cap);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(maa_error_suite());
}
