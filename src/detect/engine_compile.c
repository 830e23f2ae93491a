/*
 * engine_compile.c - compiles parsed Sigma rules into an immutable bn_ruleset.
 *
 * Steps: (1) every detection and filter rule becomes the item layer (engine_value.c does the
 * values) and a condition program over predicates; literal predicates are shared across rules
 * when field, case and patterns are equal. (2) correlation references are resolved and
 * filters attached to the rules they name. (3) each literal predicate gets its direct-match
 * form and its trigger literals (the longest wildcard-free pieces that any matching value
 * must contain); each rule gets a cover, a set of literal predicates one of which must be
 * true for it to be true, chosen to be selective; the trigger literals of all covers form
 * one caseless Hyperscan database. A rule without a cover is evaluated on every event of its
 * logsource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bannin/mapping.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/pool.h"
#include "detect/engine_int.h"

/* Program under construction (heap, reused across rules). */
struct pbuild {
    struct bn_ruleset *rs;
    struct bn__crule *cr;
    struct bn__node *nodes;
    uint32_t nn, ncap;
    uint32_t *kids;
    uint32_t nk, kcap;
    uint32_t *dedup;   /* hash slot -> literal pred id + 1 */
    uint32_t dcap;     /* power of two */
    uint32_t dcount;
    uint32_t pcap;     /* capacity of rs->preds */
    struct bn_diag *d;
};

bool
bn__name_match(const char *pat, const char *name)
{
    while (*pat) {
        if (*pat == '*') {
            while (*pat == '*')
                pat++;
            if (!*pat)
                return true;
            for (; *name; name++)
                if (bn__name_match(pat, name))
                    return true;
            return false;
        }
        if (*pat != *name)
            return false;
        pat++;
        name++;
    }
    return *name == '\0';
}

/* A filter's logsource attribute applies to a rule's when unset or equal. */
static bool
attr_match(const char *want, const char *have)
{
    if (!want || !*want)
        return true;
    return have && strcasecmp(want, have) == 0;
}

/* Logsource semantics (including registry_event covering registry_add/set/delete/rename
 * and the Linux syslog/auth service families) are defined once, by the mapping. */
bool
bn__logsource_match(const struct sigma_rule *r, const char *product, const char *category,
                    const char *service)
{
    return bn_logsource_applies(r->logsource.product, r->logsource.category,
                                r->logsource.service, product, category, service);
}

static const char *
rfile(const struct sigma_rule *r)
{
    return r->file ? r->file : "<input>";
}

/* --- item layer --- */

static int
compile_item(struct bn_ruleset *rs, const struct sigma_rule *r, const struct sigma_item *it,
             const struct bn_compile_opts *opts, struct bn__citem *ci, struct bn_diag *d)
{
    memset(ci, 0, sizeof(*ci));
    ci->src = it;
    ci->pred = UINT32_MAX;
    ci->all = (it->modmask & (1u << SIGMA_MOD_ALL)) != 0;
    ci->cased = (it->modmask & (1u << SIGMA_MOD_CASED)) != 0;
    ci->neq = (it->modmask & (1u << SIGMA_MOD_NEQ)) != 0;
    for (uint8_t m = 0; m < it->nmods; m++)
        if (it->mods[m] >= SIGMA_MOD_MINUTE && it->mods[m] <= SIGMA_MOD_YEAR && !ci->timepart)
            ci->timepart = it->mods[m];
    if (it->field) {
        int rc = bn_fieldtab_intern(rs->ft, it->field, strlen(it->field), &ci->field);
        if (rc == BN_ETOOBIG)
            return bn_diag_set(d, BN_ETOOBIG, rfile(r), it->line, it->col,
                               "too many fields or field name too long: '%.64s'", it->field);
        if (rc)
            return rc;
    } else {
        ci->field = BN__KEYWORD;
    }
    if (it->nvalues == 0)
        return bn_diag_set(d, BN_EPARSE, rfile(r), it->line, it->col, "no value for '%s'",
                           it->field ? it->field : "keywords");
    ci->vals = bn_pool_calloc(rs->pool, it->nvalues, sizeof(*ci->vals));
    if (!ci->vals)
        return BN_ENOMEM;
    ci->nvals = it->nvalues;
    for (uint32_t i = 0; i < it->nvalues; i++) {
        int rc = bn__cval_build(rs, r, it, &it->values[i], opts, &ci->vals[i], d);
        if (rc)
            return rc;
    }
    return 0;
}

