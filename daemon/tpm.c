/* SPDX-License-Identifier: MIT */
/* TpmContext (TCTI + ESAPI), the single TSS2_RC -> errno translation, and small capability
 * queries. PCR reads and quotes are in tpm-pcr.c, the attestation key in tpm-ak.c. */
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "log.h"
#include "tpm-internal.h"

bool tpm_rc_is_transient(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

        if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
                return false;
        rc &= ~TSS2_RC_LAYER_MASK;
        return rc == TPM2_RC_RETRY || rc == TPM2_RC_YIELDED || rc == TPM2_RC_TESTING;
}

static int tpm_format1_to_errno(TSS2_RC code) {
        switch (code) {
        case TPM2_RC_HANDLE:
                return -ENOENT;
        case TPM2_RC_AUTH_FAIL:
        case TPM2_RC_BAD_AUTH:
        case TPM2_RC_POLICY_FAIL:
        case TPM2_RC_AUTH_UNAVAILABLE:
                return -EACCES;
        case TPM2_RC_HIERARCHY:
                return -EPERM;
        case TPM2_RC_HASH:
        case TPM2_RC_SCHEME:
        case TPM2_RC_CURVE:
        case TPM2_RC_KDF:
        case TPM2_RC_SYMMETRIC:
        case TPM2_RC_MODE:
        case TPM2_RC_KEY_SIZE:
                return -EOPNOTSUPP;
        default:        /* VALUE, SIZE, TYPE, ATTRIBUTES, SELECTOR, KEY, ... */
                return -EINVAL;
        }
}

static int tpm_format0_to_errno(TSS2_RC code) {
        switch (code) {
        case TPM2_RC_RETRY:
        case TPM2_RC_YIELDED:
        case TPM2_RC_TESTING:
        case TPM2_RC_NV_RATE:
        case TPM2_RC_NV_UNAVAILABLE:
                return -EBUSY;
        case TPM2_RC_FAILURE:
        case TPM2_RC_INITIALIZE:
        case TPM2_RC_NEEDS_TEST:
                return -EIO;
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
        case TPM2_RC_MEMORY:
        case TPM2_RC_OBJECT_HANDLES:
        case TPM2_RC_SESSION_HANDLES:
        case TPM2_RC_NV_SPACE:
                return -ENOSPC;
        case TPM2_RC_LOCKOUT:
        case TPM2_RC_NV_LOCKED:
        case TPM2_RC_NV_AUTHORIZATION:
                return -EACCES;
        case TPM2_RC_DISABLED:
                return -EPERM;
        case TPM2_RC_CANCELED:
                return -ECANCELED;
        case TPM2_RC_COMMAND_CODE:
                return -EOPNOTSUPP;
        case TPM2_RC_NV_RANGE:
        case TPM2_RC_NV_SIZE:
                return -ERANGE;
        case TPM2_RC_NV_UNINITIALIZED:
                return -ENODATA;
        case TPM2_RC_NV_DEFINED:
                return -EEXIST;
        case TPM2_RC_PCR_CHANGED:
                return -EAGAIN;
        default:
                return -EINVAL;
        }
}

/* Errors raised by the TSS itself (ESAPI, SYS, MU, TCTI, resource manager). */
static int tpm_tss_to_errno(TSS2_RC base) {
        switch (base) {
        case TSS2_BASE_RC_IO_ERROR:
        case TSS2_BASE_RC_GENERAL_FAILURE:
                return -EIO;
        case TSS2_BASE_RC_NO_CONNECTION:
        case TSS2_BASE_RC_NO_TPM:
                return -ENODEV;
        case TSS2_BASE_RC_TRY_AGAIN:
                return -EAGAIN;
        case TSS2_BASE_RC_MEMORY:
                return -ENOMEM;
        case TSS2_BASE_RC_NOT_IMPLEMENTED:
        case TSS2_BASE_RC_NOT_SUPPORTED:
        case TSS2_BASE_RC_INCOMPATIBLE_TCTI:
        case TSS2_BASE_RC_ABI_MISMATCH:
                return -EOPNOTSUPP;
        case TSS2_BASE_RC_MALFORMED_RESPONSE:
        case TSS2_BASE_RC_INSUFFICIENT_RESPONSE:
        case TSS2_BASE_RC_RSP_AUTH_FAILED:
                return -EBADMSG;
        case TSS2_BASE_RC_NOT_PERMITTED:
                return -EPERM;
        case TSS2_BASE_RC_AUTHORIZATION_FAILED:
                return -EACCES;
        default:        /* BAD_VALUE, BAD_REFERENCE, BAD_SIZE, BAD_TR, BAD_SEQUENCE, ... */
                return -EINVAL;
        }
}

