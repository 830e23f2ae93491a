/*
 * test_stream.c - TCP reassembly (stream.c): in-order delivery without copies, out-of-order
 * segments, retransmissions and overlaps, the bounds and the gaps they cause, sequence
 * number wrap-around, and clean failure when memory runs out.
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
    char out[1 << 16];
    size_t n;
    size_t gaps;
    size_t gap_bytes;
    size_t skipped;
    const uint8_t *last_ptr;
};

static void
on_data(void *ctx, const uint8_t *d, size_t n)
{
    struct sink *s = ctx;
    assert_true(s->n + n <= sizeof(s->out));
    memcpy(s->out + s->n, d, n);
    s->n += n;
    s->last_ptr = d;
}

static void
on_gap(void *ctx, size_t n)
{
    struct sink *s = ctx;
    s->gaps++;
    s->gap_bytes += n;
    /* mark the hole in the output so tests can see where it was */
    for (size_t i = 0; i < n && s->n < sizeof(s->out); i++)
        s->out[s->n++] = '_';
}

static void
add(struct net_stream *st, uint32_t seq, const char *d, const struct net_stream_out *o)
{
    net_stream_add(st, seq, (const uint8_t *)d, (uint32_t)strlen(d), o);
}

static void
test_in_order_no_copy(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};
    static const char a[] = "hello ", b[] = "world";

    (void)state;
    net_stream_init(&st);
    net_stream_syn(&st, 999);
    add(&st, 1000, a, &o);
    assert_ptr_equal(s.last_ptr, (const uint8_t *)a); /* handed on in place */
    add(&st, 1006, b, &o);
    assert_int_equal(s.n, 11);
    assert_memory_equal(s.out, "hello world", 11);
    assert_int_equal(st.delivered, 11);
    net_stream_release(&st);
}

static void
test_out_of_order_and_retransmit(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};

    (void)state;
    net_stream_init(&st);
    net_stream_syn(&st, 0);
    add(&st, 7, "ghi", &o);      /* ahead: kept */
    add(&st, 4, "def", &o);      /* ahead: kept */
    assert_int_equal(s.n, 0);
    assert_int_equal(st.nseg, 2);
    add(&st, 1, "abc", &o);      /* fills the hole: everything comes out in order */
    assert_int_equal(s.n, 9);
    assert_memory_equal(s.out, "abcdefghi", 9);
    add(&st, 4, "XYZ", &o);      /* retransmission of delivered bytes: ignored */
    add(&st, 8, "XYjk", &o);     /* overlap: only the new tail is taken */
    assert_int_equal(s.n, 11);
    assert_memory_equal(s.out, "abcdefghijk", 11);
    assert_int_equal(st.nseg, 0);
    assert_int_equal(st.ooo_bytes, 0);
    net_stream_release(&st);
}

static void
test_bound_gives_gap(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};
    char seg[2] = "a";

    (void)state;
    net_stream_init(&st);
    net_stream_syn(&st, 0);
    /* byte 1 never arrives; bytes 2.. arrive one segment each, more than can be kept */
    for (int i = 0; i < NET_STREAM_SEGS_MAX + 4; i++) {
        seg[0] = (char)('a' + i % 26);
        add(&st, 2 + (uint32_t)i, seg, &o);
    }
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.gap_bytes, 1);
    assert_true(st.nseg <= NET_STREAM_SEGS_MAX);
    assert_int_equal(s.out[0], '_');
    assert_int_equal(s.n, 1 + NET_STREAM_SEGS_MAX + 4);
    assert_int_equal(s.out[1], 'a');
    assert_int_equal(st.gap_bytes, 1);
    net_stream_release(&st);
}

static void
test_flush_reports_holes(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};

    (void)state;
    net_stream_init(&st);
    net_stream_syn(&st, 100);
    add(&st, 101, "ab", &o);
    add(&st, 106, "fg", &o);
    add(&st, 110, "j", &o);
    net_stream_flush(&st, &o);
    assert_int_equal(s.gaps, 2);
    assert_int_equal(s.gap_bytes, 3 + 2);
    assert_int_equal(s.n, 10);
    assert_memory_equal(s.out, "ab___fg__j", 10);
    net_stream_release(&st);
}

