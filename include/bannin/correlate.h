/*
 * correlate.h - Sigma correlation rules (event_count, value_count, temporal,
 * temporal_ordered) over the hits of a compiled rule set.
 *
 * State is keyed by (tenant, correlation rule, group-by values), so it can be partitioned
 * across workers by that key. A correlator is used by one thread; feed events in roughly
 * ascending time order (out-of-order events within the timespan are handled).
 */
#ifndef BANNIN_CORRELATE_H
#define BANNIN_CORRELATE_H

#include "bannin/common.h"
#include "bannin/engine.h"
#include "bannin/event.h"

/*
 * Semantics (details in src/detect/correlate.c):
 *  - gt/gte conditions are checked on every hit over a sliding window [newest - timespan,
 *    newest] (closed); an alert is emitted at once and the group starts a new window.
 *  - conditions with lt/lte/eq/neq are decided when a fixed window [first hit, first hit +
 *    timespan] is over: on a later hit of the group, on the sweep bn_correlator_feed() runs
 *    as event time advances, or on bn_correlator_expire(). Call bn_correlator_expire(c,
 *    INT64_MAX) at the end of input.
 *  - a missing or null group-by field groups as ""; a multi-valued one by its first value;
 *    a NULL tenant is "" (and reported as NULL).
 *  - correlations may reference correlations (chains); a referenced correlation alerts only
 *    if a referencing one has generate: true.
 * The emit callback must not call back into the correlator.
 */
struct bn_correlator;

struct bn_corr_alert {
    uint32_t rule;             /* index of the correlation rule in the set */
    const char *tenant;        /* borrowed */
    const char *const *group_names;  /* group-by field names (borrowed) */
    const char *const *group_values; /* their values for this group (borrowed) */
    size_t ngroup;
    int64_t first_ns;          /* time of the first event in the window */
    int64_t last_ns;           /* time of the event that completed the condition */
    uint64_t count;            /* events (event_count), distinct values (value_count) or rules seen */
};

/* Called for each correlation alert; a borrowed alert valid only during the call. */
typedef void (*bn_corr_emit_cb)(void *ctx, const struct bn_corr_alert *a);

/* Returns an owned correlator over rs (borrowed), or NULL. */
struct bn_correlator *bn_correlator_new(const struct bn_ruleset *rs, bn_corr_emit_cb cb,
                                        void *ctx);
void bn_correlator_free(struct bn_correlator *c);
/* Feeds the hits of one event (as returned by bn_ruleset_match). tenant may be NULL. */
int bn_correlator_feed(struct bn_correlator *c, const char *tenant, const struct bn_event *ev,
                       const uint32_t *hits, size_t nhits);
/* Drops state older than every timespan relative to now_ns. */
void bn_correlator_expire(struct bn_correlator *c, int64_t now_ns);
/* Counters: groups live, groups dropped at BN_CORR_GROUPS_MAX, events dropped. */
void bn_correlator_counts(const struct bn_correlator *c, uint64_t *groups, uint64_t *dropped);

/* All counters of a correlator (bn_correlator_counts gives the first two). */
struct bn_corr_stats {
    uint64_t groups;          /* group states live now */
    uint64_t groups_evicted;  /* oldest groups dropped to stay under the group limit */
    uint64_t events_late;     /* hits older than their group's window, ignored */
    uint64_t events_capped;   /* timestamps dropped at the per-group limit */
    uint64_t events_nogroup;  /* hits dropped because no group slot could be made */
    uint64_t alerts;          /* correlation alerts emitted through the callback */
    uint64_t fired;           /* conditions met, including rules that do not generate */
};
void bn_correlator_stats(const struct bn_correlator *c, struct bn_corr_stats *st);

/*
 * Lowers the group and per-group timestamp limits (0 keeps a limit; values above
 * BN_CORR_GROUPS_MAX / BN_CORR_EVENTS_PER_GROUP_MAX are clamped). For tests and tuning;
 * call before the first feed.
 */
void bn_correlator_set_limits(struct bn_correlator *c, size_t groups_max,
                              size_t events_per_group_max);

/*
 * The partition key of the state a hit of rule hit_rule would update in correlation
 * corr_rule: a hash, with a fixed seed, of the tenant and the group-by values taken from ev
 * (aliases applied). Equal for every process, so workers can own correlation state by
 * key % nworkers. Returns 0 if corr_rule is not a correlation referencing hit_rule.
 */
uint64_t bn_correlator_partition_key(const struct bn_correlator *c, uint32_t corr_rule,
                                     uint32_t hit_rule, const char *tenant,
                                     const struct bn_event *ev);

#endif
