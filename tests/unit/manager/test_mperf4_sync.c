/*
 * test_mperf4_sync.c - the sync pipeline (docs/MANAGER.md, "Guarantees"): a deferred
 * transaction commits without waiting for the disk and store_wal_sync makes it durable; the
 * ingest counts a batch's receipt -> durable (and receipt -> alert) latency only once its sync
 * is reported; the link over a synchronous=FULL store acknowledges every batch after the sync
 * thread's fdatasync (pipeline, the default) or after an inline commit (sync_inline), stores
 * each event once, and commits a group early once its oldest batch is group_ms old.
 */
#include <pthread.h>
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

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/wire.h"
#include "manager/enroll.h"
#include "manager/ingest.h"
#include "manager/link.h"
#include "manager/store.h"

static void
tmpdir(char *dir, size_t size)
{
    snprintf(dir, size, "/tmp/bn-test-mperf4-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void
rmdir_r(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static struct store *
open_full(const char *dir, int sync_full)
{
    struct store_opts o;
    memset(&o, 0, sizeof(o));
    o.sync_full = sync_full;
    struct store *st = NULL;
    struct store_err se;
    int rc = store_open_ex(&st, dir, &o, &se);
    if (rc)
        fail_msg("store_open_ex: %s", se.msg);
    return st;
}

static int64_t
tenant_agent(struct store *st, int64_t *agent)
{
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "acme");
    int64_t tid = 0;
    assert_int_equal(store_tenant_create(st, &t, &tid), 0);
    struct store_agent a;
    memset(&a, 0, sizeof(a));
    a.tenant_id = tid;
    snprintf(a.uid, sizeof(a.uid), "agent-1");
    snprintf(a.hostname, sizeof(a.hostname), "host-a");
    snprintf(a.cert_fp, sizeof(a.cert_fp), "fp-1");
    assert_int_equal(store_agent_create(st, &a, agent), 0);
    return tid;
}

static void
put_events(struct store *st, int64_t tenant, int64_t agent, int64_t first, size_t n)
{
    struct store_event ev[16];
    char json[16][96];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) {
        memset(&ev[i], 0, sizeof(ev[i]));
        ev[i].tenant_id = tenant;
        ev[i].agent_id = agent;
        ev[i].seq = first + (int64_t)i;
        ev[i].ts_ns = ev[i].received_ns = 1795000000000000000ll + ev[i].seq;
        ev[i].host = "host-a";
        int k =
            snprintf(json[i], sizeof(json[i]), "{\"EventID\":1,\"n\":%lld}", (long long)ev[i].seq);
        ev[i].json = json[i];
        ev[i].json_len = (size_t)k;
    }
    size_t ins = 0, dups = 0;
    assert_int_equal(store_events_insert(st, ev, n, &ins, &dups), 0);
    assert_int_equal(ins, n);
}

/* ---- the store ------------------------------------------------------------------------- */

static void
test_store_deferred(void **state)
{
    (void)state;
    char dir[64];
    tmpdir(dir, sizeof(dir));
    struct store *st = open_full(dir, 1), *st2 = open_full(dir, 1);
    assert_true(store_needs_sync(st));
    int64_t agent = 0, tenant = tenant_agent(st, &agent);

    /* committed deferred, synced, seen by another handle */
    assert_int_equal(store_begin_deferred(st), 0);
    assert_int_equal(store_begin_deferred(st), BN_EINVAL); /* one transaction at a time */
    put_events(st, tenant, agent, 1, 10);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_wal_sync(st), 0);
    assert_int_equal(store_events_count(st2, tenant), 10);

    /* rolled back: nothing kept, and an ordinary transaction works after it */
    assert_int_equal(store_begin_deferred(st), 0);
    put_events(st, tenant, agent, 11, 5);
    assert_int_equal(store_rollback(st), 0);
    assert_int_equal(store_events_count(st2, tenant), 10);
    assert_int_equal(store_begin(st), 0);
    put_events(st, tenant, agent, 11, 5);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_events_count(st2, tenant), 15);
    assert_int_equal(store_wal_sync(st2), 0); /* nothing deferred on st2: nothing to do */
    assert_int_equal(store_check(st2, NULL), 0);
    store_close(st);
    store_close(st2);

    /* synchronous=NORMAL chosen: nothing to sync */
    st = open_full(dir, 0);
    assert_false(store_needs_sync(st));
    assert_int_equal(store_begin_deferred(st), 0);
    put_events(st, tenant, agent, 16, 1);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_wal_sync(st), 0);
    assert_int_equal(store_events_count(st, tenant), 16);
    store_close(st);
    rmdir_r(dir);
}

/* ---- the ingest ------------------------------------------------------------------------ */

struct alerts_seen {
    uint64_t alerts;
};

/* a batch whose events mention "alert" raises one alert per such event */
static void
on_stored(void *ctx, const struct ingest_agent *a, const struct store_event *ev, size_t n)
{
    struct alerts_seen *s = ctx;
    for (size_t i = 0; i < n; i++)
        if (memmem(ev[i].json, ev[i].json_len, "alert", 5))
            s->alerts++;
}

