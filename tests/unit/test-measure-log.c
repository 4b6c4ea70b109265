/* SPDX-License-Identifier: MIT */
/* Unit tests for measure-log.c: systemd's JSON-SEQ userspace measurement log, parsed from memory
 * and from temporary files (with the writer's lock held), replayed, and rejected when broken. */
#include <check.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#include "check-main.h"
#include "measure-log.h"

#define RS "\x1e"
#define SHA256_A "aa00000000000000000000000000000000000000000000000000000000000000"
#define SHA256_B "bb00000000000000000000000000000000000000000000000000000000000000"
#define SHA1_A "aa00000000000000000000000000000000000000"

/* Written the way systemd-pcrextend writes it: RS, one JSON object, LF. */
static const char sample[] =
        RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"" SHA256_A "\"},"
           "{\"hashAlg\":\"sha1\",\"digest\":\"" SHA1_A "\"}],"
           "\"content_type\":\"systemd\",\"content\":{\"string\":\"enter-initrd\",\"eventType\":\"phase\"}}\n"
        RS "{\"pcr\":15,\"digests\":[{\"hashAlg\":\"sha3_256\",\"digest\":\"00\"},"
           "{\"hashAlg\":\"SHA256\",\"digest\":\"" SHA256_B "\"}],"
           "\"content_type\":\"systemd\",\"content\":{\"string\":\"machine-id:0123\",\"eventType\":\"machine-id\"}}\n"
        RS "\n"
        RS "{\"digests\":[],\"content_type\":\"other\",\"content\":{\"string\":\"ignored\"}}\n"
        RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"" SHA256_B "\"}],"
           "\"content_type\":\"systemd\",\"content\":{\"string\":\"leave-initrd\",\"eventType\":\"phase\"}}\n";

static MeasureLog *parse_ok(const char *text, size_t size) {
        MeasureLog *log = NULL;
        char *msg = NULL;
        int r = measure_log_parse(text, size, &log, &msg);

        ck_assert_msg(r == 0, "%d: %s", r, strna(msg));
        ck_assert_ptr_null(msg);
        return log;
}

/* H(H(0 || a) || b) style chains for one bank. */
static void chain(const EVP_MD *md, size_t size, const uint8_t *start, const char *const *hex, size_t n, uint8_t *ret) {
        uint8_t v[2 * PCR_DIGEST_MAX];
        unsigned k;

        memcpy(v, start, size);
        for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(pcr_unhex(hex[i], v + size, size), 0);
                ck_assert_int_eq(EVP_Digest(v, 2 * size, v, &k, md, NULL), 1);
        }
        memcpy(ret, v, size);
}

START_TEST(test_parse_sample) {
        MeasureLog *log = parse_ok(sample, strlen(sample));
        const MeasureLogRecord *r;

        ck_assert_uint_eq(log->n_records, 4);           /* the empty text is skipped */

        r = &log->records[0];
        ck_assert_uint_eq(r->index, 0);
        ck_assert_uint_eq(r->offset, 0);
        ck_assert_uint_eq(r->pcr, 11);
        ck_assert_uint_eq(r->n_digests, 2);
        ck_assert_uint_eq(r->digests[0].alg, TPM_ALG_SHA256);
        ck_assert_uint_eq(r->digests[0].size, 32);
        ck_assert_uint_eq(r->digests[0].data[0], 0xaa);
        ck_assert_uint_eq(r->digests[1].alg, TPM_ALG_SHA1);
        ck_assert_str_eq(r->content_type, "systemd");
        ck_assert_str_eq(r->description, "enter-initrd");
        ck_assert_str_eq(r->event_type, "phase");

        r = &log->records[1];                           /* unknown hash skipped, name case-insensitive */
        ck_assert_uint_eq(r->pcr, 15);
        ck_assert_uint_eq(r->n_digests, 1);
        ck_assert_uint_eq(r->digests[0].alg, TPM_ALG_SHA256);
        ck_assert_str_eq(r->event_type, "machine-id");

        r = &log->records[2];                           /* no "pcr"; content of other types not read */
        ck_assert_uint_eq(r->pcr, MEASURE_LOG_NO_PCR);
        ck_assert_uint_eq(r->n_digests, 0);
        ck_assert_str_eq(r->content_type, "other");
        ck_assert_ptr_null(r->description);

        r = &log->records[3];
        ck_assert_uint_eq(r->index, 3);
        ck_assert_str_eq(r->description, "leave-initrd");
        ck_assert_uint_eq(sample[r->offset], 0x1e);
        measure_log_free(log);
}
END_TEST

