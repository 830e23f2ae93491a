/*
 * test_zeek_conn.c - Zeek's view of the traffic where it differs from Suricata's flows:
 * a flow holding several Zeek connections (the attempt timer, the close delay, a reused
 * initial sequence number, inactivity, the DNS session timer; flow.c zk_*, conn.c), IP
 * protocols only Zeek logs (zeek_only flows: conn.log, no eve record), the query Zeek logs
 * for a DNS reply it cannot pair (app_eve.c), DNS replies paired with their query across
 * VLANs (Zeek's connections have no VLAN in their key), Zeek's LOC answer text and its
 * rendering of a dynamic update; HTTP/0.9 as Zeek logs it (the empty entry after the
 * exchange is in test_app_http.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"
#include "sensor/pipeline.h"

#define S  1000000000ull
#define MS 1000000ull

struct ended {
    struct net_flow f[16];
    size_t n;
};

static void
on_end(void *ctx, struct net_flow *f)
{
    struct ended *e = ctx;
    if (e->n < 16)
        e->f[e->n++] = *f;
}

static const char *C = "10.0.0.1", *SV = "10.0.0.2";

static struct net_pkt
mk(bool to_server, uint8_t proto, uint8_t flags, uint32_t seq, uint32_t paylen, uint64_t ts)
{
    struct net_pkt k;
    memset(&k, 0, sizeof(k));
    k.ip_v = 4;
    k.src.fam = k.dst.fam = 4;
    inet_pton(AF_INET, to_server ? C : SV, k.src.a);
    inet_pton(AF_INET, to_server ? SV : C, k.dst.a);
    bool ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP;
    k.sport = ports ? (to_server ? 40000 : 53) : 0;
    k.dport = ports ? (to_server ? 53 : 40000) : 0;
    k.proto = proto;
    k.tcp_flags = flags;
    k.tcp_seq = seq;
    k.l4_ok = ports;
    k.payload_len = paylen;
    k.ip_len = 40 + paylen;
    k.pkt_len = 54 + paylen;
    k.ts_ns = ts;
    return k;
}

static struct net_flow *
pkt(struct net_flowtab *t, bool to_server, uint8_t proto, uint8_t flags, uint32_t seq,
    uint32_t paylen, uint64_t ts)
{
    enum net_dir dir;
    struct net_pkt k = mk(to_server, proto, flags, seq, paylen, ts);
    struct net_flow *f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    assert_int_equal(dir, to_server ? NET_TOSERVER : NET_TOCLIENT);
    return f;
}

static char zb[4096];

static const char *
zeek(const struct net_flow *f)
{
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(net_conn_zeek(f, &b), 0);
    snprintf(zb, sizeof(zb), "%s", b.p);
    bn_buf_release(&b);
    return zb;
}

#define HAS(s, sub)   assert_non_null(strstr((s), (sub)))
#define HASNT(s, sub) assert_null(strstr((s), (sub)))

static void
test_attempt_timer(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    /* a SYN never answered, the client sending anyway (half-duplex capture) */
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1000, 0, 0);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 1001, 100, 1 * S);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 1101, 50, 3 * S);
    assert_int_equal(e.n, 0);
    /* 5 s after the SYN Zeek gave up: this packet opens a new Zeek connection */
    struct net_flow *f = pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 1151, 20, 6 * S);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.f[0].end, NET_END_ZEEK);
    assert_true(e.f[0].zeek_only);
    const char *z = zeek(&e.f[0]);
    HAS(z, "\"ts\":0.000000");
    HAS(z, "\"duration\":3.000000,\"orig_bytes\":150,\"resp_bytes\":0");
    HAS(z, "\"conn_state\":\"S0\"");
    HAS(z, "\"history\":\"SD\",\"orig_pkts\":3,\"orig_ip_bytes\":270,\"resp_pkts\":0");
    /* the flow goes on for eve; its Zeek rendering is the new connection */
    assert_int_equal(f->pkts[NET_TOSERVER], 4);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 1171, 0, 7 * S);
    z = zeek(f);
    HAS(z, "\"ts\":6.000000");
    HAS(z, "\"duration\":1.000000,\"orig_bytes\":20,\"resp_bytes\":0");
    HAS(z, "\"history\":\"DF\",\"orig_pkts\":2,\"orig_ip_bytes\":100,\"resp_pkts\":0");
    struct net_flow_stats st;
    net_flowtab_stats(t, &st);
    assert_int_equal(st.zeek_splits, 1);
    net_flow_flush(t, NET_END_SHUTDOWN);
    assert_int_equal(e.n, 2);
    assert_false(e.f[1].zeek_only);
    assert_int_equal(e.f[1].pkts[NET_TOSERVER], 5);
    struct net_record r = {NET_REC_FLOW, 7 * S, &e.f[1], 0, &e.f[1], 0, NULL, 0};
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(net_eve_render(NULL, &r, &b), 0);
    HAS(b.p, "\"pkts_toserver\":5,\"pkts_toclient\":0");
    bn_buf_release(&b);
    net_flowtab_free(t);
}

