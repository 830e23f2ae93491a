/*
 * test_correlate_rules.c - correlations end to end from YAML: sigma_parse_mem, then
 * bn_ruleset_compile, events built with bn_event_add against the set's field table, matched
 * with bn_ruleset_match and fed to the correlator made by bn_correlator_new. Covers what only
 * the real compiler decides: reference resolution by name and id, aliases as parsed, the
 * generate flag through bn_ruleset_rule_alerts, chained correlations and a group-by field no
 * rule names (absent from the field table).
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
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/sigma.h"

#define NS 1000000000ll

struct seen {
    uint32_t rule;
    char group[128];
    uint64_t count;
};

struct sink {
    struct seen a[32];
    size_t n;
};

static void
on_alert(void *ctx, const struct bn_corr_alert *a)
{
    struct sink *s = ctx;
    assert_true(s->n < 32);
    struct seen *x = &s->a[s->n++];
    x->rule = a->rule;
    size_t off = 0;
    for (size_t j = 0; j < a->ngroup; j++)
        off += (size_t)snprintf(x->group + off, sizeof(x->group) - off, "%s%s", j ? "|" : "",
                                a->group_values[j]);
    x->count = a->count;
}

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    (void)ctx;
    fail_msg("parse: %s (line %lu)", d->msg, d->line);
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    (void)ctx;
    (void)rule;
    fail_msg("compile: %s", d->msg);
}

struct world {
    struct bn_ruleset *rs;
    struct bn_scratch *sc;
    struct bn_correlator *c;
    struct bn_event ev;
    struct sink sink;
};

static void
world_init(struct world *w, const char *yaml)
{
    memset(w, 0, sizeof(*w));
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    assert_int_equal(sigma_parse_mem(yaml, strlen(yaml), "test", &rules, &n, on_parse_diag, NULL),
                     0);
    /* Events here carry no mapped logsource: match every rule against every event. */
    struct bn_compile_opts opts = {.ignore_logsource = true};
    assert_int_equal(bn_ruleset_compile(&w->rs, rules, n, &opts, on_compile_diag, NULL), 0);
    bn_free(rules);
    w->sc = bn_scratch_new(w->rs);
    w->c = bn_correlator_new(w->rs, on_alert, &w->sink);
    assert_non_null(w->sc);
    assert_non_null(w->c);
    assert_int_equal(bn_event_init(&w->ev, bn_fieldtab_count(bn_ruleset_fields(w->rs))), 0);
}

static void
world_release(struct world *w)
{
    bn_event_release(&w->ev);
    bn_correlator_free(w->c);
    bn_scratch_free(w->sc);
    bn_ruleset_free(w->rs);
}

static uint32_t
rule_index(const struct world *w, const char *title)
{
    for (uint32_t i = 0; i < bn_ruleset_count(w->rs); i++)
        if (strcmp(bn_ruleset_rule(w->rs, i)->title, title) == 0)
            return i;
    fail_msg("no rule '%s'", title);
    return UINT32_MAX;
}

/* Builds an event of "k=v" pairs at ts_ns, matches it and feeds it. Returns the hit count. */
static size_t
event(struct world *w, const char *tenant, int64_t ts_ns, ...)
{
    const struct bn_fieldtab *ft = bn_ruleset_fields(w->rs);
    bn_event_clear(&w->ev);
    w->ev.ts_ns = ts_ns;
    va_list ap;
    va_start(ap, ts_ns);
    const char *kv;
    while ((kv = va_arg(ap, const char *)) != NULL) {
        const char *eq = strchr(kv, '=');
        size_t nl = (size_t)(eq - kv);
        uint32_t id = bn_fieldtab_lookup(ft, kv, nl);
        assert_int_equal(bn_event_add(&w->ev, id, kv, nl, eq + 1, strlen(eq + 1),
                                      BN_VT_STR, 0),
                         0);
    }
    va_end(ap);
    const uint32_t *hits;
    size_t nhits;
    assert_int_equal(bn_ruleset_match(w->rs, w->sc, &w->ev, &hits, &nhits), 0);
    assert_int_equal(bn_correlator_feed(w->c, tenant, &w->ev, hits, nhits), 0);
    return nhits;
}

