/*
 * test_link.c - the agent link in-process: a real link (TLS 1.3 server on 127.0.0.1, SQLite
 * store in a temporary directory) and the real agent-side client (libbannin's wire client).
 * Enrolment, batches acknowledged after commit and found in the store, duplicates dropped,
 * a replay, a gap and a bad signature counted and handed to the health hook, a client
 * certificate from another manager refused, a revoked agent disconnected and refused, bad
 * tokens refused, malformed frames refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "manager/enroll.h"
#include "manager/ingest.h"
#include "manager/link.h"
#include "manager/store.h"

struct hooks_seen {
    pthread_mutex_t mu;
    uint64_t stored;
    uint64_t health[INGEST_HEALTH_BACK + 1];
    char last_detail[512];
};

struct fixture {
    char dir[64];
    char agent_dir[128];
    struct store *st;  /* the link's */
    struct store *st2; /* the test's own handle */
    struct enroll *en;
    struct link *link;
    pthread_t thr;
    char server[64];
    int64_t tenant;
    struct hooks_seen seen;
};

static void
on_batch_stored(void *ctx, const struct ingest_agent *a, const struct store_event *ev, size_t n)
{
    struct hooks_seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->stored += n;
    pthread_mutex_unlock(&s->mu);
}

static void
on_health(void *ctx, const struct ingest_agent *a, enum ingest_health kind, const char *detail)
{
    struct hooks_seen *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->health[kind]++;
    snprintf(s->last_detail, sizeof(s->last_detail), "%s", detail);
    pthread_mutex_unlock(&s->mu);
}

static uint64_t
seen_health(struct fixture *f, enum ingest_health k)
{
    pthread_mutex_lock(&f->seen.mu);
    uint64_t v = f->seen.health[k];
    pthread_mutex_unlock(&f->seen.mu);
    return v;
}

static void *
run_link(void *arg)
{
    link_run(arg);
    return NULL;
}

/* the link in writer mode (batches stored and committed on the writer thread) */
static bool g_writer;

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/bn-test-link-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->agent_dir, sizeof(f->agent_dir), "%s/agent", f->dir);
    struct store_err se;
    assert_int_equal(store_open(&f->st, f->dir, &se), 0);
    assert_int_equal(store_open(&f->st2, f->dir, &se), 0);
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "acme");
    assert_int_equal(store_tenant_create(f->st2, &t, &f->tenant), 0);
    struct bn_diag d;
    bn_diag_clear(&d);
    assert_int_equal(enroll_open(&f->en, f->dir, &d), 0);
    pthread_mutex_init(&f->seen.mu, NULL);
    struct ingest_hooks h = {&f->seen, on_batch_stored, on_health};
    struct link_opts o = {"127.0.0.1", 0, 100, 5000, 0, 0, 0};
    o.writer_thread = g_writer;
    assert_int_equal(link_new(&f->link, &o, f->st, f->en, &h, &d), 0);
    snprintf(f->server, sizeof(f->server), "127.0.0.1:%d", link_port(f->link));
    assert_int_equal(pthread_create(&f->thr, NULL, run_link, f->link), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    link_stop(f->link);
    pthread_join(f->thr, NULL);
    link_free(f->link);
    enroll_free(f->en);
    store_close(f->st);
    store_close(f->st2);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    pthread_mutex_destroy(&f->seen.mu);
    free(f);
    return 0;
}

static int
setup_writer(void **state)
{
    g_writer = true;
    return setup(state);
}

static int
teardown_writer(void **state)
{
    g_writer = false;
    return teardown(state);
}

static void
token(struct fixture *f, int uses, char *out)
{
    int64_t id;
    assert_int_equal(
        enroll_token_new(f->en, f->st2, f->tenant, uses, 0, "test", out, ENROLL_TOKEN_MAX, &id), 0);
}

static void
enrol(struct fixture *f, const char *dir, struct bn_wire_ident *id)
{
    char tok[ENROLL_TOKEN_MAX], err[512] = "";
    token(f, 1, tok);
    int rc = bn_wire_enroll_run(f->server, tok, dir, "host-a", 60000, 5000, id, err, sizeof(err));
    if (rc)
        fail_msg("enrolment failed: %s", err);
}

