/*
 * ndr_exfil.c - unusually large outbound transfers, counted per packet so a long upload is
 * seen while it runs, not when its flow finally ends: the IP bytes an internal host sends
 * to one external host in a window, against what it received from it. Backups and uploads
 * to internal hosts never count; uploads to cloud storage do (see docs/SENSOR.md).
 *
 * State: exfil (internal host, external host) holds the window counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/ndr_int.h"

struct exfil_key {
    struct net_addr in;   /* the internal host */
    struct net_addr out;  /* the external host */
};

struct exfil_counts {
    uint64_t sent;
    uint64_t received;
    uint64_t pkts;
    uint16_t port;        /* the external side's port of the latest packet */
    uint8_t proto;
};

struct exfil_val {
    struct ndr_window w;
    struct exfil_counts c;
};

int
ndr_exfil_init(struct ndr *d)
{
    return ndr_tab_init(&d->exfil, "exfil", sizeof(struct exfil_key), sizeof(struct exfil_val),
                        (size_t)d->cfg.max_sources, d->hkey);
}

void
ndr_exfil_packet(struct ndr *d, const struct net_pkt *p, struct net_sink *sink)
{
    if (p->proto != 6 && p->proto != 17)
        return;
    bool src_in = ndr_internal(d, &p->src), dst_in = ndr_internal(d, &p->dst);
    if (src_in == dst_in)
        return;
    struct exfil_key k;
    memset(&k, 0, sizeof(k));
    k.in = ndr_addr(src_in ? &p->src : &p->dst);
    k.out = ndr_addr(src_in ? &p->dst : &p->src);
    struct exfil_val *v;
    uint64_t bytes = p->ip_len ? p->ip_len : p->wirelen;
    if (!src_in) {
        /* Inbound: only worth a table entry when the pair is already tracked. */
        v = ndr_tab_get(&d->exfil, &k);
        if (v && v->w.start_ns)
            v->c.received += bytes;
        return;
    }
    v = ndr_tab_put(&d->exfil, &k, d->now_ns, NULL);
    if (!v)
        return;
    uint64_t now = d->now_ns;
    ndr_window_roll(&v->w, now, (uint64_t)d->cfg.exfil_window_ms * NDR_NS_PER_MS, &v->c,
                    sizeof(v->c));
    v->c.sent += bytes;
    v->c.pkts++;
    v->c.port = p->dport;
    v->c.proto = p->proto;
    if (v->w.alerted || v->c.sent < d->cfg.exfil_bytes ||
        v->c.sent < (uint64_t)d->cfg.exfil_ratio * v->c.received)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    char out[64];
    ndr_alert_init(&a, NDR_SIG_EXFIL, &p->src);
    a.dst = ndr_addr(&p->dst);
    a.has_dst = 1;
    a.sport = p->sport;
    a.dport = p->dport;
    a.has_ports = 1;
    a.proto = p->proto;
    a.first_ns = v->w.start_ns;
    a.last_ns = now;
    a.score = BN_MIN(100.0, 50.0 * (double)v->c.sent / (double)d->cfg.exfil_bytes);
    double secs = (double)(now - v->w.start_ns) / 1e9;
    ndr_alert_detail(&a,
                     "%.2f GB sent to external %s:%u in %.0f s (%.1f MB/s), %.2f MB received",
                     (double)v->c.sent / 1e9, net_addr_str(&p->dst, out, sizeof(out)), p->dport,
                     secs, secs > 0 ? (double)v->c.sent / 1e6 / secs : 0,
                     (double)v->c.received / 1e6);
    ndr_alert_emit(d, sink, &a, ndr_hash(d, &k.out, sizeof(k.out)), NULL, p->pcap_cnt);
}
