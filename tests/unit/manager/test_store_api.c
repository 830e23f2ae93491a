/*
 * test_store_api.c - the store operations the API and triage use: users and their
 * sessions/API tokens, tenant scopes (no cross-tenant read or write by construction), event
 * search with filters and cursor paging, alert de-duplication, incidents (status times,
 * notes, timeline, hosts), SOC metrics, suppressions, IOC lists, channels and the outbox,
 * rules state and the audit list.
 */
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "manager/store.h"

static char tdir[256];
static struct store *st;
static int64_t t1, t2, a1, a2;
static const int64_t T1[1] = {0}; /* placeholder, scopes are built per test */

#define S_ONE(var, id) struct store_scope var = {.ids = (int64_t[]){(id)}, .n = 1}
#define S_ALL(var)     struct store_scope var = {.all = 1}

static int
setup(void **state)
{
    (void)state;
    (void)T1;
    snprintf(tdir, sizeof(tdir), "/tmp/bn-store-api-XXXXXX");
    assert_non_null(mkdtemp(tdir));
    struct store_err err;
    assert_int_equal(store_open(&st, tdir, &err), 0);
    struct store_tenant t = {.retention_days = 30, .notify_min_severity = 3};
    snprintf(t.name, sizeof(t.name), "acme");
    assert_int_equal(store_tenant_create(st, &t, &t1), 0);
    snprintf(t.name, sizeof(t.name), "globex");
    assert_int_equal(store_tenant_create(st, &t, &t2), 0);
    struct store_agent a = {.tenant_id = t1};
    snprintf(a.uid, sizeof(a.uid), "u1");
    snprintf(a.cert_fp, sizeof(a.cert_fp), "f1");
    snprintf(a.hostname, sizeof(a.hostname), "web1");
    assert_int_equal(store_agent_create(st, &a, &a1), 0);
    a.tenant_id = t2;
    snprintf(a.uid, sizeof(a.uid), "u2");
    snprintf(a.cert_fp, sizeof(a.cert_fp), "f2");
    snprintf(a.hostname, sizeof(a.hostname), "db1");
    assert_int_equal(store_agent_create(st, &a, &a2), 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    store_close(st);
    st = NULL;
    const char *files[] = {"bannin.db", "bannin.db-wal", "bannin.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof(p), "%s/%s", tdir, files[i]);
        unlink(p);
    }
    rmdir(tdir);
    return 0;
}

static int
count_cb(void *ctx, const void *row)
{
    (void)row;
    (*(int *)ctx)++;
    return 0;
}

static int
tenant_count(void *c, const struct store_tenant *t)
{
    return count_cb(c, t);
}
static int
user_count(void *c, const struct store_user *u)
{
    return count_cb(c, u);
}
static int
agent_count(void *c, const struct store_agent *a)
{
    return count_cb(c, a);
}
static int
auth_count(void *c, const struct store_auth *a)
{
    return count_cb(c, a);
}
static int
token_count(void *c, const struct store_token *t)
{
    return count_cb(c, t);
}

static int
channel_count(void *c, const struct store_channel *ch)
{
    return count_cb(c, ch);
}

static const char H1[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char H2[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void
test_users_auth_scope(void **state)
{
    (void)state;
    S_ONE(s1, t1);
    S_ONE(s2, t2);
    S_ALL(all);
    struct store_scope none = {0};
    struct store_user u = {.tenant_id = t1, .role = STORE_ROLE_CUSTOMER_ADMIN};
    snprintf(u.name, sizeof(u.name), "carol");
    snprintf(u.pwhash, sizeof(u.pwhash), "$argon2id$v=19$x");
    int64_t carol, root;
    assert_int_equal(store_user_create(st, &u, &carol), 0);
    assert_int_equal(store_user_create(st, &u, NULL), BN_EEXIST);
    struct store_user p = {.tenant_id = 0, .role = STORE_ROLE_PROVIDER_ADMIN};
    snprintf(p.name, sizeof(p.name), "root");
    assert_int_equal(store_user_create(st, &p, &root), 0);
    /* Roles must fit tenants. */
    struct store_user bad = {.tenant_id = t1, .role = STORE_ROLE_PROVIDER_ADMIN};
    snprintf(bad.name, sizeof(bad.name), "x");
    assert_int_equal(store_user_create(st, &bad, NULL), BN_EINVAL);
    bad.tenant_id = 0;
    bad.role = STORE_ROLE_CUSTOMER_VIEWER;
    assert_int_equal(store_user_create(st, &bad, NULL), BN_EINVAL);
    assert_int_equal(store_role_parse("analyst"), STORE_ROLE_ANALYST);
    assert_int_equal(store_role_parse("god"), -1);
    assert_string_equal(store_role_name(STORE_ROLE_CUSTOMER_VIEWER), "customer_viewer");

    struct store_user got;
    assert_int_equal(store_user_get(st, &s1, carol, &got), 0);
    assert_string_equal(got.name, "carol");
    assert_int_equal(store_user_get(st, &s2, carol, &got), BN_ENOTFOUND);
    assert_int_equal(store_user_get(st, &s1, root, &got), BN_ENOTFOUND);
    assert_int_equal(store_user_get(st, &all, root, &got), 0);
    assert_int_equal(store_user_by_name(st, "root", &got), 0);
    int n = 0;
    assert_int_equal(store_user_list(st, &s1, user_count, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_user_list(st, &all, user_count, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(store_user_list(st, &none, user_count, &n), 0);
    assert_int_equal(n, 0);
    /* Scope with tenant 0 in it does not reach provider users. */
    S_ONE(s0, 0);
    n = 0;
    assert_int_equal(store_user_list(st, &s0, user_count, &n), 0);
    assert_int_equal(n, 0);

    /* Another tenant cannot update or delete; its own admin can. */
    got.id = carol;
    got.role = STORE_ROLE_CUSTOMER_VIEWER;
    got.tenant_id = t1;
    snprintf(got.name, sizeof(got.name), "carol");
    assert_int_equal(store_user_update(st, &s2, &got), BN_ENOTFOUND);
    assert_int_equal(store_user_update(st, &s1, &got), 0);
    assert_int_equal(store_user_get(st, &s1, carol, &got), 0);
    assert_int_equal(got.role, STORE_ROLE_CUSTOMER_VIEWER);

    /* Sessions and API tokens. */
    int64_t sid, tid;
    assert_int_equal(store_auth_create(st, STORE_AUTH_SESSION, carol, H1, NULL, 100, 1000, &sid),
                     0);
    assert_int_equal(store_auth_create(st, STORE_AUTH_API_TOKEN, carol, H2, "ci", 100, 0, &tid), 0);
    assert_int_equal(store_auth_create(st, STORE_AUTH_SESSION, carol, "XYZ", NULL, 1, 0, NULL),
                     BN_EINVAL);
    assert_int_equal(store_auth_create(st, STORE_AUTH_SESSION, 9999, H1 + 0, NULL, 1, 0, NULL),
                     BN_EEXIST); /* same hash */
    struct store_auth au;
    struct store_user uu;
    assert_int_equal(store_auth_lookup(st, H1, 500, &au, &uu), 0);
    assert_int_equal(au.id, sid);
    assert_int_equal(au.tenant_id, t1);
    assert_string_equal(uu.name, "carol");
    assert_int_equal(store_auth_lookup(st, H1, 1000, &au, &uu), BN_EDENIED); /* expired */
    assert_int_equal(store_auth_lookup(st, "cccc", 500, &au, &uu), BN_EDENIED);
    n = 0;
    assert_int_equal(store_auth_list(st, &s1, carol, auth_count, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(store_auth_list(st, &s2, 0, auth_count, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_auth_revoke(st, &s2, tid), BN_ENOTFOUND);
    assert_int_equal(store_auth_lookup(st, H2, 500, &au, &uu), 0);
    assert_int_equal(store_auth_revoke(st, &s1, tid), 0);
    assert_int_equal(store_auth_lookup(st, H2, 500, &au, &uu), BN_EDENIED);
    int64_t expired = 0;
    assert_int_equal(store_auth_expire(st, 2000, &expired), 0);
    assert_int_equal(expired, 1);
    /* A disabled user's credentials stop working; a deleted user's sessions go with it. */
    int64_t sid2;
    assert_int_equal(store_auth_create(st, STORE_AUTH_SESSION, carol, H1, NULL, 100, 0, &sid2), 0);
    got.disabled = 1;
    assert_int_equal(store_user_update(st, &s1, &got), 0);
    assert_int_equal(store_auth_lookup(st, H1, 500, &au, &uu), BN_EDENIED);
    got.disabled = 0;
    assert_int_equal(store_user_update(st, &s1, &got), 0);
    assert_int_equal(store_auth_lookup(st, H1, 500, &au, &uu), 0);
    assert_int_equal(store_auth_revoke_hash(st, H1), 0);
    assert_int_equal(store_auth_lookup(st, H1, 500, &au, &uu), BN_EDENIED);
    assert_int_equal(store_user_delete(st, &s2, carol), BN_ENOTFOUND);
    assert_int_equal(store_user_delete(st, &s1, carol), 0);
    n = 0;
    assert_int_equal(store_auth_list(st, &all, 0, auth_count, &n), 0);
    assert_int_equal(n, 0);

    /* Tenants, tokens and agents lists respect scope too. */
    n = 0;
    assert_int_equal(store_tenant_list(st, &s2, tenant_count, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_tenant_list(st, &all, tenant_count, &n), 0);
    assert_int_equal(n, 2);
    struct store_tenant tt;
    assert_int_equal(store_tenant_get(st, t1, &tt), 0);
    tt.retention_bytes = 12345;
    tt.mode = STORE_MODE_FULL;
    assert_int_equal(store_tenant_update(st, &s2, &tt), BN_ENOTFOUND);
    assert_int_equal(store_tenant_update(st, &s1, &tt), 0);
    assert_int_equal(store_tenant_get(st, t1, &tt), 0);
    assert_int_equal(tt.retention_bytes, 12345);
    assert_int_equal(tt.mode, STORE_MODE_FULL);
    assert_int_equal(store_token_create(st, t1, H1, 1, 0, "x", NULL), 0);
    n = 0;
    assert_int_equal(store_token_list(st, &s1, token_count, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(store_token_list(st, &s2, token_count, &n), 0);
    assert_int_equal(n, 0);
    n = 0;
    assert_int_equal(store_agent_list(st, &s1, agent_count, &n), 0);
    assert_int_equal(n, 1);
    struct store_agent ag;
    assert_int_equal(store_agent_get_scoped(st, &s2, a1, &ag), BN_ENOTFOUND);
    assert_int_equal(store_agent_set_criticality(st, &s2, a1, 3), BN_ENOTFOUND);
    assert_int_equal(store_agent_set_criticality(st, &s1, a1, 3), 0);
    assert_int_equal(store_agent_set_criticality(st, &s1, a1, 9), BN_EINVAL);
    assert_int_equal(store_agent_get_scoped(st, &s1, a1, &ag), 0);
    assert_int_equal(ag.asset_criticality, 3);
}

/* ---- event search ---- */

struct collect {
    int n;
    int64_t seqs[64];
    char json[256];
};

static int
ev_collect(void *ctx, const struct store_event *e)
{
    struct collect *c = ctx;
    if (c->n < 64)
        c->seqs[c->n] = e->seq;
    c->n++;
    snprintf(c->json, sizeof(c->json), "%.*s", (int)e->json_len, e->json);
    return 0;
}

static void
add_events(void)
{
    static char buf[40][200];
    struct store_event ev[40];
    for (int i = 0; i < 40; i++) {
        int64_t agent = i < 30 ? a1 : a2;
        int64_t tenant = i < 30 ? t1 : t2;
        const char *img = i % 3 == 0   ? "/usr/bin/curl"
                          : i % 3 == 1 ? "/bin/bash"
                                       : "/usr/sbin/sshd";
        int len = snprintf(buf[i], sizeof(buf[i]),
                           "{\"EventID\":%d,\"Image\":\"%s\",\"CommandLine\":\"cmd %d\","
                           "\"proc\":{\"parent\":{\"name\":\"p%d\"}}}",
                           i % 2 ? 1 : 3, img, i, i % 4);
        ev[i] = (struct store_event){.tenant_id = tenant,
                                     .agent_id = agent,
                                     .seq = i + 1,
                                     .ts_ns = 1000 + i,
                                     .received_ns = 2000 + i,
                                     .event_id = i % 2 ? 1 : 3,
                                     .host = i < 30 ? "web1" : "db1",
                                     .image = img,
                                     .user = i % 5 == 0 ? "root" : "alice",
                                     .json = buf[i],
                                     .json_len = (size_t)len};
    }
    size_t ins, dups;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_events_insert(st, ev, 40, &ins, &dups), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(ins, 40);
}

static void
test_event_search(void **state)
{
    (void)state;
    add_events();
    S_ONE(s1, t1);
    S_ALL(all);
    struct store_event_query q = {.scope = s1};
    struct collect c = {0};
    int more = -1;
    struct store_cursor next;
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, &next, &more), 0);
    assert_int_equal(c.n, 30);
    assert_int_equal(c.seqs[0], 30); /* newest first */
    assert_int_equal(more, 0);
    /* Paging: 3 pages of 12, 12, 6 covering every event exactly once. */
    q.limit = 12;
    int total = 0, pages = 0;
    int64_t seen = 0;
    do {
        memset(&c, 0, sizeof(c));
        assert_int_equal(store_event_search(st, &q, ev_collect, &c, &next, &more), 0);
        for (int i = 0; i < c.n; i++)
            seen |= 1LL << c.seqs[i];
        total += c.n;
        pages++;
        q.after = next;
    } while (more);
    assert_int_equal(total, 30);
    assert_int_equal(pages, 3);
    assert_int_equal(seen, ((1LL << 31) - 1) & ~1LL);
    memset(&q.after, 0, sizeof(q.after));
    q.limit = 0;

    /* Filters. */
    q.from_ns = 1010;
    q.to_ns = 1020;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 10);
    q.from_ns = q.to_ns = 0;
    q.event_id = 3;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 15);
    q.event_id = 0;
    q.image_sub = "curl";
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 10);
    q.image_sub = NULL;
    q.user = "root";
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 6);
    q.user = NULL;
    q.host = "db1"; /* another tenant's host: nothing through this scope */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 0);
    q.scope = all;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 10);
    q.host = NULL;
    q.scope = s1;
    /* JSON field filters: equality on a number and a nested string, substring. */
    struct store_field_filter f[2] = {{"proc.parent.name", "p1", STORE_FIELD_EQ},
                                      {"CommandLine", "cmd 2", STORE_FIELD_CONTAINS}};
    q.fields = f;
    q.nfields = 2;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    /* parent p1: i % 4 == 1 -> 1,5,...,29; "cmd 2" substring: 2, 20..29 -> i = 21, 25, 29 */
    assert_int_equal(c.n, 3);
    struct store_field_filter g = {"EventID", "3", STORE_FIELD_EQ};
    q.fields = &g;
    q.nfields = 1;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 15);
    /* A field name that is not a path, and a value with quotes (bound, never spliced). */
    struct store_field_filter h = {"a\"b", "x", STORE_FIELD_EQ};
    q.fields = &h;
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), BN_EINVAL);
    assert_non_null(strstr(store_errmsg(st), "field"));
    struct store_field_filter k = {"Image", "x' OR 1=1 --", STORE_FIELD_EQ};
    q.fields = &k;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 0);
    q.nfields = 99;
    assert_int_equal(store_event_search(st, &q, ev_collect, &c, NULL, NULL), BN_ETOOBIG);
    q.nfields = 0;
    /* No scope, nothing. */
    struct store_event_query q0 = {0};
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_event_search(st, &q0, ev_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 0);

    struct store_event e;
    assert_int_equal(store_event_get(st, &s1, a1, 5, &e), 0);
    assert_int_equal(e.seq, 5);
    assert_non_null(strstr(e.json, "cmd 4"));
    assert_string_equal(e.host, "web1");
    assert_int_equal(store_event_get(st, &s1, a2, 35, &e), BN_ENOTFOUND);
}

