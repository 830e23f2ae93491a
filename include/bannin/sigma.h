/*
 * sigma.h - Sigma rules as parsed from YAML (specification 2.x): the rule tree that
 * sigma_parse.c builds and engine_compile.c compiles. Detection, correlation and filter
 * rules share one struct, told apart by kind.
 *
 * Ownership: a rule and everything it points to live in rule->pool; sigma_rule_free()
 * releases all of it. Strings are NUL-terminated; values keep their length too because
 * they may hold NUL bytes after YAML unescaping.
 */
#ifndef BANNIN_SIGMA_H
#define BANNIN_SIGMA_H

#include "bannin/common.h"
#include "bannin/diag.h"
#include "bannin/limits.h"

struct bn_pool;

enum sigma_level {
    SIGMA_LEVEL_NONE = 0,
    SIGMA_LEVEL_INFORMATIONAL,
    SIGMA_LEVEL_LOW,
    SIGMA_LEVEL_MEDIUM,
    SIGMA_LEVEL_HIGH,
    SIGMA_LEVEL_CRITICAL,
};

enum sigma_kind {
    SIGMA_KIND_DETECTION = 0,
    SIGMA_KIND_CORRELATION,
    SIGMA_KIND_FILTER,
};

/* Value modifiers, in the order they are written after the field name. */
enum sigma_mod {
    SIGMA_MOD_CONTAINS = 0,
    SIGMA_MOD_STARTSWITH,
    SIGMA_MOD_ENDSWITH,
    SIGMA_MOD_ALL,
    SIGMA_MOD_RE,
    SIGMA_MOD_RE_I,       /* re sub-modifier i */
    SIGMA_MOD_RE_M,       /* re sub-modifier m */
    SIGMA_MOD_RE_S,       /* re sub-modifier s */
    SIGMA_MOD_CIDR,
    SIGMA_MOD_BASE64,
    SIGMA_MOD_BASE64OFFSET,
    SIGMA_MOD_UTF16LE,    /* also `wide` */
    SIGMA_MOD_UTF16BE,
    SIGMA_MOD_UTF16,
    SIGMA_MOD_WINDASH,
    SIGMA_MOD_LT,
    SIGMA_MOD_LTE,
    SIGMA_MOD_GT,
    SIGMA_MOD_GTE,
    SIGMA_MOD_NEQ,
    SIGMA_MOD_EXISTS,
    SIGMA_MOD_FIELDREF,
    SIGMA_MOD_CASED,
    SIGMA_MOD_EXPAND,
    SIGMA_MOD_MINUTE,
    SIGMA_MOD_HOUR,
    SIGMA_MOD_DAY,
    SIGMA_MOD_WEEK,
    SIGMA_MOD_MONTH,
    SIGMA_MOD_YEAR,
    SIGMA_MOD__COUNT,
};

/* Returns the modifier named name ("contains", "wide", "i", ...), or -1. */
int sigma_mod_parse(const char *name, size_t len);
const char *sigma_mod_name(enum sigma_mod mod);

enum sigma_vtype {
    SIGMA_V_STR = 0,
    SIGMA_V_NUM,
    SIGMA_V_BOOL,
    SIGMA_V_NULL,
};

struct sigma_value {
    enum sigma_vtype type;
    const char *s;  /* STR: the text exactly as written (wildcards and escapes unprocessed);
                     * NUM and BOOL: their source text; NULL: NULL */
    size_t len;
    double num;     /* NUM */
    int64_t i;      /* NUM, when is_int */
    bool is_int;
    bool b;         /* BOOL */
    unsigned line, col;
};

/* One `field|mod|mod: value(s)` entry, or a keyword list when field is NULL. */
struct sigma_item {
    const char *field;          /* NULL for keywords */
    uint8_t mods[BN_MODIFIERS_MAX];
    uint8_t nmods;
    uint32_t modmask;           /* 1u << SIGMA_MOD_x for each modifier present */
    struct sigma_value *values; /* OR-ed, AND-ed with `all` */
    uint32_t nvalues;
    unsigned line, col;
};

/* AND of items (a YAML map), or one keyword item. */
struct sigma_map {
    struct sigma_item *items;
    uint32_t nitems;
};

/* A named search identifier of `detection:` - an OR of alternatives (a YAML list of maps
 * or of keywords); a plain YAML map is a single alternative. */
struct sigma_search {
    const char *name;
    struct sigma_map *alts;
    uint32_t nalts;
    unsigned line, col;
};

enum sigma_cond_op {
    SIGMA_C_AND = 0,
    SIGMA_C_OR,
    SIGMA_C_NOT,
    SIGMA_C_ID,          /* name: a search identifier */
    SIGMA_C_ONE_OF,      /* name: a pattern, may end in or contain '*' */
    SIGMA_C_ALL_OF,
    SIGMA_C_ONE_OF_THEM,
    SIGMA_C_ALL_OF_THEM,
};

