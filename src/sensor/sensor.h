/*
 * sensor.h - the network sensor's shared model: decoded packets, flows, the application
 * parser interface and the record sink. Every src/sensor module speaks these types.
 *
 * Pipeline (one thread per capture; see docs/SENSOR.md):
 *
 *   pcap / live ──► net_decode() ──► struct net_pkt ──► flow table (net_flow_*)
 *        ──► TCP stream reassembly per direction / UDP datagrams
 *        ──► application parser (chosen by content, then port) ──► records
 *        ──► struct net_sink: eve-like NDJSON, Zeek-named events for Sigma, NDR detectors
 *
 * Ownership: decode.c, defrag.c, flow.c, stream.c, capture.c (packets and flows);
 * app_*.c + app.h (application records); ndr_*.c + ndr.h (detections); eve.c (rendering).
 */
#ifndef BANNIN_SENSOR_H
#define BANNIN_SENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"

/* An IP address: fam is 4 or 6; a IPv4 uses the first 4 bytes of a. */
struct net_addr {
    uint8_t fam;
    uint8_t a[16];
};

/* Tunnels a packet came out of (outermost first is not kept: only whether it was tunnelled). */
enum net_tunnel {
    NET_TUN_NONE = 0,
    NET_TUN_GRE,
    NET_TUN_VXLAN,
    NET_TUN_ERSPAN,
    NET_TUN_IPIP,
    NET_TUN_TEREDO,
};

/* TCP flags as on the wire. */
#define NET_TCP_FIN 0x01
#define NET_TCP_SYN 0x02
#define NET_TCP_RST 0x04
#define NET_TCP_PSH 0x08
#define NET_TCP_ACK 0x10
#define NET_TCP_URG 0x20
#define NET_TCP_ECE 0x40
#define NET_TCP_CWR 0x80

/*
 * One decoded packet (the innermost IP layer when tunnelled). Pointers borrow the capture
 * buffer (or the defragmenter's reassembly buffer) and are valid until the next packet.
 */
struct net_pkt {
    uint64_t ts_ns;         /* capture time, ns since the epoch */
    uint64_t pcap_cnt;      /* 1-based packet number in the capture (eve's pcap_cnt) */
    uint32_t caplen;
    uint32_t wirelen;
    uint16_t vlan[2];       /* outer, inner VLAN id (0 = none) */
    uint8_t vlan_n;
    uint8_t tunnel;         /* enum net_tunnel */
    uint8_t is_arp;         /* ARP: arp_op and the addresses below are set, no IP */
    uint8_t arp_op;
    uint8_t fragmented;     /* reassembled from IP fragments */
    struct net_addr src;
    struct net_addr dst;
    uint8_t proto;          /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, ... */
    uint8_t ttl;
    uint16_t sport;         /* host order; ICMP: type in sport, code in dport */
    uint16_t dport;
    uint8_t tcp_flags;
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint16_t tcp_win;
    uint32_t ip_len;        /* IP total length (header + payload) as counted in flows */
    const uint8_t *payload; /* transport payload */
    uint32_t payload_len;
};

/* Decode counters: every packet not turned into a net_pkt is counted under a reason. */
struct net_decode_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t decoded;
    uint64_t truncated;        /* a header longer than the captured bytes */
    uint64_t malformed;        /* impossible lengths, bad versions, ... */
    uint64_t unsupported;      /* link or network types we do not decode (counted, skipped) */
    uint64_t frag_pending;     /* fragments held for reassembly */
    uint64_t frag_dropped;     /* fragments dropped: overlap, limits, timeout */
    uint64_t tunnel_too_deep;
};

/* Which direction of a flow a packet or stream chunk travels. */
enum net_dir {
    NET_TOSERVER = 0,
    NET_TOCLIENT = 1,
};

/* Application protocols, identified by content first and by port only as a hint. */
enum net_app {
    NET_APP_UNKNOWN = 0,
    NET_APP_DNS,
    NET_APP_HTTP,
    NET_APP_TLS,
    NET_APP_SSH,
    NET_APP_SMB,
    NET_APP_RDP,
    NET_APP_SMTP,
    NET_APP_FTP,
    NET_APP_FAILED,  /* content seen, no parser recognised it */
    NET_APP__COUNT,
};

const char *net_app_name(enum net_app app);  /* "dns", "http", ... ("failed", "unknown") */

/* Why a flow ended (eve flow.reason). */
enum net_flow_end {
    NET_END_TIMEOUT = 0,
    NET_END_FORCED,    /* evicted to respect the table bound */
    NET_END_SHUTDOWN,  /* end of capture */
};

