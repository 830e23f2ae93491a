/*
 * test_triage_flow.c - triage over the real SQLite store: repeats of one alert fold into one
 * alert with a count; alerts of one host group into one incident whose severity rises with
 * ATT&CK progression; process-tree relation groups an alert without a host; a new host opens
 * a new incident; a suppression created from an alert (audited) drops later matches only;
 * a notification is enqueued once per incident when it reaches the tenant's threshold, later
 * updates collapse into the pending message, and the outbox worker delivers exactly one
 * webhook per incident to a real HTTP listener.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "notify_peers.h"

#include "bannin/error.h"
#include "manager/notify.h"
#include "manager/store.h"
#include "manager/triage.h"

struct fx {
    char dir[64];
    struct store *st;
    int64_t tenant, agent, chan;
    struct http_peer peer;
};

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/bn-triage-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    struct store_err e;
    if (store_open(&f->st, f->dir, &e) != 0) {
        fprintf(stderr, "store_open: %s\n", e.msg);
        return -1;
    }
    struct store_tenant t = {.notify_min_severity = 3};
    snprintf(t.name, sizeof(t.name), "acme");
    if (store_tenant_create(f->st, &t, &f->tenant) != 0)
        return -1;
    struct store_agent a = {.tenant_id = f->tenant, .asset_criticality = 1};
    snprintf(a.uid, sizeof(a.uid), "agent-1");
    snprintf(a.hostname, sizeof(a.hostname), "web-1");
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-1");
    if (store_agent_create(f->st, &a, &f->agent) != 0)
        return -1;
    if (http_peer_start(&f->peer, 0, 200) != 0)
        return -1;
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "{\"url\":\"http://127.0.0.1:%d/hook\"}", f->peer.port);
    struct store_channel c = {.tenant_id = f->tenant, .config_json = cfg, .enabled = 1};
    snprintf(c.name, sizeof(c.name), "soc-webhook");
    snprintf(c.type, sizeof(c.type), "webhook");
    if (store_channel_create(f->st, &c, &f->chan) != 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    http_peer_stop(&f->peer);
    http_peer_free(&f->peer);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    (void)!system(cmd);
    free(f);
    return 0;
}

static struct triage_alert_in
alert(struct fx *f, const char *rule, int level, const char *tags, const char *host,
      const char *key)
{
    static struct triage_field fields[2];
    fields[0] = (struct triage_field){"Image", key, 5, strlen(key)};
    fields[1] = (struct triage_field){"User", "alice", 4, 5};
    return (struct triage_alert_in){
        .tenant_id = f->tenant,
        .agent_id = f->agent,
        .seq = 1,
        .rule_id = rule,
        .rule_title = rule,
        .level = level,
        .tags = tags,
        .host = host,
        .user = "alice",
        .key = key,
        .source = "central",
        .fields = fields,
        .nfields = 2,
        .json = "{\"source\":\"central\",\"event\":{\"Image\":\"/usr/bin/bash\","
                "\"User\":\"alice\",\"trigger\":{\"TargetFilename\":\"/tmp/x\"}}}",
    };
}

struct outbox_seen {
    int n;
    int approvals; /* the playbook's "approval needed" messages (not incident notifications) */
    int64_t incident;
    char payload[4096];
    int state;
    int attempts;
};

static int
on_outbox(void *ctx, const struct store_outbox *o)
{
    struct outbox_seen *s = ctx;
    if (o->payload && strstr(o->payload, "\"kind\":\"approval_needed\"")) {
        s->approvals++;
        return 0;
    }
    s->n++;
    s->incident = o->incident_id;
    s->state = o->state;
    s->attempts = o->attempts;
    snprintf(s->payload, sizeof(s->payload), "%s", o->payload ? o->payload : "");
    return 0;
}

