/*
 * correlate.c - Sigma correlation rules evaluated over the hits of the detection rules.
 *
 * Each hit of a rule referenced by a correlation updates one group state, keyed by
 * (tenant, correlation, group-by values), in a chained hash table with a per-correlator
 * seed. A group keeps the timestamps of its hits sorted (with the rule position or the
 * counted value as a tag), so events that arrive out of order within the timespan still
 * land in the right place. What the group measures:
 *
 *   event_count       hits in the window
 *   value_count       distinct values of corr.field in the window (hits without it skip)
 *   temporal          referenced rules seen in the window, any order
 *   temporal_ordered  length of the longest prefix of corr.rules seen in that order
 *
 * Windows. The interval is closed: a hit exactly `timespan` before the newest still counts.
 *  - Conditions made only of gt/gte can only become true as hits arrive, so they are checked
 *    on every hit over a sliding window [newest - timespan, newest]; when one holds the alert
 *    is emitted at once and the group starts a new, empty window (no re-alert for every
 *    further hit). A hit older than newest - timespan is late and ignored.
 *  - Conditions with lt/lte/eq/neq can only be decided when the window is over, so those
 *    groups use a fixed window [first hit, first hit + timespan]. It is closed, and the
 *    condition checked, when a later hit of the group falls after it or when
 *    bn_correlator_expire() is called with a time after it. Hits up to one timespan older
 *    than the window start are counted in it; older ones are late. A group only exists once
 *    it has a hit, so `lt: 10` means "1 to 9 hits".
 * bn_correlator_feed() also sweeps by itself whenever event time has advanced by the
 * smallest timespan since the last sweep; at the end of input call
 * bn_correlator_expire(c, INT64_MAX) to decide the windows still open.
 *
 * Group-by values come from the event: bn_event_first() on the field's id, or a scan of
 * ev->vals by name when no rule names the field. A missing or null field groups as the empty
 * value; a multi-valued field groups by its first value. A NULL tenant equals "". Aliases map
 * a group-by name to a field per referenced rule. Events without a time take the newest
 * time seen.
 *
 * Chaining: when a correlation fires, that is a hit of its own rule for every correlation
 * referencing it (depth at most CHAIN_DEPTH_MAX). The outer group-by values are taken from
 * the inner alert's group when it has a field of the same name, else from the event that
 * completed it (none when it fired at window close: then empty). A correlation referenced by
 * other correlations emits its own alerts only if one of them says `generate: true` (the
 * rule bn_ruleset_rule_alerts() applies to detection rules); it always feeds them.
 *
 * Bounds: at most groups_max groups (the least recently fed is evicted) and events_max
 * timestamps per group (the oldest is dropped); both are counted.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bannin/correlate.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/sigma.h"
#include "detect/correlate_int.h"

#define CHAIN_DEPTH_MAX 8
#define PARTITION_SEED 0x62616e6e696e636full /* fixed: partition keys agree across processes */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define BUCKETS_MIN 64
#define SWEEP_MIN_NS 1000000000ll

/* Where a group-by (or counted) value is found in events of one referenced rule. */
struct fspec {
    uint32_t id;      /* field id in the set's table, or BN_FIELD_NONE */
    const char *name; /* borrowed from the rule */
    uint32_t len;
};

struct corr {
    uint32_t rule; /* index of the correlation rule in the set */
    enum sigma_corr_type type;
    bool deferred; /* has lt/lte/eq/neq: decided when the window closes */
    bool alerts;
    bool generate; /* its referenced rules also alert */
    int64_t span_ns;
    struct sigma_corr_cond conds[4];
    uint32_t nconds;
    uint32_t nrefs;
    uint32_t *refs;
    uint32_t ngroup;
    const char *const *group_names; /* borrowed from the rule */
    struct fspec *gspec;            /* [pos * ngroup + j] */
    struct fspec *vspec;            /* [pos], value_count only */
};

/* A (correlation, position) that a rule's hit feeds. */
struct rev {
    uint32_t corr;
    uint32_t pos;
};

struct entry {
    int64_t t;
    uint32_t tag; /* rule position (temporal*) or value id (value_count) */
};

struct vent {
    uint64_t h;
    char *s;
    uint32_t len;
    uint32_t ref; /* entries carrying this value */
};

struct group {
    struct group *hnext;
    struct group *prev, *next; /* age list: least recently fed first */
    uint64_t hash;
    uint32_t corr;
    uint32_t tlen;
    const char *tenant;
    const char **vals;  /* ngroup NUL-terminated values, in this block */
    uint32_t *vlens;
    uint32_t *refcnt;   /* temporal*: entries per rule position */
    uint32_t nseen;     /* temporal: positions with refcnt > 0 */
    int64_t ws;         /* window start (deferred) */
    int64_t newest;
    struct entry *buf;  /* entries live in buf[off .. off + nent), sorted by time */
    struct entry *ent;  /* buf + off */
    uint32_t off, nent, entcap;
    struct vent *vt;    /* value_count: values by id */
    uint32_t nvt, vtcap, live;
    uint32_t *vslot;    /* open addressing: id + 1, 0 = empty */
    uint32_t nvslot;
};