static int
compile_searches(struct bn_ruleset *rs, struct bn__crule *cr, const struct bn_compile_opts *opts,
                 struct bn_diag *d)
{
    const struct sigma_rule *r = cr->r;
    cr->nsearches = r->nsearches;
    cr->searches = bn_pool_calloc(rs->pool, r->nsearches ? r->nsearches : 1,
                                  sizeof(*cr->searches));
    if (!cr->searches)
        return BN_ENOMEM;
    for (uint32_t s = 0; s < r->nsearches; s++) {
        const struct sigma_search *ss = &r->searches[s];
        struct bn__csearch *cs = &cr->searches[s];
        cs->name = ss->name ? ss->name : "";
        cs->nalts = ss->nalts;
        cs->alts = bn_pool_calloc(rs->pool, ss->nalts ? ss->nalts : 1, sizeof(*cs->alts));
        if (!cs->alts)
            return BN_ENOMEM;
        for (uint32_t a = 0; a < ss->nalts; a++) {
            const struct sigma_map *m = &ss->alts[a];
            cs->alts[a].nitems = m->nitems;
            cs->alts[a].items = bn_pool_calloc(rs->pool, m->nitems ? m->nitems : 1,
                                               sizeof(*cs->alts[a].items));
            if (!cs->alts[a].items)
                return BN_ENOMEM;
            for (uint32_t i = 0; i < m->nitems; i++) {
                int rc = compile_item(rs, r, &m->items[i], opts, &cs->alts[a].items[i], d);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

/* --- predicates --- */

static inline uint16_t
tok_fold(uint16_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint16_t)(c + 32) : c;
}

static uint64_t
lit_hash(uint32_t field, bool cased, const struct bn__cval *cv)
{
    uint64_t h = 0xcbf29ce484222325ull ^ field ^ ((uint64_t)cased << 40);
    for (uint32_t v = 0; v < cv->nvars; v++) {
        for (uint32_t i = 0; i < cv->vars[v].n; i++) {
            h ^= cased ? cv->vars[v].c[i] : tok_fold(cv->vars[v].c[i]);
            h *= 0x100000001b3ull;
        }
        h ^= 0x1ff;
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static bool
lit_equal(const struct bn__pred *p, uint32_t field, bool cased, const struct bn__cval *cv)
{
    if (p->field != field || p->item->cased != cased || p->val->nvars != cv->nvars)
        return false;
    for (uint32_t v = 0; v < cv->nvars; v++) {
        if (p->val->vars[v].n != cv->vars[v].n)
            return false;
        for (uint32_t i = 0; i < cv->vars[v].n; i++) {
            uint16_t a = p->val->vars[v].c[i], b = cv->vars[v].c[i];
            if (a != b && (cased || tok_fold(a) != tok_fold(b)))
                return false;
        }
    }
    return true;
}

/* A value Vectorscan can serve: glob variants, each with something besides '*'. */
static bool
literal_ok(const struct bn__citem *it, const struct bn__cval *cv)
{
    if (cv->kind != BN__V_GLOB || it->neq || cv->nvars == 0)
        return false;
    for (uint32_t v = 0; v < cv->nvars; v++) {
        bool any = false;
        for (uint32_t i = 0; i < cv->vars[v].n && !any; i++)
            any = cv->vars[v].c[i] != BN__TOK_STAR;
        if (!any)
            return false;
    }
    return true;
}

static int
new_pred(struct pbuild *b, uint8_t kind, const struct bn__citem *it, const struct bn__cval *cv,
         uint32_t *id)
{
    struct bn_ruleset *rs = b->rs;
    if (rs->npreds == b->pcap) {
        uint32_t cap = b->pcap ? b->pcap * 2 : 256;
        struct bn__pred *np = bn_reallocarray(rs->preds, cap, sizeof(*np));
        if (!np)
            return BN_ENOMEM;
        rs->preds = np;
        b->pcap = cap;
    }
    struct bn__pred *p = &rs->preds[rs->npreds];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->field = it->field;
    p->cased = it->cased;
    p->item = it;
    p->val = cv;
    *id = rs->npreds++;
    return 0;
}

static int
dedup_grow(struct pbuild *b)
{
    uint32_t cap = b->dcap ? b->dcap * 2 : 1024;
    uint32_t *nd = bn_calloc(cap, sizeof(*nd));
    if (!nd)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < b->dcap; i++) {
        if (!b->dedup[i])
            continue;
        const struct bn__pred *p = &b->rs->preds[b->dedup[i] - 1];
        uint32_t h = (uint32_t)lit_hash(p->field, p->item->cased, p->val) & (cap - 1);
        while (nd[h])
            h = (h + 1) & (cap - 1);
        nd[h] = b->dedup[i];
    }
    bn_free(b->dedup);
    b->dedup = nd;
    b->dcap = cap;
    return 0;
}

static int
val_pred(struct pbuild *b, const struct bn__citem *it, struct bn__cval *cv, uint32_t *id)
{
    if (cv->pred != UINT32_MAX) {
        *id = cv->pred;
        return 0;
    }
    int rc;
    if (!literal_ok(it, cv)) {
        if ((rc = new_pred(b, BN__P_VAL, it, cv, id)))
            return rc;
        cv->pred = *id;
        return 0;
    }
    if ((b->dcount + 1) * 2 > b->dcap && (rc = dedup_grow(b)))
        return rc;
    uint32_t mask = b->dcap - 1;
    uint32_t h = (uint32_t)lit_hash(it->field, it->cased, cv) & mask;
    for (; b->dedup[h]; h = (h + 1) & mask) {
        const struct bn__pred *p = &b->rs->preds[b->dedup[h] - 1];
        if (lit_equal(p, it->field, it->cased, cv)) {
            cv->pred = *id = b->dedup[h] - 1;
            return 0;
        }
    }
    if ((rc = new_pred(b, BN__P_LIT, it, cv, id)))
        return rc;
    b->dedup[h] = *id + 1;
    b->dcount++;
    cv->pred = *id;
    return 0;
}

/* --- condition programs --- */

static int
push_node(struct pbuild *b, uint8_t op, uint32_t a, uint32_t n, uint32_t *out)
{
    if (b->nn == b->ncap) {
        uint32_t cap = b->ncap ? b->ncap * 2 : 64;
        struct bn__node *nn = bn_reallocarray(b->nodes, cap, sizeof(*nn));
        if (!nn)
            return BN_ENOMEM;
        b->nodes = nn;
        b->ncap = cap;
    }
    b->nodes[b->nn].op = op;
    b->nodes[b->nn].a = a;
    b->nodes[b->nn].n = n;
    *out = b->nn++;
    return 0;
}

/* Cost class for ordering children: literal predicates first, regexes last. */
static int
node_cost(const struct pbuild *b, uint32_t node)
{
    const struct bn__node *nd = &b->nodes[node];
    if (nd->op == BN__OP_TRUE || nd->op == BN__OP_FALSE)
        return 0;
    if (nd->op != BN__OP_PRED)
        return 2;
    const struct bn__pred *p = &b->rs->preds[nd->a];
    if (p->kind == BN__P_LIT)
        return 0;
    if (p->val && p->val->kind == BN__V_RE)
        return 3;
    return 1;
}

/* Adds an n-ary node over kids (a temporary array). */
static int
push_nary(struct pbuild *b, uint8_t op, uint32_t *kids, uint32_t n, uint32_t *out)
{
    if (n == 0)
        return push_node(b, op == BN__OP_AND ? BN__OP_TRUE : BN__OP_FALSE, 0, 0, out);
    if (n == 1) {
        *out = kids[0];
        return 0;
    }
    /* stable insertion sort by cost: short-circuit skips expensive predicates */
    for (uint32_t i = 1; i < n; i++) {
        uint32_t k = kids[i];
        int c = node_cost(b, k);
        uint32_t j = i;
        while (j > 0 && node_cost(b, kids[j - 1]) > c) {
            kids[j] = kids[j - 1];
            j--;
        }
        kids[j] = k;
    }
    if (b->nk + n > b->kcap) {
        uint32_t cap = b->kcap ? b->kcap : 64;
        while (cap < b->nk + n)
            cap *= 2;
        uint32_t *nk = bn_reallocarray(b->kids, cap, sizeof(*nk));
        if (!nk)
            return BN_ENOMEM;
        b->kids = nk;
        b->kcap = cap;
    }
    memcpy(b->kids + b->nk, kids, n * sizeof(*kids));
    int rc = push_node(b, op, b->nk, n, out);
    if (rc == 0)
        b->nk += n;
    return rc;
}

static int
build_item(struct pbuild *b, struct bn__citem *it, uint32_t *out)
{
    int rc;
    uint32_t id;
    if (it->neq) {
        if (it->pred == UINT32_MAX) {
            if ((rc = new_pred(b, BN__P_ITEM, it, NULL, &id)))
                return rc;
            it->pred = id;
        }
        return push_node(b, BN__OP_PRED, it->pred, 0, out);
    }
    uint32_t *kids = bn_calloc(it->nvals, sizeof(*kids));
    if (!kids)
        return BN_ENOMEM;
    for (uint32_t v = 0; v < it->nvals; v++) {
        if ((rc = val_pred(b, it, &it->vals[v], &id)) ||
            (rc = push_node(b, BN__OP_PRED, id, 0, &kids[v])))
            goto out;
    }
    rc = push_nary(b, it->all ? BN__OP_AND : BN__OP_OR, kids, it->nvals, out);
out:
    bn_free(kids);
    return rc;
}

static int
build_search(struct pbuild *b, struct bn__csearch *cs, uint32_t *out)
{
    int rc = 0;
    uint32_t *alts = bn_calloc(cs->nalts ? cs->nalts : 1, sizeof(*alts));
    if (!alts)
        return BN_ENOMEM;
    for (uint32_t a = 0; a < cs->nalts && rc == 0; a++) {
        struct bn__calt *alt = &cs->alts[a];
        uint32_t *items = bn_calloc(alt->nitems ? alt->nitems : 1, sizeof(*items));
        if (!items) {
            rc = BN_ENOMEM;
            break;
        }
        for (uint32_t i = 0; i < alt->nitems && rc == 0; i++)
            rc = build_item(b, &alt->items[i], &items[i]);
        if (rc == 0)
            rc = push_nary(b, BN__OP_AND, items, alt->nitems, &alts[a]);
        bn_free(items);
    }
    if (rc == 0)
        rc = push_nary(b, BN__OP_OR, alts, cs->nalts, out);
    bn_free(alts);
    return rc;
}

static int build_cond(struct pbuild *b, struct bn__crule *cr, const struct sigma_cond *c,
                      uint32_t *out);

/* Collects the operands of a chain of the same binary operator. */
static int
collect_chain(struct pbuild *b, struct bn__crule *cr, const struct sigma_cond *c,
              enum sigma_cond_op op, uint32_t **kids, uint32_t *n, uint32_t *cap)
{
    if (c->op == op && c->a && c->b) {
        int rc = collect_chain(b, cr, c->a, op, kids, n, cap);
        return rc ? rc : collect_chain(b, cr, c->b, op, kids, n, cap);
    }
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        uint32_t *nk = bn_reallocarray(*kids, nc, sizeof(*nk));
        if (!nk)
            return BN_ENOMEM;
        *kids = nk;
        *cap = nc;
    }
    return build_cond(b, cr, c, &(*kids)[(*n)++]);
}

static int
build_cond(struct pbuild *b, struct bn__crule *cr, const struct sigma_cond *c, uint32_t *out)
{
    const struct sigma_rule *r = cr->r;
    int rc;
    if (!c)
        return bn_diag_set(b->d, BN_EPARSE, rfile(r), r->line, 0, "missing condition");
    switch (c->op) {
    case SIGMA_C_AND:
    case SIGMA_C_OR: {
        uint32_t *kids = NULL, n = 0, cap = 0;
        rc = collect_chain(b, cr, c, c->op, &kids, &n, &cap);
        if (rc == 0)
            rc = push_nary(b, c->op == SIGMA_C_AND ? BN__OP_AND : BN__OP_OR, kids, n, out);
        bn_free(kids);
        return rc;
    }
    case SIGMA_C_NOT: {
        uint32_t k;
        if ((rc = build_cond(b, cr, c->a, &k)))
            return rc;
        return push_node(b, BN__OP_NOT, k, 0, out);
    }
    case SIGMA_C_ID:
        for (uint32_t s = 0; s < cr->nsearches; s++)
            if (c->name && strcmp(cr->searches[s].name, c->name) == 0)
                return build_search(b, &cr->searches[s], out);
        return bn_diag_set(b->d, BN_EPARSE, rfile(r), r->line, c->col,
                           "condition names unknown search identifier '%.64s'",
                           c->name ? c->name : "");
    case SIGMA_C_ONE_OF:
    case SIGMA_C_ALL_OF:
    case SIGMA_C_ONE_OF_THEM:
    case SIGMA_C_ALL_OF_THEM: {
        bool them = c->op == SIGMA_C_ONE_OF_THEM || c->op == SIGMA_C_ALL_OF_THEM;
        bool all = c->op == SIGMA_C_ALL_OF || c->op == SIGMA_C_ALL_OF_THEM;
        uint32_t *kids = bn_calloc(cr->nsearches ? cr->nsearches : 1, sizeof(*kids));
        uint32_t n = 0;
        if (!kids)
            return BN_ENOMEM;
        rc = 0;
        for (uint32_t s = 0; s < cr->nsearches && rc == 0; s++) {
            const char *name = cr->searches[s].name;
            if (them ? name[0] == '_' : !bn__name_match(c->name ? c->name : "", name))
                continue;
            rc = build_search(b, &cr->searches[s], &kids[n++]);
        }
        if (rc == 0 && n == 0)
            rc = bn_diag_set(b->d, BN_EPARSE, rfile(r), r->line, c->col,
                             "'%s' matches no search identifier",
                             them ? "them" : (c->name ? c->name : ""));
        if (rc == 0)
            rc = push_nary(b, all ? BN__OP_AND : BN__OP_OR, kids, n, out);
        bn_free(kids);
        return rc;
    }
    }
    return bn_diag_set(b->d, BN_EPARSE, rfile(r), r->line, c->col, "bad condition node");
}

/* Builds cr's program: its condition AND NOT each applied filter's condition. */
static int
build_program(struct pbuild *b, struct bn__crule *cr)
{
    b->nn = b->nk = 0;
    b->cr = cr;
    uint32_t root;
    int rc = build_cond(b, cr, cr->r->cond, &root);
    if (rc)
        return rc;
    if (cr->nfilters) {
        uint32_t *kids = bn_calloc(cr->nfilters + 1, sizeof(*kids));
        if (!kids)
            return BN_ENOMEM;
        kids[0] = root;
        for (uint32_t f = 0; f < cr->nfilters && rc == 0; f++) {
            struct bn__crule *fr = &b->rs->rules[cr->filters[f]];
            uint32_t fk;
            rc = build_cond(b, fr, fr->r->cond, &fk);
            if (rc == 0)
                rc = push_node(b, BN__OP_NOT, fk, 0, &kids[f + 1]);
        }
        if (rc == 0)
            rc = push_nary(b, BN__OP_AND, kids, cr->nfilters + 1, &root);
        bn_free(kids);
        if (rc)
            return rc;
    }
    struct bn_ruleset *rs = b->rs;
    cr->nodes = bn_pool_alloc(rs->pool, (size_t)b->nn * sizeof(*cr->nodes));
    cr->kids = bn_pool_alloc(rs->pool, ((size_t)b->nk + 1) * sizeof(*cr->kids));
    if (!cr->nodes || !cr->kids)
        return BN_ENOMEM;
    memcpy(cr->nodes, b->nodes, b->nn * sizeof(*cr->nodes));
    if (b->nk)
        memcpy(cr->kids, b->kids, b->nk * sizeof(*cr->kids));
    cr->nnodes = b->nn;
    cr->root = root;
    return 0;
}

/* --- trigger literals --- */

/* Longest trigger literal kept: any piece of a required string is required too. */
#define FAC_LEN_MAX 48

/* Interned trigger literals (folded to lower case) while compiling. */
struct factab {
    uint8_t **s;
    uint32_t *len;
    uint32_t *uses;     /* rules naming the literal: a proxy for how common it is in data */
    uint32_t n, cap;
    uint32_t *hash;     /* slot -> index + 1 */
    uint32_t hcap;      /* power of two */
};

static void
factab_release(struct factab *t)
{
    bn_free(t->s);
    bn_free(t->len);
    bn_free(t->uses);
    bn_free(t->hash);
    memset(t, 0, sizeof(*t));
}

static uint32_t
fac_hash(const uint8_t *s, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static int
factab_grow(struct factab *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    uint8_t **ns = bn_reallocarray(t->s, cap, sizeof(*ns));
    if (!ns)
        return BN_ENOMEM;
    t->s = ns;
    uint32_t *nl = bn_reallocarray(t->len, cap, sizeof(*nl));
    if (!nl)
        return BN_ENOMEM;
    t->len = nl;
    uint32_t *nu = bn_reallocarray(t->uses, cap, sizeof(*nu));
    if (!nu)
        return BN_ENOMEM;
    t->uses = nu;
    t->cap = cap;
    uint32_t hcap = cap * 2;
    uint32_t *nh = bn_calloc(hcap, sizeof(*nh));
    if (!nh)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t h = fac_hash(t->s[i], t->len[i]) & (hcap - 1);
        while (nh[h])
            h = (h + 1) & (hcap - 1);
        nh[h] = i + 1;
    }
    bn_free(t->hash);
    t->hash = nh;
    t->hcap = hcap;
    return 0;
}

/* Interns the folded byte tokens c[0..n) (n <= FAC_LEN_MAX); *id gets the literal's index. */
static int
factab_intern(struct bn_ruleset *rs, struct factab *t, const uint16_t *c, uint32_t n,
              uint32_t *id)
{
    uint8_t tmp[FAC_LEN_MAX];
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)tok_fold(c[i]);
    int rc;
    if (t->n == t->cap && (rc = factab_grow(t)))
        return rc;
    uint32_t mask = t->hcap - 1;
    uint32_t h = fac_hash(tmp, n) & mask;
    for (; t->hash[h]; h = (h + 1) & mask) {
        uint32_t k = t->hash[h] - 1;
        if (t->len[k] == n && memcmp(t->s[k], tmp, n) == 0) {
            *id = k;
            return 0;
        }
    }
    uint8_t *s = bn_pool_alloc(rs->tmp, n ? n : 1);
    if (!s)
        return BN_ENOMEM;
    memcpy(s, tmp, n);
    t->s[t->n] = s;
    t->len[t->n] = n;
    t->uses[t->n] = 0;
    t->hash[h] = t->n + 1;
    *id = t->n++;
    return 0;
}

/* Whether tokens c[0..n) hold the byte string p[0..m) (caseless). */
static bool
toks_contain(const uint16_t *c, uint32_t n, const uint16_t *p, uint32_t m)
{
    for (uint32_t i = 0; i + m <= n; i++) {
        uint32_t k = 0;
        while (k < m && c[i + k] < 256 && tok_fold(c[i + k]) == tok_fold(p[k]))
            k++;
        if (k == m)
            return true;
    }
    return false;
}

/* Whether a byte separates windash-style variants: the dashes and slashes, UTF-8 bytes. */
static bool
dashy(uint16_t c)
{
    return c == '-' || c == '/' || c >= 0x80;
}

/*
 * Picks the trigger literals of a LIT predicate: one piece of the first variant present in
 * every variant when there is one of at least BN__FAC_MIN bytes (windash, and expansions that
 * share a word, get a single literal instead of one per variant), else the longest wildcard-free
 * run of each variant. Sets p->facs/nfacs, or leaves nfacs 0 when a run is too short.
 */
static int
pred_facs(struct bn_ruleset *rs, struct factab *ft, struct bn__pred *p)
{
    const struct bn__cval *cv = p->val;
    const struct bn__sstr *v0 = &cv->vars[0];
    uint32_t best_a = 0, best_n = 0;
    if (cv->nvars > 1) {
        /* the longest dash-free piece of variant 0 found in all others */
        for (uint32_t i = 0; i < v0->n;) {
            if (v0->c[i] >= 256 || dashy(v0->c[i])) {
                i++;
                continue;
            }
            uint32_t j = i;
            while (j < v0->n && v0->c[j] < 256 && !dashy(v0->c[j]))
                j++;
            uint32_t n = BN_MIN(j - i, FAC_LEN_MAX);
            if (n > best_n) {
                bool all = true;
                for (uint32_t v = 1; v < cv->nvars && all; v++)
                    all = toks_contain(cv->vars[v].c, cv->vars[v].n, v0->c + i, n);
                if (all) {
                    best_a = i;
                    best_n = n;
                }
            }
            i = j;
        }
    }
    uint32_t nf = best_n >= BN__FAC_MIN ? 1 : cv->nvars;
    uint32_t *facs = bn_pool_alloc(rs->pool, (size_t)nf * sizeof(*facs));
    if (!facs)
        return BN_ENOMEM;
    int rc;
    if (best_n >= BN__FAC_MIN) {
        if ((rc = factab_intern(rs, ft, v0->c + best_a, best_n, &facs[0])))
            return rc;
    } else {
        for (uint32_t v = 0; v < cv->nvars; v++) {
            const struct bn__sstr *ss = &cv->vars[v];
            uint32_t ba = 0, bn = 0;
            for (uint32_t i = 0; i < ss->n;) {
                if (ss->c[i] >= 256) {
                    i++;
                    continue;
                }
                uint32_t j = i;
                while (j < ss->n && ss->c[j] < 256)
                    j++;
                if (j - i > bn) {
                    ba = i;
                    bn = j - i;
                }
                i = j;
            }
            if (bn < BN__FAC_MIN)
                return 0;
            if ((rc = factab_intern(rs, ft, ss->c + ba, BN_MIN(bn, FAC_LEN_MAX), &facs[v])))
                return rc;
        }
    }
    /* the same literal twice (variants differing only in case) is one trigger */
    uint32_t k = 0;
    for (uint32_t i = 0; i < nf; i++) {
        bool dup = false;
        for (uint32_t j = 0; j < k && !dup; j++)
            dup = facs[j] == facs[i];
        if (!dup)
            facs[k++] = facs[i];
    }
    p->facs = facs;
    p->nfacs = k;
    return 0;
}

/* --- required literals of regular expressions --- */

/* Skips a character class starting at re[i] == '['; returns the index after ']' or 0. */
static size_t
re_skip_class(const char *re, size_t n, size_t i)
{
    i++;
    if (i < n && re[i] == '^')
        i++;
    if (i < n && re[i] == ']')
        i++; /* a leading ']' is literal */
    while (i < n) {
        if (re[i] == '\\') {
            i += 2;
        } else if (re[i] == '[' && i + 1 < n && re[i + 1] == ':') {
            const char *e = memmem(re + i + 2, n - i - 2, ":]", 2);
            if (!e)
                return 0;
            i = (size_t)(e - re) + 2;
        } else if (re[i] == ']') {
            return i + 1;
        } else {
            i++;
        }
    }
    return 0;
}

/* Skips a group starting at re[i] == '('; returns the index after its ')' or 0. */
static size_t
re_skip_group(const char *re, size_t n, size_t i)
{
    int depth = 0;
    while (i < n) {
        char c = re[i];
        if (c == '\\') {
            i += 2;
        } else if (c == '[') {
            if (!(i = re_skip_class(re, n, i)))
                return 0;
        } else if (c == '(') {
            depth++;
            i++;
        } else if (c == ')') {
            i++;
            if (--depth == 0)
                return i;
        } else {
            i++;
        }
    }
    return 0;
}

/* Whether re[i..] starts a {n}, {n,}, {n,m} or {,m} quantifier; *end gets the index after '}'. */
static bool
re_quant_brace(const char *re, size_t n, size_t i, size_t *end)
{
    size_t j = i + 1;
    bool digits = false;
    while (j < n && ((re[j] >= '0' && re[j] <= '9') || re[j] == ',' || re[j] == ' ')) {
        digits |= re[j] >= '0' && re[j] <= '9';
        j++;
    }
    if (j < n && re[j] == '}' && digits) {
        *end = j + 1;
        return true;
    }
    return false;
}

uint32_t
bn__re_required_lit(const char *re, size_t n, uint8_t *out, uint32_t cap)
{
    uint8_t run[256];
    uint32_t rl = 0, best = 0;
    size_t i = 0;
#define RE_END_RUN()                                                                             \
    do {                                                                                         \
        if (rl > best) {                                                                         \
            best = BN_MIN(rl, cap);                                                              \
            memcpy(out, run, best);                                                              \
        }                                                                                        \
        rl = 0;                                                                                  \
    } while (0)
    if (cap == 0)
        return 0;
    while (i < n) {
        uint8_t c = (uint8_t)re[i];
        size_t end;
        switch (c) {
        case '|':
        case ')':
            return 0; /* top-level alternation (or unbalanced) */
        case '*':
        case '?':
            if (rl)
                rl--; /* the atom before is optional */
            RE_END_RUN();
            i++;
            continue;
        case '+':
            RE_END_RUN();
            i++;
            continue;
        case '{':
            if (re_quant_brace(re, n, i, &end)) {
                if (rl)
                    rl--;
                i = end;
            } else {
                i++;
            }
            RE_END_RUN();
            continue;
        case '.':
        case '^':
        case '$':
            RE_END_RUN();
            i++;
            continue;
        case '[':
            RE_END_RUN();
            if (!(i = re_skip_class(re, n, i)))
                return 0;
            continue;
        case '(':
            RE_END_RUN();
            if (i + 1 < n && re[i + 1] == '*')
                return 0; /* verbs such as (*UTF) */
            if (i + 2 < n && re[i + 1] == '?' && re[i + 2] == '#')
                return 0; /* comments end at the first ')', escapes or not */
            if (i + 1 < n && re[i + 1] == '?') {
                /* an option setting such as (?i) or (?-s); extended mode changes the syntax */
                size_t j = i + 2;
                while (j < n && (re[j] == 'i' || re[j] == 'm' || re[j] == 's' || re[j] == '-'))
                    j++;
                if (j < n && re[j] == ')' && j > i + 2) {
                    i = j + 1;
                    continue;
                }
                for (size_t k = i + 2; k < n && re[k] != ':' && re[k] != ')'; k++)
                    if (re[k] == 'x')
                        return 0;
            }
            if (!(i = re_skip_group(re, n, i)))
                return 0;
            continue;
        case '\\':
            if (i + 1 >= n)
                return 0;
            c = (uint8_t)re[i + 1];
            if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                              (c >= 'A' && c <= 'Z'))) {
                if (rl == sizeof(run))
                    RE_END_RUN();
                run[rl++] = c; /* an escaped punctuation character stands for itself */
                i += 2;
                continue;
            }
            if (strchr("bBAzZGdDwWsShHvVRN", c) && c) {
                RE_END_RUN(); /* assertions and one-character classes */
                i += 2;
                continue;
            }
            return 0; /* \Q, \x, \p, \k, \g, backreferences...: not understood */
        default:
            if (c >= 0x80 || c < 0x20) {
                RE_END_RUN();
                i++;
                continue;
            }
            if (rl == sizeof(run))
                RE_END_RUN();
            run[rl++] = c;
            i++;
            continue;
        }
    }
    RE_END_RUN();
#undef RE_END_RUN
    return best;
}

