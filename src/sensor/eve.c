/*
 * eve.c - the sensor's records as Suricata eve.json lines (one JSON object per line).
 *
 * Field names and shapes follow Suricata's eve schema wherever we produce the same thing, so
 * tools reading Suricata output read ours and the suricata-verify checks apply: the common
 * header (timestamp, flow_id, in_iface, event_type, vlan, src_ip, src_port, dest_ip,
 * dest_port, proto, ip_v, pcap_cnt, app_proto, community_id), flow records ("flow" and
 * "tcp" members), the application members rendered by app_eve.c (net_app_eve) and alert
 * members rendered by ndr.c (net_alert_eve). IPv6 addresses are written fully expanded, as
 * Suricata does; times are UTC with "+0000".
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "sensor/app.h"
#include "sensor/ndr.h"
#include "sensor/pipeline.h"

#define TRY(x)                                                                                 \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_)                                                                               \
            return rc_;                                                                        \
    } while (0)

void
net_eve_init(struct net_eve *e, FILE *fp, const char *iface)
{
    memset(e, 0, sizeof(*e));
    e->fp = fp;
    e->iface = iface;
    bn_buf_init(&e->b, NET_EVE_LINE_MAX);
}

void
net_eve_release(struct net_eve *e)
{
    bn_buf_release(&e->b);
}

const char *
net_eve_time(uint64_t ns, char *buf, size_t size)
{
    time_t s = (time_t)(ns / 1000000000ull);
    struct tm tm;

    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000000+0000");
        return buf;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)((ns / 1000u) % 1000000u));
    return buf;
}

static int
put_str(struct bn_buf *b, const char *key, const char *val)
{
    TRY(bn_buf_printf(b, ",\"%s\":\"", key));
    TRY(bn_buf_json_escape(b, val, strlen(val)));
    return bn_buf_putc(b, '"');
}

static bool
has_ports(uint8_t proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

static const char *
type_name(enum net_rec_type t)
{
    switch (t) {
    case NET_REC_FLOW: return "flow";
    case NET_REC_DNS: return "dns";
    case NET_REC_HTTP: return "http";
    case NET_REC_TLS: return "tls";
    case NET_REC_SSH: return "ssh";
    case NET_REC_ALERT: return "alert";
    default: return "unknown";
    }
}

static const char *
mac_str(const uint8_t *m, char *buf)
{
    snprintf(buf, 24, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

/* The common header: endpoints from the flow, or from the alert when there is no flow. */
static int
header(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    const struct net_flow *f = r->flow;
    char tbuf[48], a1[48], a2[48], pbuf[8];

    TRY(bn_buf_printf(b, "{\"timestamp\":\"%s\"",
                      net_eve_time(r->type == NET_REC_FLOW && f ? f->last_ns : r->ts_ns, tbuf,
                                   sizeof(tbuf))));
    if (f)
        TRY(bn_buf_printf(b, ",\"flow_id\":%" PRIu64, f->id));
    if (e && e->iface)
        TRY(put_str(b, "in_iface", e->iface));
    TRY(bn_buf_printf(b, ",\"event_type\":\"%s\"", type_name(r->type)));
    if (f && f->vlan[0]) {
        TRY(bn_buf_printf(b, ",\"vlan\":[%u", f->vlan[0]));
        if (f->vlan[1])
            TRY(bn_buf_printf(b, ",%u", f->vlan[1]));
        if (f->vlan[1] && f->vlan3)
            TRY(bn_buf_printf(b, ",%u", f->vlan3));
        TRY(bn_buf_putc(b, ']'));
    }
    if (f) {
        /* DNS records carry the packet's direction (a response comes from the server) */
        bool rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;
        const struct net_addr *sa = rev ? &f->srv : &f->cli, *da = rev ? &f->cli : &f->srv;
        TRY(bn_buf_printf(b, ",\"src_ip\":\"%s\"", net_addr_eve(sa, a1, sizeof(a1))));
        if (has_ports(f->proto))
            TRY(bn_buf_printf(b, ",\"src_port\":%u", rev ? f->sport : f->cport));
        TRY(bn_buf_printf(b, ",\"dest_ip\":\"%s\"", net_addr_eve(da, a2, sizeof(a2))));
        if (has_ports(f->proto))
            TRY(bn_buf_printf(b, ",\"dest_port\":%u", rev ? f->cport : f->sport));
        TRY(bn_buf_printf(b, ",\"proto\":\"%s\",\"ip_v\":%u",
                          net_proto_name(f->proto, pbuf, sizeof(pbuf)), f->ip_v));
    } else if (r->type == NET_REC_ALERT && r->body) {
        const struct net_alert *a = r->body;
        TRY(bn_buf_printf(b, ",\"src_ip\":\"%s\"", net_addr_eve(&a->src, a1, sizeof(a1))));
        if (a->has_ports)
            TRY(bn_buf_printf(b, ",\"src_port\":%u", a->sport));
        if (a->has_dst) {
            TRY(bn_buf_printf(b, ",\"dest_ip\":\"%s\"", net_addr_eve(&a->dst, a2, sizeof(a2))));
            if (a->has_ports)
                TRY(bn_buf_printf(b, ",\"dest_port\":%u", a->dport));
        }
        if (a->proto)
            TRY(bn_buf_printf(b, ",\"proto\":\"%s\"",
                              net_proto_name(a->proto, pbuf, sizeof(pbuf))));
        TRY(bn_buf_printf(b, ",\"ip_v\":%u", a->src.fam == 6 ? 6 : 4));
    }
    if (!r->eth && r->type != NET_REC_FLOW && f && f->nmacs[0] && f->nmacs[1]) {
        /* emitted without a packet (flow end): the flow's first MAC on each side */
        bool hdr_rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;
        char m1[24], m2[24];
        TRY(bn_buf_printf(b, ",\"ether\":{\"src_mac\":\"%s\",\"dest_mac\":\"%s\"}",
                          mac_str(f->macs[hdr_rev ? 1 : 0][0], m1),
                          mac_str(f->macs[hdr_rev ? 0 : 1][0], m2)));
    }
    if (r->eth && r->type != NET_REC_FLOW && f) {
        /* oriented like src_ip/dest_ip: swap when the packet went the other way */
        bool pkt_rev = r->eth_dir == NET_TOCLIENT;
        bool hdr_rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;
        const uint8_t *src = r->eth + 6, *dst = r->eth;
        char m1[24], m2[24];
        if (pkt_rev != hdr_rev) {
            src = r->eth;
            dst = r->eth + 6;
        }
        TRY(bn_buf_printf(b, ",\"ether\":{\"src_mac\":\"%s\",\"dest_mac\":\"%s\"}",
                          mac_str(src, m1), mac_str(dst, m2)));
    }
    if (r->pcap_cnt && r->type != NET_REC_FLOW)
        TRY(bn_buf_printf(b, ",\"pcap_cnt\":%" PRIu64, r->pcap_cnt));
    if (f && f->app != NET_APP_UNKNOWN)
        TRY(put_str(b, "app_proto", net_app_name((enum net_app)f->app)));
    return 0;
}