struct sigma_cond {
    enum sigma_cond_op op;
    struct sigma_cond *a; /* AND/OR left, NOT operand */
    struct sigma_cond *b; /* AND/OR right */
    const char *name;     /* ID and X_OF patterns */
    unsigned col;         /* 1-based column in the condition text */
};

enum sigma_corr_type {
    SIGMA_CORR_EVENT_COUNT = 0,
    SIGMA_CORR_VALUE_COUNT,
    SIGMA_CORR_TEMPORAL,
    SIGMA_CORR_TEMPORAL_ORDERED,
};

enum sigma_cmp {
    SIGMA_CMP_GT = 0,
    SIGMA_CMP_GTE,
    SIGMA_CMP_LT,
    SIGMA_CMP_LTE,
    SIGMA_CMP_EQ,
    SIGMA_CMP_NEQ,
};

struct sigma_corr_cond {
    enum sigma_cmp cmp;
    int64_t value;
};

/* `aliases:` - one alias name mapped to a field name per referenced rule. */
struct sigma_alias {
    const char *name;
    const char **rules;  /* rule name or id */
    const char **fields; /* field in that rule's events */
    uint32_t n;
};

struct sigma_correlation {
    enum sigma_corr_type type;
    const char **rules;   /* referenced rule names or ids */
    uint32_t nrules;
    const char **group_by;
    uint32_t ngroup_by;
    int64_t timespan_ms;
    struct sigma_corr_cond conds[4]; /* AND-ed; temporal types default to gte <nrules> */
    uint32_t nconds;
    const char *field;    /* value_count: the field whose distinct values are counted */
    struct sigma_alias *aliases;
    uint32_t naliases;
    bool generate;        /* referenced rules also produce their own alerts */
};

struct sigma_filter {
    const char **rules;   /* rule names or ids the filter applies to */
    uint32_t nrules;
};

struct sigma_rule {
    struct bn_pool *pool;  /* owns everything below */
    enum sigma_kind kind;
    const char *file;      /* source path */
    unsigned line;         /* first line of the rule's YAML document */

    const char *id, *name, *title, *status, *description, *author, *date, *modified, *license;
    enum sigma_level level;
    const char **tags;
    uint32_t ntags;
    const char **references;
    uint32_t nreferences;
    const char **falsepositives;
    uint32_t nfalsepositives;
    const char **fields;
    uint32_t nfields;

    struct {
        const char *product, *category, *service, *definition;
    } logsource;

    /* detection (DETECTION and FILTER kinds) */
    struct sigma_search *searches;
    uint32_t nsearches;
    struct sigma_cond *cond;  /* list conditions are OR-ed into one tree */
    const char *cond_text;

    struct sigma_correlation corr; /* CORRELATION kind */
    struct sigma_filter filter;    /* FILTER kind */
};

/* Called once per rule that could not be parsed: d->code is BN_EUNSUP for a valid rule
 * using a feature Bannin does not support, another BN_E* code for an error. */
typedef void (*sigma_diag_cb)(void *ctx, const struct bn_diag *d);

/*
 * Parses every YAML document of a rule file held in memory (name is used in diagnostics).
 * Handles multi-document files (`action: global/reset/repeat` collections, correlation
 * rules followed by their base rules). Appends owned rules to *rules (grown with
 * bn_reallocarray; *n is the count). A document that fails is reported through cb and
 * skipped; the others still load. Returns 0, or BN_ENOMEM (fatal).
 */
int sigma_parse_mem(const char *buf, size_t len, const char *name, struct sigma_rule ***rules,
                    size_t *n, sigma_diag_cb cb, void *ctx);
/* Same for a file; files over BN_RULE_FILE_MAX are reported and skipped. */
int sigma_parse_file(const char *path, struct sigma_rule ***rules, size_t *n, sigma_diag_cb cb,
                     void *ctx);
/* Walks files and directories (recursively, *.yml and *.yaml) and parses every rule. */
int sigma_parse_paths(const char *const *paths, size_t npaths, struct sigma_rule ***rules,
                      size_t *n, sigma_diag_cb cb, void *ctx);
void sigma_rule_free(struct sigma_rule *r);

/* Parses a condition expression into pool-owned nodes. 0 or BN_EPARSE/BN_EUNSUP with d
 * (col set; Sigma 1 `| count()` style aggregations are BN_EUNSUP with a clear message). */
int sigma_cond_parse(const char *text, size_t len, struct bn_pool *pool, struct sigma_cond **out,
                     struct bn_diag *d);

enum sigma_level sigma_level_parse(const char *s);
const char *sigma_level_name(enum sigma_level level);

#endif