static struct bn_wire_conn *
session(struct fixture *f, const struct bn_wire_ident *id, uint8_t *nonce, uint64_t *last)
{
    struct bn_wire_hello h = {{"host-a", 6}, {"test", 4}, 60000, 0, 0}; /* next seq 0: not told */
    struct bn_wire_conn *c = NULL;
    char err[512] = "";
    int rc = bn_wire_session_open(&c, id, f->server, &h, 5000, nonce, last, err, sizeof(err));
    if (rc)
        fail_msg("session failed: %s", err);
    return c;
}

/* Sends events first..last (skipping skip) as one batch signed with sk; returns the frame
 * type of the answer (ACK or ERROR) and fills *ack. */
static int
send_batch(struct bn_wire_conn *c, const uint8_t *nonce, const uint8_t *sk, uint64_t first,
           uint64_t last, uint64_t skip, struct bn_wire_ack *ack)
{
    struct bn_wire_packer *p;
    assert_int_equal(bn_wire_packer_new(&p, 1), 0);
    char ev[256];
    for (uint64_t s = first; s <= last; s++) {
        if (s == skip)
            continue;
        int n = snprintf(ev, sizeof(ev),
                         "{\"EventID\":1,\"UtcTime\":\"2026-11-26 00:00:00.000\","
                         "\"Computer\":\"host-a\",\"Image\":\"/usr/bin/id\",\"User\":\"root\","
                         "\"n\":%llu}",
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
    int rc = bn_wire_recv(c, 5000, &type, &pl, &len, &e);
    if (rc)
        return rc;
    if (type == BN_WIRE_ACK)
        assert_int_equal(bn_wire_ack_decode(pl, len, ack, &e), 0);
    return type;
}

static struct link_counters
counters(struct fixture *f)
{
    struct link_counters c;
    /* the ingest part is published after each group commit and housekeeping turn */
    usleep(150000);
    link_counters(f->link, &c);
    return c;
}

static void
test_enrol_send_ack_dups(void **state)
{
    struct fixture *f = *state;
    struct bn_wire_ident id;
    enrol(f, f->agent_dir, &id);
    assert_true(id.agent_id > 0);
    assert_int_equal(id.tenant_id, f->tenant);

    uint8_t nonce[BN_WIRE_NONCE];
    uint64_t last = 99;
    struct bn_wire_conn *c = session(f, &id, nonce, &last);
    assert_int_equal(last, 0);
    struct bn_wire_ack ack;
    assert_int_equal(send_batch(c, nonce, id.sk, 1, 500, 0, &ack), BN_WIRE_ACK);
    assert_int_equal(ack.first_seq, 1);
    assert_int_equal(ack.last_seq, 500);
    assert_int_equal(ack.inserted, 500);
    assert_int_equal(ack.dups, 0);
    assert_int_equal(send_batch(c, nonce, id.sk, 501, 1000, 0, &ack), BN_WIRE_ACK);
    assert_int_equal(ack.inserted, 500);
    /* three batches in one write (the agent's window): three acks, in order */
    {
        struct bn_wire_packer *p;
        struct bn_buf b3;
        assert_int_equal(bn_wire_packer_new(&p, 1), 0);
        bn_buf_init(&b3, 3 * (BN_WIRE_HDR + BN_WIRE_FRAME_MAX));
        for (uint64_t first = 1001; first < 1300; first += 100) {
            bn_wire_packer_reset(p);
            for (uint64_t s = first; s < first + 100; s++)
                assert_int_equal(bn_wire_packer_add(p, s, "{\"EventID\":5}", 13), 0);
            assert_int_equal(bn_wire_packer_seal(p, nonce, id.sk, &b3), 0);
        }
        assert_int_equal(bn_wire_send(c, b3.p, b3.len), 0);
        for (uint64_t first = 1001; first < 1300; first += 100) {
            int type;
            const uint8_t *pl;
            uint32_t len;
            struct bn_wire_err e;
            assert_int_equal(bn_wire_recv(c, 5000, &type, &pl, &len, &e), 0);
            assert_int_equal(type, BN_WIRE_ACK);
            assert_int_equal(bn_wire_ack_decode(pl, len, &ack, &e), 0);
            assert_int_equal(ack.first_seq, first);
            assert_int_equal(ack.inserted, 100);
        }
        bn_buf_release(&b3);
        bn_wire_packer_free(p);
    }
    /* acknowledged means stored: another handle sees them */
    assert_int_equal(store_events_count(f->st2, f->tenant), 1300);

    /* heartbeat: health recorded */
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    struct bn_wire_heartbeat hb = {1, 2, {"{\"cpu_percent\":1.5,\"spool_depth\":7}", 35}};
    assert_int_equal(bn_wire_heartbeat_encode(&b, &hb), 0);
    assert_int_equal(bn_wire_send(c, b.p, b.len), 0);
    bn_buf_release(&b);
    usleep(200000);
    struct store_agent a;
    assert_int_equal(store_agent_get(f->st2, id.agent_id, &a), 0);
    assert_non_null(strstr(a.health_json, "spool_depth"));
    assert_int_equal(a.tier, 2);
    assert_int_equal(a.last_seq, 1300);
    bn_wire_close(c);

    /* a new session resends 1201..1400 (its ack was lost): 1201..1300 are dropped as dups */
    c = session(f, &id, nonce, &last);
    assert_int_equal(last, 1300);
    assert_int_equal(send_batch(c, nonce, id.sk, 1201, 1400, 0, &ack), BN_WIRE_ACK);
    assert_int_equal(ack.inserted, 100);
    assert_int_equal(ack.dups, 100);
    assert_int_equal(store_events_count(f->st2, f->tenant), 1400);
    bn_wire_close(c);

    struct link_counters lc = counters(f);
    assert_int_equal(lc.enrolled, 1);
    assert_int_equal(lc.sessions, 2);
    assert_int_equal(lc.acks, 6);
    assert_int_equal(lc.ingest.inserted, 1400);
    assert_int_equal(lc.ingest.dups, 100);
    assert_int_equal(f->seen.stored, 1400);
    assert_int_equal(lc.ingest.gaps, 0);
}

static void
test_replay_gap_signature(void **state)
{
    struct fixture *f = *state;
    struct bn_wire_ident id;
    enrol(f, f->agent_dir, &id);
    uint8_t nonce[BN_WIRE_NONCE], old_nonce[BN_WIRE_NONCE];
    uint64_t last;
    struct bn_wire_ack ack;
    struct bn_wire_conn *c = session(f, &id, nonce, &last);
    memcpy(old_nonce, nonce, sizeof(nonce));
    assert_int_equal(send_batch(c, nonce, id.sk, 1, 10, 0, &ack), BN_WIRE_ACK);
    /* a gap: 11..19 never sent, 25 missing inside the batch */
    assert_int_equal(send_batch(c, nonce, id.sk, 20, 30, 25, &ack), BN_WIRE_ACK);
    assert_int_equal(ack.inserted, 10);
    assert_int_equal(seen_health(f, INGEST_HEALTH_GAP), 1);
    /* the same batch again in the same session: a replay, refused */
    assert_int_equal(send_batch(c, nonce, id.sk, 20, 30, 25, &ack), BN_WIRE_ERROR);
    assert_int_equal(seen_health(f, INGEST_HEALTH_REPLAY), 1);
    bn_wire_close(c);

    /* a session whose seqs start below what is stored (spool reset, cloned keys): refused */
    {
        struct bn_wire_hello h = {{"host-a", 6}, {"t", 1}, 60000, 0, 5};
        char err[512];
        struct bn_wire_conn *c2 = NULL;
        assert_int_equal(
            bn_wire_session_open(&c2, &id, f->server, &h, 5000, nonce, &last, err, sizeof(err)),
            BN_EPROTO);
        assert_non_null(strstr(err, "re-enrol"));
        assert_int_equal(seen_health(f, INGEST_HEALTH_REPLAY), 2);
    }
    /* a batch signed for an earlier session (a recording played back): bad signature */
    c = session(f, &id, nonce, &last);
    assert_int_equal(send_batch(c, old_nonce, id.sk, 31, 40, 0, &ack), BN_WIRE_ERROR);
    bn_wire_close(c);
    /* signed with another key */
    uint8_t pk2[BN_WIRE_PK], sk2[BN_WIRE_SK];
    crypto_sign_keypair(pk2, sk2);
    c = session(f, &id, nonce, &last);
    assert_int_equal(send_batch(c, nonce, sk2, 31, 40, 0, &ack), BN_WIRE_ERROR);
    bn_wire_close(c);
    assert_int_equal(seen_health(f, INGEST_HEALTH_BAD_SIGNATURE), 2);
    assert_int_equal(store_events_count(f->st2, f->tenant), 20);

    struct link_counters lc = counters(f);
    assert_int_equal(lc.replays, 2);
    assert_int_equal(lc.bad_signatures, 2);
    assert_int_equal(lc.ingest.gaps, 1);
    assert_int_equal(lc.ingest.missing, 10);

    /* malformed frames in a session are refused and counted */
    c = session(f, &id, nonce, &last);
    static const uint8_t junk[] = "BNW1\x05\0\0\0\0\0\0\x04zzzz";
    assert_int_equal(bn_wire_send(c, junk, sizeof(junk) - 1), 0);
    int type;
    const uint8_t *pl;
    uint32_t len;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_recv(c, 5000, &type, &pl, &len, &e), 0);
    assert_int_equal(type, BN_WIRE_ERROR);
    bn_wire_close(c);
    lc = counters(f);
    assert_true(lc.bad_frames >= 1);
    assert_true(seen_health(f, INGEST_HEALTH_MALFORMED) >= 1);

    /* a frame announcing more than BN_WIRE_FRAME_MAX: refused from its header, counted */
    c = session(f, &id, nonce, &last);
    uint8_t big[BN_WIRE_HDR];
    bn_wire_hdr_encode(big, BN_WIRE_BATCH, BN_WIRE_FRAME_MAX + 1);
    assert_int_equal(bn_wire_send(c, big, sizeof(big)), 0);
    assert_int_equal(bn_wire_recv(c, 5000, &type, &pl, &len, &e), 0);
    assert_int_equal(type, BN_WIRE_ERROR);
    struct bn_wire_error er;
    assert_int_equal(bn_wire_error_decode(pl, len, &er, &e), 0);
    assert_non_null(memmem(er.msg.p, er.msg.len, "over the limit", 14));
    bn_wire_close(c);
    lc = counters(f);
    assert_int_equal(lc.oversized, 1);
}

/* Something that is not a TLS client: the handshake fails, counted; the link goes on. */
static void
test_not_tls(void **state)
{
    struct fixture *f = *state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)link_port(f->link));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ; /* the link answers with a TLS alert at most, then closes */
    close(fd);
    struct link_counters lc = counters(f);
    assert_int_equal(lc.tls_failures, 1);
    assert_int_equal(lc.conns_open, 0);
    /* a peer without a certificate gets no big frames, even at enrolment */
    struct bn_wire_conn *c;
    char err[512], pin[ENROLL_FP_HEX];
    snprintf(pin, sizeof(pin), "%s", enroll_server_ca_fp(f->en));
    struct bn_wire_tls t = {NULL, pin, NULL, NULL};
    assert_int_equal(bn_wire_connect(&c, f->server, &t, 5000, err, sizeof(err)), 0);
    uint8_t h[BN_WIRE_HDR];
    bn_wire_hdr_encode(h, BN_WIRE_ENROLL, BN_WIRE_UNAUTH_FRAME_MAX + 1);
    assert_int_equal(bn_wire_send(c, h, sizeof(h)), 0);
    int type;
    const uint8_t *pl;
    uint32_t len;
    struct bn_wire_err e;
    assert_int_equal(bn_wire_recv(c, 5000, &type, &pl, &len, &e), 0);
    assert_int_equal(type, BN_WIRE_ERROR);
    bn_wire_close(c);
    lc = counters(f);
    assert_int_equal(lc.oversized, 1);
    /* and serves the next agent */
    struct bn_wire_ident id;
    enrol(f, f->agent_dir, &id);
}

