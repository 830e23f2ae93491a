/*
 * correlate_ruleset.c - bn_correlator_new(): the correlator built over a compiled rule set.
 *
 * Kept apart from correlate.c so that the correlation state machine links (and is unit
 * tested) without the rule compiler; this file only adapts struct bn_ruleset to the
 * bn__corr_source seam.
 */
#include "bannin/correlate.h"
#include "bannin/engine.h"
#include "detect/correlate_int.h"

static size_t
rs_count(void *ctx)
{
    return bn_ruleset_count(ctx);
}

static const struct sigma_rule *
rs_rule(void *ctx, uint32_t idx)
{
    return bn_ruleset_rule(ctx, idx);
}

static bool
rs_alerts(void *ctx, uint32_t idx)
{
    return bn_ruleset_rule_alerts(ctx, idx);
}

static const uint32_t *
rs_refs(void *ctx, uint32_t idx, size_t *n)
{
    return bn_ruleset_corr_refs(ctx, idx, n);
}

struct bn_correlator *
bn_correlator_new(const struct bn_ruleset *rs, bn_corr_emit_cb cb, void *ctx)
{
    if (!rs)
        return NULL;
    /* The set is immutable; the ops only read it. */
    struct bn__corr_source src = {
        .ctx = (void *)(uintptr_t)rs,
        .count = rs_count,
        .rule = rs_rule,
        .alerts = rs_alerts,
        .refs = rs_refs,
        .ft = bn_ruleset_fields(rs),
    };
    return bn__correlator_new_src(&src, cb, ctx);
}
