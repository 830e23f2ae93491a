/*
 * ndr_exfil.c - unusually large outbound transfers, counted per packet so a long upload is
 * seen while it runs, not when its flow finally ends: the IP bytes an internal host sends
 * to one external host in a window, against what it received from it. Backups and uploads
 * to internal hosts never count; uploads to cloud storage do (see docs/SENSOR.md).
 *
 * Per packet the cost is two prefix checks and a direct-mapped accumulator slot per
 * (internal, external) pair: bytes gather in the slot and reach the table when a slot holds
 * NDR_EXFIL_FLUSH bytes, when another pair takes the slot, and at every housekeeping pass
 * (each second of capture time). An alert is therefore at most that much or that late.
 * Packets without payload (bare ACKs) carry no transfer and are not counted.
 *
 * State: exfil (internal host, external host) holds the window counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "sensor/ndr_int.h"

struct exfil_key {
    struct net_addr in;  /* the internal host */
    struct net_addr out; /* the external host */
};

struct exfil_counts {
    uint64_t sent;
    uint64_t received;
    uint64_t pkts;
};

struct exfil_val {
    struct ndr_window w;
    struct exfil_counts c;
    uint16_t in_port; /* ports and protocol of the latest outbound packet */
    uint16_t out_port;
    uint8_t proto;
};

struct ndr_exfil_slot {
    uint64_t fp; /* 0 = empty */
    struct exfil_key k;
    uint64_t sent;
    uint64_t received;
    uint64_t pkts;
    uint64_t pcap_cnt;
    uint16_t in_port;
    uint16_t out_port;
    uint8_t proto;
};

int
ndr_exfil_init(struct ndr *d)
{
    d->exfil_slots = bn_calloc(NDR_EXFIL_SLOTS, sizeof(*d->exfil_slots));
    if (!d->exfil_slots)
        return BN_ENOMEM;
    return ndr_tab_init(&d->exfil, "exfil", sizeof(struct exfil_key), sizeof(struct exfil_val),
                        (size_t)d->cfg.max_sources, d->hkey);
}

void
ndr_exfil_release(struct ndr *d)
{
    bn_free(d->exfil_slots);
    d->exfil_slots = NULL;
}

/* Adds a slot's bytes to the pair's window and alerts when the window crosses the bar. */
static void
drain(struct ndr *d, struct ndr_exfil_slot *s, struct net_sink *sink)
{
    if (!s->fp)
        return;
    struct exfil_key k = s->k;
    uint64_t sent = s->sent, received = s->received, pkts = s->pkts;
    s->fp = 0;
    s->sent = s->received = s->pkts = 0;
    struct exfil_val *v = ndr_tab_put(&d->exfil, &k, d->now_ns, NULL);
    if (!v)
        return;
    uint64_t now = d->now_ns;
    ndr_window_roll(&v->w, now, (uint64_t)d->cfg.exfil_window_ms * NDR_NS_PER_MS, &v->c,
                    sizeof(v->c));
    v->c.sent += sent;
    v->c.received += received;
    v->c.pkts += pkts;
    if (sent) {
        v->in_port = s->in_port;
        v->out_port = s->out_port;
        v->proto = s->proto;
    }
    if (v->w.alerted || v->c.sent < d->cfg.exfil_bytes ||
        v->c.sent < (uint64_t)d->cfg.exfil_ratio * v->c.received)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    char out[64];
    ndr_alert_init(&a, NDR_SIG_EXFIL, &k.in);
    a.dst = k.out;
    a.has_dst = 1;
    a.sport = v->in_port;
    a.dport = v->out_port;
    a.has_ports = 1;
    a.proto = v->proto;
    a.first_ns = v->w.start_ns;
    a.last_ns = now;
    a.score = BN_MIN(100.0, 50.0 * (double)v->c.sent / (double)d->cfg.exfil_bytes);
    double secs = (double)(now - v->w.start_ns) / 1e9;
    ndr_alert_detail(&a, "%.2f GB sent to external %s:%u in %.0f s (%.1f MB/s), %.2f MB received",
                     (double)v->c.sent / 1e9, net_addr_str(&k.out, out, sizeof(out)), v->out_port,
                     secs, secs > 0 ? (double)v->c.sent / 1e6 / secs : 0,
                     (double)v->c.received / 1e6);
    ndr_alert_emit(d, sink, &a, ndr_hash(d, &k.out, sizeof(k.out)), NULL, s->pcap_cnt);
}