int tpm_rc_to_errno(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code = rc & ~TSS2_RC_LAYER_MASK;

        if (rc == TSS2_RC_SUCCESS)
                return 0;
        if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
                return tpm_tss_to_errno(code & 0xFFFF);
        if (code & TPM2_RC_FMT1)
                return tpm_format1_to_errno(code & (TPM2_RC_FMT1 | 0x3F));
        return tpm_format0_to_errno(code & 0xFFF);
}

/* A plain-words hint for the codes an operator can act on; NULL when the decode text suffices. */
static const char *tpm_rc_hint(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code = rc & ~TSS2_RC_LAYER_MASK;

        if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
                return layer == TSS2_TCTI_RC_LAYER && code == TSS2_BASE_RC_IO_ERROR ?
                        "lost the connection to the TPM" : NULL;
        switch (code & 0xFFF) {
        case TPM2_RC_FAILURE:
                return "the TPM is in failure mode";
        case TPM2_RC_INITIALIZE:
                return "the TPM was not started (TPM2_Startup missing)";
        case TPM2_RC_RETRY:
        case TPM2_RC_YIELDED:
        case TPM2_RC_TESTING:
                return "the TPM stayed busy";
        case TPM2_RC_LOCKOUT:
                return "the TPM is in dictionary-attack lockout";
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
                return "the TPM is out of object/session slots (leaked transient handles?)";
        default:
                return NULL;
        }
}

/* After a TCTI or SYS error while a command was under way, or an ESAPI error about the response,
 * ESAPI leaves the context in its internal-error state and refuses every later command. */
static bool tpm_rc_breaks_context(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code = rc & 0xFFFF;

        if (layer == TSS2_TCTI_RC_LAYER || layer == TSS2_SYS_RC_LAYER || layer == TSS2_RESMGR_RC_LAYER)
                return true;
        if (layer != TSS2_ESAPI_RC_LAYER)
                return false;
        return IN_SET(code, TSS2_BASE_RC_BAD_SEQUENCE, TSS2_BASE_RC_GENERAL_FAILURE, TSS2_BASE_RC_IO_ERROR,
                      TSS2_BASE_RC_MALFORMED_RESPONSE, TSS2_BASE_RC_INSUFFICIENT_RESPONSE,
                      TSS2_BASE_RC_RSP_AUTH_FAILED);
}

int tpm_translate(TpmContext *t, TSS2_RC rc, const char *what) {
        const char *hint;

        if (rc == TSS2_RC_SUCCESS)
                return 0;

        if (tpm_rc_breaks_context(rc))
                t->broken = true;

        hint = tpm_rc_hint(rc);
        snprintf(t->last_error, sizeof t->last_error, "%s failed: 0x%06x %s%s%s", what, rc,
                 Tss2_RC_Decode(rc), hint ? ": " : "", strempty(hint));
        return log_debug_errno(tpm_rc_to_errno(rc), "%s", t->last_error);
}

int tpm_error(TpmContext *t, int error, const char *format, ...) {
        va_list ap;

        assert(error < 0);

        va_start(ap, format);
        vsnprintf(t->last_error, sizeof t->last_error, format, ap);
        va_end(ap);
        return log_debug_errno(error, "%s", t->last_error);
}

void tpm_handle_done(TpmHandle *h) {
        TSS2_RC rc;

        if (!h->tpm || h->tr == ESYS_TR_NONE)
                return;
        if (h->flush)
                rc = Esys_FlushContext(h->tpm->esys, h->tr);
        else
                rc = Esys_TR_Close(h->tpm->esys, &h->tr);
        if (rc != TSS2_RC_SUCCESS)
                log_debug("Failed to %s TPM handle: 0x%06x %s", h->flush ? "flush" : "close", rc,
                          Tss2_RC_Decode(rc));
        h->tr = ESYS_TR_NONE;
}

const char *tpm_context_last_error(const TpmContext *t) {
        return t ? t->last_error : "";
}

bool tpm_context_is_broken(const TpmContext *t) {
        return t->broken;
}

TpmContext *tpm_context_free(TpmContext *t) {
        if (!t)
                return NULL;
        if (t->esys)
                Esys_Finalize(&t->esys);
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
        return NULL;
}