static const char brute_yaml[] =
    "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
    "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\n"
    "correlation:\n"
    "    type: temporal_ordered\n"
    "    rules:\n"
    "        - multiple_failed_login\n"
    "        - successful_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "level: high\n"
    "---\n"
    "title: Multiple failed logons\n"
    "id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\n"
    "name: multiple_failed_login\n"
    "correlation:\n"
    "    type: event_count\n"
    "    rules:\n"
    "        - failed_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "    condition:\n"
    "        gte: 3\n"
    "---\n"
    "title: Single failed login\n"
    "id: 53ba33fd-3a50-4468-a5ef-c583635cfa92\n"
    "name: failed_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 529\n"
    "            - 4625\n"
    "    condition: selection\n"
    "---\n"
    "title: Successful login\n"
    "id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\n"
    "name: successful_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 528\n"
    "            - 4624\n"
    "    condition: selection\n";

/* The specification's chained example: event_count feeding temporal_ordered. */
static void
test_spec_chain(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, brute_yaml);
    uint32_t outer = rule_index(&w, "Correlation - Multiple Failed Logins Followed by Successful Login");
    uint32_t inner = rule_index(&w, "Multiple failed logons");
    uint32_t failed = rule_index(&w, "Single failed login");
    /* generate defaults to false: the referenced rules do not alert on their own. */
    assert_false(bn_ruleset_rule_alerts(w.rs, failed));
    assert_false(bn_ruleset_rule_alerts(w.rs, rule_index(&w, "Successful login")));
    size_t n;
    const uint32_t *refs = bn_ruleset_corr_refs(w.rs, outer, &n);
    assert_int_equal(n, 2);
    assert_int_equal(refs[0], inner);

    assert_int_equal(event(&w, NULL, 1 * NS, "EventID=4625", "User=alice", NULL), 1);
    event(&w, NULL, 2 * NS, "EventID=4625", "User=alice", NULL);
    event(&w, NULL, 3 * NS, "EventID=4625", "User=bob", NULL);
    event(&w, NULL, 4 * NS, "EventID=4624", "User=alice", NULL); /* only 2 failures yet */
    event(&w, NULL, 5 * NS, "EventID=4625", "User=alice", NULL); /* inner fires, silent */
    event(&w, NULL, 6 * NS, "EventID=4624", "User=bob", NULL);
    event(&w, NULL, 6 * NS, "EventID=4688", "User=alice", NULL); /* matches nothing */
    assert_int_equal(w.sink.n, 0);
    event(&w, NULL, 7 * NS, "EventID=4624", "User=alice", NULL);
    assert_int_equal(w.sink.n, 1);
    assert_int_equal(w.sink.a[0].rule, outer);
    assert_string_equal(w.sink.a[0].group, "alice");
    assert_int_equal(w.sink.a[0].count, 2);
    /* Another tenant with the same user does not see alice's failures. */
    event(&w, "other", 8 * NS, "EventID=4624", "User=alice", NULL);
    assert_int_equal(w.sink.n, 1);
    world_release(&w);
}

static const char alias_yaml[] =
    "title: error then connection back\n"
    "correlation:\n"
    "    type: temporal\n"
    "    rules:\n"
    "        - internal_error\n"
    "        - 2b6a9d3e-7c1f-4c55-9c1e-1f0e6a3b4d22\n"
    "    group-by:\n"
    "        - internal_ip\n"
    "        - remote_ip\n"
    "    timespan: 10s\n"
    "    aliases:\n"
    "        internal_ip:\n"
    "            internal_error: destination.ip\n"
    "            new_network_connection: source.ip\n"
    "        remote_ip:\n"
    "            internal_error: source.ip\n"
    "            new_network_connection: destination.ip\n"
    "    generate: true\n"
    "---\n"
    "title: internal error\n"
    "name: internal_error\n"
    "logsource:\n"
    "    category: webserver\n"
    "detection:\n"
    "    selection:\n"
    "        http.response.status_code: 500\n"
    "    condition: selection\n"
    "---\n"
    "title: new connection\n"
    "id: 2b6a9d3e-7c1f-4c55-9c1e-1f0e6a3b4d22\n"
    "name: new_network_connection\n"
    "logsource:\n"
    "    category: network_connection\n"
    "detection:\n"
    "    selection:\n"
    "        event.type: connection\n"
    "    condition: selection\n";

