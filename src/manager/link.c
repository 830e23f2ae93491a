/*
 * link.c - the agent link server (see link.h): libuv TCP, OpenSSL TLS 1.3 through memory
 * BIOs, one state machine per connection, group commit of batches with acks after the
 * commit, heartbeats, revocation and silence checks.
 *
 * A connection goes HANDSHAKE -> FIRST (enrolment without a client certificate, HELLO with
 * one) -> SESSION (batches, heartbeats). While its batch waits for the group commit the
 * connection stops reading (TCP pushes back on the agent) and resumes after its ACK.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

#include "manager/attach.h"
#include "manager/link.h"
#include "manager/playbook.h"
#include "manager/writer.h"

#define READ_CHUNK     (64u << 10)
#define SILENT_MAX     65536      /* silent agents remembered (reported once) */
#define IN_KEEP_MAX    (1u << 20) /* input buffer kept per idle connection at most */
#define LAZY_COMMIT_MS 100
/* a group transaction is committed once it holds this many new events, or once its oldest
 * batch was received link_opts.group_ms ago, even in the middle of a loop turn: bounds
 * receipt -> durable commit (and alert) latency under load */
#define GROUP_EVENTS_MAX 50000
#define GROUP_MS_DEFAULT 10
#define SHUTDOWN_MS      5000 /* an ERROR not flushed by then: the connection is closed */
#define SLOW_COMMIT_MS                                                                             \
    500 /* a group commit slower than this is logged */ /* small writes wait this long for a group \
                                                           commit */

enum conn_state {
    C_HANDSHAKE = 0,
    C_FIRST,
    C_SESSION,
    C_WAIT_COMMIT,
};

struct conn {
    uv_tcp_t tcp;
    struct link *l;
    SSL *ssl;
    BIO *rbio, *wbio;
    enum conn_state state;
    bool closing;
    bool reading;
    bool has_cert;
    bool parsing;  /* parse_frames is on the stack for this connection */
    bool shutting; /* an ERROR is being flushed before the close */
    int64_t shutting_ms;
    char peer[64];
    struct bn_buf in; /* plaintext bytes not yet parsed */
    int64_t opened_ms, last_rx_ms;
    /* the agent of a session */
    struct ingest_agent ia;
    char uid[64];
    char hostname[256];
    uint8_t pk[BN_WIRE_PK];
    int64_t last_seq;      /* highest stored seq */
    uint64_t session_last; /* last seq of the last batch of this session */
    int64_t heartbeat_ms;
    int tier;
    uint8_t nonce[BN_WIRE_NONCE];
    struct bn_wire_ack ack; /* waiting for the group commit */
    struct attach_up *up;   /* a file upload in progress (attach.h) */
    struct conn *next_pending;
    struct conn *prev, *next; /* all connections */
    uint64_t sync_gen;        /* its batch's commit, waiting for the WAL sync (l->syncing) */
    bool inflight;            /* its batch is with the writer thread (writer mode) */
    bool dead; /* closed while in flight: freed when the writer hands the batch back */
};

struct wreq {
    uv_write_t req;
    uv_buf_t buf;
};

struct link {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t stop_async;
    uv_timer_t house;
    uv_check_t check;
    uv_idle_t idle;
    uv_timer_t lazy;    /* commits a group of small writes (no batch waits on it) */
    uv_timer_t actions; /* sends queued response actions to connected agents */
    bool lazy_on;
    bool idle_on;
    bool stopping;
    struct link_opts o;
    int port;
    SSL_CTX *ctx;
    struct store *st;
    struct enroll *en;
    struct ingest *in;
    struct conn *conns;
    size_t nconns;
    struct conn *pending; /* sessions whose batch waits for the commit */
    /* sync pipeline (default; not link_opts.sync_inline): a group commit writes the WAL
     * without waiting for the disk, the syncer thread fdatasyncs it while the loop goes on
     * with the next group, and the sessions of the group are acknowledged after that */
    struct conn *syncing; /* sessions whose batch is committed, waiting for the sync */
    bool sy_on;
    pthread_t sy_thr;
    pthread_mutex_t sy_mu;
    pthread_cond_t sy_cv;
    uint64_t sy_want, sy_done; /* commit generations asked for / made durable (sy_mu) */
    int sy_rc;                 /* the syncs' result (sticky: store_wal_sync) */
    bool sy_quit;
    uv_async_t sy_async;
    uint64_t synced;         /* loop thread: generations acknowledged */
    _Atomic uint64_t sy_pub; /* sy_done, read without the lock by the loop mid-turn */
    char rbuf[READ_CHUNK];
    struct bn_buf out; /* frame being built */
    struct bn_wire_unpacker *unpacker;
    int64_t *silent; /* agents reported silent */
    size_t nsilent;

    /* writer mode (link_opts.writer_thread): batches are inserted, run through detection
     * and committed on the writer thread; every other use of the store, the ingest and its
     * hooks (on either thread) holds smu */
    struct writer *w;
    uv_async_t done_async; /* the writer finished a group */
    bool locking;
    pthread_mutex_t smu; /* recursive */

    pthread_mutex_t mu; /* guards cnt for link_counters */
    struct link_counters cnt;
    struct attach_stats att; /* file uploads (attach.h) */
};

#define CNT(l, f) (l)->cnt.f

/* A decoded batch on its way to the writer thread: events and their bytes copied (the
 * unpacker's buffers are reused by the next batch). */
struct wjob {
    struct writer_job wj;
    struct conn *c;
    struct ingest_agent ia;
    char uid[64];
    char hostname[256];
    int64_t last_seq;
    int64_t rx_ns;
    struct bn_wire_event *ev;
    size_t n;
    struct bn_wire_ack ack;
    int rc;
};

/* Writer mode: the store lock if it is free now (the writer thread holds it for a whole
 * group: insert, detection, commit). Always true otherwise. */
static bool
stry(struct link *l)
{
    return !l->locking || pthread_mutex_trylock(&l->smu) == 0;
}

static void
slock(struct link *l)
{
    if (l->locking)
        pthread_mutex_lock(&l->smu);
}

static void
sunlock(struct link *l)
{
    if (l->locking)
        pthread_mutex_unlock(&l->smu);
}

/* ingest_health under the store lock (the hook writes alerts). */
static void link_health(struct link *l, const struct ingest_agent *a, enum ingest_health kind,
                        const char *fmt, ...) BN_PRINTF(4, 5);

static void
link_health(struct link *l, const struct ingest_agent *a, enum ingest_health kind, const char *fmt,
            ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    slock(l);
    ingest_health(l->in, a, kind, "%s", detail);
    sunlock(l);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void
cnt_add(struct link *l, uint64_t *f, uint64_t n)
{
    pthread_mutex_lock(&l->mu);
    *f += n;
    pthread_mutex_unlock(&l->mu);
}

#define COUNT(l, f) cnt_add((l), &(l)->cnt.f, 1)
#define COUNTM(l, f, m)                                                                            \
    do {                                                                                           \
        cnt_add((l), &(l)->cnt.f, 1);                                                              \
        mgr_metric_add((l)->o.metrics, (m), 1);                                                    \
    } while (0)

static void conn_pump(struct conn *c);
static void conn_close(struct conn *c);
static void group_flush(struct link *l);
static int durable_now(struct link *l);
static void sync_back(struct link *l);

/* ---- writing ----------------------------------------------------------------------------- */

static void
on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    bn_free(w->buf.base);
    bn_free(w);
}

/* Moves what TLS produced to the socket. */
static int
flush_wbio(struct conn *c)
{
    for (;;) {
        size_t n = BIO_ctrl_pending(c->wbio);
        if (!n)
            return 0;
        struct wreq *w = bn_malloc(sizeof(*w));
        char *p = bn_malloc(n);
        if (!w || !p) {
            bn_free(w);
            bn_free(p);
            return BN_ENOMEM;
        }
        int got = BIO_read(c->wbio, p, (int)n);
        if (got <= 0) {
            bn_free(w);
            bn_free(p);
            return 0;
        }
        w->buf = uv_buf_init(p, (unsigned)got);
        if (c->closing || uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write) != 0) {
            bn_free(w);
            bn_free(p);
            return BN_EIO;
        }
    }
}

