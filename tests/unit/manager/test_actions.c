/*
 * test_actions.c - response actions on the manager, in-process against a real SQLite store:
 * semi-managed (a critical incident's playbook proposes isolate + kill_tree + forensics,
 * one "approval needed" message per channel for the batch naming incident, host, actions and
 * the approvers, nothing is queued before approval, a viewer, an analyst and another
 * tenant's admin cannot approve, the tenant's customer_admin can, the agent's result lands),
 * fully-managed (the same incident is
 * queued with no human), refused requests (unknown host, another tenant's host, bad SHA-256,
 * a path outside policy, a viewer asking, a forbidden type) each with a clear error and an
 * audit entry, expiry with escalation, "contain unless someone objects within N" (pending
 * objection, an objection, the window passing), and an intact audit chain.
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

static int64_t
mk_channel(struct store *st, int64_t tenant, const char *name)
{
    struct store_channel ch;
    memset(&ch, 0, sizeof(ch));
    ch.tenant_id = tenant;
    snprintf(ch.name, sizeof(ch.name), "%s", name);
    snprintf(ch.type, sizeof(ch.type), "webhook");
    ch.config_json = "{\"url\":\"http://127.0.0.1:9/hook\"}";
    ch.enabled = 1;
    ch.created_ns = now_ns();
    int64_t id;
    assert_int_equal(store_channel_create(st, &ch, &id), 0);
    return id;
}

static void
mk_user(struct store *st, int64_t tenant, const char *name, int role)
{
    struct store_user u;
    memset(&u, 0, sizeof(u));
    u.tenant_id = tenant;
    snprintf(u.name, sizeof(u.name), "%s", name);
    u.role = role;
    snprintf(u.pwhash, sizeof(u.pwhash), "x");
    u.created_ns = now_ns();
    int64_t id;
    assert_int_equal(store_user_create(st, &u, &id), 0);
}

struct outbox_find {
    const char *kind;
    int n;
    int64_t newest;
    char payload[8192]; /* the newest matching message's */
};

static int
outbox_cb(void *ctx, const struct store_outbox *o)
{
    struct outbox_find *f = ctx;
    char want[64];
    snprintf(want, sizeof(want), "\"kind\":\"%s\"", f->kind);
    if (o->payload && strstr(o->payload, want)) {
        f->n++;
        if (o->id > f->newest) {
            f->newest = o->id;
            snprintf(f->payload, sizeof(f->payload), "%s", o->payload);
        }
    }
    return 0;
}

static int
outbox(struct store *st, const char *kind, char *payload, size_t size)
{
    struct store_scope all = {.all = 1};
    struct outbox_find f = {kind, 0, 0, ""};
    assert_int_equal(store_outbox_list(st, &all, -1, 1000, outbox_cb, &f), 0);
    if (payload)
        snprintf(payload, size, "%s", f.payload);
    return f.n;
}

