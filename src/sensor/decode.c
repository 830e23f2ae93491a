/*
 * decode.c - captured frames to struct net_pkt: link layers (Ethernet with VLAN/QinQ, MPLS
 * and PPPoE, Linux SLL/SLL2, raw IP, BSD null/loopback), IPv4 and IPv6 (extension headers,
 * fragments through defrag.c), TCP, UDP, ICMP, ICMPv6, SCTP, ARP, and the tunnels Suricata
 * decodes by default (GRE incl. PPTP's enhanced GRE and ERSPAN I/II/III, VXLAN on UDP 4789,
 * IPv4/IPv6 in IPv4/IPv6). Each IP layer of a frame becomes one packet, outermost first, the
 * way Suricata gives tunnel packets and their inner packets flows of their own.
 *
 * Every length is checked against the captured bytes before it is read; a frame that gives no
 * packet is counted under one reason (truncated, malformed, unsupported, fragment held or
 * dropped). Nothing allocates: packets point into the frame or the reassembly buffer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

enum why {
    W_NONE = 0,
    W_TRUNC,
    W_MALFORMED,
    W_UNSUP,
    W_FRAG_PENDING,
    W_FRAG_DROP,
};

#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_IPV6 0x86dd
#define ETH_MPLS 0x8847
#define ETH_MPLS_MC 0x8848
#define ETH_PPPOE 0x8864
#define ETH_TEB 0x6558
#define ETH_ERSPAN2 0x88be
#define ETH_ERSPAN3 0x22eb
#define ETH_PPP 0x880b
#define ETH_NSH 0x894f
#define ETH_FABRICPATH 0x8903
#define ETH_PBB 0x88e7
#define ETH_VNTAG 0x8926

#define VXLAN_PORT 4789
#define GENEVE_PORT 6081
#define TEREDO_PORT 3544
#define AYIYA_PORT 5072
#define GTPU_PORT 2152
#define GRE_UDP_PORT 4754 /* GRE-in-UDP, RFC 8086 */
#define ETH_DEPTH_MAX 8
#define LINK_CHDLC 104
#define LINK_PPP 9
#define LINK_IEEE802_11 105
#define LINK_RADIOTAP 127
#define LINK_NFLOG 239 /* VLAN/MPLS/PPPoE headers in one Ethernet frame */

struct dctx {
    struct net_decoder *d;
    const uint8_t *frame;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_ns;
    uint64_t pcap_cnt;
    struct net_pkt *out;
    size_t n;
    uint16_t vlan[3];
    uint8_t vlan_n;
    uint8_t defrag_depth;
    uint8_t nsh_depth;
    uint8_t eth_depth;        /* Ethernet headers nested through tunnels */
    const uint8_t *eth;       /* the latest Ethernet header */
    enum why why;             /* first reason a layer failed */
};

static inline uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
fail(struct dctx *c, enum why w)
{
    if (c->why == W_NONE)
        c->why = w;
}

/* Bytes an inner layer starting at p counts for (from p to the end of the capture). */
static uint32_t
len_from(const struct dctx *c, const uint8_t *p, uint32_t fallback)
{
    if (p >= c->frame && p <= c->frame + c->caplen)
        return (uint32_t)(c->frame + c->caplen - p);
    return fallback;
}

static void decode_ipv4(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len,
                        uint8_t tunnel, bool reassembled);
static void decode_ipv6(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len,
                        uint8_t tunnel, bool reassembled);
static void decode_eth(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len,
                       uint8_t tunnel);

/* Dispatches on an ethertype-like value. */
static void
decode_l3(struct dctx *c, uint16_t type, const uint8_t *p, uint32_t n, uint32_t pkt_len,
          uint8_t tunnel)
{
    switch (type) {
    case ETH_IPV4:
        decode_ipv4(c, p, n, pkt_len, tunnel, false);
        return;
    case ETH_IPV6:
        decode_ipv6(c, p, n, pkt_len, tunnel, false);
        return;
    case ETH_NSH: {
        /* Network Service Header (RFC 8300): length in 4-byte words, next protocol */
        uint32_t hl;
        if (n < 8) {
            fail(c, W_TRUNC);
            return;
        }
        hl = (uint32_t)(p[1] & 0x3f) * 4;
        if (hl < 8 || (p[0] >> 6) != 0) {
            fail(c, W_MALFORMED);
            return;
        }
        if (n < hl) {
            fail(c, W_TRUNC);
            return;
        }
        if (c->nsh_depth++ >= 2) {
            fail(c, W_MALFORMED);
            return;
        }
        if (p[3] == 1)
            decode_ipv4(c, p + hl, n - hl, pkt_len, tunnel, false);
        else if (p[3] == 2)
            decode_ipv6(c, p + hl, n - hl, pkt_len, tunnel, false);
        else if (p[3] == 3)
            decode_eth(c, p + hl, n - hl, pkt_len, tunnel);
        else {
            c->d->st.non_ip += c->n == 0;
            fail(c, W_UNSUP);
        }
        return;
    }
    default:
        c->d->st.non_ip += c->n == 0;
        fail(c, W_UNSUP);
        return;
    }
}