static void
test_wrong_ca_and_tokens(void **state)
{
    struct fixture *f = *state;
    char err[512];
    struct bn_wire_ident id;

    /* a token of another manager: the agent refuses to talk (pin mismatch) */
    char other_dir[128];
    snprintf(other_dir, sizeof(other_dir), "%s/other", f->dir);
    char other_tok[ENROLL_TOKEN_MAX];
    snprintf(other_tok, sizeof(other_tok), "bnt1.%032d.%064d", 0, 0);
    int rc = bn_wire_enroll_run(f->server, other_tok, other_dir, "x", 60000, 5000, &id, err,
                                sizeof(err));
    assert_int_equal(rc, BN_EDENIED);
    assert_non_null(strstr(err, "not the manager"));

    /* a token that looks right but was never issued: the manager refuses */
    char tok[ENROLL_TOKEN_MAX];
    token(f, 1, tok);
    char forged[ENROLL_TOKEN_MAX];
    snprintf(forged, sizeof(forged), "%s", tok);
    forged[6] = forged[6] == 'a' ? 'b' : 'a';
    rc = bn_wire_enroll_run(f->server, forged, other_dir, "x", 60000, 5000, &id, err, sizeof(err));
    assert_int_equal(rc, BN_EDENIED);
    assert_non_null(strstr(err, "token"));
    /* a one-use token works once */
    assert_int_equal(
        bn_wire_enroll_run(f->server, tok, other_dir, "x", 60000, 5000, &id, err, sizeof(err)), 0);
    rc = bn_wire_enroll_run(f->server, tok, other_dir, "x", 60000, 5000, &id, err, sizeof(err));
    assert_int_equal(rc, BN_EDENIED);

    /* a client certificate of another manager's CA: the handshake is refused */
    char mgr2[128];
    snprintf(mgr2, sizeof(mgr2), "%s/mgr2", f->dir);
    assert_int_equal(mkdir(mgr2, 0700), 0);
    struct store *st3;
    struct store_err se;
    assert_int_equal(store_open(&st3, mgr2, &se), 0);
    struct store_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "evil");
    int64_t tid;
    assert_int_equal(store_tenant_create(st3, &t, &tid), 0);
    struct enroll *en2;
    struct bn_diag d;
    assert_int_equal(enroll_open(&en2, mgr2, &d), 0);
    struct link *l2;
    struct link_opts o = {"127.0.0.1", 0, 100, 5000, 0, 0, 0};
    assert_int_equal(link_new(&l2, &o, st3, en2, NULL, &d), 0);
    pthread_t thr2;
    assert_int_equal(pthread_create(&thr2, NULL, run_link, l2), 0);
    char server2[64], tok2[ENROLL_TOKEN_MAX], dir2[128];
    snprintf(server2, sizeof(server2), "127.0.0.1:%d", link_port(l2));
    int64_t tokid;
    assert_int_equal(enroll_token_new(en2, st3, tid, 1, 0, "t", tok2, sizeof(tok2), &tokid), 0);
    snprintf(dir2, sizeof(dir2), "%s/agent2", f->dir);
    struct bn_wire_ident id2;
    assert_int_equal(
        bn_wire_enroll_run(server2, tok2, dir2, "y", 60000, 5000, &id2, err, sizeof(err)), 0);
    /* agent of manager 2 against manager 1 (its CA file is manager 2's: the client refuses
     * manager 1's server certificate) */
    uint8_t nonce[BN_WIRE_NONCE];
    uint64_t last;
    struct bn_wire_conn *c = NULL;
    struct bn_wire_hello h = {{"y", 1}, {"t", 1}, 60000, 0, 1};
    assert_int_not_equal(
        bn_wire_session_open(&c, &id2, f->server, &h, 5000, nonce, &last, err, sizeof(err)), 0);
    /* same, but trusting manager 1's server CA: manager 1 refuses the client certificate */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cp '%s/pki/server-ca.crt' '%s/server-ca.crt'", f->dir, dir2);
    assert_int_equal(system(cmd), 0);
    rc = bn_wire_session_open(&c, &id2, f->server, &h, 5000, nonce, &last, err, sizeof(err));
    assert_int_not_equal(rc, 0);
    struct link_counters lc = counters(f);
    assert_true(lc.tls_failures >= 1);
    assert_true(lc.enroll_refused >= 2);
    link_stop(l2);
    pthread_join(thr2, NULL);
    link_free(l2);
    enroll_free(en2);
    store_close(st3);
}

