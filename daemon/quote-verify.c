/* SPDX-License-Identifier: MIT */
/* Checks a TPM2_Quote the way a verifier would, before attestd sends it anywhere: structure, nonce,
 * signature, and the PCR digest against the values read. No TPM access, no state. */
#include <assert.h>
#include <stdarg.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "cleanup.h"
#include "log.h"
#include "quote-verify.h"

/* The TSS marshalling library prints every rejected field to stderr unless told otherwise; we
 * report the failure ourselves. An explicit TSS2_LOG from the user still wins. */
static void tss2_log_quiet(void) {
        static bool done = false;

        if (!done)
                (void) setenv("TSS2_LOG", "all+none", 0);
        done = true;
}

static int fail(char **reterr_message, int error, const char *format, ...) _printf_(3, 4);
static int fail(char **reterr_message, int error, const char *format, ...) {
        char *m = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);

        log_debug("Quote verification failed: %s", m ?: format);
        if (reterr_message)
                *reterr_message = m;
        else
                free(m);
        return error;
}

static const char *md_name(uint16_t alg) {
        switch (alg) {
        case TPM2_ALG_SHA1:
                return "SHA1";
        case TPM2_ALG_SHA256:
                return "SHA256";
        case TPM2_ALG_SHA384:
                return "SHA384";
        case TPM2_ALG_SHA512:
                return "SHA512";
        default:
                return NULL;
        }
}

static int rsa_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret) {
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        uint32_t exponent = pub->parameters.rsaDetail.exponent ?: 65537;
        EVP_PKEY *pkey = NULL;

        if (pub->unique.rsa.size == 0 || pub->unique.rsa.size > sizeof pub->unique.rsa.buffer ||
            pub->unique.rsa.size * 8 != pub->parameters.rsaDetail.keyBits)
                return -EBADMSG;

        n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL);
        e = BN_new();
        bld = OSSL_PARAM_BLD_new();
        if (!n || !e || !bld || !BN_set_word(e, exponent) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
            !(params = OSSL_PARAM_BLD_to_param(bld)))
                return -ENOMEM;

        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx)
                return -ENOMEM;
        if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                ERR_clear_error();
                return -EIO;
        }
        *ret = pkey;
        return 0;
}

static int ecc_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret) {
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        const TPMS_ECC_POINT *p = &pub->unique.ecc;
        uint8_t point[1 + 2 * 66] = { 0x04 };   /* uncompressed point, P-521 at most */
        const char *group;
        size_t field;

        switch (pub->parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256:
                group = "prime256v1", field = 32;
                break;
        case TPM2_ECC_NIST_P384:
                group = "secp384r1", field = 48;
                break;
        case TPM2_ECC_NIST_P521:
                group = "secp521r1", field = 66;
                break;
        default:
                return -EOPNOTSUPP;
        }
        if (p->x.size == 0 || p->x.size > field || p->y.size == 0 || p->y.size > field)
                return -EBADMSG;

        /* The TPM may drop leading zero bytes; the octet string needs full-width coordinates. */
        memcpy(point + 1 + field - p->x.size, p->x.buffer, p->x.size);
        memcpy(point + 1 + 2 * field - p->y.size, p->y.buffer, p->y.size);

        bld = OSSL_PARAM_BLD_new();
        if (!bld ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field) ||
            !(params = OSSL_PARAM_BLD_to_param(bld)))
                return -ENOMEM;

        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!ctx)
                return -ENOMEM;
        EVP_PKEY *pkey = NULL;
        if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                /* Also the answer for a point that is not on the curve. */
                ERR_clear_error();
                return -EBADMSG;
        }
        *ret = pkey;
        return 0;
}

int quote_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **ret) {
        assert(pub);
        assert(ret);

        switch (pub->type) {
        case TPM2_ALG_RSA:
                return rsa_to_pkey(pub, ret);
        case TPM2_ALG_ECC:
                return ecc_to_pkey(pub, ret);
        default:
                return -EOPNOTSUPP;
        }
}

