/*
 * ndr_beacon.c - command-and-control beaconing: a client connecting to the same server and
 * port again and again at a steady period, with at most moderate jitter. Seen at flow end
 * from the flows' start times (flows end out of order; starts are sorted before scoring).
 *
 * Score (0..100) over the last NDR_BEACON_RING intervals, in the spirit of RITA:
 *   40 x regularity  - 1 - (median absolute deviation / median interval) / 0.5, floor 0
 *   40 x hits        - share of intervals within 30% of the median
 *   20 x symmetry    - 1 - |Bowley skew| of the intervals
 * Uniform jitter of +-J of the period spreads intervals over +-2J: a 60 s beacon with 10%
 * jitter scores ~90, with 20% ~80 (above the default bar of 70 in 9 runs of 10), with 30%
 * ~67 (half the runs); a browser's bursts score below 20. Scoring
 * needs beacon_min_connections starts spanning beacon_min_span with a median interval in
 * [min_period, max_period]. After an alert the pair is scored again only once as many new
 * connections as the minimum have arrived.
 *
 * State: beacon (client, server, port, proto) holds a ring of start times.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/ndr_int.h"

struct beacon_key {
    struct net_addr cli;
    struct net_addr srv;
    uint16_t port;
    uint8_t proto;
};

struct beacon_val {
    uint64_t base_ns;     /* starts are kept as ms after base_ns */
    uint64_t total;       /* connections seen */
    uint32_t n;           /* starts in the ring */
    uint32_t head;        /* next slot */
    uint32_t since_alert; /* connections since the last alert (UINT32_MAX: none) */
    uint64_t bytes;       /* payload bytes, both directions, for the evidence */
    uint32_t starts_ms[NDR_BEACON_RING];
};

int
ndr_beacon_init(struct ndr *d)
{
    return ndr_tab_init(&d->beacon, "beacon", sizeof(struct beacon_key), sizeof(struct beacon_val),
                        (size_t)d->cfg.beacon_pairs_max, d->hkey);
}

static int
cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int
cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return (a > b) - (a < b);
}

/* Quantile of sorted v[0..n) by linear interpolation. */
static double
quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

/* The periodicity measures of a beacon pair (exported for the evidence). */
struct beacon_score {
    double score;
    double median_s;
    double mad_s;
    double hits;
    double skew;
    double span_s;
    size_t n;
};

static void
score_starts(const uint32_t *starts_ms, size_t n, struct beacon_score *out)
{
    uint32_t s[NDR_BEACON_RING];
    double iv[NDR_BEACON_RING], dev[NDR_BEACON_RING];
    memset(out, 0, sizeof(*out));
    memcpy(s, starts_ms, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_u32);
    size_t m = 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] > s[i - 1]) /* two starts in the same millisecond are one event */
            iv[m++] = (double)(s[i] - s[i - 1]) / 1e3;
    out->n = m + 1;
    out->span_s = (double)(s[n - 1] - s[0]) / 1e3;
    if (m < 3)
        return;
    qsort(iv, m, sizeof(*iv), cmp_double);
    double med = quantile(iv, m, 0.5);
    double q1 = quantile(iv, m, 0.25), q3 = quantile(iv, m, 0.75);
    size_t hits = 0;
    for (size_t i = 0; i < m; i++) {
        dev[i] = fabs(iv[i] - med);
        if (dev[i] <= 0.3 * med)
            hits++;
    }
    qsort(dev, m, sizeof(*dev), cmp_double);
    double mad = quantile(dev, m, 0.5);
    double disp = med > 0 ? mad / med : 1;
    double regular = disp < 0.5 ? 1 - disp / 0.5 : 0;
    double skew = q3 > q1 ? (q1 + q3 - 2 * med) / (q3 - q1) : 0;
    out->median_s = med;
    out->mad_s = mad;
    out->hits = (double)hits / (double)m;
    out->skew = skew;
    out->score = 40 * regular + 40 * out->hits + 20 * (1 - fabs(skew));
}

static bool
ignored_port(const struct ndr *d, uint16_t port)
{
    for (size_t i = 0; i < d->n_beacon_ignore; i++)
        if (d->beacon_ignore[i] == port)
            return true;
    return false;
}

void
ndr_beacon_flow(struct ndr *d, const struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    const struct ndr_config *c = &d->cfg;
    if ((f->proto != 6 && f->proto != 17) || f->first_ns == 0 || ignored_port(d, f->sport))
        return;
    if (c->beacon_external_only && ndr_internal(d, &f->srv))
        return;
    struct beacon_key k;
    memset(&k, 0, sizeof(k));
    k.cli = ndr_addr(&f->cli);
    k.srv = ndr_addr(&f->srv);
    k.port = f->sport;
    k.proto = f->proto;
    bool created;
    struct beacon_val *v = ndr_tab_put(&d->beacon, &k, d->now_ns, &created);
    if (!v)
        return;
    if (created) {
        v->base_ns = f->first_ns;
        v->since_alert = UINT32_MAX;
    }
    if (f->first_ns < v->base_ns || f->first_ns - v->base_ns > (uint64_t)UINT32_MAX * 1000000) {
        /* Out of the ring's time range (a late flow from before base, or 49 days on). */
        v->base_ns = f->first_ns;
        v->n = v->head = 0;
    }
    v->starts_ms[v->head] = (uint32_t)((f->first_ns - v->base_ns) / NDR_NS_PER_MS);
    v->head = (v->head + 1) % NDR_BEACON_RING;
    if (v->n < NDR_BEACON_RING)
        v->n++;
    v->total++;
    v->bytes += f->payload_bytes[0] + f->payload_bytes[1];
    if (v->since_alert != UINT32_MAX)
        v->since_alert++;
    if (v->n < (uint32_t)c->beacon_min_conns ||
        (v->since_alert != UINT32_MAX && v->since_alert < (uint32_t)c->beacon_min_conns))
        return;

    struct beacon_score s;
    score_starts(v->starts_ms, v->n, &s);
    if (s.n < (size_t)c->beacon_min_conns || s.span_s * 1e3 < (double)c->beacon_min_span_ms ||
        s.median_s * 1e3 < (double)c->beacon_min_period_ms ||
        s.median_s * 1e3 > (double)c->beacon_max_period_ms || s.score < (double)c->beacon_score)
        return;
    v->since_alert = 0;
    struct net_alert a;
    char srv[64];
    ndr_alert_init(&a, NDR_SIG_BEACON, &f->cli);
    a.dst = ndr_addr(&f->srv);
    a.has_dst = 1;
    a.dport = f->sport;
    a.has_ports = 1;
    a.proto = f->proto;
    a.last_ns = BN_MAX(ts_ns, f->last_ns);
    a.first_ns = a.last_ns - (uint64_t)(s.span_s * 1e9);
    a.score = s.score;
    ndr_alert_detail(&a,
                     "%zu connections to %s:%u over %.0f s, period %.1f s (MAD %.1f s, %.0f%% "
                     "within 30%%, skew %.2f), %llu connections in all",
                     s.n, net_addr_str(&f->srv, srv, sizeof(srv)), f->sport, s.span_s, s.median_s,
                     s.mad_s, 100 * s.hits, s.skew, (unsigned long long)v->total);
    uint64_t disc = ndr_hash(d, &k, sizeof(k));
    ndr_alert_emit(d, sink, &a, disc, f, 0);
}
