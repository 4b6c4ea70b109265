/* SPDX-License-Identifier: MIT */
/* The region table and the HCL report (AZURE-GUEST.md §1.4, §6.1). The table picks a provider only
 * for a region it names: an unknown region is the operator's to decide, never a guess. */
#include <ctype.h>
#include <openssl/sha.h>

#include "azure-vm.h"
#include "b64.h"
#include "cleanup.h"
#include "jwt.h"

/* Azure's shared attestation providers by region (IMDS compute/location spelling), as Azure's own
 * guest attestation tools list them. */
static const struct {
        const char *region;
        const char *url;
} shared_providers[] = {
        { "australiacentral", "https://sharedcau.cau.attest.azure.net" },
        { "australiacentral2", "https://sharedcau2.cau2.attest.azure.net" },
        { "australiaeast", "https://sharedeau.eau.attest.azure.net" },
        { "australiasoutheast", "https://sharedsau.sau.attest.azure.net" },
        { "brazilsouth", "https://sharedsbr.sbr.attest.azure.net" },
        { "brazilsoutheast", "https://sharedsebr.sebr.attest.azure.net" },
        { "canadacentral", "https://sharedcac.cac.attest.azure.net" },
        { "canadaeast", "https://sharedcae.cae.attest.azure.net" },
        { "centralindia", "https://sharedcin.cin.attest.azure.net" },
        { "centralus", "https://sharedcus.cus.attest.azure.net" },
        { "centraluseuap", "https://sharedcuse.cuse.attest.azure.net" },
        { "eastasia", "https://sharedeasia.easia.attest.azure.net" },
        { "eastus", "https://sharedeus.eus.attest.azure.net" },
        { "eastus2", "https://sharedeus2.eus2.attest.azure.net" },
        { "eastus2euap", "https://sharedeus2e.eus2e.attest.azure.net" },
        { "francecentral", "https://sharedfrc.frc.attest.azure.net" },
        { "francesouth", "https://sharedfrs.frs.attest.azure.net" },
        { "germanynorth", "https://sharedden.den.attest.azure.net" },
        { "germanywestcentral", "https://shareddewc.dewc.attest.azure.net" },
        { "israelcentral", "https://sharedilc.ilc.attest.azure.net" },
        { "italynorth", "https://shareditn.itn.attest.azure.net" },
        { "japaneast", "https://sharedjpe.jpe.attest.azure.net" },
        { "japanwest", "https://sharedjpw.jpw.attest.azure.net" },
        { "jioindiacentral", "https://sharedjinc.jinc.attest.azure.net" },
        { "jioindiawest", "https://sharedjinw.jinw.attest.azure.net" },
        { "koreacentral", "https://sharedkrc.krc.attest.azure.net" },
        { "koreasouth", "https://sharedkrs.krs.attest.azure.net" },
        { "mexicocentral", "https://sharedmxc.mxc.attest.azure.net" },
        { "newzealandnorth", "https://sharednzn.nzn.attest.azure.net" },
        { "northcentralus", "https://sharedncus.ncus.attest.azure.net" },
        { "northeurope", "https://sharedneu.neu.attest.azure.net" },
        { "norwayeast", "https://sharednoe.noe.attest.azure.net" },
        { "norwaywest", "https://sharednow.now.attest.azure.net" },
        { "polandcentral", "https://sharedplc.plc.attest.azure.net" },
        { "southafricanorth", "https://sharedsan.san.attest.azure.net" },
        { "southafricawest", "https://sharedsaw.saw.attest.azure.net" },
        { "southcentralus", "https://sharedscus.scus.attest.azure.net" },
        { "southeastasia", "https://sharedsasia.sasia.attest.azure.net" },
        { "southindia", "https://sharedsin.sin.attest.azure.net" },
        { "spaincentral", "https://sharedesc.esc.attest.azure.net" },
        { "swedencentral", "https://sharedsec.sec.attest.azure.net" },
        { "swedensouth", "https://sharedses.ses.attest.azure.net" },
        { "switzerlandnorth", "https://sharedswn.swn.attest.azure.net" },
        { "switzerlandwest", "https://sharedsww.sww.attest.azure.net" },
        { "uaecentral", "https://shareduaec.uaec.attest.azure.net" },
        { "uaenorth", "https://shareduaen.uaen.attest.azure.net" },
        { "uksouth", "https://shareduks.uks.attest.azure.net" },
        { "ukwest", "https://sharedukw.ukw.attest.azure.net" },
        { "usgovarizona", "https://shareduga.uga.attest.azure.us" },
        { "usgovtexas", "https://shareduga.uga.attest.azure.us" },
        { "usgovvirginia", "https://sharedugv.ugv.attest.azure.us" },
        { "westcentralus", "https://sharedwcus.wcus.attest.azure.net" },
        { "westeurope", "https://sharedweu.weu.attest.azure.net" },
        { "westindia", "https://sharedwin.win.attest.azure.net" },
        { "westus", "https://sharedwus.wus.attest.azure.net" },
        { "westus2", "https://sharedwus2.wus2.attest.azure.net" },
        { "westus3", "https://sharedwus3.wus3.attest.azure.net" },
};