/* Sends the frame in l->out. */
static int
send_out(struct conn *c)
{
    struct link *l = c->l;
    int rc = 0;
    if (l->out.len && SSL_write(c->ssl, l->out.p, (int)l->out.len) <= 0)
        rc = BN_EIO;
    ERR_clear_error();
    bn_buf_reset(&l->out);
    if (!rc)
        rc = flush_wbio(c);
    return rc;
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;
    bn_free(req);
    conn_close(c);
}

/* Sends an ERROR frame, then closes once it is written. */
static void unpend(struct conn *c);
static void on_idle(uv_idle_t *h);
static void conn_refuse(struct conn *c, int code, const char *fmt, ...) BN_PRINTF(3, 4);

static void
conn_refuse(struct conn *c, int code, const char *fmt, ...)
{
    char msg[BN_WIRE_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->closing)
        return;
    unpend(c);
    BN_INFO("link", "refusing %s%s%s: %s", c->peer, c->uid[0] ? " agent " : "", c->uid, msg);
    bn_buf_reset(&c->l->out);
    if (bn_wire_error_encode(&c->l->out, code, msg) == 0)
        send_out(c);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    uv_shutdown_t *req = bn_malloc(sizeof(*req));
    if (req) {
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) == 0) {
            c->state = C_HANDSHAKE;
            c->closing = true; /* no more frames; on_shutdown closes */
            c->shutting = true;
            c->shutting_ms = now_ms();
            return;
        }
        bn_free(req);
    }
    conn_close(c);
}

/* ---- connections --------------------------------------------------------------------- */

static void conn_free(struct conn *c);

static void
on_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    struct link *l = c->l;
    if (c->prev)
        c->prev->next = c->next;
    else if (l->conns == c)
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    mgr_metric_sub(l->o.metrics, MGR_M_LINK_CONNECTIONS_OPEN, 1);
    pthread_mutex_lock(&l->mu);
    l->cnt.conns_open = l->nconns;
    pthread_mutex_unlock(&l->mu);
    if (c->inflight) {
        c->dead = true; /* the writer still has its batch: freed when it comes back */
        return;
    }
    conn_free(c);
}

static void
conn_free(struct conn *c)
{
    SSL_free(c->ssl); /* frees the BIOs */
    bn_buf_release(&c->in);
    attach_up_free(c->up);
    bn_free(c);
}

static void
unpend(struct conn *c)
{
    struct conn **lists[] = {&c->l->pending, &c->l->syncing};
    for (size_t i = 0; i < BN_ARRAY_SIZE(lists); i++) {
        struct conn **pp = lists[i];
        while (*pp && *pp != c)
            pp = &(*pp)->next_pending;
        if (*pp) {
            *pp = c->next_pending;
            break;
        }
    }
    c->next_pending = NULL;
}

static void
conn_close(struct conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->closing = true;
    unpend(c);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void set_reading(struct conn *c, bool on);
static void dispatch_actions(struct link *l, struct conn *only);

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = (struct conn *)h;
    /* one buffer for every connection: read_cb consumes it before the next read */
    buf->base = c->l->rbuf;
    buf->len = sizeof(c->l->rbuf);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = (struct conn *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->closing)
        return;
    if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
        conn_close(c);
        return;
    }
    c->last_rx_ms = now_ms();
    struct link *l = c->l;
    conn_pump(c);
    /* outside parse_frames: the same flush on_check does at the end of the loop turn, early
     * when the group is big or its oldest batch waited long enough */
    if (!l->w && l->pending) {
        int64_t first = ingest_group_first_ns(l->in);
        if (ingest_pending_events(l->in) >= GROUP_EVENTS_MAX ||
            (first && wall_ns() - first >= l->o.group_ms * 1000000))
            group_flush(l);
    }
    /* a loop turn over many busy connections is long: acknowledge what the syncer made
     * durable meanwhile now, not at the end of the turn */
    if (l->sy_on && l->syncing && atomic_load(&l->sy_pub) > l->synced)
        sync_back(l);
}

