/*
 * test_decode.c - the packet decoder (decode.c, defrag.c): link layers, VLANs, IPv4/IPv6,
 * fragments, transports, tunnels, and that every frame not turned into a packet is counted
 * under one reason (truncated prefixes of every valid frame included).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

/* ---- frame builder ---- */

struct fb {
    uint8_t b[4096];
    size_t n;
};

static void
put(struct fb *f, const void *d, size_t n)
{
    assert_true(f->n + n <= sizeof(f->b));
    memcpy(f->b + f->n, d, n);
    f->n += n;
}

static void
put8(struct fb *f, uint8_t v)
{
    put(f, &v, 1);
}

static void
put16(struct fb *f, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(f, x, 2);
}

static void
put32(struct fb *f, uint32_t v)
{
    put16(f, (uint16_t)(v >> 16));
    put16(f, (uint16_t)v);
}

static void
eth(struct fb *f, uint16_t type)
{
    static const uint8_t dst[6] = {0, 1, 2, 3, 4, 5}, src[6] = {6, 7, 8, 9, 10, 11};
    put(f, dst, 6);
    put(f, src, 6);
    put16(f, type);
}

static void
ipv4(struct fb *f, const char *src, const char *dst, uint8_t proto, size_t payload, uint16_t id,
     uint16_t frag)
{
    uint8_t a[4];
    put8(f, 0x45);
    put8(f, 0);
    put16(f, (uint16_t)(20 + payload));
    put16(f, id);
    put16(f, frag);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0);
    inet_pton(AF_INET, src, a);
    put(f, a, 4);
    inet_pton(AF_INET, dst, a);
    put(f, a, 4);
}

static void
ipv6(struct fb *f, const char *src, const char *dst, uint8_t nh, size_t payload)
{
    uint8_t a[16];
    put32(f, 0x60000000);
    put16(f, (uint16_t)payload);
    put8(f, nh);
    put8(f, 64);
    inet_pton(AF_INET6, src, a);
    put(f, a, 16);
    inet_pton(AF_INET6, dst, a);
    put(f, a, 16);
}

static void
tcp(struct fb *f, uint16_t sp, uint16_t dp, uint32_t seq, uint8_t flags, const char *data)
{
    put16(f, sp);
    put16(f, dp);
    put32(f, seq);
    put32(f, 0);
    put8(f, 0x50);
    put8(f, flags);
    put16(f, 65535);
    put16(f, 0);
    put16(f, 0);
    if (data)
        put(f, data, strlen(data));
}

static void
udp(struct fb *f, uint16_t sp, uint16_t dp, const void *data, size_t n)
{
    put16(f, sp);
    put16(f, dp);
    put16(f, (uint16_t)(8 + n));
    put16(f, 0);
    if (n)
        put(f, data, n);
}

static void
check_invariant(const struct net_decode_stats *s)
{
    assert_int_equal(s->packets, s->decoded + s->truncated + s->malformed + s->unsupported +
                                     s->frag_pending + s->frag_dropped);
}

static size_t
dec(struct net_decoder *d, const struct fb *f, struct net_pkt *out)
{
    return net_decode(d, f->b, (uint32_t)f->n, (uint32_t)f->n, 1000000000ull, 1, out);
}

/* ---- tests ---- */

