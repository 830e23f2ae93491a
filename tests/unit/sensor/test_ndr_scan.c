/*
 * test_ndr_scan.c - port scans and host sweeps (ndr_scan.c, ndr_sweep.c) against generated
 * traffic: a vertical scan of 1,000 ports, a horizontal scan of a /24 on 445, a /24 ping
 * sweep (IPv4 and IPv6), an ARP sweep; and their benign counterparts: a browser reaching
 * 120 servers in a minute, passive FTP over 150 data ports, a capture that holds only the
 * client's direction, monitoring pings, gratuitous ARP and DHCP address probes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netgen.h"

static void
syn_probe(struct netgen *g, uint64_t t, const struct net_addr *src, uint16_t sport,
          const struct net_addr *dst, uint16_t dport, enum ng_answer ans)
{
    ng_packet(g, t, src, sport, dst, dport, 6, NET_TCP_SYN, 0);
    if (ans == NG_OPEN) {
        ng_packet(g, t + 300000, dst, dport, src, sport, 6, NET_TCP_SYN | NET_TCP_ACK, 0);
        ng_packet(g, t + 400000, src, sport, dst, dport, 6, NET_TCP_RST, 0);
    } else if (ans == NG_CLOSED) {
        ng_packet(g, t + 300000, dst, dport, src, sport, 6, NET_TCP_RST | NET_TCP_ACK, 0);
    }
}

static void
test_vertical_scan(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned p = 1; p <= 1000; p++) {
        enum ng_answer a = (p == 22 || p == 80 || p == 443) ? NG_OPEN : NG_CLOSED;
        syn_probe(&g, t + p * NG_MS, &atk, 61000, &tgt, (uint16_t)p, a);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_VERTICAL), 1);
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_HORIZONTAL), 0);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_SCAN_VERTICAL);
    assert_non_null(a);
    assert_true(ng_addr_eq(&a->src, &atk));
    assert_true(a->has_dst);
    assert_int_equal(a->signature_id, NDR_SID_BASE + NDR_SIG_SCAN_VERTICAL);
    assert_string_equal(a->mitre, "T1046");
    assert_int_equal(a->severity, 3);
    assert_non_null(strstr(a->detail, "100 TCP ports probed on 192.168.1.10"));
    assert_true(a->score >= 95);
    /* The rest of the scan is in the same window: no second alert, nothing suppressed. */
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    assert_int_equal(st.alerts[NDR_SIG_SCAN_VERTICAL], 1);
    ng_release(&g);
}

static void
test_horizontal_scan(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("10.0.0.66");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned h = 1; h <= 254; h++) {
        struct net_addr tgt = ng_ip4(10, 0, 1, h);
        syn_probe(&g, t + h * 5 * NG_MS, &atk, (uint16_t)(40000 + h), &tgt, 445,
                  h % 25 == 0 ? NG_OPEN : NG_FILTERED);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_HORIZONTAL), 1);
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_VERTICAL), 0);
    const struct net_alert *a = ng_find(&g, NDR_SIG_SCAN_HORIZONTAL);
    assert_non_null(a);
    assert_int_equal(a->dport, 445);
    assert_non_null(strstr(a->detail, "64 hosts probed on TCP port 445"));
    ng_release(&g);
}

