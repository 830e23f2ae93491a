/*
 * test_eve_escape.c - bn_buf_json_escape (src/common/buf.c), which renders every string of
 * the sensor's eve lines: its fast path (straight into the buffer, 8 plain bytes at a time)
 * must give the bytes, errors and lengths of the general loop it skips. A reference copy of
 * that loop (append per run, as it was before the fast path) is the oracle: fixed cases,
 * every escape class at every offset of the 8-byte blocks, and random strings (ASCII, control
 * bytes, quotes, valid and broken UTF-8) into buffers of every fill level up to their max.
 * bn_buf_json_escape_z (a NUL-terminated string in an array) must equal it on strnlen bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/buf.h"
#include "bannin/error.h"

#include "../../fuzz/json_escape_ref.h"

/* Two buffers of max bytes, each already holding the same `pre` bytes. */
static void
two_bufs(struct bn_buf *a, struct bn_buf *r, size_t max, size_t pre)
{
    bn_buf_init(a, max);
    bn_buf_init(r, max);
    for (size_t i = 0; i < pre && i < max; i++) {
        assert_int_equal(bn_buf_putc(a, 'p'), 0);
        assert_int_equal(bn_buf_putc(r, 'p'), 0);
    }
}

/* Escapes s into a buffer of max bytes already holding `pre` bytes, both ways; compares. */
static void
check_one(const char *s, size_t n, size_t max, size_t pre)
{
    struct bn_buf a, r;
    two_bufs(&a, &r, max, pre);
    int ra = bn_buf_json_escape(&a, s, n);
    int rr = ref_escape(&r, s, n);
    assert_int_equal(ra, rr);
    if (ra == 0) {
        assert_int_equal(a.len, r.len);
        assert_memory_equal(a.p, r.p, r.len);
        assert_int_equal(a.p[a.len], '\0');
    } else {
        /* an error leaves what the general loop leaves */
        assert_int_equal(a.len, r.len);
        if (r.len)
            assert_memory_equal(a.p, r.p, r.len);
    }
    bn_buf_release(&a);
    bn_buf_release(&r);
}

/*
 * bn_buf_json_escape_z over s taken as an array of n bytes (a heap copy of exactly n, so
 * ASan sees a read past it): the general loop's output for strnlen(s, n) bytes.
 */
static void
check_z(const char *s, size_t n, size_t max, size_t pre)
{
    char *arr = malloc(n ? n : 1);
    assert_non_null(arr);
    if (n)
        memcpy(arr, s, n);
    struct bn_buf a, r;
    two_bufs(&a, &r, max, pre);
    int ra = bn_buf_json_escape_z(&a, arr, n);
    int rr = ref_escape(&r, arr, strnlen(arr, n));
    assert_int_equal(ra, rr);
    assert_int_equal(a.len, r.len);
    if (r.len)
        assert_memory_equal(a.p, r.p, r.len);
    if (ra == 0)
        assert_int_equal(a.p[a.len], '\0');
    bn_buf_release(&a);
    bn_buf_release(&r);
    free(arr);
}

static void
check(const char *s, size_t n)
{
    check_one(s, n, 1u << 20, 0);
    check_one(s, n, 1u << 20, 300); /* a buffer already in use */
    check_z(s, n, 1u << 20, 0);
    check_z(s, n, 1u << 20, 300);
}

static void
test_fixed(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",
        "a",
        "plain ascii text, longer than eight bytes",
        "quote \" backslash \\ slash /",
        "tab\tnl\ncr\rbs\bff\f nul-free ctl \x01\x1f del \x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok",
        "broken \xc3 \xe2\x82 \xf0\x9f\x98 \xff\xfe \xc0\x80 overlong \xed\xa0\x80 surrogate",
        "\xf4\x90\x80\x80 past U+10FFFF",
        "0123456\"",
        "01234567\\89abcdef",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check(cases[i], strlen(cases[i]));
    /* an embedded NUL is a control byte */
    check("a\0b", 3);

    struct bn_buf b;
    bn_buf_init(&b, 1024);
    assert_int_equal(bn_buf_json_escape(&b, "a\"b\\c\x01\xc3\xa9\xff", 9), 0);
    assert_string_equal(b.p, "a\\\"b\\\\c\\u0001\xc3\xa9\\ufffd");
    bn_buf_release(&b);
}

/* Every byte value at every offset of a 24-byte plain string (the 8-byte blocks' edges). */
static void
test_each_byte_each_offset(void **state)
{
    (void)state;
    char s[24];
    for (unsigned c = 0; c < 256; c++)
        for (size_t off = 0; off < sizeof(s); off++) {
            memset(s, 'x', sizeof(s));
            s[off] = (char)c;
            check(s, sizeof(s));
            check(s, off + 1); /* ending on it */
        }
}

/* Buffers at and around their maximum: the general path's errors and partial output. */
static void
test_near_max(void **state)
{
    (void)state;
    const char *s = "abc\"def\x01ghijklmnop\xc3\xa9qrstuvwxyz";
    size_t n = strlen(s);
    for (size_t max = 0; max < 3 * n; max++)
        for (size_t pre = 0; pre <= max && pre < 40; pre += 3)
        {
            check_one(s, n, max, pre);
            check_z(s, n, max, pre);
        }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void
test_random(void **state)
{
    (void)state;
    static const char *const pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "\xc3",     "\xed\xa0\x80", "\"",
                                         "\\",       "\n",           "\x01"};
    char s[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rnd() % sizeof(s);
        size_t i = 0;
        unsigned mode = rnd() % 4;
        while (i < n) {
            unsigned r = rnd() % 100;
            if (mode == 0 || r < 70) {
                s[i++] = (char)(0x20 + rnd() % 0x5f); /* mostly printable */
            } else if (mode == 1 && r < 90) {
                const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
                for (size_t k = 0; p[k] && i < n; k++)
                    s[i++] = p[k];
            } else {
                s[i++] = (char)(rnd() & 0xff);
            }
        }
        check_one(s, n, 1u << 16, rnd() % 64);
        check_one(s, n, rnd() % 2048, rnd() % 64); /* often too small: the error path */
        check_z(s, n, 1u << 16, rnd() % 64);
        check_z(s, n, rnd() % 2048, rnd() % 64);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_each_byte_each_offset),
        cmocka_unit_test(test_near_max),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
