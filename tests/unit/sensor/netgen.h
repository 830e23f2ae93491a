/*
 * netgen.h - a traffic generator for the NDR tests (header-only): it drives a detector with
 * the packets, flows and DNS/TLS records the pipeline would hand it for a scenario, and
 * records every alert the detector emits.
 *
 * A TCP connection is generated as the pipeline sees it: SYN, then SYN-ACK (or RST, or
 * nothing), data both ways in MSS-sized packets, FIN, and the flow record at its end.
 * Scenarios: attacks (scans, sweeps, brute force, beacons, tunnels, DGA, fan-out, uploads)
 * and a benign hour of an office network (ng_benign_hour). Randomness is a seeded
 * xorshift, so every run generates the same traffic.
 *
 * Parts of a scenario are fed one after another, each in time order. The detector's clock
 * is the latest time it has seen, so a part that starts earlier than the previous one ended
 * lands in the same windows as it: denser than real traffic, which makes the benign checks
 * stricter, never looser.
 */
#ifndef BANNIN_TEST_NETGEN_H
#define BANNIN_TEST_NETGEN_H

#include <arpa/inet.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/alloc.h"

#include "sensor/app.h"
#include "sensor/ndr.h"

#define NG_ALERTS_MAX 512
#define NG_S          1000000000ull
#define NG_MS         1000000ull
#define NG_MSS        1448u

struct netgen {
    struct net_sink sink; /* first: the emit callback casts back */
    struct ndr *d;
    uint64_t pcap_cnt;
    uint64_t flow_id;
    uint64_t rng;
    uint64_t packets;
    size_t n_alerts;
    uint64_t by_sig[NDR_SIG__COUNT];
    struct net_alert alerts[NG_ALERTS_MAX];
    struct net_dns_rec *dns; /* scratch (large) */
    struct net_tls_rec *tls;
};

static void
ng_emit(struct net_sink *self, const struct net_record *rec)
{
    struct netgen *g = (struct netgen *)self;
    if (rec->type != NET_REC_ALERT)
        return;
    const struct net_alert *a = rec->body;
    if (a->sig < NDR_SIG__COUNT)
        g->by_sig[a->sig]++;
    if (g->n_alerts < NG_ALERTS_MAX)
        g->alerts[g->n_alerts++] = *a;
    if (getenv("NG_VERBOSE")) {
        char s[64];
        fprintf(stderr, "alert %s src=%s score=%.1f count=%u: %s\n", a->signature,
                net_addr_str(&a->src, s, sizeof(s)), a->score, a->count, a->detail);
    }
}

/* cfg may be NULL (defaults). Returns 0 or -1. */
static inline int
ng_init(struct netgen *g, const struct ndr_config *cfg)
{
    memset(g, 0, sizeof(*g));
    g->sink.emit = ng_emit;
    g->rng = 0x9e3779b97f4a7c15ull;
    g->d = ndr_new(cfg);
    g->dns = calloc(1, sizeof(*g->dns));
    g->tls = calloc(1, sizeof(*g->tls));
    return g->d && g->dns && g->tls ? 0 : -1;
}

static inline void
ng_release(struct netgen *g)
{
    ndr_free(g->d);
    free(g->dns);
    free(g->tls);
    g->d = NULL;
}

static inline void
ng_seed(struct netgen *g, uint64_t seed)
{
    g->rng = seed ? seed : 1;
}

static inline uint64_t
ng_rand(struct netgen *g)
{
    uint64_t x = g->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g->rng = x;
    return x;
}

/* Uniform in [lo, hi]. */
static inline uint64_t
ng_range(struct netgen *g, uint64_t lo, uint64_t hi)
{
    return lo + ng_rand(g) % (hi - lo + 1);
}

/* Uniform double in [0, 1). */
static inline double
ng_unit(struct netgen *g)
{
    return (double)(ng_rand(g) >> 11) / 9007199254740992.0;
}

static inline struct net_addr
ng_ip(const char *s)
{
    struct net_addr a;
    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, s, a.a) == 1)
        a.fam = 4;
    else if (inet_pton(AF_INET6, s, a.a) == 1)
        a.fam = 6;
    return a;
}

