/*
 * ndr_scan.c - TCP port scans, seen per packet: a SYN is a probe of (target, port); a
 * SYN-ACK back, or the client later sending data on it, answers the probe. A vertical scan is
 * one source probing many ports of one target; a horizontal scan is one source probing one
 * port on many targets. Either fires when the distinct probes in the window reach the
 * threshold and most of them went unanswered (a closed port answers RST, a filtered one
 * nothing) - a browser opening connections to many servers gets its SYN-ACKs.
 *
 * State: scan_probe (source, target, port) remembers each probe once per window; scan_v
 * (source, target) and scan_h (source, port) hold the window counters.
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
};

struct probe_val {
    uint64_t first_ns;
    uint8_t answered;
};

struct vert_key {
    struct net_addr src;
    struct net_addr dst;
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
          uint16_t port)
{
    memset(k, 0, sizeof(*k));
    k->src = ndr_addr(src);
    k->dst = ndr_addr(dst);
    k->port = port;
}

static struct scan_val *
vert(struct ndr *d, const struct net_addr *src, const struct net_addr *dst, bool create)
{
    struct vert_key k;
    memset(&k, 0, sizeof(k));
    k.src = ndr_addr(src);
    k.dst = ndr_addr(dst);
    return create ? ndr_tab_put(&d->scan_v, &k, d->now_ns, NULL) : ndr_tab_get(&d->scan_v, &k);
}

static struct scan_val *
horiz(struct ndr *d, const struct net_addr *src, uint16_t port, bool create)
{
    struct horiz_key k;
    memset(&k, 0, sizeof(k));
    k.src = ndr_addr(src);
    k.port = port;
    return create ? ndr_tab_put(&d->scan_h, &k, d->now_ns, NULL) : ndr_tab_get(&d->scan_h, &k);
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

static void
new_probe(struct ndr *d, const struct net_pkt *p, struct net_sink *sink)
{
    uint64_t win = (uint64_t)d->cfg.scan_window_ms * NDR_NS_PER_MS;
    uint64_t now = d->now_ns;

    struct scan_val *v = vert(d, &p->src, &p->dst, true);
    if (v) {
        ndr_window_roll(&v->w, now, win, &v->c, sizeof(v->c));
        if (v->c.probes == 0 || p->dport < v->c.lo)
            v->c.lo = p->dport;
        if (p->dport > v->c.hi)
            v->c.hi = p->dport;
        v->c.probes++;
        if (scan_fires(d, v, d->cfg.scan_vertical_ports)) {
            v->w.alerted = 1;
            struct net_alert a;
            char dst[64];
            ndr_alert_init(&a, NDR_SIG_SCAN_VERTICAL, &p->src);
            a.dst = ndr_addr(&p->dst);
            a.has_dst = 1;
            a.proto = 6;
            a.first_ns = v->w.start_ns;
            a.last_ns = now;
            a.score = fail_score(v);
            ndr_alert_detail(&a, "%u ports probed on %s in %.1f s (ports %u-%u), %u answered",
                             v->c.probes, net_addr_str(&p->dst, dst, sizeof(dst)),
                             (double)(now - v->w.start_ns) / 1e9, v->c.lo, v->c.hi, v->c.answered);
            ndr_alert_emit(d, sink, &a, 0, NULL, p->pcap_cnt);
        }
    }

    struct scan_val *h = horiz(d, &p->src, p->dport, true);
    if (h) {
        ndr_window_roll(&h->w, now, win, &h->c, sizeof(h->c));
        h->c.probes++;
        if (scan_fires(d, h, d->cfg.scan_horizontal_hosts)) {
            h->w.alerted = 1;
            struct net_alert a;
            ndr_alert_init(&a, NDR_SIG_SCAN_HORIZONTAL, &p->src);
            a.dport = p->dport;
            a.has_ports = 1;
            a.proto = 6;
            a.first_ns = h->w.start_ns;
            a.last_ns = now;
            a.score = fail_score(h);
            ndr_alert_detail(&a, "%u hosts probed on port %u in %.1f s, %u answered", h->c.probes,
                             p->dport, (double)(now - h->w.start_ns) / 1e9, h->c.answered);
            ndr_alert_emit(d, sink, &a, 0, NULL, p->pcap_cnt);
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

/* The probe (client, server, port) was answered: count it once in both windows. */
static void
answered(struct ndr *d, const struct net_addr *cli, const struct net_addr *srv, uint16_t port)
{
    uint64_t fp = conn_fp(cli, srv, port);
    uint64_t *slot = &d->scan_answered[fp % NDR_ANSWERED_SLOTS];
    if (*slot == fp)
        return; /* this connection's data again: settled on its first packet */
    *slot = fp;
    struct probe_key k;
    probe_key(&k, cli, srv, port);
    struct probe_val *pv = ndr_tab_get(&d->scan_probe, &k);
    if (!pv || pv->answered)
        return;
    pv->answered = 1;
    struct scan_val *v = vert(d, cli, srv, false);
    if (v && v->w.start_ns <= pv->first_ns && v->c.answered < v->c.probes)
        v->c.answered++;
    struct scan_val *h = horiz(d, cli, port, false);
    if (h && h->w.start_ns <= pv->first_ns && h->c.answered < h->c.probes)
        h->c.answered++;
}

void
ndr_scan_packet(struct ndr *d, const struct net_pkt *p, struct net_sink *sink)
{
    uint8_t fl = p->tcp_flags;
    if ((fl & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == NET_TCP_SYN) {
        struct probe_key k;
        probe_key(&k, &p->src, &p->dst, p->dport);
        bool created;
        struct probe_val *pv = ndr_tab_put(&d->scan_probe, &k, d->now_ns, &created);
        if (!pv || !created)
            return; /* a retransmitted SYN is the same probe */
        pv->first_ns = d->now_ns;
        /* A new probe of a connection the cache remembers (port reuse) must be answered anew. */
        uint64_t fp = conn_fp(&p->src, &p->dst, p->dport);
        if (d->scan_answered[fp % NDR_ANSWERED_SLOTS] == fp)
            d->scan_answered[fp % NDR_ANSWERED_SLOTS] = 0;
        new_probe(d, p, sink);
    } else if ((fl & (NET_TCP_SYN | NET_TCP_ACK | NET_TCP_RST)) == (NET_TCP_SYN | NET_TCP_ACK)) {
        answered(d, &p->dst, &p->src, p->sport);
    } else if ((fl & (NET_TCP_SYN | NET_TCP_RST)) == 0 && (fl & NET_TCP_ACK) &&
               p->payload_len > 0) {
        /* The client sending data: its connection was answered even if the SYN-ACK was not
         * captured (asymmetric routing, a capture of one direction). */
        answered(d, &p->src, &p->dst, p->dport);
    }
}