static void
test_close_delay_and_reuse(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1000, 0, 0);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 9000, 0, 10 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 1001, 0, 20 * MS);
    /* a SYN retransmitted with the same ISN is the same connection */
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1000, 0, 30 * MS);
    assert_int_equal(e.n, 0);
    /* a new ISN: Zeek sees the connection reused */
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 77000, 0, 1 * S);
    assert_int_equal(e.n, 1);
    HAS(zeek(&e.f[0]), "\"orig_pkts\":3,\"orig_ip_bytes\":120,\"resp_pkts\":1");
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 5000, 0, 1 * S + 10 * MS);
    /* the client resets: Zeek forgets the connection 5 s later */
    struct net_flow *f = pkt(t, true, IPPROTO_TCP, NET_TCP_RST, 77001, 0, 2 * S);
    pkt(t, false, IPPROTO_TCP, NET_TCP_ACK, 5001, 0, 6 * S); /* within 5 s: same */
    assert_int_equal(e.n, 1);
    HAS(zeek(f), "\"conn_state\":\"RSTO\"");
    pkt(t, false, IPPROTO_TCP, NET_TCP_RST, 5001, 0, 8 * S); /* 6 s after the RST: new */
    assert_int_equal(e.n, 2);
    HAS(zeek(&e.f[1]), "\"history\":\"ShRa\",\"orig_pkts\":2,\"orig_ip_bytes\":80,"
                       "\"resp_pkts\":2");
    const char *z = zeek(f);
    HAS(z, "\"ts\":8.000000");
    HAS(z, "\"history\":\"r\",\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":1");
    /* eve's flow: everything, one record */
    assert_int_equal(f->pkts[NET_TOSERVER], 5);
    assert_int_equal(f->pkts[NET_TOCLIENT], 4);
    net_flowtab_free(t);
}

static void
test_normal_close_then_late_packet(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1, 0, 0);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 100, 0, 1 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 2, 0, 2 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 2, 0, 100 * S);    /* client closes */
    pkt(t, false, IPPROTO_TCP, NET_TCP_ACK, 101, 0, 103 * S);               /* not complete */
    pkt(t, false, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 101, 0, 104 * S); /* complete */
    struct net_flow *f = pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 3, 0, 108 * S);
    assert_int_equal(e.n, 0);
    HAS(zeek(f), "\"conn_state\":\"SF\"");
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 3, 0, 110 * S); /* 6 s after the close */
    assert_int_equal(e.n, 1);
    HAS(zeek(&e.f[0]), "\"orig_pkts\":4,\"orig_ip_bytes\":160,\"resp_pkts\":3");
    net_flowtab_free(t);

    /* TCP inactivity: 5 minutes (Suricata keeps an established flow 10) */
    memset(&e, 0, sizeof(e));
    t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1, 0, 0);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 100, 0, 1 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK, 2, 0, 2 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 2, 10, 299 * S);
    assert_int_equal(e.n, 0);
    f = pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 12, 10, 600 * S);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.f[0].end, NET_END_ZEEK);
    HAS(zeek(f), "\"history\":\"D\",\"orig_pkts\":1,");
    assert_int_equal(f->pkts[NET_TOSERVER], 4);
    net_flowtab_free(t);
}

