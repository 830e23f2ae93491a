/*
 * test_flow.c - the flow table (flow.c): directions, counters, TCP state as Suricata reports
 * it, ICMP keys, the bound and its evictions, timeouts, TCP port reuse, Community IDs (the
 * specification's examples, ICMP mapping included), and the eve and Zeek renderings of a
 * finished flow (eve.c, conn.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bannin/buf.h"
#include "bannin/community_id.h"
#include "sensor/pipeline.h"

#define S 1000000000ull

struct ended {
    struct net_flow f[64];
    size_t n;
};

static void
on_end(void *ctx, struct net_flow *f)
{
    struct ended *e = ctx;
    if (e->n < 64)
        e->f[e->n++] = *f;
}

static struct net_pkt
mk(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto, uint8_t flags,
   uint32_t paylen, uint64_t ts)
{
    struct net_pkt k;
    memset(&k, 0, sizeof(k));
    k.ip_v = strchr(src, ':') ? 6 : 4;
    k.src.fam = k.dst.fam = k.ip_v;
    inet_pton(k.ip_v == 6 ? AF_INET6 : AF_INET, src, k.src.a);
    inet_pton(k.ip_v == 6 ? AF_INET6 : AF_INET, dst, k.dst.a);
    k.sport = sp;
    k.dport = dp;
    k.proto = proto;
    k.tcp_flags = flags;
    k.l4_ok = 1;
    k.payload_len = paylen;
    k.pkt_len = 54 + paylen;
    k.ts_ns = ts;
    return k;
}

static struct net_flow *
feed(struct net_flowtab *t, struct net_pkt k, enum net_dir want)
{
    enum net_dir dir;
    struct net_flow *f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    assert_int_equal(dir, want);
    return f;
}

static void
test_tcp_session(void **st)
{
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    const char *c = "10.0.0.1", *s = "10.0.0.2";
    struct net_flow *f;
    char id[BN_COMMUNITY_ID_LEN];
    uint8_t a[4], b[4];

    (void)st;
    assert_non_null(t);
    f = feed(t, mk(c, 40000, s, 80, IPPROTO_TCP, NET_TCP_SYN, 0, 1 * S), NET_TOSERVER);
    assert_int_equal(f->tcp_state, NET_TCP_SYN_SENT);
    assert_int_equal(f->state, NET_FLOW_NEW);
    feed(t, mk(s, 80, c, 40000, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 0, 1 * S), NET_TOCLIENT);
    assert_int_equal(f->tcp_state, NET_TCP_SYN_RECV);
    feed(t, mk(c, 40000, s, 80, IPPROTO_TCP, NET_TCP_ACK, 0, 1 * S), NET_TOSERVER);
    assert_int_equal(f->tcp_state, NET_TCP_ESTABLISHED);
    assert_int_equal(f->state, NET_FLOW_ESTABLISHED);
    struct net_pkt d1 = mk(c, 40000, s, 80, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 100, 2 * S);
    struct net_pkt d2 = mk(s, 80, c, 40000, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 500, 2 * S);
    d1.tcp_seq = 1; /* after the SYN at 0 */
    d2.tcp_seq = 1;
    feed(t, d1, NET_TOSERVER);
    feed(t, d1, NET_TOSERVER); /* a retransmission: counted as a packet, not as new bytes */
    feed(t, d2, NET_TOCLIENT);
    /* the client closes first: close_wait, then last_ack, then closed */
    feed(t, mk(c, 40000, s, 80, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 0, 3 * S),
         NET_TOSERVER);
    assert_int_equal(f->tcp_state, NET_TCP_CLOSE_WAIT);
    feed(t, mk(s, 80, c, 40000, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 0, 3 * S),
         NET_TOCLIENT);
    assert_int_equal(f->tcp_state, NET_TCP_LAST_ACK);
    assert_int_equal(f->state, NET_FLOW_CLOSED);
    feed(t, mk(c, 40000, s, 80, IPPROTO_TCP, NET_TCP_ACK, 0, 3 * S), NET_TOSERVER);
    assert_int_equal(f->tcp_state, NET_TCP_CLOSED);
    assert_int_equal(f->pkts[NET_TOSERVER], 6);
    assert_int_equal(f->pkts[NET_TOCLIENT], 3);
    assert_int_equal(f->bytes[NET_TOSERVER], 6 * 54 + 200);
    assert_int_equal(net_flow_app_bytes(f, NET_TOSERVER), 100);
    assert_int_equal(net_flow_app_bytes(f, NET_TOCLIENT), 500);
    assert_int_equal(f->payload_bytes[NET_TOCLIENT], 500);
    assert_int_equal(f->tcp_flags[NET_TOSERVER], 0x1b);
    assert_int_equal(f->tcp_flags[NET_TOCLIENT], 0x1b);
    assert_string_equal(f->history, "ShADdFf"); /* the server never sent a bare ACK */
    inet_pton(AF_INET, c, a);
    inet_pton(AF_INET, s, b);
    bn_community_id(0, AF_INET, IPPROTO_TCP, b, a, 80, 40000, id, sizeof(id));
    assert_string_equal(f->community_id, id);
    assert_string_equal(net_conn_state(f), "SF");

    /* eve and Zeek renderings of the finished flow */
    net_flow_flush(t, NET_END_SHUTDOWN);
    assert_int_equal(e.n, 1);
    struct net_record r = {NET_REC_FLOW, 3 * S, &e.f[0], 0, &e.f[0], 0, NULL};
    struct bn_buf b1;
    bn_buf_init(&b1, 1 << 16);
    assert_int_equal(net_eve_render(NULL, &r, &b1), 0);
    assert_non_null(strstr(b1.p, "\"event_type\":\"flow\",\"src_ip\":\"10.0.0.1\","
                                 "\"src_port\":40000,\"dest_ip\":\"10.0.0.2\",\"dest_port\":80,"
                                 "\"proto\":\"TCP\""));
    assert_non_null(strstr(b1.p, "\"flow\":{\"pkts_toserver\":6,\"pkts_toclient\":3,"
                                 "\"bytes_toserver\":524,\"bytes_toclient\":662,"
                                 "\"start\":\"1970-01-01T00:00:01.000000+0000\","
                                 "\"end\":\"1970-01-01T00:00:03.000000+0000\",\"age\":2,"
                                 "\"state\":\"closed\",\"reason\":\"shutdown\","
                                 "\"alerted\":false}"));
    assert_non_null(strstr(b1.p, "\"tcp\":{\"tcp_flags\":\"1b\",\"tcp_flags_ts\":\"1b\","
                                 "\"tcp_flags_tc\":\"1b\",\"syn\":true,\"fin\":true,"
                                 "\"psh\":true,\"ack\":true,\"state\":\"closed\"}"));
    bn_buf_reset(&b1);
    assert_int_equal(net_conn_zeek(&e.f[0], &b1), 0);
    assert_non_null(strstr(b1.p, "\"_path\":\"conn\",\"ts\":1.000000"));
    assert_non_null(strstr(b1.p, "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":40000,"
                                 "\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":80,"
                                 "\"proto\":\"tcp\""));
    assert_non_null(strstr(b1.p, "\"conn_state\":\"SF\""));
    assert_non_null(strstr(b1.p, "\"orig_bytes\":100,\"resp_bytes\":500"));
    bn_buf_release(&b1);
    net_flowtab_free(t);
}

