/*
 * detect.h - central detection in the manager: every stored event of every agent runs through
 * the libbannin engine (SigmaHQ and rules/linux), Sigma correlation keyed by tenant (so a
 * correlation spans the hosts of one tenant, never two tenants), IOC matching of event fields
 * (file hashes, DestinationIp, SourceIp, QueryName, QueryResults, URLs; the sensor's EVE
 * src_ip, dest_ip, dns.rrname, tls.sni, tls.ja3.hash, tls.ja4, http.hostname), and the alerts
 * agents raised locally (EventID 140) and the sensor raised (EVE "alert") turned into alerts. Results go out as struct triage_alert_in
 * through a callback (normally straight into triage_alert()).
 *
 * struct detect_rules is compiled once and shared read-only by all workers; a struct detect
 * is one worker's state (Vectorscan scratch, event builder, a correlator, reusable buffers)
 * and is used by one thread. Batches are matched without per-event allocation: the batch's
 * events are joined into one reused NDJSON buffer and read by one reader. Correlation state
 * of a tenant must always go through the same worker (partition tenants by id % workers).
 */
#ifndef BANNIN_MANAGER_DETECT_H
#define BANNIN_MANAGER_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/common.h"
#include "bannin/diag.h"
#include "bannin/ioc.h"
#include "manager/store.h"
#include "manager/triage.h"

struct mgr_metrics;

struct detect_rules;

struct detect_load_stats {
    size_t rules;                /* compiled rules of all kinds */
    size_t failed;               /* rules that did not parse or compile (reported, skipped) */
    struct bn_diag first;        /* the first failure */
};

/*
 * Parses and compiles the rules under paths (files or directories of Sigma YAML) and loads
 * the default field mappings ($BANNIN_MAPPINGS or the shipped mappings/). Rules that fail are
 * counted and skipped. Returns 0 and an owned, immutable set, or an error with st->first.
 */
int detect_rules_load(struct detect_rules **out, const char *const *paths, size_t npaths,
                      struct detect_load_stats *st);
/* The same from rule YAML held in memory (tests, uploaded rules). buf is borrowed. */
int detect_rules_load_mem(struct detect_rules **out, const char *buf, size_t len,
                          const char *name, struct detect_load_stats *st);
void detect_rules_free(struct detect_rules *r);
size_t detect_rules_count(const struct detect_rules *r);

/* A rule uploaded by a tenant (tenant 0: for every tenant); yaml borrowed for the call. */
struct detect_upload {
    int64_t tenant_id;
    const char *rule_id;         /* for diagnostics */
    const char *yaml;
    size_t len;
};
/*
 * detect_rules_load() plus uploaded rules: an upload of tenant T alerts only for events of
 * T (its correlations count only T's events). Uploads that fail are counted in st->failed and
 * skipped. Returns 0 and an owned set, or an error with st->first.
 */
int detect_rules_load_ex(struct detect_rules **out, const char *const *paths, size_t npaths,
                         const struct detect_upload *up, size_t nup,
                         struct detect_load_stats *st);
/* Tenant a rule of the set belongs to: 0 for shipped rules and uploads for all tenants. */
int64_t detect_rules_tenant(const struct detect_rules *r, uint32_t idx);

/*
 * Validates one uploaded Sigma rule (the API's rule upload): it must parse and compile
 * against the shipped mappings. Fills id and title (of the first rule in the document).
 * Returns 0, or BN_EPARSE / BN_EUNSUP / BN_ETOOBIG with d naming line and column.
 */
int detect_rule_validate(const char *yaml, size_t len, char *id, size_t id_size, char *title,
                         size_t title_size, struct bn_diag *d);

/* Called for each alert; a borrowed alert valid only during the call. Non-zero aborts. */
typedef int (*detect_emit_cb)(void *ctx, const struct triage_alert_in *a);

struct detect;

/* Returns 0 and an owned worker over rules (borrowed, must outlive it). */
int detect_new(struct detect **out, const struct detect_rules *rules, detect_emit_cb cb,
               void *ctx, struct mgr_metrics *metrics);
void detect_free(struct detect *d);

/*
 * IOC set of a tenant (tenant 0: the global set every tenant sees); borrowed until replaced
 * with another call (NULL removes it). At most 4096 tenants with their own set.
 */
int detect_set_iocs(struct detect *d, int64_t tenant_id, const struct bn_ioc_set *set);
/* Disables (or re-enables) a rule for a tenant (tenant 0: for every tenant). */
int detect_set_rule_enabled(struct detect *d, int64_t tenant_id, const char *rule_id,
                            bool enabled);

/*
 * Runs a batch of one tenant's stored events (as given to store_events_insert; json is the
 * agent's NDJSON object) through rules, correlation, IOCs and agent-alert conversion, calling
 * the emit callback for every alert. now_ns is the manager's clock. Events that cannot be read
 * are counted (detect_get_stats) and skipped. Returns 0, or the first non-zero emit result.
 */
int detect_batch(struct detect *d, int64_t tenant_id, const struct store_event *ev, size_t n,
                 int64_t now_ns);
/* Closes correlation windows that ended before now_ns (call about once a second). */
void detect_tick(struct detect *d, int64_t now_ns);