static int
tcp_member(const struct net_flow *f, struct bn_buf *b)
{
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {
        {NET_TCP_SYN, "syn"}, {NET_TCP_FIN, "fin"}, {NET_TCP_RST, "rst"},
        {NET_TCP_PSH, "psh"}, {NET_TCP_ACK, "ack"}, {NET_TCP_URG, "urg"},
        {NET_TCP_ECE, "ecn"}, {NET_TCP_CWR, "cwr"},
    };
    uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];

    TRY(bn_buf_printf(b, ",\"tcp\":{\"tcp_flags\":\"%02x\",\"tcp_flags_ts\":\"%02x\","
                         "\"tcp_flags_tc\":\"%02x\"",
                      all, f->tcp_flags[NET_TOSERVER], f->tcp_flags[NET_TOCLIENT]));
    for (size_t i = 0; i < BN_ARRAY_SIZE(names); i++)
        if (all & names[i].bit)
            TRY(bn_buf_printf(b, ",\"%s\":true", names[i].name));
    if (f->tcp_state != NET_TCP_NONE)
        TRY(put_str(b, "state", net_tcp_state_name(f->tcp_state)));
    if (f->gaps[0] || f->gaps[1])
        TRY(bn_buf_printf(b, ",\"gap_ts\":%u,\"gap_tc\":%u", f->gaps[0], f->gaps[1]));
    return bn_buf_putc(b, '}');
}

