/*
 * test_store.c - the manager's SQLite store, core operations: opening an empty data
 * directory, migrations (from empty and from version 1), tenants, enrolment tokens, agents,
 * batched event inserts with (agent, seq) de-duplication, the audit chain and its tamper
 * detection through a raw connection, concurrent handles from two threads, a full disk
 * (PRAGMA max_page_count, and a real 2 MB tmpfs when we may mount one), per-event zstd
 * compression (the row layout) and schema 6's event blocks (migration from version 5).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "bannin/error.h"
#include "manager/store.h"

static char tdir[256];

static void
rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.')) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tdir, sizeof(tdir), "/tmp/bn-store-test-XXXXXX");
    assert_non_null(mkdtemp(tdir));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    rm_dir(tdir);
    return 0;
}

static struct store *
open_store(void)
{
    struct store *st = NULL;
    struct store_err err;
    int rc = store_open(&st, tdir, &err);
    if (rc != 0)
        fail_msg("store_open: %s", err.msg);
    return st;
}

static int64_t
mk_tenant(struct store *st, const char *name)
{
    struct store_tenant t = {
        .mode = STORE_MODE_SEMI, .notify_min_severity = 3, .retention_days = 30};
    snprintf(t.name, sizeof(t.name), "%s", name);
    int64_t id = 0;
    assert_int_equal(store_tenant_create(st, &t, &id), 0);
    assert_true(id > 0);
    return id;
}

static int64_t
mk_agent(struct store *st, int64_t tenant, const char *uid)
{
    struct store_agent a = {.tenant_id = tenant, .tier = 1, .heartbeat_interval_ms = 1000};
    snprintf(a.uid, sizeof(a.uid), "%s", uid);
    snprintf(a.hostname, sizeof(a.hostname), "host-%s", uid);
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-%s", uid);
    snprintf(a.sign_pk, sizeof(a.sign_pk), "pk-%s", uid);
    int64_t id = 0;
    assert_int_equal(store_agent_create(st, &a, &id), 0);
    return id;
}

static void
test_open_empty(void **state)
{
    (void)state;
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/data", tdir);
    struct store *st = NULL;
    struct store_err err;
    assert_int_equal(store_open(&st, sub, &err), 0);
    assert_int_equal(store_schema_version(st), store_schema_latest());
    assert_int_equal(store_check(st, &err), 0);
    assert_int_equal(store_events_count(st, 1), 0);
    int64_t bad = -1;
    assert_int_equal(store_audit_verify(st, &bad), 0);
    store_close(st);
    /* Reopening an up-to-date store changes nothing. */
    assert_int_equal(store_open(&st, sub, &err), 0);
    assert_int_equal(store_schema_version(st), store_schema_latest());
    store_close(st);
    rm_dir(sub);
    /* No directory given, or a path that cannot be a directory. */
    assert_int_equal(store_open(&st, "", &err), BN_EINVAL);
    assert_null(st);
    assert_true(store_open(&st, "/proc/self/status/x", &err) < 0);
    assert_true(strlen(err.msg) > 0);
}

static void
test_migrate_from_v1(void **state)
{
    (void)state;
    struct store_opts o = {.max_version = 1};
    struct store *st = NULL;
    struct store_err err;
    assert_int_equal(store_open_ex(&st, tdir, &o, &err), 0);
    assert_int_equal(store_schema_version(st), 1);
    int64_t t = mk_tenant(st, "acme");
    int64_t a = mk_agent(st, t, "a1");
    struct store_event ev = {
        .tenant_id = t, .agent_id = a, .seq = 1, .ts_ns = 10, .json = "{\"x\":1}", .json_len = 7};
    size_t ins = 0, dups = 0;
    assert_int_equal(store_events_insert(st, &ev, 1, &ins, &dups), 0);
    assert_int_equal(store_audit(st, t, "alice", "tenant.create", "tenant/1", "{}"), 0);
    store_close(st);

    assert_int_equal(store_open(&st, tdir, &err), 0);
    assert_int_equal(store_schema_version(st), store_schema_latest());
    struct store_tenant tt;
    assert_int_equal(store_tenant_get(st, t, &tt), 0);
    assert_string_equal(tt.name, "acme");
    assert_int_equal(store_events_count(st, t), 1);
    int64_t bad = 0;
    assert_int_equal(store_audit_verify(st, &bad), 0);
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);

    /* A database from a newer build is refused, not downgraded. */
    sqlite3 *db = NULL;
    char path[300];
    snprintf(path, sizeof(path), "%s/bannin.db", tdir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES(99, 0)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(&st, tdir, &err), BN_EUNSUP);
    assert_non_null(strstr(err.msg, "newer"));
}

