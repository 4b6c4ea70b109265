/* SPDX-License-Identifier: MIT */
/* Small helpers used everywhere: cleanup attributes, ownership transfer, secure erase.
 * Header only; nothing here allocates on its own. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* Hand a pointer (or fd) out of a _cleanup_ variable so the cleanup does not free it. */
#define TAKE_PTR(p)                                  \
        ({                                           \
                __typeof__(p) _ptr_ = (p);           \
                (p) = NULL;                          \
                _ptr_;                               \
        })
#define TAKE_FD(fd)                                  \
        ({                                           \
                int _fd_ = (fd);                     \
                (fd) = -EBADF;                       \
                _fd_;                                \
        })

/* Defines type##p(type *p) calling func(*p) when *p is set, for use with _cleanup_. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)      \
        static inline void func##p(type *p) {        \
                if (*p)                              \
                        func(*p);                    \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

/* Closes FD if open; returns -EBADF for "fd = safe_close(fd);". */
static inline int safe_close(int fd) {
        if (fd >= 0)
                (void) close(fd);
        return -EBADF;
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Zero memory in a way the compiler may not optimise away (secrets, nonces, tokens). */
static inline void explicit_erase(void *p, size_t n) {
        if (p && n > 0)
                explicit_bzero(p, n);
}

/* Erase a NUL-terminated secret string and free it. Returns NULL. */
static inline char *erase_and_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
        return NULL;
}
static inline void erase_and_freep(char **s) {
        erase_and_free(*s);
}
#define _cleanup_erase_ _cleanup_(erase_and_freep)

/* A byte buffer whose owner knows its length. */
typedef struct Buffer {
        uint8_t *data;
        size_t size;
} Buffer;

static inline void buffer_done(Buffer *b) {
        free(b->data);
        *b = (Buffer) {};
}
static inline void buffer_erase_done(Buffer *b) {
        explicit_erase(b->data, b->size);
        buffer_done(b);
}
#define _cleanup_buffer_ _cleanup_(buffer_done)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline const char *strempty(const char *s) {
        return s ? s : "";
}
static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

/* IN_SET(x, a, b, ...): x equals one of the listed constants. */
#define IN_SET(x, first, ...)                                                  \
        ({                                                                     \
                const __typeof__(first) _set_[] = { first, __VA_ARGS__ };      \
                bool _found_ = false;                                          \
                for (size_t _i_ = 0; _i_ < ELEMENTSOF(_set_); _i_++)           \
                        if (_set_[_i_] == (__typeof__(first)) (x)) {                             \
                                _found_ = true;                                \
                                break;                                         \
                        }                                                      \
                _found_;                                                       \
        })

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}
