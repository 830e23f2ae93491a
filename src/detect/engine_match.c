/*
 * engine_match.c - matching events against a compiled set (the fast path) and the value and
 * item evaluation that both matchers share.
 *
 * Per event: find the route of the event's logsource (cached in the scratch), copy the values
 * of the fields that routed rules have trigger literals for into one buffer and scan it once
 * with the prefilter database; the rules of the literals that hit plus the route's
 * always-evaluated rules are candidates, and their condition programs are evaluated exactly
 * (direct caseless comparisons, no Hyperscan). A trigger hit in the wrong field only makes an
 * extra candidate. Predicate states carry the scratch generation, so nothing is cleared per
 * event.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "detect/engine_int.h"

/* --- shared evaluation --- */

static inline uint8_t
fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool
text_eq(const char *a, size_t alen, const char *b, size_t blen, bool cased)
{
    if (alen != blen)
        return false;
    if (cased)
        return memcmp(a, b, alen) == 0;
    for (size_t i = 0; i < alen; i++)
        if (fold((uint8_t)a[i]) != fold((uint8_t)b[i]))
            return false;
    return true;
}

/* Iterates the values an item looks at: one field's chain, or every value for keywords. */
static inline const struct bn_fval *
vfirst(const struct bn_event *ev, uint32_t field)
{
    if (field == BN__KEYWORD)
        return ev->nvals ? &ev->vals[0] : NULL;
    return bn_event_first(ev, field);
}

static inline const struct bn_fval *
vnext(const struct bn_event *ev, uint32_t field, const struct bn_fval *v)
{
    if (field == BN__KEYWORD) {
        size_t i = (size_t)(v - ev->vals) + 1;
        return i < ev->nvals ? &ev->vals[i] : NULL;
    }
    return bn_event_next(ev, v);
}

static bool
match_one(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it,
          const struct bn__cval *cv, const char *x, size_t len)
{
    struct bn__num n;
    if (it->timepart && (cv->kind == BN__V_NUMEQ || cv->kind == BN__V_NUMCMP)) {
        int64_t part;
        if (!bn__timepart(x, len, it->timepart, &part))
            return false;
        n.i = part;
        n.d = (double)part;
        n.is_int = true;
        return cv->kind == BN__V_NUMEQ ? bn__num_eq(&n, &cv->num)
                                       : bn__num_cmp(&n, &cv->num, cv->cmp);
    }
    switch (cv->kind) {
    case BN__V_GLOB:
        for (uint32_t i = 0; i < cv->nvars; i++)
            if (bn__glob_match(&cv->vars[i], x, len, it->cased))
                return true;
        return false;
    case BN__V_NUMEQ:
        if (bn__num_parse(x, len, &n))
            return bn__num_eq(&n, &cv->num);
        return text_eq(x, len, cv->text, cv->text_len, false);
    case BN__V_NUMCMP:
        return bn__num_parse(x, len, &n) && bn__num_cmp(&n, &cv->num, cv->cmp);
    case BN__V_RE: {
        int rc = pcre2_match(cv->re, (PCRE2_SPTR)x, len, 0, 0, s->md, NULL);
        return rc >= 0;
    }
    case BN__V_CIDR: {
        uint8_t af, addr[16];
        if (!bn__ip_parse(x, len, &af, addr) || af != cv->af)
            return false;
        uint32_t full = cv->bits / 8, rem = cv->bits % 8;
        if (memcmp(addr, cv->addr, full) != 0)
            return false;
        if (rem) {
            uint8_t mask = (uint8_t)(0xff << (8 - rem));
            return (addr[full] & mask) == (cv->addr[full] & mask);
        }
        return true;
    }
    case BN__V_FIELDREF:
        for (const struct bn_fval *y = bn_event_first(ev, cv->ref_field); y;
             y = bn_event_next(ev, y))
            if (y->s && text_eq(x, len, y->s, y->len, it->cased))
                return true;
        return false;
    }
    return false;
}

bool
bn__val_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it,
             const struct bn__cval *cv)
{
    const struct bn_fval *x = vfirst(ev, it->field);
    switch (cv->kind) {
    case BN__V_NULL:
        if (!x)
            return true;
        for (; x; x = vnext(ev, it->field, x))
            if (!x->s || x->len == 0)
                return true;
        return false;
    case BN__V_EXISTS:
        return (x != NULL) == cv->exists;
    default:
        break;
    }
    for (; x; x = vnext(ev, it->field, x))
        if (x->s && match_one(s, ev, it, cv, x->s, x->len))
            return true;
    return false;
}