/* ---- alerts and incidents ---- */

static struct store_alert
mk_alert(int64_t tenant, const char *rule, const char *key, int64_t t, int level)
{
    struct store_alert a = {.tenant_id = tenant,
                            .agent_id = tenant == t1 ? a1 : a2,
                            .level = level,
                            .score = level * 20,
                            .first_ns = t,
                            .last_ns = t,
                            .event_ts_ns = t - 100,
                            .json = "{\"x\":1}"};
    snprintf(a.rule_id, sizeof(a.rule_id), "%s", rule);
    snprintf(a.rule_title, sizeof(a.rule_title), "title %s", rule);
    snprintf(a.dedupe_key, sizeof(a.dedupe_key), "%s", key);
    snprintf(a.host, sizeof(a.host), "%s", tenant == t1 ? "web1" : "db1");
    snprintf(a.source, sizeof(a.source), "central");
    snprintf(a.tactics, sizeof(a.tactics), "execution");
    return a;
}

static int
alert_collect(void *ctx, const struct store_alert *a)
{
    struct collect *c = ctx;
    if (c->n < 64)
        c->seqs[c->n] = a->id;
    c->n++;
    return 0;
}

static int
host_collect(void *ctx, const char *host, int64_t alerts, int64_t first, int64_t last)
{
    struct collect *c = ctx;
    (void)first;
    (void)last;
    snprintf(c->json, sizeof(c->json), "%s:%" PRId64, host, alerts);
    c->n++;
    return 0;
}

