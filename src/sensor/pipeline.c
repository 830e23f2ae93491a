/*
 * pipeline.c - one capture's packet path (see pipeline.h).
 *
 *   frame -> net_decode (one packet per IP layer) -> ndr_packet -> net_flow_packet
 *     -> TCP: net_stream per direction (in order, gaps reported) / UDP: each datagram
 *     -> content identification (net_app_identify on the first bytes of each direction,
 *        the port only as a fallback) -> the protocol's parser -> records
 *   records -> fan-out sink: Sigma (over the Zeek-named rendering) and the detections
 *     first, so a flow's own alerts mark it alerted, then the eve and Zeek writers.
 *
 * Per-flow pipeline state (the two reassembly streams and the identification buffers) is
 * allocated when a flow first carries payload and freed when it ends: nothing allocates per
 * packet. Parser callbacks do not see packets, so the sink stamps records with the number
 * of the packet being processed.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "bannin/log.h"
#include "bannin/sigma.h"
#include "bannin/reader.h"
#include "bannin/record.h"
#include "sensor/app.h"
#include "sensor/ndr.h"
#include "sensor/pipeline.h"

#define NS 1000000000ull
#define AHEAD 4          /* frames looked at ahead (capture.c's look-ahead hook) */
#define AHEAD_RING 8     /* power of two > AHEAD */

/* The first bytes of each direction, kept until the flow's protocol is identified (then the
 * buffer goes back to the pipeline: 1 KiB less per TCP flow for the rest of its life). */
struct probebuf {
    struct probebuf *next_free;
    uint8_t b[2][NET_PROBE_MAX];
};

#define PB_FREE_MAX 4096 /* probe buffers kept for reuse instead of freed */

/* Pipeline state of one flow with payload (f->stream), from the pipeline's slabs. */
struct __attribute__((aligned(64))) pflow {
    uint8_t flip;                /* the flow was turned round: direction d is slot d ^ flip */
    uint16_t plen_[2];           /* bytes identification has seen (kept after it) */
    struct probebuf *pb;         /* while identifying (TCP) */
    struct net_stream st_[2];
};

/* Per-direction state by the flow's current orientation (reversal only flips the index, so
 * a stream being delivered from stays where it is). */
#define ST(pf, d) (&(pf)->st_[(d) ^ (pf)->flip])
#define PLEN(pf, d) ((pf)->plen_[(d) ^ (pf)->flip])
#define PROBE(pf, d) ((pf)->pb->b[(d) ^ (pf)->flip])

struct net_pipeline {
    struct net_pipeline_cfg cfg;
    struct net_decoder dec;
    struct net_flowtab *flows;
    struct net_sink sink;
    struct net_eve eve;
    struct net_eve zeek_eve;     /* only its buffer and counters are used */
    struct bn_buf zb;            /* Zeek rendering for the writer and Sigma */
    struct ndr *ndr;
    struct net_app_stats app_stats;
    /* Sigma */
    struct bn_scratch *scratch;
    struct bn_evbuilder *eb;
    struct bn_event ev;
    bool ev_ready;
    struct bn_record srec;       /* the record being matched, parsed from its rendering */
    bool srec_ready;
    /* clock and current packet */
    uint64_t now_ns;
    uint64_t cur_pcap_cnt;
    uint8_t cur_dir;             /* direction being fed to a parser */
    const uint8_t *cur_eth;      /* Ethernet header of the packet being processed */
    uint8_t cur_pkt_dir;         /* and its direction in its flow */
    uint64_t last_tick_ns;
    bool quiet;                  /* freeing: flows end without records */
    struct net_stream_mem smem;  /* budget of all held and out-of-order TCP bytes */
    struct net_slab slab;        /* per-flow states: ours (struct pflow) and the parsers'
                                  * (bound to the thread: net_slab_state_new) */
    struct probebuf *pb_free;    /* recycled probe buffers */
    size_t pb_nfree;
    /* frames ahead (prefetching): flow hash, then the entry it names */
    struct {
        uint64_t seq;
        uint32_t hash;
        bool ok;
        struct net_flow *f;
        struct net_flow_fkey key; /* what hash was computed from */
    } ahead[AHEAD_RING];
    struct net_pipeline_stats st;
};

static void ahead_hook(void *ctx, uint64_t seq, const uint8_t *frame, uint32_t caplen);

/* Where stream callbacks deliver: the flow and direction being fed. */
struct feed {
    struct net_pipeline *p;
    struct net_flow *f;
    enum net_dir dir;
};

/* ---- Sigma over Zeek-named records ---- */

static uint8_t
severity(enum sigma_level l)
{
    switch (l) {
    case SIGMA_LEVEL_CRITICAL:
    case SIGMA_LEVEL_HIGH: return 1;
    case SIGMA_LEVEL_MEDIUM: return 2;
    case SIGMA_LEVEL_LOW: return 3;
    default: return 4;
    }
}

/* A stable signature id for a Sigma rule: 9200000 + 24 bits of FNV-1a of its id. */
static uint32_t
sigma_sid(const struct sigma_rule *r)
{
    const char *s = r->id ? r->id : r->title ? r->title : "";
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return 9200000u + (h & 0xffffffu);
}

static void
sigma_alert(struct net_pipeline *p, const struct net_record *rec, uint32_t idx)
{
    const struct sigma_rule *r = bn_ruleset_rule(p->cfg.rules, idx);
    struct net_alert a;
    char mitre[16] = "";

    memset(&a, 0, sizeof(a));
    for (uint32_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        if (strncmp(t, "attack.t", 8) == 0 && strlen(t) < sizeof(mitre) + 7) {
            snprintf(mitre, sizeof(mitre), "T%s", t + 8);
            for (char *c = mitre; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 'a' + 'A');
            break;
        }
    }
    a.signature_id = sigma_sid(r);
    a.signature = r->title ? r->title : "(untitled Sigma rule)";
    a.category = "Sigma";
    a.severity = severity(r->level);
    a.mitre = mitre[0] ? mitre : NULL;
    a.sig = NDR_SIG__COUNT; /* not a built-in detection */
    a.count = 1;
    a.score = 100;
    if (rec->flow) {
        const struct net_flow *f = rec->flow;
        a.src = f->cli;
        a.dst = f->srv;
        a.has_dst = 1;
        a.proto = f->proto;
        a.has_ports = f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP;
        a.sport = f->cport;
        a.dport = f->sport;
        a.first_ns = f->first_ns;
        a.last_ns = f->last_ns;
    }
    snprintf(a.detail, sizeof(a.detail), "sigma rule %s on a %s record",
             r->id ? r->id : "(no id)", rec->type == NET_REC_FLOW ? "conn" : "protocol");
    p->st.alerts_sigma++;
    net_emit(&p->sink, NET_REC_ALERT, rec->ts_ns, rec->flow, rec->pcap_cnt, &a);
}

