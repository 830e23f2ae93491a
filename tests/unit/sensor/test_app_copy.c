/*
 * test_app_copy.c - app_copy (src/sensor/app.c), which copies every text field of the
 * sensor's records (HTTP request lines and headers, SSH name-lists, DNS TXT): its ASCII
 * prefix fast path must give the bytes, length and truncation of the byte loop it skips. A
 * copy of that loop as it was before is the oracle: fixed cases, and random strings (ASCII,
 * NUL, valid and broken UTF-8) at every destination size up to past their length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/buf.h"
#include "sensor/app_int.h"

/* app_copy before the fast path, counters aside. */
static size_t
ref_copy(char *dst, size_t dsz, const void *src, size_t n, uint8_t *trunc)
{
    static const char hexd[] = "0123456789abcdef";
    const uint8_t *s = src;
    size_t o = 0;
    bool cut = false;
    if (!dsz)
        return 0;
    bool esc_high = !bn_utf8_valid((const char *)s, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0 || (esc_high && s[i] >= 0x80)) {
            if (o + 4 >= dsz) {
                cut = true;
                break;
            }
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hexd[s[i] >> 4];
            dst[o++] = hexd[s[i] & 15];
            continue;
        }
        if (o + 1 >= dsz) {
            cut = true;
            if (!esc_high && s[i] >= 0x80 && (s[i] & 0xc0) == 0x80) {
                while (o > 0 && ((uint8_t)dst[o - 1] & 0xc0) == 0x80)
                    o--;
                if (o > 0 && ((uint8_t)dst[o - 1] & 0xc0) == 0xc0)
                    o--;
            }
            break;
        }
        dst[o++] = (char)s[i];
    }
    dst[o] = '\0';
    if (cut && trunc)
        *trunc = 1;
    return o;
}

/* Copies s into destinations of every size 0..n+9 both ways and compares. */
static void
check_all_sizes(const uint8_t *s, size_t n)
{
    char a[512], r[512];
    for (size_t dsz = 0; dsz <= n + 9 && dsz <= sizeof(a); dsz++) {
        uint8_t ta = 0, tr = 0;
        memset(a, 'A', sizeof(a));
        memset(r, 'A', sizeof(r));
        size_t la = app_copy(a, dsz, s, n, &ta);
        size_t lr = ref_copy(r, dsz, s, n, &tr);
        assert_int_equal(la, lr);
        assert_int_equal(ta, tr);
        assert_memory_equal(a, r, sizeof(a));
    }
}

static void
test_fixed(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",
        "a",
        "GET /index.html HTTP/1.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 0123456789",
        "0123456\xc3\xa9",
        "01234567\xe2\x82\xac tail",
        "bad \xff byte after eight",
        "truncated seq at end \xe2\x82",
        "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_all_sizes((const uint8_t *)cases[i], strlen(cases[i]));
    /* NUL bytes inside, at every offset of an 8-byte block */
    for (size_t off = 0; off < 20; off++) {
        uint8_t s[24];
        memset(s, 'x', sizeof(s));
        s[off] = 0;
        check_all_sizes(s, sizeof(s));
    }
    /* NULL with no bytes */
    char d[4] = "zzz";
    uint8_t t = 0;
    assert_int_equal(app_copy(d, sizeof(d), NULL, 0, &t), 0);
    assert_int_equal(d[0], '\0');
    assert_int_equal(t, 0);
}

static void
test_random(void **state)
{
    (void)state;
    static const uint8_t pool[] = {'a', 'Z', ' ', '/', 0, 0x7f, 0xc3, 0xa9, 0xe2, 0x82,
                                   0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x80, '\n'};
    unsigned seed = 12345;
    for (int it = 0; it < 4000; it++) {
        uint8_t s[80];
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof(s);
        seed = seed * 1103515245u + 12345u;
        unsigned mode = (seed >> 16) % 4; /* 0: ASCII only, else mostly ASCII with others */
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = seed >> 16;
            if (mode == 0 || v % 8)
                s[i] = (uint8_t)(' ' + v % 95);
            else
                s[i] = pool[(v >> 3) % sizeof(pool)];
        }
        check_all_sizes(s, n);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