/* By the first nibble (raw IP link types, MPLS payloads). */
static void
decode_ip_guess(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len, uint8_t tunnel)
{
    if (n < 1) {
        fail(c, W_TRUNC);
        return;
    }
    if ((p[0] >> 4) == 4)
        decode_ipv4(c, p, n, pkt_len, tunnel, false);
    else if ((p[0] >> 4) == 6)
        decode_ipv6(c, p, n, pkt_len, tunnel, false);
    else {
        c->d->st.non_ip += c->n == 0;
        fail(c, W_UNSUP);
    }
}

static void
decode_arp(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len)
{
    struct net_pkt *k;

    if (n < 8) {
        fail(c, W_TRUNC);
        return;
    }
    /* Ethernet/IPv4 ARP only; others are valid but not interesting */
    if (be16(p) != 1 || be16(p + 2) != ETH_IPV4 || p[4] != 6 || p[5] != 4) {
        c->d->st.non_ip += c->n == 0;
        fail(c, W_UNSUP);
        return;
    }
    if (n < 28) {
        fail(c, W_TRUNC);
        return;
    }
    if (c->n >= NET_LAYERS_MAX) {
        c->d->st.tunnel_too_deep++;
        return;
    }
    k = &c->out[c->n++];
    memset(k, 0, sizeof(*k));
    k->ts_ns = c->ts_ns;
    k->pcap_cnt = c->pcap_cnt;
    k->caplen = c->caplen;
    k->wirelen = c->wirelen;
    k->is_arp = 1;
    k->arp_op = (uint8_t)be16(p + 6);
    k->src.fam = 4;
    memcpy(k->src.a, p + 14, 4);
    k->dst.fam = 4;
    memcpy(k->dst.a, p + 24, 4);
    k->vlan[0] = c->vlan[0];
    k->vlan[1] = c->vlan[1];
    k->vlan3 = c->vlan[2];
    k->vlan_n = c->vlan_n;
    k->pkt_len = pkt_len;
    k->eth = c->eth;
    c->d->st.arp++;
}

static void
decode_eth(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len, uint8_t tunnel)
{
    uint32_t off = 14;
    uint16_t type;

    if (n < 14) {
        fail(c, W_TRUNC);
        return;
    }
    if (++c->eth_depth > 2 * NET_LAYERS_MAX) {
        fail(c, W_MALFORMED);
        return;
    }
    c->eth = p;
    type = be16(p + 12);
    for (int depth = 0; depth < ETH_DEPTH_MAX; depth++) {
        switch (type) {
        case ETH_VLAN:
        case ETH_QINQ:
        case ETH_QINQ_OLD:
            if (n < off + 4) {
                fail(c, W_TRUNC);
                return;
            }
            if (c->vlan_n < 3)
                c->vlan[c->vlan_n] = be16(p + off) & 0x0fff;
            if (c->vlan_n < 255)
                c->vlan_n++;
            if (c->n == 0 && c->vlan_n == 1)
                c->d->st.vlan++;
            type = be16(p + off + 2);
            off += 4;
            continue;
        case ETH_MPLS:
        case ETH_MPLS_MC:
            for (int i = 0;; i++) {
                if (n < off + 4) {
                    fail(c, W_TRUNC);
                    return;
                }
                bool bottom = (p[off + 2] & 1) != 0;
                off += 4;
                if (bottom)
                    break;
                if (i >= ETH_DEPTH_MAX) {
                    fail(c, W_MALFORMED);
                    return;
                }
            }
            decode_ip_guess(c, p + off, n - off, pkt_len, tunnel);
            return;
        case ETH_PPPOE: {
            if (n < off + 8) {
                fail(c, W_TRUNC);
                return;
            }
            /* the PPP protocol field may be compressed to one byte (RFC 1661 6.5) */
            uint16_t pp = (p[off + 6] & 1) ? p[off + 6] : be16(p + off + 6);
            off += (p[off + 6] & 1) ? 7 : 8;
            if (pp == 0x0021)
                decode_ipv4(c, p + off, n - off, pkt_len, tunnel, false);
            else if (pp == 0x0057)
                decode_ipv6(c, p + off, n - off, pkt_len, tunnel, false);
            else {
                c->d->st.non_ip += c->n == 0;
                fail(c, W_UNSUP);
            }
            return;
        }
        case ETH_ARP:
            decode_arp(c, p + off, n - off, pkt_len);
            return;
        case ETH_FABRICPATH: /* Cisco FabricPath: FTag/TTL, then the inner Ethernet frame */
            if (n < off + 2 + 14) {
                fail(c, W_TRUNC);
                return;
            }
            decode_eth(c, p + off + 2, n - off - 2, pkt_len, tunnel);
            return;
        case ETH_VNTAG: /* Cisco VN-Tag: 4 bytes, then the ethertype */
            if (n < off + 6) {
                fail(c, W_TRUNC);
                return;
            }
            type = be16(p + off + 4);
            off += 6;
            continue;
        case ETH_PBB: /* 802.1ah provider backbone: I-TAG, then the customer's frame */
            if (n < off + 4 + 14) {
                fail(c, W_TRUNC);
                return;
            }
            decode_eth(c, p + off + 4, n - off - 4, pkt_len, tunnel);
            return;
        default:
            if (type < 0x0600 && n >= off + 8 && p[off] == 0xaa && p[off + 1] == 0xaa &&
                p[off + 2] == 0x03) {
                /* 802.3 length, LLC/SNAP (AA AA 03, an OUI): its ethertype follows */
                type = be16(p + off + 6);
                off += 8;
                continue;
            }
            if (type < 0x0600) { /* 802.3 length: other LLC (STP, ...) */
                c->d->st.non_ip += c->n == 0;
                fail(c, W_UNSUP);
                return;
            }
            decode_l3(c, type, p + off, n - off, pkt_len, tunnel);
            return;
        }
    }
    fail(c, W_MALFORMED); /* too many stacked headers */
}