int quote_public_from_blob(const uint8_t *blob, size_t size, TPMT_PUBLIC *ret_public, EVP_PKEY **ret_pkey) {
        TPM2B_PUBLIC pub = {};
        size_t offset = 0;
        int r;

        assert(blob || size == 0);

        tss2_log_quiet();
        if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, size, &offset, &pub) != TSS2_RC_SUCCESS)
                return log_debug_errno(-EBADMSG, "Malformed TPM2B_PUBLIC (%zu bytes).", size);
        if (offset != size)
                return log_debug_errno(-EBADMSG, "TPM2B_PUBLIC followed by %zu trailing bytes.",
                                       size - offset);

        if (ret_pkey) {
                r = quote_public_to_pkey(&pub.publicArea, ret_pkey);
                if (r < 0)
                        return log_debug_errno(r, "Unusable public key in TPM2B_PUBLIC: %s", strerror(-r));
        }
        if (ret_public)
                *ret_public = pub.publicArea;
        return 0;
}

/* The signature as OpenSSL wants it: the raw RSA signature, or a DER ECDSA-Sig-Value. */
static int signature_bytes(const TPMT_SIGNATURE *s, uint8_t **ret, size_t *ret_size, uint16_t *ret_hash) {
        switch (s->sigAlg) {
        case TPM2_ALG_RSASSA:
        case TPM2_ALG_RSAPSS: {
                size_t n = s->signature.rsassa.sig.size;
                uint8_t *b = malloc(MAX(n, 1u));
                if (!b)
                        return -ENOMEM;
                memcpy(b, s->signature.rsassa.sig.buffer, n);
                *ret = b;
                *ret_size = n;
                *ret_hash = s->signature.rsassa.hash;
                return 0;
        }
        case TPM2_ALG_ECDSA: {
                _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *es = ECDSA_SIG_new();
                const TPMS_SIGNATURE_ECC *e = &s->signature.ecdsa;
                BIGNUM *r = BN_bin2bn(e->signatureR.buffer, e->signatureR.size, NULL);
                BIGNUM *sv = BN_bin2bn(e->signatureS.buffer, e->signatureS.size, NULL);
                if (!es || !r || !sv || !ECDSA_SIG_set0(es, r, sv)) {
                        BN_free(r);
                        BN_free(sv);
                        return -ENOMEM;
                }
                unsigned char *der = NULL;
                int n = i2d_ECDSA_SIG(es, &der);
                if (n <= 0)
                        return -ENOMEM;
                *ret = der;
                *ret_size = (size_t) n;
                *ret_hash = e->hash;
                return 0;
        }
        default:
                return -EOPNOTSUPP;
        }
}

static int verify_signature(const uint8_t *attest, size_t attest_size, const TPMT_SIGNATURE *s,
                            EVP_PKEY *key, uint16_t *ret_hash, char **reterr_message) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = NULL;
        _cleanup_free_ uint8_t *bytes = NULL;
        EVP_PKEY_CTX *pctx = NULL;      /* owned by md */
        uint16_t hash = 0;
        size_t size = 0;
        int r;

        bool rsa = s->sigAlg == TPM2_ALG_RSASSA || s->sigAlg == TPM2_ALG_RSAPSS;
        int key_id = EVP_PKEY_get_base_id(key);
        if ((rsa && key_id != EVP_PKEY_RSA) || (s->sigAlg == TPM2_ALG_ECDSA && key_id != EVP_PKEY_EC))
                return fail(reterr_message, -EKEYREJECTED,
                            "signature algorithm 0x%04x does not match the AK's key type", s->sigAlg);

        r = signature_bytes(s, &bytes, &size, &hash);
        if (r == -EOPNOTSUPP)
                return fail(reterr_message, r, "unsupported signature algorithm 0x%04x", s->sigAlg);
        if (r < 0)
                return r;

        const char *name = md_name(hash);
        if (!name)
                return fail(reterr_message, -EOPNOTSUPP, "unsupported signature hash algorithm 0x%04x", hash);

        md = EVP_MD_CTX_new();
        if (!md)
                return -ENOMEM;
        if (EVP_DigestVerifyInit_ex(md, &pctx, name, NULL, NULL, key, NULL) <= 0 ||
            (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, s->sigAlg == TPM2_ALG_RSAPSS ?
                                                 RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) <= 0) ||
            (s->sigAlg == TPM2_ALG_RSAPSS &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) <= 0)) {
                ERR_clear_error();
                return fail(reterr_message, -EKEYREJECTED, "the AK cannot verify %s signatures", name);
        }

        r = EVP_DigestVerify(md, bytes, size, attest, attest_size);
        ERR_clear_error();
        if (r != 1)
                return fail(reterr_message, -EKEYREJECTED,
                            "the signature (%s) does not verify with the AK", name);

        *ret_hash = hash;
        return 0;
}

