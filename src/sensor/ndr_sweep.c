/*
 * ndr_sweep.c - host sweeps, seen per packet: ICMP (and ICMPv6) echo requests from one
 * source to many addresses, and ARP who-has requests (IPv6: neighbour solicitations) from
 * one sender for many addresses. Replies are counted for the evidence only: a sweep of a
 * live subnet is answered too.
 *
 * Not counted: gratuitous ARP (sender = target) and ARP probes from 0.0.0.0, IPv6 duplicate
 * address detection (solicitations from ::), which every host sends when it joins a network.
 *
 * State: sweep_pair (kind, source, target) remembers each target once per window;
 * sweep_src (kind, source) holds the window counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/ndr_int.h"

enum sweep_kind {
    SWEEP_ICMP = 1,
    SWEEP_ARP = 2,
};

struct sweep_pair_key {
    uint8_t kind;
    struct net_addr src;
    struct net_addr dst;
};

struct sweep_pair_val {
    uint8_t replied;
};

struct sweep_src_key {
    uint8_t kind;
    struct net_addr src;
};

struct sweep_counts {
    uint32_t hosts;
    uint32_t replies;
    struct net_addr lo; /* lowest and highest target, for the evidence */
    struct net_addr hi;
};

struct sweep_src_val {
    struct ndr_window w;
    struct sweep_counts c;
};

int
ndr_sweep_init(struct ndr *d)
{
    int rc = ndr_tab_init(&d->sweep_pair, "sweep_pair", sizeof(struct sweep_pair_key),
                          sizeof(struct sweep_pair_val), (size_t)d->cfg.scan_probes_max, d->hkey);
    if (!rc)
        rc = ndr_tab_init(&d->sweep_src, "sweep_src", sizeof(struct sweep_src_key),
                          sizeof(struct sweep_src_val), (size_t)d->cfg.max_sources, d->hkey);
    return rc;
}

static void
pair_key(struct sweep_pair_key *k, enum sweep_kind kind, const struct net_addr *src,
         const struct net_addr *dst)
{
    memset(k, 0, sizeof(*k));
    k->kind = (uint8_t)kind;
    k->src = ndr_addr(src);
    k->dst = ndr_addr(dst);
}

static struct sweep_src_val *
src_val(struct ndr *d, enum sweep_kind kind, const struct net_addr *src, bool create)
{
    struct sweep_src_key k;
    memset(&k, 0, sizeof(k));
    k.kind = (uint8_t)kind;
    k.src = ndr_addr(src);
    return create ? ndr_tab_put(&d->sweep_src, &k, d->now_ns, NULL)
                  : ndr_tab_get(&d->sweep_src, &k);
}

static int
addr_cmp(const struct net_addr *x, const struct net_addr *y)
{
    return memcmp(x->a, y->a, 16);
}

static void
request(struct ndr *d, enum sweep_kind kind, const struct net_pkt *p, const struct net_addr *target,
        struct net_sink *sink)
{
    struct sweep_pair_key k;
    pair_key(&k, kind, &p->src, target);
    bool created;
    if (!ndr_tab_put(&d->sweep_pair, &k, d->now_ns, &created) || !created)
        return;
    struct sweep_src_val *v = src_val(d, kind, &p->src, true);
    if (!v)
        return;
    uint64_t now = d->now_ns;
    ndr_window_roll(&v->w, now, (uint64_t)d->cfg.sweep_window_ms * NDR_NS_PER_MS, &v->c,
                    sizeof(v->c));
    struct net_addr t = ndr_addr(target);
    if (v->c.hosts == 0 || addr_cmp(&t, &v->c.lo) < 0)
        v->c.lo = t;
    if (v->c.hosts == 0 || addr_cmp(&t, &v->c.hi) > 0)
        v->c.hi = t;
    v->c.hosts++;
    int64_t thr = kind == SWEEP_ARP ? d->cfg.sweep_arp_hosts : d->cfg.sweep_icmp_hosts;
    if (v->w.alerted || v->c.hosts < (uint64_t)thr)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    char lo[64], hi[64];
    ndr_alert_init(&a, kind == SWEEP_ARP ? NDR_SIG_SWEEP_ARP : NDR_SIG_SWEEP_ICMP, &p->src);
    a.proto = kind == SWEEP_ARP ? 0 : p->proto;
    a.first_ns = v->w.start_ns;
    a.last_ns = now;
    a.score = BN_MIN(100.0, 50.0 * v->c.hosts / (double)thr);
    const char *what = kind == SWEEP_ICMP ? "ICMP echo request"
                       : p->proto == 58   ? "IPv6 neighbour solicitation"
                                          : "ARP who-has";
    ndr_alert_detail(&a, "%s to %u hosts in %.1f s (%s .. %s), %u replied", what, v->c.hosts,
                     (double)(now - v->w.start_ns) / 1e9, net_addr_str(&v->c.lo, lo, sizeof(lo)),
                     net_addr_str(&v->c.hi, hi, sizeof(hi)), v->c.replies);
    ndr_alert_emit(d, sink, &a, 0, NULL, p->pcap_cnt);
}

/* A reply from target to src: count it once. */
static void
reply(struct ndr *d, enum sweep_kind kind, const struct net_addr *src,
      const struct net_addr *target)
{
    struct sweep_pair_key k;
    pair_key(&k, kind, src, target);
    struct sweep_pair_val *pv = ndr_tab_get(&d->sweep_pair, &k);
    if (!pv || pv->replied)
        return;
    pv->replied = 1;
    struct sweep_src_val *v = src_val(d, kind, src, false);
    if (v && v->c.replies < v->c.hosts)
        v->c.replies++;
}

static bool
unspecified(const struct net_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->a, zero, a->fam == 6 ? 16 : 4) == 0;
}

/* The target address of an IPv6 neighbour solicitation or advertisement (after the 8-byte
 * ICMPv6 header the decoder skips). False when the packet is too short to hold one. */
static bool
nd_target(const struct net_pkt *p, struct net_addr *t)
{
    if (!p->payload || p->payload_len < 16)
        return false;
    memset(t, 0, sizeof(*t));
    t->fam = 6;
    memcpy(t->a, p->payload, 16);
    return true;
}

void
ndr_sweep_packet(struct ndr *d, const struct net_pkt *p, struct net_sink *sink)
{
    if (p->is_arp) {
        if (p->arp_op == 1 && !ndr_addr_eq(&p->src, &p->dst) && !unspecified(&p->src))
            request(d, SWEEP_ARP, p, &p->dst, sink);
        else if (p->arp_op == 2)
            reply(d, SWEEP_ARP, &p->dst, &p->src);
        return;
    }
    struct net_addr t;
    if (p->proto == 58 && p->sport == 135 && !unspecified(&p->src) && nd_target(p, &t)) {
        if (!ndr_addr_eq(&p->src, &t))
            request(d, SWEEP_ARP, p, &t, sink);
        return;
    }
    if (p->proto == 58 && p->sport == 136 && nd_target(p, &t)) {
        reply(d, SWEEP_ARP, &p->dst, &t);
        return;
    }
    /* ICMP type travels in sport. */
    if ((p->proto == 1 && p->sport == 8) || (p->proto == 58 && p->sport == 128))
        request(d, SWEEP_ICMP, p, &p->dst, sink);
    else if ((p->proto == 1 && p->sport == 0) || (p->proto == 58 && p->sport == 129))
        reply(d, SWEEP_ICMP, &p->dst, &p->src);
}
