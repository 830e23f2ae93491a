/*
 * test_actions.c - response actions on the manager, in-process against a real SQLite store:
 * semi-managed (a critical incident's playbook proposes isolate + kill_tree, nothing is
 * queued before approval, a viewer, an analyst and another tenant's admin cannot approve, the
 * tenant's customer_admin can, the agent's result lands), fully-managed (the same incident is
 * queued with no human), refused requests (unknown host, another tenant's host, bad SHA-256,
 * a path outside policy, a viewer asking, a forbidden type) each with a clear error and an
 * audit entry, expiry with escalation, and an intact audit chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bannin/error.h"
#include "manager/playbook.h"
#include "manager/store.h"

struct env {
    char dir[64];
    struct store *st;
    int64_t ta, tb, agent_a, agent_b, inc_a;
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int64_t
mk_tenant(struct store *st, const char *name, int mode)
{
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.mode = mode;
    t.notify_min_severity = 3;
    t.retention_days = 30;
    t.created_ns = now_ns();
    int64_t id;
    assert_int_equal(store_tenant_create(st, &t, &id), 0);
    return id;
}

static int64_t
mk_agent(struct store *st, int64_t tenant, const char *host)
{
    struct store_agent a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = tenant;
    snprintf(a.uid, sizeof(a.uid), "uid-%s", host);
    snprintf(a.hostname, sizeof(a.hostname), "%s", host);
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-%s", host);
    a.heartbeat_interval_ms = 30000;
    a.enrolled_ns = now_ns();
    int64_t id;
    assert_int_equal(store_agent_create(st, &a, &id), 0);
    return id;
}

static int64_t
mk_incident(struct store *st, int64_t tenant, int sev)
{
    struct store_incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.tenant_id = tenant;
    snprintf(inc.title, sizeof(inc.title), "ransomware on web-1");
    inc.severity = sev;
    snprintf(inc.group_key, sizeof(inc.group_key), "web-1");
    inc.alert_count = 1;
    inc.first_ns = inc.last_ns = inc.created_ns = now_ns();
    inc.notified_severity = 4;
    int64_t id;
    assert_int_equal(store_incident_create(st, &inc, &id), 0);
    return id;
}

static int
setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/bn-actions-test-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    struct store_err err;
    assert_int_equal(store_open(&e->st, e->dir, &err), 0);
    e->ta = mk_tenant(e->st, "acme", STORE_MODE_SEMI);
    e->tb = mk_tenant(e->st, "other", STORE_MODE_SEMI);
    e->agent_a = mk_agent(e->st, e->ta, "web-1");
    e->agent_b = mk_agent(e->st, e->tb, "db-9");
    e->inc_a = mk_incident(e->st, e->ta, 4);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    store_close(e->st);
    nftw(e->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(e);
    return 0;
}

struct rows {
    int n;
    int64_t id[16];
    int state[16];
    char type[16][40];
};

static int
collect(void *ctx, const struct store_action *a)
{
    struct rows *r = ctx;
    if (r->n < 16) {
        r->id[r->n] = a->id;
        r->state[r->n] = a->state;
        snprintf(r->type[r->n], sizeof(r->type[0]), "%s", a->type);
        r->n++;
    }
    return 0;
}

struct audit_find {
    const char *action;
    const char *needle;
    int n;
};

static int
audit_cb(void *ctx, const struct store_audit_entry *a)
{
    struct audit_find *f = ctx;
    if (strcmp(a->action, f->action) == 0 && (!f->needle || strstr(a->detail_json, f->needle)))
        f->n++;
    return 0;
}

static int
audited(struct store *st, const char *action, const char *needle)
{
    struct store_scope all = {.all = 1};
    struct audit_find f = {action, needle, 0};
    assert_int_equal(store_audit_list(st, &all, 0, 1000, audit_cb, &f), 0);
    return f.n;
}

static void
test_semi_managed(void **state)
{
    struct env *e = *state;
    struct playbook_target t = {e->agent_a, 4242};
    int n = 0;
    /* below critical nothing is proposed in semi-managed mode */
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 3, &t, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 2);
    /* proposed once: a second run adds nothing */
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 0);

    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, e->inc_a, -1, 100, collect, &r), 0);
    assert_int_equal(r.n, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(r.state[i], STORE_ACT_PENDING_APPROVAL);
    /* nothing runs before approval: the agent's queue is empty */
    struct rows q = {0};
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 0);

    struct action_err err;
    struct action_actor viewer = {"cv_a", STORE_ROLE_CUSTOMER_VIEWER, e->ta};
    assert_int_equal(actions_decide(e->st, &sa, &viewer, r.id[0], 1, "ok", &err), BN_EDENIED);
    assert_int_equal(err.http, 403);
    assert_non_null(strstr(err.msg, "customer_viewer may not approve"));
    struct action_actor analyst = {"an", STORE_ROLE_ANALYST, 0};
    struct store_scope all = {.all = 1};
    assert_int_equal(actions_decide(e->st, &all, &analyst, r.id[0], 1, "ok", &err), BN_EDENIED);
    struct store_scope sb = {0, &e->tb, 1};
    struct action_actor other_admin = {"ca_b", STORE_ROLE_CUSTOMER_ADMIN, e->tb};
    assert_int_equal(actions_decide(e->st, &sb, &other_admin, r.id[0], 1, "ok", &err),
                     BN_ENOTFOUND);
    assert_int_equal(err.http, 404);
    q.n = 0;
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 0);
    assert_true(audited(e->st, "action.refused", "may not approve") >= 2);

    struct action_actor admin = {"ca_a", STORE_ROLE_CUSTOMER_ADMIN, e->ta};
    for (int i = 0; i < 2; i++)
        assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[i], 1, "contain it", &err), 0);
    /* a second approval is a conflict */
    assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[0], 1, "again", &err), BN_EINVAL);
    assert_int_equal(err.http, 409);
    assert_non_null(strstr(err.msg, "is queued, not pending_approval"));
    assert_int_equal(audited(e->st, "action.approve", "contain it"), 2);

    q.n = 0;
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_action_mark_sent(e->st, q.id[i]), 0);
        const char *res = "{\"ok\":true,\"killed\":[4242]}";
        /* another agent cannot report it */
        assert_int_equal(actions_result(e->st, e->agent_b, q.id[i], 0, res, strlen(res)),
                         BN_ENOTFOUND);
        assert_int_equal(actions_result(e->st, e->agent_a, q.id[i], 0, res, strlen(res)), 0);
        /* a resent RESULT changes nothing */
        assert_int_equal(actions_result(e->st, e->agent_a, q.id[i], 0, "{\"ok\":false}", 12),
                         BN_EEXIST);
    }
    r.n = 0;
    assert_int_equal(store_action_list(e->st, &sa, 0, e->inc_a, -1, 100, collect, &r), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(r.state[i], STORE_ACT_DONE);
    assert_int_equal(audited(e->st, "action.result", "killed"), 2);
    int64_t bad = 0;
    assert_int_equal(store_audit_verify(e->st, &bad), 0);
}

