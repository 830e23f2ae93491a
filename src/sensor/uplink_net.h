/*
 * uplink_net.h - the network sensor's link to the manager (docs/SENSOR.md, "Sending to the
 * manager"): every eve record the pipeline writes goes, one record per line, into a durable
 * spool and from there through the same uplink as the agent's events (bannin_link:
 * src/agent/spool.c, uplink.c). The sensor refuses response actions.
 *
 * The pipeline writes eve NDJSON to a FILE; net_link_file() is such a FILE (fopencookie):
 * each complete line it receives is appended to the spool, and copied to the eve NDJSON
 * file given as tee (so --eve keeps working beside the link). Spool priorities, lowest shed
 * first when the spool bound is reached: flow records bulk, protocol records (dns, http,
 * tls, ssh, ...) normal, stats high, alerts critical. Every record that is not spooled is
 * counted (net_link_counters), as are the records the spool shed.
 *
 * Threads: the FILE, net_link_stats_record() and net_link_set_health() belong to the capture
 * thread; the uplink thread reads the spool under the link's mutex and the health snapshot
 * under its own.
 */
#ifndef BANNIN_SENSOR_UPLINK_NET_H
#define BANNIN_SENSOR_UPLINK_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bannin/buf.h"

#define NET_LINK_DIR_DEFAULT "/var/lib/bannin-sensor/link"
#define NET_LINK_HEALTH_MAX  900 /* bytes of the health JSON (the wire allows 1000) */

struct net_link_opts {
    const char *link_dir;  /* enrolment (bannin-sensor enroll --dir); required */
    const char *server;    /* HOST:PORT, NULL = the enrolled one */
    const char *spool_dir; /* NULL = link_dir/spool */
    uint64_t spool_max;    /* bytes, 0 = the spool's default (256 MiB) */
    const char *hostname;  /* HELLO host name, NULL = gethostname() */
    int64_t heartbeat_ms;  /* 0 = 30000 */
    FILE *tee;             /* eve NDJSON also written here (borrowed), NULL = none */
    const char *source;    /* interface or file, in the health until net_link_set_health */
};

struct net_link_counters {
    uint64_t lines;         /* complete eve lines received from the pipeline */
    uint64_t spooled;       /* ... appended to the spool */
    uint64_t refused;       /* ... the spool refused (over its bound, too big, I/O): lost */
    uint64_t too_long;      /* lines over the spool's record limit, cut out: lost */
    uint64_t tee_errors;    /* lines not written to the tee file */
    uint64_t stats_records; /* stats records spooled */
    /* the spool */
    uint64_t spool_next_seq, spool_acked_seq, spool_bytes, spool_dropped, spool_corrupt;
    /* the uplink */
    bool connected;
    uint64_t connects, connect_failures, batches_acked, events_acked, heartbeats, refusals;
    char last_error[256];
};

struct net_link;

/* Opens the spool, loads the enrolment and starts the uplink thread. 0, or an error with a
 * sentence in err (BN_ENOTFOUND: link_dir holds no enrolment). */
int net_link_open(struct net_link **out, const struct net_link_opts *o, char *err, size_t errsz);
/* The FILE the pipeline writes its eve NDJSON to (cfg.eve); owned by the link. */
FILE *net_link_file(struct net_link *l);
/* Spools one stats record: {"timestamp":..,"event_type":"stats",<body members>}.
 * body is the inside of a JSON object (members without the braces). */
int net_link_stats_record(struct net_link *l, const char *body, size_t len);
/* The sensor's members of the health the next heartbeats carry (the inside of a JSON object,
 * copied; BN_ETOOBIG over NET_LINK_HEALTH_MAX). The heartbeat reads
 * {"kind":"sensor",<these>,"link":{spool and link counters}}. */
int net_link_set_health(struct net_link *l, const char *members, size_t len);
/* Makes the spool honour its time-based sync policy; call about once a second. */
void net_link_tick(struct net_link *l);
/* Appends the link's counters as one JSON object. */
int net_link_counters_json(struct net_link *l, struct bn_buf *out);
void net_link_counters(struct net_link *l, struct net_link_counters *c);
/*
 * Flushes the FILE and waits up to timeout_ms for the manager to acknowledge every spooled
 * record. Returns true when everything is acknowledged.
 */
bool net_link_drain(struct net_link *l, int64_t timeout_ms);
/* Flushes, stops the uplink (it gives a connected session up to 2 s more), closes the spool
 * and the FILE. The tee file stays open (borrowed). NULL is a no-op. */
void net_link_close(struct net_link *l);

/* bannin-sensor enroll [--server H:P --token T --dir DIR --host NAME --heartbeat MS].
 * argv[0] is "enroll". Returns the exit status. */
int net_link_enroll_main(int argc, char **argv);

#endif
