/*
 * fuzz_ioc_stix.c - libFuzzer target for the STIX 2.1 bundle loader (JSON and the pattern
 * mini-language): any bytes load or fail with a diagnostic, without a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "bannin/ioc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_ioc_set *set = bn_ioc_set_new();
    if (!set)
        return 0;
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    int rc = bn_ioc_load_stix(set, (const char *)data, size, "fuzz.json", NULL,
                              1764000000000000000LL, &st, &d);
    if (rc == 0 && bn_ioc_count(set, BN_IOC_TYPES) != st.added)
        __builtin_trap();
    const char *p = (const char *)data;
    size_t n = size > 100 ? 100 : size;
    for (int t = 0; t < BN_IOC_TYPES; t++)
        (void)bn_ioc_match(set, t, p, n, NULL);
    bn_ioc_set_free(set);
    return 0;
}