static void
sigma_match(struct net_pipeline *p, const struct net_record *rec, const struct bn_buf *json)
{
    struct bn_record *brec = &p->srec;
    struct bn_diag d;
    const uint32_t *hits;
    size_t nhits;

    /* parsed as the NDJSON reader would, into a record kept from record to record */
    if (bn_record_parse_ndjson(brec, json->p, json->len, "sensor", &d) != 0) {
        p->st.sigma_errors++;
        return;
    }
    bn_event_clear(&p->ev);
    if (bn_evbuilder_build(p->eb, brec, &p->ev) != 0) {
        p->st.sigma_errors++;
        return;
    }
    if (p->ev.ts_ns == INT64_MIN)
        p->ev.ts_ns = (int64_t)rec->ts_ns;
    if (bn_ruleset_match(p->cfg.rules, p->scratch, &p->ev, &hits, &nhits) != 0) {
        p->st.sigma_errors++;
        return;
    }
    for (size_t i = 0; i < nhits; i++) {
        const struct sigma_rule *sr = bn_ruleset_rule(p->cfg.rules, hits[i]);
        if (bn_ruleset_rule_alerts(p->cfg.rules, hits[i]) && sr->kind != SIGMA_KIND_FILTER)
            sigma_alert(p, rec, hits[i]);
    }
}

/* ---- the fan-out sink ---- */

static void
sink_emit(struct net_sink *self, const struct net_record *in)
{
    struct net_pipeline *p = (struct net_pipeline *)((char *)self -
                                                     offsetof(struct net_pipeline, sink));
    struct net_record rec = *in;
    bool zeek_ok = false;

    if (p->quiet)
        return;
    if (!rec.pcap_cnt && rec.type != NET_REC_FLOW)
        rec.pcap_cnt = p->cur_pcap_cnt;
    if (rec.type != NET_REC_FLOW && rec.type != NET_REC_ALERT)
        rec.dir = p->cur_dir;
    if (rec.type != NET_REC_FLOW && !rec.eth) {
        rec.eth = p->cur_eth;
        rec.eth_dir = p->cur_pkt_dir;
    }
    if (rec.type == NET_REC_ALERT) {
        if (rec.flow)
            ((struct net_flow *)rec.flow)->alerted = 1;
        if (rec.body && ((const struct net_alert *)rec.body)->sig < NDR_SIG__COUNT)
            p->st.alerts_ndr++;
        net_eve_write(&p->eve, &rec);
        return;
    }
    /* Zeek-named rendering: for the Zeek writer and for Sigma */
    if (p->cfg.zeek || p->ev_ready) {
        bn_buf_reset(&p->zb);
        int rc = rec.type == NET_REC_FLOW
                     ? net_conn_zeek(rec.flow, &p->zb)
                     : net_app_zeek(rec.type, rec.flow, rec.ts_ns, rec.body, &p->zb);
        zeek_ok = rc == 0;
        if (rc && rc != BN_DECLINED) /* declined: Zeek logs that transaction elsewhere */
            p->st.zeek_errors++;
    }
    if (zeek_ok && p->ev_ready)
        sigma_match(p, &rec, &p->zb);
    if (p->ndr)
        ndr_record(p->ndr, &rec, &p->sink);
    net_eve_write(&p->eve, &rec);
    if (zeek_ok && p->cfg.zeek) {
        if (p->cfg.zeek == p->cfg.eve)
            net_eve_flush(&p->eve); /* one FILE: the eve line goes first, as it always did */
        if (bn_buf_putc(&p->zb, '\n') == 0 &&
            fwrite(p->zb.p, 1, p->zb.len, p->cfg.zeek) == p->zb.len)
            p->st.zeek_lines++;
        else
            p->st.zeek_errors++;
    }
}

/* ---- application layer ---- */

static void
app_feed(struct net_pipeline *p, struct net_flow *f, enum net_dir dir, const uint8_t *d,
         size_t n)
{
    if (f->parser && f->app_state && f->parser->data) {
        p->cur_dir = (uint8_t)dir;
        f->parser->data(f->app_state, f, dir, d, n, p->now_ns, &p->sink);
        p->cur_dir = NET_TOSERVER;
    }
}

/*
 * After a parser took bytes of dir: how many of dir's next bytes it ignores goes to the
 * direction's stream, which then keeps them as a count instead of copying them and hands
 * them on through on_skip (an encrypted TLS record's body, an HTTP body).
 */
static void
skip_hint(struct net_flow *f, enum net_dir dir)
{
    struct pflow *pf = f->stream;

    if (pf && f->proto == IPPROTO_TCP)
        net_stream_skip_hint(ST(pf, dir), f->parser && f->app_state && f->parser->skippable
                                              ? f->parser->skippable(f->app_state, dir)
                                              : 0);
}

static void
app_start(struct net_pipeline *p, struct net_flow *f, enum net_app app)
{
    f->app = (uint8_t)app;
    f->parser = net_app_parser_for(app, f->proto);
    if (f->parser && f->parser->open) {
        f->app_state = f->parser->open(f);
        if (!f->app_state)
            f->parser = NULL; /* out of memory: identified, not parsed */
    }
}

/* Has the server side handed any payload to the application layer yet? */
static bool
other_sent(const struct net_flow *f)
{
    const struct pflow *pf = f->stream;

    if (!pf)
        return f->payload_bytes[NET_TOCLIENT] != 0;
    return ST(pf, NET_TOCLIENT)->delivered != 0 || PLEN(pf, NET_TOCLIENT) != 0;
}