static inline struct net_addr
ng_ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    struct net_addr x;
    memset(&x, 0, sizeof(x));
    x.fam = 4;
    x.a[0] = (uint8_t)a;
    x.a[1] = (uint8_t)b;
    x.a[2] = (uint8_t)c;
    x.a[3] = (uint8_t)d;
    return x;
}

static inline bool
ng_addr_eq(const struct net_addr *x, const struct net_addr *y)
{
    return x->fam == y->fam && memcmp(x->a, y->a, x->fam == 6 ? 16 : 4) == 0;
}

static inline uint64_t
ng_count(const struct netgen *g, enum ndr_sig s)
{
    return g->by_sig[s];
}

static inline uint64_t
ng_total(const struct netgen *g)
{
    uint64_t n = 0;
    for (size_t i = 0; i < NDR_SIG__COUNT; i++)
        n += g->by_sig[i];
    return n;
}

/* The first alert of a signature, or NULL. */
static inline const struct net_alert *
ng_find(const struct netgen *g, enum ndr_sig s)
{
    for (size_t i = 0; i < g->n_alerts; i++)
        if (g->alerts[i].sig == s)
            return &g->alerts[i];
    /* callers look for an alert they expect: not finding it fails the test here (and tells
     * the compiler the result is never NULL) */
    fprintf(stderr, "netgen: no alert with signature %d\n", (int)s);
    abort();
}

/* ---- packets ---- */

static inline void
ng_packet(struct netgen *g, uint64_t ts, const struct net_addr *src, uint16_t sport,
          const struct net_addr *dst, uint16_t dport, uint8_t proto, uint8_t flags,
          uint32_t payload)
{
    struct net_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = ts;
    p.pcap_cnt = ++g->pcap_cnt;
    p.src = *src;
    p.dst = *dst;
    p.proto = proto;
    p.ttl = 64;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    uint32_t hdr = (src->fam == 6 ? 40 : 20) + (proto == 6 ? 32 : 8);
    p.ip_len = hdr + payload;
    p.wirelen = p.caplen = p.ip_len + 14;
    p.payload_len = payload;
    g->packets++;
    ndr_packet(g->d, &p, &g->sink);
    ndr_tick(g->d, ts, &g->sink);
}

/* ICMP echo request (reply = false) or reply; type travels in sport as the decoder does. */
static inline void
ng_icmp_echo(struct netgen *g, uint64_t ts, const struct net_addr *src, const struct net_addr *dst,
             bool reply)
{
    uint8_t proto = src->fam == 6 ? 58 : 1;
    uint16_t type = src->fam == 6 ? (reply ? 129 : 128) : (reply ? 0 : 8);
    ng_packet(g, ts, src, type, dst, 0, proto, 0, 56);
}

/* IPv6 neighbour solicitation (135) or advertisement (136) for target. */
static inline void
ng_nd(struct netgen *g, uint64_t ts, const struct net_addr *src, const struct net_addr *dst,
      const struct net_addr *target, uint8_t type)
{
    struct net_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = ts;
    p.pcap_cnt = ++g->pcap_cnt;
    p.src = *src;
    p.dst = *dst;
    p.proto = 58;
    p.ttl = 255;
    p.sport = type;
    p.payload = target->a;
    p.payload_len = 24; /* target and a link-layer address option */
    p.ip_len = 40 + 8 + 24;
    p.wirelen = p.caplen = p.ip_len + 14;
    g->packets++;
    ndr_packet(g->d, &p, &g->sink);
    ndr_tick(g->d, ts, &g->sink);
}

/* ARP: op 1 request (sender asks for target), 2 reply (sender is target's owner). */
static inline void
ng_arp(struct netgen *g, uint64_t ts, const struct net_addr *sender, const struct net_addr *target,
       uint8_t op)
{
    struct net_pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_ns = ts;
    p.pcap_cnt = ++g->pcap_cnt;
    p.is_arp = 1;
    p.arp_op = op;
    p.src = *sender;
    p.dst = *target;
    p.wirelen = p.caplen = 42;
    g->packets++;
    ndr_packet(g->d, &p, &g->sink);
    ndr_tick(g->d, ts, &g->sink);
}

/* ---- flows ---- */

enum ng_answer {
    NG_OPEN = 0, /* SYN-ACK, data, FIN */
    NG_CLOSED,   /* RST-ACK */
    NG_FILTERED, /* nothing */
};

