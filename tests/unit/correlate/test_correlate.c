/*
 * test_correlate.c - the correlation state machine, driven through the bn__corr_source seam
 * with rules built by hand and hits given directly (no parser, no matcher): every type,
 * every condition operator, group-by, aliases, window edges, late events, tenants, limits,
 * chaining, the generate flag, partition keys and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/correlate.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/sigma.h"
#include "detect/correlate_int.h"

#define NS 1000000000ll
#define MAXR 16
#define MAXA 64

/* --- a hand-made rule set --- */

struct fixture {
    struct sigma_rule rules[MAXR];
    uint32_t refs[MAXR][8];
    size_t nrefs[MAXR];
    bool alerts[MAXR];
    const char *gb[MAXR][4];
    const char *rnames[MAXR][8];
    size_t n;
    struct bn_fieldtab *ft;
};

static size_t
fx_count(void *ctx)
{
    return ((struct fixture *)ctx)->n;
}

static const struct sigma_rule *
fx_rule(void *ctx, uint32_t i)
{
    return &((struct fixture *)ctx)->rules[i];
}

static bool
fx_alerts(void *ctx, uint32_t i)
{
    return ((struct fixture *)ctx)->alerts[i];
}

static const uint32_t *
fx_refs(void *ctx, uint32_t i, size_t *n)
{
    struct fixture *fx = ctx;
    *n = fx->nrefs[i];
    return fx->nrefs[i] ? fx->refs[i] : NULL;
}

static struct fixture *
fx_new(void)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->ft = bn_fieldtab_new();
    assert_non_null(fx->ft);
    return fx;
}

static void
fx_free(struct fixture *fx)
{
    bn_fieldtab_free(fx->ft);
    free(fx);
}

static uint32_t
fx_field(struct fixture *fx, const char *name)
{
    uint32_t id;
    assert_int_equal(bn_fieldtab_intern(fx->ft, name, strlen(name), &id), 0);
    return id;
}

static uint32_t
add_base(struct fixture *fx, const char *name)
{
    uint32_t i = (uint32_t)fx->n++;
    fx->rules[i].kind = SIGMA_KIND_DETECTION;
    fx->rules[i].name = name;
    fx->rules[i].title = name;
    fx->alerts[i] = false;
    return i;
}

/* refs and group-by are NULL-terminated lists; conds come as (cmp, value) pairs, -1 ends. */
static uint32_t
add_corr(struct fixture *fx, const char *name, enum sigma_corr_type type, int64_t span_ms,
         const char *field, const uint32_t *refs, const char *const *group_by, ...)
{
    uint32_t i = (uint32_t)fx->n++;
    struct sigma_rule *r = &fx->rules[i];
    r->kind = SIGMA_KIND_CORRELATION;
    r->name = name;
    r->title = name;
    r->corr.type = type;
    r->corr.timespan_ms = span_ms;
    r->corr.field = field;
    r->corr.generate = false;
    for (size_t k = 0; refs[k] != UINT32_MAX; k++) {
        fx->refs[i][k] = refs[k];
        fx->rnames[i][k] = fx->rules[refs[k]].name;
        fx->nrefs[i]++;
    }
    r->corr.rules = fx->rnames[i];
    r->corr.nrules = (uint32_t)fx->nrefs[i];
    for (size_t k = 0; group_by && group_by[k]; k++) {
        fx->gb[i][k] = group_by[k];
        r->corr.ngroup_by++;
    }
    r->corr.group_by = fx->gb[i];
    va_list ap;
    va_start(ap, group_by);
    for (;;) {
        int cmp = va_arg(ap, int);
        if (cmp < 0)
            break;
        r->corr.conds[r->corr.nconds].cmp = (enum sigma_cmp)cmp;
        r->corr.conds[r->corr.nconds].value = va_arg(ap, int64_t);
        r->corr.nconds++;
    }
    va_end(ap);
    fx->alerts[i] = true;
    return i;
}

/* --- captured alerts --- */

struct seen {
    uint32_t rule;
    char tenant[32];
    char group[128]; /* values joined with '|' */
    int64_t first, last;
    uint64_t count;
};