int azure_region_normalize(const char *region, char buf[static AZURE_REGION_MAX + 1]) {
        size_t n = 0;

        for (const char *p = region; *p; p++) {
                if (*p == ' ')
                        continue;
                if (!isascii(*p) || !isalnum(*p) || n >= AZURE_REGION_MAX)
                        return -EINVAL;
                buf[n++] = (char) tolower(*p);
        }
        buf[n] = '\0';
        return n > 0 ? 0 : -EINVAL;
}

const char *azure_region_shared_provider(const char *region) {
        char key[AZURE_REGION_MAX + 1];

        if (!region || azure_region_normalize(region, key) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(shared_providers); i++)
                if (streq(shared_providers[i].region, key))
                        return shared_providers[i].url;
        return NULL;
}

int azure_region_table_lookup(const char *text, size_t size, const char *region, char **ret_url,
                              unsigned *reterr_line) {
        char want[AZURE_REGION_MAX + 1];
        unsigned line = 0;

        if (azure_region_normalize(region, want) < 0)
                return 0;
        for (const char *p = text, *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *e = nl ?: end;
                const char *tab = memchr(p, '\t', (size_t) (e - p)), *url;
                char loc[AZURE_REGION_MAX + 1], name[AZURE_REGION_MAX + 1];
                size_t n = (size_t) (e - p);

                line++;
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                if (n == 0 || p[0] == '#') {
                        p = e + 1;
                        continue;
                }
                if (!tab || (size_t) (tab - p) > AZURE_REGION_MAX)
                        goto bad;
                memcpy(name, p, (size_t) (tab - p));
                name[tab - p] = '\0';
                url = (const char *) memrchr(p, '\t', n) + 1;
                if (azure_region_normalize(name, loc) < 0 || (size_t) (p + n - url) < strlen("https://x") ||
                    strncmp(url, "https://", 8) != 0 || memchr(url, ' ', (size_t) (p + n - url)))
                        goto bad;
                if (streq(loc, want)) {
                        *ret_url = strndup(url, (size_t) (p + n - url));
                        return *ret_url ? 1 : -ENOMEM;
                }
                p = e + 1;
        }
        return 0;
bad:
        if (reterr_line)
                *reterr_line = line;
        return -EBADMSG;
}

/* ---- HCL report ---- */

#define HCL_SIGNATURE 0x414C4348u       /* "HCLA" little-endian */
#define HCL_HW_REPORT_OFFSET 32
#define HCL_HW_REPORT_SLOT 1184
#define HCL_REPORT_TYPE_OFFSET 1224
#define HCL_CLAIMS_SIZE_OFFSET 1232
#define HCL_CLAIMS_OFFSET 1236
#define HCL_TYPE_SNP 2
#define HCL_TYPE_TDX 4
#define SNP_REPORT_DATA_OFFSET 0x50
#define TDX_REPORT_SIZE 1024
#define TDX_REPORT_DATA_OFFSET 128