struct ng_conn {
    struct net_addr cli;
    struct net_addr srv;
    uint16_t cport;
    uint16_t sport;
    uint8_t proto; /* 6 or 17 */
    uint8_t app;   /* enum net_app, as content identification would say */
    enum ng_answer answer;
    uint64_t start;
    uint64_t dur;  /* ns */
    uint64_t up;   /* payload bytes client -> server */
    uint64_t down; /* payload bytes server -> client */
    bool packets;  /* also generate the packets (default: the flow record only) */
    uint32_t mss;  /* 0 = NG_MSS */
};

/* Emits the flow record of a connection (at its end). */
static inline void
ng_flow_record(struct netgen *g, const struct ng_conn *c)
{
    struct net_flow f;
    memset(&f, 0, sizeof(f));
    f.id = ++g->flow_id;
    f.cli = c->cli;
    f.srv = c->srv;
    f.cport = c->cport;
    f.sport = c->sport;
    f.proto = c->proto ? c->proto : 6;
    f.first_ns = c->start;
    f.last_ns = c->start + c->dur;
    f.app = c->app;
    uint32_t mss = c->mss ? c->mss : NG_MSS;
    uint64_t pu = (c->up + mss - 1) / mss, pd = (c->down + mss - 1) / mss;
    if (f.proto == 6) {
        f.tcp_flags[NET_TOSERVER] = NET_TCP_SYN;
        f.pkts[NET_TOSERVER] = 1;
        f.bytes[NET_TOSERVER] = 52;
        if (c->answer == NG_OPEN) {
            f.tcp_flags[NET_TOSERVER] |= NET_TCP_ACK | NET_TCP_FIN | NET_TCP_PSH;
            f.tcp_flags[NET_TOCLIENT] = NET_TCP_SYN | NET_TCP_ACK | NET_TCP_FIN | NET_TCP_PSH;
            f.tcp_state = NET_TCP_CLOSED;
            f.pkts[NET_TOSERVER] += pu + 2;
            f.pkts[NET_TOCLIENT] = pd + 2;
            f.bytes[NET_TOSERVER] += c->up + 52 * (pu + 2);
            f.bytes[NET_TOCLIENT] = c->down + 52 * (pd + 2);
            f.payload_bytes[NET_TOSERVER] = c->up;
            f.payload_bytes[NET_TOCLIENT] = c->down;
        } else if (c->answer == NG_CLOSED) {
            f.tcp_flags[NET_TOCLIENT] = NET_TCP_RST | NET_TCP_ACK;
            f.pkts[NET_TOCLIENT] = 1;
            f.bytes[NET_TOCLIENT] = 40;
            f.tcp_state = NET_TCP_CLOSED;
        } else {
            f.tcp_state = NET_TCP_SYN_SENT;
        }
    } else {
        f.pkts[NET_TOSERVER] = pu ? pu : 1;
        f.pkts[NET_TOCLIENT] = pd;
        f.bytes[NET_TOSERVER] = c->up + 28 * f.pkts[NET_TOSERVER];
        f.bytes[NET_TOCLIENT] = c->down + 28 * pd;
        f.payload_bytes[NET_TOSERVER] = c->up;
        f.payload_bytes[NET_TOCLIENT] = c->down;
    }
    f.end = NET_END_TIMEOUT;
    struct net_record r = {NET_REC_FLOW, f.last_ns, &f, 0, &f};
    ndr_record(g->d, &r, &g->sink);
    ndr_tick(g->d, f.last_ns, &g->sink);
}

/*
 * One connection: its packets when c->packets (handshake, data in MSS-sized packets spread
 * over the duration, FIN) and its flow record.
 */