static void
test_synack_first_and_reuse(void **st)
{
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    struct net_flow_stats fs;
    struct net_flow *f;

    (void)st;
    /* the capture missed the SYN: the SYN-ACK's receiver is the client */
    f = feed(t, mk("10.0.0.2", 22, "10.0.0.1", 5000, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 0,
                   S),
             NET_TOCLIENT);
    assert_int_equal(f->cport, 5000);
    assert_int_equal(f->sport, 22);
    feed(t, mk("10.0.0.1", 5000, "10.0.0.2", 22, IPPROTO_TCP, NET_TCP_RST, 0, S), NET_TOSERVER);
    assert_int_equal(f->tcp_state, NET_TCP_CLOSED);
    /* a new SYN on the same tuple is a new connection: the old flow ends */
    f = feed(t, mk("10.0.0.1", 5000, "10.0.0.2", 22, IPPROTO_TCP, NET_TCP_SYN, 0, 2 * S),
             NET_TOSERVER);
    assert_int_equal(e.n, 1);
    assert_int_equal(f->pkts[NET_TOSERVER], 1);
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.tcp_reversed, 1);
    assert_int_equal(fs.tcp_reused, 1);
    assert_int_equal(fs.created, 2);
    net_flow_flush(t, NET_END_SHUTDOWN);
    net_flowtab_free(t);
}

