/*
 * engine_test.h - helpers shared by the engine unit tests: compile rule YAML, build events
 * against the set's field table, and match with both matchers (they must always agree).
 */
#ifndef BANNIN_ENGINE_TEST_H
#define BANNIN_ENGINE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/sigma.h"

struct diagcap {
    int n;
    int code;
    char msg[1024];
};

static void
diag_cb(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    struct diagcap *dc = ctx;
    (void)rule;
    dc->n++;
    dc->code = d->code;
    bn_diag_format(d, dc->msg, sizeof(dc->msg));
}

static void
parse_diag_cb(void *ctx, const struct bn_diag *d)
{
    struct diagcap *dc = ctx;
    dc->n++;
    dc->code = d->code;
    bn_diag_format(d, dc->msg, sizeof(dc->msg));
}

/* Compiles YAML (one or more documents); returns the set (asserting no allocation failure). */
static struct bn_ruleset *
compile_yaml(const char *yaml, const struct bn_compile_opts *opts, struct diagcap *dc)
{
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    struct diagcap local;
    memset(&local, 0, sizeof(local));
    if (!dc)
        dc = &local;
    int rc = sigma_parse_mem(yaml, strlen(yaml), "test.yml", &rules, &n, parse_diag_cb, dc);
    assert_int_equal(rc, 0);
    if (dc->n)
        print_message("parse diag: %s\n", dc->msg);
    struct bn_ruleset *rs = NULL;
    rc = bn_ruleset_compile(&rs, rules, n, opts, diag_cb, dc);
    bn_free(rules);
    assert_int_equal(rc, 0);
    assert_non_null(rs);
    return rs;
}

/* Adds "name", value pairs (value NULL = null) terminated by a NULL name. */
static BN_UNUSED void
ev_fill(const struct bn_ruleset *rs, struct bn_event *ev, va_list ap)
{
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        uint32_t id = bn_fieldtab_lookup(ft, name, strlen(name));
        int rc = bn_event_add(ev, id, name, strlen(name), val, val ? strlen(val) : 0,
                              val ? BN_VT_STR : BN_VT_NULL, 0);
        assert_int_equal(rc, 0);
    }
}

static void
ev_make(const struct bn_ruleset *rs, struct bn_event *ev)
{
    assert_int_equal(bn_event_init(ev, bn_fieldtab_count(bn_ruleset_fields(rs))), 0);
    ev->product = "windows";
    ev->category = "process_creation";
}

/* Matches ev with both matchers, checks they agree, returns the hit count (and hits). */
static BN_UNUSED size_t
match_both(const struct bn_ruleset *rs, const struct bn_event *ev, uint32_t *out, size_t max)
{
    struct bn_scratch *s = bn_scratch_new(rs);
    assert_non_null(s);
    const uint32_t *h1, *h2;
    size_t n1, n2;
    assert_int_equal(bn_ruleset_match(rs, s, ev, &h1, &n1), 0);
    uint32_t copy[64];
    assert_true(n1 <= 64);
    memcpy(copy, h1, n1 * sizeof(*h1));
    assert_int_equal(bn_ruleset_match_naive(rs, s, ev, &h2, &n2), 0);
    if (n1 != n2 || memcmp(copy, h2, n1 * sizeof(*h2)) != 0)
        fail_msg("fast matcher found %zu hits, naive %zu", n1, n2);
    /* a second fast run (generation counter, cached route) gives the same */
    assert_int_equal(bn_ruleset_match(rs, s, ev, &h1, &n1), 0);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1 && i < max; i++)
        out[i] = copy[i];
    bn_scratch_free(s);
    return n2;
}

/*
 * Compiles yaml (one rule), matches one event given as name/value pairs (windows /
 * process_creation). Returns 1 when it fires, 0 when not, -code when the rule did not compile.
 */
static BN_UNUSED int
fires_opts(const char *yaml, const struct bn_compile_opts *opts, ...)
{
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(yaml, opts, &dc);
    if (bn_ruleset_count(rs) == 0) {
        bn_ruleset_free(rs);
        assert_true(dc.n > 0);
        return dc.code < 0 ? dc.code : -1;
    }
    struct bn_event ev;
    ev_make(rs, &ev);
    va_list ap;
    va_start(ap, opts);
    ev_fill(rs, &ev, ap);
    va_end(ap);
    uint32_t hits[8];
    size_t n = match_both(rs, &ev, hits, 8);
    bn_event_release(&ev);
    bn_ruleset_free(rs);
    return n > 0;
}

#define fires(yaml, ...) fires_opts((yaml), NULL, __VA_ARGS__, NULL)

/* A process_creation rule whose detection is det (indented by 4). */
#define RULE(det)                                                                               \
    "title: test\nid: 11111111-1111-1111-1111-111111111111\nlogsource:\n"                       \
    "    product: windows\n    category: process_creation\ndetection:\n" det

#endif
