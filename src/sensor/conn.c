/*
 * conn.c - a flow as a Zeek conn.log record (flat JSON with Zeek's field names).
 *
 * This is what SigmaHQ's network rules (logsource product zeek, service conn) and Zeek
 * tooling expect. uid is the flow's Community ID, so conn, dns, http, ssl and ssh records of
 * one flow share it, and the agent's socket events join on it too. conn_state follows Zeek's
 * definitions from the TCP flags each side sent.
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bannin/buf.h"
#include "bannin/community_id.h"
#include "sensor/app.h"
#include "sensor/pipeline.h"

#define TRY(x)                                                                                 \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_)                                                                               \
            return rc_;                                                                        \
    } while (0)

/*
 * The SYN, FIN and RST flags one side sent in the current Zeek connection, read from its
 * history letters (S/H, F, R: upper case for the client, lower case for the server) since
 * the flow's tcp_flags cover the whole flow and a flow can hold several Zeek connections.
 */
static uint8_t
hist_flags(const struct net_flow *f, bool client)
{
    uint8_t fl = 0;
    int up = client ? 0 : 'a' - 'A';

    for (size_t i = 0; i < sizeof(f->history) && f->history[i]; i++) {
        int c = f->history[i];
        if (c == 'S' + up || c == 'H' + up)
            fl |= NET_TCP_SYN;
        else if (c == 'F' + up)
            fl |= NET_TCP_FIN;
        else if (c == 'R' + up)
            fl |= NET_TCP_RST;
    }
    return fl;
}

/* Packets and payload bytes of dir in the current Zeek connection (flow.c, zk_*). */
static uint64_t
zk_pkts(const struct net_flow *f, enum net_dir dir)
{
    return f->zk_first_ns ? (uint32_t)((uint32_t)f->pkts[dir] - f->zk_pkts0[dir]) : f->pkts[dir];
}

static uint64_t
zk_bytes(const struct net_flow *f, enum net_dir dir)
{
    if (f->proto == IPPROTO_TCP && f->seq_init[dir])
        return net_flow_app_bytes(f, dir);
    return f->zk_first_ns ? (uint32_t)((uint32_t)f->payload_bytes[dir] - f->zk_pay0[dir])
                          : f->payload_bytes[dir];
}

const char *
net_conn_state(const struct net_flow *f)
{
    uint8_t o = hist_flags(f, true), r = hist_flags(f, false);
    bool syn = (o & NET_TCP_SYN) != 0, synack = (r & NET_TCP_SYN) != 0;

    if (f->proto != IPPROTO_TCP)
        return zk_pkts(f, NET_TOCLIENT) ? "SF" : "S0";
    if (syn && !synack) {
        if (o & NET_TCP_RST)
            return "RSTOS0";
        if (o & NET_TCP_FIN)
            return "SH";
        if (r & NET_TCP_RST)
            return "REJ";
        return "S0";
    }
    if (!syn && synack) {
        if (r & NET_TCP_RST)
            return "RSTRH";
        if (r & NET_TCP_FIN)
            return "SHR";
        return "OTH";
    }
    if (!syn && !synack)
        return "OTH";
    if (o & NET_TCP_RST)
        return "RSTO";
    if (r & NET_TCP_RST)
        return "RSTR";
    if ((o & NET_TCP_FIN) && (r & NET_TCP_FIN))
        return "SF";
    if (o & NET_TCP_FIN)
        return "S2";
    if (r & NET_TCP_FIN)
        return "S3";
    return "S1";
}

static const char *
zeek_proto(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: return "icmp";
    default: return "unknown_transport";
    }
}

static const char *
zeek_service(uint8_t app)
{
    switch (app) {
    case NET_APP_UNKNOWN:
    case NET_APP_FAILED: return NULL;
    case NET_APP_TLS: return "ssl";
    case NET_APP_HTTP2:
    case NET_APP_DOH2: return "http"; /* as before: no http2 analyzer in stock Zeek */
    /* Zeek's service names where they differ from Suricata's app_proto */
    case NET_APP_DCERPC: return "dce_rpc";
    case NET_APP_PGSQL: return "postgresql";
    case NET_APP_DNP3: return "dnp3_tcp";
    case NET_APP_BT_DHT: return NULL; /* Zeek has no analyzer for it */
    default: return net_app_name((enum net_app)app);
    }
}

/*
 * Zeek turns a connection round when it did not see it begin (no SYN either way, or UDP)
 * and the originator's port is one a service listens on while the responder's is not
 * (likely_server_ports); the eve record keeps Suricata's orientation (first packet's
 * sender), the conn rendering follows Zeek so conn.log consumers and rules see Zeek's view.
 */
static bool
zeek_server_port(uint8_t proto, uint16_t port)
{
    if (net_app_port_hint(proto, port) != NET_APP_UNKNOWN)
        return true;
    /* the ports Zeek's tunnel analyzers register: Teredo, AYIYA, GTP-U/-C, VXLAN, GENEVE */
    return proto == IPPROTO_UDP && (port == 3544 || port == 5072 || port == 2152 ||
                                    port == 2123 || port == 4789 || port == 6081);
}