static void
test_semi_managed(void **state)
{
    struct env *e = *state;
    struct playbook_target t = {e->agent_a, 4242};
    int n = 0;
    int64_t ch = mk_channel(e->st, e->ta, "soc-hook");
    mk_channel(e->st, e->tb, "other-hook");
    mk_user(e->st, e->ta, "ca_a", STORE_ROLE_CUSTOMER_ADMIN);
    mk_user(e->st, e->ta, "cv_a", STORE_ROLE_CUSTOMER_VIEWER);
    mk_user(e->st, e->tb, "ca_b", STORE_ROLE_CUSTOMER_ADMIN);
    mk_user(e->st, 0, "pa", STORE_ROLE_PROVIDER_ADMIN);
    /* below critical nothing is proposed in semi-managed mode */
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 3, &t, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(outbox(e->st, "approval_needed", NULL, 0), 0);
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 3);
    /* one message for the batch on the tenant's one channel, naming what and who */
    char pl[8192];
    assert_int_equal(outbox(e->st, "approval_needed", pl, sizeof(pl)), 1);
    const char *want[] = {"\"incident_id\":", "ransomware on web-1", "\"hosts\":[\"web-1\"]",
                          "\"type\":\"isolate\"", "\"type\":\"kill_tree\"",
                          "\"type\":\"forensics\"", "\"pid\":4242", "\"ca_a\"", "\"pa\"",
                          "customer_admin of acme or a provider_admin", "/approve"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(pl, want[i]))
            fail_msg("approval message lacks '%s': %s", want[i], pl);
    assert_null(strstr(pl, "cv_a")); /* a viewer cannot approve */
    assert_null(strstr(pl, "ca_b")); /* another tenant's admin neither */
    /* the incident's own updates collapse per (channel, incident): never into this one */
    for (int i = 0; i < 2; i++) {
        struct store_outbox upd = {.tenant_id = e->ta,
                                   .channel_id = ch,
                                   .incident_id = e->inc_a,
                                   .payload = "{\"kind\":\"incident\"}",
                                   .state = STORE_OUTBOX_PENDING};
        int64_t oid;
        assert_int_equal(store_outbox_enqueue(e->st, &upd, 1, &oid), 0);
    }
    assert_int_equal(outbox(e->st, "approval_needed", NULL, 0), 1);
    assert_int_equal(outbox(e->st, "incident", NULL, 0), 1);
    /* proposed once: a second run adds nothing and tells nobody again */
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(outbox(e->st, "approval_needed", NULL, 0), 1);

    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, e->inc_a, -1, 100, collect, &r), 0);
    assert_int_equal(r.n, 3);
    for (int i = 0; i < 3; i++)
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
    for (int i = 0; i < 3; i++)
        assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[i], 1, "contain it", &err), 0);
    /* a second approval is a conflict */
    assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[0], 1, "again", &err), BN_EINVAL);
    assert_int_equal(err.http, 409);
    assert_non_null(strstr(err.msg, "is queued, not pending_approval"));
    assert_int_equal(audited(e->st, "action.approve", "contain it"), 3);

    q.n = 0;
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 3);
    for (int i = 0; i < 3; i++) {
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
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.state[i], STORE_ACT_DONE);
    assert_int_equal(audited(e->st, "action.result", "killed"), 3);

    /* a repeat alert (another process) once nothing waits: a new batch, told again */
    t.pid = 5555;
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(outbox(e->st, "approval_needed", pl, sizeof(pl)), 2);
    assert_non_null(strstr(pl, "\"pid\":5555"));
    /* and another while that one still waits: listed with it, not told once more */
    t.pid = 6666;
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &t, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(outbox(e->st, "approval_needed", NULL, 0), 2);
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
    mk_channel(e->st, e->ta, "soc-hook");
    assert_int_equal(playbook_incident(e->st, e->ta, inc, 4, &tg, 1, &n), 0);
    assert_int_equal(n, 3);
    struct rows q = {0};
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 3); /* queued with no human */
    assert_string_equal(q.type[0], "isolate");
    assert_string_equal(q.type[1], "kill_tree");
    assert_string_equal(q.type[2], "forensics");
    assert_true(audited(e->st, "action.request", "\"state\":\"queued\"") >= 3);
    assert_int_equal(outbox(e->st, "approval_needed", NULL, 0), 0); /* nobody to ask */

    /* a lower severity threshold in fully-managed mode */
    struct store_response_conf c = {600, 3, 3600};
    assert_int_equal(store_response_conf_set(e->st, e->ta, &c), 0);
    int64_t inc2 = mk_incident(e->st, e->ta, 3);
    tg.pid = 0; /* process unknown: isolate and forensics */
    assert_int_equal(playbook_incident(e->st, e->ta, inc2, 3, &tg, 1, &n), 0);
    assert_int_equal(n, 2);
    /* per-type policy: approval even in fully-managed mode */
    assert_int_equal(store_action_policy_set(e->st, e->ta, "isolate", STORE_POLICY_APPROVAL), 0);
    int64_t inc3 = mk_incident(e->st, e->ta, 4);
    assert_int_equal(playbook_incident(e->st, e->ta, inc3, 4, &tg, 1, &n), 0);
    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, inc3, -1, 100, collect, &r), 0);
    assert_int_equal(r.n, 2); /* newest first: forensics queued, isolate waiting */
    assert_string_equal(r.type[1], "isolate");
    assert_int_equal(r.state[1], STORE_ACT_PENDING_APPROVAL);
    assert_int_equal(r.state[0], STORE_ACT_QUEUED);
    char pl[8192];
    assert_int_equal(outbox(e->st, "approval_needed", pl, sizeof(pl)), 1);
    assert_non_null(strstr(pl, "\"type\":\"isolate\""));
    assert_null(strstr(pl, "\"type\":\"forensics\"")); /* queued: no approval needed */
}