/* neq: some value of the field differs from every listed value (and is comparable). */
static bool
neq_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it)
{
    for (const struct bn_fval *x = vfirst(ev, it->field); x; x = vnext(ev, it->field, x)) {
        if (!x->s)
            continue;
        bool ok = true;
        for (uint32_t v = 0; v < it->nvals && ok; v++) {
            const struct bn__cval *cv = &it->vals[v];
            struct bn__num n;
            int64_t part;
            if (it->timepart && !bn__timepart(x->s, x->len, it->timepart, &part))
                ok = false;
            else if (!it->timepart && cv->kind == BN__V_NUMEQ &&
                     !bn__num_parse(x->s, x->len, &n))
                ok = false;
            else if (cv->kind == BN__V_FIELDREF && !bn_event_first(ev, cv->ref_field))
                ok = false;
            else if (cv->kind == BN__V_NULL || cv->kind == BN__V_EXISTS)
                ok = !bn__val_eval(s, ev, it, cv);
            else if (match_one(s, ev, it, cv, x->s, x->len))
                ok = false;
        }
        if (ok)
            return true;
    }
    return false;
}

bool
bn__item_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__citem *it)
{
    if (it->neq)
        return neq_eval(s, ev, it);
    if (it->all) {
        for (uint32_t v = 0; v < it->nvals; v++)
            if (!bn__val_eval(s, ev, it, &it->vals[v]))
                return false;
        return true;
    }
    for (uint32_t v = 0; v < it->nvals; v++)
        if (bn__val_eval(s, ev, it, &it->vals[v]))
            return true;
    return false;
}

/* --- scratch --- */

static void
route_release(struct bn__route *rt)
{
    bn_free(rt->routed);
    bn_free(rt->always);
    bn_free(rt->fields);
    memset(rt, 0, sizeof(*rt));
}

void
bn_scratch_free(struct bn_scratch *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nroutes; i++)
        route_release(&s->routes[i]);
    if (s->hs)
        hs_free_scratch(s->hs);
    bn_free(s->buf);
    if (s->md)
        pcre2_match_data_free(s->md);
    bn_free(s->pred_memo);
    bn_free(s->rule_gen);
    bn_free(s->fac_gen);
    bn_free(s->cand);
    bn_free(s->hits);
    bn_free(s);
}

struct bn_scratch *
bn_scratch_new(const struct bn_ruleset *rs)
{
    struct bn_scratch *s = bn_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->rs = rs;
    s->gen = 1;
    size_t np = rs->npreds ? rs->npreds : 1, nr = rs->nrules ? rs->nrules : 1;
    s->pred_memo = bn_calloc(np, sizeof(*s->pred_memo));
    s->rule_gen = bn_calloc(nr, sizeof(*s->rule_gen));
    s->fac_gen = bn_calloc(rs->nfacs ? rs->nfacs : 1, sizeof(*s->fac_gen));
    s->cand = bn_calloc(nr, sizeof(*s->cand));
    s->hits = bn_calloc(nr, sizeof(*s->hits));
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->pred_memo || !s->rule_gen || !s->fac_gen || !s->cand || !s->hits || !s->md)
        goto fail;
    if (rs->pf && hs_alloc_scratch(rs->pf, &s->hs) != HS_SUCCESS)
        goto fail;
    return s;
fail:
    bn_scratch_free(s);
    return NULL;
}

/* --- routing --- */

