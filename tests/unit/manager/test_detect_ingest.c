/*
 * test_detect_ingest.c - the pipeline behind the ingest hooks over the real SQLite store: a
 * stored batch with a reverse shell, a DNS answer on an imported IOC list and an agent-local
 * alert becomes alerts and one incident in the batch's transaction; health findings become
 * alerts; a rule disabled for the tenant in the store stops after detect_ingest_changed();
 * the IOC import validates, normalises and counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bannin/error.h"
#include "bannin/ioc.h"
#include "manager/detect.h"
#include "manager/ingest.h"
#include "manager/store.h"

#include "detect_events.h"

struct got {
    int n;
    char rule[64][64];
    char source[64][16];
    int64_t incident[64];
    int64_t count[64];
};

static int
on_alert_row(void *ctx, const struct store_alert *a)
{
    struct got *g = ctx;
    if (g->n < 64) {
        snprintf(g->rule[g->n], sizeof(g->rule[0]), "%s", a->rule_id);
        snprintf(g->source[g->n], sizeof(g->source[0]), "%s", a->source);
        g->incident[g->n] = a->incident_id;
        g->count[g->n] = a->count;
        g->n++;
    }
    return 0;
}

static int
find(const struct got *g, const char *rule)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->rule[i], rule) == 0)
            return i;
    return -1;
}

static void
alerts(struct store *st, int64_t tenant, struct got *g)
{
    memset(g, 0, sizeof(*g));
    struct store_alert_query q = {.scope = {.ids = &tenant, .n = 1}, .incident_id = -1};
    assert_int_equal(store_alert_list(st, &q, on_alert_row, g, NULL, NULL), 0);
}

static const char *const events[] = {
    DETECT_ALERTING_EVENTS
};

static void
batch(struct store *st, struct ingest_hooks *h, const struct ingest_agent *ag, int64_t seq0)
{
    struct store_event ev[3];
    for (int i = 0; i < 3; i++) {
        memset(&ev[i], 0, sizeof(ev[i]));
        ev[i].tenant_id = ag->tenant_id;
        ev[i].agent_id = ag->id;
        ev[i].seq = seq0 + i;
        ev[i].ts_ns = 1764064800000000000LL + i;
        ev[i].received_ns = ev[i].ts_ns;
        ev[i].event_id = i == 0 ? 1 : i == 1 ? 22 : 140;
        ev[i].host = "web-01";
        ev[i].json = events[i];
        ev[i].json_len = strlen(events[i]);
    }
    size_t ins = 0, dups = 0;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_events_insert(st, ev, 3, &ins, &dups), 0);
    assert_int_equal(ins, 3);
    h->on_batch_stored(h->ctx, ag, ev, 3);
    assert_int_equal(store_commit(st), 0);
}

static void
test_pipeline(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn-detect-ingest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct store *st;
    struct store_err se;
    assert_int_equal(store_open(&st, dir, &se), 0);
    struct store_tenant t = {.notify_min_severity = 3};
    snprintf(t.name, sizeof(t.name), "acme");
    int64_t tenant;
    assert_int_equal(store_tenant_create(st, &t, &tenant), 0);
    struct store_agent sa = {.tenant_id = tenant};
    snprintf(sa.uid, sizeof(sa.uid), "u-1");
    snprintf(sa.hostname, sizeof(sa.hostname), "web-01");
    snprintf(sa.cert_fp, sizeof(sa.cert_fp), "fp");
    int64_t agent;
    assert_int_equal(store_agent_create(st, &sa, &agent), 0);

    /* IOC import: CSV with a bad line, counted; values normalised */
    int64_t list;
    assert_int_equal(store_ioc_list_create(st, tenant, "feed", "test", 1, &list), 0);
    const char csv[] = "type,value\ndomain,BAD-DOMAIN.test.\nip,198.51.100.0/24\nip,999.1.1.1\n";
    struct store_scope sc = {.ids = &tenant, .n = 1};
    struct bn_ioc_load_stats ls;
    struct bn_diag d;
    size_t added;
    assert_int_equal(detect_ioc_import(st, &sc, list, csv, sizeof(csv) - 1, "feed.csv", 0, &ls,
                                       &added, &d),
                     0);
    assert_int_equal(added, 2);
    assert_int_equal(ls.skipped_value, 1);
    assert_int_equal(d.line, 4);
    struct store_ioc hit;
    assert_int_equal(store_ioc_lookup(st, tenant, "domain", "bad-domain.test", &hit), 0);

    struct detect_rules *rules;
    struct detect_load_stats rl;
    assert_int_equal(detect_rules_load(&rules, NULL, 0, &rl), 0);
    struct detect_ingest *di;
    struct detect_ingest_opts o = {.rules = rules, .st = st, .data_dir = dir};
    assert_int_equal(detect_ingest_new(&di, &o), 0);
    struct ingest_hooks h;
    detect_ingest_hooks(di, &h);
    struct ingest_agent ag = {.id = agent, .tenant_id = tenant, .uid = "u-1",
                              .hostname = "web-01"};
    batch(st, &h, &ag, 1);

    struct got g;
    alerts(st, tenant, &g);
    int shell = -1;
    for (int i = 0; i < g.n; i++)
        if (strcmp(g.source[i], "central") == 0)
            shell = i;
    assert_true(shell >= 0);
    int dom = find(&g, "ioc.domain"), ip = find(&g, "ioc.ip"), loc = find(&g, "local-1");
    assert_true(dom >= 0 && ip >= 0 && loc >= 0);
    assert_string_equal(g.source[loc], "agent");
    /* all on web-01 within the window: one incident */
    assert_true(g.incident[shell] > 0);
    assert_int_equal(g.incident[dom], g.incident[shell]);
    assert_int_equal(g.incident[loc], g.incident[shell]);
    int n1 = g.n;

    /* the same batch again (new seqs): every alert folds into its existing one */
    batch(st, &h, &ag, 10);
    alerts(st, tenant, &g);
    assert_int_equal(g.n, n1);
    assert_int_equal(g.count[find(&g, "ioc.domain")], 2);

    /* health finding: an alert of its own */
    h.on_health(h.ctx, &ag, INGEST_HEALTH_SILENT, "no heartbeat for 90 s");
    alerts(st, tenant, &g);
    int sil = find(&g, "agent.health.silent");
    assert_true(sil >= 0);
    assert_string_equal(g.source[sil], "health");

    /* the analyst disables the IOC domain rule for this tenant */
    assert_int_equal(store_rule_set_enabled(st, tenant, "ioc.domain", 0, "bob", 1), 0);
    detect_ingest_changed(di);
    assert_int_equal(store_begin(st), 0);
    struct store_event ev = {.tenant_id = tenant, .agent_id = agent, .seq = 50,
                             .ts_ns = 1764064900000000000LL, .event_id = 22,
                             .host = "web-01", .json = events[1],
                             .json_len = strlen(events[1])};
    size_t ins, dups;
    assert_int_equal(store_events_insert(st, &ev, 1, &ins, &dups), 0);
    h.on_batch_stored(h.ctx, &ag, &ev, 1);
    assert_int_equal(store_commit(st), 0);
    alerts(st, tenant, &g);
    assert_int_equal(g.count[find(&g, "ioc.domain")], 2);
    assert_int_equal(g.count[find(&g, "ioc.ip")], 3);

    struct detect_ingest_stats ds;
    detect_ingest_get_stats(di, &ds);
    assert_int_equal(ds.detect.events, 7);
    assert_int_equal(ds.triage.errors, 0);
    assert_true(ds.detect.disabled_hits >= 1);
    assert_int_equal(ds.health_alerts, 1);

    /* an uploaded rule of the tenant, loaded from the store into a new set */
    static const char yaml[] =
        "title: Shell To Known C2\nid: up-1\nlogsource:\n  product: linux\n"
        "  category: process_creation\ndetection:\n  s:\n    CommandLine|contains: "
        "203.0.113.50\n  condition: s\nlevel: medium\n";
    struct store_rule_upload ru = {.tenant_id = tenant, .yaml = yaml};
    snprintf(ru.rule_id, sizeof(ru.rule_id), "up-1");
    snprintf(ru.title, sizeof(ru.title), "Shell To Known C2");
    int64_t ruid;
    assert_int_equal(store_rule_upload(st, &ru, &ruid), 0);
    struct detect_rules *rules2;
    assert_int_equal(detect_rules_load_store(&rules2, NULL, 0, st, &rl), 0);
    assert_int_equal(detect_rules_count(rules2), detect_rules_count(rules) + 1);
    assert_int_equal(detect_ingest_set_rules(di, rules2), 0);
    detect_rules_free(rules);
    rules = rules2;
    batch(st, &h, &ag, 60);
    alerts(st, tenant, &g);
    assert_true(find(&g, "up-1") >= 0);
    /* rule states survived the switch: the disabled IOC rule stays quiet */
    assert_int_equal(g.count[find(&g, "ioc.domain")], 2);

    /* a second upload while running: compiled in the background, switched to on a tick */
    static const char yaml2[] =
        "title: Curl Seen\nid: up-2\nlogsource:\n  product: linux\n"
        "  category: process_creation\ndetection:\n  s:\n    ParentImage|endswith: apache2\n"
        "  condition: s\nlevel: low\n";
    struct store_rule_upload ru2 = {.tenant_id = tenant, .yaml = yaml2};
    snprintf(ru2.rule_id, sizeof(ru2.rule_id), "up-2");
    snprintf(ru2.title, sizeof(ru2.title), "Curl Seen");
    assert_int_equal(store_rule_upload(st, &ru2, &ruid), 0);
    detect_ingest_rules_changed(di);
    for (int i = 0; i < 1000; i++) {
        detect_ingest_tick(di, 1764064900000000000LL + i);
        detect_ingest_get_stats(di, &ds);
        if (ds.rule_reloads == 1)
            break;
        usleep(10000);
    }
    assert_int_equal(ds.rule_reloads, 1);
    assert_int_equal(ds.rule_reload_errors, 0);
    batch(st, &h, &ag, 70);
    alerts(st, tenant, &g);
    assert_true(find(&g, "up-2") >= 0);
    assert_true(find(&g, "up-1") >= 0);
    assert_int_equal(g.count[find(&g, "ioc.domain")], 2); /* still disabled */
    detect_ingest_get_stats(di, &ds);
    assert_int_equal(ds.health_alerts, 1);
    assert_true(ds.ioc_reloads >= 1);
    assert_int_equal(ds.ioc_load_errors, 0);
    assert_true(ds.detect.disabled_hits >= 1);
    detect_ingest_free(di);
    detect_rules_free(rules);
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