START_TEST(test_parse_empty) {
        MeasureLog *log = parse_ok("", 0);

        ck_assert_uint_eq(log->n_records, 0);
        measure_log_free(log);
        log = parse_ok(RS RS "\n" RS, 4);
        ck_assert_uint_eq(log->n_records, 0);
        measure_log_free(log);
        /* A final record without its LF (RFC 7464 writers end with LF, but nothing is lost). */
        log = parse_ok(RS "{\"pcr\":1,\"digests\":[]}", 23);
        ck_assert_uint_eq(log->n_records, 1);
        measure_log_free(log);
}
END_TEST

START_TEST(test_replay) {
        static const char *const pcr11[] = { SHA256_A, SHA256_B }, *const pcr15[] = { SHA256_B };
        static const uint8_t zero[PCR_DIGEST_MAX];
        MeasureLog *log = parse_ok(sample, strlen(sample));
        PcrSet set = {};
        PcrBank *b;
        uint8_t want[32];

        /* Empty set: banks come from the records (sha256, then sha1). */
        ck_assert_int_eq(measure_log_replay(log, &set), 0);
        ck_assert_uint_eq(set.n_banks, 2);
        b = pcr_bank_find(&set, TPM_ALG_SHA256);
        chain(EVP_sha256(), 32, zero, pcr11, 2, want);
        ck_assert_mem_eq(b->values[11], want, 32);
        chain(EVP_sha256(), 32, zero, pcr15, 1, want);
        ck_assert_mem_eq(b->values[15], want, 32);
        ck_assert_uint_eq(b->present_mask, (1u << 11) | (1u << 15));
        /* The records of PCR 11 and 15 lack some sha1 digests: those values are unknown. */
        ck_assert_uint_eq(pcr_bank_find(&set, TPM_ALG_SHA1)->present_mask, 0);

        /* On top of a firmware replay whose PCR 11 already holds a value. */
        set = (PcrSet) {};
        ck_assert_int_eq(pcr_set_add_bank(&set, TPM_ALG_SHA256, &b), 0);
        memset(want, 0x5a, 32);
        ck_assert_int_eq(pcr_bank_set(b, 11, want, 32), 0);
        ck_assert_int_eq(measure_log_replay(log, &set), 0);
        ck_assert_uint_eq(set.n_banks, 1);
        chain(EVP_sha256(), 32, want, pcr11, 2, want);
        ck_assert_mem_eq(b->values[11], want, 32);
        measure_log_free(log);
}
END_TEST

typedef struct BadCase {
        const char *text;
        int error;
        const char *what;
} BadCase;

#define D256 "{\"hashAlg\":\"sha256\",\"digest\":\"" SHA256_A "\"}"