struct bn_correlator {
    bn_corr_emit_cb cb;
    void *ctx;
    struct corr *corrs;
    uint32_t ncorrs;
    uint32_t nrules;
    uint32_t *rev_start; /* nrules + 1 */
    struct rev *rev;
    uint32_t *corr_of;   /* rule index -> corr index + 1, 0 = not a correlation */
    uint64_t *stamp;     /* per corr: serial of the last event it counted */
    uint64_t serial;
    uint64_t seed;
    struct group **buckets;
    size_t nbuckets;
    struct group *head, *tail;
    struct group *pins[CHAIN_DEPTH_MAX + 2];
    int npins;
    size_t groups_max, events_max;
    int64_t clock;
    bool clock_set;
    int64_t last_sweep;
    int64_t min_span;
    const char **gbuf; /* scratch for one group key */
    uint32_t *glen;
    uint32_t max_ngroup;
    struct bn_corr_stats st;
};

/* --- hashing --- */

static uint64_t
mix(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t
mix_str(uint64_t h, const char *s, uint32_t len)
{
    h = mix(h, &len, sizeof(len));
    return mix(h, s, len);
}

static uint64_t
finish(uint64_t h)
{
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static uint64_t
make_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
            (uint64_t)(uintptr_t)&ts;
    }
    return s;
}

static int64_t
sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* --- values out of events and inner alerts --- */

static const struct bn_fval *
find_by_name(const struct bn_event *ev, const char *name, uint32_t len)
{
    for (uint32_t i = 0; i < ev->nvals; i++) {
        const struct bn_fval *v = &ev->vals[i];
        if (v->name && v->name_len == len && memcmp(v->name, name, len) == 0)
            return v;
    }
    return NULL;
}

/* The value of field f for an event (and/or an inner correlation alert); "" if missing. */
static bool
lookup(const struct fspec *f, const struct bn_event *ev, const struct bn_corr_alert *child,
       const char **s, uint32_t *len)
{
    *s = "";
    *len = 0;
    if (child) {
        for (size_t j = 0; j < child->ngroup; j++) {
            if (strcmp(child->group_names[j], f->name) == 0) {
                *s = child->group_values[j];
                *len = (uint32_t)strlen(*s);
                return true;
            }
        }
    }
    if (!ev)
        return false;
    const struct bn_fval *v = NULL;
    if (f->id != BN_FIELD_NONE)
        v = bn_event_first(ev, f->id);
    if (!v)
        v = find_by_name(ev, f->name, f->len);
    if (!v || !v->s)
        return false;
    *s = v->s;
    *len = v->len;
    return true;
}

/* --- construction --- */

static bool
rule_named(const char *ref, const struct sigma_rule *r, const char *as_written)
{
    if (!ref)
        return false;
    if (as_written && strcmp(ref, as_written) == 0)
        return true;
    return r && ((r->name && strcmp(ref, r->name) == 0) || (r->id && strcmp(ref, r->id) == 0));
}

/* Resolves a group-by (or counted) name through the aliases for the rule at pos. */
static const char *
resolve_alias(const struct sigma_correlation *sc, const char *name, uint32_t pos,
              const struct sigma_rule *ref)
{
    const char *written = pos < sc->nrules ? sc->rules[pos] : NULL;
    for (uint32_t a = 0; a < sc->naliases; a++) {
        const struct sigma_alias *al = &sc->aliases[a];
        if (!al->name || strcmp(al->name, name) != 0)
            continue;
        for (uint32_t i = 0; i < al->n; i++)
            if (rule_named(al->rules[i], ref, written) && al->fields[i])
                return al->fields[i];
    }
    return name;
}

static void
fspec_set(struct fspec *f, const char *name, const struct bn_fieldtab *ft)
{
    size_t len = strlen(name);
    f->name = name;
    f->len = (uint32_t)BN_MIN(len, (size_t)UINT32_MAX);
    f->id = ft ? bn_fieldtab_lookup(ft, name, len) : BN_FIELD_NONE;
}