void azure_hcl_report_done(AzureHclReport *r) {
        buffer_done(&r->hw_report);
        buffer_done(&r->claims);
        *r = (AzureHclReport) {};
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* Member NAME of JWK object O, base64url-decoded, leading zero bytes dropped (so "AQAB" and an
 * exponent with padding compare equal). */
static int jwk_number(json_object *o, const char *what, const char *name, Buffer *ret, char **reterr_reason) {
        const char *s;
        size_t skip = 0;
        int r;

        r = jwt_json_get_string(o, what, name, &s, reterr_reason);
        if (r < 0)
                return r;
        if (!s)
                return jwt_fail(reterr_reason, -EBADMSG, "%s has no \"%s\"", what, name);
        r = b64url_decode(s, strlen(s), (void **) &ret->data, &ret->size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return jwt_fail(reterr_reason, -EBADMSG, "%s \"%s\" is not base64url", what, name);
        while (skip < ret->size && ret->data[skip] == 0)
                skip++;
        memmove(ret->data, ret->data + skip, ret->size - skip);
        ret->size -= skip;
        return 0;
}

static int jwk_same_key(json_object *a, json_object *b, char **reterr_reason) {
        _cleanup_(buffer_done) Buffer an = {}, ae = {}, bn = {}, be = {};
        int r;

        r = jwk_number(a, "HCLAkPub", "n", &an, reterr_reason);
        if (r >= 0)
                r = jwk_number(a, "HCLAkPub", "e", &ae, reterr_reason);
        if (r >= 0)
                r = jwk_number(b, "AK", "n", &bn, reterr_reason);
        if (r >= 0)
                r = jwk_number(b, "AK", "e", &be, reterr_reason);
        if (r < 0)
                return r;
        if (an.size != bn.size || memcmp(an.data, bn.data, an.size) != 0 || ae.size != be.size ||
            memcmp(ae.data, be.data, ae.size) != 0)
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL report's HCLAkPub is not the AK at 0x%08x",
                                AZURE_AK_HANDLE);
        return 0;
}

static int check_ak_claim(const Buffer *claims, const char *ak_jwk, char **reterr_reason) {
        _cleanup_(json_object_putp) json_object *c = NULL, *ak = NULL;
        json_object *keys;
        int r;

        r = jwt_json_parse_object((const char *) claims->data, claims->size, "HCL runtime claims", &c, reterr_reason);
        if (r < 0)
                return r;
        r = jwt_json_parse_object(ak_jwk, strlen(ak_jwk), "AK JWK", &ak, reterr_reason);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(c, "keys", &keys) || !json_object_is_type(keys, json_type_array))
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL runtime claims have no keys array");
        for (size_t i = 0; i < json_object_array_length(keys); i++) {
                json_object *k = json_object_array_get_idx(keys, i), *kid;
                if (json_object_is_type(k, json_type_object) && json_object_object_get_ex(k, "kid", &kid) &&
                    json_object_is_type(kid, json_type_string) && streq(json_object_get_string(kid), "HCLAkPub"))
                        return jwk_same_key(k, ak, reterr_reason);
        }
        return jwt_fail(reterr_reason, -EBADMSG, "the HCL runtime claims have no HCLAkPub key");
}

int azure_hcl_report_parse(const uint8_t *data, size_t size, const char *ak_jwk, AzureHclReport *ret,
                           char **reterr_reason) {
        _cleanup_(azure_hcl_report_done) AzureHclReport h = {};
        uint8_t digest[SHA256_DIGEST_LENGTH];
        const uint8_t *report_data;
        uint32_t type, n;
        int r;

        if (size < HCL_CLAIMS_OFFSET)
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL report has %zu bytes, fewer than its header's %d",
                                size, HCL_CLAIMS_OFFSET);
        if (le32(data) != HCL_SIGNATURE)
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL report does not start with \"HCLA\"");
        type = le32(data + HCL_REPORT_TYPE_OFFSET);
        n = le32(data + HCL_CLAIMS_SIZE_OFFSET);
        if (n == 0 || n > size - HCL_CLAIMS_OFFSET)
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL report's claims size %" PRIu32 " does not fit "
                                "its %zu bytes", n, size);

        const uint8_t *hw = data + HCL_HW_REPORT_OFFSET;
        switch (type) {
        case HCL_TYPE_SNP:
                h.type = AZURE_ISOLATION_SEV_SNP;
                h.hw_report.size = AZURE_SNP_REPORT_SIZE;
                report_data = hw + SNP_REPORT_DATA_OFFSET;
                break;
        case HCL_TYPE_TDX:
                h.type = AZURE_ISOLATION_TDX;
                h.hw_report.size = TDX_REPORT_SIZE;
                report_data = hw + TDX_REPORT_DATA_OFFSET;
                break;
        default:
                return jwt_fail(reterr_reason, -EOPNOTSUPP, "the HCL report's type %" PRIu32 " is neither "
                                "SEV-SNP (2) nor TDX (4)", type);
        }

        /* The hardware report vouches for the claims only through this hash. */
        SHA256(data + HCL_CLAIMS_OFFSET, n, digest);
        if (memcmp(report_data, digest, sizeof digest) != 0)
                return jwt_fail(reterr_reason, -EBADMSG, "the HCL report's claims do not hash to its report data");
        for (size_t i = sizeof digest; i < 64; i++)
                if (report_data[i] != 0)
                        return jwt_fail(reterr_reason, -EBADMSG, "the HCL report's report data has a non-zero second half");

        h.claims.data = malloc(n + 1);
        h.hw_report.data = malloc(h.hw_report.size);
        if (!h.claims.data || !h.hw_report.data)
                return -ENOMEM;
        memcpy(h.claims.data, data + HCL_CLAIMS_OFFSET, n);
        h.claims.data[n] = 0;
        h.claims.size = n;
        memcpy(h.hw_report.data, hw, h.hw_report.size);

        r = check_ak_claim(&h.claims, ak_jwk, reterr_reason);
        if (r < 0)
                return r;
        *ret = h;
        h = (AzureHclReport) {};
        return 0;
}