static void
test_icmp_keys_and_community_id(void **st)
{
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    struct net_flow *req, *rep, *other;

    (void)st;
    /* echo request and its reply share a flow ... */
    req = feed(t, mk("192.168.0.89", 8, "192.168.0.1", 0, IPPROTO_ICMP, 0, 56, S), NET_TOSERVER);
    rep = feed(t, mk("192.168.0.1", 0, "192.168.0.89", 0, IPPROTO_ICMP, 0, 56, S), NET_TOCLIENT);
    assert_ptr_equal(req, rep);
    /* the specification's ICMP example */
    assert_string_equal(req->community_id, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    assert_int_equal(req->icmp_type[NET_TOSERVER], 8);
    assert_int_equal(req->icmp_type[NET_TOCLIENT], 0);
    assert_int_equal(req->state, NET_FLOW_ESTABLISHED);
    /* ... a reply sent the same way as the request is another flow (Suricata's key) */
    other = feed(t, mk("192.168.0.89", 0, "192.168.0.1", 0, IPPROTO_ICMP, 0, 56, S),
                 NET_TOSERVER);
    assert_ptr_not_equal(other, req);
    net_flow_flush(t, NET_END_SHUTDOWN);
    assert_int_equal(e.n, 2);
    net_flowtab_free(t);

    /* the specification's TCP and UDP examples, both ways, and a seed */
    char id[BN_COMMUNITY_ID_LEN], id2[BN_COMMUNITY_ID_LEN];
    uint8_t a[4], b[4];
    inet_pton(AF_INET, "128.232.110.120", a);
    inet_pton(AF_INET, "66.35.250.204", b);
    int rc = bn_community_id(0, AF_INET, IPPROTO_TCP, a, b, 34855, 80, id, sizeof(id));
    assert_int_equal(rc,
                     0);
    assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    bn_community_id(0, AF_INET, IPPROTO_TCP, b, a, 80, 34855, id2, sizeof(id2));
    assert_string_equal(id, id2);
    bn_community_id(1, AF_INET, IPPROTO_TCP, a, b, 34855, 80, id, sizeof(id));
    assert_string_equal(id, "1:3V71V58M3Ksw/yuFALMcW0LAHvc=");
    /* suricata-verify community-id-sameip: one address both ends, seed 1 */
    inet_pton(AF_INET, "192.168.0.254", a);
    bn_community_id(1, AF_INET, IPPROTO_TCP, a, a, 56162, 3306, id, sizeof(id));
    assert_string_equal(id, "1:IJQHtzXv/tXud3FtXIufkDsfEd4=");
    assert_int_equal(bn_icmp_peer_type(IPPROTO_ICMPV6, 128), 129);
    assert_int_equal(bn_icmp_peer_type(IPPROTO_ICMP, 3), -1);
}

static void
test_bound_and_timeouts(void **st)
{
    struct ended e = {0};
    struct net_flow_cfg cfg;
    struct net_flowtab *t;
    struct net_flow_stats fs;
    char src[32];

    (void)st;
    net_flow_cfg_default(&cfg);
    cfg.max_flows = 4;
    t = net_flowtab_new(&cfg, on_end, &e);
    for (int i = 0; i < 10; i++) {
        snprintf(src, sizeof(src), "10.1.0.%d", i + 1);
        feed(t, mk(src, 1000, "10.2.0.1", 53, IPPROTO_UDP, 0, 30, S + (uint64_t)i),
             NET_TOSERVER);
    }
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.created, 10);
    assert_int_equal(fs.ended_forced, 6);
    assert_int_equal(fs.active, 4);
    /* the oldest went first */
    assert_int_equal(e.f[0].end, NET_END_FORCED);
    assert_int_equal(e.f[0].cli.a[3], 1);
    assert_int_equal(e.f[5].cli.a[3], 6);
    /* UDP flows time out after 30 s of silence (Suricata's default) */
    feed(t, mk("10.9.0.1", 1, "10.9.0.2", 2, IPPROTO_UDP, 0, 0, 1 * S + 10), NET_TOSERVER);
    net_flow_expire(t, 1 * S + 31 * S);
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.ended_timeout, 4);
    assert_int_equal(fs.active, 0);
    assert_int_equal(e.f[e.n - 1].end, NET_END_TIMEOUT);
    /* two packets of one flow far apart in time: one flow, no early timeout */
    e.n = 0;
    struct net_flow *f = feed(t, mk("10.9.0.1", 1, "10.9.0.2", 2, IPPROTO_UDP, 0, 0, 100 * S),
                              NET_TOSERVER);
    feed(t, mk("10.9.0.2", 2, "10.9.0.1", 1, IPPROTO_UDP, 0, 0, 120 * S), NET_TOCLIENT);
    assert_int_equal(f->pkts[0] + f->pkts[1], 2);
    assert_int_equal(e.n, 0);
    net_flow_flush(t, NET_END_SHUTDOWN);
    net_flowtab_free(t);
}

