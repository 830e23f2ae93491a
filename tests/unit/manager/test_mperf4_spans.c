/*
 * test_mperf4_spans.c - schema 7 event spans (docs/MANAGER.md, "Store"): searches through the
 * spans return exactly what the (tenant_id, ts_ns) index returned before (same rows, same
 * newest-first order, same pages) for events inserted with times out of order, several
 * agents and tenants, mixed-agent insert calls, and every filter; a version 6 database with
 * events migrates (spans made from its rows, the index dropped) and answers the same; age and
 * size retention delete what they did before, keep the counters exact and never leave a span
 * that makes a search return a row twice (a reused rowid).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "bannin/error.h"
#include "manager/store.h"

#define NS 1000000000ll

struct db {
    char dir[64];
    struct store *st;
    int64_t tenant[2], agent[4]; /* agents 0, 1, 2 of tenant 0 (2 shares 0's host), 3 of 1 */
};

static struct store *
open_v(const char *dir, int max_version)
{
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    o.max_version = max_version;
    struct store *st = NULL;
    struct store_err se;
    if (store_open_ex(&st, dir, &o, &se))
        fail_msg("store_open_ex: %s", se.msg);
    return st;
}

static void
db_open(struct db *d, int max_version)
{
    snprintf(d->dir, sizeof(d->dir), "/tmp/bn-test-spans-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    d->st = open_v(d->dir, max_version);
    static const char *const hosts[] = {"web-1", "db-1", "web-1", "other"};
    for (int t = 0; t < 2; t++) {
        struct store_tenant tn;
        memset(&tn, 0, sizeof(tn));
        snprintf(tn.name, sizeof(tn.name), "tenant-%d", t);
        assert_int_equal(store_tenant_create(d->st, &tn, &d->tenant[t]), 0);
    }
    for (int a = 0; a < 4; a++) {
        struct store_agent ag;
        memset(&ag, 0, sizeof(ag));
        ag.tenant_id = d->tenant[a == 3];
        snprintf(ag.uid, sizeof(ag.uid), "agent-%d", a);
        snprintf(ag.hostname, sizeof(ag.hostname), "%s", hosts[a]);
        snprintf(ag.cert_fp, sizeof(ag.cert_fp), "fp-%d", a);
        assert_int_equal(store_agent_create(d->st, &ag, &d->agent[a]), 0);
    }
}

static void
db_close(struct db *d)
{
    store_close(d->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
    assert_int_equal(system(cmd), 0);
}

/* A deterministic stream of insert calls: out-of-order times (many equal), calls of 1..300
 * events, some mixing agents. Event k of agent a has seq k and time t(a, k). */
static uint64_t rng;
static uint32_t
next_rand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

static void
fill(struct db *d, int calls, int64_t t0)
{
    static const char *const hosts[] = {"web-1", "db-1", "web-1", "other"};
    static const char *const images[] = {"/usr/bin/curl", "/usr/bin/id", "/usr/bin/bash"};
    int64_t seq[4] = {0, 0, 0, 0};
    struct store_event *ev = calloc(300, sizeof(*ev));
    char(*json)[160] = calloc(300, sizeof(*json));
    rng = 42;
    for (int c = 0; c < calls; c++) {
        size_t n = 1 + next_rand() % 300;
        bool mixed = next_rand() % 5 == 0;
        int a0 = (int)(next_rand() % 4);
        assert_int_equal(store_begin(d->st), 0);
        for (size_t i = 0; i < n; i++) {
            int a = mixed ? (int)(next_rand() % 4) : a0;
            struct store_event *e = &ev[i];
            memset(e, 0, sizeof(*e));
            e->tenant_id = d->tenant[a == 3];
            e->agent_id = d->agent[a];
            e->seq = ++seq[a];
            /* out of order within and across calls, coarse (so equal times happen); mixed
             * calls spread over half an hour (wide spans) */
            e->ts_ns =
                t0 + (int64_t)c * 150 * NS + (int64_t)(next_rand() % (mixed ? 1800 : 40)) * NS;
            e->received_ns = t0;
            e->event_id = 1 + (int)(next_rand() % 3);
            e->host = hosts[a];
            e->image = images[next_rand() % 3];
            e->user = "root";
            int k = snprintf(json[i], sizeof(json[i]),
                             "{\"EventID\":%d,\"Image\":\"%s\",\"k\":%u,\"a\":%d}", e->event_id,
                             e->image, next_rand() % 7, a);
            e->json = json[i];
            e->json_len = (size_t)k;
        }
        size_t ins = 0, dups = 0;
        assert_int_equal(store_events_insert(d->st, ev, n, &ins, &dups), 0);
        assert_int_equal(ins, n);
        assert_int_equal(store_commit(d->st), 0);
    }
    free(ev);
    free(json);
}

/* The (id, agent, seq, ts) of every page of a search, in order, as text. */
struct collect {
    char *buf;
    size_t len, cap;
    size_t rows;
};

static int
on_row(void *ctx, const struct store_event *e)
{
    struct collect *c = ctx;
    if (c->len + 128 > c->cap) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->buf = realloc(c->buf, c->cap);
        assert_non_null(c->buf);
    }
    c->len +=
        (size_t)snprintf(c->buf + c->len, c->cap - c->len, "%lld/%lld/%lld/%lld;", (long long)e->id,
                         (long long)e->agent_id, (long long)e->seq, (long long)e->ts_ns);
    assert_non_null(e->json);
    c->rows++;
    return 0;
}

static void
search_all(struct store *st, struct store_event_query q, size_t limit, struct collect *c)
{
    q.limit = limit;
    memset(&q.after, 0, sizeof(q.after));
    for (int page = 0; page < 100000; page++) {
        struct store_cursor next;
        int more = 0;
        size_t before = c->rows;
        assert_int_equal(store_event_search(st, &q, on_row, c, &next, &more), 0);
        if (!more)
            return;
        assert_int_equal(c->rows - before, limit);
        q.after = next;
    }
    fail_msg("search does not end");
}

/* Every query of the test on both databases (or before and after a migration). */
static void
queries(struct db *d, int64_t t0, struct collect *out, size_t nout)
{
    assert_true(nout >= 9);
    int64_t one[1] = {d->tenant[0]}, both[2] = {d->tenant[0], d->tenant[1]};
    struct store_event_query q;
    struct store_field_filter ff = {"k", "3", STORE_FIELD_EQ};

    memset(&q, 0, sizeof(q));
    q.scope.ids = both;
    q.scope.n = 2;
    search_all(d->st, q, 7, &out[0]); /* everything, pages of 7 */
    search_all(d->st, q, 10000, &out[1]);
    q.from_ns = t0 + 5000 * NS;
    q.to_ns = t0 + 7000 * NS;
    search_all(d->st, q, 13, &out[2]); /* a window */
    memset(&q, 0, sizeof(q));
    q.scope.ids = one;
    q.scope.n = 1;
    q.agent_id = d->agent[1];
    search_all(d->st, q, 50, &out[3]);
    memset(&q, 0, sizeof(q));
    q.scope.ids = both;
    q.scope.n = 2;
    q.host = "web-1";
    q.from_ns = t0 + 1000 * NS;
    search_all(d->st, q, 100, &out[4]);
    memset(&q, 0, sizeof(q));
    q.scope.all = 1;
    q.event_id = 2;
    q.image_sub = "curl";
    search_all(d->st, q, 33, &out[5]);
    memset(&q, 0, sizeof(q));
    q.scope.ids = one;
    q.scope.n = 1;
    q.fields = &ff;
    q.nfields = 1;
    q.to_ns = t0 + 12000 * NS;
    search_all(d->st, q, 21, &out[6]);
    memset(&q, 0, sizeof(q));
    q.scope.ids = both;
    q.scope.n = 2;
    q.limit = 5; /* the first page only */
    assert_int_equal(store_event_search(d->st, &q, on_row, &out[7], NULL, NULL), 0);
    memset(&q, 0, sizeof(q)); /* nothing in scope */
    search_all(d->st, q, 10, &out[8]);
}

static void
free_all(struct collect *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].buf);
}

