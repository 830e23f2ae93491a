/*
 * ndr_lateral.c - new internal lateral fan-out, seen at flow end: one internal client
 * opening established connections on remote-administration ports (SMB, RPC, RDP, SSH,
 * WinRM by default) to many internal servers it was not seen talking to before.
 *
 * "Before" is the baseline lat_known (client, server) with a bit per lateral port, bounded
 * by lateral.known_max (least recently used evicted, counted) and never expired by time.
 * During lateral.learn after the first packet, pairs are only learnt. Connections that were
 * never answered are the port scanner's business (ndr_scan.c), not this one's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/ndr_int.h"

struct known_key {
    struct net_addr cli;
    struct net_addr srv;
};

struct known_val {
    uint32_t ports; /* bit i: lateral_ports[i] seen */
};

struct fan_key {
    struct net_addr cli;
};

struct fan_counts {
    uint32_t servers; /* new (client, server) pairs */
    uint32_t ports;   /* bits of the lateral ports used */
    uint32_t conns;
};

struct fan_val {
    struct ndr_window w;
    struct fan_counts c;
};

int
ndr_lateral_init(struct ndr *d)
{
    int rc = ndr_tab_init(&d->lat_known, "lateral_known", sizeof(struct known_key),
                          sizeof(struct known_val), (size_t)d->cfg.lateral_known_max, d->hkey);
    if (!rc)
        rc = ndr_tab_init(&d->lat_src, "lateral_src", sizeof(struct fan_key),
                          sizeof(struct fan_val), (size_t)d->cfg.max_sources, d->hkey);
    return rc;
}

static int
port_index(const struct ndr *d, uint16_t port)
{
    for (size_t i = 0; i < d->n_lateral_ports; i++)
        if (d->lateral_ports[i] == port)
            return (int)i;
    return -1;
}

static void
port_list(const struct ndr *d, uint32_t bits, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->n_lateral_ports && len < size; i++) {
        if (!(bits & (1u << i)))
            continue;
        int w = snprintf(out + len, size - len, "%s%u", len ? "," : "", d->lateral_ports[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

void
ndr_lateral_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    if (f->proto != 6 || ndr_addr_eq(&f->cli, &f->srv))
        return;
    int pi = port_index(d, f->sport);
    if (pi < 0 || !ndr_internal(d, &f->cli) || !ndr_internal(d, &f->srv))
        return;
    /* Established: the server answered the SYN and data went to it. */
    if (!(f->tcp_flags[NET_TOCLIENT] & NET_TCP_SYN) ||
        !(f->tcp_flags[NET_TOCLIENT] & NET_TCP_ACK) || f->payload_bytes[NET_TOSERVER] == 0)
        return;
    struct known_key k;
    memset(&k, 0, sizeof(k));
    k.cli = ndr_addr(&f->cli);
    k.srv = ndr_addr(&f->srv);
    bool created;
    struct known_val *kv = ndr_tab_put(&d->lat_known, &k, d->now_ns, &created);
    if (!kv)
        return;
    kv->ports |= 1u << pi;
    uint64_t t = f->first_ns ? f->first_ns : ts_ns;
    if (!created || (d->cfg.lateral_learn_ms > 0 &&
                     t - d->first_ns < (uint64_t)d->cfg.lateral_learn_ms * NDR_NS_PER_MS))
        return;
    struct fan_key fk;
    memset(&fk, 0, sizeof(fk));
    fk.cli = ndr_addr(&f->cli);
    struct fan_val *v = ndr_tab_put(&d->lat_src, &fk, d->now_ns, NULL);
    if (!v)
        return;
    ndr_window_roll(&v->w, BN_MAX(t, v->w.start_ns),
                    (uint64_t)d->cfg.lateral_window_ms * NDR_NS_PER_MS, &v->c, sizeof(v->c));
    v->c.servers++;
    v->c.ports |= 1u << pi;
    if (v->w.alerted || v->c.servers < (uint64_t)d->cfg.lateral_hosts)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    char ports[128];
    port_list(d, v->c.ports, ports, sizeof(ports));
    ndr_alert_init(&a, NDR_SIG_LATERAL, &f->cli);
    a.proto = 6;
    a.first_ns = v->w.start_ns;
    a.last_ns = BN_MAX(ts_ns, f->last_ns);
    a.score = BN_MIN(100.0, 50.0 * v->c.servers / (double)d->cfg.lateral_hosts);
    ndr_alert_detail(&a,
                     "%u internal servers newly reached in %.0f s on ports %s (none seen "
                     "from this client before)",
                     v->c.servers, (double)(a.last_ns - v->w.start_ns) / 1e9, ports);
    ndr_alert_emit(d, sink, &a, 0, f, 0);
}