static void
set_reading(struct conn *c, bool on)
{
    if (c->closing || on == c->reading)
        return;
    if (on)
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0;
    else {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct link *l = server->data;
    if (status < 0)
        return;
    struct conn *c = bn_calloc(1, sizeof(*c));
    if (!c)
        return;
    c->l = l;
    uv_tcp_init(&l->loop, &c->tcp);
    c->next = l->conns;
    if (l->conns)
        l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    mgr_metric_add(l->o.metrics, MGR_M_LINK_CONNECTIONS_OPEN, 1);
    bn_buf_init(&c->in, BN_WIRE_HDR + BN_WIRE_FRAME_MAX + READ_CHUNK);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    COUNTM(l, accepted, MGR_M_LINK_CONNECTIONS);
    pthread_mutex_lock(&l->mu);
    l->cnt.conns_open = l->nconns;
    pthread_mutex_unlock(&l->mu);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char host[48] = "?";
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "[%s]:%d", host,
                     ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            snprintf(c->peer, sizeof(c->peer), "%s:%d", host,
                     ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    }
    if (l->nconns > l->o.max_conns || l->stopping) {
        COUNT(l, refused_full);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->ssl = SSL_new(l->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        conn_close(c);
        return;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    c->opened_ms = c->last_rx_ms = now_ms();
    set_reading(c, true);
}

/* ---- frames ------------------------------------------------------------------------------ */

static int
ssl_fp(X509 *x, char fp[ENROLL_FP_HEX])
{
    return enroll_cert_fp(x, fp);
}

/* The handshake is done: find the agent of the client certificate, if any. */
static void
on_handshake_locked(struct conn *c)
{
    struct link *l = c->l;
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    c->state = C_FIRST;
    if (!peer)
        return; /* enrolment only */
    char fp[ENROLL_FP_HEX];
    int rc = ssl_fp(peer, fp);
    X509_free(peer);
    if (rc || SSL_get_verify_result(c->ssl) != X509_V_OK) {
        COUNTM(l, tls_failures, MGR_M_LINK_REFUSED_CERT);
        conn_refuse(c, BN_EDENIED, "client certificate not verified");
        return;
    }
    struct store_agent a;
    rc = store_agent_by_cert(l->st, fp, &a);
    if (rc == BN_ENOTFOUND) {
        COUNTM(l, unknown_cert, MGR_M_LINK_REFUSED_CERT);
        conn_refuse(c, BN_EDENIED, "no agent has this certificate (%.16s...)", fp);
        return;
    }
    if (rc) {
        conn_refuse(c, BN_EIO, "store unavailable: %s", bn_strerror(rc));
        return;
    }
    snprintf(c->uid, sizeof(c->uid), "%s", a.uid);
    snprintf(c->hostname, sizeof(c->hostname), "%s", a.hostname);
    c->ia.id = a.id;
    c->ia.tenant_id = a.tenant_id;
    c->ia.uid = c->uid;
    c->ia.hostname = c->hostname;
    if (a.revoked) {
        COUNTM(l, revoked_refused, MGR_M_LINK_REFUSED_CERT);
        link_health(l, &c->ia, INGEST_HEALTH_REVOKED, "revoked agent tried to connect from %s",
                    c->peer);
        conn_refuse(c, BN_EDENIED, "agent %s is revoked", a.uid);
        return;
    }
    if (bn_hex_decode(a.sign_pk, strlen(a.sign_pk), c->pk, BN_WIRE_PK, NULL) != 0) {
        conn_refuse(c, BN_ECORRUPT, "stored signing key of agent %s is unreadable", a.uid);
        return;
    }
    c->has_cert = true;
    c->last_seq = a.last_seq;
    c->tier = a.tier;
    c->heartbeat_ms = a.heartbeat_interval_ms > 0 ? a.heartbeat_interval_ms : 60000;
}

static void
on_handshake(struct conn *c)
{
    slock(c->l);
    on_handshake_locked(c);
    sunlock(c->l);
}

static void
handle_enroll(struct conn *c, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    struct bn_wire_enroll m;
    struct bn_wire_err e;
    struct bn_diag d;
    char hash[ENROLL_FP_HEX], pin[ENROLL_FP_HEX];
    int rc = bn_wire_enroll_decode(p, len, &m, &e);
    if (rc) {
        COUNTM(l, enroll_refused, MGR_M_ENROLLMENTS_REFUSED);
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        conn_refuse(c, rc, "%s", e.msg);
        return;
    }
    if (enroll_token_parse(m.token.p, m.token.len, hash, pin) != 0) {
        COUNTM(l, enroll_refused, MGR_M_ENROLLMENTS_REFUSED);
        conn_refuse(c, BN_EDENIED, "enrolment token is not in the form bnt1.<secret>.<ca sha256>");
        return;
    }
    if (strcmp(pin, enroll_server_ca_fp(l->en)) != 0) {
        COUNTM(l, enroll_refused, MGR_M_ENROLLMENTS_REFUSED);
        conn_refuse(c, BN_EDENIED, "enrolment token was made by another manager (CA pin differs)");
        return;
    }
    group_flush(l); /* enrolment writes in its own transaction */
    int64_t tenant = 0;
    if ((rc = store_begin(l->st)) != 0) {
        conn_refuse(c, rc, "store unavailable");
        return;
    }
    rc = store_token_consume(l->st, hash, wall_ns(), &tenant);
    if (rc) {
        store_rollback(l->st);
        COUNTM(l, enroll_refused, MGR_M_ENROLLMENTS_REFUSED);
        conn_refuse(c, BN_EDENIED, "enrolment token unknown, expired, revoked or used up");
        return;
    }
    uint8_t h[32];
    unsigned int hl = 0;
    EVP_Digest(m.sign_pk, BN_WIRE_PK, h, &hl, EVP_sha256(), NULL);
    struct store_agent a;
    memset(&a, 0, sizeof(a));
    bn_hex_encode(h, 16, a.uid);
    a.tenant_id = tenant;
    snprintf(a.hostname, sizeof(a.hostname), "%.*s", (int)m.hostname.len, m.hostname.p);
    bn_hex_encode(m.sign_pk, BN_WIRE_PK, a.sign_pk);
    a.heartbeat_interval_ms = (int64_t)m.heartbeat_ms;
    a.enrolled_ns = wall_ns();
    char *cert = NULL;
    bn_diag_clear(&d);
    rc = enroll_sign_csr(l->en, tenant, m.csr_pem.p, m.csr_pem.len, a.uid, &cert, a.cert_fp, &d);
    int64_t id = 0;
    if (!rc)
        rc = store_agent_create(l->st, &a, &id);
    if (!rc) {
        char detail[400];
        snprintf(detail, sizeof(detail), "{\"uid\":\"%s\",\"peer\":\"%s\"}", a.uid, c->peer);
        rc = store_audit(l->st, tenant, "link", "agent.enroll", a.uid, detail);
    }
    if (!rc)
        rc = store_commit(l->st);
    if (rc) {
        store_rollback(l->st);
        bn_free(cert);
        COUNTM(l, enroll_refused, MGR_M_ENROLLMENTS_REFUSED);
        conn_refuse(c, rc, "enrolment failed: %s", d.msg[0] ? d.msg : bn_strerror(rc));
        return;
    }
    struct bn_wire_enroll_ok ok = {
        {cert, strlen(cert)},   {enroll_server_ca_pem(l->en), strlen(enroll_server_ca_pem(l->en))},
        {a.uid, strlen(a.uid)}, (uint64_t)tenant,
        (uint64_t)id,
    };
    bn_buf_reset(&l->out);
    rc = bn_wire_enroll_ok_encode(&l->out, &ok);
    bn_free(cert);
    COUNTM(l, enrolled, MGR_M_ENROLLMENTS);
    BN_INFO("link", "enrolled agent %s '%s' of tenant %lld from %s", a.uid, a.hostname,
            (long long)tenant, c->peer);
    if (!rc)
        send_out(c);
    /* done: the agent reconnects with its certificate */
    conn_refuse(c, 0, "enrolled");
}

static void
close_older_sessions(struct conn *c)
{
    for (struct conn *o = c->l->conns; o; o = o->next)
        if (o != c && !o->closing && o->has_cert && o->ia.id == c->ia.id &&
            (o->state == C_SESSION || o->state == C_WAIT_COMMIT))
            conn_refuse(o, BN_EPROTO, "a newer session of this agent replaced this one");
}

static void
handle_hello(struct conn *c, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    struct bn_wire_hello m;
    struct bn_wire_err e;
    int rc = bn_wire_hello_decode(p, len, &m, &e);
    if (rc) {
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", e.msg);
        conn_refuse(c, rc, "%s", e.msg);
        return;
    }
    if (m.next_seq > 0 && (int64_t)m.next_seq <= c->last_seq) {
        /* the agent numbers below what it already sent: its spool was reset, or its keys run
         * on a second host. Its new events would all look like duplicates: refuse the session
         * (they wait in its spool) and raise it; re-enrolling the agent starts a new series */
        COUNTM(l, replays, MGR_M_LINK_REPLAYS);
        link_health(l, &c->ia, INGEST_HEALTH_REPLAY,
                    "sequence went back: next seq %llu, already stored up to %lld (spool reset "
                    "or the agent's keys on a second host); re-enrol the agent",
                    (unsigned long long)m.next_seq, (long long)c->last_seq);
        conn_refuse(c, BN_EPROTO,
                    "sequence went back (next %llu, stored up to %lld): re-enrol this agent",
                    (unsigned long long)m.next_seq, (long long)c->last_seq);
        return;
    }
    RAND_bytes(c->nonce, sizeof(c->nonce));
    if ((int64_t)m.heartbeat_ms != c->heartbeat_ms)
        BN_WARN("link",
                "agent %s heartbeats every %llu ms, enrolled with %lld ms: silence is "
                "judged by the enrolled interval",
                c->uid, (unsigned long long)m.heartbeat_ms, (long long)c->heartbeat_ms);
    c->heartbeat_ms = (int64_t)m.heartbeat_ms;
    c->session_last = 0;
    close_older_sessions(c);
    /* last seen: committed with the next group */
    if (ingest_begin(l->in) == 0)
        store_agent_seen(l->st, c->ia.id, wall_ns(), c->tier, NULL);
    for (size_t i = 0; i < l->nsilent; i++)
        if (l->silent[i] == c->ia.id) {
            l->silent[i] = l->silent[--l->nsilent];
            link_health(l, &c->ia, INGEST_HEALTH_BACK, "agent connected again from %s", c->peer);
            break;
        }
    struct bn_wire_welcome w = {c->nonce, (uint64_t)c->ia.id, (uint64_t)c->last_seq};
    bn_buf_reset(&l->out);
    if (bn_wire_welcome_encode(&l->out, &w) != 0 || send_out(c) != 0) {
        conn_close(c);
        return;
    }
    c->state = C_SESSION;
    COUNT(l, sessions);
    /* what was queued while it was offline */
    dispatch_actions(l, c);
    BN_INFO("link", "session of agent %s '%s' from %s (acked %llu, next %llu, stored %lld)", c->uid,
            c->hostname, c->peer, (unsigned long long)m.acked_seq, (unsigned long long)m.next_seq,
            (long long)c->last_seq);
}

/* Writer mode: copies the decoded batch into a job for the writer thread; the connection
 * stops reading until the writer hands it back (writer_back). */
static void
to_writer(struct conn *c, const struct bn_wire_event *ev, size_t n)
{
    struct link *l = c->l;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += (size_t)ev[i].len + 1;
    struct wjob *j = bn_malloc(sizeof(*j) + n * sizeof(*ev) + bytes);
    if (!j) {
        conn_refuse(c, BN_ENOMEM, "out of memory for a batch of %zu events", n);
        return;
    }
    memset(j, 0, sizeof(*j));
    j->wj.events = n;
    j->c = c;
    snprintf(j->uid, sizeof(j->uid), "%s", c->uid);
    snprintf(j->hostname, sizeof(j->hostname), "%s", c->hostname);
    j->ia = c->ia;
    j->ia.uid = j->uid;
    j->ia.hostname = j->hostname;
    j->last_seq = c->last_seq;
    j->rx_ns = wall_ns();
    j->ev = (struct bn_wire_event *)(j + 1);
    j->n = n;
    char *d = (char *)(j->ev + n);
    for (size_t i = 0; i < n; i++) {
        memcpy(d, ev[i].data, ev[i].len);
        d[ev[i].len] = '\0';
        j->ev[i].seq = ev[i].seq;
        j->ev[i].data = d;
        j->ev[i].len = ev[i].len;
        d += ev[i].len + 1;
    }
    c->state = C_WAIT_COMMIT;
    c->inflight = true;
    set_reading(c, false);
    writer_push(l->w, &j->wj);
}

static void
handle_batch(struct conn *c, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    struct bn_wire_batch b;
    struct bn_wire_err e;
    int rc = bn_wire_batch_parse(p, len, &b, &e);
    if (!rc && bn_wire_batch_verify(&b, c->nonce, c->pk) != 0) {
        COUNTM(l, bad_signatures, MGR_M_LINK_BAD_SIGNATURE);
        link_health(l, &c->ia, INGEST_HEALTH_BAD_SIGNATURE,
                    "batch %llu..%llu: signature does not verify for this session",
                    (unsigned long long)b.first_seq, (unsigned long long)b.last_seq);
        conn_refuse(c, BN_EPROTO, "batch %llu..%llu: bad signature",
                    (unsigned long long)b.first_seq, (unsigned long long)b.last_seq);
        return;
    }
    if (!rc && b.first_seq <= c->session_last) {
        COUNTM(l, replays, MGR_M_LINK_REPLAYS);
        link_health(l, &c->ia, INGEST_HEALTH_REPLAY,
                    "batch %llu..%llu after %llu in the same session",
                    (unsigned long long)b.first_seq, (unsigned long long)b.last_seq,
                    (unsigned long long)c->session_last);
        conn_refuse(c, BN_EPROTO, "batch %llu..%llu replayed", (unsigned long long)b.first_seq,
                    (unsigned long long)b.last_seq);
        return;
    }
    const struct bn_wire_event *ev = NULL;
    size_t n = 0;
    if (!rc)
        rc = bn_wire_unpack(l->unpacker, &b, &ev, &n, &e);
    if (rc) {
        if (rc == BN_ETOOBIG)
            COUNT(l, oversized);
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", e.msg);
        conn_refuse(c, rc, "%s", e.msg);
        return;
    }
    if (l->w) {
        to_writer(c, ev, n);
        c->session_last = b.last_seq;
        return;
    }
    rc = ingest_batch(l->in, &c->ia, &c->last_seq, ev, n, wall_ns(), &c->ack);
    if (rc) {
        /* the group was rolled back: every session in it gets nothing and resends */
        for (struct conn *o = l->pending; o; o = l->pending) {
            l->pending = o->next_pending;
            o->next_pending = NULL;
            conn_refuse(o, BN_EIO, "store write failed: %s", bn_strerror(rc));
        }
        conn_refuse(c, BN_EIO, "store write failed: %s", bn_strerror(rc));
        return;
    }
    c->session_last = b.last_seq;
    c->state = C_WAIT_COMMIT;
    set_reading(c, false);
    c->next_pending = l->pending;
    l->pending = c;
    if (!l->idle_on) {
        uv_idle_start(&l->idle, on_idle);
        l->idle_on = true;
    }
    /* no flush from here: the frame is still in c->in (parse_frames consumes it after this
     * returns) and a flush re-parses the connections it acknowledges; the group is committed
     * in on_check, after every connection of this loop turn was read */
}

static void
handle_heartbeat(struct conn *c, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    struct bn_wire_heartbeat m;
    struct bn_wire_err e;
    int rc = bn_wire_heartbeat_decode(p, len, &m, &e);
    if (rc) {
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", e.msg);
        conn_refuse(c, rc, "%s", e.msg);
        return;
    }
    char health[BN_WIRE_HEALTH_MAX + 1];
    memcpy(health, m.health_json.p, m.health_json.len);
    health[m.health_json.len] = '\0';
    c->tier = (int)m.tier;
    rc = ingest_begin(l->in);
    if (!rc)
        rc = store_agent_seen(l->st, c->ia.id, wall_ns(), (int)m.tier, health);
    if (rc)
        BN_WARN("link", "cannot record the heartbeat of agent %s: %s", c->uid, bn_strerror(rc));
    COUNTM(l, heartbeats, MGR_M_LINK_HEARTBEATS);
    for (size_t i = 0; i < l->nsilent; i++)
        if (l->silent[i] == c->ia.id) {
            l->silent[i] = l->silent[--l->nsilent];
            link_health(l, &c->ia, INGEST_HEALTH_BACK, "heartbeat received again");
            break;
        }
}

/* ---- response actions (playbook.h, docs/RESPONSE.md) ----------------------------------- */

#define ACTIONS_POLL_MS 100 /* queued actions reach a connected agent within this */

struct act_send {
    struct link *l;
    struct conn *only; /* NULL: any connected session */
    int sent;
};

static struct conn *
session_of(struct link *l, int64_t agent_id)
{
    for (struct conn *c = l->conns; c; c = c->next)
        if (!c->closing && c->has_cert && c->ia.id == agent_id &&
            (c->state == C_SESSION || c->state == C_WAIT_COMMIT))
            return c;
    return NULL;
}

static int
send_action(void *ctx, const struct store_action *a)
{
    struct act_send *x = ctx;
    struct link *l = x->l;
    struct conn *c =
        x->only ? (x->only->ia.id == a->agent_id ? x->only : NULL) : session_of(l, a->agent_id);
    if (!c)
        return 0; /* offline: stays queued until it connects or expires */
    struct bn_wire_action m = {(uint64_t)a->id,
                               {a->type, strlen(a->type)},
                               {a->params_json, strlen(a->params_json)},
                               (uint64_t)(a->expires_ns > 0 ? a->expires_ns : 0)};
    bn_buf_reset(&l->out);
    int rc = bn_wire_action_encode(&l->out, &m);
    if (rc) {
        BN_ERROR("link", "action %lld cannot be encoded: %s", (long long)a->id, bn_strerror(rc));
        return 0;
    }
    if (send_out(c) != 0) {
        conn_close(c);
        return 0;
    }
    rc = store_action_mark_sent(l->st, a->id);
    if (rc)
        BN_WARN("link", "action %lld sent but not marked sent: %s", (long long)a->id,
                bn_strerror(rc));
    BN_INFO("link", "action %lld (%s) sent to agent %s", (long long)a->id, a->type, c->uid);
    x->sent++;
    return 0;
}

static void
dispatch_actions(struct link *l, struct conn *only)
{
    struct act_send x = {l, only, 0};
    int rc = only ? store_action_queued(l->st, only->ia.id, 1000, send_action, &x)
                  : store_action_queued_all(l->st, 1000, send_action, &x);
    if (rc)
        BN_WARN("link", "cannot read queued actions: %s", bn_strerror(rc));
}

static void
on_actions(uv_timer_t *t)
{
    struct link *l = t->data;
    /* writer mode: polled again in ACTIONS_POLL_MS if the writer holds the store now */
    if (l->conns && stry(l)) {
        dispatch_actions(l, NULL);
        sunlock(l);
    }
}

static void
handle_result(struct conn *c, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    struct bn_wire_result m;
    struct bn_wire_err e;
    int rc = bn_wire_result_decode(p, len, &m, &e);
    if (rc) {
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", e.msg);
        conn_refuse(c, rc, "%s", e.msg);
        return;
    }
    /* Acknowledged only once durable: written on its own (autocommit) when no group is open;
     * inside an open group it is committed with the group and acknowledged when the agent
     * sends it again (a duplicate then). */
    bool in_group = ingest_pending(l->in);
    rc = actions_result(l->st, c->ia.id, (int64_t)m.action_id, (int)m.status, m.result.p,
                        m.result.len);
    if (rc == BN_ENOTFOUND) {
        BN_WARN("link", "agent %s sent a result for action %llu, which is not its own", c->uid,
                (unsigned long long)m.action_id);
        /* nothing to keep: acknowledge so the agent forgets it */
    } else if (rc && rc != BN_EEXIST) {
        BN_WARN("link", "result of action %llu from agent %s not stored: %s",
                (unsigned long long)m.action_id, c->uid, bn_strerror(rc));
        return;
    }
    if (in_group)
        return;
    /* a repeat (BN_EEXIST) of a result that joined a group: that group durable first */
    if ((rc = durable_now(l)) != 0) {
        conn_refuse(c, BN_EIO, "store sync failed: %s", bn_strerror(rc));
        return;
    }
    bn_buf_reset(&l->out);
    if (bn_wire_result_ack_encode(&l->out, m.action_id) != 0 || send_out(c) != 0)
        conn_close(c);
}

/* FILE_OFFER / FILE_CHUNK / FILE_END: a forensic package upload (attach.h). */
static void
handle_file(struct conn *c, int type, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    char err[300];
    struct attach_peer peer = {l->st, c->ia.id, c->uid, c->nonce, c->pk, false};
    /* written on their own (autocommit) when no group is open; inside an open group the row
     * and audit entry commit with it and STORED waits for the agent's resent END */
    peer.in_group = ingest_pending(l->in);
    bn_buf_reset(&l->out);
    struct attach_stats was = l->att;
    int rc = attach_frame(&c->up, &peer, type, p, len, &l->out, &l->att, err, sizeof(err));
    struct mgr_metrics *m = l->o.metrics;
    mgr_metric_add(m, MGR_M_ATTACH_OFFERS, l->att.offers - was.offers);
    mgr_metric_add(m, MGR_M_ATTACH_RESUMED, l->att.resumed - was.resumed);
    mgr_metric_add(m, MGR_M_ATTACH_BYTES, l->att.bytes - was.bytes);
    mgr_metric_add(m, MGR_M_ATTACH_STORED, l->att.stored - was.stored);
    mgr_metric_add(m, MGR_M_ATTACH_REFUSED, l->att.refused - was.refused);
    if (rc) {
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", err);
        conn_refuse(c, rc, "%s", err);
        return;
    }
    if (l->out.len && !peer.in_group && durable_now(l) != 0) {
        conn_refuse(c, BN_EIO, "store sync failed");
        return;
    }
    if (l->out.len && send_out(c) != 0)
        conn_close(c);
}

static void
handle_frame_locked(struct conn *c, int type, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    if (c->state == C_FIRST) {
        if (type == BN_WIRE_ENROLL && !c->has_cert)
            handle_enroll(c, p, len);
        else if (type == BN_WIRE_HELLO && c->has_cert)
            handle_hello(c, p, len);
        else {
            COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
            conn_refuse(c, BN_EPROTO, "%s frame where %s was expected", bn_wire_type_name(type),
                        c->has_cert ? "hello" : "enroll (no client certificate)");
        }
        return;
    }
    if (type == BN_WIRE_BATCH)
        handle_batch(c, p, len);
    else if (type == BN_WIRE_HEARTBEAT)
        handle_heartbeat(c, p, len);
    else if (type == BN_WIRE_RESULT)
        handle_result(c, p, len);
    else if (type == BN_WIRE_FILE_OFFER || type == BN_WIRE_FILE_CHUNK || type == BN_WIRE_FILE_END)
        handle_file(c, type, p, len);
    else {
        COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
        link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "unexpected %s frame in a session",
                    bn_wire_type_name(type));
        conn_refuse(c, BN_EPROTO, "%s frame in a session", bn_wire_type_name(type));
    }
}

/* Parses whole frames from c->in while the connection may take them. */
/* Batches decode outside the store lock (the writer thread may hold it: writer mode);
 * every other frame touches the store. */
static void
handle_frame(struct conn *c, int type, const uint8_t *p, uint32_t len)
{
    struct link *l = c->l;
    COUNTM(l, frames_in, MGR_M_LINK_FRAMES);
    if (c->state == C_SESSION && type == BN_WIRE_BATCH) {
        handle_batch(c, p, len);
        return;
    }
    slock(l);
    handle_frame_locked(c, type, p, len);
    sunlock(l);
}

static void
parse_frames(struct conn *c)
{
    struct link *l = c->l;
    size_t off = 0;
    if (c->parsing)
        return; /* the outer call goes on with the next frame */
    c->parsing = true;
    while (!c->closing && (c->state == C_FIRST || c->state == C_SESSION)) {
        if (c->in.len - off < BN_WIRE_HDR)
            break;
        int type;
        uint32_t len;
        struct bn_wire_err e;
        const uint8_t *h = (const uint8_t *)c->in.p + off;
        int rc = bn_wire_hdr_decode(h, BN_WIRE_HDR, &type, &len, &e);
        if (rc) {
            if (rc == BN_ETOOBIG)
                COUNT(l, oversized);
            COUNTM(l, bad_frames, MGR_M_LINK_FRAMES_BAD);
            if (c->has_cert && c->state == C_SESSION)
                link_health(l, &c->ia, INGEST_HEALTH_MALFORMED, "%s", e.msg);
            conn_refuse(c, rc, "%s", e.msg);
            break;
        }
        if (!c->has_cert && len > BN_WIRE_UNAUTH_FRAME_MAX) {
            /* enrolment needs little: an unauthenticated peer gets no 8 MiB buffers */
            COUNTM(l, oversized, MGR_M_LINK_FRAMES_BAD);
            conn_refuse(c, BN_ETOOBIG,
                        "%s frame of %u bytes from a peer without a certificate "
                        "(limit %u)",
                        bn_wire_type_name(type), len, BN_WIRE_UNAUTH_FRAME_MAX);
            break;
        }
        if (c->in.len - off - BN_WIRE_HDR < len)
            break;
        off += BN_WIRE_HDR + len;
        handle_frame(c, type, h + BN_WIRE_HDR, len);
    }
    c->parsing = false;
    if (off && !c->closing) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
        /* a big batch leaves a big buffer: give it back when drained (1,000 connections) */
        if (c->in.len == 0 && c->in.cap > IN_KEEP_MAX) {
            size_t max = c->in.max;
            bn_buf_release(&c->in);
            bn_buf_init(&c->in, max);
        }
    }
}

static void
conn_pump(struct conn *c)
{
    struct link *l = c->l;
    if (c->closing)
        return;
    if (c->state == C_HANDSHAKE) {
        int r = SSL_do_handshake(c->ssl);
        flush_wbio(c);
        if (r != 1) {
            int err = SSL_get_error(c->ssl, r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return;
            char buf[200];
            unsigned long e = ERR_get_error();
            ERR_error_string_n(e, buf, sizeof(buf));
            ERR_clear_error();
            COUNTM(l, tls_failures, MGR_M_LINK_REFUSED_CERT);
            BN_INFO("link", "TLS handshake with %s failed: %s", c->peer, e ? buf : "closed");
            conn_close(c);
            return;
        }
        on_handshake(c);
        if (c->closing)
            return;
    }
    if (c->state == C_WAIT_COMMIT)
        return;
    for (;;) {
        if (bn_buf_reserve(&c->in, READ_CHUNK) != 0) {
            /* a peer that sends more than a frame ahead of our parsing */
            COUNT(l, oversized);
            conn_refuse(c, BN_ETOOBIG, "too many bytes ahead of the frame being parsed");
            return;
        }
        int r = SSL_read(c->ssl, c->in.p + c->in.len, READ_CHUNK);
        if (r > 0) {
            c->in.len += (size_t)r;
            parse_frames(c);
            if (c->closing || c->state == C_WAIT_COMMIT)
                break;
            continue;
        }
        int err = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        conn_close(c); /* close_notify or a TLS error */
        return;
    }
    if (!c->closing)
        flush_wbio(c);
}

/* ---- group commit -------------------------------------------------------------------- */

static void
publish_ingest(struct link *l)
{
    struct ingest_counters ic;
    slock(l);
    ingest_counters(l->in, &ic);
    sunlock(l);
    struct mgr_metrics *m = l->o.metrics;
    mgr_metric_add(m, MGR_M_INGEST_EVENTS, ic.inserted - l->cnt.ingest.inserted);
    mgr_metric_add(m, MGR_M_INGEST_DUPLICATES, ic.dups - l->cnt.ingest.dups);
    mgr_metric_add(m, MGR_M_LINK_GAPS, ic.gaps - l->cnt.ingest.gaps);
    mgr_metric_add(m, MGR_M_AGENTS_SILENT,
                   ic.health[INGEST_HEALTH_SILENT] - l->cnt.ingest.health[INGEST_HEALTH_SILENT]);
    pthread_mutex_lock(&l->mu);
    l->cnt.ingest = ic;
    pthread_mutex_unlock(&l->mu);
}

/* A batch of c stored (rc 0) or not: the ack sent, or c refused. True when c is back in its
 * session (to be read again). */
static bool
conn_batch_acked(struct link *l, struct conn *c, int rc, const char *store_op)
{
    if (rc) {
        conn_refuse(c, BN_EIO, "store %s failed: %s", store_op, bn_strerror(rc));
        return false;
    }
    bn_buf_reset(&l->out);
    if (bn_wire_ack_encode(&l->out, &c->ack) != 0 || send_out(c) != 0) {
        conn_close(c);
        return false;
    }
    COUNTM(l, acks, MGR_M_INGEST_BATCHES);
    c->state = C_SESSION;
    return true;
}

/* The sessions of list acknowledged (rc 0) or refused, and read again. */
static void
ack_list(struct link *l, struct conn *list, int rc)
{
    while (list) {
        struct conn *c = list;
        list = c->next_pending;
        c->next_pending = NULL;
        if (c->closing || !conn_batch_acked(l, c, rc, "commit"))
            continue;
        set_reading(c, true);
        /* frames that came with the batch (unless this connection is being parsed further
         * up the stack: that loop goes on) */
        if (c->parsing)
            continue;
        parse_frames(c);
        if (!c->closing && c->state == C_SESSION)
            conn_pump(c);
    }
}

/* Syncer thread: fdatasync of the WAL for every generation asked for; the loop hears of it
 * through sy_async. */
static void *
syncer_main(void *arg)
{
    struct link *l = arg;
    pthread_mutex_lock(&l->sy_mu);
    for (;;) {
        while (!l->sy_quit && l->sy_want == l->sy_done)
            pthread_cond_wait(&l->sy_cv, &l->sy_mu);
        if (l->sy_want == l->sy_done)
            break; /* quit, nothing left */
        uint64_t g = l->sy_want;
        pthread_mutex_unlock(&l->sy_mu);
        int rc = store_wal_sync(l->st); /* only the WAL's fd: the loop goes on writing */
        pthread_mutex_lock(&l->sy_mu);
        if (rc && !l->sy_rc)
            l->sy_rc = rc;
        l->sy_done = g;
        atomic_store(&l->sy_pub, g);
        pthread_cond_broadcast(&l->sy_cv);
        uv_async_send(&l->sy_async);
    }
    pthread_mutex_unlock(&l->sy_mu);
    return NULL;
}

/* Loop thread: the sessions whose commit the syncer made durable are acknowledged (or, after
 * a failed sync, refused: they resend, and the store's dedupe keeps them once). */
static void
sync_back(struct link *l)
{
    pthread_mutex_lock(&l->sy_mu);
    uint64_t done = l->sy_done;
    int rc = l->sy_rc;
    pthread_mutex_unlock(&l->sy_mu);
    if (done <= l->synced && !rc)
        return;
    struct conn *ready = NULL, **tail = &ready;
    for (struct conn **pp = &l->syncing; *pp;) {
        struct conn *c = *pp;
        if (c->sync_gen <= done || rc) {
            *pp = c->next_pending;
            c->next_pending = NULL;
            *tail = c;
            tail = &c->next_pending;
        } else
            pp = &c->next_pending;
    }
    l->synced = done;
    slock(l);
    ingest_durable(l->in, rc ? UINT64_MAX : done, rc == 0);
    sunlock(l);
    ack_list(l, ready, rc);
    if (rc && ready) {
        BN_ERROR("link", "sync of the WAL failed: %s (nothing acknowledged)", bn_strerror(rc));
        if (rc == BN_EFULL)
            mgr_metric_add(l->o.metrics, MGR_M_INGEST_FULL, 1);
    }
    publish_ingest(l);
}

static void
on_synced(uv_async_t *h)
{
    sync_back(h->data);
}

/* Waits until the syncer made generation gen durable (inline: syncs on this thread). */
static int
sync_wait(struct link *l, uint64_t gen)
{
    pthread_mutex_lock(&l->sy_mu);
    if (gen > l->sy_want) {
        l->sy_want = gen;
        pthread_cond_signal(&l->sy_cv);
    }
    while (l->sy_done < gen && !l->sy_rc)
        pthread_cond_wait(&l->sy_cv, &l->sy_mu);
    int rc = l->sy_rc;
    pthread_mutex_unlock(&l->sy_mu);
    return rc;
}

/* Before acknowledging something that may have been written in a group not yet durable (an
 * action result or file chunk that joined a group and came again): 0 once it is. */
static int
durable_now(struct link *l)
{
    if (!l->sy_on)
        return 0;
    uint64_t gen = ingest_commit_gen(l->in);
    if (ingest_pending(l->in)) {
        group_flush(l); /* what joined the open group */
        gen = ingest_commit_gen(l->in);
    }
    int rc = gen > l->synced ? sync_wait(l, gen) : 0;
    return rc;
}

static void
group_flush(struct link *l)
{
    if (!ingest_pending(l->in) && !l->pending)
        return;
    int64_t t0 = now_ms();
    size_t nb = ingest_pending_batches(l->in);
    int rc = ingest_commit(l->in);
    int64_t took = now_ms() - t0;
    if (took > SLOW_COMMIT_MS)
        BN_WARN("link", "group commit of %zu batches took %lld ms", nb, (long long)took);
    struct conn *list = l->pending;
    l->pending = NULL;
    if (!rc && l->sy_on && ingest_deferred(l->in)) {
        /* committed, not yet durable: the syncer's fdatasync comes before the acks */
        uint64_t gen = ingest_commit_gen(l->in);
        for (struct conn *c = list, *next; c; c = next) {
            next = c->next_pending;
            c->sync_gen = gen;
            c->next_pending = l->syncing;
            l->syncing = c;
        }
        pthread_mutex_lock(&l->sy_mu);
        if (gen > l->sy_want) {
            l->sy_want = gen;
            pthread_cond_signal(&l->sy_cv);
        }
        pthread_mutex_unlock(&l->sy_mu);
        if (l->stopping) {
            sync_wait(l, gen);
            sync_back(l);
        }
        publish_ingest(l);
        return;
    }
    ack_list(l, list, rc);
    if (rc) {
        BN_ERROR("link", "group commit failed: %s (nothing acknowledged)", bn_strerror(rc));
        if (rc == BN_EFULL)
            mgr_metric_add(l->o.metrics, MGR_M_INGEST_FULL, 1);
    }
    publish_ingest(l);
}

/* ---- writer mode: groups on the writer thread ------------------------------------------- */

/* Writer thread: one group of batches inserted (detection runs in the hooks), committed
 * together with the link's small writes of the open transaction. */
static void
writer_group(void *ctx, struct writer_job *list)
{
    struct link *l = ctx;
    int rc = 0;
    size_t nb = 0;
    pthread_mutex_lock(&l->smu);
    int64_t t0 = now_ms();
    for (struct writer_job *w = list; w && !rc; w = w->next, nb++) {
        struct wjob *j = (struct wjob *)w;
        rc = ingest_batch(l->in, &j->ia, &j->last_seq, j->ev, j->n, j->rx_ns, &j->ack);
    }
    if (!rc)
        rc = ingest_commit(l->in); /* a failed ingest_batch rolled the group back */
    int64_t took = now_ms() - t0;
    pthread_mutex_unlock(&l->smu);
    if (took > SLOW_COMMIT_MS)
        BN_WARN("link", "writer: group of %zu batches took %lld ms", nb, (long long)took);
    for (struct writer_job *w = list; w; w = w->next)
        ((struct wjob *)w)->rc = rc;
}

static void
writer_notify(void *ctx)
{
    struct link *l = ctx;
    uv_async_send(&l->done_async);
}

/* Loop thread: the batches the writer finished - acks for the committed ones, the
 * connections read again. */
static void
writer_back(struct link *l)
{
    struct writer_job *list = writer_done(l->w);
    int failed = 0;
    while (list) {
        struct wjob *j = (struct wjob *)list;
        list = list->next;
        struct conn *c = j->c;
        c->inflight = false;
        int rc = j->rc;
        if (!rc) {
            c->last_seq = j->last_seq;
            c->ack = j->ack;
        } else
            failed = rc;
        bn_free(j);
        if (c->dead) {
            conn_free(c);
            continue;
        }
        if (c->closing || !conn_batch_acked(l, c, rc, "write"))
            continue;
        if (l->stopping)
            continue;
        set_reading(c, true);
        parse_frames(c); /* frames that came with the batch */
        if (!c->closing && c->state == C_SESSION)
            conn_pump(c);
    }
    if (failed) {
        BN_ERROR("link", "writer: group failed: %s (nothing of it acknowledged)",
                 bn_strerror(failed));
        if (failed == BN_EFULL)
            mgr_metric_add(l->o.metrics, MGR_M_INGEST_FULL, 1);
    }
    publish_ingest(l);
}

static void
on_done(uv_async_t *h)
{
    writer_back(h->data);
}

static void
on_lazy(uv_timer_t *t)
{
    struct link *l = t->data;
    l->lazy_on = false;
    /* writer mode: a busy writer commits the small writes with its group */
    if (!stry(l))
        return;
    if (ingest_pending(l->in) || l->pending)
        group_flush(l);
    sunlock(l);
}

static void
on_check(uv_check_t *h)
{
    struct link *l = h->data;
    if (l->w) {
        /* small writes only (heartbeats, last seen): a busy writer commits them with its
         * group, otherwise they wait up to LAZY_COMMIT_MS */
        if (!l->lazy_on && !l->stopping && stry(l)) {
            if (ingest_pending(l->in)) {
                uv_timer_start(&l->lazy, on_lazy, LAZY_COMMIT_MS, 0);
                l->lazy_on = true;
            }
            sunlock(l);
        }
        return;
    }
    /* batches of this loop turn: one commit, then their acks */
    while (l->pending)
        group_flush(l);
    /* only small writes (heartbeats, last seen): they wait up to LAZY_COMMIT_MS for company
     * instead of an fsync each */
    if (ingest_pending(l->in) && !l->lazy_on && !l->stopping) {
        uv_timer_start(&l->lazy, on_lazy, LAZY_COMMIT_MS, 0);
        l->lazy_on = true;
    }
    if (l->idle_on) {
        uv_idle_stop(&l->idle);
        l->idle_on = false;
    }
}

static void
on_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the loop from sleeping while a group waits */
}

/* ---- housekeeping -------------------------------------------------------------------------- */

static void on_house_locked(struct link *l);

static void
on_house(uv_timer_t *t)
{
    struct link *l = t->data;
    slock(l);
    on_house_locked(l);
    sunlock(l);
}

static void
on_house_locked(struct link *l)
{
    int64_t now = now_ms();
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing) {
            /* a peer that never reads its ERROR does not keep the connection */
            if (c->shutting && now - c->shutting_ms > SHUTDOWN_MS)
                conn_close(c);
            continue;
        }
        if (c->state == C_HANDSHAKE || c->state == C_FIRST) {
            if (now - c->opened_ms > l->o.handshake_ms) {
                COUNT(l, idle_closed);
                conn_close(c);
            }
            continue;
        }
        int64_t idle = l->o.idle_ms ? l->o.idle_ms : 3 * c->heartbeat_ms + 30000;
        if (c->state == C_SESSION && now - c->last_rx_ms > idle) {
            COUNT(l, idle_closed);
            conn_refuse(c, BN_EPROTO, "nothing received for %lld ms", (long long)idle);
            continue;
        }
        /* revocation takes effect on live sessions too */
        struct store_agent a;
        if (store_agent_get(l->st, c->ia.id, &a) == 0 && a.revoked) {
            COUNT(l, revoked_closed);
            link_health(l, &c->ia, INGEST_HEALTH_REVOKED, "session closed: agent revoked");
            conn_refuse(c, BN_EDENIED, "agent %s is revoked", c->uid);
        }
    }
    /* response actions past their expiry (pending approvals escalate) */
    if (!ingest_pending(l->in)) {
        int64_t nexp = 0;
        int erc = actions_expire(l->st, wall_ns(), &nexp);
        if (erc)
            BN_WARN("link", "action expiry: %s", bn_strerror(erc));
        else if (nexp)
            BN_INFO("link", "%lld response actions expired", (long long)nexp);
    }
    /* the hooks' housekeeping (correlation windows, reloads) outside any group */
    if (!ingest_pending(l->in))
        ingest_tick(l->in, wall_ns());
    /* silent agents: reported once until heard from again */
    int64_t ids[256];
    size_t n = 0;
    if (store_agent_silent(l->st, wall_ns(), ids, BN_ARRAY_SIZE(ids), &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (size_t k = 0; k < l->nsilent && !known; k++)
                known = l->silent[k] == ids[i];
            if (known || l->nsilent >= SILENT_MAX)
                continue;
            l->silent[l->nsilent++] = ids[i];
            struct store_agent a;
            if (store_agent_get(l->st, ids[i], &a) != 0)
                continue;
            struct ingest_agent ia = {a.id, a.tenant_id, a.uid, a.hostname};
            link_health(l, &ia, INGEST_HEALTH_SILENT,
                        "no heartbeat for %lld ms (interval %lld ms): outage or tampering",
                        (long long)((wall_ns() - a.last_seen_ns) / 1000000),
                        (long long)a.heartbeat_interval_ms);
        }
    }
    publish_ingest(l);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* The loop's own handles (not the listener, the writer's async or the connections). */