static void
test_fully_managed(void **state)
{
    struct env *e = *state;
    struct store_scope all = {.all = 1};
    struct store_tenant t;
    assert_int_equal(store_tenant_get(e->st, e->ta, &t), 0);
    t.mode = STORE_MODE_FULL;
    assert_int_equal(store_tenant_update(e->st, &all, &t), 0);
    int64_t inc = mk_incident(e->st, e->ta, 4);
    struct playbook_target tg = {e->agent_a, 777};
    int n = 0;
    assert_int_equal(playbook_incident(e->st, e->ta, inc, 4, &tg, 1, &n), 0);
    assert_int_equal(n, 2);
    struct rows q = {0};
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 2); /* queued with no human */
    assert_string_equal(q.type[0], "isolate");
    assert_string_equal(q.type[1], "kill_tree");
    assert_true(audited(e->st, "action.request", "\"state\":\"queued\"") >= 2);

    /* a lower severity threshold in fully-managed mode */
    struct store_response_conf c = {600, 3, 3600};
    assert_int_equal(store_response_conf_set(e->st, e->ta, &c), 0);
    int64_t inc2 = mk_incident(e->st, e->ta, 3);
    tg.pid = 0; /* process unknown: isolate only */
    assert_int_equal(playbook_incident(e->st, e->ta, inc2, 3, &tg, 1, &n), 0);
    assert_int_equal(n, 1);
    /* per-type policy: approval even in fully-managed mode */
    assert_int_equal(store_action_policy_set(e->st, e->ta, "isolate", STORE_POLICY_APPROVAL), 0);
    int64_t inc3 = mk_incident(e->st, e->ta, 4);
    assert_int_equal(playbook_incident(e->st, e->ta, inc3, 4, &tg, 1, &n), 0);
    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, inc3, -1, 100, collect, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.state[0], STORE_ACT_PENDING_APPROVAL);
}

static void
expect_refused(struct env *e, const struct store_scope *sc, const struct action_actor *who,
               int64_t agent, const char *type, const char *params, int want_rc, int want_http,
               const char *why)
{
    struct action_request rq = {agent, 0, type, params, "test", 0};
    int64_t id = -1;
    int st = -1;
    struct action_err err;
    memset(&err, 0, sizeof(err));
    int before = audited(e->st, "action.refused", NULL);
    assert_int_equal(actions_request(e->st, sc, who, &rq, &id, &st, &err), want_rc);
    assert_int_equal(err.http, want_http);
    if (!strstr(err.msg, why))
        fail_msg("error '%s' does not say '%s'", err.msg, why);
    assert_int_equal(id, 0);
    assert_int_equal(audited(e->st, "action.refused", NULL), before + 1);
}