/* A browser reaching 120 servers on 443 within a minute: every SYN is answered. */
static void
test_benign_many_servers(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr cli = ng_ip("192.168.1.10");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned h = 0; h < 120; h++) {
        struct ng_conn c = {0};
        c.cli = cli;
        c.srv = ng_ip4(151, 101, h / 50, h % 50 + 1);
        c.cport = (uint16_t)(50000 + h);
        c.sport = 443;
        c.start = t + h * 400 * NG_MS;
        c.dur = 2 * NG_S;
        c.up = 1500;
        c.down = 60000;
        c.packets = true;
        ng_conn(&g, &c);
    }
    /* Passive FTP: 150 data connections to consecutive server ports, all accepted. */
    struct net_addr ftp = ng_ip("198.51.100.21");
    for (unsigned p = 0; p < 150; p++) {
        struct ng_conn c = {0};
        c.cli = cli;
        c.srv = ftp;
        c.cport = (uint16_t)(30000 + p);
        c.sport = (uint16_t)(50000 + p);
        c.start = t + 60 * NG_S + p * 200 * NG_MS;
        c.dur = 100 * NG_MS;
        c.down = 4000;
        c.packets = true;
        ng_conn(&g, &c);
    }
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* Only the client's direction is captured: its data after the SYN shows it was answered. */
static void
test_benign_one_direction(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr cli = ng_ip("192.168.1.10");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned h = 0; h < 200; h++) {
        struct net_addr srv = ng_ip4(93, 184, h / 100, h % 100 + 1);
        uint64_t s = t + h * 250 * NG_MS;
        ng_packet(&g, s, &cli, (uint16_t)(40000 + h), &srv, 443, 6, NET_TCP_SYN, 0);
        ng_packet(&g, s + NG_MS, &cli, (uint16_t)(40000 + h), &srv, 443, 6, NET_TCP_ACK, 0);
        ng_packet(&g, s + 2 * NG_MS, &cli, (uint16_t)(40000 + h), &srv, 443, 6,
                  NET_TCP_ACK | NET_TCP_PSH, 517);
    }
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* The same scan every 2 minutes for an hour and a half: one alert per hour, with counts. */
static void
test_scan_dedup(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned round = 0; round < 45; round++)
        for (unsigned p = 1; p <= 150; p++)
            syn_probe(&g, t + round * 120 * NG_S + p * NG_MS, &atk, 61000, &tgt, (uint16_t)p,
                      NG_CLOSED);
    /* Rounds at 0..58 min fold into the first alert; the round at 60 min opens a new one. */
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_VERTICAL), 2);
    assert_int_equal(g.alerts[0].count, 1);
    assert_int_equal(g.alerts[1].count, 30);
    struct ndr_stats st;
    ndr_stats(g.d, &st);
    assert_int_equal(st.suppressed[NDR_SIG_SCAN_VERTICAL], 45 - 2);
    ng_release(&g);
}

static void
test_icmp_sweep(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("192.168.1.66");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned h = 1; h <= 254; h++) {
        struct net_addr tgt = ng_ip4(192, 168, 1, h);
        ng_icmp_echo(&g, t + h * 10 * NG_MS, &atk, &tgt, false);
        if (h % 12 == 0)
            ng_icmp_echo(&g, t + h * 10 * NG_MS + 500000, &tgt, &atk, true);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SWEEP_ICMP), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_SWEEP_ICMP);
    assert_non_null(strstr(a->detail, "ICMP echo request to 64 hosts"));
    assert_non_null(strstr(a->detail, "192.168.1.1 .. 192.168.1.64"));
    assert_non_null(strstr(a->detail, "5 replied"));
    assert_string_equal(a->mitre, "T1018");

    /* IPv6: ICMPv6 echo to 100 addresses of a /64. */
    struct net_addr atk6 = ng_ip("2001:db8::66");
    for (unsigned h = 1; h <= 100; h++) {
        struct net_addr tgt = ng_ip("2001:db8::");
        tgt.a[15] = (uint8_t)h;
        ng_icmp_echo(&g, t + 10 * NG_S + h * 10 * NG_MS, &atk6, &tgt, false);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SWEEP_ICMP), 2);
    ng_release(&g);
}

static void
test_arp_sweep(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("192.168.1.66");
    uint64_t t = 1700000000 * NG_S;
    for (unsigned h = 1; h <= 254; h++) {
        struct net_addr tgt = ng_ip4(192, 168, 1, h);
        ng_arp(&g, t + h * 4 * NG_MS, &atk, &tgt, 1);
        if (h < 20)
            ng_arp(&g, t + h * 4 * NG_MS + 100000, &tgt, &atk, 2);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SWEEP_ARP), 1);
    assert_int_equal(ng_total(&g), 1);
    assert_non_null(strstr(ng_find(&g, NDR_SIG_SWEEP_ARP)->detail, "19 replied"));
    ng_release(&g);
}