/*
 * A flow whose first payload is a reply (the capture began mid-conversation, or the
 * request was lost) is turned around, as Suricata's probing parsers do: the parser's probe
 * must accept the bytes as server-to-client and refuse them as client-to-server. TCP flows
 * only when no SYN was seen (the handshake says who the client is).
 */
static bool
maybe_reverse(struct net_pipeline *p, struct feed *fd, enum net_app app, const uint8_t *d,
              size_t n)
{
    struct net_flow *f = fd->f;
    const struct net_app_parser *ap = net_app_parser_for(app, f->proto);
    struct pflow *pf = f->stream;

    if (fd->dir != NET_TOSERVER || other_sent(f) || !ap || !ap->probe)
        return false;
    if (f->proto == IPPROTO_TCP &&
        ((f->tcp_flags[0] | f->tcp_flags[1]) & NET_TCP_SYN))
        return false;
    bool reply = ap->probe(d, n, NET_TOSERVER) == 0 && ap->probe(d, n, NET_TOCLIENT) == 1;
    /* DNS says it in the header: QR set is a response (the DNS probe takes both ways); the
     * sender's port must be DNS's too, so a misread payload does not turn a flow round */
    if (!reply && app == NET_APP_DNS && net_app_port_hint(f->proto, f->cport) == app &&
        net_app_port_hint(f->proto, f->sport) != app) {
        size_t off = f->proto == IPPROTO_TCP ? 2 : 0;
        reply = n > off + 2 && (d[off + 2] & 0x80);
    }
    if (!reply)
        return false;
    net_flow_swap(f);
    if (pf)
        pf->flip ^= 1;
    fd->dir = NET_TOCLIENT;
    p->st.flows_reversed++;
    return true;
}

/*
 * The first payload of a flow picked up without its start (UDP, or TCP without a SYN) comes
 * from a well-known service port to a port that is not one: the sender is the server, so
 * the flow is turned round before its bytes are identified (Suricata gets there through its
 * probing parsers; the port is the evidence we have before any parser has spoken).
 */
static bool
reverse_by_port(struct net_pipeline *p, struct feed *fd, size_t n)
{
    struct net_flow *f = fd->f;
    struct pflow *pf = f->stream;
    enum net_app hc;
    /* only the flow's very first payload (this chunk) */
    bool first = pf ? ST(pf, NET_TOSERVER)->delivered == n && !PLEN(pf, NET_TOSERVER)
                    : f->payload_bytes[NET_TOSERVER] == n;

    if (fd->dir != NET_TOSERVER || other_sent(f) || !first)
        return false;
    if (f->proto == IPPROTO_TCP && ((f->tcp_flags[0] | f->tcp_flags[1]) & NET_TCP_SYN))
        return false;
    hc = net_app_port_hint(f->proto, f->cport);
    /* the receiving port must look like a client's: no service, not privileged */
    if (hc == NET_APP_UNKNOWN || net_app_port_hint(f->proto, f->sport) != NET_APP_UNKNOWN ||
        f->sport < 1024)
        return false;
    net_flow_swap(f);
    if (pf)
        pf->flip ^= 1;
    fd->dir = NET_TOCLIENT;
    p->st.flows_reversed++;
    return true;
}

static void
probe_put(struct net_pipeline *p, struct pflow *pf)
{
    struct probebuf *pb = pf->pb;

    if (!pb)
        return;
    pf->pb = NULL;
    if (p->pb_nfree < PB_FREE_MAX) {
        pb->next_free = p->pb_free;
        p->pb_free = pb;
        p->pb_nfree++;
    } else {
        bn_free(pb);
    }
}

static bool
probe_get(struct net_pipeline *p, struct pflow *pf)
{
    if (pf->pb)
        return true;
    if (p->pb_free) {
        pf->pb = p->pb_free;
        p->pb_free = pf->pb->next_free;
        p->pb_nfree--;
        return true;
    }
    pf->pb = bn_malloc(sizeof(*pf->pb));
    return pf->pb != NULL;
}

/*
 * Suricata runs its detection on each direction of a TCP flow: when the server's first bytes
 * are another protocol than the one the flow was identified as (an HTTP answer to a DCERPC
 * request, an SMTP banner before a TLS hello), eve says so in app_proto_tc. Checked once per
 * direction, the flow's own probe first (the usual case costs one probe call).
 */
static void
other_direction(struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n)
{
    f->app_dir_done[dir] = 1;
    if (dir != NET_TOCLIENT || f->proto != IPPROTO_TCP || !n)
        return;
    if (f->parser && f->parser->probe && f->parser->probe(d, n, dir) == 1)
        return;
    int r = net_app_identify(f->proto, d, n, dir);
    if (r > 0 && r != f->app && f->app != NET_APP_FAILED)
        f->app_tc = (uint8_t)r;
}