static void
close_loop_handles(struct link *l)
{
    uv_close((uv_handle_t *)&l->stop_async, NULL);
    uv_close((uv_handle_t *)&l->house, NULL);
    uv_close((uv_handle_t *)&l->check, NULL);
    uv_close((uv_handle_t *)&l->idle, NULL);
    uv_close((uv_handle_t *)&l->lazy, NULL);
    uv_close((uv_handle_t *)&l->actions, NULL);
}

static void
syncer_stop(struct link *l)
{
    if (!l->sy_on)
        return;
    pthread_mutex_lock(&l->sy_mu);
    l->sy_quit = true;
    pthread_cond_signal(&l->sy_cv);
    pthread_mutex_unlock(&l->sy_mu);
    pthread_join(l->sy_thr, NULL);
    l->sy_on = false;
    uv_close((uv_handle_t *)&l->sy_async, NULL);
}

static void
on_stop(uv_async_t *h)
{
    struct link *l = h->data;
    l->stopping = true;
    if (l->w) {
        /* every batch handed over is committed and acknowledged (no connection is read
         * again: stopping) */
        do {
            writer_drain(l->w);
            writer_back(l);
        } while (writer_inflight(l->w));
        writer_free(l->w);
        l->w = NULL;
        uv_close((uv_handle_t *)&l->done_async, NULL);
    }
    slock(l);
    while (l->pending || ingest_pending(l->in))
        group_flush(l);
    sunlock(l);
    if (l->sy_on) {
        /* every committed batch made durable and acknowledged, then the syncer stops */
        sync_wait(l, ingest_commit_gen(l->in));
        sync_back(l);
        syncer_stop(l);
    }
    for (struct conn *c = l->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&l->listener, NULL);
    close_loop_handles(l);
}

