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

#include "bannin/buf.h"
#include "bannin/common.h"
#include "bannin/limits.h"

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
    NET_TUN_GENEVE,   /* added */
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
    /* added by decode.c (append only) */
    uint8_t ip_v;           /* 4 or 6 */
    uint8_t layer;          /* 0 = outermost IP layer of the frame, 1 = first tunnel inside */
    uint8_t l4_ok;          /* the transport header was decoded (ports/flags are valid) */
    uint32_t pkt_len;       /* bytes this packet counts for in its flow (Suricata's packet
                             * length: the whole frame for layer 0, from the tunnelled header
                             * on for inner layers, the datagram for reassembled fragments) */
    const uint8_t *eth;     /* the Ethernet header the IP layer came in (destination MAC,
                             * then source MAC), NULL on other links */
    uint32_t spi;           /* ESP: security parameter index (also the flow's "ports") */
    uint16_t vlan3;         /* a third VLAN id (0 = none) */
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
    /* Invariant: packets == decoded + truncated + malformed + unsupported + frag_pending +
     * frag_dropped + tunnel_too_deep. The counters below break these down further. */
    uint64_t arp;              /* decoded ARP frames (part of decoded) */
    uint64_t non_ip;           /* link payloads that are not IP or ARP (part of unsupported) */
    uint64_t ipv4;
    uint64_t ipv6;
    uint64_t tcp;
    uint64_t udp;
    uint64_t icmp;             /* ICMP and ICMPv6 */
    uint64_t other_l4;         /* IP packets of another protocol (flows without ports) */
    uint64_t vlan;             /* frames with at least one VLAN tag */
    uint64_t tunnelled;        /* inner packets decoded out of GRE/VXLAN/ERSPAN/IP-in-IP */
    uint64_t tunnel_bad;       /* a tunnel whose inner packet did not decode (outer kept) */
    uint64_t l4_truncated;     /* IP fine, transport header cut (flow counted without ports) */
    uint64_t frag_reassembled; /* datagrams rebuilt from fragments */
    uint64_t frag_overlap;     /* fragments overlapping earlier data (first copy kept) */
    uint64_t frag_timeout;     /* datagrams that never completed (timed out or evicted) */
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
    /* identified only (app.c), Suricata's app_proto names */
    NET_APP_DNP3,
    NET_APP_BT_DHT,  /* "bittorrent-dht" */
    NET_APP_PGSQL,
    NET_APP_RFB,
    NET_APP_DCERPC,
    NET_APP_DHCP,
    NET_APP_IKE,
    NET_APP_IMAP,
    NET_APP_POP3,
    NET_APP_SIP,
    NET_APP_NTP,
    NET_APP_HTTP2,   /* HTTP/2: prior knowledge, or an h2c upgrade (app_orig http) */
    NET_APP_DOH2,    /* DNS over HTTP/2 (app_orig http2) */
    NET_APP_XMPP,    /* identified only, for STARTTLS (Zeek's xmpp; no Suricata app_proto) */
    NET_APP_FAILED,  /* content seen, no parser recognised it */
    NET_APP__COUNT,
};

const char *net_app_name(enum net_app app);  /* "dns", "http", ... ("failed", "unknown") */

/* Why a flow ended (eve flow.reason). */
enum net_flow_end {
    NET_END_TIMEOUT = 0,
    NET_END_FORCED,    /* evicted to respect the table bound */
    NET_END_SHUTDOWN,  /* end of capture */
    NET_END_ZEEK,      /* not an end: a Zeek connection inside the flow ended (flow.c);
                        * the callback gets a zeek_only copy for conn.log */
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
    /* added (Suricata's full set; NET_TCP_FIN_WAIT is its fin_wait1) */
    NET_TCP_FIN_WAIT2,
    NET_TCP_TIME_WAIT,
    NET_TCP_LAST_ACK,
    NET_TCP_CLOSE_WAIT,
};