static int
route_build(struct bn_scratch *s, struct bn__route *rt, const struct bn_event *ev)
{
    const struct bn_ruleset *rs = s->rs;
    uint32_t nf = bn_fieldtab_count(rs->ft);
    memset(rt, 0, sizeof(*rt));
    rt->product = ev->product;
    rt->category = ev->category;
    rt->service = ev->service;
    rt->routed = bn_calloc(rs->nrules ? rs->nrules : 1, 1);
    rt->always = bn_calloc(rs->nrules ? rs->nrules : 1, sizeof(*rt->always));
    rt->fields = bn_calloc(nf ? nf : 1, sizeof(*rt->fields));
    uint8_t *fseen = bn_calloc(nf ? nf : 1, 1);
    if (!rt->routed || !rt->always || !rt->fields || !fseen) {
        bn_free(fseen);
        route_release(rt);
        return BN_ENOMEM;
    }
    for (uint32_t r = 0; r < rs->nrules; r++) {
        const struct bn__crule *cr = &rs->rules[r];
        if (cr->r->kind != SIGMA_KIND_DETECTION)
            continue;
        if (!rs->ignore_logsource &&
            !bn__logsource_match(cr->r, ev->product, ev->category, ev->service))
            continue;
        rt->routed[r] = 1;
        if (cr->always)
            rt->always[rt->nalways++] = r;
        for (uint32_t i = 0; i < cr->nnodes; i++) {
            if (cr->nodes[i].op != BN__OP_PRED || !rs->preds[cr->nodes[i].a].gated)
                continue;
            uint32_t f = rs->preds[cr->nodes[i].a].field;
            if (f == BN__KEYWORD) {
                rt->keywords = true;
            } else if (f < nf && !fseen[f]) {
                fseen[f] = 1;
                rt->fields[rt->nfields++] = f;
            }
        }
    }
    bn_free(fseen);
    return 0;
}

static bool
same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static const struct bn__route *
route_get(struct bn_scratch *s, const struct bn_event *ev)
{
    const char *p = s->rs->ignore_logsource ? NULL : ev->product;
    const char *c = s->rs->ignore_logsource ? NULL : ev->category;
    const char *v = s->rs->ignore_logsource ? NULL : ev->service;
    for (uint32_t i = 0; i < s->nroutes; i++) {
        struct bn__route *rt = &s->routes[i];
        if (rt->product == p && rt->category == c && rt->service == v)
            return rt;
    }
    /* Same strings at other addresses (a caller without static logsource strings). */
    for (uint32_t i = 0; i < s->nroutes; i++) {
        struct bn__route *rt = &s->routes[i];
        if (same_str(rt->product, p) && same_str(rt->category, c) && same_str(rt->service, v))
            return rt;
    }
    struct bn__route *rt;
    if (s->nroutes < BN__ROUTES_MAX) {
        rt = &s->routes[s->nroutes++];
    } else {
        rt = &s->routes[s->next_evict];
        s->next_evict = (s->next_evict + 1) % BN__ROUTES_MAX;
        route_release(rt);
    }
    struct bn_event key = *ev;
    key.product = p;
    key.category = c;
    key.service = v;
    if (route_build(s, rt, &key)) {
        /* keep the slot consistent: an empty route is retried next time */
        rt->product = rt->category = rt->service = (const char *)rt;
        return NULL;
    }
    return rt;
}

/* --- the fast path --- */

static void
next_gen(struct bn_scratch *s)
{
    if (++s->gen == 1u << 31) { /* pred_memo keeps gen << 1 */
        const struct bn_ruleset *rs = s->rs;
        memset(s->pred_memo, 0, (rs->npreds ? rs->npreds : 1) * sizeof(*s->pred_memo));
        memset(s->rule_gen, 0, (rs->nrules ? rs->nrules : 1) * sizeof(*s->rule_gen));
        memset(s->fac_gen, 0, (rs->nfacs ? rs->nfacs : 1) * sizeof(*s->fac_gen));
        s->gen = 1;
    }
}

static int
on_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
       void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct bn_scratch *s = ctx;
    const struct bn__fac *f = &s->rs->facs[id];
    s->fac_gen[id] = s->gen;
    const uint8_t *routed = s->cur->routed;
    for (uint32_t i = 0; i < f->nrules; i++) {
        uint32_t r = f->rules[i];
        if (s->rule_gen[r] != s->gen && routed[r]) {
            s->rule_gen[r] = s->gen;
            s->cand[s->ncand++] = r;
        }
    }
    return 0;
}

/* Compares n bytes of x with the folded needle s. */
static inline bool
eq_fold(const uint8_t *x, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold(x[i]) != s[i])
            return false;
    return true;
}