/* Identification from the first bytes of a direction, then parsing. */
static void
on_data(void *ctx, const uint8_t *d, size_t n)
{
    struct feed *fd = ctx;
    struct net_pipeline *p = fd->p;
    struct net_flow *f = fd->f;
    struct pflow *pf = f->stream;
    enum net_dir dir = fd->dir;
    int r;

    if (f->app != NET_APP_UNKNOWN) {
        if (!f->app_dir_done[dir] && f->proto == IPPROTO_TCP)
            other_direction(f, dir, d, n);
        app_feed(p, f, dir, d, n);
        skip_hint(f, dir);
        return;
    }
    if (reverse_by_port(p, fd, n))
        dir = fd->dir;
    if (f->proto == IPPROTO_UDP || !pf) {
        /* a datagram is a whole message: identify it alone */
        r = net_app_identify(f->proto, d, n, dir);
        if (r <= 0) {
            enum net_app hint = net_app_port_hint(f->proto, f->sport);
            const struct net_app_parser *hp = net_app_parser_for(hint, f->proto);
            if (hint != NET_APP_UNKNOWN && hp && hp->probe && hp->probe(d, n, dir) == 1)
                r = (int)hint;
        }
        if (r > 0) {
            maybe_reverse(p, fd, (enum net_app)r, d, n);
            app_start(p, f, (enum net_app)r);
            app_feed(p, f, fd->dir, d, n);
            return;
        }
        /* Suricata: unknown after the first datagram each way means detection failed; on a
         * port a parser is registered for, a few more datagrams get their chance */
        p->st.probe_bytes_dropped += n;
        f->app_dir_done[dir] = 1;
        bool hinted = net_app_parser_for(net_app_port_hint(f->proto, f->sport), f->proto);
        if (f->app_dir_done[0] && f->app_dir_done[1] &&
            (!hinted || f->pkts[0] + f->pkts[1] >= 8))
            f->app = NET_APP_FAILED;
        return;
    }
    /*
     * TCP: up to NET_PROBE_MAX bytes per direction are identified. A direction's first
     * chunk is looked at where it lies, and copied into a probe buffer only when it cannot
     * decide alone (most flows decide on their first bytes: no buffer, no copy).
     */
    size_t have = PLEN(pf, dir);
    size_t take = BN_MIN(NET_PROBE_MAX - have, n);
    const uint8_t *pd = d; /* the bytes identification sees: pd[0..PLEN(pf, dir)) */
    if (have == 0)
        r = net_app_identify(f->proto, d, take, dir);
    if (have != 0 || (r < 0 && take < NET_PROBE_MAX)) {
        if (!probe_get(p, pf)) {
            p->st.stream_alloc_failed++;
            p->st.probe_bytes_dropped += n;
            f->app = NET_APP_FAILED; /* out of memory: not identified (counted) */
            return;
        }
        memcpy(PROBE(pf, dir) + have, d, take);
        PLEN(pf, dir) = (uint16_t)(have + take);
        if (have == 0)
            return; /* more bytes may decide */
        pd = PROBE(pf, dir);
        r = net_app_identify(f->proto, pd, PLEN(pf, dir), dir);
        if (r < 0 && PLEN(pf, dir) < NET_PROBE_MAX)
            return; /* more bytes may decide */
    } else {
        PLEN(pf, dir) = (uint16_t)take;
    }
    size_t pn = PLEN(pf, dir);
    if (r <= 0) {
        enum net_app hint = net_app_port_hint(f->proto, f->sport);
        const struct net_app_parser *hp = net_app_parser_for(hint, f->proto);
        if (hint != NET_APP_UNKNOWN && hp && hp->probe && hp->probe(pd, pn, dir) == 1)
            r = (int)hint;
    }
    if (r <= 0) {
        f->app_dir_done[dir] = 1;
        f->app = NET_APP_FAILED;
        p->st.probe_bytes_dropped += n - take;
        probe_put(p, pf);
        return;
    }
    if (maybe_reverse(p, fd, (enum net_app)r, pd, pn))
        dir = fd->dir;
    app_start(p, f, (enum net_app)r);
    f->app_dir_done[dir] = 1;
    /* what this direction sent so far, then what the other one had buffered */
    app_feed(p, f, dir, pd, pn);
    if (n > take)
        app_feed(p, f, dir, d + take, n - take);
    enum net_dir o = dir == NET_TOSERVER ? NET_TOCLIENT : NET_TOSERVER;
    if (PLEN(pf, o)) {
        other_direction(f, o, PROBE(pf, o), PLEN(pf, o));
        app_feed(p, f, o, PROBE(pf, o), PLEN(pf, o));
    }
    probe_put(p, pf);
}

/* n bytes the parser declared it ignores (skip_hint), without their content. */
static void
on_skip(void *ctx, size_t n)
{
    struct feed *fd = ctx;
    struct net_pipeline *p = fd->p;
    struct net_flow *f = fd->f;

    p->st.stream_skipped += n;
    if (f->parser && f->app_state && f->parser->skip) {
        p->cur_dir = (uint8_t)fd->dir;
        if (!f->parser->skip(f->app_state, f, fd->dir, n, p->now_ns, &p->sink))
            p->st.stream_skip_lost += n;
        p->cur_dir = NET_TOSERVER;
    }
    skip_hint(f, fd->dir);
}

static void
on_gap(void *ctx, size_t n)
{
    struct feed *fd = ctx;
    struct net_flow *f = fd->f;

    fd->p->st.stream_gaps++;
    fd->p->st.stream_gap_bytes += n;
    f->gaps[fd->dir] += (uint32_t)BN_MIN(n, UINT32_MAX - f->gaps[fd->dir]);
    if (f->parser && f->app_state && f->parser->gap)
        f->parser->gap(f->app_state, f, fd->dir, n);
    else if (f->app == NET_APP_UNKNOWN)
        f->app_dir_done[fd->dir] = 1;
}

/*
 * The flow's pipeline state, from the pipeline's huge-page slabs (slab.c): the pipeline
 * touches it on every TCP packet, and from malloc's 4 KiB pages each touch was also a TLB
 * miss (a page walk, slow under virtualisation).
 */
static struct pflow *
pflow_get(struct net_pipeline *p, struct net_flow *f)
{
    struct pflow *pf = f->stream;

    if (pf)
        return pf;
    pf = net_slab_alloc(&p->slab, sizeof(*pf));
    if (!pf) {
        p->st.stream_alloc_failed++;
        return NULL;
    }
    pf->flip = 0;
    net_stream_init(&pf->st_[0]);
    net_stream_init(&pf->st_[1]);
    pf->st_[0].ack_mode = pf->st_[1].ack_mode = !p->cfg.ips;
    pf->st_[0].mem = pf->st_[1].mem = &p->smem;
    pf->plen_[0] = pf->plen_[1] = 0;
    pf->pb = NULL;
    f->stream = pf;
    return pf;
}