static int
corr_init(struct corr *k, uint32_t idx, const struct sigma_rule *r,
          const struct bn__corr_source *src, const uint32_t *refs, size_t nrefs)
{
    const struct sigma_correlation *sc = &r->corr;
    k->rule = idx;
    k->type = sc->type;
    k->generate = sc->generate;
    k->span_ns = sc->timespan_ms <= 0                 ? 0
                 : sc->timespan_ms > INT64_MAX / 1000000 ? INT64_MAX
                                                         : sc->timespan_ms * 1000000;
    k->nconds = BN_MIN(sc->nconds, (uint32_t)BN_ARRAY_SIZE(k->conds));
    memcpy(k->conds, sc->conds, sizeof(k->conds));
    if (k->nconds == 0) {
        /* Temporal types mean "all rules seen"; count types need a condition, so treat a
         * missing one as "at least one". */
        k->conds[0].cmp = SIGMA_CMP_GTE;
        k->conds[0].value = (k->type == SIGMA_CORR_TEMPORAL ||
                             k->type == SIGMA_CORR_TEMPORAL_ORDERED)
                                ? (int64_t)nrefs
                                : 1;
        k->nconds = 1;
    }
    for (uint32_t i = 0; i < k->nconds; i++)
        if (k->conds[i].cmp != SIGMA_CMP_GT && k->conds[i].cmp != SIGMA_CMP_GTE)
            k->deferred = true;
    k->nrefs = (uint32_t)nrefs;
    k->refs = bn_calloc(nrefs, sizeof(*k->refs));
    if (!k->refs)
        return BN_ENOMEM;
    memcpy(k->refs, refs, nrefs * sizeof(*refs));
    k->ngroup = sc->ngroup_by;
    k->group_names = sc->group_by;
    k->gspec = bn_calloc((size_t)nrefs * (k->ngroup ? k->ngroup : 1), sizeof(*k->gspec));
    if (!k->gspec)
        return BN_ENOMEM;
    if (k->type == SIGMA_CORR_VALUE_COUNT) {
        k->vspec = bn_calloc(nrefs, sizeof(*k->vspec));
        if (!k->vspec)
            return BN_ENOMEM;
    }
    for (uint32_t p = 0; p < nrefs; p++) {
        const struct sigma_rule *ref = src->rule(src->ctx, refs[p]);
        for (uint32_t j = 0; j < k->ngroup; j++)
            fspec_set(&k->gspec[p * k->ngroup + j],
                      resolve_alias(sc, sc->group_by[j], p, ref), src->ft);
        if (k->vspec)
            fspec_set(&k->vspec[p], resolve_alias(sc, sc->field ? sc->field : "", p, ref),
                      src->ft);
    }
    return 0;
}

struct bn_correlator *
bn__correlator_new_src(const struct bn__corr_source *src, bn_corr_emit_cb cb, void *ctx)
{
    struct bn_correlator *c = bn_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cb = cb;
    c->ctx = ctx;
    c->seed = make_seed();
    c->groups_max = BN_CORR_GROUPS_MAX;
    c->events_max = BN_CORR_EVENTS_PER_GROUP_MAX;
    c->last_sweep = INT64_MIN;
    c->min_span = INT64_MAX;
    size_t n = src->count(src->ctx);
    if (n > UINT32_MAX - 1)
        goto fail;
    c->nrules = (uint32_t)n;
    c->corr_of = bn_calloc(n ? n : 1, sizeof(*c->corr_of));
    c->rev_start = bn_calloc(n + 1, sizeof(*c->rev_start));
    if (!c->corr_of || !c->rev_start)
        goto fail;

    uint32_t ncorr = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sigma_rule *r = src->rule(src->ctx, i);
        size_t nref = 0;
        if (r && r->kind == SIGMA_KIND_CORRELATION && src->refs(src->ctx, i, &nref) && nref)
            ncorr++;
    }
    c->corrs = bn_calloc(ncorr ? ncorr : 1, sizeof(*c->corrs));
    c->stamp = bn_calloc(ncorr ? ncorr : 1, sizeof(*c->stamp));
    if (!c->corrs || !c->stamp)
        goto fail;
    size_t nrev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sigma_rule *r = src->rule(src->ctx, i);
        size_t nref = 0;
        const uint32_t *refs;
        if (!r || r->kind != SIGMA_KIND_CORRELATION)
            continue;
        refs = src->refs(src->ctx, i, &nref);
        if (!refs || !nref)
            continue;
        bool ok = true;
        for (size_t p = 0; p < nref; p++)
            if (refs[p] >= n)
                ok = false;
        if (!ok) {
            BN_WARN("correlate", "correlation '%s' references a rule out of range, ignored",
                    r->title ? r->title : "?");
            continue;
        }
        struct corr *k = &c->corrs[c->ncorrs];
        if (corr_init(k, i, r, src, refs, nref)) {
            c->ncorrs++; /* freed with the rest */
            goto fail;
        }
        c->ncorrs++;
        c->corr_of[i] = c->ncorrs;
        c->max_ngroup = BN_MAX(c->max_ngroup, k->ngroup);
        c->min_span = BN_MIN(c->min_span, k->span_ns);
        for (size_t p = 0; p < nref; p++)
            c->rev_start[refs[p] + 1]++;
        nrev += nref;
    }
    for (uint32_t i = 0; i < n; i++)
        c->rev_start[i + 1] += c->rev_start[i];
    c->rev = bn_calloc(nrev ? nrev : 1, sizeof(*c->rev));
    uint32_t *fill = bn_calloc(n ? n : 1, sizeof(*fill));
    if (!c->rev || !fill) {
        bn_free(fill);
        goto fail;
    }
    for (uint32_t k = 0; k < c->ncorrs; k++) {
        for (uint32_t p = 0; p < c->corrs[k].nrefs; p++) {
            uint32_t r = c->corrs[k].refs[p];
            struct rev *e = &c->rev[c->rev_start[r] + fill[r]++];
            e->corr = k;
            e->pos = p;
        }
    }
    bn_free(fill);
    /* A correlation alerts unless every correlation referencing it says generate: false
     * (the same rule bn_ruleset_rule_alerts() applies to detection rules). */
    for (uint32_t k = 0; k < c->ncorrs; k++) {
        uint32_t r = c->corrs[k].rule;
        bool gen_false = false, gen_true = false;
        for (uint32_t e = c->rev_start[r]; e < c->rev_start[r + 1]; e++) {
            if (c->corrs[c->rev[e].corr].generate)
                gen_true = true;
            else
                gen_false = true;
        }
        c->corrs[k].alerts = gen_true || !gen_false;
    }
    c->gbuf = bn_calloc(c->max_ngroup ? c->max_ngroup : 1, sizeof(*c->gbuf));
    c->glen = bn_calloc(c->max_ngroup ? c->max_ngroup : 1, sizeof(*c->glen));
    c->nbuckets = BUCKETS_MIN;
    c->buckets = bn_calloc(c->nbuckets, sizeof(*c->buckets));
    if (!c->gbuf || !c->glen || !c->buckets)
        goto fail;
    if (c->min_span < SWEEP_MIN_NS)
        c->min_span = SWEEP_MIN_NS;
    return c;