/* The direct-evaluation form of each variant of a LIT predicate. */
static int
pred_lits(struct bn_ruleset *rs, struct bn__pred *p)
{
    const struct bn__cval *cv = p->val;
    bool cased = p->item->cased;
    p->lits = bn_pool_calloc(rs->pool, cv->nvars, sizeof(*p->lits));
    if (!p->lits)
        return BN_ENOMEM;
    p->nlits = cv->nvars;
    for (uint32_t v = 0; v < cv->nvars; v++) {
        const struct bn__sstr *ss = &cv->vars[v];
        struct bn__lit *l = &p->lits[v];
        uint32_t a = 0, e = ss->n;
        while (a < e && ss->c[a] == BN__TOK_STAR)
            a++;
        while (e > a && ss->c[e - 1] == BN__TOK_STAR)
            e--;
        bool plain = true;
        for (uint32_t t = a; t < e && plain; t++)
            plain = ss->c[t] < 256;
        if (!plain) {
            l->glob = ss;
            continue;
        }
        uint8_t *s = bn_pool_alloc(rs->pool, (size_t)(e - a) + 1);
        if (!s)
            return BN_ENOMEM;
        for (uint32_t t = a; t < e; t++)
            s[t - a] = (uint8_t)(cased ? ss->c[t] : tok_fold(ss->c[t]));
        l->s = s;
        l->len = e - a;
        l->anchor = (uint8_t)((a == 0 ? BN__ANCHOR_START : 0) | (e == ss->n ? BN__ANCHOR_END : 0));
    }
    return 0;
}

