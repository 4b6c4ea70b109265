/* SPDX-License-Identifier: MIT */
/* PCR reads (past the TPM's eight-digests-per-call limit, consistent with one pcrUpdateCounter),
 * the counter-only read used for change polling, extends, and the quote with its local check. */
#include <assert.h>
#include <endian.h>

#include <tss2/tss2_mu.h>

#include "log.h"
#include "quote-verify.h"
#include "tpm-ak.h"
#include "tpm-internal.h"

/* How often a read or quote starts over because an extend came in between. */
#define TPM_PCR_READ_ATTEMPTS 4
#define TPM_QUOTE_ATTEMPTS 2

int tpm_pcr_selection(TpmContext *t, uint32_t mask, const uint16_t *banks, size_t n_banks,
                      TPML_PCR_SELECTION *ret) {
        TPML_PCR_SELECTION sel = {};

        if (mask == 0 || mask >> PCR_COUNT)
                return tpm_error(t, -EINVAL, "Invalid PCR selection mask 0x%x (PCRs 0-23, at least one).", mask);
        if (n_banks == 0 || n_banks > PCR_BANKS_MAX)
                return tpm_error(t, -EINVAL, "Invalid number of PCR banks (%zu).", n_banks);

        for (size_t i = 0; i < n_banks; i++) {
                if (tpm_alg_digest_size(banks[i]) == 0)
                        return tpm_error(t, -EINVAL, "Unknown PCR bank algorithm 0x%04x.", banks[i]);
                for (size_t j = 0; j < i; j++)
                        if (banks[j] == banks[i])
                                return tpm_error(t, -EINVAL, "PCR bank %s selected twice.",
                                                 tpm_alg_to_name(banks[i]));
                sel.pcrSelections[i] = (TPMS_PCR_SELECTION) {
                        .hash = banks[i],
                        .sizeofSelect = 3,
                        .pcrSelect = { mask & 0xFF, (mask >> 8) & 0xFF, (mask >> 16) & 0xFF },
                };
        }
        sel.count = (uint32_t) n_banks;

        *ret = sel;
        return 0;
}

static uint32_t selection_mask(const TPMS_PCR_SELECTION *s) {
        uint32_t mask = 0;

        for (unsigned j = 0; j < s->sizeofSelect && j < sizeof s->pcrSelect; j++)
                mask |= (uint32_t) s->pcrSelect[j] << (8 * j);
        return mask;
}

/* Stores the digests of one TPM2_PCR_Read answer and clears them from REMAINING (per bank, in
 * the order of BANKS). Returns the number of PCRs stored. */
static int pcr_read_consume(TpmContext *t, const TPML_PCR_SELECTION *out, const TPML_DIGEST *values,
                            const uint16_t *banks, size_t n_banks, uint32_t *remaining, PcrSet *set) {
        uint32_t k = 0;

        for (uint32_t i = 0; i < out->count && i < ELEMENTSOF(out->pcrSelections); i++) {
                const TPMS_PCR_SELECTION *s = &out->pcrSelections[i];
                uint32_t mask = selection_mask(s);
                size_t b;

                if (mask == 0)
                        continue;
                for (b = 0; b < n_banks && banks[b] != s->hash; b++)
                        ;
                if (b >= n_banks || (mask & ~remaining[b]))
                        return tpm_error(t, -EBADMSG,
                                         "TPM2_PCR_Read returned PCRs 0x%06x of bank 0x%04x, not asked for.",
                                         mask, s->hash);

                PcrBank *bank = pcr_bank_find(set, s->hash);
                assert(bank);
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        if (!(mask & (UINT32_C(1) << pcr)))
                                continue;
                        if (k >= values->count || k >= ELEMENTSOF(values->digests) ||
                            values->digests[k].size != bank->digest_size)
                                return tpm_error(t, -EBADMSG,
                                                 "TPM2_PCR_Read returned a short or mis-sized digest list.");
                        (void) pcr_bank_set(bank, pcr, values->digests[k].buffer, bank->digest_size);
                        k++;
                }
                remaining[b] &= ~mask;
        }

        if (k != values->count)
                return tpm_error(t, -EBADMSG, "TPM2_PCR_Read returned %u digests for %u selected PCRs.",
                                 values->count, k);
        return (int) k;
}

