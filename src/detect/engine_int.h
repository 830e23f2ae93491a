/*
 * engine_int.h - internals of the compiled rule set shared by engine_compile.c,
 * engine_value.c, engine_match.c and engine_naive.c.
 *
 * A rule compiles in two layers. The item layer (bn__citem / bn__cval) keeps the shape of the
 * Sigma detection - searches, alternatives, items, values - with every value already
 * transformed (escapes, wildcards, windash, base64, utf16, expand...). The naive matcher walks
 * that layer directly. The fast layer turns every value into a predicate (bn__pred) and a
 * rule's condition into a small tree of AND/OR/NOT nodes over predicates (bn__node). Each rule
 * also gets a cover: literal predicates one of which must be true for the rule to be true. The
 * trigger literals of the covers (a few per predicate, caseless) form one Hyperscan prefilter
 * database scanned once per event; rules whose triggers hit, and rules without a cover, are
 * then evaluated exactly, without Hyperscan.
 */
#ifndef BANNIN_ENGINE_INT_H
#define BANNIN_ENGINE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include "bannin/buf.h"
#include "bannin/engine.h"

/* Pseudo field id of keyword items: they look at every value of the event. */
#define BN__KEYWORD (UINT32_MAX - 1)

/* Tokens of a processed Sigma string: a byte (0..255) or a wildcard. */
#define BN__TOK_STAR 256
#define BN__TOK_QMARK 257

/* Scratch routes cached per (product, category, service) triple. */
#define BN__ROUTES_MAX 32

/* A Sigma string after escape processing and transformations (pool-owned tokens). */
struct bn__sstr {
    uint16_t *c;
    uint32_t n;
};

enum bn__vkind {
    BN__V_GLOB = 0, /* vars: wildcard patterns, OR-ed */
    BN__V_NUMEQ,    /* numeric equality (or text equality with the source text) */
    BN__V_NUMCMP,   /* lt/lte/gt/gte */
    BN__V_RE,
    BN__V_CIDR,
    BN__V_NULL,     /* field absent, null or empty */
    BN__V_EXISTS,
    BN__V_FIELDREF,
};

struct bn__num {
    double d;
    int64_t i;
    bool is_int;
};

struct bn__cval {
    uint8_t kind;           /* enum bn__vkind */
    struct bn__sstr *vars;  /* GLOB */
    uint32_t nvars;
    struct bn__num num;     /* NUMEQ, NUMCMP */
    const char *text;       /* NUMEQ: source text */
    size_t text_len;
    uint8_t cmp;            /* NUMCMP: enum sigma_cmp */
    pcre2_code *re;         /* RE, freed with the set */
    uint8_t af;             /* CIDR: 4 or 6 */
    uint8_t bits;
    uint8_t addr[16];
    bool exists;            /* EXISTS */
    uint32_t ref_field;     /* FIELDREF */
    uint32_t pred;          /* fast path: predicate id */
};

struct bn__citem {
    uint32_t field;        /* field id or BN__KEYWORD */
    bool all;
    bool cased;
    bool neq;
    uint8_t timepart;      /* 0 or SIGMA_MOD_MINUTE..SIGMA_MOD_YEAR */
    struct bn__cval *vals;
    uint32_t nvals;
    uint32_t pred;         /* item-level predicate (neq, null, exists), else UINT32_MAX */
    const struct sigma_item *src;
};

struct bn__calt {
    struct bn__citem *items;
    uint32_t nitems;
};

struct bn__csearch {
    const char *name;
    struct bn__calt *alts;
    uint32_t nalts;
};

enum bn__op {
    BN__OP_PRED = 0,
    BN__OP_AND,
    BN__OP_OR,
    BN__OP_NOT,
    BN__OP_TRUE,
    BN__OP_FALSE,
};

/* PRED: a = predicate id. AND/OR: kids[a .. a+n). NOT: a = operand node. */
struct bn__node {
    uint8_t op;
    uint32_t a;
    uint32_t n;
};

enum bn__pkind {
    BN__P_LIT = 0, /* GLOB value whose variants all hold a literal byte: prefilter material */
    BN__P_VAL,     /* one value of an item, evaluated on demand */
    BN__P_ITEM,    /* a whole item (neq, null, exists), evaluated on demand */
};

#define BN__ANCHOR_START 1
#define BN__ANCHOR_END 2

/* Shortest trigger literal worth a prefilter hit; shorter ones hit nearly every event. */
#define BN__FAC_MIN 3

/*
 * One variant of a LIT predicate ready for direct evaluation: a plain string between optional
 * leading/trailing '*' (s, folded to lower case unless the item is cased, plus the anchors it
 * must touch), or a general wildcard pattern (glob) for the reference matcher.
 */
struct bn__lit {
    const uint8_t *s;
    uint32_t len;
    uint8_t anchor;                /* BN__ANCHOR_* */
    const struct bn__sstr *glob;   /* non-NULL: inner wildcards */
};

struct bn__pred {
    uint8_t kind;
    uint32_t field;
    bool cased;            /* item->cased, kept here for the hot path */
    const struct bn__citem *item;
    const struct bn__cval *val;
    struct bn__lit *lits;  /* LIT: one per variant (pool-owned) */
    uint32_t nlits;
    uint32_t *facs;        /* LIT, VAL of a regex: trigger literals, one of which is in any
                              matching value */
    uint32_t nfacs;
    bool gated;            /* every trigger literal is in the prefilter: none hit, false */
    int strength;          /* how selective facs are (higher is rarer); < 0 none */
};

/* A trigger literal of the prefilter database and the rules a hit makes candidates. */
struct bn__fac {
    uint32_t *rules;
    uint32_t nrules;
};

