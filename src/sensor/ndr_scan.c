/*
 * ndr_scan.c - port scans. TCP is seen per packet: a SYN is a probe of (target, port); a
 * SYN-ACK back, or the client later sending data on it, answers the probe. UDP is seen at
 * flow end (only the flow knows who spoke first): a flow is a probe of its server port,
 * answered when the server sent anything back (an ICMP port unreachable is not an answer).
 * A vertical scan is one source probing many ports of one target; a horizontal scan is one
 * source probing one port on many targets. Either fires when the distinct probes in the
 * window reach the threshold and most of them went unanswered (a closed TCP port answers
 * RST, a filtered one nothing) - a browser opening connections to many servers gets its
 * SYN-ACKs. UDP to multicast and broadcast addresses and to the traceroute ports
 * (33434-33534) is not a probe.
 *
 * State: scan_probe (source, target, port, protocol) remembers each probe once per window;
 * scan_v (source, target, protocol) and scan_h (source, port, protocol) hold the window
 * counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/ndr_int.h"

struct probe_key {
    struct net_addr src;
    struct net_addr dst;
    uint16_t port;
    uint8_t proto;
};

struct probe_val {
    uint64_t first_ns;
    uint8_t answered;
};

struct vert_key {
    struct net_addr src;
    struct net_addr dst;
    uint8_t proto;
};

struct scan_counts {
    uint32_t probes;
    uint32_t answered;
    uint16_t lo;
    uint16_t hi;
};

struct scan_val {
    struct ndr_window w;
    struct scan_counts c;
};

struct horiz_key {
    struct net_addr src;
    uint16_t port;
    uint8_t proto;
};

int
ndr_scan_init(struct ndr *d)
{
    size_t srcs = (size_t)d->cfg.max_sources;
    int rc = ndr_tab_init(&d->scan_probe, "scan_probe", sizeof(struct probe_key),
                          sizeof(struct probe_val), (size_t)d->cfg.scan_probes_max, d->hkey);
    if (!rc)
        rc = ndr_tab_init(&d->scan_v, "scan_vertical", sizeof(struct vert_key),
                          sizeof(struct scan_val), srcs, d->hkey);
    if (!rc)
        rc = ndr_tab_init(&d->scan_h, "scan_horizontal", sizeof(struct horiz_key),
                          sizeof(struct scan_val), srcs, d->hkey);
    return rc;
}

static void
probe_key(struct probe_key *k, const struct net_addr *src, const struct net_addr *dst,
          uint16_t port, uint8_t proto)
{
    memset(k, 0, sizeof(*k));
    k->src = ndr_addr(src);
    k->dst = ndr_addr(dst);
    k->port = port;
    k->proto = proto;
}

/*
 * The three keys of one probe and their hashes. A probe looks up all three tables; hashing
 * the keys first and prefetching the slots, then the entries, overlaps the six cache misses
 * of the lookups (the tables outgrow the caches on busy links: one entry per probe).
 */
struct scan_keys {
    struct probe_key p;
    struct vert_key v;
    struct horiz_key h;
    uint64_t hp, hv, hh;
};

static void
scan_keys(struct ndr *d, struct scan_keys *sk, const struct net_addr *src,
          const struct net_addr *dst, uint16_t port, uint8_t proto)
{
    probe_key(&sk->p, src, dst, port, proto);
    memset(&sk->v, 0, sizeof(sk->v));
    sk->v.src = sk->p.src;
    sk->v.dst = sk->p.dst;
    sk->v.proto = proto;
    memset(&sk->h, 0, sizeof(sk->h));
    sk->h.src = sk->p.src;
    sk->h.port = port;
    sk->h.proto = proto;
    sk->hp = ndr_tab_hash(&d->scan_probe, &sk->p);
    sk->hv = ndr_tab_hash(&d->scan_v, &sk->v);
    sk->hh = ndr_tab_hash(&d->scan_h, &sk->h);
    ndr_tab_prefetch(&d->scan_probe, sk->hp);
    ndr_tab_prefetch(&d->scan_v, sk->hv);
    ndr_tab_prefetch(&d->scan_h, sk->hh);
    ndr_tab_prefetch_ent(&d->scan_probe, sk->hp);
    ndr_tab_prefetch_ent(&d->scan_v, sk->hv);
    ndr_tab_prefetch_ent(&d->scan_h, sk->hh);
}

/* Enough distinct probes, and enough of them unanswered? */
static bool
scan_fires(const struct ndr *d, const struct scan_val *v, int64_t threshold)
{
    if (v->w.alerted || v->c.probes < (uint64_t)threshold)
        return false;
    uint64_t failed = v->c.probes - BN_MIN(v->c.answered, v->c.probes);
    return failed * 100 >= (uint64_t)d->cfg.scan_fail_pct * v->c.probes;
}