/* The quote's selection must name exactly the PCRs PCRS has (no more, no fewer). */
static int check_selection(const TPML_PCR_SELECTION *sel, const PcrSet *pcrs, char **reterr_message) {
        for (uint32_t i = 0; i < sel->count; i++) {
                const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
                uint32_t mask = 0;

                for (unsigned j = 0; j < s->sizeofSelect; j++)
                        mask |= (uint32_t) s->pcrSelect[j] << (8 * j);
                if (s->sizeofSelect > 3 && s->pcrSelect[3] != 0)
                        return fail(reterr_message, -EBADMSG,
                                    "quote selects PCRs above 23 in bank 0x%04x", s->hash);
                for (uint32_t k = 0; k < i; k++)
                        if (sel->pcrSelections[k].hash == s->hash)
                                return fail(reterr_message, -EBADMSG,
                                            "quote selects bank 0x%04x twice", s->hash);

                const PcrBank *b = pcr_bank_find_const(pcrs, s->hash);
                if (!b && mask != 0)
                        return fail(reterr_message, -ENODATA,
                                    "quote covers bank %s, but no values were given for it",
                                    strna(tpm_alg_to_name(s->hash)));
                if (b && b->present_mask != mask)
                        return fail(reterr_message, -ENODATA,
                                    "quote selects PCR mask 0x%06x in bank %s, values are for 0x%06x",
                                    mask, strna(tpm_alg_to_name(s->hash)), b->present_mask);
        }

        for (size_t i = 0; i < pcrs->n_banks; i++) {
                const PcrBank *b = &pcrs->banks[i];
                bool found = false;

                for (uint32_t k = 0; k < sel->count; k++)
                        found = found || sel->pcrSelections[k].hash == b->alg;
                if (!found && b->present_mask != 0)
                        return fail(reterr_message, -ENODATA,
                                    "values given for bank %s, which the quote does not cover",
                                    strna(tpm_alg_to_name(b->alg)));
        }
        return 0;
}