fail:
    bn_correlator_free(c);
    return NULL;
}

/* --- group storage --- */

static void
vt_clear(struct group *g)
{
    for (uint32_t i = 0; i < g->nvt; i++)
        bn_free(g->vt[i].s);
    g->nvt = 0;
    g->live = 0;
    if (g->vslot)
        memset(g->vslot, 0, g->nvslot * sizeof(*g->vslot));
}

static void
group_free(struct group *g)
{
    if (!g)
        return;
    vt_clear(g);
    bn_free(g->vt);
    bn_free(g->vslot);
    bn_free(g->buf);
    bn_free(g);
}

/* Empties a group's window (after an alert or a closed window); keeps its storage. */
static void
group_reset(const struct corr *k, struct group *g)
{
    g->nent = 0;
    g->off = 0;
    g->ent = g->buf;
    vt_clear(g);
    if (g->refcnt)
        memset(g->refcnt, 0, k->nrefs * sizeof(*g->refcnt));
    g->nseen = 0;
}

static void
list_unlink(struct bn_correlator *c, struct group *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        c->head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        c->tail = g->prev;
    g->prev = g->next = NULL;
}

static void
list_append(struct bn_correlator *c, struct group *g)
{
    g->prev = c->tail;
    g->next = NULL;
    if (c->tail)
        c->tail->next = g;
    else
        c->head = g;
    c->tail = g;
}

