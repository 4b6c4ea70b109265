/* SPDX-License-Identifier: MIT */
/* The evidence of one attestation: a quote over the configured PCRs with the caller's qualifying
 * data, the PCR values, the firmware (and IMA) logs, the AK's public key and certificate, and a
 * local replay of the log against the quoted PCRs. Synchronous; no logging above debug. */
#pragma once

#include "config.h"
#include "tpm-ak.h"
#include "tpm.h"

#define EVIDENCE_LOG_MAX ((size_t) 16 * 1024 * 1024)

typedef struct Evidence {
        TpmQuote quote;
        Buffer tcg_log;                 /* raw firmware log; empty if the file is absent */
        Buffer ima_log;                 /* raw IMA log; empty when not configured */
        char *aik_jwk;                  /* the AK's JWK text */
        Buffer aik_cert;                /* DER; empty when there is none */
        char *replay_mismatch;          /* "PCR 5 (sha256): log replays to …, TPM has …; …" or NULL */
} Evidence;

void evidence_done(Evidence *e);

/* Quotes with QUALIFYING as extraData and gathers the rest. A missing firmware log is not an error
 * (some VMs have none); an unreadable or malformed one is (-EBADMSG with *reterr_reason naming the
 * file and offset). A replay that disagrees with the quoted PCRs is reported in replay_mismatch;
 * the evidence is still returned (the service has the last word, and some firmware logs need it). */
int evidence_collect(TpmContext *tpm, const TpmAk *ak, const Config *config, const void *qualifying,
                     size_t qsize, Evidence *ret, char **reterr_reason);