struct sink {
    struct seen a[MAXA];
    size_t n;
};

static void
on_alert(void *ctx, const struct bn_corr_alert *a)
{
    struct sink *s = ctx;
    assert_true(s->n < MAXA);
    struct seen *x = &s->a[s->n++];
    x->rule = a->rule;
    snprintf(x->tenant, sizeof(x->tenant), "%s", a->tenant ? a->tenant : "-");
    size_t off = 0;
    for (size_t j = 0; j < a->ngroup; j++)
        off += (size_t)snprintf(x->group + off, sizeof(x->group) - off, "%s%s", j ? "|" : "",
                                a->group_values[j]);
    x->first = a->first_ns;
    x->last = a->last_ns;
    x->count = a->count;
}

static struct bn_correlator *
mk(struct fixture *fx, struct sink *s)
{
    struct bn__corr_source src = {
        .ctx = fx,
        .count = fx_count,
        .rule = fx_rule,
        .alerts = fx_alerts,
        .refs = fx_refs,
        .ft = fx->ft,
    };
    return bn__correlator_new_src(&src, on_alert, s);
}

/* Feeds one event at time sec (seconds) with "k=v" pairs, hitting the given rule. */
static int
feed(struct bn_correlator *c, struct fixture *fx, const char *tenant, int64_t ts_ns,
     uint32_t hit, ...)
{
    struct bn_event ev;
    int rc = bn_event_init(&ev, bn_fieldtab_count(fx->ft));
    if (rc) /* only under the allocation-failure hook */
        return rc;
    ev.ts_ns = ts_ns;
    va_list ap;
    va_start(ap, hit);
    const char *kv;
    while ((kv = va_arg(ap, const char *)) != NULL && rc == 0) {
        const char *eq = strchr(kv, '=');
        assert_non_null(eq);
        size_t nl = (size_t)(eq - kv);
        uint32_t id = bn_fieldtab_lookup(fx->ft, kv, nl);
        rc = bn_event_add(&ev, id, kv, nl, eq + 1, strlen(eq + 1), BN_VT_STR, 0);
    }
    va_end(ap);
    if (rc == 0)
        rc = bn_correlator_feed(c, tenant, &ev, &hit, 1);
    bn_event_release(&ev);
    return rc;
}

static const uint32_t END = UINT32_MAX;

/* --- tests --- */