static bool
zeek_flips(const struct net_flow *f)
{
    if (f->proto == IPPROTO_TCP && ((hist_flags(f, true) | hist_flags(f, false)) & NET_TCP_SYN))
        return false;
    if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
        return false;
    /* DHCP: Zeek registers both 67 and 68, yet a reply seen first (server 67 to client 68)
     * is turned round, the client being the originator, unless it went to the broadcast
     * address (the client has none yet) */
    static const uint8_t bcast[4] = {255, 255, 255, 255};
    if (f->proto == IPPROTO_UDP && f->cport == 67 && f->sport == 68 &&
        !(f->srv.fam == 4 && memcmp(f->srv.a, bcast, 4) == 0))
        return true;
    return zeek_server_port(f->proto, f->cport) && !zeek_server_port(f->proto, f->sport);
}

/*
 * Zeek's ICMP "ports": the originator's type, and for the responder the type that answers it
 * (echo, timestamp, router/neighbor solicitation, ...: the Community ID's pairs, which come
 * from Zeek) or, for a one-way message, its code.
 */
static unsigned
zeek_icmp_resp_p(const struct net_flow *f)
{
    int peer = bn_icmp_peer_type(f->proto, f->icmp_type[NET_TOSERVER]);
    return peer >= 0 ? (unsigned)peer : f->icmp_code[NET_TOSERVER];
}

int
net_conn_zeek(const struct net_flow *f, struct bn_buf *b)
{
    struct net_flow turned;

    if (zeek_flips(f)) {
        turned = *f;
        net_flow_swap(&turned);
        f = &turned;
    }
    char a1[48], a2[48];
    const char *svc = zeek_service(f->app);
    bool icmp = f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6;
    /* Zeek reads no ports from a transport it does not know (SCTP, ...): 0 and 0 */
    bool unknown = !icmp && f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP;
    /* Zeek reads captures through libpcap at microsecond precision (nanosecond files are
     * truncated per packet): the duration is between truncated timestamps */
    uint64_t first = f->zk_first_ns ? f->zk_first_ns : f->first_ns;
    uint64_t dur = (f->last_ns / 1000u - first / 1000u) * 1000u;

    TRY(bn_buf_printf(b, "{\"_path\":\"conn\",\"ts\":%" PRIu64 ".%06" PRIu64 ",\"uid\":\"",
                      (uint64_t)(first / 1000000000u), (uint64_t)((first / 1000u) % 1000000u)));
    TRY(bn_buf_json_escape(b, f->community_id, strlen(f->community_id)));
    TRY(bn_buf_printf(b, "\",\"id.orig_h\":\"%s\",\"id.orig_p\":%u,\"id.resp_h\":\"%s\","
                         "\"id.resp_p\":%u,\"proto\":\"%s\"",
                      net_addr_str(&f->cli, a1, sizeof(a1)),
                      icmp ? f->icmp_type[NET_TOSERVER] : unknown ? 0 : f->cport,
                      net_addr_str(&f->srv, a2, sizeof(a2)),
                      icmp ? zeek_icmp_resp_p(f) : unknown ? 0 : f->sport,
                      zeek_proto(f->proto)));
    if (svc)
        TRY(bn_buf_printf(b, ",\"service\":\"%s\"", svc));
    /* Zeek sets duration, orig_bytes and resp_bytes only when the duration is above 0
     * (conn.zeek: a one-packet connection has them unset) */
    if (dur / 1000u > 0)
        TRY(bn_buf_printf(b,
                          ",\"duration\":%" PRIu64 ".%06" PRIu64 ",\"orig_bytes\":%" PRIu64
                          ",\"resp_bytes\":%" PRIu64,
                          (uint64_t)(dur / 1000000000u), (uint64_t)((dur / 1000u) % 1000000u),
                          /* no payload sizes for a transport Zeek does not parse */
                          unknown ? 0 : zk_bytes(f, NET_TOSERVER),
                          unknown ? 0 : zk_bytes(f, NET_TOCLIENT)));
    /* a transport Zeek does not parse: state OTH, no history */
    TRY(bn_buf_printf(b, ",\"conn_state\":\"%s\",\"missed_bytes\":%" PRIu64,
                      unknown ? "OTH" : net_conn_state(f), (uint64_t)f->gaps[0] + f->gaps[1]));
    if (!unknown)
        TRY(bn_buf_printf(b, ",\"history\":\"%s\"", f->history));
    TRY(bn_buf_printf(b,
                      ",\"orig_pkts\":%" PRIu64 ",\"orig_ip_bytes\":%" PRIu64
                      ",\"resp_pkts\":%" PRIu64 ",\"resp_ip_bytes\":%" PRIu64,
                      zk_pkts(f, NET_TOSERVER), f->ip_bytes[0], zk_pkts(f, NET_TOCLIENT),
                      f->ip_bytes[1]));
    if (f->vlan[0])
        TRY(bn_buf_printf(b, ",\"vlan\":%u", f->vlan[0]));
    if (f->vlan[1])
        TRY(bn_buf_printf(b, ",\"inner_vlan\":%u", f->vlan[1]));
    TRY(bn_buf_printf(b, ",\"community_id\":\"%s\"}", f->community_id));
    return 0;
}