static void
test_tenants_tokens(void **state)
{
    (void)state;
    struct store *st = open_store();
    int64_t t = mk_tenant(st, "acme");
    struct store_tenant dup = {.retention_days = 1};
    snprintf(dup.name, sizeof(dup.name), "acme");
    assert_int_equal(store_tenant_create(st, &dup, NULL), BN_EEXIST);
    struct store_tenant got;
    assert_int_equal(store_tenant_by_name(st, "acme", &got), 0);
    assert_int_equal(got.id, t);
    assert_int_equal(got.retention_days, 30);
    assert_int_equal(store_tenant_by_name(st, "nope", &got), BN_ENOTFOUND);
    assert_int_equal(store_tenant_get(st, 999, &got), BN_ENOTFOUND);

    const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
    const char *h3 = "3333333333333333333333333333333333333333333333333333333333333333";
    int64_t id1, id2, id3, tid;
    assert_int_equal(store_token_create(st, t, h1, 2, 0, "alice", &id1), 0);
    assert_int_equal(store_token_create(st, t, h2, 5, 1000, "alice", &id2), 0);
    assert_int_equal(store_token_create(st, t, h3, 5, 0, "alice", &id3), 0);
    assert_int_equal(store_token_create(st, t, h1, 1, 0, "alice", NULL), BN_EEXIST);
    assert_int_equal(store_token_create(st, 424242, "44", 1, 0, "x", NULL), BN_EINVAL);
    /* Two uses, then used up. */
    assert_int_equal(store_token_consume(st, h1, 10, &tid), 0);
    assert_int_equal(tid, t);
    assert_int_equal(store_token_consume(st, h1, 10, &tid), 0);
    assert_int_equal(store_token_consume(st, h1, 10, &tid), BN_EDENIED);
    assert_int_equal(tid, 0);
    /* Expiry. */
    assert_int_equal(store_token_consume(st, h2, 999, &tid), 0);
    assert_int_equal(store_token_consume(st, h2, 1000, &tid), BN_EDENIED);
    /* Revocation, scoped to the tenant. */
    assert_int_equal(store_token_revoke(st, t + 1, id3), BN_ENOTFOUND);
    assert_int_equal(store_token_consume(st, h3, 10, &tid), 0);
    assert_int_equal(store_token_revoke(st, t, id3), 0);
    assert_int_equal(store_token_consume(st, h3, 10, &tid), BN_EDENIED);
    assert_int_equal(store_token_consume(st, "ffff", 10, &tid), BN_EDENIED);
    store_close(st);
}

static void
test_agents(void **state)
{
    (void)state;
    struct store *st = open_store();
    int64_t t = mk_tenant(st, "acme");
    int64_t a1 = mk_agent(st, t, "u1");
    int64_t a2 = mk_agent(st, t, "u2");
    struct store_agent dup = {.tenant_id = t};
    snprintf(dup.uid, sizeof(dup.uid), "u1");
    snprintf(dup.cert_fp, sizeof(dup.cert_fp), "other");
    assert_int_equal(store_agent_create(st, &dup, NULL), BN_EEXIST);
    struct store_agent a;
    assert_int_equal(store_agent_by_uid(st, "u2", &a), 0);
    assert_int_equal(a.id, a2);
    assert_string_equal(a.hostname, "host-u2");
    assert_int_equal(store_agent_by_cert(st, "fp-u1", &a), 0);
    assert_int_equal(a.id, a1);
    assert_int_equal(a.tier, 1);
    assert_string_equal(a.health_json, "{}");
    assert_int_equal(store_agent_by_cert(st, "fp-zz", &a), BN_ENOTFOUND);

    assert_int_equal(store_agent_seen(st, a1, 5000000000LL, 2, "{\"drops\":3}"), 0);
    assert_int_equal(store_agent_seen(st, a2, 1000000000LL, 1, NULL), 0);
    assert_int_equal(store_agent_seen(st, 999, 1, 1, NULL), BN_ENOTFOUND);
    assert_int_equal(store_agent_get(st, a1, &a), 0);
    assert_int_equal(a.tier, 2);
    assert_int_equal(a.last_seen_ns, 5000000000LL);
    assert_string_equal(a.health_json, "{\"drops\":3}");
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_agent_seen(st, a1, 1, 1, big), BN_ETOOBIG);

    /* Heartbeat 1 s: silent past 3 s. a2 last seen at 1 s, a1 at 5 s. */
    int64_t ids[4];
    size_t n = 9;
    assert_int_equal(store_agent_silent(st, 4500000000LL, ids, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], a2);
    assert_int_equal(store_agent_silent(st, 9000000000LL, ids, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_agent_silent(st, 9000000000LL, ids, 4, &n), 0);
    assert_int_equal(n, 2);
    /* A revoked agent is no longer reported silent. */
    assert_int_equal(store_agent_revoke(st, t + 7, a2), BN_ENOTFOUND);
    assert_int_equal(store_agent_revoke(st, t, a2), 0);
    assert_int_equal(store_agent_get(st, a2, &a), 0);
    assert_int_equal(a.revoked, 1);
    assert_int_equal(store_agent_silent(st, 9000000000LL, ids, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], a1);
    store_close(st);
}