/* Many flows through a small table: the index stays consistent under heavy churn. */
static void
test_churn(void **st)
{
    struct net_flow_cfg cfg;
    struct net_flowtab *t;
    struct net_flow_stats fs;
    char src[32];

    (void)st;
    net_flow_cfg_default(&cfg);
    cfg.max_flows = 64;
    t = net_flowtab_new(&cfg, NULL, NULL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) {
            snprintf(src, sizeof(src), "10.%d.%d.%d", round, i / 250, i % 250);
            enum net_dir dir;
            struct net_pkt k = mk(src, (uint16_t)i, "10.200.0.1", 80, IPPROTO_TCP, NET_TCP_SYN,
                                  0, S + (uint64_t)(round * 1000 + i));
            assert_non_null(net_flow_packet(t, &k, &dir));
            /* the flow just made must be found again, both ways */
            k.tcp_flags = NET_TCP_ACK;
            struct net_flow *f = net_flow_packet(t, &k, &dir);
            assert_int_equal(f->pkts[NET_TOSERVER], 2);
        }
    }
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.created, 3000);
    assert_int_equal(fs.active, 64);
    assert_int_equal(fs.ended_forced, 3000 - 64);
    net_flowtab_free(t);
}

/*
 * Entries come fresh until the bound, except that a flow's freed entry is taken first (the
 * newest freed first): the table touches no entry before a flow needs it, and evicts only
 * when every entry is in use.
 */
static void
test_fresh_and_freed_entries(void **st)
{
    struct ended e = {0};
    struct net_flow_cfg cfg;
    struct net_flowtab *t;
    struct net_flow_stats fs;
    struct net_flow *a, *b, *c, *f[5];
    char src[32];

    (void)st;
    net_flow_cfg_default(&cfg);
    cfg.max_flows = 4;
    t = net_flowtab_new(&cfg, on_end, &e);
    a = feed(t, mk("10.1.0.1", 1000, "10.2.0.1", 53, IPPROTO_UDP, 0, 30, S), NET_TOSERVER);
    b = feed(t, mk("10.1.0.2", 1000, "10.2.0.1", 53, IPPROTO_UDP, 0, 30, S + 1), NET_TOSERVER);
    c = feed(t, mk("10.1.0.3", 1000, "10.2.0.1", 53, IPPROTO_UDP, 0, 30, S + 2), NET_TOSERVER);
    assert_true(a != b && b != c && a != c);
    net_flow_expire(t, 40 * S); /* a, b, c time out in that order */
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.ended_timeout, 3);
    assert_int_equal(fs.active, 0);
    for (int i = 0; i < 5; i++) {
        snprintf(src, sizeof(src), "10.3.0.%d", i + 1);
        f[i] = feed(t, mk(src, 2000, "10.2.0.1", 53, IPPROTO_UDP, 0, 30, 50 * S + (uint64_t)i),
                    NET_TOSERVER);
        net_flowtab_stats(t, &fs);
        assert_int_equal(fs.ended_forced, i < 4 ? 0 : 1); /* no eviction below the bound */
    }
    /* the freed entries newest first, then a fresh one; the fifth flow evicted the oldest
     * (f[0]) and took its entry */
    assert_ptr_equal(f[0], c);
    assert_ptr_equal(f[1], b);
    assert_ptr_equal(f[2], a);
    assert_true(f[3] != a && f[3] != b && f[3] != c);
    assert_ptr_equal(f[4], c);
    assert_int_equal(e.f[e.n - 1].end, NET_END_FORCED);
    assert_int_equal(e.f[e.n - 1].cli.a[3], 1); /* 10.3.0.1 */
    net_flowtab_stats(t, &fs);
    assert_int_equal(fs.active, 4);
    net_flow_flush(t, NET_END_SHUTDOWN);
    net_flowtab_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_session),
        cmocka_unit_test(test_synack_first_and_reuse),
        cmocka_unit_test(test_icmp_keys_and_community_id),
        cmocka_unit_test(test_bound_and_timeouts),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_fresh_and_freed_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
