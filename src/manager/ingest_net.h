/*
 * ingest_net.h - the network sensor's records at the manager (docs/MANAGER.md, "Sensor
 * records"). bannin-sensor sends its eve records (flow, dns, http, tls, ssh, alert, stats)
 * over the same link as agents; they are stored as received. For central detection each
 * flow and protocol record is rendered with Zeek's field names (conn, dns, http, ssl, ssh:
 * what SigmaHQ's network rules and mappings/zeek.yml use, plus the IOC fields ioc matching
 * knows) and detection sees that rendering in its place; the sensor's own alerts and its
 * stats go through unchanged (detect.c turns eve alerts into sensor.<sid> alerts).
 *
 * The host an alert on a network record is about is the flow's originator (the client),
 * as for the sensor's own alerts; the stored event keeps the sensor's name.
 */
#ifndef BANNIN_MANAGER_INGEST_NET_H
#define BANNIN_MANAGER_INGEST_NET_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "manager/store.h"

struct ingest_net_stats {
    uint64_t records;    /* sensor records seen (eve objects with an event_type) */
    uint64_t rendered;   /* flow/dns/http/tls/ssh records given to detection as Zeek */
    uint64_t passed;     /* alerts, stats and other types given as they are */
    uint64_t unreadable; /* eve-looking records that did not parse: given as they are */
};

struct ingest_net;

int ingest_net_new(struct ingest_net **out);
void ingest_net_free(struct ingest_net *n);

/*
 * The events detection should see for a stored batch: ev itself when it holds no sensor
 * record (the common agent case costs one prefix compare per event), else an array owned
 * by n, valid until the next call, in which each sensor flow/dns/http/tls/ssh record is its
 * Zeek rendering (same tenant, agent, seq, times; host = the originator's address).
 */
const struct store_event *ingest_net_for_detect(struct ingest_net *n, const struct store_event *ev,
                                                size_t count);

/*
 * Renders one eve record (json, len bytes) as one Zeek-named JSON object into out.
 * Returns 0, BN_DECLINED for a record with no Zeek form (alert, stats, unknown types),
 * BN_EPARSE for JSON that is not an eve object, or a bn_buf error. *orig_h (when not NULL)
 * gets the offset in out of the originator address string and *orig_len its length (0 when
 * the record has none). For the tests and the fuzz target.
 */
int ingest_net_zeek(const char *json, size_t len, struct bn_buf *out, size_t *orig_off,
                    size_t *orig_len);

void ingest_net_get_stats(const struct ingest_net *n, struct ingest_net_stats *st);

#endif
