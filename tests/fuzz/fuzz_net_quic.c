/*
 * fuzz_net_quic.c - libFuzzer target for the QUIC Initial parser of the network sensor
 * (seeds: real v1 and v2 Initials, so mutations of the header reach key derivation and
 * decryption): any datagrams of both directions must parse or be refused and counted without
 * reading out of bounds, leaking or hanging; every record must render.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_net_app.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_app_run(&net_app_quic, data, size);
    return 0;
}