static int
note_collect(void *ctx, const struct store_note *n)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s:%s", n->author, n->text);
    c->n++;
    return 0;
}

struct metrics_out {
    int n;
    struct store_metrics m[8];
};

static int
metrics_collect(void *ctx, const struct store_metrics *m)
{
    struct metrics_out *o = ctx;
    if (o->n < 8)
        o->m[o->n] = *m;
    o->n++;
    return 0;
}

static void
test_alerts_incidents(void **state)
{
    (void)state;
    add_events();
    S_ONE(s1, t1);
    S_ONE(s2, t2);
    S_ALL(all);
    const int64_t W = 1000;
    struct store_alert a = mk_alert(t1, "r1", "r1|web1|bash", 10000, 2);
    int64_t id1, id2, id3, idx;
    int merged = -1;
    assert_int_equal(store_alert_upsert(st, &a, W, &id1, &merged), 0);
    assert_int_equal(merged, 0);
    /* Same key within the window: merged, count and last_ns move, level rises. */
    a = mk_alert(t1, "r1", "r1|web1|bash", 10500, 3);
    assert_int_equal(store_alert_upsert(st, &a, W, &idx, &merged), 0);
    assert_int_equal(idx, id1);
    assert_int_equal(merged, 1);
    a = mk_alert(t1, "r1", "r1|web1|bash", 11400, 1);
    a.count = 5;
    assert_int_equal(store_alert_upsert(st, &a, W, &idx, &merged), 0);
    assert_int_equal(merged, 1);
    struct store_alert got;
    assert_int_equal(store_alert_get(st, &s1, id1, &got), 0);
    assert_int_equal(got.count, 7);
    assert_int_equal(got.first_ns, 10000);
    assert_int_equal(got.last_ns, 11400);
    assert_int_equal(got.level, 3);
    assert_string_equal(got.json, "{\"x\":1}");
    assert_int_equal(store_alert_get(st, &s2, id1, &got), BN_ENOTFOUND);
    /* Past the window: a new alert. Same key in another tenant: a new alert. */
    a = mk_alert(t1, "r1", "r1|web1|bash", 13000, 2);
    assert_int_equal(store_alert_upsert(st, &a, W, &id2, &merged), 0);
    assert_int_equal(merged, 0);
    assert_true(id2 != id1);
    a = mk_alert(t2, "r1", "r1|web1|bash", 13000, 2);
    assert_int_equal(store_alert_upsert(st, &a, W, &id3, &merged), 0);
    assert_int_equal(merged, 0);
    a = mk_alert(t1, "r2", "r2|web1", 13100, 4);
    int64_t id4;
    assert_int_equal(store_alert_upsert(st, &a, W, &id4, &merged), 0);
    a.dedupe_key[0] = '\0';
    assert_int_equal(store_alert_upsert(st, &a, W, &idx, &merged), BN_EINVAL);

    struct store_alert_query aq = {.scope = s1, .incident_id = -1};
    struct collect c = {0};
    struct store_cursor next;
    int more;
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, &next, &more), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.seqs[0], id4); /* newest last_ns first */
    aq.rule_id = "r1";
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 2);
    aq.rule_id = "r1' OR '1'='1";
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 0);
    aq.rule_id = NULL;
    aq.min_level = 4;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 1);
    aq.min_level = 0;
    aq.limit = 2;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, &next, &more), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(more, 1);
    aq.after = next;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, &next, &more), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.seqs[0], id1);
    memset(&aq.after, 0, sizeof(aq.after));
    aq.limit = 0;

    /* Events linked to alerts, capped. */
    assert_int_equal(store_alert_add_event(st, id1, a1, 3), 0);
    assert_int_equal(store_alert_add_event(st, id1, a1, 4), 0);
    assert_int_equal(store_alert_add_event(st, id1, a1, 4), 0); /* again: once */
    assert_int_equal(store_alert_add_event(st, id4, a1, 9), 0);
    assert_int_equal(store_alert_add_event(st, 99999, a1, 9), BN_ENOTFOUND);
    for (int i = 0; i < 256; i++)
        assert_int_equal(store_alert_add_event(st, id2, a1, 1000 + i), 0);
    assert_int_equal(store_alert_add_event(st, id2, a1, 5000), BN_DECLINED);

    /* Incidents. */
    struct store_incident inc = {.tenant_id = t1,
                                 .severity = 2,
                                 .first_ns = 10000,
                                 .last_ns = 13100,
                                 .created_ns = 20000,
                                 .notified_severity = -1};
    snprintf(inc.title, sizeof(inc.title), "suspicious shell on web1");
    snprintf(inc.group_key, sizeof(inc.group_key), "host:web1");
    int64_t inc1;
    assert_int_equal(store_incident_create(st, &inc, &inc1), 0);
    struct store_incident ig;
    assert_int_equal(store_incident_find_open(st, t1, "host:web1", 13000, &ig), 0);
    assert_int_equal(ig.id, inc1);
    assert_int_equal(store_incident_find_open(st, t1, "host:web1", 14000, &ig), BN_ENOTFOUND);
    assert_int_equal(store_incident_find_open(st, t2, "host:web1", 0, &ig), BN_ENOTFOUND);
    assert_int_equal(store_alert_set_incident(st, &s1, id1, inc1), 0);
    assert_int_equal(store_alert_set_incident(st, &s1, id4, inc1), 0);
    assert_int_equal(store_alert_set_incident(st, &s2, id2, inc1), BN_ENOTFOUND);
    assert_int_equal(store_alert_set_incident(st, &all, id3, inc1), BN_ENOTFOUND); /* tenants */
    aq.incident_id = inc1;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 2);
    aq.incident_id = 0;
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_alert_list(st, &aq, alert_collect, &c, NULL, NULL), 0);
    assert_int_equal(c.n, 1);

    /* Timeline: alerts oldest first, each with its events. */
    memset(&c, 0, sizeof(c));
    struct collect ce = {0};
    assert_int_equal(store_incident_timeline(st, &s1, inc1, alert_collect, ev_collect, &c), 0);
    /* alert_collect and ev_collect share ctx: n counts both; seqs interleave. */
    assert_int_equal(c.n, 2 + 3);
    assert_int_equal(c.seqs[0], id1);
    assert_int_equal(c.seqs[1], 3);
    assert_int_equal(c.seqs[2], 4);
    assert_int_equal(c.seqs[3], id4);
    assert_int_equal(c.seqs[4], 9);
    assert_int_equal(store_incident_timeline(st, &s2, inc1, alert_collect, ev_collect, &ce),
                     BN_ENOTFOUND);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_incident_hosts(st, &s1, inc1, host_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.json, "web1:8");

    /* Status, assignee, notes. */
    assert_int_equal(store_incident_set_status(st, &s2, inc1, STORE_INC_ACKNOWLEDGED, 20500),
                     BN_ENOTFOUND);
    assert_int_equal(store_incident_set_status(st, &s1, inc1, STORE_INC_ACKNOWLEDGED, 20500), 0);
    assert_int_equal(store_incident_set_status(st, &s1, inc1, STORE_INC_INVESTIGATING, 20600), 0);
    assert_int_equal(store_incident_set_status(st, &s1, inc1, 17, 20600), BN_EINVAL);
    assert_int_equal(store_incident_set_assignee(st, &s1, inc1, 42), 0);
    assert_int_equal(store_incident_note_add(st, &s1, inc1, "bob", "looking", 20700, NULL), 0);
    assert_int_equal(store_incident_note_add(st, &s2, inc1, "eve", "x", 20700, NULL), BN_ENOTFOUND);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_incident_notes(st, &s1, inc1, note_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.json, "bob:looking");
    assert_int_equal(store_incident_set_status(st, &s1, inc1, STORE_INC_RESOLVED, 23000), 0);
    assert_int_equal(store_incident_set_status(st, &s1, inc1, STORE_INC_RESOLVED, 29000), 0);
    assert_int_equal(store_incident_get(st, &s1, inc1, &ig), 0);
    assert_int_equal(ig.acknowledged_ns, 20500);
    assert_int_equal(ig.resolved_ns, 23000); /* the first resolution counts */
    assert_int_equal(ig.assignee_id, 42);
    assert_int_equal(store_incident_find_open(st, t1, "host:web1", 0, &ig), BN_ENOTFOUND);
    assert_int_equal(store_incident_set_notified(st, inc1, 3), 0);
    assert_int_equal(store_incident_get(st, &s1, inc1, &ig), 0);
    assert_int_equal(ig.notified_severity, 3);
    ig.severity = 4;
    snprintf(ig.tactics, sizeof(ig.tactics), "execution,persistence");
    assert_int_equal(store_incident_update(st, &s2, &ig), BN_ENOTFOUND);
    assert_int_equal(store_incident_update(st, &s1, &ig), 0);
    assert_int_equal(store_incident_get(st, &s1, inc1, &ig), 0);
    assert_int_equal(ig.severity, 4);
    assert_string_equal(ig.tactics, "execution,persistence");

    struct store_incident_query iq = {.scope = s1, .status = -1};
    memset(&c, 0, sizeof(c));
    int inc_n = 0;
    assert_int_equal(store_incident_list(st, &iq, (store_incident_cb)(void (*)(void))count_cb,
                                         &inc_n, NULL, NULL),
                     0);
    assert_int_equal(inc_n, 1);
    iq.status = -2; /* open only */
    inc_n = 0;
    assert_int_equal(store_incident_list(st, &iq, (store_incident_cb)(void (*)(void))count_cb,
                                         &inc_n, NULL, NULL),
                     0);
    assert_int_equal(inc_n, 0);

    /* Metrics: MTTD = first_ns - event_ts_ns = 100 for every alert of t1 (3 alerts);
     * MTTA = 500, MTTR = 3000 for the one incident; per rule r1 and r2 both see it. */
    struct metrics_out mo = {0};
    assert_int_equal(store_metrics(st, &s1, 0, 0, 1, metrics_collect, &mo), 0);
    assert_int_equal(mo.n, 3);
    assert_string_equal(mo.m[0].rule_id, "");
    assert_int_equal(mo.m[0].tenant_id, t1);
    assert_int_equal(mo.m[0].mttd.n, 3);
    assert_int_equal(mo.m[0].mttd.avg_ns, 100);
    assert_int_equal(mo.m[0].mttd.p90_ns, 100);
    assert_int_equal(mo.m[0].mtta.n, 1);
    assert_int_equal(mo.m[0].mtta.avg_ns, 500);
    assert_int_equal(mo.m[0].mttr.p50_ns, 3000);
    assert_string_equal(mo.m[1].rule_id, "r1");
    assert_int_equal(mo.m[1].mttd.n, 2);
    assert_int_equal(mo.m[1].mtta.n, 1);
    assert_string_equal(mo.m[2].rule_id, "r2");
    assert_int_equal(mo.m[2].mttr.avg_ns, 3000);
    memset(&mo, 0, sizeof(mo));
    assert_int_equal(store_metrics(st, &all, 0, 0, 0, metrics_collect, &mo), 0);
    assert_int_equal(mo.n, 2); /* t1 and t2 totals */
    memset(&mo, 0, sizeof(mo));
    assert_int_equal(store_metrics(st, &s1, 50000, 60000, 1, metrics_collect, &mo), 0);
    assert_int_equal(mo.n, 0);
}