static void
test_wraparound_and_midstream(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};

    (void)state;
    net_stream_init(&st);
    /* no SYN seen: the stream starts at the first segment */
    add(&st, 0xfffffffeu, "ab", &o);
    add(&st, 2, "ef", &o);        /* after the wrap, ahead */
    add(&st, 0, "cd", &o);        /* 2^32 - 2 + 2 == 0 */
    assert_int_equal(s.n, 6);
    assert_memory_equal(s.out, "abcdef", 6);
    net_stream_release(&st);
}

/* Out of memory while keeping a segment: no crash, no leak, the data still flows. */
static void
test_alloc_failure(void **state)
{
    (void)state;
    for (unsigned long fail = 1; fail < 8; fail++) {
        struct net_stream st;
        struct sink s = {0};
        struct net_stream_out o = {on_data, on_gap, &s};
        net_stream_init(&st);
        net_stream_syn(&st, 0);
        bn_alloc_fail_after(fail);
        add(&st, 5, "efgh", &o);
        add(&st, 9, "ijkl", &o);
        add(&st, 1, "abcd", &o);
        bn_alloc_fail_after(0);
        net_stream_flush(&st, &o);
        /* every byte after the first arrives, with at most one gap in front */
        assert_true(s.n >= 8);
        assert_memory_equal(s.out + s.n - 4, "ijkl", 4);
        net_stream_release(&st);
    }
}

static void
count_data(void *ctx, const uint8_t *d, size_t n)
{
    (void)d;
    *(size_t *)ctx += n;
}

/* IDS mode: in-order bytes wait for the other side's acknowledgement. */
static void
test_ack_mode(void **state)
{
    struct net_stream st;
    struct sink s = {0};
    struct net_stream_out o = {on_data, on_gap, &s};
    char big[300];

    (void)state;
    net_stream_init(&st);
    st.ack_mode = 1;
    net_stream_syn(&st, 0);
    add(&st, 1, "GET / HTTP/1.1\r\n", &o);
    add(&st, 17, "Host: x\r\n\r\n", &o);
    assert_int_equal(s.n, 0);                 /* nothing acknowledged yet */
    net_stream_ack(&st, 1, &o);               /* acknowledges nothing new */
    assert_int_equal(s.n, 0);
    net_stream_ack(&st, 17, &o);              /* the first segment */
    assert_int_equal(s.n, 16);
    assert_memory_equal(s.out, "GET / HTTP/1.1\r\n", 16);
    net_stream_ack(&st, 1000, &o);            /* past what was sent: all of it */
    assert_int_equal(s.n, 27);
    assert_int_equal(st.hold_len, 0);
    /* a hole given up on hands on what was held before it, then the gap */
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = 'b';
    big[sizeof(big) - 1] = '\0';
    add(&st, 28, "held", &o);
    for (int i = 0; i < NET_STREAM_SEGS_MAX + 1; i++)
        add(&st, 100 + (uint32_t)i * 10, "x", &o);
    assert_int_equal(s.gaps, 1);
    assert_memory_equal(s.out + 27, "held", 4);
    assert_int_equal(s.out[31], '_');
    /* end of connection: whatever is still held goes on */
    net_stream_flush(&st, &o);
    assert_int_equal(st.hold_len, 0);
    assert_int_equal(s.out[s.n - 1], 'x');
    /* the hold is bounded: past it, bytes go on unacknowledged (counted) */
    struct net_stream st2;
    size_t counted = 0;
    struct net_stream_out o2 = {count_data, NULL, &counted};
    net_stream_init(&st2);
    st2.ack_mode = 1;
    net_stream_syn(&st2, 0);
    uint32_t seq = 1;
    while (seq < NET_STREAM_HOLD_MAX + 1000) {
        add(&st2, seq, big, &o2);
        seq += sizeof(big) - 1;
    }
    assert_true(st2.hold_forced > 0);
    assert_int_equal(counted + st2.hold_len, seq - 1);
    assert_true(st2.hold_len <= NET_STREAM_HOLD_MAX);
    net_stream_release(&st2);
    net_stream_release(&st);

    /* a shared budget: past it, bytes ahead are not kept and held bytes go on at once */
    struct net_stream_mem mem = {0, 6000, 0};
    struct net_stream a, b;
    struct sink sa = {0};
    struct net_stream_out oa = {on_data, on_gap, &sa};
    net_stream_init(&a);
    net_stream_init(&b);
    a.mem = b.mem = &mem;
    a.ack_mode = b.ack_mode = 1;
    net_stream_syn(&a, 0);
    net_stream_syn(&b, 0);
    add(&a, 1, "first", &oa);                  /* takes a 4096-byte hold */
    assert_int_equal(mem.used, 4096);
    add(&b, 1, "second", &oa);                 /* a second hold would pass the budget */
    assert_int_equal(mem.refused, 1);
    assert_int_equal(b.hold_forced, 6);
    assert_int_equal(sa.n, 6);                 /* handed on unacknowledged rather than lost */
    net_stream_release(&a);
    net_stream_release(&b);
    assert_int_equal(mem.used, 0);             /* everything given back */
    net_stream_mem_release(&mem);

    /* a hold emptied by an acknowledgement goes back to the budget at once: idle flows'
     * empty buffers must not starve the others (they did: 1.1 M refusals on the bench mix) */
    struct net_stream_mem mem2 = {0, 6000, 0}; /* room for one hold */
    struct sink sc = {0};
    struct net_stream_out oc = {on_data, on_gap, &sc};
    net_stream_init(&a);
    net_stream_init(&b);
    a.mem = b.mem = &mem2;
    a.ack_mode = b.ack_mode = 1;
    net_stream_syn(&a, 0);
    net_stream_syn(&b, 0);
    add(&a, 1, "first", &oc);
    assert_int_equal(mem2.used, 4096);
    net_stream_ack(&a, 3, &oc);                /* part of it: the buffer stays */
    assert_int_equal(a.hold_len, 3);
    assert_int_equal(mem2.used, 4096);
    net_stream_ack(&a, 6, &oc);                /* the rest: the buffer goes */
    assert_int_equal(a.hold_len, 0);
    assert_int_equal(a.hold_cap, 0);
    assert_null(a.hold);
    assert_int_equal(mem2.used, 0);
    add(&b, 1, "second", &oc);                 /* now fits */
    assert_int_equal(mem2.refused, 0);
    assert_int_equal(b.hold_len, 6);
    net_stream_ack(&b, 7, &oc);                /* b's goes back too */
    assert_int_equal(mem2.used, 0);
    add(&a, 6, "again", &oc);                  /* and a new hold for the first one */
    assert_int_equal(mem2.used, 4096);
    assert_int_equal(mem2.refused, 0);
    assert_int_equal(sc.n, 11);
    assert_memory_equal(sc.out, "firstsecond", 11);
    net_stream_release(&a);
    net_stream_release(&b);
    assert_int_equal(mem2.used, 0);
    assert_int_equal(mem2.ncache, 1);          /* the one buffer, reused, kept: not counted */
    net_stream_mem_release(&mem2);
    assert_int_equal(mem2.ncache, 0);
}

