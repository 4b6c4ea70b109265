/* SPDX-License-Identifier: MIT */
/* Unit tests for utf8.c: well-formed and ill-formed sequences (RFC 3629), repair with U+FFFD, and
 * cuts that never split a character. */
#include <check.h>

#include "check-main.h"
#include "utf8.h"

#define FFFD UTF8_REPLACEMENT

static const struct {
        const char *in, *repaired;
} cases[] = {
        { "", "" },
        { "plain ASCII", "plain ASCII" },
        { "r\xc3\xa9" "essayez \xe2\x82\xac \xf0\x9f\x94\x91", "r\xc3\xa9" "essayez \xe2\x82\xac \xf0\x9f\x94\x91" },
        { "r\xe9" "essayez", "r" FFFD "essayez" },                      /* Latin-1 */
        { "cut \xc3", "cut " FFFD },                                    /* truncated 2-byte */
        { "cut \xe2\x82", "cut " FFFD FFFD },                           /* truncated 3-byte */
        { "\x80\xbf", FFFD FFFD },                                      /* lone continuations */
        { "\xc0\xaf", FFFD FFFD },                                      /* overlong '/' */
        { "\xe0\x80\xaf", FFFD FFFD FFFD },                             /* overlong, 3 bytes */
        { "\xed\xa0\x80", FFFD FFFD FFFD },                             /* surrogate U+D800 */
        { "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },                    /* above U+10FFFF */
        { "\xff\xfe", FFFD FFFD },
};

START_TEST(test_repair) {
        _cleanup_free_ char *out = utf8_make_valid(cases[_i].in);

        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(out, cases[_i].repaired);
        ck_assert(utf8_is_valid(out));
        ck_assert(utf8_is_valid(cases[_i].in) == streq(cases[_i].in, cases[_i].repaired));
}
END_TEST

START_TEST(test_sequence_length) {
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "a", 1), 1);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "\xc3\xa9", 2), 2);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "\xc3\xa9", 1), 0);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "\xe2\x82\xac", 3), 3);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "\xf0\x9f\x94\x91", 4), 4);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "\xf0\x9f\x94\x91", 3), 0);
        ck_assert_uint_eq(utf8_sequence_length((const uint8_t *) "", 0), 0);
}
END_TEST

START_TEST(test_cut) {
        /* "x" then é (2 bytes) then € (3 bytes): boundaries at 0, 1, 3, 6. */
        static const char s[] = "x\xc3\xa9\xe2\x82\xac";
        static const size_t expect[] = { 0, 1, 1, 3, 3, 3, 6, 6 };

        for (size_t max = 0; max < ELEMENTSOF(expect); max++) {
                size_t n = utf8_cut(s, strlen(s), max);
                _cleanup_free_ char *head = strndup(s, n);

                ck_assert_msg(n == expect[max], "max %zu: got %zu", max, n);
                ck_assert(utf8_is_valid(head));
        }
}
END_TEST

static Suite *utf8_suite(void) {
        Suite *s = suite_create("utf8");
        TCase *tc = tcase_create("utf8");

        tcase_add_loop_test(tc, test_repair, 0, ELEMENTSOF(cases));
        tcase_add_test(tc, test_sequence_length);
        tcase_add_test(tc, test_cut);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(utf8_suite());
}