/* One pass over the whole selection. Returns 1 if the counter moved and the caller must retry. */
static int pcr_read_pass(TpmContext *t, uint32_t mask, const uint16_t *banks, size_t n_banks, PcrSet *set,
                         uint32_t *ret_counter) {
        uint32_t remaining[PCR_BANKS_MAX], counter = 0;
        bool first = true;
        int r;

        for (size_t b = 0; b < n_banks; b++) {
                r = pcr_set_add_bank(set, banks[b], NULL);
                if (r < 0)
                        return tpm_error(t, r, "Cannot hold PCR bank 0x%04x.", banks[b]);
                remaining[b] = mask;
        }

        for (;;) {
                _cleanup_esys_ TPML_PCR_SELECTION *out = NULL;
                _cleanup_esys_ TPML_DIGEST *values = NULL;
                TPML_PCR_SELECTION in = {};
                uint32_t c = 0;

                for (size_t b = 0; b < n_banks; b++)
                        if (remaining[b] != 0)
                                in.pcrSelections[in.count++] = (TPMS_PCR_SELECTION) {
                                        .hash = banks[b],
                                        .sizeofSelect = 3,
                                        .pcrSelect = { remaining[b] & 0xFF, (remaining[b] >> 8) & 0xFF,
                                                       (remaining[b] >> 16) & 0xFF },
                                };
                if (in.count == 0)
                        break;

                r = TPM_CALL(t, "TPM2_PCR_Read",
                             Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in, &c,
                                           &out, &values));
                if (r < 0)
                        return r;
                if (!first && c != counter)
                        return 1;
                first = false;
                counter = c;

                r = pcr_read_consume(t, out, values, banks, n_banks, remaining, set);
                if (r < 0)
                        return r;
                if (r == 0) {
                        /* The TPM answers an unallocated bank or unimplemented PCR with nothing. */
                        for (size_t b = 0; b < n_banks; b++)
                                if (remaining[b] != 0)
                                        return tpm_error(t, -EOPNOTSUPP,
                                                         "PCRs 0x%06x of bank %s are not available (bank not active?).",
                                                         remaining[b], tpm_alg_to_name(banks[b]));
                }
        }

        *ret_counter = counter;
        return 0;
}

int tpm_pcr_read(TpmContext *t, uint32_t mask, const uint16_t *banks, size_t n_banks, PcrSet *ret,
                 uint32_t *ret_update_counter) {
        TPML_PCR_SELECTION sel;
        int r;

        assert(t);
        assert(banks || n_banks == 0);
        assert(ret);

        r = tpm_pcr_selection(t, mask, banks, n_banks, &sel);
        if (r < 0)
                return r;

        for (unsigned attempt = 0; attempt < TPM_PCR_READ_ATTEMPTS; attempt++) {
                PcrSet set = {};
                uint32_t counter = 0;

                r = pcr_read_pass(t, mask, banks, n_banks, &set, &counter);
                if (r < 0)
                        return r;
                if (r > 0) {
                        log_debug("PCRs changed while reading them, reading again.");
                        continue;
                }

                *ret = set;
                if (ret_update_counter)
                        *ret_update_counter = counter;
                return 0;
        }

        return tpm_error(t, -EAGAIN, "PCRs kept changing during %u read attempts.", TPM_PCR_READ_ATTEMPTS);
}

int tpm_pcr_read_counter(TpmContext *t, uint32_t *ret_update_counter) {
        _cleanup_esys_ TPML_PCR_SELECTION *out = NULL;
        _cleanup_esys_ TPML_DIGEST *values = NULL;
        TPML_PCR_SELECTION none = {};
        uint32_t counter = 0;
        int r;

        assert(t);
        assert(ret_update_counter);

        r = TPM_CALL(t, "TPM2_PCR_Read",
                     Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &none, &counter,
                                   &out, &values));
        if (r < 0)
                return r;

        *ret_update_counter = counter;
        return 0;
}