static inline void
ng_conn(struct netgen *g, const struct ng_conn *c)
{
    uint8_t proto = c->proto ? c->proto : 6;
    if (c->packets) {
        uint64_t t = c->start;
        if (proto == 6) {
            ng_packet(g, t, &c->cli, c->cport, &c->srv, c->sport, 6, NET_TCP_SYN, 0);
            if (c->answer == NG_CLOSED)
                ng_packet(g, t + 200000, &c->srv, c->sport, &c->cli, c->cport, 6,
                          NET_TCP_RST | NET_TCP_ACK, 0);
            if (c->answer == NG_OPEN) {
                ng_packet(g, t + 200000, &c->srv, c->sport, &c->cli, c->cport, 6,
                          NET_TCP_SYN | NET_TCP_ACK, 0);
                ng_packet(g, t + 400000, &c->cli, c->cport, &c->srv, c->sport, 6, NET_TCP_ACK, 0);
            }
        }
        if (c->answer == NG_OPEN || proto != 6) {
            uint32_t mss = c->mss ? c->mss : NG_MSS;
            uint64_t pu = (c->up + mss - 1) / mss, pd = (c->down + mss - 1) / mss;
            uint64_t n = pu + pd, i = 0, up = c->up, down = c->down;
            uint64_t step = n ? c->dur / (n + 1) : 0;
            uint8_t fl = proto == 6 ? (NET_TCP_ACK | NET_TCP_PSH) : 0;
            /* Interleave the directions in proportion, as a request/response exchange. */
            while (up || down) {
                t = c->start + 500000 + step * ++i;
                bool send_up = up && (!down || (up * pd >= down * pu));
                if (send_up) {
                    uint32_t len = (uint32_t)BN_MIN(up, (uint64_t)mss);
                    ng_packet(g, t, &c->cli, c->cport, &c->srv, c->sport, proto, fl, len);
                    up -= len;
                } else {
                    uint32_t len = (uint32_t)BN_MIN(down, (uint64_t)mss);
                    ng_packet(g, t, &c->srv, c->sport, &c->cli, c->cport, proto, fl, len);
                    down -= len;
                }
            }
            if (proto == 6) {
                uint64_t e = c->start + c->dur;
                ng_packet(g, e, &c->cli, c->cport, &c->srv, c->sport, 6, NET_TCP_FIN | NET_TCP_ACK,
                          0);
                ng_packet(g, e + 100000, &c->srv, c->sport, &c->cli, c->cport, 6,
                          NET_TCP_FIN | NET_TCP_ACK, 0);
            }
        }
    }
    ng_flow_record(g, c);
}

/* ---- application records ---- */

/* A DNS query (and its response unless rcode < 0) from cli to the resolver srv. */
static inline void
ng_dns(struct netgen *g, uint64_t ts, const struct net_addr *cli, const struct net_addr *srv,
       const char *name, uint16_t qtype, int rcode)
{
    struct net_flow f;
    memset(&f, 0, sizeof(f));
    f.id = ++g->flow_id;
    f.cli = *cli;
    f.srv = *srv;
    f.cport = (uint16_t)ng_range(g, 1024, 65535);
    f.sport = 53;
    f.proto = 17;
    f.first_ns = f.last_ns = ts;
    f.app = NET_APP_DNS;
    struct net_dns_rec *r = g->dns;
    memset(r, 0, sizeof(*r));
    r->id = (uint16_t)ng_rand(g);
    r->rd = 1;
    r->qdcount = 1;
    r->n_queries = 1;
    snprintf(r->queries[0].name, sizeof(r->queries[0].name), "%s", name);
    r->queries[0].type = qtype;
    r->queries[0].qclass = 1;
    struct net_record rec = {NET_REC_DNS, ts, &f, 0, r};
    ndr_record(g->d, &rec, &g->sink);
    if (rcode >= 0) {
        r->is_response = 1;
        r->rcode = (uint8_t)rcode;
        r->ra = 1;
        r->rtt_ns = 20 * NG_MS;
        rec.ts_ns = ts + 20 * NG_MS;
        f.last_ns = rec.ts_ns;
        ndr_record(g->d, &rec, &g->sink);
    }
    f.payload_bytes[NET_TOSERVER] = 40 + strlen(name);
    f.payload_bytes[NET_TOCLIENT] = rcode >= 0 ? 80 + strlen(name) : 0;
    struct net_record fr = {NET_REC_FLOW, f.last_ns, &f, 0, &f};
    ndr_record(g->d, &fr, &g->sink);
    ndr_tick(g->d, f.last_ns, &g->sink);
}

