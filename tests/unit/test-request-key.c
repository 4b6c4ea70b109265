/* SPDX-License-Identifier: MIT */
/* Unit tests for request-key.c's worker thread: the key is generated on another thread (so the
 * event loop is free meanwhile), the callback comes from the loop, never from within the call,
 * and a cancelled job calls nothing back. */
#include <check.h>

#include "check-main.h"
#include "cleanup.h"
#include "request-key.h"

typedef struct Outcome {
        int calls;
        int error;
        pid_t tid;
        RequestKey *key;
} Outcome;

static void on_key(RequestKeyJob *j, RequestKey *key, int error, void *userdata) {
        Outcome *o = userdata;

        o->calls++;
        o->error = error;
        o->key = key;
        o->tid = request_key_job_get_tid(j);
}

START_TEST(test_worker_thread) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(request_key_job_freep) RequestKeyJob *j = NULL;
        Outcome o = {};
        Buffer sig = {};

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(request_key_generate_async(e, on_key, &o, &j), 0);
        ck_assert_int_eq(o.calls, 0); /* never from within the call */
        while (o.calls == 0)
                ck_assert_int_ge(sd_event_run(e, UINT64_MAX), 0);
        ck_assert_int_eq(o.calls, 1);
        ck_assert_int_eq(o.error, 0);
        /* Made on a thread of its own: the loop's thread was free to serve D-Bus meanwhile. */
        ck_assert_int_gt(o.tid, 0);
        ck_assert_int_ne(o.tid, gettid());
        ck_assert_ptr_nonnull(o.key);
        ck_assert_str_eq(strndupa(request_key_jwk(o.key), 13), "{\"kty\":\"RSA\",");
        ck_assert_int_eq(request_key_sign_ps256(o.key, "x", 1, &sig), 0);
        ck_assert_uint_eq(sig.size, 256);
        buffer_done(&sig);
        request_key_free(o.key);
}
END_TEST

START_TEST(test_cancel) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        RequestKeyJob *j = NULL;
        Outcome o = {};

        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_eq(request_key_generate_async(e, on_key, &o, &j), 0);
        request_key_job_free(j); /* waits for the worker, discards its key */
        ck_assert_int_eq(sd_event_run(e, 0), 0);
        ck_assert_int_eq(o.calls, 0);
}
END_TEST

static Suite *request_key_suite(void) {
        Suite *s = suite_create("request-key");
        TCase *tc = tcase_create("async");

        tcase_add_test(tc, test_worker_thread);
        tcase_add_test(tc, test_cancel);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(request_key_suite());
}