static void
test_udp_dns_timer_and_inactivity(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    struct net_flow *f = pkt(t, true, IPPROTO_UDP, 0, 0, 30, 0);
    f->app = NET_APP_DNS;
    pkt(t, false, IPPROTO_UDP, 0, 0, 60, 100 * MS);
    pkt(t, true, IPPROTO_UDP, 0, 0, 30, 5 * S);
    pkt(t, false, IPPROTO_UDP, 0, 0, 60, 5100 * MS);
    /* 10.9 s of silence, but the timer ticks at 10 s (4.9 s after the reply) and 20 s */
    pkt(t, true, IPPROTO_UDP, 0, 0, 30, 16 * S);
    pkt(t, false, IPPROTO_UDP, 0, 0, 60, 16100 * MS);
    assert_int_equal(e.n, 0);
    /* the tick at 30 s is 13.9 s after the last packet: the connection ended there */
    pkt(t, true, IPPROTO_UDP, 0, 0, 30, 30 * S);
    assert_int_equal(e.n, 1);
    const char *z = zeek(&e.f[0]);
    HAS(z, "\"service\":\"dns\",\"duration\":16.100000,\"orig_bytes\":90,\"resp_bytes\":180");
    HAS(z, "\"orig_pkts\":3,\"orig_ip_bytes\":210,\"resp_pkts\":3,\"resp_ip_bytes\":300");
    z = zeek(f);
    HAS(z, "\"ts\":30.000000");
    HAS(z, "\"conn_state\":\"S0\"");
    HAS(z, "\"orig_pkts\":1,\"orig_ip_bytes\":70,\"resp_pkts\":0");
    net_flowtab_free(t);

    /* other UDP: one minute */
    memset(&e, 0, sizeof(e));
    t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_UDP, 0, 0, 10, 0);
    pkt(t, false, IPPROTO_UDP, 0, 0, 10, 1 * S);
    pkt(t, true, IPPROTO_UDP, 0, 0, 10, 60 * S);
    assert_int_equal(e.n, 0);
    f = pkt(t, true, IPPROTO_UDP, 0, 0, 10, 121 * S);
    assert_int_equal(e.n, 1);
    HAS(zeek(&e.f[0]), "\"orig_bytes\":20");
    HAS(zeek(f), "\"orig_pkts\":1,");
    net_flowtab_free(t);
}

static void
test_unknown_protocol(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1, 0, 0);
    struct net_flow *f = pkt(t, true, 89, 0, 0, 44, 1 * S); /* OSPF */
    assert_true(f->zeek_only);
    assert_int_equal(f->id, 0); /* eve flow ids are not used up */
    pkt(t, true, 89, 0, 0, 44, 2 * S);
    /* GRE carriers make no flow, for Zeek either */
    enum net_dir dir;
    struct net_pkt g = mk(true, IPPROTO_GRE, 0, 0, 20, 3 * S);
    assert_null(net_flow_packet(t, &g, &dir));
    const char *z = zeek(f);
    HAS(z, "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":0,\"id.resp_h\":\"10.0.0.2\","
           "\"id.resp_p\":0,\"proto\":\"unknown_transport\"");
    HAS(z, "\"duration\":1.000000,\"orig_bytes\":0,\"resp_bytes\":0,\"conn_state\":\"OTH\"");
    HASNT(z, "history");
    HAS(z, "\"orig_pkts\":2,\"orig_ip_bytes\":168");
    net_flow_flush(t, NET_END_SHUTDOWN);
    assert_int_equal(e.n, 2);
    /* the eve writer skips the Zeek-only flow and writes the TCP one */
    char *out = NULL;
    size_t outn = 0;
    FILE *fp = open_memstream(&out, &outn);
    assert_non_null(fp);
    struct net_eve ev;
    net_eve_init(&ev, fp, NULL);
    for (size_t i = 0; i < e.n; i++) {
        struct net_record r = {NET_REC_FLOW, 2 * S, &e.f[i], 0, &e.f[i], 0, NULL, 0};
        net_eve_write(&ev, &r);
    }
    net_eve_flush(&ev);
    assert_int_equal(ev.errors, 0);
    net_eve_release(&ev);
    fclose(fp);
    assert_non_null(strstr(out, "\"proto\":\"TCP\""));
    assert_null(strstr(out, "\"proto\":\"89\""));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)outn); /* one line */
    free(out);
    net_flowtab_free(t);
}