static int
flow_body(const struct net_flow *f, struct bn_buf *b)
{
    char t1[48], t2[48];
    uint64_t age = f->last_ns / 1000000000ull - f->first_ns / 1000000000ull;

    if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
        TRY(bn_buf_printf(b, ",\"icmp_type\":%u,\"icmp_code\":%u", f->icmp_type[0],
                          f->icmp_code[0]));
        if (f->pkts[NET_TOCLIENT])
            TRY(bn_buf_printf(b, ",\"response_icmp_type\":%u,\"response_icmp_code\":%u",
                              f->icmp_type[1], f->icmp_code[1]));
    }
    TRY(bn_buf_printf(b,
                      ",\"flow\":{\"pkts_toserver\":%" PRIu64 ",\"pkts_toclient\":%" PRIu64
                      ",\"bytes_toserver\":%" PRIu64 ",\"bytes_toclient\":%" PRIu64
                      ",\"start\":\"%s\",\"end\":\"%s\",\"age\":%" PRIu64
                      ",\"state\":\"%s\",\"reason\":\"%s\",\"alerted\":%s}",
                      f->pkts[0], f->pkts[1], f->bytes[0], f->bytes[1],
                      net_eve_time(f->first_ns, t1, sizeof(t1)),
                      net_eve_time(f->last_ns, t2, sizeof(t2)), age,
                      net_flow_state_name(f->state), net_flow_end_name(f->end),
                      f->alerted ? "true" : "false"));
    if (f->community_id[0])
        TRY(put_str(b, "community_id", f->community_id));
    if (f->nmacs[0] || f->nmacs[1]) {
        char m[24];
        TRY(bn_buf_puts(b, ",\"ether\":{\"src_macs\":["));
        for (unsigned i = 0; i < f->nmacs[0]; i++)
            TRY(bn_buf_printf(b, "%s\"%s\"", i ? "," : "", mac_str(f->macs[0][i], m)));
        TRY(bn_buf_puts(b, "],\"dest_macs\":["));
        for (unsigned i = 0; i < f->nmacs[1]; i++)
            TRY(bn_buf_printf(b, "%s\"%s\"", i ? "," : "", mac_str(f->macs[1][i], m)));
        TRY(bn_buf_puts(b, "]}"));
    }
    if (f->proto == IPPROTO_ESP)
        TRY(bn_buf_printf(b, ",\"spi\":%u", (unsigned)f->cport << 16 | f->sport));
    if (f->proto == IPPROTO_TCP)
        TRY(tcp_member(f, b));
    return 0;
}

int
net_eve_render(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    TRY(header(e, r, b));
    switch (r->type) {
    case NET_REC_FLOW:
        if (!r->flow)
            return BN_EINVAL;
        TRY(flow_body(r->flow, b));
        break;
    case NET_REC_ALERT:
        if (!r->body)
            return BN_EINVAL;
        TRY(bn_buf_putc(b, ','));
        TRY(net_alert_eve(r->body, b));
        if (r->flow && r->flow->community_id[0])
            TRY(put_str(b, "community_id", r->flow->community_id));
        break;
    default:
        if (!r->body)
            return BN_EINVAL;
        TRY(bn_buf_putc(b, ','));
        TRY(net_app_eve(r->type, r->body, b));
        if (r->flow && r->flow->community_id[0])
            TRY(put_str(b, "community_id", r->flow->community_id));
        break;
    }
    return bn_buf_putc(b, '}');
}

void
net_eve_write(struct net_eve *e, const struct net_record *r)
{
    if (!e->fp)
        return;
    bn_buf_reset(&e->b);
    int rc = net_eve_render(e, r, &e->b);
    if (rc == BN_DECLINED)
        return; /* a record with no eve form (app.h: unanswered queries, mDNS, LLMNR) */
    if (rc != 0 || bn_buf_putc(&e->b, '\n') != 0) {
        e->errors++;
        return;
    }
    if (fwrite(e->b.p, 1, e->b.len, e->fp) != e->b.len) {
        e->errors++;
        return;
    }
    e->lines++;
}
