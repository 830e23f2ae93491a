/*
 * fuzz_sigma_rule.c - libFuzzer target for the Sigma rule parser (sigma_parse_mem): YAML
 * tree building, collections, detection, modifiers, conditions, correlation and filters.
 * Every rule handed back is walked so that half-built trees would show up under ASan.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t sink;

static void
on_diag(void *ctx, const struct bn_diag *d)
{
    (void)ctx;
    sink += strlen(d->msg) + d->line + d->col;
}

static void
walk_cond(const struct sigma_cond *c)
{
    while (c) {
        sink += (size_t)c->op + c->col + (c->name ? strlen(c->name) : 0);
        if (c->b)
            walk_cond(c->b);
        c = c->a;
    }
}

static void
walk_rule(const struct sigma_rule *r)
{
    sink += r->title ? strlen(r->title) : 0;
    for (uint32_t i = 0; i < r->nsearches; i++) {
        const struct sigma_search *s = &r->searches[i];
        sink += strlen(s->name);
        for (uint32_t a = 0; a < s->nalts; a++) {
            for (uint32_t j = 0; j < s->alts[a].nitems; j++) {
                const struct sigma_item *it = &s->alts[a].items[j];
                sink += it->field ? strlen(it->field) : 0;
                for (uint32_t m = 0; m < it->nmods; m++)
                    sink += strlen(sigma_mod_name((enum sigma_mod)it->mods[m]));
                for (uint32_t v = 0; v < it->nvalues; v++)
                    sink += it->values[v].len + (it->values[v].s ? (size_t)it->values[v].s[0] : 0);
            }
        }
    }
    walk_cond(r->cond);
    for (uint32_t i = 0; i < r->corr.nrules; i++)
        sink += strlen(r->corr.rules[i]);
    for (uint32_t i = 0; i < r->corr.naliases; i++)
        for (uint32_t j = 0; j < r->corr.aliases[i].n; j++)
            sink += strlen(r->corr.aliases[i].fields[j]);
    for (uint32_t i = 0; i < r->filter.nrules; i++)
        sink += strlen(r->filter.rules[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    (void)sigma_parse_mem((const char *)data, size, "fuzz.yml", &rules, &n, on_diag, NULL);
    for (size_t i = 0; i < n; i++) {
        walk_rule(rules[i]);
        sigma_rule_free(rules[i]);
    }
    bn_free(rules);
    return 0;
}