/* IPv6: neighbour solicitations for 100 addresses of a /64 (the ARP sweep's equivalent). */
static void
test_nd_sweep(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("fe80::66"), any = ng_ip("::");
    uint64_t t = 1700000000 * NG_S;
    /* Joining hosts' duplicate address detection (from ::) and a host asking for its
     * router now and then do not count. */
    struct net_addr router = ng_ip("2001:db8::1");
    for (unsigned h = 1; h <= 150; h++) {
        struct net_addr me = ng_ip("2001:db8::");
        me.a[14] = 1;
        me.a[15] = (uint8_t)h;
        struct net_addr sn = ng_ip("ff02::1:ff00:0");
        ng_nd(&g, t + h * NG_MS, &any, &sn, &me, 135);
        ng_nd(&g, t + h * NG_MS + 1, &me, &sn, &router, 135);
    }
    assert_int_equal(ng_total(&g), 0);
    for (unsigned h = 1; h <= 100; h++) {
        struct net_addr tgt = ng_ip("2001:db8::");
        tgt.a[15] = (uint8_t)h;
        struct net_addr sn = ng_ip("ff02::1:ff00:0");
        sn.a[15] = (uint8_t)h;
        ng_nd(&g, t + 10 * NG_S + h * 5 * NG_MS, &atk, &sn, &tgt, 135);
        if (h % 10 == 0)
            ng_nd(&g, t + 10 * NG_S + h * 5 * NG_MS + 100000, &tgt, &atk, &tgt, 136);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SWEEP_ARP), 1);
    assert_int_equal(ng_total(&g), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_SWEEP_ARP);
    assert_non_null(strstr(a->detail, "IPv6 neighbour solicitation to 64 hosts"));
    assert_non_null(strstr(a->detail, "6 replied"));
    ng_release(&g);
}

static void
test_benign_sweeps(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    /* 200 hosts join: each announces itself (gratuitous ARP) and probes from 0.0.0.0. */
    struct net_addr zero = ng_ip("0.0.0.0");
    for (unsigned h = 1; h <= 200; h++) {
        struct net_addr me = ng_ip4(192, 168, 1, h);
        ng_arp(&g, t + h * 50 * NG_MS, &zero, &me, 1);
        ng_arp(&g, t + h * 50 * NG_MS + NG_MS, &me, &me, 1);
    }
    /* A gateway answering for everyone, and monitoring pinging 30 servers every 10 s. */
    struct net_addr mon = ng_ip("192.168.1.5");
    for (unsigned s = 0; s < 60; s++)
        for (unsigned i = 0; i < 30; i++) {
            struct net_addr srv = ng_ip4(192, 168, 2, 10 + i);
            ng_icmp_echo(&g, t + 20 * NG_S + s * 10 * NG_S + i * NG_MS, &mon, &srv, false);
            ng_icmp_echo(&g, t + 20 * NG_S + s * 10 * NG_S + i * NG_MS + 200000, &srv, &mon, true);
        }
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* One UDP flow: a datagram of 40 bytes, answered with one of 60 when reply. */
static void
udp_flow(struct netgen *g, uint64_t t, const struct net_addr *cli, uint16_t cport,
         const struct net_addr *srv, uint16_t sport, bool reply)
{
    struct ng_conn c = {0};
    c.cli = *cli;
    c.srv = *srv;
    c.cport = cport;
    c.sport = sport;
    c.proto = 17;
    c.start = t;
    c.dur = reply ? 20 * NG_MS : 0;
    c.up = 40;
    c.down = reply ? 60 : 0;
    ng_conn(g, &c);
}

static void
test_udp_scans(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    uint64_t t = 1700000000 * NG_S;
    /* 1,000 UDP ports; closed ones answer ICMP port unreachable (not a UDP reply). */
    for (unsigned p = 1; p <= 1000; p++)
        udp_flow(&g, t + p * 2 * NG_MS, &atk, 53000, &tgt, (uint16_t)p,
                 p == 53 || p == 123 || p == 161);
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_VERTICAL), 1);
    const struct net_alert *a = ng_find(&g, NDR_SIG_SCAN_VERTICAL);
    assert_non_null(a);
    assert_int_equal(a->proto, 17);
    assert_non_null(strstr(a->detail, "100 UDP ports probed on 192.168.1.10"));
    /* SNMP over a /24 from another source, a few devices answering. */
    struct net_addr mgr = ng_ip("10.0.0.99");
    for (unsigned h = 1; h <= 254; h++) {
        struct net_addr dev = ng_ip4(10, 0, 5, h);
        udp_flow(&g, t + 10 * NG_S + h * 5 * NG_MS, &mgr, 50161, &dev, 161, h % 20 == 0);
    }
    assert_int_equal(ng_count(&g, NDR_SIG_SCAN_HORIZONTAL), 1);
    assert_non_null(strstr(ng_find(&g, NDR_SIG_SCAN_HORIZONTAL)->detail, "UDP port 161"));
    assert_int_equal(ng_total(&g), 2);
    ng_release(&g);
}

