/* SPDX-License-Identifier: MIT */
/* Gathers one attestation's evidence from the TPM and the kernel's logs, and checks the log
 * replay against the quoted PCRs so an operator learns why a service would refuse it. */
#include "eventlog-source.h"
#include "eventlog.h"
#include "evidence.h"
#include "fileio.h"

void evidence_done(Evidence *e) {
        tpm_quote_done(&e->quote);
        buffer_done(&e->tcg_log);
        buffer_done(&e->ima_log);
        free(e->aik_jwk);
        buffer_done(&e->aik_cert);
        free(e->replay_mismatch);
        *e = (Evidence) {};
}

/* "PCR 5 (sha256): log replays to 1a2b…, TPM has 3c4d…; …" for the quoted PCRs the log extends. */
static int describe_mismatches(const PcrSet *replayed, const TpmQuote *q, char **ret) {
        _cleanup_free_ PcrMismatch *m = NULL;
        PcrSet quoted = q->pcrs;
        char *buf = NULL;
        size_t size = 0;
        int n;

        /* Only compare what was quoted. */
        for (size_t b = 0; b < quoted.n_banks; b++)
                quoted.banks[b].present_mask &= q->pcr_mask;
        n = pcr_set_compare(replayed, &quoted, &m);
        if (n <= 0) {
                *ret = NULL;
                return n;
        }

        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                char a[PCR_HEX_MAX], b[PCR_HEX_MAX];
                fprintf(f, "%sPCR %u (%s): log replays to %s, TPM has %s", i ? "; " : "", m[i].pcr,
                        tpm_alg_to_name(m[i].alg), pcr_hex(m[i].replayed, m[i].digest_size, a),
                        pcr_hex(m[i].read, m[i].digest_size, b));
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return n;
}

static int collect_tcg_log(const Config *config, const TpmQuote *q, Evidence *e, char **reterr_reason) {
        _cleanup_(eventlog_freep) EventLog *log = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;
        PcrSet replayed = {};
        int r;

        r = eventlog_source_path(config->event_log, &path);
        if (r < 0)
                return r;
        r = read_full_file(path, EVIDENCE_LOG_MAX, (char **) &e->tcg_log.data, &e->tcg_log.size);
        if (r == -ENOENT)
                return 0; /* no firmware log on this machine: the quote goes alone */
        if (r < 0)
                return asprintf(reterr_reason, "cannot read event log %s: %s", path,
                                strerror(-r)) < 0 ? -ENOMEM : r;

        r = eventlog_parse(e->tcg_log.data, e->tcg_log.size, &log, &err);
        if (r < 0)
                return asprintf(reterr_reason, "event log %s is malformed: %s", path,
                                strna(err)) < 0 ? -ENOMEM : -EBADMSG;
        r = eventlog_replay(log, &replayed);
        if (r < 0)
                return asprintf(reterr_reason, "cannot replay event log %s: %s", path,
                                strerror(-r)) < 0 ? -ENOMEM : r;
        r = describe_mismatches(&replayed, q, &e->replay_mismatch);
        return r < 0 ? r : 0;
}

int evidence_collect(TpmContext *tpm, const TpmAk *ak, const Config *config, const void *qualifying,
                     size_t qsize, Evidence *ret, char **reterr_reason) {
        _cleanup_(evidence_done) Evidence e = {};
        int r;

        r = tpm_quote(tpm, ak, config->pcr_mask, config->banks, config->n_banks, qualifying, qsize, &e.quote);
        if (r < 0)
                return asprintf(reterr_reason, "TPM quote failed: %s",
                                *tpm_context_last_error(tpm) ? tpm_context_last_error(tpm) : strerror(-r)) < 0 ?
                        -ENOMEM : r;

        r = collect_tcg_log(config, &e.quote, &e, reterr_reason);
        if (r < 0)
                return r;

        if (config->ima_log) {
                r = read_full_file(config->ima_log, EVIDENCE_LOG_MAX, (char **) &e.ima_log.data, &e.ima_log.size);
                if (r < 0)
                        return asprintf(reterr_reason, "cannot read IMA log %s: %s", config->ima_log,
                                        strerror(-r)) < 0 ? -ENOMEM : r;
        }

        e.aik_jwk = strdup(tpm_ak_get_jwk(ak));
        if (!e.aik_jwk)
                return -ENOMEM;
        r = tpm_ak_read_cert(tpm, config->ak_cert_nv_index, config->ak_cert_file, &e.aik_cert);
        if (r < 0)
                return asprintf(reterr_reason, "cannot read the AK certificate: %s", strerror(-r)) < 0 ?
                        -ENOMEM : r;

        *ret = e;
        e = (Evidence) {};
        return 0;
}