/* How selective a predicate's triggers are: short and widely used literals score low. */
static int
pred_strength(const struct factab *ft, const struct bn__pred *p)
{
    if (p->nfacs == 0)
        return -1;
    int best = INT32_MAX;
    for (uint32_t i = 0; i < p->nfacs; i++) {
        uint32_t f = p->facs[i];
        int sc = (int)BN_MIN(ft->len[f], 16u) * 4;
        uint32_t u = ft->uses[f];
        while (u > 4) { /* about -4 per doubling past 4 users */
            sc -= 4;
            u >>= 1;
        }
        best = BN_MIN(best, BN_MAX(sc, 1));
    }
    /* many alternatives add up: each may hit */
    for (uint32_t n = p->nfacs; n > 1; n >>= 1)
        best = BN_MAX(best - 1, 1);
    return best;
}

/* A regex value's trigger: the literal every match contains, when there is a long one. */
static int
re_facs(struct bn_ruleset *rs, struct factab *ft, struct bn__pred *p)
{
    const struct bn__citem *it = p->item;
    size_t vi = (size_t)(p->val - it->vals);
    if (!it->src || vi >= it->src->nvalues || it->neq || it->timepart)
        return 0;
    const struct sigma_value *sv = &it->src->values[vi];
    if (!sv->s || sv->type == SIGMA_V_BOOL)
        return 0;
    uint8_t lit[FAC_LEN_MAX];
    uint32_t n = bn__re_required_lit(sv->s, sv->len, lit, FAC_LEN_MAX);
    if (n < BN__FAC_MIN)
        return 0;
    uint16_t toks[FAC_LEN_MAX];
    for (uint32_t i = 0; i < n; i++)
        toks[i] = lit[i];
    p->facs = bn_pool_alloc(rs->pool, sizeof(*p->facs));
    if (!p->facs)
        return BN_ENOMEM;
    p->nfacs = 1;
    return factab_intern(rs, ft, toks, n, &p->facs[0]);
}

