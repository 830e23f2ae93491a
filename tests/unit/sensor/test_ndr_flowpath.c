/*
 * test_ndr_flowpath.c - the detectors' per-flow shortcuts give what the per-packet path
 * gives. The pipeline hands ndr_packet_flow() the packet's flow, on which the detectors keep
 * what is fixed for the flow (ndr_exfil.c: whether the client and the server are internal;
 * ndr_scan.c: whether the connection's answer is counted); a packet without a flow goes the
 * full way. Two detectors see the same packets, one with flows and one without: uploads
 * (internal client), a download pulled by an external client, internal traffic, a vertical
 * scan with a few answered ports, IPv6, and packets handed a flow that is not theirs. Alerts
 * must be the same one for one; the flows' cached bits must say what the CIDR lists say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"
#include "sensor/ndr_int.h"

struct pair {
    struct netgen a; /* with flows */
    struct netgen b; /* without */
    uint64_t ts;
};

static void
pair_init(struct pair *p)
{
    struct ndr_config cfg;
    ndr_config_init(&cfg);
    cfg.exfil_bytes = 20000000; /* 20 MB: a short upload crosses it */
    cfg.scan_vertical_ports = 20;
    assert_int_equal(ng_init(&p->a, &cfg), 0);
    assert_int_equal(ng_init(&p->b, &cfg), 0);
    ndr_config_release(&cfg);
    p->ts = 1700000000 * NG_S;
}

static void
pair_release(struct pair *p)
{
    ng_release(&p->a);
    ng_release(&p->b);
}

/* One packet to both detectors: with f (may be NULL) to a, without a flow to b. */
static void
feed(struct pair *pr, struct net_flow *f, const struct net_addr *src, uint16_t sport,
     const struct net_addr *dst, uint16_t dport, uint8_t flags, uint32_t payload)
{
    struct net_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = pr->ts;
    p.pcap_cnt = ++pr->a.pcap_cnt;
    pr->b.pcap_cnt = pr->a.pcap_cnt;
    p.src = *src;
    p.dst = *dst;
    p.proto = 6;
    p.ttl = 64;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.ip_len = (src->fam == 6 ? 40 : 20) + 32 + payload;
    p.wirelen = p.caplen = p.ip_len + 14;
    p.payload_len = payload;
    ndr_packet_flow(pr->a.d, &p, f, &pr->a.sink);
    ndr_tick(pr->a.d, pr->ts, &pr->a.sink);
    ndr_packet(pr->b.d, &p, &pr->b.sink);
    ndr_tick(pr->b.d, pr->ts, &pr->b.sink);
    pr->ts += 200 * 1000; /* 0.2 ms */
}

static void
flow_init(struct net_flow *f, const struct net_addr *cli, uint16_t cport,
          const struct net_addr *srv, uint16_t sport)
{
    memset(f, 0, sizeof(*f));
    f->cli = *cli;
    f->srv = *srv;
    f->cport = cport;
    f->sport = sport;
    f->proto = 6;
    f->ip_v = cli->fam == 6 ? 6 : 4;
}

/* A TCP connection: handshake (answered or not), then up/down bytes in MSS segments. */
static void
conn(struct pair *pr, struct net_flow *f, const struct net_addr *cli, uint16_t cport,
     const struct net_addr *srv, uint16_t sport, bool answered, uint64_t up, uint64_t down)
{
    feed(pr, f, cli, cport, srv, sport, NET_TCP_SYN, 0);
    if (!answered)
        return;
    feed(pr, f, srv, sport, cli, cport, NET_TCP_SYN | NET_TCP_ACK, 0);
    feed(pr, f, cli, cport, srv, sport, NET_TCP_ACK, 0);
    while (up || down) {
        uint32_t u = (uint32_t)BN_MIN(up, (uint64_t)NG_MSS);
        uint32_t d = (uint32_t)BN_MIN(down, (uint64_t)NG_MSS);
        if (u)
            feed(pr, f, cli, cport, srv, sport, NET_TCP_ACK | NET_TCP_PSH, u);
        if (d)
            feed(pr, f, srv, sport, cli, cport, NET_TCP_ACK | NET_TCP_PSH, d);
        up -= u;
        down -= d;
    }
}

static void
flush_both(struct pair *pr)
{
    ndr_flush(pr->a.d, &pr->a.sink);
    ndr_flush(pr->b.d, &pr->b.sink);
}

static void
same_alerts(const struct pair *pr)
{
    assert_int_equal(pr->a.n_alerts, pr->b.n_alerts);
    for (size_t i = 0; i < pr->a.n_alerts; i++) {
        const struct net_alert *x = &pr->a.alerts[i], *y = &pr->b.alerts[i];
        assert_int_equal(x->sig, y->sig);
        assert_true(ng_addr_eq(&x->src, &y->src));
        assert_true(ng_addr_eq(&x->dst, &y->dst));
        assert_int_equal(x->sport, y->sport);
        assert_int_equal(x->dport, y->dport);
        assert_int_equal(x->first_ns, y->first_ns);
        assert_int_equal(x->last_ns, y->last_ns);
        assert_int_equal(x->count, y->count);
        assert_true(x->score == y->score);
        assert_string_equal(x->detail, y->detail);
    }
}