/* PPP inside PPTP's GRE: optional address/control, then a 1- or 2-byte protocol. */
static void
decode_ppp(struct dctx *c, const uint8_t *p, uint32_t n, uint8_t tunnel)
{
    uint16_t proto;

    if (n >= 2 && p[0] == 0xff && p[1] == 0x03) {
        p += 2;
        n -= 2;
    }
    if (n < 1) {
        fail(c, W_TRUNC);
        return;
    }
    if (p[0] & 1) {
        proto = p[0];
        p += 1;
        n -= 1;
    } else {
        if (n < 2) {
            fail(c, W_TRUNC);
            return;
        }
        proto = be16(p);
        p += 2;
        n -= 2;
    }
    if (proto == 0x21)
        decode_ipv4(c, p, n, len_from(c, p, n), tunnel, false);
    else if (proto == 0x57)
        decode_ipv6(c, p, n, len_from(c, p, n), tunnel, false);
    else if (tunnel)
        c->d->st.tunnel_bad++; /* LCP, CCP, compressed data: the outer packet stands */
    else {
        c->d->st.non_ip++;
        fail(c, W_UNSUP);
    }
}

static void
decode_gre(struct dctx *c, const uint8_t *p, uint32_t n)
{
    uint16_t flags, proto;
    uint32_t hl = 4;
    size_t before = c->n;

    if (n < 4)
        goto bad;
    flags = be16(p);
    proto = be16(p + 2);
    if ((flags & 7) == 0) {
        if (flags & 0x4000) /* source routing: obsolete, not decoded */
            goto bad;
        if (flags & 0x8000)
            hl += 4;
        if (flags & 0x2000)
            hl += 4;
        if (flags & 0x1000)
            hl += 4;
    } else if ((flags & 7) == 1) {
        if (proto != ETH_PPP || !(flags & 0x2000))
            goto bad;
        hl += 4;
        if (flags & 0x1000)
            hl += 4;
        if (flags & 0x0080)
            hl += 4;
    } else {
        goto bad;
    }
    if (n < hl)
        goto bad;
    p += hl;
    n -= hl;
    switch (proto) {
    case ETH_IPV4:
        decode_ipv4(c, p, n, len_from(c, p, n), NET_TUN_GRE, false);
        break;
    case ETH_IPV6:
        decode_ipv6(c, p, n, len_from(c, p, n), NET_TUN_GRE, false);
        break;
    case ETH_TEB:
        decode_eth(c, p, n, len_from(c, p, n), NET_TUN_GRE);
        break;
    case ETH_PPP:
        decode_ppp(c, p, n, NET_TUN_GRE);
        break;
    case ETH_ERSPAN2:
        /* type II has a sequence number and an 8-byte header; type I has neither */
        if (flags & 0x1000) {
            if (n < 8 || (p[0] >> 4) != 1)
                goto bad;
            p += 8;
            n -= 8;
        }
        decode_eth(c, p, n, len_from(c, p, n), NET_TUN_ERSPAN);
        break;
    case ETH_ERSPAN3: {
        uint32_t eh = 12;
        if (n < 12 || (p[0] >> 4) != 2)
            goto bad;
        if (p[11] & 1) /* O flag: platform-specific subheader */
            eh += 8;
        if (n < eh)
            goto bad;
        decode_eth(c, p + eh, n - eh, len_from(c, p + eh, n - eh), NET_TUN_ERSPAN);
        break;
    }
    default:
        goto bad;
    }
    if (c->n == before)
        c->d->st.tunnel_bad++;
    return;
bad:
    c->d->st.tunnel_bad++;
}

static const struct net_pkt zero_pkt;

/* Starts the packet of an IP layer; NULL when the frame already has NET_LAYERS_MAX. */
static struct net_pkt *
new_layer(struct dctx *c, uint8_t ipv, uint32_t pkt_len, uint8_t tunnel, bool reassembled)
{
    struct net_pkt *k;

    if (c->n >= NET_LAYERS_MAX) {
        c->d->st.tunnel_too_deep++;
        return NULL;
    }
    k = &c->out[c->n];
    /* every other member zero: a copy of a zero packet, which gcc makes with vector moves
     * (a memset of the struct, or an initializer, became a `rep stos`, whose start-up cost
     * was most of this function's time: ~2 % of `bannin pcap`) */
    *k = zero_pkt;
    k->ts_ns = c->ts_ns;
    k->pcap_cnt = c->pcap_cnt;
    k->caplen = c->caplen;
    k->wirelen = c->wirelen;
    k->vlan[0] = c->vlan[0];
    k->vlan[1] = c->vlan[1];
    k->vlan3 = c->vlan[2];
    k->vlan_n = c->vlan_n;
    k->tunnel = tunnel;
    k->fragmented = reassembled;
    k->ip_v = ipv;
    k->layer = (uint8_t)c->n;
    k->pkt_len = c->n == 0 && !reassembled ? c->caplen : pkt_len;
    k->eth = c->eth;
    return k;
}

