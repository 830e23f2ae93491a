/*
 * test_eve_numbers.c - the two small writers under every eve record (src/sensor/app.h, bannin/buf.h):
 * bn_u64_dec (decimal digits two at a time from a table) must give snprintf's "%llu" for
 * every value around each power of ten and for random ones, and net_copy_short (overlapping
 * loads for up to 16 bytes) must copy exactly n bytes for every n up to 40, at every offset,
 * touching nothing before or after; net_ip4_dotted (a table of each byte's digits) must give
 * inet_ntop's dotted quad for every byte value in every position, in a 16-byte buffer.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sensor/app.h"

static void
check_dec(uint64_t v)
{
    char tmp[24], want[32];
    size_t i = bn_u64_dec(tmp, v);
    int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    assert_int_equal(sizeof(tmp) - i, (size_t)n);
    assert_memory_equal(tmp + i, want, (size_t)n);
}

static void
test_dec(void **st)
{
    (void)st;
    uint64_t p = 1;
    check_dec(0);
    check_dec(UINT64_MAX);
    for (int k = 0; k < 20; k++, p *= 10) {
        for (uint64_t d = 0; d < 3; d++) {
            check_dec(p + d);
            if (p > d)
                check_dec(p - 1 - d);
        }
    }
    for (uint64_t v = 0; v < 20000; v++)
        check_dec(v);
    srand(6);
    for (int i = 0; i < 200000; i++) {
        uint64_t v = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
        check_dec(v >> (rand() % 64));
    }
}

static void
test_copy_short(void **st)
{
    (void)st;
    char src[64], dst[64], want[64];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('a' + i % 26);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 40; n++) {
            memset(dst, '#', sizeof(dst));
            memset(want, '#', sizeof(want));
            memcpy(want + off, src + off, n);
            net_copy_short(dst + off, src + off, n);
            assert_memory_equal(dst, want, sizeof(dst));
        }
    /* exact-size heap blocks: ASan sees a load or store outside [0, n) */
    for (size_t n = 1; n <= 40; n++) {
        char *s = malloc(n), *d = malloc(n);
        assert_non_null(s);
        assert_non_null(d);
        memcpy(s, src, n);
        net_copy_short(d, s, n);
        assert_memory_equal(d, s, n);
        free(s);
        free(d);
    }
}

static void
check_dotted(const uint8_t a[4])
{
    char want[INET_ADDRSTRLEN];
    char *got = malloc(16); /* the room net_ip4_dotted asks for, exactly: ASan checks it */
    assert_non_null(got);
    assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
    size_t n = net_ip4_dotted(got, a);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    free(got);
}

static void
test_dotted(void **st)
{
    (void)st;
    for (unsigned v = 0; v < 256; v++)
        for (int pos = 0; pos < 4; pos++) {
            uint8_t a[4] = {7, 77, 177, 0};
            a[pos] = (uint8_t)v;
            check_dotted(a);
        }
    srand(7);
    for (int i = 0; i < 100000; i++) {
        uint32_t r = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        uint8_t a[4];
        memcpy(a, &r, 4);
        check_dotted(a);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dec),
        cmocka_unit_test(test_copy_short),
        cmocka_unit_test(test_dotted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
