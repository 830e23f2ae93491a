/*
 * test_mdet5_offload.c - central detection on its own thread (detect_ingest_opts.offload)
 * against detection on the link thread, both through the real ingest and SQLite store: the
 * same batches and group commits (batches of several chunks, more chunks than the worker's
 * ring, a health finding in the middle) give the same alert rows, counts and incidents, and
 * the same batches are marked as having raised an alert (receipt -> alert latency); nothing
 * of a rolled-back group stays; after a commit every alert of its batches is in the store.
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

#define MAX_ROWS 64

struct row {
    char rule[64];
    char source[16];
    int64_t count;
    int64_t incident;
};

struct rows {
    int n;
    struct row r[MAX_ROWS];
};

static int
on_row(void *ctx, const struct store_alert *a)
{
    struct rows *g = ctx;
    if (g->n < MAX_ROWS) {
        struct row *r = &g->r[g->n++];
        snprintf(r->rule, sizeof(r->rule), "%s", a->rule_id);
        snprintf(r->source, sizeof(r->source), "%s", a->source);
        r->count = a->count;
        r->incident = a->incident_id;
    }
    return 0;
}

static int
cmp_row(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->rule, ((const struct row *)b)->rule);
}

static void
list_rows(struct store *st, int64_t tenant, struct rows *g)
{
    memset(g, 0, sizeof(*g));
    struct store_alert_query q = {.scope = {.ids = &tenant, .n = 1}, .incident_id = -1};
    assert_int_equal(store_alert_list(st, &q, on_row, g, NULL, NULL), 0);
    qsort(g->r, (size_t)g->n, sizeof(g->r[0]), cmp_row);
}

static int64_t
rule_count(const struct rows *g, const char *rule)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->r[i].rule, rule) == 0)
            return g->r[i].count;
    return 0;
}

static const char *const events[] = {
    DETECT_ALERTING_EVENTS
    /* benign: no alert */
    "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"2026-11-25 "
    "10:00:03.000\",\"Computer\":\"web-01\",\"ProcessGuid\":\"{a-3}\",\"ProcessId\":4100,"
    "\"Image\":\"/usr/bin/ls\",\"CommandLine\":\"ls -l /tmp\",\"User\":\"alice\","
    "\"ParentImage\":\"/usr/bin/bash\"}",
};

struct env {
    char dir[64];
    struct store *st;
    struct detect_rules *rules;
    struct detect_ingest *di;
    struct ingest *in;
    struct ingest_agent ag;
    int64_t tenant;
    int64_t last_seq;
};

static void
env_open(struct env *e, bool offload)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/bn-mdet5-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    struct store_err se;
    assert_int_equal(store_open(&e->st, e->dir, &se), 0);
    struct store_tenant t = {.notify_min_severity = 3};
    snprintf(t.name, sizeof(t.name), "acme");
    assert_int_equal(store_tenant_create(e->st, &t, &e->tenant), 0);
    struct store_agent sa = {.tenant_id = e->tenant};
    snprintf(sa.uid, sizeof(sa.uid), "u-1");
    snprintf(sa.hostname, sizeof(sa.hostname), "web-01");
    snprintf(sa.cert_fp, sizeof(sa.cert_fp), "fp");
    int64_t agent;
    assert_int_equal(store_agent_create(e->st, &sa, &agent), 0);
    int64_t list;
    assert_int_equal(store_ioc_list_create(e->st, e->tenant, "feed", "test", 1, &list), 0);
    const char csv[] = "type,value\ndomain,bad-domain.test\nip,198.51.100.0/24\n";
    struct store_scope sc = {.ids = &e->tenant, .n = 1};
    struct bn_ioc_load_stats ls;
    struct bn_diag d;
    size_t added;
    assert_int_equal(detect_ioc_import(e->st, &sc, list, csv, sizeof(csv) - 1, "f.csv", 0, &ls,
                                       &added, &d),
                     0);
    struct detect_load_stats rl;
    assert_int_equal(detect_rules_load(&e->rules, NULL, 0, &rl), 0);
    struct detect_ingest_opts o = {.rules = e->rules, .st = e->st, .offload = offload};
    assert_int_equal(detect_ingest_new(&e->di, &o), 0);
    struct ingest_hooks h;
    memset(&h, 0, sizeof(h));
    detect_ingest_hooks(e->di, &h);
    assert_true(offload ? h.on_batch_queued != NULL : h.on_batch_stored != NULL);
    assert_int_equal(ingest_new(&e->in, e->st, &h), 0);
    e->ag = (struct ingest_agent){.id = agent, .tenant_id = e->tenant, .uid = "u-1",
                                  .hostname = "web-01"};
}

