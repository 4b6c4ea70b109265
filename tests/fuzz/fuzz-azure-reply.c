/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for what AzureGuest reads from outside: the sealed reply (and its AES-GCM layer
 * with a fixed key), IMDS's THIM reply, the HCL report from NV, os-release and a region table. */
#include <stdint.h>

#include "azure-guest-msg.h"
#include "azure-vm.h"
#include "cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t key[32] = { 1 };
        static const char ak_jwk[] = "{\"kty\":\"RSA\",\"n\":\"AQID\",\"e\":\"AQAB\"}";
        _cleanup_(azure_sealed_done) AzureSealed sealed = {};
        _cleanup_(azure_hcl_report_done) AzureHclReport hcl = {};
        _cleanup_(azure_os_info_done) AzureOsInfo os = {};
        _cleanup_free_ char *reason = NULL, *jwt = NULL, *chain = NULL, *url = NULL;
        const char *text = (const char *) data;

        if (azure_guest_parse_reply(text, size, &sealed, &reason) >= 0)
                (void) azure_guest_unseal(&sealed, key, sealed.key_bits / 8, &jwt, NULL);
        reason = mfree(reason);
        (void) azure_thim_parse(text, size, &chain, &reason);
        reason = mfree(reason);
        (void) azure_hcl_report_parse(data, size, ak_jwk, &hcl, &reason);
        (void) azure_os_info_parse(text, size, &os);
        (void) azure_region_table_lookup(text, size, "eastus", &url, NULL);
        return 0;
}
