/* SPDX-License-Identifier: MIT */
/* attestctl pcrs / quote: read PCRs, or make and check a quote, straight from the TPM (not via the
 * daemon). `quote --output-dir` writes files tpm2_checkquote(1) understands. */
#include <fcntl.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/pem.h>

#include "b64.h"
#include "cleanup.h"
#include "config.h"
#include "ctl.h"
#include "eventlog-json.h"
#include "json-util.h"
#include "log.h"
#include "tpm-ak.h"
#include "tpm.h"

typedef struct TpmArgs {
        const char *tcti;
        const char *pcrs;
        const char *banks;
        const char *nonce;
        const char *output_dir;
        bool json;
} TpmArgs;

static void pcrs_print_text(const PcrSet *set) {
        for (size_t i = 0; i < set->n_banks; i++) {
                const PcrBank *b = &set->banks[i];

                printf("%s:\n", tpm_alg_to_name(b->alg));
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        char hex[PCR_HEX_MAX];

                        if (pcr_bank_has(b, pcr))
                                printf("  %2u: %s\n", pcr, pcr_hex(b->values[pcr], b->digest_size, hex));
                }
        }
}

/* Config defaults, overridden by the command line. Returns an exit status, or -1 to go on. */
static int resolve_selection(const TpmArgs *a, const Config *c, uint32_t *ret_mask, uint16_t ret_banks[],
                             size_t *ret_n) {
        *ret_mask = c->pcr_mask;
        memcpy(ret_banks, c->banks, c->n_banks * sizeof c->banks[0]);
        *ret_n = c->n_banks;

        if (a->pcrs && (parse_pcr_list(a->pcrs, ret_mask) < 0 || *ret_mask == 0)) {
                log_error("Invalid --pcrs '%s': expected a list of PCR indices 0-23 such as 0-7,14.", a->pcrs);
                return CTL_EXIT_USAGE;
        }
        if (a->banks && parse_bank_list(a->banks, ret_banks, ret_n) < 0) {
                log_error("Invalid --banks '%s': expected distinct banks out of sha1, sha256, sha384, sha512, sm3_256.",
                          a->banks);
                return CTL_EXIT_USAGE;
        }
        return -1;
}

static int open_tpm(const char *tcti, TpmContext **ret) {
        _cleanup_free_ char *message = NULL;
        int r;

        r = tpm_context_new_full(tcti, ret, &message);
        if (r < 0) {
                log_error_errno(r, "Cannot use the TPM: %s", message ?: strerror(-r));
                return IN_SET(r, -ENOENT, -ENODEV, -EACCES, -ECONNREFUSED) ? CTL_EXIT_UNAVAILABLE : CTL_EXIT_FAILURE;
        }
        return -1;
}