struct detect_stats {
    uint64_t events;             /* events matched */
    uint64_t unreadable;         /* not JSON / not an object: skipped */
    uint64_t rule_hits;          /* detection rule hits (before disable filtering) */
    uint64_t disabled_hits;      /* hits of rules disabled for the tenant */
    uint64_t corr_alerts;
    uint64_t ioc_matches;
    uint64_t agent_alerts;       /* EventID 140 turned into alerts */
    uint64_t sensor_alerts;      /* the sensor's EVE "alert" records turned into alerts */
    uint64_t alerts;             /* emitted in total */
    uint64_t match_errors;
};
void detect_get_stats(const struct detect *d, struct detect_stats *st);

/* ---- the manager pipeline: ingest -> detection -> triage -> outbox (detect_ingest.c) ---- */

struct ingest_hooks;
struct notify;

struct detect_ingest_opts {
    const struct detect_rules *rules;  /* borrowed, must outlive the pipeline */
    struct store *st;                  /* the link thread's store (ingest_store()) */
    struct notify *notify;             /* kicked when messages were enqueued; may be NULL */
    struct mgr_metrics *metrics;       /* may be NULL */
    int64_t dedupe_window_ns;          /* 0 = triage default (10 min) */
    int64_t incident_window_ns;        /* 0 = triage default (1 h) */
    /* for detect_ingest_rules_changed(): where the store is and which rule paths were
     * loaded (copied); without data_dir uploads take effect at the next start only */
    const char *data_dir;
    const char *const *rule_paths;
    size_t nrule_paths;
    /* match on a worker thread while the link decodes and inserts the next batches; alerts
     * are triaged on the link thread before the group's COMMIT (ingest hook before_commit):
     * same transaction, same order, acks still after durability */
    bool offload;
};

struct detect_ingest;

/*
 * The pipeline the link's ingest calls (ingest.h hooks): every stored batch runs through
 * detection, and each alert through triage with the same store handle inside the batch's
 * transaction, so alerts commit atomically with their events (p99 receipt -> alert is the
 * batch's commit). Agent health findings (gaps, replays, bad signatures, silence) become
 * "health" alerts. IOC sets are loaded per tenant from the store's IOC lists on first use and
 * reloaded after detect_ingest_changed(); rules disabled per tenant come from the store's rule
 * states. Runs on the link's thread.
 */
int detect_ingest_new(struct detect_ingest **out, const struct detect_ingest_opts *o);
void detect_ingest_free(struct detect_ingest *di);
/*
 * Loads the shipped rules (paths as for detect_rules_load) with every rule uploaded through
 * the API (store_rule_uploads). For bannind's start and for reloads after an upload.
 */
int detect_rules_load_store(struct detect_rules **out, const char *const *paths, size_t npaths,
                            struct store *st, struct detect_load_stats *stats);
/*
 * Switches the pipeline to another rule set (borrowed; the old one may be freed after the
 * call). Correlation windows in progress start again. Link thread only.
 */
int detect_ingest_set_rules(struct detect_ingest *di, const struct detect_rules *rules);
/* Fills hooks (ctx, on_batch_stored, on_health, on_tick) for ingest_new/link_new. */
void detect_ingest_hooks(struct detect_ingest *di, struct ingest_hooks *hooks);
/* Housekeeping (correlation windows, reloads, notify kick); also run from batches, at most
 * once a second. */
void detect_ingest_tick(struct detect_ingest *di, int64_t now_ns);
/* The API changed IOC lists or rule states: reload before the next batch. Any thread. */
void detect_ingest_changed(struct detect_ingest *di);
/*
 * A rule was uploaded or deleted: a background thread (its own store handle) compiles the
 * shipped rules with every upload and the next tick switches to the new set, so ingest never
 * waits for a compile. Any thread; calls during a compile start another one after it.
 */
void detect_ingest_rules_changed(struct detect_ingest *di);
struct detect_ingest_stats {
    struct detect_stats detect;
    struct triage_stats triage;
    uint64_t health_alerts;
    uint64_t ioc_reloads;
    uint64_t ioc_load_errors;
    uint64_t rule_reloads;             /* rule sets compiled and switched to */
    uint64_t rule_reload_errors;
    uint64_t offload_jobs;             /* chunks matched on the worker thread */
    uint64_t offload_waits;            /* the ring was full when the link queued a chunk */
    uint64_t offload_helped;           /* chunks the link matched itself (worker busy or off
                                        * the CPU when the link needed the result) */
    uint64_t offload_dropped;          /* alerts lost: no memory for their copy */
};
void detect_ingest_get_stats(const struct detect_ingest *di, struct detect_ingest_stats *st);

/*
 * Imports an IOC file (CSV or STIX 2.1, told apart by the first non-blank byte) into IOC list
 * list_id of the store (within scope): every value is validated and normalised by
 * bn_ioc_load_*, skips are counted in lst and the first problem is in d; *added is how many
 * new entries the list got. For the API's IOC import. buf is borrowed.
 */
int detect_ioc_import(struct store *st, const struct store_scope *sc, int64_t list_id,
                      const char *buf, size_t len, const char *name, int64_t now_ns,
                      struct bn_ioc_load_stats *lst, size_t *added, struct bn_diag *d);

#endif