static void
test_bad_requests(void **state)
{
    struct env *e = *state;
    struct store_scope sa = {0, &e->ta, 1};
    struct action_actor admin = {"ca_a", STORE_ROLE_CUSTOMER_ADMIN, e->ta};
    struct action_actor viewer = {"cv_a", STORE_ROLE_CUSTOMER_VIEWER, e->ta};
    expect_refused(e, &sa, &admin, 99999, "kill", "{\"pid\":50}", BN_ENOTFOUND, 404,
                   "unknown host");
    expect_refused(e, &sa, &admin, e->agent_b, "kill", "{\"pid\":50}", BN_ENOTFOUND, 404,
                   "unknown host");
    expect_refused(e, &sa, &admin, e->agent_a, "block_add", "{\"sha256\":\"abc\"}", BN_EINVAL,
                   400, "64 hexadecimal digits");
    expect_refused(e, &sa, &admin, e->agent_a, "quarantine", "{\"path\":\"/etc/passwd\"}",
                   BN_EINVAL, 400, "outside the response path policy");
    expect_refused(e, &sa, &admin, e->agent_a, "quarantine", "{\"path\":\"/tmp/../etc/x\"}",
                   BN_EINVAL, 400, "not a normalised path");
    expect_refused(e, &sa, &admin, e->agent_a, "kill", "{\"pid\":1}", BN_EINVAL, 400, "pid");
    expect_refused(e, &sa, &admin, e->agent_a, "format_disk", "{}", BN_EINVAL, 400,
                   "unknown action type");
    expect_refused(e, &sa, &admin, e->agent_a, "kill", "[1]", BN_EINVAL, 400, "JSON object");
    expect_refused(e, &sa, &viewer, e->agent_a, "kill", "{\"pid\":50}", BN_EDENIED, 403,
                   "may not request");
    assert_int_equal(store_action_policy_set(e->st, e->ta, "forensics", STORE_POLICY_FORBIDDEN),
                     0);
    expect_refused(e, &sa, &admin, e->agent_a, "forensics", "{}", BN_EDENIED, 403, "forbidden");

    /* a good one with a valid hash and path */
    struct action_request rq = {e->agent_a, 0, "quarantine",
                                "{\"path\":\"/home/u/evil.bin\",\"sha256\":\"" 
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}",
                                "suspicious download", 0};
    int64_t id;
    int st;
    struct action_err err;
    assert_int_equal(actions_request(e->st, &sa, &admin, &rq, &id, &st, &err), 0);
    assert_true(id > 0);
    assert_int_equal(st, STORE_ACT_PENDING_APPROVAL);
    int64_t bad = 0;
    assert_int_equal(store_audit_verify(e->st, &bad), 0);
}

static void
test_expiry_escalates(void **state)
{
    struct env *e = *state;
    struct store_response_conf c = {1, 4, 1}; /* 1 s approval timeout and queue expiry */
    assert_int_equal(store_response_conf_set(e->st, e->ta, &c), 0);
    int64_t inc = mk_incident(e->st, e->ta, 4);
    struct playbook_target tg = {e->agent_a, 0};
    int n = 0;
    assert_int_equal(playbook_incident(e->st, e->ta, inc, 4, &tg, 1, &n), 0);
    assert_int_equal(n, 1);
    int64_t expired = 0;
    assert_int_equal(actions_expire(e->st, now_ns(), &expired), 0);
    assert_int_equal(expired, 0);
    assert_int_equal(actions_expire(e->st, now_ns() + 2000000000ll, &expired), 0);
    assert_int_equal(expired, 1);
    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, inc, -1, 100, collect, &r), 0);
    assert_int_equal(r.state[0], STORE_ACT_EXPIRED);
    assert_int_equal(audited(e->st, "action.expire", "waiting for approval"), 1);
    assert_int_equal(audited(e->st, "incident.escalate", NULL), 1);
    struct store_incident got;
    assert_int_equal(store_incident_get(e->st, &sa, inc, &got), 0);
    assert_int_equal(got.notified_severity, -1); /* notified again */
    struct action_err err;
    struct action_actor admin = {"ca_a", STORE_ROLE_CUSTOMER_ADMIN, e->ta};
    assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[0], 1, "late", &err), BN_EINVAL);
    assert_non_null(strstr(err.msg, "expired"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_semi_managed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fully_managed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_escalates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