static const BadCase bad_cases[] = {
        { "{\"pcr\":1,\"digests\":[]}\n", -EBADMSG, "offset 0: record 0: data does not start with a record separator" },
        { " " RS "{\"pcr\":1,\"digests\":[]}\n", -EBADMSG, "offset 0: record 0: data does not start" },
        { RS "{\"pcr\":1,\"digests\":[]}\n" RS "{\"pcr\":", -EBADMSG, "offset 32: record 1: truncated JSON text" },
        { RS "{\"pcr\":1,\"digests\":[]}\n" RS "{\"pcr\" 1}\n", -EBADMSG, "offset 32: record 1: invalid JSON: object property name separator" },
        { RS "{\"pcr\":1,\"digests\":[]} {}\n", -EBADMSG, "offset 24: record 0: trailing data after the JSON object" },
        { RS "[1,2]\n", -EBADMSG, "offset 0: record 0: record is not a JSON object" },
        { RS "null\n", -EBADMSG, "record is not a JSON object" },
        { RS "{\"pcr\":24,\"digests\":[]}\n", -EBADMSG, "offset 0: record 0: 'pcr' 24 out of range 0..23" },
        { RS "{\"pcr\":-1,\"digests\":[]}\n", -EBADMSG, "'pcr' -1 out of range" },
        { RS "{\"pcr\":\"11\",\"digests\":[]}\n", -EBADMSG, "'pcr' is not an integer" },
        { RS "{\"pcr\":1.5,\"digests\":[]}\n", -EBADMSG, "'pcr' is not an integer" },
        { RS "{\"pcr\":11}\n", -EBADMSG, "'digests' array missing" },
        { RS "{\"pcr\":11,\"digests\":{}}\n", -EBADMSG, "'digests' array missing" },
        { RS "{\"pcr\":11,\"digests\":[1]}\n", -EBADMSG, "'digests' element is not an object" },
        { RS "{\"pcr\":11,\"digests\":[{\"digest\":\"00\"}]}\n", -EBADMSG, "lacks a 'hashAlg' string" },
        { RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\"}]}\n", -EBADMSG, "sha256 digest lacks a 'digest' string" },
        { RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"aa\"}]}\n", -EBADMSG, "sha256 digest is not 32 bytes of hex" },
        { RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha1\",\"digest\":\"" SHA256_A "\"}]}\n", -EBADMSG, "sha1 digest is not 20 bytes of hex" },
        { RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha1\",\"digest\":\"zz00000000000000000000000000000000000000\"}]}\n", -EBADMSG, "sha1 digest is not 20 bytes" },
        { RS "{\"pcr\":11,\"digests\":[" D256 "," D256 "]}\n", -EBADMSG, "duplicate sha256 digest" },
        { RS "{\"pcr\":11,\"digests\":[],\"content_type\":5}\n", -EBADMSG, "'content_type' is not a string" },
        { RS "{\"pcr\":11,\"digests\":[],\"content_type\":\"systemd\",\"content\":[]}\n", -EBADMSG, "'content' is not an object" },
        { RS "{\"pcr\":11,\"digests\":[],\"content_type\":\"systemd\",\"content\":{\"string\":1}}\n", -EBADMSG, "'string' is not a string" },
        { RS "{\"pcr\":11,\"digests\":[],\"content_type\":\"systemd\",\"content\":{\"eventType\":true}}\n", -EBADMSG, "'eventType' is not a string" },
};

START_TEST(test_bad) {
        const BadCase *c = &bad_cases[_i];
        MeasureLog *log = NULL;
        char *msg = NULL;
        int r;

        r = measure_log_parse(c->text, strlen(c->text), &log, &msg);
        ck_assert_msg(r == c->error, "case %d: %d (%s)", _i, r, strna(msg));
        ck_assert_ptr_null(log);
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strstr(msg, c->what), "case %d: \"%s\" lacks \"%s\"", _i, msg, c->what);
        free(msg);
}
END_TEST

START_TEST(test_bad_nul) {
        static const char text[] = RS "{\"pcr\":1,\0\"digests\":[]}\n";
        MeasureLog *log = NULL;
        char *msg = NULL;

        ck_assert_int_eq(measure_log_parse(text, sizeof(text) - 1, &log, &msg), -EBADMSG);
        ck_assert_str_eq(msg, "offset 0: record 0: NUL byte inside the record");
        free(msg);
}
END_TEST

START_TEST(test_record_limit) {
        static const char rec[] = RS "{\"digests\":[]}\n";
        size_t n = MEASURE_LOG_RECORDS_MAX + 1, len = sizeof(rec) - 1;
        char *text = malloc(n * len), *msg = NULL, want[80];
        MeasureLog *log = NULL;

        ck_assert_ptr_nonnull(text);
        for (size_t i = 0; i < n; i++)
                memcpy(text + i * len, rec, len);
        ck_assert_int_eq(measure_log_parse(text, n * len, &log, &msg), -E2BIG);
        snprintf(want, sizeof(want), "offset %zu: record %u: more than %u records", (n - 1) * len,
                 MEASURE_LOG_RECORDS_MAX, MEASURE_LOG_RECORDS_MAX);
        ck_assert_str_eq(msg, want);
        free(msg);
        ck_assert_int_eq(measure_log_parse(text, (n - 1) * len, &log, NULL), 0);
        ck_assert_uint_eq(log->n_records, MEASURE_LOG_RECORDS_MAX);
        measure_log_free(log);
        free(text);
}
END_TEST