/* eve flow.state */
enum net_flow_state {
    NET_FLOW_NEW = 0,
    NET_FLOW_ESTABLISHED,
    NET_FLOW_CLOSED,
};

struct net_app_parser;

#define NET_FLOW_MACS 4              /* MAC addresses kept per side of a flow (eve ether) */

/*
 * One flow. The client is the side that sent the first packet (the SYN for TCP when seen).
 * Counters are indexed by enum net_dir.
 *
 * Laid out by use (flow.c keeps entries 64-byte aligned): the first cache line holds the
 * key and the small state every packet reads, the second the pointers to the per-flow
 * states (so a lookup that matched the key can prefetch them), the clock and Zeek's close
 * timer, the third and fourth the per-packet counters, history and MACs; what is set once
 * or read at the end comes last. A packet of an open flow reads these four lines only.
 */
struct net_flow {
    /* line 0: key and per-packet state */
    struct net_addr cli;
    struct net_addr srv;
    uint16_t cport;
    uint16_t sport;
    uint8_t proto;
    uint8_t layer;               /* tunnel depth of the packets (0 = not tunnelled) */
    uint16_t vlan[2];
    uint16_t vlan3;              /* a third VLAN id (part of the key) */
    uint8_t tcp_state;           /* enum net_tcp_state */
    uint8_t end;                 /* enum net_flow_end, set when the flow is closed */
    uint8_t tcp_flags[2];        /* OR of flags seen per direction */
    uint8_t state;               /* enum net_flow_state */
    uint8_t app;                 /* enum net_app */
    uint8_t alerted;             /* an alert was raised on this flow */
    uint8_t ip_v;                /* 4 or 6 */
    uint8_t app_dir_done[2];     /* pipeline: content identification finished this way */
    uint8_t seq_init[2];
    uint8_t nmacs[2];            /* MAC addresses seen on the client [0] / server [1] side */
    uint8_t tunnel;              /* enum net_tunnel of the inner packets */
    uint8_t app_orig;            /* enum net_app before the protocol changed (eve
                                  * app_proto_orig), NET_APP_UNKNOWN if it did not */
    uint8_t ndr_answered;        /* detections: this connection's answer is counted (bit 0:
                                  * client = the flow's client, bit 1: its server); bits 4-6:
                                  * which endpoints are internal (NDR_FLOW_* in ndr_int.h) */
    uint8_t hist_bits;           /* flow.c: history letters known to be in history (A, D, F,
                                  * R from the client in bits 0-3, from the server in 4-7), so
                                  * a packet repeating one need not search the string */
    /* line 1: per-flow states, clock */
    void *stream;                /* the pipeline's state of the flow: TCP reassembly
                                  * (stream.c), identification buffers (pipeline.c) */
    uint64_t zk_close_ns;        /* Zeek: when Zeek forgets the closed connection (close or
                                  * RST + 5 s, in whole ms from the connection's start), 0 */
    void *app_state;
    const struct net_app_parser *parser;
    uint64_t last_ns;
    uint64_t pkts[2];
    uint64_t zk_first_ns;        /* Zeek: first packet of the current Zeek connection when
                                  * Zeek's rules split this flow (conn.c), else 0 */
    /* lines 2-3: per-packet counters */
    uint64_t bytes[2];           /* packet bytes as eve counts them (struct net_pkt pkt_len) */
    uint64_t payload_bytes[2];
    uint64_t ip_bytes[2];        /* IP-level bytes (Zeek orig_ip_bytes / resp_ip_bytes) */
    uint32_t seq_first[2];       /* TCP: first data sequence number seen each way */
    uint32_t seq_end[2];         /* TCP: highest sequence number + length seen */
    char history[16];            /* Zeek conn history: first S h A D F R (client upper case,
                                  * server lower case) in the order seen */
    uint8_t macs[2][NET_FLOW_MACS][6];
    /* cold: set once, or read when the flow ends */
    uint64_t id;                 /* unique per sensor run (eve flow_id) */
    uint64_t first_ns;
    uint32_t zk_pkts0[2];        /* Zeek: pkts[] and payload_bytes[] (low 32 bits) when the */
    uint32_t zk_pay0[2];         /* current Zeek connection began (0 before any split) */
    char community_id[32];       /* "1:..." */
    uint32_t gaps[2];            /* bytes never seen (missing segments) */
    uint8_t icmp_type[2];        /* first ICMP type/code seen each way (ICMP flows) */
    uint8_t icmp_code[2];
    uint8_t zeek_only;           /* a flow Suricata would not make (an IP protocol it has no
                                  * flow for): Zeek's conn.log and Sigma only, no eve record,
                                  * not seen by the detectors */
    uint8_t app_tc;              /* enum net_app the server's first bytes were identified as
                                  * when that differs from app (eve app_proto_tc), else 0 */
    uint8_t seq_wraps[2];        /* TCP: times seq_end went round 2^32 (Zeek's byte counts
                                  * of transfers over 4 GiB) */
    uint64_t ooo_dropped[2];     /* TCP segments the reassembler could not keep */
};