static int probe_path(const char *path, bool is_socket, char *buf, size_t size) {
        struct stat st;

        if (stat(path, &st) < 0) {
                int r = -errno;
                snprintf(buf, size, "%s: %s%s", path, strerror(-r),
                         r == -ENOENT && !is_socket ? " (no TPM, or its driver is not loaded)" : "");
                return r;
        }

        if (!is_socket) {
                _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        int r = -errno;
                        snprintf(buf, size, "cannot open TPM device %s: %s", path, strerror(-r));
                        return r;
                }
                snprintf(buf, size, "%s is %s", path, S_ISCHR(st.st_mode) ?
                         "a character device that does not answer as a TPM" : "not a TPM device");
                return -ENODEV;
        }

        if (!S_ISSOCK(st.st_mode)) {
                snprintf(buf, size, "%s is not a socket", path);
                return -ENODEV;
        }

        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || strlen(path) >= sizeof sa.sun_path) {
                snprintf(buf, size, "cannot connect to %s", path);
                return -ENODEV;
        }
        strcpy(sa.sun_path, path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;
                snprintf(buf, size, "cannot connect to TPM socket %s: %s", path, strerror(-r));
                return r;
        }
        snprintf(buf, size, "the TPM simulator at %s does not answer", path);
        return -ENODEV;
}

/* Tss2_TctiLdr_Initialize says only "IO failure" for a missing device, a permission problem and
 * a dead simulator alike; look at the device or socket ourselves to tell the operator which. */
static int tcti_diagnose(const char *tcti, TSS2_RC rc, char *buf, size_t size) {
        const char *colon = strchr(tcti, ':'), *opts = colon ? colon + 1 : "";
        size_t name_len = colon ? (size_t) (colon - tcti) : strlen(tcti);
        int r = tpm_rc_to_errno(rc);

        if ((rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_NOT_SUPPORTED ||
            (rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_NOT_IMPLEMENTED) {
                snprintf(buf, size, "unknown or unavailable TCTI \"%.*s\" (%s)", (int) name_len, tcti,
                         Tss2_RC_Decode(rc));
                return -EINVAL;
        }
        if ((rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_BAD_VALUE) {
                snprintf(buf, size, "bad options \"%s\" for TCTI \"%.*s\"", opts, (int) name_len, tcti);
                return -EINVAL;
        }
        if ((rc & ~TSS2_RC_LAYER_MASK) != TSS2_BASE_RC_IO_ERROR) {
                snprintf(buf, size, "cannot open TCTI \"%s\": %s", tcti, Tss2_RC_Decode(rc));
                return r;
        }

        if (name_len == 6 && strncmp(tcti, "device", 6) == 0)
                return probe_path(*opts ? opts : "/dev/tpmrm0", false, buf, size);

        if (name_len == 5 && (strncmp(tcti, "swtpm", 5) == 0 || strncmp(tcti, "mssim", 5) == 0)) {
                if (strncmp(opts, "path=", 5) == 0) {
                        char path[PATH_MAX];
                        snprintf(path, sizeof path, "%.*s", (int) strcspn(opts + 5, ","), opts + 5);
                        return probe_path(path, true, buf, size);
                }
                snprintf(buf, size, "cannot connect to the TPM simulator at \"%s\"", opts);
                return -ECONNREFUSED;
        }

        snprintf(buf, size, "cannot open TCTI \"%s\": %s", tcti, Tss2_RC_Decode(rc));
        return -ENODEV;
}

/* GetTestResult works even in failure mode, which is exactly what we want to detect. */
static int tpm_check_health(TpmContext *t) {
        _cleanup_esys_ TPM2B_MAX_BUFFER *data = NULL;
        TPM2_RC result = TPM2_RC_SUCCESS;
        int r;

        r = TPM_CALL(t, "TPM2_GetTestResult",
                     Esys_GetTestResult(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &data, &result));
        if (r < 0)
                return r;
        if ((result & 0xFFF) == TPM2_RC_FAILURE)
                return tpm_error(t, -EIO, "the TPM is in failure mode (self-test result 0x%x)", result);
        if (result != TPM2_RC_SUCCESS)
                log_debug("TPM self-test result: 0x%x %s", result, Tss2_RC_Decode(result));
        return 0;
}

int tpm_context_new_full(const char *tcti, TpmContext **ret, char **reterr_message) {
        _cleanup_(tpm_context_freep) TpmContext *t = NULL;
        char buf[512];
        TSS2_RC rc;
        int r;

        assert(ret);

        if (!tcti || !*tcti)
                tcti = TPM_TCTI_DEFAULT;

        /* The TSS prints every failed command at error level to stderr; we translate and log each
         * failure ourselves. TSS2_LOG set by the user still wins. */
        (void) setenv("TSS2_LOG", "all+none", 0);

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;

        rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                r = tcti_diagnose(tcti, rc, buf, sizeof buf);
                goto fail;
        }

        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = tpm_translate(t, rc, "Esys_Initialize");
                snprintf(buf, sizeof buf, "%s", t->last_error);
                goto fail;
        }

        r = tpm_check_health(t);
        if (r < 0) {
                /* A TPM that answers garbage or nothing at all is "no TPM" to the operator. */
                if (r == -EIO && t->broken)
                        r = -ENODEV;
                snprintf(buf, sizeof buf, "%s", t->last_error);
                goto fail;
        }

        log_debug("Opened TPM via TCTI \"%s\".", tcti);
        *ret = TAKE_PTR(t);
        return 0;

fail:
        log_debug_errno(r, "Cannot use the TPM (TCTI \"%s\"): %s", tcti, buf);
        if (reterr_message)
                *reterr_message = strdup(buf);
        return r;
}

int tpm_get_random(TpmContext *t, void *buf, size_t n) {
        uint8_t *p = buf;

        assert(t);
        assert(buf || n == 0);

        while (n > 0) {
                _cleanup_esys_ TPM2B_DIGEST *rnd = NULL;
                int r;

                r = TPM_CALL(t, "TPM2_GetRandom",
                             Esys_GetRandom(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                            (UINT16) MIN(n, sizeof rnd->buffer), &rnd));
                if (r < 0)
                        return r;
                /* The TPM may return fewer bytes than asked, never more, and never zero. */
                if (rnd->size == 0 || rnd->size > MIN(n, sizeof rnd->buffer))
                        return tpm_error(t, -EBADMSG, "TPM2_GetRandom returned %u bytes", rnd->size);
                memcpy(p, rnd->buffer, rnd->size);
                p += rnd->size;
                n -= rnd->size;
        }
        return 0;
}

int tpm_get_active_banks(TpmContext *t, uint16_t ret_banks[PCR_BANKS_MAX], size_t *ret_n) {
        _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
        uint16_t banks[PCR_BANKS_MAX];
        TPMI_YES_NO more = TPM2_NO;
        size_t n = 0;
        int r;

        assert(t);
        assert(ret_banks);
        assert(ret_n);

        r = TPM_CALL(t, "TPM2_GetCapability(PCRS)",
                     Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_PCRS, 0, 1, &more, &cap));
        if (r < 0)
                return r;
        if (cap->capability != TPM2_CAP_PCRS)
                return tpm_error(t, -EBADMSG, "TPM2_GetCapability(PCRS) answered capability 0x%x",
                                 cap->capability);

        const TPML_PCR_SELECTION *s = &cap->data.assignedPCR;
        for (uint32_t i = 0; i < s->count && i < ELEMENTSOF(s->pcrSelections); i++) {
                const TPMS_PCR_SELECTION *b = &s->pcrSelections[i];
                bool allocated = false;

                for (unsigned j = 0; j < b->sizeofSelect && j < sizeof b->pcrSelect; j++)
                        allocated = allocated || b->pcrSelect[j] != 0;
                if (!allocated || tpm_alg_digest_size(b->hash) == 0 || n >= PCR_BANKS_MAX)
                        continue;
                banks[n++] = b->hash;
        }

        memcpy(ret_banks, banks, n * sizeof banks[0]);
        *ret_n = n;
        return 0;
}