/* A TLS record for a flow (cli:cport -> srv:443) with SNI and fingerprints (NULL = none). */
static inline void
ng_tls(struct netgen *g, uint64_t ts, const struct net_addr *cli, const struct net_addr *srv,
       const char *sni, const char *ja3, const char *ja4)
{
    struct net_flow f;
    memset(&f, 0, sizeof(f));
    f.id = ++g->flow_id;
    f.cli = *cli;
    f.srv = *srv;
    f.cport = (uint16_t)ng_range(g, 1024, 65535);
    f.sport = 443;
    f.proto = 6;
    f.first_ns = f.last_ns = ts;
    f.app = NET_APP_TLS;
    struct net_tls_rec *r = g->tls;
    memset(r, 0, sizeof(*r));
    r->has_client_hello = r->has_server_hello = 1;
    r->version = 0x0304;
    if (sni)
        snprintf(r->sni, sizeof(r->sni), "%s", sni);
    if (ja3)
        snprintf(r->ja3_hash, sizeof(r->ja3_hash), "%s", ja3);
    if (ja4)
        snprintf(r->ja4, sizeof(r->ja4), "%s", ja4);
    struct net_record rec = {NET_REC_TLS, ts, &f, 0, r};
    ndr_record(g->d, &rec, &g->sink);
}

/* ---- benign traffic: an hour of an office network ---- */

static const char *const ng_popular[] = {
    "www.google.com",
    "fonts.gstatic.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "github.com",
    "api.github.com",
    "avatars.githubusercontent.com",
    "stackoverflow.com",
    "cdn.sstatic.net",
    "www.youtube.com",
    "i.ytimg.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "www.bbc.co.uk",
    "static.files.bbci.co.uk",
    "d1x2y3z4abcd.cloudfront.net",
    "e1234.dscb.akamaiedge.net",
    "ocsp.digicert.com",
    "deb.debian.org",
    "security.debian.org",
    "www.mozilla.org",
    "incoming.telemetry.mozilla.org",
    "slack.com",
    "edgeapi.slack.com",
    "zoom.us",
    "www.dropbox.com",
    "api.dropboxapi.com",
    "www.linkedin.com",
    "static.licdn.com",
    "www.amazon.com",
    "m.media-amazon.com",
    "s3.eu-west-1.amazonaws.com",
    "my-elb-1234567890.eu-west-1.elb.amazonaws.com",
    "www.nytimes.com",
    "static01.nyt.com",
    "www.theguardian.com",
    "i.guim.co.uk",
    "news.ycombinator.com",
    "www.reddit.com",
    "www.redditstatic.com",
    "docs.python.org",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "www.googleapis.com",
    "accounts.google.com",
    "mail.google.com",
    "calendar.google.com",
    "xkcd.com",
    "imgs.xkcd.com",
    "weather.com",
    "www.booking.com",
    "www.spotify.com",
    "open.spotify.com",
    "www.salesforce.com",
    "www.paypal.com",
    "www.ebay.com",
};

/*
 * An hour of ordinary traffic from start: a browsing user (bursty HTTPS page loads to many
 * servers, their DNS lookups and TLS records), a resolver's view of normal DNS including a
 * few typos answered NXDOMAIN and SPF TXT lookups, one long interactive SSH session, a
 * nightly backup of 20 GB to an internal file server over SMB, a 150 MB upload to a cloud
 * service, a monitoring host pinging 8 servers, and everyday ARP.
 */