static int
prep_lits(struct bn_ruleset *rs, struct factab *ft)
{
    int rc;
    for (uint32_t i = 0; i < rs->npreds; i++) {
        struct bn__pred *p = &rs->preds[i];
        if (p->kind == BN__P_VAL && p->val && p->val->kind == BN__V_RE) {
            if ((rc = re_facs(rs, ft, p)))
                return rc;
            continue;
        }
        if (p->kind != BN__P_LIT)
            continue;
        if ((rc = pred_lits(rs, p)) || (rc = pred_facs(rs, ft, p)))
            return rc;
    }
    uint32_t *mark = bn_calloc(ft->n ? ft->n : 1, sizeof(*mark));
    if (!mark)
        return BN_ENOMEM;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        const struct bn__crule *cr = &rs->rules[r];
        for (uint32_t i = 0; i < cr->nnodes; i++) {
            if (cr->nodes[i].op != BN__OP_PRED)
                continue;
            const struct bn__pred *p = &rs->preds[cr->nodes[i].a];
            for (uint32_t k = 0; k < p->nfacs; k++) {
                if (mark[p->facs[k]] != r + 1) {
                    mark[p->facs[k]] = r + 1;
                    ft->uses[p->facs[k]]++;
                }
            }
        }
    }
    bn_free(mark);
    for (uint32_t i = 0; i < rs->npreds; i++) {
        struct bn__pred *p = &rs->preds[i];
        p->strength = pred_strength(ft, p); /* -1 without trigger literals */
    }
    return 0;
}