/* TCP bytes a direction sent by sequence numbers (retransmissions counted once), as Zeek's
 * orig_bytes / resp_bytes; other protocols: payload bytes. */
uint64_t net_flow_app_bytes(const struct net_flow *f, enum net_dir dir);

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
    /*
     * Optional, together: how many of dir's next bytes the parser ignores whatever they are
     * (SIZE_MAX: all of them), and n <= that many such bytes given without their content,
     * with exactly the effect data() would have had. The pipeline then neither copies nor
     * reads them. skip returns false if the parser's state changed meanwhile (the other
     * direction switched it) and it needed the bytes: it took them as a gap (counted).
     */
    size_t (*skippable)(void *st, enum net_dir dir);
    bool (*skip)(void *st, struct net_flow *f, enum net_dir dir, size_t n, uint64_t ts_ns,
                 struct net_sink *sink);
};

#define NET_PROBE_MAX 512

/*
 * Per-flow states on huge-page slabs (slab.c): size classes of 16 bytes up to
 * NET_SLAB_CLASSES of them, recycled per class, the slabs kept until net_slab_release. A
 * pipeline binds its allocator to its thread (net_pipeline_new) so parsers' open() can take
 * their state from it: a state touched on most packets of a flow is then not also a TLB miss
 * on a random 4 KiB heap page.
 */
#define NET_SLAB_CLASSES 128 /* up to 2 KiB */

struct net_slab {
    void *free_[NET_SLAB_CLASSES]; /* recycled items by class, linked through their first
                                    * bytes */
    char *run_[NET_SLAB_CLASSES];  /* unused part of each class's current run */
    char *run_end_[NET_SLAB_CLASSES];
    char *next, *end;              /* unused part of the newest slab (whole runs) */
    void **slabs;
    size_t nslabs;
    uintptr_t *set;                /* the slabs' addresses, open addressing (0 = empty): a
                                    * free finds its slab in O(1) however many there are */
    size_t set_mask;
    struct net_slab *bound_next;   /* the thread's other bound allocators */
    bool bound;
};

void net_slab_init(struct net_slab *s);
/* Unbinds and unmaps every slab: every item must have been freed or be dead. */
void net_slab_release(struct net_slab *s);
/* Makes s the calling thread's allocator for net_slab_state_new (the newest bound wins)
 * and lets net_slab_state_free recognise its items; unbind before s is released or
 * moves. */
void net_slab_bind(struct net_slab *s);
void net_slab_unbind(struct net_slab *s);
/* An item of size bytes (not zeroed; aligned to the largest power of two up to 64 that
 * divides size rounded up to 16), or NULL: out of memory, or size over the classes. */
