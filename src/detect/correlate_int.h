/*
 * correlate_int.h - the seam between the correlator and the compiled rule set.
 *
 * The correlator reads a rule set only while it is being built: which rules are correlations,
 * what they reference, which rules alert, and the field table. bn_correlator_new() fills this
 * ops struct from a struct bn_ruleset (correlate_ruleset.c); unit tests fill it from rules
 * built by hand, so the correlation state machine can be tested without the compiler.
 */
#ifndef BANNIN_DETECT_CORRELATE_INT_H
#define BANNIN_DETECT_CORRELATE_INT_H

#include "bannin/correlate.h"
#include "bannin/sigma.h"

struct bn__corr_source {
    void *ctx;
    /* Number of rules; indices 0..count-1. */
    size_t (*count)(void *ctx);
    /* The rule at idx (borrowed; must outlive the correlator). */
    const struct sigma_rule *(*rule)(void *ctx, uint32_t idx);
    /* Whether rule idx produces its own alerts (generate flag). Unused for now: whether a
     * correlation alerts is derived from the correlation graph itself. */
    bool (*alerts)(void *ctx, uint32_t idx);
    /* For a correlation rule: the indices of the referenced rules, in corr.rules order. */
    const uint32_t *(*refs)(void *ctx, uint32_t idx, size_t *n);
    /* Field table the fed events are built against (borrowed; may be NULL). */
    const struct bn_fieldtab *ft;
};

/* Builds a correlator from src (used only during the call). Returns an owned correlator,
 * or NULL on allocation failure. */
struct bn_correlator *bn__correlator_new_src(const struct bn__corr_source *src,
                                             bn_corr_emit_cb cb, void *ctx);

#endif