static void
test_revoked(void **state)
{
    struct fixture *f = *state;
    struct bn_wire_ident id;
    enrol(f, f->agent_dir, &id);
    uint8_t nonce[BN_WIRE_NONCE];
    uint64_t last;
    struct bn_wire_ack ack;
    struct bn_wire_conn *c = session(f, &id, nonce, &last);
    assert_int_equal(send_batch(c, nonce, id.sk, 1, 5, 0, &ack), BN_WIRE_ACK);
    /* revoked while connected: the session is closed within a housekeeping turn */
    assert_int_equal(store_agent_revoke(f->st2, f->tenant, id.agent_id), 0);
    int type;
    const uint8_t *pl;
    uint32_t len;
    struct bn_wire_err e;
    int rc = bn_wire_recv(c, 3000, &type, &pl, &len, &e);
    assert_int_equal(rc, 0);
    assert_int_equal(type, BN_WIRE_ERROR);
    struct bn_wire_error er;
    assert_int_equal(bn_wire_error_decode(pl, len, &er, &e), 0);
    assert_non_null(memmem(er.msg.p, er.msg.len, "revoked", 7));
    bn_wire_close(c);
    /* and refused when it comes back */
    struct bn_wire_hello h = {{"host-a", 6}, {"t", 1}, 60000, 0, 1};
    char err[512];
    rc = bn_wire_session_open(&c, &id, f->server, &h, 5000, nonce, &last, err, sizeof(err));
    assert_int_equal(rc, BN_EDENIED);
    assert_non_null(strstr(err, "revoked"));
    struct link_counters lc = counters(f);
    assert_int_equal(lc.revoked_closed, 1);
    assert_int_equal(lc.revoked_refused, 1);
    assert_true(seen_health(f, INGEST_HEALTH_REVOKED) >= 2);
}