void
ndr_exfil_flush(struct ndr *d, struct net_sink *sink)
{
    if (!d->exfil_slots)
        return;
    for (size_t i = 0; i < NDR_EXFIL_SLOTS; i++)
        drain(d, &d->exfil_slots[i], sink);
}

static inline bool
same_addr(const struct net_addr *x, const struct net_addr *y)
{
    return x->fam == y->fam && memcmp(x->a, y->a, 16) == 0;
}

/*
 * Are the packet's source and destination internal? Known once per flow: the first packet
 * of a flow with payload matches both endpoints against the CIDR list and the flow keeps
 * the answers (ndr_int.h, NDR_FLOW_*); later ones only see which way they go. A packet
 * whose addresses are not exactly its flow's endpoints (never expected) is matched afresh.
 */
static void
endpoints_internal(const struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                   bool *src_in, bool *dst_in)
{
    if (f) {
        bool fwd = same_addr(&p->src, &f->cli) && same_addr(&p->dst, &f->srv);
        if (fwd || (same_addr(&p->src, &f->srv) && same_addr(&p->dst, &f->cli))) {
            if (!(f->ndr_answered & NDR_FLOW_IN_KNOWN))
                f->ndr_answered |= (uint8_t)(NDR_FLOW_IN_KNOWN |
                                             (ndr_internal(d, &f->cli) ? NDR_FLOW_CLI_IN : 0) |
                                             (ndr_internal(d, &f->srv) ? NDR_FLOW_SRV_IN : 0));
            bool cli_in = f->ndr_answered & NDR_FLOW_CLI_IN;
            bool srv_in = f->ndr_answered & NDR_FLOW_SRV_IN;
            *src_in = fwd ? cli_in : srv_in;
            *dst_in = fwd ? srv_in : cli_in;
            return;
        }
    }
    *src_in = ndr_internal(d, &p->src);
    *dst_in = ndr_internal(d, &p->dst);
}

void
ndr_exfil_packet(struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                 struct net_sink *sink)
{
    if ((p->proto != 6 && p->proto != 17) || p->payload_len == 0)
        return;
    bool src_in, dst_in;
    endpoints_internal(d, p, f, &src_in, &dst_in);
    if (src_in == dst_in)
        return;
    const struct net_addr *in = src_in ? &p->src : &p->dst, *out = src_in ? &p->dst : &p->src;
    uint64_t x[4];
    memcpy(x, in->a, 16);
    memcpy(x + 2, out->a, 16);
    if (in->fam == 4)
        x[0] &= 0xffffffffu, x[1] = 0;
    if (out->fam == 4)
        x[2] &= 0xffffffffu, x[3] = 0;
    uint64_t fp = ndr_mix(x[0] ^ ndr_mix(x[1] ^ ndr_mix(x[2] ^ ndr_mix(x[3])))) | 1;
    struct ndr_exfil_slot *s = &d->exfil_slots[fp % NDR_EXFIL_SLOTS];
    if (s->fp != fp) {
        drain(d, s, sink); /* another pair held the slot */
        s->fp = fp;
        memset(&s->k, 0, sizeof(s->k));
        s->k.in = ndr_addr(in);
        s->k.out = ndr_addr(out);
    }
    uint64_t bytes = p->ip_len ? p->ip_len : p->wirelen;
    if (src_in) {
        s->sent += bytes;
        s->pkts++;
        s->in_port = p->sport;
        s->out_port = p->dport;
        s->proto = p->proto;
        s->pcap_cnt = p->pcap_cnt;
    } else {
        s->received += bytes;
    }
    if (s->sent + s->received >= NDR_EXFIL_FLUSH)
        drain(d, s, sink);
}
