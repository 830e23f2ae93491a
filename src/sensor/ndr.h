/*
 * ndr.h - the sensor's built-in network detections (NDR): port scans, host sweeps, SSH/RDP
 * brute force, beaconing, DNS tunnelling and DGA-like names, internal lateral fan-out, large
 * outbound transfers and IOC matches.
 *
 * Place in the pipeline (see sensor.h): the capture thread hands every decoded packet to
 * ndr_packet() (SYNs, SYN-ACKs, RSTs, ICMP echo, ARP: scans and sweeps are seen before their
 * flows end), every record the pipeline emits to ndr_record() (flows at their end, DNS, TLS,
 * SSH and HTTP records) and calls ndr_tick() with the capture clock (windows close, beacons
 * are scored). Time comes only from packet timestamps, so an offline pcap behaves like live
 * traffic. Alerts go out through the sink as NET_REC_ALERT records whose body is a
 * struct net_alert.
 *
 * State is bounded: every table has a maximum number of entries; when full the least recently
 * used entry is evicted and counted (struct ndr_stats). One detector instance is used by one
 * thread.
 *
 * Files: ndr.c (config, lifecycle, alert emission and de-duplication, eve rendering),
 * ndr_table.c (bounded LRU hash tables), ndr_scan.c, ndr_sweep.c, ndr_brute.c,
 * ndr_beacon.c, ndr_dnstun.c, ndr_lateral.c, ndr_exfil.c, ndr_ioc.c.
 */
#ifndef BANNIN_SENSOR_NDR_H
#define BANNIN_SENSOR_NDR_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/common.h"
#include "bannin/config.h"

#include "sensor/sensor.h"

/* Signature ids of the built-in detections (eve alert.signature_id), gid 1, rev 1. */
enum ndr_sig {
    NDR_SIG_SCAN_VERTICAL = 0, /* one source, one target, many ports */
    NDR_SIG_SCAN_HORIZONTAL,   /* one source, one port, many targets */
    NDR_SIG_SWEEP_ICMP,        /* ICMP echo to many hosts */
    NDR_SIG_SWEEP_ARP,         /* ARP who-has for many addresses */
    NDR_SIG_BRUTE_SSH,         /* many short SSH connections to one server */
    NDR_SIG_BRUTE_RDP,         /* many short RDP connections to one server */
    NDR_SIG_BEACON,            /* periodic connections with small jitter */
    NDR_SIG_DNS_TUNNEL,        /* long, high-entropy, numerous queries under one domain */
    NDR_SIG_DNS_DGA,           /* many random-looking domains, mostly NXDOMAIN */
    NDR_SIG_LATERAL,           /* new internal fan-out over SMB, RDP, SSH, WinRM */
    NDR_SIG_EXFIL,             /* unusually large outbound transfer */
    NDR_SIG_IOC_IP,            /* connection to or from an IP on an IOC list */
    NDR_SIG_IOC_DOMAIN,        /* DNS query or HTTP host on an IOC list */
    NDR_SIG_IOC_SNI,           /* TLS server name on an IOC list */
    NDR_SIG_IOC_JA3,           /* TLS client fingerprint (JA3/JA3S) on an IOC list */
    NDR_SIG_IOC_JA4,           /* TLS client fingerprint (JA4) on an IOC list */
    NDR_SIG__COUNT,
};

#define NDR_SID_BASE 9100001u /* eve signature_id = NDR_SID_BASE + enum ndr_sig */

/* Static description of one signature. */
struct ndr_sig_info {
    uint32_t sid;
    const char *name;     /* "BANNIN NDR vertical port scan" */
    const char *category; /* "Attempted Information Leak", ... (Suricata classtypes) */
    uint8_t severity;     /* default severity, 1 (high) .. 4 (informational) */
    const char *mitre;    /* ATT&CK technique id, "T1046" */
    const char *key;      /* short config/stats key, "scan_vertical" */
};

/* Returns the static description of sig (NULL when out of range). */
const struct ndr_sig_info *ndr_sig_info(enum ndr_sig sig);

#define NDR_DETAIL_MAX 256

/*
 * One alert, emitted as the body of a NET_REC_ALERT record. Strings are static or point into
 * the alert itself; the record is valid only during emit().
 */