static void
test_silent(void **state)
{
    struct fixture *f = *state;
    char tok[ENROLL_TOKEN_MAX], err[512] = "";
    struct bn_wire_ident id;
    token(f, 1, tok);
    /* heartbeats every 100 ms: silent after 3 missed */
    assert_int_equal(
        bn_wire_enroll_run(f->server, tok, f->agent_dir, "quiet", 100, 5000, &id, err, sizeof(err)),
        0);
    uint8_t nonce[BN_WIRE_NONCE];
    uint64_t last;
    struct bn_wire_conn *c = session(f, &id, nonce, &last);
    bn_wire_close(c);
    for (int i = 0; i < 50 && !seen_health(f, INGEST_HEALTH_SILENT); i++)
        usleep(100000);
    assert_int_equal(seen_health(f, INGEST_HEALTH_SILENT), 1);
    assert_non_null(strstr(f->seen.last_detail, "outage or tampering"));
    /* reported once, not every housekeeping turn */
    usleep(500000);
    assert_int_equal(seen_health(f, INGEST_HEALTH_SILENT), 1);
    /* heard from again */
    c = session(f, &id, nonce, &last);
    bn_wire_close(c);
    assert_int_equal(seen_health(f, INGEST_HEALTH_BACK), 1);
}

static void
test_event_fields(void **state)
{
    (void)state;
    struct store_event e;
    char scratch[2048];
    const char *j = "{\"Channel\":\"x\",\"EventID\":11,\"nested\":{\"a\":[1,{\"b\":\"}\"}]},"
                    "\"UtcTime\":\"2026-01-02 03:04:05.678\",\"Computer\":\"h\\\"1\","
                    "\"Image\":\"/bin/sh\",\"User\":\"root\"}";
    assert_int_equal(ingest_event_fields(j, strlen(j), &e, scratch, sizeof(scratch)), 0);
    assert_int_equal(e.event_id, 11);
    assert_string_equal(e.host, "h\"1");
    assert_string_equal(e.image, "/bin/sh");
    assert_string_equal(e.user, "root");
    assert_true(e.ts_ns > 0);
    assert_int_equal(ingest_event_fields("[1]", 3, &e, scratch, sizeof(scratch)), -1);
    assert_int_equal(ingest_event_fields("{\"a\":", 5, &e, scratch, sizeof(scratch)), -1);
    assert_int_equal(ingest_event_fields("{}", 2, &e, scratch, sizeof(scratch)), 0);
}

int
main(void)
{
    bn_log_set_level(getenv("BN_TEST_VERBOSE") ? BN_LOG_DEBUG : BN_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test_setup_teardown(test_enrol_send_ack_dups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_gap_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_ca_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_tls, setup, teardown),
        /* the same with the writer thread */
        cmocka_unit_test_setup_teardown(test_enrol_send_ack_dups, setup_writer, teardown_writer),
        cmocka_unit_test_setup_teardown(test_replay_gap_signature, setup_writer, teardown_writer),
        cmocka_unit_test_setup_teardown(test_wrong_ca_and_tokens, setup_writer, teardown_writer),
        cmocka_unit_test_setup_teardown(test_revoked, setup_writer, teardown_writer),
        cmocka_unit_test_setup_teardown(test_silent, setup_writer, teardown_writer),
        cmocka_unit_test_setup_teardown(test_not_tls, setup_writer, teardown_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