static int write_temp(char path[static 64], const char *text) {
        int fd;

        strcpy(path, "/tmp/test-measure-log.XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        return fd;
}

START_TEST(test_read_file) {
        char path[64];
        MeasureLog *log = NULL;
        char *msg = NULL;
        int fd = write_temp(path, sample);

        ck_assert_int_eq(measure_log_read(path, &log, &msg), 0);
        ck_assert_uint_eq(log->n_records, 4);
        measure_log_free(log);

        /* A reader holding a shared lock does not block us. */
        ck_assert_int_eq(flock(fd, LOCK_SH), 0);
        ck_assert_int_eq(measure_log_read(path, &log, NULL), 0);
        measure_log_free(log);
        close(fd);
        unlink(path);

        ck_assert_int_eq(measure_log_read("/nonexistent/tpm2-measure.log", &log, &msg), -ENOENT);
        ck_assert_int_eq(measure_log_read("/tmp", &log, &msg), -EBADF);
        ck_assert_ptr_null(msg);

        /* One byte over the size cap. */
        fd = write_temp(path, "");
        ck_assert_int_eq(ftruncate(fd, (off_t) MEASURE_LOG_SIZE_MAX + 1), 0);
        close(fd);
        ck_assert_int_eq(measure_log_read(path, &log, &msg), -E2BIG);
        ck_assert_ptr_null(msg);
        unlink(path);

        fd = write_temp(path, "garbage");
        close(fd);
        ck_assert_int_eq(measure_log_read(path, &log, &msg), -EBADMSG);
        ck_assert_str_eq(msg, "offset 0: record 0: data does not start with a record separator (0x1E)");
        free(msg);
        unlink(path);
}
END_TEST

START_TEST(test_read_waits_for_writer) {
        static const char second[] =
                RS "{\"pcr\":11,\"digests\":[{\"hashAlg\":\"sha256\",\"digest\":\"" SHA256_B "\"}]}\n";
        char path[64];
        int fd, status, wfd;
        pid_t pid;

        /* The writer (systemd) appends under LOCK_EX; the reader must wait for the whole record. */
        fd = write_temp(path, RS "{\"pcr\":11,\"digests\":[]}\n");
        wfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        ck_assert_int_ge(wfd, 0);
        ck_assert_int_eq(flock(wfd, LOCK_EX), 0);
        ck_assert_int_eq(write(wfd, second, 10), 10);   /* half a record */

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                MeasureLog *log = NULL;

                if (measure_log_read(path, &log, NULL) < 0)
                        _exit(100);
                _exit((int) log->n_records);
        }

        usleep(200 * 1000);
        ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);   /* still blocked on the lock */
        ck_assert_int_eq(write(wfd, second + 10, sizeof(second) - 1 - 10), (ssize_t) (sizeof(second) - 1 - 10));
        ck_assert_int_eq(flock(wfd, LOCK_UN), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 2);
        close(wfd);
        close(fd);
        unlink(path);
}
END_TEST

static Suite *measure_log_suite(void) {
        Suite *s = suite_create("measure-log");
        TCase *tc;

        tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_sample);
        tcase_add_test(tc, test_parse_empty);
        tcase_add_test(tc, test_replay);
        suite_add_tcase(s, tc);

        tc = tcase_create("malformed");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_bad, 0, (int) ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_bad_nul);
        tcase_add_test(tc, test_record_limit);
        suite_add_tcase(s, tc);

        tc = tcase_create("file");
        tcase_add_test(tc, test_read_file);
        tcase_add_test(tc, test_read_waits_for_writer);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return check_run(measure_log_suite());
}
