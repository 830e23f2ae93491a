/*
 * test_hpack_huffman.c - the HPACK Huffman decoder (app_http2_hpack.c) decodes a symbol at a
 * time from a bit accumulator; a bit-by-bit reference decoder (the one it replaced) is the
 * oracle: strings encoded with the RFC 7541 code, with every padding length and with wrong
 * padding, random bytes (mostly invalid codes), EOS, and output buffers of every size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sensor/app_http2.h"

/* RFC 7541 appendix B: the code length of each symbol (256 = EOS); the code is canonical */
/* clang-format off */
static const uint8_t huff_len[257] = {
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6,  10, 10, 12, 13, 6,  8,  11, 10, 10, 8,  11, 8,  6,  6,  6,
    5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8,  15, 6,  12, 10, 13, 6,  7,  7,  7,  7,  7,  7,
    7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8,  13, 19, 13, 14, 6,
    15, 5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5,  6,  7,  6,  5,  5,  6,  7,  7,
    7,  7,  7,  15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
    23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
    21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
};
/* clang-format on */

static uint32_t first[31], code_of[257];
static uint16_t count[31], offset[31], sym[257];

static void
build(void)
{
    static bool built;
    uint32_t code = 0;
    uint16_t k = 0;
    if (built)
        return;
    built = true;
    for (unsigned len = 1; len <= 30; len++) {
        code <<= 1;
        first[len] = code;
        offset[len] = k;
        for (unsigned s = 0; s < 257; s++) {
            if (huff_len[s] == len) {
                code_of[s] = code + count[len];
                sym[k++] = (uint16_t)s;
                count[len]++;
            }
        }
        code += count[len];
    }
}

/* The decoder as it was: one bit at a time. */
static long
ref_decode(const uint8_t *in, size_t n, char *out, size_t osz)
{
    size_t o = 0;
    uint32_t code = 0;
    unsigned len = 0;
    bool ones = true;
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            unsigned bit = (in[i] >> b) & 1u;
            code = code << 1 | bit;
            len++;
            ones = ones && bit;
            if (len > 30)
                return -1;
            uint32_t idx = code - first[len];
            if (count[len] && code >= first[len] && idx < count[len]) {
                uint16_t s = sym[offset[len] + idx];
                if (s == 256)
                    return -1;
                if (o >= osz)
                    return -1;
                out[o++] = (char)s;
                code = 0;
                len = 0;
                ones = true;
            }
        }
    }
    if (len > 7 || !ones)
        return -1;
    return (long)o;
}

/* Encodes syms[0..k) (EOS allowed) and pads with pad_bits bits of pad_val; returns bytes. */
static size_t
encode(const uint16_t *syms, size_t k, unsigned pad_bits, uint32_t pad_val, uint8_t *out)
{
    uint64_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i <= k; i++) {
        uint32_t c = i < k ? code_of[syms[i]] : pad_val;
        unsigned l = i < k ? huff_len[syms[i]] : pad_bits;
        acc = acc << l | (c & ((1ull << l) - 1));
        bits += l;
        while (bits >= 8) {
            out[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits)
        out[o++] = (uint8_t)(acc << (8 - bits));
    return o;
}

static void
compare(const uint8_t *in, size_t n)
{
    char a[600], r[600];
    for (size_t osz = 0; osz <= sizeof(a); osz += osz < 40 ? 1 : 97) {
        memset(a, 0, sizeof(a));
        memset(r, 0, sizeof(r));
        long la = hpack_huffman_decode(in, n, a, osz);
        long lr = ref_decode(in, n, r, osz);
        assert_int_equal(la, lr);
        if (la > 0)
            assert_memory_equal(a, r, (size_t)la);
    }
}

static unsigned seed = 777;

static unsigned
rnd(void)
{
    seed = seed * 1103515245u + 12345u;
    return seed >> 16;
}

static void
test_encoded(void **state)
{
    (void)state;
    build();
    for (int it = 0; it < 3000; it++) {
        uint16_t syms[200];
        uint8_t buf[1200];
        size_t k = rnd() % 200;
        for (size_t i = 0; i < k; i++) {
            unsigned v = rnd();
            /* mostly printable ASCII, sometimes any byte, rarely EOS */
            syms[i] = (uint16_t)(v % 4 ? ' ' + v / 4 % 95 : v / 4 % 1000 ? v / 4 % 256 : 256);
        }
        unsigned pad = rnd() % 12; /* 8..11: too long */
        uint32_t val = rnd() % 5 ? 0xffffffffu : rnd();
        size_t n = encode(syms, k, pad, val, buf);
        compare(buf, n);
    }
}

static void
test_random_bytes(void **state)
{
    (void)state;
    build();
    for (int it = 0; it < 3000; it++) {
        uint8_t buf[64];
        size_t n = rnd() % sizeof(buf);
        unsigned mode = rnd() % 3;
        for (size_t i = 0; i < n; i++)
            buf[i] = mode == 0 ? (uint8_t)rnd() : mode == 1 ? (uint8_t)(0xff - rnd() % 4)
                                                            : (uint8_t)(rnd() % 2 ? 0xff : 0);
        compare(buf, n);
    }
    uint8_t ones[8];
    memset(ones, 0xff, sizeof(ones));
    for (size_t n = 0; n <= sizeof(ones); n++)
        compare(ones, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoded),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