int tpm_pcr_extend(TpmContext *t, unsigned pcr, uint16_t alg, const uint8_t *digest, size_t size) {
        TPML_DIGEST_VALUES d = { .count = 1, .digests[0].hashAlg = alg };
        size_t ds = tpm_alg_digest_size(alg);

        assert(t);
        assert(digest || size == 0);

        if (pcr >= PCR_COUNT)
                return tpm_error(t, -EINVAL, "PCR %u does not exist.", pcr);
        if (ds == 0 || ds > sizeof d.digests[0].digest || size != ds)
                return tpm_error(t, -EINVAL, "Digest of %zu bytes does not fit bank 0x%04x.", size, alg);
        memcpy(&d.digests[0].digest, digest, size);

        return TPM_CALL(t, "TPM2_PCR_Extend",
                        Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &d));
}

void tpm_quote_done(TpmQuote *q) {
        if (!q)
                return;
        buffer_done(&q->attest);
        buffer_done(&q->signature);
        *q = (TpmQuote) {};
}

/* A restricted key with a NULL scheme needs the scheme in the command. */
static TPMT_SIG_SCHEME quote_scheme(const TPMT_PUBLIC *pub) {
        if (pub->type == TPM2_ALG_RSA && pub->parameters.rsaDetail.scheme.scheme == TPM2_ALG_NULL)
                return (TPMT_SIG_SCHEME) { .scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256 };
        if (pub->type == TPM2_ALG_ECC && pub->parameters.eccDetail.scheme.scheme == TPM2_ALG_NULL)
                return (TPMT_SIG_SCHEME) { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
        return (TPMT_SIG_SCHEME) { .scheme = TPM2_ALG_NULL };
}

/* Opens the AK's persistent handle and makes sure it still holds the AK (same name). */
int tpm_ak_open(TpmContext *t, const TpmAk *ak, TpmHandle *h) {
        _cleanup_esys_ TPM2B_NAME *name = NULL;
        int r;

        r = TPM_CALL(t, "Esys_TR_FromTPMPublic(AK)",
                     Esys_TR_FromTPMPublic(t->esys, tpm_ak_get_handle(ak), ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, &h->tr));
        if (r < 0)
                return r;
        r = tpm_translate(t, Esys_TR_GetName(t->esys, h->tr, &name), "Esys_TR_GetName(AK)");
        if (r < 0)
                return r;
        if (!tpm_name_equal(name, tpm_ak_name(ak)))
                return tpm_error(t, -EKEYREJECTED, "Handle 0x%08x no longer holds the attestation key.",
                                 tpm_ak_get_handle(ak));
        return 0;
}

static int quote_once(TpmContext *t, ESYS_TR key, const TPMT_SIG_SCHEME *scheme, const TPM2B_DATA *qd,
                      const TPML_PCR_SELECTION *sel, TpmQuote *q) {
        _cleanup_esys_ TPM2B_ATTEST *quoted = NULL;
        _cleanup_esys_ TPMT_SIGNATURE *sig = NULL;
        uint8_t buf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;
        int r;

        r = TPM_CALL(t, "TPM2_Quote",
                     Esys_Quote(t->esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, qd, scheme, sel,
                                &quoted, &sig));
        if (r < 0)
                return r;

        r = tpm_translate(t, Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof buf, &off),
                          "Marshalling TPMT_SIGNATURE");
        if (r < 0)
                return r;

        buffer_done(&q->attest);
        buffer_done(&q->signature);
        q->attest.data = malloc(MAX(quoted->size, 1));
        q->signature.data = malloc(off);
        if (!q->attest.data || !q->signature.data)
                return -ENOMEM;
        memcpy(q->attest.data, quoted->attestationData, quoted->size);
        q->attest.size = quoted->size;
        memcpy(q->signature.data, buf, off);
        q->signature.size = off;
        return 0;
}

