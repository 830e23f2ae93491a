/*
 * ndr_brute.c - SSH and RDP password guessing, seen at flow end. Guessing tools open one
 * connection per handful of passwords: many established, short connections from one client
 * to one server, each with little data from the server (banner, key exchange, refusals).
 * An interactive session or a file copy is one long or large connection and does not count.
 *
 * The service is the one the content identified (app), else the port (22, 3389). State:
 * brute (client, server, service) holds the window counters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sensor/ndr_int.h"

struct brute_key {
    struct net_addr cli;
    struct net_addr srv;
    uint16_t port;
    uint8_t svc; /* enum ndr_sig */
};

struct brute_counts {
    uint32_t attempts;
    uint64_t srv_bytes;
    uint64_t dur_ns;
};

struct brute_val {
    struct ndr_window w;
    struct brute_counts c;
};

int
ndr_brute_init(struct ndr *d)
{
    return ndr_tab_init(&d->brute, "brute", sizeof(struct brute_key), sizeof(struct brute_val),
                        (size_t)d->cfg.max_sources, d->hkey);
}

/* Which brute-force signature the flow's service belongs to, or -1. */
static int
service(const struct net_flow *f)
{
    if (f->proto != 6)
        return -1;
    if (f->app == NET_APP_SSH)
        return NDR_SIG_BRUTE_SSH;
    if (f->app == NET_APP_RDP)
        return NDR_SIG_BRUTE_RDP;
    if (f->app != NET_APP_UNKNOWN && f->app != NET_APP_FAILED)
        return -1; /* something else on the port */
    if (f->sport == 22)
        return NDR_SIG_BRUTE_SSH;
    if (f->sport == 3389)
        return NDR_SIG_BRUTE_RDP;
    return -1;
}

void
ndr_brute_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    int sig = service(f);
    if (sig < 0)
        return;
    /* Established (both sides spoke), short and small. */
    if (f->payload_bytes[NET_TOSERVER] == 0 || f->payload_bytes[NET_TOCLIENT] == 0)
        return;
    uint64_t dur = f->last_ns > f->first_ns ? f->last_ns - f->first_ns : 0;
    if (dur >= (uint64_t)d->cfg.brute_short_ms * NDR_NS_PER_MS ||
        f->payload_bytes[NET_TOCLIENT] >= d->cfg.brute_max_bytes)
        return;

    struct brute_key k;
    memset(&k, 0, sizeof(k));
    k.cli = ndr_addr(&f->cli);
    k.srv = ndr_addr(&f->srv);
    k.port = f->sport;
    k.svc = (uint8_t)sig;
    struct brute_val *v = ndr_tab_put(&d->brute, &k, d->now_ns, NULL);
    if (!v)
        return;
    /* The window runs on connection start times: flows end out of order. */
    uint64_t t = f->first_ns ? f->first_ns : ts_ns;
    ndr_window_roll(&v->w, BN_MAX(t, v->w.start_ns),
                    (uint64_t)d->cfg.brute_window_ms * NDR_NS_PER_MS, &v->c, sizeof(v->c));
    v->c.attempts++;
    v->c.srv_bytes += f->payload_bytes[NET_TOCLIENT];
    v->c.dur_ns += dur;
    if (v->w.alerted || v->c.attempts < (uint64_t)d->cfg.brute_attempts)
        return;
    v->w.alerted = 1;
    struct net_alert a;
    char srv[64];
    ndr_alert_init(&a, (enum ndr_sig)sig, &f->cli);
    a.dst = ndr_addr(&f->srv);
    a.has_dst = 1;
    a.dport = f->sport;
    a.has_ports = 1;
    a.proto = 6;
    a.first_ns = v->w.start_ns;
    a.last_ns = BN_MAX(f->last_ns, ts_ns);
    a.score = BN_MIN(100.0, 50.0 * v->c.attempts / (double)d->cfg.brute_attempts);
    ndr_alert_detail(&a,
                     "%u short %s connections to %s:%u in %.0f s (mean %.1f s, %llu bytes from "
                     "the server)",
                     v->c.attempts, sig == NDR_SIG_BRUTE_SSH ? "SSH" : "RDP",
                     net_addr_str(&f->srv, srv, sizeof(srv)), f->sport,
                     (double)(a.last_ns - v->w.start_ns) / 1e9,
                     (double)v->c.dur_ns / v->c.attempts / 1e9,
                     (unsigned long long)(v->c.srv_bytes / v->c.attempts));
    ndr_alert_emit(d, sink, &a, 0, f, 0);
}