void *net_slab_alloc(struct net_slab *s, size_t size);
/* Gives back an item net_slab_alloc returned with the same size. */
void net_slab_put(struct net_slab *s, void *p, size_t size);
/* Does p lie in one of s's slabs? */
bool net_slab_owns(const struct net_slab *s, const void *p);
/* size zeroed bytes from the thread's bound allocator, or from the heap (none bound, too
 * large, or out of slab memory); returns owned memory, free it with net_slab_state_free and
 * the same size. NULL when out of memory. */
void *net_slab_state_new(size_t size);
/* Frees what net_slab_state_new returned (NULL: nothing). */
void net_slab_state_free(void *p, size_t size);

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
    /* added: the direction of the packet that completed the record (the pipeline's sink
     * fills it in while a parser is fed; eve writes DNS records with the packet's
     * source and destination, as Suricata does) */
    uint8_t dir;
    const uint8_t *eth;     /* that packet's Ethernet header (eve ether), or NULL */
    uint8_t eth_dir;        /* and the direction that packet travelled */
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

/* One byte of a dotted quad: its decimal digits then '.', and in [4] how many of those are
 * there (digits + 1). Filled at compile time. */
#define NET_IP4_DIG_(v)                                                                        \
    {(char)((v) >= 100 ? '0' + (v) / 100 : (v) >= 10 ? '0' + (v) / 10 : '0' + (v)),            \
     (char)((v) >= 100 ? '0' + (v) / 10 % 10 : (v) >= 10 ? '0' + (v) % 10 : '.'),              \
     (char)((v) >= 100 ? '0' + (v) % 10 : (v) >= 10 ? '.' : 0), (char)((v) >= 100 ? '.' : 0),   \
     (char)((v) >= 100 ? 4 : (v) >= 10 ? 3 : 2)}
#define NET_IP4_DIG4_(v) NET_IP4_DIG_(v), NET_IP4_DIG_((v) + 1), NET_IP4_DIG_((v) + 2),        \
    NET_IP4_DIG_((v) + 3)
#define NET_IP4_DIG16_(v) NET_IP4_DIG4_(v), NET_IP4_DIG4_((v) + 4), NET_IP4_DIG4_((v) + 8),    \
    NET_IP4_DIG4_((v) + 12)
#define NET_IP4_DIG64_(v) NET_IP4_DIG16_(v), NET_IP4_DIG16_((v) + 16),                         \
    NET_IP4_DIG16_((v) + 32), NET_IP4_DIG16_((v) + 48)

/*
 * Writes the dotted quad of the 4 bytes at a to o and returns its length (at most 15, no
 * NUL): as inet_ntop prints it, without going through sprintf. Each byte is 4 bytes stored
 * from a table, so o needs room for 16 bytes (the byte after the quad is overwritten).
 */
static inline size_t
net_ip4_dotted(char *o, const uint8_t *a)
{
    static const char dig[256][5] = {NET_IP4_DIG64_(0), NET_IP4_DIG64_(64),
                                     NET_IP4_DIG64_(128), NET_IP4_DIG64_(192)};
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        __builtin_memcpy(o + n, dig[a[i]], 4);
        n += (size_t)dig[a[i]][4];
    }
    return n - 1;
}

/* Formats an address as text (inet_ntop); returns buf. */
const char *net_addr_str(const struct net_addr *a, char *buf, size_t size);
/* Formats an address the way Suricata's eve does: IPv6 fully expanded
 * ("2001:0db8:0000:...:7334"), IPv4 dotted. Returns buf (at least 40 bytes). */
const char *net_addr_eve(const struct net_addr *a, char *buf, size_t size);
/* "TCP", "UDP", "ICMP", "IPv6-ICMP", "GRE", ... or the number as text in buf. */
const char *net_proto_name(uint8_t proto, char *buf, size_t size);
/* "none", "syn_sent", ... "closed" (eve tcp.state). */
const char *net_tcp_state_name(uint8_t state);
/* "new", "established", "closed" (eve flow.state). */
const char *net_flow_state_name(uint8_t state);
/* "timeout", "forced", "shutdown" (eve flow.reason). */
const char *net_flow_end_name(uint8_t end);