int tpm_quote(TpmContext *t, const TpmAk *ak, uint32_t mask, const uint16_t *banks, size_t n_banks,
              const void *qualifying, size_t qsize, TpmQuote *ret) {
        _cleanup_tpm_handle_ TpmHandle key = TPM_HANDLE_INIT(t, false);
        _cleanup_(tpm_quote_done) TpmQuote q = {};
        TPM2B_DATA qd = {};
        TPML_PCR_SELECTION sel;
        TPMT_SIG_SCHEME scheme;
        int r;

        assert(t);
        assert(ak);
        assert(ret);

        if (qsize > sizeof qd.buffer || (!qualifying && qsize > 0))
                return tpm_error(t, -EINVAL, "Qualifying data of %zu bytes is longer than %zu.", qsize,
                                 sizeof qd.buffer);
        r = tpm_pcr_selection(t, mask, banks, n_banks, &sel);
        if (r < 0)
                return r;
        if (qsize > 0)
                memcpy(qd.buffer, qualifying, qsize);
        qd.size = (UINT16) qsize;

        r = tpm_ak_open(t, ak, &key);
        if (r < 0)
                return r;
        scheme = quote_scheme(tpm_ak_public(ak));

        for (unsigned attempt = 1;; attempt++) {
                _cleanup_free_ char *msg = NULL;
                uint32_t before, after;

                r = tpm_pcr_read_counter(t, &before);
                if (r < 0)
                        return r;
                r = quote_once(t, key.tr, &scheme, &qd, &sel, &q);
                if (r < 0)
                        return r;
                q.pcrs = (PcrSet) {};
                r = tpm_pcr_read(t, mask, banks, n_banks, &q.pcrs, &after);
                if (r < 0)
                        return r;
                if (before != after) {
                        if (attempt < TPM_QUOTE_ATTEMPTS)
                                continue;
                        return tpm_error(t, -EAGAIN, "PCRs changed during the quote, twice.");
                }

                r = quote_verify(q.attest.data, q.attest.size, q.signature.data, q.signature.size,
                                 tpm_ak_get_pkey(ak), qualifying, qsize, &q.pcrs, NULL, &msg);
                /* PCRs 16-23 change without moving the counter: a stale digest can still be a race. */
                if (r == -ESTALE && attempt < TPM_QUOTE_ATTEMPTS)
                        continue;
                if (r < 0)
                        return tpm_error(t, r, "The TPM's quote does not verify: %s", strna(msg));

                q.pcr_update_counter = after;
                break;
        }

        q.pcr_mask = mask;
        memcpy(q.banks, banks, n_banks * sizeof banks[0]);
        q.n_banks = n_banks;
        *ret = q;
        q = (TpmQuote) {};
        return 0;
}

int tpm_quote_export_pcrs(const TpmQuote *q, Buffer *ret) {
        TPML_PCR_SELECTION sel = {};
        TPML_DIGEST groups[(PCR_BANKS_MAX * PCR_COUNT + 7) / 8] = {};
        uint32_t count = 0;
        uint8_t *p;

        assert(q);
        assert(ret);

        for (size_t i = 0; i < q->pcrs.n_banks; i++) {
                const PcrBank *b = &q->pcrs.banks[i];

                sel.pcrSelections[i] = (TPMS_PCR_SELECTION) {
                        .hash = htole16(b->alg),
                        .sizeofSelect = 3,
                        .pcrSelect = { b->present_mask & 0xFF, (b->present_mask >> 8) & 0xFF,
                                       (b->present_mask >> 16) & 0xFF },
                };
                for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
                        if (!pcr_bank_has(b, pcr))
                                continue;
                        TPML_DIGEST *g = &groups[count];
                        g->digests[g->count].size = htole16((uint16_t) b->digest_size);
                        memcpy(g->digests[g->count].buffer, b->values[pcr], b->digest_size);
                        if (++g->count == ELEMENTSOF(g->digests))
                                count++;
                }
        }
        if (count < ELEMENTSOF(groups) && groups[count].count > 0)
                count++;
        sel.count = htole32((uint32_t) q->pcrs.n_banks);

        size_t size = sizeof sel + sizeof count + count * sizeof groups[0];
        p = malloc(size);
        if (!p)
                return -ENOMEM;
        memcpy(p, &sel, sizeof sel);
        uint32_t le = htole32(count);
        memcpy(p + sizeof sel, &le, sizeof le);
        for (uint32_t i = 0; i < count; i++) {
                groups[i].count = htole32(groups[i].count);
                memcpy(p + sizeof sel + sizeof le + i * sizeof groups[0], &groups[i], sizeof groups[0]);
        }
        *ret = (Buffer) { .data = p, .size = size };
        return 0;
}