/* Zeek's byte counts come from sequence numbers: a FIN after data the capture missed counts
 * it, and a transfer over 4 GiB counts every time the numbers went round. */
static void
test_bytes_by_sequence(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1000, 0, 0);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 0xf0000000u, 0, 1 * MS);
    pkt(t, true, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_PSH, 1001, 538, 2 * MS);
    /* the server's data, 1.5 GB apart each time (the capture kept 100 bytes of each) */
    uint32_t seq = 0xf0000001u;
    for (int i = 0; i < 3; i++) {
        pkt(t, false, IPPROTO_TCP, NET_TCP_ACK, seq, 100, (3 + (uint64_t)i) * MS);
        seq += 1500000000u;
    }
    struct net_flow *f = pkt(t, false, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, seq, 0, 10 * MS);
    assert_int_equal(f->seq_wraps[NET_TOCLIENT], 1);
    HAS(zeek(f), "\"orig_bytes\":538,\"resp_bytes\":4500000000");
    net_flowtab_free(t);

    /* a FIN whose data was never captured (core.tcp.miss-end-data) */
    memset(&e, 0, sizeof(e));
    t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    pkt(t, true, IPPROTO_TCP, NET_TCP_SYN, 1000, 0, 0);
    pkt(t, false, IPPROTO_TCP, NET_TCP_SYN | NET_TCP_ACK, 5000, 0, 1 * MS);
    pkt(t, false, IPPROTO_TCP, NET_TCP_ACK, 5001, 0, 2 * MS);
    f = pkt(t, false, IPPROTO_TCP, NET_TCP_ACK | NET_TCP_FIN, 5001 + 2902, 0, 10 * S);
    HAS(zeek(f), "\"orig_bytes\":0,\"resp_bytes\":2902");
    net_flowtab_free(t);
}

/* Zeek turns round a DHCP reply seen first unless it was broadcast, and a flow from a port
 * of its tunnel analyzers (Teredo 3544) to another port. */
static void
test_zeek_orientation(void **state)
{
    (void)state;
    struct ended e = {0};
    struct net_flowtab *t = net_flowtab_new(NULL, on_end, &e);
    assert_non_null(t);
    struct net_pkt k = mk(true, IPPROTO_UDP, 0, 0, 300, 0);
    enum net_dir dir;
    k.sport = 67;
    k.dport = 68;
    struct net_flow *f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    HAS(zeek(f), "\"id.orig_h\":\"10.0.0.2\",\"id.orig_p\":68,\"id.resp_h\":\"10.0.0.1\","
                 "\"id.resp_p\":67");
    inet_pton(AF_INET, "255.255.255.255", k.dst.a);
    f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    HAS(zeek(f), "\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":67,"
                 "\"id.resp_h\":\"255.255.255.255\",\"id.resp_p\":68");
    inet_pton(AF_INET, "10.0.0.2", k.dst.a);
    k.sport = 3544;
    k.dport = 3797;
    f = net_flow_packet(t, &k, &dir);
    assert_non_null(f);
    HAS(zeek(f), "\"id.orig_p\":3797,\"id.resp_h\":\"10.0.0.1\",\"id.resp_p\":3544");
    net_flowtab_free(t);
}

/* ---- DNS: the query of a reply Zeek cannot pair ---- */

static void
put_name(struct at_bytes *m, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        at_u8(m, (unsigned)l);
        at_put(m, p, l);
        p += l + (dot ? 1 : 0);
    }
    at_u8(m, 0);
}

static void
hdr(struct at_bytes *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns)
{
    m->n = 0;
    at_u16(m, id);
    at_u16(m, flags);
    at_u16(m, qd);
    at_u16(m, an);
    at_u16(m, ns);
    at_u16(m, 0);
}