static int do_pcrs(const TpmArgs *a, const Config *c) {
        _cleanup_(tpm_context_freep) TpmContext *t = NULL;
        _cleanup_(json_object_putp) struct json_object *o = NULL, *values = NULL;
        uint16_t banks[CONFIG_MAX_BANKS];
        uint32_t mask, counter;
        size_t n_banks;
        PcrSet set;
        int r;

        r = resolve_selection(a, c, &mask, banks, &n_banks);
        if (r >= 0)
                return r;
        r = open_tpm(a->tcti ?: c->tcti, &t);
        if (r >= 0)
                return r;

        r = tpm_pcr_read(t, mask, banks, n_banks, &set, &counter);
        if (r < 0) {
                log_error_errno(r, "Failed to read PCRs: %s", tpm_context_last_error(t));
                return CTL_EXIT_FAILURE;
        }

        if (!a->json) {
                printf("pcrUpdateCounter: %u\n", counter);
                pcrs_print_text(&set);
                return CTL_EXIT_OK;
        }

        o = json_object_new_object();
        if (!o || json_add(o, "pcrUpdateCounter", json_object_new_int64(counter)) < 0 ||
            eventlog_json_pcr_banks(&set, &values) < 0 || json_add(o, "pcrs", TAKE_PTR(values)) < 0 || ctl_print_json(o) < 0) {
                log_error("Failed to write the output.");
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

/* Writes NAME in the directory DFD (DIR, for messages) through a new temporary file renamed over
 * it: a symbolic or hard link planted under NAME is replaced, never followed or written through. */
static int write_file_at(int dfd, const char *dir, const char *name, const void *data, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[64];
        uint8_t rnd[8];
        size_t done = 0;

        if (getentropy(rnd, sizeof rnd) < 0)
                return log_error_errno(-errno, "Failed to get random bytes: %m");
        snprintf(tmp, sizeof tmp, ".%s.%02x%02x%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1], rnd[2], rnd[3],
                 rnd[4], rnd[5], rnd[6], rnd[7]);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(-errno, "Failed to create a file in %s: %m", dir);
        while (done < size) {
                ssize_t k = write(fd, (const uint8_t *) data + done, size - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        (void) unlinkat(dfd, tmp, 0);
                        return log_error_errno(k < 0 ? -errno : -EIO, "Failed to write %s/%s: %m", dir, name);
                }
                done += (size_t) k;
        }
        if (renameat(dfd, tmp, dfd, name) < 0) {
                int r = -errno;
                (void) unlinkat(dfd, tmp, 0);
                return log_error_errno(r, "Failed to create %s/%s: %m", dir, name);
        }
        return 0;
}

/* Creates DIR if needed and opens it; a symbolic link (even to a directory) is refused, so the
 * files cannot be redirected elsewhere by whoever can replace the path. */
static int open_output_dir(const char *dir) {
        int fd;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create %s: %m", dir);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                return fd;
        if (IN_SET(errno, ELOOP, ENOTDIR)) {
                /* Linux reports a symbolic link as ENOTDIR under O_DIRECTORY: tell the two apart. */
                struct stat st;
                bool link = lstat(dir, &st) >= 0 && S_ISLNK(st.st_mode);

                return log_error_errno(link ? -ELOOP : -ENOTDIR, "Refusing --output-dir %s: it is %s.", dir,
                                       link ? "a symbolic link" : "not a directory");
        }
        return log_error_errno(-errno, "Failed to open %s: %m", dir);
}

/* quote.bin (TPMS_ATTEST), sig.bin (TPMT_SIGNATURE), ak.pub (TPM2B_PUBLIC), ak.pub.pem, pcrs.bin
 * (tpm2_quote's default serialized format: tpm2_checkquote -f pcrs.bin, no -l needed) and
 * pcrs.values (the digests back to back in selection order, tpm2_quote -F values). */
static int write_quote_files(const char *dir, const TpmQuote *q, const TpmAk *ak) {
        _cleanup_free_ uint8_t *values = NULL;
        _cleanup_buffer_ Buffer serialized = {};
        _cleanup_free_ char *pem = NULL;
        _cleanup_close_ int dfd = -EBADF;
        size_t n = 0, pem_size = 0;
        FILE *f;
        int r;

        values = malloc(PCR_BANKS_MAX * PCR_COUNT * PCR_DIGEST_MAX);
        if (!values)
                return log_oom();
        for (size_t i = 0; i < q->pcrs.n_banks; i++)
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++)
                        if (pcr_bank_has(&q->pcrs.banks[i], pcr)) {
                                memcpy(values + n, q->pcrs.banks[i].values[pcr], q->pcrs.banks[i].digest_size);
                                n += q->pcrs.banks[i].digest_size;
                        }

        if (tpm_quote_export_pcrs(q, &serialized) < 0)
                return log_oom();

        f = open_memstream(&pem, &pem_size);
        if (!f)
                return log_oom();
        r = PEM_write_PUBKEY(f, tpm_ak_get_pkey(ak));
        if (fclose(f) != 0 || r != 1)
                return log_error_errno(-EIO, "Failed to encode the AK public key as PEM.");

        dfd = open_output_dir(dir);
        if (dfd < 0)
                return dfd;
        r = write_file_at(dfd, dir, "quote.bin", q->attest.data, q->attest.size);
        if (r >= 0)
                r = write_file_at(dfd, dir, "sig.bin", q->signature.data, q->signature.size);
        if (r >= 0)
                r = write_file_at(dfd, dir, "pcrs.bin", serialized.data, serialized.size);
        if (r >= 0)
                r = write_file_at(dfd, dir, "pcrs.values", values, n);
        if (r >= 0)
                r = write_file_at(dfd, dir, "ak.pub", tpm_ak_get_public(ak)->data, tpm_ak_get_public(ak)->size);
        if (r >= 0)
                r = write_file_at(dfd, dir, "ak.pub.pem", pem, pem_size);
        return r;
}

static int print_quote(const TpmQuote *q, const TpmAk *ak, const char *nonce_hex, bool json) {
        _cleanup_(json_object_putp) struct json_object *o = NULL, *jwk = NULL, *values = NULL;
        _cleanup_free_ char *quote = NULL, *sig = NULL;

        if (b64url_encode(q->attest.data, q->attest.size, &quote) < 0 ||
            b64url_encode(q->signature.data, q->signature.size, &sig) < 0)
                return log_oom();

        if (!json) {
                printf("nonce: %s\nquote: %s\nsignature: %s\nak: %s\npcrUpdateCounter: %u\n", nonce_hex, quote,
                       sig, tpm_ak_get_jwk(ak), q->pcr_update_counter);
                pcrs_print_text(&q->pcrs);
                return 0;
        }

        o = json_object_new_object();
        jwk = json_tokener_parse(tpm_ak_get_jwk(ak));
        if (!o || !jwk || json_add(o, "nonce", json_object_new_string(nonce_hex)) < 0 ||
            json_add(o, "quote", json_object_new_string(quote)) < 0 ||
            json_add(o, "signature", json_object_new_string(sig)) < 0 ||
            json_add(o, "ak_jwk", TAKE_PTR(jwk)) < 0 ||
            json_add(o, "pcrUpdateCounter", json_object_new_int64(q->pcr_update_counter)) < 0 ||
            eventlog_json_pcr_banks(&q->pcrs, &values) < 0 || json_add(o, "pcrs", TAKE_PTR(values)) < 0)
                return log_oom();
        return ctl_print_json(o);
}

static int do_quote(const TpmArgs *a, const Config *c) {
        _cleanup_(tpm_context_freep) TpmContext *t = NULL;
        _cleanup_(tpm_ak_freep) TpmAk *ak = NULL;
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        _cleanup_free_ void *nonce = NULL;
        uint16_t banks[CONFIG_MAX_BANKS];
        size_t n_banks, nonce_size = 0;
        uint32_t mask;
        int r;

        if (!a->nonce) {
                log_error("quote: --nonce HEX is required; see 'attestctl quote --help'.");
                return CTL_EXIT_USAGE;
        }
        if (hex_decode(a->nonce, strlen(a->nonce), &nonce, &nonce_size) < 0 ||
            nonce_size > TPM_QUALIFYING_DATA_MAX) {
                log_error("Invalid --nonce: expected at most %d bytes as hex digits.", TPM_QUALIFYING_DATA_MAX);
                return CTL_EXIT_USAGE;
        }
        r = resolve_selection(a, c, &mask, banks, &n_banks);
        if (r >= 0)
                return r;
        r = open_tpm(a->tcti ?: c->tcti, &t);
        if (r >= 0)
                return r;

        r = tpm_ak_load_or_create(t, c->ak_handle, c->ak_algorithm, &ak);
        if (r < 0) {
                log_error_errno(r, "Failed to get the attestation key at 0x%08x: %s", c->ak_handle,
                                tpm_context_last_error(t));
                return CTL_EXIT_FAILURE;
        }
        if (r > 0)
                log_info("Created the attestation key and persisted it at 0x%08x.", c->ak_handle);

        r = tpm_quote(t, ak, mask, banks, n_banks, nonce, nonce_size, &q);
        if (r < 0) {
                log_error_errno(r, "Quote failed: %s", tpm_context_last_error(t));
                return CTL_EXIT_FAILURE;
        }

        if (a->output_dir && write_quote_files(a->output_dir, &q, ak) < 0)
                return CTL_EXIT_FAILURE;
        if (print_quote(&q, ak, a->nonce, a->json) < 0)
                return CTL_EXIT_FAILURE;
        return CTL_EXIT_OK;
}

int help_pcrs(void) {
        printf("Usage: attestctl pcrs [--json] [--tcti T] [--banks LIST] [--pcrs LIST]\n\n"
               "Read PCR values and the pcrUpdateCounter from the TPM (not through attestd).\n"
               "Defaults come from the [TPM] section of the configuration.\n\n"
               "  -j, --json[=MODE]  JSON output (pretty, short, off)\n"
               "  -T, --tcti T       TCTI, e.g. device:/dev/tpmrm0 or swtpm:path=SOCKET (default: TCTI=,\n"
               "                     else $TPM2TOOLS_TCTI, else $TSS2_TCTI, else device:/dev/tpmrm0)\n"
               "  -b, --banks LIST   banks, e.g. sha1,sha256\n"
               "  -p, --pcrs LIST    PCRs, e.g. 0-7,14\n"
               "  -h, --help         this help\n");
        return CTL_EXIT_OK;
}

int help_quote(void) {
        printf("Usage: attestctl quote --nonce HEX [--pcrs LIST] [--banks LIST] [--json] [--tcti T]\n"
               "                      [--output-dir DIR]\n\n"
               "Quote the PCRs with the attestation key (creating and persisting it at the\n"
               "configured handle if it does not exist), check the quote locally and print it:\n"
               "TPMS_ATTEST and TPMT_SIGNATURE in base64url, the AK as a JWK, the PCR values.\n\n"
               "  -n, --nonce HEX       qualifying data, up to 64 bytes\n"
               "  -o, --output-dir DIR  also write quote.bin, sig.bin, pcrs.bin, pcrs.values, ak.pub\n"
               "                        and ak.pub.pem (for tpm2_checkquote)\n"
               "  -j, --json[=MODE]     JSON output (pretty, short, off)\n"
               "  -T, --tcti T          TCTI (default: TCTI=, else $TPM2TOOLS_TCTI or $TSS2_TCTI)\n"
               "  -b, --banks LIST      banks, e.g. sha256\n"
               "  -p, --pcrs LIST       PCRs, e.g. 0-7\n"
               "  -h, --help            this help\n");
        return CTL_EXIT_OK;
}

/* The TCTI: --tcti, else TCTI= when the configuration sets one, else the variables tpm2-tools users
 * already export, else the built-in default. A configured value equal to the default counts as
 * unset: the file cannot tell "TCTI=device:/dev/tpmrm0" from no TCTI= after loading. */
static const char *choose_tcti(const Config *c) {
        _cleanup_(config_freep) Config *d = NULL;
        const char *e;

        if (ctl_args.tcti)
                return ctl_args.tcti;
        if (config_new_default(&d) >= 0 && !streq(c->tcti, d->tcti))
                return c->tcti;
        if ((e = getenv("TPM2TOOLS_TCTI")) && *e)
                return e;
        if ((e = getenv("TSS2_TCTI")) && *e)
                return e;
        return c->tcti;
}

static int run(bool quote) {
        _cleanup_(config_freep) Config *c = NULL;
        TpmArgs a = {
                .pcrs = ctl_args.pcrs,
                .banks = ctl_args.banks,
                .nonce = ctl_args.nonce,
                .output_dir = ctl_args.output_dir,
                .json = ctl_args.json != CTL_JSON_OFF,
        };

        if (config_load(ctl_args.config, &c) < 0)
                return CTL_EXIT_FAILURE;
        a.tcti = choose_tcti(c);
        return quote ? do_quote(&a, c) : do_pcrs(&a, c);
}

int verb_pcrs(int argc, char **argv) {
        return run(false);
}

int verb_quote(int argc, char **argv) {
        return run(true);
}
