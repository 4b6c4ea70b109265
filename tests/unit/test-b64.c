/* SPDX-License-Identifier: MIT */
/* Unit tests for b64.c: RFC 4648 §10 vectors in both alphabets, padded and unpadded input, and
 * every class of input the strict decoders must refuse (with the offset they report). */
#include <check.h>

#include "b64.h"
#include "check-main.h"

/* RFC 4648 §10. */
static const struct {
        const char *plain, *b64, *b64url, *hex;
} vectors[] = {
        { "", "", "", "" },
        { "f", "Zg==", "Zg", "66" },
        { "fo", "Zm8=", "Zm8", "666f" },
        { "foo", "Zm9v", "Zm9v", "666f6f" },
        { "foob", "Zm9vYg==", "Zm9vYg", "666f6f62" },
        { "fooba", "Zm9vYmE=", "Zm9vYmE", "666f6f6261" },
        { "foobar", "Zm9vYmFy", "Zm9vYmFy", "666f6f626172" },
};

static void check_decoded(int r, void *p, size_t size, const char *want) {
        ck_assert_int_eq(r, 0);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq(size, strlen(want));
        ck_assert_mem_eq(p, want, size);
        ck_assert_int_eq(((char *) p)[size], 0);        /* the documented hidden NUL */
}

START_TEST(test_rfc4648_vectors) {
        const char *plain = vectors[_i].plain;
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL;
        _cleanup_free_ void *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL, *d5 = NULL;
        size_t s1, s2, s3, s4, s5;
        int r;

        ck_assert_int_eq(b64_encode(plain, strlen(plain), &e1), 0);
        ck_assert_str_eq(e1, vectors[_i].b64);
        ck_assert_int_eq(b64url_encode(plain, strlen(plain), &e2), 0);
        ck_assert_str_eq(e2, vectors[_i].b64url);
        ck_assert_int_eq(hex_encode(plain, strlen(plain), &e3), 0);
        ck_assert_str_eq(e3, vectors[_i].hex);

        /* Both decoders accept padded and unpadded forms. */
        r = b64_decode(vectors[_i].b64, strlen(vectors[_i].b64), &d1, &s1);
        check_decoded(r, d1, s1, plain);
        r = b64_decode(vectors[_i].b64url, strlen(vectors[_i].b64url), &d2, &s2);
        check_decoded(r, d2, s2, plain);
        r = b64url_decode(vectors[_i].b64, strlen(vectors[_i].b64), &d3, &s3);
        check_decoded(r, d3, s3, plain);
        r = b64url_decode(vectors[_i].b64url, strlen(vectors[_i].b64url), &d4, &s4);
        check_decoded(r, d4, s4, plain);
        r = hex_decode(vectors[_i].hex, strlen(vectors[_i].hex), &d5, &s5);
        check_decoded(r, d5, s5, plain);
}
END_TEST

/* 0xfb 0xff exercises the two alphabet-specific characters (62 and 63). */
START_TEST(test_alphabets) {
        static const uint8_t bytes[] = { 0xfb, 0xff };
        _cleanup_free_ char *std = NULL, *url = NULL;
        _cleanup_free_ void *d = NULL;
        size_t size, off = 99;

        ck_assert_int_eq(b64_encode(bytes, sizeof bytes, &std), 0);
        ck_assert_str_eq(std, "+/8=");
        ck_assert_int_eq(b64url_encode(bytes, sizeof bytes, &url), 0);
        ck_assert_str_eq(url, "-_8");

        ck_assert_int_eq(b64_decode_full(B64_URL, "+/8=", 4, &d, &size, &off), -EINVAL);
        ck_assert_uint_eq(off, 0);
        ck_assert_int_eq(b64_decode_full(B64_STANDARD, "-_8", 3, &d, &size, &off), -EINVAL);
        ck_assert_uint_eq(off, 0);
        ck_assert_int_eq(b64_decode_full(B64_URL, "-_8", 3, &d, &size, NULL), 0);
        ck_assert_uint_eq(size, 2);
        ck_assert_mem_eq(d, bytes, 2);
}
END_TEST

/* Every byte string of length 0..200 round-trips through both alphabets and hex. */
START_TEST(test_round_trip) {
        uint8_t buf[200];

        for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (uint8_t) (i * 151 + 7);

        for (size_t n = 0; n <= sizeof buf; n++) {
                _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
                _cleanup_free_ void *da = NULL, *db = NULL, *dc = NULL;
                size_t sa, sb, sc;

                ck_assert_int_eq(b64_encode(buf, n, &a), 0);
                ck_assert_int_eq(b64url_encode(buf, n, &b), 0);
                ck_assert_int_eq(hex_encode(buf, n, &c), 0);
                ck_assert_uint_eq(strlen(a) % 4, 0);
                ck_assert_ptr_null(strchr(b, '='));
                ck_assert_int_eq(b64_decode(a, strlen(a), &da, &sa), 0);
                ck_assert_int_eq(b64url_decode(b, strlen(b), &db, &sb), 0);
                ck_assert_int_eq(hex_decode(c, strlen(c), &dc, &sc), 0);
                ck_assert_uint_eq(sa, n);
                ck_assert_uint_eq(sb, n);
                ck_assert_uint_eq(sc, n);
                ck_assert_mem_eq(da, buf, n);
                ck_assert_mem_eq(db, buf, n);
                ck_assert_mem_eq(dc, buf, n);
        }
}
END_TEST