/* --- analysis --- */

/* A set of LIT predicates one of which must be true for a node to be true (a cover). */
struct tset {
    uint32_t *p;
    uint32_t n, cap;
    int score;  /* the weakest predicate's strength */
    bool ok;
};

static int
tset_add(struct tset *t, const uint32_t *p, uint32_t n)
{
    if (t->n + n > t->cap) {
        uint32_t cap = t->cap ? t->cap : 8;
        while (cap < t->n + n)
            cap *= 2;
        uint32_t *np = bn_reallocarray(t->p, cap, sizeof(*np));
        if (!np)
            return BN_ENOMEM;
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->n, p, n * sizeof(*p));
    t->n += n;
    return 0;
}

/*
 * Computes a cover of node: AND picks its most selective operand, OR needs one from each
 * operand; NOT and predicates without triggers have none (the rule is then evaluated on
 * every event of its logsource).
 */
static int
trig(const struct bn_ruleset *rs, const struct bn__crule *cr, uint32_t node, struct tset *out)
{
    const struct bn__node *nd = &cr->nodes[node];
    memset(out, 0, sizeof(*out));
    int rc = 0;
    switch (nd->op) {
    case BN__OP_PRED:
        if (rs->preds[nd->a].strength >= 0) {
            out->ok = true;
            out->score = rs->preds[nd->a].strength;
            return tset_add(out, &nd->a, 1);
        }
        return 0;
    case BN__OP_FALSE:
        out->ok = true;
        out->score = INT32_MAX;
        return 0;
    case BN__OP_AND:
        for (uint32_t i = 0; i < nd->n; i++) {
            struct tset t;
            if ((rc = trig(rs, cr, cr->kids[nd->a + i], &t))) {
                bn_free(t.p);
                bn_free(out->p);
                memset(out, 0, sizeof(*out));
                return rc;
            }
            if (t.ok && (!out->ok || t.score > out->score ||
                         (t.score == out->score && t.n < out->n))) {
                bn_free(out->p);
                *out = t;
            } else {
                bn_free(t.p);
            }
        }
        return 0;
    case BN__OP_OR:
        out->ok = true;
        out->score = INT32_MAX;
        for (uint32_t i = 0; i < nd->n; i++) {
            struct tset t;
            rc = trig(rs, cr, cr->kids[nd->a + i], &t);
            if (rc == 0 && t.ok)
                rc = tset_add(out, t.p, t.n);
            out->score = BN_MIN(out->score, t.score);
            bool ok = t.ok;
            bn_free(t.p);
            if (rc || !ok) {
                bn_free(out->p);
                memset(out, 0, sizeof(*out));
                return rc;
            }
        }
        /* many alternatives add up: each may hit */
        for (uint32_t n = out->n; n > 1; n >>= 1)
            out->score = BN_MAX(out->score - 1, 0);
        return 0;
    default:
        return 0;
    }
}

static int
analyse(struct bn_ruleset *rs)
{
    uint32_t *mark = bn_calloc(rs->npreds ? rs->npreds : 1, sizeof(*mark));
    int rc = 0;
    if (!mark)
        return BN_ENOMEM;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        struct bn__crule *cr = &rs->rules[r];
        if (cr->r->kind != SIGMA_KIND_DETECTION)
            continue;
        struct tset t;
        if ((rc = trig(rs, cr, cr->root, &t))) {
            bn_free(t.p);
            goto out;
        }
        cr->always = !t.ok;
        if (cr->always)
            rs->st.always_eval++;
        cr->trig = bn_pool_alloc(rs->pool, ((size_t)t.n + 1) * sizeof(*cr->trig));
        if (!cr->trig) {
            bn_free(t.p);
            rc = BN_ENOMEM;
            goto out;
        }
        cr->ntrig = 0;
        for (uint32_t i = 0; i < t.n; i++) {
            if (mark[t.p[i]] == r + 1)
                continue;
            mark[t.p[i]] = r + 1;
            cr->trig[cr->ntrig++] = t.p[i];
        }
        bn_free(t.p);
    }
out:
    bn_free(mark);
    return rc;
}

/* --- the prefilter database --- */

/* Without a prefilter every detection rule is evaluated on each event of its logsource. */
static void
no_prefilter(struct bn_ruleset *rs)
{
    rs->st.always_eval = 0;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        struct bn__crule *cr = &rs->rules[r];
        if (cr->r->kind != SIGMA_KIND_DETECTION)
            continue;
        cr->always = true;
        cr->ntrig = 0;
        rs->st.always_eval++;
    }
}

/* Lists, per trigger literal, the rules whose cover names it, and compiles the database. */
static int
build_prefilter(struct bn_ruleset *rs, const struct factab *ft)
{
    int rc = 0;
    uint32_t nf = ft->n;
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    size_t *lens = NULL;
    uint32_t *mark = NULL;
    rs->facs = bn_calloc(nf ? nf : 1, sizeof(*rs->facs));
    mark = bn_calloc(nf ? nf : 1, sizeof(*mark));
    if (!rs->facs || !mark) {
        rc = BN_ENOMEM;
        goto out;
    }
    rs->nfacs = nf;
    for (int pass = 0; pass < 2; pass++) {
        memset(mark, 0, (nf ? nf : 1) * sizeof(*mark));
        for (uint32_t r = 0; r < rs->nrules; r++) {
            const struct bn__crule *cr = &rs->rules[r];
            for (uint32_t i = 0; i < cr->ntrig; i++) {
                const struct bn__pred *p = &rs->preds[cr->trig[i]];
                for (uint32_t k = 0; k < p->nfacs; k++) {
                    struct bn__fac *f = &rs->facs[p->facs[k]];
                    if (mark[p->facs[k]] == r + 1)
                        continue;
                    mark[p->facs[k]] = r + 1;
                    if (pass == 0)
                        f->nrules++;
                    else
                        f->rules[f->nrules++] = r;
                }
            }
        }
        if (pass == 1)
            break;
        for (uint32_t i = 0; i < nf; i++) {
            struct bn__fac *f = &rs->facs[i];
            if (!f->nrules)
                continue;
            f->rules = bn_pool_alloc(rs->pool, (size_t)f->nrules * sizeof(*f->rules));
            if (!f->rules) {
                rc = BN_ENOMEM;
                goto out;
            }
            f->nrules = 0;
        }
    }
    exprs = bn_calloc(nf ? nf : 1, sizeof(*exprs));
    flags = bn_calloc(nf ? nf : 1, sizeof(*flags));
    ids = bn_calloc(nf ? nf : 1, sizeof(*ids));
    lens = bn_calloc(nf ? nf : 1, sizeof(*lens));
    if (!exprs || !flags || !ids || !lens) {
        rc = BN_ENOMEM;
        goto out;
    }
    /* the database holds the covers' literals; a predicate all of whose literals are in it
     * is gated: no literal hit tells the matcher it is false without looking at values */
    memset(mark, 0, (nf ? nf : 1) * sizeof(*mark));
    for (uint32_t i = 0; i < nf; i++)
        mark[i] = rs->facs[i].nrules > 0;
    /* rules without a cover are evaluated on every event: their literal predicates get
     * their trigger literals in the database too (no rules behind them), so that most are
     * found false from the scan alone */
    for (uint32_t r = 0; r < rs->nrules; r++) {
        const struct bn__crule *cr = &rs->rules[r];
        if (cr->r->kind != SIGMA_KIND_DETECTION || !cr->always)
            continue;
        for (uint32_t i = 0; i < cr->nnodes; i++) {
            if (cr->nodes[i].op != BN__OP_PRED)
                continue;
            const struct bn__pred *p = &rs->preds[cr->nodes[i].a];
            for (uint32_t k = 0; k < p->nfacs; k++)
                mark[p->facs[k]] = 1;
        }
    }
    for (uint32_t i = 0; i < rs->npreds; i++) {
        struct bn__pred *p = &rs->preds[i];
        bool all = p->nfacs > 0;
        for (uint32_t k = 0; k < p->nfacs && all; k++)
            all = mark[p->facs[k]];
        p->gated = all;
    }
    unsigned n = 0;
    for (uint32_t i = 0; i < nf; i++) {
        if (!mark[i])
            continue;
        exprs[n] = (const char *)ft->s[i];
        lens[n] = ft->len[i];
        flags[n] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[n] = i;
        n++;
    }
    if (n == 0)
        goto out;
    hs_compile_error_t *err = NULL;
    if (hs_compile_lit_multi(exprs, flags, ids, lens, n, HS_MODE_BLOCK, NULL, &rs->pf, &err) !=
        HS_SUCCESS) {
        hs_free_compile_error(err);
        rs->pf = NULL;
        no_prefilter(rs);
        for (uint32_t i = 0; i < rs->npreds; i++)
            rs->preds[i].gated = false;
        goto out;
    }
    rs->st.literals = n;
    size_t sz = 0;
    if (hs_database_size(rs->pf, &sz) == HS_SUCCESS)
        rs->st.db_bytes = sz;
out:
    bn_free(exprs);
    bn_free(flags);
    bn_free(ids);
    bn_free(lens);
    bn_free(mark);
    return rc;
}