static void
test_dns_unpaired_reply_query(void **state)
{
    (void)state;
    struct at_bytes a, n;
    /* a reply whose first answer is owned by another name than the question's */
    hdr(&a, 7, 0x8180, 1, 1, 0);
    put_name(&a, "question.example");
    at_u16(&a, 1);
    at_u16(&a, 1);
    put_name(&a, "Owner.Example");
    at_u16(&a, 1);
    at_u16(&a, 1);
    at_u32(&a, 60);
    at_u16(&a, 4);
    at_u32(&a, 0x0a000001);
    /* a referral: no answer at all */
    hdr(&n, 8, 0x8000, 1, 0, 1);
    put_name(&n, "aei.mpg.de");
    at_u16(&n, 1);
    at_u16(&n, 1);
    put_name(&n, "mpg.de");
    at_u16(&n, 2);
    at_u16(&n, 1);
    at_u32(&n, 60);
    size_t len_at = n.n;
    at_u16(&n, 0);
    put_name(&n, "ns.mpg.de");
    at_patch16(&n, len_at, (unsigned)(n.n - len_at - 2));

    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOCLIENT, a.b, a.n);
    at_feed(&run, NET_TOCLIENT, n.b, n.n);
    assert_int_equal(run.sink.n, 2);
    const char *z = run.sink.zeek[0];
    assert_non_null(z);
    assert_string_equal(at_str(z, "query"), "owner.example");
    HASNT(z, "qtype");
    HASNT(z, "rtt");
    z = run.sink.zeek[1];
    assert_non_null(z);
    HASNT(z, "\"query\"");
    HAS(z, "\"rcode\":0");
}

/* A DNS parser on a flow 10.0.0.1:40000 -> 10.0.0.2:53 tagged with VLAN vlan. */
static void
open_vlan(struct at_run *r, uint16_t vlan)
{
    at_flow(&r->f, IPPROTO_UDP, "10.0.0.1", 40000, "10.0.0.2", 53);
    r->f.vlan[0] = vlan;
    r->p = &net_app_dns_udp;
    r->f.parser = r->p;
    r->f.app = NET_APP_DNS;
    at_sink_init(&r->sink);
    r->st = r->p->open(&r->f);
    r->ts = 1700000000ull * 1000000000ull;
}

static void
test_dns_pairs_across_vlans(void **state)
{
    (void)state;
    struct at_run qa, rb, qc, rd;
    struct at_bytes q, a;
    hdr(&q, 40916, 0x0000, 1, 0, 0);
    put_name(&q, "mon.lbl.gov");
    at_u16(&q, 44);
    at_u16(&q, 1);
    hdr(&a, 40916, 0x8400, 1, 1, 0);
    put_name(&a, "mon.lbl.gov");
    at_u16(&a, 44);
    at_u16(&a, 1);
    at_u16(&a, 0xc00c);
    at_u16(&a, 29); /* LOC, version 0, size 0x12, precisions 0x15 and 0x13 */
    at_u16(&a, 1);
    at_u32(&a, 600);
    at_u16(&a, 16);
    static const uint8_t loc[16] = {0,    0x12, 0x15, 0x13, 0x88, 5,    2,    0x50,
                                    0x65, 0xd2, 0xd4, 0,    0,    0x98, 0x96, 0x80};
    at_put(&a, loc, sizeof(loc));

    /* query on VLAN 34, reply on VLAN 47: Zeek's one transaction */
    open_vlan(&qa, 34);
    open_vlan(&rb, 47);
    at_feed(&qa, NET_TOSERVER, q.b, q.n);
    rb.ts = qa.ts + 200000;
    at_feed(&rb, NET_TOCLIENT, a.b, a.n);
    assert_int_equal(rb.sink.n, 1);
    const char *z = rb.sink.zeek[0];
    assert_non_null(z);
    HAS(z, "\"rtt\":0.001200");
    HAS(z, "\"qtype\":44");
    HAS(z, "\"answers\":[\"LOC:  18 21 19\"]");
    at_close(&qa);
    assert_int_equal(qa.sink.n, 1); /* the query only: it was answered */
    at_done(&qa);
    at_done(&rb);

    /* the query's flow ends first: the reply finds nothing (and no freed state) */
    open_vlan(&qc, 5);
    open_vlan(&rd, 6);
    at_feed(&qc, NET_TOSERVER, q.b, q.n);
    at_done(&qc);
    at_feed(&rd, NET_TOCLIENT, a.b, a.n);
    assert_int_equal(rd.sink.n, 1);
    HASNT(rd.sink.zeek[0], "rtt");
    HASNT(rd.sink.zeek[0], "qtype");
    at_done(&rd);
}

