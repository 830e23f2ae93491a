/*
 * test_stream_hold.c - the buffers behind TCP holds (stream.c, acknowledgement-driven
 * delivery): a hold's buffer is sized to its bytes (classes of 512 B to 4 KiB, then what the
 * budget counts) while the budget still counts HOLD_MIN (4096) and doubling, bytes survive
 * every move to a larger buffer, spare buffers are reused through the per-class caches, and
 * running out of memory while a hold grows hands the bytes on rather than losing them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "sensor/sensor.h"

struct sink {
    uint8_t out[1 << 17];
    size_t n;
    size_t gaps;
};

static void
on_data(void *ctx, const uint8_t *d, size_t n)
{
    struct sink *s = ctx;
    assert_true(s->n + n <= sizeof(s->out));
    memcpy(s->out + s->n, d, n);
    s->n += n;
}

static void
on_gap(void *ctx, size_t n)
{
    struct sink *s = ctx;
    (void)n;
    s->gaps++;
}

/* byte i of the test stream */
static uint8_t
pat(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 8));
}

static void
add_pat(struct net_stream *st, uint32_t seq0, size_t from, size_t n,
        const struct net_stream_out *o)
{
    uint8_t buf[8192];
    assert_true(n <= sizeof(buf));
    for (size_t i = 0; i < n; i++)
        buf[i] = pat(from + i);
    net_stream_add(st, seq0 + (uint32_t)from, buf, (uint32_t)n, o);
}

static void
check_pat(const struct sink *s, size_t n)
{
    assert_int_equal(s->n, n);
    for (size_t i = 0; i < n; i++)
        if (s->out[i] != pat(i))
            fail_msg("byte %zu differs", i);
}

static void
test_grow_through_classes(void **state)
{
    (void)state;
    static struct sink s;
    struct net_stream_out o = {on_data, on_gap, &s, NULL};
    struct net_stream_mem mem = {0, 1u << 20, 0};
    struct net_stream st;

    memset(&s, 0, sizeof(s));
    net_stream_init(&st);
    st.mem = &mem;
    st.ack_mode = 1;
    net_stream_syn(&st, 0);
    /* segments that outgrow each class in turn, nothing acknowledged */
    static const size_t seg[] = {10, 200, 300, 700, 1400, 1460, 1460, 3000, 5000};
    size_t total = 0;
    for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
        add_pat(&st, 1, total, seg[i], &o);
        total += seg[i];
        assert_int_equal(s.n, 0);
        assert_int_equal(st.hold_len, total);
        /* the budget counts what it always counted: 4096, then doubling */
        uint32_t want = 4096;
        while (want < total)
            want *= 2;
        assert_int_equal(mem.used, want);
        assert_int_equal(st.hold_cap, want);
    }
    assert_int_equal(total, 13530);
    /* part of it acknowledged, then the rest */
    net_stream_ack(&st, 1 + 5000, &o);
    check_pat(&s, 5000);
    net_stream_ack(&st, 1 + (uint32_t)total, &o);
    check_pat(&s, total);
    assert_int_equal(st.hold_len, 0);
    assert_null(st.hold);
    assert_int_equal(mem.used, 0);
    assert_int_equal(st.hold_forced, 0);
    assert_int_equal(s.gaps, 0);
    net_stream_release(&st);
    net_stream_mem_release(&mem);
    assert_int_equal(mem.ncache, 0);
}

static void
test_cache_reuse(void **state)
{
    (void)state;
    static struct sink s;
    struct net_stream_out o = {on_data, on_gap, &s, NULL};
    struct net_stream_mem mem = {0, 1u << 20, 0};
    struct net_stream a, b;
    size_t at = 0, bt = 0;

    memset(&s, 0, sizeof(s));
    net_stream_init(&a);
    net_stream_init(&b);
    a.mem = b.mem = &mem;
    a.ack_mode = b.ack_mode = 1;
    net_stream_syn(&a, 0);
    net_stream_syn(&b, 1000000);
    for (int round = 0; round < 50; round++) {
        size_t na = 1 + (size_t)(round * 37) % 3000, nb = 1 + (size_t)(round * 91) % 1500;
        add_pat(&a, 1, at, na, &o);
        add_pat(&b, 1000001, bt, nb, &o);
        assert_int_equal(mem.used, 8192); /* one hold each, counted as 4096 */
        at += na;
        bt += nb;
        net_stream_ack(&a, 1 + (uint32_t)at, &o);
        net_stream_ack(&b, 1000001 + (uint32_t)bt, &o);
        assert_int_equal(mem.used, 0);
        /* the buffers went back to the caches, reused: at most two spare per class */
        assert_true(mem.ncache >= 2 && mem.ncache <= 2 * NET_STREAM_HOLD_CLASSES);
    }
    assert_int_equal(s.n, at + bt);
    net_stream_release(&a);
    net_stream_release(&b);
    net_stream_mem_release(&mem);
    assert_int_equal(mem.ncache, 0);
    for (unsigned c = 0; c < NET_STREAM_HOLD_CLASSES; c++)
        assert_null(mem.cache[c]);
}

/* Out of memory at every allocation in turn while a hold grows: no byte is lost. */
static void
test_grow_out_of_memory(void **state)
{
    (void)state;
    static struct sink s;
    struct net_stream_out o = {on_data, on_gap, &s, NULL};

    for (unsigned long fail = 1; fail < 12; fail++) {
        struct net_stream_mem mem = {0, 1u << 20, 0};
        struct net_stream st;
        size_t total = 0;

        memset(&s, 0, sizeof(s));
        net_stream_init(&st);
        st.mem = &mem;
        st.ack_mode = 1;
        net_stream_syn(&st, 0);
        bn_alloc_fail_after(fail);
        static const size_t seg[] = {100, 400, 900, 1400, 3000, 2000};
        for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
            add_pat(&st, 1, total, seg[i], &o);
            total += seg[i];
        }
        bn_alloc_fail_after(0);
        net_stream_ack(&st, 1 + (uint32_t)total, &o);
        check_pat(&s, total); /* in order, every byte once */
        assert_int_equal(st.hold_len, 0);
        net_stream_release(&st);
        assert_int_equal(mem.used, 0);
        net_stream_mem_release(&mem);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow_through_classes),
        cmocka_unit_test(test_cache_reuse),
        cmocka_unit_test(test_grow_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