static inline void
ng_benign_hour(struct netgen *g, uint64_t start)
{
    struct net_addr user = ng_ip("192.168.1.10");
    struct net_addr user2 = ng_ip("192.168.1.11");
    struct net_addr resolver = ng_ip("192.168.1.1");
    struct net_addr gw = ng_ip("192.168.1.1");
    size_t npop = sizeof(ng_popular) / sizeof(ng_popular[0]);
    uint64_t hour = 3600 * NG_S;

    /* Browsing: page loads at random (mean 75 s apart), each a burst of connections. */
    uint64_t t = start;
    uint16_t port = 40000;
    while (t < start + hour) {
        t += (uint64_t)(75.0 * NG_S * -log(1.0 - ng_unit(g)));
        unsigned conns = (unsigned)ng_range(g, 3, 25);
        for (unsigned i = 0; i < conns; i++) {
            size_t k = ng_range(g, 0, npop - 1);
            uint64_t ts = t + ng_range(g, 0, 3 * NG_S);
            ng_dns(g, ts, &user, &resolver, ng_popular[k], 1, 0);
            struct ng_conn c = {0};
            c.cli = user;
            c.srv = ng_ip4(151, 101, (unsigned)(k / 200), (unsigned)(k % 200 + 1));
            c.cport = port++;
            c.sport = 443;
            c.app = NET_APP_TLS;
            c.start = ts + 30 * NG_MS;
            c.dur = ng_range(g, 200 * NG_MS, 90 * NG_S);
            c.up = ng_range(g, 800, 20000);
            c.down = ng_range(g, 5000, 2000000);
            c.packets = true;
            ng_conn(g, &c);
            ng_tls(g, c.start, &c.cli, &c.srv, ng_popular[k], "e7d705a3286e19ea42f587b344ee6865",
                   "t13d1516h2_8daaf6152771_02713d6af862");
            if (port > 60000)
                port = 40000;
        }
    }

    /* A second user's DNS: repeats, a few typos (NXDOMAIN), SPF TXT lookups. */
    static const char *const typos[] = {"wwww.google.com", "gihtub.com", "stackoverflwo.com"};
    static const char *const txt[] = {"example.com", "_spf.google.com", "mozilla.org",
                                      "_dmarc.github.com", "debian.org"};
    for (unsigned i = 0; i < 400; i++) {
        uint64_t ts = start + ng_range(g, 0, hour);
        if (i % 97 == 0)
            ng_dns(g, ts, &user2, &resolver, typos[(i / 97) % 3], 1, 3);
        else if (i % 41 == 0)
            ng_dns(g, ts, &user2, &resolver, txt[(i / 41) % 5], 16, 0);
        else
            ng_dns(g, ts, &user2, &resolver, ng_popular[ng_range(g, 0, npop - 1)], i % 2 ? 1 : 28,
                   0);
    }

    /* One interactive SSH session: 45 minutes, a few MB. */
    struct ng_conn ssh = {0};
    ssh.cli = user;
    ssh.srv = ng_ip("10.0.0.5");
    ssh.cport = 51000;
    ssh.sport = 22;
    ssh.app = NET_APP_SSH;
    ssh.start = start + 60 * NG_S;
    ssh.dur = 45 * 60 * NG_S;
    ssh.up = 300000;
    ssh.down = 4000000;
    ssh.packets = true;
    ng_conn(g, &ssh);

    /* Backup: 20 GB to the internal file server over SMB, jumbo frames. */
    struct ng_conn bk = {0};
    bk.cli = ng_ip("192.168.1.20");
    bk.srv = ng_ip("192.168.1.30");
    bk.cport = 49700;
    bk.sport = 445;
    bk.app = NET_APP_SMB;
    bk.start = start + 5 * NG_S;
    bk.dur = 50 * 60 * NG_S;
    bk.up = 20ull << 30;
    bk.down = 40ull << 20;
    bk.mss = 65000; /* a capture with segmentation offload sees large segments */
    bk.packets = true;
    ng_conn(g, &bk);

    /* 150 MB to a cloud service, well under the outbound threshold. */
    struct ng_conn up = {0};
    up.cli = user2;
    up.srv = ng_ip("52.95.150.10");
    up.cport = 52000;
    up.sport = 443;
    up.app = NET_APP_TLS;
    up.start = start + 600 * NG_S;
    up.dur = 120 * NG_S;
    up.up = 150ull << 20;
    up.down = 2ull << 20;
    up.mss = 16000;
    up.packets = true;
    ng_conn(g, &up);

    /* Monitoring: one host pings 8 servers every 30 s. */
    struct net_addr mon = ng_ip("192.168.1.5");
    for (uint64_t s = 0; s < hour; s += 30 * NG_S)
        for (unsigned i = 0; i < 8; i++) {
            struct net_addr srv = ng_ip4(192, 168, 1, 30 + i);
            ng_icmp_echo(g, start + s + i * NG_MS, &mon, &srv, false);
            ng_icmp_echo(g, start + s + i * NG_MS + 300000, &srv, &mon, true);
        }

    /* ARP: hosts ask for the gateway and a few neighbours now and then. */
    for (unsigned i = 0; i < 120; i++) {
        struct net_addr who = ng_ip4(192, 168, 1, (unsigned)ng_range(g, 2, 40));
        struct net_addr tgt = i % 3 ? gw : ng_ip4(192, 168, 1, (unsigned)ng_range(g, 2, 40));
        uint64_t ts = start + ng_range(g, 0, hour);
        ng_arp(g, ts, &who, &tgt, 1);
        ng_arp(g, ts + 100000, &tgt, &who, 2);
    }
}

#endif
