/*
 * fuzz_net_dtls.c - libFuzzer target for the DTLS parser of the network sensor: any bytes,
 * split into chunks of both directions with gaps (fuzz_net_app.h), must parse or be refused
 * and counted without reading out of bounds, leaking or hanging; every record must render.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_net_app.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_app_run(&net_app_dtls, data, size);
    return 0;
}