static inline uint8_t
upper(uint8_t c)
{
    return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

bool
bn__memmem_fold(const char *hay, size_t hlen, const uint8_t *needle, size_t nlen, bool cased)
{
    if (nlen == 0)
        return true;
    if (hlen < nlen)
        return false;
    const uint8_t *h = (const uint8_t *)hay;
    if (cased)
        return memmem(h, hlen, needle, nlen) != NULL;
    size_t last = hlen - nlen; /* last start position */
    size_t i = 0;
    uint8_t f0 = needle[0], f1 = upper(f0);
    uint8_t l0 = needle[nlen - 1], l1 = upper(l0);
#ifdef __SSE2__
    /* first and last byte of the needle at once, 16 start positions per step */
    const __m128i vf0 = _mm_set1_epi8((char)f0), vf1 = _mm_set1_epi8((char)f1);
    const __m128i vl0 = _mm_set1_epi8((char)l0), vl1 = _mm_set1_epi8((char)l1);
    for (; i + 16 <= last + 1; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(h + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(h + i + nlen - 1));
        __m128i ea = _mm_or_si128(_mm_cmpeq_epi8(a, vf0), _mm_cmpeq_epi8(a, vf1));
        __m128i eb = _mm_or_si128(_mm_cmpeq_epi8(b, vl0), _mm_cmpeq_epi8(b, vl1));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(ea, eb));
        while (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (eq_fold(h + i + k + 1, needle + 1, nlen > 2 ? nlen - 2 : 0))
                return true;
            m &= m - 1;
        }
    }
#endif
    for (; i <= last; i++) {
        uint8_t c = h[i];
        if ((c == f0 || c == f1) && eq_fold(h + i + 1, needle + 1, nlen - 1))
            return true;
    }
    return false;
}

/* One variant of a LIT predicate against one value. */
static inline bool
lit_match(const struct bn__lit *l, const char *x, size_t len, bool cased)
{
    if (l->glob)
        return bn__glob_match(l->glob, x, len, cased);
    const uint8_t *u = (const uint8_t *)x;
    switch (l->anchor) {
    case BN__ANCHOR_START | BN__ANCHOR_END:
        return len == l->len &&
               (cased ? memcmp(u, l->s, len) == 0 : eq_fold(u, l->s, len));
    case BN__ANCHOR_START:
        return len >= l->len &&
               (cased ? memcmp(u, l->s, l->len) == 0 : eq_fold(u, l->s, l->len));
    case BN__ANCHOR_END:
        return len >= l->len && (cased ? memcmp(u + len - l->len, l->s, l->len) == 0
                                       : eq_fold(u + len - l->len, l->s, l->len));
    default:
        return bn__memmem_fold(x, len, l->s, l->len, cased);
    }
}

/* Whether one of a predicate's trigger literals hit in this event's scan. */
static inline bool
fac_hit(const struct bn_scratch *s, const struct bn__pred *p)
{
    for (uint32_t i = 0; i < p->nfacs; i++)
        if (s->fac_gen[p->facs[i]] == s->gen)
            return true;
    return false;
}

/* A LIT predicate: any value of the field matches any variant. */
static bool
lit_eval(const struct bn_scratch *s, const struct bn_event *ev, const struct bn__pred *p)
{
    /* the prefilter saw every value of the field: no trigger hit, no match */
    if (p->gated && !fac_hit(s, p))
        return false;
    bool cased = p->cased;
    for (const struct bn_fval *x = vfirst(ev, p->field); x; x = vnext(ev, p->field, x)) {
        if (!x->s)
            continue;
        for (uint32_t v = 0; v < p->nlits; v++)
            if (lit_match(&p->lits[v], x->s, x->len, cased))
                return true;
    }
    return false;
}

static bool
pred_eval(struct bn_scratch *s, const struct bn_event *ev, uint32_t id)
{
    uint32_t m = s->pred_memo[id];
    if (m >> 1 == s->gen)
        return m & 1;
    const struct bn__pred *p = &s->rs->preds[id];
    if (p->gated && p->kind == BN__P_VAL && !fac_hit(s, p)) {
        /* a regex whose required literal is not in any scanned value */
        s->pred_memo[id] = s->gen << 1;
        return false;
    }
    bool v = p->kind == BN__P_LIT    ? lit_eval(s, ev, p)
             : p->kind == BN__P_ITEM ? bn__item_eval(s, ev, p->item)
                                     : bn__val_eval(s, ev, p->item, p->val);
    s->pred_memo[id] = s->gen << 1 | (uint32_t)v;
    return v;
}

static bool node_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__crule *cr,
                      uint32_t node);

/* A kid of an AND/OR: a predicate (most kids) without another call of node_eval. */
static inline bool
kid_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__crule *cr,
         uint32_t node)
{
    const struct bn__node *nd = &cr->nodes[node];
    return nd->op == BN__OP_PRED ? pred_eval(s, ev, nd->a) : node_eval(s, ev, cr, node);
}

