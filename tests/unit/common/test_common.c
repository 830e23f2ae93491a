/*
 * test_common.c - allocator hook, pool, buffer limits, field table and event chains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/pool.h"

static void
test_alloc_fail_hook(void **state)
{
    (void)state;
    bn_alloc_fail_after(2);
    void *a = bn_malloc(8);
    void *b = bn_malloc(8);
    void *c = bn_malloc(8);
    bn_alloc_fail_after(0);
    assert_non_null(a);
    assert_null(b);
    assert_null(c);
    void *d = bn_malloc(8);
    assert_non_null(d);
    bn_free(a);
    bn_free(d);
    bn_free(NULL);
}

static void
test_pool(void **state)
{
    (void)state;
    struct bn_pool *p = bn_pool_new(256);
    assert_non_null(p);
    for (int i = 0; i < 1000; i++) {
        char *s = bn_pool_strdup(p, "hello");
        assert_string_equal(s, "hello");
        assert_int_equal((uintptr_t)s % 16, 0);
    }
    char *big = bn_pool_alloc(p, 100000);
    assert_non_null(big);
    memset(big, 1, 100000);
    bn_pool_reset(p);
    assert_int_equal(bn_pool_used(p), 0);
    assert_non_null(bn_pool_calloc(p, 10, 10));
    bn_pool_free(p);
    bn_pool_free(NULL);
}

static void
test_pool_oom(void **state)
{
    (void)state;
    /* Every allocation of the pool may fail; none may crash. */
    for (unsigned long n = 1; n < 10; n++) {
        struct bn_pool *p;
        bn_alloc_fail_after(n);
        p = bn_pool_new(64);
        if (p) {
            for (int i = 0; i < 20; i++)
                (void)bn_pool_alloc(p, 48);
        }
        bn_alloc_fail_after(0);
        bn_pool_free(p);
    }
}

static void
test_buf_limit_and_escape(void **state)
{
    (void)state;
    struct bn_buf b;
    bn_buf_init(&b, 8);
    assert_int_equal(bn_buf_puts(&b, "12345678"), 0);
    assert_int_equal(bn_buf_putc(&b, 'x'), BN_ETOOBIG);
    assert_int_equal(b.len, 8);
    bn_buf_release(&b);

    bn_buf_init(&b, 1024);
    const char in[] = "a\"b\\c\n\x01\xff\xc3\xa9";
    assert_int_equal(bn_buf_json_escape(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(b.p, "a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9");
    bn_buf_release(&b);
}

/*
 * The escaper against expectations built token by token (plain ASCII runs, quotes,
 * backslashes, control bytes, valid 2-4 byte UTF-8, bytes that are never valid UTF-8, lone
 * continuation bytes) in random orders and lengths, so every special byte lands at every
 * offset of the eight-byte fast path.
 */
static void
test_json_escape_tokens(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } tok[] = {
        {"abcdefgh", "abcdefgh"}, {"x", "x"}, {"0123", "0123"}, {" ~", " ~"},
        {"\"", "\\\""}, {"\\", "\\\\"}, {"\n", "\\n"}, {"\t", "\\t"},
        {"\x01", "\\u0001"}, {"\x1f", "\\u001f"}, {"\x7f", "\x7f"},
        {"\xc3\xa9", "\xc3\xa9"}, {"\xe2\x82\xac", "\xe2\x82\xac"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"}, {"\xff", "\\ufffd"},
        {"\xfe", "\\ufffd"}, {"\x80", "\\ufffd"},
    };
    const size_t ntok = sizeof(tok) / sizeof(tok[0]);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct bn_buf in, want, got;
    for (int round = 0; round < 3000; round++) {
        bn_buf_init(&in, 1 << 16);
        bn_buf_init(&want, 1 << 16);
        bn_buf_init(&got, 1 << 16);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t ntoks = (size_t)(seed >> 58); /* 0..63 */
        for (size_t t = 0; t < ntoks; t++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* mostly plain text, as in real records */
            size_t j = (seed >> 60) < 9 ? (size_t)(seed >> 33) % 4 : (size_t)(seed >> 33) % ntok;
            assert_int_equal(bn_buf_puts(&in, tok[j].in), 0);
            assert_int_equal(bn_buf_puts(&want, tok[j].out), 0);
        }
        assert_int_equal(bn_buf_json_escape(&got, in.p ? in.p : "", in.len), 0);
        assert_int_equal(got.len, want.len);
        if (want.len)
            assert_memory_equal(got.p, want.p, want.len);
        bn_buf_release(&in);
        bn_buf_release(&want);
        bn_buf_release(&got);
    }
}

static void
test_fieldtab_event(void **state)
{
    (void)state;
    struct bn_fieldtab *ft = bn_fieldtab_new();
    uint32_t ids[200];
    char name[32];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(name, sizeof(name), "Field%d", i);
        assert_int_equal(bn_fieldtab_intern(ft, name, (size_t)n, &ids[i]), 0);
        assert_int_equal(ids[i], i);
    }
    assert_int_equal(bn_fieldtab_lookup(ft, "Field42", 7), 42);
    assert_int_equal(bn_fieldtab_lookup(ft, "field42", 7), BN_FIELD_NONE);
    assert_string_equal(bn_fieldtab_name(ft, 7), "Field7");

    struct bn_event ev;
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(ft)), 0);
    for (int round = 0; round < 3; round++) {
        bn_event_clear(&ev);
        assert_null(bn_event_first(&ev, 5));
        bn_event_add(&ev, 5, "Field5", 6, "a", 1, BN_VT_STR, 0);
        bn_event_add(&ev, BN_FIELD_NONE, "Other", 5, "x", 1, BN_VT_STR, 1);
        bn_event_add(&ev, 5, "Field5", 6, "b", 1, BN_VT_STR, 2);
        const struct bn_fval *v = bn_event_first(&ev, 5);
        assert_non_null(v);
        assert_memory_equal(v->s, "a", 1);
        v = bn_event_next(&ev, v);
        assert_non_null(v);
        assert_memory_equal(v->s, "b", 1);
        assert_null(bn_event_next(&ev, v));
    }
    bn_event_release(&ev);
    bn_fieldtab_free(ft);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_fail_hook),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_oom),
        cmocka_unit_test(test_buf_limit_and_escape),
        cmocka_unit_test(test_json_escape_tokens),
        cmocka_unit_test(test_fieldtab_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
