/*
 * pipeline.h - one capture's packet path: decode -> flows -> TCP reassembly / datagrams ->
 * application parsers -> records, fanned out to the eve writer, the Zeek-named writer, the
 * Sigma engine (over Zeek-named records) and the built-in detections (ndr.h).
 *
 * One pipeline per capture thread; nothing in it is shared. bannin-sensor (main.c) and
 * `bannin pcap` (src/cli/pcap.c) drive it with frames from capture.c.
 */
#ifndef BANNIN_SENSOR_PIPELINE_H
#define BANNIN_SENSOR_PIPELINE_H

#include <stdio.h>

#include "bannin/buf.h"
#include "bannin/common.h"
#include "bannin/engine.h"
#include "bannin/mapping.h"

#include "sensor/sensor.h"

/* ---- eve NDJSON (eve.c) ---- */

#define NET_EVE_LINE_MAX BN_NET_EVE_LINE_MAX /* bytes of one eve line */

struct net_eve {
    FILE *fp;                  /* borrowed */
    const char *iface;         /* "in_iface" (borrowed), NULL offline */
    struct bn_buf b;
    uint64_t lines;
    uint64_t errors;           /* lines not written: rendering failed or too long, write error */
};

void net_eve_init(struct net_eve *e, FILE *fp, const char *iface);
void net_eve_release(struct net_eve *e);
/* Renders one record as an eve object into b (appends, no newline). 0 or a bn_buf error. */
int net_eve_render(const struct net_eve *e, const struct net_record *r, struct bn_buf *b);
/* Renders and writes one line. */
void net_eve_write(struct net_eve *e, const struct net_record *r);
/* eve timestamp "2016-01-15T11:19:56.456432+0000" (UTC) into buf (at least 32 bytes). */
const char *net_eve_time(uint64_t ns, char *buf, size_t size);
/* flow.c: the flow a packet belongs to now, or NULL, changing nothing (a hint for
 * prefetching; net_flow_packet on the same packet reuses its hash). The declaration lives
 * here rather than in sensor.h, next to its one caller. */
struct net_flow *net_flow_peek(struct net_flowtab *t, const struct net_pkt *p);
/*
 * flow.c, looking ahead at frames not processed yet (prefetch hints, nothing changes): the
 * flow-table hash of a plain frame (Ethernet, VLAN tags, unfragmented IPv4 or IPv6 with TCP
 * or UDP right after the header; *ok false otherwise), a prefetch of its index slot, and,
 * once that slot is loaded, a prefetch of the entry it names (returned: a guess by hash).
 */
/* The key fields a frame's hash was computed from (net_flow_frame_hash). */
struct net_flow_fkey {
    struct net_addr src, dst;
    uint16_t sport, dport;
    uint16_t vlan[2];
    uint8_t proto, ip_v;
};
uint32_t net_flow_frame_hash(const struct net_flowtab *t, const uint8_t *frame, uint32_t caplen,
                             bool *ok, struct net_flow_fkey *key);
/*
 * p was decoded from a frame net_flow_frame_hash gave h and key for: if p's key is that key
 * (checked field by field: the look-ahead's parse is not the decoder's), net_flow_peek and
 * net_flow_packet on p take h instead of hashing again.
 */
void net_flow_hash_hint(struct net_flowtab *t, const struct net_pkt *p,
                        const struct net_flow_fkey *key, uint32_t h);
void net_flow_prefetch_slot(const struct net_flowtab *t, uint32_t hash);
struct net_flow *net_flow_prefetch_entry(const struct net_flowtab *t, uint32_t hash);

/* ---- Zeek conn.log for flows (conn.c) ---- */

/*
 * Appends one flat JSON object with Zeek conn.log names: _path "conn", ts, uid (community
 * id), id.orig_h, id.orig_p, id.resp_h, id.resp_p, proto, service, duration, orig_bytes,
 * resp_bytes, conn_state, missed_bytes, history, orig_pkts, orig_ip_bytes, resp_pkts,
 * resp_ip_bytes, community_id, vlan. 0 or a bn_buf error.
 */
int net_conn_zeek(const struct net_flow *f, struct bn_buf *out);
/* Zeek's conn_state for a flow ("S0", "SF", "REJ", ...). */
const char *net_conn_state(const struct net_flow *f);

/* ---- the pipeline (pipeline.c) ---- */

struct ndr_config;
struct bn_ioc_set;

struct net_pipeline_cfg {
    struct net_flow_cfg flow;
    FILE *eve;                          /* eve NDJSON out, NULL = none (borrowed) */
    FILE *zeek;                         /* Zeek-named NDJSON out, NULL = none (borrowed) */
    const char *iface;                  /* live interface name for eve in_iface */
    const struct bn_ruleset *rules;     /* Sigma rules over Zeek-named records (borrowed) */
    const struct bn_mapping *mapping;   /* needed with rules (borrowed) */
    bool no_app;                        /* skip application parsing */
    bool ndr;                           /* run the built-in detections */
    const struct ndr_config *ndr_cfg;   /* detection settings (borrowed; NULL = defaults) */
    const struct bn_ioc_set *iocs;      /* IOC lists for the detections (borrowed; NULL =
                                         * none) */
    uint64_t stream_memcap;             /* held + out-of-order TCP bytes, all flows (0 =
                                         * NET_STREAM_MEMCAP) */
    bool ips;                           /* TCP bytes go to the parsers as they arrive (Suricata
                                         * IPS mode); default: once the other side has
                                         * acknowledged them (IDS mode) */
};