struct net_alert {
    uint32_t signature_id;
    const char *signature; /* name */
    const char *category;
    uint8_t severity;    /* 1 (high) .. 4 (informational), as Suricata orders them */
    const char *mitre;   /* ATT&CK technique id */
    uint8_t sig;         /* enum ndr_sig (built-in detections) */
    uint8_t has_dst;     /* dst is meaningful (a scan of one host, a beacon, ...) */
    uint8_t has_ports;   /* sport/dport are meaningful */
    uint8_t proto;       /* IPPROTO_* or 0 */
    struct net_addr src; /* the actor: scanner, client, querier */
    struct net_addr dst;
    uint16_t sport;
    uint16_t dport;
    uint64_t first_ns; /* evidence window */
    uint64_t last_ns;
    uint32_t count;              /* triggers folded into this alert by de-duplication (>= 1) */
    double score;                /* 0..100: how strongly the evidence matches */
    char detail[NDR_DETAIL_MAX]; /* evidence: counts, ports, periods */
};

/*
 * Renders the eve "alert" member, key included: "alert":{"action":"allowed","gid":1,
 * "signature_id":...,"rev":1,"signature":"...","category":"...","severity":N,
 * "metadata":{"mitre_technique_id":["T1046"],...},"score":..,"count":..,"detail":"..."}.
 * Appends to b; 0 or BN_ETOOBIG.
 */
int net_alert_eve(const struct net_alert *a, struct bn_buf *b);

/*
 * Every threshold and window. Durations are milliseconds (config type DURATION), ratios are
 * percent. ndr_config_init() fills the defaults; the sensor's YAML config sets them under
 * "ndr." (see ndr_conf_defs and docs/SENSOR.md "Network detections").
 */
struct ndr_config {
    /* general */
    char *internal;      /* CIDR list of internal networks (RFC 1918 + ULA) */
    char *ignore_src;    /* CIDR list of sources never alerted on (scanners, monitors) */
    char *ignore_dst;    /* CIDR list of destinations never alerted on (IOC matches excepted) */
    int64_t dedup_ms;    /* one alert per source+signature per this window */
    int64_t max_sources; /* entries per per-source table */
    /* scans (TCP SYN probes, per packet) */
    bool scan_enabled;
    int64_t scan_window_ms;
    int64_t scan_vertical_ports;   /* distinct ports on one target */
    int64_t scan_horizontal_hosts; /* distinct targets on one port */
    int64_t scan_fail_pct;         /* of the probes unanswered or refused */
    int64_t scan_probes_max;       /* probe entries (src, dst, port) kept */
    /* sweeps */
    bool sweep_enabled;
    int64_t sweep_window_ms;
    int64_t sweep_icmp_hosts; /* distinct hosts sent an echo request */
    int64_t sweep_arp_hosts;  /* distinct addresses asked for */
    /* brute force */
    bool brute_enabled;
    int64_t brute_window_ms;
    int64_t brute_attempts;   /* short connections from one client to one server */
    int64_t brute_short_ms;   /* a connection shorter than this counts */
    uint64_t brute_max_bytes; /* ... and carrying fewer bytes server->client than this */
    /* beaconing */
    bool beacon_enabled;
    int64_t beacon_min_conns;     /* connections needed before scoring */
    int64_t beacon_min_period_ms; /* shorter median intervals are not beacons */
    int64_t beacon_max_period_ms;
    int64_t beacon_min_span_ms; /* first to last connection */
    int64_t beacon_score;       /* alert at or above this score (0..100) */
    int64_t beacon_pairs_max;   /* (client, server, port) pairs tracked */
    bool beacon_external_only;  /* only servers outside the internal networks */
    char *beacon_ignore_ports;  /* comma-separated server ports never scored (NTP, ...) */
    /* DNS tunnelling and DGA */
    bool dns_enabled;
    int64_t dns_window_ms;
    int64_t dns_tunnel_names;     /* distinct names under one domain in the window */
    int64_t dns_tunnel_label_len; /* mean length of the subdomain part */
    int64_t dns_tunnel_txt;       /* TXT/NULL queries under one domain in the window */
    int64_t dns_dga_names;        /* distinct DGA-like domains from one client */
    int64_t dns_domains_max;      /* (client, domain) entries tracked */
    /* lateral fan-out */
    bool lateral_enabled;
    int64_t lateral_window_ms;
    int64_t lateral_hosts;     /* distinct new internal servers on lateral ports */
    char *lateral_ports;       /* comma-separated ports: SMB, RDP, SSH, WinRM, RPC */
    int64_t lateral_known_max; /* (client, server) pairs remembered as known */
    int64_t lateral_learn_ms;  /* from the first packet: learn pairs, never alert */
    /* large outbound */
    bool exfil_enabled;
    int64_t exfil_window_ms;
    uint64_t exfil_bytes; /* client->server bytes to one external server */
    int64_t exfil_ratio;  /* ... and at least this many times the bytes received */
    /* IOC lists */
    bool ioc_enabled;
};