static void
test_metrics_percentiles(void **state)
{
    (void)state;
    S_ONE(s2, t2);
    /* MTTD 1..10 (x 1000): p50 = 5000, p90 = 9000, avg = 5500. */
    for (int i = 1; i <= 10; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        struct store_alert a = mk_alert(t2, "rp", key, 100000 + i * 10, 1);
        a.event_ts_ns = a.first_ns - i * 1000;
        assert_int_equal(store_alert_upsert(st, &a, 0, NULL, NULL), 0);
    }
    struct metrics_out mo = {0};
    assert_int_equal(store_metrics(st, &s2, 0, 0, 0, metrics_collect, &mo), 0);
    assert_int_equal(mo.n, 1);
    assert_int_equal(mo.m[0].mttd.n, 10);
    assert_int_equal(mo.m[0].mttd.avg_ns, 5500);
    assert_int_equal(mo.m[0].mttd.p50_ns, 5000);
    assert_int_equal(mo.m[0].mttd.p90_ns, 9000);
    assert_int_equal(mo.m[0].mtta.n, 0);
}

/* ---- suppressions, IOC, channels, outbox, rules, audit list ---- */

static int
sup_collect(void *ctx, const struct store_suppression *s)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s|%.60s|%.60s", s->rule_id, s->fields_json, s->reason);
    if (c->n < 64)
        c->seqs[c->n] = s->id;
    c->n++;
    return 0;
}

