/* SPDX-License-Identifier: MIT */
/* The messages of Azure's guest attestation (AZURE-GUEST.md §2, §4): the AttestationInfo request,
 * the sealed reply and its AES-GCM layer, /etc/os-release and the THIM VCEK reply. Pure: no I/O,
 * no TPM, no logging above debug. */
#pragma once

#include "pcrs.h"
#include "util.h"

#define AZURE_GUEST_API_VERSION "2020-10-01"
#define AZURE_GUEST_PROTOCOL_VERSION "2.0"
#define AZURE_GUEST_PCR_MASK UINT32_C(0xFF)     /* PCRs 0-7, SHA-256, as every Linux client */
#define AZURE_GUEST_AAD "Transport Key"         /* the additional data of the JWT's AES-GCM */
#define AZURE_GUEST_IV_SIZE 12
#define AZURE_GUEST_TAG_SIZE 16
#define AZURE_GUEST_INNER_KEY_SIZE 256          /* RSA-2048 ciphertext of the AES key */
#define AZURE_SNP_REPORT_SIZE 1184
#define AZURE_THIM_REPLY_MAX ((size_t) 64 * 1024)

typedef enum AzureIsolation {
        AZURE_ISOLATION_TRUSTED_LAUNCH,
        AZURE_ISOLATION_SEV_SNP,
        AZURE_ISOLATION_TDX,
        _AZURE_ISOLATION_MAX,
        _AZURE_ISOLATION_INVALID = -EINVAL,
} AzureIsolation;

/* "TrustedLaunch", "SevSnp", "Tdx": the request's IsolationInfo.Type. */
const char *azure_isolation_to_string(AzureIsolation i);

/* Everything the request carries, borrowed. Binary members are sent as standard base64. */
typedef struct AzureGuestRequest {
        const char *os_distro;          /* os-release NAME */
        unsigned os_major, os_minor;
        const Buffer *tcg_log;          /* may be empty */
        const char *nonce;              /* ClientPayload.nonce as sent (standard base64) */
        const Buffer *ak_cert;          /* DER */
        const Buffer *ak_pub;           /* marshalled TPM2B_PUBLIC */
        const Buffer *quote;            /* TPMS_ATTEST */
        const Buffer *quote_signature;  /* raw RSA signature bytes */
        uint32_t pcr_mask;
        const PcrBank *pcrs;            /* the SHA-256 bank, with every PCR of pcr_mask present */
        const Buffer *enc_key_pub;      /* marshalled TPM2B_PUBLIC */
        const Buffer *certify_info;     /* TPMS_ATTEST */
        const Buffer *certify_signature;
        AzureIsolation isolation;
        const Buffer *hw_report;        /* SEV-SNP report (1184 bytes) or TD quote; CVMs only */
        const char *vcek_chain;         /* PEM: VCEK then ASK and ARK; SEV-SNP only */
        const Buffer *runtime_claims;   /* the HCL report's claims JSON; CVMs only */
} AzureGuestRequest;

/* The HTTP body {"AttestationInfo": base64url-nopad(inner JSON)}. -EINVAL for an incomplete
 * request (a missing member, a PCR of the mask without a value), -ENOMEM. */
int azure_guest_build_request(const AzureGuestRequest *req, char **ret_body);

/* The sealed token, decoded. */
typedef struct AzureSealed {
        Buffer jwt;                     /* AES-GCM ciphertext of the compact JWT */
        Buffer inner_key;               /* RSAES-PKCS1-v1_5 ciphertext of the AES key (256 bytes) */
        Buffer iv;                      /* 12 bytes */
        Buffer tag;                     /* 16 bytes */
        unsigned key_bits;              /* 128, 192 or 256 */
} AzureSealed;

void azure_sealed_done(AzureSealed *s);

/* Parses the 200 reply {"token": base64url(envelope JSON)} and checks every envelope member:
 * Cipher "AES", BlockMode "ChainingModeGCM", KeySizeInBits 128/192/256, Iv 12 bytes,
 * AuthenticationData 16 bytes, EncryptedInnerKey 256 bytes, Jwt non-empty; all standard base64.
 * -EBADMSG with *reterr_reason naming the member at fault, -EMSGSIZE when the sealed token
 * would exceed JWT_SIZE_MAX, -ENOMEM. */
int azure_guest_parse_reply(const char *body, size_t size, AzureSealed *ret, char **reterr_reason);

/* AES-GCM-decrypts S's JWT with KEY (KEY_SIZE must be key_bits / 8) and the AAD "Transport Key".
 * -EBADMSG when the tag does not verify or the text is no JWT text (*reterr_reason says which),
 * -EINVAL for a key of the wrong size, -ENOMEM, -EIO. *ret_jwt is NUL-terminated. */
int azure_guest_unseal(const AzureSealed *s, const void *key, size_t key_size, char **ret_jwt,
                       char **reterr_reason);

/* NAME and VERSION_ID of an os-release text. The version's major and minor numbers default to 1
 * and 0 when absent or not numeric (the service refuses major 0); the name to "Linux". */
typedef struct AzureOsInfo {
        char *distro;
        unsigned major, minor;
} AzureOsInfo;

void azure_os_info_done(AzureOsInfo *o);
int azure_os_info_parse(const char *text, size_t size, AzureOsInfo *ret);

/* The VCEK chain from IMDS's THIM reply {"vcekCert": PEM, "certificateChain": PEM, ...}: vcekCert
 * followed by certificateChain. -EBADMSG (reason names the member), -ENOMEM. */
int azure_thim_parse(const char *body, size_t size, char **ret_chain, char **reterr_reason);