static void
app_packet(struct net_pipeline *p, struct net_flow *f, enum net_dir dir,
           const struct net_pkt *k)
{
    struct feed fd = {p, f, dir};

    if (f->app == NET_APP_FAILED || (f->app != NET_APP_UNKNOWN && !f->parser))
        return;
    if (k->proto == IPPROTO_TCP) {
        struct pflow *pf = f->stream;
        enum net_dir o = dir == NET_TOSERVER ? NET_TOCLIENT : NET_TOSERVER;
        /* what this packet acknowledges of the other direction goes to the parser now, as
         * in Suricata's IDS mode (records then carry the acknowledging packet's number) */
        if (pf && (k->tcp_flags & (NET_TCP_ACK | NET_TCP_RST))) {
            struct feed fo = {p, f, o};
            struct net_stream_out oo = {on_data, on_gap, &fo, on_skip};
            if (k->tcp_flags & NET_TCP_RST)
                net_stream_flush(ST(pf, o), &oo);
            else
                net_stream_ack(ST(pf, o), k->tcp_ack, &oo);
            if (f->app == NET_APP_FAILED || (f->app != NET_APP_UNKNOWN && !f->parser))
                return;
            if (fo.dir != o) { /* the flow was turned round: so is this packet */
                dir = dir == NET_TOSERVER ? NET_TOCLIENT : NET_TOSERVER;
                fd.dir = dir;
                p->cur_pkt_dir = (uint8_t)dir;
            }
        }
        if (!k->payload_len && !(k->tcp_flags & NET_TCP_SYN))
            return;
        pf = pflow_get(p, f);
        if (!pf)
            return;
        struct net_stream_out out = {on_data, on_gap, &fd, on_skip};
        if (k->tcp_flags & NET_TCP_SYN)
            net_stream_syn(ST(pf, dir), k->tcp_seq);
        if (k->payload_len)
            net_stream_add(ST(pf, dir), k->tcp_seq + ((k->tcp_flags & NET_TCP_SYN) ? 1 : 0),
                           k->payload, k->payload_len, &out);
        if (k->tcp_flags & NET_TCP_RST) {
            struct net_stream_out o2 = {on_data, on_gap, &fd, on_skip};
            net_stream_flush(ST(pf, fd.dir), &o2);
        }
    } else if (k->proto == IPPROTO_UDP && k->payload_len) {
        on_data(&fd, k->payload, k->payload_len);
    }
}

/* ---- flow end ---- */

static void
on_flow_end(void *ctx, struct net_flow *f)
{
    struct net_pipeline *p = ctx;
    struct pflow *pf = f->stream;

    if (f->end == NET_END_ZEEK) { /* a Zeek connection inside the flow ended: conn.log */
        net_emit(&p->sink, NET_REC_FLOW, f->last_ns, f, 0, f);
        return;
    }
    if (pf) {
        for (int d = 0; d < 2; d++) {
            struct feed fd = {p, f, (enum net_dir)d};
            struct net_stream_out out = {on_data, on_gap, &fd, on_skip};
            net_stream_flush(ST(pf, d), &out);
            f->ooo_dropped[d] = ST(pf, d)->ooo_dropped;
            p->st.stream_hold_forced += ST(pf, d)->hold_forced;
            net_stream_release(ST(pf, d));
        }
        probe_put(p, pf);
        net_slab_put(&p->slab, pf, sizeof(*pf));
        f->stream = NULL;
    }
    if (f->parser && f->app_state && f->parser->close)
        f->parser->close(f->app_state, f, f->last_ns, &p->sink);
    f->app_state = NULL;
    /* Suricata: a one-way UDP flow whose datagrams no parser recognised (on a port none is
     * registered for) ends with detection failed */
    if (f->proto == IPPROTO_UDP && f->app == NET_APP_UNKNOWN &&
        f->app_dir_done[NET_TOSERVER] != f->app_dir_done[NET_TOCLIENT] &&
        !f->pkts[f->app_dir_done[NET_TOSERVER] ? NET_TOCLIENT : NET_TOSERVER] &&
        !net_app_parser_for(net_app_port_hint(f->proto, f->sport), f->proto))
        f->app = NET_APP_FAILED;
    p->st.app_flows[f->app < NET_APP__COUNT ? f->app : 0]++;
    net_emit(&p->sink, NET_REC_FLOW, f->last_ns, f, 0, f);
}

/* ---- lifecycle ---- */

int
net_pipeline_new(struct net_pipeline **out, const struct net_pipeline_cfg *cfg, int linktype)
{
    struct net_pipeline *p;
    int rc;

    *out = NULL;
    p = bn_calloc(1, sizeof(*p));
    if (!p)
        return BN_ENOMEM;
    p->cfg = *cfg;
    if (!p->cfg.flow.max_flows)
        net_flow_cfg_default(&p->cfg.flow);
    rc = net_decoder_init(&p->dec, linktype);
    if (rc) {
        bn_free(p);
        return rc;
    }
    p->sink.emit = sink_emit;
    net_slab_init(&p->slab);
    net_slab_bind(&p->slab);
    p->smem.cap = cfg->stream_memcap ? cfg->stream_memcap : NET_STREAM_MEMCAP;
    net_eve_init(&p->eve, cfg->eve, cfg->iface);
    bn_buf_init(&p->zb, NET_EVE_LINE_MAX);
    p->flows = net_flowtab_new(&p->cfg.flow, on_flow_end, p);
    if (!p->flows)
        goto nomem;
    if (cfg->ndr) {
        p->ndr = ndr_new(cfg->ndr_cfg);
        if (!p->ndr)
            BN_WARN("sensor", "network detections disabled: they could not start");
        else if (cfg->iocs)
            ndr_set_ioc(p->ndr, cfg->iocs);
    }
    if (cfg->rules && cfg->mapping) {
        p->scratch = bn_scratch_new(cfg->rules);
        p->eb = bn_evbuilder_new(cfg->mapping, bn_ruleset_fields(cfg->rules));
        if (!p->scratch || !p->eb ||
            bn_event_init(&p->ev, bn_fieldtab_count(bn_ruleset_fields(cfg->rules))) != 0)
            goto nomem;
        p->ev_ready = true;
        if (bn_record_init(&p->srec) != 0)
            goto nomem;
        p->srec_ready = true;
    }
    net_app_stats_bind(&p->app_stats);
    net_capture_set_ahead(ahead_hook, p, AHEAD);
    *out = p;
    return 0;
nomem:
    net_pipeline_free(p);
    return BN_ENOMEM;
}

void
net_pipeline_free(struct net_pipeline *p)
{
    if (!p)
        return;
    if (net_capture_ahead_ctx() == p)
        net_capture_set_ahead(NULL, NULL, 0);
    if (p->flows) {
        /* flows still open (no net_pipeline_finish) end without records */
        p->quiet = true;
        net_flow_flush(p->flows, NET_END_SHUTDOWN);
        net_flowtab_free(p->flows);
    }
    net_decoder_release(&p->dec);
    net_eve_release(&p->eve);
    bn_buf_release(&p->zb);
    ndr_free(p->ndr);
    if (p->ev_ready)
        bn_event_release(&p->ev);
    if (p->srec_ready)
        bn_record_release(&p->srec);
    bn_evbuilder_free(p->eb);
    bn_scratch_free(p->scratch);
    while (p->pb_free) {
        struct probebuf *n = p->pb_free->next_free;
        bn_free(p->pb_free);
        p->pb_free = n;
    }
    net_slab_release(&p->slab); /* after the flows: their states came from it */
    net_stream_mem_release(&p->smem);
    net_app_stats_bind(NULL);
    bn_free(p);
}