static void
env_close(struct env *e)
{
    ingest_free(e->in);
    detect_ingest_free(e->di);
    detect_rules_free(e->rules);
    store_close(e->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
}

/* A batch of n events; alerting: the three alerting events among benign ones, else benign. */
static void
send_batch(struct env *e, size_t n, bool alerting)
{
    struct bn_wire_event *ev = calloc(n, sizeof(*ev));
    assert_non_null(ev);
    for (size_t i = 0; i < n; i++) {
        const char *j = alerting && i % 100 < 3 ? events[i % 100] : events[3];
        ev[i] = (struct bn_wire_event){(uint64_t)e->last_seq + 1 + i, j, (uint32_t)strlen(j)};
    }
    struct bn_wire_ack ack;
    memset(&ack, 0, sizeof(ack));
    int64_t now = (int64_t)time(NULL) * 1000000000LL;
    assert_int_equal(ingest_batch(e->in, &e->ag, &e->last_seq, ev, n, now, &ack), 0);
    assert_int_equal(ack.inserted, n);
    free(ev);
}

/* The same traffic in both modes; returns the rows and the ingest counters. */
static void
run(bool offload, struct rows *g, struct ingest_counters *c, struct detect_ingest_stats *ds)
{
    struct env e;
    env_open(&e, offload);
    for (int grp = 0; grp < 6; grp++) {
        /* 8 batches of 700 events (3 chunks each: 24 chunks, more than the ring's slots),
         * every other one alerting */
        for (int b = 0; b < 8; b++)
            send_batch(&e, 700, b % 2 == 0);
        if (grp == 3)
            ingest_health(e.in, &e.ag, INGEST_HEALTH_GAP, "test gap %d", grp);
        assert_int_equal(ingest_commit(e.in), 0);
        /* committed = every alert of the group is there */
        struct rows now;
        list_rows(e.st, e.tenant, &now);
        assert_int_equal(rule_count(&now, "local-1"), (grp + 1) * 4 * 7);
    }
    list_rows(e.st, e.tenant, g);
    ingest_counters(e.in, c);
    detect_ingest_get_stats(e.di, ds);
    env_close(&e);
}

static void
test_same_as_inline(void **state)
{
    (void)state;
    struct rows a, b;
    struct ingest_counters ca, cb;
    struct detect_ingest_stats da, db;
    run(false, &a, &ca, &da);
    run(true, &b, &cb, &db);
    assert_true(a.n >= 4);
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        assert_string_equal(a.r[i].rule, b.r[i].rule);
        assert_string_equal(a.r[i].source, b.r[i].source);
        assert_int_equal(a.r[i].count, b.r[i].count);
        assert_true(b.r[i].incident > 0);
    }
    assert_true(rule_count(&b, "agent.health.gap") == 1);
    assert_int_equal(ca.lat_batches, 48);
    assert_int_equal(cb.lat_batches, 48);
    /* the alerting batches, and only them, count for receipt -> alert */
    assert_int_equal(ca.alert_batches, 24);
    assert_int_equal(cb.alert_batches, 24);
    assert_int_equal(da.detect.events, db.detect.events);
    assert_int_equal(da.detect.alerts, db.detect.alerts);
    assert_int_equal(da.triage.errors, 0);
    assert_int_equal(db.triage.errors, 0);
    assert_int_equal(da.offload_jobs, 0);
    assert_int_equal(db.offload_jobs, 6 * 8 * 3);
    assert_int_equal(db.offload_dropped, 0);
}

static void
test_rollback_drops_alerts(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, true);
    send_batch(&e, 300, true);
    assert_int_equal(ingest_commit(e.in), 0);
    struct rows g;
    list_rows(e.st, e.tenant, &g);
    int64_t local = rule_count(&g, "local-1");
    assert_int_equal(local, 3);
    /* a group rolled back (a failed insert or commit): its alerts go with its events */
    int64_t seq = e.last_seq;
    send_batch(&e, 300, true);
    send_batch(&e, 300, true);
    ingest_rollback(e.in);
    e.last_seq = seq; /* the agent resends */
    list_rows(e.st, e.tenant, &g);
    assert_int_equal(rule_count(&g, "local-1"), local);
    /* and a rolled-back group leaves nothing waiting for the next commit */
    send_batch(&e, 300, false);
    assert_int_equal(ingest_commit(e.in), 0);
    list_rows(e.st, e.tenant, &g);
    assert_int_equal(rule_count(&g, "local-1"), local);
    send_batch(&e, 300, true);
    assert_int_equal(ingest_commit(e.in), 0);
    list_rows(e.st, e.tenant, &g);
    assert_int_equal(rule_count(&g, "local-1"), local + 3);
    /* a tick in the middle of a group triages what is matched into the open transaction */
    send_batch(&e, 300, true);
    detect_ingest_tick(e.di, (int64_t)time(NULL) * 1000000000LL);
    assert_int_equal(ingest_commit(e.in), 0);
    list_rows(e.st, e.tenant, &g);
    assert_int_equal(rule_count(&g, "local-1"), local + 6);
    struct ingest_counters c;
    ingest_counters(e.in, &c);
    assert_int_equal(c.alert_batches, 3); /* the tick's alerts still mark their batch */
    env_close(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_inline),
        cmocka_unit_test(test_rollback_drops_alerts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