/* H(PCR values in selection order), H being the signature's hash. */
static int check_pcr_digest(const TPMS_QUOTE_INFO *q, const PcrSet *pcrs, uint16_t hash,
                            char **reterr_message) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned size = 0;

        if (!md)
                return -ENOMEM;
        if (EVP_DigestInit_ex2(md, EVP_get_digestbyname(md_name(hash)), NULL) <= 0) {
                ERR_clear_error();
                return fail(reterr_message, -EOPNOTSUPP, "no hash for algorithm 0x%04x", hash);
        }

        for (uint32_t i = 0; i < q->pcrSelect.count; i++) {
                const TPMS_PCR_SELECTION *s = &q->pcrSelect.pcrSelections[i];
                const PcrBank *b = pcr_bank_find_const(pcrs, s->hash);

                for (unsigned pcr = 0; pcr < 8u * MIN(s->sizeofSelect, 3); pcr++) {
                        if (!(s->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
                                continue;
                        assert(b); /* check_selection() made sure */
                        if (EVP_DigestUpdate(md, b->values[pcr], b->digest_size) <= 0)
                                return -ENOMEM;
                }
        }
        if (EVP_DigestFinal_ex(md, digest, &size) <= 0)
                return -ENOMEM;

        if (size != q->pcrDigest.size || memcmp(digest, q->pcrDigest.buffer, size) != 0)
                return fail(reterr_message, -ESTALE,
                            "pcrDigest in the quote does not match the PCR values (%s over the selection)",
                            md_name(hash));
        return 0;
}

/* TPMS_ATTEST: well-formed, nothing trailing, a quote, with QUALIFYING as extraData. */
static int parse_attest(const uint8_t *attest, size_t size, const void *qualifying, size_t qsize,
                        TPMS_ATTEST *ret, char **reterr_message) {
        size_t offset = 0;

        if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest, size, &offset, ret) != TSS2_RC_SUCCESS)
                return fail(reterr_message, -EBADMSG, "malformed TPMS_ATTEST (%zu bytes), stopped at offset %zu",
                            size, offset);
        if (offset != size)
                return fail(reterr_message, -EBADMSG, "TPMS_ATTEST followed by %zu trailing bytes at offset %zu",
                            size - offset, offset);
        if (ret->magic != TPM2_GENERATED_VALUE)
                return fail(reterr_message, -EBADMSG, "TPMS_ATTEST magic is 0x%08x, not 0x%08x (offset 0)",
                            ret->magic, TPM2_GENERATED_VALUE);
        if (ret->type != TPM2_ST_ATTEST_QUOTE)
                return fail(reterr_message, -EBADMSG, "TPMS_ATTEST type is 0x%04x, not a quote (0x%04x, offset 4)",
                            ret->type, TPM2_ST_ATTEST_QUOTE);
        if (ret->extraData.size != qsize || memcmp(ret->extraData.buffer, qualifying ?: "", qsize) != 0)
                return fail(reterr_message, -EBADE,
                            "extraData (%u bytes) differs from the qualifying data (%zu bytes)",
                            ret->extraData.size, qsize);
        return 0;
}

static int parse_signature(const uint8_t *sig, size_t size, TPMT_SIGNATURE *ret, char **reterr_message) {
        size_t offset = 0;

        if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, size, &offset, ret) != TSS2_RC_SUCCESS)
                return fail(reterr_message, -EBADMSG, "malformed TPMT_SIGNATURE (%zu bytes), stopped at offset %zu",
                            size, offset);
        if (offset != size)
                return fail(reterr_message, -EBADMSG, "TPMT_SIGNATURE followed by %zu trailing bytes", size - offset);
        return 0;
}

int quote_verify(const uint8_t *attest, size_t attest_size, const uint8_t *sig, size_t sig_size,
                 EVP_PKEY *key, const void *qualifying, size_t qsize, const PcrSet *pcrs,
                 QuoteInfo *ret_info, char **reterr_message) {
        TPMS_ATTEST a = {};
        TPMT_SIGNATURE s = {};
        uint16_t hash = 0;
        int r;

        assert(attest || attest_size == 0);
        assert(sig || sig_size == 0);
        assert(key);
        assert(qualifying || qsize == 0);
        assert(pcrs);

        tss2_log_quiet();
        r = parse_attest(attest, attest_size, qualifying, qsize, &a, reterr_message);
        if (r < 0)
                return r;
        r = parse_signature(sig, sig_size, &s, reterr_message);
        if (r < 0)
                return r;

        r = verify_signature(attest, attest_size, &s, key, &hash, reterr_message);
        if (r < 0)
                return r;
        r = check_selection(&a.attested.quote.pcrSelect, pcrs, reterr_message);
        if (r < 0)
                return r;
        r = check_pcr_digest(&a.attested.quote, pcrs, hash, reterr_message);
        if (r < 0)
                return r;

        if (ret_info)
                *ret_info = (QuoteInfo) {
                        .clock = a.clockInfo.clock,
                        .reset_count = a.clockInfo.resetCount,
                        .restart_count = a.clockInfo.restartCount,
                        .safe = a.clockInfo.safe == TPM2_YES,
                        .firmware_version = a.firmwareVersion,
                        .sig_hash_alg = hash,
                };
        return 0;
}