static bool
node_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__crule *cr,
          uint32_t node)
{
    const struct bn__node *nd = &cr->nodes[node];
    switch (nd->op) {
    case BN__OP_PRED:
        return pred_eval(s, ev, nd->a);
    case BN__OP_AND:
        for (uint32_t i = 0; i < nd->n; i++)
            if (!kid_eval(s, ev, cr, cr->kids[nd->a + i]))
                return false;
        return true;
    case BN__OP_OR:
        for (uint32_t i = 0; i < nd->n; i++)
            if (kid_eval(s, ev, cr, cr->kids[nd->a + i]))
                return true;
        return false;
    case BN__OP_NOT:
        return !node_eval(s, ev, cr, nd->a);
    case BN__OP_TRUE:
        return true;
    default:
        return false;
    }
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Appends v and a separator to the scan buffer. */
static int
buf_put(struct bn_scratch *s, size_t *at, const struct bn_fval *v)
{
    if (*at + v->len + 1 > s->buf_cap) {
        size_t cap = s->buf_cap ? s->buf_cap : 4096;
        while (cap < *at + v->len + 1)
            cap *= 2;
        char *nb = bn_realloc(s->buf, cap);
        if (!nb)
            return BN_ENOMEM;
        s->buf = nb;
        s->buf_cap = cap;
    }
    memcpy(s->buf + *at, v->s, v->len);
    *at += v->len;
    s->buf[(*at)++] = '\n';
    return 0;
}

/* Scans the values the route's triggers look at with the prefilter; hits become candidates. */
static int
prefilter(const struct bn_ruleset *rs, struct bn_scratch *s, const struct bn__route *rt,
          const struct bn_event *ev)
{
    size_t at = 0;
    int rc;
    if (!rs->pf || (!rt->nfields && !rt->keywords))
        return 0;
    if (rt->keywords) {
        for (uint32_t i = 0; i < ev->nvals; i++) {
            const struct bn_fval *v = &ev->vals[i];
            if (v->s && v->len && (rc = buf_put(s, &at, v)))
                return rc;
        }
    } else {
        for (uint32_t i = 0; i < rt->nfields; i++) {
            uint32_t f = rt->fields[i];
            if (f >= ev->nfields)
                continue;
            for (const struct bn_fval *v = bn_event_first(ev, f); v; v = bn_event_next(ev, v))
                if (v->s && v->len && (rc = buf_put(s, &at, v)))
                    return rc;
        }
    }
    if (at == 0)
        return 0;
    if (at > UINT32_MAX)
        return BN_ETOOBIG;
    s->st.scans++;
    if (hs_scan(rs->pf, s->buf, (unsigned)at, 0, s->hs, on_hit, s) != HS_SUCCESS)
        return BN_EINTERNAL;
    return 0;
}

int
bn_ruleset_match(const struct bn_ruleset *rs, struct bn_scratch *s, const struct bn_event *ev,
                 const uint32_t **hits, size_t *nhits)
{
    *hits = s->hits;
    *nhits = 0;
    s->nhits = 0;
    if (s->rs != rs)
        return BN_EINVAL;
    const struct bn__route *rt = route_get(s, ev);
    if (!rt)
        return BN_ENOMEM;
    next_gen(s);
    s->cur = rt;
    s->ncand = 0;
    s->ev = ev;
    s->st.events++;
    int rc = prefilter(rs, s, rt, ev);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < rt->nalways; i++) {
        uint32_t r = rt->always[i];
        if (s->rule_gen[r] != s->gen) {
            s->rule_gen[r] = s->gen;
            s->cand[s->ncand++] = r;
        }
    }
    if (s->ncand > 64) {
        qsort(s->cand, s->ncand, sizeof(*s->cand), cmp_u32);
    } else {
        for (uint32_t i = 1; i < s->ncand; i++) {
            uint32_t x = s->cand[i], j = i;
            for (; j > 0 && s->cand[j - 1] > x; j--)
                s->cand[j] = s->cand[j - 1];
            s->cand[j] = x;
        }
    }
    s->st.candidates += s->ncand;
    for (uint32_t i = 0; i < s->ncand; i++) {
        const struct bn__crule *cr = &rs->rules[s->cand[i]];
        if (node_eval(s, ev, cr, cr->root))
            s->hits[s->nhits++] = s->cand[i];
    }
    s->st.hits += s->nhits;
    *nhits = s->nhits;
    return 0;
}

void
bn_scratch_stats(const struct bn_scratch *s, struct bn_scratch_stats *st)
{
    *st = s->st;
}