/* TCP state as eve reports it. */
enum net_tcp_state {
    NET_TCP_NONE = 0,
    NET_TCP_SYN_SENT,
    NET_TCP_SYN_RECV,
    NET_TCP_ESTABLISHED,
    NET_TCP_FIN_WAIT,
    NET_TCP_CLOSING,
    NET_TCP_CLOSED,
};

struct net_app_parser;

/*
 * One flow. The client is the side that sent the first packet (the SYN for TCP when seen).
 * Counters are indexed by enum net_dir.
 */
struct net_flow {
    uint64_t id;                 /* unique per sensor run (eve flow_id) */
    struct net_addr cli;
    struct net_addr srv;
    uint16_t cport;
    uint16_t sport;
    uint8_t proto;
    uint8_t tcp_state;           /* enum net_tcp_state */
    uint8_t tcp_flags[2];        /* OR of flags seen per direction */
    uint8_t end;                 /* enum net_flow_end, set when the flow is closed */
    uint16_t vlan[2];
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t pkts[2];
    uint64_t bytes[2];           /* IP bytes, as eve counts them */
    uint64_t payload_bytes[2];
    char community_id[32];       /* "1:..." */
    uint8_t app;                 /* enum net_app */
    const struct net_app_parser *parser;
    void *app_state;
    void *stream[2];             /* TCP reassembly state (stream.c) */
    uint32_t gaps[2];            /* bytes never seen (missing segments) */
};

struct net_sink;

/*
 * An application parser. The flow layer calls probe() on the first payload bytes of each
 * direction until one parser claims the flow, then open(), data() for each in-order chunk
 * (TCP after reassembly; each UDP datagram whole) and close() when the flow ends.
 */
struct net_app_parser {
    const char *name;
    enum net_app app;
    uint8_t proto;                /* IPPROTO_TCP or IPPROTO_UDP (a parser for both: two entries) */
    uint16_t ports[4];            /* hint ports (0 = unused) */
    /* 1: this protocol; 0: not; -1: need more bytes (at most NET_PROBE_MAX are offered). */
    int (*probe)(const uint8_t *d, size_t n, enum net_dir dir);
    void *(*open)(struct net_flow *f);
    void (*data)(void *st, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
                 uint64_t ts_ns, struct net_sink *sink);
    /* n bytes missing in dir (a hole the reassembler gave up on): resynchronise or give up. */
    void (*gap)(void *st, struct net_flow *f, enum net_dir dir, size_t n);
    void (*close)(void *st, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink);
};

#define NET_PROBE_MAX 512

/* The parsers, in probe order (app_registry in app.c). */
extern const struct net_app_parser *const net_app_parsers[];
extern const size_t net_app_parser_count;

/* Kinds of records the pipeline produces. Payload structs are in app.h and ndr.h. */
enum net_rec_type {
    NET_REC_FLOW = 0,   /* payload: const struct net_flow * (at flow end) */
    NET_REC_DNS,        /* struct net_dns_rec */
    NET_REC_HTTP,       /* struct net_http_rec */
    NET_REC_TLS,        /* struct net_tls_rec */
    NET_REC_SSH,        /* struct net_ssh_rec */
    NET_REC_ALERT,      /* struct net_alert (NDR detections, Sigma hits) */
    NET_REC__COUNT,
};

/*
 * A record on its way out. flow is the flow it belongs to (NULL for alerts not tied to
 * one); pkt is the packet that completed it when there is one (for pcap_cnt).
 */
struct net_record {
    enum net_rec_type type;
    uint64_t ts_ns;
    const struct net_flow *flow;
    uint64_t pcap_cnt;
    const void *body;
};

/*
 * Where records go. emit() must not keep pointers into rec after returning. A sink can
 * chain: the pipeline's sink fans out to the eve writer, the Sigma engine and the detectors.
 */
struct net_sink {
    void (*emit)(struct net_sink *self, const struct net_record *rec);
    uint64_t emitted[NET_REC__COUNT];
};

static inline void net_emit(struct net_sink *sink, enum net_rec_type type, uint64_t ts_ns,
                            const struct net_flow *flow, uint64_t pcap_cnt, const void *body)
{
    struct net_record r = {type, ts_ns, flow, pcap_cnt, body};
    sink->emitted[type]++;
    sink->emit(sink, &r);
}

/* Formats an address as text (inet_ntop); returns buf. */
const char *net_addr_str(const struct net_addr *a, char *buf, size_t size);

#endif