static int
ioc_collect(void *ctx, const struct store_ioc *e)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s=%s", e->type, e->value);
    c->n++;
    return 0;
}

static int
ioc_list_collect(void *ctx, const struct store_ioc_list *l)
{
    struct collect *c = ctx;
    if (c->n < 64)
        c->seqs[c->n] = l->entries;
    c->n++;
    return 0;
}

static int
outbox_collect(void *ctx, const struct store_outbox *o)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s", o->payload);
    if (c->n < 64)
        c->seqs[c->n] = o->id;
    c->n++;
    return 0;
}

static int
rule_collect(void *ctx, const struct store_rule_state *r)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s=%d", r->rule_id, r->enabled);
    c->n++;
    return 0;
}

static int
upload_collect(void *ctx, const struct store_rule_upload *r)
{
    struct collect *c = ctx;
    snprintf(c->json, sizeof(c->json), "%s", r->yaml);
    c->n++;
    return 0;
}

static int
audit_collect(void *ctx, const struct store_audit_entry *e)
{
    struct collect *c = ctx;
    if (c->n < 64)
        c->seqs[c->n] = e->id;
    c->n++;
    return 0;
}

static void
test_triage_tables(void **state)
{
    (void)state;
    S_ONE(s1, t1);
    S_ONE(s2, t2);
    S_ALL(all);
    /* Suppressions. */
    struct store_suppression x = {
        .tenant_id = t1, .fields_json = "{\"User\":\"backup\"}", .expires_ns = 5000};
    snprintf(x.rule_id, sizeof(x.rule_id), "r1");
    snprintf(x.reason, sizeof(x.reason), "nightly backup");
    snprintf(x.author, sizeof(x.author), "bob");
    int64_t sx1, sx2;
    assert_int_equal(store_suppression_create(st, &x, &sx1), 0);
    x.rule_id[0] = '\0';
    x.expires_ns = 0;
    x.fields_json = NULL;
    assert_int_equal(store_suppression_create(st, &x, &sx2), 0);
    x.fields_json = "{not json";
    assert_int_equal(store_suppression_create(st, &x, NULL), BN_EINVAL);
    struct collect c = {0};
    assert_int_equal(store_suppression_active(st, t1, "r1", 1000, sup_collect, &c), 0);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_suppression_active(st, t1, "r9", 1000, sup_collect, &c), 0);
    assert_int_equal(c.n, 1); /* the any-rule one */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_suppression_active(st, t1, "r1", 6000, sup_collect, &c), 0);
    assert_int_equal(c.n, 1); /* r1's expired */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_suppression_active(st, t2, "r1", 1000, sup_collect, &c), 0);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_suppression_list(st, &s1, 1, 6000, sup_collect, &c), 0);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_suppression_list(st, &s1, 0, 6000, sup_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(store_suppression_hit(st, sx1, 3), 0);
    assert_int_equal(store_suppression_delete(st, &s2, sx1), BN_ENOTFOUND);
    assert_int_equal(store_suppression_delete(st, &s1, sx1), 0);
    assert_int_equal(store_suppression_delete(st, &s1, sx1), BN_ENOTFOUND);

    /* IOC lists: a global list and a tenant list. */
    int64_t lg, l1;
    assert_int_equal(store_ioc_list_create(st, 0, "feed", "abuse", 1, &lg), 0);
    assert_int_equal(store_ioc_list_create(st, t1, "mine", "", 1, &l1), 0);
    assert_int_equal(store_ioc_list_create(st, t1, "mine", "", 1, NULL), BN_EEXIST);
    struct store_ioc e[4] = {{"sha256", "ab12", "stix--1", 0},
                             {"ip", "198.51.100.7", NULL, 0},
                             {"domain", "evil.example", NULL, 0},
                             {"ip", "198.51.100.7", NULL, 0}};
    size_t added = 0;
    assert_int_equal(store_ioc_add(st, &s1, lg, e, 4, &added), BN_ENOTFOUND); /* global */
    assert_int_equal(store_ioc_add(st, &all, lg, e, 4, &added), 0);
    assert_int_equal(added, 3);
    struct store_ioc e2 = {"domain", "t1.example", "analyst", 0};
    assert_int_equal(store_ioc_add(st, &s2, l1, &e2, 1, &added), BN_ENOTFOUND);
    assert_int_equal(store_ioc_add(st, &s1, l1, &e2, 1, &added), 0);
    struct store_ioc bad = {"ip", NULL, NULL, 0};
    assert_int_equal(store_ioc_add(st, &s1, l1, &bad, 1, &added), BN_EINVAL);
    struct store_ioc hit;
    assert_int_equal(store_ioc_lookup(st, t1, "ip", "198.51.100.7", &hit), 0);
    assert_int_equal(hit.list_id, lg);
    assert_int_equal(store_ioc_lookup(st, t1, "domain", "t1.example", &hit), 0);
    assert_int_equal(hit.list_id, l1);
    assert_string_equal(hit.source, "analyst");
    assert_int_equal(store_ioc_lookup(st, t2, "domain", "t1.example", &hit), BN_ENOTFOUND);
    assert_int_equal(store_ioc_lookup(st, t2, "sha256", "ab12", &hit), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_ioc_each(st, t2, ioc_collect, &c), 0);
    assert_int_equal(c.n, 3);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_ioc_each(st, t1, ioc_collect, &c), 0);
    assert_int_equal(c.n, 4);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_ioc_entries(st, &s1, l1, ioc_collect, &c), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_ioc_list_list(st, &s1, ioc_list_collect, &c), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_ioc_list_list(st, &all, ioc_list_collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], 3);
    assert_int_equal(store_ioc_list_delete(st, &s2, l1), BN_ENOTFOUND);
    assert_int_equal(store_ioc_list_delete(st, &s1, l1), 0);
    assert_int_equal(store_ioc_lookup(st, t1, "domain", "t1.example", &hit), BN_ENOTFOUND);

    /* Channels. */
    struct store_channel ch = {
        .tenant_id = t1, .config_json = "{\"url\":\"http://x\"}", .enabled = 1};
    snprintf(ch.name, sizeof(ch.name), "soc hook");
    snprintf(ch.type, sizeof(ch.type), "webhook");
    int64_t c1, c2;
    assert_int_equal(store_channel_create(st, &ch, &c1), 0);
    snprintf(ch.type, sizeof(ch.type), "pigeon");
    assert_int_equal(store_channel_create(st, &ch, NULL), BN_EINVAL);
    snprintf(ch.type, sizeof(ch.type), "syslog");
    ch.tenant_id = t2;
    assert_int_equal(store_channel_create(st, &ch, &c2), 0);
    struct store_channel cg;
    assert_int_equal(store_channel_get(st, &s1, c1, &cg), 0);
    assert_string_equal(cg.type, "webhook");
    assert_string_equal(cg.config_json, "{\"url\":\"http://x\"}");
    assert_int_equal(store_channel_get(st, &s1, c2, &cg), BN_ENOTFOUND);
    assert_int_equal(store_channel_get(st, &s2, c2, &cg), 0);
    int nch = 0;
    assert_int_equal(store_channel_list(st, &s1, channel_count, &nch), 0);
    assert_int_equal(nch, 1);
    nch = 0;
    assert_int_equal(store_channel_list(st, &all, channel_count, &nch), 0);
    assert_int_equal(nch, 2);
    cg.enabled = 0;
    cg.config_json = "{}";
    assert_int_equal(store_channel_update(st, &s1, &cg), BN_ENOTFOUND);
    assert_int_equal(store_channel_update(st, &s2, &cg), 0);
    assert_int_equal(store_channel_get(st, &s2, c2, &cg), 0);
    assert_int_equal(cg.enabled, 0);

    /* Outbox: collapse, due, failure with backoff, dead after 3, sent. */
    struct store_outbox o = {.tenant_id = t1,
                             .channel_id = c1,
                             .incident_id = 7,
                             .payload = "v1",
                             .created_ns = 100,
                             .next_attempt_ns = 100};
    int64_t o1, ox;
    assert_int_equal(store_outbox_enqueue(st, &o, 1, &o1), 0);
    o.payload = "v2";
    assert_int_equal(store_outbox_enqueue(st, &o, 1, &ox), 0);
    assert_int_equal(ox, o1);
    o.channel_id = c2; /* another tenant's channel */
    assert_int_equal(store_outbox_enqueue(st, &o, 1, &ox), BN_EDENIED);
    o.channel_id = c1;
    o.incident_id = 8;
    o.payload = "other";
    int64_t o2;
    assert_int_equal(store_outbox_enqueue(st, &o, 1, &o2), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_due(st, 100, 10, outbox_collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], o1);
    assert_int_equal(store_outbox_failed(st, o1, 200, "HTTP 503", 3), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_due(st, 150, 10, outbox_collect, &c), 0);
    assert_int_equal(c.n, 1); /* o1 waits for 200 */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_due(st, 200, 10, outbox_collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(store_outbox_failed(st, o1, 400, "HTTP 503", 3), 0);
    assert_int_equal(store_outbox_failed(st, o1, 800, "HTTP 503", 3), 0); /* 3rd: dead */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_due(st, 10000, 10, outbox_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(store_outbox_failed(st, o1, 900, "x", 3), BN_ENOTFOUND);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_list(st, &s1, STORE_OUTBOX_DEAD, 0, outbox_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.json, "v2");
    /* A new update for incident 7 after the dead one: a fresh pending message. */
    o.incident_id = 7;
    o.payload = "v3";
    assert_int_equal(store_outbox_enqueue(st, &o, 1, &ox), 0);
    assert_true(ox != o1);
    assert_int_equal(store_outbox_sent(st, o2, 300), 0);
    assert_int_equal(store_outbox_sent(st, o2, 300), BN_ENOTFOUND);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_list(st, &s2, -1, 0, outbox_collect, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(store_channel_delete(st, &s2, c1), BN_ENOTFOUND);
    assert_int_equal(store_channel_delete(st, &s1, c1), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_outbox_list(st, &s1, -1, 0, outbox_collect, &c), 0);
    assert_int_equal(c.n, 0);

    /* Rules state and uploads. */
    assert_int_equal(store_rule_set_enabled(st, t1, "r1", 0, "bob", 10), 0);
    assert_int_equal(store_rule_set_enabled(st, t1, "r1", 1, "bob", 11), 0);
    assert_int_equal(store_rule_set_enabled(st, 0, "r2", 0, "root", 12), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_rule_states(st, &s1, rule_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.json, "r1=1");
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_rule_states(st, &all, rule_collect, &c), 0);
    assert_int_equal(c.n, 2);
    struct store_rule_upload ru = {.tenant_id = t1, .yaml = "title: a\n"};
    snprintf(ru.rule_id, sizeof(ru.rule_id), "u-1");
    int64_t ru1, ru2;
    assert_int_equal(store_rule_upload(st, &ru, &ru1), 0);
    ru.yaml = "title: b\n";
    assert_int_equal(store_rule_upload(st, &ru, &ru2), 0);
    assert_int_equal(ru1, ru2); /* replaced */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_rule_uploads(st, &s1, upload_collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.json, "title: b\n");
    assert_int_equal(store_rule_upload_delete(st, &s2, ru1), BN_ENOTFOUND);
    assert_int_equal(store_rule_upload_delete(st, &s1, ru1), 0);

    /* Audit list: scoped, newest first, paged by id. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(store_audit(st, i < 3 ? t1 : 0, "bob", "x", "y", NULL), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_list(st, &s1, 0, 2, audit_collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], 3);
    assert_int_equal(c.seqs[1], 2);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_list(st, &s1, 2, 0, audit_collect, &c), 0);
    assert_int_equal(c.n, 1);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_list(st, &all, 0, 0, audit_collect, &c), 0);
    assert_int_equal(c.n, 5);
}

/* Every allocation of a search, a list and the metrics fails in turn: each attempt fails
 * cleanly (no crash, no leak under ASan) until one succeeds with the full answer. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    add_events();
    S_ONE(s1, t1);
    struct store_alert a = mk_alert(t1, "r1", "k", 10000, 2);
    assert_int_equal(store_alert_upsert(st, &a, 0, NULL, NULL), 0);
    struct store_field_filter f = {"CommandLine", "cmd", STORE_FIELD_CONTAINS};
    struct store_event_query q = {.scope = s1, .fields = &f, .nfields = 1, .image_sub = "bin"};
    int ok = 0;
    for (unsigned long n = 1; n < 200 && !ok; n++) {
        struct collect c = {0};
        bn_alloc_fail_after(n);
        int rc = store_event_search(st, &q, ev_collect, &c, NULL, NULL);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(c.n, 30);
            ok = 1;
        } else {
            assert_int_equal(rc, BN_ENOMEM);
        }
    }
    assert_true(ok);
    ok = 0;
    for (unsigned long n = 1; n < 200 && !ok; n++) {
        struct metrics_out mo = {0};
        bn_alloc_fail_after(n);
        int rc = store_metrics(st, &s1, 0, 0, 1, metrics_collect, &mo);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(mo.n, 2);
            ok = 1;
        } else {
            assert_int_equal(rc, BN_ENOMEM);
        }
    }
    assert_true(ok);
    ok = 0;
    for (unsigned long n = 1; n < 200 && !ok; n++) {
        int cnt = 0;
        bn_alloc_fail_after(n);
        int rc = store_tenant_list(st, &s1, tenant_count, &cnt);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            assert_int_equal(cnt, 1);
            ok = 1;
        } else {
            assert_int_equal(rc, BN_ENOMEM);
        }
    }
    assert_true(ok);
    ok = 0;
    for (unsigned long n = 1; n < 200 && !ok; n++) {
        struct store_alert got;
        int64_t id = 1;
        bn_alloc_fail_after(n);
        int rc = store_alert_get(st, &s1, id, &got);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            assert_string_equal(got.json, "{\"x\":1}");
            ok = 1;
        } else {
            assert_int_equal(rc, BN_ENOMEM);
        }
    }
    assert_true(ok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_auth_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_incidents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_percentiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triage_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