static int
ssl_fail(struct bn_diag *d, const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return bn_diag_set(d, BN_EINTERNAL, "<link>", 0, 0, "%s: %s", what, buf);
}

int
link_new(struct link **out, const struct link_opts *o, struct store *st, struct enroll *en,
         const struct ingest_hooks *hooks, struct bn_diag *d)
{
    *out = NULL;
    struct link *l = bn_calloc(1, sizeof(*l));
    if (!l)
        return BN_ENOMEM;
    int rc;
    l->o = *o;
    if (!l->o.housekeeping_ms)
        l->o.housekeeping_ms = 1000;
    if (!l->o.handshake_ms)
        l->o.handshake_ms = 10000;
    if (!l->o.max_conns)
        l->o.max_conns = 8192;
    if (!l->o.backlog)
        l->o.backlog = 1024;
    if (l->o.group_ms <= 0)
        l->o.group_ms = GROUP_MS_DEFAULT;
    l->st = st;
    l->en = en;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&l->smu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&l->sy_mu, NULL);
    pthread_cond_init(&l->sy_cv, NULL);
    bn_buf_init(&l->out, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    l->silent = bn_calloc(SILENT_MAX, sizeof(*l->silent));
    if (!l->silent || (rc = bn_wire_unpacker_new(&l->unpacker)) != 0 ||
        (rc = ingest_new(&l->in, st, hooks)) != 0) {
        rc = BN_ENOMEM;
        goto fail_early;
    }
    l->ctx = SSL_CTX_new(TLS_server_method());
    if (!l->ctx) {
        rc = ssl_fail(d, "cannot create the TLS context");
        goto fail_early;
    }
    SSL_CTX_set_min_proto_version(l->ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(l->ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, NULL);
    SSL_CTX_set_num_tickets(l->ctx, 0);
    SSL_CTX_set_session_cache_mode(l->ctx, SSL_SESS_CACHE_OFF);
    if ((rc = enroll_configure_tls(en, l->ctx, d)) != 0)
        goto fail_early;

    if ((rc = uv_loop_init(&l->loop)) != 0) {
        rc = bn_diag_set(d, BN_EINTERNAL, "<link>", 0, 0, "uv_loop_init: %s", uv_strerror(rc));
        goto fail_early;
    }
    uv_tcp_init(&l->loop, &l->listener);
    l->listener.data = l;
    struct sockaddr_storage ss;
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    if (uv_ip4_addr(host, o->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&ss) != 0) {
        rc = bn_diag_set(d, BN_EINVAL, "<link>", 0, 0, "bad listen address '%s'", host);
        goto fail_loop;
    }
    if ((rc = uv_tcp_bind(&l->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&l->listener, l->o.backlog, on_connection)) != 0) {
        rc = bn_diag_set(d, BN_EIO, "<link>", 0, 0, "cannot listen on %s:%d: %s", host, o->port,
                         uv_strerror(rc));
        goto fail_loop;
    }
    int sl = sizeof(ss);
    uv_tcp_getsockname(&l->listener, (struct sockaddr *)&ss, &sl);
    l->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_async_init(&l->loop, &l->stop_async, on_stop);
    l->stop_async.data = l;
    uv_timer_init(&l->loop, &l->house);
    l->house.data = l;
    uv_timer_start(&l->house, on_house, (uint64_t)l->o.housekeeping_ms,
                   (uint64_t)l->o.housekeeping_ms);
    uv_check_init(&l->loop, &l->check);
    l->check.data = l;
    uv_check_start(&l->check, on_check);
    uv_idle_init(&l->loop, &l->idle);
    l->idle.data = l;
    uv_timer_init(&l->loop, &l->lazy);
    l->lazy.data = l;
    uv_timer_init(&l->loop, &l->actions);
    l->actions.data = l;
    uv_timer_start(&l->actions, on_actions, ACTIONS_POLL_MS, ACTIONS_POLL_MS);
    if (o->writer_thread) {
        uv_async_init(&l->loop, &l->done_async, on_done);
        l->done_async.data = l;
        l->locking = true;
        if ((rc = writer_new(&l->w, writer_group, writer_notify, l, GROUP_EVENTS_MAX)) != 0) {
            rc = bn_diag_set(d, rc, "<link>", 0, 0, "cannot start the writer thread");
            uv_close((uv_handle_t *)&l->done_async, NULL);
            close_loop_handles(l);
            goto fail_loop;
        }
        BN_INFO("link", "writer thread: batches are stored and committed on their own thread");
    } else if (!o->sync_inline && store_needs_sync(st)) {
        uv_async_init(&l->loop, &l->sy_async, on_synced);
        l->sy_async.data = l;
        if (pthread_create(&l->sy_thr, NULL, syncer_main, l) != 0) {
            rc = bn_diag_set(d, BN_EINTERNAL, "<link>", 0, 0, "cannot start the sync thread");
            uv_close((uv_handle_t *)&l->sy_async, NULL);
            close_loop_handles(l);
            goto fail_loop;
        }
        l->sy_on = true;
        ingest_set_deferred(l->in, true);
    }
    *out = l;
    return 0;

fail_loop:
    uv_close((uv_handle_t *)&l->listener, NULL);
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
fail_early:
    SSL_CTX_free(l->ctx);
    ingest_free(l->in);
    bn_wire_unpacker_free(l->unpacker);
    bn_free(l->silent);
    bn_buf_release(&l->out);
    pthread_mutex_destroy(&l->smu);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->sy_cv);
    pthread_mutex_destroy(&l->sy_mu);
    bn_free(l);
    return rc;
}