static void
clock_to(struct net_pipeline *p, uint64_t ts_ns)
{
    if (ts_ns > p->now_ns)
        p->now_ns = ts_ns;
    if (!p->st.first_ns || ts_ns < p->st.first_ns)
        p->st.first_ns = ts_ns;
    if (ts_ns > p->st.last_ns)
        p->st.last_ns = ts_ns;
    if (p->now_ns >= p->last_tick_ns + NS) {
        p->last_tick_ns = p->now_ns;
        net_flow_expire(p->flows, p->now_ns);
        if (p->ndr)
            ndr_tick(p->ndr, p->now_ns, &p->sink);
    }
}

/* Starts loading what app_packet will touch first: the stream states' hot lines (struct
 * net_stream puts them first) and the parser's state. A macro: gcc 12 at -O2 judges a
 * function of nothing but __builtin_prefetch side-effect free and drops the call. */
#define PREFETCH_STATE(f)                                                                  \
    do {                                                                                   \
        const struct pflow *pf_ = (f)->stream;                                          \
        if (pf_) {                                                                         \
            __builtin_prefetch(pf_);                                                       \
            __builtin_prefetch(&pf_->st_[0]);                                              \
            __builtin_prefetch(&pf_->st_[1]);                                              \
            __builtin_prefetch((const char *)&pf_->st_[1] + 48);                           \
        }                                                                                  \
        if ((f)->app_state)                                                                \
            __builtin_prefetch((f)->app_state);                                            \
    } while (0)

/*
 * Look-ahead (capture.c shows each frame AHEAD frames before it is processed): the frame's
 * flow hash is computed and its index slot prefetched; two frames before its turn the slot
 * names the entry, which is prefetched; one frame before, the entry names the stream and
 * parser states, which are. Each stage's load has a frame's worth of work to arrive in (a
 * packet costs several dependent cache misses otherwise: slot, entry, states).
 */
static void
ahead_hook(void *ctx, uint64_t seq, const uint8_t *frame, uint32_t caplen)
{
    struct net_pipeline *p = ctx;
    __typeof__(p->ahead[0]) *a = &p->ahead[seq & (AHEAD_RING - 1)];

    a->seq = seq;
    a->f = NULL;
    a->hash = net_flow_frame_hash(p->flows, frame, caplen, &a->ok, &a->key);
    if (a->ok)
        net_flow_prefetch_slot(p->flows, a->hash);
}

static void
ahead_stages(struct net_pipeline *p, uint64_t cur)
{
    __typeof__(p->ahead[0]) *a2 = &p->ahead[(cur + 2) & (AHEAD_RING - 1)];
    __typeof__(p->ahead[0]) *a1 = &p->ahead[(cur + 1) & (AHEAD_RING - 1)];

    if (a2->seq == cur + 2 && a2->ok)
        a2->f = net_flow_prefetch_entry(p->flows, a2->hash);
    if (a1->seq == cur + 1 && a1->f && !p->cfg.no_app)
        PREFETCH_STATE(a1->f);
}

void
net_pipeline_frame(struct net_pipeline *p, const uint8_t *frame, uint32_t caplen,
                   uint32_t wirelen, uint64_t ts_ns)
{
    struct net_pkt pk[NET_LAYERS_MAX];
    size_t n;
    uint64_t cur = p->dec.st.packets + 1;

    ahead_stages(p, cur);
    n = net_decode(&p->dec, frame, caplen, wirelen, ts_ns, cur, pk);
    p->cur_pcap_cnt = p->dec.st.packets;
    clock_to(p, ts_ns);
    /* the look-ahead hashed this frame already: its hash serves if the key is the same */
    __typeof__(p->ahead[0]) *a0 = &p->ahead[cur & (AHEAD_RING - 1)];
    if (n && a0->seq == cur && a0->ok)
        net_flow_hash_hint(p->flows, &pk[0], &a0->key, a0->hash);
    for (size_t i = 0; i < n; i++) {
        struct net_pkt *k = &pk[i];
        enum net_dir dir;
        struct net_flow *f;

        if (p->ndr) {
            /* the flow's per-flow state (separate allocations) is loaded while the
             * detectors work: the stream state's first touch was a miss on most packets */
            struct net_flow *pk_f = net_flow_peek(p->flows, k);
            if (pk_f && !p->cfg.no_app)
                PREFETCH_STATE(pk_f);
            ndr_packet_flow(p->ndr, k, pk_f, &p->sink);
        }
        f = net_flow_packet(p->flows, k, &dir);
        if (!f || p->cfg.no_app)
            continue;
        p->cur_eth = k->eth;
        p->cur_pkt_dir = (uint8_t)dir;
        /* a tunnel's carrier packet: its payload is the next layer, not an application */
        if (i + 1 < n && pk[i + 1].layer > k->layer)
            continue;
        app_packet(p, f, dir, k);
    }
    p->cur_eth = NULL;
}

void
net_pipeline_tick(struct net_pipeline *p, uint64_t now_ns)
{
    clock_to(p, now_ns);
}

void
net_pipeline_finish(struct net_pipeline *p)
{
    net_flow_flush(p->flows, NET_END_SHUTDOWN);
    if (p->ndr)
        ndr_flush(p->ndr, &p->sink);
    net_pipeline_flush_out(p);
}

void
net_pipeline_flush_out(struct net_pipeline *p)
{
    net_eve_flush(&p->eve);
    if (p->cfg.eve)
        fflush(p->cfg.eve);
    if (p->cfg.zeek)
        fflush(p->cfg.zeek);
}