static void
test_exfil_with_flows(void **state)
{
    (void)state;
    struct pair pr;
    pair_init(&pr);
    struct net_addr in = ng_ip("192.168.1.10"), in2 = ng_ip("10.1.2.3");
    struct net_addr out = ng_ip("198.51.100.20"), out2 = ng_ip("203.0.113.7");
    struct net_flow up, pulled, internal, other;

    /* an upload from an internal client: 30 MB up, 1 MB down */
    flow_init(&up, &in, 50001, &out, 443);
    conn(&pr, &up, &in, 50001, &out, 443, true, 30000000, 1000000);
    assert_int_equal(up.ndr_answered & (NDR_FLOW_IN_KNOWN | NDR_FLOW_CLI_IN | NDR_FLOW_SRV_IN),
                     NDR_FLOW_IN_KNOWN | NDR_FLOW_CLI_IN);
    /* an external client pulling 25 MB from an internal server */
    flow_init(&pulled, &out2, 40000, &in2, 22);
    conn(&pr, &pulled, &out2, 40000, &in2, 22, true, 100000, 25000000);
    assert_int_equal(pulled.ndr_answered & (NDR_FLOW_IN_KNOWN | NDR_FLOW_CLI_IN | NDR_FLOW_SRV_IN),
                     NDR_FLOW_IN_KNOWN | NDR_FLOW_SRV_IN);
    /* internal to internal: never a transfer out */
    flow_init(&internal, &in, 50002, &in2, 445);
    conn(&pr, &internal, &in, 50002, &in2, 445, true, 30000000, 0);
    assert_int_equal(internal.ndr_answered & (NDR_FLOW_CLI_IN | NDR_FLOW_SRV_IN),
                     NDR_FLOW_CLI_IN | NDR_FLOW_SRV_IN);
    /* packets handed a flow that is not theirs (addresses differ): matched afresh */
    flow_init(&other, &in2, 1, &in, 2);
    conn(&pr, &other, &in, 50003, &out2, 8443, true, 22000000, 0);
    flush_both(&pr);

    assert_true(ng_count(&pr.b, NDR_SIG_EXFIL) >= 2);
    same_alerts(&pr);
    pair_release(&pr);
}

static void
test_scan_with_flows(void **state)
{
    (void)state;
    struct pair pr;
    pair_init(&pr);
    struct net_addr scanner = ng_ip("198.51.100.66"), target = ng_ip("192.168.1.20");
    static struct net_flow flows[120];

    /* 120 ports probed, every tenth answered (SYN-ACK, then the client's data) */
    for (uint16_t i = 0; i < 120; i++) {
        flow_init(&flows[i], &scanner, (uint16_t)(40000 + i), &target, (uint16_t)(1000 + i));
        conn(&pr, &flows[i], &scanner, (uint16_t)(40000 + i), &target, (uint16_t)(1000 + i),
             i % 10 == 0, 200, 200);
    }
    /* the same ports again from new source ports (answered ones stay counted once) */
    for (uint16_t i = 0; i < 120; i += 7) {
        struct net_flow f;
        flow_init(&f, &scanner, (uint16_t)(50000 + i), &target, (uint16_t)(1000 + i));
        conn(&pr, &f, &scanner, (uint16_t)(50000 + i), &target, (uint16_t)(1000 + i), true, 10, 10);
    }
    flush_both(&pr);
    assert_int_equal(ng_count(&pr.b, NDR_SIG_SCAN_VERTICAL), 1);
    same_alerts(&pr);
    pair_release(&pr);
}

static void
test_ipv6_with_flows(void **state)
{
    (void)state;
    struct pair pr;
    pair_init(&pr);
    struct net_addr in = ng_ip("fd00::10"), out = ng_ip("2001:db8::20");
    struct net_flow f;
    flow_init(&f, &in, 50001, &out, 443);
    conn(&pr, &f, &in, 50001, &out, 443, true, 25000000, 100000);
    flush_both(&pr);
    assert_int_equal(f.ndr_answered & (NDR_FLOW_IN_KNOWN | NDR_FLOW_CLI_IN | NDR_FLOW_SRV_IN),
                     NDR_FLOW_IN_KNOWN | NDR_FLOW_CLI_IN);
    assert_int_equal(ng_count(&pr.b, NDR_SIG_EXFIL), 1);
    same_alerts(&pr);
    pair_release(&pr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exfil_with_flows),
        cmocka_unit_test(test_scan_with_flows),
        cmocka_unit_test(test_ipv6_with_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
