/*
 * test_flow_history.c - Zeek's history letters kept by flow.c: repeated letters are added
 * once, and the per-side bits that let a packet skip the string search (hist_bits) follow
 * the string when the flow is turned round (net_flow_swap) and when a Zeek split empties it.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sensor/pipeline.h"

#define S 1000000000ull

static void
on_end(void *ctx, struct net_flow *f)
{
    (void)f;
    ++*(int *)ctx;
}

/* A packet between 10.0.0.1:40000 (client) and 10.0.0.2:80. */
static struct net_flow *
pkt(struct net_flowtab *t, bool to_server, uint8_t proto, uint8_t flags, uint32_t paylen,
    uint64_t ts)
{
    struct net_pkt k;
    enum net_dir dir;
    const uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};

    memset(&k, 0, sizeof(k));
    k.ip_v = 4;
    k.src.fam = k.dst.fam = 4;
    memcpy(k.src.a, to_server ? c : s, 4);
    memcpy(k.dst.a, to_server ? s : c, 4);
    k.sport = to_server ? 40000 : 80;
    k.dport = to_server ? 80 : 40000;
    k.proto = proto;
    k.tcp_flags = flags;
    k.l4_ok = 1;
    k.payload_len = paylen;
    k.pkt_len = 54 + paylen;
    k.ip_len = 40 + paylen;
    k.ts_ns = ts;
    struct net_flow *f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    return f;
}

/* Each test's flow table and the count of flows it ended. */
struct fixture {
    int ended;
    struct net_flowtab *t;
};

static int
setup(void **st)
{
    struct fixture *fx = test_calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    fx->t = net_flowtab_new(NULL, on_end, &fx->ended);
    *st = fx;
    return fx->t ? 0 : -1;
}

static int
teardown(void **st)
{
    struct fixture *fx = *st;

    net_flowtab_free(fx->t);
    test_free(fx);
    return 0;
}

static void
test_repeats_once(void **st)
{
    struct fixture *fx = *st;
    struct net_flowtab *t = fx->t;
    struct net_flow *f;

    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 0, 1 * S);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 0, 1 * S + 1);
    for (int i = 0; i < 5; i++) {
        pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 0, 1 * S + 10 + i);
        pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 100, 1 * S + 20 + i);
        pkt(t, false, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 100, 1 * S + 30 + i);
        pkt(t, false, IPPROTO_TCP, NET_TCP_ACK, 0, 1 * S + 40 + i);
    }
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 0, 2 * S);
    f = pkt(t, false, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 0, 2 * S + 1);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 0, 2 * S + 2); /* a repeat */
    assert_string_equal(f->history, "ShADdaFf");
}

static void
test_swap(void **st)
{
    struct fixture *fx = *st;
    struct net_flowtab *t = fx->t;
    struct net_flow *f;

    f = pkt(t, true, IPPROTO_UDP, 0, 20, 1 * S);
    pkt(t, true, IPPROTO_UDP, 0, 20, 1 * S + 1);
    assert_string_equal(f->history, "D");
    /* turned round (as the pipeline does when the server is found to have spoken first):
     * the client's D is the server's d now, and a datagram from the new client adds D */
    net_flow_swap(f);
    assert_string_equal(f->history, "d");
    pkt(t, false, IPPROTO_UDP, 0, 20, 1 * S + 2); /* from 10.0.0.2: now the client */
    assert_string_equal(f->history, "dD");
    pkt(t, true, IPPROTO_UDP, 0, 20, 1 * S + 3);
    pkt(t, false, IPPROTO_UDP, 0, 20, 1 * S + 4);
    assert_string_equal(f->history, "dD");
}

static void
test_split_empties(void **st)
{
    struct fixture *fx = *st;
    struct net_flowtab *t = fx->t;
    struct net_flow *f;

    f = pkt(t, true, IPPROTO_UDP, 0, 20, 1 * S);
    pkt(t, false, IPPROTO_UDP, 0, 20, 1 * S + 1);
    assert_string_equal(f->history, "Dd");
    /* Zeek's UDP inactivity (1 min) ends the connection; the flow goes on (Suricata's UDP
     * timeout is 5 min once established) with an empty history */
    f = pkt(t, false, IPPROTO_UDP, 0, 20, 100 * S);
    assert_int_equal(fx->ended, 1);
    assert_string_equal(f->history, "d");
    pkt(t, true, IPPROTO_UDP, 0, 20, 100 * S + 1);
    assert_string_equal(f->history, "dD");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repeats_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_empties, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
