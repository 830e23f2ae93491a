/*
 * test_store_retention.c - per-tenant retention by age and by size, the per-step budget, and
 * retention running while another thread ingests (ingest is never refused, the counters add
 * up exactly).
 */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/error.h"
#include "manager/store.h"

#define DAY (86400LL * 1000000000LL)
#define NOW (1000 * DAY)

static char tdir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(tdir, sizeof(tdir), "/tmp/bn-store-ret-XXXXXX");
    assert_non_null(mkdtemp(tdir));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    const char *files[] = {"bannin.db", "bannin.db-wal", "bannin.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s/%s", tdir, files[i]);
        unlink(p);
    }
    rmdir(tdir);
    return 0;
}

static int64_t
tenant(struct store *st, const char *name, int64_t days, int64_t bytes)
{
    struct store_tenant t = {.retention_days = days, .retention_bytes = bytes};
    snprintf(t.name, sizeof(t.name), "%s", name);
    int64_t id;
    assert_int_equal(store_tenant_create(st, &t, &id), 0);
    return id;
}

static int64_t
agent(struct store *st, int64_t t, const char *uid)
{
    struct store_agent a = {.tenant_id = t};
    snprintf(a.uid, sizeof(a.uid), "%s", uid);
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-%s", uid);
    int64_t id;
    assert_int_equal(store_agent_create(st, &a, &id), 0);
    return id;
}

/* Inserts n events with ts = ts0 + i * step; returns 0 or the store error. */
static int
insert(struct store *st, int64_t t, int64_t a, int64_t seq0, size_t n, int64_t ts0, int64_t step)
{
    static _Thread_local char buf[500][160];
    struct store_event ev[500];
    for (size_t done = 0; done < n;) {
        size_t k = BN_MIN(n - done, (size_t)500);
        for (size_t i = 0; i < k; i++) {
            int64_t seq = seq0 + (int64_t)(done + i);
            int len = snprintf(buf[i], sizeof(buf[i]),
                               "{\"seq\":%" PRId64 ",\"CommandLine\":\"some command line\"}", seq);
            ev[i] = (struct store_event){.tenant_id = t,
                                         .agent_id = a,
                                         .seq = seq,
                                         .ts_ns = ts0 + (int64_t)(done + i) * step,
                                         .host = "h",
                                         .json = buf[i],
                                         .json_len = (size_t)len};
        }
        size_t ins, dups;
        int rc = store_begin(st);
        if (rc == 0)
            rc = store_events_insert(st, ev, k, &ins, &dups);
        if (rc == 0)
            rc = store_commit(st);
        if (rc != 0) {
            store_rollback(st);
            return rc;
        }
        done += k;
    }
    return 0;
}

static int
oldest(void *ctx, const struct store_event *e)
{
    *(int64_t *)ctx = e->ts_ns;
    return 0;
}

static int
count_rows(void *ctx, const struct store_event *e)
{
    (void)e;
    (*(int64_t *)ctx)++;
    return 0;
}

static int64_t
min_ts(struct store *st, int64_t t)
{
    struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 10000};
    int64_t ts = 0;
    assert_int_equal(store_event_search(st, &q, oldest, &ts, NULL, NULL), 0);
    return ts; /* the last row of a newest-first page of everything */
}

