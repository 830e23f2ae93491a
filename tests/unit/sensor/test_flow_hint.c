/*
 * test_flow_hint.c - the flow table's look-ahead hash (flow.c net_flow_frame_hash, read from
 * the raw frame) must equal the hash the table gives the decoded packet, in both directions:
 * a packet looked up with the frame's hash (net_flow_hash_hint) and its reply looked up
 * without one must meet in one flow. Frames: IPv4/TCP, IPv4/UDP behind two VLAN tags,
 * IPv6/TCP, and addresses that differ only in their last bytes (the words the hash orders
 * the endpoints by).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sensor/pipeline.h"
#include "sensor/sensor.h"

struct frame {
    uint8_t b[256];
    size_t n;
};

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Ethernet (nvlan tags), then IPv4 or IPv6 (16-byte addresses, the first 4 used for v4),
 * then a TCP or UDP header and a few payload bytes. */
static void
mk(struct frame *f, int ipv, int nvlan, uint8_t proto, const uint8_t *src, const uint8_t *dst,
   uint16_t sp, uint16_t dp)
{
    uint8_t *p = f->b;
    size_t l4len = proto == 6 ? 20 : 8, pay = 4;

    memset(f, 0, sizeof(*f));
    memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    p += 12;
    for (int i = 0; i < nvlan; i++) {
        put16(p, i == 0 && nvlan == 2 ? 0x88a8 : 0x8100);
        put16(p + 2, (uint16_t)(100 + i));
        p += 4;
    }
    if (ipv == 4) {
        put16(p, 0x0800);
        p += 2;
        p[0] = 0x45;
        put16(p + 2, (uint16_t)(20 + l4len + pay));
        p[8] = 64;
        p[9] = proto;
        memcpy(p + 12, src, 4);
        memcpy(p + 16, dst, 4);
        p += 20;
    } else {
        put16(p, 0x86dd);
        p += 2;
        p[0] = 0x60;
        put16(p + 4, (uint16_t)(l4len + pay));
        p[6] = proto;
        p[7] = 64;
        memcpy(p + 8, src, 16);
        memcpy(p + 24, dst, 16);
        p += 40;
    }
    put16(p, sp);
    put16(p + 2, dp);
    if (proto == 6) {
        p[12] = 5 << 4;
        p[13] = 0x18; /* PSH ACK */
        put16(p + 14, 1000);
    } else {
        put16(p + 4, (uint16_t)(8 + pay));
    }
    p += l4len;
    memcpy(p, "abcd", pay);
    f->n = (size_t)(p + pay - f->b);
}

/* One frame through the table as the pipeline does it: with the look-ahead's hash as a hint
 * when hinted, else hashed by the table. Returns the flow. */
static struct net_flow *
feed(struct net_flowtab *t, struct net_decoder *d, const struct frame *f, bool hinted,
     uint64_t n)
{
    struct net_pkt pk[NET_LAYERS_MAX];
    struct net_flow_fkey key;
    bool ok = false;
    enum net_dir dir;

    uint32_t h = net_flow_frame_hash(t, f->b, (uint32_t)f->n, &ok, &key);
    assert_true(ok);
    size_t np = net_decode(d, f->b, (uint32_t)f->n, (uint32_t)f->n, n * 1000000ull, n, pk);
    assert_int_equal(np, 1);
    if (hinted)
        net_flow_hash_hint(t, &pk[0], &key, h);
    struct net_flow *fl = net_flow_packet(t, &pk[0], &dir);
    assert_non_null(fl);
    return fl;
}

static void
one_case(int ipv, int nvlan, uint8_t proto, const uint8_t *a, const uint8_t *b)
{
    for (int hint_first = 0; hint_first < 2; hint_first++) {
        struct net_flowtab *t = net_flowtab_new(NULL, NULL, NULL);
        struct net_decoder d;
        struct frame fw, rv;
        struct net_flow_stats st;

        assert_non_null(t);
        assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
        mk(&fw, ipv, nvlan, proto, a, b, 40000, 443);
        mk(&rv, ipv, nvlan, proto, b, a, 443, 40000);
        struct net_flow *f1 = feed(t, &d, &fw, hint_first, 1);
        struct net_flow *f2 = feed(t, &d, &rv, !hint_first, 2);
        struct net_flow *f3 = feed(t, &d, &fw, true, 3);
        assert_ptr_equal(f1, f2);
        assert_ptr_equal(f1, f3);
        net_flowtab_stats(t, &st);
        assert_int_equal(st.created, 1);
        assert_int_equal(f1->pkts[NET_TOSERVER] + f1->pkts[NET_TOCLIENT], 3);
        net_flow_flush(t, NET_END_SHUTDOWN);
        net_flowtab_free(t);
        net_decoder_release(&d);
    }
}

static void
test_ipv4(void **state)
{
    (void)state;
    static const uint8_t a[16] = {10, 0, 0, 1}, b[16] = {10, 0, 0, 2};
    static const uint8_t c[16] = {192, 168, 7, 9}, e[16] = {1, 2, 3, 4};
    one_case(4, 0, 6, a, b);
    one_case(4, 0, 6, b, a);
    one_case(4, 0, 17, c, e);
    one_case(4, 1, 6, c, e);
    one_case(4, 2, 17, a, b);
}

static void
test_ipv6(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    memset(a, 0x20, sizeof(a));
    memcpy(b, a, sizeof(b));
    b[15] = 0x21; /* differ in the second word only */
    one_case(6, 0, 6, a, b);
    one_case(6, 0, 6, b, a);
    one_case(6, 1, 17, a, b);
    b[15] = a[15];
    b[3] = 0x01; /* and in the first word */
    one_case(6, 0, 6, a, b);
    one_case(6, 2, 6, b, a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