static void
test_udp_benign(void **state)
{
    (void)state;
    struct netgen g;
    assert_int_equal(ng_init(&g, NULL), 0);
    uint64_t t = 1700000000 * NG_S;
    struct net_addr cli = ng_ip("192.168.1.10"), res = ng_ip("192.168.1.1");
    /* A busy client: 500 lookups from random ports, all answered. */
    for (unsigned i = 0; i < 500; i++)
        udp_flow(&g, t + i * 50 * NG_MS, &cli, (uint16_t)(20000 + i * 7), &res, 53, true);
    /* The resolver asking 200 authoritative servers, 10% of them lame. */
    for (unsigned i = 0; i < 200; i++) {
        struct net_addr ns = ng_ip4(198, 51, 100 + i / 100, i % 100 + 1);
        udp_flow(&g, t + i * 100 * NG_MS, &res, (uint16_t)(30000 + i), &ns, 53, i % 10 != 0);
    }
    /* traceroute: 90 probes to the traceroute ports of one host, none answered by UDP. */
    struct net_addr far = ng_ip("203.0.113.200");
    for (unsigned i = 0; i < 90; i++)
        udp_flow(&g, t + i * 10 * NG_MS, &cli, (uint16_t)(40000 + i), &far, (uint16_t)(33434 + i),
                 false);
    /* QUIC to 120 servers, SSDP and NetBIOS to group addresses, a DHT node's chatter. */
    for (unsigned i = 0; i < 120; i++) {
        struct net_addr srv = ng_ip4(142, 250, i / 50, i % 50 + 1);
        udp_flow(&g, t + i * 300 * NG_MS, &cli, (uint16_t)(50000 + i), &srv, 443, true);
    }
    struct net_addr ssdp = ng_ip("239.255.255.250"), bcast = ng_ip("255.255.255.255");
    for (unsigned h = 1; h <= 100; h++) {
        struct net_addr host = ng_ip4(192, 168, 1, h);
        udp_flow(&g, t + h * NG_MS, &host, 1900, &ssdp, 1900, false);
        udp_flow(&g, t + h * NG_MS, &host, 68, &bcast, 67, false);
    }
    for (unsigned i = 0; i < 300; i++) {
        struct net_addr peer = ng_ip4(100, 64 + i % 50, i / 50, (i * 37) % 250 + 1);
        udp_flow(&g, t + i * 150 * NG_MS, &cli, 6881, &peer, (uint16_t)(10000 + i * 131 % 50000),
                 i % 2 == 0);
    }
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
}

/* A source in ndr.ignore_src is never alerted on. */
static void
test_ignore_src(void **state)
{
    (void)state;
    struct ndr_config cfg;
    assert_int_equal(ndr_config_init(&cfg), 0);
    bn_free(cfg.ignore_src);
    cfg.ignore_src = bn_strdup("203.0.113.0/24");
    struct netgen g;
    assert_int_equal(ng_init(&g, &cfg), 0);
    struct net_addr atk = ng_ip("203.0.113.50"), tgt = ng_ip("192.168.1.10");
    for (unsigned p = 1; p <= 500; p++)
        syn_probe(&g, 1700000000 * NG_S + p * NG_MS, &atk, 61000, &tgt, (uint16_t)p, NG_CLOSED);
    assert_int_equal(ng_total(&g), 0);
    ng_release(&g);
    ndr_config_release(&cfg);
}

int
main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vertical_scan),
        cmocka_unit_test(test_horizontal_scan),
        cmocka_unit_test(test_benign_many_servers),
        cmocka_unit_test(test_benign_one_direction),
        cmocka_unit_test(test_scan_dedup),
        cmocka_unit_test(test_icmp_sweep),
        cmocka_unit_test(test_arp_sweep),
        cmocka_unit_test(test_nd_sweep),
        cmocka_unit_test(test_benign_sweeps),
        cmocka_unit_test(test_ignore_src),
        cmocka_unit_test(test_udp_scans),
        cmocka_unit_test(test_udp_benign),
    };
    /* clang-format on */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