static void
test_age_and_size(void **state)
{
    (void)state;
    struct store *st;
    struct store_err err;
    assert_int_equal(store_open(&st, tdir, &err), 0);
    int64_t ta = tenant(st, "aged", 7, 0);
    int64_t tb = tenant(st, "sized", 0, 0);
    int64_t tk = tenant(st, "kept", 0, 0);
    int64_t aa = agent(st, ta, "a"), ab = agent(st, tb, "b"), ak = agent(st, tk, "k");
    /* 10 days of events, one per hour: 240; older than 7 days: 72. */
    assert_int_equal(insert(st, ta, aa, 1, 240, NOW - 10 * DAY, DAY / 24), 0);
    assert_int_equal(insert(st, tb, ab, 1, 3000, NOW - DAY, 1000), 0);
    assert_int_equal(insert(st, tk, ak, 1, 100, 1, 1), 0);
    int64_t bytes_b = store_events_bytes(st, tb);
    assert_true(bytes_b > 3000 * 50);

    struct store_retention_stats rs;
    assert_int_equal(store_retention_step(st, NOW, 0, &rs), 0);
    assert_int_equal(rs.deleted_age, 72);
    assert_int_equal(rs.deleted_size, 0);
    assert_int_equal(rs.more, 0);
    assert_int_equal(store_events_count(st, ta), 168);
    assert_true(min_ts(st, ta) >= NOW - 7 * DAY);
    assert_int_equal(store_events_count(st, tk), 100); /* no retention set */

    /* Size: cap tenant b at a third of its bytes. */
    struct store_tenant t;
    assert_int_equal(store_tenant_get(st, tb, &t), 0);
    t.retention_bytes = bytes_b / 3;
    struct store_scope all = {.all = 1};
    assert_int_equal(store_tenant_update(st, &all, &t), 0);
    /* A small budget: the step stops and says there is more. */
    assert_int_equal(store_retention_step(st, NOW, 500, &rs), 0);
    assert_int_equal(rs.deleted_size, 500);
    assert_int_equal(rs.more, 1);
    int guard = 0;
    do {
        assert_int_equal(store_retention_step(st, NOW, 0, &rs), 0);
    } while (rs.more && ++guard < 100);
    assert_true(store_events_bytes(st, tb) <= bytes_b / 3);
    /* What is left is the newest: just under a third of the events. */
    int64_t left = store_events_count(st, tb);
    assert_true(left >= 950 && left <= 1000);
    assert_int_equal(min_ts(st, tb), NOW - DAY + (3000 - left) * 1000);
    /* A deleted (agent, seq) stays deleted: a replay re-inserts it (retention is not dedupe
     * memory); the link never replays that far back (the agent's acked seq). */
    assert_int_equal(store_check(st, &err), 0);
    /* Nothing to do: a cheap step. */
    assert_int_equal(store_retention_step(st, NOW, 0, &rs), 0);
    assert_int_equal(rs.deleted_age + rs.deleted_size, 0);
    /* Not inside a transaction. */
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_retention_step(st, NOW, 0, &rs), BN_EINVAL);
    assert_int_equal(store_rollback(st), 0);
    store_close(st);
}

struct ingest {
    int64_t t, a;
    int64_t inserted;
    int rc;
    _Atomic int stop;
};

static void *
ingest_thread(void *p)
{
    struct ingest *in = p;
    struct store *st;
    struct store_err err;
    in->rc = store_open(&st, tdir, &err);
    if (in->rc)
        return NULL;
    int64_t seq = 1000000;
    while (!in->stop && in->rc == 0) {
        in->rc = insert(st, in->t, in->a, seq, 500, NOW - 20 * DAY + seq, 1);
        if (in->rc == 0) {
            in->inserted += 500;
            seq += 500;
        }
    }
    store_close(st);
    return NULL;
}

static void
test_retention_during_ingest(void **state)
{
    (void)state;
    struct store *st;
    struct store_err err;
    assert_int_equal(store_open(&st, tdir, &err), 0);
    int64_t t = tenant(st, "busy", 7, 0);
    int64_t a = agent(st, t, "a");
    /* 10000 old events to delete while new (also old: they go too) stream in. */
    assert_int_equal(insert(st, t, a, 1, 10000, NOW - 30 * DAY, 1), 0);
    struct ingest in = {.t = t, .a = a};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ingest_thread, &in), 0);
    int64_t deleted = 0;
    struct store_retention_stats rs;
    for (int i = 0; i < 25; i++) {
        assert_int_equal(store_retention_step(st, NOW, 5000, &rs), 0);
        deleted += rs.deleted_age;
        usleep(2000);
    }
    in.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(in.rc, 0);
    assert_true(in.inserted > 0);
    assert_true(deleted >= 10000);
    assert_int_equal(store_events_count(st, t), 10000 + in.inserted - deleted);
    /* The counter matches the rows, page by page. */
    struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 5000};
    int64_t rows = 0;
    struct store_cursor next;
    int more = 1;
    while (more) {
        assert_int_equal(store_event_search(st, &q, count_rows, &rows, &next, &more), 0);
        q.after = next;
    }
    assert_int_equal(rows, store_events_count(st, t));
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_age_and_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_during_ingest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
