/*
 * fuzz_syslog.c - libFuzzer target for the syslog reader (RFC 3164 and 5424): any bytes
 * must be read to the end without a crash, a leak or an endless loop.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_drain.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_drain(data, size, BN_FMT_SYSLOG);
    return 0;
}
