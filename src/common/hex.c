/*
 * hex.c - hexadecimal text of bytes (hex.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "bannin/error.h"
#include "bannin/hex.h"

char *
bn_hex_encode(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

int
bn_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n, size_t *bad)
{
    if (slen != 2 * n) {
        if (bad)
            *bad = slen;
        return BN_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = bn_hexval((unsigned char)s[2 * i]), lo = bn_hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            if (bad)
                *bad = hi < 0 ? 2 * i : 2 * i + 1;
            return BN_EINVAL;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