static void
fill_events(struct store_event *ev, size_t n, int64_t t, int64_t a, int64_t seq0, char *buf,
            size_t bufsz)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        char *j = buf + off;
        int len = snprintf(j, bufsz - off,
                           "{\"EventID\":1,\"Image\":\"/usr/bin/cmd%zu\",\"seq\":%" PRId64 "}",
                           i % 7, seq0 + (int64_t)i);
        ev[i] = (struct store_event){.tenant_id = t,
                                     .agent_id = a,
                                     .seq = seq0 + (int64_t)i,
                                     .ts_ns = 1000 + seq0 + (int64_t)i,
                                     .received_ns = 5,
                                     .event_id = 1,
                                     .host = "h1",
                                     .image = "/usr/bin/cmd",
                                     .user = "root",
                                     .json = j,
                                     .json_len = (size_t)len};
        off += (size_t)len + 1;
    }
}

static void
test_events_insert_dedupe(void **state)
{
    (void)state;
    struct store *st = open_store();
    int64_t t = mk_tenant(st, "acme");
    int64_t t2 = mk_tenant(st, "other");
    int64_t a = mk_agent(st, t, "u1");
    int64_t b = mk_agent(st, t2, "u2");
    struct store_event ev[100];
    static char buf[100 * 96];
    fill_events(ev, 100, t, a, 1, buf, sizeof(buf));
    size_t ins = 0, dups = 0;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_begin(st), BN_EINVAL); /* no nesting */
    assert_int_equal(store_events_insert(st, ev, 100, &ins, &dups), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(ins, 100);
    assert_int_equal(dups, 0);
    assert_int_equal(store_events_count(st, t), 100);
    int64_t bytes = store_events_bytes(st, t);
    assert_true(bytes > 100 * 40);

    /* A replayed batch overlapping the stored one: only the new tail is inserted. */
    fill_events(ev, 100, t, a, 51, buf, sizeof(buf));
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_events_insert(st, ev, 100, &ins, &dups), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(ins, 50);
    assert_int_equal(dups, 50);
    assert_int_equal(store_events_count(st, t), 150);
    struct store_agent ag;
    assert_int_equal(store_agent_get(st, a, &ag), 0);
    assert_int_equal(ag.last_seq, 150);

    /* A rolled-back batch leaves nothing behind: not the rows, not the counters. */
    fill_events(ev, 10, t2, b, 1, buf, sizeof(buf));
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_events_insert(st, ev, 10, &ins, &dups), 0);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(store_events_count(st, t2), 0);
    assert_int_equal(store_agent_get(st, b, &ag), 0);
    assert_int_equal(ag.last_seq, 0);
    /* Outside a transaction each statement commits on its own. */
    assert_int_equal(store_events_insert(st, ev, 10, &ins, &dups), 0);
    assert_int_equal(store_events_count(st, t2), 10);
    assert_int_equal(store_events_count(st, t), 150);

    /* Bad events refuse the whole batch before anything is written. */
    struct store_event bad = ev[0];
    bad.json = NULL;
    assert_int_equal(store_events_insert(st, &bad, 1, &ins, &dups), BN_EINVAL);
    bad = ev[0];
    bad.agent_id = 0;
    assert_int_equal(store_events_insert(st, &bad, 1, &ins, &dups), BN_EINVAL);
    assert_int_equal(store_commit(st), BN_EINVAL); /* nothing open */
    assert_int_equal(store_rollback(st), 0);
    struct store_err err;
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);
}

static void
test_audit_chain_tamper(void **state)
{
    (void)state;
    struct store *st = open_store();
    for (int i = 0; i < 20; i++) {
        char obj[32];
        snprintf(obj, sizeof(obj), "user/%d", i);
        assert_int_equal(store_audit(st, i % 3, "alice", "user.create", obj, "{\"role\":1}"), 0);
    }
    assert_int_equal(store_audit(st, 1, "alice", "", "x", NULL), BN_EINVAL);
    int64_t bad = -1;
    assert_int_equal(store_audit_verify(st, &bad), 0);
    assert_int_equal(bad, 0);
    store_close(st);

    char path[300];
    snprintf(path, sizeof(path), "%s/bannin.db", tdir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* The triggers refuse edits and deletes. */
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE audit SET actor='mallory' WHERE id=7", NULL, NULL, NULL),
        SQLITE_OK);
    assert_non_null(strstr(sqlite3_errmsg(db), "append-only"));
    assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE id=7", NULL, NULL, NULL),
                         SQLITE_OK);
    /* Someone with the file drops the triggers and edits entry 7. */
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
                                  "UPDATE audit SET actor='mallory' WHERE id=7",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    assert_int_equal(store_audit_verify(st, &bad), BN_ECORRUPT);
    assert_non_null(strstr(store_errmsg(st), "triggers"));
    store_close(st);

    /* With the triggers put back, the chain names the edited entry. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                                  "BEGIN SELECT RAISE(ABORT, 'x'); END;"
                                  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                                  "BEGIN SELECT RAISE(ABORT, 'x'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    assert_int_equal(store_audit_verify(st, &bad), BN_ECORRUPT);
    assert_int_equal(bad, 7);
    assert_non_null(strstr(store_errmsg(st), "entry 7"));
    store_close(st);

    /* A deleted entry in the middle, its hash recomputed by the attacker or not: found. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"
                                  "UPDATE audit SET actor='alice' WHERE id=7;"
                                  "DELETE FROM audit WHERE id=12;"
                                  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                                  "BEGIN SELECT RAISE(ABORT, 'x'); END;"
                                  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                                  "BEGIN SELECT RAISE(ABORT, 'x'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = open_store();
    assert_int_equal(store_audit_verify(st, &bad), BN_ECORRUPT);
    assert_int_equal(bad, 13);
    store_close(st);
}

/* ---- two handles, two threads ---- */