void
net_pipeline_stats(const struct net_pipeline *p, struct net_pipeline_stats *st)
{
    *st = p->st;
    st->dec = p->dec.st;
    net_flowtab_stats(p->flows, &st->flow);
    memcpy(st->records, p->sink.emitted, sizeof(st->records));
    st->eve_lines = p->eve.lines;
    st->eve_errors = p->eve.errors;
}

#define J(name, v) bn_buf_printf(b, "%s\"%s\":%" PRIu64, first++ ? "," : "", name, (uint64_t)(v))

int
net_pipeline_stats_json(const struct net_pipeline *p, struct bn_buf *b)
{
    struct net_pipeline_stats s;
    int first = 0, rc = 0;
    static const char *const rec_names[NET_REC__COUNT] = {"flow", "dns", "http",
                                                          "tls",  "ssh", "alert"};

    net_pipeline_stats(p, &s);
    rc |= bn_buf_puts(b, "{\"decoder\":{");
    rc |= J("packets", s.dec.packets);
    rc |= J("bytes", s.dec.bytes);
    rc |= J("decoded", s.dec.decoded);
    rc |= J("truncated", s.dec.truncated);
    rc |= J("malformed", s.dec.malformed);
    rc |= J("unsupported", s.dec.unsupported);
    rc |= J("frag_pending", s.dec.frag_pending);
    rc |= J("frag_dropped", s.dec.frag_dropped);
    rc |= J("tunnel_too_deep", s.dec.tunnel_too_deep);
    rc |= J("arp", s.dec.arp);
    rc |= J("non_ip", s.dec.non_ip);
    rc |= J("ipv4", s.dec.ipv4);
    rc |= J("ipv6", s.dec.ipv6);
    rc |= J("tcp", s.dec.tcp);
    rc |= J("udp", s.dec.udp);
    rc |= J("icmp", s.dec.icmp);
    rc |= J("other_l4", s.dec.other_l4);
    rc |= J("vlan", s.dec.vlan);
    rc |= J("tunnelled", s.dec.tunnelled);
    rc |= J("tunnel_bad", s.dec.tunnel_bad);
    rc |= J("l4_truncated", s.dec.l4_truncated);
    rc |= J("frag_reassembled", s.dec.frag_reassembled);
    rc |= J("frag_overlap", s.dec.frag_overlap);
    rc |= J("frag_timeout", s.dec.frag_timeout);
    first = 0;
    rc |= bn_buf_puts(b, "},\"flow\":{");
    rc |= J("created", s.flow.created);
    rc |= J("active", s.flow.active);
    rc |= J("active_max", s.flow.active_max);
    rc |= J("ended_timeout", s.flow.ended_timeout);
    rc |= J("ended_forced", s.flow.ended_forced);
    rc |= J("ended_shutdown", s.flow.ended_shutdown);
    rc |= J("no_flow", s.flow.no_flow);
    rc |= J("tcp_midstream", s.flow.tcp_midstream);
    rc |= J("tcp_reversed", s.flow.tcp_reversed);
    rc |= J("tcp_reused", s.flow.tcp_reused);
    rc |= J("zeek_splits", s.flow.zeek_splits);
    first = 0;
    rc |= bn_buf_puts(b, "},\"stream\":{");
    rc |= J("gaps", s.stream_gaps);
    rc |= J("gap_bytes", s.stream_gap_bytes);
    rc |= J("alloc_failed", s.stream_alloc_failed);
    rc |= J("hold_forced", s.stream_hold_forced);
    rc |= J("skipped", s.stream_skipped);
    rc |= J("skip_lost", s.stream_skip_lost);
    rc |= J("memcap_refused", p->smem.refused);
    rc |= J("mem_used", p->smem.used);
    rc |= J("probe_bytes_dropped", s.probe_bytes_dropped);
    rc |= J("flows_reversed", s.flows_reversed);
    first = 0;
    rc |= bn_buf_puts(b, "},\"app_flows\":{");
    for (int a = 0; a < NET_APP__COUNT; a++)
        if (s.app_flows[a])
            rc |= J(net_app_name((enum net_app)a), s.app_flows[a]);
    first = 0;
    rc |= bn_buf_puts(b, "},\"records\":{");
    for (int t = 0; t < NET_REC__COUNT; t++)
        rc |= J(rec_names[t], s.records[t]);
    first = 0;
    rc |= bn_buf_puts(b, "},\"alerts\":{");
    rc |= J("sigma", s.alerts_sigma);
    rc |= J("ndr", s.alerts_ndr);
    rc |= J("sigma_errors", s.sigma_errors);
    first = 0;
    rc |= bn_buf_puts(b, "},\"output\":{");
    rc |= J("eve_lines", s.eve_lines);
    rc |= J("eve_errors", s.eve_errors);
    rc |= J("zeek_lines", s.zeek_lines);
    rc |= J("zeek_errors", s.zeek_errors);
    rc |= bn_buf_puts(b, "},\"app\":");
    rc |= net_app_stats_json(&p->app_stats, b);
    if (p->ndr) {
        struct ndr_stats ns;
        ndr_stats(p->ndr, &ns);
        rc |= bn_buf_puts(b, ",\"ndr_state\":");
        rc |= ndr_stats_json(&ns, b);
    }
    rc |= bn_buf_putc(b, '}');
    return rc ? BN_ETOOBIG : 0;
}

/* ---- rules ---- */

static void
rule_diag(void *ctx, const struct bn_diag *d)
{
    struct net_rules *r = ctx;
    char buf[700];

    r->failed++;
    BN_INFO("sensor", "rule not loaded: %s", bn_diag_format(d, buf, sizeof(buf)));
}

static void
compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    (void)rule;
    rule_diag(ctx, d);
}

int
net_rules_load(struct net_rules *r, const char *const *paths, size_t n, struct bn_diag *d)
{
    struct sigma_rule **rules = NULL;
    size_t nrules = 0;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = sigma_parse_paths(paths, n, &rules, &nrules, rule_diag, r);
    if (rc) {
        bn_diag_set(d, rc, paths[0], 0, 0, "cannot read rules: %s", bn_strerror(rc));
        goto out;
    }
    rc = bn_ruleset_compile(&r->rs, rules, nrules, NULL, compile_diag, r);
    nrules = 0;
    if (rc) {
        bn_diag_set(d, rc, paths[0], 0, 0, "cannot compile rules: %s", bn_strerror(rc));
        goto out;
    }
    r->loaded = bn_ruleset_count(r->rs);
    rc = bn_mapping_load_default(&r->map, d);
out:
    for (size_t i = 0; i < nrules; i++)
        sigma_rule_free(rules[i]);
    bn_free(rules);
    if (rc)
        net_rules_release(r);
    return rc;
}

