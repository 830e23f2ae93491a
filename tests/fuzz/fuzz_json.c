/*
 * fuzz_json.c - libFuzzer target for the NDJSON and concatenated-JSON readers: any bytes
 * must be read to the end without a crash, a leak or an endless loop.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_drain.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_drain(data, size, BN_FMT_NDJSON);
    fuzz_drain(data, size, BN_FMT_JSON);
    fuzz_drain(data, size, BN_FMT_JOURNAL);
    return 0;
}