/* A record without compression: name, type, class, ttl, rdata. */
static void
rr(struct at_bytes *m, const char *name, unsigned type, unsigned cls, uint32_t ttl, const void *rd,
   size_t rdlen)
{
    put_name(m, name);
    at_u16(m, type);
    at_u16(m, cls);
    at_u32(m, ttl);
    at_u16(m, (unsigned)rdlen);
    at_put(m, rd, rdlen);
}

static void
test_dns_dynamic_update(void **state)
{
    (void)state;
    struct at_bytes u;
    static const uint8_t addr[4] = {192, 168, 1, 106};
    hdr(&u, 47952, 0x8000 | 5 << 11 | 5, 1, 1, 3); /* UPDATE, REFUSED */
    put_name(&u, "stratolab.org");
    at_u16(&u, 6);
    at_u16(&u, 1);
    rr(&u, "nwin2.stratolab.org", 5, 254, 0, "", 0);    /* CNAME must not exist */
    rr(&u, "nwin2.stratolab.org", 28, 255, 0, "", 0);   /* delete the AAAA RRset */
    rr(&u, "nwin2.stratolab.org", 1, 255, 0, "", 0);    /* delete the A RRset */
    rr(&u, "nwin2.stratolab.org", 1, 1, 1200, addr, 4); /* add an A */
    at_open(&run, &net_app_dns_udp, IPPROTO_UDP, 53);
    at_feed(&run, NET_TOCLIENT, u.b, u.n);
    assert_int_equal(run.sink.n, 1);
    const char *z = run.sink.zeek[0];
    assert_non_null(z);
    assert_string_equal(at_str(z, "query"), "nwin2.stratolab.org");
    HASNT(z, "qtype");
    HAS(z, "\"rcode\":5");
    HAS(z, "\"answers\":[\"pre: NoRRSet CNAME nwin2.stratolab.org\",\"del: RRSet AAAA\","
           "\"del: RRSet A\",\"add: A nwin2.stratolab.org 192.168.1.106\"]");
    HAS(z, "\"TTLs\":[0.0,0.0,0.0,1200.0]");
    HAS(z, "\"opcode\":5");
}

/* Zeek refuses an HTTP/0.9 request line without a URI: no http.log entry at all. */
static void
test_http09_without_uri(void **state)
{
    (void)state;
    at_open(&run, &net_app_http, IPPROTO_TCP, 80);
    at_feed(&run, NET_TOSERVER, "GET \n", 5);
    at_feed(&run, NET_TOCLIENT, "missing uri\n", 12);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_non_null(run.sink.eve[0]); /* eve keeps Suricata's record */
    assert_null(run.sink.zeek[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attempt_timer),
        cmocka_unit_test(test_close_delay_and_reuse),
        cmocka_unit_test(test_normal_close_then_late_packet),
        cmocka_unit_test(test_udp_dns_timer_and_inactivity),
        cmocka_unit_test(test_unknown_protocol),
        cmocka_unit_test(test_zeek_orientation),
        cmocka_unit_test(test_bytes_by_sequence),
        cmocka_unit_test_teardown(test_dns_unpaired_reply_query, at_teardown),
        cmocka_unit_test(test_dns_pairs_across_vlans),
        cmocka_unit_test_teardown(test_dns_dynamic_update, at_teardown),
        cmocka_unit_test_teardown(test_http09_without_uri, at_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
