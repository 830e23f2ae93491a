/*
 * fuzz_net_dns.c - libFuzzer target for the DNS parser of the network sensor (the first
 * byte's low bit picks DNS over TCP with its length framing, else UDP): any bytes,
 * split into chunks of both directions with gaps (fuzz_net_app.h), must parse or be refused
 * and counted without reading out of bounds, leaking or hanging; every record must render.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_net_app.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    fuzz_app_run((data[0] & 1) ? &net_app_dns_tcp : &net_app_dns_udp, data + 1, size - 1);
    return 0;
}