static void
test_flow(void **state)
{
    struct fx *f = *state;
    struct triage_opts o = {.own_transactions = 1};
    struct triage *t = triage_new(f->st, &o);
    assert_non_null(t);
    int64_t now = now_ns();
    struct triage_result r1, r2, r3, r4, r5, r6;

    /* medium execution alert: a new incident below the threshold (3): no notification */
    struct triage_alert_in a = alert(f, "r-exec", 2, "attack.execution,attack.t1059.004",
                                     "web-1", "/usr/bin/bash");
    a.process_guid = "{proc-1}";
    assert_int_equal(triage_alert(t, &a, now, &r1), 0);
    assert_int_equal(r1.merged, 0);
    assert_int_equal(r1.incident_new, 1);
    assert_int_equal(r1.severity, 2);
    assert_int_equal(r1.enqueued, 0);
    assert_true(r1.score > 0);

    /* the same alert again: merged, count 2, same incident */
    assert_int_equal(triage_alert(t, &a, now + 1000, &r2), 0);
    assert_int_equal(r2.merged, 1);
    assert_int_equal(r2.alert_id, r1.alert_id);
    assert_int_equal(r2.incident_id, r1.incident_id);
    struct store_scope all = {.all = 1};
    struct store_alert sa;
    assert_int_equal(store_alert_get(f->st, &all, r1.alert_id, &sa), 0);
    assert_int_equal(sa.count, 2);
    assert_int_equal(sa.incident_id, r1.incident_id);
    assert_string_equal(sa.tactics, "execution");
    assert_string_equal(sa.techniques, "T1059.004");

    /* a C2 alert on the same host: same incident, execution -> C2 progression raises the
     * severity to the threshold: one notification enqueued */
    struct triage_alert_in b = alert(f, "r-c2", 2, "attack.command_and_control", "web-1",
                                     "/usr/bin/curl");
    assert_int_equal(triage_alert(t, &b, now + 2000, &r3), 0);
    assert_int_equal(r3.merged, 0);
    assert_int_equal(r3.incident_new, 0);
    assert_int_equal(r3.incident_id, r1.incident_id);
    assert_int_equal(r3.severity, 3);
    assert_int_equal(r3.enqueued, 1);
    struct store_incident inc;
    assert_int_equal(store_incident_get(f->st, &all, r1.incident_id, &inc), 0);
    assert_int_equal(inc.alert_count, 2);
    assert_string_equal(inc.tactics, "execution,command_and_control");
    assert_int_equal(inc.notified_severity, 3);
    assert_string_equal(inc.group_key, "host:web-1");

    /* an alert without a host, child of proc-1: joins through the process tree; the pending
     * message is updated in place (collapse), not duplicated */
    struct triage_alert_in c = alert(f, "r-disc", 1, "attack.discovery", "", "/usr/bin/id");
    c.user = "root";
    c.parent_guid = "{proc-1}";
    assert_int_equal(triage_alert(t, &c, now + 3000, &r4), 0);
    assert_int_equal(r4.incident_id, r1.incident_id);
    assert_int_equal(r4.severity, 4); /* three tactics and progression */
    assert_int_equal(r4.enqueued, 1);
    struct store_scope sc = {.ids = &f->tenant, .n = 1};
    struct outbox_seen ob = {0};
    assert_int_equal(store_outbox_list(f->st, &sc, STORE_OUTBOX_PENDING, 100, on_outbox, &ob),
                     0);
    assert_int_equal(ob.n, 1);
    assert_int_equal(ob.incident, r1.incident_id);
    /* critical on a host with an agent: the playbook's proposals wait for approval, told once */
    assert_int_equal(ob.approvals, 1);
    assert_non_null(strstr(ob.payload, "\"alert_count\":3"));
    assert_non_null(strstr(ob.payload, "\"severity\":\"critical\""));

    /* another host, another user: another incident (high: notified on its own) */
    struct triage_alert_in d = alert(f, "r-exec", 3, "attack.execution", "db-1", "/bin/sh");
    d.user = "carol";
    assert_int_equal(triage_alert(t, &d, now + 4000, &r5), 0);
    assert_int_equal(r5.incident_new, 1);
    assert_true(r5.incident_id != r1.incident_id);
    assert_int_equal(r5.enqueued, 1);
    /* alice (of the first incident) on a third host: the same campaign, the same incident;
     * root on a fourth host is nobody in particular: a new one */
    struct triage_result ru;
    struct triage_alert_in u = alert(f, "r-lat", 2, "attack.lateral_movement", "app-3", "/x");
    assert_int_equal(triage_alert(t, &u, now + 4100, &ru), 0);
    assert_int_equal(ru.incident_id, r1.incident_id);
    u.user = "root";
    u.host = "app-4";
    assert_int_equal(triage_alert(t, &u, now + 4200, &ru), 0);
    assert_int_equal(ru.incident_new, 1);

    /* suppression from the first alert, scoped to its host and Image: audited */
    int64_t sid;
    char err[256];
    const char *fields[] = {"Image"};
    assert_int_equal(triage_suppress_from_alert(f->st, &sc, r1.alert_id, fields, 1, 1, 0, "",
                                                "bob", now, &sid, err, sizeof(err)),
                     BN_EINVAL);
    assert_non_null(strstr(err, "reason"));
    const char *nofield[] = {"NoSuchField"};
    assert_int_equal(triage_suppress_from_alert(f->st, &sc, r1.alert_id, nofield, 1, 1, 0,
                                                "backup job", "bob", now, &sid, err,
                                                sizeof(err)),
                     BN_EINVAL);
    assert_non_null(strstr(err, "NoSuchField"));
    int64_t other = f->tenant + 100;
    struct store_scope wrong = {.ids = &other, .n = 1};
    assert_int_equal(triage_suppress_from_alert(f->st, &wrong, r1.alert_id, fields, 1, 1, 0,
                                                "backup job", "bob", now, &sid, err,
                                                sizeof(err)),
                     BN_ENOTFOUND);
    assert_int_equal(triage_suppress_from_alert(f->st, &sc, r1.alert_id, fields, 1, 1,
                                                now + 3600000000000LL, "backup job", "bob", now,
                                                &sid, err, sizeof(err)),
                     0);
    assert_true(sid > 0);
    int64_t bad = -1;
    assert_int_equal(store_audit_verify(f->st, &bad), 0);

    /* the fields come from the alert's event: Image is /usr/bin/bash there */
    a.fields = (struct triage_field[]){{"Image", "/usr/bin/bash", 5, 13}};
    a.nfields = 1;
    assert_int_equal(triage_alert(t, &a, now + 5000, &r6), 0);
    assert_int_equal(r6.suppressed, 1);
    assert_int_equal(r6.suppression_id, sid);
    a.fields = (struct triage_field[]){{"Image", "/usr/bin/zsh", 5, 12}};
    assert_int_equal(triage_alert(t, &a, now + 6000, &r6), 0);
    assert_int_equal(r6.suppressed, 0);
    a.fields = (struct triage_field[]){{"Image", "/usr/bin/bash", 5, 13}};
    a.host = "web-9";
    assert_int_equal(triage_alert(t, &a, now + 7000, &r6), 0);
    assert_int_equal(r6.suppressed, 0);

    struct triage_stats ts;
    triage_get_stats(t, &ts);
    assert_int_equal(ts.alerts, 10);
    assert_int_equal(ts.suppressed, 1);
    assert_int_equal(ts.merged, 2);
    /* the web-9 alert carries process {proc-1}: it joined the first incident */
    assert_int_equal(ts.incidents, 3);
    assert_int_equal(ts.errors, 0);
    triage_free(t);

    /* the worker: exactly one webhook per notified incident (and the approval request) */
    struct notify *n;
    struct notify_opts no = {.data_dir = f->dir, .poll_ns = 20000000};
    assert_int_equal(notify_start(&n, &no), 0);
    notify_kick(n);
    for (int i = 0; i < 500 && http_peer_count(&f->peer) < 3; i++)
        usleep(10000);
    usleep(200000); /* nothing more may come */
    notify_stop(n);
    assert_int_equal(http_peer_count(&f->peer), 3);
    int crit = -1, appr = 0;
    for (int i = 0; i < 3; i++) {
        if (strstr(f->peer.reqs[i].body, "\"kind\":\"approval_needed\""))
            appr++;
        else if (strstr(f->peer.reqs[i].body, "\"severity\":\"critical\""))
            crit = i;
    }
    assert_int_equal(appr, 1);
    assert_true(crit >= 0);
    /* the pending message took every update: app-3 and web-9 made it five */
    assert_non_null(strstr(f->peer.reqs[crit].body, "\"alert_count\":5"));
    assert_non_null(strstr(f->peer.reqs[crit].body, "\"tenant\":\"acme\""));
    assert_non_null(strstr(f->peer.reqs[crit].body, "\"hosts\":[\"web-1\",\"app-3\",\"web-9\"]"));
    memset(&ob, 0, sizeof(ob));
    assert_int_equal(store_outbox_list(f->st, &sc, STORE_OUTBOX_SENT, 100, on_outbox, &ob), 0);
    assert_int_equal(ob.n, 2);
    assert_int_equal(ob.approvals, 1);

    /* a new alert in the notified incident does not notify again */
    struct triage *t2 = triage_new(f->st, &o);
    struct triage_alert_in e2 = alert(f, "r-imp", 4, "attack.impact", "web-1", "/usr/bin/rm");
    assert_int_equal(triage_alert(t2, &e2, now + 8000, &r6), 0);
    assert_int_equal(r6.incident_id, r1.incident_id);
    assert_int_equal(r6.enqueued, 0);
    triage_free(t2);
}

static void
test_send_test(void **state)
{
    struct fx *f = *state;
    struct store_scope sc = {.ids = &f->tenant, .n = 1};
    char err[256];
    int before = http_peer_count(&f->peer);
    assert_int_equal(notify_send_test(f->st, &sc, f->chan, now_ns(), err, sizeof(err)), 0);
    assert_int_equal(http_peer_count(&f->peer), before + 1);
    assert_non_null(strstr(f->peer.reqs[before].body, "\"kind\":\"test\""));
    int64_t other = f->tenant + 1;
    struct store_scope wrong = {.ids = &other, .n = 1};
    assert_int_equal(notify_send_test(f->st, &wrong, f->chan, now_ns(), err, sizeof(err)),
                     BN_ENOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_test, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