static uint64_t
alerts_raised(void *ctx)
{
    return ((struct alerts_seen *)ctx)->alerts;
}

static void
batch(struct ingest *in, const struct ingest_agent *a, int64_t *last, uint64_t first, size_t n,
      bool alert, int64_t rx_ns)
{
    struct bn_wire_event ev[8];
    char json[8][64];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(json[i], sizeof(json[i]), "{\"EventID\":1,\"what\":\"%s\"}",
                         alert && i == 0 ? "alert" : "fine");
        ev[i].seq = first + i;
        ev[i].data = json[i];
        ev[i].len = (size_t)k;
    }
    struct bn_wire_ack ack;
    assert_int_equal(ingest_batch(in, a, last, ev, n, rx_ns, &ack), 0);
    assert_int_equal(ack.inserted, n);
}

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
test_ingest_deferred_latency(void **state)
{
    (void)state;
    char dir[64];
    tmpdir(dir, sizeof(dir));
    struct store *st = open_full(dir, 1);
    int64_t agent = 0, tenant = tenant_agent(st, &agent);
    struct ingest_agent a = {agent, tenant, "agent-1", "host-a"};
    struct alerts_seen seen = {0};
    struct ingest_hooks h;
    memset(&h, 0, sizeof(h));
    h.ctx = &seen;
    h.on_batch_stored = on_stored;
    h.alerts_raised = alerts_raised;
    struct ingest *in;
    assert_int_equal(ingest_new(&in, st, &h), 0);
    ingest_set_deferred(in, true);
    assert_true(ingest_deferred(in));
    int64_t last = 0;

    /* a group of two batches (one raising an alert), received 30 ms ago */
    int64_t rx = wall_ns() - 30 * 1000000ll;
    assert_int_equal(ingest_group_first_ns(in), 0);
    batch(in, &a, &last, 1, 4, false, rx);
    assert_true(ingest_group_first_ns(in) == rx);
    batch(in, &a, &last, 5, 4, true, rx + 1000000);
    assert_int_equal(ingest_commit(in), 0);
    uint64_t g1 = ingest_commit_gen(in);
    assert_int_equal(g1, 1);
    /* committed but not yet reported durable: not counted */
    struct ingest_counters c;
    ingest_counters(in, &c);
    assert_int_equal(c.lat_batches, 0);
    assert_int_equal(c.inserted, 8);

    /* a second group, then only the first reported durable */
    batch(in, &a, &last, 9, 2, false, wall_ns());
    assert_int_equal(ingest_commit(in), 0);
    uint64_t g2 = ingest_commit_gen(in);
    assert_int_equal(g2, 2);
    assert_int_equal(store_wal_sync(st), 0);
    ingest_durable(in, g1, true);
    ingest_counters(in, &c);
    assert_int_equal(c.lat_batches, 2);
    assert_true(c.lat_p99_ms >= 29);
    assert_int_equal(c.alert_batches, 1);
    assert_true(c.alert_p50_ms >= 28);
    /* a failed sync: the second group is not counted (never acknowledged) */
    ingest_durable(in, g2, false);
    ingest_counters(in, &c);
    assert_int_equal(c.lat_batches, 2);
    assert_int_equal(last, 10);
    ingest_free(in);
    store_close(st);

    /* a synchronous=NORMAL store: not deferred, counted at the commit */
    st = open_full(dir, 0);
    assert_int_equal(ingest_new(&in, st, &h), 0);
    ingest_set_deferred(in, true);
    assert_false(ingest_deferred(in));
    batch(in, &a, &last, 11, 3, true, wall_ns());
    assert_int_equal(ingest_commit(in), 0);
    ingest_counters(in, &c);
    assert_int_equal(c.lat_batches, 1);
    assert_int_equal(c.alert_batches, 1);
    ingest_free(in);
    assert_int_equal(store_events_count(st, tenant), 13);
    store_close(st);
    rmdir_r(dir);
}

/* ---- the link ---------------------------------------------------------------------------- */

static void *
run_link(void *arg)
{
    link_run(arg);
    return NULL;
}