int
link_run(struct link *l)
{
    uv_run(&l->loop, UV_RUN_DEFAULT);
    return 0;
}

void
link_stop(struct link *l)
{
    uv_async_send(&l->stop_async);
}

void
link_free(struct link *l)
{
    if (!l)
        return;
    writer_free(l->w); /* only when the loop never ran */
    uv_loop_close(&l->loop);
    SSL_CTX_free(l->ctx);
    ingest_free(l->in);
    bn_wire_unpacker_free(l->unpacker);
    bn_free(l->silent);
    bn_buf_release(&l->out);
    pthread_mutex_destroy(&l->smu);
    pthread_mutex_destroy(&l->mu);
    if (l->sy_on) { /* the loop never ran */
        pthread_mutex_lock(&l->sy_mu);
        l->sy_quit = true;
        pthread_cond_signal(&l->sy_cv);
        pthread_mutex_unlock(&l->sy_mu);
        pthread_join(l->sy_thr, NULL);
    }
    pthread_cond_destroy(&l->sy_cv);
    pthread_mutex_destroy(&l->sy_mu);
    bn_free(l);
}

int
link_port(const struct link *l)
{
    return l->port;
}

void
link_counters(struct link *l, struct link_counters *c)
{
    pthread_mutex_lock(&l->mu);
    *c = l->cnt;
    pthread_mutex_unlock(&l->mu);
}