static void
test_same_answers_as_the_index(void **state)
{
    (void)state;
    const int64_t t0 = 1795000000ll * NS;
    struct db v6, v7;
    db_open(&v6, 6);
    db_open(&v7, 0);
    assert_int_equal(store_schema_version(v6.st), 6);
    assert_int_equal(store_schema_version(v7.st), store_schema_latest());
    fill(&v6, 70, t0);
    fill(&v7, 70, t0);
    struct collect a[9], b[9];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    queries(&v6, t0, a, 9);
    queries(&v7, t0, b, 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(a[i].rows, b[i].rows);
        if (a[i].len)
            assert_memory_equal(a[i].buf, b[i].buf, a[i].len);
    }
    assert_int_equal(a[0].rows, store_events_count(v6.st, v6.tenant[0]) +
                                    store_events_count(v6.st, v6.tenant[1]));
    assert_true(a[2].rows > 0 && a[3].rows > 0 && a[4].rows > 0 && a[5].rows > 0 && a[6].rows > 0);
    assert_int_equal(a[7].rows, 5);
    assert_int_equal(a[8].rows, 0);
    free_all(a, 9);
    free_all(b, 9);

    /* the version 6 database migrated: the same answers, through spans made of its rows */
    store_close(v6.st);
    v6.st = open_v(v6.dir, 0);
    assert_int_equal(store_schema_version(v6.st), store_schema_latest());
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    queries(&v6, t0, a, 9);
    queries(&v7, t0, b, 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(a[i].rows, b[i].rows);
        if (a[i].len)
            assert_memory_equal(a[i].buf, b[i].buf, a[i].len);
    }
    free_all(a, 9);
    free_all(b, 9);
    struct store_err se;
    assert_int_equal(store_check(v6.st, &se), 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/bannin.db", v6.dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM sqlite_master WHERE name ="
                                        " 'events_tenant_ts'), (SELECT count(*) FROM event_spans)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    assert_true(sqlite3_column_int(s, 1) > 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    db_close(&v6);
    db_close(&v7);
}

static void
test_retention_same_as_the_index(void **state)
{
    (void)state;
    const int64_t t0 = 1795000000ll * NS;
    struct db d[2];
    db_open(&d[0], 6);
    db_open(&d[1], 0);
    for (int k = 0; k < 2; k++) {
        fill(&d[k], 50, t0);
        /* tenant 0: events older than t0 + 6000 s go; tenant 1: at most 20 KB kept */
        struct store_tenant t;
        assert_int_equal(store_tenant_get(d[k].st, d[k].tenant[0], &t), 0);
        t.retention_days = 1;
        struct store_scope all = {1, NULL, 0};
        assert_int_equal(store_tenant_update(d[k].st, &all, &t), 0);
        assert_int_equal(store_tenant_get(d[k].st, d[k].tenant[1], &t), 0);
        t.retention_bytes = 20000;
        assert_int_equal(store_tenant_update(d[k].st, &all, &t), 0);
        struct store_retention_stats rs;
        int64_t now = t0 + 6000 * NS + 86400 * NS;
        do
            assert_int_equal(store_retention_step(d[k].st, now, 700, &rs), 0);
        while (rs.more);
    }
    /* age (tenant 0): exactly the rows older than the cutoff are gone, on both */
    assert_int_equal(store_events_count(d[0].st, d[0].tenant[0]),
                     store_events_count(d[1].st, d[1].tenant[0]));
    struct collect a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    struct store_event_query q0;
    memset(&q0, 0, sizeof(q0));
    int64_t one[2] = {d[0].tenant[0], d[1].tenant[0]};
    q0.scope.ids = &one[0];
    q0.scope.n = 1;
    search_all(d[0].st, q0, 41, &a);
    q0.scope.ids = &one[1];
    search_all(d[1].st, q0, 41, &b);
    assert_int_equal(a.rows, b.rows);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    free(a.buf);
    free(b.buf);
    assert_true(store_events_count(d[1].st, d[1].tenant[0]) > 0);
    assert_true(store_events_bytes(d[1].st, d[1].tenant[1]) <= 20000);
    struct store_err se;
    assert_int_equal(store_check(d[1].st, &se), 0);

    /* every search row once, and the counter equals what a search sees */
    struct collect c;
    memset(&c, 0, sizeof(c));
    int64_t both[2] = {d[1].tenant[0], d[1].tenant[1]};
    struct store_event_query q;
    memset(&q, 0, sizeof(q));
    q.scope.ids = both;
    q.scope.n = 2;
    search_all(d[1].st, q, 97, &c);
    assert_int_equal(c.rows, store_events_count(d[1].st, d[1].tenant[0]) +
                                 store_events_count(d[1].st, d[1].tenant[1]));
    free(c.buf);
    db_close(&d[0]);
    db_close(&d[1]);
}

/* The newest row (highest rowid) has an ancient time: retention deletes it, SQLite hands its
 * rowid to the next insert, of the same agent; the old span must not claim that row too. */
static void
test_reused_rowid(void **state)
{
    (void)state;
    const int64_t t0 = 1795000000ll * NS;
    struct db d;
    db_open(&d, 0);
    struct store_event ev[3];
    const char *js = "{\"EventID\":1}";
    for (int i = 0; i < 3; i++) {
        memset(&ev[i], 0, sizeof(ev[i]));
        ev[i].tenant_id = d.tenant[0];
        ev[i].agent_id = d.agent[0];
        ev[i].seq = i + 1;
        ev[i].ts_ns = i == 2 ? 5 * NS : t0 + i * NS; /* the last one ancient */
        ev[i].host = "web-1";
        ev[i].json = js;
        ev[i].json_len = strlen(js);
    }
    size_t ins, dups;
    assert_int_equal(store_begin(d.st), 0);
    assert_int_equal(store_events_insert(d.st, ev, 3, &ins, &dups), 0);
    assert_int_equal(store_commit(d.st), 0);
    struct store_tenant t;
    assert_int_equal(store_tenant_get(d.st, d.tenant[0], &t), 0);
    t.retention_days = 1;
    struct store_scope all = {1, NULL, 0};
    assert_int_equal(store_tenant_update(d.st, &all, &t), 0);
    struct store_retention_stats rs;
    assert_int_equal(store_retention_step(d.st, t0, 0, &rs), 0);
    assert_int_equal(rs.deleted_age, 1);
    ev[0].seq = 4;
    ev[0].ts_ns = t0 + 10 * NS;
    assert_int_equal(store_begin(d.st), 0);
    assert_int_equal(store_events_insert(d.st, ev, 1, &ins, &dups), 0);
    assert_int_equal(store_commit(d.st), 0);
    struct collect c;
    memset(&c, 0, sizeof(c));
    struct store_event_query q;
    memset(&q, 0, sizeof(q));
    q.scope.all = 1;
    search_all(d.st, q, 10, &c);
    assert_int_equal(c.rows, 3);
    free(c.buf);
    db_close(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers_as_the_index),
        cmocka_unit_test(test_retention_same_as_the_index),
        cmocka_unit_test(test_reused_rowid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