/* ---- decoding (decode.c, defrag.c) ---- */

/* pcap link types (DLT_* values as pcap_datalink() returns them) the decoder accepts. */
#define NET_LINK_NULL 0
#define NET_LINK_ETHERNET 1
#define NET_LINK_RAW 12        /* DLT_RAW on Linux (also 14 and LINKTYPE_RAW 101) */
#define NET_LINK_LOOP 108
#define NET_LINK_SLL 113
#define NET_LINK_IPV4 228
#define NET_LINK_IPV6 229
#define NET_LINK_SLL2 276

#define NET_LAYERS_MAX BN_NET_LAYERS_MAX /* IP layers decoded from one frame (outer + tunnels) */

struct net_defrag;

/* One capture's decoder: link type, fragment reassembly and counters. */
struct net_decoder {
    int linktype;
    struct net_defrag *defrag;
    struct net_decode_stats st;
};

/* Returns true if net_decode understands the link type. */
bool net_link_supported(int linktype);
/* Initialises d for linktype with its own fragment reassembler. 0, BN_EUNSUP, BN_ENOMEM. */
int net_decoder_init(struct net_decoder *d, int linktype);
void net_decoder_release(struct net_decoder *d);

/*
 * Decodes one captured frame (borrowed) into up to NET_LAYERS_MAX packets, outermost IP layer
 * first (a GRE or VXLAN frame gives the outer packet and the tunnelled one). Packets borrow
 * the frame or the reassembler's buffer until the next call. A frame that gives no packet is
 * counted in d->st under its reason. Returns the number of packets (0..NET_LAYERS_MAX).
 */
size_t net_decode(struct net_decoder *d, const uint8_t *frame, uint32_t caplen,
                  uint32_t wirelen, uint64_t ts_ns, uint64_t pcap_cnt,
                  struct net_pkt out[NET_LAYERS_MAX]);

/* One IP fragment handed to the reassembler (addresses borrowed). */
struct net_frag {
    uint8_t fam;              /* 4 or 6 */
    const uint8_t *src;
    const uint8_t *dst;
    uint32_t id;              /* IPv4: 16 bits; IPv6: the fragment header's 32 bits */
    uint8_t proto;            /* transport protocol (IPv6: next header after the fragment) */
    uint8_t ttl;
    uint32_t off;             /* byte offset of data in the datagram's payload */
    bool more;                /* more fragments follow */
    const uint8_t *data;
    uint32_t len;
};

#define NET_DEFRAG_DATAGRAMS BN_NET_DEFRAG_DATAGRAMS /* datagrams reassembled at once */
#define NET_DEFRAG_TIMEOUT_NS (60ull * 1000000000ull) /* Suricata's default */

/* Returns a reassembler holding at most max datagrams, or NULL. */
struct net_defrag *net_defrag_new(size_t max, uint64_t timeout_ns);
void net_defrag_free(struct net_defrag *df);
/*
 * Adds a fragment. Returns 1 when it completes its datagram: *out is a rebuilt IP packet
 * (minimal header, no options or extension headers, then the whole payload) borrowed until
 * the next call; 0 when the fragment is held; BN_EINVAL or BN_EFULL when it is dropped.
 * Counts in st: frag_overlap, frag_timeout, frag_reassembled.
 */
int net_defrag_add(struct net_defrag *df, const struct net_frag *fr, uint64_t ts_ns,
                   struct net_decode_stats *st, const uint8_t **out, uint32_t *out_len);

/* Adds the counters of a to total. */
void net_decode_stats_add(struct net_decode_stats *total, const struct net_decode_stats *a);

/* ---- flows (flow.c) ---- */