/* --- evaluation order --- */

/* What a node costs to evaluate once the prefilter is known: gated predicates are mostly
 * answered by the scan, composites cost their children, regexes the most. */
static int
eval_cost(const struct bn_ruleset *rs, const struct bn__crule *cr, uint32_t node)
{
    const struct bn__node *nd = &cr->nodes[node];
    if (nd->op == BN__OP_TRUE || nd->op == BN__OP_FALSE)
        return 0;
    if (nd->op != BN__OP_PRED)
        return 4;
    const struct bn__pred *p = &rs->preds[nd->a];
    bool re = p->val && p->val->kind == BN__V_RE;
    if (p->gated)
        return re ? 2 : 1;
    if (p->kind == BN__P_LIT)
        return 2;
    if (re)
        return 5;
    return 3;
}

/* Reorders the operands of every AND (stable) so that the cheapest run first: evaluation
 * stops at the first false one, whichever it is. */
static void
order_ands(struct bn_ruleset *rs)
{
    for (uint32_t r = 0; r < rs->nrules; r++) {
        struct bn__crule *cr = &rs->rules[r];
        for (uint32_t i = 0; i < cr->nnodes; i++) {
            const struct bn__node *nd = &cr->nodes[i];
            if (nd->op != BN__OP_AND)
                continue;
            uint32_t *kids = cr->kids + nd->a;
            for (uint32_t k = 1; k < nd->n; k++) {
                uint32_t x = kids[k], j = k;
                int c = eval_cost(rs, cr, x);
                for (; j > 0 && eval_cost(rs, cr, kids[j - 1]) > c; j--)
                    kids[j] = kids[j - 1];
                kids[j] = x;
            }
        }
    }
}

/* --- the set --- */

static void
report(bn_compile_diag_cb cb, void *ctx, const struct sigma_rule *r, struct bn_diag *d, int rc)
{
    if (!d->code)
        bn_diag_set(d, rc, rfile(r), r->line, 0, "rule does not compile: %s", bn_strerror(rc));
    if (cb)
        cb(ctx, r, d);
}

static bool
names_rule(const char *ref, const struct sigma_rule *r)
{
    return ref && ((r->id && strcmp(ref, r->id) == 0) || (r->name && strcmp(ref, r->name) == 0));
}

static int
resolve_corr(struct bn_ruleset *rs, struct sigma_rule **in, uint8_t *ok, uint32_t n,
             bn_compile_diag_cb cb, void *ctx)
{
    (void)rs;
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t i = 0; i < n; i++) {
            if (!ok[i] || in[i]->kind != SIGMA_KIND_CORRELATION)
                continue;
            const struct sigma_correlation *c = &in[i]->corr;
            for (uint32_t k = 0; k < c->nrules; k++) {
                bool found = false;
                for (uint32_t j = 0; j < n && !found; j++)
                    found = j != i && ok[j] && in[j]->kind != SIGMA_KIND_FILTER &&
                            names_rule(c->rules[k], in[j]);
                if (!found) {
                    struct bn_diag d;
                    bn_diag_clear(&d);
                    bn_diag_set(&d, BN_ENOTFOUND, rfile(in[i]), in[i]->line, 0,
                                "correlation references unknown rule '%.128s'",
                                c->rules[k] ? c->rules[k] : "");
                    report(cb, ctx, in[i], &d, BN_ENOTFOUND);
                    ok[i] = 0;
                    changed = true;
                    break;
                }
            }
        }
    }
    return 0;
}

static int
link_rules(struct bn_ruleset *rs)
{
    /* correlation references and generate: false */
    for (uint32_t i = 0; i < rs->nrules; i++)
        rs->rules[i].alerts = rs->rules[i].r->kind == SIGMA_KIND_DETECTION;
    uint8_t *gen_true = bn_calloc(rs->nrules ? rs->nrules : 1, 1);
    uint8_t *gen_false = bn_calloc(rs->nrules ? rs->nrules : 1, 1);
    int rc = 0;
    if (!gen_true || !gen_false) {
        rc = BN_ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < rs->nrules; i++) {
        struct bn__crule *cr = &rs->rules[i];
        if (cr->r->kind != SIGMA_KIND_CORRELATION)
            continue;
        const struct sigma_correlation *c = &cr->r->corr;
        cr->corr_refs = bn_pool_calloc(rs->pool, c->nrules ? c->nrules : 1, sizeof(uint32_t));
        if (!cr->corr_refs) {
            rc = BN_ENOMEM;
            goto out;
        }
        for (uint32_t k = 0; k < c->nrules; k++) {
            for (uint32_t j = 0; j < rs->nrules; j++) {
                if (j != i && rs->rules[j].r->kind != SIGMA_KIND_FILTER &&
                    names_rule(c->rules[k], rs->rules[j].r)) {
                    cr->corr_refs[cr->ncorr_refs++] = j;
                    (c->generate ? gen_true : gen_false)[j] = 1;
                    break;
                }
            }
        }
    }
    for (uint32_t i = 0; i < rs->nrules; i++)
        if (gen_false[i] && !gen_true[i])
            rs->rules[i].alerts = false;
    /* filters */
    for (uint32_t f = 0; f < rs->nrules; f++) {
        const struct sigma_rule *fr = rs->rules[f].r;
        if (fr->kind != SIGMA_KIND_FILTER)
            continue;
        for (uint32_t i = 0; i < rs->nrules; i++) {
            struct bn__crule *cr = &rs->rules[i];
            if (cr->r->kind != SIGMA_KIND_DETECTION)
                continue;
            bool named = false;
            for (uint32_t k = 0; k < fr->filter.nrules && !named; k++)
                named = names_rule(fr->filter.rules[k], cr->r);
            if (!named || !attr_match(fr->logsource.product, cr->r->logsource.product) ||
                !attr_match(fr->logsource.category, cr->r->logsource.category) ||
                !attr_match(fr->logsource.service, cr->r->logsource.service))
                continue;
            uint32_t *nfl = bn_pool_alloc(rs->pool, (cr->nfilters + 1) * sizeof(*nfl));
            if (!nfl) {
                rc = BN_ENOMEM;
                goto out;
            }
            if (cr->nfilters)
                memcpy(nfl, cr->filters, cr->nfilters * sizeof(*nfl));
            nfl[cr->nfilters++] = f;
            cr->filters = nfl;
        }
    }
out:
    bn_free(gen_true);
    bn_free(gen_false);
    return rc;
}