/*
 * A consumer of length-prefixed records (one length byte, then 16 times that many bytes it
 * never reads) that tells its stream what it will skip, like the TLS and HTTP parsers do. Each
 * record's end is logged with the call (ack) that completed it.
 */
struct rec_consumer {
    struct net_stream *st;
    bool hint;             /* tells the stream what it skips */
    uint32_t body_left;
    uint32_t call;         /* which test step is running */
    uint32_t ends[4096];   /* step at which record i ended */
    size_t nends;
    size_t data_bytes, skip_bytes;
};

static void
rc_end(struct rec_consumer *c)
{
    assert_true(c->nends < BN_ARRAY_SIZE(c->ends));
    c->ends[c->nends++] = c->call;
}

static void
rc_hint(struct rec_consumer *c)
{
    if (c->hint)
        net_stream_skip_hint(c->st, c->body_left);
}

static void
rc_data(void *ctx, const uint8_t *d, size_t n)
{
    struct rec_consumer *c = ctx;
    c->data_bytes += n;
    while (n) {
        if (c->body_left) {
            size_t k = BN_MIN(n, (size_t)c->body_left);
            c->body_left -= (uint32_t)k;
            d += k;
            n -= k;
            if (!c->body_left)
                rc_end(c);
            continue;
        }
        c->body_left = 16u * *d++;
        n--;
        if (!c->body_left)
            rc_end(c);
    }
    rc_hint(c);
}

static void
rc_skip(void *ctx, size_t n)
{
    struct rec_consumer *c = ctx;
    c->skip_bytes += n;
    assert_true(n <= c->body_left); /* only what it said it skips */
    c->body_left -= (uint32_t)n;
    if (!c->body_left)
        rc_end(c);
    rc_hint(c);
}

static void
sink_skip(void *ctx, size_t n)
{
    struct sink *s = ctx;
    s->skipped += n;
    for (size_t i = 0; i < n && s->n < sizeof(s->out); i++)
        s->out[s->n++] = '#';
}

