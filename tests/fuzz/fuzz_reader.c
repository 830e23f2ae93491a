/*
 * fuzz_reader.c - libFuzzer target for format detection and the gzip / zstd byte source: any bytes
 * must be read to the end without a crash, a leak or an endless loop.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_drain.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_drain(data, size, BN_FMT_AUTO);
    return 0;
}
