/* SPDX-License-Identifier: MIT */
/* Ephemeral RSA request key: generation (also on a worker thread), JWK text, PS256 signatures
 * (OpenSSL 3 EVP). The worker only generates: it touches no event loop, logs nothing. */
#include <malloc.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64.h"
#include "cleanup.h"
#include "request-key.h"

struct RequestKey {
        EVP_PKEY *pkey;
        char *jwk;
};

/* Base64urlUInt (RFC 7518 §2): big-endian, minimal length. */
static int bn_to_b64url(const EVP_PKEY *pkey, const char *param, char **ret) {
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        _cleanup_free_ uint8_t *bin = NULL;
        int n;

        if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
                return -EIO;
        n = BN_num_bytes(bn);
        bin = malloc(n > 0 ? (size_t) n : 1);
        if (!bin)
                return -ENOMEM;
        BN_bn2bin(bn, bin);
        return b64url_encode(bin, (size_t) n, ret);
}

int request_key_new(RequestKey **ret) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_free_ char *n = NULL, *e = NULL;
        RequestKey *k;
        int r;

        pkey = EVP_RSA_gen(2048);
        if (!pkey)
                return -EIO;
        r = bn_to_b64url(pkey, OSSL_PKEY_PARAM_RSA_N, &n);
        if (r < 0)
                return r;
        r = bn_to_b64url(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
        if (r < 0)
                return r;

        k = calloc(1, sizeof *k);
        if (!k)
                return -ENOMEM;
        if (asprintf(&k->jwk, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", n, e) < 0) {
                free(k);
                return -ENOMEM;
        }
        k->pkey = TAKE_PTR(pkey);
        *ret = k;
        return 0;
}

RequestKey *request_key_free(RequestKey *k) {
        if (!k)
                return NULL;
        EVP_PKEY_free(k->pkey);
        free(k->jwk);
        free(k);
        return NULL;
}

const char *request_key_jwk(const RequestKey *k) {
        return k->jwk;
}

int request_key_sign_ps256(const RequestKey *k, const void *data, size_t size, Buffer *ret) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_free_ uint8_t *sig = NULL;
        EVP_PKEY_CTX *pctx = NULL; /* owned by md */
        size_t len = 0;

        if (!md)
                return -ENOMEM;
        if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 ||
            EVP_DigestSign(md, NULL, &len, data, size) != 1)
                return -EIO;
        sig = malloc(len);
        if (!sig)
                return -ENOMEM;
        if (EVP_DigestSign(md, sig, &len, data, size) != 1)
                return -EIO;

        *ret = (Buffer) { .data = TAKE_PTR(sig), .size = len };
        return 0;
}

/* A thread rather than a helper process: the private key must end up in this process anyway, and a
 * child would have to hand it over through a pipe (a secret in transit, serialisation code, a fork
 * and exec per key). RSA generation shares nothing with the loop, and OpenSSL 3 is thread-safe for
 * independent keys. The worker writes key, error and tid, then signals efd; the loop reads them
 * after that (or after joining). */
struct RequestKeyJob {
        pthread_t thread;
        int efd;                        /* the worker writes once when done */
        sd_event_source *source;
        request_key_done_fn cb;
        void *userdata;
        RequestKey *key;
        int error;
        pid_t tid;
};

/* Enough for OpenSSL's prime search (its big numbers live on the heap); the default 8 MiB would
 * only be address space, but a small stack keeps glibc's cache of dead threads' stacks small. */
#define WORKER_STACK_SIZE (256 * 1024)

static void *worker(void *userdata) {
        RequestKeyJob *j = userdata;

        j->error = request_key_new(&j->key);
        __atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
        (void) eventfd_write(j->efd, 1);
        return NULL;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        RequestKeyJob *j = userdata;

        (void) pthread_join(j->thread, NULL); /* it has signalled: this returns at once */
        j->source = sd_event_source_disable_unref(j->source);
        j->cb(j, TAKE_PTR(j->key), j->error, j->userdata);
        return 0;
}

/* Every thread would otherwise get a malloc arena of its own, whose touched pages stay dirty after
 * the thread is gone: the idle daemon's private memory. One arena is plenty for one worker. */
static void limit_arenas(void) {
        (void) mallopt(M_ARENA_MAX, 1);
}

int request_key_generate_async(sd_event *event, request_key_done_fn cb, void *userdata, RequestKeyJob **ret) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        _cleanup_free_ RequestKeyJob *j = NULL;
        _cleanup_close_ int efd = -EBADF;
        pthread_attr_t attr;
        int r;

        (void) pthread_once(&once, limit_arenas);
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->cb = cb;
        j->userdata = userdata;
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        j->efd = efd;
        r = sd_event_add_io(event, &j->source, efd, EPOLLIN, on_done, j);
        if (r < 0)
                return r;

        r = -pthread_attr_init(&attr);
        if (r >= 0) {
                (void) pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
                r = -pthread_create(&j->thread, &attr, worker, j);
                pthread_attr_destroy(&attr);
        }
        if (r < 0) {
                sd_event_source_disable_unref(j->source);
                return r;
        }
        TAKE_FD(efd);
        *ret = TAKE_PTR(j);
        return 0;
}

RequestKeyJob *request_key_job_free(RequestKeyJob *j) {
        if (!j)
                return NULL;
        if (j->source) {
                /* Still running: wait for it (at most one key's time, on reload or stop only) rather
                 * than leave a thread in OpenSSL behind us while the process tears it down. */
                (void) pthread_join(j->thread, NULL);
                j->source = sd_event_source_disable_unref(j->source);
        }
        safe_close(j->efd);
        request_key_free(j->key);
        free(j);
        return NULL;
}

pid_t request_key_job_get_tid(const RequestKeyJob *j) {
        return __atomic_load_n(&j->tid, __ATOMIC_ACQUIRE);
}
