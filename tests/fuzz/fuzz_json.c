/*
 * fuzz_json.c - libFuzzer target for the NDJSON and concatenated-JSON readers: any bytes
 * must be read to the end without a crash, a leak or an endless loop; and the first line
 * parsed by bn_record_parse_ndjson (the agent's per-event path) must give what the NDJSON
 * reader gives for it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/fuzz_drain.h"
#include "fuzz/ndjson_same.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_drain(data, size, BN_FMT_NDJSON);
    fuzz_drain(data, size, BN_FMT_JSON);
    fuzz_drain(data, size, BN_FMT_JOURNAL);
    {
        const uint8_t *nl = memchr(data, '\n', size);

        if (ndjson_same((const char *)data, nl ? (size_t)(nl - data) : size))
            __builtin_trap();
    }
    return 0;
}
