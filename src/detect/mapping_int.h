/*
 * mapping_int.h - what mapping_load.c builds from the mapping files and mapping.c runs: source
 * kinds (how to recognise a record, how to rename its keys) and their logsource rules, with
 * field names resolved to small per-kind slot numbers so the hot path compares integers.
 *
 * Everything here lives in the mapping's pool and is immutable once loading finished, so
 * any number of builders (one per thread) may read it.
 */
#ifndef BANNIN_MAPPING_INT_H
#define BANNIN_MAPPING_INT_H

#include "bannin/mapping.h"

#define MAP_KINDS_MAX 32        /* source kinds (mapping files) in one mapping */
#define MAP_DETECT_KEYS_MAX 64  /* distinct keys named by detect clauses, one bit each */
#define MAP_SLOTS_MAX 256       /* field names a kind's logsource rules, host and time use */
#define MAP_NONE16 UINT16_MAX

struct map_str {
    char *s;
    uint32_t len;
};

/* One `detect:` clause: every key present (and, for keys listed in values, equal to one of
 * the values) and the reader's format equal to format when set. */
struct map_dvals {
    char *key;
    struct map_str *vals;
    uint32_t nvals;
    uint32_t bit; /* resolved detect bit of key */
};

struct map_clause {
    char *format;
    char **keys;
    uint32_t nkeys;
    struct map_dvals *values;
    uint32_t nvalues;
    uint64_t mask; /* resolved: bits of keys and of the keys of values */
    unsigned line;
};

/* `strip:` - a key starting with prefix becomes to + the rest, minus skip leading parts. */
struct map_strip {
    char *prefix;
    uint32_t plen;
    char *to;
    uint32_t skip;
};

/* `replace:` - every occurrence of from (only a trailing one with suffix) becomes to. */
struct map_replace {
    char *from;
    uint32_t flen;
    char *to;
    bool suffix;
};

/* A condition of a logsource rule as written: name equals one of vals, or exists. */
struct map_cond_spec {
    char *name;
    struct map_str *vals;
    uint32_t nvals;
    bool exists;
};

struct map_ls_spec {
    struct map_cond_spec *conds;
    uint32_t nconds;
    char *product, *category, *service;
    char **alias_from, **alias_to;
    uint32_t nalias;
    unsigned line;
};

/* Compiled condition: the value of slot equals one of vals (or is present). */
struct map_cond {
    uint16_t slot;
    bool exists;
    const struct map_str *vals;
    uint32_t nvals;
};

struct map_lsrule {
    struct map_cond *conds;
    uint32_t nconds;
    uint32_t ls;          /* triple id */
    uint16_t *alias;      /* alias source slot -> target slot, MAP_NONE16 = none; NULL if none */
};

struct map_kind {
    char *name;
    char *file;
    int priority;
    unsigned order;      /* load order, the tie breaker */
    char *description;

    struct map_clause *clauses;
    uint32_t nclauses;

    char **rn_from, **rn_to; /* exact renames */
    uint32_t nrename;
    struct map_strip *strips;
    uint32_t nstrips;
    struct map_replace *replaces;
    uint32_t nreplaces;
    char *type_field;    /* `record_type_field:` auditd-style TYPE.field split */
    bool type_emit;      /* `record_type_emit:` add each TYPE as a value of type_field */

    char **host;
    uint32_t nhost;
    char **time;
    uint32_t ntime;

    char *product, *category, *service; /* default logsource */
    uint32_t def_ls;     /* triple id or BN_FIELD_NONE */

    struct map_ls_spec *specs;
    uint32_t nspecs;
    char *ls_from;       /* `logsources_from:` another kind's name */
    unsigned ls_from_line;

    /* compiled by mapping_load.c after every file is read */
    char **slot_names;   /* condition, host and time names */
    uint32_t nslots;
    uint16_t *host_slots;
    uint16_t *time_slots;
    char **asrc;         /* alias source names */
    uint32_t nasrc;
    char **atgt;         /* alias target names */
    uint32_t natgt;
    struct map_lsrule *rules;
    uint32_t nrules;
};

struct map_triple {
    const char *product, *category, *service;
};

struct bn_mapping {
    struct bn_pool *pool;
    struct map_kind *kinds; /* sorted: priority descending, then load order */
    uint32_t nkinds;
    char *detect_keys[MAP_DETECT_KEYS_MAX];
    uint32_t detect_lens[MAP_DETECT_KEYS_MAX];
    uint32_t ndetect;
    struct map_triple *triples;
    uint32_t ntriples;
    uint32_t triples_cap;
};

/* Computes the mapped name of raw key for kind k (NULL = no kind: the key itself) into the
 * pool. Sets *type_len to the length of a TYPE. prefix split off by k->type_field, else 0.
 * Returns a pool string or NULL on ENOMEM. */
char *bn__mapping_name(const struct map_kind *k, const char *key, size_t len,
                       struct bn_pool *pool, uint32_t *type_len);

/* What a builder's shape cache did, for tests and benchmarks. */
struct bn__evbuilder_stats {
    uint64_t shape_hits;   /* records whose key sequence matched a remembered shape */
    uint64_t shape_misses; /* records whose keys were looked up one by one */
    uint64_t decisions;    /* kind and logsource rule evaluations */
    uint64_t plans;        /* value templates made */
};

/* Copies b's counters into st. */
void bn__evbuilder_stats(const struct bn_evbuilder *b, struct bn__evbuilder_stats *st);

#endif