static void
test_event_count_gte(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t b = add_base(fx, "failed");
    const char *gb[] = {"User", NULL};
    uint32_t r = add_corr(fx, "many", SIGMA_CORR_EVENT_COUNT, 60000, NULL,
                          (uint32_t[]){b, END}, gb, SIGMA_CMP_GTE, (int64_t)3, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    assert_non_null(c);
    assert_int_equal(feed(c, fx, NULL, 1 * NS, b, "User=alice", NULL), 0);
    assert_int_equal(feed(c, fx, NULL, 2 * NS, b, "User=alice", NULL), 0);
    assert_int_equal(feed(c, fx, NULL, 2 * NS, b, "User=bob", NULL), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(feed(c, fx, NULL, 3 * NS, b, "User=alice", NULL), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].rule, r);
    assert_string_equal(s.a[0].group, "alice");
    assert_string_equal(s.a[0].tenant, "-");
    assert_int_equal(s.a[0].count, 3);
    assert_int_equal(s.a[0].first, 1 * NS);
    assert_int_equal(s.a[0].last, 3 * NS);
    /* A new window starts after the alert: no alert on the 4th and 5th hit, one on the 6th. */
    feed(c, fx, NULL, 4 * NS, b, "User=alice", NULL);
    feed(c, fx, NULL, 5 * NS, b, "User=alice", NULL);
    assert_int_equal(s.n, 1);
    feed(c, fx, NULL, 6 * NS, b, "User=alice", NULL);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.a[1].first, 4 * NS);
    /* A hit of an unrelated rule index is ignored. */
    feed(c, fx, NULL, 7 * NS, 99, "User=alice", NULL);
    uint64_t groups, dropped;
    bn_correlator_counts(c, &groups, &dropped);
    assert_int_equal(groups, 2);
    assert_int_equal(dropped, 0);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_event_count_gt_sliding(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Host", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 10000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GT, (int64_t)2, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    /* Three hits but never three within 10 s: the window slides, no alert. */
    feed(c, fx, NULL, 0, b, "Host=h", NULL);
    feed(c, fx, NULL, 8 * NS, b, "Host=h", NULL);
    feed(c, fx, NULL, 15 * NS, b, "Host=h", NULL);
    assert_int_equal(s.n, 0);
    /* 8, 15, 17 are within 10 s: 3 > 2. */
    feed(c, fx, NULL, 17 * NS, b, "Host=h", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].count, 3);
    assert_int_equal(s.a[0].first, 8 * NS);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_window_edges(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Host", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 10000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)2, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    /* Exactly one timespan apart: both in the closed window. */
    feed(c, fx, NULL, 100 * NS, b, "Host=a", NULL);
    feed(c, fx, NULL, 110 * NS, b, "Host=a", NULL);
    assert_int_equal(s.n, 1);
    /* One nanosecond more: outside. */
    feed(c, fx, NULL, 200 * NS, b, "Host=b", NULL);
    feed(c, fx, NULL, 210 * NS + 1, b, "Host=b", NULL);
    assert_int_equal(s.n, 1);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_out_of_order(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Host", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 10000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)3, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 120 * NS, b, "Host=a", NULL);
    feed(c, fx, NULL, 100 * NS, b, "Host=a", NULL); /* late, > 10 s before 120: ignored */
    assert_int_equal(s.n, 0);
    feed(c, fx, NULL, 115 * NS, b, "Host=a", NULL); /* late but within the timespan */
    feed(c, fx, NULL, 112 * NS, b, "Host=a", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].first, 112 * NS); /* timestamps were kept sorted */
    assert_int_equal(s.a[0].count, 3);
    struct bn_corr_stats st;
    bn_correlator_stats(c, &st);
    assert_int_equal(st.events_late, 1);
    assert_int_equal(st.alerts, 1);
    bn_correlator_free(c);
    fx_free(fx);
}

/* lt, lte, eq, neq are decided when the window closes. */
static void
run_deferred(enum sigma_cmp cmp, int64_t v, int hits, bool expect)
{
    struct fixture *fx = fx_new();
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Host", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 60000, NULL, (uint32_t[]){b, END}, gb, (int)cmp,
             v, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    for (int i = 0; i < hits; i++)
        feed(c, fx, NULL, (int64_t)i * NS, b, "Host=a", NULL);
    assert_int_equal(s.n, 0); /* never before the window is over */
    bn_correlator_expire(c, 30 * NS);
    assert_int_equal(s.n, 0);
    bn_correlator_expire(c, 61 * NS);
    assert_int_equal(s.n, expect ? 1 : 0);
    if (expect)
        assert_int_equal(s.a[0].count, hits);
    uint64_t groups;
    bn_correlator_counts(c, &groups, NULL);
    assert_int_equal(groups, 0);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_condition_ops(void **state)
{
    (void)state;
    run_deferred(SIGMA_CMP_LT, 3, 2, true);
    run_deferred(SIGMA_CMP_LT, 3, 3, false);
    run_deferred(SIGMA_CMP_LTE, 3, 3, true);
    run_deferred(SIGMA_CMP_LTE, 3, 4, false);
    run_deferred(SIGMA_CMP_EQ, 3, 3, true);
    run_deferred(SIGMA_CMP_EQ, 3, 2, false);
    run_deferred(SIGMA_CMP_NEQ, 3, 2, true);
    run_deferred(SIGMA_CMP_NEQ, 3, 3, false);
}

static void
test_range_closed_by_later_event(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Host", NULL};
    /* gt 1 and lte 3: a range, decided at window close. */
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 10000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GT, (int64_t)1, SIGMA_CMP_LTE, (int64_t)3, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 0, b, "Host=a", NULL);
    feed(c, fx, NULL, 1 * NS, b, "Host=a", NULL);
    feed(c, fx, NULL, 10 * NS, b, "Host=a", NULL); /* exactly at the end: in the window */
    assert_int_equal(s.n, 0);
    /* A later hit of the group shows the window [0, 10 s] is over. */
    feed(c, fx, NULL, 11 * NS, b, "Host=a", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].count, 3);
    assert_int_equal(s.a[0].first, 0);
    assert_int_equal(s.a[0].last, 10 * NS);
    /* The next window holds 4 hits: 4 > 3, no alert. */
    for (int i = 12; i < 15; i++)
        feed(c, fx, NULL, i * NS, b, "Host=a", NULL);
    bn_correlator_expire(c, INT64_MAX);
    assert_int_equal(s.n, 1);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_value_count(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "IpAddress");
    fx_field(fx, "TargetUserName");
    uint32_t b = add_base(fx, "logon_failed");
    const char *gb[] = {"IpAddress", NULL};
    add_corr(fx, "spray", SIGMA_CORR_VALUE_COUNT, 300000, "TargetUserName",
             (uint32_t[]){b, END}, gb, SIGMA_CMP_GTE, (int64_t)3, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 1 * NS, b, "IpAddress=10.0.0.1", "TargetUserName=alice", NULL);
    feed(c, fx, NULL, 2 * NS, b, "IpAddress=10.0.0.1", "TargetUserName=alice", NULL);
    feed(c, fx, NULL, 3 * NS, b, "IpAddress=10.0.0.1", "TargetUserName=bob", NULL);
    feed(c, fx, NULL, 4 * NS, b, "IpAddress=10.0.0.2", "TargetUserName=carol", NULL);
    feed(c, fx, NULL, 5 * NS, b, "IpAddress=10.0.0.1", NULL); /* no value: not counted */
    assert_int_equal(s.n, 0);
    feed(c, fx, NULL, 6 * NS, b, "IpAddress=10.0.0.1", "TargetUserName=carol", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].group, "10.0.0.1");
    assert_int_equal(s.a[0].count, 3);
    assert_int_equal(s.a[0].first, 1 * NS);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_value_count_many_values(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "Src");
    fx_field(fx, "User");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Src", NULL};
    add_corr(fx, "c", SIGMA_CORR_VALUE_COUNT, 10000, "User", (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)50, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    /* 2000 hits of distinct users, 1 s apart: never more than 11 distinct in 10 s.
     * Exercises the dead-value compaction of the value table. */
    char u[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(u, sizeof(u), "User=u%d", i);
        feed(c, fx, NULL, (int64_t)i * NS, b, "Src=x", u, NULL);
    }
    assert_int_equal(s.n, 0);
    /* Then 50 distinct users in one second. */
    for (int i = 0; i < 50; i++) {
        snprintf(u, sizeof(u), "User=burst%d", i);
        feed(c, fx, NULL, 3000 * NS + i, b, "Src=x", u, NULL);
    }
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].count, 50);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_temporal(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t a = add_base(fx, "recon_a");
    uint32_t b = add_base(fx, "recon_b");
    uint32_t cc = add_base(fx, "recon_c");
    const char *gb[] = {"User", NULL};
    uint32_t r = add_corr(fx, "recon", SIGMA_CORR_TEMPORAL, 300000, NULL,
                          (uint32_t[]){a, b, cc, END}, gb, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 10 * NS, cc, "User=u", NULL);
    feed(c, fx, NULL, 11 * NS, a, "User=u", NULL);
    feed(c, fx, NULL, 11 * NS, a, "User=u", NULL);
    feed(c, fx, NULL, 12 * NS, b, "User=v", NULL); /* another user */
    assert_int_equal(s.n, 0);
    feed(c, fx, NULL, 20 * NS, b, "User=u", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].rule, r);
    assert_int_equal(s.a[0].count, 3);
    assert_int_equal(s.a[0].first, 10 * NS);
    /* Too far apart: c at 0, a at 200, b at 400 (span 300 s). */
    feed(c, fx, NULL, 1000 * NS, cc, "User=w", NULL);
    feed(c, fx, NULL, 1200 * NS, a, "User=w", NULL);
    feed(c, fx, NULL, 1400 * NS, b, "User=w", NULL);
    assert_int_equal(s.n, 1);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_temporal_ordered(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t a = add_base(fx, "failed");
    uint32_t b = add_base(fx, "success");
    const char *gb[] = {"User", NULL};
    add_corr(fx, "brute", SIGMA_CORR_TEMPORAL_ORDERED, 600000, NULL, (uint32_t[]){a, b, END},
             gb, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    /* Wrong order: no alert. */
    feed(c, fx, NULL, 1 * NS, b, "User=u", NULL);
    feed(c, fx, NULL, 2 * NS, a, "User=u", NULL);
    assert_int_equal(s.n, 0);
    /* Then success after the failure: alert. */
    feed(c, fx, NULL, 3 * NS, b, "User=u", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].first, 2 * NS);
    assert_int_equal(s.a[0].count, 2);
    /* Late success that sorts before the failure does not complete the order. */
    feed(c, fx, NULL, 100 * NS, a, "User=x", NULL);
    feed(c, fx, NULL, 90 * NS, b, "User=x", NULL);
    assert_int_equal(s.n, 1);
    feed(c, fx, NULL, 101 * NS, b, "User=x", NULL);
    assert_int_equal(s.n, 2);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_group_by_several_and_missing(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    fx_field(fx, "Host");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"User", "Host", "Workstation", NULL}; /* Workstation: not in table */
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 60000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)2, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 1 * NS, b, "User=u", "Host=h1", "Workstation=w", NULL);
    feed(c, fx, NULL, 2 * NS, b, "User=u", "Host=h2", "Workstation=w", NULL);
    feed(c, fx, NULL, 3 * NS, b, "User=u", "Host=h1", "Workstation=z", NULL);
    assert_int_equal(s.n, 0);
    /* Found by name although no rule names the field. */
    feed(c, fx, NULL, 4 * NS, b, "User=u", "Host=h1", "Workstation=w", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].group, "u|h1|w");
    /* Missing fields group as the empty value. */
    feed(c, fx, NULL, 5 * NS, b, "User=u", NULL);
    feed(c, fx, NULL, 6 * NS, b, "User=u", "Host=", NULL);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.a[1].group, "u||");
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_aliases(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "destination.ip");
    fx_field(fx, "source.ip");
    uint32_t a = add_base(fx, "internal_error");
    uint32_t b = add_base(fx, "new_network_connection");
    const char *gb[] = {"internal_ip", "remote_ip", NULL};
    uint32_t r = add_corr(fx, "c", SIGMA_CORR_TEMPORAL, 10000, NULL, (uint32_t[]){a, b, END},
                          gb, -1);
    static const char *ar[] = {"internal_error", "new_network_connection"};
    static const char *f1[] = {"destination.ip", "source.ip"};
    static const char *f2[] = {"source.ip", "destination.ip"};
    struct sigma_alias al[2] = {
        {.name = "internal_ip", .rules = ar, .fields = f1, .n = 2},
        {.name = "remote_ip", .rules = ar, .fields = f2, .n = 2},
    };
    fx->rules[r].corr.aliases = al;
    fx->rules[r].corr.naliases = 2;
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 1 * NS, a, "destination.ip=10.0.0.5", "source.ip=1.2.3.4", NULL);
    /* Same addresses in the same roles: no match. */
    feed(c, fx, NULL, 2 * NS, b, "destination.ip=10.0.0.5", "source.ip=1.2.3.4", NULL);
    assert_int_equal(s.n, 0);
    /* Swapped roles: same internal_ip / remote_ip. */
    feed(c, fx, NULL, 3 * NS, b, "source.ip=10.0.0.5", "destination.ip=1.2.3.4", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].group, "10.0.0.5|1.2.3.4");
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_tenants(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"User", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 60000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)2, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, "acme", 1 * NS, b, "User=admin", NULL);
    feed(c, fx, "globex", 2 * NS, b, "User=admin", NULL);
    assert_int_equal(s.n, 0);
    feed(c, fx, "globex", 3 * NS, b, "User=admin", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].tenant, "globex");
    /* Partition keys: equal for equal (tenant, values), across correlators. */
    struct bn_correlator *c2 = mk(fx, &s);
    struct bn_event ev;
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(fx->ft)), 0);
    bn_event_add(&ev, 0, "User", 4, "admin", 5, BN_VT_STR, 0);
    uint64_t k1 = bn_correlator_partition_key(c, 1, b, "acme", &ev);
    uint64_t k2 = bn_correlator_partition_key(c2, 1, b, "acme", &ev);
    uint64_t k3 = bn_correlator_partition_key(c, 1, b, "globex", &ev);
    assert_true(k1 != 0);
    assert_true(k1 == k2);
    assert_true(k1 != k3);
    assert_int_equal(bn_correlator_partition_key(c, 0, b, "acme", &ev), 0); /* not a corr */
    bn_event_release(&ev);
    bn_correlator_free(c2);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_eviction(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"User", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 60000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_GTE, (int64_t)2, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    bn_correlator_set_limits(c, 2, 3);
    feed(c, fx, NULL, 1 * NS, b, "User=a", NULL);
    feed(c, fx, NULL, 2 * NS, b, "User=b", NULL);
    feed(c, fx, NULL, 3 * NS, b, "User=c", NULL); /* evicts a, the oldest */
    uint64_t groups, dropped;
    bn_correlator_counts(c, &groups, &dropped);
    assert_int_equal(groups, 2);
    assert_int_equal(dropped, 1);
    feed(c, fx, NULL, 4 * NS, b, "User=a", NULL); /* a starts over (evicts b) */
    assert_int_equal(s.n, 0);
    feed(c, fx, NULL, 5 * NS, b, "User=c", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].group, "c");
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_events_per_group_cap(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    uint32_t b = add_base(fx, "b");
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 60000, NULL, (uint32_t[]){b, END}, NULL,
             SIGMA_CMP_GTE, (int64_t)5, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    bn_correlator_set_limits(c, 0, 3);
    for (int i = 0; i < 10; i++)
        feed(c, fx, NULL, i * NS, b, NULL);
    /* Never more than 3 timestamps kept, so never 5. */
    assert_int_equal(s.n, 0);
    struct bn_corr_stats st;
    bn_correlator_stats(c, &st);
    assert_int_equal(st.events_capped, 7);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_chain_and_generate(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t failed = add_base(fx, "failed_login");
    uint32_t ok = add_base(fx, "successful_login");
    const char *gb[] = {"User", NULL};
    uint32_t many = add_corr(fx, "multiple_failed_login", SIGMA_CORR_EVENT_COUNT, 600000, NULL,
                             (uint32_t[]){failed, END}, gb, SIGMA_CMP_GTE, (int64_t)3, -1);
    uint32_t outer = add_corr(fx, "brute", SIGMA_CORR_TEMPORAL_ORDERED, 600000, NULL,
                              (uint32_t[]){many, ok, END}, gb, -1);
    fx->rules[outer].corr.generate = false; /* the default: the inner rule is silent */
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 1 * NS, ok, "User=u", NULL);
    for (int i = 2; i <= 4; i++)
        feed(c, fx, NULL, i * NS, failed, "User=u", NULL);
    assert_int_equal(s.n, 0); /* the inner rule fired but does not generate */
    struct bn_corr_stats st;
    bn_correlator_stats(c, &st);
    assert_int_equal(st.fired, 1);
    feed(c, fx, NULL, 5 * NS, ok, "User=u", NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.a[0].rule, outer);
    assert_string_equal(s.a[0].group, "u");
    assert_int_equal(s.a[0].first, 4 * NS);
    /* With generate: true the inner correlation alerts as well. */
    fx->rules[outer].corr.generate = true;
    struct sink s2 = {0};
    struct bn_correlator *c2 = mk(fx, &s2);
    for (int i = 2; i <= 4; i++)
        feed(c2, fx, NULL, i * NS, failed, "User=u", NULL);
    assert_int_equal(s2.n, 1);
    assert_int_equal(s2.a[0].rule, many);
    bn_correlator_free(c2);
    bn_correlator_free(c);
    fx_free(fx);
}

