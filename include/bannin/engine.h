/*
 * engine.h - the compiled Sigma rule set and its matcher, shared by `bannin hunt`, the agent
 * and the manager.
 *
 * A compiled set is immutable and may be used by any number of threads at once; each thread
 * brings its own bn_scratch. Compilation interns every field name rules use (events are then
 * arrays indexed by those ids), builds logsource routing tables, one Hyperscan prefilter
 * database of trigger literals (a few per rule, chosen so that the rule can only match when one
 * of them occurs), PCRE2 (JIT) programs for `re`, and a condition program per rule that is
 * evaluated exactly only when one of its triggers hit (or always, for rules without one).
 */
#ifndef BANNIN_ENGINE_H
#define BANNIN_ENGINE_H

#include "bannin/common.h"
#include "bannin/diag.h"
#include "bannin/event.h"
#include "bannin/sigma.h"

struct bn_ruleset;
struct bn_scratch;

/* A placeholder for the `expand` modifier: %name% -> values. */
struct bn_placeholder {
    const char *name;           /* without the % signs */
    const char *const *values;
    size_t nvalues;
};

struct bn_compile_opts {
    const struct bn_placeholder *placeholders; /* unknown placeholders make the rule unsupported */
    size_t nplaceholders;
    bool ignore_logsource;     /* match every rule against every event (no routing) */
};

/* Called once for each rule that does not compile (d->code BN_EUNSUP or another error). */
typedef void (*bn_compile_diag_cb)(void *ctx, const struct sigma_rule *rule,
                                   const struct bn_diag *d);

/*
 * Compiles rules. Consumes the rule pointers (the array itself stays the caller's): rules
 * that compile are owned by the set, the others are freed after the callback. Filter rules
 * are applied to the rules they name; correlation rules are resolved against the others.
 * Returns 0 and an owned set (possibly empty), or BN_ENOMEM / BN_EINTERNAL.
 */
int bn_ruleset_compile(struct bn_ruleset **out, struct sigma_rule **rules, size_t n,
                       const struct bn_compile_opts *opts, bn_compile_diag_cb cb, void *ctx);
void bn_ruleset_free(struct bn_ruleset *rs);

/* The field table events must be built against (borrowed, lives as long as rs). */
const struct bn_fieldtab *bn_ruleset_fields(const struct bn_ruleset *rs);
/* Number of compiled rules of all kinds; indices 0..count-1. */
size_t bn_ruleset_count(const struct bn_ruleset *rs);
const struct sigma_rule *bn_ruleset_rule(const struct bn_ruleset *rs, uint32_t idx);
/* False for filter rules and for rules a correlation marks `generate: false`. */
bool bn_ruleset_rule_alerts(const struct bn_ruleset *rs, uint32_t idx);
/* For a correlation rule: the indices of the rules it references (borrowed). */
const uint32_t *bn_ruleset_corr_refs(const struct bn_ruleset *rs, uint32_t idx, size_t *n);

/* Per-thread scratch for matching with rs. Returns owned scratch or NULL. */
struct bn_scratch *bn_scratch_new(const struct bn_ruleset *rs);
void bn_scratch_free(struct bn_scratch *s);

/*
 * Matches one event (built against bn_ruleset_fields(rs)). On return *hits lists the indices
 * of detection rules that matched, ascending (borrowed from s, valid until the next call).
 * Returns 0 or a negative error (BN_EINTERNAL if a matcher library failed).
 */
int bn_ruleset_match(const struct bn_ruleset *rs, struct bn_scratch *s, const struct bn_event *ev,
                     const uint32_t **hits, size_t *nhits);
/* The same result computed the slow, obvious way: every rule, every item, every value, no
 * literal prefilter. Used by tests as an oracle and by bench/ as the baseline. */
int bn_ruleset_match_naive(const struct bn_ruleset *rs, struct bn_scratch *s,
                           const struct bn_event *ev, const uint32_t **hits, size_t *nhits);

/* Work counters of a scratch since it was created (bench/ and `bannin hunt --stats`). */
struct bn_scratch_stats {
    uint64_t events;        /* bn_ruleset_match calls */
    uint64_t scans;         /* prefilter database scans */
    uint64_t candidates;    /* rule conditions evaluated */
    uint64_t hits;          /* rules that matched */
};
void bn_scratch_stats(const struct bn_scratch *s, struct bn_scratch_stats *st);

/* Statistics of a compiled set for `bannin rules check` and bench/. */
struct bn_ruleset_stats {
    size_t rules;
    size_t detection_rules;
    size_t correlation_rules;
    size_t filter_rules;
    size_t fields;
    size_t literals;        /* patterns in the Vectorscan databases */
    size_t regexes;         /* PCRE2 programs */
    size_t always_eval;     /* rules evaluated on every routed event (no literal to wait for) */
    size_t db_bytes;        /* size of the Vectorscan databases */
};
void bn_ruleset_stats(const struct bn_ruleset *rs, struct bn_ruleset_stats *st);

#endif
