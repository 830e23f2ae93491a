/*
 * test_eve_escape.c - bn_buf_json_escape (src/common/buf.c), which renders every string of
 * the sensor's eve lines: its fast path (straight into the buffer, 8 plain bytes at a time)
 * must give the bytes, errors and lengths of the general loop it skips. A reference copy of
 * that loop (append per run, as it was before the fast path) is the oracle: fixed cases,
 * every escape class at every offset of the 8-byte blocks, and random strings (ASCII, control
 * bytes, quotes, valid and broken UTF-8) into buffers of every fill level up to their max.
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

/* ---- the oracle: the general loop, appending each run ---- */

static size_t
ref_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        min = 0x80;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        min = 0x800;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

static int
ref_escape(struct bn_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;
    while (i < n) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (run && (rc = bn_buf_append(b, s + i - run, run)))
            return rc;
        run = 0;
        if (c >= 0x80) {
            size_t l = ref_utf8_seq(u + i, n - i);
            if (l) {
                if ((rc = bn_buf_append(b, s + i, l)))
                    return rc;
                i += l;
            } else {
                if ((rc = bn_buf_append(b, "\\ufffd", 6)))
                    return rc;
                i++;
            }
            continue;
        }
        char esc[7];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if ((rc = bn_buf_append(b, esc, el)))
            return rc;
        i++;
    }
    if (run && (rc = bn_buf_append(b, s + n - run, run)))
        return rc;
    return bn_buf_reserve(b, 0);
}

/* Escapes s into a buffer of max bytes already holding `pre` bytes, both ways; compares. */
static void
check_one(const char *s, size_t n, size_t max, size_t pre)
{
    struct bn_buf a, r;
    bn_buf_init(&a, max);
    bn_buf_init(&r, max);
    for (size_t i = 0; i < pre && i < max; i++) {
        assert_int_equal(bn_buf_putc(&a, 'p'), 0);
        assert_int_equal(bn_buf_putc(&r, 'p'), 0);
    }
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

static void
check(const char *s, size_t n)
{
    check_one(s, n, 1u << 20, 0);
    check_one(s, n, 1u << 20, 300); /* a buffer already in use */
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
            check_one(s, n, max, pre);
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