struct writer_arg {
    int64_t tenant, agent;
    int64_t seq0;
    int rc;
};

static void *
writer(void *p)
{
    struct writer_arg *w = p;
    struct store *st = NULL;
    struct store_err err;
    w->rc = store_open(&st, tdir, &err);
    if (w->rc)
        return NULL;
    static _Thread_local char buf[50 * 96];
    struct store_event ev[50];
    for (int b = 0; b < 40 && w->rc == 0; b++) {
        fill_events(ev, 50, w->tenant, w->agent, w->seq0 + b * 50, buf, sizeof(buf));
        size_t ins, dups;
        w->rc = store_begin(st);
        if (w->rc == 0)
            w->rc = store_events_insert(st, ev, 50, &ins, &dups);
        if (w->rc == 0)
            w->rc = store_commit(st);
        if (w->rc == 0 && ins != 50)
            w->rc = -1;
        if (w->rc == 0)
            w->rc = store_audit(st, w->tenant, "ingest", "batch", "events", NULL);
    }
    store_close(st);
    return NULL;
}

static void
test_two_threads(void **state)
{
    (void)state;
    struct store *st = open_store();
    int64_t t1 = mk_tenant(st, "t1"), t2 = mk_tenant(st, "t2");
    struct writer_arg w[2] = {{t1, mk_agent(st, t1, "a"), 1, 0}, {t2, mk_agent(st, t2, "b"), 1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, &w[i]), 0);
    /* Meanwhile this handle reads and checkpoints (PASSIVE: never blocks the writers). */
    for (int i = 0; i < 50; i++) {
        assert_true(store_events_count(st, t1) >= 0);
        int64_t wal = -1, done = -1;
        assert_int_equal(store_checkpoint(st, 0, &wal, &done), 0);
        assert_true(done <= wal);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(w[1].rc, 0);
    assert_int_equal(store_events_count(st, t1), 2000);
    assert_int_equal(store_events_count(st, t2), 2000);
    int64_t bad;
    assert_int_equal(store_audit_verify(st, &bad), 0);
    struct store_err err;
    assert_int_equal(store_check(st, &err), 0);
    /* Idle: a truncating checkpoint empties the WAL. */
    int64_t wal = -1;
    assert_int_equal(store_checkpoint(st, 1, &wal, NULL), 0);
    struct store_health h;
    assert_int_equal(store_health(st, &h), 0);
    assert_int_equal(h.wal_bytes, 0);
    assert_true(h.db_bytes > 0);
    assert_true(h.fs_free_bytes > 0);
    assert_int_equal(h.full, 0);
    store_close(st);
}

/* ---- full disk ---- */

/* Fills the store until a batch is refused; returns the events acknowledged. */
static int64_t
fill_until_full(struct store *st, int64_t t, int64_t a, int *full_rc)
{
    static char buf[200 * 600];
    struct store_event ev[200];
    int64_t acked = 0, seq = 1;
    for (int b = 0; b < 100000; b++) {
        size_t off = 0;
        for (int i = 0; i < 200; i++) {
            char *j = buf + off;
            int len = snprintf(j, 600, "{\"seq\":%" PRId64 ",\"pad\":\"%0500d\"}", seq, i);
            ev[i] = (struct store_event){.tenant_id = t,
                                         .agent_id = a,
                                         .seq = seq++,
                                         .ts_ns = seq,
                                         .host = "h",
                                         .json = j,
                                         .json_len = (size_t)len};
            off += (size_t)len + 1;
        }
        size_t ins = 0, dups = 0;
        int rc = store_begin(st);
        if (rc == 0)
            rc = store_events_insert(st, ev, 200, &ins, &dups);
        if (rc == 0)
            rc = store_commit(st);
        if (rc != 0) {
            store_rollback(st);
            *full_rc = rc;
            return acked;
        }
        acked += (int64_t)ins;
    }
    *full_rc = 0;
    return acked;
}

static void
check_full(struct store *st, int64_t t, int64_t a, int64_t acked)
{
    struct store_health h;
    assert_int_equal(store_health(st, &h), 0);
    assert_int_equal(h.full, 1);
    assert_true(h.full_count >= 1);
    assert_true(strlen(h.alarm) > 0);
    /* Nothing acknowledged was lost, nothing unacknowledged was kept. */
    assert_int_equal(store_events_count(st, t), acked);
    struct store_agent ag;
    assert_int_equal(store_agent_get(st, a, &ag), 0);
    assert_int_equal(ag.last_seq, acked);
    struct store_err err;
    assert_int_equal(store_check(st, &err), 0);
}

static void
test_disk_full_max_pages(void **state)
{
    (void)state;
    struct store_opts o = {.max_pages = 600};
    struct store *st = NULL;
    struct store_err err;
    assert_int_equal(store_open_ex(&st, tdir, &o, &err), 0);
    int64_t t = mk_tenant(st, "acme");
    int64_t a = mk_agent(st, t, "u1");
    int full_rc = 0;
    int64_t acked = fill_until_full(st, t, a, &full_rc);
    assert_int_equal(full_rc, BN_EFULL);
    assert_true(acked > 0);
    check_full(st, t, a, acked);
    store_close(st);
    /* Reopened: the acknowledged events are all there and the database is sound. */
    assert_int_equal(store_open(&st, tdir, &err), 0);
    assert_int_equal(store_events_count(st, t), acked);
    assert_int_equal(store_check(st, &err), 0);
    struct store_health h;
    assert_int_equal(store_health(st, &h), 0);
    assert_int_equal(h.full, 0);
    store_close(st);
}

static void
test_disk_full_tmpfs(void **state)
{
    (void)state;
    char mnt[300];
    snprintf(mnt, sizeof(mnt), "%s/small", tdir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m") != 0) {
        rmdir(mnt);
        print_message("skipped: cannot mount a 2 MB tmpfs (%s)\n", strerror(errno));
        skip();
    }
    struct store *st = NULL, *api = NULL;
    struct store_err err;
    /* No free-space threshold: the alarm comes from the failing write first. */
    struct store_opts o = {.low_space_bytes = -1};
    int rc = store_open_ex(&st, mnt, &o, &err);
    assert_int_equal(rc, 0);
    /* Another handle, as the API has: it sees the alarm through the free space. */
    struct store_opts ao = {.low_space_bytes = 64 << 10};
    assert_int_equal(store_open_ex(&api, mnt, &ao, &err), 0);
    struct store_health h;
    assert_int_equal(store_health(api, &h), 0);
    assert_int_equal(h.full, 0);
    int64_t t = mk_tenant(st, "acme");
    int64_t a = mk_agent(st, t, "u1");
    int full_rc = 0;
    int64_t acked = fill_until_full(st, t, a, &full_rc);
    assert_int_equal(full_rc, BN_EFULL);
    assert_true(acked > 0);
    check_full(st, t, a, acked);
    assert_int_equal(store_health(api, &h), 0);
    assert_int_equal(h.full, 1);
    assert_int_equal(h.low_space, 1);
    assert_non_null(strstr(h.alarm, "free"));
    store_close(api);
    store_close(st);
    assert_int_equal(store_open(&st, mnt, &err), 0);
    assert_int_equal(store_events_count(st, t), acked);
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    rmdir(mnt);
}

/* ---- kill -9 during ingest ---- */

/* Child: ingests batches from seq `from` on and writes each acknowledged last seq to fd. */
static void
kill9_child(int fd, int64_t t, int64_t a, int64_t from)
{
    struct store *st = NULL;
    struct store_err err;
    if (store_open(&st, tdir, &err))
        _exit(3);
    static char buf[200 * 96];
    struct store_event ev[200];
    for (int64_t seq = from;; seq += 200) {
        fill_events(ev, 200, t, a, seq, buf, sizeof(buf));
        size_t ins, dups;
        if (store_begin(st) || store_events_insert(st, ev, 200, &ins, &dups) || store_commit(st))
            _exit(4);
        int64_t acked = seq + 199;
        if (write(fd, &acked, sizeof(acked)) != (ssize_t)sizeof(acked))
            _exit(5);
    }
}

static int
count_agent_rows(void *ctx, const struct store_event *e)
{
    (void)e;
    (*(int64_t *)ctx)++;
    return 0;
}

static void
test_kill9_during_ingest(void **state)
{
    (void)state;
    struct store *st = open_store();
    int64_t t = mk_tenant(st, "acme");
    int64_t a = mk_agent(st, t, "u1");
    store_close(st);
    int64_t acked = 0;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 20; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        /* Like an agent after a reconnect: resend from a little before the last ack. */
        int64_t from = acked > 300 ? acked - 300 + 1 : 1;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            kill9_child(p[1], t, a, from);
        }
        close(p[1]);
        usleep(30000 + (useconds_t)(rand() % 50000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        int64_t v;
        while (read(p[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
            if (v > acked)
                acked = v;
        close(p[0]);
    }
    assert_true(acked > 0);
    st = open_store();
    struct store_err err;
    assert_int_equal(store_check(st, &err), 0);
    struct store_agent ag;
    assert_int_equal(store_agent_get(st, a, &ag), 0);
    assert_true(ag.last_seq >= acked);
    /* Every acknowledged event is there exactly once, with no gap below the last one. */
    int64_t rows = 0;
    struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 10000};
    struct store_cursor next;
    int more = 1;
    while (more) {
        assert_int_equal(store_event_search(st, &q, count_agent_rows, &rows, &next, &more), 0);
        q.after = next;
    }
    assert_int_equal(rows, ag.last_seq);
    assert_int_equal(store_events_count(st, t), ag.last_seq);
    print_message("kill -9 x 20: %" PRId64 " events acknowledged, %" PRId64 " stored\n", acked,
                  ag.last_seq);
    store_close(st);
}

/* ---- compressed event JSON ---- */

static int
mk_rich(char *buf, size_t size, int64_t seq)
{
    static const char *const img[] = {"/usr/bin/bash", "/usr/bin/curl", "/usr/sbin/sshd",
                                      "/usr/bin/python3"};
    return snprintf(buf, size,
                    "{\"EventID\":1,\"UtcTime\":\"2026-11-26 00:00:%02d.%06d\",\"ProcessId\":%d,"
                    "\"Image\":\"%s\",\"CommandLine\":\"%s -c 'job %" PRId64 "'\","
                    "\"CurrentDirectory\":\"/srv/app\",\"User\":\"svc%d\",\"ParentImage\":"
                    "\"/usr/lib/systemd/systemd\",\"Hashes\":\"SHA256=%016llx%016llx\"}",
                    (int)(seq % 60), (int)(seq % 1000000), (int)(1000 + seq % 30000), img[seq % 4],
                    img[seq % 4], seq, (int)(seq % 7),
                    (unsigned long long)seq * 0x9E3779B97F4A7C15ULL,
                    (unsigned long long)seq * 0xC2B2AE3D27D4EB4FULL);
}

static int
insert_rich(struct store *st, int64_t t, int64_t a, int64_t seq0, int n, int commit)
{
    static char buf[200][400];
    struct store_event ev[200];
    for (int i = 0; i < n; i++) {
        int len = mk_rich(buf[i], sizeof(buf[i]), seq0 + i);
        ev[i] = (struct store_event){.tenant_id = t,
                                     .agent_id = a,
                                     .seq = seq0 + i,
                                     .ts_ns = seq0 + i,
                                     .host = "h",
                                     .json = buf[i],
                                     .json_len = (size_t)len};
    }
    size_t ins, dups;
    int rc = store_begin(st);
    if (rc == 0)
        rc = store_events_insert(st, ev, (size_t)n, &ins, &dups);
    if (rc == 0 && commit)
        rc = store_commit(st);
    else
        store_rollback(st);
    return rc;
}

struct check_ctx {
    int64_t rows;
    int bad;
};

static int
check_rich(void *ctx, const struct store_event *e)
{
    struct check_ctx *c = ctx;
    char want[400];
    int len = mk_rich(want, sizeof(want), e->seq);
    if ((size_t)len != e->json_len || memcmp(want, e->json, e->json_len) != 0)
        c->bad++;
    c->rows++;
    return 0;
}

static int64_t
sql_int(const char *sql)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/bannin.db", tdir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void
test_compressed_events(void **state)
{
    (void)state;
    struct store_opts o = {.compress = 3, .row_events = 1};
    struct store *st = NULL;
    struct store_err err;
    assert_int_equal(store_open_ex(&st, tdir, &o, &err), 0);
    int64_t t = mk_tenant(st, "acme");
    int64_t a = mk_agent(st, t, "u1");
    int64_t seq = 1;
    /* 1000 events of samples, then the batch that trains the dictionary rolls back. */
    for (int b = 0; b < 5; b++, seq += 200)
        assert_int_equal(insert_rich(st, t, a, seq, 200, 1), 0);
    assert_int_equal(insert_rich(st, t, a, seq, 200, 0), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM zdicts"), 0);
    /* Ingest goes on: a new dictionary from new samples, then compressed rows. */
    for (int b = 0; b < 25; b++, seq += 200)
        assert_int_equal(insert_rich(st, t, a, seq, 200, 1), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM zdicts"), 1);
    int64_t blobs = sql_int("SELECT count(*) FROM events WHERE typeof(json) = 'blob'");
    int64_t total = sql_int("SELECT count(*) FROM events");
    assert_int_equal(total, 30 * 200);
    assert_true(blobs >= 3000);
    int64_t raw = sql_int("SELECT sum(length(CAST(json AS BLOB))) FROM events WHERE typeof(json) "
                          "= 'text'") /
                  (total - blobs);
    int64_t packed =
        sql_int("SELECT sum(length(json)) FROM events WHERE typeof(json) = 'blob'") / blobs;
    print_message("compressed events: %" PRId64 " of %" PRId64 ", %" PRId64 " -> %" PRId64
                  " bytes on average\n",
                  blobs, total, raw, packed);
    assert_true(packed * 2 < raw);

    /* Every event reads back byte for byte, through this handle and a plain one. */
    for (int h = 0; h < 2; h++) {
        struct store *rd = st;
        if (h == 1)
            assert_int_equal(store_open(&rd, tdir, &err), 0);
        struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 10000};
        struct check_ctx c = {0};
        assert_int_equal(store_event_search(rd, &q, check_rich, &c, NULL, NULL), 0);
        assert_int_equal(c.rows, total);
        assert_int_equal(c.bad, 0);
        /* Field filters see the text of compressed rows. */
        struct store_field_filter f = {"CommandLine", "job 5555'", STORE_FIELD_CONTAINS};
        q.fields = &f;
        q.nfields = 1;
        memset(&c, 0, sizeof(c));
        assert_int_equal(store_event_search(rd, &q, check_rich, &c, NULL, NULL), 0);
        assert_int_equal(c.rows, 1);
        struct store_event e;
        assert_int_equal(store_event_get(rd, &q.scope, a, 5555, &e), 0);
        assert_non_null(strstr(e.json, "job 5555'"));
        if (h == 1)
            store_close(rd);
    }
    /* Usage counts stored bytes, so retention by size stays exact. */
    int64_t usage = store_events_bytes(st, t);
    int64_t rows_bytes = sql_int("SELECT sum(length(CAST(json AS BLOB)) + length(CAST(host AS "
                                 "BLOB)) + 64) FROM events");
    assert_int_equal(usage, rows_bytes);
    struct store_tenant tt;
    assert_int_equal(store_tenant_get(st, t, &tt), 0);
    tt.retention_bytes = usage / 2;
    struct store_scope all = {.all = 1};
    assert_int_equal(store_tenant_update(st, &all, &tt), 0);
    struct store_retention_stats rs;
    do
        assert_int_equal(store_retention_step(st, 0, 0, &rs), 0);
    while (rs.more);
    assert_true(store_events_bytes(st, t) <= usage / 2);
    assert_int_equal(store_events_bytes(st, t),
                     sql_int("SELECT sum(length(CAST(json AS BLOB)) + length(CAST(host AS BLOB))"
                             " + 64) FROM events"));
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);
}

/* Rows' bytes plus the blocks they use: what the usage counter must hold (schema 6). */
static int64_t
stored_bytes(void)
{
    return sql_int("SELECT (SELECT COALESCE(sum(length(CAST(json AS BLOB)) + length(CAST(host AS "
                   "BLOB)) + 64), 0) FROM events) + (SELECT COALESCE(sum(length(data)), 0) FROM "
                   "event_blocks)");
}

static void
exec_raw(const char *sql)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/bannin.db", tdir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Schema 6: a version 5 database with inline events is migrated; new events go into zstd
 * blocks; both read back byte for byte (search, field filters, get, a second handle);
 * duplicates keep their block's live count right; retention frees blocks and keeps the usage
 * counter exact; a missing block is a clear BN_ECORRUPT, not a crash or a wrong answer. */
static void
test_event_blocks(void **state)
{
    (void)state;
    struct store *st = NULL;
    struct store_err err;
    struct store_opts o5 = {.max_version = 5};
    assert_int_equal(store_open_ex(&st, tdir, &o5, &err), 0);
    assert_int_equal(store_schema_version(st), 5);
    int64_t t = mk_tenant(st, "blocks");
    int64_t a = mk_agent(st, t, "agent-blocks");
    assert_int_equal(insert_rich(st, t, a, 1, 200, 1), 0); /* seqs 1..200 inline */
    store_close(st);
    assert_int_equal(sql_int("SELECT count(*) FROM events WHERE typeof(json) = 'text'"), 200);

    st = open_store();
    assert_int_equal(store_schema_version(st), store_schema_latest());
    int64_t seq = 201;
    for (int b = 0; b < 10; b++, seq += 200)
        assert_int_equal(insert_rich(st, t, a, seq, 200, 1), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM events"), 2200);
    assert_int_equal(sql_int("SELECT count(*) FROM event_blocks"), 10);
    assert_int_equal(sql_int("SELECT sum(live) FROM event_blocks"), 2000);
    assert_int_equal(sql_int("SELECT count(*) FROM events WHERE typeof(json) = 'blob' AND "
                             "length(json) < 20"),
                     2000);
    int64_t raw = sql_int("SELECT sum(raw_len) FROM event_blocks");
    int64_t packed = sql_int("SELECT sum(length(data)) FROM event_blocks");
    print_message("event blocks: %" PRId64 " -> %" PRId64 " bytes for 2000 events\n", raw,
                  packed);
    assert_true(packed * 3 < raw);

    /* a rolled-back block leaves nothing; a later one reuses nothing stale */
    assert_int_equal(insert_rich(st, t, a, seq, 200, 0), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM event_blocks"), 10);

    /* duplicates: half of a batch (live = the new half), then all of one (no block kept) */
    assert_int_equal(insert_rich(st, t, a, seq - 100, 200, 1), 0);
    seq += 100;
    assert_int_equal(sql_int("SELECT live FROM event_blocks ORDER BY id DESC LIMIT 1"), 100);
    assert_int_equal(insert_rich(st, t, a, 500, 100, 1), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM event_blocks"), 11);
    int64_t total = seq - 1;
    assert_int_equal(sql_int("SELECT count(*) FROM events"), total);
    assert_int_equal(store_events_count(st, t), total);
    assert_int_equal(store_events_bytes(st, t), stored_bytes());

    for (int h = 0; h < 2; h++) {
        struct store *rd = st;
        if (h == 1)
            assert_int_equal(store_open(&rd, tdir, &err), 0);
        struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 10000};
        struct check_ctx c = {0};
        assert_int_equal(store_event_search(rd, &q, check_rich, &c, NULL, NULL), 0);
        assert_int_equal(c.rows, total);
        assert_int_equal(c.bad, 0);
        struct store_field_filter f = {"CommandLine", "job 1777'", STORE_FIELD_CONTAINS};
        q.fields = &f;
        q.nfields = 1;
        memset(&c, 0, sizeof(c));
        assert_int_equal(store_event_search(rd, &q, check_rich, &c, NULL, NULL), 0);
        assert_int_equal(c.rows, 1);
        f.value = "job 77'"; /* an inline (version 5) row */
        memset(&c, 0, sizeof(c));
        assert_int_equal(store_event_search(rd, &q, check_rich, &c, NULL, NULL), 0);
        assert_int_equal(c.rows, 1);
        struct store_event e;
        assert_int_equal(store_event_get(rd, &q.scope, a, 1999, &e), 0);
        assert_non_null(strstr(e.json, "job 1999'"));
        assert_int_equal(e.json[e.json_len], '\0');
        if (h == 1)
            store_close(rd);
    }

    /* retention by size, then everything: blocks go with their last rows */
    struct store_tenant tt;
    assert_int_equal(store_tenant_get(st, t, &tt), 0);
    int64_t usage = store_events_bytes(st, t);
    tt.retention_bytes = usage / 2;
    struct store_scope all = {.all = 1};
    assert_int_equal(store_tenant_update(st, &all, &tt), 0);
    struct store_retention_stats rs;
    do {
        assert_int_equal(store_retention_step(st, 0, 0, &rs), 0);
        print_message("retention: usage %" PRId64 " (limit %" PRId64 "), %" PRId64
                      " events left, %" PRId64 " deleted\n",
                      store_events_bytes(st, t), usage / 2, store_events_count(st, t),
                      rs.deleted_size);
    } while (rs.more);
    assert_true(store_events_bytes(st, t) <= usage / 2);
    assert_int_equal(store_events_bytes(st, t), stored_bytes());
    assert_true(sql_int("SELECT count(*) FROM event_blocks") < 11);
    print_message("after retention: %" PRId64 " blocks, live %" PRId64 ", rows in blocks %" PRId64
                  "\n",
                  sql_int("SELECT count(*) FROM event_blocks"),
                  sql_int("SELECT sum(live) FROM event_blocks"),
                  sql_int("SELECT count(*) FROM events WHERE typeof(json) = 'blob' AND "
                          "substr(json, 1, 4) = CAST('BNK1' AS BLOB)"));
    assert_int_equal(sql_int("SELECT (SELECT sum(live) FROM event_blocks) = (SELECT count(*) "
                             "FROM events WHERE typeof(json) = 'blob' AND substr(json, 1, 4) = "
                             "CAST('BNK1' AS BLOB))"),
                     1);
    struct store_event_query q = {.scope = {.ids = &t, .n = 1}, .limit = 10000};
    struct check_ctx c = {0};
    assert_int_equal(store_event_search(st, &q, check_rich, &c, NULL, NULL), 0);
    assert_int_equal(c.rows, store_events_count(st, t));
    assert_int_equal(c.bad, 0);

    /* a block that vanished: the read fails with BN_ECORRUPT and says which block */
    int64_t victim = sql_int("SELECT max(id) FROM event_blocks");
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM event_blocks WHERE id = %" PRId64, victim);
    store_close(st);
    exec_raw(sql);
    st = open_store();
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, check_rich, &c, NULL, NULL), BN_ECORRUPT);
    print_message("missing block: %s\n", store_errmsg(st));
    assert_non_null(strstr(store_errmsg(st), "block"));

    tt.retention_bytes = 1;
    assert_int_equal(store_tenant_update(st, &all, &tt), 0);
    do
        assert_int_equal(store_retention_step(st, 0, 0, &rs), 0);
    while (rs.more);
    assert_int_equal(store_events_count(st, t), 0);
    assert_int_equal(sql_int("SELECT count(*) FROM event_blocks"), 0);
    assert_int_equal(store_check(st, &err), 0);
    store_close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenants_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_insert_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_during_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_max_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_tmpfs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