struct bn__crule {
    struct sigma_rule *r;
    struct bn__csearch *searches;
    uint32_t nsearches;
    struct bn__node *nodes;
    uint32_t nnodes;
    uint32_t *kids;
    uint32_t root;
    uint32_t *filters;     /* indices of filter rules applied to this rule */
    uint32_t nfilters;
    uint32_t *corr_refs;   /* correlation: referenced rules */
    uint32_t ncorr_refs;
    uint32_t *trig;        /* the cover: LIT predicates of which one must be true for the
                              rule to be true */
    uint32_t ntrig;
    bool alerts;
    bool always;           /* no cover: evaluated on every event of its logsource */
};

struct bn_ruleset {
    struct bn_pool *pool;
    struct bn_fieldtab *ft;
    struct bn__crule *rules;
    uint32_t nrules;
    struct bn__pred *preds;
    uint32_t npreds;
    /* The prefilter: every trigger literal of every rule's cover, caseless, single-match.
     * Hyperscan pattern id = index into facs. NULL when no rule has a cover. */
    hs_database_t *pf;
    struct bn__fac *facs;
    uint32_t nfacs;
    pcre2_code **res;      /* every regex, for freeing */
    uint32_t nres;
    uint32_t res_cap;
    bool ignore_logsource;
    struct bn_pool *tmp;   /* compile-time scratch, reset per value; NULL afterwards */
    struct bn_ruleset_stats st;
};

struct bn__route {
    const char *product, *category, *service;
    uint8_t *routed;       /* per rule: 1 when the logsource applies */
    uint32_t *always;      /* always-evaluated rules, ascending */
    uint32_t nalways;
    uint32_t *fields;      /* fields of routed rules' predicates with trigger literals */
    uint32_t nfields;
    bool keywords;         /* a routed rule's cover holds keywords: scan every value */
};

struct bn_scratch {
    const struct bn_ruleset *rs;
    hs_scratch_t *hs;
    pcre2_match_data *md;
    uint32_t gen;
    uint32_t *pred_memo;   /* gen << 1 | value: the predicate was evaluated this event */
    uint32_t *rule_gen;
    uint32_t *fac_gen;     /* == gen: the trigger literal hit in this event's scan */
    uint32_t *cand;
    uint32_t ncand;
    uint32_t *hits;
    uint32_t nhits;
    const struct bn__route *cur;
    struct bn__route routes[BN__ROUTES_MAX];
    uint32_t nroutes;
    uint32_t next_evict;
    const struct bn_event *ev;
    char *buf;             /* the values one prefilter scan looks at, separated by '\n' */
    size_t buf_cap;
    struct bn_scratch_stats st;
};

/* --- engine_value.c --- */

/*
 * Turns one Sigma value of an item into its compiled form (pool-owned), applying every
 * modifier. field ids are interned into ft. Returns 0, BN_ENOMEM, or BN_EPARSE / BN_EUNSUP /
 * BN_ETOOBIG with d filled.
 */
int bn__cval_build(struct bn_ruleset *rs, const struct sigma_rule *r, const struct sigma_item *it,
                   const struct sigma_value *v, const struct bn_compile_opts *opts,
                   struct bn__cval *out, struct bn_diag *d);
/* Case-(in)sensitive wildcard match of s against a token pattern. */
bool bn__glob_match(const struct bn__sstr *p, const char *s, size_t len, bool cased);
/* Parses s as a decimal (or 0x hex) number; false if s is not exactly a number. */
bool bn__num_parse(const char *s, size_t len, struct bn__num *out);
/* Compares a <cmp> b; returns true when the relation holds. */
bool bn__num_cmp(const struct bn__num *a, const struct bn__num *b, int cmp);
bool bn__num_eq(const struct bn__num *a, const struct bn__num *b);
/* Extracts a time part (SIGMA_MOD_MINUTE..YEAR) from "YYYY-MM-DD[T ]HH:MM:SS..." text. */
bool bn__timepart(const char *s, size_t len, int part, int64_t *out);
/* Parses an IP address; af 4 or 6 and 16 bytes of address. */
bool bn__ip_parse(const char *s, size_t len, uint8_t *af, uint8_t addr[16]);
/* Writes the Vectorscan expression of a glob into buf (NUL-terminated). */
int bn__glob_to_hs(const struct bn__sstr *p, struct bn_buf *buf);
/* Finds needle (already folded to lower case unless cased) in hay; ASCII case folding. */
bool bn__memmem_fold(const char *hay, size_t hlen, const uint8_t *needle, size_t nlen,
                     bool cased);

/* --- engine_compile.c --- */

/*
 * Finds the longest literal run (caseless, plain ASCII bytes) that every match of the PCRE2
 * pattern re[0..n) must contain: top-level atoms only, groups, classes and quantified atoms
 * break runs, and anything not understood (top-level alternation, \Q, \x, backreferences,
 * verbs, extended mode...) gives no literal. Writes at most cap bytes of the run to out (any
 * piece of a required run is required too) and returns its length, 0 when there is none.
 */
uint32_t bn__re_required_lit(const char *re, size_t n, uint8_t *out, uint32_t cap);

/* --- engine_match.c (shared by the naive matcher) --- */

/* Evaluates one value of an item against the event (any value of the field matches). */
bool bn__val_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it,
                  const struct bn__cval *cv);
/* Evaluates a whole item (OR / AND of values, or the item-level forms). */
bool bn__item_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it);
/* Matches a search identifier against a `1 of` pattern ('*' = any run). */
bool bn__name_match(const char *pat, const char *name);
/* Whether the rule's logsource applies to the event's. */
bool bn__logsource_match(const struct sigma_rule *r, const char *product, const char *category,
                         const char *service);

#endif