static void
test_auto_sweep_and_expire(void **state)
{
    (void)state;
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"User", NULL};
    add_corr(fx, "c", SIGMA_CORR_EVENT_COUNT, 10000, NULL, (uint32_t[]){b, END}, gb,
             SIGMA_CMP_LT, (int64_t)5, -1);
    struct sink s = {0};
    struct bn_correlator *c = mk(fx, &s);
    feed(c, fx, NULL, 0, b, "User=quiet", NULL);
    /* Another group's event much later shows quiet's window is over. */
    feed(c, fx, NULL, 100 * NS, b, "User=other", NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].group, "quiet");
    bn_correlator_expire(c, INT64_MAX);
    assert_int_equal(s.n, 2);
    uint64_t groups;
    bn_correlator_counts(c, &groups, NULL);
    assert_int_equal(groups, 0);
    bn_correlator_free(c);
    fx_free(fx);
}

static int
oom_once(unsigned long n)
{
    struct fixture *fx = fx_new();
    fx_field(fx, "User");
    fx_field(fx, "Src");
    uint32_t a = add_base(fx, "a");
    uint32_t b = add_base(fx, "b");
    const char *gb[] = {"Src", NULL};
    uint32_t v = add_corr(fx, "v", SIGMA_CORR_VALUE_COUNT, 60000, "User",
                          (uint32_t[]){a, END}, gb, SIGMA_CMP_GTE, (int64_t)20, -1);
    add_corr(fx, "t", SIGMA_CORR_TEMPORAL_ORDERED, 60000, NULL, (uint32_t[]){v, b, END}, gb,
             -1);
    struct sink s = {0};
    bn_alloc_fail_after(n);
    int rc = 0;
    struct bn_correlator *c = mk(fx, &s);
    if (!c) {
        rc = BN_ENOMEM;
        goto out;
    }
    char u[32], src[32];
    for (int i = 0; i < 200 && rc == 0; i++) {
        snprintf(u, sizeof(u), "User=u%d", i % 60);
        snprintf(src, sizeof(src), "Src=s%d", i % 3);
        rc = feed(c, fx, NULL, (int64_t)i * 1000, a, u, src, NULL);
    }
    if (rc == 0)
        rc = feed(c, fx, NULL, 300 * 1000, b, "Src=s0", NULL);
    bn_alloc_fail_after(0);
    if (rc == 0) {
        assert_true(s.n >= 1);
        assert_int_equal(s.a[s.n - 1].rule, 3);
    } else {
        assert_int_equal(rc, BN_ENOMEM);
    }
    /* Whatever failed, the correlator stays usable and frees cleanly. */
    feed(c, fx, NULL, 400 * 1000, b, "Src=s1", NULL);
    bn_correlator_expire(c, INT64_MAX);
out:
    bn_alloc_fail_after(0);
    bn_correlator_free(c);
    fx_free(fx);
    return rc;
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    unsigned long n;
    int failures = 0;
    for (n = 1; n < 2000; n++) {
        if (oom_once(n) == 0)
            break;
        failures++;
    }
    assert_true(n < 2000);
    assert_true(failures > 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_count_gte),
        cmocka_unit_test(test_event_count_gt_sliding),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_condition_ops),
        cmocka_unit_test(test_range_closed_by_later_event),
        cmocka_unit_test(test_value_count),
        cmocka_unit_test(test_value_count_many_values),
        cmocka_unit_test(test_temporal),
        cmocka_unit_test(test_temporal_ordered),
        cmocka_unit_test(test_group_by_several_and_missing),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_events_per_group_cap),
        cmocka_unit_test(test_chain_and_generate),
        cmocka_unit_test(test_auto_sweep_and_expire),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