void
net_rules_release(struct net_rules *r)
{
    bn_ruleset_free(r->rs);
    bn_mapping_free(r->map);
    r->rs = NULL;
    r->map = NULL;
}

/* ---- summaries ---- */

void
net_pipeline_stats_add(struct net_pipeline_stats *t, const struct net_pipeline_stats *a)
{
    uint64_t f = t->first_ns, l = t->last_ns;
    const uint64_t *s = (const uint64_t *)a;
    uint64_t *o = (uint64_t *)t;

    /* every member is a uint64_t counter (or an array of them) */
    for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
        o[i] += s[i];
    t->first_ns = f && (!a->first_ns || f < a->first_ns) ? f : a->first_ns;
    t->last_ns = BN_MAX(l, a->last_ns);
    t->flow.active_max = BN_MAX(t->flow.active_max - a->flow.active_max, a->flow.active_max);
}

void
net_pipeline_summary(const struct net_pipeline_stats *s, double seconds, FILE *out)
{
    static const char *const rec_names[NET_REC__COUNT] = {"flow", "dns", "http",
                                                          "tls",  "ssh", "alert"};
    const struct net_decode_stats *d = &s->dec;

    fprintf(out, "packets      %" PRIu64 " (%" PRIu64 " bytes), decoded %" PRIu64 "\n",
            d->packets, d->bytes, d->decoded);
    fprintf(out, "flows        %" PRIu64 " (ended: %" PRIu64 " timeout, %" PRIu64
                 " evicted, %" PRIu64 " at end)\n",
            s->flow.created, s->flow.ended_timeout, s->flow.ended_forced,
            s->flow.ended_shutdown);
    fprintf(out, "records     ");
    for (int t = 0; t < NET_REC__COUNT; t++)
        fprintf(out, " %s %" PRIu64, rec_names[t], s->records[t]);
    fprintf(out, "\n");
    fprintf(out, "alerts       %" PRIu64 " (sigma %" PRIu64 ", detections %" PRIu64 ")\n",
            s->records[NET_REC_ALERT], s->alerts_sigma, s->alerts_ndr);
    fprintf(out, "drops        truncated %" PRIu64 ", malformed %" PRIu64 ", unsupported %" PRIu64
                 " (non-IP %" PRIu64 "), fragments held %" PRIu64 " dropped %" PRIu64
                 " timed out %" PRIu64 ", tunnel too deep %" PRIu64 ", bad tunnel %" PRIu64
                 ", stream gaps %" PRIu64 " (%" PRIu64 " bytes), unparsed probe bytes %" PRIu64
                 ", sigma errors %" PRIu64 ", output errors %" PRIu64 "\n",
            d->truncated, d->malformed, d->unsupported, d->non_ip, d->frag_pending,
            d->frag_dropped, d->frag_timeout, d->tunnel_too_deep, d->tunnel_bad,
            s->stream_gaps, s->stream_gap_bytes, s->probe_bytes_dropped, s->sigma_errors,
            s->eve_errors + s->zeek_errors);
    fprintf(out, "stream       %" PRIu64 " bytes handed on unread and uncopied (encrypted TLS"
                 " records, HTTP bodies), %" PRIu64 " of them a gap (parser state changed)\n",
            s->stream_skipped, s->stream_skip_lost);
    if (seconds > 0)
        fprintf(out, "speed        %.0f packets/s, %.1f Mbit/s (%.3f s)\n",
                (double)d->packets / seconds, (double)d->bytes * 8 / seconds / 1e6, seconds);
}

/* ---- detection setup ---- */

int
net_detect_setup_load(struct net_detect_setup *s, const char *prog, const char *ndr_config,
                      const char *const *ioc_paths, size_t nioc, char *msg, size_t msglen)
{
    struct bn_diag d;
    char buf[700];
    int rc;

    memset(s, 0, sizeof(*s));
    bn_diag_clear(&d);
    if (ndr_config) {
        if (!(s->cfg = bn_calloc(1, sizeof(*s->cfg))) || ndr_config_init(s->cfg) != 0) {
            bn_free(s->cfg);
            s->cfg = NULL;
            snprintf(msg, msglen, "out of memory");
            return BN_ENOMEM;
        }
        if ((rc = ndr_config_load(s->cfg, ndr_config, &d)) != 0) {
            snprintf(msg, msglen, "%s", bn_diag_format(&d, buf, sizeof(buf)));
            net_detect_setup_release(s);
            return rc;
        }
    }
    if (nioc) {
        if (!(s->iocs = bn_ioc_set_new())) {
            snprintf(msg, msglen, "out of memory");
            net_detect_setup_release(s);
            return BN_ENOMEM;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
        for (size_t i = 0; i < nioc; i++) {
            struct bn_ioc_load_stats st;
            memset(&st, 0, sizeof(st));
            bn_diag_clear(&d);
            if ((rc = bn_ioc_load_file(s->iocs, ioc_paths[i], now, &st, &d)) != 0) {
                snprintf(msg, msglen, "%s", bn_diag_format(&d, buf, sizeof(buf)));
                net_detect_setup_release(s);
                return rc;
            }
            uint64_t skipped = st.skipped_type + st.skipped_value + st.skipped_syntax +
                               st.skipped_expired + st.skipped_other;
            s->iocs_added += st.added;
            s->iocs_skipped += skipped;
            if (skipped)
                fprintf(stderr, "%s: %s: %" PRIu64 " indicators loaded, %" PRIu64
                        " entries skipped (first: %s)\n", prog, ioc_paths[i], st.added, skipped,
                        bn_diag_format(&d, buf, sizeof(buf)));
        }
    }
    return 0;
}

void
net_detect_setup_release(struct net_detect_setup *s)
{
    if (s->cfg) {
        ndr_config_release(s->cfg);
        bn_free(s->cfg);
    }
    bn_ioc_set_free(s->iocs);
    memset(s, 0, sizeof(*s));
}