static int
send_batch(struct bn_wire_conn *c, const uint8_t *nonce, const uint8_t *sk, uint64_t first,
           uint64_t last, struct bn_wire_ack *ack)
{
    struct bn_wire_packer *p;
    assert_int_equal(bn_wire_packer_new(&p, 1), 0);
    char ev[256];
    for (uint64_t s = first; s <= last; s++) {
        int n = snprintf(ev, sizeof(ev),
                         "{\"EventID\":1,\"UtcTime\":\"2026-11-26 00:00:00.000\","
                         "\"Computer\":\"host-a\",\"Image\":\"/usr/bin/id\",\"n\":%llu}",
                         (unsigned long long)s);
        assert_int_equal(bn_wire_packer_add(p, s, ev, (size_t)n), 0);
    }
    struct bn_buf b;
    bn_buf_init(&b, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    assert_int_equal(bn_wire_packer_seal(p, nonce, sk, &b), 0);
    assert_int_equal(bn_wire_send(c, b.p, b.len), 0);
    bn_buf_release(&b);
    bn_wire_packer_free(p);
    int type;
    const uint8_t *pl;
    uint32_t len;
    struct bn_wire_err e;
    int rc = bn_wire_recv(c, 10000, &type, &pl, &len, &e);
    if (rc)
        return rc;
    if (type == BN_WIRE_ACK)
        assert_int_equal(bn_wire_ack_decode(pl, len, ack, &e), 0);
    return type;
}

/* Two agents send 25 batches of 40 events each over a FULL store; every batch is acknowledged
 * with the right range, every event stored once, and every batch's latency counted. */
static void
run_link_case(bool sync_inline, int64_t group_ms)
{
    char dir[64], adir[2][128];
    tmpdir(dir, sizeof(dir));
    struct store *st = open_full(dir, 1), *st2 = open_full(dir, 1);
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "acme");
    int64_t tenant = 0;
    assert_int_equal(store_tenant_create(st2, &t, &tenant), 0);
    struct bn_diag d;
    bn_diag_clear(&d);
    struct enroll *en;
    assert_int_equal(enroll_open(&en, dir, &d), 0);
    struct ingest_hooks h;
    memset(&h, 0, sizeof(h));
    struct link_opts o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.housekeeping_ms = 100;
    o.sync_inline = sync_inline;
    o.group_ms = group_ms;
    struct link *l;
    assert_int_equal(link_new(&l, &o, st, en, &h, &d), 0);
    char server[64];
    snprintf(server, sizeof(server), "127.0.0.1:%d", link_port(l));
    pthread_t thr;
    assert_int_equal(pthread_create(&thr, NULL, run_link, l), 0);

    struct bn_wire_ident id[2];
    struct bn_wire_conn *c[2];
    uint8_t nonce[2][BN_WIRE_NONCE];
    for (int k = 0; k < 2; k++) {
        char tok[ENROLL_TOKEN_MAX], err[512] = "";
        int64_t tid;
        assert_int_equal(enroll_token_new(en, st2, tenant, 1, 0, "test", tok, sizeof(tok), &tid),
                         0);
        snprintf(adir[k], sizeof(adir[k]), "%s/agent-%d", dir, k);
        if (bn_wire_enroll_run(server, tok, adir[k], "host-a", 60000, 5000, &id[k], err,
                               sizeof(err)))
            fail_msg("enrolment failed: %s", err);
        struct bn_wire_hello hello = {{"host-a", 6}, {"test", 4}, 60000, 0, 0};
        uint64_t last = 0;
        if (bn_wire_session_open(&c[k], &id[k], server, &hello, 5000, nonce[k], &last, err,
                                 sizeof(err)))
            fail_msg("session failed: %s", err);
    }
    for (uint64_t b = 0; b < 25; b++)
        for (int k = 0; k < 2; k++) {
            struct bn_wire_ack ack;
            assert_int_equal(send_batch(c[k], nonce[k], id[k].sk, b * 40 + 1, b * 40 + 40, &ack),
                             BN_WIRE_ACK);
            assert_int_equal(ack.first_seq, b * 40 + 1);
            assert_int_equal(ack.last_seq, b * 40 + 40);
            assert_int_equal(ack.inserted, 40);
            /* acknowledged = committed: the other handle sees it */
            struct store_agent a;
            assert_int_equal(store_agent_get(st2, id[k].agent_id, &a), 0);
            assert_true(a.last_seq >= (int64_t)(b * 40 + 40));
        }
    for (int k = 0; k < 2; k++)
        bn_wire_close(c[k]);
    link_stop(l);
    pthread_join(thr, NULL);
    struct link_counters lc;
    link_counters(l, &lc);
    assert_int_equal(lc.ingest.inserted, 2000);
    assert_int_equal(lc.acks, 50);
    assert_int_equal(lc.ingest.lat_batches, 50);
    assert_int_equal(store_events_count(st2, tenant), 2000);
    assert_int_equal(store_check(st2, NULL), 0);
    link_free(l);
    enroll_free(en);
    store_close(st);
    store_close(st2);
    rmdir_r(dir);
}

static void
test_link_pipeline(void **state)
{
    (void)state;
    run_link_case(false, 0);
}

static void
test_link_pipeline_group_1ms(void **state)
{
    (void)state;
    run_link_case(false, 1);
}

static void
test_link_inline(void **state)
{
    (void)state;
    run_link_case(true, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_deferred), cmocka_unit_test(test_ingest_deferred_latency),
        cmocka_unit_test(test_link_pipeline),  cmocka_unit_test(test_link_pipeline_group_1ms),
        cmocka_unit_test(test_link_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