static double
fail_score(const struct scan_val *v)
{
    uint32_t failed = v->c.probes - BN_MIN(v->c.answered, v->c.probes);
    return v->c.probes ? 100.0 * failed / v->c.probes : 0;
}

/* A probe seen for the first time in the window (answered: already known to be). */
struct probe {
    const struct net_addr *src;
    const struct net_addr *dst;
    uint16_t dport;
    uint8_t proto;
    bool answered;
    const struct net_flow *flow;
    uint64_t pcap_cnt;
};

static void
new_probe(struct ndr *d, const struct probe *p, const struct scan_keys *sk, struct net_sink *sink)
{
    uint64_t win = (uint64_t)d->cfg.scan_window_ms * NDR_NS_PER_MS;
    uint64_t now = d->now_ns;
    const char *pname = p->proto == 17 ? "UDP" : "TCP";

    struct scan_val *v = ndr_tab_put_h(&d->scan_v, &sk->v, sk->hv, now, NULL);
    if (v) {
        ndr_window_roll(&v->w, now, win, &v->c, sizeof(v->c));
        if (v->c.probes == 0 || p->dport < v->c.lo)
            v->c.lo = p->dport;
        if (p->dport > v->c.hi)
            v->c.hi = p->dport;
        v->c.probes++;
        v->c.answered += p->answered;
        if (scan_fires(d, v, d->cfg.scan_vertical_ports)) {
            v->w.alerted = 1;
            struct net_alert a;
            char dst[64];
            ndr_alert_init(&a, NDR_SIG_SCAN_VERTICAL, p->src);
            a.dst = ndr_addr(p->dst);
            a.has_dst = 1;
            a.proto = p->proto;
            a.first_ns = v->w.start_ns;
            a.last_ns = now;
            a.score = fail_score(v);
            ndr_alert_detail(&a, "%u %s ports probed on %s in %.1f s (ports %u-%u), %u answered",
                             v->c.probes, pname, net_addr_str(p->dst, dst, sizeof(dst)),
                             (double)(now - v->w.start_ns) / 1e9, v->c.lo, v->c.hi, v->c.answered);
            ndr_alert_emit(d, sink, &a, 0, p->flow, p->pcap_cnt);
        }
    }

    struct scan_val *h = ndr_tab_put_h(&d->scan_h, &sk->h, sk->hh, now, NULL);
    if (h) {
        ndr_window_roll(&h->w, now, win, &h->c, sizeof(h->c));
        h->c.probes++;
        h->c.answered += p->answered;
        if (scan_fires(d, h, d->cfg.scan_horizontal_hosts)) {
            h->w.alerted = 1;
            struct net_alert a;
            ndr_alert_init(&a, NDR_SIG_SCAN_HORIZONTAL, p->src);
            a.dport = p->dport;
            a.has_ports = 1;
            a.proto = p->proto;
            a.first_ns = h->w.start_ns;
            a.last_ns = now;
            a.score = fail_score(h);
            ndr_alert_detail(&a, "%u hosts probed on %s port %u in %.1f s, %u answered",
                             h->c.probes, pname, p->dport, (double)(now - h->w.start_ns) / 1e9,
                             h->c.answered);
            ndr_alert_emit(d, sink, &a, 0, p->flow, p->pcap_cnt);
        }
    }
}

/* A fingerprint of (client, server, port) for the answered-connection cache. */
static uint64_t
conn_fp(const struct net_addr *cli, const struct net_addr *srv, uint16_t port)
{
    uint64_t c[2] = {0, 0}, v[2] = {0, 0};
    memcpy(c, cli->a, cli->fam == 6 ? 16 : 4);
    memcpy(v, srv->a, srv->fam == 6 ? 16 : 4);
    uint64_t x = c[0] ^ (c[1] << 17 | c[1] >> 47) ^ (v[0] << 31 | v[0] >> 33) ^
                 (v[1] << 47 | v[1] >> 17) ^ (uint64_t)port * 0x9e3779b97f4a7c15ull;
    return ndr_mix(x) | 1;
}

/*
 * The probe (client, server, port) was answered: count it once in both windows. Settled on
 * the connection's first answered packet: the flow remembers it (a bit per orientation, as
 * the flow's client may be either side), or, for a packet without a flow yet, a
 * direct-mapped cache of connections.
 */