/* Flow table settings. Timeouts are Suricata's defaults (flow-timeouts in suricata.yaml). */
struct net_flow_cfg {
    size_t max_flows;            /* bound: when full the least recently seen flow is evicted */
    uint64_t tcp_new_ns;
    uint64_t tcp_est_ns;
    uint64_t tcp_closed_ns;
    uint64_t udp_new_ns;         /* UDP, ICMP and other protocols */
    uint64_t udp_est_ns;
    uint16_t cid_seed;           /* Community ID seed (Suricata community-id-seed) */
    bool midstream;              /* TCP picked up without a SYN counts as established
                                  * (Suricata stream.midstream: true) */
};

#define NET_FLOWS_DEFAULT 65536
#define NET_FLOWS_MAX BN_NET_FLOWS_MAX

/* Fills c with the defaults. */
void net_flow_cfg_default(struct net_flow_cfg *c);

struct net_flow_stats {
    uint64_t packets;            /* packets given to the table */
    uint64_t no_flow;            /* packets that belong to no flow (ARP) */
    uint64_t created;
    uint64_t ended_timeout;
    uint64_t ended_forced;       /* evicted to respect max_flows */
    uint64_t ended_shutdown;
    uint64_t active;
    uint64_t active_max;
    uint64_t tcp_midstream;      /* TCP flows whose first packet was not a SYN */
    uint64_t tcp_reversed;       /* TCP flows whose first packet was the SYN-ACK */
    uint64_t tcp_reused;         /* closed TCP flows ended by a new SYN on their tuple */
    uint64_t zeek_splits;        /* Zeek connections ended inside a flow (flow.c) */
};

struct net_flowtab;

/* Called for each flow as it ends (f->end set), before its slot is reused. */
typedef void (*net_flow_end_cb)(void *ctx, struct net_flow *f);

/* Returns a table (cfg borrowed, NULL = defaults) calling end for each ending flow, or NULL. */
struct net_flowtab *net_flowtab_new(const struct net_flow_cfg *cfg, net_flow_end_cb end,
                                    void *ctx);
/* Frees the table without ending its flows (call net_flow_flush first). */
void net_flowtab_free(struct net_flowtab *t);
/*
 * Finds or creates the flow of pkt (borrowed), updates its counters and TCP state and sets
 * *dir. May end (evict) the oldest flow first. Returns the flow (valid until the next call
 * that can end flows), or NULL for packets that make no flow (ARP).
 */
struct net_flow *net_flow_packet(struct net_flowtab *t, const struct net_pkt *pkt,
                                 enum net_dir *dir);
/* Ends the flows idle past their timeout at now_ns (capture time). */
void net_flow_expire(struct net_flowtab *t, uint64_t now_ns);
/* Ends every flow with reason end (NET_END_SHUTDOWN at the end of a capture). */
void net_flow_flush(struct net_flowtab *t, uint8_t end);
void net_flowtab_stats(const struct net_flowtab *t, struct net_flow_stats *st);
/* Turns a flow around: the server becomes the client (counters, flags and history follow).
 * For flows whose first packet was a reply (the application layer can tell). */
void net_flow_swap(struct net_flow *f);

/* ---- TCP reassembly (stream.c) ---- */

#define NET_STREAM_SEGS_MAX BN_NET_STREAM_SEGS_MAX /* out-of-order segments per direction */
#define NET_STREAM_OOO_MAX BN_NET_STREAM_OOO_MAX /* out-of-order bytes per direction */

struct net_stream_seg {
    uint32_t seq;
    uint32_t len;
    uint8_t *data;                       /* owned */
};

/* One direction of a TCP connection. What every packet touches comes first (one cache line
 * from the start of the struct); the out-of-order segments and the counters after. */