void
bn_ruleset_free(struct bn_ruleset *rs)
{
    if (!rs)
        return;
    if (rs->pf)
        hs_free_database(rs->pf);
    bn_free(rs->facs);
    for (uint32_t i = 0; i < rs->nres; i++)
        pcre2_code_free(rs->res[i]);
    for (uint32_t i = 0; i < rs->nrules; i++)
        sigma_rule_free(rs->rules[i].r);
    bn_free(rs->rules);
    bn_free(rs->res);
    bn_free(rs->preds);
    bn_fieldtab_free(rs->ft);
    bn_pool_free(rs->tmp);
    bn_pool_free(rs->pool);
    bn_free(rs);
}

int
bn_ruleset_compile(struct bn_ruleset **out, struct sigma_rule **rules, size_t n,
                   const struct bn_compile_opts *opts, bn_compile_diag_cb cb, void *ctx)
{
    int rc = 0;
    struct bn_ruleset *rs = NULL;
    struct bn__crule *tmp = NULL;
    uint8_t *ok = NULL;
    struct pbuild b;
    memset(&b, 0, sizeof(b));
    struct factab ft;
    memset(&ft, 0, sizeof(ft));
    struct bn_compile_opts noopts;
    memset(&noopts, 0, sizeof(noopts));
    if (!opts)
        opts = &noopts;
    *out = NULL;

    rs = bn_calloc(1, sizeof(*rs));
    if (!rs || !(rs->pool = bn_pool_new(0)) || !(rs->tmp = bn_pool_new(0)) ||
        !(rs->ft = bn_fieldtab_new())) {
        rc = BN_ENOMEM;
        goto out;
    }
    rs->ignore_logsource = opts->ignore_logsource;
    tmp = bn_calloc(n ? n : 1, sizeof(*tmp));
    ok = bn_calloc(n ? n : 1, 1);
    if (!tmp || !ok) {
        rc = BN_ENOMEM;
        goto out;
    }
    b.rs = rs;
    /* 1. item layer and a first program (validates the condition) */
    for (size_t i = 0; i < n; i++) {
        struct sigma_rule *r = rules[i];
        struct bn_diag d;
        bn_diag_clear(&d);
        if (!r)
            continue;
        tmp[i].r = r;
        if (i >= BN_RULESET_RULES_MAX) {
            bn_diag_set(&d, BN_ETOOBIG, rfile(r), r->line, 0,
                        "more than %u rules in one set", (unsigned)BN_RULESET_RULES_MAX);
            report(cb, ctx, r, &d, BN_ETOOBIG);
            continue;
        }
        if (r->kind == SIGMA_KIND_CORRELATION) {
            ok[i] = 1;
            continue;
        }
        b.d = &d;
        rc = compile_searches(rs, &tmp[i], opts, &d);
        if (rc == 0)
            rc = build_program(&b, &tmp[i]);
        if (rc == BN_ENOMEM)
            goto out;
        if (rc) {
            report(cb, ctx, r, &d, rc);
            rc = 0;
            continue;
        }
        ok[i] = 1;
    }
    /* 2. correlations, final indices, links */
    resolve_corr(rs, rules, ok, (uint32_t)n, cb, ctx);
    for (size_t i = 0; i < n; i++) {
        if (!rules[i])
            continue;
        if (ok[i])
            tmp[rs->nrules++] = tmp[i];
        else
            sigma_rule_free(rules[i]);
        rules[i] = NULL;
    }
    rs->rules = tmp;
    tmp = NULL;
    if ((rc = link_rules(rs)))
        goto out;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        struct bn__crule *cr = &rs->rules[i];
        if (cr->nfilters && (rc = build_program(&b, cr))) {
            /* the filter compiled on its own, so only ENOMEM can fail here */
            if (rc != BN_ENOMEM)
                rc = BN_EINTERNAL;
            goto out;
        }
    }
    /* 3. trigger literals, covers and the prefilter */
    if ((rc = prep_lits(rs, &ft)) || (rc = analyse(rs)) || (rc = build_prefilter(rs, &ft)))
        goto out;
    order_ands(rs);
    for (uint32_t i = 0; i < rs->nrules; i++) {
        switch (rs->rules[i].r->kind) {
        case SIGMA_KIND_DETECTION:
            rs->st.detection_rules++;
            break;
        case SIGMA_KIND_CORRELATION:
            rs->st.correlation_rules++;
            break;
        case SIGMA_KIND_FILTER:
            rs->st.filter_rules++;
            break;
        }
    }
    rs->st.rules = rs->nrules;
    rs->st.fields = bn_fieldtab_count(rs->ft);
    rs->st.regexes = rs->nres;
    bn_pool_free(rs->tmp);
    rs->tmp = NULL;
    *out = rs;
    rs = NULL;
out:
    if (rc) {
        /* consume the rules that were not handed to the set yet */
        for (size_t i = 0; i < n; i++) {
            if (rules[i]) {
                sigma_rule_free(rules[i]);
                rules[i] = NULL;
            }
        }
    }
    bn_free(tmp);
    bn_free(ok);
    bn_free(b.nodes);
    bn_free(b.kids);
    bn_free(b.dedup);
    factab_release(&ft);
    bn_ruleset_free(rs);
    return rc;
}

const struct bn_fieldtab *
bn_ruleset_fields(const struct bn_ruleset *rs)
{
    return rs->ft;
}

size_t
bn_ruleset_count(const struct bn_ruleset *rs)
{
    return rs->nrules;
}

const struct sigma_rule *
bn_ruleset_rule(const struct bn_ruleset *rs, uint32_t idx)
{
    return idx < rs->nrules ? rs->rules[idx].r : NULL;
}

bool
bn_ruleset_rule_alerts(const struct bn_ruleset *rs, uint32_t idx)
{
    return idx < rs->nrules && rs->rules[idx].alerts;
}

const uint32_t *
bn_ruleset_corr_refs(const struct bn_ruleset *rs, uint32_t idx, size_t *n)
{
    *n = 0;
    if (idx >= rs->nrules || rs->rules[idx].r->kind != SIGMA_KIND_CORRELATION)
        return NULL;
    *n = rs->rules[idx].ncorr_refs;
    return rs->rules[idx].corr_refs;
}

void
bn_ruleset_stats(const struct bn_ruleset *rs, struct bn_ruleset_stats *st)
{
    *st = rs->st;
}