static void
answered(struct ndr *d, struct net_flow *f, const struct net_addr *cli, uint16_t cport,
         const struct net_addr *srv, uint16_t port)
{
    if (f) {
        uint8_t bit = f->cport == cport && f->cli.fam == cli->fam &&
                              memcmp(f->cli.a, cli->a, cli->fam == 6 ? 16 : 4) == 0
                          ? 1
                          : 2;
        if (f->ndr_answered & bit)
            return; /* this connection's data again */
        f->ndr_answered |= bit;
    } else {
        uint64_t fp = conn_fp(cli, srv, port);
        uint64_t *slot = &d->scan_answered[fp % NDR_ANSWERED_SLOTS];
        if (*slot == fp)
            return; /* this connection's data again: settled on its first packet */
        *slot = fp;
    }
    struct scan_keys sk;
    scan_keys(d, &sk, cli, srv, port, 6);
    struct probe_val *pv = ndr_tab_get_h(&d->scan_probe, &sk.p, sk.hp);
    if (!pv || pv->answered)
        return;
    pv->answered = 1;
    struct scan_val *v = ndr_tab_get_h(&d->scan_v, &sk.v, sk.hv);
    if (v && v->w.start_ns <= pv->first_ns && v->c.answered < v->c.probes)
        v->c.answered++;
    struct scan_val *h = ndr_tab_get_h(&d->scan_h, &sk.h, sk.hh);
    if (h && h->w.start_ns <= pv->first_ns && h->c.answered < h->c.probes)
        h->c.answered++;
}

void
ndr_scan_packet(struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                struct net_sink *sink)
{
    uint8_t fl = p->tcp_flags;
    if ((fl & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == NET_TCP_SYN) {
        struct scan_keys sk;
        scan_keys(d, &sk, &p->src, &p->dst, p->dport, 6);
        bool created;
        struct probe_val *pv = ndr_tab_put_h(&d->scan_probe, &sk.p, sk.hp, d->now_ns, &created);
        if (!pv || !created)
            return; /* a retransmitted SYN is the same probe */
        pv->first_ns = d->now_ns;
        /* A new probe of a connection the cache remembers (port reuse) must be answered anew. */
        uint64_t fp = conn_fp(&p->src, &p->dst, p->dport);
        if (d->scan_answered[fp % NDR_ANSWERED_SLOTS] == fp)
            d->scan_answered[fp % NDR_ANSWERED_SLOTS] = 0;
        if (f)
            f->ndr_answered &= (uint8_t)~NDR_FLOW_ANSWERED;
        struct probe pr = {&p->src, &p->dst, p->dport, 6, false, NULL, p->pcap_cnt};
        new_probe(d, &pr, &sk, sink);
    } else if ((fl & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == (NET_TCP_SYN | NET_TCP_ACK)) {
        answered(d, f, &p->dst, p->dport, &p->src, p->sport);
    } else if ((fl & (NET_TCP_SYN | NET_TCP_RST)) == 0 && (fl & NET_TCP_ACK) &&
               p->payload_len > 0) {
        /* The client sending data: its connection was answered even if the SYN-ACK was not
         * captured (asymmetric routing, a capture of one direction). */
        answered(d, f, &p->src, p->sport, &p->dst, p->dport);
    }
}

/* Multicast and broadcast destinations: discovery protocols, never a probe of one host. */
static bool
group_addr(const struct net_addr *a)
{
    if (a->fam == 6)
        return a->a[0] == 0xff;
    return a->a[0] >= 224 || (a->a[0] == 255 && a->a[1] == 255 && a->a[2] == 255);
}

void
ndr_scan_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    (void)ts_ns;
    if (f->proto != 17 || group_addr(&f->srv) || (f->sport >= 33434 && f->sport <= 33534) ||
        f->pkts[NET_TOSERVER] == 0)
        return;
    struct scan_keys sk;
    scan_keys(d, &sk, &f->cli, &f->srv, f->sport, 17);
    bool created;
    struct probe_val *pv = ndr_tab_put_h(&d->scan_probe, &sk.p, sk.hp, d->now_ns, &created);
    if (!pv)
        return;
    bool ans = f->pkts[NET_TOCLIENT] > 0;
    if (!created) {
        /* The same probe again in the window (a retry): an answer now still counts. */
        if (ans && !pv->answered) {
            pv->answered = 1;
            struct scan_val *v = ndr_tab_get_h(&d->scan_v, &sk.v, sk.hv);
            if (v && v->c.answered < v->c.probes)
                v->c.answered++;
            struct scan_val *h = ndr_tab_get_h(&d->scan_h, &sk.h, sk.hh);
            if (h && h->c.answered < h->c.probes)
                h->c.answered++;
        }
        return;
    }
    pv->first_ns = d->now_ns;
    pv->answered = ans;
    struct probe pr = {&f->cli, &f->srv, f->sport, 17, ans, f, 0};
    new_probe(d, &pr, &sk, sink);
}