struct net_stream {
    uint32_t next;                       /* next sequence number expected */
    uint32_t ooo_bytes;
    uint32_t hold_len;
    uint32_t hold_cap;
    uint8_t init;                        /* next is known */
    uint8_t nseg;
    /* acknowledgement-driven delivery (Suricata's IDS mode): in-order bytes are held
     * (copied) until the other side acknowledges them, net_stream_ack() hands them on */
    uint8_t ack_mode;
    uint8_t skip_ok;                     /* skip_end is set (net_stream_skip_hint) */
    /* Bytes the consumer said it will not read (an encrypted TLS record's body, an HTTP
     * body) are held as a count, not copied: hold_virt of them at the head of the hold,
     * handed on through out->skip. fed + hold_virt + hold_len == next between calls. */
    uint32_t hold_virt;
    uint32_t skip_end;                   /* the consumer skips the bytes before this seq */
    uint32_t fed;                        /* sequence number of the next byte handed on */
    /* 32-bit counters saturating at UINT32_MAX (a stream state per TCP flow: kept small) */
    uint32_t delivered;                  /* bytes handed on in order (skipped ones too) */
    uint32_t gap_bytes;                  /* bytes given up on */
    uint8_t *hold;                       /* owned */
    struct net_stream_mem *mem;          /* shared memory budget (NULL = none), borrowed */
    uint64_t ooo_dropped;                /* segments that could not be kept (bound) */
    uint64_t hold_forced;                /* bytes handed on unacknowledged: hold full */
    /* NET_STREAM_SEGS_MAX slots, allocated at the first segment ahead of the stream (owned;
     * inline they were 512 of the 712 bytes of every TCP flow's stream state) */
    struct net_stream_seg *seg;
};

#define NET_STREAM_HOLD_CLASSES 4

/* A memory budget shared by all streams of one pipeline: held and out-of-order bytes count
 * against it; past it, bytes are handed on at once and segments ahead are not kept. */
struct net_stream_mem {
    uint64_t used;
    uint64_t cap;
    uint64_t refused;                    /* times the budget said no */
    /* spare hold buffers by size class, 512 B to 4 KiB (lists through their headers, see
     * stream.c), not counted in used */
    uint8_t *cache[NET_STREAM_HOLD_CLASSES];
    uint32_t ncache;                     /* buffers in all of them */
};

/* Frees the spare hold buffers (call once no stream uses m). */
void net_stream_mem_release(struct net_stream_mem *m);

#define NET_STREAM_MEMCAP BN_NET_STREAM_MEMCAP /* default budget per pipeline */

#define NET_STREAM_HOLD_MAX BN_NET_STREAM_HOLD_MAX /* unacknowledged bytes per direction */

/* Where in-order bytes and holes go. */
struct net_stream_out {
    void (*data)(void *ctx, const uint8_t *d, size_t n);
    void (*gap)(void *ctx, size_t n);
    void *ctx;
    /* n in-order bytes inside a range the consumer declared it skips (net_stream_skip_hint),
     * handed on without their content; NULL: never skip, every byte goes to data */
    void (*skip)(void *ctx, size_t n);
};

void net_stream_init(struct net_stream *s);
/* Frees the buffered segments. */
void net_stream_release(struct net_stream *s);
/* A SYN with sequence number seq: data starts at seq + 1. */
void net_stream_syn(struct net_stream *s, uint32_t seq);
/*
 * Adds a segment (d borrowed). In-order bytes go straight to out->data without a copy, then
 * any buffered segments they make contiguous; a segment ahead of the stream is copied and
 * kept while the bounds allow; when they do not, the hole before the earliest kept byte is
 * given up (out->gap) and the stream goes on from there. Retransmitted bytes are trimmed.
 */
void net_stream_add(struct net_stream *s, uint32_t seq, const uint8_t *d, uint32_t n,
                    const struct net_stream_out *out);