struct net_pipeline_stats {
    struct net_decode_stats dec;
    struct net_flow_stats flow;
    uint64_t records[NET_REC__COUNT];   /* records emitted, by type */
    uint64_t alerts_sigma;
    uint64_t alerts_ndr;
    uint64_t sigma_errors;              /* records the engine could not take */
    uint64_t eve_lines;
    uint64_t eve_errors;
    uint64_t zeek_lines;
    uint64_t zeek_errors;
    uint64_t stream_gaps;               /* holes given up on in TCP streams */
    uint64_t stream_gap_bytes;
    uint64_t stream_alloc_failed;       /* TCP flows not reassembled: out of memory */
    uint64_t stream_hold_forced;        /* bytes parsed before their acknowledgement (the
                                         * per-direction hold was full) */
    uint64_t stream_skipped;            /* bytes handed on unread and uncopied: the parser
                                         * ignores them (TLS record bodies, HTTP bodies) */
    uint64_t stream_skip_lost;          /* of those, bytes the parser wanted after all (the
                                         * other direction switched its state): a gap */
    uint64_t app_flows[NET_APP__COUNT]; /* flows by identified protocol */
    uint64_t flows_reversed;            /* flows turned around: first payload was a reply */
    uint64_t probe_bytes_dropped;       /* payload seen before identification, beyond
                                         * NET_PROBE_MAX, not given to a parser */
    uint64_t first_ns;
    uint64_t last_ns;
};

struct net_pipeline;

/* Returns 0 and a pipeline for frames of linktype (cfg borrowed for its lifetime). The
 * pipeline becomes its thread's capture look-ahead hook (net_capture_set_ahead; removed by
 * net_pipeline_free): create it in the thread that reads the capture, the newest pipeline of
 * a thread gets the look-ahead. */
int net_pipeline_new(struct net_pipeline **out, const struct net_pipeline_cfg *cfg,
                     int linktype);
/* Ends remaining flows (net_pipeline_finish) is NOT done here: call it first. */
void net_pipeline_free(struct net_pipeline *p);
/* One captured frame (borrowed). */
void net_pipeline_frame(struct net_pipeline *p, const uint8_t *frame, uint32_t caplen,
                        uint32_t wirelen, uint64_t ts_ns);
/* Advances the capture clock without a packet (live capture idle): flows time out. */
void net_pipeline_tick(struct net_pipeline *p, uint64_t now_ns);
/* End of capture: every flow ends with reason shutdown, detections flush. */
void net_pipeline_finish(struct net_pipeline *p);
void net_pipeline_stats(const struct net_pipeline *p, struct net_pipeline_stats *st);
/* Appends the statistics as one JSON object. */
int net_pipeline_stats_json(const struct net_pipeline *p, struct bn_buf *out);
/* Flushes the eve and Zeek outputs. */
void net_pipeline_flush_out(struct net_pipeline *p);

/* Sigma rules for the pipeline: compiled rule set plus the shipped mappings. */
struct net_rules {
    struct bn_ruleset *rs;
    struct bn_mapping *map;
    size_t loaded;          /* rules compiled */
    size_t failed;          /* rules that did not parse or compile (each logged) */
};

/* Loads every rule under paths and the default mappings. 0 or an error with d. */
int net_rules_load(struct net_rules *r, const char *const *paths, size_t n,
                   struct bn_diag *d);
void net_rules_release(struct net_rules *r);

/* Summary lines for people (bannin pcap, bannin-sensor on exit / SIGUSR1). */
void net_pipeline_summary(const struct net_pipeline_stats *s, double seconds, FILE *out);
/* Adds the counters of a to total (several files or threads). */
void net_pipeline_stats_add(struct net_pipeline_stats *total,
                            const struct net_pipeline_stats *a);

/*
 * What a program run gives the network detections: an ndr.* YAML file and IOC lists (CSV or
 * STIX 2.1). Loaded once, borrowed by every pipeline (cfg.ndr_cfg, cfg.iocs), released at
 * exit. Skipped IOC lines are counted and reported on stderr with the first one's place.
 */
struct net_detect_setup {
    struct ndr_config *cfg;             /* NULL = defaults */
    struct bn_ioc_set *iocs;            /* NULL = none */
    uint64_t iocs_added;
    uint64_t iocs_skipped;
};

/* 0, or an error with msg ("FILE:LINE:COL: why"). prog prefixes the skip report. */
int net_detect_setup_load(struct net_detect_setup *s, const char *prog, const char *ndr_config,
                          const char *const *ioc_paths, size_t nioc, char *msg, size_t msglen);
void net_detect_setup_release(struct net_detect_setup *s);

#endif
