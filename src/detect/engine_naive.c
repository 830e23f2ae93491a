/*
 * engine_naive.c - the obvious matcher: every rule, every search, every item, every value,
 * wildcards through the reference glob matcher, the condition tree walked as parsed. No
 * Vectorscan, no routing cache, no literal prefilter. Tests use it as the oracle for the fast
 * path (engine_match.c) and bench/ as the baseline.
 */
#include <string.h>

#include "bannin/error.h"
#include "detect/engine_int.h"

static bool
search_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__csearch *cs)
{
    for (uint32_t a = 0; a < cs->nalts; a++) {
        const struct bn__calt *alt = &cs->alts[a];
        bool ok = true;
        for (uint32_t i = 0; i < alt->nitems && ok; i++)
            ok = bn__item_eval(s, ev, &alt->items[i]);
        if (ok)
            return true;
    }
    return false;
}

static bool
cond_eval(struct bn_scratch *s, const struct bn_event *ev, const struct bn__crule *cr,
          const struct sigma_cond *c)
{
    switch (c->op) {
    case SIGMA_C_AND:
        return cond_eval(s, ev, cr, c->a) && cond_eval(s, ev, cr, c->b);
    case SIGMA_C_OR:
        return cond_eval(s, ev, cr, c->a) || cond_eval(s, ev, cr, c->b);
    case SIGMA_C_NOT:
        return !cond_eval(s, ev, cr, c->a);
    case SIGMA_C_ID:
        for (uint32_t i = 0; i < cr->nsearches; i++)
            if (strcmp(cr->searches[i].name, c->name) == 0)
                return search_eval(s, ev, &cr->searches[i]);
        return false;
    case SIGMA_C_ONE_OF:
    case SIGMA_C_ONE_OF_THEM:
        for (uint32_t i = 0; i < cr->nsearches; i++) {
            const char *name = cr->searches[i].name;
            bool in = c->op == SIGMA_C_ONE_OF_THEM ? name[0] != '_'
                                                   : bn__name_match(c->name, name);
            if (in && search_eval(s, ev, &cr->searches[i]))
                return true;
        }
        return false;
    case SIGMA_C_ALL_OF:
    case SIGMA_C_ALL_OF_THEM:
        for (uint32_t i = 0; i < cr->nsearches; i++) {
            const char *name = cr->searches[i].name;
            bool in = c->op == SIGMA_C_ALL_OF_THEM ? name[0] != '_'
                                                   : bn__name_match(c->name, name);
            if (in && !search_eval(s, ev, &cr->searches[i]))
                return false;
        }
        return true;
    }
    return false;
}

int
bn_ruleset_match_naive(const struct bn_ruleset *rs, struct bn_scratch *s,
                       const struct bn_event *ev, const uint32_t **hits, size_t *nhits)
{
    *hits = s->hits;
    *nhits = 0;
    s->nhits = 0;
    if (s->rs != rs)
        return BN_EINVAL;
    for (uint32_t r = 0; r < rs->nrules; r++) {
        const struct bn__crule *cr = &rs->rules[r];
        if (cr->r->kind != SIGMA_KIND_DETECTION)
            continue;
        if (!rs->ignore_logsource &&
            !bn__logsource_match(cr->r, ev->product, ev->category, ev->service))
            continue;
        if (!cond_eval(s, ev, cr, cr->r->cond))
            continue;
        bool filtered = false;
        for (uint32_t f = 0; f < cr->nfilters && !filtered; f++) {
            const struct bn__crule *fr = &rs->rules[cr->filters[f]];
            filtered = cond_eval(s, ev, fr, fr->r->cond);
        }
        if (!filtered)
            s->hits[s->nhits++] = r;
    }
    *nhits = s->nhits;
    return 0;
}