/* Skipped bytes are held as a count and handed on at the same acknowledgements, in order. */
static void
test_skip_hint(void **state)
{
    static uint8_t msg[400000];
    size_t len = 0;
    uint32_t seed = 12345;
    (void)state;
    while (len < sizeof(msg) - 16 * 256) {
        seed = seed * 1103515245u + 12345u;
        uint8_t l = (uint8_t)(seed >> 16);
        msg[len++] = l;
        for (unsigned i = 0; i < 16u * l; i++)
            msg[len++] = (uint8_t)i;
    }
    struct net_stream st[2];
    struct rec_consumer *c = bn_calloc(2, sizeof(*c));
    assert_non_null(c);
    struct net_stream_out o[2] = {{rc_data, on_gap, &c[0], NULL}, {rc_data, on_gap, &c[1], rc_skip}};
    for (int k = 0; k < 2; k++) {
        net_stream_init(&st[k]);
        st[k].ack_mode = 1;
        net_stream_syn(&st[k], 1000);
        c[k].st = &st[k];
        c[k].hint = k == 1;
    }
    /* segments of 1..1460 bytes, an acknowledgement of a random part of what is held after
     * about every second one */
    size_t off = 0;
    uint32_t step = 0;
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = BN_MIN(len - off, 1 + (size_t)(seed >> 16) % 1460);
        bool ack = (seed >> 8) & 1;
        uint32_t ackto = 1001 + (uint32_t)(off + n - (seed >> 20) % (n + 1));
        step++;
        for (int k = 0; k < 2; k++) {
            c[k].call = step;
            net_stream_add(&st[k], 1001 + (uint32_t)off, msg + off, (uint32_t)n, &o[k]);
            if (ack)
                net_stream_ack(&st[k], ackto, &o[k]);
            assert_int_equal(st[k].fed + st[k].hold_virt + st[k].hold_len, st[k].next);
        }
        off += n;
    }
    step++;
    for (int k = 0; k < 2; k++) {
        c[k].call = step;
        net_stream_ack(&st[k], 1001 + (uint32_t)len, &o[k]);
        assert_int_equal(st[k].hold_len + st[k].hold_virt, 0);
    }
    assert_true(c[0].nends > 150);
    assert_int_equal(c[0].nends, c[1].nends);
    assert_memory_equal(c[0].ends, c[1].ends, c[0].nends * sizeof(c[0].ends[0]));
    assert_int_equal(c[0].data_bytes, len);
    assert_int_equal(c[1].data_bytes + c[1].skip_bytes, len);
    assert_true(c[1].skip_bytes > len / 2); /* most body bytes were never copied */
    assert_int_equal(st[0].delivered, st[1].delivered);

    /* a gap ends the skip range: after it, bytes are held (and copied) again */
    struct sink s = {0};
    struct net_stream_out og = {on_data, on_gap, &s, sink_skip};
    struct net_stream g;
    net_stream_init(&g);
    g.ack_mode = 1;
    net_stream_syn(&g, 0);
    net_stream_skip_hint(&g, 100);
    add(&g, 1, "abc", &og);
    assert_int_equal(g.hold_virt, 3);
    assert_int_equal(g.hold_len, 0);
    for (int i = 0; i < NET_STREAM_SEGS_MAX + 1; i++)
        add(&g, 200 + (uint32_t)i * 10, "x", &og); /* past the bound: the hole is given up */
    assert_int_equal(s.gaps, 1);
    assert_int_equal(s.skipped, 3); /* handed on before the hole */
    assert_memory_equal(s.out, "###_", 4);
    assert_int_equal(g.skip_ok, 0);
    add(&g, g.next, "yz", &og); /* after the "x" the hole's end made contiguous */
    assert_int_equal(g.hold_virt, 0);
    assert_int_equal(g.hold_len, 3);
    assert_memory_equal(g.hold, "xyz", 3);
    net_stream_release(&g);
    net_stream_release(&st[0]);
    net_stream_release(&st[1]);
    bn_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_no_copy),
        cmocka_unit_test(test_out_of_order_and_retransmit),
        cmocka_unit_test(test_bound_gives_gap),
        cmocka_unit_test(test_flush_reports_holes),
        cmocka_unit_test(test_wraparound_and_midstream),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_ack_mode),
        cmocka_unit_test(test_skip_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