int tpm_get_handles(TpmContext *t, uint32_t first, uint32_t **ret, size_t *ret_n) {
        _cleanup_free_ uint32_t *handles = NULL;
        uint32_t range = first & TPM_HANDLE_RANGE_MASK, next = first;
        size_t n = 0;
        int r;

        assert(t);
        assert(ret);
        assert(ret_n);

        for (;;) {
                _cleanup_esys_ TPMS_CAPABILITY_DATA *cap = NULL;
                TPMI_YES_NO more = TPM2_NO;

                r = TPM_CALL(t, "TPM2_GetCapability(HANDLES)",
                             Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap));
                if (r < 0)
                        return r;

                const TPML_HANDLE *h = &cap->data.handles;
                uint32_t count = MIN(h->count, (uint32_t) TPM2_MAX_CAP_HANDLES);
                size_t added = 0;

                uint32_t *a = reallocarray(handles, n + count + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                handles = a;
                for (uint32_t i = 0; i < count; i++) {
                        /* The TPM continues into the next range; stop at our range's end. */
                        if ((h->handle[i] & TPM_HANDLE_RANGE_MASK) != range) {
                                more = TPM2_NO;
                                break;
                        }
                        handles[n++] = h->handle[i];
                        added++;
                }
                if (!more || added == 0)
                        break;
                next = handles[n - 1] + 1;
        }

        *ret = n > 0 ? TAKE_PTR(handles) : NULL;
        *ret_n = n;
        return 0;
}