static void
test_eth_ipv4_tcp(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb f = {0};
    char buf[64];

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    eth(&f, 0x0800);
    ipv4(&f, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 20 + 5, 1, 0);
    tcp(&f, 40000, 80, 1000, NET_TCP_PSH | NET_TCP_ACK, "hello");
    put(&f, "\0\0\0\0\0\0", 6); /* Ethernet padding is not payload */
    assert_int_equal(dec(&d, &f, k), 1);
    assert_int_equal(k[0].ip_v, 4);
    assert_string_equal(net_addr_str(&k[0].src, buf, sizeof(buf)), "10.0.0.1");
    assert_string_equal(net_addr_str(&k[0].dst, buf, sizeof(buf)), "10.0.0.2");
    assert_int_equal(k[0].proto, IPPROTO_TCP);
    assert_int_equal(k[0].sport, 40000);
    assert_int_equal(k[0].dport, 80);
    assert_int_equal(k[0].tcp_seq, 1000);
    assert_int_equal(k[0].tcp_flags, NET_TCP_PSH | NET_TCP_ACK);
    assert_int_equal(k[0].payload_len, 5);
    assert_memory_equal(k[0].payload, "hello", 5);
    assert_int_equal(k[0].ip_len, 45);
    assert_int_equal(k[0].pkt_len, f.n); /* flows count the whole frame, as eve does */
    assert_non_null(k[0].eth);
    assert_int_equal(d.st.decoded, 1);
    assert_int_equal(d.st.tcp, 1);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

static void
test_vlan_qinq_ipv6_ext(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb f = {0};
    char buf[64];

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    eth(&f, 0x88a8);
    put16(&f, 100);     /* outer tag */
    put16(&f, 0x8100);
    put16(&f, 0x2000 | 200); /* priority bits are not part of the id */
    put16(&f, 0x86dd);
    ipv6(&f, "2001:db8::1", "2001:db8::2", 0 /* hop-by-hop */, 8 + 8 + 3);
    put8(&f, IPPROTO_UDP);
    put8(&f, 0);
    put(&f, "\1\4\0\0\0\0", 6);
    udp(&f, 5353, 53, "abc", 3);
    assert_int_equal(dec(&d, &f, k), 1);
    assert_int_equal(k[0].vlan_n, 2);
    assert_int_equal(k[0].vlan[0], 100);
    assert_int_equal(k[0].vlan[1], 200);
    assert_int_equal(k[0].ip_v, 6);
    assert_int_equal(k[0].proto, IPPROTO_UDP);
    assert_int_equal(k[0].dport, 53);
    assert_int_equal(k[0].payload_len, 3);
    assert_string_equal(net_addr_eve(&k[0].src, buf, sizeof(buf)),
                        "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_int_equal(d.st.vlan, 1);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

/* Every prefix of every valid frame decodes without reading past it, and is counted. */
static void
test_truncated_prefixes(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb frames[3] = {{{0}, 0}};

    (void)st;
    eth(&frames[0], 0x0800);
    ipv4(&frames[0], "1.1.1.1", "2.2.2.2", IPPROTO_TCP, 20 + 3, 7, 0);
    tcp(&frames[0], 1, 2, 3, NET_TCP_SYN, "xyz");
    eth(&frames[1], 0x86dd);
    ipv6(&frames[1], "::1", "::2", IPPROTO_ICMPV6, 8);
    put(&frames[1], "\x80\0\0\0\0\1\0\1", 8);
    eth(&frames[2], 0x0800); /* GRE with a key carrying IPv4/UDP */
    ipv4(&frames[2], "9.9.9.1", "9.9.9.2", IPPROTO_GRE, 8 + 20 + 8 + 2, 1, 0);
    put16(&frames[2], 0x2000);
    put16(&frames[2], 0x0800);
    put32(&frames[2], 42);
    ipv4(&frames[2], "10.1.1.1", "10.1.1.2", IPPROTO_UDP, 8 + 2, 2, 0);
    udp(&frames[2], 1000, 2000, "hi", 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
        for (size_t n = 0; n < frames[i].n; n++) {
            uint8_t *copy = bn_malloc(n ? n : 1); /* exact size: ASan sees any over-read */
            memcpy(copy, frames[i].b, n);
            size_t got = net_decode(&d, copy, (uint32_t)n, (uint32_t)frames[i].n, 1, n + 1, k);
            bn_free(copy);
            if (i < 2)
                assert_int_equal(got, 0);
            check_invariant(&d.st);
        }
        assert_true(dec(&d, &frames[i], k) >= 1);
        assert_int_equal(d.st.packets, frames[i].n + 1);
        assert_true(d.st.truncated > 0);
        check_invariant(&d.st);
        net_decoder_release(&d);
    }
}

static void
test_ipv4_fragments(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    uint8_t payload[8 + 40];
    struct fb f1 = {0}, f2 = {0}, f3 = {0}, dup = {0};

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    /* one UDP datagram (8 + 40 bytes) in three fragments: 16, 16, 16 bytes */
    payload[0] = 0x30;
    payload[1] = 0x39; /* sport 12345 */
    payload[2] = 0;
    payload[3] = 53;
    payload[4] = 0;
    payload[5] = 48;
    payload[6] = payload[7] = 0;
    for (int i = 0; i < 40; i++)
        payload[8 + i] = (uint8_t)('a' + i % 26);
    eth(&f1, 0x0800);
    ipv4(&f1, "10.9.9.1", "10.9.9.2", IPPROTO_UDP, 16, 77, 0x2000 | 0);
    put(&f1, payload, 16);
    eth(&f2, 0x0800);
    ipv4(&f2, "10.9.9.1", "10.9.9.2", IPPROTO_UDP, 16, 77, 0x2000 | 2);
    put(&f2, payload + 16, 16);
    eth(&f3, 0x0800);
    ipv4(&f3, "10.9.9.1", "10.9.9.2", IPPROTO_UDP, 16, 77, 4);
    put(&f3, payload + 32, 16);
    eth(&dup, 0x0800); /* overlaps the second fragment with other bytes */
    ipv4(&dup, "10.9.9.1", "10.9.9.2", IPPROTO_UDP, 8, 77, 0x2000 | 2);
    put(&dup, "XXXXXXXX", 8);
    /* out of order: last, first, overlap, middle */
    assert_int_equal(dec(&d, &f3, k), 0);
    assert_int_equal(dec(&d, &f1, k), 0);
    assert_int_equal(dec(&d, &dup, k), 0);
    assert_int_equal(d.st.frag_overlap, 0); /* nothing there yet: it fills the hole first */
    assert_int_equal(dec(&d, &f2, k), 1);
    assert_int_equal(d.st.frag_overlap, 1);
    assert_int_equal(k[0].fragmented, 1);
    assert_int_equal(k[0].proto, IPPROTO_UDP);
    assert_int_equal(k[0].sport, 12345);
    assert_int_equal(k[0].dport, 53);
    assert_int_equal(k[0].payload_len, 40);
    /* the first copy of overlapping bytes wins (datagram bytes 16..23) */
    assert_memory_equal(k[0].payload, payload + 8, 8);
    assert_memory_equal(k[0].payload + 8, "XXXXXXXX", 8);
    assert_memory_equal(k[0].payload + 16, payload + 24, 24);
    assert_int_equal(k[0].pkt_len, 20 + 48);
    assert_int_equal(d.st.frag_pending, 3);
    assert_int_equal(d.st.frag_reassembled, 1);
    check_invariant(&d.st);
    /* a lone fragment that never completes is counted when it times out */
    struct fb lone = {0};
    eth(&lone, 0x0800);
    ipv4(&lone, "10.9.9.3", "10.9.9.4", IPPROTO_UDP, 16, 1, 0x2000);
    put(&lone, payload, 16);
    assert_int_equal(dec(&d, &lone, k), 0);
    assert_int_equal(net_decode(&d, f1.b, (uint32_t)f1.n, (uint32_t)f1.n,
                                1000000000ull + NET_DEFRAG_TIMEOUT_NS + 1, 9, k),
                     0);
    assert_int_equal(d.st.frag_timeout, 1);
    /* a non-final fragment whose length is not a multiple of 8 is dropped */
    struct fb bad = {0};
    eth(&bad, 0x0800);
    ipv4(&bad, "10.9.9.5", "10.9.9.6", IPPROTO_UDP, 13, 2, 0x2000);
    put(&bad, payload, 13);
    assert_int_equal(dec(&d, &bad, k), 0);
    assert_int_equal(d.st.frag_dropped, 1);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

static void
test_ipv6_fragments(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb a = {0}, b = {0};
    uint8_t udph[8] = {0x04, 0xd2, 0x00, 0x35, 0, 8 + 16, 0, 0};

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_RAW), 0);
    ipv6(&a, "fe80::1", "fe80::2", 44, 8 + 16);
    put8(&a, IPPROTO_UDP);
    put8(&a, 0);
    put16(&a, 0 | 1); /* offset 0, M */
    put32(&a, 0xabcdef);
    put(&a, udph, 8);
    put(&a, "01234567", 8);
    ipv6(&b, "fe80::1", "fe80::2", 44, 8 + 8);
    put8(&b, IPPROTO_UDP);
    put8(&b, 0);
    put16(&b, 16); /* offset 16, last */
    put32(&b, 0xabcdef);
    put(&b, "89abcdef", 8);
    assert_int_equal(dec(&d, &a, k), 0);
    assert_int_equal(dec(&d, &b, k), 1);
    assert_int_equal(k[0].ip_v, 6);
    assert_int_equal(k[0].dport, 53);
    assert_int_equal(k[0].payload_len, 16);
    assert_memory_equal(k[0].payload, "0123456789abcdef", 16);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

static void
test_tunnels(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb f = {0}, v = {0}, e = {0};
    char buf[64];

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    /* GRE (checksum + key + sequence) carrying IPv4/ICMP */
    eth(&f, 0x0800);
    ipv4(&f, "9.9.9.1", "9.9.9.2", IPPROTO_GRE, 16 + 20 + 8, 1, 0);
    put16(&f, 0x8000 | 0x2000 | 0x1000);
    put16(&f, 0x0800);
    put32(&f, 0);
    put32(&f, 7);
    put32(&f, 1);
    ipv4(&f, "192.168.1.1", "192.168.1.2", IPPROTO_ICMP, 8, 3, 0);
    put(&f, "\x08\0\0\0\0\1\0\1", 8);
    assert_int_equal(dec(&d, &f, k), 2);
    assert_int_equal(k[0].proto, IPPROTO_GRE);
    assert_int_equal(k[0].layer, 0);
    assert_int_equal(k[1].layer, 1);
    assert_int_equal(k[1].tunnel, NET_TUN_GRE);
    assert_int_equal(k[1].proto, IPPROTO_ICMP);
    assert_int_equal(k[1].sport, 8); /* ICMP type in sport */
    assert_string_equal(net_addr_str(&k[1].src, buf, sizeof(buf)), "192.168.1.1");
    assert_int_equal(k[1].pkt_len, 20 + 8); /* from the inner header on */
    /* VXLAN carrying Ethernet/VLAN/IPv4/TCP */
    eth(&v, 0x0800);
    ipv4(&v, "9.9.9.1", "9.9.9.2", IPPROTO_UDP, 8 + 8 + 18 + 20 + 20, 2, 0);
    put16(&v, 5555);
    put16(&v, 4789);
    put16(&v, 8 + 8 + 18 + 20 + 20);
    put16(&v, 0);
    put32(&v, 0x08000000);
    put32(&v, 0x00123400);
    eth(&v, 0x8100);
    put16(&v, 33);
    put16(&v, 0x0800);
    ipv4(&v, "172.16.0.1", "172.16.0.2", IPPROTO_TCP, 20, 4, 0);
    tcp(&v, 1234, 443, 9, NET_TCP_SYN, NULL);
    assert_int_equal(dec(&d, &v, k), 2);
    assert_int_equal(k[0].proto, IPPROTO_UDP);
    assert_int_equal(k[1].tunnel, NET_TUN_VXLAN);
    assert_int_equal(k[1].vlan[0], 33);
    assert_int_equal(k[1].dport, 443);
    /* ERSPAN type II (GRE with sequence number, 8-byte header) carrying Ethernet/IPv4/UDP */
    eth(&e, 0x0800);
    ipv4(&e, "9.9.9.1", "9.9.9.2", IPPROTO_GRE, 8 + 8 + 14 + 20 + 8, 3, 0);
    put16(&e, 0x1000);
    put16(&e, 0x88be);
    put32(&e, 1);
    put32(&e, 0x10000000);
    put32(&e, 0);
    eth(&e, 0x0800);
    ipv4(&e, "172.16.0.3", "172.16.0.4", IPPROTO_UDP, 8, 5, 0);
    udp(&e, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &e, k), 2);
    assert_int_equal(k[1].tunnel, NET_TUN_ERSPAN);
    assert_int_equal(k[1].dport, 2);
    assert_int_equal(d.st.tunnelled, 3);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

static void
test_link_types_and_arp(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb sll = {0}, sll2 = {0}, null = {0}, arp = {0}, lldp = {0};

    (void)st;
    /* Linux cooked v1 */
    assert_int_equal(net_decoder_init(&d, NET_LINK_SLL), 0);
    put16(&sll, 0);
    put16(&sll, 1);
    put16(&sll, 6);
    put(&sll, "\0\0\0\0\0\0\0\0", 8);
    put16(&sll, 0x0800);
    ipv4(&sll, "1.2.3.4", "5.6.7.8", IPPROTO_UDP, 8, 1, 0);
    udp(&sll, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &sll, k), 1);
    assert_int_equal(k[0].proto, IPPROTO_UDP);
    assert_null(k[0].eth);
    net_decoder_release(&d);
    /* Linux cooked v2 */
    assert_int_equal(net_decoder_init(&d, NET_LINK_SLL2), 0);
    put16(&sll2, 0x86dd);
    put(&sll2, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 18);
    ipv6(&sll2, "::1", "::2", IPPROTO_TCP, 20);
    tcp(&sll2, 5, 6, 7, NET_TCP_SYN, NULL);
    assert_int_equal(dec(&d, &sll2, k), 1);
    assert_int_equal(k[0].ip_v, 6);
    net_decoder_release(&d);
    /* BSD loopback (family in host order) */
    assert_int_equal(net_decoder_init(&d, NET_LINK_NULL), 0);
    put(&null, "\x02\0\0\0", 4);
    ipv4(&null, "127.0.0.1", "127.0.0.1", IPPROTO_ICMP, 8, 1, 0);
    put(&null, "\0\0\0\0\0\0\0\0", 8);
    assert_int_equal(dec(&d, &null, k), 1);
    net_decoder_release(&d);
    /* ARP request, and a frame that is not IP at all (LLDP) */
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    eth(&arp, 0x0806);
    put16(&arp, 1);
    put16(&arp, 0x0800);
    put8(&arp, 6);
    put8(&arp, 4);
    put16(&arp, 1);
    put(&arp, "\1\2\3\4\5\6\xc0\xa8\0\1", 10);
    put(&arp, "\0\0\0\0\0\0\xc0\xa8\0\2", 10);
    assert_int_equal(dec(&d, &arp, k), 1);
    assert_int_equal(k[0].is_arp, 1);
    assert_int_equal(k[0].arp_op, 1);
    eth(&lldp, 0x88cc);
    put(&lldp, "\2\7\4", 3);
    assert_int_equal(dec(&d, &lldp, k), 0);
    assert_int_equal(d.st.unsupported, 1);
    assert_int_equal(d.st.non_ip, 1);
    assert_int_equal(d.st.arp, 1);
    check_invariant(&d.st);
    net_decoder_release(&d);
    /* an unknown link type is refused up front */
    assert_int_equal(net_decoder_init(&d, 147), BN_EUNSUP);
}

static void
test_malformed(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb v = {0}, hl = {0}, doff = {0};

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    eth(&v, 0x0800);
    ipv4(&v, "1.1.1.1", "2.2.2.2", IPPROTO_UDP, 8, 1, 0);
    v.b[14] = 0x55; /* version 5 */
    udp(&v, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &v, k), 0);
    eth(&hl, 0x0800);
    ipv4(&hl, "1.1.1.1", "2.2.2.2", IPPROTO_UDP, 8, 1, 0);
    hl.b[14] = 0x43; /* header length 12 */
    udp(&hl, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &hl, k), 0);
    eth(&doff, 0x0800);
    ipv4(&doff, "1.1.1.1", "2.2.2.2", IPPROTO_TCP, 20, 1, 0);
    tcp(&doff, 1, 2, 3, 0, NULL);
    doff.b[14 + 20 + 12] = 0x20; /* TCP data offset 8 */
    assert_int_equal(dec(&d, &doff, k), 0);
    assert_int_equal(d.st.malformed, 3);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

/* Tunnels in UDP that Zeek decodes too: GTP-U, Teredo, AYIYA; VN-Tag and FabricPath. */
static void
test_udp_tunnels_and_tags(void **st)
{
    struct net_decoder d;
    struct net_pkt k[NET_LAYERS_MAX];
    struct fb g = {0}, t = {0}, a = {0}, v = {0}, fp = {0}, nt = {0};

    (void)st;
    assert_int_equal(net_decoder_init(&d, NET_LINK_ETHERNET), 0);
    /* GTP-U with a sequence number: 12-byte header, then IPv4/UDP */
    eth(&g, 0x0800);
    ipv4(&g, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8 + 12 + 20 + 8, 1, 0);
    put16(&g, 2152);
    put16(&g, 2152);
    put16(&g, 8 + 12 + 20 + 8);
    put16(&g, 0);
    put8(&g, 0x32); /* version 1, PT, S */
    put8(&g, 0xff);
    put16(&g, 4 + 20 + 8);
    put32(&g, 0x1234);
    put32(&g, 0x00010000);
    ipv4(&g, "100.64.0.1", "8.8.8.8", IPPROTO_UDP, 8, 2, 0);
    udp(&g, 5000, 53, NULL, 0);
    assert_int_equal(dec(&d, &g, k), 2);
    assert_int_equal(k[1].dport, 53);
    /* Teredo with an origin indication, then IPv6/ICMPv6 */
    eth(&t, 0x0800);
    ipv4(&t, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8 + 8 + 40 + 8, 1, 0);
    put16(&t, 3544);
    put16(&t, 40000);
    put16(&t, 8 + 8 + 40 + 8);
    put16(&t, 0);
    put(&t, "\0\0\x12\x34\1\2\3\4", 8);
    ipv6(&t, "2001::1", "2001::2", IPPROTO_ICMPV6, 8);
    put(&t, "\x80\0\0\0\0\1\0\1", 8);
    assert_int_equal(dec(&d, &t, k), 2);
    assert_int_equal(k[1].tunnel, NET_TUN_TEREDO);
    assert_int_equal(k[1].sport, 128);
    /* AYIYA: identity 16 bytes (IDLen 4), no signature, forward, next header IPv6 */
    eth(&a, 0x0800);
    ipv4(&a, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8 + 24 + 40 + 8, 1, 0);
    put16(&a, 5072);
    put16(&a, 5072);
    put16(&a, 8 + 24 + 40 + 8);
    put16(&a, 0);
    put(&a, "\x41\x00\x01\x29\0\0\0\0", 8);
    put(&a, "0123456789abcdef", 16);
    ipv6(&a, "2001::3", "2001::4", IPPROTO_UDP, 8);
    udp(&a, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &a, k), 2);
    assert_int_equal(k[1].ip_v, 6);
    /* VN-Tag and FabricPath in front of the IP payload */
    eth(&v, 0x8926);
    put32(&v, 0);
    put16(&v, 0x0800);
    ipv4(&v, "1.1.1.1", "1.1.2.1", IPPROTO_UDP, 8, 1, 0);
    udp(&v, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &v, k), 1);
    eth(&fp, 0x8903);
    put16(&fp, 0);
    eth(&fp, 0x0800);
    ipv4(&fp, "1.1.1.2", "1.1.2.2", IPPROTO_UDP, 8, 1, 0);
    udp(&fp, 1, 2, NULL, 0);
    assert_int_equal(dec(&d, &fp, k), 1);
    /* UDP to the Teredo port that is not Teredo stays a plain UDP packet */
    eth(&nt, 0x0800);
    ipv4(&nt, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8 + 4, 1, 0);
    udp(&nt, 1000, 3544, "abcd", 4);
    assert_int_equal(dec(&d, &nt, k), 1);
    check_invariant(&d.st);
    net_decoder_release(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eth_ipv4_tcp),
        cmocka_unit_test(test_vlan_qinq_ipv6_ext),
        cmocka_unit_test(test_truncated_prefixes),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_fragments),
        cmocka_unit_test(test_tunnels),
        cmocka_unit_test(test_link_types_and_arp),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_udp_tunnels_and_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