static void
hash_unlink(struct bn_correlator *c, struct group *g)
{
    struct group **pp = &c->buckets[g->hash & (c->nbuckets - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    g->hnext = NULL;
}

/* Removes g from the table and the age list (the caller frees it). */
static void
group_detach(struct bn_correlator *c, struct group *g)
{
    hash_unlink(c, g);
    list_unlink(c, g);
    c->st.groups--;
}

static bool
pinned(const struct bn_correlator *c, const struct group *g)
{
    for (int i = 0; i < c->npins; i++)
        if (c->pins[i] == g)
            return true;
    return false;
}

/* Evicts the least recently fed group that is not in use. False if there is none. */
static bool
evict_one(struct bn_correlator *c)
{
    struct group *g = c->head;
    while (g && pinned(c, g))
        g = g->next;
    if (!g)
        return false;
    group_detach(c, g);
    group_free(g);
    c->st.groups_evicted++;
    return true;
}

static void
grow_buckets(struct bn_correlator *c)
{
    size_t n = c->nbuckets * 2;
    struct group **b = bn_calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        struct group *g = c->buckets[i];
        while (g) {
            struct group *next = g->hnext;
            g->hnext = b[g->hash & (n - 1)];
            b[g->hash & (n - 1)] = g;
            g = next;
        }
    }
    bn_free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static uint64_t
key_hash(uint64_t seed, const char *tenant, uint32_t tlen, const char *const *vals,
         const uint32_t *lens, uint32_t n)
{
    uint64_t h = mix_str(FNV_OFFSET ^ seed, tenant, tlen);
    for (uint32_t j = 0; j < n; j++)
        h = mix_str(h, vals[j], lens[j]);
    return h;
}

static bool
group_equal(const struct group *g, uint32_t corr, const char *tenant, uint32_t tlen,
            const char *const *vals, const uint32_t *lens, uint32_t n)
{
    if (g->corr != corr || g->tlen != tlen || memcmp(g->tenant, tenant, tlen) != 0)
        return false;
    for (uint32_t j = 0; j < n; j++)
        if (g->vlens[j] != lens[j] || memcmp(g->vals[j], vals[j], lens[j]) != 0)
            return false;
    return true;
}

/* Finds or creates the group of corr k for the values in c->gbuf/c->glen. Moves it to the
 * young end of the age list. 0, BN_ENOMEM, or BN_ETOOBIG when no group could be evicted. */
static int
group_get(struct bn_correlator *c, uint32_t kidx, const char *tenant, struct group **out)
{
    const struct corr *k = &c->corrs[kidx];
    size_t tl = strlen(tenant);
    uint32_t tlen = (uint32_t)BN_MIN(tl, (size_t)UINT32_MAX / 2);
    uint64_t h = key_hash(c->seed, tenant, tlen, c->gbuf, c->glen, k->ngroup);
    h = finish(mix(h, &kidx, sizeof(kidx)));
    *out = NULL;
    for (struct group *g = c->buckets[h & (c->nbuckets - 1)]; g; g = g->hnext) {
        if (g->hash == h && group_equal(g, kidx, tenant, tlen, c->gbuf, c->glen, k->ngroup)) {
            list_unlink(c, g);
            list_append(c, g);
            *out = g;
            return 0;
        }
    }
    while (c->st.groups >= c->groups_max)
        if (!evict_one(c))
            return BN_ETOOBIG;
    size_t sz = sizeof(struct group) + k->ngroup * (sizeof(char *) + sizeof(uint32_t)) +
                ((k->type == SIGMA_CORR_TEMPORAL || k->type == SIGMA_CORR_TEMPORAL_ORDERED)
                     ? k->nrefs * sizeof(uint32_t)
                     : 0) +
                (size_t)tlen + 1;
    for (uint32_t j = 0; j < k->ngroup; j++)
        sz += (size_t)c->glen[j] + 1;
    struct group *g = bn_calloc(1, sz);
    if (!g)
        return BN_ENOMEM;
    char *p = (char *)(g + 1);
    g->vals = (const char **)(void *)p;
    p += k->ngroup * sizeof(char *);
    g->vlens = (uint32_t *)(void *)p;
    p += k->ngroup * sizeof(uint32_t);
    if (k->type == SIGMA_CORR_TEMPORAL || k->type == SIGMA_CORR_TEMPORAL_ORDERED) {
        g->refcnt = (uint32_t *)(void *)p;
        p += k->nrefs * sizeof(uint32_t);
    }
    memcpy(p, tenant, tlen);
    g->tenant = p;
    g->tlen = tlen;
    p += tlen + 1;
    for (uint32_t j = 0; j < k->ngroup; j++) {
        memcpy(p, c->gbuf[j], c->glen[j]);
        g->vals[j] = p;
        g->vlens[j] = c->glen[j];
        p += c->glen[j] + 1;
    }
    g->hash = h;
    g->corr = kidx;
    g->ws = INT64_MIN;
    g->newest = INT64_MIN;
    if (c->st.groups >= c->nbuckets)
        grow_buckets(c);
    struct group **b = &c->buckets[h & (c->nbuckets - 1)];
    g->hnext = *b;
    *b = g;
    list_append(c, g);
    c->st.groups++;
    *out = g;
    return 0;
}

/* --- value table of a value_count group --- */

static int
vt_rehash(struct group *g, uint32_t nslot)
{
    uint32_t *s = bn_calloc(nslot, sizeof(*s));
    if (!s)
        return BN_ENOMEM;
    for (uint32_t id = 0; id < g->nvt; id++) {
        uint32_t i = (uint32_t)g->vt[id].h & (nslot - 1);
        while (s[i])
            i = (i + 1) & (nslot - 1);
        s[i] = id + 1;
    }
    bn_free(g->vslot);
    g->vslot = s;
    g->nvslot = nslot;
    return 0;
}

/* Drops values no entry carries any more, renumbering the entries' tags. Best effort. */
static void
vt_compact(struct group *g)
{
    uint32_t *map = bn_calloc(g->nvt, sizeof(*map));
    if (!map)
        return;
    uint32_t n = 0;
    for (uint32_t id = 0; id < g->nvt; id++) {
        if (g->vt[id].ref) {
            map[id] = n;
            g->vt[n++] = g->vt[id];
        } else {
            bn_free(g->vt[id].s);
        }
    }
    g->nvt = n;
    for (uint32_t i = 0; i < g->nent; i++)
        g->ent[i].tag = map[g->ent[i].tag];
    bn_free(map);
    memset(g->vslot, 0, g->nvslot * sizeof(*g->vslot));
    for (uint32_t id = 0; id < g->nvt; id++) {
        uint32_t i = (uint32_t)g->vt[id].h & (g->nvslot - 1);
        while (g->vslot[i])
            i = (i + 1) & (g->nvslot - 1);
        g->vslot[i] = id + 1;
    }
}

/* Returns the id of value s in *id, adding it. 0 or BN_ENOMEM. */
static int
vt_intern(const struct bn_correlator *c, struct group *g, const char *s, uint32_t len,
          uint32_t *id)
{
    uint64_t h = finish(mix_str(FNV_OFFSET ^ c->seed, s, len));
    if (g->nvslot) {
        uint32_t i = (uint32_t)h & (g->nvslot - 1);
        for (uint32_t sl; (sl = g->vslot[i]) != 0; i = (i + 1) & (g->nvslot - 1)) {
            const struct vent *v = &g->vt[sl - 1];
            if (v->h == h && v->len == len && memcmp(v->s, s, len) == 0) {
                *id = sl - 1;
                return 0;
            }
        }
    }
    if (g->nvt >= 64 && g->nvt > 2 * g->live)
        vt_compact(g);
    if ((g->nvt + 1) * 2 > g->nvslot &&
        vt_rehash(g, g->nvslot ? g->nvslot * 2 : 16))
        return BN_ENOMEM;
    if (g->nvt == g->vtcap) {
        uint32_t cap = g->vtcap ? g->vtcap * 2 : 8;
        struct vent *v = bn_reallocarray(g->vt, cap, sizeof(*v));
        if (!v)
            return BN_ENOMEM;
        g->vt = v;
        g->vtcap = cap;
    }
    char *copy = bn_strndup(s, len);
    if (!copy)
        return BN_ENOMEM;
    uint32_t nid = g->nvt++;
    g->vt[nid] = (struct vent){.h = h, .s = copy, .len = len, .ref = 0};
    uint32_t i = (uint32_t)h & (g->nvslot - 1);
    while (g->vslot[i])
        i = (i + 1) & (g->nvslot - 1);
    g->vslot[i] = nid + 1;
    *id = nid;
    return 0;
}

/* --- window entries --- */

static void
tag_add(const struct corr *k, struct group *g, uint32_t tag)
{
    if (k->type == SIGMA_CORR_VALUE_COUNT) {
        if (g->vt[tag].ref++ == 0)
            g->live++;
    } else if (g->refcnt) {
        if (g->refcnt[tag]++ == 0)
            g->nseen++;
    }
}

static void
tag_del(const struct corr *k, struct group *g, uint32_t tag)
{
    if (k->type == SIGMA_CORR_VALUE_COUNT) {
        if (--g->vt[tag].ref == 0)
            g->live--;
    } else if (g->refcnt) {
        if (--g->refcnt[tag] == 0)
            g->nseen--;
    }
}

/* Drops the n oldest entries (O(n): the start offset moves, nothing is copied). */
static void
drop_front(const struct corr *k, struct group *g, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        tag_del(k, g, g->ent[i].tag);
    g->nent -= n;
    g->off = g->nent ? g->off + n : 0;
    g->ent = g->buf + g->off;
}

/* Inserts (t, tag) in time order, after entries of the same time. 0 or BN_ENOMEM. */
static int
entry_insert(struct bn_correlator *c, const struct corr *k, struct group *g, int64_t t,
             uint32_t tag)
{
    if (g->nent >= c->events_max) {
        c->st.events_capped++;
        if (g->nent == 0 || t < g->ent[0].t)
            return 0;
        drop_front(k, g, 1);
    }
    if (g->off + g->nent == g->entcap && g->off > 0) {
        /* Slide the live entries back to the start: amortised O(1) per entry. */
        memmove(g->buf, g->ent, g->nent * sizeof(*g->ent));
        g->off = 0;
        g->ent = g->buf;
    }
    if (g->nent == g->entcap) {
        size_t cap = g->entcap ? (size_t)g->entcap * 2 : 8;
        cap = BN_MIN(cap, BN_MAX(c->events_max, (size_t)1));
        struct entry *e = bn_reallocarray(g->buf, cap, sizeof(*e));
        if (!e)
            return BN_ENOMEM;
        g->buf = e;
        g->ent = e;
        g->entcap = (uint32_t)cap;
    }
    uint32_t lo = 0, hi = g->nent;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->ent[mid].t <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(g->ent + lo + 1, g->ent + lo, (g->nent - lo) * sizeof(*g->ent));
    g->ent[lo].t = t;
    g->ent[lo].tag = tag;
    g->nent++;
    tag_add(k, g, tag);
    return 0;
}

/* What the condition compares for group g; *first is the first entry that counts. */
static uint64_t
measure(const struct corr *k, const struct group *g, int64_t *first)
{
    *first = g->nent ? g->ent[0].t : 0;
    switch (k->type) {
    case SIGMA_CORR_EVENT_COUNT:
        return g->nent;
    case SIGMA_CORR_VALUE_COUNT:
        return g->live;
    case SIGMA_CORR_TEMPORAL:
        return g->nseen;
    case SIGMA_CORR_TEMPORAL_ORDERED: {
        /* Earliest-first greedy matching finds an in-order subsequence whenever one exists. */
        uint32_t pos = 0;
        for (uint32_t i = 0; i < g->nent && pos < k->nrefs; i++) {
            if (g->ent[i].tag == pos) {
                if (pos == 0)
                    *first = g->ent[i].t;
                pos++;
            }
        }
        return pos;
    }
    }
    return 0;
}

static bool
cond_holds(const struct corr *k, uint64_t n)
{
    int64_t v = n > INT64_MAX ? INT64_MAX : (int64_t)n;
    for (uint32_t i = 0; i < k->nconds; i++) {
        int64_t x = k->conds[i].value;
        bool ok;
        switch (k->conds[i].cmp) {
        case SIGMA_CMP_GT:
            ok = v > x;
            break;
        case SIGMA_CMP_GTE:
            ok = v >= x;
            break;
        case SIGMA_CMP_LT:
            ok = v < x;
            break;
        case SIGMA_CMP_LTE:
            ok = v <= x;
            break;
        case SIGMA_CMP_EQ:
            ok = v == x;
            break;
        case SIGMA_CMP_NEQ:
            ok = v != x;
            break;
        default:
            ok = false;
            break;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* --- feeding --- */

static int deliver(struct bn_correlator *c, uint32_t kidx, uint32_t pos, const char *tenant,
                   const struct bn_event *ev, const struct bn_corr_alert *child, int64_t t,
                   int depth);

/* Emits the alert of group g and feeds it to the correlations that reference corr k. */
static int
fire(struct bn_correlator *c, const struct corr *k, struct group *g, int64_t first, int64_t last,
     uint64_t count, const struct bn_event *ev, int depth)
{
    struct bn_corr_alert a = {
        .rule = k->rule,
        .tenant = g->tlen ? g->tenant : NULL,
        .group_names = k->group_names,
        .group_values = g->vals,
        .ngroup = k->ngroup,
        .first_ns = first,
        .last_ns = last,
        .count = count,
    };
    c->st.fired++;
    if (k->alerts && c->cb) {
        c->st.alerts++;
        c->cb(c->ctx, &a);
    }
    if (depth >= CHAIN_DEPTH_MAX || c->npins >= (int)BN_ARRAY_SIZE(c->pins))
        return 0;
    int err = 0;
    c->pins[c->npins++] = g; /* the alert borrows g's values: keep g from eviction */
    for (uint32_t r = c->rev_start[k->rule]; r < c->rev_start[k->rule + 1]; r++) {
        int rc = deliver(c, c->rev[r].corr, c->rev[r].pos, g->tenant, ev, &a, last, depth + 1);
        if (rc == BN_ENOMEM)
            err = rc;
    }
    c->npins--;
    return err;
}

/* Decides a deferred window that is over, then empties it. */
static int
close_window(struct bn_correlator *c, const struct corr *k, struct group *g, int depth)
{
    if (g->nent == 0)
        return 0;
    int64_t first;
    uint64_t n = measure(k, g, &first);
    int64_t last = g->ent[g->nent - 1].t;
    group_reset(k, g);
    if (!cond_holds(k, n))
        return 0;
    return fire(c, k, g, first, last, n, NULL, depth);
}

/* One hit of the rule at position pos of correlation kidx, from an event or an inner alert. */
static int
deliver(struct bn_correlator *c, uint32_t kidx, uint32_t pos, const char *tenant,
        const struct bn_event *ev, const struct bn_corr_alert *child, int64_t t, int depth)
{
    const struct corr *k = &c->corrs[kidx];
    const char *vs = NULL;
    uint32_t vlen = 0;
    for (uint32_t j = 0; j < k->ngroup; j++)
        lookup(&k->gspec[pos * k->ngroup + j], ev, child, &c->gbuf[j], &c->glen[j]);
    if (k->type == SIGMA_CORR_VALUE_COUNT && !lookup(&k->vspec[pos], ev, child, &vs, &vlen))
        return 0; /* nothing to count */

    struct group *g;
    int rc = group_get(c, kidx, tenant, &g);
    if (rc == BN_ETOOBIG) {
        c->st.events_nogroup++;
        return 0;
    }
    if (rc)
        return rc;

    int err = 0;
    if (k->deferred && g->nent && t > sat_add(g->ws, k->span_ns)) {
        c->pins[c->npins++] = g;
        err = close_window(c, k, g, depth);
        c->npins--;
    }
    if (k->deferred) {
        if (g->nent == 0)
            g->ws = t;
        else if (t < sat_add(g->ws, -k->span_ns)) {
            c->st.events_late++;
            return err;
        }
    } else if (g->nent && t < sat_add(g->newest, -k->span_ns)) {
        c->st.events_late++;
        return err;
    }

    uint32_t tag = pos;
    if (k->type == SIGMA_CORR_VALUE_COUNT && (rc = vt_intern(c, g, vs, vlen, &tag)) != 0)
        return rc;
    if ((rc = entry_insert(c, k, g, t, tag)) != 0)
        return rc;
    if (t > g->newest || g->newest == INT64_MIN)
        g->newest = t;
    if (k->deferred)
        return err;

    /* Sliding window [newest - span, newest]. */
    int64_t lo = sat_add(g->newest, -k->span_ns);
    uint32_t old = 0;
    while (old < g->nent && g->ent[old].t < lo)
        old++;
    if (old)
        drop_front(k, g, old);
    int64_t first;
    uint64_t n = measure(k, g, &first);
    if (!cond_holds(k, n))
        return err;
    group_reset(k, g);
    rc = fire(c, k, g, first, t, n, ev, depth);
    return rc ? rc : err;
}

void
bn_correlator_expire(struct bn_correlator *c, int64_t now_ns)
{
    if (!c)
        return;
    /* Detach first, decide after: firing may add or evict groups in the table. */
    struct group *done = NULL;
    struct group *g = c->head;
    while (g) {
        struct group *next = g->next;
        const struct corr *k = &c->corrs[g->corr];
        bool over = k->deferred ? (g->nent == 0 || now_ns > sat_add(g->ws, k->span_ns))
                                : now_ns > sat_add(g->newest, k->span_ns);
        if (over && !pinned(c, g)) {
            group_detach(c, g);
            g->next = done;
            done = g;
        }
        g = next;
    }
    while (done) {
        g = done;
        done = g->next;
        const struct corr *k = &c->corrs[g->corr];
        if (k->deferred)
            (void)close_window(c, k, g, 0);
        group_free(g);
    }
    c->last_sweep = now_ns;
}

int
bn_correlator_feed(struct bn_correlator *c, const char *tenant, const struct bn_event *ev,
                   const uint32_t *hits, size_t nhits)
{
    if (!c || !ev || (nhits && !hits))
        return BN_EINVAL;
    if (!tenant)
        tenant = ev->tenant ? ev->tenant : "";
    int64_t t = ev->ts_ns;
    if (t == INT64_MIN) {
        t = c->clock_set ? c->clock : 0;
    } else if (!c->clock_set || t > c->clock) {
        c->clock = t;
        c->clock_set = true;
    }
    c->serial++;
    int err = 0;
    for (size_t i = 0; i < nhits; i++) {
        uint32_t h = hits[i];
        if (h >= c->nrules)
            continue;
        for (uint32_t r = c->rev_start[h]; r < c->rev_start[h + 1]; r++) {
            uint32_t kidx = c->rev[r].corr;
            enum sigma_corr_type ty = c->corrs[kidx].type;
            if (ty == SIGMA_CORR_EVENT_COUNT || ty == SIGMA_CORR_VALUE_COUNT) {
                /* An event hitting several referenced rules is still one event. */
                if (c->stamp[kidx] == c->serial)
                    continue;
                c->stamp[kidx] = c->serial;
            }
            int rc = deliver(c, kidx, c->rev[r].pos, tenant, ev, NULL, t, 0);
            if (rc)
                err = rc;
        }
    }
    if (c->st.groups && c->clock_set &&
        (c->last_sweep == INT64_MIN || c->clock > sat_add(c->last_sweep, c->min_span)))
        bn_correlator_expire(c, c->clock);
    return err;
}

void
bn_correlator_free(struct bn_correlator *c)
{
    if (!c)
        return;
    struct group *g = c->head;
    while (g) {
        struct group *next = g->next;
        group_free(g);
        g = next;
    }
    for (uint32_t k = 0; k < c->ncorrs; k++) {
        bn_free(c->corrs[k].refs);
        bn_free(c->corrs[k].gspec);
        bn_free(c->corrs[k].vspec);
    }
    bn_free(c->corrs);
    bn_free(c->stamp);
    bn_free(c->corr_of);
    bn_free(c->rev_start);
    bn_free(c->rev);
    bn_free(c->gbuf);
    bn_free(c->glen);
    bn_free(c->buckets);
    bn_free(c);
}

void
bn_correlator_counts(const struct bn_correlator *c, uint64_t *groups, uint64_t *dropped)
{
    if (groups)
        *groups = c ? c->st.groups : 0;
    if (dropped)
        *dropped = c ? c->st.groups_evicted : 0;
}

void
bn_correlator_stats(const struct bn_correlator *c, struct bn_corr_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (c)
        *st = c->st;
}

void
bn_correlator_set_limits(struct bn_correlator *c, size_t groups_max, size_t events_per_group_max)
{
    if (!c)
        return;
    if (groups_max)
        c->groups_max = BN_MIN(groups_max, (size_t)BN_CORR_GROUPS_MAX);
    if (events_per_group_max)
        c->events_max = BN_MIN(events_per_group_max, (size_t)BN_CORR_EVENTS_PER_GROUP_MAX);
}

uint64_t
bn_correlator_partition_key(const struct bn_correlator *c, uint32_t corr_rule, uint32_t hit_rule,
                            const char *tenant, const struct bn_event *ev)
{
    if (!c || !ev || corr_rule >= c->nrules || c->corr_of[corr_rule] == 0)
        return 0;
    const struct corr *k = &c->corrs[c->corr_of[corr_rule] - 1];
    uint32_t pos = 0;
    while (pos < k->nrefs && k->refs[pos] != hit_rule)
        pos++;
    if (pos == k->nrefs)
        return 0;
    if (!tenant)
        tenant = ev->tenant ? ev->tenant : "";
    size_t tl = strlen(tenant);
    uint64_t h = mix_str(FNV_OFFSET ^ PARTITION_SEED, tenant,
                         (uint32_t)BN_MIN(tl, (size_t)UINT32_MAX / 2));
    for (uint32_t j = 0; j < k->ngroup; j++) {
        const char *s;
        uint32_t len;
        lookup(&k->gspec[pos * k->ngroup + j], ev, NULL, &s, &len);
        h = mix_str(h, s, len);
    }
    h = finish(h);
    return h ? h : 1;
}