/* Transport header of k; commits the layer (c->n++) unless the header is bad. */
static void
decode_l4(struct dctx *c, struct net_pkt *k, const uint8_t *p, uint32_t n)
{
    struct net_decode_stats *st = &c->d->st;

    switch (k->proto) {
    case IPPROTO_TCP: {
        uint32_t doff;
        if (n < 20) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        doff = (uint32_t)(p[12] >> 4) * 4;
        if (doff < 20) {
            fail(c, W_MALFORMED);
            return;
        }
        if (n < doff) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        k->sport = be16(p);
        k->dport = be16(p + 2);
        k->tcp_seq = be32(p + 4);
        k->tcp_ack = be32(p + 8);
        k->tcp_flags = p[13];
        k->tcp_win = be16(p + 14);
        k->payload = p + doff;
        k->payload_len = n - doff;
        k->l4_ok = 1;
        st->tcp++;
        c->n++;
        return;
    }
    case IPPROTO_UDP: {
        uint32_t ulen;
        if (n < 8) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        ulen = be16(p + 4);
        if (ulen < 8) {
            fail(c, W_MALFORMED);
            return;
        }
        if (ulen > n) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        k->sport = be16(p);
        k->dport = be16(p + 2);
        k->payload = p + 8;
        k->payload_len = ulen - 8;
        k->l4_ok = 1;
        st->udp++;
        c->n++;
        if (k->dport == GENEVE_PORT && k->payload_len >= 8) {
            /* GENEVE (RFC 8926): version 0, options length in 4-byte words, protocol */
            const uint8_t *g = k->payload;
            uint32_t gl = 8 + (uint32_t)(g[0] & 0x3f) * 4;
            size_t before = c->n;
            if ((g[0] >> 6) == 0 && k->payload_len > gl) {
                const uint8_t *in = g + gl;
                uint32_t inl = k->payload_len - gl;
                uint16_t gp = be16(g + 2);
                if (gp == ETH_TEB)
                    decode_eth(c, in, inl, len_from(c, in, inl), NET_TUN_GENEVE);
                else
                    decode_l3(c, gp, in, inl, len_from(c, in, inl), NET_TUN_GENEVE);
            }
            if (c->n == before)
                st->tunnel_bad++;
            return;
        }
        if ((k->dport == TEREDO_PORT || k->sport == TEREDO_PORT) && c->n < NET_LAYERS_MAX) {
            /* Teredo (RFC 4380): optional authentication and origin indication, then an
             * IPv6 packet filling the datagram exactly (else it is not Teredo) */
            const uint8_t *t = k->payload;
            uint32_t tl = k->payload_len;
            if (tl >= 4 && t[0] == 0 && t[1] == 1) {
                uint32_t al = 4 + (uint32_t)t[2] + t[3] + 8 + 1;
                t = tl >= al ? t + al : t;
                tl = tl >= al ? tl - al : 0;
            }
            if (tl >= 8 && t[0] == 0 && t[1] == 0) {
                t += 8;
                tl -= 8;
            }
            if (tl >= 40 && (t[0] >> 4) == 6 && 40u + be16(t + 4) == tl) {
                decode_ipv6(c, t, tl, len_from(c, t, tl), NET_TUN_TEREDO, false);
                return;
            }
        }
        if ((k->dport == AYIYA_PORT || k->sport == AYIYA_PORT) && k->payload_len >= 8 &&
            c->n < NET_LAYERS_MAX) {
            /* AYIYA: identity and signature lengths in the header, next header 4 or 41 */
            const uint8_t *a = k->payload;
            uint32_t hl = 8 + (1u << (a[0] >> 4)) + (uint32_t)(a[1] >> 4) * 4;
            if ((a[2] & 0x0f) == 1 && (a[3] == IPPROTO_IPV6 || a[3] == IPPROTO_IPIP) &&
                k->payload_len > hl) {
                size_t before = c->n;
                const uint8_t *in = a + hl;
                uint32_t inl = k->payload_len - hl;
                if (a[3] == IPPROTO_IPV6)
                    decode_ipv6(c, in, inl, len_from(c, in, inl), NET_TUN_IPIP, false);
                else
                    decode_ipv4(c, in, inl, len_from(c, in, inl), NET_TUN_IPIP, false);
                if (c->n == before)
                    st->tunnel_bad++;
                return;
            }
        }
        if ((k->dport == GTPU_PORT || k->sport == GTPU_PORT) && k->payload_len >= 8 &&
            (k->payload[0] >> 5) == 1 && (k->payload[0] & 0x10) && k->payload[1] == 0xff &&
            c->n < NET_LAYERS_MAX) {
            /* GTP-U T-PDU: 8 bytes, 4 more with any of E/S/PN, extension headers */
            const uint8_t *g = k->payload;
            uint32_t gl = 8, gn = k->payload_len;
            bool ok = true;
            if (g[0] & 0x07) {
                gl = 12;
                uint8_t next = gn >= 12 ? g[11] : 0;
                for (int i = 0; ok && next && i < 8; i++) {
                    if (gn < gl + 1 || g[gl] == 0 || gn < gl + (uint32_t)g[gl] * 4) {
                        ok = false;
                        break;
                    }
                    gl += (uint32_t)g[gl] * 4;
                    next = g[gl - 1];
                }
                ok = ok && gn >= 12 && !next;
            }
            if (ok && gn > gl) {
                size_t before = c->n;
                decode_ip_guess(c, g + gl, gn - gl, len_from(c, g + gl, gn - gl),
                                NET_TUN_IPIP);
                if (c->n == before)
                    st->tunnel_bad++;
                return;
            }
        }
        if (k->dport == GRE_UDP_PORT && k->payload_len >= 4 && c->n < NET_LAYERS_MAX) {
            /* GRE-in-UDP (RFC 8086): the GRE header, then its payload (Zeek decodes it);
             * decode_gre counts what it cannot decode */
            decode_gre(c, k->payload, k->payload_len);
            return;
        }
        if (k->dport == VXLAN_PORT && k->payload_len >= 8 + 14 && (k->payload[0] & 0x08)) {
            size_t before = c->n;
            const uint8_t *e = k->payload + 8;
            decode_eth(c, e, k->payload_len - 8, len_from(c, e, k->payload_len - 8),
                       NET_TUN_VXLAN);
            if (c->n == before)
                st->tunnel_bad++;
        }
        return;
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        if (n < 4) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        k->sport = p[0];
        k->dport = p[1];
        k->payload = n >= 8 ? p + 8 : p + n;
        k->payload_len = n >= 8 ? n - 8 : 0;
        k->l4_ok = 1;
        st->icmp++;
        c->n++;
        return;
    case IPPROTO_ESP:
        if (n < 8) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        k->spi = be32(p);
        k->sport = (uint16_t)(k->spi >> 16);
        k->dport = (uint16_t)k->spi;
        k->payload = p + 8;
        k->payload_len = n - 8;
        k->l4_ok = 1;
        st->other_l4++;
        c->n++;
        return;
    case IPPROTO_SCTP:
        if (n < 12) {
            fail(c, W_TRUNC);
            st->l4_truncated++;
            return;
        }
        k->sport = be16(p);
        k->dport = be16(p + 2);
        k->payload = p + 12;
        k->payload_len = n - 12;
        k->l4_ok = 1;
        st->other_l4++;
        c->n++;
        return;
    case IPPROTO_GRE:
        k->payload = p;
        k->payload_len = n;
        st->other_l4++;
        c->n++;
        decode_gre(c, p, n);
        return;
    case IPPROTO_IPIP:
    case IPPROTO_IPV6: {
        size_t before;
        k->payload = p;
        k->payload_len = n;
        st->other_l4++;
        c->n++;
        before = c->n;
        if (k->proto == IPPROTO_IPIP)
            decode_ipv4(c, p, n, len_from(c, p, n), NET_TUN_IPIP, false);
        else
            decode_ipv6(c, p, n, len_from(c, p, n), NET_TUN_IPIP, false);
        if (c->n == before)
            st->tunnel_bad++;
        return;
    }
    default:
        k->payload = p;
        k->payload_len = n;
        st->other_l4++;
        c->n++;
        return;
    }
}

static void
reassembled(struct dctx *c, int rc, const uint8_t *dg, uint32_t dglen, uint8_t tunnel, int v)
{
    if (rc < 0) {
        fail(c, W_FRAG_DROP);
        return;
    }
    if (rc == 0) {
        fail(c, W_FRAG_PENDING);
        return;
    }
    if (c->defrag_depth >= 2) { /* a fragment inside a reassembled fragment */
        fail(c, W_MALFORMED);
        return;
    }
    c->defrag_depth++;
    if (v == 4)
        decode_ipv4(c, dg, dglen, dglen, tunnel, true);
    else
        decode_ipv6(c, dg, dglen, dglen, tunnel, true);
    c->defrag_depth--;
}

static void
decode_ipv4(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len, uint8_t tunnel,
            bool reasm)
{
    uint32_t hl, tot, off;
    bool mf;
    struct net_pkt *k;

    if (n < 20) {
        fail(c, W_TRUNC);
        return;
    }
    if ((p[0] >> 4) != 4) {
        fail(c, W_MALFORMED);
        return;
    }
    hl = (uint32_t)(p[0] & 15) * 4;
    tot = be16(p + 2);
    if (hl < 20 || tot < hl) {
        fail(c, W_MALFORMED);
        return;
    }
    if (n < hl || n < tot) {
        fail(c, W_TRUNC);
        return;
    }
    n = tot; /* drop link-layer padding */
    off = (uint32_t)(be16(p + 6) & 0x1fff) * 8;
    mf = (p[6] & 0x20) != 0;
    if (off || mf) {
        struct net_frag fr = {
            .fam = 4, .src = p + 12, .dst = p + 16, .id = be16(p + 4), .proto = p[9],
            .ttl = p[8], .off = off, .more = mf, .data = p + hl, .len = tot - hl,
        };
        const uint8_t *dg;
        uint32_t dglen;
        int rc;
        if (c->defrag_depth > 0) {
            fail(c, W_MALFORMED);
            return;
        }
        rc = net_defrag_add(c->d->defrag, &fr, c->ts_ns, &c->d->st, &dg, &dglen);
        reassembled(c, rc, dg, dglen, tunnel, 4);
        return;
    }
    k = new_layer(c, 4, pkt_len, tunnel, reasm);
    if (!k)
        return;
    k->src.fam = 4;
    memcpy(k->src.a, p + 12, 4);
    k->dst.fam = 4;
    memcpy(k->dst.a, p + 16, 4);
    k->proto = p[9];
    k->ttl = p[8];
    k->ip_len = tot;
    if (c->n == 0)
        c->d->st.ipv4++;
    decode_l4(c, k, p + hl, tot - hl);
}

static void
decode_ipv6(struct dctx *c, const uint8_t *p, uint32_t n, uint32_t pkt_len, uint8_t tunnel,
            bool reasm)
{
    uint32_t plen, off = 40;
    uint8_t nh;
    struct net_pkt *k;

    if (n < 40) {
        fail(c, W_TRUNC);
        return;
    }
    if ((p[0] >> 4) != 6) {
        fail(c, W_MALFORMED);
        return;
    }
    plen = be16(p + 4);
    /* a jumbogram (length 0 and a hop-by-hop header) is not used on links we capture; length
     * 0 with another next header is a packet with no payload (Teredo bubbles, probes) */
    if (plen == 0 && p[6] == 0) {
        fail(c, W_MALFORMED);
        return;
    }
    if (n < 40 + plen) {
        fail(c, W_TRUNC);
        return;
    }
    n = 40 + plen;
    nh = p[6];
    for (int i = 0; i < 8; i++) {
        uint32_t el;
        if (nh == 0 || nh == 43 || nh == 60 || nh == 51) {
            if (n < off + 2) {
                fail(c, W_TRUNC);
                return;
            }
            el = nh == 51 ? ((uint32_t)p[off + 1] + 2) * 4 : ((uint32_t)p[off + 1] + 1) * 8;
            if (n < off + el) {
                fail(c, W_TRUNC);
                return;
            }
            nh = p[off];
            off += el;
            continue;
        }
        if (nh == 44) {
            uint32_t foff;
            bool more;
            if (n < off + 8) {
                fail(c, W_TRUNC);
                return;
            }
            foff = be16(p + off + 2) & 0xfff8;
            more = (p[off + 3] & 1) != 0;
            if (foff == 0 && !more) { /* atomic fragment (RFC 6946) */
                nh = p[off];
                off += 8;
                continue;
            }
            if (c->defrag_depth > 0) {
                fail(c, W_MALFORMED);
                return;
            }
            struct net_frag fr = {
                .fam = 6, .src = p + 8, .dst = p + 24, .id = be32(p + off + 4),
                .proto = p[off], .ttl = p[7], .off = foff, .more = more,
                .data = p + off + 8, .len = n - off - 8,
            };
            const uint8_t *dg;
            uint32_t dglen;
            int rc = net_defrag_add(c->d->defrag, &fr, c->ts_ns, &c->d->st, &dg, &dglen);
            reassembled(c, rc, dg, dglen, tunnel, 6);
            return;
        }
        break;
    }
    k = new_layer(c, 6, pkt_len, tunnel, reasm);
    if (!k)
        return;
    k->src.fam = 6;
    memcpy(k->src.a, p + 8, 16);
    k->dst.fam = 6;
    memcpy(k->dst.a, p + 24, 16);
    k->proto = nh;
    k->ttl = p[7];
    k->ip_len = n;
    if (c->n == 0)
        c->d->st.ipv6++;
    decode_l4(c, k, p + off, n - off);
}

/* An 802.11 frame: data frames carry LLC/SNAP and an ethertype; others are not IP. */
static void
decode_80211(struct dctx *c, const uint8_t *p, uint32_t n)
{
    uint32_t hl = 24;
    uint16_t fc;

    if (n < 24) {
        fail(c, W_TRUNC);
        return;
    }
    fc = (uint16_t)(p[0] | p[1] << 8);
    if (((fc >> 2) & 3) != 2 || (fc & 0x4000)) { /* not data, or protected */
        c->d->st.non_ip += c->n == 0;
        fail(c, W_UNSUP);
        return;
    }
    if ((fc & 0x0300) == 0x0300) /* to and from DS: a fourth address */
        hl += 6;
    if (fc & 0x0080) /* QoS data */
        hl += 2;
    if (n < hl + 8) {
        fail(c, W_TRUNC);
        return;
    }
    if (p[hl] != 0xaa || p[hl + 1] != 0xaa || p[hl + 2] != 0x03) {
        c->d->st.non_ip += c->n == 0;
        fail(c, W_UNSUP);
        return;
    }
    decode_l3(c, be16(p + hl + 6), p + hl + 8, n - hl - 8, n, 0);
}

/* Linux NFLOG: a 4-byte header, then TLVs (little-endian length and type, 4-aligned);
 * NFULA_PAYLOAD (9) holds the IP packet. */
static void
decode_nflog(struct dctx *c, const uint8_t *p, uint32_t n)
{
    uint32_t off = 4;

    if (n < 4) {
        fail(c, W_TRUNC);
        return;
    }
    while (off + 4 <= n) {
        uint32_t tl = (uint32_t)(p[off] | p[off + 1] << 8);
        uint32_t type = (uint32_t)(p[off + 2] | p[off + 3] << 8) & 0x7fff;
        if (tl < 4 || off + tl > n) {
            fail(c, tl < 4 ? W_MALFORMED : W_TRUNC);
            return;
        }
        if (type == 9) {
            decode_ip_guess(c, p + off + 4, tl - 4, n, 0);
            return;
        }
        off += (tl + 3) & ~3u;
    }
    c->d->st.non_ip += c->n == 0;
    fail(c, W_UNSUP);
}

static void
decode_null(struct dctx *c, const uint8_t *p, uint32_t n, bool loop)
{
    uint32_t fam;

    if (n < 4) {
        fail(c, W_TRUNC);
        return;
    }
    /* DLT_NULL stores the family in the capturing host's byte order: accept both */
    fam = loop ? be32(p) : (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                               ((uint32_t)p[3] << 24);
    if (!loop && fam > 0xffff)
        fam = be32(p);
    if (fam == 2)
        decode_ipv4(c, p + 4, n - 4, n, 0, false);
    else if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
        decode_ipv6(c, p + 4, n - 4, n, 0, false);
    else {
        c->d->st.non_ip++;
        fail(c, W_UNSUP);
    }
}

bool
net_link_supported(int lt)
{
    switch (lt) {
    case NET_LINK_NULL:
    case NET_LINK_ETHERNET:
    case NET_LINK_RAW:
    case 14:
    case 101:
    case NET_LINK_LOOP:
    case NET_LINK_SLL:
    case NET_LINK_IPV4:
    case NET_LINK_IPV6:
    case NET_LINK_SLL2:
    case LINK_CHDLC:
    case LINK_PPP:
    case LINK_IEEE802_11:
    case LINK_RADIOTAP:
    case LINK_NFLOG:
        return true;
    default:
        return false;
    }
}

int
net_decoder_init(struct net_decoder *d, int linktype)
{
    memset(d, 0, sizeof(*d));
    if (!net_link_supported(linktype))
        return BN_EUNSUP;
    d->linktype = linktype;
    d->defrag = net_defrag_new(NET_DEFRAG_DATAGRAMS, NET_DEFRAG_TIMEOUT_NS);
    return d->defrag ? 0 : BN_ENOMEM;
}

void
net_decoder_release(struct net_decoder *d)
{
    if (!d)
        return;
    net_defrag_free(d->defrag);
    d->defrag = NULL;
}

size_t
net_decode(struct net_decoder *d, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
           uint64_t ts_ns, uint64_t pcap_cnt, struct net_pkt out[NET_LAYERS_MAX])
{
    struct dctx c = {
        .d = d, .frame = frame, .caplen = caplen, .wirelen = wirelen, .ts_ns = ts_ns,
        .pcap_cnt = pcap_cnt, .out = out,
    };

    d->st.packets++;
    d->st.bytes += caplen;
    switch (d->linktype) {
    case NET_LINK_ETHERNET:
        decode_eth(&c, frame, caplen, caplen, 0);
        break;
    case NET_LINK_RAW:
    case 14:
    case 101:
        decode_ip_guess(&c, frame, caplen, caplen, 0);
        break;
    case NET_LINK_IPV4:
        decode_ipv4(&c, frame, caplen, caplen, 0, false);
        break;
    case NET_LINK_IPV6:
        decode_ipv6(&c, frame, caplen, caplen, 0, false);
        break;
    case NET_LINK_NULL:
        decode_null(&c, frame, caplen, false);
        break;
    case NET_LINK_LOOP:
        decode_null(&c, frame, caplen, true);
        break;
    case NET_LINK_SLL:
        if (caplen < 16)
            fail(&c, W_TRUNC);
        else if (be16(frame + 14) == ETH_ARP)
            decode_arp(&c, frame + 16, caplen - 16, caplen);
        else if (be16(frame + 14) == ETH_VLAN && caplen >= 20) {
            c.vlan[0] = be16(frame + 16) & 0x0fff;
            c.vlan_n = 1;
            d->st.vlan++;
            decode_l3(&c, be16(frame + 18), frame + 20, caplen - 20, caplen, 0);
        } else
            decode_l3(&c, be16(frame + 14), frame + 16, caplen - 16, caplen, 0);
        break;
    case LINK_PPP:
        decode_ppp(&c, frame, caplen, 0);
        break;
    case LINK_IEEE802_11:
        decode_80211(&c, frame, caplen);
        break;
    case LINK_RADIOTAP: { /* radiotap: its own length (little-endian), then 802.11 */
        uint32_t rl = caplen >= 4 ? (uint32_t)(frame[2] | frame[3] << 8) : 0;
        if (caplen < 4 || rl > caplen)
            fail(&c, W_TRUNC);
        else if (rl < 8)
            fail(&c, W_MALFORMED);
        else
            decode_80211(&c, frame + rl, caplen - rl);
        break;
    }
    case LINK_NFLOG:
        decode_nflog(&c, frame, caplen);
        break;
    case LINK_CHDLC: /* Cisco HDLC: address, control, then an ethertype */
        if (caplen < 4)
            fail(&c, W_TRUNC);
        else
            decode_l3(&c, be16(frame + 2), frame + 4, caplen - 4, caplen, 0);
        break;
    case NET_LINK_SLL2:
        if (caplen < 20)
            fail(&c, W_TRUNC);
        else if (be16(frame) == ETH_ARP)
            decode_arp(&c, frame + 20, caplen - 20, caplen);
        else
            decode_l3(&c, be16(frame), frame + 20, caplen - 20, caplen, 0);
        break;
    default:
        fail(&c, W_UNSUP);
        break;
    }
    if (c.n > 0) {
        d->st.decoded++;
        d->st.tunnelled += c.n - 1;
        return c.n;
    }
    switch (c.why) {
    case W_TRUNC:
        d->st.truncated++;
        break;
    case W_FRAG_PENDING:
        d->st.frag_pending++;
        break;
    case W_FRAG_DROP:
        d->st.frag_dropped++;
        break;
    case W_UNSUP:
        d->st.unsupported++;
        break;
    case W_MALFORMED:
    case W_NONE:
    default:
        d->st.malformed++;
        break;
    }
    return 0;
}

void
net_decode_stats_add(struct net_decode_stats *t, const struct net_decode_stats *a)
{
    const uint64_t *s = (const uint64_t *)a;
    uint64_t *o = (uint64_t *)t;

    for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
        o[i] += s[i];
}

/* ---- names ---- */

const char *
net_addr_str(const struct net_addr *a, char *buf, size_t size)
{
    if (a->fam != 6 && size >= 16) {
        buf[net_ip4_dotted(buf, a->a)] = '\0';
        return buf;
    }
    if (!inet_ntop(a->fam == 6 ? AF_INET6 : AF_INET, a->a, buf, (socklen_t)size)) {
        if (size)
            buf[0] = '\0';
    }
    return buf;
}

const char *
net_addr_eve(const struct net_addr *a, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";

    if (a->fam != 6)
        return net_addr_str(a, buf, size);
    if (size < 40) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    size_t o = 0;
    for (int i = 0; i < 16; i += 2) {
        if (i)
            buf[o++] = ':';
        buf[o++] = hex[a->a[i] >> 4];
        buf[o++] = hex[a->a[i] & 15];
        buf[o++] = hex[a->a[i + 1] >> 4];
        buf[o++] = hex[a->a[i + 1] & 15];
    }
    buf[o] = '\0';
    return buf;
}

const char *
net_proto_name(uint8_t proto, char *buf, size_t size)
{
    switch (proto) {
    case IPPROTO_TCP: return "TCP";
    case IPPROTO_UDP: return "UDP";
    case IPPROTO_ICMP: return "ICMP";
    case IPPROTO_ICMPV6: return "IPv6-ICMP";
    case IPPROTO_GRE: return "GRE";
    case IPPROTO_IPIP: return "IP-in-IP";
    case IPPROTO_IPV6: return "IPv6";
    case IPPROTO_SCTP: return "SCTP";
    case IPPROTO_ESP: return "ESP";
    case IPPROTO_AH: return "AH";
    case 2: return "IGMP";
    case 89: return "OSPFIGP";
    case 103: return "PIM";
    case 112: return "VRRP";
    default:
        snprintf(buf, size, "%u", proto);
        return buf;
    }
}

const char *
net_tcp_state_name(uint8_t s)
{
    switch (s) {
    case NET_TCP_SYN_SENT: return "syn_sent";
    case NET_TCP_SYN_RECV: return "syn_recv";
    case NET_TCP_ESTABLISHED: return "established";
    case NET_TCP_FIN_WAIT: return "fin_wait1";
    case NET_TCP_FIN_WAIT2: return "fin_wait2";
    case NET_TCP_TIME_WAIT: return "time_wait";
    case NET_TCP_LAST_ACK: return "last_ack";
    case NET_TCP_CLOSE_WAIT: return "close_wait";
    case NET_TCP_CLOSING: return "closing";
    case NET_TCP_CLOSED: return "closed";
    default: return "none";
    }
}

const char *
net_flow_state_name(uint8_t s)
{
    return s == NET_FLOW_ESTABLISHED ? "established" : s == NET_FLOW_CLOSED ? "closed" : "new";
}

const char *
net_flow_end_name(uint8_t e)
{
    return e == NET_END_FORCED ? "forced" : e == NET_END_SHUTDOWN ? "shutdown" : "timeout";
}