/* Aliases as parsed, a reference by id, and generate: true. */
static void
test_aliases_from_yaml(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, alias_yaml);
    assert_true(bn_ruleset_rule_alerts(w.rs, rule_index(&w, "internal error")));
    event(&w, NULL, 100 * NS, "http.response.status_code=500", "destination.ip=10.1.1.1",
          "source.ip=8.8.8.8", NULL);
    event(&w, NULL, 101 * NS, "event.type=connection", "source.ip=8.8.8.8",
          "destination.ip=10.1.1.1", NULL);
    assert_int_equal(w.sink.n, 0);
    event(&w, NULL, 102 * NS, "event.type=connection", "source.ip=10.1.1.1",
          "destination.ip=8.8.8.8", NULL);
    assert_int_equal(w.sink.n, 1);
    assert_string_equal(w.sink.a[0].group, "10.1.1.1|8.8.8.8");
    /* Too late: 11 s after the error. */
    event(&w, NULL, 200 * NS, "http.response.status_code=500", "destination.ip=10.1.1.2",
          "source.ip=8.8.8.8", NULL);
    event(&w, NULL, 211 * NS, "event.type=connection", "source.ip=10.1.1.2",
          "destination.ip=8.8.8.8", NULL);
    assert_int_equal(w.sink.n, 1);
    world_release(&w);
}

static const char spray_yaml[] =
    "title: spray\n"
    "correlation:\n"
    "    type: value_count\n"
    "    rules: [logon_failed]\n"
    "    group-by: [IpAddress, WorkstationName]\n"
    "    timespan: 1m\n"
    "    condition:\n"
    "        field: TargetUserName\n"
    "        gt: 2\n"
    "        lt: 5\n"
    "---\n"
    "title: logon failed\n"
    "name: logon_failed\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "    selection:\n"
    "        EventID: 4625\n"
    "    condition: selection\n";

/* value_count with a range (decided at window close) over fields no rule names. */
static void
test_value_count_range_from_yaml(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, spray_yaml);
    /* Neither group-by field nor the counted field is named by a detection: the correlator
     * finds them by name. */
    const struct bn_fieldtab *ft = bn_ruleset_fields(w.rs);
    (void)ft;
    const char *users[] = {"a", "b", "c", "a"};
    char u[64];
    for (int i = 0; i < 4; i++) {
        snprintf(u, sizeof(u), "TargetUserName=%s", users[i]);
        event(&w, NULL, i * NS, "EventID=4625", "IpAddress=1.2.3.4", "WorkstationName=W1", u,
              NULL);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(u, sizeof(u), "TargetUserName=x%d", i);
        event(&w, NULL, i * NS, "EventID=4625", "IpAddress=5.6.7.8", "WorkstationName=W1", u,
              NULL);
    }
    assert_int_equal(w.sink.n, 0);
    bn_correlator_expire(w.c, INT64_MAX);
    assert_int_equal(w.sink.n, 1); /* 3 distinct: in (2, 5); 6 distinct: not */
    assert_string_equal(w.sink.a[0].group, "1.2.3.4|W1");
    assert_int_equal(w.sink.a[0].count, 3);
    world_release(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_chain),
        cmocka_unit_test(test_aliases_from_yaml),
        cmocka_unit_test(test_value_count_range_from_yaml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