static void
test_objection_window(void **state)
{
    struct env *e = *state;
    struct store_scope all = {.all = 1};
    struct store_tenant t;
    assert_int_equal(store_tenant_get(e->st, e->ta, &t), 0);
    t.mode = STORE_MODE_FULL;
    assert_int_equal(store_tenant_update(e->st, &all, &t), 0);
    struct store_response_conf c;
    assert_int_equal(store_response_conf_get(e->st, e->ta, &c), 0);
    assert_int_equal(c.objection_window_s, 0);
    c.objection_window_s = 90000; /* over a day: refused */
    assert_int_equal(store_response_conf_set(e->st, e->ta, &c), BN_EINVAL);
    c.objection_window_s = 60;
    assert_int_equal(store_response_conf_set(e->st, e->ta, &c), 0);
    mk_channel(e->st, e->ta, "soc-hook");
    mk_user(e->st, e->ta, "ca_a", STORE_ROLE_CUSTOMER_ADMIN);

    int64_t t0 = now_ns();
    struct playbook_target tg = {e->agent_a, 4242};
    int n = 0;
    assert_int_equal(playbook_incident(e->st, e->ta, e->inc_a, 4, &tg, 1, &n), 0);
    assert_int_equal(n, 3);
    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, e->inc_a, -1, 100, collect, &r), 0);
    assert_int_equal(r.n, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.state[i], STORE_ACT_PENDING_OBJECTION);
    /* nothing runs inside the window */
    struct rows q = {0};
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 0);
    int64_t nexp = 0;
    assert_int_equal(actions_expire(e->st, t0 + 30 * 1000000000ll, &nexp), 0);
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 0);
    char pl[8192];
    assert_int_equal(outbox(e->st, "objection_window", pl, sizeof(pl)), 1);
    assert_non_null(strstr(pl, "runs unless someone objects"));
    assert_non_null(strstr(pl, "\"runs_at\""));
    assert_non_null(strstr(pl, "/reject"));
    assert_non_null(strstr(pl, "\"ca_a\""));

    /* a viewer may not object; the customer_admin objects to the isolation */
    int iso = strcmp(r.type[0], "isolate") == 0 ? 0 : strcmp(r.type[1], "isolate") == 0 ? 1 : 2;
    struct action_err err;
    struct action_actor viewer = {"cv_a", STORE_ROLE_CUSTOMER_VIEWER, e->ta};
    assert_int_equal(actions_decide(e->st, &sa, &viewer, r.id[iso], 0, "no", &err), BN_EDENIED);
    struct action_actor admin = {"ca_a", STORE_ROLE_CUSTOMER_ADMIN, e->ta};
    assert_int_equal(
        actions_decide(e->st, &sa, &admin, r.id[iso], 0, "that server must stay online", &err), 0);
    assert_int_equal(audited(e->st, "action.object", "must stay online"), 1);

    /* the window passes: the others run, the objected one never does */
    assert_int_equal(actions_expire(e->st, t0 + 61 * 1000000000ll, &nexp), 0);
    q.n = 0;
    assert_int_equal(store_action_queued(e->st, e->agent_a, 100, collect, &q), 0);
    assert_int_equal(q.n, 2);
    for (int i = 0; i < 2; i++)
        assert_string_not_equal(q.type[i], "isolate");
    assert_int_equal(audited(e->st, "action.objection_window_passed", NULL), 2);
    r.n = 0;
    assert_int_equal(store_action_list(e->st, &sa, 0, e->inc_a, -1, 100, collect, &r), 0);
    assert_int_equal(r.state[iso], STORE_ACT_REJECTED);
    /* an objection after the window is a conflict */
    int other = iso == 0 ? 1 : 0;
    assert_int_equal(actions_decide(e->st, &sa, &admin, r.id[other], 0, "late", &err), BN_EINVAL);
    assert_int_equal(err.http, 409);
    int64_t bad = 0;
    assert_int_equal(store_audit_verify(e->st, &bad), 0);
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
    assert_int_equal(n, 2); /* isolate and forensics (no pid: no kill_tree) */
    int64_t expired = 0;
    assert_int_equal(actions_expire(e->st, now_ns(), &expired), 0);
    assert_int_equal(expired, 0);
    assert_int_equal(actions_expire(e->st, now_ns() + 2000000000ll, &expired), 0);
    assert_int_equal(expired, 2);
    struct store_scope sa = {0, &e->ta, 1};
    struct rows r = {0};
    assert_int_equal(store_action_list(e->st, &sa, 0, inc, -1, 100, collect, &r), 0);
    assert_int_equal(r.state[0], STORE_ACT_EXPIRED);
    assert_int_equal(audited(e->st, "action.expire", "waiting for approval"), 2);
    assert_int_equal(audited(e->st, "incident.escalate", NULL), 1); /* once for the incident */
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
        cmocka_unit_test_setup_teardown(test_objection_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_escalates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