/* The configuration table (keys "ndr.*", offsets into struct ndr_config). */
extern const struct bn_conf_def ndr_conf_defs[];
extern const size_t ndr_conf_ndefs;

/*
 * Copies ndr_conf_defs into out (at most max entries) with every offset shifted by base, so
 * a component embedding a struct ndr_config at offsetof(struct x, ndr) can merge the keys
 * into its own table. Returns the number of entries copied.
 */
size_t ndr_conf_defs_at(struct bn_conf_def *out, size_t max, size_t base);

/*
 * Loads a YAML file of ndr.* keys over c (filled by ndr_config_init) and checks the lists.
 * 0, or an error with d (file:line for YAML errors, the key for a bad list). For a file that
 * also holds other components' keys, merge the table instead (ndr_conf_defs_at).
 */
struct bn_diag;
int ndr_config_load(struct ndr_config *c, const char *path, struct bn_diag *d);

/* Fills c with the defaults. 0 or BN_ENOMEM. Release with ndr_config_release. */
int ndr_config_init(struct ndr_config *c);
/* Frees the strings c owns. */
void ndr_config_release(struct ndr_config *c);

/* Counters (a snapshot; see ndr_stats). */
struct ndr_stats {
    uint64_t packets;
    uint64_t records;
    uint64_t entries;                    /* live state entries over all tables */
    uint64_t evictions;                  /* entries evicted to respect a table bound */
    uint64_t alerts[NDR_SIG__COUNT];     /* alerts emitted, by signature */
    uint64_t suppressed[NDR_SIG__COUNT]; /* triggers folded into an earlier alert */
    uint64_t ignored[NDR_SIG__COUNT];    /* triggers not raised: destination in ignore_dst */
    uint64_t nomem;                      /* state not created for lack of memory */
    uint64_t ioc_lookups;
};

struct ndr;

/*
 * Returns a new detector with a copy of cfg (borrowed; NULL = defaults), or NULL when
 * memory runs out or cfg is invalid (a bad CIDR list: see ndr_check_config).
 */
struct ndr *ndr_new(const struct ndr_config *cfg);
/* Checks cfg (CIDR lists, port lists); 0 or BN_EINVAL with a sentence in err. */
int ndr_check_config(const struct ndr_config *cfg, char *err, size_t err_size);
/* Frees d; NULL is a no-op. */
void ndr_free(struct ndr *d);

/* Per packet: SYN probes and answers, ICMP echo, ARP. pkt is borrowed. */
void ndr_packet(struct ndr *d, const struct net_pkt *pkt, struct net_sink *sink);
/* The same, given the packet's flow as the flow table holds it before this packet (NULL:
 * none yet): per-connection facts are then kept on the flow instead of in a cache. */
void ndr_packet_flow(struct ndr *d, const struct net_pkt *pkt, struct net_flow *f,
                     struct net_sink *sink);
/* Per record: flows at their end, DNS, TLS, SSH and HTTP records. rec is borrowed. */
void ndr_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink);
/* Advances the clock to now_ns (capture time): windows close, beacons are scored. */
void ndr_tick(struct ndr *d, uint64_t now_ns, struct net_sink *sink);
/* End of capture: runs the time-driven work at the last packet's time. */
void ndr_flush(struct ndr *d, struct net_sink *sink);
/* Copies the counters into st. */
void ndr_stats(const struct ndr *d, struct ndr_stats *st);
/*
 * Appends the counters as one JSON object: packets, records, entries, evictions, nomem,
 * ioc_lookups, and "alerts" / "suppressed" / "ignored" objects keyed by detection
 * ("scan_vertical", ...).
 * 0 or BN_ETOOBIG.
 */
int ndr_stats_json(const struct ndr_stats *st, struct bn_buf *b);

/*
 * IOC matching uses the manager's lists (include/bannin/ioc.h); the detector borrows the set
 * and the caller keeps it alive and unchanged while the detector runs. NULL detaches.
 */
struct bn_ioc_set;
void ndr_set_ioc(struct ndr *d, const struct bn_ioc_set *iocs);

#endif