/* Inputs both base64 decoders must refuse, with the offset they must report. LEN = -1: strlen. */
static const struct {
        const char *name, *input;
        int len;
        size_t offset;
} bad_b64[] = {
        { "length 1", "Z", -1, 1 },
        { "length 5", "Zm9vY", -1, 5 },
        { "padding to 3", "Zg=", -1, 3 },
        { "padding to 5", "Zm9vY=", -1, 6 },
        { "three pads", "Z===", -1, 1 },
        { "four pads", "====", -1, 0 },
        { "only padding", "=", -1, 1 },
        { "padding in the middle", "Zg==Zm8=", -1, 2 },
        { "padding then data", "Zg=a", -1, 2 },
        { "pad without data", "Zm9v====", -1, 4 },
        { "space", "Zm9 v", -1, 3 },
        { "leading space", " Zm9v", -1, 0 },
        { "newline", "Zm9v\nYmFy", -1, 4 },
        { "trailing newline", "Zm9vYmFy\n", -1, 8 },
        { "asterisk", "Zm*v", -1, 2 },
        { "high byte", "Zm\xc3\xa9", -1, 2 },
        { "embedded NUL", "Zm\0v", 4, 2 },
        { "non-canonical 1 byte", "Zh==", -1, 1 },
        { "non-canonical 1 byte unpadded", "Zh", -1, 1 },
        { "non-canonical 2 bytes", "Zm9=", -1, 2 },
        { "non-canonical 2 bytes unpadded", "Zm9", -1, 2 },
        { "non-canonical after full group", "Zm9vYh", -1, 5 },
};

START_TEST(test_bad_b64) {
        const char *in = bad_b64[_i].input;
        size_t len = bad_b64[_i].len < 0 ? strlen(in) : (size_t) bad_b64[_i].len;

        for (B64Alphabet a = 0; a < _B64_ALPHABET_MAX; a++) {
                void *p = (void *) 0x1;
                size_t size = 4242, off = 4242;

                ck_assert_msg(b64_decode_full(a, in, len, &p, &size, &off) == -EINVAL, "%s accepted",
                              bad_b64[_i].name);
                ck_assert_msg(off == bad_b64[_i].offset, "%s: offset %zu, expected %zu", bad_b64[_i].name, off,
                              bad_b64[_i].offset);
                /* Output parameters untouched on failure. */
                ck_assert_ptr_eq(p, (void *) 0x1);
                ck_assert_uint_eq(size, 4242);
        }
}
END_TEST

START_TEST(test_empty) {
        _cleanup_free_ void *a = NULL, *b = NULL;
        size_t sa = 1, sb = 1;

        ck_assert_int_eq(b64_decode_full(B64_URL, NULL, 0, &a, &sa, NULL), 0);
        ck_assert_uint_eq(sa, 0);
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(hex_decode("", 0, &b, &sb), 0);
        ck_assert_uint_eq(sb, 0);
        ck_assert_ptr_nonnull(b);
}
END_TEST

static const struct {
        const char *input;
        size_t offset;
} bad_hex[] = {
        { "a", 1 },
        { "abc", 3 },
        { "0g", 1 },
        { "g0", 0 },
        { "0x00", 1 },
        { "00 11", 5 },         /* odd length is reported first */
        { "00 0", 2 },
        { "ab:cd", 5 },
        { "abcd\n", 5 },
        { "ab-c", 2 },
};

START_TEST(test_bad_hex) {
        void *p = (void *) 0x1;
        size_t size = 4242, off = 4242;

        ck_assert_int_eq(hex_decode_full(bad_hex[_i].input, strlen(bad_hex[_i].input), &p, &size, &off), -EINVAL);
        ck_assert_uint_eq(off, bad_hex[_i].offset);
        ck_assert_ptr_eq(p, (void *) 0x1);
        ck_assert_uint_eq(size, 4242);
}
END_TEST

START_TEST(test_hex_case) {
        _cleanup_free_ void *d = NULL;
        _cleanup_free_ char *e = NULL;
        size_t size;

        ck_assert_int_eq(hex_decode("DEADbeef", 8, &d, &size), 0);
        ck_assert_uint_eq(size, 4);
        ck_assert_mem_eq(d, "\xde\xad\xbe\xef", 4);
        ck_assert_int_eq(hex_encode(d, size, &e), 0);
        ck_assert_str_eq(e, "deadbeef");      /* always lower case out */
}
END_TEST

static Suite *b64_suite(void) {
        Suite *s = suite_create("b64");
        TCase *tc;

        tc = tcase_create("encode-decode");
        tcase_add_loop_test(tc, test_rfc4648_vectors, 0, ELEMENTSOF(vectors));
        tcase_add_test(tc, test_alphabets);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_hex_case);
        suite_add_tcase(s, tc);

        tc = tcase_create("strict");
        tcase_add_loop_test(tc, test_bad_b64, 0, ELEMENTSOF(bad_b64));
        tcase_add_loop_test(tc, test_bad_hex, 0, ELEMENTSOF(bad_hex));
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return check_run(b64_suite());
}