/* End of the connection: hands on everything buffered, reporting the holes as gaps. */
void net_stream_flush(struct net_stream *s, const struct net_stream_out *out);
/* ack_mode: the other side acknowledged up to ack; held bytes before it are handed on. */
void net_stream_ack(struct net_stream *s, uint32_t ack, const struct net_stream_out *out);
/*
 * The consumer (called from out->data or out->skip, or after it) will not read the next n
 * bytes after those handed on so far: ack_mode keeps them as a count instead of a copy and
 * hands them on through out->skip, at the same acknowledgement as their bytes would have
 * gone. n = 0 withdraws the hint. A gap ends it.
 */
void net_stream_skip_hint(struct net_stream *s, uint64_t n);

/* ---- record writers ---- */

/* eve.c: writes out the eve lines batched offline (pipeline.h's net_eve_write); the pipeline
 * calls it where it flushes its output FILEs. */
struct net_eve;
void net_eve_flush(struct net_eve *e);

/*
 * bn_buf_append and bn_buf_putc with their usual case inline (the buffer already has room:
 * bn_buf_reserve keeps cap <= max + 1, so room means within max too). The eve writers
 * append a few bytes at a time, and the calls were a tenth of their cost.
 */
static inline int
net_buf_add(struct bn_buf *b, const void *d, size_t n)
{
    if (n < b->cap - b->len) {
        __builtin_memcpy(b->p + b->len, d, n);
        b->len += n;
        b->p[b->len] = '\0';
        return 0;
    }
    return bn_buf_append(b, d, n);
}

static inline int
net_buf_putc(struct bn_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return 0;
    }
    return bn_buf_putc(b, c);
}

/* ---- capture (capture.c, libpcap) ---- */

#define NET_SNAPLEN 262144
#define NET_CAPTURE_BUFFER (64u << 20)   /* kernel ring for live capture */

struct net_capture;

/* Opens a pcap or pcapng file (nanosecond timestamps). err gets a sentence on failure.
 * Returns 0, BN_EIO or BN_EUNSUP (a link type the decoder does not know). */
int net_capture_open_file(struct net_capture **out, const char *path, char *err,
                          size_t errsz);
/* Opens an interface for live capture (promiscuous, 100 ms read timeout). */
int net_capture_open_live(struct net_capture **out, const char *iface, char *err,
                          size_t errsz);
/* Applies a BPF filter (tcpdump syntax), before the first frame. 0 or BN_EINVAL with the
 * compiler's message. */
int net_capture_filter(struct net_capture *c, const char *filter, char *err, size_t errsz);
int net_capture_linktype(const struct net_capture *c);
/*
 * Reads the next frame (borrowed until the next call). Returns 1 with a frame, 0 when a
 * live read timed out, BN_EOF at the end of a file or after net_capture_break, BN_EIO.
 */
int net_capture_next(struct net_capture *c, const uint8_t **data, uint32_t *caplen,
                     uint32_t *wirelen, uint64_t *ts_ns);
/*
 * Look-ahead: when a file is read by capture.c's own reader, each net_capture_next in this
 * thread shows fn the frames up to distance records past the one it returns that are
 * already in its buffer (seq: the frame's 1-based number in the file; the frame is borrowed
 * for the call only). The pipeline uses it to prefetch flow state a few frames early. One
 * hook per thread; fn NULL removes it.
 */
typedef void (*net_capture_ahead_fn)(void *ctx, uint64_t seq, const uint8_t *frame,
                                     uint32_t caplen);
void net_capture_set_ahead(net_capture_ahead_fn fn, void *ctx, unsigned distance);
/* The ctx of this thread's hook (NULL: none). */
void *net_capture_ahead_ctx(void);
/* Makes a blocked or later net_capture_next return BN_EOF (async-signal-safe). */
void net_capture_break(struct net_capture *c);
/* Kernel counters of a live capture: received, dropped by the kernel (ring full), dropped
 * by the interface. Files: zeros. */
void net_capture_kstats(struct net_capture *c, uint64_t *recv, uint64_t *drop,
                        uint64_t *ifdrop);
void net_capture_close(struct net_capture *c);

#endif
