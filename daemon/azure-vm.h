/* SPDX-License-Identifier: MIT */
/* What attestd knows of an Azure VM without asking anyone: where its AK and certificate live, the
 * region -> shared attestation provider table, and the HCL report of a confidential VM. Pure. */
#pragma once

#include "azure-guest-msg.h"
#include "util.h"

#define AZURE_AK_HANDLE UINT32_C(0x81000003)
#define AZURE_AK_CERT_NV_INDEX UINT32_C(0x01C101D0)
#define AZURE_HCL_REPORT_NV_INDEX UINT32_C(0x01400001)
/* The issuer of the certificate Azure puts in NV before the real one is provisioned. */
#define AZURE_AK_CERT_PLACEHOLDER_CN "MICROSOFT AZURE TRUSTED VM RSA"
#define AZURE_AK_CERT_RENEW_DAYS 90
#define AZURE_REGION_MAX 64

/* Looks REGION up in TEXT, a table of lines "location<TAB>...<TAB>URL" (first column the location as
 * IMDS names it, last column an https:// URL; '#' starts a comment line), the format of
 * SharedProviders=. Returns 1 and a copy of the URL, 0 when the table does not name the region,
 * -EBADMSG (with the line number in *reterr_line) for a line of the wrong shape. */
int azure_region_table_lookup(const char *text, size_t size, const char *region, char **ret_url,
                              unsigned *reterr_line);

/* The shared provider of REGION as IMDS names it ("eastus"; "East US" is accepted too: case and
 * spaces are ignored), or NULL for a region not in the table. Borrowed. */
const char *azure_region_shared_provider(const char *region);

/* REGION made comparable (lower case, no spaces) into BUF; -EINVAL when it is empty, longer than
 * AZURE_REGION_MAX or holds anything but letters, digits and spaces (IMDS is plain HTTP). */
int azure_region_normalize(const char *region, char buf[static AZURE_REGION_MAX + 1]);

/* The parts of an HCL report (NV 0x01400001) a request needs. */
typedef struct AzureHclReport {
        AzureIsolation type;            /* AZURE_ISOLATION_SEV_SNP or AZURE_ISOLATION_TDX */
        Buffer hw_report;               /* SNP report (1184 bytes) or TDREPORT (1024 bytes) */
        Buffer claims;                  /* the runtime claims JSON, exactly as hashed */
} AzureHclReport;

void azure_hcl_report_done(AzureHclReport *r);

/* Parses an HCL report and checks that it binds the runtime claims (SHA-256 of the claims = the
 * first half of the hardware report's report data, the rest zero) and that the claims' HCLAkPub
 * is the AK whose JWK text (tpm_ak_get_jwk()) is AK_JWK. -EBADMSG with a reason naming what is
 * wrong, -EOPNOTSUPP for a report type other than SEV-SNP and TDX, -ENOMEM. */
int azure_hcl_report_parse(const uint8_t *data, size_t size, const char *ak_jwk, AzureHclReport *ret,
                           char **reterr_reason);
